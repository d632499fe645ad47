// minidp/kernels/cuda/elementwise.cu — pointwise kernels, copies and fills.
//
// One thread per element (grid-stride), math in the element type: the
// formulas of kernels/pointwise.h, the very ones kernels/cpu/elementwise.cpp
// uses. Contiguous tensors whose addresses allow it are read and written 16
// bytes at a time (float4 / double2), which lets each warp move whole 512-byte
// lines; everything else goes through the strided path, which turns a linear
// index into each operand's offset.
#include <type_traits>

#include "minidp/kernels/cuda/common.cuh"
#include "minidp/kernels/cuda/runtime.h"

namespace minidp::kernels::cuda {

namespace {

template <typename T>
struct UnaryFn {
  UnaryOp op;
  T a, b;
  __device__ T operator()(T x) const { return ::minidp::kernels::unary(op, x, a, b); }  // kernels/pointwise.h
};

template <typename T>
struct BinaryFn {
  BinaryOp op;
  __device__ T operator()(T a, T b) const { return ::minidp::kernels::binary(op, a, b); }
};

// ---------------------------------------------------------------- vectorised maps
template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

// Elements per 16-byte access, or 1 when some pointer is not 16-byte aligned.
template <typename T>
int vec_width(std::initializer_list<const void*> ptrs) {
  constexpr int n = 16 / sizeof(T) > 0 ? 16 / sizeof(T) : 1;
  for (const void* p : ptrs)
    if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0) return 1;
  return n;
}

// y[i] = f(x[i]) over n contiguous elements, N at a time.
template <typename T, int N, typename F>
__global__ void map1_kernel(const T* x, T* y, std::int64_t n, F f) {  // x may be y (in place)
  const std::int64_t nv = n / N;
  MINIDP_GRID_STRIDE(i, nv) {
    Vec<T, N> v = reinterpret_cast<const Vec<T, N>*>(x)[i];
#pragma unroll
    for (int k = 0; k < N; ++k) v.v[k] = f(v.v[k]);
    reinterpret_cast<Vec<T, N>*>(y)[i] = v;
  }
  const std::int64_t t = nv * N + static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) y[t] = f(x[t]);
}

template <typename T, int N, typename F>
__global__ void map2_kernel(const T* a, const T* b, T* y, std::int64_t n, F f) {
  const std::int64_t nv = n / N;
  MINIDP_GRID_STRIDE(i, nv) {
    const Vec<T, N> va = reinterpret_cast<const Vec<T, N>*>(a)[i];
    const Vec<T, N> vb = reinterpret_cast<const Vec<T, N>*>(b)[i];
    Vec<T, N> r;
#pragma unroll
    for (int k = 0; k < N; ++k) r.v[k] = f(va.v[k], vb.v[k]);
    reinterpret_cast<Vec<T, N>*>(y)[i] = r;
  }
  const std::int64_t t = nv * N + static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) y[t] = f(a[t], b[t]);
}

template <typename T, typename F>
__global__ void map2_strided_kernel(const T* a, const T* b, T* y, std::int64_t n, StridedMeta<3> m, F f) {
  MINIDP_GRID_STRIDE(i, n) {
    std::int64_t off[3];
    strided_offsets(m, i, off);
    y[off[2]] = f(a[off[0]], b[off[1]]);
  }
}

template <typename S, typename D>
__global__ void convert_kernel(const S* __restrict__ src, D* __restrict__ dst, std::int64_t n) {
  MINIDP_GRID_STRIDE(i, n) dst[i] = static_cast<D>(src[i]);
}

template <typename S, typename D>
__global__ void copy_strided_kernel(const S* src, D* dst, std::int64_t n, StridedMeta<2> m) {
  MINIDP_GRID_STRIDE(i, n) {
    std::int64_t off[2];
    strided_offsets(m, i, off);
    dst[off[1]] = static_cast<D>(src[off[0]]);
  }
}

template <typename T, int N>
__global__ void fill_kernel(T* y, std::int64_t n, T value) {
  const std::int64_t nv = n / N;
  Vec<T, N> v;
#pragma unroll
  for (int k = 0; k < N; ++k) v.v[k] = value;
  MINIDP_GRID_STRIDE(i, nv) reinterpret_cast<Vec<T, N>*>(y)[i] = v;
  const std::int64_t t = nv * N + static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n) y[t] = value;
}

