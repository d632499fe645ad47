// minidp/kernels/cpu/path_switch.h — a CPU op's choice between oneDNN and
// minidp's other path (the convolutions' reference, the products' BLAS).
//
// Until the setter (set_cpu_conv, set_cpu_gemm) chooses, the default — oneDNN
// in builds that have it — or the environment variable's choice is read at
// the first use: a wrong value raises there, and again at every use until it
// is fixed or the setter chooses.
#pragma once

#include <atomic>
#include <cstdlib>
#include <string>
#include <utility>

#include "minidp/core/error.h"

namespace minidp::kernels::cpu {

class PathSwitch {
 public:
  // other: the non-oneDNN path's name; env: the variable read at first use;
  // setter: the function named in the setter's errors; without: what runs in
  // a build without oneDNN, said when "onednn" is asked of one.
  PathSwitch(const char* other, const char* env, const char* setter, std::string without)
      : other_(other), env_(env), setter_(setter), without_(std::move(without)) {}

  bool onednn() {
    int p = state_.load();
    if (p < 0) {
      const char* v = std::getenv(env_);
      const bool on = v == nullptr || *v == '\0' ? kHaveOneDnn : parse(v, env_);
      state_.compare_exchange_strong(p, on ? 1 : 0);  // a setter's choice in between wins
      p = state_.load();
    }
    return p == 1;
  }
  void set(const std::string& path) { state_ = parse(path, setter_) ? 1 : 0; }
  std::string name() { return onednn() ? "onednn" : other_; }

 private:
#if defined(MINIDP_WITH_ONEDNN) && MINIDP_WITH_ONEDNN
  static constexpr bool kHaveOneDnn = true;
#else
  static constexpr bool kHaveOneDnn = false;
#endif
  // True for "onednn", false for the other path; raises on anything else, or
  // on "onednn" in a build without it. `who` names the caller in the message.
  bool parse(const std::string& path, const char* who) const {
    MINIDP_CHECK(path == "onednn" || path == other_, who, ": unknown path '", path, "'; expected 'onednn' or '",
                 other_, "'");
    MINIDP_CHECK(path == other_ || kHaveOneDnn, who,
                 ": this build of minidp has no oneDNN (install libdnnl-dev and rebuild); ", without_);
    return path == "onednn";
  }

  const char *other_, *env_, *setter_;
  std::string without_;
  std::atomic<int> state_{-1};  // 1: oneDNN, 0: the other path, -1: not chosen yet
};

}  // namespace minidp::kernels::cpu
