// examples/dp_tour.cpp — what parallel::DataParallel guarantees, shown on one batch.
//
// A small MLP is trained on a batch of 7 samples with 1 replica ("cpu") and
// with 3 replicas ("cpu,cpu,cpu"). The tour prints:
//   1. how the batch is cut (shards of 3, 2, 2 samples — views, not copies);
//   2. with lr 0, the gradient each run computed (dp.flat_grad), next to the
//      single-device mean gradient: all three agree to float rounding. The
//      wrong recipe (averaging the replicas' per-shard *mean* gradients) is
//      printed too: with unequal shards it is a different number;
//   3. the replicas' parameter hashes (dp.parameter_hash): bitwise identical;
//   4. a few SGD steps with lr 0.1: the loss per step for both runs, and the
//      replicas still identical after every step.
//
//   ./dp_tour        (exits 1 if the 1- and 3-replica gradients differ by more than 1e-6)
//
// See docs/parallel.md for the step these numbers come from.
#include <cmath>
#include <cstdio>
#include <vector>

#include "minidp/minidp.h"
#include "guarded_main.h"  // one clear line and exit status 1 for any error

using namespace minidp;

namespace {

nn::ModulePtr make_mlp() {
  manual_seed(0);  // the same initial weights every time
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(8, 3)});
}

parallel::OptimizerFactory sgd(double lr) {
  return [lr](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = lr}); };
}

// All parameters' gradients of a plain (non-parallel) model, in parameter order.
std::vector<float> gradients_of(const nn::Module& m) {
  std::vector<float> out;
  for (auto& p : m.parameters())
    for (float v : p.grad().to_vector<float>()) out.push_back(v);
  return out;
}

// max_i |a_i - b_i| / max_i |b_i|: the largest error, relative to the gradient's scale.
double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::abs(static_cast<double>(b[i])));
  }
  return num / std::max(den, 1e-30);
}

}  // namespace

