// minidp/parallel/mpi_communicator.cpp — Communicator over MPI: reduce-scatter +
// allgather for sums that are the same bits on every rank; GPU tensors staged
// through host memory.
#include "minidp/parallel/mpi_communicator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>

#include "minidp/core/autograd.h"
#include "minidp/core/stream.h"
#include "minidp/parallel/agreement.h"
#include "minidp/parallel/fatal.h"
#include "minidp/parallel/mpi_check.h"
#include "minidp/parallel/process_group_mpi.h"
#include "minidp/parallel/wait_sites.h"

namespace minidp::parallel {

namespace {
MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int32: return MPI_INT32_T;
    case DType::Int64: return MPI_INT64_T;
    case DType::UInt8: return MPI_UINT8_T;
  }
  MINIDP_FAIL("MPI communicator: unsupported dtype ", dtype_name(t));
}

// Runs `fn` on a host tensor holding t's values and writes the result back:
// t itself on the CPU, a staging copy for a GPU tensor (the host waits for
// the device: this is the slow path, for processes that share a GPU).
template <typename F>
void on_host(Tensor& t, bool write_back, F&& fn) {
  if (t.device().is_cpu()) {
    fn(t);
    return;
  }
  NoGradGuard ng;
  Tensor host = t.to(Device::cpu());
  fn(host);
  if (write_back) t.copy_(host);
}
}  // namespace

namespace {
// What a queued collective shares between the caller and the communication thread.
struct JobState {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::exception_ptr error;
  double seconds = 0, begin = 0, end = 0;  // begin/end: steady_seconds()
  Event on_device;  // GPU tensors: recorded after the copy back, on the communication thread's stream
};

class MpiPending : public PendingCollective {
 public:
  MpiPending(std::shared_ptr<JobState> st, Device device, int rank, int size)
      : st_(std::move(st)), device_(device), rank_(rank), size_(size) {}
  void wait(double timeout_s, const std::string& what) override {
    std::unique_lock<std::mutex> lock(st_->mu);
    const bool done = st_->cv.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return st_->done; });
    if (!done) {
      lock.unlock();
      fatal_error("minidp rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": waited " +
                  std::to_string(static_cast<int>(timeout_s)) + " s for " + what +
                  " (MPI) without an answer: another rank is dead or stuck; ending the job");
    }
    if (st_->error) std::rethrow_exception(st_->error);
    if (!device_.is_cpu() && !wait_skipped(WaitSite::MpiSumLanded))
      st_->on_device.wait(current_stream(device_));  // the caller's stream waits, not the host
  }
  double seconds() const override { return st_->seconds; }
  std::pair<double, double> host_span() const override { return {st_->begin, st_->end}; }

 private:
  std::shared_ptr<JobState> st_;
  Device device_;
  int rank_, size_;
};
}  // namespace

struct MpiCommunicator::Mpi {
  MPI_Comm comm = MPI_COMM_NULL;
};

MpiCommunicator::MpiCommunicator(int rank, int size, double timeout_s)
    : rank_(rank), size_(size), timeout_s_(timeout_s), comm_(std::make_unique<Mpi>()) {
  MINIDP_CHECK(size >= 1 && rank >= 0 && rank < size, "MpiCommunicator: rank ", rank, " of ", size);
  MINIDP_CHECK(timeout_s > 0, "MpiCommunicator: the timeout must be positive, got ", timeout_s, " s");
  MINIDP_CHECK(size == 1 || mpi_running(), "MpiCommunicator: ", size, " ranks, but MPI is not initialised (use ",
               "ProcessGroup::world(), which initialises it, or initialise it in the program)");
  if (mpi_running()) open(nullptr);
  worker_ = std::thread([this] { loop(); });
}

MpiCommunicator::MpiCommunicator(const ProcessGroup& group, double timeout_s)
    : rank_(group.rank()), size_(group.size()), timeout_s_(timeout_s), comm_(std::make_unique<Mpi>()) {
  MINIDP_CHECK(timeout_s > 0, "MpiCommunicator: the timeout must be positive, got ", timeout_s, " s");
  if (group.mpi()) open(&group);
  worker_ = std::thread([this] { loop(); });
}

