// minidp/kernels/cuda/runtime.cu — devices, raw memory, copies, streams and
// events, and the record through which kernels report bad inputs.
//
// Memory here is plain cudaMalloc/cudaFree; the caching allocator
// (allocator.cu) that keeps them out of the training step sits on top.
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/handles.h"
#include "kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

namespace {
std::atomic<bool> g_allow_tf32{false};

int resolve(int device) {
  if (device >= 0) return device;
  int d = 0;
  MINIDP_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}
}  // namespace

bool compiled() { return true; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the "no driver" error; no GPU means 0 devices
    return 0;
  }
  return n;
}

void set_device(int index) { MINIDP_CUDA_CHECK(cudaSetDevice(index)); }

void* native_stream(void* handle) { return to_cuda_stream(handle); }

int current_device_index() {
  int d = 0;
  MINIDP_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

void* device_malloc(std::size_t nbytes, int device) {
  DeviceScope scope(device);
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, nbytes);
  if (err != cudaSuccess) {
    cudaGetLastError();  // an allocation failure is not sticky; clear it
    MINIDP_FAIL("CUDA out of memory on cuda:", device, ": cudaMalloc of ", nbytes,
                " bytes failed: ", cudaGetErrorString(err));
  }
  return p;
}

void device_free(void* ptr, int device) noexcept {
  int prev = 0;
  if (cudaGetDevice(&prev) != cudaSuccess) return;
  cudaSetDevice(device);
  cudaFree(ptr);
  cudaSetDevice(prev);
}

// ------------------------------------------------------------ pinned host memory, cached
// cudaHostAlloc is slow and cudaFreeHost waits for the whole device, so a
// loader that pinned and freed a buffer per batch would stall every step.
// Freed blocks are kept, by rounded size, with the events of the copies that
// read them (host_pinned_record_use); a block is handed out again only when
// cudaEventQuery says all those copies are done — the host never waits.
namespace {
struct PinnedBlock {
  void* ptr;
  std::size_t size;
  std::vector<std::pair<cudaEvent_t, int>> uses;  // (event, device) of copies still maybe in flight
};
struct PinnedPool {
  std::mutex mu;
  std::unordered_map<void*, PinnedBlock> live;
  std::multimap<std::size_t, PinnedBlock> free;  // by size
  std::vector<std::pair<cudaEvent_t, int>> spare_events;
};
PinnedPool& pinned_pool() {
  static auto* p = new PinnedPool;  // never destroyed: buffers may be freed during static destruction
  return *p;
}
std::size_t pinned_round(std::size_t n) {
  std::size_t r = 512;
  while (r < n) r <<= 1;  // powers of two: few distinct sizes, so blocks are reused
  return r;
}
// True when every recorded use of `b` has completed; the finished events go back to the spares.
bool pinned_idle(PinnedPool& pool, PinnedBlock& b) {
  for (auto& [e, dev] : b.uses)
    if (cudaEventQuery(e) != cudaSuccess) {
      cudaGetLastError();  // cudaErrorNotReady is not an error to keep
      return false;
    }
  for (auto& u : b.uses) pool.spare_events.push_back(u);
  b.uses.clear();
  return true;
}
}  // namespace

void* host_malloc_pinned(std::size_t nbytes) {
  if (nbytes == 0) return nullptr;
  auto& pool = pinned_pool();
  const bool cache = caching_enabled();
  const std::size_t size = cache ? pinned_round(nbytes) : nbytes;
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    if (cache) {
      auto range = pool.free.equal_range(size);
      for (auto it = range.first; it != range.second; ++it) {
        if (!pinned_idle(pool, it->second)) continue;
        PinnedBlock b = std::move(it->second);
        pool.free.erase(it);
        void* p = b.ptr;
        pool.live.emplace(p, std::move(b));
        return p;
      }
    }
  }
  void* p = nullptr;
  // Portable: pinned for every GPU of the process, not only the current one.
  const cudaError_t err = cudaHostAlloc(&p, size, cudaHostAllocPortable);
  if (err != cudaSuccess) {
    cudaGetLastError();
    MINIDP_FAIL("pin_memory: cudaHostAlloc of ", size, " bytes of page-locked host memory failed: ",
                cudaGetErrorString(err));
  }
  std::lock_guard<std::mutex> lock(pool.mu);
  pool.live.emplace(p, PinnedBlock{p, size, {}});
  return p;
}

