// minidp/kernels/cpu/optim.cpp — fused optimizer steps: one pass over each
// tensor instead of a chain of elementwise ops (each a full pass and a
// temporary). Each line is one float operation of torch.optim's update, in
// its order, so the result is what the op-by-op version computes. Elements
// are independent: large tensors run in chunks on the CPU's threads.
#include <cmath>
#include <type_traits>

#include "minidp/kernels/cpu/float_dispatch.h"
#include "minidp/kernels/cpu/parallel.h"
#include "minidp/kernels/kernels.h"

namespace minidp::kernels::cpu {

namespace {
// The SGD element loop with its options as template arguments, so that each
// variant is a branch-free loop the compiler vectorises.
template <typename T, bool kDecay, bool kMomentum, bool kFirst, bool kDamp, bool kNesterov>
void sgd_loop(T* p, const T* g, T* b, std::int64_t n, T lr, T wd, T m, T keep) {
  for (std::int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if constexpr (kDecay) d = d + p[i] * wd;
    if constexpr (kMomentum) {
      if constexpr (kFirst) {
        b[i] = d;
      } else if constexpr (kDamp) {
        b[i] = b[i] * m + d * keep;
      } else {
        b[i] = b[i] * m + d;
      }
      if constexpr (kNesterov) {
        d = d + b[i] * m;
      } else {
        d = b[i];
      }
    }
    p[i] = p[i] + d * lr;
  }
}

// Calls f(std::true_type{}) or f(std::false_type{}): a runtime flag made a compile-time one.
template <typename F>
void as_constant(bool flag, F&& f) {
  if (flag) f(std::true_type{});
  else f(std::false_type{});
}
}  // namespace

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& bufs,
              const SgdStep& s) {
  const bool decay = s.weight_decay != 0.0, momentum = s.momentum != 0.0, damp = s.dampening != 0.0;
  for (std::size_t t = 0; t < params.size(); ++t) {
    float_only(params[t], "sgd_step", [&](auto tag) {
      using T = decltype(tag);
      T* p = static_cast<T*>(params[t].raw_data());
      const T* g = static_cast<const T*>(grads[t].raw_data());
      T* b = momentum ? static_cast<T*>(bufs[t].raw_data()) : nullptr;
      const T lr = static_cast<T>(-s.lr), wd = static_cast<T>(s.weight_decay), m = static_cast<T>(s.momentum);
      const T keep = static_cast<T>(1.0 - s.dampening);
      const std::int64_t n = params[t].numel();
      // 2^5 variants, chosen once per tensor.
      as_constant(decay, [&](auto d) {
        as_constant(momentum, [&](auto mo) {
          as_constant(s.first, [&](auto fi) {
            as_constant(damp, [&](auto da) {
              as_constant(s.nesterov, [&](auto ne) {
                parallel_for(n, kGrain, [&](std::int64_t lo, std::int64_t hi) {
                  sgd_loop<T, decltype(d)::value, decltype(mo)::value, decltype(fi)::value, decltype(da)::value,
                           decltype(ne)::value>(p + lo, g + lo, b == nullptr ? nullptr : b + lo, hi - lo, lr, wd, m, keep);
                });
              });
            });
          });
        });
      });
    });
  }
}

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& ms,
               const std::vector<Tensor>& vs, const AdamStep& s) {
  for (std::size_t t = 0; t < params.size(); ++t) {
    float_only(params[t], "adam_step", [&](auto tag) {
      using T = decltype(tag);
      T* p = static_cast<T*>(params[t].raw_data());
      const T* g = static_cast<const T*>(grads[t].raw_data());
      T* m = static_cast<T*>(ms[t].raw_data());
      T* v = static_cast<T*>(vs[t].raw_data());
      const T decay = static_cast<T>(1.0 - s.lr * s.weight_decay), wd = static_cast<T>(s.weight_decay);
      const T one_b1 = static_cast<T>(1.0 - s.beta1), b2 = static_cast<T>(s.beta2), one_b2 = static_cast<T>(1.0 - s.beta2);
      const T bc2 = static_cast<T>(s.bc2_sqrt), eps = static_cast<T>(s.eps), step = static_cast<T>(-s.step_size);
      parallel_for(params[t].numel(), kGrain, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) {
        T d = g[i];
        if (s.decoupled) {
          p[i] = p[i] * decay;
        } else if (s.weight_decay != 0.0) {
          d = d + p[i] * wd;
        }
        m[i] = m[i] + (d - m[i]) * one_b1;
        v[i] = v[i] * b2 + (d * d) * one_b2;
        const T denom = std::sqrt(v[i]) / bc2 + eps;
        p[i] = p[i] + (m[i] / denom) * step;
      }
      });
    });
  }
}

}  // namespace minidp::kernels::cpu
