// Tests of the simulated GPU (sim:N, kernels/sim/runtime.h): its kernels are
// the CPU's, so results must be the CPU's bit for bit; what is tested beside
// that is *when* work runs — asynchronously, in stream order, after the events
// it waits for — and that the host cannot touch its memory.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <future>
#include <thread>

#include "minidp/kernels/sim/runtime.h"
#include "minidp/minidp.h"
#include "sim_util.h"

using namespace minidp;
using test::Gate;
using test::Shake;
namespace sim = kernels::sim;

namespace {
const Device S0 = Device::sim(0);

std::vector<float> host(const Tensor& t) { return t.to(Device::cpu()).contiguous().to_vector<float>(); }


}  // namespace

TEST_CASE("sim: devices parse as sim:0 .. sim:7 and print as they parse") {
  CHECK(Device::parse("sim:0") == Device::sim(0));
  CHECK(Device::parse("sim:7").str() == "sim:7");
  CHECK(Device::parse("sim:3").is_sim());
  CHECK_THROWS_WITH_AS(Device::parse("sim:8"), doctest::Contains("'sim:N' (N < 8"), Error);
  CHECK_THROWS_AS(Device::parse("sim"), Error);
  const auto replicas = parallel::parse_replicas("sim:0,sim:0");
  CHECK(replicas.size() == 2);
  CHECK(replicas[1].device == S0);
}

TEST_CASE("sim: an MLP's forward and backward give the CPU's bits (the kernels are the CPU's)") {
  Shake shake(7);
  manual_seed(1);
  Tensor x = randn({9, 6}), w1 = randn({5, 6}), b1 = randn({5}), w2 = randn({3, 5});
  Tensor y = from_vector(std::vector<std::int64_t>{0, 1, 2, 2, 1, 0, 1, 1, 2}, {9});
  auto run = [&](const Device& d) {
    Tensor W1 = w1.to(d).detach().requires_grad_(), B1 = b1.to(d).detach().requires_grad_();
    Tensor W2 = w2.to(d).detach().requires_grad_();
    Tensor h = relu(linear(x.to(d), W1, B1));
    Tensor loss = cross_entropy(matmul(h, W2.t()), y.to(d));
    loss.backward();
    return std::vector<std::vector<float>>{host(loss), host(W1.grad()), host(B1.grad()), host(W2.grad())};
  };
  CHECK(run(S0) == run(Device::cpu()));
}

TEST_CASE("sim: an op returns before its kernel has run, and the stream runs it in order") {
  Stream s = create_stream(S0);
  {
    StreamGuard g(s);
    Gate gate;
    Tensor x = full({4}, 2.0, TensorOptions().with_device(S0));
    gate.block(s);
    Tensor y = mul(x, 3.0);  // queued behind the gate: the host goes on
    Event done;
    done.record(s);
    CHECK_FALSE(done.query());
    gate.open();
    done.synchronize();
    CHECK(done.query());
    CHECK(host(y) == std::vector<float>(4, 6.0f));
  }
  destroy_stream(s);
}

TEST_CASE("sim: a stream that waits on an event runs nothing past it before the other stream got there") {
  Stream a = create_stream(S0), b = create_stream(S0);
  Tensor x;
  {
    StreamGuard ga(a);
    x = zeros({3}, TensorOptions().with_device(S0));
  }
  synchronize(a);
  Gate gate;
  Event written;
  {
    StreamGuard ga(a);
    gate.block(a);
    x.fill_(5.0);  // on a, behind the gate
    written.record(a);
  }
  Tensor y;
  {
    StreamGuard gb(b);
    written.wait(b);  // b's read of x comes after a's write
    y = add(x, 1.0);
  }
  Event read;
  read.record(b);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_FALSE(read.query());  // b is held by a's gate, through the event
  gate.open();
  synchronize(b);
  CHECK(host(y) == std::vector<float>(3, 6.0f));
  destroy_stream(a);
  destroy_stream(b);
}

