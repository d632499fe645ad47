// minidp/kernels/cpu/strided.h — walking K tensors of one shape with their own strides.
//
// The CPU kernels' single loop nest: for every row (all dims but the last)
// `row(offsets, n, inner_strides)` is called with each tensor's element offset
// at the row's start, the row length and each tensor's stride along it. A
// broadcast input simply has stride 0 on its broadcast dims.
//
// Before walking, coalesce() merges the dims that every tensor walks as one
// ([N, C, H, W] + a [1, C, 1, 1] bias: rows of H*W, not of W), so rows are
// long and the inner loops vectorise. parallel_rows() then cuts dim 0 into
// chunks of about kGrain elements — a size that depends on the shape only —
// and runs them on the CPU's threads (kernels/cpu/parallel.h).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "minidp/kernels/cpu/parallel.h"

namespace minidp::kernels::cpu {

template <std::size_t K>
struct Walk {
  std::vector<std::int64_t> shape;
  std::array<std::vector<std::int64_t>, K> strides;
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
};

// `shape` walked with K stride vectors, with dims of size 1 dropped and
// neighbours merged where every tensor steps over them as over one dim.
template <std::size_t K>
Walk<K> coalesce(const std::vector<std::int64_t>& shape, const std::array<const std::vector<std::int64_t>*, K>& strides) {
  Walk<K> w;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) {  // nothing to walk
      w.shape = {0};
      for (auto& s : w.strides) s = {1};
      return w;
    }
    if (shape[d] == 1) continue;
    bool merge = !w.shape.empty();
    for (std::size_t k = 0; k < K && merge; ++k) merge = w.strides[k].back() == (*strides[k])[d] * shape[d];
    if (merge) {
      w.shape.back() *= shape[d];
      for (std::size_t k = 0; k < K; ++k) w.strides[k].back() = (*strides[k])[d];
    } else {
      w.shape.push_back(shape[d]);
      for (std::size_t k = 0; k < K; ++k) w.strides[k].push_back((*strides[k])[d]);
    }
  }
  return w;  // an empty shape: one element
}

template <std::size_t K, typename Row>
void for_each_row(const std::vector<std::int64_t>& shape, const std::array<const std::vector<std::int64_t>*, K>& strides,
                  const std::array<std::int64_t, K>& base, Row&& row) {
  const std::size_t nd = shape.size();
  for (auto s : shape)
    if (s == 0) return;
  std::array<std::int64_t, K> off = base, inner{};
  if (nd == 0) {
    row(off, std::int64_t{1}, inner);
    return;
  }
  for (std::size_t k = 0; k < K; ++k) inner[k] = (*strides[k])[nd - 1];
  const std::int64_t n = shape[nd - 1];
  std::vector<std::int64_t> idx(nd, 0);
  while (true) {
    row(off, n, inner);
    // advance the multi-index over dims [0, nd-1)
    std::size_t d = nd - 1;
    while (d-- > 0) {
      ++idx[d];
      for (std::size_t k = 0; k < K; ++k) off[k] += (*strides[k])[d];
      if (idx[d] < shape[d]) break;
      for (std::size_t k = 0; k < K; ++k) off[k] -= (*strides[k])[d] * shape[d];
      idx[d] = 0;
    }
    if (d == static_cast<std::size_t>(-1)) return;
  }
}

// How many indices of dim 0 one chunk takes: about kGrain elements.
template <std::size_t K>
std::int64_t rows_per_chunk(const Walk<K>& w) {
  if (w.shape.size() <= 1) return kGrain;
  return std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(1, w.numel() / w.shape[0]));
}

// Indices [lo, hi) of dim 0 only (a 1-D walk: one row of hi - lo elements).
template <std::size_t K, typename Row>
void for_rows(const Walk<K>& w, std::int64_t lo, std::int64_t hi, const std::array<std::int64_t, K>& base, Row&& row) {
  std::array<std::int64_t, K> off = base;
  if (w.shape.empty()) {
    row(off, std::int64_t{1}, std::array<std::int64_t, K>{});
    return;
  }
  for (std::size_t k = 0; k < K; ++k) off[k] += lo * w.strides[k][0];
  if (w.shape.size() == 1) {
    std::array<std::int64_t, K> inner{};
    for (std::size_t k = 0; k < K; ++k) inner[k] = w.strides[k][0];
    row(off, hi - lo, inner);
    return;
  }
  std::vector<std::int64_t> sub = w.shape;
  sub[0] = hi - lo;
  std::array<const std::vector<std::int64_t>*, K> ptrs;
  for (std::size_t k = 0; k < K; ++k) ptrs[k] = &w.strides[k];
  for_each_row<K>(sub, ptrs, off, row);
}

// Every row, dim 0 in chunks on the CPU's threads. Only for loops whose rows
// write disjoint outputs (elementwise ops, copies).
template <std::size_t K, typename Row>
void parallel_rows(const Walk<K>& w, const std::array<std::int64_t, K>& base, Row&& row) {
  if (w.shape.empty()) return for_rows(w, 0, 1, base, row);
  parallel_for(w.shape[0], rows_per_chunk(w), [&](std::int64_t lo, std::int64_t hi) { for_rows(w, lo, hi, base, row); });
}

}  // namespace minidp::kernels::cpu
