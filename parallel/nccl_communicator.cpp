// minidp/parallel/nccl_communicator.cpp — the NCCL communicator (CUDA builds only).
#include "parallel/nccl_communicator.h"

#if MINIDP_WITH_CUDA
#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>

#include "core/device.h"
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

class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(const std::vector<Device>& devices) : devices_(devices), barrier_(static_cast<int>(devices.size())) {
    std::vector<int> ids;
    for (auto& d : devices) ids.push_back(d.index);
    comms_.resize(devices.size());
    MINIDP_NCCL_OK(ncclCommInitAll(comms_.data(), static_cast<int>(ids.size()), ids.data()));
  }
  ~NcclCommunicator() override {
    if (!aborted_)
      for (auto c : comms_) ncclCommDestroy(c);  // aborted communicators are already gone
  }
  int size() const override { return static_cast<int>(devices_.size()); }
  std::string name() const override { return "NCCL"; }

  void allreduce_sum(int rank, Tensor& t) override {
    check(rank, t);
    DeviceGuard g(devices_[rank]);
    MINIDP_NCCL_OK(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                                 ncclSum, comms_[rank], stream(rank)));
  }
  void broadcast(int rank, Tensor& t, int root) override {
    check(rank, t);
    DeviceGuard g(devices_[rank]);
    MINIDP_NCCL_OK(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                                 root, comms_[rank], stream(rank)));
  }
  void allgather(int rank, const Tensor& in, Tensor& out) override {
    check(rank, in);
    check(rank, out);
    DeviceGuard g(devices_[rank]);
    MINIDP_NCCL_OK(ncclAllGather(in.raw_data(), out.raw_data(), static_cast<size_t>(in.numel()),
                                 nccl_type(in.dtype()), comms_[rank], stream(rank)));
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
  // The replica's stream; a null handle means the thread's per-thread default
  // stream (what minidp's kernels use), not the legacy stream 0.
  cudaStream_t stream(int rank) const {
    return static_cast<cudaStream_t>(kernels::cuda::native_stream(current_stream(devices_[rank]).handle));
  }
  std::vector<Device> devices_;
  std::vector<ncclComm_t> comms_;
  AbortableBarrier barrier_;
  std::atomic<bool> aborted_{false};
};
}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const std::vector<Device>& devices) {
  return std::make_unique<NcclCommunicator>(devices);
}

}  // namespace minidp::parallel

#else

namespace minidp::parallel {
std::unique_ptr<Communicator> make_nccl_communicator(const std::vector<Device>& devices) {
  MINIDP_FAIL("NCCL communicator for ", devices.size(), " GPUs requested, but minidp was built without CUDA/NCCL");
}
}  // namespace minidp::parallel

#endif
