// minidp/parallel/data_parallel.cpp — replicas, the training step, and the gradient sum that ends it.
#include "minidp/parallel/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"
#include "minidp/core/stream.h"
#include "minidp/kernels/cuda/allocator.h"
#include "minidp/kernels/cuda/runtime.h"
#include "minidp/nn/layers.h"
#include "minidp/parallel/agreement.h"
#include "minidp/parallel/process_group.h"
#include "minidp/parallel/shards.h"
#include "minidp/parallel/sync_batchnorm.h"
#include "minidp/parallel/zero.h"

namespace minidp::parallel {

using detail::plan_shards;
using detail::Shards;

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Calls fn on every module of the tree rooted at m.
void for_each_module(nn::Module& m, const std::function<void(nn::Module&)>& fn) {
  fn(m);
  for (auto& [name, child] : m.children()) for_each_module(*child, fn);
}
}  // namespace

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

Tensor cross_entropy_sum(const Tensor& logits, const Tensor& labels) {
  CrossEntropyOptions o;
  o.reduction = Reduction::Sum;
  return cross_entropy(logits, labels, o);
}

// ---------------------------------------------------------------- set-up
DataParallel::DataParallel(nn::ModulePtr model, std::vector<Replica> replicas, const OptimizerFactory& make_optimizer,
                           DataParallelOptions opts)
    : replicas_(std::move(replicas)), event_pool_(std::make_shared<EventPool>()), opts_(opts) {
  MINIDP_CHECK(!replicas_.empty(), "DataParallel: no replicas");
  MINIDP_CHECK(replicas_.size() <= static_cast<std::size_t>(kMaxReplicas), "DataParallel: ", replicas_.size(), " replicas, more than the ",
               kMaxReplicas, " one process holds (each is a whole copy of the model with its own thread); ",
               "for more devices run one process per device (mpirun, --ddp)");
  std::vector<Device> devices;
  for (const auto& r : replicas_) devices.push_back(r.device);
  for (const auto& d : devices) check_device_available(d);
  comm_ = make_communicator(devices);
  setup(std::move(model), make_optimizer);
}

DataParallel::DataParallel(nn::ModulePtr model, Replica replica, const OptimizerFactory& make_optimizer,
                           DataParallelOptions opts, ProcessGroup& world, std::unique_ptr<Communicator> comm)
    : replicas_{replica}, event_pool_(std::make_shared<EventPool>()), comm_(std::move(comm)), world_(&world),
      opts_(opts) {
  MINIDP_CHECK(comm_ != nullptr && comm_->size() == world.size(), "DistributedDataParallel: the communicator spans ",
               comm_ ? comm_->size() : 0, " ranks but the job has ", world.size(), " processes");
  check_device_available(replica.device);
  setup(std::move(model), make_optimizer);
  // Backward tells the buckets which gradients are complete; a full bucket is
  // summed at once, while backward goes on with the layers before it.
  const auto params = modules_[0]->parameters();
  for (int i = 0; i < static_cast<int>(params.size()); ++i)
    params[i].register_hook([this, i](const Tensor&) { on_gradient_ready(i); });
}

