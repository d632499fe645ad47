// examples/scaling.cpp — "fast AND right" in one table: the same training run
// (same seed, same global batch, same number of steps) with 1, 2, ... N
// replicas, reporting throughput, speedup, scaling efficiency, where the step
// time goes — the gradient sums in all, and the part the step waited for
// after backward (exposed) — and the final test accuracy and macro F1. A
// data-parallel run is only good if it is faster and its quality column does
// not move.
//
//   ./scaling --devices cpu,cpu --model mlp --max-steps 200 --json scaling.json
//   mpirun -np 3 ./scaling --ddp --model cnn --batch 256    (rows for 1, 2 and 3 processes: the first
//                                                             k ranks train while the others wait)
#include <fstream>

#include "train_config.h"

using namespace minidp;

namespace {
struct Row {
  std::int64_t batch = 0;  // global
  double lr = 0;           // after the warm-up
  double samples_per_s = 0, train_loss = 0, test_accuracy = 0, macro_f1 = 0, comm_total_ms = 0;
  int threads = 0;  // CPU threads of each replica (0: not on the CPU)
  std::map<std::string, double> phase_ms;  // mean per step
};

// The training of train_mlp, without its checkpoints and reports, on `devices`
// (with --ddp: this process's rank of `group`, the job's first ranks).
Row train_on(examples::TrainConfig c, const std::string& devices,
             parallel::ProcessGroup& group = parallel::ProcessGroup::world()) {
  auto [train, test] = examples::load_data(c);
  manual_seed(c.seed);
  c.devices = devices;
  std::unique_ptr<parallel::DataParallel> owner = examples::make_data_parallel(c, examples::make_model(c.model), group);
  parallel::DataParallel& dp = *owner;
  nn::data::DataLoader loader(train, examples::train_loader_options(c, dp));
  metrics::TrainingRecorder rec(dp);
  Row row;
  row.batch = c.batch;
  row.lr = examples::lr_at_step(c, 1 << 30);
  const bool scheduled = examples::lr_scheduled(c);
  std::int64_t steps = 0;
  for (int epoch = 0; epoch < c.epochs && (c.max_steps == 0 || steps < c.max_steps); ++epoch) {
    rec.start_epoch();
    for (nn::data::Batch& b : loader) {
      if (scheduled)
        for (int r = 0; r < dp.size(); ++r) dp.optimizer(r).set_lr(examples::lr_at_step(c, steps));
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
  examples::Flags flags{"Scaling study: 1..N replicas at a fixed global batch"};
  examples::TrainConfig c;
  c.epochs = 1;
  c.limit_train = 12000;
  c.limit_test = 2000;
  std::string json_path;
  bool weak = false;
  examples::add_flags(flags, c);
  flags.add("--json", json_path, "write the table as JSON (for tools/plot_metrics.py)");
  flags.flag("--weak", weak, "weak scaling: --batch per device, so k devices train on a k times larger global batch "
               "(scale the learning rate with --lr-scaling and --warmup-steps)");
  if (const int rc = flags.parse(argc, argv); rc >= 0) return rc;
  if (c.threads > 0) set_num_threads(c.threads);
  try {
    // Row k's configuration: strong scaling keeps the global batch; weak
    // scaling keeps each device's, and the learning rate follows the rule from
    // the 1-device batch it was chosen for.
    auto config = [&](int k) {
      examples::TrainConfig ck = c;
      if (weak) {
        ck.batch = c.batch * k;
        ck.lr_batch = c.batch;
      }
      return ck;
    };
    auto describe = [&] {
      if (weak)
        std::printf("weak scaling: batch %lld per device, learning rate %s for it, scaled by '%s' to the global "
                    "batch, warm-up %lld steps\n", static_cast<long long>(c.batch), nn::exact_number(c.lr).c_str(),
                    c.lr_scaling.c_str(), static_cast<long long>(c.warmup_steps));
      else
        std::printf("strong scaling: global batch %lld for every row (the accuracy cannot move)\n",
                    static_cast<long long>(c.batch));
    };
    auto header = [] {
      std::printf("%9s %6s %8s %8s %12s %8s %10s %8s %8s %8s %9s %8s %8s %9s %9s\n", "replicas", "batch", "lr", "threads", "samples/s", "speedup",
                  "efficiency", "data_ms", "fwd_ms", "bwd_ms", "comm_ms", "exposed", "optim_ms", "test_acc",
                  "macro_f1");
    };
    auto print = [](const std::string& label, const Row& s, double base, std::int64_t n) {
      const double eff = metrics::scaling_efficiency(s.samples_per_s, n, base);
      std::printf("%9s %6lld %8.4g %8s %12.0f %7.2fx %9.1f%% %8.2f %8.2f %8.2f %9.2f %8.2f %8.2f %8.2f%% %9.4f\n",
                  label.c_str(), static_cast<long long>(s.batch), s.lr, s.threads > 0 ? std::to_string(s.threads).c_str() : "-", s.samples_per_s, s.samples_per_s / base, 100 * eff, s.phase_ms.at("data"), s.phase_ms.at("forward"),
                  s.phase_ms.at("backward"), s.comm_total_ms, s.phase_ms.at("allreduce"), s.phase_ms.at("optimizer"),
                  100 * s.test_accuracy, s.macro_f1);
      std::fflush(stdout);
      return eff;
    };
    auto json_row = [&](const std::string& devices, std::int64_t n, const Row& s, double base, double eff) {
      return nlohmann::json{{"replicas", n}, {"devices", devices}, {"batch", s.batch}, {"lr", s.lr},
                            {"samples_per_s", s.samples_per_s},
                            {"speedup", s.samples_per_s / base}, {"efficiency", eff}, {"phase_ms", s.phase_ms},
                            {"comm_total_ms", metrics::json_number(s.comm_total_ms)}, {"cpu_threads_per_replica", s.threads},
                            {"train_loss", s.train_loss},
                            {"test_accuracy", s.test_accuracy}, {"macro_f1", s.macro_f1}};
    };
    if (c.ddp) {
      // Every process count k = 1 .. N of this job, in one run: the first k
      // ranks train as a job of their own (ProcessGroup::first) while the
      // others wait, so that each row's speedup is measured against a
      // 1-process run of the same job, on the same machines.
      auto& world = parallel::ProcessGroup::world();
      if (world.rank() == 0) {
        std::printf("scaling study across processes: %s, %lld training samples, 1 to %d processes\n", c.model.c_str(),
                    static_cast<long long>(c.limit_train), world.size());
        describe();
        std::printf("\n");
        header();
      }
      std::vector<std::pair<std::int64_t, double>> points;
      nlohmann::json rows = nlohmann::json::array();
      double base = 0;
      for (int k = 1; k <= world.size(); ++k) {
        std::unique_ptr<parallel::ProcessGroup> part = world.first(k);  // nullptr on ranks k and up
        Row s;
        if (part) s = train_on(config(k), c.devices, *part);
        world.barrier();  // the next row starts when this one is done everywhere
        if (world.rank() != 0) continue;
        if (k == 1) base = s.samples_per_s;
        const double eff = print(std::to_string(k) + " proc", s, base, k);
        points.emplace_back(k, s.samples_per_s);
        rows.push_back(json_row("mpirun: the first " + std::to_string(k) + " rank(s)", k, s, base, eff));
      }
      if (world.rank() == 0 && !json_path.empty()) {
        nlohmann::json j = metrics::scaling_json(points);
        j["rows"] = rows;
        j["model"] = c.model;
        j["batch"] = c.batch;
        j["weak"] = weak;  // then "batch" is each device's
        j["processes"] = true;
        std::ofstream out(json_path);
        out << j.dump(2) << "\n";
        MINIDP_CHECK(out.good(), "--json: could not write ", json_path);
      }
      return 0;
    }
    const auto all = parallel::parse_replicas(c.devices);
    std::printf("scaling study: %s, %lld training samples, replicas from '%s'\n", c.model.c_str(),
                static_cast<long long>(c.limit_train), c.devices.c_str());
    describe();
    std::printf("CPU: %d threads, divided among the replicas on the CPU (threads: each one's share)\n\n", num_threads());
    header();
    std::vector<std::pair<std::int64_t, double>> points;
    nlohmann::json rows = nlohmann::json::array();
    double base = 0;
    for (std::size_t n = 1; n <= all.size(); ++n) {
      std::string devices;
      for (std::size_t r = 0; r < n; ++r) devices += (r ? "," : "") + all[r].device.str();
      Row s = train_on(config(static_cast<int>(n)), devices);
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
      j["weak"] = weak;  // then "batch" is each device's
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
