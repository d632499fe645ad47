// examples/train_common.h — the training driver shared by train_mlp and
// train_cnn: flags, data, the data-parallel loop, evaluation, metrics,
// checkpoints. Follow one batch through it:
//
//   DataLoader  -> a global batch on the host (shuffled by (seed, epoch))
//   DataParallel::train_step
//               -> shards to the replicas, forward + backward with a summed
//                  loss, gradients summed across replicas / global count,
//                  the same optimizer step on every replica
//   evaluate    -> each replica scores its shard of the test set; confusion
//                  matrices and loss sums are merged (counts, never ratios)
//   metrics     -> the classification report and the speed report
#pragma once

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>

#include "minidp.h"
#include "models.h"

namespace minidp::examples {

struct TrainConfig {
  std::string data = data::kFashionMnistDir;
  int epochs = 5;
  std::int64_t batch = 128;
  double lr = 0.05;
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
};

inline void add_flags(CLI::App& app, TrainConfig& c) {
  app.add_option("--data", c.data, "folder with the four Fashion-MNIST .gz files")->capture_default_str();
  app.add_option("--epochs", c.epochs, "passes over the training set")->capture_default_str()->check(CLI::Range(0, 100000));
  app.add_option("--batch", c.batch, "global batch size (split across replicas)")->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 24));
  app.add_option("--lr", c.lr, "learning rate")->capture_default_str()->check(CLI::Range(0.0, 100.0));
  app.add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--weight-decay", c.weight_decay, "L2 penalty (decoupled for adamw)")->capture_default_str();
  app.add_option("--optimizer", c.optimizer, "sgd | adam | adamw")->capture_default_str()
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  app.add_option("--seed", c.seed, "seed of weights and shuffling")->capture_default_str();
  app.add_option("--devices", c.devices, "replicas: cpu | cpu,cpu,... | cuda:0,cuda:1 | cuda:0,cuda:0 | auto")
      ->capture_default_str();
  app.add_option("--limit-train", c.limit_train, "use only the first N training samples (0 = all)");
  app.add_option("--limit-test", c.limit_test, "use only the first N test samples (0 = all)");
  app.add_flag("--no-shuffle", c.no_shuffle, "batches in file order");
  app.add_option("--max-steps", c.max_steps, "stop after N optimizer steps in total (0 = no limit)");
  app.add_option("--init", c.init, "start from these weights (safetensors)");
  app.add_option("--save", c.save, "write a checkpoint (safetensors) at the end");
  app.add_option("--resume", c.resume, "continue from a checkpoint written by --save");
  app.add_option("--metrics-json", c.metrics_json, "write the final metrics as JSON");
  app.add_option("--log-jsonl", c.log_jsonl, "append one JSON object per epoch");
  app.add_flag("--quiet", c.quiet, "no per-epoch table");
  app.add_flag("--tf32", c.tf32, "TF32 tensor cores for float32 GEMMs and convolutions on GPUs (off: results match the CPU)");
}

inline std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& c, std::vector<Tensor> params) {
  if (c.optimizer == "sgd")
    return std::make_unique<nn::SGD>(params, nn::SGDOptions{.lr = c.lr, .momentum = c.momentum,
                                                            .weight_decay = c.weight_decay});
  nn::AdamOptions o;
  o.lr = c.lr;
  o.weight_decay = c.weight_decay;
  return std::make_unique<nn::Adam>(params, o, c.optimizer == "adamw");
}

// A one-line progress bar on a terminal, rewritten in place.
class Progress {
 public:
  Progress(std::int64_t total, bool enabled) : total_(total), enabled_(enabled && isatty(fileno(stderr))) {}
  void update(std::int64_t done, double samples_per_s, double seconds_left) {
    if (!enabled_ || (done % 10 != 0 && done != total_)) return;
    const int width = 30, filled = static_cast<int>(width * done / std::max<std::int64_t>(total_, 1));
    std::fprintf(stderr, "\r  [%s%s] %lld/%lld  %.0f samples/s  %.0fs left ", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), samples_per_s, seconds_left);
    if (done == total_) std::fprintf(stderr, "\r%s\r", std::string(100, ' ').c_str());
  }

 private:
  std::int64_t total_;
  bool enabled_;
};

struct EvalResult {
  metrics::ConfusionMatrix cm{10};
  metrics::LossMeter loss;
};