void DataParallel::setup(nn::ModulePtr model, const OptimizerFactory& make_optimizer) {
  MINIDP_CHECK(model != nullptr, "DataParallel: model is null");
  MINIDP_CHECK(make_optimizer != nullptr, "DataParallel: no optimizer factory");
  own_stream_.assign(replicas_.size(), false);
  for (std::size_t rank = 0; rank < replicas_.size(); ++rank) {
    Replica& r = replicas_[rank];
    r.rank = static_cast<int>(rank);
    // Each GPU replica queues its work on a stream of its own, so replicas
    // that share a GPU overlap instead of serialising.
    if (!r.device.is_cpu() && r.stream.handle == nullptr) {
      r.stream = create_stream(r.device);
      own_stream_[rank] = true;
    }
    r.stream.device = r.device;
  }
  // If anything below raises (ranks that disagree, an optimizer refused, out
  // of memory), the destructor will not run: the threads and streams made
  // here go back before the error leaves the constructor.
  struct Unwind {
    DataParallel& dp;
    bool done = false;
    ~Unwind() {
      if (done) return;
      dp.pool_.reset();
      dp.graphs_.reset();
      for (std::size_t rank = 0; rank < dp.replicas_.size(); ++rank)
        if (dp.own_stream_[rank]) destroy_stream_noexcept(dp.replicas_[rank].stream);
    }
  } unwind{*this};
  // Replicate once: the model is replica 0; the others are deep copies.
  model->to(replicas_[0].device);
  modules_.push_back(model);
  for (std::size_t rank = 1; rank < replicas_.size(); ++rank) modules_.push_back(model->deep_copy(replicas_[rank].device));
  for (int rank = 0; rank < size(); ++rank) {
    nn::Module& m = *modules_[rank];
    buckets_.push_back(std::make_unique<GradientBuckets>(m, opts_.first_bucket_bytes, opts_.bucket_bytes));
    optimizers_.push_back(make_replica_optimizer(rank, make_optimizer));
    dropouts_.emplace_back();
    for_each_module(m, [this](nn::Module& sub) {
      if (auto* d = dynamic_cast<nn::Dropout*>(&sub)) dropouts_.back().push_back(d);
    });
  }
  // The copies above were queued on this thread's stream; the replicas' own
  // streams must not read the parameters before they have landed.
  for (const auto& r : replicas_)
    if (!r.device.is_cpu()) synchronize(r.device);
  if (opts_.sync_batchnorm)
    for (int rank = 0; rank < size(); ++rank)
      for_each_module(*modules_[rank], [this, rank](nn::Module& m) {
        if (auto* bn = dynamic_cast<nn::BatchNorm*>(&m))
          bn->set_training_fn([this, rank](const Tensor& x, const Tensor& w, const Tensor& b, Tensor rm, Tensor rv,
                                           double momentum, double eps) {
            return sync_batch_norm(x, w, b, rm, rv, momentum, eps, *comm_, comm_rank(rank), current_batch_);
          });
      });
  pool_ = std::make_unique<WorkerPool>(size(), [this](const std::string& why) { comm_->abort(why); });
  graphs_ = make_graphs(size());
  // Across processes, before the first collective: every rank must hold the
  // same model, buckets and optimizer, or the sums pair the wrong bytes.
  if (world_ != nullptr) {
    Fingerprint mine = fingerprint_of(*modules_[0], *buckets_[0], *optimizers_[0]);
    mine.add("replicas per process", std::to_string(size()));
    mine.add("sync_batchnorm", opts_.sync_batchnorm ? "true" : "false");
    mine.add("broadcast_buffers", opts_.broadcast_buffers ? "true" : "false");
    mine.add("zero_stage", std::to_string(opts_.zero_stage));
    mine.add("skip_nonfinite", opts_.skip_nonfinite ? "true" : "false");  // under ZeRO-1 it is a collective
    check_ranks_agree(*world_, mine, "the model, its buckets or its optimizer");
  }
  // Broadcast parameters and buffers from replica 0 (rank 0 of the job): the
  // copies in one process already hold the same values, but processes that
  // made their models independently need it.
  pool_->run([this](int rank) {
    DeviceGuard dg(replicas_[rank].device);
    StreamGuard sg(replicas_[rank].stream);
    NoGradGuard ng;
    for (auto& [name, t] : modules_[rank]->state_dict()) {
      Tensor c = t;
      comm_->broadcast(comm_rank(rank), c, 0);
    }
  });
  // The broadcast ran on the replica streams. What the caller does next (load
  // a checkpoint into module(r), read a weight) is queued on its own stream,
  // which nothing orders after them yet: wait here, once.
  for (const auto& r : replicas_)
    if (!r.device.is_cpu()) synchronize(r.stream);
  unwind.done = true;
}

DataParallel::~DataParallel() {
  pool_.reset();    // join the replica threads before their streams go
  graphs_.reset();  // the graphs and their private memory, before the streams they were captured on
  for (std::size_t rank = 0; rank < replicas_.size(); ++rank)
    if (own_stream_[rank]) destroy_stream_noexcept(replicas_[rank].stream);  // a destructor must not throw
}

int DataParallel::comm_rank(int rank) const { return world_ != nullptr ? world_->rank() : rank; }

