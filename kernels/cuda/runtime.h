// minidp/kernels/cuda/runtime.h — the few CUDA runtime services core/ needs,
// behind a plain C++ interface so that core/ compiles without CUDA headers.
//
// Built from runtime.cu (with pinned_memory.cu and device_errors.cu) when the
// CUDA toolkit is found; a build without CUDA answers from no_cuda.cpp (no
// device; every call that needs one raises a minidp::Error saying so). Every CUDA call inside is checked and reported with
// file:line and CUDA's own message.
//
// Streams and events are passed as `void*` (a cudaStream_t / cudaEvent_t).
// A null stream means the calling thread's default stream on `device`
// (cudaStreamPerThread), never the legacy stream 0 that would serialise every
// host thread. `device` = -1 means the calling thread's current CUDA device.
#pragma once

#include <cstddef>

namespace minidp::kernels::cuda {

bool compiled();
int device_count();  // 0 when there is no driver or GPU; never throws
void set_device(int index);
int current_device_index();
// The cudaStream_t (as void*) that a Stream handle stands for: the handle
// itself, or cudaStreamPerThread for nullptr. Code that calls CUDA libraries
// directly (NCCL) passes this, so that it queues on the same stream as
// minidp's own kernels.
void* native_stream(void* handle);

// Raw device memory (cudaMalloc/cudaFree). Tensors do not use these directly:
// their storage comes from the caching allocator (kernels/cuda/allocator.h),
// which calls them only when its cache cannot serve a request.
void* device_malloc(std::size_t nbytes, int device);
void device_free(void* ptr, int device) noexcept;
// What the caching allocator asks for: nullptr when the device is out of
// memory (no error), also while this thread captures a graph (a segment is
// not stream work); and the device's free and total bytes (0, 0 if unknown).
void* device_try_malloc(std::size_t nbytes, int device);
void device_memory_info(int device, std::size_t& free_bytes, std::size_t& total_bytes) noexcept;
// cudaFree that raises what CUDA reports (the caching allocator's segments).
void device_free_checked(void* ptr, int device);

// Page-locked ("pinned") host memory: the DMA engines can read it directly,
// so host->device copies from it are truly asynchronous. Cached like device
// memory: a freed block is handed out again (same rounded size) once every
// copy recorded with host_pinned_record_use has completed — checked with
// cudaEventQuery, so neither the free nor the reuse makes the host wait.
// MINIDP_CUDA_NO_CACHE=1 turns the cache off (see allocator.h).
void* host_malloc_pinned(std::size_t nbytes);
void host_free_pinned(void* ptr) noexcept;
// A copy queued on `stream` of `device` reads the pinned block starting at
// `base` (a pointer host_malloc_pinned returned): the block is not reused
// before that copy is done.
void host_pinned_record_use(void* base, void* stream, int device);
// Bytes of pinned blocks cached for reuse (for tests).
std::size_t host_pinned_cached_bytes();

enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
// Asynchronous on `stream` of `device` (the GPU side of the copy).
void memcpy_async(void* dst, const void* src, std::size_t nbytes, CopyKind kind, void* stream,
                  int device = -1);
// A copy between two GPUs (or two streams): `dst_stream` waits for the work
// already queued on `src_stream`, the copy runs on `dst_stream`, and
// `src_stream` then waits for the copy — so neither side can reuse or
// overwrite the memory too early.
void memcpy_peer_async(void* dst, int dst_device, void* dst_stream, const void* src, int src_device,
                       void* src_stream, std::size_t nbytes);
void memset_async(void* dst, int value, std::size_t nbytes, void* stream, int device = -1);
// Blocks the host until `stream` is drained. Only used at explicit sync points
// (item(), copies to the host, synchronize()) — never inside DataParallel's
// training step (a test counts them: core/stream.h host_sync_count). Raises
// an error a kernel of that stream reported (e.g. an index out of range).
void stream_synchronize(void* stream, int device = -1);
void device_synchronize(int device);

// ---- streams and events (core/stream.h is the user-facing side)
void* stream_create(int device);  // a non-blocking stream
void stream_destroy(void* stream, int device);  // drains it first; raises an error its kernels reported
void* event_create(int device, bool enable_timing);
void event_destroy(void* event, int device) noexcept;
void event_record(void* event, void* stream, int device);
void stream_wait_event(void* stream, void* event, int device);
// Waits for the event, then raises an error that a kernel of `stream` (the
// stream the event was recorded on) reported.
void event_synchronize(void* event, int device, void* stream);
bool event_query(void* event);  // true when the captured work is done
float event_elapsed_ms(void* start, void* end);

// ---- CUDA graphs (stream capture). Work queued on `stream` between begin and
// end is recorded, not run; end returns the instantiated graph
// (cudaGraphExec_t), which graph_launch replays on a stream. Capture is in
// thread-local mode: only the capturing thread is barred from calls that are
// unsafe during a capture (a synchronisation, cudaFree), so replicas on other
// threads may capture at the same time. Other streams join the capture by
// waiting on an event recorded on a capturing stream, and must be joined back
// (the capturing stream waits on an event of theirs) before end.
void stream_begin_capture(void* stream, int device);
void* stream_end_capture(void* stream, int device);
// Ends a capture that failed half-way and throws the graph away (no error).
void stream_abort_capture(void* stream, int device) noexcept;
void graph_launch(void* exec, void* stream, int device);
void graph_destroy(void* exec, int device) noexcept;
// Graphs captured (instantiated) and launched since the process started, on
// every device (the GPU check prints them).
struct GraphCounts {
  unsigned long long captured = 0, replayed = 0;
};
GraphCounts graph_counts();

// TF32 tensor cores for float32 GEMMs and convolutions (off by default, so
// float32 results match the CPU to ~1e-6; on, ~5x faster on Hopper and
// accurate to ~1e-3, like PyTorch's allow_tf32).
void set_allow_tf32(bool allow);
bool allow_tf32();

}  // namespace minidp::kernels::cuda