// Sharded evaluation: each replica counts its shard; the counts are merged.
inline EvalResult evaluate(parallel::DataParallel& dp, const data::Dataset& test, const data::Transform& tf) {
  data::DataLoaderOptions o;
  o.batch_size = 1000;
  o.shuffle = false;
  o.transform = tf;
  data::DataLoader loader(test, o);
  std::vector<EvalResult> per(dp.size());
  for (auto& b : loader) {
    dp.evaluate_batch(b.inputs, b.labels, [&](int r, const Tensor& logits, const Tensor& labels) {
      per[r].cm.update_from_logits(logits, labels);
      per[r].loss.add_sum(parallel::cross_entropy_sum(logits, labels).item(), labels.size(0));
    });
  }
  EvalResult total;
  for (auto& p : per) {
    total.cm.merge(p.cm);
    total.loss.merge(p.loss);
  }
  MINIDP_CHECK(total.cm.total() == test.size(), "evaluate: counted ", total.cm.total(), " samples but the test set has ",
               test.size());
  return total;
}

// Checkpoint = replica 0's parameters and buffers, its optimizer state, and
// where the run stands (epoch, step) in the metadata.
inline void save_checkpoint(const std::string& path, parallel::DataParallel& dp, std::int64_t epoch,
                            std::int64_t step_in_epoch, std::int64_t global_step, const TrainConfig& c) {
  std::map<std::string, Tensor> tensors;
  for (auto& [n, t] : dp.module(0)->state_dict()) tensors[n] = t;
  for (auto& [n, t] : dp.optimizer(0).state_tensors()) tensors["optimizer." + n] = t;
  auto meta = dp.optimizer(0).state_scalars();
  meta["epoch"] = std::to_string(epoch);
  meta["step_in_epoch"] = std::to_string(step_in_epoch);
  meta["global_step"] = std::to_string(global_step);
  meta["seed"] = std::to_string(c.seed);
  meta["optimizer"] = c.optimizer;
  meta["format"] = "minidp-checkpoint-1";
  nn::save_safetensors(path, tensors, meta);
}

struct ResumePoint {
  std::int64_t epoch = 0, step_in_epoch = 0, global_step = 0;
  std::uint64_t seed = 0;
};

// Model weights go in before the replicas are made; optimizer state after.
inline void load_model_weights(const std::string& path, nn::Module& model) {
  auto ck = nn::load_safetensors(path);
  std::map<std::string, Tensor> weights;
  for (auto& [n, t] : ck.tensors)
    if (n.rfind("optimizer.", 0) != 0) weights[n] = t;
  model.load_state_dict(weights);
}

inline ResumePoint load_optimizer_state(const std::string& path, parallel::DataParallel& dp) {
  auto ck = nn::load_safetensors(path);
  std::map<std::string, Tensor> opt;
  for (auto& [n, t] : ck.tensors)
    if (n.rfind("optimizer.", 0) == 0) opt[n.substr(10)] = t;
  for (int i = 0; i < dp.size(); ++i) {
    dp.optimizer(i).load_state_tensors(opt);
    dp.optimizer(i).load_state_scalars(ck.metadata);
  }
  auto get = [&](const char* k) {
    auto it = ck.metadata.find(k);
    MINIDP_CHECK(it != ck.metadata.end(), path, ": checkpoint metadata lacks '", k, "'");
    return std::stoll(it->second);
  };
  return {get("epoch"), get("step_in_epoch"), get("global_step"), static_cast<std::uint64_t>(get("seed"))};
}

inline std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// What a run ended with (for programs that compare runs, like scaling).
struct TrainSummary {
  double train_loss = 0, test_loss = 0, test_accuracy = 0, macro_f1 = 0, samples_per_s = 0;
  std::map<std::string, double> phase_ms;  // mean per step
  double step_ms = 0, imbalance = 1, host_syncs_per_step = 0;
  int replicas = 1;
  std::vector<double> train_curve, test_curve;
};

