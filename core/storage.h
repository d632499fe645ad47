// minidp/core/storage.h — a reference-counted block of memory on one device.
//
// Tensors are views into a Storage: many tensors (a batch and its per-replica
// shards, a weight and its transposed view) may share one. The memory goes
// back to its allocator when the last view is gone, so a view can never
// outlive the bytes it points at.
#pragma once

#include <cstddef>
#include <memory>

#include "minidp/core/device.h"

namespace minidp {

class Storage {
 public:
  // Allocate `nbytes` on `device` (64-byte aligned on the host). CUDA memory
  // comes from the caching allocator, on the current stream of `device`;
  // `pinned` host memory is page-locked (see pin_memory in core/stream.h);
  // without a CUDA GPU it is ordinary host memory that the simulated GPU
  // treats as page-locked (its copies from it are asynchronous).
  Storage(std::size_t nbytes, Device device, bool pinned = false);
  // A view of memory that another Storage owns (nothing is freed with it):
  // what the simulated GPU's queued kernels hold, so that the owner's memory
  // goes back to the allocator when the host drops it, as on a GPU.
  static std::shared_ptr<Storage> borrow(void* data, std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  const Device& device() const { return device_; }
  bool pinned() const { return pinned_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
  bool pinned_ = false;
  bool cuda_pinned_ = false;  // page-locked by CUDA (else host memory the simulated GPU treats as pinned)
  bool owning_ = true;
  Storage() = default;
};

using StoragePtr = std::shared_ptr<Storage>;

// Bytes of host memory currently held by Storage objects (for tests and meters).
std::size_t host_bytes_in_use();
// The most host bytes held at once since the start (or the last reset).
std::size_t host_bytes_peak();
void reset_host_bytes_peak();

}  // namespace minidp
