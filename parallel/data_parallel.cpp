// minidp/parallel/data_parallel.cpp — replicas, the training step and sharded evaluation.
#include "parallel/data_parallel.h"

#include <chrono>
#include <mutex>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/stream.h"
#include "nn/layers.h"
#include "parallel/sync_batchnorm.h"

namespace minidp::parallel {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Give every parameter's .grad a view into one flat buffer, so a single
// collective moves all gradients of a replica. One more element at the end
// carries the replica's loss sum through the same collective.
Tensor flatten_gradients(const nn::Module& m, std::int64_t* num_grads) {
  const auto params = m.parameters();
  MINIDP_CHECK(!params.empty(), "DataParallel: the model has no parameters");
  std::int64_t total = 0;
  for (auto& p : params) {
    MINIDP_CHECK(p.dtype() == params[0].dtype(), "DataParallel: parameters must share one dtype; ",
                 p.describe(), " differs from ", params[0].describe());
    total += p.numel();
  }
  Tensor flat = zeros({total + 1}, params[0].options());
  *num_grads = total;
  std::int64_t off = 0;
  for (auto p : params) {
    p.set_grad(flat.narrow(0, off, p.numel()).view(p.shape()));
    off += p.numel();
  }
  return flat;
}

// How a global batch is cut: shard i is rows [offset[i], offset[i] + size[i]).
struct Shards {
  std::vector<std::int64_t> size, offset;
  Tensor rows(const Tensor& t, int i) const { return t.slice(offset[i], offset[i] + size[i]); }  // a view
};

Shards plan_shards(const char* op, const Tensor& inputs, const Tensor& labels, int replicas) {
  MINIDP_CHECK(inputs.defined() && labels.defined() && inputs.dim() >= 1 && labels.dim() >= 1 &&
                   inputs.size(0) == labels.size(0),
               op, ": inputs ", inputs.describe(), " and labels ", labels.describe(),
               " must be defined and have the same number of samples (dim 0)");
  Shards s;
  s.size = shard_sizes(inputs.size(0), replicas);
  s.offset.assign(s.size.size(), 0);
  for (std::size_t i = 1; i < s.size.size(); ++i) s.offset[i] = s.offset[i - 1] + s.size[i - 1];
  return s;
}

// Calls fn on every module of the tree rooted at m.
void for_each_module(nn::Module& m, const std::function<void(nn::Module&)>& fn) {
  fn(m);
  for (auto& [name, child] : m.children()) for_each_module(*child, fn);
}
}  // namespace

double& PhaseTimes::operator[](Phase p) {
  switch (p) {
    case Phase::Data: return data;
    case Phase::Forward: return forward;
    case Phase::Backward: return backward;
    case Phase::Allreduce: return allreduce;
    case Phase::Optimizer: return optimizer;
  }
  MINIDP_FAIL("PhaseTimes: unknown phase ", static_cast<int>(p));
}

// ---------------------------------------------------------------- step results
namespace detail {
// at[i][k]: boundary k of the step on replica i — before phase k, and
// at[i][kNumPhases] after the last one. Timing events, recorded on the replica's stream.
struct StepEvents {
  std::vector<std::vector<Event>> at;
  explicit StepEvents(int replicas) : at(replicas) {
    for (auto& v : at)
      for (int k = 0; k <= kNumPhases; ++k) v.emplace_back(/*enable_timing=*/true);
  }
  Event& begin(int i, Phase p) { return at[i][static_cast<int>(p)]; }
  Event& end(int i) { return at[i][kNumPhases]; }
};
}  // namespace detail

struct DataParallel::EventPool {
  std::mutex mu;
  std::vector<std::unique_ptr<detail::StepEvents>> free;
};

// Events of a finished StepResult are reused by a later step, so the step
// itself creates none once the pool has warmed up.
std::shared_ptr<detail::StepEvents> DataParallel::take_events() {
  std::unique_ptr<detail::StepEvents> e;
  {
    std::lock_guard<std::mutex> lock(event_pool_->mu);
    if (!event_pool_->free.empty()) {
      e = std::move(event_pool_->free.back());
      event_pool_->free.pop_back();
    }
  }
  if (!e) e = std::make_unique<detail::StepEvents>(size());
  return std::shared_ptr<detail::StepEvents>(e.release(), [pool = event_pool_](detail::StepEvents* p) {
    std::lock_guard<std::mutex> lock(pool->mu);
    pool->free.emplace_back(p);
  });
}

bool StepResult::done() const {
  if (!events) return true;
  for (std::size_t i = 0; i < events->at.size(); ++i)
    if (!events->end(static_cast<int>(i)).query()) return false;
  return true;
}

void StepResult::stream_wait(const Stream& s) const {
  if (!events) return;
  for (std::size_t i = 0; i < events->at.size(); ++i) events->end(static_cast<int>(i)).wait(s);
}

