// minidp/kernels/cuda/linear_plan.h — when Linear's GEMM runs fused through
// cuBLASLt, and the cache that remembers the answer per shape.
//
// Host logic only (no GPU needed), so a CPU test checks it (tests/cuda_host):
//  * shapes with M, N or K of 1 never ask cuBLASLt: its heuristic answers
//    CUBLAS_STATUS_INVALID_VALUE there (PyTorch keeps them off cuBLASLt too);
//  * the heuristic's answer is "fuse" only when the call succeeded, returned
//    at least one algorithm, and that algorithm's own state is success. Every
//    other answer — NOT_SUPPORTED, INVALID_VALUE, zero algorithms, a failed
//    state — means "no fused algorithm for this shape": cached, the plain
//    cuBLAS path taken, said once on stderr;
//  * the same at run time: cublasLtMatmul refusing with NOT_SUPPORTED or
//    INVALID_VALUE marks the shape unsupported for good (nothing was written).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace minidp::kernels::cuda {

enum class LtEpilogue { Bias, BGradB };

// Everything the heuristic's answer depends on. The bias vector has an
// alignment field of its own: a bias slice can start anywhere, whatever D's
// alignment is.
struct LtPlanKey {
  int device = 0;
  LtEpilogue epi = LtEpilogue::Bias;
  std::int64_t m = 0, n = 0, k = 0;
  bool tf32 = false;
  std::uint32_t align_a = 0, align_b = 0, align_d = 0, align_bias = 0;
  bool operator<(const LtPlanKey& o) const {
    return std::tie(device, epi, m, n, k, tf32, align_a, align_b, align_d, align_bias) <
           std::tie(o.device, o.epi, o.m, o.n, o.k, o.tf32, o.align_a, o.align_b, o.align_d, o.align_bias);
  }
  std::string describe() const {
    return std::string(epi == LtEpilogue::Bias ? "forward (bias epilogue)" : "weight gradient (BGRADB epilogue)") +
           " m " + std::to_string(m) + " n " + std::to_string(n) + " k " + std::to_string(k) +
           (tf32 ? " TF32" : " FP32") + ", alignments A " + std::to_string(align_a) + " B " +
           std::to_string(align_b) + " D " + std::to_string(align_d) + " bias " + std::to_string(align_bias);
  }
};

// M, N and K all in [2, 2^31): the only shapes offered to cuBLASLt.
inline bool lt_shape_eligible(std::int64_t m, std::int64_t n, std::int64_t k) {
  constexpr std::int64_t kIntMax = 2147483647;
  return m >= 2 && n >= 2 && k >= 2 && m <= kIntMax && n <= kIntMax && k <= kIntMax;
}

// The heuristic's answer (statuses as cublasStatus_t values; 0 is success).
inline bool lt_heuristic_usable(int status, int algorithms_found, int algorithm_state) {
  return status == 0 && algorithms_found > 0 && algorithm_state == 0;
}

// Plans per key, each asked for once. `Plan` has a bool `supported`.
template <class Plan>
class LtPlanCache {
 public:
  // The cached plan, or make()'s answer stored first. `fresh` says whether make() ran.
  template <class Make>
  Plan get(const LtPlanKey& key, Make&& make, bool* fresh = nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(key);
    if (fresh) *fresh = it == plans_.end();
    if (it != plans_.end()) return it->second;
    return plans_.emplace(key, make()).first->second;
  }
  // A run refused the plan: the shape takes the plain path from now on.
  // True the first time (the caller says so once).
  bool mark_unsupported(const LtPlanKey& key) {
    std::lock_guard<std::mutex> lock(mu_);
    Plan& p = plans_[key];
    const bool was = p.supported;
    p.supported = false;
    return was;
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return plans_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<LtPlanKey, Plan> plans_;
};

}  // namespace minidp::kernels::cuda
