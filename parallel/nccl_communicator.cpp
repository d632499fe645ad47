// minidp/parallel/nccl_communicator.cpp — the NCCL communicator (compiled in
// CUDA builds only; kernels/cuda/no_cuda.cpp answers for it otherwise).
//
// Two ways to make one: all GPUs of one process at once (ncclCommInitAll; the
// ranks are the process's replicas, each on its own host thread), or one rank
// per process (ncclCommInitRank with the unique id that rank 0 made and MPI
// carried to every process: parallel/process_group.cpp). Either way a rank's
// collectives run on a communication stream of its own, fenced by events: the
// stream waits for the caller's stream (the gradients are ready), NCCL runs,
// and the caller's stream waits for NCCL. The host waits for neither. A real
// stream, never cudaStreamPerThread, which NCCL does not support; and the
// shape a bucketed allreduce overlaps backward with.
//
// Every NCCL call goes through the guard (parallel/watchdog.h): one lock for
// the collectives, the watchdog's error query and the abort, so that
// ncclCommAbort never runs under a call still using the communicator.
#include "minidp/parallel/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <functional>

#include "minidp/core/device.h"
#include "minidp/core/stream.h"
#include "minidp/kernels/cuda/runtime.h"
#include "minidp/parallel/watchdog.h"

#define MINIDP_NCCL_OK(expr)                                                                             \
  do {                                                                                                   \
    ncclResult_t r_ = (expr);                                                                            \
    if (r_ != ncclSuccess)                                                                               \
      MINIDP_FAIL("NCCL error at ", __FILE__, ":", __LINE__, ": ", #expr, " failed: ", ncclGetErrorString(r_)); \
  } while (0)

namespace minidp::parallel {

namespace {
ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::Int32: return ncclInt32;
    case DType::Int64: return ncclInt64;
    case DType::UInt8: return ncclUint8;
  }
  return ncclFloat32;
}

class NcclCommunicator : public Communicator {
 public:
  // All ranks in this process: rank i drives devices[i].
  explicit NcclCommunicator(const std::vector<Device>& devices)
      : devices_(devices), first_rank_(0), size_(static_cast<int>(devices.size())),
        barrier_(static_cast<int>(devices.size())), ready_(devices.size()), done_(devices.size()),
        guard_(std::make_unique<CollectiveWatchdog>(0, size_, 0.0, abort_hooks())) {
    std::vector<int> ids;
    for (auto& d : devices) {
      ids.push_back(d.index);
      streams_.push_back(create_stream(d));
    }
    comms_.resize(devices.size());
    MINIDP_NCCL_OK(ncclCommInitAll(comms_.data(), static_cast<int>(ids.size()), ids.data()));
  }
  // One rank of a job of `size` processes, on `device`. A watchdog thread
  // ends the job through `fatal` when a collective has not completed after
  // `timeout_s` or NCCL reports an asynchronous error (a peer died).
  NcclCommunicator(int rank, int size, const ncclUniqueId& id, const Device& device, double timeout_s,
                   std::function<void(const std::string&)> fatal)
      : devices_{device}, first_rank_(rank), size_(size), barrier_(1), ready_(1), done_(1) {
    streams_.push_back(create_stream(device));
    comms_.resize(1);
    DeviceGuard g(device);
    MINIDP_NCCL_OK(ncclCommInitRank(&comms_[0], size, id, rank));
    WatchdogHooks hooks = abort_hooks();
    hooks.set_device = [index = device.index] { kernels::cuda::set_device(index); };  // no stray context on cuda:0
    hooks.async_error = [this]() -> std::string {
      ncclResult_t async = ncclSuccess;
      if (ncclCommGetAsyncError(comms_[0], &async) == ncclSuccess && async != ncclSuccess)
        return std::string("NCCL: ") + ncclGetErrorString(async);
      return "";
    };
    hooks.fatal = std::move(fatal);
    guard_ = std::make_unique<CollectiveWatchdog>(rank, size, timeout_s, std::move(hooks));
    guard_->start();
  }
  ~NcclCommunicator() override {
    const bool aborted = guard_->aborted();
    guard_.reset();  // the watchdog thread ends before the communicator goes
    if (!aborted)
      for (auto c : comms_) ncclCommDestroy(c);  // aborted communicators are already gone
    for (auto& s : streams_) destroy_stream_noexcept(s);
  }
  int size() const override { return size_; }
  std::string name() const override { return "NCCL"; }

  void allreduce_sum(int rank, Tensor& t) override {
    const int l = local(rank, t);
    Fence f(*this, l);
    guard_->call([&] {
      MINIDP_NCCL_OK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()),
                                   nccl_type(t.dtype()), ncclSum, comms_[l], f.stream));
    });
  }
  // On the communication stream, after the caller's stream's work so far;
  // the caller's stream goes on with other work (the rest of backward) and
  // waits for the sum only in wait().
  std::unique_ptr<PendingCollective> allreduce_sum_async(int rank, Tensor& t) override {
    const int l = local(rank, t);
    DeviceGuard g(devices_[l]);
    const Stream caller = current_stream(devices_[l]);
    Event ready;
    ready.record(caller);
    ready.wait(streams_[l]);
    guard_->call([&] {
      MINIDP_NCCL_OK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()),
                                   nccl_type(t.dtype()), ncclSum, comms_[l],
                                   static_cast<cudaStream_t>(kernels::cuda::native_stream(streams_[l].handle))));
    });
    auto done = std::make_shared<Event>();
    done->record(streams_[l]);
    guard_->watch([done] { return done->query(); }, "a sum (allreduce, NCCL) of " + t.describe());
    return std::make_unique<Pending>(done, devices_[l]);
  }
  void broadcast(int rank, Tensor& t, int root) override {
    const int l = local(rank, t);
    Fence f(*this, l);
    guard_->call([&] {
      MINIDP_NCCL_OK(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()),
                                   nccl_type(t.dtype()), root, comms_[l], f.stream));
    });
  }
  void allgather(int rank, const Tensor& in, Tensor& out) override {
    const int l = local(rank, in);
    local(rank, out);
    Fence f(*this, l);
    guard_->call([&] {
      MINIDP_NCCL_OK(ncclAllGather(in.raw_data(), out.raw_data(), static_cast<size_t>(in.numel()),
                                   nccl_type(in.dtype()), comms_[l], f.stream));
    });
  }
  // Waiting for an asynchronous sum is a stream waiting on its event: the host goes on.
  struct Pending : PendingCollective {
    Pending(std::shared_ptr<Event> e, Device d) : done(std::move(e)), device(d) {}
    void wait(double, const std::string&) override { done->wait(current_stream(device)); }  // the watchdog times out
    std::shared_ptr<Event> done;
    Device device;
  };
  // In-process ranks meet at a host barrier; across processes the stream
  // order of the collectives is the barrier.
  void barrier(int /*rank*/) override { barrier_.arrive_and_wait(); }
  void abort(const std::string& why) override {
    barrier_.abort(why);
    guard_->abort(why);  // ncclCommAbort once, never under another NCCL call
  }

 private:
  // The index of `rank` among this process's ranks, after checking the tensor.
  int local(int rank, const Tensor& t) const {
    MINIDP_CHECK(!guard_->aborted(), "NCCL communicator: aborted after an error in an earlier step; NCCL ",
                 "communicators cannot be reused after ncclCommAbort — create a new one");
    const int l = rank - first_rank_;
    MINIDP_CHECK(l >= 0 && l < static_cast<int>(devices_.size()), "NCCL communicator: rank ", rank,
                 " is not one of this process's ranks");
    MINIDP_CHECK(t.device() == devices_[l] && t.is_contiguous(), "NCCL communicator: rank ", rank,
                 " expects a contiguous tensor on ", devices_[l].str(), ", got ", t.describe());
    return l;
  }
  // Queues a collective of local rank `l` on its communication stream, after
  // the caller's stream's work; the caller's stream waits for it when the scope ends.
  struct Fence {
    Fence(NcclCommunicator& c, int local_rank)
        : comm(c), l(local_rank), guard(c.devices_[local_rank]), caller(current_stream(c.devices_[local_rank])),
          stream(static_cast<cudaStream_t>(kernels::cuda::native_stream(c.streams_[local_rank].handle))) {
      comm.ready_[l].record(caller);
      comm.ready_[l].wait(comm.streams_[l]);
    }
    ~Fence() {
      try {
        comm.done_[l].record(comm.streams_[l]);
        comm.done_[l].wait(caller);
      } catch (...) {
        // the collective's own error (raised by the call) is the one to report
      }
    }
    NcclCommunicator& comm;
    int l;
    DeviceGuard guard;
    Stream caller;
    cudaStream_t stream;
  };
  std::vector<Device> devices_;  // this process's ranks' devices
  int first_rank_, size_;        // global rank of devices_[0]; ranks in the job
  std::vector<Stream> streams_;  // one communication stream per local rank
  std::vector<ncclComm_t> comms_;
  AbortableBarrier barrier_;
  std::vector<Event> ready_, done_;
  std::unique_ptr<CollectiveWatchdog> guard_;  // the NCCL lock, the abort, and (one rank per process) the watchdog

  // ncclCommAbort on every communicator of this process (called once, under the guard's lock).
  WatchdogHooks abort_hooks() {
    WatchdogHooks h;
    h.abort_comm = [this] {
      for (auto c : comms_) ncclCommAbort(c);
    };
    return h;
  }
};
}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const std::vector<Device>& devices) {
  return std::make_unique<NcclCommunicator>(devices);
}

std::string nccl_unique_id() {
  ncclUniqueId id;
  MINIDP_NCCL_OK(ncclGetUniqueId(&id));
  return std::string(id.internal, sizeof(id.internal));
}

std::unique_ptr<Communicator> make_nccl_communicator(int rank, int size, const std::string& unique_id,
                                                     const Device& device, double timeout_s,
                                                     std::function<void(const std::string&)> fatal) {
  ncclUniqueId id;
  MINIDP_CHECK(unique_id.size() == sizeof(id.internal), "make_nccl_communicator: the unique id has ",
               unique_id.size(), " bytes; expected ", sizeof(id.internal), " (from nccl_unique_id on rank 0)");
  std::memcpy(id.internal, unique_id.data(), sizeof(id.internal));
  check_device_available(device);
  return std::make_unique<NcclCommunicator>(rank, size, id, device, timeout_s, std::move(fatal));
}

}  // namespace minidp::parallel
