// minidp/kernels/cuda/reduce.cu — sum/max/min over dimensions, arg-max/min and softmax.
//
// Determinism: every sum is a tree whose shape depends only on the tensor's
// shape — never on timing, atomics or the GPU model — so two runs give the
// same bits. Accumulation is in double (int64 for integers) as on the CPU, so
// results agree with kernels/cpu/reduce.cpp to the last bit or two of a float.
//
// reduce: the dims of x are split into kept dims (the output's) and reduced
// dims. G threads cooperate on one output: each walks the reduced elements
// r = lane, lane + G, ... and the G partial values are combined in shared
// memory. When the innermost dim is reduced the G threads of an output are
// adjacent (they read adjacent elements); when it is kept, adjacent threads
// take adjacent outputs instead — either way a warp reads contiguous memory.
// Few outputs over many elements (a full sum) split the reduced range over
// several blocks writing partial results, which a second kernel combines in
// a fixed order.
#include <limits>

#include "minidp/kernels/cuda/common.cuh"

namespace minidp::kernels::cuda {

namespace {

constexpr int kMaxReduceDims = 8;
struct DimSet {
  int nd = 0;
  std::int64_t size[kMaxReduceDims];
  std::int64_t stride[kMaxReduceDims];  // in x
};

struct ReduceGeom {
  DimSet kept, red;
  std::int64_t n_out, r_total, chunk;  // chunk: reduced elements per split
  int g;                               // threads per output (power of two)
  int inner_reduced;
  int splits;
};

__device__ inline std::int64_t dim_offset(const DimSet& s, std::int64_t i) {
  if (s.nd == 1) return i * s.stride[0];
  std::int64_t off = 0;
  for (int d = s.nd - 1; d >= 0; --d) {
    const std::int64_t q = i / s.size[d];
    off += (i - q * s.size[d]) * s.stride[d];
    i = q;
  }
  return off;
}

template <typename Acc>
__device__ inline Acc combine(ReduceOp op, Acc a, Acc v) {
  if (op == ReduceOp::Sum) return a + v;
  if (op == ReduceOp::Max) return (v > a || v != v) ? v : a;  // NaN propagates
  return (v < a || v != v) ? v : a;
}

// One block: kThreads / g outputs, g threads each; blockIdx.y is the split.
template <typename T, typename Acc>
__global__ void reduce_kernel(const T* __restrict__ x, T* __restrict__ out, Acc* __restrict__ partial,
                              ReduceGeom g, ReduceOp op, Acc init) {
  __shared__ Acc sh[kThreads];
  const int tid = threadIdx.x;
  const int outs_per_block = kThreads / g.g;
  const int lane = g.inner_reduced ? tid % g.g : tid / outs_per_block;
  const int slot = g.inner_reduced ? tid / g.g : tid % outs_per_block;
  const std::int64_t o = static_cast<std::int64_t>(blockIdx.x) * outs_per_block + slot;
  Acc acc = init;
  if (o < g.n_out) {
    const T* base = x + (g.kept.nd == 0 ? 0 : dim_offset(g.kept, o));
    const std::int64_t r0 = static_cast<std::int64_t>(blockIdx.y) * g.chunk;
    const std::int64_t r1 = r0 + g.chunk < g.r_total ? r0 + g.chunk : g.r_total;
    for (std::int64_t r = r0 + lane; r < r1; r += g.g)
      acc = combine(op, acc, static_cast<Acc>(base[g.red.nd == 0 ? 0 : dim_offset(g.red, r)]));
  }
  sh[slot * g.g + lane] = acc;
  __syncthreads();
  for (int s = g.g / 2; s > 0; s >>= 1) {
    if (lane < s) sh[slot * g.g + lane] = combine(op, sh[slot * g.g + lane], sh[slot * g.g + lane + s]);
    __syncthreads();
  }
  if (lane == 0 && o < g.n_out) {
    if (g.splits == 1) out[o] = static_cast<T>(sh[slot * g.g]);
    else partial[o * g.splits + blockIdx.y] = sh[slot * g.g];
  }
}

template <typename T, typename Acc>
__global__ void reduce_finish_kernel(const Acc* __restrict__ partial, T* __restrict__ out, std::int64_t n_out,
                                     int splits, ReduceOp op) {
  MINIDP_GRID_STRIDE(o, n_out) {
    Acc acc = partial[o * splits];
    for (int s = 1; s < splits; ++s) acc = combine(op, acc, partial[o * splits + s]);
    out[o] = static_cast<T>(acc);
  }
}

int pow2_at_least(std::int64_t v, int cap) {
  int p = 1;
  while (p < v && p < cap) p <<= 1;
  return p;
}

// Kept and reduced dims of x (contiguous), size-1 dims dropped, neighbours of one kind merged.
ReduceGeom make_geom(const Tensor& x, const Tensor& out) {
  ReduceGeom g{};
  const auto& xs = x.shape();
  const auto& os = out.shape();
  MINIDP_CHECK(xs.size() == os.size(), "reduce (CUDA): output ", out.describe(), " must have the rank of ",
               x.describe());
  const Shape st = contiguous_strides(xs);
  int last_kind = -1;  // 0 kept, 1 reduced
  for (std::size_t d = 0; d < xs.size(); ++d) {
    if (xs[d] == 1) continue;
    const int kind = os[d] == 1 ? 1 : 0;
    MINIDP_CHECK(kind == 1 || os[d] == xs[d], "reduce (CUDA): output ", out.describe(), " does not match input ",
                 x.describe());
    DimSet& s = kind ? g.red : g.kept;
    if (kind == last_kind) {  // merge with the previous dim of the same kind
      s.size[s.nd - 1] *= xs[d];
      s.stride[s.nd - 1] = st[d];
    } else {
      MINIDP_CHECK(s.nd < kMaxReduceDims, "reduce (CUDA): too many alternating kept/reduced dims in ",
                   x.describe());
      s.size[s.nd] = xs[d];
      s.stride[s.nd] = st[d];
      ++s.nd;
    }
    last_kind = kind;
  }
  g.inner_reduced = last_kind == 1;
  g.n_out = 1;
  for (int d = 0; d < g.kept.nd; ++d) g.n_out *= g.kept.size[d];
  g.r_total = 1;
  for (int d = 0; d < g.red.nd; ++d) g.r_total *= g.red.size[d];
  if (g.inner_reduced) {
    g.g = pow2_at_least(g.r_total, kThreads);
  } else {
    // At most 8 threads per output, so that a warp spans 32 adjacent outputs
    // (128 contiguous bytes per reduced index); more parallelism comes from splits.
    const std::int64_t want = (65536 + g.n_out - 1) / g.n_out;
    g.g = std::min(pow2_at_least(want, 8), pow2_at_least(g.r_total, 8));
  }
  // Too few threads for the work: split the reduced range (each thread still sums >= 64 elements).
  g.splits = 1;
  if (g.n_out * g.g < 65536) {
    const std::int64_t s = g.r_total / (static_cast<std::int64_t>(g.g) * 64);
    g.splits = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(s, 1024)));
  }
  g.chunk = (g.r_total + g.splits - 1) / g.splits;
  return g;
}

