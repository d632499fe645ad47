// minidp/parallel/process_group.cpp — the job's processes through MPI (built
// when CMake finds MPI; parallel/no_mpi.cpp answers otherwise).
//
// MPI is used when the host program initialised it, or when the process was
// started by a launcher (mpirun sets OMPI_COMM_WORLD_SIZE, PMIX_RANK or
// PMI_SIZE; minidp then initialises it); a program started by hand is a world
// of one and never touches MPI. minidp's calls go through its own duplicate
// of the world, whose errors are returned, not fatal (MPI_ERRORS_RETURN), so
// every call is checked and reported with MPI's own message, as minidp::Error.
#include "minidp/parallel/process_group.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "minidp/core/error.h"
#include "minidp/parallel/mpi_check.h"
#include "minidp/parallel/mpi_communicator.h"
#include "minidp/parallel/nccl_communicator.h"
#include "minidp/parallel/process_group_mpi.h"

namespace minidp::parallel {

namespace {
bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

// MPI_Finalize at exit, once — only if minidp initialised MPI (a host program
// that did finalises it itself).
struct Finalizer {
  bool ours = false;
  ~Finalizer() {
    if (ours && mpi_running()) MPI_Finalize();
  }
};
Finalizer& finalizer() {
  static Finalizer f;
  return f;
}
}  // namespace

ProcessGroup::~ProcessGroup() {
  if (comm_ && comm_->comm != MPI_COMM_NULL && mpi_running()) MPI_Comm_free(&comm_->comm);
}

ProcessGroup& ProcessGroup::world() {
  finalizer();  // constructed first: destroyed after the group
  static ProcessGroup group;
  return group;
}

ProcessGroup::ProcessGroup() : comm_(std::make_unique<Mpi>()) {
  int init = 0;
  MPI_Initialized(&init);
  if (!init && !launched_by_mpirun()) return;  // a world of one
  int provided = 0;
  if (!init) {
    MINIDP_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
    finalizer().ours = true;
  } else {
    MINIDP_MPI_CHECK(MPI_Query_thread(&provided));  // the host's MPI: what did it ask for?
  }
  MINIDP_CHECK(provided >= MPI_THREAD_MULTIPLE, "ProcessGroup: MPI was initialised with thread level ", provided,
               " but minidp needs MPI_THREAD_MULTIPLE (", MPI_THREAD_MULTIPLE,
               "): gradients are summed on a communication thread while backward runs",
               init ? "; initialise MPI with MPI_Init_thread(..., MPI_THREAD_MULTIPLE, ...)" : "");
  // minidp's own communicator: its collectives never mix with the host's on
  // MPI_COMM_WORLD, and its error handler is set on it alone.
  MINIDP_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_->comm));
  MINIDP_MPI_CHECK(MPI_Comm_set_errhandler(comm_->comm, MPI_ERRORS_RETURN));
  mpi_ = true;
  MINIDP_MPI_CHECK(MPI_Comm_rank(comm_->comm, &rank_));
  MINIDP_MPI_CHECK(MPI_Comm_size(comm_->comm, &size_));
  MPI_Comm node;
  MINIDP_MPI_CHECK(MPI_Comm_split_type(comm_->comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  MINIDP_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  MINIDP_MPI_CHECK(MPI_Comm_size(node, &local_size_));
  MPI_Comm_free(&node);
}

ProcessGroup::ProcessGroup(Part) : comm_(std::make_unique<Mpi>()) {}

std::unique_ptr<ProcessGroup> ProcessGroup::first(int k) {
  MINIDP_CHECK(k >= 1 && k <= size_, "ProcessGroup::first: ", k, " ranks of a group of ", size_);
  if (!mpi_) return std::unique_ptr<ProcessGroup>(new ProcessGroup(Part{}));  // a world of one
  MPI_Comm part = MPI_COMM_NULL;
  MINIDP_MPI_CHECK(MPI_Comm_split(comm_->comm, rank_ < k ? 0 : MPI_UNDEFINED, rank_, &part));
  if (part == MPI_COMM_NULL) return nullptr;
  std::unique_ptr<ProcessGroup> g(new ProcessGroup(Part{}));
  g->comm_->comm = part;
  MINIDP_MPI_CHECK(MPI_Comm_set_errhandler(part, MPI_ERRORS_RETURN));
  g->mpi_ = true;
  MINIDP_MPI_CHECK(MPI_Comm_rank(part, &g->rank_));
  MINIDP_MPI_CHECK(MPI_Comm_size(part, &g->size_));
  MPI_Comm node;
  MINIDP_MPI_CHECK(MPI_Comm_split_type(part, MPI_COMM_TYPE_SHARED, g->rank_, MPI_INFO_NULL, &node));
  MINIDP_MPI_CHECK(MPI_Comm_rank(node, &g->local_rank_));
  MINIDP_MPI_CHECK(MPI_Comm_size(node, &g->local_size_));
  MPI_Comm_free(&node);
  return g;
}

void ProcessGroup::allreduce_sum(std::vector<double>& v) {
  if (!mpi_ || v.empty()) return;
  MINIDP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM,
                                 comm_->comm));
}

