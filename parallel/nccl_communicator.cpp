// minidp/parallel/nccl_communicator.cpp — the NCCL communicator (compiled in
// CUDA builds only; kernels/cuda/no_cuda.cpp answers for it otherwise).
#include "parallel/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>

#include "core/device.h"
#include "core/stream.h"
#include "kernels/cuda/runtime.h"

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

// Each rank's collectives run on a communication stream of its own, fenced
// by events: the stream waits for the caller's stream (the gradients are
// ready), NCCL runs, and the caller's stream waits for NCCL. The host waits
// for neither. A real stream, never cudaStreamPerThread, which NCCL does not
// support; and the same shape a later bucketed allreduce overlaps backward with.
class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(const std::vector<Device>& devices)
      : devices_(devices), barrier_(static_cast<int>(devices.size())), ready_(devices.size()), done_(devices.size()) {
    std::vector<int> ids;
    for (auto& d : devices) {
      ids.push_back(d.index);
      streams_.push_back(create_stream(d));
    }
    comms_.resize(devices.size());
    MINIDP_NCCL_OK(ncclCommInitAll(comms_.data(), static_cast<int>(ids.size()), ids.data()));
  }
  ~NcclCommunicator() override {
    if (!aborted_)
      for (auto c : comms_) ncclCommDestroy(c);  // aborted communicators are already gone
    for (auto& s : streams_) destroy_stream_noexcept(s);
  }
  int size() const override { return static_cast<int>(devices_.size()); }
  std::string name() const override { return "NCCL"; }

  void allreduce_sum(int rank, Tensor& t) override {
    check(rank, t);
    Fence f(*this, rank);
    MINIDP_NCCL_OK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                                 ncclSum, comms_[rank], f.stream));
  }
  void broadcast(int rank, Tensor& t, int root) override {
    check(rank, t);
    Fence f(*this, rank);
    MINIDP_NCCL_OK(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                                 root, comms_[rank], f.stream));
  }
  void allgather(int rank, const Tensor& in, Tensor& out) override {
    check(rank, in);
    check(rank, out);
    Fence f(*this, rank);
    MINIDP_NCCL_OK(ncclAllGather(in.raw_data(), out.raw_data(), static_cast<size_t>(in.numel()),
                                 nccl_type(in.dtype()), comms_[rank], f.stream));
  }
  void barrier(int /*rank*/) override { barrier_.arrive_and_wait(); }
  void abort(const std::string& why) override {
    barrier_.abort(why);
    if (aborted_.exchange(true)) return;
    for (auto c : comms_) ncclCommAbort(c);
  }

 private:
  void check(int rank, const Tensor& t) const {
    MINIDP_CHECK(!aborted_, "NCCL communicator: aborted after an error in an earlier step; NCCL communicators ",
                 "cannot be reused after ncclCommAbort — create a new DataParallel");
    MINIDP_CHECK(rank >= 0 && rank < size(), "NCCL communicator: rank ", rank, " out of range");
    MINIDP_CHECK(t.device() == devices_[rank] && t.is_contiguous(), "NCCL communicator: rank ", rank,
                 " expects a contiguous tensor on ", devices_[rank].str(), ", got ", t.describe());
  }
  // Queues a collective of `rank` on its communication stream, after the
  // caller's stream's work; the caller's stream waits for it when the scope ends.
  struct Fence {
    Fence(NcclCommunicator& c, int rank)
        : comm(c), r(rank), guard(c.devices_[rank]), caller(current_stream(c.devices_[rank])),
          stream(static_cast<cudaStream_t>(kernels::cuda::native_stream(c.streams_[rank].handle))) {
      comm.ready_[r].record(caller);
      comm.ready_[r].wait(comm.streams_[r]);
    }
    ~Fence() {
      try {
        comm.done_[r].record(comm.streams_[r]);
        comm.done_[r].wait(caller);
      } catch (...) {
        // the collective's own error (raised by the call) is the one to report
      }
    }
    NcclCommunicator& comm;
    int r;
    DeviceGuard guard;
    Stream caller;
    cudaStream_t stream;
  };
  std::vector<Device> devices_;
  std::vector<Stream> streams_;  // one communication stream per rank
  std::vector<ncclComm_t> comms_;
  AbortableBarrier barrier_;
  std::vector<Event> ready_, done_;
  std::atomic<bool> aborted_{false};
};
}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const std::vector<Device>& devices) {
  return std::make_unique<NcclCommunicator>(devices);
}

}  // namespace minidp::parallel