template <typename T>
__global__ void arg_reduce_kernel(const T* __restrict__ x, std::int64_t* __restrict__ out, std::int64_t outer,
                                  std::int64_t n, std::int64_t inner, bool is_max) {
  MINIDP_GRID_STRIDE(i, outer * inner) {
    const std::int64_t o = i / inner, in = i - o * inner;
    const T* row = x + o * n * inner + in;
    std::int64_t best = 0;
    T b = row[0];
    for (std::int64_t j = 1; j < n; ++j) {
      if (b != b) break;  // NaN wins, like PyTorch
      const T v = row[j * inner];
      if (v != v || (is_max ? v > b : v < b)) {
        best = j;
        b = v;
      }
    }
    out[i] = best;
  }
}

// Softmax along a dim of stride 1: one warp per row, statistics in double.
template <typename T>
__global__ void softmax_rows_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t rows, std::int64_t n,
                                    bool log_out) {
  const int lane = threadIdx.x % 32;
  const std::int64_t warps = static_cast<std::int64_t>(gridDim.x) * (blockDim.x / 32);
  for (std::int64_t r = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; r < rows;
       r += warps) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    double m = -INFINITY;
    for (std::int64_t j = lane; j < n; j += 32) m = ::fmax(m, static_cast<double>(xr[j]));
    m = warp_max(m);
    double s = 0;
    for (std::int64_t j = lane; j < n; j += 32) s += ::exp(static_cast<double>(xr[j]) - m);
    s = warp_sum(s);
    const double lse = m + ::log(s);
    for (std::int64_t j = lane; j < n; j += 32) {
      const double v = static_cast<double>(xr[j]) - lse;
      yr[j] = static_cast<T>(log_out ? v : ::exp(v));
    }
  }
}