// This communicator's own duplicate of the world's (or the group's)
// communicator, with errors returned; and the collective checks, on for
// every rank if on for any (a check on some ranks only would pair its extra
// allgather with a real collective).
void MpiCommunicator::open(const ProcessGroup* group) {
  if (group != nullptr) MINIDP_MPI_CHECK(MPI_Comm_dup(group->comm_->comm, &comm_->comm));
  else MINIDP_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_->comm));
  MINIDP_MPI_CHECK(MPI_Comm_set_errhandler(comm_->comm, MPI_ERRORS_RETURN));
  int on = collective_checks_enabled() ? 1 : 0;
  MINIDP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &on, 1, MPI_INT, MPI_MAX, comm_->comm));
  checks_ = on != 0;
}

MpiCommunicator::~MpiCommunicator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
  if (comm_->comm != MPI_COMM_NULL && mpi_running()) MPI_Comm_free(&comm_->comm);
}

void MpiCommunicator::loop() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to do
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

std::unique_ptr<PendingCollective> MpiCommunicator::submit(std::function<void()> job, const Tensor& gpu_result) {
  auto st = std::make_shared<JobState>();
  const Device device = gpu_result.defined() ? gpu_result.device() : Device::cpu();
  std::shared_ptr<Event> ready;
  if (!device.is_cpu()) {
    ready = std::make_shared<Event>();
    ready->record(current_stream(device));  // what the caller queued before: the tensor's values
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back([st, ready, device, job = std::move(job)] {
      const auto start = std::chrono::steady_clock::now();
      const double begin = steady_seconds();
      try {
        DeviceGuard g(device);
        if (ready && !wait_skipped(WaitSite::MpiInputsReady))
          ready->synchronize();  // this thread waits for the device, the caller does not
        job();
        if (!device.is_cpu()) st->on_device.record(current_stream(device));
      } catch (...) {
        st->error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(st->mu);
      st->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      st->begin = begin;
      st->end = steady_seconds();
      st->done = true;
      st->cv.notify_all();
    });
  }
  cv_.notify_all();
  return std::make_unique<MpiPending>(st, device, rank_, size_);
}

void MpiCommunicator::run(const std::string& what, std::function<void()> job, const Tensor& gpu_result) {
  submit(std::move(job), gpu_result)->wait(timeout_s_, what);
}

void MpiCommunicator::check(int rank, const Tensor& t, const char* op) const {
  MINIDP_CHECK(rank == rank_, "MPI communicator: ", op, " called as rank ", rank, " in the process of rank ", rank_);
  MINIDP_CHECK(t.defined() && t.is_contiguous(), "MPI communicator: ", op, " expects a contiguous tensor, got ",
               t.defined() ? t.describe() : std::string("an undefined tensor"));
}

// The sum and its two halves, on the host, with t cut into size_ chunks
// (chunk_of; padded with zeros in scratch_ when it does not split evenly):
// `scatter` sums this rank's chunk over the ranks (MPI_Reduce_scatter_block),
// `gather` gives every rank every rank's chunk (MPI_Allgather). Both: the sum.
// A reduce-scatter alone writes back only this rank's chunk summed; an
// allgather alone sends this rank's chunk as it is. The sum of a chunk is the
// same call on the same bytes either way: the same bits, with or without ZeRO-1.
void MpiCommunicator::chunks_on_host(Tensor& t, bool scatter, bool gather) {
  on_host(t, true, [&](Tensor& h) {
    const MPI_Datatype type = mpi_type(h.dtype());
    const std::size_t es = dtype_size(h.dtype());
    const std::int64_t n = h.numel(), chunk = (n + size_ - 1) / size_;
    const std::size_t padded = static_cast<std::size_t>(chunk * size_) * es, chunk_bytes = chunk * es;
    // [padded input | this rank's chunk]; the input is the tensor itself when it splits evenly.
    scratch_.resize(padded + chunk_bytes);
    char* mine = scratch_.data() + padded;
    char* all = static_cast<char*>(h.raw_data());
    if (chunk * size_ != n) {
      std::memcpy(scratch_.data(), all, static_cast<std::size_t>(n) * es);
      std::memset(scratch_.data() + n * es, 0, padded - static_cast<std::size_t>(n) * es);
      all = scratch_.data();
    }
    char* own = all + static_cast<std::size_t>(rank_) * chunk_bytes;  // this rank's chunk in the full buffer
    if (scatter)
      MINIDP_MPI_CHECK(MPI_Reduce_scatter_block(all, mine, static_cast<int>(chunk), type, MPI_SUM, comm_->comm));
    else
      std::memcpy(mine, own, chunk_bytes);
    if (gather)
      MINIDP_MPI_CHECK(MPI_Allgather(mine, static_cast<int>(chunk), type, all, static_cast<int>(chunk), type,
                                     comm_->comm));
    else
      std::memcpy(own, mine, chunk_bytes);
    if (all != h.raw_data()) std::memcpy(h.raw_data(), all, static_cast<std::size_t>(n) * es);
  });
}

std::unique_ptr<PendingCollective> MpiCommunicator::chunks_async(int rank, Tensor& t, Op op) {
  static const char* names[] = {"", "allreduce_sum", "", "", "", "reduce_scatter_sum", "allgather_chunks"};
  check(rank, t, names[static_cast<int>(op)]);
  if (size_ == 1 || t.numel() == 0) return finished_collective();  // nothing to exchange
  const bool scatter = op != Op::AllgatherChunks, gather = op != Op::ReduceScatter;
  const std::uint64_t chunk_bytes = static_cast<std::uint64_t>((t.numel() + size_ - 1) / size_) * dtype_size(t.dtype());
  bytes_sent_ += (scatter + gather) * static_cast<std::uint64_t>(size_ - 1) * chunk_bytes;
  Tensor target = t;  // the handle keeps the storage alive until the job has run
  return submit(
      [this, target, op, scatter, gather]() mutable {
        agree_on(op, target);
        chunks_on_host(target, scatter, gather);
      },
      !t.device().is_cpu() ? t : Tensor());
}

std::unique_ptr<PendingCollective> MpiCommunicator::allreduce_sum_async(int rank, Tensor& t) {
  return chunks_async(rank, t, Op::Sum);
}

std::unique_ptr<PendingCollective> MpiCommunicator::reduce_scatter_sum_async(int rank, Tensor& t) {
  return chunks_async(rank, t, Op::ReduceScatter);
}

std::unique_ptr<PendingCollective> MpiCommunicator::allgather_chunks_async(int rank, Tensor& t) {
  return chunks_async(rank, t, Op::AllgatherChunks);
}

void MpiCommunicator::allreduce_sum(int rank, Tensor& t) {
  allreduce_sum_async(rank, t)->wait(timeout_s_, "a sum (allreduce) of " + t.describe());
}

void MpiCommunicator::broadcast(int rank, Tensor& t, int root) {
  check(rank, t, "broadcast");
  MINIDP_CHECK(root >= 0 && root < size_, "MPI communicator: broadcast root ", root, " out of range [0, ", size_, ")");
  if (size_ == 1 || t.numel() == 0) return;
  if (rank == root) bytes_sent_ += static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype());
  if (!t.device().is_cpu()) synchronize(current_stream(t.device()));  // the slow path: values on the host
  run("a broadcast of " + t.describe() + " from rank " + std::to_string(root), [&] {
    agree_on(Op::Broadcast, t, root);
    on_host(t, rank != root, [&](Tensor& h) {
      MINIDP_MPI_CHECK(MPI_Bcast(h.raw_data(), static_cast<int>(h.numel()), mpi_type(h.dtype()), root, comm_->comm));
    });
  }, !t.device().is_cpu() ? t : Tensor());  // the caller's stream waits for the value written back to the device
}

