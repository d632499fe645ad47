// examples/imbalanced.cpp — the accuracy paradox, for real.
//
// Fashion-MNIST as a binary task: "Bag" (class 8, 10% of the images) against
// everything else. A model that never says "Bag" is 90% accurate and useless;
// this program shows why accuracy alone lies, and what tells the truth:
//   1. the majority baseline: 90% accuracy, recall 0 (the paradox warning fires);
//   2. logistic regression (Linear 784 -> 1, BCE with logits), data-parallel;
//      accuracy, precision, recall, F1, ROC-AUC and average precision;
//   3. a threshold sweep: trading precision for recall, and the threshold
//      that reaches a required recall;
//   4. pos_weight = n_negative / n_positive: the loss counts each positive as
//      nine, which moves the operating point towards recall.
//
//   ./imbalanced [--epochs 3] [--devices cpu,cpu] [--json imbalanced.json]
#include "flags.h"

#include <cstdio>
#include <fstream>

#include "minidp/minidp.h"
#include "guarded_main.h"  // one clear line and exit status 1 for any error

using namespace minidp;

namespace {

struct BinaryRun {
  metrics::ConfusionMatrix cm{2};
  metrics::BinaryScores scores;
};

// Labels 0..9 -> 1 for the positive class, 0 otherwise.
Tensor to_binary(const Tensor& labels, std::int64_t positive) {
  return eq(labels, full({}, static_cast<double>(positive), labels.options()));
}

BinaryRun train_and_score(const nn::data::Dataset& train, const nn::data::Dataset& test, std::int64_t positive,
                          const std::string& devices, int epochs, double lr, double pos_weight,
                          std::uint64_t seed) {
  manual_seed(seed);
  auto model = std::make_shared<nn::Sequential>(
      std::vector<nn::ModulePtr>{std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 1)});
  parallel::DataParallel dp(model, parallel::parse_replicas(devices), [&](std::vector<Tensor> ps) {
    return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = lr, .momentum = 0.9});
  });
  const Tensor pw = pos_weight > 0 ? full({1}, pos_weight) : Tensor();
  // Each replica's loss: the SUM of the per-sample BCE over its shard.
  auto loss_sum = [&](const Tensor& logits, const Tensor& labels) {
    const Tensor target = to_binary(labels, positive).to(kFloat32).reshape({-1, 1});
    return binary_cross_entropy_with_logits(logits, target, pw.defined() ? pw.to(logits.device()) : pw,
                                            Reduction::Sum);
  };
  nn::data::DataLoaderOptions lo;
  lo.batch_size = 128;
  lo.seed = seed;
  lo.transform = nn::data::Transform::fashion_mnist();
  nn::data::DataLoader loader(train, lo);
  metrics::TrainingRecorder rec(dp);
  for (int e = 0; e < epochs; ++e) {
    rec.start_epoch();
    for (auto& b : loader) rec.record(dp.train_step(b.inputs, b.labels, loss_sum));
    std::printf("    epoch %d  train BCE %.4f\n", e + 1, rec.mean_loss());  // the one read of the loss
  }
  // Sharded evaluation: per-replica score lists and confusion matrices, merged.
  nn::data::DataLoaderOptions eo;
  eo.batch_size = 1000;
  eo.shuffle = false;
  eo.transform = lo.transform;
  nn::data::DataLoader test_loader(test, eo);
  std::vector<BinaryRun> per(dp.size());
  for (auto& b : test_loader)
    dp.evaluate_batch(b.inputs, b.labels, [&](int r, const Tensor& logits, const Tensor& labels) {
      const Tensor y = to_binary(labels, positive);
      per[r].scores.update(metrics::positive_scores(logits), y.to_vector<std::int64_t>());
      per[r].cm.update(gt(sigmoid(logits.reshape({-1})), 0.5 - 1e-12).to(kInt64), y);  // score >= 0.5
    });
  BinaryRun all;
  for (auto& p : per) {
    all.cm.merge(p.cm);
    all.scores.merge(p.scores);
  }
  return all;
}

void print_summary(const char* title, const metrics::ConfusionMatrix& cm, const metrics::BinaryScores* scores,
                   const std::vector<std::string>& names) {
  metrics::ParadoxOptions po;
  po.positive_class = 1;
  po.class_names = names;
  const auto p = metrics::precision(cm), r = metrics::recall(cm), f = metrics::f1(cm);
  std::printf("\n== %s\n", title);
  std::printf("  accuracy %.4f (majority baseline %.4f)  precision %.4f  recall %.4f  F1 %.4f", metrics::accuracy(cm),
              metrics::majority_baseline_accuracy(cm), p.per_class[1], r.per_class[1], f.per_class[1]);
  if (scores) std::printf("  ROC-AUC %.4f  AP %.4f", scores->roc_auc(), scores->average_precision());
  std::printf("\n");
  for (auto& w : metrics::check_class_recall(cm, po)) std::printf("  WARNING (%s): %s\n", w.kind.c_str(), w.message.c_str());
}

}  // namespace

