// minidp/kernels/cpu/float_dispatch.h — run a kernel body for float or double.
//
//   float_only(x, "conv2d", [&](auto tag) { using T = decltype(tag); ... });
#pragma once

#include "minidp/core/error.h"
#include "minidp/core/tensor.h"

namespace minidp::kernels::cpu {

template <typename F>
void float_only(const Tensor& t, const char* name, F&& f) {
  if (t.dtype() == kFloat32) f(float{});
  else if (t.dtype() == kFloat64) f(double{});
  else MINIDP_FAIL(name, ": expected a float tensor, got ", t.describe());
}

}  // namespace minidp::kernels::cpu
