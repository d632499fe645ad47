// minidp/kernels/cuda/runtime_stub.cpp — stands in for runtime.cu in builds
// without CUDA: nothing runs, every request says clearly why.
#include "core/error.h"
#include "kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

namespace {
[[noreturn]] void no_cuda(const char* what) {
  MINIDP_FAIL(what, ": minidp was built without CUDA (reconfigure with -DMINIDP_CUDA=ON on a "
                    "machine with the CUDA toolkit)");
}
}  // namespace

bool compiled() { return false; }
int device_count() { return 0; }
void set_device(int) { no_cuda("set_device"); }
void* device_malloc(std::size_t, int) { no_cuda("device_malloc"); }
void device_free(void*, int) noexcept {}
void memcpy_async(void*, const void*, std::size_t, CopyKind, void*) { no_cuda("memcpy"); }
void memset_async(void*, int, std::size_t, void*) { no_cuda("memset"); }
void stream_synchronize(void*) { no_cuda("stream_synchronize"); }

}  // namespace minidp::kernels::cuda