void host_free_pinned(void* ptr) noexcept {
  if (ptr == nullptr) return;
  auto& pool = pinned_pool();
  std::lock_guard<std::mutex> lock(pool.mu);
  auto it = pool.live.find(ptr);
  if (it == pool.live.end()) return;
  PinnedBlock b = std::move(it->second);
  pool.live.erase(it);
  if (!caching_enabled()) {
    cudaFreeHost(b.ptr);  // waits for the device: a copy still reading it finishes first
    for (auto& u : b.uses) cudaEventDestroy(u.first);
    return;
  }
  pool.free.emplace(b.size, std::move(b));
}

void host_pinned_record_use(void* base, void* stream, int device) {
  auto& pool = pinned_pool();
  std::lock_guard<std::mutex> lock(pool.mu);
  auto it = pool.live.find(base);
  if (it == pool.live.end()) return;  // not a block of this pool (pinned by someone else)
  // Forget the uses that are over, so a buffer copied every step keeps a short list.
  auto& uses = it->second.uses;
  for (auto u = uses.begin(); u != uses.end();) {
    if (cudaEventQuery(u->first) == cudaSuccess) {
      pool.spare_events.push_back(*u);
      u = uses.erase(u);
    } else {
      cudaGetLastError();  // cudaErrorNotReady: still in flight
      ++u;
    }
  }
  cudaEvent_t e = nullptr;
  for (auto s = pool.spare_events.begin(); s != pool.spare_events.end(); ++s)
    if (s->second == device) {
      e = s->first;
      pool.spare_events.erase(s);
      break;
    }
  DeviceScope scope(device);
  if (e == nullptr) MINIDP_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  MINIDP_CUDA_CHECK(cudaEventRecord(e, to_cuda_stream(stream)));
  it->second.uses.emplace_back(e, device);
}

std::size_t host_pinned_cached_bytes() {
  auto& pool = pinned_pool();
  std::lock_guard<std::mutex> lock(pool.mu);
  std::size_t n = 0;
  for (auto& [size, b] : pool.free) n += b.size;
  return n;
}

void memcpy_async(void* dst, const void* src, std::size_t nbytes, CopyKind kind, void* stream, int device) {
  if (nbytes == 0) return;
  DeviceScope scope(resolve(device));
  const cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                            : cudaMemcpyDefault;  // also GPU to GPU
  MINIDP_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, k, to_cuda_stream(stream)));
}

void memcpy_peer_async(void* dst, int dst_device, void* dst_stream, const void* src, int src_device,
                       void* src_stream, std::size_t nbytes) {
  if (nbytes == 0) return;
  cudaEvent_t ready = nullptr, done = nullptr;
  {
    DeviceScope scope(src_device);
    MINIDP_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    MINIDP_CUDA_CHECK(cudaEventRecord(ready, to_cuda_stream(src_stream)));
  }
  {
    DeviceScope scope(dst_device);
    MINIDP_CUDA_CHECK(cudaStreamWaitEvent(to_cuda_stream(dst_stream), ready, 0));
    MINIDP_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDefault, to_cuda_stream(dst_stream)));
    MINIDP_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    MINIDP_CUDA_CHECK(cudaEventRecord(done, to_cuda_stream(dst_stream)));
  }
  {
    DeviceScope scope(src_device);
    MINIDP_CUDA_CHECK(cudaStreamWaitEvent(to_cuda_stream(src_stream), done, 0));
  }
  // Destroying a recorded event is fine: CUDA releases it once it has completed.
  cudaEventDestroy(ready);
  cudaEventDestroy(done);
}

void memset_async(void* dst, int value, std::size_t nbytes, void* stream, int device) {
  if (nbytes == 0) return;
  DeviceScope scope(resolve(device));
  MINIDP_CUDA_CHECK(cudaMemsetAsync(dst, value, nbytes, to_cuda_stream(stream)));
}

void stream_synchronize(void* stream, int device) {
  const int d = resolve(device);
  DeviceScope scope(d);
  MINIDP_CUDA_CHECK(cudaStreamSynchronize(to_cuda_stream(stream)));
  raise_device_error_if_any(d, stream);
}

void device_synchronize(int device) {
  DeviceScope scope(device);
  MINIDP_CUDA_CHECK(cudaDeviceSynchronize());
  raise_device_errors_of(device);
}