TEST_CASE("sim: without the wait, the read runs before the write - the bug a GPU would show, shown on the CPU") {
  Stream a = create_stream(S0), b = create_stream(S0);
  Tensor x;
  {
    StreamGuard ga(a);
    x = zeros({3}, TensorOptions().with_device(S0));
  }
  synchronize(a);
  Gate gate;
  {
    StreamGuard ga(a);
    gate.block(a);
    x.fill_(5.0);
  }
  Tensor y;
  {
    StreamGuard gb(b);
    y = add(x, 1.0);  // no event: b reads x whenever it gets there
  }
  synchronize(b);
  CHECK(host(y) == std::vector<float>(3, 1.0f));  // the old value: the write had not run
  gate.open();
  synchronize(a);
  destroy_stream(a);
  destroy_stream(b);
}

TEST_CASE("sim: the host cannot touch device memory - a copy to the host waits and counts as a host sync") {
  Tensor x = full({2, 2}, 1.5, TensorOptions().with_device(S0));
  CHECK_THROWS_WITH_AS(x.data<float>(), doctest::Contains("tensor is on sim:0; expected cpu"), Error);
  CHECK_THROWS_WITH_AS(x.raw_data(), doctest::Contains("lives in (simulated) GPU memory"), Error);
  const std::uint64_t before = host_sync_count();
  Tensor y = mul(x, 2.0);  // queued: no host sync
  CHECK(host_sync_count() == before);
  CHECK(sum(y).item() == 12.0);  // the host waits: one sync
  CHECK(host_sync_count() == before + 1);
}

TEST_CASE("sim: under shake, fresh memory is NaN - a read of what nobody wrote shows") {
  Shake shake(11);
  Tensor never_written = Tensor::empty({8}, TensorOptions().with_device(S0));
  for (float v : host(never_written)) CHECK(std::isnan(v));
  Tensor written = zeros({8}, TensorOptions().with_device(S0));
  for (float v : host(written)) CHECK(v == 0.0f);
}

TEST_CASE("sim: copies between two simulated GPUs and back give the values, each side ordered") {
  Shake shake(3);
  Tensor a = arange(0, 12, 1).reshape({3, 4}).to(kFloat32);
  Tensor on1 = a.to(Device::sim(1));
  Tensor on0 = mul(on1, 2.0).to(S0);
  CHECK(host(on0) == host(mul(a, 2.0)));
  CHECK(on0.device() == S0);
}

TEST_CASE("sim: a copy to the GPU from the host is not mixed up with CUDA") {
  if (!cuda_compiled() || cuda_device_count() == 0) {
    Tensor x = ones({2});
    CHECK_THROWS_AS(x.to(Device::cuda(0)), Error);
  }
  Tensor s = ones({2}, TensorOptions().with_device(S0));
  CHECK(host(s) == std::vector<float>{1, 1});
}

TEST_CASE("sim: a copy from pinned memory reads the host buffer when it runs, from pageable memory when it is queued") {
  Stream s = create_stream(S0);
  for (bool pinned : {true, false}) {
    CAPTURE(pinned);
    Tensor src = full({256}, 1.0);
    if (pinned) src = pin_memory(src);
    CHECK(is_pinned(src) == pinned);
    Gate gate;
    Tensor dst;
    {
      StreamGuard g(s);
      gate.block(s);
      dst = src.to(S0);  // returns at once either way
    }
    src.fill_(5.0);  // the host writes its buffer before the copy has run
    gate.open();
    synchronize(s);
    // Pinned: the copy engine reads the buffer late, as on CUDA (the host must
    // wait for an event before it writes). Pageable: staged when queued.
    CHECK(host(dst) == std::vector<float>(256, pinned ? 5.0f : 1.0f));
  }
  destroy_stream(s);
}

TEST_CASE("sim: a kernel's error is raised at the next synchronize of its stream") {
  Stream s = create_stream(S0);
  sim::enqueue(s.handle, 0, [] { throw Error("index 9 out of range (a device-side check)"); });
  CHECK_THROWS_WITH_AS(synchronize(s), doctest::Contains("index 9 out of range"), Error);
  synchronize(s);  // reported once
  destroy_stream(s);
}