void StepResult::wait() {
  if (resolved || !events) return;
  for (std::size_t rank = 0; rank < replicas.size(); ++rank) {
    const int r = static_cast<int>(rank);
    // The one place the host waits for a step — and only if it is not done yet.
    if (!events->end(r).query()) events->end(r).synchronize();
    for (int k = 0; k < kNumPhases; ++k)
      replicas[rank].time[static_cast<Phase>(k)] = events->at[rank][k].elapsed_ms(events->at[rank][k + 1]) / 1e3;
  }
  resolved = true;
}

double StepResult::loss() {
  wait();
  return loss_mean.defined() ? loss_mean.item() : 0.0;
}

Tensor cross_entropy_sum(const Tensor& logits, const Tensor& labels) {
  CrossEntropyOptions o;
  o.reduction = Reduction::Sum;
  return cross_entropy(logits, labels, o);
}

DataParallel::DataParallel(nn::ModulePtr model, std::vector<Replica> replicas, const OptimizerFactory& make_optimizer,
                           DataParallelOptions opts)
    : replicas_(std::move(replicas)), event_pool_(std::make_shared<EventPool>()), opts_(opts) {
  MINIDP_CHECK(model != nullptr, "DataParallel: model is null");
  MINIDP_CHECK(!replicas_.empty(), "DataParallel: no replicas");
  MINIDP_CHECK(make_optimizer != nullptr, "DataParallel: no optimizer factory");
  std::vector<Device> devices;
  own_stream_.assign(replicas_.size(), false);
  for (std::size_t rank = 0; rank < replicas_.size(); ++rank) {
    Replica& r = replicas_[rank];
    r.rank = static_cast<int>(rank);
    check_device_available(r.device);
    devices.push_back(r.device);
    // Each GPU replica queues its work on a stream of its own, so replicas
    // that share a GPU overlap instead of serialising.
    if (r.device.is_cuda() && r.stream.handle == nullptr) {
      r.stream = create_stream(r.device);
      own_stream_[rank] = true;
    }
    r.stream.device = r.device;
  }
  // Replicate once: the model is replica 0; the others are deep copies.
  model->to(replicas_[0].device);
  modules_.push_back(model);
  for (std::size_t rank = 1; rank < replicas_.size(); ++rank) modules_.push_back(model->deep_copy(replicas_[rank].device));
  for (auto& m : modules_) {
    flat_grads_.push_back(flatten_gradients(*m, &num_grads_));
    optimizers_.push_back(make_optimizer(m->parameters()));
    dropouts_.emplace_back();
    for_each_module(*m, [this](nn::Module& sub) {
      if (auto* d = dynamic_cast<nn::Dropout*>(&sub)) dropouts_.back().push_back(d);
    });
  }
  // The copies above were queued on this thread's stream; the replicas' own
  // streams must not read the parameters before they have landed.
  for (const auto& r : replicas_)
    if (r.device.is_cuda()) synchronize(r.device);
  comm_ = make_communicator(devices);
  if (opts_.sync_batchnorm)
    for (int rank = 0; rank < size(); ++rank)
      for_each_module(*modules_[rank], [this, rank](nn::Module& m) {
        if (auto* bn = dynamic_cast<nn::BatchNorm*>(&m))
          bn->set_training_fn([this, rank](const Tensor& x, const Tensor& w, const Tensor& b, Tensor rm, Tensor rv,
                                        double momentum, double eps) {
            return sync_batch_norm(x, w, b, rm, rv, momentum, eps, *comm_, rank, current_batch_);
          });
      });
  pool_ = std::make_unique<WorkerPool>(size(), [this](const std::string& why) { comm_->abort(why); });
  // Broadcast parameters and buffers from replica 0: the copies already hold
  // the same values, but this is the step that makes it true across processes.
  pool_->run([this](int rank) {
    DeviceGuard dg(replicas_[rank].device);
    StreamGuard sg(replicas_[rank].stream);
    NoGradGuard ng;
    for (auto& [name, t] : modules_[rank]->state_dict()) {
      Tensor c = t;
      comm_->broadcast(rank, c, 0);
    }
  });
}

DataParallel::~DataParallel() {
  pool_.reset();  // join the replica threads before their streams go
  for (std::size_t rank = 0; rank < replicas_.size(); ++rank)
    if (own_stream_[rank]) destroy_stream_noexcept(replicas_[rank].stream);  // a destructor must not throw
}

