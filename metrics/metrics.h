// minidp/metrics/metrics.h — the metrics layer in one include: is the run right, and is it fast?
//
// Quality (all computed from counts that sum across replicas and ranks):
//   ConfusionMatrix, summarize(), accuracy(), precision()/recall()/f1() with
//   macro/micro/weighted averages, TopKAccuracy        metrics/confusion_matrix.h, classification.h
//   BinaryScores (exact ROC/PR, AUC, AP, thresholds)   metrics/binary.h
//   BinnedBinaryScores (fixed-size, summable state)    metrics/binned.h
//   LossMeter (sum and count)                          metrics/loss_meter.h
// Speed and resources (plain C++, times passed in or taken with std::chrono):
//   ThroughputMeter, scaling_efficiency()              metrics/throughput.h
//   StepTimer (data/forward/backward/allreduce/optim.) metrics/step_timer.h
//   MemoryTracker, LoadBalance                         metrics/resources.h
//   evaluate() (sharded over DataParallel's replicas,
//   counts merged, never ratios)                       metrics/evaluation.h
//   TrainingRecorder (DataParallel's step results into
//   the meters above and the epoch loss, no host waits) metrics/training_recorder.h
// Pitfall warnings and reports:
//   check_accuracy_paradox(), find_overlap(), check_overfitting(),
//   check_load_imbalance()                             metrics/pitfalls.h
//   classification_report(), *_json(), JsonlWriter     metrics/report.h
//   metrics_from_files() (labels, predictions, scores
//   in text files: minidp-metrics)                     metrics/text_files.h
//
//   using namespace minidp::metrics;
//   ConfusionMatrix cm(10);
//   cm.update_from_logits(model(x), y);
//   std::cout << classification_report(cm);
//
// The layer depends on core/ only, but for TrainingRecorder, which reads
// parallel/'s StepResult. See docs/metrics.md for what each number
// means and the JSON schema.
#pragma once

#include "minidp/metrics/binary.h"
#include "minidp/metrics/binned.h"
#include "minidp/metrics/classification.h"
#include "minidp/metrics/confusion_matrix.h"
#include "minidp/metrics/evaluation.h"
#include "minidp/metrics/loss_meter.h"
#include "minidp/metrics/pitfalls.h"
#include "minidp/metrics/report.h"
#include "minidp/metrics/resources.h"
#include "minidp/metrics/step_timer.h"
#include "minidp/metrics/text_files.h"
#include "minidp/metrics/throughput.h"
#include "minidp/metrics/training_recorder.h"