int run(int argc, char** argv) {
  examples::Flags flags{"The accuracy paradox on Fashion-MNIST: Bag (class 8) vs the rest"};
  std::string dir = nn::data::kFashionMnistDir, devices = "cpu", json_path;
  int epochs = 3;
  double lr = 0.01;
  std::int64_t positive = 8;
  std::uint64_t seed = 0;
  flags.add("--data", dir, "folder with the Fashion-MNIST .gz files").show_default();
  flags.add("--epochs", epochs, "epochs of logistic regression").show_default();
  flags.add("--lr", lr, "SGD learning rate (momentum 0.9)").show_default();
  flags.add("--devices", devices, "replicas, e.g. cpu,cpu").show_default();
  flags.add("--positive-class", positive, "the rare class").show_default().range(0, 9);
  flags.add("--seed", seed, "seed").show_default();
  flags.add("--json", json_path, "write the results as JSON");
  if (const int rc = flags.parse(argc, argv); rc >= 0) return rc;
  try {
    const nn::data::Dataset train = nn::data::fashion_mnist(dir, nn::data::Split::Train);
    const nn::data::Dataset test = nn::data::fashion_mnist(dir, nn::data::Split::Test);
    const auto counts = train.label_counts();
    const std::int64_t n_pos = counts.at(positive), n_neg = train.size() - n_pos;
    const std::vector<std::string> names{"rest", nn::data::fashion_mnist_classes().at(positive)};  // e.g. "Bag"
    std::printf("Fashion-MNIST, class %lld vs the rest: %lld positives / %lld negatives in training (%.1f%%)\n",
                static_cast<long long>(positive), static_cast<long long>(n_pos), static_cast<long long>(n_neg),
                100.0 * n_pos / train.size());

    // 1. the majority baseline: always "not a bag"
    metrics::ConfusionMatrix baseline(2);
    const auto y_test = to_binary(test.labels, positive).to_vector<std::int64_t>();
    baseline.update(std::vector<std::int64_t>(y_test.size(), 0), y_test);
    print_summary("majority baseline: always predict negative", baseline, nullptr, names);

    // 2. logistic regression
    std::printf("\n  training logistic regression (BCE with logits) on %s ...\n", devices.c_str());
    BinaryRun plain = train_and_score(train, test, positive, devices, epochs, lr, 0.0, seed);
    print_summary("logistic regression, threshold 0.5", plain.cm, &plain.scores, names);
    metrics::ReportOptions ro;
    ro.class_names = names;
    ro.paradox.positive_class = 1;
    std::printf("%s", metrics::classification_report(plain.cm, ro).c_str());

    // 3. threshold sweep on the same scores
    std::printf("\n== threshold sweep (same model): precision traded for recall\n");
    std::printf("  %9s %10s %8s %8s %6s %6s\n", "threshold", "precision", "recall", "F1", "FP", "FN");
    const auto roc_scores = plain.scores.scores();
    for (double t : {0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05}) {
      metrics::ConfusionMatrix cm(2);
      std::vector<std::int64_t> pred(roc_scores.size());
      for (std::size_t i = 0; i < pred.size(); ++i) pred[i] = roc_scores[i] >= t ? 1 : 0;
      cm.update(pred, plain.scores.labels());
      std::printf("  %9.2f %10.4f %8.4f %8.4f %6lld %6lld\n", t, metrics::precision(cm).per_class[1],
                  metrics::recall(cm).per_class[1], metrics::f1(cm).per_class[1],
                  static_cast<long long>(cm.false_positives(1)), static_cast<long long>(cm.false_negatives(1)));
    }
    for (double want : {0.95, 0.99}) {
      auto op = plain.scores.threshold_for_recall(want);
      if (op)
        std::printf("  recall >= %.2f needs threshold <= %.4f: precision %.4f, recall %.4f\n", want, op->threshold,
                    op->precision, op->recall);
    }

    // 4. pos_weight
    const double pw = static_cast<double>(n_neg) / static_cast<double>(n_pos);
    std::printf("\n  training again with pos_weight = %.2f (n_negative / n_positive) ...\n", pw);
    BinaryRun weighted = train_and_score(train, test, positive, devices, epochs, lr, pw, seed);
    print_summary("logistic regression with pos_weight, threshold 0.5", weighted.cm, &weighted.scores, names);

    if (!json_path.empty()) {
      // The trained model's report at the top level (with its ROC and PR
      // curves, for tools/plot_metrics.py); the baseline and the pos_weight
      // model beside it.
      auto summary = [&ro](const metrics::ConfusionMatrix& cm, const metrics::BinaryScores* s) {
        nlohmann::json j = metrics::classification_json(cm, ro);  // its warnings name the classes
        if (s) j.update(metrics::binary_json(*s));
        return j;
      };
      nlohmann::json j = summary(plain.cm, &plain.scores);
      j["positive_class"] = positive;
      j["baseline"] = summary(baseline, nullptr);
      j["pos_weight"] = pw;
      j["with_pos_weight"] = summary(weighted.cm, &weighted.scores);
      std::ofstream(json_path) << j.dump(2) << "\n";
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) { return minidp::examples::guarded_main("imbalanced", run, argc, argv); }
