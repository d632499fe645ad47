// examples/train_config.h — the command line of the training examples and what
// it sets up: the data sets, the model, the optimizer, the loaders. The
// training loop itself is in examples/train_mlp.cpp.
//
//   examples::TrainConfig c;
//   examples::Flags flags{"..."};  examples::add_flags(flags, c);
//   if (const int rc = flags.parse(argc, argv); rc >= 0) return rc;
//   auto [train, test] = examples::load_data(c);
#pragma once

#include "flags.h"  // the flags

#include <unistd.h>  // access: can the outputs be written?

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "minidp/minidp.h"
#include "models.h"  // make_mlp, make_cnn, make_wide_mlp

namespace minidp::examples {

struct TrainConfig {
  std::string model = "mlp";
  std::string data = nn::data::kFashionMnistDir;
  int epochs = 5;
  std::int64_t batch = 128;
  double lr = 0.05;
  // The global batch --lr was chosen for (the default 0.05: for 128), and the
  // rule that scales it to --batch (nn::scaled_lr), reached after a warm-up.
  std::int64_t lr_batch = 128;
  std::string lr_scaling = "none";
  std::int64_t warmup_steps = 0;
  double momentum = 0.9;
  double weight_decay = 0.0;
  std::string optimizer = "sgd";
  std::uint64_t seed = 0;
  std::string devices = "cpu";
  std::int64_t limit_train = 0;
  std::int64_t limit_test = 0;
  bool no_shuffle = false;
  std::int64_t max_steps = 0;
  std::string init, save, resume, metrics_json, log_jsonl;
  bool quiet = false;
  bool tf32 = false;
  int threads = 0;  // CPU threads (0: every core, or MINIDP_NUM_THREADS / OMP_NUM_THREADS)
  // One process per device (launched by mpirun): DistributedDataParallel.
  bool ddp = false;
  std::string comm = "auto";
  double comm_timeout = 60.0;
  double bucket_mb = 25.0;
  int zero = 0;  // ZeRO stage: 1 shards the optimizer state across the processes (parallel/zero.h)
  std::string trace;
  std::string on_nonfinite = "stop";  // a NaN or inf loss: stop | skip | warn
  bool cuda_graph = false;            // replay each step as a CUDA graph (DataParallelOptions::cuda_graph)
  bool explain = false;               // one step, opened, with its numbers (examples/explain.h), then stop
};

inline void add_flags(Flags& flags, TrainConfig& c) {
  flags.add("--model", c.model, "mlp (784-1024-1024-10) | cnn (conv32-pool-conv64-pool-fc128-fc10)")
      .one_of({"mlp", "cnn"}).show_default();
  flags.add("--data", c.data, "folder with the four Fashion-MNIST .gz files").show_default();
  flags.add("--epochs", c.epochs, "passes over the training set").show_default().range(1, 100000);
  flags.add("--batch", c.batch, "global batch size (split across replicas)").show_default()
      .range(std::int64_t{1}, std::int64_t{1} << 24);
  flags.add("--lr", c.lr, "learning rate").show_default().range(0.0, 100.0);
  flags.add("--lr-batch", c.lr_batch, "the global batch --lr was chosen for").show_default()
      .range(std::int64_t{1}, std::int64_t{1} << 24);
  flags.add("--lr-scaling", c.lr_scaling, "scale --lr to --batch: none | linear (x batch/lr-batch, Goyal et al. "
                 "2017) | sqrt").show_default().one_of({"none", "linear", "sqrt"});
  flags.add("--warmup-steps", c.warmup_steps, "reach the scaled learning rate from --lr over this many steps")
      .show_default().range(std::int64_t{0}, std::int64_t{1} << 30);
  flags.add("--momentum", c.momentum, "SGD momentum").show_default().range(0.0, 1.0);
  flags.add("--weight-decay", c.weight_decay, "L2 penalty (decoupled for adamw)").show_default()
      .range(0.0, 1.0e4);
  flags.add("--optimizer", c.optimizer, "sgd | adam | adamw").show_default()
      .one_of({"sgd", "adam", "adamw"});
  flags.add("--seed", c.seed, "seed of weights and shuffling").show_default();
  flags.add("--devices", c.devices, "replicas: cpu | cpu,cpu,... | cuda:0,cuda:1 | cuda:0,cuda:0 | auto")
      .show_default();
  flags.add("--limit-train", c.limit_train, "use only the first N training samples (0 = all)")
      .range(std::int64_t{0}, std::int64_t{1} << 40);
  flags.add("--limit-test", c.limit_test, "use only the first N test samples (0 = all)")
      .range(std::int64_t{0}, std::int64_t{1} << 40);
  flags.flag("--no-shuffle", c.no_shuffle, "batches in file order");
  flags.add("--max-steps", c.max_steps, "stop after N optimizer steps in total (0 = no limit)")
      .range(std::int64_t{0}, std::int64_t{1} << 40);
  flags.add("--init", c.init, "start from these weights (safetensors)");
  flags.add("--save", c.save, "write a checkpoint of the whole run (safetensors) at the end");
  flags.add("--resume", c.resume, "continue from a checkpoint written by --save");
  flags.add("--metrics-json", c.metrics_json, "write the final metrics as JSON");
  flags.add("--log-jsonl", c.log_jsonl, "append one JSON object per epoch");
  flags.flag("--quiet", c.quiet, "no per-epoch table");
  flags.flag("--explain", c.explain, "run one step and print what docs/walkthrough.md describes, with this run's "
               "numbers (shards, buckets, hook order, loss sums, the division, one weight's update), then stop");
  flags.add("--threads", c.threads, "CPU threads, divided among CPU replicas (default: every core, or "
                                         "MINIDP_NUM_THREADS / OMP_NUM_THREADS); results do not depend on it")
      .range(0, 4096);
  flags.flag("--cuda-graph", c.cuda_graph, "capture each GPU step once per batch shape and replay it as a CUDA graph "
               "(replicas on one GPU, SGD, no Dropout; otherwise eager, said once; docs/parallel.md)");
  flags.flag("--tf32", c.tf32, "TF32 tensor cores for float32 GEMMs and convolutions on GPUs (off: results match the CPU)");
  flags.flag("--ddp", c.ddp, "one process per device: launch with mpirun -np N (each process: --devices auto = its "
                               "local GPU or the CPU, or one device)");
  flags.add("--comm", c.comm, "with --ddp: how processes sum gradients: auto | mpi | nccl")
      .one_of({"auto", "mpi", "nccl"}).show_default();
  flags.add("--comm-timeout", c.comm_timeout, "with --ddp: seconds a rank waits in a collective before it ends "
                                                   "the job, naming itself")
      .range(0.1, 86400.0).show_default();
  flags.add("--bucket-mb", c.bucket_mb, "gradient bucket size in MiB (the first bucket is 1 MiB); smaller "
                                             "buckets start summing earlier in backward")
      .range(0.001, 4096.0).show_default();
  flags.add("--zero", c.zero, "with --ddp: ZeRO stage; 1 = each of N processes keeps 1/N of the optimizer "
                                   "state (gradients reduce-scattered, weights all-gathered; the same bits; MPI, CPU)")
      .range(0, 1).show_default();
  flags.add("--on-nonfinite", c.on_nonfinite, "a NaN or inf loss: stop (with the step and the likely cause), "
                                                   "skip the optimizer steps whose gradients are not finite (a host "
                                                   "read per step), or warn and go on")
      .one_of({"stop", "skip", "warn"}).show_default();
  flags.add("--trace", c.trace, "write the step phases and the gradient sums of every rank as a Chrome trace "
                                     "(JSON for Perfetto or chrome://tracing)");
}

inline nn::ModulePtr make_model(const std::string& name) { return name == "cnn" ? make_cnn() : make_mlp(); }

// The learning rate of global step `step` (from 0): --lr scaled from
// --lr-batch to --batch by --lr-scaling, reached over --warmup-steps.
inline double lr_at_step(const TrainConfig& c, std::int64_t step) {
  return nn::warmup_lr(c.lr, nn::scaled_lr(c.lr, c.batch, c.lr_batch, c.lr_scaling), step, c.warmup_steps);
}
// True when the rate changes during the run (the loop sets it every step).
inline bool lr_scheduled(const TrainConfig& c) { return lr_at_step(c, 0) != lr_at_step(c, 1 << 30); }

// A warning when --batch is not the batch --lr was chosen for and no rule
// scales it: a k times larger batch takes k times fewer steps of the same
// size, and accuracy drops (the scaling study's weak rows show how much).
inline std::optional<std::string> lr_batch_warning(const TrainConfig& c) {
  if (c.batch == c.lr_batch || c.lr_scaling != "none") return std::nullopt;
  return "the global batch " + std::to_string(c.batch) + " is not the " + std::to_string(c.lr_batch) +
         " the learning rate " + nn::exact_number(c.lr) + " was chosen for (--lr-batch), and --lr-scaling is none: " +
         "the run takes " + (c.batch > c.lr_batch ? "fewer" : "more") + " steps of the same size. Scale the rate " +
         "(--lr-scaling linear, with --warmup-steps; Goyal et al. 2017) or set --lr-batch to say it was tuned for this batch";
}

inline std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& c, std::vector<Tensor> params) {
  const double lr = lr_at_step(c, 0);
  if (c.optimizer == "sgd")
    return std::make_unique<nn::SGD>(params, nn::SGDOptions{.lr = lr, .momentum = c.momentum,
                                                            .weight_decay = c.weight_decay});
  const nn::AdamOptions o{.lr = lr, .weight_decay = c.weight_decay};
  if (c.optimizer == "adamw") return std::make_unique<nn::AdamW>(params, o);
  return std::make_unique<nn::Adam>(params, o);
}

