// examples/scaling.cpp — "fast AND right" in one table: the same training run
// (same seed, same global batch, same number of steps) with 1, 2, ... N
// replicas, reporting throughput, speedup, scaling efficiency, where the step
// time goes, and the final test accuracy and macro F1. A data-parallel run is
// only good if it is faster and its quality column does not move.
//
//   ./scaling --devices cpu,cpu --model mlp --max-steps 200 --json scaling.json
#include <fstream>

#include "train_config.h"

using namespace minidp;

namespace {
struct Row {
  double samples_per_s = 0, train_loss = 0, test_accuracy = 0, macro_f1 = 0;
  std::map<std::string, double> phase_ms;  // mean per step
};

// The training of train_mlp, without its checkpoints and reports, on `devices`.
Row train_on(const examples::TrainConfig& c, const std::string& devices) {
  auto [train, test] = examples::load_data(c);
  manual_seed(c.seed);
  parallel::DataParallel dp(examples::make_model(c.model), parallel::parse_replicas(devices),
                            [&](std::vector<Tensor> ps) { return examples::make_optimizer(c, ps); });
  nn::data::DataLoader loader(train, examples::train_loader_options(c, dp));
  metrics::TrainingRecorder rec(dp);
  Row row;
  std::int64_t steps = 0;
  for (int epoch = 0; epoch < c.epochs && (c.max_steps == 0 || steps < c.max_steps); ++epoch) {
    rec.start_epoch();
    for (nn::data::Batch& b : loader) {
      rec.record(dp.train_step(b.inputs, b.labels));
      if (++steps == c.max_steps) break;
    }
    row.train_loss = rec.mean_loss();
  }
  nn::data::DataLoader test_loader(test, examples::test_loader_options());
  const metrics::Evaluation eval = metrics::evaluate(dp, test_loader, 10);
  row.samples_per_s = rec.throughput().samples_per_second();
  for (const auto& phase : rec.timer().phases()) row.phase_ms[phase] = 1e3 * rec.timer().mean(phase);
  row.test_accuracy = metrics::accuracy(eval.cm);
  row.macro_f1 = metrics::f1(eval.cm).macro;
  return row;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Scaling study: 1..N replicas at a fixed global batch"};
  examples::TrainConfig c;
  c.epochs = 1;
  c.limit_train = 12000;
  c.limit_test = 2000;
  std::string json_path;
  examples::add_flags(app, c);
  app.add_option("--json", json_path, "write the table as JSON (for tools/plot_metrics.py)");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto all = parallel::parse_replicas(c.devices);
    std::printf("scaling study: %s, global batch %lld, %lld training samples, replicas from '%s'\n\n", c.model.c_str(),
                static_cast<long long>(c.batch), static_cast<long long>(c.limit_train), c.devices.c_str());
    std::printf("%8s %12s %8s %10s %9s %9s %9s %12s %9s %10s %9s\n", "replicas", "samples/s", "speedup", "efficiency",
                "data_ms", "fwd_ms", "bwd_ms", "allreduce_ms", "optim_ms", "test_acc", "macro_f1");
    std::vector<std::pair<std::int64_t, double>> points;
    nlohmann::json rows = nlohmann::json::array();
    double base = 0;
    for (std::size_t n = 1; n <= all.size(); ++n) {
      std::string devices;
      for (std::size_t r = 0; r < n; ++r) devices += (r ? "," : "") + all[r].device.str();
      Row s = train_on(c, devices);
      if (n == 1) base = s.samples_per_s;
      const double eff = metrics::scaling_efficiency(s.samples_per_s, static_cast<std::int64_t>(n), base);
      std::printf("%8zu %12.0f %7.2fx %9.1f%% %9.2f %9.2f %9.2f %12.2f %9.2f %9.2f%% %9.4f\n", n, s.samples_per_s,
                  s.samples_per_s / base, 100 * eff, s.phase_ms["data"], s.phase_ms["forward"], s.phase_ms["backward"],
                  s.phase_ms["allreduce"], s.phase_ms["optimizer"], 100 * s.test_accuracy, s.macro_f1);
      std::fflush(stdout);
      points.emplace_back(static_cast<std::int64_t>(n), s.samples_per_s);
      rows.push_back({{"replicas", n}, {"devices", devices}, {"samples_per_s", s.samples_per_s},
                      {"speedup", s.samples_per_s / base}, {"efficiency", eff}, {"phase_ms", s.phase_ms},
                      {"train_loss", s.train_loss}, {"test_accuracy", s.test_accuracy}, {"macro_f1", s.macro_f1}});
    }
    if (!json_path.empty()) {
      nlohmann::json j = metrics::scaling_json(points);
      j["rows"] = rows;
      j["model"] = c.model;
      j["batch"] = c.batch;
      std::ofstream out(json_path);
      out << j.dump(2) << "\n";
      MINIDP_CHECK(out.good(), "--json: could not write ", json_path);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
