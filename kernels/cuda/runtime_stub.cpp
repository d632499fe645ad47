// minidp/kernels/cuda/runtime_stub.cpp — stands in for runtime.cu in builds
// without CUDA: nothing runs, every request says clearly why.
#include <atomic>

#include "core/error.h"
#include "kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

namespace {
[[noreturn]] void no_cuda(const char* what) {
  MINIDP_FAIL(what, ": minidp was built without CUDA (reconfigure with -DMINIDP_CUDA=ON on a "
                    "machine with the CUDA toolkit)");
}
std::atomic<bool> g_allow_tf32{false};
}  // namespace

bool compiled() { return false; }
int device_count() { return 0; }
void set_device(int) { no_cuda("set_device"); }
int current_device_index() { no_cuda("current_device_index"); }
void* native_stream(void* handle) { return handle; }
void* device_malloc(std::size_t, int) { no_cuda("device_malloc"); }
void device_free(void*, int) noexcept {}
void* host_malloc_pinned(std::size_t) { no_cuda("pin_memory"); }
void host_free_pinned(void*) noexcept {}
void host_pinned_record_use(void*, void*, int) { no_cuda("pin_memory"); }
std::size_t host_pinned_cached_bytes() { return 0; }
void memcpy_async(void*, const void*, std::size_t, CopyKind, void*, int) { no_cuda("memcpy"); }
void memcpy_peer_async(void*, int, void*, const void*, int, void*, std::size_t) { no_cuda("memcpy_peer"); }
void memset_async(void*, int, std::size_t, void*, int) { no_cuda("memset"); }
void stream_synchronize(void*, int) { no_cuda("stream_synchronize"); }
void device_synchronize(int) { no_cuda("device_synchronize"); }
void* stream_create(int) { no_cuda("create_stream"); }
void stream_destroy(void*, int) { no_cuda("destroy_stream"); }
void* event_create(int, bool) { no_cuda("Event"); }
void event_destroy(void*, int) noexcept {}
void event_record(void*, void*, int) { no_cuda("Event::record"); }
void stream_wait_event(void*, void*, int) { no_cuda("stream_wait_event"); }
void event_synchronize(void*, int, void*) { no_cuda("Event::synchronize"); }
bool event_query(void*) { no_cuda("Event::query"); }
float event_elapsed_ms(void*, void*) { no_cuda("Event::elapsed_ms"); }
void set_allow_tf32(bool allow) { g_allow_tf32 = allow; }
bool allow_tf32() { return g_allow_tf32.load(); }

}  // namespace minidp::kernels::cuda
