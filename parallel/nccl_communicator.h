// minidp/parallel/nccl_communicator.h — allreduce across GPUs with NCCL.
//
// One process, one replica per GPU: the communicators of all GPUs are made at
// once with ncclCommInitAll. Each replica's host thread issues its rank's
// collective on its replica's stream, so the sum runs on the GPUs while the
// host goes on. NCCL's ring/tree reductions are deterministic for a fixed
// number of ranks and sizes.
#pragma once

#include <memory>
#include <vector>

#include "parallel/communicator.h"

namespace minidp::parallel {

// Raises minidp::Error when minidp was built without CUDA/NCCL.
std::unique_ptr<Communicator> make_nccl_communicator(const std::vector<Device>& devices);

}  // namespace minidp::parallel
