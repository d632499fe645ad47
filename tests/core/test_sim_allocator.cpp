// The caching allocator's stream rules on the simulated GPU. The allocator is
// the CUDA one's code (kernels/caching_allocator.h); on sim, what a rule
// prevents can be shown: kernels hold addresses, not memory, so a block reused
// too early is overwritten under a kernel that still needs it, and under shake
// a freed block is NaN from the moment its own stream has finished with it.
#include <doctest/doctest.h>

#include <cmath>
#include <future>

#include "minidp/kernels/sim/runtime.h"
#include "minidp/minidp.h"
#include "sim_util.h"

using namespace minidp;
using test::Gate;
using test::Shake;
namespace sim = kernels::sim;

namespace {
const Device S0 = Device::sim(0);
const TensorOptions kOnSim = TensorOptions().with_device(S0);

std::vector<float> host(const Tensor& t) { return t.to(Device::cpu()).contiguous().to_vector<float>(); }



// x (filled with 3) on stream a, then 2 * x queued on a behind a gate; the
// host drops x at once, and stream b takes a block of the same size and
// fills it with 7 before the gate opens. Returns 2 * x as computed.
std::vector<float> reuse_scenario(bool any_stream) {
  sim::allocator().set_any_stream_reuse_for_testing(any_stream);
  Stream a = create_stream(S0), b = create_stream(S0);
  Gate gate;
  Tensor y;
  {
    StreamGuard ga(a);
    Tensor x = full({1024}, 3.0, kOnSim);
    synchronize(a);  // x holds its 3s
    gate.block(a);
    y = mul(x, 2.0);  // reads x after the gate
  }  // x dropped by the host: its block goes back to a's pool
  {
    StreamGuard gb(b);
    Tensor z = full({1024}, 7.0, kOnSim);  // a block of the same size, for b
    synchronize(b);
  }
  gate.open();
  synchronize(a);
  std::vector<float> out = host(y);
  sim::allocator().set_any_stream_reuse_for_testing(false);
  destroy_stream(a);
  destroy_stream(b);
  return out;
}
}  // namespace

TEST_CASE("sim allocator: a freed block is reused by its own stream, never by another") {
  Stream a = create_stream(S0), b = create_stream(S0);
  void* first = nullptr;
  {
    StreamGuard g(a);
    Tensor x = zeros({1000}, kOnSim);
    first = x.device_address();
  }
  {
    StreamGuard g(b);
    Tensor y = zeros({1000}, kOnSim);
    CHECK(y.device_address() != first);  // b's pool has no such block
  }
  const auto hits = sim::allocator().stats(0).cache_hits;
  {
    StreamGuard g(a);
    Tensor x = zeros({1000}, kOnSim);
    CHECK(x.device_address() == first);  // a takes its own block back
  }
  CHECK(sim::allocator().stats(0).cache_hits == hits + 1);
  synchronize(S0);
  destroy_stream(a);
  destroy_stream(b);
}

TEST_CASE("sim allocator: the per-stream rule switched off - another stream overwrites a block a kernel still reads") {
  CHECK(reuse_scenario(/*any_stream=*/false) == std::vector<float>(1024, 6.0f));
  CHECK(reuse_scenario(/*any_stream=*/true) == std::vector<float>(1024, 14.0f));  // 2 * 7: b's values
}

TEST_CASE("sim allocator: a tensor read on another stream and dropped without an event reads NaN under shake") {
  Shake shake(5);
  auto run = [](bool wait_before_drop) {
    Stream a = create_stream(S0), b = create_stream(S0);
    Gate gate;
    Tensor y;
    {
      Tensor x;
      {
        StreamGuard ga(a);
        x = full({256}, 1.0, kOnSim);
      }
      Event written;
      written.record(a);
      written.wait(b);
      StreamGuard gb(b);
      gate.block(b);
      y = add(x, 1.0);  // on b, behind the gate
      if (wait_before_drop) {  // what a user must do: a's stream waits for b's use before x goes
        Event used;
        used.record(b);
        used.wait(a);
      }
    }  // x dropped: under shake its block is poisoned on a, in a's order
    if (!wait_before_drop) synchronize(a);  // nothing orders a's poison after b's read: it has run
    gate.open();
    synchronize(b);
    synchronize(a);
    std::vector<float> out = host(y);
    destroy_stream(a);
    destroy_stream(b);
    return out;
  };
  const std::vector<float> without = run(false);
  CHECK(std::isnan(without[0]));
  CHECK(std::isnan(without[255]));
  CHECK(run(true) == std::vector<float>(256, 2.0f));  // a's poison waits for b's read
}

TEST_CASE("sim allocator: statistics and the peak follow the tensors") {
  sim::allocator().reset_peak(1);
  const auto before = sim::allocator().stats(1);
  {
    Tensor x = zeros({1 << 20}, TensorOptions().with_device(Device::sim(1)));  // 4 MiB: a segment of its own
    CHECK(sim::allocator().stats(1).allocated == before.allocated + (std::size_t(4) << 20));
  }
  synchronize(Device::sim(1));
  CHECK(sim::allocator().stats(1).allocated == before.allocated);
  CHECK(sim::allocator().stats(1).peak_allocated >= before.allocated + (std::size_t(4) << 20));
}

namespace {
// A graph computes y = 2 * x into a block of its private pool, dropped during
// the capture (back to the pool). After the capture an ordinary tensor w (7s)
// of the same size is allocated on the same stream, and the graph replayed.
// Returns w after the replay.
std::vector<float> pool_scenario(bool any_pool) {
  sim::allocator().set_any_pool_reuse_for_testing(any_pool);
  Stream s = create_stream(S0);
  Tensor x = full({1024}, 1.0, kOnSim), out = zeros({1024}, kOnSim);
  synchronize(S0);
  const std::uint64_t pool = create_graph_pool(S0);
  void* graph = nullptr;
  {
    StreamGuard g(s);
    begin_graph_pool(s, pool);
    begin_capture(s);
    {
      Tensor y = mul(x, 2.0);  // the graph's own scratch
      out.copy_(y);
    }  // dropped: its block stays in the graph's pool
    graph = end_capture(s);
    end_graph_pool(s);
  }
  std::vector<float> got;
  {
    StreamGuard g(s);
    Tensor w = full({1024}, 7.0, kOnSim);  // an ordinary allocation on the same stream
    launch_graph(graph, s);                // writes 2s into the graph's scratch
    synchronize(s);
    got = host(w);
  }
  sim::allocator().set_any_pool_reuse_for_testing(false);
  destroy_graph(graph, s);
  release_graph_pool(S0, pool);
  destroy_stream(s);
  return got;
}
}  // namespace

TEST_CASE("sim allocator: a graph's private pool switched off - the next replay writes into another tensor") {
  CHECK(pool_scenario(/*any_pool=*/false) == std::vector<float>(1024, 7.0f));
  CHECK(pool_scenario(/*any_pool=*/true) == std::vector<float>(1024, 2.0f));  // the replay's 2 * x
}