// ---------------------------------------------------------------- the step
StepResult DataParallel::train_step(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn) {
  return run_step(inputs, labels, loss_fn, /*reduce=*/true);
}

void DataParallel::accumulate(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn) {
  run_step(inputs, labels, loss_fn, /*reduce=*/false);
}

// On replica `rank`'s thread, at the end of a reducing step: the mean loss
// and global count (rank 0, kept on the device) and the end event.
void DataParallel::finish_replica(int rank, StepResult& result) {
  if (rank == 0) {
    NoGradGuard ng;
    const Tensor tail = buckets_[0]->tail().clone();  // [global mean loss, global sample count]
    result.loss_mean = tail.narrow(0, 0, 1);
    result.global_samples = tail.narrow(0, 1, 1);
  }
  result.events->end(rank).record(replicas_[rank].stream);
}

// On the caller's thread, once every replica is done with the step.
void DataParallel::finish_step(StepResult& result, bool reduce) {
  release_to_caller(*result.events);
  for (const ReplicaStepStats& st : result.replicas) result.skipped = result.skipped || st.skipped;
  accumulated_ = !reduce;
  if (reduce && opts_.check_identical)
    MINIDP_CHECK(replicas_identical(), "DataParallel: replicas diverged after a step (parameter hashes differ)");
}

StepResult DataParallel::run_step(const Tensor& inputs, const Tensor& labels, const LossSumFn& loss_fn, bool reduce,
                                  bool stop_after_backward) {
  MINIDP_CHECK(stop_after_backward || !open_, "DataParallel::train_step: a step opened by forward_backward is not ",
               "finished (call reduce_gradients() and optimizer_step())");
  const Shards shards = plan_shards("DataParallel::train_step", inputs, labels, size());
  const std::int64_t batch = inputs.size(0);
  // A rank of a distributed job may have no sample in the last, short batch: it still joins the sums.
  MINIDP_CHECK(batch >= 1 || world_ != nullptr, "DataParallel::train_step: empty batch");
  current_batch_ = batch;
  if (world_ != nullptr && opts_.sync_batchnorm) {
    std::vector<std::int64_t> global = {batch};  // the count of the BatchNorm statistics, agreed on the host
    world_->allreduce_sum(global);
    current_batch_ = global[0];
  }
  MINIDP_CHECK(!opts_.sync_batchnorm || batch >= size(), "DataParallel: synchronized BatchNorm needs a sample on ",
               "every replica, but the batch of ", batch, " is split over ", size(), " replicas");

  // Dropout: every replica draws the batch's mask from the same counters
  // (those replica 0's generator is at) and keeps its own rows.
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
  const bool fresh = !accumulated_;  // micro-batches accumulate into the same buckets
  // One batch in one process: its global sample count is known here, so each
  // replica's backward starts from 1/batch instead of 1 and the summed
  // gradients are already means — no pass over every gradient to divide them
  // afterwards. (Across processes, or over accumulated micro-batches, the
  // count is summed with the gradients and the division happens on the
  // device after the sum: reduce_gradients.)
  seeded_mean_ = reduce && fresh && world_ == nullptr;
  const auto start = Clock::now();
  if (auto* inproc = dynamic_cast<InProcessCommunicator*>(comm_.get())) inproc->reset();

  fence_caller(inputs, labels);
  if (reduce && fresh && !stop_after_backward && graph_step(inputs, labels, loss_fn, result)) {
    result.wall_seconds = seconds_since(start);
    finish_step(result, reduce);
    return result;
  }
  pool_->run([&](int rank) {
    const Replica& r = replicas_[rank];
    DeviceGuard dg(r.device);
    StreamGuard sg(r.stream);
    ReplicaStepStats& st = result.replicas[rank];
    st.samples = shards.size[rank];
    detail::StepEvents& ev = *result.events;

    ev.begin(rank, Phase::Data).record(r.stream);
    wait_for_caller(r.stream);
    Tensor x = shards.rows(inputs, rank).to(r.device);  // a view, then one (asynchronous) copy
    Tensor y = shards.rows(labels, rank).to(r.device);
    Tensor loss = replica_step(rank, x, y, batch, loss_fn, reduce && !stop_after_backward, fresh, st, &ev,
                               /*hooks=*/reduce);
    st.loss_sum = loss.defined() ? loss.detach() : Tensor();
    if (stop_after_backward) return;  // the open step goes on in reduce_gradients()
    if (reduce) finish_replica(rank, result);
    else ev.end(rank).record(r.stream);
  });
  result.wall_seconds = seconds_since(start);
  if (!stop_after_backward) finish_step(result, reduce);
  return result;
}