// Fashion-MNIST's training and test sets, cut to --limit-train / --limit-test.
inline std::pair<nn::data::Dataset, nn::data::Dataset> load_data(const TrainConfig& c) {
  auto first_n = [](const nn::data::Dataset& d, std::int64_t n) {
    if (n <= 0 || n >= d.size()) return d;
    std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) idx[i] = i;
    return d.subset(idx, d.name);
  };
  return {first_n(nn::data::fashion_mnist(c.data, nn::data::Split::Train), c.limit_train),
          first_n(nn::data::fashion_mnist(c.data, nn::data::Split::Test), c.limit_test)};
}

// DataParallel over --devices, or with --ddp this process's rank of a
// DistributedDataParallel over `group` (the job, or a part of it; its device:
// --devices auto = the local rank's GPU or the CPU, or the one device named).
inline std::unique_ptr<parallel::DataParallel> make_data_parallel(
    const TrainConfig& c, nn::ModulePtr model, parallel::ProcessGroup& group = parallel::ProcessGroup::world()) {
  auto optimizer = [&c](std::vector<Tensor> ps) { return make_optimizer(c, ps); };  // called while constructing
  const auto bucket_bytes = static_cast<std::size_t>(c.bucket_mb * 1024 * 1024);
  if (!c.ddp) {
    parallel::DataParallelOptions o;
    o.bucket_bytes = bucket_bytes;
    o.skip_nonfinite = c.on_nonfinite == "skip";
    o.cuda_graph = c.cuda_graph;
    o.zero_stage = c.zero;  // refused: ZeRO-1 is for --ddp
    return std::make_unique<parallel::DataParallel>(model, parallel::parse_replicas(c.devices), optimizer, o);
  }
  std::optional<Device> device;
  if (c.devices != "auto") {
    const auto replicas = parallel::parse_replicas(c.devices);
    MINIDP_CHECK(replicas.size() == 1, "--ddp: each process drives one device, but --devices names ", replicas.size(),
                 " (", c.devices, "); start one process per device instead (mpirun -np N)");
    device = replicas[0].device;
  }
  parallel::DistributedOptions o;
  o.comm = c.comm;
  o.comm_timeout_s = c.comm_timeout;
  o.bucket_bytes = bucket_bytes;
  o.skip_nonfinite = c.on_nonfinite == "skip";
  o.zero_stage = c.zero;
  return std::make_unique<parallel::DistributedDataParallel>(model, optimizer, o, group, device);
}

