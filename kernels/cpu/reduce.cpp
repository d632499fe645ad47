// minidp/kernels/cpu/reduce.cpp — reductions, softmax, cross-entropy and row gathers.
//
// Sums accumulate in double (int64 for integers) in a fixed order, so results
// are deterministic and accurate enough to serve as the reference. Rows (of a
// softmax, of a loss) are independent and run in chunks on the CPU's threads;
// a reduction across rows keeps one partial per chunk (reduce, below).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <limits>
#include <vector>

#include "minidp/kernels/cpu/parallel.h"
#include "minidp/kernels/cpu/strided.h"
#include "minidp/kernels/kernels.h"

namespace minidp::kernels::cpu {

namespace {
template <typename F>
void with_reduce_op(ReduceOp op, F&& f) {
  switch (op) {
    case ReduceOp::Sum: return f(std::integral_constant<ReduceOp, ReduceOp::Sum>{});
    case ReduceOp::Max: return f(std::integral_constant<ReduceOp, ReduceOp::Max>{});
    case ReduceOp::Min: return f(std::integral_constant<ReduceOp, ReduceOp::Min>{});
  }
}

template <ReduceOp kOp, typename Acc>
void combine(Acc& a, Acc v) {
  if constexpr (kOp == ReduceOp::Sum) a += v;
  else if constexpr (kOp == ReduceOp::Max) a = (v > a || v != v) ? v : a;  // NaN propagates
  else a = (v < a || v != v) ? v : a;
}

// One row into one accumulator. A sum keeps eight running sums (element i in
// sum i % 8) added pairwise at the end: eight independent chains instead of
// one, so the loop is not bound by the latency of one add after another. A
// fixed pattern, so still the same bits every time.
template <ReduceOp kOp, typename Acc, typename T>
void reduce_row(Acc& a, const T* x, std::int64_t n) {
  if constexpr (kOp == ReduceOp::Sum) {
    Acc s[8] = {};
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) s[j] += static_cast<Acc>(x[i + j]);
    Acc t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; ++i) t += static_cast<Acc>(x[i]);
    a += t;
  } else {
    for (std::int64_t i = 0; i < n; ++i) combine<kOp>(a, static_cast<Acc>(x[i]));
  }
}
}  // namespace

// out has x's rank with reduced dims of size 1: x is walked with stride 0 for
// out on those dims. Dim 0 (after coalescing) is cut into chunks of fixed
// size; when dim 0 is reduced, each chunk accumulates into its own partial
// and the partials are combined in chunk order — the same sums whatever the
// number of threads.
void reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  std::vector<std::int64_t> ostrides = out.strides();
  for (std::size_t d = 0; d < ostrides.size(); ++d)
    if (out.shape()[d] == 1) ostrides[d] = 0;
  const Walk<2> walk = coalesce<2>(x.shape(), {&x.strides(), &ostrides});
  const std::int64_t n_out = out.numel();
  const bool dim0_kept = !walk.shape.empty() && walk.strides[1][0] != 0;
  const std::int64_t rows = walk.shape.empty() ? 1 : walk.shape[0];
  // At most 256 partials of n_out values each.
  const std::int64_t per = dim0_kept ? rows_per_chunk(walk) : std::max(rows_per_chunk(walk), (rows + 255) / 256);
  const std::int64_t chunks = num_chunks(rows, per);
  const std::int64_t partials = dim0_kept ? 1 : std::max<std::int64_t>(chunks, 1);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;
    const Acc init = reduce_identity<Acc>(op);  // kernels/pointwise.h: +-inf for floats
    std::vector<Acc> acc(static_cast<std::size_t>(partials * n_out), init);
    const T* px = static_cast<const T*>(x.raw_data());
    with_reduce_op(op, [&](auto op_c) {
      constexpr ReduceOp kOp = decltype(op_c)::value;
      parallel_for(chunks, 1, [&](std::int64_t c0, std::int64_t c1) {
        for (std::int64_t c = c0; c < c1; ++c) {
          Acc* part = acc.data() + (dim0_kept ? 0 : c * n_out);
          for_rows<2>(walk, c * per, std::min(rows, (c + 1) * per), {0, 0},
                      [&](const std::array<std::int64_t, 2>& off, std::int64_t n, const std::array<std::int64_t, 2>& st) {
                        if (st[1] == 0 && st[0] == 1) {  // a contiguous row into one output
                          reduce_row<kOp>(part[off[1]], px + off[0], n);
                        } else {
                          for (std::int64_t i = 0; i < n; ++i)
                            combine<kOp>(part[off[1] + i * st[1]], static_cast<Acc>(px[off[0] + i * st[0]]));
                        }
                      });
        }
      });
      for (std::int64_t c = 1; c < partials; ++c)  // in chunk order
        for (std::int64_t i = 0; i < n_out; ++i) combine<kOp>(acc[i], acc[c * n_out + i]);
    });
    T* po = static_cast<T*>(out.raw_data());
    for (std::int64_t i = 0; i < n_out; ++i) po[i] = static_cast<T>(acc[i]);
  });
}

