// minidp/parallel/replica.h — what a data-parallel replica is, and how a
// global batch is shared among replicas.
//
// A replica is a (device, stream) pair: `cuda:0,cuda:1` puts one replica on
// each GPU; `cuda:0,cuda:0` puts two on one GPU, each on its own stream;
// `cpu,cpu,cpu` makes three CPU replicas, each run by its own host thread.
//
//   auto replicas = parallel::parse_replicas("cpu,cpu");   // or "auto"
//   auto sizes = parallel::shard_sizes(7, 3);              // {3, 2, 2}
#pragma once

#include <string>
#include <vector>

#include "minidp/core/device.h"
#include "minidp/nn/data/sampler.h"

namespace minidp::parallel {

struct Replica {
  int rank = 0;   // its place among the replicas: 0, 1, ... (replica 0 is the original model)
  Device device;
  Stream stream;  // the stream its work is queued on (CPU: a label)
  std::string str() const { return "replica " + std::to_string(rank) + " (" + device.str() + ")"; }
};

// "cpu,cpu", "cuda:0,cuda:1", "cuda:0,cuda:0", or "auto" (every visible GPU,
// else two CPU replicas). Raises minidp::Error for an empty list, an unknown
// device, or a GPU that does not exist. DataParallel gives each GPU replica a
// stream of its own when it takes the list.
std::vector<Replica> parse_replicas(const std::string& list);

// Sizes of the k shards of a batch of n samples, as even as possible: the
// first n % k shards get one sample more. Some are 0 when n < k.
using nn::data::shard_sizes;

}  // namespace minidp::parallel
