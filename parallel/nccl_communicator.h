// minidp/parallel/nccl_communicator.h — allreduce across GPUs with NCCL.
//
// One process, one replica per GPU: the communicators of all GPUs are made at
// once with ncclCommInitAll. Or one process per GPU: every process makes its
// own rank with the unique id rank 0 made (carried by MPI). Each rank's
// collectives run on a communication stream fenced by events against the
// caller's stream, so the sum runs on the GPUs while the host goes on. NCCL's
// ring/tree reductions are deterministic for a fixed number of ranks and
// sizes, and give every rank the same bits.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "minidp/parallel/communicator.h"

namespace minidp::parallel {

// All GPUs of this process; rank i drives devices[i]. Raises minidp::Error
// when minidp was built without CUDA/NCCL.
std::unique_ptr<Communicator> make_nccl_communicator(const std::vector<Device>& devices);

// Across processes: rank 0 calls nccl_unique_id(), every rank receives those
// bytes (MPI_Bcast) and makes its own rank of `size` on `device`. A watchdog
// calls `fatal` (which ends the job) when a sum has not completed after
// `timeout_s` or NCCL reports an asynchronous error.
std::string nccl_unique_id();
std::unique_ptr<Communicator> make_nccl_communicator(int rank, int size, const std::string& unique_id,
                                                     const Device& device, double timeout_s,
                                                     std::function<void(const std::string&)> fatal);

}  // namespace minidp::parallel
