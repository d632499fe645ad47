// Console report (sklearn's layout) and the JSON / JSONL schema of docs/metrics.md.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "minidp/metrics/metrics.h"

using namespace minidp;
using namespace minidp::metrics;
using nlohmann::json;
using doctest::Approx;

namespace {
ConfusionMatrix example() {
  ConfusionMatrix cm(3);
  cm.update(std::vector<std::int64_t>{0, 0, 2, 2, 1}, std::vector<std::int64_t>{0, 1, 2, 2, 2});
  return cm;
}
}  // namespace

TEST_CASE("report: the classification report has sklearn's rows and numbers") {
  ReportOptions o;
  o.digits = 2;
  const std::string r = classification_report(example(), o);
  // Lines copied from sklearn.metrics.classification_report([0,1,2,2,2], [0,0,2,2,1]).
  CHECK(r.find("              precision    recall  f1-score   support\n\n") != std::string::npos);
  CHECK(r.find("           0       0.50      1.00      0.67         1\n") != std::string::npos);
  CHECK(r.find("           2       1.00      0.67      0.80         3\n") != std::string::npos);
  CHECK(r.find("    accuracy                           0.60         5\n") != std::string::npos);
  CHECK(r.find("   macro avg       0.50      0.56      0.49         5\n") != std::string::npos);
  CHECK(r.find("weighted avg       0.70      0.60      0.61         5\n") != std::string::npos);
  CHECK(r.find("majority-class baseline accuracy 0.60") != std::string::npos);
  CHECK(r.find("confusion matrix") != std::string::npos);
  // Class 1 (one sample) is never found: 0.556 below the mean recall, and the one warning.
  CHECK(r.find("\nWARNING: low recall: class 1 has recall 0.000 (0 of 1 found, precision 0.000), 0.556 below the "
               "mean recall 0.556 of the 3 classes; always predicting the majority class 2 (60.0% of the samples) "
               "would score 0.600, accuracy is 0.600\n") != std::string::npos);
  CHECK(r.find("WARNING") == r.rfind("WARNING"));

  ConfusionMatrix rare(2);
  rare.add(0, 0, 98);
  rare.add(1, 0, 2);
  ReportOptions names;
  names.class_names = {"healthy", "sick"};
  const std::string w = classification_report(rare, names);
  // The warning names the class by its name, with its numbers.
  CHECK(w.find("WARNING: accuracy paradox: accuracy 0.980 looks high, but class sick has recall 0.000 (0 of 2 "
               "found, never predicted); always predicting the majority class healthy (98.0% of the samples) would "
               "score 0.980, balanced accuracy is 0.500\n") != std::string::npos);
  CHECK(w.find("always predicting healthy") != std::string::npos);
  CHECK(classification_json(rare, names)["warnings"][0]["kind"] == "accuracy_paradox");
  CHECK_THROWS_AS(classification_report(rare, [] { ReportOptions x; x.class_names = {"a"}; return x; }()), Error);
}

TEST_CASE("report: classification JSON schema, NaN written as null") {
  ReportOptions o;
  o.zero_division = ZeroDivision::NaN;
  ConfusionMatrix cm(3);
  cm.update(std::vector<std::int64_t>{0, 0, 0}, std::vector<std::int64_t>{0, 1, 0});  // class 1 never predicted
  const json j = classification_json(cm, o);
  CHECK(j["num_classes"] == 3);
  CHECK(j["support"] == 3);
  CHECK(j["accuracy"].get<double>() == Approx(2.0 / 3));
  CHECK(j["precision"]["per_class"][1].is_null());
  CHECK(j["precision"]["per_class"][2].is_null());
  CHECK(j["precision"]["macro"].get<double>() == Approx(2.0 / 3));
  for (const char* k : {"macro", "micro", "weighted", "per_class"}) {
    CHECK(j["recall"].contains(k));
    CHECK(j["f1"].contains(k));
  }
  CHECK(j["confusion_matrix"] == json::parse("[[2,0,0],[1,0,0],[0,0,0]]"));
  CHECK(j["zero_division"] == "nan");
  CHECK(j["ignore_index"].is_null());
  CHECK(j["warnings"].is_array());
  CHECK(j.dump().find("NaN") == std::string::npos);
  CHECK(json_number(NAN).is_null());
  CHECK(json_number(INFINITY).is_null());
}