// The whole run. Returns the process exit code.
inline int run_training(const TrainConfig& config, const std::function<nn::ModulePtr()>& make_model,
                        bool flatten_inputs, const std::string& title, TrainSummary* summary = nullptr) {
  TrainConfig c = config;
  using metrics::ConfusionMatrix;
  // ---- data
  data::Dataset train = data::fashion_mnist(c.data, true);
  data::Dataset test = data::fashion_mnist(c.data, false);
  auto first_n = [](const data::Dataset& d, std::int64_t n, const char* name) {
    if (n <= 0 || n >= d.size()) return d;
    std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) idx[i] = i;
    return d.subset(idx, name);
  };
  train = first_n(train, c.limit_train, "fashion-mnist/train");
  test = first_n(test, c.limit_test, "fashion-mnist/test");
  const auto leak = metrics::find_overlap(train.inputs, test.inputs);
  const auto leak_warning = metrics::check_data_leakage(leak);

  // ---- model and replicas
  set_allow_tf32(c.tf32);
  manual_seed(c.seed);
  nn::ModulePtr model = make_model();
  if (!c.init.empty()) load_model_weights(c.init, *model);
  if (!c.resume.empty()) load_model_weights(c.resume, *model);
  auto replicas = parallel::parse_replicas(c.devices);
  parallel::DataParallel dp(model, replicas, [&](std::vector<Tensor> ps) { return make_optimizer(c, ps); });
  ResumePoint start;
  if (!c.resume.empty()) {
    start = load_optimizer_state(c.resume, dp);
    if (start.seed != c.seed && !c.quiet)
      std::printf("resume: continuing with the checkpoint's seed %llu (not --seed %llu): the shuffle order must go on\n",
                  static_cast<unsigned long long>(start.seed), static_cast<unsigned long long>(c.seed));
    c.seed = start.seed;
  }

  data::DataLoaderOptions lo;
  lo.batch_size = c.batch;
  lo.shuffle = !c.no_shuffle;
  lo.seed = c.seed;
  lo.transform = data::Transform::fashion_mnist(flatten_inputs);
  for (auto& r : replicas) lo.pin_memory = lo.pin_memory || r.device.is_cuda();  // async copies to the GPUs
  data::DataLoader loader(train, lo);

  if (!c.quiet) std::printf("%s: %lld parameters, %d replica(s) [%s], %s communicator\n", title.c_str(),
              static_cast<long long>(model->num_parameters()), dp.size(), c.devices.c_str(),
              dp.communicator().name().c_str());
  if (!c.quiet) std::printf("data: %lld training / %lld test samples, batch %lld, %lld steps per epoch\n",
              static_cast<long long>(train.size()), static_cast<long long>(test.size()),
              static_cast<long long>(c.batch), static_cast<long long>(loader.num_batches()));
  if (leak_warning && !c.quiet) std::printf("WARNING: %s\n", leak_warning->message.c_str());
  if (!c.quiet)
    std::printf("%5s %11s %10s %9s %9s %12s %8s\n", "epoch", "train_loss", "test_loss", "test_acc", "macro_f1",
                "samples/s", "time_s");

  std::unique_ptr<metrics::JsonlWriter> jsonl;
  if (!c.log_jsonl.empty()) jsonl = std::make_unique<metrics::JsonlWriter>(c.log_jsonl);
  // The recorder folds each step's times into the meters once the step is
  // done, and keeps the loss on the device: the loop never waits for a GPU.
  metrics::TrainingRecorder rec(dp, /*warmup_steps=*/5);
  std::vector<double> train_curve, test_curve;
  EvalResult last_eval;
  std::int64_t global_step = start.global_step;
  bool stop = false;

  for (std::int64_t epoch = start.epoch; epoch < c.epochs && !stop; ++epoch) {
    rec.start_epoch();
    const auto t_epoch = std::chrono::steady_clock::now();
    std::int64_t epoch_samples = 0;
    Progress bar(loader.num_batches(), !c.quiet);
    const std::int64_t skip = epoch == start.epoch ? start.step_in_epoch : 0;
    loader.set_epoch(epoch);
    std::int64_t i = 0;
    auto t_data = std::chrono::steady_clock::now();
    for (auto& b : loader) {
      if (i++ < skip) continue;
      const double data_wait = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_data).count();
      const auto r = dp.train_step(b.inputs, b.labels);
      ++global_step;
      rec.record(r, data_wait);
      epoch_samples += r.samples;
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
      const double sps = epoch_samples / std::max(elapsed, 1e-9);
      bar.update(i, sps, (train.size() - static_cast<double>(i) * c.batch) / std::max(sps, 1e-9));
      if (c.max_steps > 0 && global_step >= c.max_steps) {
        stop = true;
        if (!c.save.empty()) save_checkpoint(c.save, dp, epoch, i, global_step, c);
        break;
      }
      t_data = std::chrono::steady_clock::now();
    }
    const double train_loss = rec.mean_loss();  // waits for the epoch's last steps: once per epoch
    const double epoch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
    rec.record_memory();
    last_eval = evaluate(dp, test, lo.transform);
    const auto f1 = metrics::f1(last_eval.cm);
    train_curve.push_back(train_loss);
    test_curve.push_back(last_eval.loss.mean());
    const double eps = epoch_samples / std::max(epoch_s, 1e-9);
    if (!c.quiet)
      std::printf("%5lld %11.4f %10.4f %8.2f%% %9.4f %12.0f %8.1f\n", static_cast<long long>(epoch + 1),
                  train_loss, last_eval.loss.mean(), 100.0 * metrics::accuracy(last_eval.cm), f1.macro, eps,
                  epoch_s);
    std::fflush(stdout);
    if (jsonl) {
      nlohmann::json j;
      j["epoch"] = epoch + 1;
      j["train"] = {{"loss", metrics::json_number(train_loss)}, {"samples_per_s", eps}, {"seconds", epoch_s}};
      j["test"] = {{"loss", metrics::json_number(last_eval.loss.mean())},
                   {"accuracy", metrics::accuracy(last_eval.cm)},
                   {"f1_macro", metrics::json_number(f1.macro)}};
      jsonl->write(j);
    }
    if (!stop && !c.save.empty() && epoch + 1 == c.epochs) save_checkpoint(c.save, dp, epoch + 1, 0, global_step, c);
  }

  // ---- reports
  metrics::ReportOptions ro;
  ro.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  std::vector<metrics::Warning> warnings = metrics::check_accuracy_paradox(last_eval.cm);
  if (leak_warning) warnings.push_back(*leak_warning);
  if (auto w = metrics::check_overfitting(train_curve, test_curve)) warnings.push_back(*w);
  if (auto w = metrics::check_load_imbalance(rec.balance())) warnings.push_back(*w);
  if (summary) {
    summary->train_loss = train_curve.empty() ? std::nan("") : train_curve.back();
    summary->test_loss = last_eval.loss.mean();
    summary->test_accuracy = metrics::accuracy(last_eval.cm);
    summary->macro_f1 = metrics::f1(last_eval.cm).macro;
    summary->samples_per_s = rec.throughput().samples_per_second();
    for (auto& ph : rec.timer().phases()) summary->phase_ms[ph] = 1e3 * rec.timer().mean(ph);
    summary->step_ms = 1e3 * rec.timer().step_mean();
    summary->imbalance = rec.balance().imbalance_ratio();
    summary->host_syncs_per_step = rec.host_syncs_per_step();
    summary->replicas = dp.size();
    summary->train_curve = train_curve;
    summary->test_curve = test_curve;
  }
  if (!c.quiet && last_eval.cm.total() > 0) {
    std::printf("\nTest set (%lld samples):\n%s", static_cast<long long>(last_eval.cm.total()),
                metrics::classification_report(last_eval.cm, ro).c_str());
  }
  if (!c.quiet) std::printf("\n%s", metrics::speed_report(rec).c_str());
  // The classification report already shows the accuracy-paradox warnings.
  std::vector<metrics::Warning> others;
  for (auto& w : warnings)
    if (w.kind != "accuracy_paradox") others.push_back(w);
  if (!c.quiet && !others.empty()) std::printf("\n%s", metrics::warnings_text(others).c_str());

  if (!c.metrics_json.empty()) {
    nlohmann::json j;
    j["model"] = title;
    j["devices"] = c.devices;
    j["replicas"] = dp.size();
    j["train"] = metrics::speed_json(rec);
    j["train"]["loss"] = metrics::json_number(train_curve.empty() ? std::nan("") : train_curve.back());
    nlohmann::json t = metrics::classification_json(last_eval.cm, ro);
    t["loss"] = metrics::json_number(last_eval.loss.mean());
    // Flat keys for quick reading, beside the full nested report.
    const auto pr = metrics::precision(last_eval.cm), rc = metrics::recall(last_eval.cm), f = metrics::f1(last_eval.cm);
    t["precision_macro"] = metrics::json_number(pr.macro);
    t["recall_macro"] = metrics::json_number(rc.macro);
    t["f1_macro"] = metrics::json_number(f.macro);
    t["per_class"] = nlohmann::json::array();
    for (std::int64_t k = 0; k < last_eval.cm.num_classes(); ++k)
      t["per_class"].push_back({{"class", ro.class_names.at(k)},
                                {"precision", metrics::json_number(pr.per_class[k])},
                                {"recall", metrics::json_number(rc.per_class[k])},
                                {"f1", metrics::json_number(f.per_class[k])},
                                {"support", last_eval.cm.true_count(k)}});
    j["test"] = t;
    j["warnings"] = metrics::to_json(warnings);
    std::ofstream(c.metrics_json) << j.dump(2) << "\n";
  }
  return 0;
}

// main() of a training example: parse flags, run, turn errors into a message.
inline int train_main(int argc, char** argv, const std::string& title, const std::function<nn::ModulePtr()>& make_model,
                      bool flatten_inputs, TrainConfig defaults = {}) {
  CLI::App app{"Train " + title + " on Fashion-MNIST with minidp's DataParallel"};
  TrainConfig c = defaults;
  add_flags(app, c);
  CLI11_PARSE(app, argc, argv);
  try {
    return run_training(c, make_model, flatten_inputs, title);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace minidp::examples
