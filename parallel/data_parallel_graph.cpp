// minidp/parallel/data_parallel_graph.cpp — DataParallel's captured step:
// the whole step of replicas that share one GPU recorded once as a CUDA graph
// and replayed with one launch (DataParallelOptions::cuda_graph). The eager
// step it replays is data_parallel.cpp's; read that first.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "minidp/core/autograd.h"
#include "minidp/core/stream.h"
#include "minidp/nn/module.h"
#include "minidp/parallel/data_parallel.h"
#include "minidp/parallel/shards.h"
#include "minidp/parallel/wait_sites.h"

namespace minidp::parallel {

using detail::plan_shards;
using detail::Shards;

// ---------------------------------------------------------------- captured steps (CUDA graphs)
//
// A graph is captured per batch shape, after opts_.cuda_graph_warmup eager
// steps of that shape (lazy set-up — cuBLAS workspaces, momentum buffers,
// cuDNN plans, events — happens there, never inside a capture). Replicas that
// share the GPU are captured into ONE graph: replica 0's stream begins the
// capture, the other replicas' streams join it by waiting on an event of it
// (fork) and are joined back before it ends. Their host threads run the
// ordinary step code meanwhile, meeting at the in-process communicator's
// barriers as in an eager step, so the graph holds every replica's forward,
// backward, the in-process sum (its event waits become graph edges), the
// division and the optimizer. The replay is then one launch on replica 0's
// stream, framed by copies and events on the host thread:
//   each replica's stream: timing event, copy of its shard into its static
//     input buffers, "inputs ready" event;
//   replica 0's stream: waits for every "inputs ready", cudaGraphLaunch, "done";
//   each replica's stream: waits for "done", copies the static loss outputs
//     into fresh tensors (what the StepResult holds), timing events.
// Memory allocated during the capture comes from a private pool of the graph
// (kernels/cuda/allocator.h): a replay writes exactly there.
struct DataParallel::StepGraphs {
  static constexpr int kMaxGraphs = 8;  // batch shapes held at once; more run eagerly

  struct Graph {
    void* exec = nullptr;  // the executable graph (cudaGraphExec_t on a GPU)
    Device device;
    Stream stream;                    // where it is replayed (replica 0's stream)
    std::uint64_t pool = 0;           // its private memory pool
    std::vector<Tensor> x, y;         // per replica: the static inputs the graph reads (copied in before a replay)
    std::vector<Tensor> loss;         // per replica: the loss sum the graph writes (undefined: empty shard)
    std::vector<double> lr;           // the optimizers' learning rates, baked into the graph's kernels
    std::uint64_t state_version = 0;  // nn::state_version() at the capture: the addresses it holds
    bool tf32 = false;                // the TF32 mode its GEMMs were captured with
    Graph() = default;
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;
    ~Graph() {
      // Its last replay must be over before its memory goes (the cudaFree
      // below would wait for it too; destroy_graph makes the order explicit).
      destroy_graph(exec, stream);
      x.clear();
      y.clear();
      loss.clear();  // back to the private pool, which then goes whole
      release_graph_pool(device, pool);
    }
  };
  struct Slot {
    int eager_steps = 0;  // warm-up steps of this shape so far
    bool failed = false;  // its capture failed: it runs eagerly
    std::unique_ptr<Graph> graph;
  };

