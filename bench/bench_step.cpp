// bench/bench_step.cpp — how fast is one data-parallel training step?
//
// Times DataParallel::train_step on synthetic data already on the device (no
// input pipeline: the step alone, as PyTorch's synthetic benchmarks do):
// SGD with momentum 0.9, cross-entropy, `--warmup` steps first, then `--runs`
// runs of `--steps` steps, each timed with events on replica 0's stream (GPU
// time on a GPU, host time on the CPU); the median run is reported. The
// replicas meet in the gradient sum every step, so replica 0's stream spans
// the whole step.
//
// bench/torch_step.py times PyTorch on the same models and shapes, and
// bench/compare.py prints the two side by side as ratios; tools/gpu-check.sh
// runs all three on a GPU. This is a benchmark, not a test: CI only runs it
// for a few steps on the CPU to keep it working.
//
//   bench_step --model mlp --batch 512 --devices cuda:0
//   bench_step --model wide --batch 8192 --devices cuda:0 --tf32
//   bench_step --model mlp --batch 512 --devices cuda:0 --cuda-graph   # the step replayed as a CUDA graph
//   bench_step --model cnn --batch 256 --devices cuda:0,cuda:0 --jsonl results.jsonl
#include "flags.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include <sys/resource.h>  // getrusage: the peak resident memory

#include "examples/models.h"
#include "minidp/minidp.h"

using namespace minidp;

