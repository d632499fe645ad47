// minidp/kernels/cuda/runtime.cu — devices, raw memory, copies, streams and
// events. (Pinned host memory: pinned_memory.cu; the records through which
// kernels report bad inputs: device_errors.cu.)
//
// Memory here is plain cudaMalloc/cudaFree; the caching allocator
// (allocator.cu) that keeps them out of the training step sits on top.
#include <atomic>
#include <string>

#include "minidp/kernels/cuda/common.cuh"
#include "minidp/kernels/cuda/handles.h"
#include "minidp/kernels/cuda/runtime.h"

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

void* device_try_malloc(std::size_t nbytes, int device) {
  DeviceScope scope(device);
  void* p = nullptr;
  // While this thread captures a graph, cudaMalloc is one of the calls its
  // capture mode bars; it is safe here (a segment is not stream work, and a
  // private pool's segments are never freed before their graph), so the
  // thread's mode is relaxed around it, as PyTorch does.
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  MINIDP_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  const cudaError_t err = cudaMalloc(&p, nbytes);
  MINIDP_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky; clear it
    return nullptr;
  }
  MINIDP_CUDA_CHECK(err);
  return p;
}

void device_free_checked(void* ptr, int device) {
  DeviceScope scope(device);
  MINIDP_CUDA_CHECK(cudaFree(ptr));  // waits for the device: nothing can still use it
}

void device_memory_info(int device, std::size_t& free_bytes, std::size_t& total_bytes) noexcept {
  free_bytes = total_bytes = 0;
  int prev = 0;
  if (cudaGetDevice(&prev) != cudaSuccess) return;
  cudaSetDevice(device);
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) cudaGetLastError();
  cudaSetDevice(prev);
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

namespace {
std::atomic<unsigned long long> g_graphs_captured{0}, g_graphs_replayed{0};
}  // namespace

void stream_begin_capture(void* stream, int device) {
  DeviceScope scope(resolve(device));
  MINIDP_CUDA_CHECK(cudaStreamBeginCapture(to_cuda_stream(stream), cudaStreamCaptureModeThreadLocal));
}

void* stream_end_capture(void* stream, int device) {
  DeviceScope scope(resolve(device));
  cudaGraph_t graph = nullptr;
  MINIDP_CUDA_CHECK(cudaStreamEndCapture(to_cuda_stream(stream), &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);  // the executable graph keeps what it needs
  MINIDP_CUDA_CHECK(err);
  ++g_graphs_captured;
  return exec;
}

void stream_abort_capture(void* stream, int device) noexcept {
  int prev = 0;
  if (cudaGetDevice(&prev) != cudaSuccess) return;
  if (device >= 0) cudaSetDevice(device);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(to_cuda_stream(stream), &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t graph = nullptr;
    cudaStreamEndCapture(to_cuda_stream(stream), &graph);  // fails for an invalidated capture: nothing to keep
    if (graph != nullptr) cudaGraphDestroy(graph);
  }
  cudaGetLastError();  // the capture's error is the caller's to report, not the next call's
  cudaSetDevice(prev);
}

void graph_launch(void* exec, void* stream, int device) {
  DeviceScope scope(resolve(device));
  MINIDP_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec), to_cuda_stream(stream)));
  ++g_graphs_replayed;
}

GraphCounts graph_counts() { return {g_graphs_captured.load(), g_graphs_replayed.load()}; }

void graph_destroy(void* exec, int device) noexcept {
  if (exec == nullptr) return;
  int prev = 0;
  if (cudaGetDevice(&prev) != cudaSuccess) return;
  if (device >= 0) cudaSetDevice(device);
  cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec));
  cudaSetDevice(prev);
}

void set_allow_tf32(bool allow) { g_allow_tf32 = allow; }
bool allow_tf32() { return g_allow_tf32.load(); }

}  // namespace minidp::kernels::cuda
