// minidp/metrics/evaluation.cpp — each replica counts its shard; the counts are merged.
#include "minidp/metrics/evaluation.h"

#include <vector>

#include "minidp/parallel/process_group.h"

namespace minidp::metrics {

Evaluation evaluate(parallel::DataParallel& dp, nn::data::DataLoader& loader, std::int64_t num_classes,
                    const parallel::LossSumFn& loss_fn) {
  std::vector<Evaluation> per_replica(dp.size(), Evaluation{ConfusionMatrix(num_classes), {}});
  for (auto& b : loader) {
    dp.evaluate_batch(b.inputs, b.labels, [&](int rank, const Tensor& logits, const Tensor& labels) {
      per_replica[rank].cm.update_from_logits(logits, labels);
      per_replica[rank].loss.add_sum(loss_fn(logits, labels).item(), labels.size(0));
    });
  }
  Evaluation total{ConfusionMatrix(num_classes), {}};
  for (auto& p : per_replica) {
    total.cm.merge(p.cm);
    total.loss.merge(p.loss);
  }
  if (parallel::ProcessGroup* world = dp.process_group(); world != nullptr && world->distributed()) {
    // Across processes: the counts are summed — integers exactly, the loss sum in double.
    world->allreduce_sum(total.cm.mutable_counts());
    std::vector<double> loss = {total.loss.sum()};
    std::vector<std::int64_t> count = {total.loss.count()};
    world->allreduce_sum(loss);
    world->allreduce_sum(count);
    total.loss.reset();
    total.loss.add_sum(loss[0], count[0]);
  }
  MINIDP_CHECK(total.cm.total() == loader.dataset().size(), "evaluate: counted ", total.cm.total(),
               " samples but the data set has ", loader.dataset().size());
  return total;
}

}  // namespace minidp::metrics