void ProcessGroup::allreduce_sum(std::vector<std::int64_t>& v) {
  if (!mpi_ || v.empty()) return;
  MINIDP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_INT64_T, MPI_SUM,
                                 comm_->comm));
}

void ProcessGroup::allreduce_max(std::vector<double>& v) {
  if (!mpi_ || v.empty()) return;
  MINIDP_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_MAX,
                                 comm_->comm));
}

std::vector<std::string> ProcessGroup::gather(const std::string& mine, int root) {
  if (!mpi_) return {mine};
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(rank_ == root ? size_ : 0), offsets;
  MINIDP_MPI_CHECK(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, root, comm_->comm));
  std::string all;
  if (rank_ == root) {
    offsets.assign(size_, 0);
    for (int r = 1; r < size_; ++r) offsets[r] = offsets[r - 1] + lens[r - 1];
    all.resize(static_cast<std::size_t>(offsets.back() + lens.back()));
  }
  MINIDP_MPI_CHECK(MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, root,
                               comm_->comm));
  std::vector<std::string> out;
  if (rank_ == root)
    for (int r = 0; r < size_; ++r) out.push_back(all.substr(offsets[r], lens[r]));
  return out;
}

std::vector<std::string> ProcessGroup::allgather(const std::string& mine) {
  if (!mpi_) return {mine};
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(size_), offsets(size_, 0);
  MINIDP_MPI_CHECK(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm_->comm));
  for (int r = 1; r < size_; ++r) offsets[r] = offsets[r - 1] + lens[r - 1];
  std::string all(static_cast<std::size_t>(offsets.back() + lens.back()), '\0');
  MINIDP_MPI_CHECK(MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR,
                                  comm_->comm));
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) out.push_back(all.substr(offsets[r], lens[r]));
  return out;
}

void ProcessGroup::broadcast(std::string& value, int root) {
  if (!mpi_) return;
  int len = static_cast<int>(value.size());
  MINIDP_MPI_CHECK(MPI_Bcast(&len, 1, MPI_INT, root, comm_->comm));
  value.resize(static_cast<std::size_t>(len));
  MINIDP_MPI_CHECK(MPI_Bcast(value.data(), len, MPI_CHAR, root, comm_->comm));
}

void ProcessGroup::barrier() {
  if (mpi_) MINIDP_MPI_CHECK(MPI_Barrier(comm_->comm));
}

void ProcessGroup::abort(const std::string& what, int code) {
  fatal_error("minidp rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " + what, code);
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
  if (!nccl) return std::make_unique<MpiCommunicator>(world, timeout_s);
  MINIDP_CHECK(device.is_cuda(), "make_process_communicator: NCCL sums GPU tensors, but this rank's device is ",
               device.str(), "; use --comm mpi");
  std::string id = world.rank() == 0 ? nccl_unique_id() : std::string();
  world.broadcast(id, 0);
  return make_nccl_communicator(world.rank(), world.size(), id, device, timeout_s,
                                [&world](const std::string& why) { world.abort(why); });
}

}  // namespace minidp::parallel
