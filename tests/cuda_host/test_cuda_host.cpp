// Host-side logic of the CUDA backend that needs the CUDA headers but no GPU,
// so it runs in CI (built whenever the CUDA backend is): cuDNN status codes
// and the allocator's switches.
#include <doctest/doctest.h>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/handles.h"
#include "kernels/cuda/runtime.h"

namespace cu = minidp::kernels::cuda;

TEST_CASE("cuda host: every cuDNN 9 'not supported' sub-code sends a convolution to its fallback algorithm") {
  // cuDNN 9 reports why it cannot run an algorithm with sub-codes 3001..3014
  // of CUDNN_STATUS_NOT_SUPPORTED (3000); comparing with 3000 alone missed them.
  for (int code = 3000; code <= 3014; ++code) {
    CAPTURE(code);
    CHECK(cu::cudnn_not_supported(static_cast<cudnnStatus_t>(code)));
  }
  CHECK(cu::cudnn_not_supported(CUDNN_STATUS_NOT_SUPPORTED_SHAPE));
  CHECK_FALSE(cu::cudnn_not_supported(CUDNN_STATUS_SUCCESS));
  CHECK_FALSE(cu::cudnn_not_supported(CUDNN_STATUS_BAD_PARAM));       // 2000: a bug, not a fallback
  CHECK_FALSE(cu::cudnn_not_supported(CUDNN_STATUS_INTERNAL_ERROR));  // 4000
  CHECK_FALSE(cu::cudnn_not_supported(CUDNN_STATUS_EXECUTION_FAILED));
}

TEST_CASE("cuda host: the allocator's no-cache switch, and nothing cached without a GPU") {
  const bool was = cu::caching_enabled();
  cu::set_caching_enabled(false);
  CHECK_FALSE(cu::caching_enabled());
  cu::set_caching_enabled(true);
  CHECK(cu::caching_enabled());
  cu::set_caching_enabled(was);
  if (cu::device_count() == 0) CHECK(cu::host_pinned_cached_bytes() == 0);
}
