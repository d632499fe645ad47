// minidp/parallel/distributed.cpp — a process's replica and the communicator across processes.
#include "minidp/parallel/distributed.h"

namespace minidp::parallel {

namespace {
Replica replica_of(const ProcessGroup& world, std::optional<Device> device) {
  Replica r;
  r.device = device.value_or(world.default_device());
  r.stream.device = r.device;
  return r;
}
}  // namespace

DistributedDataParallel::DistributedDataParallel(nn::ModulePtr model, const OptimizerFactory& make_optimizer,
                                                 DistributedOptions opts, ProcessGroup& world,
                                                 std::optional<Device> device)
    : DataParallel(std::move(model), replica_of(world, device), make_optimizer, opts, world,
                   make_process_communicator(world, device.value_or(world.default_device()), opts.comm, opts.comm_timeout_s)) {}

}  // namespace minidp::parallel