TEST_CASE("report: binary JSON, speed JSON, epochs as JSONL, scaling") {
  BinaryScores b;
  b.update(std::vector<double>{0.1, 0.4, 0.35, 0.8}, std::vector<std::int64_t>{0, 0, 1, 1});
  const json bj = binary_json(b, 0.5);
  CHECK(bj["roc_auc"].get<double>() == Approx(0.75));
  CHECK(bj["roc_curve"]["fpr"].size() == 5);
  CHECK(bj["roc_curve"]["thresholds"][0].is_null());  // +inf
  CHECK(bj["pr_curve"]["recall"].size() == 5);
  CHECK(binary_report(b).find("ROC-AUC            0.7500") != std::string::npos);
  BinnedBinaryScores h(10);
  h.update(std::vector<double>{0.1, 0.4, 0.35, 0.8}, std::vector<std::int64_t>{0, 0, 1, 1});
  CHECK(binary_json(h)["num_bins"] == 10);

  ThroughputMeter tm(2, 0);
  tm.step(2.0, {10, 6});
  const json tj = to_json(tm);
  CHECK(tj["samples_per_second"].get<double>() == Approx(8.0));
  CHECK(tj["per_replica_samples_per_second"][1].get<double>() == Approx(3.0));
  LoadBalance lb(2);
  lb.record(0, 10, 1.0);
  lb.record(1, 6, 2.0);
  CHECK(to_json(lb)["imbalance_ratio"].get<double>() == Approx(2.0 / 1.5));
  CHECK(to_json(lb)["warnings"].size() == 1);
  StepTimer st({"forward"}, 0, [] { return 0.0; });
  st.add("forward", 0.5);
  st.end_step();
  CHECK(to_json(st)["phases"]["forward"]["mean_seconds"].get<double>() == Approx(0.5));
  MemoryTracker mem;
  mem.record("cuda:0", 1 << 20);
  CHECK(to_json(mem)["peak_bytes"]["cuda:0"] == 1 << 20);
  const std::string sr = speed_report(&tm, &st, &mem, &lb);
  CHECK(sr.find("8.0 samples/s") != std::string::npos);
  CHECK(sr.find("WARNING: load imbalance") != std::string::npos);

  const std::string path = "metrics_test_epochs.jsonl";
  {
    JsonlWriter w(path);
    LossMeter tr, va;
    ConfusionMatrix cm = example();
    for (int e = 1; e <= 3; ++e) {
      tr.reset(), va.reset();
      tr.add_mean(1.0 / e, 10);
      va.add_mean(1.5 / e, 5);
      w.write(epoch_json(e, tr, va, &cm, &tm));
    }
  }
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const json j = json::parse(line);
    ++n;
    CHECK(j["epoch"] == n);
    CHECK(j["train_loss"].get<double>() == Approx(1.0 / n));
    CHECK(j["val_accuracy"].get<double>() == Approx(0.6));
    CHECK(j.contains("samples_per_second"));
  }
  CHECK(n == 3);
  std::remove(path.c_str());
  CHECK_THROWS_AS(JsonlWriter("/nonexistent-dir/x.jsonl"), Error);

  const json s = scaling_json({{1, 100.0}, {2, 180.0}, {4, 300.0}});
  CHECK(s["scaling"][2]["efficiency"].get<double>() == Approx(0.75));
  CHECK_THROWS_AS(scaling_json({{2, 100.0}}), Error);
}
