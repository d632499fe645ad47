// minidp/kernels/cuda/no_cuda.cpp — what a build without CUDA answers when asked
// about GPUs: there are none, and anything that needs one raises a
// minidp::Error that names it and says how to get a CUDA build.
//
// This is the only file a CPU-only build adds. The kernels need no stand-ins:
// without CUDA, MINIDP_KERNEL (kernels/kernels.h) dispatches to the CPU
// kernels alone, and a CUDA tensor cannot be made in the first place (its
// allocation below refuses). The runtime (kernels/cuda/runtime.h), the caching
// allocator (kernels/cuda/allocator.h), the cuDNN switch (kernels/cuda/conv.h)
// and the NCCL communicator (parallel/nccl_communicator.h) are answered here.
#include <atomic>

#include "minidp/core/error.h"
#include "minidp/kernels/cuda/allocator.h"
#include "minidp/kernels/cuda/conv.h"
#include "minidp/kernels/cuda/linear.h"
#include "minidp/kernels/cuda/runtime.h"
#include "minidp/parallel/nccl_communicator.h"

namespace minidp {

namespace {
[[noreturn]] void needs_cuda(const char* what) {
  MINIDP_FAIL(what, " needs a GPU, but this build of minidp has no CUDA backend (configure it with "
                    "-DMINIDP_CUDA=ON on a machine with the CUDA toolkit, cuDNN and NCCL)");
}
std::atomic<bool> g_allow_tf32{false};
std::atomic<bool> g_cudnn_benchmark{false};
}  // namespace

namespace kernels::cuda {
// ---- runtime.h
bool compiled() { return false; }
int device_count() { return 0; }
void set_device(int) { needs_cuda("set_device"); }
int current_device_index() { needs_cuda("current_device_index"); }
void* native_stream(void* handle) { return handle; }
void* device_malloc(std::size_t, int) { needs_cuda("device memory"); }
void* device_try_malloc(std::size_t, int) { needs_cuda("device memory"); }
void device_memory_info(int, std::size_t& free_bytes, std::size_t& total_bytes) noexcept { free_bytes = total_bytes = 0; }
void device_free_checked(void*, int) { needs_cuda("device memory"); }
void device_free(void*, int) noexcept {}
void* host_malloc_pinned(std::size_t) { needs_cuda("pinned host memory"); }
void host_free_pinned(void*) noexcept {}
void host_pinned_record_use(void*, void*, int) { needs_cuda("pinned host memory"); }
std::size_t host_pinned_cached_bytes() { return 0; }
void memcpy_async(void*, const void*, std::size_t, CopyKind, void*, int) { needs_cuda("a copy to or from a GPU"); }
void memcpy_peer_async(void*, int, void*, const void*, int, void*, std::size_t) { needs_cuda("a copy between GPUs"); }
void memset_async(void*, int, std::size_t, void*, int) { needs_cuda("memset on a GPU"); }
void stream_synchronize(void*, int) { needs_cuda("synchronize"); }
void device_synchronize(int) { needs_cuda("synchronize"); }
void* stream_create(int) { needs_cuda("create_stream"); }
void stream_destroy(void*, int) { needs_cuda("destroy_stream"); }
void* event_create(int, bool) { needs_cuda("an Event on a GPU"); }
void event_destroy(void*, int) noexcept {}
void event_record(void*, void*, int) { needs_cuda("Event::record"); }
void stream_wait_event(void*, void*, int) { needs_cuda("stream_wait_event"); }
void event_synchronize(void*, int, void*) { needs_cuda("Event::synchronize"); }
bool event_query(void*) { needs_cuda("Event::query"); }
float event_elapsed_ms(void*, void*) { needs_cuda("Event::elapsed_ms"); }
void stream_begin_capture(void*, int) { needs_cuda("CUDA graph capture"); }
void* stream_end_capture(void*, int) { needs_cuda("CUDA graph capture"); }
void stream_abort_capture(void*, int) noexcept {}
void graph_launch(void*, void*, int) { needs_cuda("a CUDA graph launch"); }
void graph_destroy(void*, int) noexcept {}
GraphCounts graph_counts() { return {}; }
void set_allow_tf32(bool allow) { g_allow_tf32 = allow; }  // remembered; it changes nothing on the CPU
bool allow_tf32() { return g_allow_tf32.load(); }

// ---- conv.h: remembered, like TF32; no convolution ever reaches cuDNN
void set_cudnn_benchmark(bool on) { g_cudnn_benchmark = on; }
bool cudnn_benchmark() { return g_cudnn_benchmark.load(); }
std::vector<std::string> cudnn_algorithms_chosen() { return {}; }

// ---- allocator.h: kernels/cuda/allocator.cpp, over the runtime above (no device)
LinearEpilogueCounts linear_epilogue_counts() { return {}; }  // nothing ran on a GPU

}  // namespace kernels::cuda

// ---- parallel/nccl_communicator.h (unreachable in practice: a GPU replica list is refused earlier)
namespace parallel {
std::unique_ptr<Communicator> make_nccl_communicator(const std::vector<Device>& devices) {
  (void)devices;
  needs_cuda("the NCCL communicator");
}
std::string nccl_unique_id() { needs_cuda("the NCCL communicator"); }
std::unique_ptr<Communicator> make_nccl_communicator(int, int, const std::string&, const Device&, double,
                                                     std::function<void(const std::string&)>) {
  needs_cuda("the NCCL communicator");
}
}  // namespace parallel

}  // namespace minidp