void MpiCommunicator::allgather(int rank, const Tensor& in, Tensor& out) {
  check(rank, in, "allgather");
  check(rank, out, "allgather");
  MINIDP_CHECK(out.numel() == in.numel() * size_ && out.dtype() == in.dtype() && out.device() == in.device(),
               "MPI communicator: allgather output ", out.describe(), " must hold ", size_, " x ", in.describe());
  if (size_ == 1) {  // one rank: the gathered tensor is its own
    NoGradGuard ng;
    out.copy_(in.reshape(out.shape()));
    return;
  }
  bytes_sent_ += static_cast<std::uint64_t>(size_ - 1) * in.numel() * dtype_size(in.dtype());
  if (!in.device().is_cpu()) synchronize(current_stream(in.device()));
  run("an allgather of " + in.describe(), [&] {
    agree_on(Op::Allgather, in);
    NoGradGuard ng;
    const Tensor src = in.device().is_cpu() ? in : in.to(Device::cpu());
    on_host(out, true, [&](Tensor& h) {
      MINIDP_MPI_CHECK(MPI_Allgather(src.raw_data(), static_cast<int>(src.numel()), mpi_type(src.dtype()),
                                     h.raw_data(), static_cast<int>(src.numel()), mpi_type(src.dtype()),
                                     comm_->comm));
    });
  }, !out.device().is_cpu() ? out : Tensor());  // the caller's stream waits for the gathered values
}

