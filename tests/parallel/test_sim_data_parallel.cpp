// DataParallel on the simulated GPU (sim:N): replicas on streams that really
// run asynchronously, ordered only by the events of the parallel layer. The
// kernels are the CPU's, so every result must be the CPU replicas' bits; the
// shake (random delays before every kernel and copy, NaN in fresh memory)
// turns a missing wait into a wrong number.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "minidp/kernels/sim/runtime.h"
#include "minidp/minidp.h"
#include "sim_util.h"

using namespace minidp;
using test::Gate;
using test::Shake;
using parallel::DataParallel;
namespace sim = kernels::sim;

namespace {
nn::ModulePtr mlp(std::uint64_t seed) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(20, 16), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(16, 5)});
}

parallel::OptimizerFactory optimizer(const std::string& name) {
  if (name == "adam")
    return [](std::vector<Tensor> ps) { return std::make_unique<nn::Adam>(ps, nn::AdamOptions{.lr = 0.01}); };
  return [](std::vector<Tensor> ps) {
    return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.1, .momentum = 0.9});
  };
}

std::vector<parallel::Replica> replicas(const std::string& device, int k) {
  std::string list = device;
  for (int i = 1; i < k; ++i) list += "," + device;
  return parallel::parse_replicas(list);
}


struct Run {
  std::vector<double> losses;
  std::vector<std::vector<float>> params;
};

// Steps of uneven batches (7, 64, 13, 30, 1 rows), then every parameter on the host.
Run train(const std::string& device, int k, const std::string& opt) {
  Generator g(4);
  Tensor x = randn({115, 20}, {}, &g);
  Tensor y = randint(0, 5, {115}, kInt64, &g);
  DataParallel dp(mlp(9), replicas(device, k), optimizer(opt), {.check_identical = true});
  Run r;
  std::int64_t at = 0;
  for (std::int64_t rows : {7, 64, 13, 30, 1}) {
    r.losses.push_back(dp.train_step(x.slice(at, at + rows), y.slice(at, at + rows)).loss());
    at += rows;
  }
  for (const Tensor& p : dp.module(0)->parameters()) r.params.push_back(p.to(Device::cpu()).to_vector<float>());
  return r;
}
}  // namespace

TEST_CASE("sim: DataParallel on sim:0 x 1, 2, 3 gives the CPU replicas' bits (SGD with momentum, Adam, shake on)") {
  Shake shake(2024);
  for (const char* opt : {"sgd", "adam"})
    for (int k : {1, 2, 3}) {
      CAPTURE(opt);
      CAPTURE(k);
      const Run cpu = train("cpu", k, opt);
      const Run on_sim = train("sim:0", k, opt);
      CHECK(on_sim.losses == cpu.losses);
      CHECK(on_sim.params == cpu.params);
    }
}

TEST_CASE("sim: DataParallel on several simulated GPUs (sim:0,sim:1 and sim:0,sim:1,sim:2) gives the CPU replicas' bits") {
  Shake shake(99);
  for (int k : {2, 3}) {
    CAPTURE(k);
    std::string devices = "sim:0";
    for (int i = 1; i < k; ++i) devices += ",sim:" + std::to_string(i);
    const Run cpu = train("cpu", k, "sgd");
    Generator g(4);
    Tensor x = randn({115, 20}, {}, &g);
    Tensor y = randint(0, 5, {115}, kInt64, &g);
    DataParallel dp(mlp(9), parallel::parse_replicas(devices), optimizer("sgd"), {.check_identical = true});
    Run r;
    std::int64_t at = 0;
    for (std::int64_t rows : {7, 64, 13, 30, 1}) {
      r.losses.push_back(dp.train_step(x.slice(at, at + rows), y.slice(at, at + rows)).loss());
      at += rows;
    }
    for (int rank = 0; rank < k; ++rank) CHECK(dp.module(rank)->parameters()[0].device() == Device::sim(rank));
    for (const Tensor& p : dp.module(k - 1)->parameters()) r.params.push_back(p.to(Device::cpu()).to_vector<float>());
    CHECK(r.losses == cpu.losses);
    CHECK(r.params == cpu.params);
  }
}

TEST_CASE("sim: the step makes the host wait for nothing - a step returns before its work has run") {
  Shake shake(5);
  Generator g(1);
  Tensor x = randn({12, 20}, {}, &g);
  Tensor y = randint(0, 5, {12}, kInt64, &g);
  DataParallel dp(mlp(3), replicas("sim:0", 2), optimizer("sgd"));
  dp.train_step(x, y).loss();  // warm
  const std::uint64_t before = host_sync_count();
  parallel::StepResult last;
  for (int step = 0; step < 3; ++step) last = dp.train_step(x, y);
  CHECK(host_sync_count() == before);
  CHECK(std::isfinite(last.loss()));  // the read is the first wait
  CHECK(host_sync_count() > before);
}

TEST_CASE("sim: sharded evaluation on sim:0 x 3 gives the CPU's outputs, every sample once") {
  Generator g(2);
  Tensor x = randn({10, 20}, {}, &g);
  Tensor y = arange(10);
  std::vector<float> outputs[2];
  int slot = 0;
  for (const char* device : {"cpu", "sim:0"}) {
    DataParallel dp(mlp(1), replicas(device, 3), optimizer("sgd"));
    std::vector<std::vector<float>> per_rank(3);
    std::mutex mu;
    const auto sizes = dp.evaluate_batch(x, y, [&](int rank, const Tensor& out, const Tensor&) {
      std::vector<float> v = out.to(Device::cpu()).to_vector<float>();
      std::lock_guard<std::mutex> lock(mu);
      per_rank[rank] = v;
    });
    CHECK(sizes == std::vector<std::int64_t>{4, 3, 3});
    for (auto& v : per_rank) outputs[slot].insert(outputs[slot].end(), v.begin(), v.end());
    ++slot;
  }
  CHECK(outputs[1] == outputs[0]);
}