// ------------------------------------------------------------ streams and events
void* stream_create(int device) {
  DeviceScope scope(device);
  cudaStream_t s = nullptr;
  // Non-blocking: no implicit ordering with the legacy default stream.
  MINIDP_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

void stream_destroy(void* stream, int device) {
  if (stream == nullptr) return;  // the default stream is not ours to destroy
  DeviceScope scope(device);
  // Drain first: the caching allocator may hand this stream's freed blocks to
  // a new stream that happens to get the same handle.
  const cudaError_t drained = cudaStreamSynchronize(static_cast<cudaStream_t>(stream));
  release_stream_workspace(device, stream);
  const cudaError_t destroyed = cudaStreamDestroy(static_cast<cudaStream_t>(stream));
  MINIDP_CUDA_CHECK(drained);
  MINIDP_CUDA_CHECK(destroyed);
  raise_device_error_if_any(device, stream);  // an error a kernel of this stream reported, once
}

void* event_create(int device, bool enable_timing) {
  DeviceScope scope(device);
  cudaEvent_t e = nullptr;
  MINIDP_CUDA_CHECK(cudaEventCreateWithFlags(&e, enable_timing ? cudaEventDefault : cudaEventDisableTiming));
  return e;
}

void event_destroy(void* event, int device) noexcept {
  if (event == nullptr) return;
  int prev = 0;
  if (cudaGetDevice(&prev) != cudaSuccess) return;
  cudaSetDevice(device);
  cudaEventDestroy(static_cast<cudaEvent_t>(event));
  cudaSetDevice(prev);
}

void event_record(void* event, void* stream, int device) {
  DeviceScope scope(device);
  MINIDP_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), to_cuda_stream(stream)));
}

void stream_wait_event(void* stream, void* event, int device) {
  DeviceScope scope(device);
  MINIDP_CUDA_CHECK(cudaStreamWaitEvent(to_cuda_stream(stream), static_cast<cudaEvent_t>(event), 0));
}

void event_synchronize(void* event, int device, void* stream) {
  MINIDP_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event)));
  raise_device_error_if_any(device, stream);
}

bool event_query(void* event) {
  const cudaError_t err = cudaEventQuery(static_cast<cudaEvent_t>(event));
  if (err == cudaErrorNotReady) {
    cudaGetLastError();
    return false;
  }
  MINIDP_CUDA_CHECK(err);
  return true;
}

float event_elapsed_ms(void* start, void* end) {
  float ms = 0;
  MINIDP_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)));
  return ms;
}

void set_allow_tf32(bool allow) { g_allow_tf32 = allow; }
bool allow_tf32() { return g_allow_tf32.load(); }

// ------------------------------------------------------------ errors found by kernels
// One record per stream, in one array of mapped pinned host memory (the GPU
// writes it, the host reads it without a copy). A stream is identified by
// (device, handle) and, for the per-thread default stream, the thread.
namespace {
constexpr int kErrorSlots = 1024;  // streams with a record of their own; later ones share the last slot
struct ErrorSlotKey {
  int device;
  std::uintptr_t stream;
  std::uint64_t thread;
  bool operator<(const ErrorSlotKey& o) const {
    return std::tie(device, stream, thread) < std::tie(o.device, o.stream, o.thread);
  }
};
struct ErrorRecords {
  std::mutex mu;
  DeviceErrorRecord* host = nullptr;  // kErrorSlots records
  DeviceErrorRecord* dev = nullptr;   // the same memory as the GPU addresses it
  std::map<ErrorSlotKey, int> slot;
};
ErrorRecords& error_records() {
  static auto* r = new ErrorRecords;  // never freed: kernels may still write while the process ends
  return *r;
}
ErrorSlotKey error_key(int device, void* stream) {
  return {device, reinterpret_cast<std::uintptr_t>(stream), stream == nullptr ? this_thread_key() : 0};
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
  auto [it, fresh] = r.slot.emplace(error_key(l.device, l.handle), static_cast<int>(r.slot.size()));
  if (fresh && it->second >= kErrorSlots) it->second = kErrorSlots - 1;
  return r.dev + it->second;
}

void raise_device_error_if_any(int device, void* stream) {
  ErrorRecords& r = error_records();
  volatile DeviceErrorRecord* rec = nullptr;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.slot.find(error_key(device, stream));
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
