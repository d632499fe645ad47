// minidp/parallel/no_mpi.cpp — the job's processes in a build without MPI: a
// world of one process, where every host-side collective is the identity.
// This is the only file such a build adds; the same programs run, on one process.
#include "minidp/core/error.h"
#include "minidp/parallel/process_group.h"

namespace minidp::parallel {

ProcessGroup& ProcessGroup::world() {
  static ProcessGroup group;
  return group;
}

ProcessGroup::ProcessGroup() = default;
ProcessGroup::ProcessGroup(Part) {}
std::unique_ptr<ProcessGroup> ProcessGroup::first(int k) {
  MINIDP_CHECK(k == 1, "ProcessGroup::first: ", k, " ranks of a group of 1");
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(Part{}));
}
struct ProcessGroup::Mpi {};
ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::allreduce_sum(std::vector<double>&) {}
void ProcessGroup::allreduce_sum(std::vector<std::int64_t>&) {}
void ProcessGroup::allreduce_max(std::vector<double>&) {}
std::vector<std::string> ProcessGroup::gather(const std::string& mine, int) { return {mine}; }
std::vector<std::string> ProcessGroup::allgather(const std::string& mine) { return {mine}; }
void ProcessGroup::broadcast(std::string&, int) {}
void ProcessGroup::barrier() {}

void ProcessGroup::abort(const std::string& what, int code) { fatal_error("minidp rank 0 of 1: " + what, code); }

Device ProcessGroup::default_device() const { return cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu(); }

std::unique_ptr<Communicator> make_process_communicator(ProcessGroup&, const Device&, const std::string& kind,
                                                         double) {
  MINIDP_CHECK(kind == "auto" || kind == "mpi" || kind == "nccl", "make_process_communicator: unknown kind '", kind,
               "'; expected auto, mpi or nccl");
  return std::make_unique<InProcessCommunicator>(1);
}

}  // namespace minidp::parallel