// Softmax along a strided dim: one thread per (outer, inner) column.
template <typename T>
__global__ void softmax_cols_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t outer, std::int64_t n,
                                    std::int64_t inner, bool log_out) {
  MINIDP_GRID_STRIDE(i, outer * inner) {
    const std::int64_t o = i / inner, in = i - o * inner;
    const std::int64_t base = o * n * inner + in;
    double m = -INFINITY;
    for (std::int64_t j = 0; j < n; ++j) m = ::fmax(m, static_cast<double>(x[base + j * inner]));
    double s = 0;
    for (std::int64_t j = 0; j < n; ++j) s += ::exp(static_cast<double>(x[base + j * inner]) - m);
    const double lse = m + ::log(s);
    for (std::int64_t j = 0; j < n; ++j) {
      const double v = static_cast<double>(x[base + j * inner]) - lse;
      y[base + j * inner] = static_cast<T>(log_out ? v : ::exp(v));
    }
  }
}

}  // namespace

void reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  check_cuda("reduce", x);
  check_cuda("reduce", out);
  MINIDP_CHECK(x.is_contiguous() && out.is_contiguous(), "reduce (CUDA): expected contiguous tensors, got ",
               x.describe(), " and ", out.describe());
  if (out.numel() == 0) return;
  const ReduceGeom g = make_geom(x, out);
  Launch l(out);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
    const Acc init = reduce_identity<Acc>(op);  // kernels/pointwise.h: +-inf for floats
    const T* px = static_cast<const T*>(x.raw_data());
    T* po = static_cast<T*>(out.raw_data());
    const int outs_per_block = kThreads / g.g;
    const std::int64_t blocks = (g.n_out + outs_per_block - 1) / outs_per_block;
    MINIDP_CHECK(blocks < (std::int64_t(1) << 31), "reduce (CUDA): too many outputs in ", out.describe());
    const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(g.splits));
    if (g.splits == 1) {
      reduce_kernel<T, Acc><<<grid, kThreads, 0, l.stream>>>(px, po, nullptr, g, op, init);
      MINIDP_CUDA_CHECK_LAUNCH();
    } else {
      Workspace ws(static_cast<std::size_t>(g.n_out) * g.splits * sizeof(Acc), l);
      reduce_kernel<T, Acc><<<grid, kThreads, 0, l.stream>>>(px, po, ws.as<Acc>(), g, op, init);
      MINIDP_CUDA_CHECK_LAUNCH();
      reduce_finish_kernel<T, Acc><<<grid_for(g.n_out), kThreads, 0, l.stream>>>(ws.as<Acc>(), po, g.n_out,
                                                                                 g.splits, op);
      MINIDP_CUDA_CHECK_LAUNCH();
    }
  });
}

void arg_reduce(bool is_max, const Tensor& x, std::int64_t dim, const Tensor& out) {
  check_cuda("arg_reduce", x);
  check_cuda("arg_reduce", out);
  MINIDP_CHECK(out.dtype() == kInt64, "arg_reduce (CUDA): output must be int64, got ", out.describe());
  std::int64_t outer, n, inner;
  split_dims(x, dim, outer, n, inner);
  if (outer * inner == 0 || n == 0) return;
  Launch l(out);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    arg_reduce_kernel<T><<<grid_for(outer * inner), kThreads, 0, l.stream>>>(
        static_cast<const T*>(x.raw_data()), static_cast<std::int64_t*>(out.raw_data()), outer, n, inner, is_max);
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

void softmax(const Tensor& x, std::int64_t dim, bool log, const Tensor& out) {
  check_cuda("softmax", x);
  check_cuda("softmax", out);
  std::int64_t outer, n, inner;
  split_dims(x, dim, outer, n, inner);
  if (outer * inner * n == 0) return;
  Launch l(out);
  float_dispatch(x, "softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw_data());
    T* py = static_cast<T*>(out.raw_data());
    if (inner == 1) {
      softmax_rows_kernel<T><<<grid_for(outer * 32), kThreads, 0, l.stream>>>(px, py, outer, n, log);
    } else {
      softmax_cols_kernel<T><<<grid_for(outer * inner), kThreads, 0, l.stream>>>(px, py, outer, n, inner, log);
    }
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace minidp::kernels::cuda