Tensor DataParallel::replica_step(int rank, const Tensor& x, const Tensor& y, std::int64_t batch,
                                  const LossSumFn& loss_fn, bool reduce, bool fresh, ReplicaStepStats& st,
                                  detail::StepEvents* ev, bool hooks) {
  const Replica& r = replicas_[rank];
  nn::Module& m = *modules_[rank];
  GradientBuckets& grads = *buckets_[rank];
  const std::int64_t shard = x.size(0);
  m.train();
  st.comm_bytes = hooks ? comm_->bytes_sent() : 0;  // a reducing step: minus this at its end is what it sent
  {
    NoGradGuard ng;
    if (fresh) grads.zero();  // an empty replica joins the sum with zero gradients, loss and count
    if (opts_.broadcast_buffers) broadcast_buffers(rank);
  }
  if (ev) ev->begin(rank, Phase::Forward).record(r.stream);
  Tensor loss;
  if (shard > 0) {
    loss = loss_fn(m.forward(x), y);
    MINIDP_CHECK(loss.numel() == 1, "DataParallel: the loss function must return a scalar (the sum over the ",
                 "shard's samples), got ", loss.describe());
  }
  if (ev) ev->begin(rank, Phase::Backward).record(r.stream);
  // Across processes (one replica), hooks launch full buckets during this
  // backward. In one process overlap_ is never touched: every replica thread
  // runs this line, and a shared flag written by all of them is a data race.
  if (hooks && world_ != nullptr) {
    overlap_.active = true;
    overlap_.next = 0;
    overlap_.launched.clear();
    overlap_.waiting.clear();
    for (int b = 0; b < grads.num_buckets(); ++b)
      overlap_.waiting.push_back(static_cast<int>(grads.params_of(b).size()));
  }
  if (loss.defined()) {
    if (seeded_mean_) loss.backward(full(loss.shape(), 1.0 / static_cast<double>(batch), loss.options()));
    else loss.backward();
  }
  {
    NoGradGuard ng;  // the tail: [loss sum, sample count], summed with the gradients
    if (loss.defined()) grads.tail().narrow(0, 0, 1).add_(loss.detach().reshape({1}));
    grads.tail().narrow(0, 1, 1).add_(full({1}, static_cast<double>(shard), grads.tail().options()));
  }
  if (ev) ev->begin(rank, Phase::Allreduce).record(r.stream);
  if (reduce) {
    reduce_gradients(rank, st, ev);
    step_optimizer(rank, st, ev);
  } else if (!hooks && ev) {
    ev->begin(rank, Phase::Optimizer).record(r.stream);  // accumulate: no sum, no step
  }
  return loss;
}

// On replica `rank`'s thread, after backward: the sums and the division by
// the global sample count. Where the gradients are summed differs — between
// the replicas of this process, or across processes — and what follows does
// not: the tail [loss sum, sample count] joins the sum, the host waits for
// nothing (a pending sum is waited on by the replica's stream), and every
// gradient is divided by the global count on the device.
void DataParallel::reduce_gradients(int rank, ReplicaStepStats& st, detail::StepEvents* /*ev*/) {
  std::vector<std::unique_ptr<PendingCollective>> pending =
      world_ != nullptr ? sum_across_processes(rank) : sum_in_process(rank);
  pending.push_back(comm_->allreduce_sum_async(comm_rank(rank), buckets_[rank]->tail()));
  wait_for_sums(pending, st);
  // Divide by the GLOBAL sample count, on the device (global_mean.cpp). With a
  // seeded backward (run_step) the gradients are means already: the loss only.
  // Under ZeRO-1 a rank's own chunks are the only sums it holds and updates.
  divide_by_global_count(seeded_mean_ ? std::vector<Tensor>{} : zero_ ? zero_->shard_grads() : buckets_[rank]->buckets(),
                         buckets_[rank]->tail());
}