void arg_reduce(bool is_max, const Tensor& x, std::int64_t dim, const Tensor& out) {
  std::int64_t outer, n, inner;
  split_dims(x, dim, outer, n, inner);
  std::int64_t* po = static_cast<std::int64_t*>(out.raw_data());
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.raw_data());
    parallel_for(outer, std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(1, n * inner)), [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t o = lo; o < hi; ++o)
      for (std::int64_t in = 0; in < inner; ++in) {
        const T* row = px + o * n * inner + in;
        std::int64_t best = 0;
        for (std::int64_t j = 1; j < n; ++j) {
          const T v = row[j * inner], b = row[best * inner];
          if (b != b) break;  // NaN wins, like PyTorch
          if (v != v || (is_max ? v > b : v < b)) best = j;
        }
        po[o * inner + in] = best;
      }
    });
  });
}

void softmax(const Tensor& x, std::int64_t dim, bool log, const Tensor& out) {
  std::int64_t outer, n, inner;
  split_dims(x, dim, outer, n, inner);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const T* px = static_cast<const T*>(x.raw_data());
      T* py = static_cast<T*>(out.raw_data());
      parallel_for(outer, std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(1, 8 * n * inner)), [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t o = lo; o < hi; ++o)
        for (std::int64_t in = 0; in < inner; ++in) {
          const std::int64_t base = o * n * inner + in;
          double m = -std::numeric_limits<double>::infinity();
          for (std::int64_t j = 0; j < n; ++j) m = std::max(m, static_cast<double>(px[base + j * inner]));
          double s = 0;
          for (std::int64_t j = 0; j < n; ++j) s += std::exp(static_cast<double>(px[base + j * inner]) - m);
          const double lse = m + std::log(s);
          for (std::int64_t j = 0; j < n; ++j) {
            const double v = static_cast<double>(px[base + j * inner]) - lse;
            py[base + j * inner] = static_cast<T>(log ? v : std::exp(v));
          }
        }
      });
    }
  });
}

namespace {
// Rows of `c` values per chunk: exp() makes each value cost ~10 additions.
std::int64_t rows_of(std::int64_t c) { return std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(1, 8 * c)); }

void check_target(std::int64_t t, std::int64_t c, std::int64_t ignore, std::int64_t row) {
  MINIDP_CHECK(t == ignore || (t >= 0 && t < c), "cross_entropy: target ", t, " of sample ", row,
               " is out of range; expected a class in [0, ", c, ")", " or ignore_index ", ignore);
}
}  // namespace

void cross_entropy_forward(const Tensor& logits, const Tensor& target, std::int64_t ignore, double smoothing,
                           const Tensor& loss) {
  const std::int64_t n = logits.size(0), c = logits.size(1);
  const std::int64_t* pt = static_cast<const std::int64_t*>(target.raw_data());
  visit_dtype(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const T* px = static_cast<const T*>(logits.raw_data());
      T* pl = static_cast<T*>(loss.raw_data());
      for (std::int64_t i = 0; i < n; ++i) check_target(pt[i], c, ignore, i);  // the first bad one, on this thread
      parallel_for(n, rows_of(c), [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) {
        if (pt[i] == ignore) {
          pl[i] = T(0);
          continue;
        }
        const T* row = px + i * c;
        double m = -std::numeric_limits<double>::infinity(), s = 0, total = 0;
        for (std::int64_t j = 0; j < c; ++j) m = std::max(m, static_cast<double>(row[j]));
        for (std::int64_t j = 0; j < c; ++j) {
          s += std::exp(static_cast<double>(row[j]) - m);
          total += static_cast<double>(row[j]);
        }
        const double lse = m + std::log(s);
        // -(1-e) log p_t - e/C sum_j log p_j
        pl[i] = static_cast<T>((1.0 - smoothing) * (lse - static_cast<double>(row[pt[i]])) +
                               smoothing * (lse - total / static_cast<double>(c)));
      }
      });
    }
  });
}

