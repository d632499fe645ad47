// minidp/kernels/cuda/index.cu — gathering rows (index_select, embedding) and
// adding gradient rows back (index_add), deterministically.
//
// index_select copies whole rows: each thread moves 16, 8, 4, 2 or 1 bytes,
// the widest that the row length and both addresses allow.
//
// index_add must sum several gradient rows into one destination row when an
// index repeats (an embedding used twice in a batch). Atomic adds would sum in
// whatever order the hardware runs them — a different float each run. So the
// positions are sorted by destination row with a stable radix sort (CUB);
// then one thread per (run of equal indices, column) adds that run's rows in
// position order — exactly the CPU's order, so the results are bitwise equal.
#include <cub/device/device_radix_sort.cuh>

#include "minidp/kernels/cuda/common.cuh"

namespace minidp::kernels::cuda {

namespace {

template <typename U>
__global__ void index_select_kernel(const U* __restrict__ x, const std::int64_t* __restrict__ index,
                                    U* __restrict__ out, std::int64_t len, std::int64_t rows, std::int64_t units,
                                    DeviceErrorRecord* err) {
  MINIDP_GRID_STRIDE(k, len * units) {
    const std::int64_t i = k / units, j = k - i * units;
    const std::int64_t r = index[i];
    if (r < 0 || r >= rows) {
      if (j == 0) report_device_error(err, kIndexSelectOutOfRange, r, i, rows);
      out[k] = U{};
    } else {
      out[k] = x[r * units + j];
    }
  }
}

// keys[i] = destination row of position i (rows for an invalid index, which sorts last), vals[i] = i.
__global__ void index_add_prepare_kernel(const std::int64_t* __restrict__ index, int* __restrict__ keys,
                                         int* __restrict__ vals, std::int64_t len, std::int64_t rows,
                                         DeviceErrorRecord* err) {
  MINIDP_GRID_STRIDE(i, len) {
    const std::int64_t r = index[i];
    const bool ok = r >= 0 && r < rows;
    if (!ok) report_device_error(err, kIndexAddOutOfRange, r, i, rows);
    keys[i] = static_cast<int>(ok ? r : rows);
    vals[i] = static_cast<int>(i);
  }
}

// Thread (k, j): if sorted position k starts a run of equal rows, sum column j of the run's rows in order.
template <typename T>
__global__ void index_add_runs_kernel(const T* __restrict__ g, const int* __restrict__ keys,
                                      const int* __restrict__ vals, T* __restrict__ gx, std::int64_t len,
                                      std::int64_t cols, int rows) {
  MINIDP_GRID_STRIDE(t, len * cols) {
    const std::int64_t k = t / cols, j = t - k * cols;
    const int r = keys[k];
    if (r == rows || (k > 0 && keys[k - 1] == r)) continue;
    T acc = gx[static_cast<std::int64_t>(r) * cols + j];
    for (std::int64_t m = k; m < len && keys[m] == r; ++m) acc += g[static_cast<std::int64_t>(vals[m]) * cols + j];
    gx[static_cast<std::int64_t>(r) * cols + j] = acc;
  }
}

template <typename U>
void launch_select(const Tensor& x, const Tensor& index, const Tensor& out, std::int64_t len, std::int64_t rows,
                   std::int64_t units, const Launch& l) {
  index_select_kernel<U><<<grid_for(len * units), kThreads, 0, l.stream>>>(
      static_cast<const U*>(x.raw_data()), static_cast<const std::int64_t*>(index.raw_data()),
      static_cast<U*>(out.raw_data()), len, rows, units, device_error_record(l));
  MINIDP_CUDA_CHECK_LAUNCH();
}

}  // namespace

void index_select(const Tensor& x, const Tensor& index, const Tensor& out) {
  check_cuda("index_select", x);
  check_cuda("index_select", index);
  check_cuda("index_select", out);
  MINIDP_CHECK(index.dtype() == kInt64 && index.is_contiguous(), "index_select (CUDA): expected a contiguous int64 "
               "index, got ", index.describe());
  MINIDP_CHECK(x.is_contiguous() && out.is_contiguous(), "index_select (CUDA): expected contiguous tensors, got ",
               x.describe(), " and ", out.describe());
  const std::int64_t rows = x.size(0), len = index.numel();
  const std::int64_t cols = rows == 0 ? 0 : x.numel() / rows;
  const std::int64_t row_bytes = cols * static_cast<std::int64_t>(dtype_size(x.dtype()));
  if (len == 0 || row_bytes == 0) return;
  Launch l(out);
  const auto addr = reinterpret_cast<std::uintptr_t>(x.raw_data()) | reinterpret_cast<std::uintptr_t>(out.raw_data());
  int unit = 16;
  while (unit > 1 && (row_bytes % unit != 0 || addr % unit != 0)) unit /= 2;
  const std::int64_t units = row_bytes / unit;
  switch (unit) {
    case 16: launch_select<uint4>(x, index, out, len, rows, units, l); break;
    case 8: launch_select<std::uint64_t>(x, index, out, len, rows, units, l); break;
    case 4: launch_select<std::uint32_t>(x, index, out, len, rows, units, l); break;
    case 2: launch_select<std::uint16_t>(x, index, out, len, rows, units, l); break;
    default: launch_select<std::uint8_t>(x, index, out, len, rows, units, l); break;
  }
}

void index_add(const Tensor& g, const Tensor& index, const Tensor& gx) {
  check_cuda("index_add", g);
  check_cuda("index_add", index);
  check_cuda("index_add", gx);
  MINIDP_CHECK(index.dtype() == kInt64 && index.is_contiguous(), "index_add (CUDA): expected a contiguous int64 "
               "index, got ", index.describe());
  MINIDP_CHECK(g.is_contiguous() && gx.is_contiguous() && g.dtype() == gx.dtype(),
               "index_add (CUDA): expected contiguous tensors of one dtype, got ", g.describe(), " and ",
               gx.describe());
  const std::int64_t rows = gx.size(0), len = index.numel();
  const std::int64_t cols = rows == 0 ? 0 : gx.numel() / rows;
  if (len == 0 || cols == 0) return;
  MINIDP_CHECK(rows < (std::int64_t(1) << 30) && len < (std::int64_t(1) << 31), "index_add (CUDA): at most 2^30 "
               "rows and 2^31 indices are supported, got ", gx.describe(), " and ", index.describe());
  Launch l(gx);
  int end_bit = 1;  // enough bits for every key, including the sentinel `rows`
  while ((std::int64_t(1) << end_bit) <= rows) ++end_bit;
  const std::size_t n = static_cast<std::size_t>(len);
  std::size_t temp_bytes = 0;
  MINIDP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, static_cast<const int*>(nullptr),
                                                    static_cast<int*>(nullptr), static_cast<const int*>(nullptr),
                                                    static_cast<int*>(nullptr), static_cast<int>(len), 0, end_bit,
                                                    l.stream));
  const std::size_t arr = (n * sizeof(int) + 255) / 256 * 256;
  Workspace ws(4 * arr + temp_bytes, l);
  int* keys_in = ws.as<int>(0);
  int* keys = ws.as<int>(arr);
  int* vals_in = ws.as<int>(2 * arr);
  int* vals = ws.as<int>(3 * arr);
  index_add_prepare_kernel<<<grid_for(len), kThreads, 0, l.stream>>>(
      static_cast<const std::int64_t*>(index.raw_data()), keys_in, vals_in, len, rows, device_error_record(l));
  MINIDP_CUDA_CHECK_LAUNCH();
  MINIDP_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(ws.as<void>(4 * arr), temp_bytes, keys_in, keys, vals_in, vals,
                                                    static_cast<int>(len), 0, end_bit, l.stream));
  visit_dtype(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    index_add_runs_kernel<T><<<grid_for(len * cols), kThreads, 0, l.stream>>>(
        static_cast<const T*>(g.raw_data()), keys, vals, static_cast<T*>(gx.raw_data()), len, cols,
        static_cast<int>(rows));
    MINIDP_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace minidp::kernels::cuda