void MpiCommunicator::barrier(int rank) {
  MINIDP_CHECK(rank == rank_, "MPI communicator: barrier called as rank ", rank, " in the process of rank ", rank_);
  if (size_ > 1)
    run("a barrier", [this] {
      agree_on(Op::Barrier, Tensor());
      MINIDP_MPI_CHECK(MPI_Barrier(comm_->comm));
    });
}

void MpiCommunicator::agree_on(Op op, const Tensor& t, int root) {
  const std::uint64_t n = ++collectives_;
  if (!checks_) return;
  const std::int64_t mine[4] = {static_cast<std::int64_t>(op), root, t.defined() ? t.numel() : 0,
                                t.defined() ? static_cast<std::int64_t>(t.dtype()) : -1};
  std::vector<std::int64_t> all(static_cast<std::size_t>(4 * size_));
  MINIDP_MPI_CHECK(MPI_Allgather(mine, 4, MPI_INT64_T, all.data(), 4, MPI_INT64_T, comm_->comm));
  auto describe = [&](int r) {
    const std::int64_t* f = &all[static_cast<std::size_t>(4 * r)];
    static const char* names[] = {"?", "allreduce_sum", "broadcast", "allgather", "barrier", "reduce_scatter_sum",
                                  "allgather_chunks"};
    std::string s = "rank " + std::to_string(r) + " calls " + names[f[0] >= 1 && f[0] <= 6 ? f[0] : 0];
    if (f[0] == static_cast<std::int64_t>(Op::Barrier)) return s;
    s += " of " + std::to_string(f[2]) + " " + (f[3] >= 0 ? dtype_name(static_cast<DType>(f[3])) : "?") + " elements";
    if (f[0] == static_cast<std::int64_t>(Op::Broadcast)) s += " from rank " + std::to_string(f[1]);
    return s;
  };
  std::string diff;
  for (int r = 1; r < size_; ++r)
    if (!std::equal(all.begin() + 4 * r, all.begin() + 4 * r + 4, all.begin())) diff += ", " + describe(r);
  MINIDP_CHECK(diff.empty(), "collective #", n, " across processes differs between ranks: ", describe(0),
               diff, " (collective checks are on: MINIDP_DISTRIBUTED_DEBUG=detail or set_collective_checks)");
}

void MpiCommunicator::abort(const std::string& why) {
  fatal_error("minidp rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " + why);
}

}  // namespace minidp::parallel
