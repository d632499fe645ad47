// examples/explain.h — `--explain`: one real training step, opened into its
// phases (DataParallel::forward_backward, reduce_gradients, optimizer_step),
// printing what docs/walkthrough.md describes with this run's own numbers:
// the batch and each replica's rows, the bucket layout, the order backward's
// gradient hooks fire, each replica's [loss sum, count] tail, the division by
// the global count, and one weight's SGD update before and after.
// Across processes (mpirun ... --ddp --explain) every rank prints its own.
#pragma once

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "minidp/minidp.h"

namespace minidp::examples {

inline void explain_step(parallel::DataParallel& dp, const nn::data::Batch& b, double lr, double momentum) {
  parallel::ProcessGroup* world = dp.process_group();
  const bool many = world != nullptr && world->size() > 1;
  const std::string who = many ? "rank " + std::to_string(world->rank()) + ": " : "";
  auto say = [&](const std::string& s) {
    std::printf("%s%s\n", who.c_str(), s.c_str());
    std::fflush(stdout);
  };
  const std::int64_t global = b.global_size, mine = b.size();
  // 1. The batch: this process's rows of the global batch, then each replica's.
  std::string line = "1. global batch of " + std::to_string(global) + " samples";
  if (many) {
    const auto parts = parallel::shard_sizes(global, world->size());
    std::int64_t begin = 0;
    for (int r = 0; r < world->rank(); ++r) begin += parts[r];
    line += "; the sampler gives this rank rows [" + std::to_string(begin) + ", " + std::to_string(begin + mine) +
            ") (" + std::to_string(mine) + " samples)";
  }
  say(line);
  const auto shards = parallel::shard_sizes(mine, dp.size());
  std::int64_t row = 0;
  for (int r = 0; r < dp.size(); ++r) {
    say("   replica " + std::to_string(r) + " on " + dp.replica(r).device.str() + ": rows [" + std::to_string(row) +
        ", " + std::to_string(row + shards[r]) + ") of them, " + std::to_string(shards[r]) + " samples (a view)");
    row += shards[r];
  }
  // 2. The buckets, in the order backward fills them.
  const auto named = dp.module(0)->named_parameters();
  const parallel::GradientBuckets& buckets = dp.buckets(0);
  say("2. gradient buckets (parameters' .grad are views into them; last layer first):");
  for (int k = 0; k < buckets.num_buckets(); ++k) {
    std::string s = "   bucket " + std::to_string(k) + ":";
    std::int64_t floats = 0;
    for (int i : buckets.params_of(k)) {
      s += " " + named[i].first + " (" + std::to_string(named[i].second.numel()) + ")";
      floats += named[i].second.numel();
    }
    say(s + " = " + std::to_string(floats) + " floats");
  }
  // 3. Hooks: the order in which replica 0's gradients become complete.
  auto order = std::make_shared<std::vector<std::string>>();
  auto mu = std::make_shared<std::mutex>();
  for (const auto& [name, p] : named)
    p.register_hook([order, mu, name = name](const Tensor&) {
      std::lock_guard<std::mutex> lock(*mu);
      order->push_back(name);
    });
  const Tensor w = named[0].second;  // one weight to follow: the first element of the first parameter
  const double w_before = w.detach().to(Device::cpu()).contiguous().to_vector<double>()[0];
  double buf_before = 0;
  bool first_step = true;
  for (const auto& [key, t] : dp.optimizer(0).state_tensors())
    if (key == "state.0.momentum_buffer") {
      buf_before = t.to(Device::cpu()).contiguous().to_vector<double>()[0];
      first_step = false;
    }

  dp.forward_backward(b.inputs, b.labels);
  std::string hooks = "3. gradient hooks fired in this order (backward runs the layers in reverse):";
  for (const auto& n : *order) hooks += " " + n;
  say(hooks);
  for (int r = 0; r < dp.size(); ++r) {
    const auto t = dp.buckets(r).tail().to(Device::cpu()).to_vector<double>();
    say("4. replica " + std::to_string(r) + " tail before the sum: [loss sum " + std::to_string(t[0]) +
        ", sample count " + std::to_string(static_cast<long long>(t[1])) + "]");
  }
  dp.reduce_gradients();
  const auto t = dp.buckets(0).tail().to(Device::cpu()).to_vector<double>();
  say("5. after the sum over " + std::string(many ? "every replica of every process" : "every replica") +
      ": global count " + std::to_string(static_cast<long long>(t[1])) + ", mean loss " + std::to_string(t[0]) +
      (many ? " (the sums divided by the global count on the device)"
            : " (each replica's backward began at 1/" + std::to_string(global) + ": the sum is already the mean)"));
  const double g = w.grad().to(Device::cpu()).contiguous().to_vector<double>()[0];
  const double buf = first_step ? g : momentum * buf_before + g;
  parallel::StepResult result = dp.optimizer_step();
  const double w_after = w.detach().to(Device::cpu()).contiguous().to_vector<double>()[0];
  char s[512];
  char rule[64];
  std::snprintf(rule, sizeof rule, "%g * b + g", momentum);
  std::snprintf(s, sizeof s,
                "6. SGD on %s[0]: gradient %.9g, momentum buffer %s = %.9g; weight %.9g - %g * %.9g = %.9g "
                "(the same in double here: %.9g)",
                named[0].first.c_str(), g, first_step ? "(first step: the gradient)" : rule, buf, w_before, lr, buf,
                w_after, w_before - lr * buf);
  say(s);
  say("7. the step's mean loss, read once at the end: " + std::to_string(result.loss()) +
      (dp.size() == 1 ? "" : dp.replicas_identical() ? "; replicas bitwise identical" : "; REPLICAS DIFFER"));
}

}  // namespace minidp::examples