// In one process: every replica thread calls this with its own buckets; the
// in-process communicator meets them bucket by bucket, each thread summing its
// chunk of the bucket over every replica (communicator.cpp).
std::vector<std::unique_ptr<PendingCollective>> DataParallel::sum_in_process(int rank) {
  GradientBuckets& grads = *buckets_[rank];
  std::vector<std::unique_ptr<PendingCollective>> done;
  for (int b = 0; b < grads.num_buckets(); ++b) {
    const auto tb = Clock::now();
    comm_->allreduce_sum(comm_rank(rank), grads.bucket(b));
    done.push_back(finished_collective(seconds_since(tb)));
  }
  return done;
}

// Across processes (one replica per process): buckets backward completed are
// already on their way (on_gradient_ready); launch the rest — gradients
// backward never reached stay zero — in order, so every rank issues the same
// collectives in the same order.
std::vector<std::unique_ptr<PendingCollective>> DataParallel::sum_across_processes(int rank) {
  overlap_.active = false;
  for (auto& w : overlap_.waiting) w = 0;
  launch_ready_buckets(rank);
  return std::move(overlap_.launched);
}

// Waits for each sum (the last is the tail's), naming the one that does not
// finish within comm_timeout_s, and records their times for the report.
void DataParallel::wait_for_sums(std::vector<std::unique_ptr<PendingCollective>>& pending, ReplicaStepStats& st) {
  st.comm_seconds = 0;
  st.comm_spans.clear();
  for (std::size_t b = 0; b < pending.size(); ++b) {
    pending[b]->wait(opts_.comm_timeout_s, b + 1 == pending.size() ? std::string("the sum of the loss and sample count")
                                                                   : "the gradient sum of bucket " + std::to_string(b));
    st.comm_seconds += pending[b]->seconds();  // NaN when the communicator cannot tell (NCCL)
    st.comm_spans.push_back(pending[b]->host_span());
  }
}

// On replica `rank`'s thread, after the sums: the optimizer step (the same on
// every replica), unless skip_nonfinite finds a NaN or inf.
void DataParallel::step_optimizer(int rank, ReplicaStepStats& st, detail::StepEvents* ev) {
  if (ev) ev->begin(rank, Phase::Optimizer).record(replicas_[rank].stream);
  if (opts_.skip_nonfinite) {
    st.skipped = !gradients_finite(rank);  // the host read this option costs
    if (st.skipped) {
      st.comm_bytes = comm_->bytes_sent() - st.comm_bytes;
      return;
    }
  }
  optimizers_[rank]->step();
  if (auto* z = dynamic_cast<ShardedOptimizer*>(optimizers_[rank].get())) {  // its all-gather of the weights
    st.comm_seconds += z->gather_seconds();
    st.comm_spans.insert(st.comm_spans.end(), z->gather_spans().begin(), z->gather_spans().end());
  }
  st.comm_bytes = comm_->bytes_sent() - st.comm_bytes;
}

void DataParallel::on_gradient_ready(int param) {
  if (!overlap_.active) return;  // a backward outside a reducing step (accumulate, or the user's own)
  const int b = buckets_[0]->bucket_of(param);
  if (--overlap_.waiting[b] == 0) launch_ready_buckets(0);
}

// Buckets are launched strictly in order — bucket b only after 0..b-1 — so
// every rank issues its collectives in the same order, whatever order its
// backward finished them in.
void DataParallel::launch_ready_buckets(int rank) {
  GradientBuckets& grads = *buckets_[rank];
  while (overlap_.next < grads.num_buckets() && overlap_.waiting[overlap_.next] == 0) {
    Tensor& bucket = grads.bucket(overlap_.next);  // ZeRO-1: each rank needs the sum of its chunk only
    overlap_.launched.push_back(zero_ ? comm_->reduce_scatter_sum_async(comm_rank(rank), bucket)
                                      : comm_->allreduce_sum_async(comm_rank(rank), bucket));
    ++overlap_.next;
  }
}

}  // namespace minidp::parallel
