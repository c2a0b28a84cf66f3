// Anonymous memory backed by 2 MiB transparent huge pages where the kernel
// allows them. Streaming reads run much faster from huge pages: the CPU's
// hardware prefetchers stop at every 4 KiB page boundary, and file-backed
// memory maps (the page cache) only ever use 4 KiB pages. Decoding a token
// reads every weight once, so this is where the weights go (see Model).
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth {

class HugePageBuffer {
 public:
  HugePageBuffer() = default;
  // Throws hearth::Error when the memory cannot be had.
  explicit HugePageBuffer(size_t bytes);
  ~HugePageBuffer();
  HugePageBuffer(HugePageBuffer&& other) noexcept;
  HugePageBuffer& operator=(HugePageBuffer&& other) noexcept;
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // Whether the kernel hands out transparent huge pages on request
  // (/sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise").
  static bool available();

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;
  void* base_ = nullptr;
};

}  // namespace hearth
