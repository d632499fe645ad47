// minidp/parallel/data_parallel_eval.cpp — DataParallel's sharded evaluation
// and the checks that replicas agree (the step itself is data_parallel.cpp).
#include <cstdint>
#include <functional>
#include <vector>

#include "minidp/core/autograd.h"
#include "minidp/core/stream.h"
#include "minidp/parallel/data_parallel.h"
#include "minidp/parallel/shards.h"

namespace minidp::parallel {

using detail::plan_shards;
using detail::Shards;

// ---------------------------------------------------------------- evaluation
std::vector<std::int64_t> DataParallel::evaluate_batch(const Tensor& inputs, const Tensor& labels,
                                                       const std::function<void(int, const Tensor&, const Tensor&)>& fn) {
  const Shards shards = plan_shards("DataParallel::evaluate_batch", inputs, labels, size());
  if (auto* inproc = dynamic_cast<InProcessCommunicator*>(comm_.get())) inproc->reset();
  fence_caller(inputs, labels);
  auto events = take_events();  // only their end events: the caller's stream waits for the replicas
  pool_->run([&](int rank) {
    const Replica& r = replicas_[rank];
    DeviceGuard dg(r.device);
    StreamGuard sg(r.stream);
    NoGradGuard ng;
    wait_for_caller(r.stream);
    struct End {  // recorded however this replica leaves (an empty shard returns early)
      Event& e;
      const Stream& s;
      ~End() {
        try {
          e.record(s);
        } catch (...) {
        }
      }
    } end{events->end(rank), r.stream};
    nn::Module& m = *modules_[rank];
    broadcast_buffers(rank);  // every replica evaluates with replica 0's running statistics
    if (shards.size[rank] == 0) return;
    struct EvalMode {  // back to training mode however we leave
      nn::Module& m;
      explicit EvalMode(nn::Module& mod) : m(mod) { m.eval(); }
      ~EvalMode() { m.train(); }
    } mode(m);
    fn(rank, m.forward(shards.rows(inputs, rank).to(r.device)), shards.rows(labels, rank).to(r.device));
  });
  release_to_caller(*events);
  return shards.size;
}

void DataParallel::broadcast_buffers(int rank) {
  if (comm_->size() == 1) return;
  NoGradGuard ng;
  for (auto& [name, b] : modules_[rank]->named_buffers()) {
    Tensor c = b;
    comm_->broadcast(comm_rank(rank), c, 0);
  }
}

std::uint64_t DataParallel::parameter_hash(int rank) const {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  // The copies go on the caller's stream, which every step leaves ordered
  // after the replicas' updates (release_to_caller), as every read of a
  // weight by the caller is.
  DeviceGuard dg(replicas_.at(rank).device);
  for (auto& [name, t] : modules_.at(rank)->named_parameters()) {
    Tensor c = t.detach().to(Device::cpu()).contiguous();
    const auto* p = static_cast<const unsigned char*>(c.raw_data());
    const std::size_t n = static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype());
    for (std::size_t k = 0; k < n; ++k) h = (h ^ p[k]) * 1099511628211ull;
  }
  return h;
}

bool DataParallel::replicas_identical() const {
  const std::uint64_t h0 = parameter_hash(0);
  for (int rank = 1; rank < size(); ++rank)
    if (parameter_hash(rank) != h0) return false;
  return true;
}

}  // namespace minidp::parallel
