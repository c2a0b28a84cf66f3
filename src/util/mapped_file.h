// A read-only memory map of a whole file. Model weights are used in place from
// the map: loading does not copy tensor data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace hearth {

class MappedFile {
 public:
  // Throws hearth::Error naming the path when the file cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  // Maps every page now (one bulk call instead of a page fault per 4 KiB on
  // first use; the file is read if it is not cached). Best effort: errors
  // are ignored, pages then fault in as they are used.
  void prefault() const;
  // Unmaps the pages of [offset, offset + bytes) from this process (they stay
  // in the page cache and fault back in if read again): for data that was
  // copied elsewhere.
  void drop_pages(size_t offset, size_t bytes) const;
  const std::string& path() const { return path_; }

 private:
  void release();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace hearth