namespace {
// The batch is written on the caller's stream behind a gate (a slow copy, an
// augmentation kernel); the step is queued before the gate opens. With the
// caller fence the replica streams wait for the write; without it they read
// the batch's memory before it holds the batch.
double loss_of_late_batch(bool fence) {
  Generator g(8);
  Tensor x = randn({16, 20}, {}, &g);
  Tensor y = randint(0, 5, {16}, kInt64, &g);
  const Device s0 = Device::sim(0);
  DataParallel dp(mlp(6), replicas("sim:0", 2), optimizer("sgd"));
  dp.set_caller_fence_for_testing(fence);
  Tensor x_src = x.to(s0), y_dev = y.to(s0);
  Tensor x_dev = zeros({16, 20}, TensorOptions().with_device(s0));
  synchronize(s0);
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  const Stream caller = current_stream(s0);
  sim::enqueue(caller.handle, 0, [opened] { opened.wait(); });
  x_dev.copy_(x_src);  // on the caller's stream, behind the gate
  parallel::StepResult r = dp.train_step(x_dev, y_dev);
  if (!fence) {
    // Nothing orders the replicas after the gate: their step ends while the
    // batch still holds zeros. (With the fence this would wait forever.)
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!r.done() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    CHECK(r.done());
  }
  open.set_value();
  return r.loss();
}
}  // namespace

TEST_CASE("sim: a batch written on the caller's stream - the caller fence orders the replicas after it") {
  Shake shake(77);
  Generator g(8);
  Tensor x = randn({16, 20}, {}, &g);
  Tensor y = randint(0, 5, {16}, kInt64, &g);
  DataParallel ref(mlp(6), replicas("cpu", 2), optimizer("sgd"));
  const double want = ref.train_step(x, y).loss();
  CHECK(loss_of_late_batch(/*fence=*/true) == want);
  // With the fence switched off the replicas read the zeros: another loss.
  CHECK(loss_of_late_batch(/*fence=*/false) != want);
}

TEST_CASE("sim: a checkpoint saved from replicas on sim:0 resumes on the CPU with the same bits, and back") {
  Shake shake(61);
  Generator g(3);
  Tensor x = randn({40, 20}, {}, &g);
  Tensor y = randint(0, 5, {40}, kInt64, &g);
  const std::string path = (std::filesystem::temp_directory_path() / ("minidp_sim_checkpoint_" + std::to_string(::getpid()) + ".minidp")).string();
  // Two steps on sim, saved; two more on the CPU from the checkpoint — against four on the CPU.
  DataParallel on_sim(mlp(2), replicas("sim:0", 2), optimizer("adam"));
  parallel::StepResult last;
  for (int s = 0; s < 2; ++s) last = on_sim.train_step(x.slice(s * 10, s * 10 + 10), y.slice(s * 10, s * 10 + 10));
  last.wait();  // the replicas' streams wrote the weights: the host waits before it saves them
  nn::save_training_state(path, *on_sim.module(0), on_sim.optimizer(0), {.epoch = 0, .step_in_epoch = 2, .global_step = 2});
  DataParallel resumed(mlp(5), replicas("cpu", 2), optimizer("adam"));
  const nn::TrainingState st = nn::load_training_state(path);
  for (int r = 0; r < resumed.size(); ++r) {
    st.load_model(*resumed.module(r));
    st.load_optimizer(resumed.optimizer(r));
  }
  DataParallel straight(mlp(2), replicas("cpu", 2), optimizer("adam"));
  std::vector<double> a, b;
  for (int s = 0; s < 4; ++s) {
    const double l = straight.train_step(x.slice(s * 10, s * 10 + 10), y.slice(s * 10, s * 10 + 10)).loss();
    if (s >= 2) a.push_back(l);
  }
  for (int s = 2; s < 4; ++s) b.push_back(resumed.train_step(x.slice(s * 10, s * 10 + 10), y.slice(s * 10, s * 10 + 10)).loss());
  CHECK(a == b);
  // And loaded back onto sim:0.
  DataParallel back(mlp(7), replicas("sim:0", 2), optimizer("adam"));
  for (int r = 0; r < back.size(); ++r) {
    st.load_model(*back.module(r));
    st.load_optimizer(back.optimizer(r));
  }
  CHECK(back.module(1)->parameters()[0].device() == Device::sim(0));
  CHECK(back.parameter_hash(0) == on_sim.parameter_hash(0));
  std::remove(path.c_str());
}

TEST_CASE("sim: parameter_hash right after train_step reads the step's weights (the caller's stream waits for the step)") {
  Shake shake(71);
  Generator g(3);
  Tensor x = randn({32, 20}, {}, &g);
  Tensor y = randint(0, 5, {32}, kInt64, &g);
  DataParallel dp(mlp(2), replicas("sim:0", 2), optimizer("sgd"));
  for (int step = 0; step < 3; ++step) {
    parallel::StepResult r = dp.train_step(x, y);
    const std::uint64_t now = dp.parameter_hash(1);  // no wait for the step first
    r.wait();
    CHECK(now == dp.parameter_hash(1));
  }
}
