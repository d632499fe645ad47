// minidp/kernels/cpu/strided.h — walking K tensors of one shape with their own strides.
//
// The CPU kernels' single loop nest: for every row (all dims but the last)
// `row(offsets, n, inner_strides)` is called with each tensor's element offset
// at the row's start, the row length and each tensor's stride along it. A
// broadcast input simply has stride 0 on its broadcast dims.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace minidp::kernels::cpu {

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

}  // namespace minidp::kernels::cpu
