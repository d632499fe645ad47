// examples/scaling.cpp — "fast AND right" in one table: the same training run
// (same seed, same global batch, same number of steps) with 1, 2, ... N
// replicas, reporting throughput, speedup, scaling efficiency, where the step
// time goes — the gradient sums in all, and the part the step waited for
// after backward (exposed) — and the final test accuracy and macro F1. A
// data-parallel run is only good if it is faster and its quality column does
// not move.
//
//   ./scaling --devices cpu,cpu --model mlp --max-steps 200 --json scaling.json
//   mpirun -np 2 ./scaling --ddp --model cnn --batch 256    (one row: this many processes;
//                                                             --json appends it as a JSON line)
#include <fstream>

#include "train_config.h"

using namespace minidp;

namespace {
struct Row {
  double samples_per_s = 0, train_loss = 0, test_accuracy = 0, macro_f1 = 0, comm_total_ms = 0;
  int threads = 0;  // CPU threads of each replica (0: not on the CPU)
  std::map<std::string, double> phase_ms;  // mean per step
};

// The training of train_mlp, without its checkpoints and reports, on `devices`
// (with --ddp: this process's rank of the job).
Row train_on(examples::TrainConfig c, const std::string& devices) {
  auto [train, test] = examples::load_data(c);
  manual_seed(c.seed);
  c.devices = devices;
  std::unique_ptr<parallel::DataParallel> owner = examples::make_data_parallel(c, examples::make_model(c.model));
  parallel::DataParallel& dp = *owner;
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
  nn::data::DataLoader test_loader(test, examples::test_loader_options(dp));
  const metrics::Evaluation eval = metrics::evaluate(dp, test_loader, 10);
  rec.gather_ranks();
  row.samples_per_s = rec.global_samples_per_second();
  for (const auto& phase : rec.timer().phases()) row.phase_ms[phase] = 1e3 * rec.timer().mean(phase);
  row.comm_total_ms = 1e3 * rec.comm_total_mean();
  row.threads = rec.cpu_threads_per_replica();
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
  double baseline = 0;
  examples::add_flags(app, c);
  app.add_option("--json", json_path, "write the table as JSON (for tools/plot_metrics.py); with --ddp, append the row");
  app.add_option("--baseline", baseline, "with --ddp: the samples/s of one process, for speedup and efficiency");
  CLI11_PARSE(app, argc, argv);
  if (c.threads > 0) set_num_threads(c.threads);
  try {
    auto header = [] {
      std::printf("%9s %8s %12s %8s %10s %8s %8s %8s %9s %8s %8s %9s %9s\n", "replicas", "threads", "samples/s", "speedup",
                  "efficiency", "data_ms", "fwd_ms", "bwd_ms", "comm_ms", "exposed", "optim_ms", "test_acc",
                  "macro_f1");
    };
    auto print = [](const std::string& label, const Row& s, double base, std::int64_t n) {
      const double eff = metrics::scaling_efficiency(s.samples_per_s, n, base);
      std::printf("%9s %8s %12.0f %7.2fx %9.1f%% %8.2f %8.2f %8.2f %9.2f %8.2f %8.2f %8.2f%% %9.4f\n", label.c_str(),
                  s.threads > 0 ? std::to_string(s.threads).c_str() : "-", s.samples_per_s, s.samples_per_s / base, 100 * eff, s.phase_ms.at("data"), s.phase_ms.at("forward"),
                  s.phase_ms.at("backward"), s.comm_total_ms, s.phase_ms.at("allreduce"), s.phase_ms.at("optimizer"),
                  100 * s.test_accuracy, s.macro_f1);
      std::fflush(stdout);
      return eff;
    };
    auto json_row = [&](const std::string& devices, std::int64_t n, const Row& s, double base, double eff) {
      return nlohmann::json{{"replicas", n}, {"devices", devices}, {"samples_per_s", s.samples_per_s},
                            {"speedup", s.samples_per_s / base}, {"efficiency", eff}, {"phase_ms", s.phase_ms},
                            {"comm_total_ms", metrics::json_number(s.comm_total_ms)}, {"cpu_threads_per_replica", s.threads},
                            {"train_loss", s.train_loss},
                            {"test_accuracy", s.test_accuracy}, {"macro_f1", s.macro_f1}};
    };
    if (c.ddp) {
      // One row: this job's processes. Run it with -np 1, 2, ... and compare
      // the rows (--json appends each as a line; --baseline gives -np 1's samples/s).
      auto& world = parallel::ProcessGroup::world();
      Row s = train_on(c, c.devices);
      if (world.rank() == 0) {
        std::printf("scaling study across processes: %s, global batch %lld, %lld training samples, %d process(es)\n\n",
                    c.model.c_str(), static_cast<long long>(c.batch), static_cast<long long>(c.limit_train),
                    world.size());
        header();
        const double base = baseline > 0 ? baseline : s.samples_per_s;
        const double eff = print(std::to_string(world.size()) + " proc", s, base, world.size());
        if (!json_path.empty()) {
          std::ofstream out(json_path, std::ios::app);
          out << json_row("mpirun -np " + std::to_string(world.size()), world.size(), s, base, eff).dump() << "\n";
          MINIDP_CHECK(out.good(), "--json: could not write ", json_path);
        }
      }
      return 0;
    }
    const auto all = parallel::parse_replicas(c.devices);
    std::printf("scaling study: %s, global batch %lld, %lld training samples, replicas from '%s'\n", c.model.c_str(),
                static_cast<long long>(c.batch), static_cast<long long>(c.limit_train), c.devices.c_str());
    std::printf("CPU: %d threads, divided among the replicas on the CPU (threads: each one's share)\n\n", num_threads());
    header();
    std::vector<std::pair<std::int64_t, double>> points;
    nlohmann::json rows = nlohmann::json::array();
    double base = 0;
    for (std::size_t n = 1; n <= all.size(); ++n) {
      std::string devices;
      for (std::size_t r = 0; r < n; ++r) devices += (r ? "," : "") + all[r].device.str();
      Row s = train_on(c, devices);
      if (n == 1) base = s.samples_per_s;
      const double eff = print(std::to_string(n), s, base, static_cast<std::int64_t>(n));
      points.emplace_back(static_cast<std::int64_t>(n), s.samples_per_s);
      rows.push_back(json_row(devices, static_cast<std::int64_t>(n), s, base, eff));
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
    if (c.ddp && parallel::ProcessGroup::world().distributed()) parallel::ProcessGroup::world().abort(e.what());
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