TEST_CASE("sim graph: a capture records instead of running, and each replay runs the recording again") {
  Shake shake(21);
  Stream s = create_stream(S0);
  Tensor x = zeros({4}, TensorOptions().with_device(S0));
  synchronize(S0);
  void* graph = nullptr;
  const std::uint64_t pool = create_graph_pool(S0);  // what the capture allocates stays the graph's
  {
    StreamGuard g(s);
    begin_graph_pool(s, pool);
    begin_capture(s);
    x.add_(full(x.shape(), 1.0, x.options()));  // recorded, not run
    x.mul_(2.0);
    graph = end_capture(s);
    end_graph_pool(s);
  }
  CHECK(host(x) == std::vector<float>(4, 0.0f));  // nothing ran
  for (int i = 0; i < 3; ++i) launch_graph(graph, s);
  synchronize(s);
  CHECK(host(x) == std::vector<float>(4, 14.0f));  // ((0 + 1) * 2 + 1) * 2 + 1) * 2
  destroy_graph(graph, s);
  release_graph_pool(S0, pool);
  destroy_stream(s);
}

TEST_CASE("sim graph: a capture is as strict as CUDA's - host waits raise, joined streams must be joined back") {
  Stream s = create_stream(S0), t = create_stream(S0);
  Tensor x = ones({4}, TensorOptions().with_device(S0));
  synchronize(S0);
  const std::uint64_t pool = create_graph_pool(S0);
  {
    StreamGuard g(s);
    begin_capture(s);
    // Memory the graph writes must come from its private pool.
    CHECK_THROWS_WITH_AS(mul(x, 3.0), doctest::Contains("outside a graph pool"), Error);
    begin_graph_pool(s, pool);
    begin_graph_pool(t, pool);
    Tensor y = mul(x, 3.0);
    CHECK_THROWS_WITH_AS(sum(y).item(), doctest::Contains("being captured into a graph"), Error);
    CHECK_THROWS_WITH_AS(synchronize(s), doctest::Contains("being captured into a graph"), Error);
    CHECK_THROWS_WITH_AS(y.to(Device::cpu()), doctest::Contains("a copy to the host"), Error);
    CHECK_THROWS_WITH_AS(y.copy_(ones({4})), doctest::Contains("pageable host memory"), Error);
    // Another stream joins through an event and is never joined back.
    Event fork;
    fork.record(s);
    fork.wait(t);
    {
      StreamGuard gt(t);
      x.add_(full(x.shape(), 1.0, x.options()));
    }
    CHECK_THROWS_WITH_AS(end_capture(s), doctest::Contains("not joined back"), Error);
  }
  abort_capture(s);  // nothing is left capturing: the streams work eagerly again
  end_graph_pool(s);
  end_graph_pool(t);
  {
    StreamGuard g(s);
    x.add_(full(x.shape(), 1.0, x.options()));
  }
  synchronize(s);
  CHECK(host(x) == std::vector<float>(4, 2.0f));  // the recorded add never ran
  release_graph_pool(S0, pool);
  destroy_stream(s);
  destroy_stream(t);
}

TEST_CASE("sim graph: two streams forked and joined in a capture keep their order at every replay") {
  Shake shake(22);
  Stream s = create_stream(S0), t = create_stream(S0);
  Tensor a = zeros({64}, TensorOptions().with_device(S0)), b = zeros({64}, TensorOptions().with_device(S0));
  synchronize(S0);
  void* graph = nullptr;
  const std::uint64_t pool = create_graph_pool(S0);
  begin_graph_pool(s, pool);
  begin_graph_pool(t, pool);
  {
    StreamGuard gs(s);
    begin_capture(s);
    a.add_(full(a.shape(), 1.0, a.options()));  // s writes a
    Event fork, join;
    fork.record(s);
    fork.wait(t);
    {
      StreamGuard gt(t);
      b.copy_(a);  // t reads a: after s's write (the fork)
      b.mul_(10.0);
      join.record(t);
    }
    join.wait(s);
    a.add_(b);  // s reads b: after t's work (the join)
    graph = end_capture(s);
  }
  end_graph_pool(s);
  end_graph_pool(t);
  launch_graph(graph, s);
  launch_graph(graph, s);
  synchronize(s);
  // replay 1: a = 1, b = 10, a = 11; replay 2: a = 12, b = 120, a = 132
  CHECK(host(a) == std::vector<float>(64, 132.0f));
  CHECK(host(b) == std::vector<float>(64, 120.0f));
  destroy_graph(graph, s);
  release_graph_pool(S0, pool);
  destroy_stream(s);
  destroy_stream(t);
}
