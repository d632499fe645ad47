// minidp/nn/optim/scheduler.h — learning-rate schedules (PyTorch's formulas).
//
// Call step() once per epoch (or per iteration — your choice, be consistent);
// each sets the optimizer's lr from the base lr and the number of steps taken.
//
//   nn::CosineAnnealingLR sched(opt, /*t_max=*/epochs);
//   for (int e = 0; e < epochs; ++e) { train_one_epoch(); sched.step(); }
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "minidp/nn/optim/optimizer.h"

namespace minidp::nn {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& opt) : opt_(opt), base_lr_(opt.lr()) {}
  virtual ~LRScheduler() = default;
  void step() {
    ++epoch_;
    opt_.set_lr(lr_at(epoch_));
  }
  virtual double lr_at(std::int64_t epoch) const = 0;
  std::int64_t last_epoch() const { return epoch_; }

 protected:
  Optimizer& opt_;
  double base_lr_;
  std::int64_t epoch_ = 0;
};

// lr = base * gamma^(floor(epoch / step_size))
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, std::int64_t step_size, double gamma = 0.1)
      : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
    MINIDP_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  }
  double lr_at(std::int64_t e) const override {
    return base_lr_ * std::pow(gamma_, static_cast<double>(e / step_size_));
  }

 private:
  std::int64_t step_size_;
  double gamma_;
};

// lr = eta_min + (base - eta_min) (1 + cos(pi epoch / t_max)) / 2
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, std::int64_t t_max, double eta_min = 0.0)
      : LRScheduler(opt), t_max_(t_max), eta_min_(eta_min) {
    MINIDP_CHECK(t_max > 0, "CosineAnnealingLR: t_max must be positive, got ", t_max);
  }
  double lr_at(std::int64_t e) const override {
    const double pi = 3.14159265358979323846;
    return eta_min_ + (base_lr_ - eta_min_) * (1.0 + std::cos(pi * static_cast<double>(e) / t_max_)) / 2.0;
  }

 private:
  std::int64_t t_max_;
  double eta_min_;
};

// lr = base * min(1, (epoch + 1) / warmup) — a linear ramp (set the lr to
// lr_at(0) before the first step).
class LinearWarmup : public LRScheduler {
 public:
  LinearWarmup(Optimizer& opt, std::int64_t warmup) : LRScheduler(opt), warmup_(warmup) {
    MINIDP_CHECK(warmup > 0, "LinearWarmup: warmup must be positive, got ", warmup);
    opt.set_lr(lr_at(0));
  }
  double lr_at(std::int64_t e) const override {
    return base_lr_ * std::min(1.0, static_cast<double>(e + 1) / static_cast<double>(warmup_));
  }

 private:
  std::int64_t warmup_;
};

// The learning rate for a global batch other than the one it was tuned for.
// With k = batch / base_batch: "linear" multiplies it by k (Goyal et al.
// 2017, "Accurate, Large Minibatch SGD": k times the batch takes 1/k of the
// steps, each k times as long), "sqrt" by sqrt(k) (the variance argument,
// often used with Adam), "none" keeps it. Weak scaling — a fixed batch per
// device, so k devices make a k times larger batch — needs one of them.
inline double scaled_lr(double lr, std::int64_t batch, std::int64_t base_batch, const std::string& rule) {
  MINIDP_CHECK(batch > 0 && base_batch > 0, "scaled_lr: batches must be positive, got ", batch, " and ", base_batch);
  const double k = static_cast<double>(batch) / static_cast<double>(base_batch);
  if (rule == "linear") return lr * k;
  if (rule == "sqrt") return lr * std::sqrt(k);
  MINIDP_CHECK(rule == "none", "scaled_lr: unknown rule '", rule, "'; expected none, linear or sqrt");
  return lr;
}

// Goyal et al.'s gradual warm-up: from `start` (the rate tuned for the small
// batch) to `target` (the scaled one) in equal steps over the first
// `warmup_steps` steps (step 0 is the first; step warmup_steps - 1 reaches
// the target), then `target`. warmup_steps 0: `target` from the start.
inline double warmup_lr(double start, double target, std::int64_t step, std::int64_t warmup_steps) {
  if (warmup_steps <= 0 || step + 1 >= warmup_steps) return target;
  return start + (target - start) * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
}

}  // namespace minidp::nn