int run() {
  try {
    Generator data_gen(1);
    Tensor x_all = randn({35, 4}, {}, &data_gen);
    Tensor y_all = randint(0, 3, {35}, kInt64, &data_gen);
    Tensor x = x_all.slice(0, 7), y = y_all.slice(0, 7);  // the batch of 7

    parallel::DataParallel dp1(make_mlp(), parallel::parse_replicas("cpu"), sgd(0.0));
    parallel::DataParallel dp3(make_mlp(), parallel::parse_replicas("cpu,cpu,cpu"), sgd(0.0));
    std::printf("model: Linear(4, 8) - ReLU - Linear(8, 3), %lld parameters; batch of %lld samples\n",
                static_cast<long long>(dp1.module()->num_parameters()), static_cast<long long>(x.size(0)));
    std::printf("communicator of the 3-replica run: %s\n\n", dp3.communicator().name().c_str());

    std::printf("== 1. shards\n");
    const auto sizes = parallel::shard_sizes(x.size(0), dp3.size());
    std::int64_t start = 0;
    for (int i = 0; i < dp3.size(); ++i) {
      Tensor shard = x.slice(start, start + sizes[i]);  // what train_step takes for replica i
      std::printf("  %s: rows [%lld, %lld) -> %lld samples, a view at element offset %lld of the batch's "
                  "storage (shared: %s)\n",
                  dp3.replica(i).str().c_str(), static_cast<long long>(start),
                  static_cast<long long>(start + sizes[i]), static_cast<long long>(sizes[i]),
                  static_cast<long long>(shard.offset()), shard.storage() == x.storage() ? "yes" : "no");
      start += sizes[i];
    }

    std::printf("\n== 2. one step with lr 0: the gradients\n");
    auto r1 = dp1.train_step(x, y);  // returns before the devices are done: nothing here waits ...
    auto r3 = dp3.train_step(x, y);
    r3.wait();                       // ... until we ask: now the host waits, and the values are readable
    for (int i = 0; i < dp3.size(); ++i)
      std::printf("  3 replicas: replica %d had %lld samples, loss sum %.6f\n", i,
                  static_cast<long long>(r3.replicas[i].samples), r3.replicas[i].loss_sum.item());
    std::printf("  mean loss: 1 replica %.7f, 3 replicas %.7f (sum of the loss sums / 7)\n", r1.loss(), r3.loss());

    // The reference: one plain model, the mean cross-entropy over all 7 samples.
    auto ref = make_mlp();
    cross_entropy(ref->forward(x), y).backward();
    const auto g_ref = gradients_of(*ref);
    const auto g1 = dp1.flat_grad(0).to_vector<float>();
    const auto g3 = dp3.flat_grad(0).to_vector<float>();

    // The wrong recipe: mean gradient of each shard, then the mean of those.
    std::vector<float> g_avg(g_ref.size(), 0.0f);
    start = 0;
    for (int i = 0; i < dp3.size(); ++i) {
      auto m = make_mlp();
      cross_entropy(m->forward(x.slice(start, start + sizes[i])), y.slice(start, start + sizes[i])).backward();
      const auto gi = gradients_of(*m);
      for (std::size_t k = 0; k < gi.size(); ++k) g_avg[k] += gi[k] / static_cast<float>(dp3.size());
      start += sizes[i];
    }
    const double d13 = max_rel_diff(g3, g1);
    std::printf("  %lld gradient values per replica (one flat buffer; every .grad is a view into it)\n",
                static_cast<long long>(g1.size()));
    std::printf("  max relative difference, 3 replicas vs 1 replica:           %.2e\n", d13);
    std::printf("  max relative difference, 1 replica vs plain mean gradient:  %.2e\n", max_rel_diff(g1, g_ref));
    std::printf("  max relative difference, 3 replicas vs plain mean gradient: %.2e\n", max_rel_diff(g3, g_ref));
    std::printf("  for contrast, averaging the 3 shards' mean gradients:       %.2e  (wrong: shards 3, 2, 2 "
                "weigh their samples unequally)\n",
                max_rel_diff(g_avg, g_ref));

    std::printf("\n== 3. replica parameter hashes (FNV-1a of the parameters; buffers left out)\n");
    for (int i = 0; i < dp3.size(); ++i)
      std::printf("  replica %d: %016llx\n", i, static_cast<unsigned long long>(dp3.parameter_hash(i)));
    std::printf("  1-replica run: %016llx\n", static_cast<unsigned long long>(dp1.parameter_hash(0)));

    std::printf("\n== 4. five SGD steps with lr 0.1 (batches of 7 from 35 samples)\n");
    for (auto* dp : {&dp1, &dp3})
      for (int i = 0; i < dp->size(); ++i) dp->optimizer(i).set_lr(0.1);
    std::printf("  %4s %14s %14s %12s %22s\n", "step", "loss 1 replica", "loss 3 repl.", "|difference|",
                "3 replicas identical");
    bool identical = true;
    for (int step = 0; step < 5; ++step) {
      Tensor xb = x_all.slice(7 * step, 7 * step + 7), yb = y_all.slice(7 * step, 7 * step + 7);
      const double l1 = dp1.train_step(xb, yb).loss();
      const double l3 = dp3.train_step(xb, yb).loss();
      const bool same = dp3.replicas_identical();
      identical = identical && same;
      std::printf("  %4d %14.7f %14.7f %12.2e %22s\n", step + 1, l1, l3, std::abs(l1 - l3), same ? "yes" : "NO");
    }
    std::vector<float> p1, p3;
    for (auto& p : dp1.module(0)->parameters())
      for (float v : p.to_vector<float>()) p1.push_back(v);
    for (auto& p : dp3.module(0)->parameters())
      for (float v : p.to_vector<float>()) p3.push_back(v);
    std::printf("  parameters after 5 steps, 3 replicas vs 1: max relative difference %.2e\n", max_rel_diff(p3, p1));

    const double tol = 1e-6;
    if (!(d13 <= tol) || !identical) {
      std::printf("\nFAILED: gradient difference %.2e (tolerance %.0e), replicas identical: %s\n", d13, tol,
                  identical ? "yes" : "no");
      return 1;
    }
    std::printf("\n1 and 3 replicas: same gradient (max relative difference %.2e <= %.0e), replicas identical\n",
                d13, tol);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

int main() { return minidp::examples::guarded_main("dp_tour", run); }