  explicit StepGraphs(int replicas) : fork_join(replicas), inputs_ready(replicas) {}
  std::map<std::string, Slot> slots;
  std::vector<Event> fork_join;     // capture: [0] forks the other streams in, [r] joins stream r back
  std::vector<Event> inputs_ready;  // replay: stream r's copy-in is done
  Event done;                       // replay: the graph has run
  std::set<std::string> noted;
  std::int64_t replays = 0, captures = 0;
};

std::unique_ptr<DataParallel::StepGraphs, DataParallel::StepGraphsDeleter> DataParallel::make_graphs(int replicas) {
  return std::unique_ptr<StepGraphs, StepGraphsDeleter>(new StepGraphs(replicas));
}
void DataParallel::StepGraphsDeleter::operator()(StepGraphs* g) const { delete g; }

std::int64_t DataParallel::graph_replays() const { return graphs_ ? graphs_->replays : 0; }
std::int64_t DataParallel::graph_captures() const { return graphs_ ? graphs_->captures : 0; }
int DataParallel::graphs_held() const {
  int n = 0;
  if (graphs_)
    for (const auto& [key, slot] : graphs_->slots) n += slot.graph != nullptr;
  return n;
}

void DataParallel::drop_graphs() {
  if (graphs_) graphs_->slots.clear();
}

void DataParallel::note_once(const std::string& why) {
  if (graphs_->noted.insert(why).second) std::fprintf(stderr, "minidp: cuda_graph: %s\n", why.c_str());
}

// Whether this step may be captured or replayed: decided on the host, from
// the options, the replicas and the model (none of which can change mid-step).
bool DataParallel::graph_eligible(const Tensor& inputs, const Tensor& labels) {
  if (!opts_.cuda_graph) return false;
  if (world_ != nullptr) return note_once("steps of DistributedDataParallel run eagerly"), false;
  const Device dev = replicas_[0].device;
  if (dev.is_cpu()) return note_once("CPU replicas run eagerly"), false;
  for (const Replica& r : replicas_)
    if (r.device != dev)
      return note_once("replicas on several GPUs (NCCL sums) run eagerly; capture needs every replica on one GPU"),
             false;
  for (const Tensor* t : {&inputs, &labels})
    if (!t->device().is_cpu() && t->device() != dev)
      return note_once("a batch on another device than the replicas' runs eagerly"), false;
  if (opts_.skip_nonfinite) return note_once("skip_nonfinite reads the gradients on the host mid-step: eager"), false;
  if (opts_.check_identical) return note_once("check_identical hashes parameters on the host each step: eager"), false;
  if (opts_.sync_batchnorm) return note_once("synchronized BatchNorm runs eagerly"), false;
  if (!dropouts_[0].empty())
    return note_once("Dropout draws a new mask each step from host-side counters: eager"), false;
  for (const auto& o : optimizers_)
    if (o->kind() != "sgd")
      return note_once("the " + o->kind() + " optimizer passes host-side step counts to its kernels: eager"), false;
  return true;
}

bool DataParallel::graph_step(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn,
                              StepResult& result) {
  if (!graph_eligible(inputs, labels)) return false;
  StepGraphs& G = *graphs_;
  std::ostringstream k;  // the shapes and dtypes of the batch (the shards follow from them) and the loss function
  for (auto d : inputs.shape()) k << d << ',';
  k << dtype_name(inputs.dtype()) << ';';
  for (auto d : labels.shape()) k << d << ',';
  k << dtype_name(labels.dtype()) << ';' << loss_fn.target_type().name();
  using LossFnPtr = Tensor (*)(const Tensor&, const Tensor&);
  if (const LossFnPtr* f = loss_fn.target<LossFnPtr>()) k << '@' << reinterpret_cast<std::uintptr_t>(*f);
  auto it = G.slots.find(k.str());
  if (it == G.slots.end()) {
    if (static_cast<int>(G.slots.size()) >= StepGraphs::kMaxGraphs)
      return note_once("more than " + std::to_string(StepGraphs::kMaxGraphs) +
                       " batch shapes: the new ones run eagerly"),
             false;
    it = G.slots.emplace(k.str(), StepGraphs::Slot{}).first;
  }
  StepGraphs::Slot& slot = it->second;
  if (slot.failed) return false;
  std::vector<double> lrs;
  for (const auto& o : optimizers_) lrs.push_back(o->lr());
  // A graph replays the addresses, constants and modes of its capture. If any
  // of them changed since, it is dropped (its private memory with it) and the
  // shape warms up and is captured again — never replayed into freed memory.
  const std::uint64_t version = nn::state_version();
  const bool tf32 = allow_tf32();
  if (slot.graph) {
    const char* stale = nullptr;
    if (slot.graph->lr != lrs)
      stale = "the learning rate changed: a shape is captured again after its warm-up steps at the new rate "
              "(a rate that changes every step keeps the step eager)";
    else if (slot.graph->state_version != version)
      stale = "parameters, buffers or optimizer state were moved or reloaded (load_state_dict, "
              "load_state_tensors, to(), a new parameter): the step is captured again";
    else if (slot.graph->tf32 != tf32)
      stale = "the TF32 switch changed: the step is captured again";
    if (stale != nullptr) {
      note_once(stale);
      slot.graph.reset();
      slot.eager_steps = 0;
    }
  }
  // At least one eager step before any capture: the optimizers' first step
  // (which creates the momentum buffers) must not be the one frozen in a graph.
  if (!slot.graph && slot.eager_steps < std::max(1, opts_.cuda_graph_warmup)) {
    ++slot.eager_steps;
    return false;
  }

  const Shards shards = plan_shards("DataParallel::train_step", inputs, labels, size());
  const std::int64_t batch = inputs.size(0);
  const Device dev = replicas_[0].device;
  if (!slot.graph) {
    // ---- capture
    auto g = std::make_unique<StepGraphs::Graph>();
    g->device = dev;
    g->stream = replicas_[0].stream;
    g->lr = lrs;
    g->state_version = version;
    g->tf32 = tf32;
    g->pool = create_graph_pool(dev);
    g->loss.resize(size());
    {
      DeviceGuard dg(dev);
      for (int rank = 0; rank < size(); ++rank) {
        // The static inputs, in the general pool of the replica's stream (the
        // copy before each replay writes them there); the events used inside
        // the capture are created now, outside it.
        StreamGuard sg(replicas_[rank].stream);
        Shape xs = inputs.shape(), ys = labels.shape();
        xs[0] = ys[0] = shards.size[rank];
        g->x.push_back(Tensor::empty(xs, TensorOptions(inputs.dtype()).with_device(dev)));
        g->y.push_back(Tensor::empty(ys, TensorOptions(labels.dtype()).with_device(dev)));
        G.fork_join[rank].record(replicas_[rank].stream);
        G.inputs_ready[rank].record(replicas_[rank].stream);
      }
      G.done.record(replicas_[0].stream);
    }
    struct PoolScope {  // allocations on the replicas' streams come from the graph's pool while it is captured
      DataParallel& dp;
      const StepGraphs::Graph& g;
      PoolScope(DataParallel& d, const StepGraphs::Graph& gr) : dp(d), g(gr) {
        for (const Replica& r : dp.replicas_) begin_graph_pool(r.stream, g.pool);
      }
      ~PoolScope() {
        for (const Replica& r : dp.replicas_) end_graph_pool(r.stream);
      }
    };
    // The capture runs the step's host code, optimizer.step() included, but
    // no step is taken: the step counts are put back afterwards.
    std::vector<std::int64_t> steps_before;
    for (const auto& o : optimizers_) steps_before.push_back(o->steps_taken());
    struct RestoreSteps {
      DataParallel& dp;
      const std::vector<std::int64_t>& before;
      ~RestoreSteps() {
        for (std::size_t i = 0; i < before.size(); ++i)
          dp.optimizers_[i]->count_steps(before[i] - dp.optimizers_[i]->steps_taken());
      }
    } restore{*this, steps_before};
    try {
      PoolScope scope(*this, *g);
      pool_->run([&](int rank) {
        const Replica& r = replicas_[rank];
        DeviceGuard dg(r.device);
        StreamGuard sg(r.stream);
        ReplicaStepStats scratch;  // a capture computes nothing: the replay fills the result
        bool capturing = false;
        try {
          if (rank == 0) {
            begin_capture(r.stream);
            capturing = true;
            G.fork_join[0].record(r.stream);
          }
          comm_->barrier(comm_rank(rank));  // replica 0's capture has begun ...
          if (rank != 0) G.fork_join[0].wait(r.stream);  // ... and this stream joins it
          Tensor loss = replica_step(rank, g->x[rank], g->y[rank], batch, loss_fn, /*reduce=*/true,
                                     /*fresh=*/true, scratch, nullptr, /*hooks=*/true);
          g->loss[rank] = loss.defined() ? loss.detach() : Tensor();
          if (rank != 0) G.fork_join[rank].record(r.stream);
          comm_->barrier(comm_rank(rank));  // every stream has queued its part
          if (rank == 0) {
            for (int o = 1; o < size(); ++o) G.fork_join[o].wait(r.stream);  // joined back
            capturing = false;
            g->exec = end_capture(r.stream);
          }
        } catch (...) {
          if (capturing) abort_capture(r.stream);
          throw;
        }
      });
    } catch (const std::exception& e) {
      // Nothing of the step ran (a capture only records), and the host-side
      // state it touched is what an eager step sets again: run it eagerly.
      slot.failed = true;
      note_once(std::string("capturing a step failed, its shape runs eagerly: ") + e.what());
      if (auto* inproc = dynamic_cast<InProcessCommunicator*>(comm_.get())) inproc->reset();
      return false;
    }
    slot.graph = std::move(g);
    ++G.captures;
  }

  // ---- replay
  StepGraphs::Graph& g = *slot.graph;
  detail::StepEvents& ev = *result.events;
  const Stream s0 = replicas_[0].stream;
  DeviceGuard dg(dev);
  for (int rank = 0; rank < size(); ++rank) {
    const Stream& s = replicas_[rank].stream;
    StreamGuard sg(s);
    ev.begin(rank, Phase::Data).record(s);
    wait_for_caller(s);
    g.x[rank].copy_(shards.rows(inputs, rank));  // host -> the graph's input buffers, on this replica's stream
    g.y[rank].copy_(shards.rows(labels, rank));
    ev.begin(rank, Phase::Forward).record(s);
    if (rank != 0) {
      G.inputs_ready[rank].record(s);
      if (!wait_skipped(WaitSite::GraphInputsReady)) G.inputs_ready[rank].wait(s0);
    }
  }
  launch_graph(g.exec, s0);
  G.done.record(s0);
  for (int rank = 0; rank < size(); ++rank) {
    const Stream& s = replicas_[rank].stream;
    StreamGuard sg(s);
    if (rank != 0 && !wait_skipped(WaitSite::GraphDone)) G.done.wait(s);
    // The phases inside the graph cannot be told apart from outside it: the
    // whole replay counts as forward, the others are empty.
    ev.begin(rank, Phase::Backward).record(s);
    ev.begin(rank, Phase::Allreduce).record(s);
    ev.begin(rank, Phase::Optimizer).record(s);
    ReplicaStepStats& st = result.replicas[rank];
    st.samples = shards.size[rank];
    st.comm_seconds = std::numeric_limits<double>::quiet_NaN();  // inside the graph: not measured
    st.comm_spans.clear();
    NoGradGuard ng;
    // Fresh copies of the graph's outputs: the next replay overwrites them,
    // and a caller may read this step's loss much later (TrainingRecorder).
    st.loss_sum = g.loss[rank].defined() ? g.loss[rank].clone() : Tensor();
    if (rank == 0) {
      const Tensor tail = buckets_[0]->tail().clone();
      result.loss_mean = tail.narrow(0, 0, 1);
      result.global_samples = tail.narrow(0, 1, 1);
    }
    ev.end(rank).record(s);
  }
  // A replay is a step: the optimizers' step counts follow it (a checkpoint
  // after 100 replayed steps says 100). SGD's kernels do not read them.
  for (auto& o : optimizers_) o->count_steps(1);
  ++G.replays;
  return true;
}

}  // namespace minidp::parallel
