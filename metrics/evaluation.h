// minidp/metrics/evaluation.h — sharded evaluation over a data-parallel model.
//
// Each replica runs its shard of every test batch (DataParallel::evaluate_batch:
// every sample exactly once, no padding) and counts what it saw into its own
// confusion matrix and loss sum; the counts are then added up — and, for
// DistributedDataParallel, summed across the processes (each loaded its part
// of the test set with parallel::DistributedSampler). Accuracy,
// precision, recall and the mean loss are computed once, from the merged
// counts — never as an average of the replicas' ratios, which would weigh a
// replica with 3 samples like one with 300.
//
//   metrics::Evaluation ev = metrics::evaluate(dp, test_loader, /*num_classes=*/10);
//   std::printf("accuracy %.4f, loss %.4f\n", metrics::accuracy(ev.cm), ev.loss.mean());
#pragma once

#include <cstdint>

#include "minidp/metrics/confusion_matrix.h"
#include "minidp/metrics/loss_meter.h"
#include "minidp/nn/data/loader.h"
#include "minidp/parallel/data_parallel.h"

namespace minidp::metrics {

struct Evaluation {
  ConfusionMatrix cm;
  LossMeter loss;  // sum of per-sample losses, and the sample count
};

// One pass over `loader` (its next epoch). Raises minidp::Error if the
// samples counted differ from the loader's data set (a sharding bug).
Evaluation evaluate(parallel::DataParallel& dp, nn::data::DataLoader& loader, std::int64_t num_classes,
                    const parallel::LossSumFn& loss_fn = parallel::cross_entropy_sum);

}  // namespace minidp::metrics
