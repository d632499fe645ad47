// minidp/kernels/sim/runtime.h — a GPU simulated on the CPU (`sim:N`).
//
// The kernels are the CPU's; what differs is *when* they run, which is what
// the GPU code's orchestration depends on:
//   * a stream is an ordered queue with a worker thread of its own: an op on
//     a sim tensor enqueues its kernel (holding references to its tensors)
//     and returns at once, as a CUDA launch does;
//   * an event is a position in a stream's queue; a stream that waits on it
//     runs nothing past that point until the recording stream has got there;
//     the host waits only in synchronize, Event::synchronize and copies to the
//     host — the same calls that count as host synchronisations on CUDA;
//   * its memory is device memory: the host reading or writing a sim tensor
//     directly (Tensor::data, item without a copy) is a minidp::Error; a copy
//     from pinned host memory is asynchronous, from pageable memory the host
//     waits while its bytes are staged, and they land in the stream's order;
//   * shake (MINIDP_SIM_SHAKE=<seed>, or set_shake): a seeded random delay
//     before each queued kernel and copy, and fresh blocks filled with NaN, so
//     a missing wait or a read of memory nobody wrote gives a wrong number or
//     a NaN instead of luck.
// The workers share no lock, pool or queue that would order them behind the
// scenes (each runs its kernels on its own thread, with a thread budget of
// 1), so a missing wait shows under ThreadSanitizer and under shake alike.
//
// Interface: the same shape as kernels/cuda/runtime.h (streams and events as
// void*, nullptr = the calling thread's default stream of the device); core/
// (stream.cpp, storage.cpp, tensor.cpp) chooses between the two by device.
// Not simulated: the speed, warp-level behaviour, and cuBLAS, cuDNN and NCCL
// themselves. Results on sim are never GPU results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "minidp/kernels/caching_allocator.h"

namespace minidp::kernels::sim {

inline constexpr int kMaxDevices = 8;

// ---- streams
void* stream_create(int device);
void stream_destroy(void* stream, int device);  // drains it first; raises an error its kernels reported
// Queues `task` on `stream` (nullptr: the calling thread's default stream of `device`).
void enqueue(void* stream, int device, std::function<void()> task);
void stream_synchronize(void* stream, int device);  // raises an error a kernel of the stream reported
void device_synchronize(int device);                // every stream of the device
void stream_drain(void* stream, int device) noexcept;  // waits, raises nothing, leaves errors for the next synchronize
// True on a stream's worker thread (where kernels may touch device memory).
bool on_worker();

// ---- events
void* event_create(int device);
void event_destroy(void* event) noexcept;
void event_record(void* event, void* stream, int device);
void stream_wait_event(void* stream, void* event, int device);
void event_synchronize(void* event);
bool event_query(void* event);
// Milliseconds between the moments two recorded events were reached (both done).
float event_elapsed_ms(void* start, void* end);

// ---- memory: the caching allocator of kernels/caching_allocator.h — the
// same code as CUDA's — over host memory. A block freed by the host goes back
// to the pool of the stream it was allocated on, and is reused only by work
// on that stream; under shake it is poisoned with NaN there, in stream order,
// so a reader on another stream that nothing orders before the free sees NaN.
void* allocate(std::size_t nbytes, int device, void* stream);
void deallocate(void* ptr, int device) noexcept;
CachingAllocator& allocator();
// Segments: NaN-filled under shake.
void* device_malloc(std::size_t nbytes, int device);
void device_free(void* ptr, int device) noexcept;
// Host -> device on `stream`: asynchronous from pinned memory (the caller keeps
// the source alive until the copy ran); from pageable memory the bytes are
// staged before this returns and written in the stream's order, as on CUDA.
void copy_to_device(void* dst, const void* src, std::size_t nbytes, bool pinned, void* stream, int device);
// Device -> host: the host waits for the stream, then the copy is done.
void copy_to_host(void* dst, const void* src, std::size_t nbytes, void* stream, int device);
// Device to device (two sim GPUs, or two streams): dst_stream waits for the
// work queued on src_stream, copies, and src_stream then waits for the copy.
void copy_peer(void* dst, int dst_device, void* dst_stream, const void* src, int src_device, void* src_stream,
               std::size_t nbytes);

// ---- graphs. While a stream is captured, what is queued on it is recorded,
// not run — and so is what is queued on any stream that joins the capture by
// waiting on an event recorded in it (every such stream must be joined back:
// its last recorded event waited on by the capturing stream before the end).
// A replay (graph_launch) runs the recorded work again on the launching
// stream's worker, with the same tensors (the same addresses), honouring
// every event between the branches. As strict as CUDA: a host wait on a
// capturing stream or device (synchronize, item, a copy to the host), or a
// copy from pageable memory, raises a minidp::Error.
void stream_begin_capture(void* stream, int device);
void* stream_end_capture(void* stream, int device);  // the graph
void stream_abort_capture(void* stream, int device) noexcept;
bool stream_capturing(void* stream, int device);
void graph_launch(void* graph, void* stream, int device);
void graph_destroy(void* graph) noexcept;

// ---- shake
// seed 0: off. Also read once from MINIDP_SIM_SHAKE. Delays are up to
// `max_delay_us` microseconds, drawn per stream from the seed.
void set_shake(std::uint64_t seed, int max_delay_us = 200);
std::uint64_t shake_seed();
// A slow bus, for tests: every host -> device copy waits this long on its
// stream before it lands (0: none). Lets a test hold back exactly the copies
// a wait must order, with the rest of the stream's work running freely.
void set_copy_to_device_delay_for_testing(int delay_us);
// A slow stream, for tests: each of its queued tasks waits this long first.
void set_stream_delay_for_testing(void* stream, int device, int delay_us);

}  // namespace minidp::kernels::sim
