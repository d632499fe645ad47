// minidp/kernels/cuda/device_errors.cu — how a kernel reports a bad input
// (an index out of range) without a device-to-host copy after every launch.
//
// One record per stream, in one array of mapped pinned host memory (the GPU
// writes it, the host reads it without a copy). A stream is identified by
// (device, handle) and, for the per-thread default stream, the thread. The
// next synchronisation of that stream raises what its kernel wrote there
// (see common.cuh for the kernels' side).
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "minidp/kernels/cuda/common.cuh"
#include "minidp/kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

namespace {
constexpr int kErrorSlots = 1024;  // streams with a record of their own; later ones share the last slot
struct ErrorRecords {
  std::mutex mu;
  DeviceErrorRecord* host = nullptr;  // kErrorSlots records
  DeviceErrorRecord* dev = nullptr;   // the same memory as the GPU addresses it
  std::map<StreamKey, int> slot;
};
ErrorRecords& error_records() {
  static auto* r = new ErrorRecords;  // never freed: kernels may still write while the process ends
  return *r;
}

void raise_record(volatile DeviceErrorRecord* v) {
  const int code = v->code;
  if (code <= 0) return;  // none, or a record still being written by a running kernel
  const long long a = v->a, b = v->b, c = v->c;
  v->code = 0;  // reported once
  switch (code) {
    case kIndexSelectOutOfRange:
      MINIDP_FAIL("index_select (CUDA): index ", a, " at position ", b, " is out of range (expected [0, ", c,
                  ")); the rows of the output it was meant to fill are zero");
    case kIndexAddOutOfRange:
      MINIDP_FAIL("index_add (CUDA): index ", a, " at position ", b, " is out of range (expected [0, ", c,
                  ")); its row was not added");
    case kCrossEntropyTarget:
      MINIDP_FAIL("cross_entropy (CUDA): target ", a, " of sample ", b,
                  " is out of range; expected a class in [0, ", c, ") or the ignore_index (that sample's loss is NaN)");
    case kConfusionLabelOutOfRange:
      MINIDP_FAIL("confusion matrix (CUDA): label ", a, " at position ", b, " is out of range; expected a class in [0, ",
                  c, ") (the sample was not counted)");
    case kConfusionPredictionOutOfRange:
      MINIDP_FAIL("confusion matrix (CUDA): prediction ", a, " at position ", b,
                  " is out of range; expected a class in [0, ", c, ") (the sample was not counted)");
    default:
      MINIDP_FAIL("a CUDA kernel reported error code ", code, " (", a, ", ", b, ", ", c, ")");
  }
}
}  // namespace

DeviceErrorRecord* device_error_record(const Launch& l) {
  ErrorRecords& r = error_records();
  std::lock_guard<std::mutex> lock(r.mu);
  if (r.host == nullptr) {
    void* p = nullptr;
    MINIDP_CUDA_CHECK(cudaHostAlloc(&p, sizeof(DeviceErrorRecord) * kErrorSlots,
                                    cudaHostAllocMapped | cudaHostAllocPortable));
    std::memset(p, 0, sizeof(DeviceErrorRecord) * kErrorSlots);
    void* dev = nullptr;
    MINIDP_CUDA_CHECK(cudaHostGetDevicePointer(&dev, p, 0));
    r.host = static_cast<DeviceErrorRecord*>(p);
    r.dev = static_cast<DeviceErrorRecord*>(dev);
  }
  auto [it, fresh] = r.slot.emplace(StreamKey::of(l.device, l.handle), static_cast<int>(r.slot.size()));
  if (fresh && it->second >= kErrorSlots) it->second = kErrorSlots - 1;
  return r.dev + it->second;
}

void raise_device_error_if_any(int device, void* stream) {
  ErrorRecords& r = error_records();
  volatile DeviceErrorRecord* rec = nullptr;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.slot.find(StreamKey::of(device, stream));
    if (r.host == nullptr || it == r.slot.end()) return;  // no kernel of this stream can report
    rec = r.host + it->second;
  }
  raise_record(rec);
}

void raise_device_errors_of(int device) {
  ErrorRecords& r = error_records();
  std::vector<volatile DeviceErrorRecord*> recs;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    if (r.host == nullptr) return;
    for (auto& [key, slot] : r.slot)
      if (key.device == device) recs.push_back(r.host + slot);
  }
  for (auto* rec : recs) raise_record(rec);
}

}  // namespace minidp::kernels::cuda