StepResult DataParallel::train_step(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn) {
  const Shards shards = plan_shards("DataParallel::train_step", inputs, labels, size());
  const std::int64_t batch = inputs.size(0);
  MINIDP_CHECK(batch >= 1, "DataParallel::train_step: empty batch");
  MINIDP_CHECK(!opts_.sync_batchnorm || batch >= size(), "DataParallel: synchronized BatchNorm needs a sample on ",
               "every replica, but the batch of ", batch, " is split over ", size(), " replicas");

  // Dropout: every replica draws the global batch's mask from the same
  // counters (those replica 0's generator is at) and keeps its own rows.
  for (std::size_t k = 0; k < dropouts_[0].size(); ++k) {
    const std::uint64_t at = dropouts_[0][k]->generator().offset();
    for (int rank = 0; rank < size(); ++rank) {
      dropouts_[rank][k]->generator().set_offset(at);
      dropouts_[rank][k]->set_shard(shards.offset[rank], batch);
    }
  }

  StepResult result;
  result.samples = batch;
  result.replicas.resize(size());
  result.events = take_events();
  current_batch_ = batch;
  const auto start = Clock::now();
  if (auto* inproc = dynamic_cast<InProcessCommunicator*>(comm_.get())) inproc->reset();

  pool_->run([&](int rank) {
    const Replica& r = replicas_[rank];
    DeviceGuard dg(r.device);
    StreamGuard sg(r.stream);
    nn::Module& m = *modules_[rank];
    ReplicaStepStats& st = result.replicas[rank];
    st.samples = shards.size[rank];
    m.train();
    detail::StepEvents& ev = *result.events;
    Tensor& flat = flat_grads_[rank];

    ev.begin(rank, Phase::Data).record(r.stream);
    Tensor x = shards.rows(inputs, rank).to(r.device);  // a view, then one (asynchronous) copy
    Tensor y = shards.rows(labels, rank).to(r.device);
    {
      NoGradGuard ng;
      flat.zero_();  // an empty replica joins the sum with zero gradients and a zero loss
      if (opts_.broadcast_buffers) broadcast_buffers(rank);
    }
    ev.begin(rank, Phase::Forward).record(r.stream);
    Tensor loss;
    if (shards.size[rank] > 0) {
      loss = loss_fn(m.forward(x), y);
      MINIDP_CHECK(loss.numel() == 1, "DataParallel: the loss function must return a scalar (the sum over the ",
                   "shard's samples), got ", loss.describe());
    }
    ev.begin(rank, Phase::Backward).record(r.stream);
    if (loss.defined()) {
      loss.backward();
      NoGradGuard ng;
      flat.narrow(0, num_grads_, 1).copy_(loss.detach().reshape({1}));  // the loss rides with the gradients
    }
    ev.begin(rank, Phase::Allreduce).record(r.stream);
    comm_->allreduce_sum(rank, flat);
    ev.begin(rank, Phase::Optimizer).record(r.stream);
    {
      NoGradGuard ng;
      flat.mul_(1.0 / static_cast<double>(batch));  // sum of per-sample gradients / global count
    }
    optimizers_[rank]->step();
    if (rank == 0) {
      NoGradGuard ng;
      result.loss_mean = flat.narrow(0, num_grads_, 1).clone();  // the global mean loss, kept on the device
    }
    ev.end(rank).record(r.stream);
    st.loss_sum = loss.defined() ? loss.detach() : Tensor();
  });

  result.wall_seconds = seconds_since(start);
  if (opts_.check_identical)
    MINIDP_CHECK(replicas_identical(), "DataParallel: replicas diverged after a step (parameter hashes differ)");
  return result;
}

std::vector<std::int64_t> DataParallel::evaluate_batch(const Tensor& inputs, const Tensor& labels,
                                                       const std::function<void(int, const Tensor&, const Tensor&)>& fn) {
  const Shards shards = plan_shards("DataParallel::evaluate_batch", inputs, labels, size());
  if (auto* inproc = dynamic_cast<InProcessCommunicator*>(comm_.get())) inproc->reset();
  pool_->run([&](int rank) {
    const Replica& r = replicas_[rank];
    DeviceGuard dg(r.device);
    StreamGuard sg(r.stream);
    NoGradGuard ng;
    nn::Module& m = *modules_[rank];
    broadcast_buffers(rank);  // every replica evaluates with replica 0's running statistics
    if (shards.size[rank] == 0) return;
    struct EvalMode {  // back to training mode however we leave
      nn::Module& m;
      explicit EvalMode(nn::Module& mod) : m(mod) { m.eval(); }
      ~EvalMode() { m.train(); }
    } mode(m);
    fn(rank, m.forward(shards.rows(inputs, rank).to(r.device)), shards.rows(labels, rank).to(r.device));
  });
  return shards.size;
}

void DataParallel::broadcast_buffers(int rank) {
  if (size() == 1) return;
  NoGradGuard ng;
  for (auto& [name, b] : modules_[rank]->named_buffers()) {
    Tensor c = b;
    comm_->broadcast(rank, c, 0);
  }
}

std::uint64_t DataParallel::parameter_hash(int rank) const {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (auto& [name, t] : modules_.at(rank)->named_parameters()) {
    Tensor c = t.detach().to(Device::cpu()).contiguous();
    const auto* p = static_cast<const unsigned char*>(c.raw_data());
    const std::size_t n = static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype());
    for (std::size_t k = 0; k < n; ++k) h = (h ^ p[k]) * 1099511628211ull;
  }
  return h;
}

bool DataParallel::replicas_identical() const {
  const std::uint64_t h0 = parameter_hash(0);
  for (int rank = 1; rank < size(); ++rank)
    if (parameter_hash(rank) != h0) return false;
  return true;
}

}  // namespace minidp::parallel
