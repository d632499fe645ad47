// minidp/parallel/communicator.cpp — the in-process communicator and the barrier under it.
//
// Allreduce on the CPU is chunked: after every rank has published its tensor,
// rank r sums chunk r of all tensors (in rank order 0..k-1, so the result does
// not depend on thread timing) and writes that sum into every rank's tensor.
// The k threads share the work, and every replica ends with bitwise the same
// values — the property that keeps replicas identical after the optimizer step.
#include "minidp/parallel/communicator.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"
#include "minidp/core/stream.h"
#include "minidp/parallel/nccl_communicator.h"
#include "minidp/parallel/wait_sites.h"

namespace minidp::parallel {

double PendingCollective::seconds() const { return std::numeric_limits<double>::quiet_NaN(); }
std::pair<double, double> PendingCollective::host_span() const {
  return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {
// A collective that was done when it was started.
class DoneCollective : public PendingCollective {
 public:
  explicit DoneCollective(double seconds) : seconds_(seconds), end_(steady_seconds()) {}
  void wait(double, const std::string&) override {}
  double seconds() const override { return seconds_; }
  std::pair<double, double> host_span() const override { return {end_ - seconds_, end_}; }

 private:
  double seconds_, end_;
};
}  // namespace

std::unique_ptr<PendingCollective> finished_collective(double seconds) {
  return std::make_unique<DoneCollective>(seconds);
}

std::unique_ptr<PendingCollective> Communicator::allreduce_sum_async(int rank, Tensor& t) {
  const auto start = std::chrono::steady_clock::now();
  allreduce_sum(rank, t);
  return finished_collective(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

Chunk chunk_of(std::int64_t n, int size, int rank) {
  MINIDP_CHECK(size >= 1 && rank >= 0 && rank < size && n >= 0, "chunk_of: rank ", rank, " of ", size, " for ", n,
               " elements");
  const std::int64_t per = (n + size - 1) / size;
  const std::int64_t begin = std::min(n, per * rank);
  return {begin, std::min(n, begin + per) - begin};
}

// One rank owns the whole tensor, and a sum over one rank is the identity:
// nothing to do. More ranks need a communicator that splits the halves (MPI).
std::unique_ptr<PendingCollective> Communicator::reduce_scatter_sum_async(int, Tensor&) {
  if (size() == 1) return finished_collective();
  throw Error("the " + name() + " communicator has no reduce-scatter: ZeRO-1 runs over MPI (--comm mpi)");
}

std::unique_ptr<PendingCollective> Communicator::allgather_chunks_async(int, Tensor&) {
  if (size() == 1) return finished_collective();
  throw Error("the " + name() + " communicator has no allgather of chunks: ZeRO-1 runs over MPI (--comm mpi)");
}

void AbortableBarrier::arrive_and_wait() {
  std::unique_lock<std::mutex> lock(mu_);
  if (aborted_) throw CollectiveAborted(why_);
  const std::uint64_t gen = generation_;
  if (++waiting_ == n_) {
    waiting_ = 0;
    ++generation_;
    cv_.notify_all();
    return;
  }
  cv_.wait(lock, [&] { return generation_ != gen || aborted_; });
  if (aborted_ && generation_ == gen) throw CollectiveAborted(why_);
}

void AbortableBarrier::abort(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!aborted_) why_ = why;
  aborted_ = true;
  cv_.notify_all();
}

void AbortableBarrier::reset() {
  std::lock_guard<std::mutex> lock(mu_);
  aborted_ = false;
  waiting_ = 0;
  why_.clear();
}

InProcessCommunicator::InProcessCommunicator(int size) : size_(size), barrier_(size), slots_(size) {
  MINIDP_CHECK(size >= 1, "InProcessCommunicator: size must be >= 1, got ", size);
  ready_.resize(size);
  done_.resize(size);
}

// The calling rank's stream: where its tensor was produced and where its share
// of the collective is queued (the replica's stream in DataParallel).
namespace {
Stream stream_of(const Tensor& t) { return current_stream(t.device()); }
}  // namespace

void InProcessCommunicator::publish(int rank, const Tensor& t) {
  MINIDP_CHECK(rank >= 0 && rank < size_, "communicator: rank ", rank, " out of range [0, ", size_, ")");
  ready_[rank].record(stream_of(t));  // other ranks' streams wait on this before they touch t
  slots_[rank] = t;
  barrier_.arrive_and_wait();
  const Tensor& first = slots_[0];
  MINIDP_CHECK(t.shape() == first.shape() && t.dtype() == first.dtype() && t.device().type == first.device().type,
               "communicator: rank ", rank, " passed ", t.describe(), " but rank 0 passed ", first.describe());
}

namespace {
template <typename T>
void sum_chunk(std::vector<Tensor>& slots, std::int64_t lo, std::int64_t hi) {
  std::vector<T*> ptr;
  for (auto& s : slots) ptr.push_back(static_cast<T*>(s.raw_data()));
  for (std::int64_t i = lo; i < hi; ++i) {
    T acc = ptr[0][i];
    for (std::size_t r = 1; r < ptr.size(); ++r) acc += ptr[r][i];
    for (auto* p : ptr) p[i] = acc;
  }
}
}  // namespace

void InProcessCommunicator::allreduce_sum(int rank, Tensor& t) {
  MINIDP_CHECK(t.is_contiguous(), "allreduce_sum: expected a contiguous tensor, got ", t.describe());
  publish(rank, t);
  if (size_ > 1) {
    if (t.device().is_cpu() && t.dtype() == DType::Float32) {
      std::vector<float*> buffers;
      for (auto& s : slots_) buffers.push_back(static_cast<float*>(s.raw_data()));
      allreduce_sum_cpu(rank, buffers, t.numel(), barrier_);
    } else if (t.device().is_cpu()) {
      // Every rank sums one chunk of all tensors, in rank order (as allreduce_sum_cpu).
      const std::int64_t n = t.numel(), per = (n + size_ - 1) / size_;
      const std::int64_t lo = std::min(n, rank * per), hi = std::min(n, lo + per);
      visit_dtype(t.dtype(), [&](auto tag) { sum_chunk<decltype(tag)>(slots_, lo, hi); });
    } else if (rank == 0) {
      // Replicas sharing one GPU (or on devices without NCCL): rank 0's
      // stream waits for every rank's input, adds them into its own tensor in
      // rank order, copies the sum back into every rank's tensor, and marks
      // done_[0] for the others.
      NoGradGuard ng;
      const Stream mine = stream_of(t);
      if (!wait_skipped(WaitSite::SumInputsReady))
        for (int r = 1; r < size_; ++r) ready_[r].wait(mine);
      for (int r = 1; r < size_; ++r) slots_[0].add_(slots_[r].to(t.device()));  // a copy if on another device
      for (int r = 1; r < size_; ++r) slots_[r].copy_(slots_[0]);
      done_[0].record(mine);
    }
  }
  barrier_.arrive_and_wait();
  if (size_ > 1 && rank != 0 && !t.device().is_cpu() && !wait_skipped(WaitSite::SumLanded))
    done_[0].wait(stream_of(t));  // the sum has landed
}

void InProcessCommunicator::broadcast(int rank, Tensor& t, int root) {
  MINIDP_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " out of range [0, ", size_, ")");
  publish(rank, t);
  if (rank != root) {
    NoGradGuard ng;
    if (!wait_skipped(WaitSite::BroadcastSourceReady)) ready_[root].wait(stream_of(t));  // the root's value is there ...
    t.copy_(slots_[root]);
    done_[rank].record(stream_of(t));  // ... and the root must not overwrite it before this copy ran
  }
  barrier_.arrive_and_wait();
  if (rank == root && !wait_skipped(WaitSite::BroadcastCopied))
    for (int r = 0; r < size_; ++r)
      if (r != root) done_[r].wait(stream_of(t));
}

void InProcessCommunicator::allgather(int rank, const Tensor& in, Tensor& out) {
  publish(rank, in);
  MINIDP_CHECK(out.dim() >= 1 && out.size(0) == in.size(0) * size_ && out.device() == in.device(),
               "allgather: output ", out.describe(), " must hold ", size_, " x ", in.describe());
  {
    NoGradGuard ng;
    const Stream mine = stream_of(out);
    for (int r = 0; r < size_; ++r) {
      if (r == rank || !wait_skipped(WaitSite::AllgatherInputsReady)) ready_[r].wait(mine);
      out.narrow(0, r * in.size(0), in.size(0)).copy_(slots_[r]);
    }
    done_[rank].record(mine);
  }
  barrier_.arrive_and_wait();
  // No rank may overwrite its input before every other rank has copied it.
  for (int r = 0; r < size_; ++r)
    if (r != rank && !wait_skipped(WaitSite::AllgatherCopied)) done_[r].wait(stream_of(in));
}

std::unique_ptr<Communicator> make_communicator(const std::vector<Device>& devices) {
  MINIDP_CHECK(!devices.empty(), "make_communicator: no devices");
  const bool all_same = std::all_of(devices.begin(), devices.end(), [&](const Device& d) { return d == devices[0]; });
  if (all_same) return std::make_unique<InProcessCommunicator>(static_cast<int>(devices.size()));
  // Devices of one kind that NCCL does not serve (simulated GPUs): rank 0's
  // stream sums, as for replicas that share a device, copying across devices.
  const bool one_kind = std::all_of(devices.begin(), devices.end(), [&](const Device& d) { return d.type == devices[0].type; });
  if (one_kind && !devices[0].is_cpu() && !devices[0].is_cuda())
    return std::make_unique<InProcessCommunicator>(static_cast<int>(devices.size()));
  bool distinct_gpus = true;
  for (std::size_t i = 0; i < devices.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) distinct_gpus = distinct_gpus && devices[i] != devices[j];
  for (auto& d : devices) distinct_gpus = distinct_gpus && d.is_cuda();
  MINIDP_CHECK(distinct_gpus, "make_communicator: replicas must either all share one device or each have a GPU ",
               "of its own (NCCL refuses two ranks on one GPU); mixed lists are not supported");
  return make_nccl_communicator(devices);
}

}  // namespace minidp::parallel