namespace {

struct Config {
  std::string model = "mlp";
  std::int64_t batch = 512;
  std::string devices = "cpu";
  int warmup = 20, steps = 200, runs = 3;
  bool tf32 = false;
  bool cuda_graph = false;
  int threads = 0;
  double bucket_mb = 25.0;
  std::string jsonl;
};

// The process's peak resident memory so far (MiB): what the operating system
// counts, libraries and caches included — the figure to compare with another
// framework's process.
double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

// Multiply-adds of one sample's forward pass through the Linear and Conv2d
// layers, x 2 (flops) x 3 (forward, and backward's two GEMMs per layer).
double training_flops_per_sample(const std::string& model) {
  auto linear = [](double in, double out) { return in * out; };
  double macs = 0;
  if (model == "mlp") macs = linear(784, 1024) + linear(1024, 1024) + linear(1024, 10);
  if (model == "wide") macs = 3 * linear(4096, 4096) + linear(4096, 10);
  if (model == "cnn") macs = 28 * 28 * 32 * 9 + 14 * 14 * 64 * 32 * 9 + linear(3136, 128) + linear(128, 10);
  return 6.0 * macs;
}

int run(const Config& c) {
  set_allow_tf32(c.tf32);
  if (c.threads > 0) set_num_threads(c.threads);
  manual_seed(0);
  nn::ModulePtr model = c.model == "mlp"   ? examples::make_mlp()
                        : c.model == "cnn" ? examples::make_cnn()
                                           : examples::make_wide_mlp();
  parallel::DataParallelOptions o;
  o.cuda_graph = c.cuda_graph;
  o.bucket_bytes = static_cast<std::size_t>(c.bucket_mb * 1024 * 1024);
  parallel::DataParallel dp(model, parallel::parse_replicas(c.devices), [](std::vector<Tensor> ps) {
    return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.01, .momentum = 0.9});
  }, o);
  const parallel::Replica& r0 = dp.replica(0);
  const Shape input = c.model == "wide" ? Shape{c.batch, 4096} : Shape{c.batch, 1, 28, 28};
  const Tensor x = randn(input).to(r0.device);  // synthetic, and on the device once
  const Tensor y = randint(0, 10, {c.batch}).to(r0.device);
  metrics::reset_device_peak(r0.device.str());

  parallel::StepResult last;
  for (int i = 0; i < c.warmup; ++i) last = dp.train_step(x, y);
  last.wait();
  std::vector<double> ms;
  std::uint64_t syncs = 0;
  for (int run = 0; run < c.runs; ++run) {
    Event start(/*enable_timing=*/true), end(/*enable_timing=*/true);
    start.record(r0.stream);
    const std::uint64_t before = host_sync_count();
    for (int i = 0; i < c.steps; ++i) last = dp.train_step(x, y);
    syncs += host_sync_count() - before;
    end.record(r0.stream);
    last.wait();
    end.synchronize();
    ms.push_back(start.elapsed_ms(end) / c.steps);
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const double median_ms = sorted[sorted.size() / 2];
  const double sps = c.batch / (median_ms / 1e3);
  const double tflops = training_flops_per_sample(c.model) * sps / 1e12;
  const double peak_mib = static_cast<double>(metrics::device_peak_bytes(r0.device.str())) / (1024.0 * 1024.0);
  const double loss = last.loss();
  const int threads = r0.device.is_cpu() ? num_threads() : 0;
  std::printf("minidp  %-5s batch %-6lld %-16s %s  %10.3f ms/step  %12.0f samples/s  %7.2f TFLOP/s  peak %.1f MiB  "
              "loss %.4f  host syncs/step %.2f",
              c.model.c_str(), static_cast<long long>(c.batch), c.devices.c_str(), c.tf32 ? "tf32" : "fp32", median_ms,
              sps, tflops, peak_mib, loss, static_cast<double>(syncs) / (c.runs * c.steps));
  const bool convs = threads > 0 && c.model == "cnn";
  if (threads > 0)
    std::printf("  threads %d (%d per replica, %s%s%s%s%s)  peak RSS %.0f MiB", threads, dp.cpu_threads_per_replica(),
                cpu_gemm_library(), *cpu_gemm_kernels() ? " " : "", cpu_gemm_kernels(),
                convs ? ", convolutions " : "", convs ? cpu_conv_kernels().c_str() : "", peak_rss_mib());
  // --cuda-graph asked, yet no step was replayed: the step ran eagerly (the
  // reason is on stderr, "minidp: cuda_graph: ..."). Said here and in the JSON
  // ("graph-fell-back"), so that it is never taken for a graph's speed.
  const bool fell_back = c.cuda_graph && dp.graph_replays() == 0;
  if (c.cuda_graph)
    std::printf("  cuda graph: %lld replays%s", static_cast<long long>(dp.graph_replays()),
                fell_back ? " (FELL BACK: every step ran eagerly)" : "");
  std::printf("\n");
  if (threads > 0 && !cpu_gemm_warning().empty()) std::fprintf(stderr, "WARNING: %s\n", cpu_gemm_warning().c_str());
  if (!c.jsonl.empty()) {
    nlohmann::json j = {{"framework", "minidp"},
                        {"mode", !c.cuda_graph ? "eager" : fell_back ? "graph-fell-back" : "graph"},
                        {"model", c.model},
                        {"batch", c.batch},
                        {"devices", c.devices},
                        {"device_kind", r0.device.is_cuda() ? "cuda" : "cpu"},
                        {"replicas", dp.size()},
                        {"tf32", c.tf32},
                        {"ms_per_step", median_ms},
                        {"samples_per_s", sps},
                        {"tflops", tflops},
                        {"runs_ms", ms},
                        {"peak_memory_mib", peak_mib},
                        {"peak_rss_mib", peak_rss_mib()},
                        {"threads", threads},
                        {"threads_per_replica", threads > 0 ? dp.cpu_threads_per_replica() : 0},
                        {"gemm", threads > 0 ? cpu_gemm_library() : "cuBLAS"},
                        {"gemm_kernels", threads > 0 ? cpu_gemm_kernels() : ""},
                        {"conv", convs ? cpu_conv_kernels() : ""},
                        {"loss", metrics::json_number(loss)},
                        {"host_syncs_per_step", static_cast<double>(syncs) / (c.runs * c.steps)}};
    std::ofstream out(c.jsonl, std::ios::app);
    out << j.dump() << "\n";
    MINIDP_CHECK(out.good(), "bench_step: could not write ", c.jsonl);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  examples::Flags flags{"Time minidp's data-parallel training step (see bench/compare.py for the ratio against PyTorch)"};
  Config c;
  flags.add("--model", c.model, "mlp (784-1024-1024-10) | cnn (conv32-pool-conv64-pool-fc128-fc10) | "
                                     "wide (4096x3 + 10)")
      .one_of({"mlp", "cnn", "wide"}).show_default();
  flags.add("--batch", c.batch, "global batch").range(std::int64_t{1}, std::int64_t{1} << 20)
      .show_default();
  flags.add("--devices", c.devices, "replicas: cpu | cuda:0 | cuda:0,cuda:0 | cuda:0,cuda:1").show_default();
  flags.add("--warmup", c.warmup, "untimed steps first").range(0, 100000).show_default();
  flags.add("--steps", c.steps, "steps per timed run").range(1, 1000000).show_default();
  flags.add("--runs", c.runs, "timed runs (the median is reported)").range(1, 1000)
      .show_default();
  flags.flag("--tf32", c.tf32, "TF32 tensor cores for float32 GEMMs and convolutions");
  flags.flag("--cuda-graph", c.cuda_graph, "replay each step as a CUDA graph after the warm-up (GPU replicas on one GPU)");
  flags.add("--threads", c.threads, "CPU threads, divided among CPU replicas (default: every core, or "
                                         "MINIDP_NUM_THREADS / OMP_NUM_THREADS)").range(0, 4096);
  flags.add("--bucket-mb", c.bucket_mb, "gradient bucket size in MiB (the first bucket is 1 MiB)")
      .range(0.001, 4096.0).show_default();
  flags.add("--jsonl", c.jsonl, "append the result as one JSON line");
  if (const int rc = flags.parse(argc, argv); rc >= 0) return rc;
  try {
    return run(c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_step: error: %s\n", e.what());
    return 1;
  }
}
