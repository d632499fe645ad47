// minidp/kernels/cuda/random.cu — Philox random numbers, bit-for-bit the CPU's.
//
// core/rng.h's philox4x32_10 is a pure function of (counter, key), compiled
// for host and device alike, so the GPU uses exactly the CPU's mapping
// (kernels/cpu/elementwise.cpp): element i takes word i%4 of the block with
// counter offset + i/4. One thread computes one block, i.e. four elements.
// Uniform numbers are integer arithmetic and an exact scaling: identical bits
// on both devices. Normal numbers go through log/sqrt/cos/sin in double,
// whose CUDA and glibc versions may differ in the last bit of the double —
// after rounding to float32 the values are (all but always) identical.
#include "minidp/core/rng.h"
#include "minidp/kernels/cuda/common.cuh"

namespace minidp::kernels::cuda {

namespace {

template <typename T>
__global__ void uniform_kernel(T* __restrict__ p, std::int64_t n, std::uint64_t seed, std::uint64_t offset) {
  MINIDP_GRID_STRIDE(j, (n + 3) / 4) {
    const PhiloxBlock r = philox4x32_10(offset + static_cast<std::uint64_t>(j), 0, seed);
    const std::int64_t i = j * 4;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      if (i + k >= n) break;
      if constexpr (std::is_same_v<T, float>) {
        p[i + k] = philox_uniform_f32(r.v[k]);
      } else {
        p[i + k] = philox_uniform_f64(r.v[k], r.v[(k + 2) % 4]);
      }
    }
  }
}

// Box-Muller on word pairs (0,1) and (2,3) of each block: elements 4j..4j+3.
template <typename T>
__global__ void normal_kernel(T* __restrict__ p, std::int64_t n, std::uint64_t seed, std::uint64_t offset) {
  constexpr double kTwoPi = 6.283185307179586476925;
  MINIDP_GRID_STRIDE(j, (n + 3) / 4) {
    const PhiloxBlock r = philox4x32_10(offset + static_cast<std::uint64_t>(j), 0, seed);
    const std::int64_t i = j * 4;
#pragma unroll
    for (int pair = 0; pair < 2; ++pair) {
      const double u1 = 1.0 - philox_uniform_f64(r.v[2 * pair], r.v[2 * pair + 1]);  // (0, 1]
      const double u2 = philox_uniform_f32(r.v[2 * pair + 1]);
      const double radius = ::sqrt(-2.0 * ::log(u1));
      if (i + 2 * pair < n) p[i + 2 * pair] = static_cast<T>(radius * ::cos(kTwoPi * u2));
      if (i + 2 * pair + 1 < n) p[i + 2 * pair + 1] = static_cast<T>(radius * ::sin(kTwoPi * u2));
    }
  }
}

}  // namespace

void random_uniform(const Tensor& out, std::uint64_t seed, std::uint64_t offset) {
  check_cuda("random_uniform", out);
  MINIDP_CHECK(out.is_contiguous(), "random_uniform (CUDA): expected a contiguous tensor, got ", out.describe());
  const std::int64_t n = out.numel();
  if (n == 0) return;
  Launch l(out);
  float_dispatch(out, "random_uniform", [&](auto tag) {
    using T = decltype(tag);
    uniform_kernel<T><<<grid_for((n + 3) / 4), kThreads, 0, l.stream>>>(static_cast<T*>(out.raw_data()), n, seed,
                                                                        offset);
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

void random_normal(const Tensor& out, std::uint64_t seed, std::uint64_t offset) {
  check_cuda("random_normal", out);
  MINIDP_CHECK(out.is_contiguous(), "random_normal (CUDA): expected a contiguous tensor, got ", out.describe());
  const std::int64_t n = out.numel();
  if (n == 0) return;
  Launch l(out);
  float_dispatch(out, "random_normal", [&](auto tag) {
    using T = decltype(tag);
    normal_kernel<T><<<grid_for((n + 3) / 4), kThreads, 0, l.stream>>>(static_cast<T*>(out.raw_data()), n, seed,
                                                                       offset);
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace minidp::kernels::cuda