template <typename T, typename F>
void launch_map1(const T* x, T* y, std::int64_t n, F f, cudaStream_t s) {
  constexpr int kVec = 16 / sizeof(T);
  if (vec_width<T>({x, y}) == kVec) {
    map1_kernel<T, kVec><<<grid_for(n / kVec + 1), kThreads, 0, s>>>(x, y, n, f);
  } else {
    map1_kernel<T, 1><<<grid_for(n), kThreads, 0, s>>>(x, y, n, f);
  }
  MINIDP_CUDA_CHECK_LAUNCH();
}

}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) {
  check_cuda("unary", x);
  check_cuda("unary", out);
  MINIDP_CHECK(x.is_contiguous() && out.is_contiguous(), "unary (CUDA): expected contiguous tensors, got ",
               x.describe(), " and ", out.describe());
  const std::int64_t n = x.numel();
  if (n == 0) return;
  Launch l(out);
  float_dispatch(x, "unary", [&](auto tag) {
    using T = decltype(tag);
    launch_map1(static_cast<const T*>(x.raw_data()), static_cast<T*>(out.raw_data()), n,
                UnaryFn<T>{op, static_cast<T>(a), static_cast<T>(b)}, l.stream);
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  check_cuda("binary", a);
  check_cuda("binary", b);
  check_cuda("binary", out);
  const std::int64_t n = out.numel();
  if (n == 0) return;
  Launch l(out);
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = static_cast<const T*>(a.raw_data());
    const T* pb = static_cast<const T*>(b.raw_data());
    T* po = static_cast<T*>(out.raw_data());
    const BinaryFn<T> f{op};
    const bool dense = a.is_contiguous() && b.is_contiguous() && out.is_contiguous() && a.numel() == n &&
                       b.numel() == n;
    if (dense) {
      constexpr int kVec = 16 / sizeof(T);
      if (vec_width<T>({pa, pb, po}) == kVec) {
        map2_kernel<T, kVec><<<grid_for(n / kVec + 1), kThreads, 0, l.stream>>>(pa, pb, po, n, f);
      } else {
        map2_kernel<T, 1><<<grid_for(n), kThreads, 0, l.stream>>>(pa, pb, po, n, f);
      }
    } else {
      // Broadcast inputs carry stride 0; offsets are relative to each view's start.
      const auto m = make_strided<3>(out.shape(), {&a.strides(), &b.strides(), &out.strides()}, "binary");
      map2_strided_kernel<T><<<grid_for(n), kThreads, 0, l.stream>>>(pa, pb, po, n, m, f);
    }
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

void copy(const Tensor& src, const Tensor& dst) {
  check_cuda("copy", src);
  check_cuda("copy", dst);
  MINIDP_CHECK(src.device() == dst.device(), "copy (CUDA): source ", src.describe(), " and destination ",
               dst.describe(), " are on different devices");
  const std::int64_t n = dst.numel();
  if (n == 0) return;
  Launch l(dst);
  const bool dense = src.is_contiguous() && dst.is_contiguous();
  if (dense && src.dtype() == dst.dtype()) {
    MINIDP_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), static_cast<std::size_t>(n) * dtype_size(dst.dtype()),
                                      cudaMemcpyDeviceToDevice, l.stream));
    return;
  }
  visit_dtype(src.dtype(), [&](auto stag) {
    using S = decltype(stag);
    visit_dtype(dst.dtype(), [&](auto dtag) {
      using D = decltype(dtag);
      const S* ps = static_cast<const S*>(src.raw_data());
      D* pd = static_cast<D*>(dst.raw_data());
      if (dense) {
        convert_kernel<S, D><<<grid_for(n), kThreads, 0, l.stream>>>(ps, pd, n);
      } else {
        const auto m = make_strided<2>(dst.shape(), {&src.strides(), &dst.strides()}, "copy");
        copy_strided_kernel<S, D><<<grid_for(n), kThreads, 0, l.stream>>>(ps, pd, n, m);
      }
      MINIDP_CUDA_CHECK_LAUNCH();
    });
  });
}

void fill(const Tensor& dst, double value) {
  check_cuda("fill", dst);
  MINIDP_CHECK(dst.is_contiguous(), "fill (CUDA): expected a contiguous tensor, got ", dst.describe());
  const std::int64_t n = dst.numel();
  if (n == 0) return;
  Launch l(dst);
  visit_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(dst.raw_data());
    constexpr int kVec = 16 / sizeof(T);
    if (vec_width<T>({p}) == kVec) {
      fill_kernel<T, kVec><<<grid_for(n / kVec + 1), kThreads, 0, l.stream>>>(p, n, static_cast<T>(value));
    } else {
      fill_kernel<T, 1><<<grid_for(n), kThreads, 0, l.stream>>>(p, n, static_cast<T>(value));
    }
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace minidp::kernels::cuda
