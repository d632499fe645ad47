// examples/scaling.cpp — "fast AND right" in one table: the same training run
// (same seed, same global batch, same number of steps) with 1, 2, ... N
// replicas, reporting throughput, speedup, scaling efficiency, where the step
// time goes, and the final test accuracy and macro F1. A data-parallel run is
// only good if it is faster and its quality column does not move.
//
//   ./scaling --devices cpu,cpu --model mlp --max-steps 200 --json scaling.json
#include <fstream>

#include "train_common.h"

using namespace minidp;

int main(int argc, char** argv) {
  CLI::App app{"Scaling study: 1..N replicas at a fixed global batch"};
  examples::TrainConfig c;
  c.epochs = 1;
  c.limit_train = 12000;
  c.limit_test = 2000;
  std::string model = "mlp", json_path;
  examples::add_flags(app, c);
  app.add_option("--model", model, "mlp | cnn")->check(CLI::IsMember({"mlp", "cnn"}))->capture_default_str();
  app.add_option("--json", json_path, "write the table as JSON (for tools/plot_metrics.py)");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto all = parallel::parse_replicas(c.devices);
    auto make_model = [&] { return model == "mlp" ? examples::make_mlp() : examples::make_cnn(); };
    std::printf("scaling study: %s, global batch %lld, %lld training samples, replicas from '%s'\n\n", model.c_str(),
                static_cast<long long>(c.batch), static_cast<long long>(c.limit_train), c.devices.c_str());
    std::printf("%8s %12s %8s %10s %9s %9s %9s %9s %9s %10s %9s\n", "replicas", "samples/s", "speedup", "efficiency",
                "data_ms", "fwd_ms", "bwd_ms", "sync_ms", "optim_ms", "test_acc", "macro_f1");
    std::vector<std::pair<std::int64_t, double>> points;
    nlohmann::json rows = nlohmann::json::array();
    double base = 0;
    for (std::size_t n = 1; n <= all.size(); ++n) {
      examples::TrainConfig run = c;
      run.quiet = true;
      run.devices.clear();
      for (std::size_t i = 0; i < n; ++i) run.devices += (i ? "," : "") + all[i].device.str();
      examples::TrainSummary s;
      examples::run_training(run, make_model, false, model, &s);
      if (n == 1) base = s.samples_per_s;
      const double eff = metrics::scaling_efficiency(s.samples_per_s, static_cast<std::int64_t>(n), base);
      std::printf("%8zu %12.0f %7.2fx %9.1f%% %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f%% %9.4f\n", n, s.samples_per_s,
                  s.samples_per_s / base, 100 * eff, s.phase_ms["data"], s.phase_ms["forward"], s.phase_ms["backward"],
                  s.phase_ms["sync"], s.phase_ms["optimizer"], 100 * s.test_accuracy, s.macro_f1);
      std::fflush(stdout);
      points.emplace_back(static_cast<std::int64_t>(n), s.samples_per_s);
      rows.push_back({{"replicas", n}, {"devices", run.devices}, {"samples_per_s", s.samples_per_s},
                      {"speedup", s.samples_per_s / base}, {"efficiency", eff}, {"phase_ms", s.phase_ms},
                      {"train_loss", s.train_loss}, {"test_accuracy", s.test_accuracy}, {"macro_f1", s.macro_f1}});
    }
    if (!json_path.empty()) {
      nlohmann::json j = metrics::scaling_json(points);
      j["rows"] = rows;
      j["model"] = model;
      j["batch"] = c.batch;
      std::ofstream(json_path) << j.dump(2) << "\n";
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