void cross_entropy_backward(const Tensor& logits, const Tensor& target, std::int64_t ignore, double smoothing,
                            const Tensor& gloss, const Tensor& glogits) {
  const std::int64_t n = logits.size(0), c = logits.size(1);
  const std::int64_t* pt = static_cast<const std::int64_t*>(target.raw_data());
  visit_dtype(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      const T* px = static_cast<const T*>(logits.raw_data());
      const T* pg = static_cast<const T*>(gloss.raw_data());
      T* pd = static_cast<T*>(glogits.raw_data());
      parallel_for(n, rows_of(c), [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) {
        T* drow = pd + i * c;
        if (pt[i] == ignore) {
          for (std::int64_t j = 0; j < c; ++j) drow[j] = T(0);
          continue;
        }
        const T* row = px + i * c;
        double m = -std::numeric_limits<double>::infinity(), s = 0;
        for (std::int64_t j = 0; j < c; ++j) m = std::max(m, static_cast<double>(row[j]));
        for (std::int64_t j = 0; j < c; ++j) s += std::exp(static_cast<double>(row[j]) - m);
        const double g = static_cast<double>(pg[i]);
        for (std::int64_t j = 0; j < c; ++j) {
          const double p = std::exp(static_cast<double>(row[j]) - m) / s;
          const double q = (j == pt[i] ? 1.0 - smoothing : 0.0) + smoothing / static_cast<double>(c);
          drow[j] = static_cast<T>((p - q) * g);
        }
      }
      });
    }
  });
}

void index_select(const Tensor& x, const Tensor& index, const Tensor& out) {
  const std::int64_t rows = x.size(0), len = index.numel();
  const std::int64_t cols = rows == 0 ? 0 : x.numel() / rows;
  const std::int64_t* pi = static_cast<const std::int64_t*>(index.raw_data());
  const std::size_t row_bytes = static_cast<std::size_t>(cols) * dtype_size(x.dtype());
  const char* px = static_cast<const char*>(x.raw_data());
  char* po = static_cast<char*>(out.raw_data());
  for (std::int64_t i = 0; i < len; ++i)
    MINIDP_CHECK(pi[i] >= 0 && pi[i] < rows, "index_select: index ", pi[i], " at position ", i,
                 " is out of range for ", x.describe(), " (expected [0, ", rows, "))");
  parallel_for(len, std::max<std::int64_t>(1, kGrain * 4 / std::max<std::int64_t>(1, static_cast<std::int64_t>(row_bytes))),
               [&](std::int64_t lo, std::int64_t hi) {
                 for (std::int64_t i = lo; i < hi; ++i)
                   std::copy(px + pi[i] * row_bytes, px + (pi[i] + 1) * row_bytes, po + i * row_bytes);
               });
}

void index_add(const Tensor& g, const Tensor& index, const Tensor& gx) {
  const std::int64_t rows = gx.size(0), len = index.numel();
  const std::int64_t cols = rows == 0 ? 0 : gx.numel() / rows;
  const std::int64_t* pi = static_cast<const std::int64_t*>(index.raw_data());
  visit_dtype(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(g.raw_data());
    T* pd = static_cast<T*>(gx.raw_data());
    for (std::int64_t i = 0; i < len; ++i)
      for (std::int64_t j = 0; j < cols; ++j) pd[pi[i] * cols + j] += pg[i * cols + j];
  });
}

// Validates every pair first, so a bad batch adds nothing.
void confusion_matrix(const Tensor& pred, const Tensor& labels, std::int64_t ignore, const Tensor& counts) {
  const std::int64_t n = labels.numel(), k = counts.size(0);
  const auto* pp = static_cast<const std::int64_t*>(pred.raw_data());
  const auto* pl = static_cast<const std::int64_t*>(labels.raw_data());
  auto* pc = static_cast<std::int64_t*>(counts.raw_data());
  for (std::int64_t i = 0; i < n; ++i) {
    if (pl[i] == ignore) continue;
    MINIDP_CHECK(pl[i] >= 0 && pl[i] < k, "confusion matrix: label ", pl[i], " at position ", i,
                 " is out of range; expected a class in [0, ", k, ")");
    MINIDP_CHECK(pp[i] >= 0 && pp[i] < k, "confusion matrix: prediction ", pp[i], " at position ", i,
                 " is out of range; expected a class in [0, ", k, ")");
  }
  for (std::int64_t i = 0; i < n; ++i)
    if (pl[i] != ignore) ++pc[pl[i] * k + pp[i]];
}

}  // namespace minidp::kernels::cpu
