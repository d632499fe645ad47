// minidp/parallel/process_group.cpp — the job's processes through MPI (built
// when CMake finds MPI; parallel/no_mpi.cpp answers otherwise).
//
// MPI is initialised only when the process was started by a launcher (mpirun
// sets OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE); a program started by hand
// is a world of one and never touches MPI. Errors are returned, not fatal
// (MPI_ERRORS_RETURN), so every call is checked and reported with MPI's own
// message, as minidp::Error.
#include "parallel/process_group.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/nccl_communicator.h"

namespace minidp::parallel {

namespace {
bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

// MPI_Finalize at exit, once, if this process initialised MPI.
struct Finalizer {
  ~Finalizer() {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) MPI_Finalize();
  }
};
}  // namespace

ProcessGroup& ProcessGroup::world() {
  static Finalizer finalizer;  // constructed first: destroyed after the group
  static ProcessGroup group;
  return group;
}

ProcessGroup::ProcessGroup() {
  if (!launched_by_mpirun()) return;  // a world of one
  int init = 0;
  MPI_Initialized(&init);
  if (!init) {
    int provided = 0;
    MINIDP_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
    MINIDP_CHECK(provided >= MPI_THREAD_MULTIPLE, "ProcessGroup: this MPI library provides thread level ", provided,
                 " but minidp needs MPI_THREAD_MULTIPLE (", MPI_THREAD_MULTIPLE,
                 "): gradients are summed on a communication thread while backward runs");
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  mpi_ = true;
  MINIDP_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  MINIDP_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  MPI_Comm node;
  MINIDP_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  MINIDP_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  MINIDP_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  MPI_Comm_free(&node);
}

void ProcessGroup::allreduce_sum(std::vector<double>& v) {
  if (!mpi_ || v.empty()) return;
  MINIDP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM,
                                 MPI_COMM_WORLD));
}

void ProcessGroup::allreduce_sum(std::vector<std::int64_t>& v) {
  if (!mpi_ || v.empty()) return;
  MINIDP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_INT64_T, MPI_SUM,
                                 MPI_COMM_WORLD));
}

void ProcessGroup::allreduce_max(std::vector<double>& v) {
  if (!mpi_ || v.empty()) return;
  MINIDP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_MAX,
                                 MPI_COMM_WORLD));
}

std::vector<std::string> ProcessGroup::gather(const std::string& mine, int root) {
  if (!mpi_) return {mine};
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(rank_ == root ? size_ : 0), offsets;
  MINIDP_MPI_CHECK(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, root, MPI_COMM_WORLD));
  std::string all;
  if (rank_ == root) {
    offsets.assign(size_, 0);
    for (int r = 1; r < size_; ++r) offsets[r] = offsets[r - 1] + lens[r - 1];
    all.resize(static_cast<std::size_t>(offsets.back() + lens.back()));
  }
  MINIDP_MPI_CHECK(MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, root,
                               MPI_COMM_WORLD));
  std::vector<std::string> out;
  if (rank_ == root)
    for (int r = 0; r < size_; ++r) out.push_back(all.substr(offsets[r], lens[r]));
  return out;
}

void ProcessGroup::broadcast(std::string& value, int root) {
  if (!mpi_) return;
  int len = static_cast<int>(value.size());
  MINIDP_MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, root, MPI_COMM_WORLD));
  value.resize(static_cast<std::size_t>(len));
  MINIDP_MPI_CHECK(MPI_Bcast(value.data(), len, MPI_CHAR, root, MPI_COMM_WORLD));
}

void ProcessGroup::barrier() {
  if (mpi_) MINIDP_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
}

void ProcessGroup::abort(const std::string& what, int code) {
  std::fprintf(stderr, "minidp rank %d of %d: %s\n", rank_, size_, what.c_str());
  std::fflush(stderr);
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

Device ProcessGroup::default_device() const {
  const int gpus = cuda_device_count();
  return gpus > 0 ? Device::cuda(local_rank_ % gpus) : Device::cpu();
}

std::unique_ptr<Communicator> make_process_communicator(ProcessGroup& world, const Device& device,
                                                         const std::string& kind, double timeout_s) {
  MINIDP_CHECK(kind == "auto" || kind == "mpi" || kind == "nccl", "make_process_communicator: unknown kind '", kind,
               "'; expected auto, mpi or nccl");
  if (!world.mpi()) return std::make_unique<InProcessCommunicator>(1);  // a world of one
  bool nccl = kind == "nccl";
  if (kind == "auto" && device.is_cuda() && cuda_compiled()) {
    // NCCL needs a GPU of its own on every rank: as many GPUs as processes on every node.
    std::vector<std::int64_t> shared = {world.local_size() > cuda_device_count() ? 1 : 0};
    world.allreduce_sum(shared);
    nccl = shared[0] == 0;
  }
  if (!nccl) return std::make_unique<MpiCommunicator>(world.rank(), world.size(), timeout_s);
  MINIDP_CHECK(device.is_cuda(), "make_process_communicator: NCCL sums GPU tensors, but this rank's device is ",
               device.str(), "; use --comm mpi");
  std::string id = world.rank() == 0 ? nccl_unique_id() : std::string();
  world.broadcast(id, 0);
  return make_nccl_communicator(world.rank(), world.size(), id, device, timeout_s,
                                [&world](const std::string& why) { world.abort(why); });
}

}  // namespace minidp::parallel