// Training batches: shuffled by (seed, epoch); pinned when a replica is a GPU,
// so that each replica's copy of its shard is asynchronous; with --ddp, this
// process's part of every global batch.
inline nn::data::DataLoaderOptions train_loader_options(const TrainConfig& c, const parallel::DataParallel& dp) {
  nn::data::DataLoaderOptions o{.batch_size = c.batch, .shuffle = !c.no_shuffle, .seed = c.seed,
                                .transform = nn::data::Transform::fashion_mnist()};
  for (int r = 0; r < dp.size(); ++r) o.pin_memory = o.pin_memory || !dp.replica(r).device.is_cpu();
  if (dp.process_group() != nullptr) o = parallel::DistributedSampler(*dp.process_group()).apply(o);
  return o;
}

// With --ddp, what only the program knows must be the same on every rank too
// (DistributedDataParallel already checked the model, buckets and optimizer;
// parallel/agreement.h): a rank started with another --batch or data would
// train on other batches, silently.
inline void check_run_agrees(const TrainConfig& c, const parallel::DataParallel& dp, std::int64_t train_samples,
                             std::int64_t test_samples, const nn::TrainingProgress& start) {
  if (dp.process_group() == nullptr) return;
  parallel::Fingerprint f;
  f.add("--batch (the global batch)", std::to_string(c.batch));
  f.add("training samples", std::to_string(train_samples));
  f.add("test samples", std::to_string(test_samples));
  f.add("--epochs", std::to_string(c.epochs));
  f.add("--max-steps", std::to_string(c.max_steps));
  f.add("--seed", std::to_string(c.seed));
  f.add("--no-shuffle", c.no_shuffle ? "true" : "false");
  f.add("--on-nonfinite", c.on_nonfinite);
  f.add("--lr-batch", std::to_string(c.lr_batch));
  f.add("--lr-scaling", c.lr_scaling);
  f.add("--warmup-steps", std::to_string(c.warmup_steps));
  f.add("--explain", c.explain ? "true" : "false");
  f.add("starting point (--resume)", "epoch " + std::to_string(start.epoch) + ", step " +
                                         std::to_string(start.step_in_epoch) + ", global step " +
                                         std::to_string(start.global_step));
  parallel::check_ranks_agree(*dp.process_group(), f, "this run's settings");
}

