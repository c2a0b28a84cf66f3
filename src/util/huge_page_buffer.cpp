#include "util/huge_page_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "util/error.h"

namespace hearth {
namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

HugePageBuffer::HugePageBuffer(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  // Over-allocate by one huge page so the start can be aligned to one.
  mapped_ = (bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
  base_ = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base_ == MAP_FAILED) {
    base_ = nullptr;
    throw Error("cannot allocate " + std::to_string(bytes >> 20) + " MiB: " + std::strerror(errno));
  }
  const auto addr = reinterpret_cast<uintptr_t>(base_);
  data_ = reinterpret_cast<uint8_t*>((addr + kHugePage - 1) / kHugePage * kHugePage);
  ::madvise(data_, (bytes + kHugePage - 1) / kHugePage * kHugePage, MADV_HUGEPAGE);  // best effort
}

HugePageBuffer::~HugePageBuffer() { release(); }

HugePageBuffer::HugePageBuffer(HugePageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)),
      base_(std::exchange(other.base_, nullptr)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
    base_ = std::exchange(other.base_, nullptr);
  }
  return *this;
}

void HugePageBuffer::release() {
  if (base_) ::munmap(base_, mapped_);
  base_ = nullptr;
  data_ = nullptr;
}

bool HugePageBuffer::available() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string setting;
  std::getline(in, setting);
  // The active choice is in brackets: "always [madvise] never".
  return setting.find("[always]") != std::string::npos || setting.find("[madvise]") != std::string::npos;
}

}  // namespace hearth
