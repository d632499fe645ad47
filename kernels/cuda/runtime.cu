// minidp/kernels/cuda/runtime.cu — devices, raw memory, copies, streams and
// events, and the record through which kernels report bad inputs.
//
// Memory here is plain cudaMalloc/cudaFree; the caching allocator
// (allocator.cu) that keeps them out of the training step sits on top.
#include <atomic>
#include <string>

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

void* host_malloc_pinned(std::size_t nbytes) {
  void* p = nullptr;
  // Portable: pinned for every GPU of the process, not only the current one.
  const cudaError_t err = cudaHostAlloc(&p, nbytes, cudaHostAllocPortable);
  if (err != cudaSuccess) {
    cudaGetLastError();
    MINIDP_FAIL("pin_memory: cudaHostAlloc of ", nbytes, " bytes of page-locked host memory failed: ",
                cudaGetErrorString(err));
  }
  return p;
}

// cudaFreeHost waits for the device, so a copy still reading the buffer finishes first.
void host_free_pinned(void* ptr) noexcept { cudaFreeHost(ptr); }

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
  DeviceScope scope(resolve(device));
  MINIDP_CUDA_CHECK(cudaStreamSynchronize(to_cuda_stream(stream)));
  raise_device_error_if_any();
}

void device_synchronize(int device) {
  DeviceScope scope(device);
  MINIDP_CUDA_CHECK(cudaDeviceSynchronize());
  raise_device_error_if_any();
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
  MINIDP_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
  release_stream_workspace(device, stream);
  MINIDP_CUDA_CHECK(cudaStreamDestroy(static_cast<cudaStream_t>(stream)));
  raise_device_error_if_any();
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

void event_synchronize(void* event) {
  MINIDP_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event)));
  raise_device_error_if_any();
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
namespace {
std::atomic<DeviceErrorRecord*> g_error_record{nullptr};  // mapped pinned host memory, never freed
}  // namespace

DeviceErrorRecord* device_error_record() {
  static DeviceErrorRecord* rec = [] {
    void* p = nullptr;
    MINIDP_CUDA_CHECK(cudaHostAlloc(&p, sizeof(DeviceErrorRecord), cudaHostAllocMapped | cudaHostAllocPortable));
    auto* r = static_cast<DeviceErrorRecord*>(p);
    r->code = 0;
    g_error_record = r;
    void* dev = nullptr;
    MINIDP_CUDA_CHECK(cudaHostGetDevicePointer(&dev, p, 0));
    return static_cast<DeviceErrorRecord*>(dev);
  }();
  return rec;
}

void raise_device_error_if_any() {
  DeviceErrorRecord* r = g_error_record.load();
  if (r == nullptr) return;
  volatile DeviceErrorRecord* v = r;
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

}  // namespace minidp::kernels::cuda