// Test batches: in file order, 1000 at a time (with --ddp, this process's part).
inline nn::data::DataLoaderOptions test_loader_options(const parallel::DataParallel& dp) {
  nn::data::DataLoaderOptions o{.batch_size = 1000, .shuffle = false,
                                .transform = nn::data::Transform::fashion_mnist()};
  if (dp.process_group() != nullptr) o = parallel::DistributedSampler(*dp.process_group()).apply(o);
  return o;
}

// Output paths are checked before training starts: a run of hours must not
// end in "cannot write" (the directory must exist and be writable).
inline void check_output_path(const std::string& path, const char* flag) {
  if (path.empty()) return;
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  MINIDP_CHECK(::access(dir.c_str(), W_OK) == 0, flag, " ", path, ": cannot write in ", dir, ": ",
               std::strerror(errno), " (checked before training, so that no run is lost at its end)");
}

// What a user needs to hear when the loss stops being a number: where
// (epoch, step), what it was before, and the likely cause.
// `global_step` and `step_in_epoch` count from 1.
inline std::string nonfinite_message(const TrainConfig& c, const metrics::TrainingRecorder::NonFiniteLoss& bad,
                                     std::int64_t epoch, std::int64_t step_in_epoch, std::int64_t global_step) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), "the training loss is %s at epoch %lld, step %lld (global step %lld)",
                std::isnan(bad.loss) ? "nan" : (bad.loss > 0 ? "inf" : "-inf"), static_cast<long long>(epoch),
                static_cast<long long>(step_in_epoch), static_cast<long long>(global_step));
  std::string m = buf;
  if (bad.has_last_finite) {
    std::snprintf(buf, sizeof(buf), "; the last finite loss was %.6g, %lld step(s) before", bad.last_finite,
                  static_cast<long long>(bad.step - bad.last_finite_step));
    m += buf;
    // A large learning rate is what makes a loss that was finite overflow.
    const bool adam = c.optimizer != "sgd";
    std::snprintf(buf, sizeof(buf), ". Likely cause: learning rate %g %s for %s (try %g, and lower)", c.lr,
                  c.lr > (adam ? 0.01 : 1.0) ? "is probably too high" : "may be too high", c.optimizer.c_str(),
                  adam ? 0.001 : 0.05);
    m += buf;
  } else {
    m += ", from the first step read. Likely cause: the inputs or the initial weights (--init) hold NaN or inf, "
         "or the learning rate " + std::to_string(c.lr) + " is far too high";
  }
  return m + ". To skip such steps instead: --on-nonfinite skip (or warn to go on)";
}

// "run.json" -> "run.rank2.json" for ranks of a distributed job (every rank writes its own).
inline std::string per_rank_path(const std::string& path, const parallel::DataParallel& dp) {
  const parallel::ProcessGroup* world = dp.process_group();
  if (world == nullptr || !world->distributed()) return path;
  const auto dot = path.rfind('.');
  const std::string tag = ".rank" + std::to_string(world->rank());
  return dot == std::string::npos || dot < path.rfind('/') + 1 ? path + tag : path.substr(0, dot) + tag + path.substr(dot);
}

}  // namespace minidp::examples
