// minidp/kernels/sim/graph.cpp — graphs on the simulated GPU: a capture
// records what streams queue, a replay runs the recording again.
#include "minidp/kernels/sim/queue.h"

namespace minidp::kernels::sim {

using namespace detail;

void stream_begin_capture(void* stream, int device) {
  auto q = queue_of(stream, device);
  MINIDP_CHECK(stream != nullptr, "sim: capture needs a stream of its own (create_stream), not the default stream");
  MINIDP_CHECK(!q->capture(), "sim:", device, ": the stream is already being captured");
  auto c = std::make_shared<Capture>();
  c->origin = q.get();
  c->branch(q.get());
  q->set_capture(std::move(c));
}

namespace {
// Ends the capture `q` began: every stream leaves it. Returns it.
std::shared_ptr<Capture> detach(const std::shared_ptr<Queue>& q) {
  auto c = q->capture();
  if (!c) return c;
  std::vector<Queue*> members;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    members = c->order;
    c->origin = nullptr;
  }
  for (Queue* m : members) m->set_capture(nullptr);
  return c;
}
}  // namespace

void* stream_end_capture(void* stream, int device) {
  auto q = queue_of(stream, device);
  auto c = q->capture();
  MINIDP_CHECK(c && c->origin == q.get(), "sim:", device, ": end of a capture this stream did not begin");
  detach(q);
  // Every stream that joined must have been joined back: its last op a record
  // that the capturing stream waits on (as cudaStreamEndCapture demands).
  for (std::size_t b = 1; b < c->branches.size(); ++b) {
    const auto& ops = c->branches[b];
    bool joined = false;
    if (!ops.empty() && ops.back().kind == Op::Record)
      for (const Op& o : c->branches[0]) joined = joined || (o.kind == Op::WaitInCapture && o.mark == ops.back().mark);
    MINIDP_CHECK(joined, "sim:", device, ": a stream joined the capture and was not joined back before its end ",
                 "(record an event on it and make the capturing stream wait on it)");
  }
  // The handle owns the graph; a pending launch holds it too.
  auto g = std::make_shared<Graph>();
  g->branches = std::move(c->branches);
  g->marks = std::move(c->marks);
  return new std::shared_ptr<Graph>(std::move(g));
}

void stream_abort_capture(void* stream, int device) noexcept {
  try {
    detach(queue_of(stream, device));
  } catch (...) {
  }
}

bool stream_capturing(void* stream, int device) { return queue_of(stream, device)->capture() != nullptr; }

namespace {
// Runs a graph on the calling worker, one op at a time, each time from a
// branch that can go on (one not stopped at an edge whose mark is not yet
// recorded): the first such branch, or under shake one drawn at random — so
// that a replay does not always run the branches in the same interleaving.
// It stays one thread: a missing edge inside a graph shows as a wrong number
// under shake, never as a ThreadSanitizer report.
void run_graph(const Graph& g, std::mt19937_64& rng) {
  std::vector<std::size_t> at(g.branches.size(), 0);
  std::vector<bool> reached(g.marks.size(), false);
  const bool shake = g_shake_seed.load(std::memory_order_relaxed) != 0;
  const int max_us = std::max(1, g_shake_delay_us.load(std::memory_order_relaxed));
  std::vector<std::size_t> runnable;
  while (true) {
    runnable.clear();
    bool finished = true;
    for (std::size_t b = 0; b < g.branches.size(); ++b) {
      if (at[b] == g.branches[b].size()) continue;
      finished = false;
      const Op& op = g.branches[b][at[b]];
      if (op.kind != Op::WaitInCapture || reached[op.mark]) runnable.push_back(b);
    }
    if (finished) return;
    MINIDP_CHECK(!runnable.empty(), "sim graph: its branches wait on each other forever (a dependency cycle)");
    const std::size_t b = shake ? runnable[rng() % runnable.size()] : runnable.front();
    const Op& op = g.branches[b][at[b]];
    if (op.kind == Op::Task) {
      if (shake) std::this_thread::sleep_for(std::chrono::microseconds(rng() % static_cast<unsigned>(max_us)));
      op.task();
    } else if (op.kind == Op::Record) {
      reached[op.mark] = true;
    } else if (op.kind == Op::WaitOutside) {
      op.outside->queue->wait_until(op.outside->at);
    }
    ++at[b];
  }
}
}  // namespace

void graph_launch(void* graph, void* stream, int device) {
  MINIDP_CHECK(graph != nullptr, "sim: graph_launch of no graph");
  auto q = queue_of(stream, device);
  MINIDP_CHECK(!q->capture(), "sim:", device, ": launching a graph inside a capture");
  std::shared_ptr<const Graph> g = *static_cast<std::shared_ptr<Graph>*>(graph);
  q->push([g, rng = std::mt19937_64(g_shake_seed.load() ^ reinterpret_cast<std::uintptr_t>(g.get()))]() mutable {
    run_graph(*g, rng);
  });
}

void graph_destroy(void* graph) noexcept { delete static_cast<std::shared_ptr<Graph>*>(graph); }

}  // namespace minidp::kernels::sim
