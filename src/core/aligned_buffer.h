// A heap buffer aligned for SIMD loads (64 bytes: one cache line, one AVX-512 vector).
// Allocated once and reused: the hot path never allocates.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace loom {

template <typename T>
class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 64;
  static constexpr size_t kHugePage = size_t{2} << 20;
  static constexpr size_t kHugeThreshold = size_t{4} << 20;

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t count) { resize(count); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& other) noexcept { swap(other); }
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    swap(other);
    return *this;
  }
  ~AlignedBuffer() { release(); }

  // Reallocates (contents are zeroed) only when count changes.
  void resize(size_t count) {
    if (count == size_) return;
    release();
    if (count == 0) return;
    const size_t bytes = count * sizeof(T);
    if (bytes >= kHugeThreshold) {
      map_huge(bytes);
    } else {
      const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
      data_ = static_cast<T*>(std::aligned_alloc(kAlignment, rounded));
      if (data_ == nullptr) throw std::bad_alloc();
      std::memset(static_cast<void*>(data_), 0, rounded);
    }
    size_ = count;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  // Large buffers (packed weights, big scratch) are mapped straight from the kernel: it
  // hands out zeroed pages, so there is no memset pass over them (a third of the time to
  // load a Q8_0 model went to one), and freeing them returns the memory at once. They
  // start on a 2 MiB boundary and ask for transparent huge pages before they are first
  // touched: streaming them then costs far fewer TLB misses, dear in a virtual machine.
  void map_huge(size_t bytes) {
    const size_t used = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    const size_t length = used + kHugePage;
    void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    const auto base = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (base + kHugePage - 1) / kHugePage * kHugePage;
    if (aligned > base) (void)munmap(p, aligned - base);
    const uintptr_t tail = base + length - (aligned + used);
    if (tail > 0) (void)munmap(reinterpret_cast<void*>(aligned + used), tail);
    data_ = reinterpret_cast<T*>(aligned);
    mapped_bytes_ = used;
    (void)madvise(data_, used, MADV_HUGEPAGE);  // a hint: failure is harmless
  }

  void release() noexcept {
    if (mapped_bytes_ > 0) {
      (void)munmap(data_, mapped_bytes_);
    } else {
      std::free(data_);
    }
    data_ = nullptr;
    size_ = 0;
    mapped_bytes_ = 0;
  }

  void swap(AlignedBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(mapped_bytes_, other.mapped_bytes_);
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_bytes_ = 0;  // > 0: data_ is an mmap of this many bytes
};

}  // namespace loom
