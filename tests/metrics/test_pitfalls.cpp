// Pitfall warnings, each shown firing and not firing at its boundary: the
// accuracy paradox (imbalanced data only) and the low-recall class (balanced
// data), data leakage (FNV-1a row hashes), overfitting, load imbalance.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "minidp/core/ops.h"
#include "minidp/minidp.h"

using namespace minidp;
using namespace minidp::metrics;
using doctest::Approx;

namespace {
const std::vector<std::string> kFashion = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Balanced 10 classes of 1000 test images, like Fashion-MNIST's test set:
// every class but Shirt (6) is found 900 times and mistaken 100 times for the
// next class; Shirt is found `shirt_found` times and mistaken for T-shirt/top.
ConfusionMatrix balanced_with_weak_shirt(std::int64_t shirt_found) {
  ConfusionMatrix cm(10);
  for (std::int64_t c = 0; c < 10; ++c) {
    if (c == 6) continue;
    cm.add(c, c, 900);
    cm.add(c, (c + 1) % 10, 100);
  }
  cm.add(6, 6, shirt_found);
  cm.add(6, 0, 1000 - shirt_found);
  return cm;
}

// 10000 transactions, 200 fraud (2%): `caught` of them found, `alarms` false alarms.
ConfusionMatrix fraud(std::int64_t caught, std::int64_t alarms) {
  ConfusionMatrix cm(2);
  cm.add(0, 0, 9800 - alarms);
  cm.add(0, 1, alarms);
  cm.add(1, 1, caught);
  cm.add(1, 0, 200 - caught);
  return cm;
}
}  // namespace

TEST_CASE("pitfalls: balanced 10 classes with one weak class -> low_recall_class naming it, no paradox") {
  const ConfusionMatrix cm = balanced_with_weak_shirt(466);
  // accuracy = (9 * 900 + 466) / 10000; every class has 1000 samples, so it equals the mean recall.
  CHECK(accuracy(cm) == Approx(0.8566));
  CHECK(balanced_accuracy(cm) == Approx(0.8566));
  CHECK(majority_baseline_accuracy(cm) == Approx(0.1));
  ClassCheckOptions o;
  o.class_names = kFashion;
  const auto w = check_class_recall(cm, o);
  REQUIRE(w.size() == 1);
  CHECK(w[0].kind == "low_recall_class");
  // recall 466/1000; precision 466 / (466 + 100 Sandals taken for Shirts); 0.8566 - 0.466 = 0.3906.
  CHECK(w[0].message ==
        "low recall: class Shirt has recall 0.466 (466 of 1000 found, precision 0.823), 0.391 below the mean "
        "recall 0.857 of the 10 classes; the largest class is 10.0% of the samples, so accuracy 0.857 is no "
        "accuracy paradox, but it averages this class away");
  CHECK(check_accuracy_paradox(cm, o).empty());  // accuracy 0.857 "looks high", but the baseline is 0.10

  // Without names the class is named by its index.
  const auto unnamed = check_class_recall(cm);
  REQUIRE(unnamed.size() == 1);
  CHECK(has(unnamed[0].message, "class 6 has recall 0.466"));

  // The boundary: recall 0.5 is not below min_recall (found as often as missed).
  CHECK(check_class_recall(balanced_with_weak_shirt(500), o).empty());
  const auto w499 = check_class_recall(balanced_with_weak_shirt(499), o);
  REQUIRE(w499.size() == 1);
  CHECK(has(w499[0].message, "class Shirt has recall 0.499 (499 of 1000 found"));

  // A uniformly weak model: every class at recall 0.3 -> no class stands out, no warning.
  ConfusionMatrix weak(10);
  for (std::int64_t c = 0; c < 10; ++c) {
    weak.add(c, c, 300);
    weak.add(c, (c + 1) % 10, 700);
  }
  CHECK(check_class_recall(weak, o).empty());

  // The report prints the warning with the class's name, and the JSON lists it.
  ReportOptions ro;
  ro.class_names = kFashion;
  const std::string r = classification_report(cm, ro);
  CHECK(has(r, "WARNING: low recall: class Shirt has recall 0.466"));
  CHECK_FALSE(has(r, "WARNING: accuracy paradox"));
  const auto j = classification_json(cm, ro);
  REQUIRE(j["warnings"].size() == 1);
  CHECK(j["warnings"][0]["kind"] == "low_recall_class");
  CHECK(j["warnings"][0]["message"] == w[0].message);

  CHECK_THROWS_AS(check_class_recall(cm, [] { ClassCheckOptions x; x.class_names = {"a", "b"}; return x; }()),
                  Error);
}

TEST_CASE("pitfalls: 98/2 fraud data, 12% of the fraud found, 98% accuracy -> accuracy paradox") {
  // 24 of 200 frauds found and 24 false alarms: 200 errors in 10000, accuracy 0.98 = the baseline.
  const ConfusionMatrix cm = fraud(24, 24);
  CHECK(accuracy(cm) == Approx(0.98));
  CHECK(majority_baseline_accuracy(cm) == Approx(0.98));
  CHECK(balanced_accuracy(cm) == Approx((9776.0 / 9800 + 0.12) / 2));  // 0.5588
  ClassCheckOptions o;
  o.class_names = {"legit", "fraud"};
  const std::string expected =
      "accuracy paradox: accuracy 0.980 looks high, but class fraud has recall 0.120 (24 of 200 found, precision "
      "0.500); always predicting the majority class legit (98.0% of the samples) would score 0.980, balanced "
      "accuracy is 0.559";
  for (bool positive_only : {false, true}) {
    CAPTURE(positive_only);
    if (positive_only) o.positive_class = 1;
    const auto w = check_class_recall(cm, o);
    REQUIRE(w.size() == 1);  // legit (recall 0.998) is fine; one warning, not a paradox and a low recall
    CHECK(w[0].kind == "accuracy_paradox");
    CHECK(w[0].message == expected);
    CHECK(check_accuracy_paradox(cm, o).size() == 1);
  }

  // A model that never says fraud: nothing found, never predicted.
  const auto never = check_class_recall(fraud(0, 0), o);
  REQUIRE(never.size() == 1);
  CHECK(never[0].kind == "accuracy_paradox");
  CHECK(has(never[0].message, "class fraud has recall 0.000 (0 of 200 found, never predicted)"));

  // Imbalanced and well performing: 180 of 200 found, 20 false alarms -> nothing.
  CHECK(check_class_recall(fraud(180, 20), o).empty());

  // The report names the classes in the warning.
  ReportOptions ro;
  ro.class_names = {"legit", "fraud"};
  ro.paradox.positive_class = 1;
  CHECK(has(classification_report(cm, ro), "WARNING: " + expected));
}

TEST_CASE("pitfalls: the paradox needs imbalanced data: majority share 0.5 vs 0.499") {
  // Three classes; class 2 is found 100 times of 250 (recall 0.4), the rest always. Accuracy 0.85.
  auto make = [](std::int64_t first, std::int64_t second) {
    ConfusionMatrix cm(3);
    cm.add(0, 0, first);
    cm.add(1, 1, second);
    cm.add(2, 2, 100);
    cm.add(2, 0, 150);
    return cm;
  };
  const auto half = check_class_recall(make(500, 250));  // class 0 is half the data: imbalanced
  REQUIRE(half.size() == 1);
  CHECK(half[0].kind == "accuracy_paradox");
  CHECK(half[0].message ==
        "accuracy paradox: accuracy 0.850 looks high, but class 2 has recall 0.400 (100 of 250 found, precision "
        "1.000); always predicting the majority class 0 (50.0% of the samples) would score 0.500, balanced "
        "accuracy is 0.800");
  const auto below = check_class_recall(make(499, 251));  // 49.9%: not imbalanced, an honest low recall
  REQUIRE(below.size() == 1);
  CHECK(below[0].kind == "low_recall_class");
  CHECK(below[0].message ==
        "low recall: class 2 has recall 0.400 (100 of 250 found, precision 1.000), 0.400 below the mean recall "
        "0.800 of the 3 classes; the largest class is 49.9% of the samples, so accuracy 0.850 is no accuracy "
        "paradox, but it averages this class away");
}

TEST_CASE("pitfalls: imbalanced data with accuracy that does not look high -> low recall, with the baseline") {
  // 900 negatives (650 right), 100 positives (10 found): accuracy 0.66 < 0.8 is below the 0.9 baseline.
  ConfusionMatrix cm(2);
  cm.add(0, 0, 650);
  cm.add(0, 1, 250);
  cm.add(1, 1, 10);
  cm.add(1, 0, 90);
  ClassCheckOptions o;
  o.class_names = {"rest", "Bag"};
  const auto w = check_class_recall(cm, o);
  REQUIRE(w.size() == 1);
  CHECK(w[0].kind == "low_recall_class");
  // mean recall (650/900 + 0.1) / 2 = 0.4111; 0.4111 - 0.1 = 0.3111.
  CHECK(w[0].message ==
        "low recall: class Bag has recall 0.100 (10 of 100 found, precision 0.038), 0.311 below the mean recall "
        "0.411 of the 2 classes; always predicting the majority class rest (90.0% of the samples) would score "
        "0.900, accuracy is 0.660");
}

TEST_CASE("pitfalls: the accuracy paradox on 95/5 data, and no warning without one") {
  // 95 negatives, 5 positives; the model finds 1 positive and never raises a false alarm.
  ConfusionMatrix cm(2);
  cm.add(0, 0, 95);
  cm.add(1, 1, 1);
  cm.add(1, 0, 4);
  ParadoxOptions opts;  // the same options by their older name
  opts.positive_class = 1;
  const auto w = check_accuracy_paradox(cm, opts);
  REQUIRE(w.size() == 1);
  CHECK(w[0].kind == "accuracy_paradox");
  CHECK(w[0].message ==
        "accuracy paradox: accuracy 0.960 looks high, but class 1 has recall 0.200 (1 of 5 found, precision "
        "1.000); always predicting the majority class 0 (95.0% of the samples) would score 0.950, balanced "
        "accuracy is 0.600");
  CHECK(majority_baseline_accuracy(cm) == Approx(0.95));

  ConfusionMatrix good(2);  // the same data, rare class mostly found: no warning
  good.add(0, 0, 95);
  good.add(1, 1, 4);
  good.add(1, 0, 1);
  CHECK(check_class_recall(good, opts).empty());
  ConfusionMatrix low(2);  // everything wrong: no class stands out, accuracy does not look high
  low.add(0, 1, 5);
  low.add(1, 0, 5);
  CHECK(check_class_recall(low).empty());
  CHECK(check_class_recall(ConfusionMatrix(3)).empty());  // no samples
  opts.positive_class = 2;
  CHECK_THROWS_AS(check_class_recall(cm, opts), Error);
}

TEST_CASE("pitfalls: FNV-1a reference values") {
  // Published 64-bit FNV-1a test vectors.
  CHECK(fnv1a("", 0) == 0xcbf29ce484222325ull);
  CHECK(fnv1a("a", 1) == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a("foobar", 6) == 0x85944171f73967e8ull);
  // Chaining equals hashing the concatenation.
  CHECK(fnv1a("bar", 3, fnv1a("foo", 3)) == fnv1a("foobar", 6));
}

TEST_CASE("pitfalls: data leakage counts evaluation rows that occur in training") {
  Tensor train = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
  Tensor eval = from_vector<float>({3, 4, 9, 9, 7, 8, 3, 4, 4, 3}, {5, 2});
  const auto h = hash_rows(train);
  REQUIRE(h.size() == 4);
  float row[2] = {3, 4};
  CHECK(h[1] == fnv1a(row, sizeof row));
  const Overlap o = find_overlap(train, eval);
  CHECK(o.train_samples == 4);
  CHECK(o.eval_samples == 5);
  CHECK(o.overlap == 3);  // rows 0, 2, 3 ({4, 3} is a different sample)
  CHECK(o.eval_indices == std::vector<std::int64_t>{0, 2, 3});
  auto w = check_data_leakage(o);
  REQUIRE(w);
  CHECK(w->kind == "data_leakage");
  CHECK(w->message ==
        "data leakage: 3 of 5 evaluation samples (60.0%) also occur in the training set (first: 0, 2, 3)");
  // Non-contiguous views hash their values, not their memory layout.
  Tensor t = from_vector<float>({1, 3, 2, 4}, {2, 2}).t();  // rows {1, 2} and {3, 4}
  CHECK(hash_rows(t)[1] == h[1]);
  CHECK_THROWS_AS(find_overlap(train, zeros({2, 3})), Error);
}

TEST_CASE("pitfalls: data leakage on images: zero overlap is silent, one duplicated row is named") {
  // 100 training and 20 evaluation "images" of 28x28 random pixels (distinct draws).
  Generator g(7);
  const Tensor train = rand({100, 28, 28}, {}, &g);
  const Tensor eval = rand({20, 28, 28}, {}, &g);
  const Overlap clean = find_overlap(train, eval);
  CHECK(clean.overlap == 0);
  CHECK(clean.fraction() == 0.0);
  CHECK(clean.eval_indices.empty());
  CHECK_FALSE(check_data_leakage(clean).has_value());

  // Evaluation sample 13 replaced by a copy of training sample 42.
  std::vector<Tensor> rows;
  for (std::int64_t i = 0; i < 20; ++i) rows.push_back(i == 13 ? train.slice(42, 43) : eval.slice(i, i + 1));
  const Tensor leaky = cat(rows, 0);
  const Overlap one = find_overlap(train, leaky);
  CHECK(one.overlap == 1);
  CHECK(one.eval_indices == std::vector<std::int64_t>{13});
  CHECK(one.fraction() == Approx(0.05));
  const auto w = check_data_leakage(one);
  REQUIRE(w);
  CHECK(w->message ==
        "data leakage: 1 of 20 evaluation samples (5.0%) also occur in the training set (first: 13)");

  // Only exact copies count: the same image with one pixel changed is a different sample.
  std::vector<float> px = train.slice(42, 43).to_vector<float>();
  px[400] += 1.0f;
  rows[13] = from_vector<float>(px, {1, 28, 28});
  CHECK(find_overlap(train, cat(rows, 0)).overlap == 0);
}

TEST_CASE("pitfalls: overfitting = validation loss rising for K epochs while training loss falls") {
  const std::vector<double> train{1.0, 0.8, 0.6, 0.5, 0.4, 0.3};
  const std::vector<double> val{1.1, 0.9, 0.85, 0.9, 0.95, 1.0};  // the last 3 epochs rise
  auto w = check_overfitting(train, val, 3);
  REQUIRE(w);
  CHECK(w->kind == "overfitting");
  CHECK(w->message ==
        "overfitting: validation loss rose for 3 epochs in a row (0.8500 -> 1.0000) while training loss fell "
        "(0.6000 -> 0.3000)");
  CHECK_FALSE(check_overfitting(train, val, 4).has_value());  // exactly 3 rises: K = 4 stays silent
  auto w2 = check_overfitting(train, val, 2);                   // ... and K = 2 sees the last two
  REQUIRE(w2);
  CHECK(has(w2->message, "rose for 2 epochs in a row (0.9000 -> 1.0000)"));

  // K - 1 rises only: the validation loss still fell at the third-last epoch.
  const std::vector<double> two_rises{1.1, 0.9, 0.85, 0.8, 0.95, 1.0};
  CHECK_FALSE(check_overfitting(train, two_rises, 3).has_value());
  CHECK(check_overfitting(train, two_rises, 2).has_value());
  // A flat epoch is not a rise.
  CHECK_FALSE(check_overfitting(train, {1.1, 0.9, 0.85, 0.85, 0.95, 1.0}, 3).has_value());
  CHECK_FALSE(check_overfitting({1.0, 0.9}, {1.0, 1.1}, 3).has_value());  // too few epochs
  const std::vector<double> flat_train{1.0, 0.8, 0.6, 0.6, 0.4, 0.3};  // training stalled once
  CHECK_FALSE(check_overfitting(flat_train, val, 3).has_value());
  CHECK_THROWS_AS(check_overfitting(train, val, 0), Error);

  // check_training_run passes its K on.
  RunCheckOptions ro;
  ro.overfitting_epochs = 4;
  LoadBalance lb(1);
  lb.record(0, 10, 1.0);
  CHECK(check_training_run(ConfusionMatrix(2), train, val, lb).size() == 1);  // K = 3 by default
  CHECK(check_training_run(ConfusionMatrix(2), train, val, lb, std::nullopt, ro).empty());
}

TEST_CASE("pitfalls: load imbalance: balanced replicas, the 1.25 boundary, one idle replica") {
  LoadBalance even(4);
  for (std::int64_t r = 0; r < 4; ++r) even.record(r, 32, 1.0);
  CHECK(even.imbalance_ratio() == 1.0);
  CHECK_FALSE(check_load_imbalance(even).has_value());

  LoadBalance at(2);  // busy 1.25 s and 0.75 s: max/mean is exactly 1.25, not above it
  at.record(0, 32, 1.25);
  at.record(1, 32, 0.75);
  CHECK(at.imbalance_ratio() == 1.25);
  CHECK_FALSE(check_load_imbalance(at).has_value());
  LoadBalance above(2);  // 1.3 s and 0.7 s: 1.30x
  above.record(0, 32, 1.3);
  above.record(1, 32, 0.7);
  const auto slow = check_load_imbalance(above);
  REQUIRE(slow);
  CHECK(slow->kind == "load_imbalance");
  CHECK(slow->message ==
        "load imbalance: replica 0 was busy 1.30x the mean busy time (1.300 s); the others wait for it at every "
        "gradient sync");

  LoadBalance idle(4);  // replica 2 got no samples: 3 busy seconds over 4 replicas, max/mean 1.33
  for (std::int64_t r : {0, 1, 3}) idle.record(r, 32, 1.0);
  const auto w = check_load_imbalance(idle);
  REQUIRE(w);
  CHECK(w->message ==
        "load imbalance: replica 2 was idle; replica 0 was busy 1.33x the mean busy time (1.000 s); the others "
        "wait for it at every gradient sync");
  const auto only_idle = check_load_imbalance(idle, 2.0);  // a looser ratio still reports the idle replica
  REQUIRE(only_idle);
  CHECK(only_idle->message == "load imbalance: replica 2 was idle");
}

TEST_CASE("pitfalls: a real data-parallel step with more replicas than samples leaves one idle") {
  // Three CPU replicas; a batch of 2 samples gives replica 2 nothing to do.
  manual_seed(3);
  auto model = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{std::make_shared<nn::Linear>(4, 3)});
  parallel::DataParallel dp(model, parallel::parse_replicas("cpu,cpu,cpu"), [](std::vector<Tensor> ps) {
    return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.1});
  });
  Generator g(5);
  metrics::TrainingRecorder rec(dp, /*warmup_steps=*/0);
  rec.start_epoch();
  rec.record(dp.train_step(randn({2, 4}, {}, &g), from_vector<std::int64_t>({0, 2}, {2})));
  rec.flush();
  CHECK(rec.balance().samples(0) == 1);
  CHECK(rec.balance().samples(1) == 1);
  CHECK(rec.balance().samples(2) == 0);
  CHECK(rec.balance().idle_replicas() == std::vector<std::int64_t>{2});
  // Busy times are measured, so only the idle part of the message is fixed.
  const auto w = check_load_imbalance(rec.balance(), 1e9);
  REQUIRE(w);
  CHECK(w->message == "load imbalance: replica 2 was idle");

  // A batch of 6: two samples each, nobody idle.
  metrics::TrainingRecorder full(dp, 0);
  full.start_epoch();
  full.record(dp.train_step(randn({6, 4}, {}, &g), from_vector<std::int64_t>({0, 1, 2, 0, 1, 2}, {6})));
  full.flush();
  CHECK(full.balance().samples(2) == 2);
  CHECK(full.balance().idle_replicas().empty());
  CHECK_FALSE(check_load_imbalance(full.balance(), 1e9).has_value());
}

TEST_CASE("pitfalls: check_training_run names classes and collects every warning") {
  RunCheckOptions ro;
  ro.classes.class_names = kFashion;
  LoadBalance lb(2);
  lb.record(0, 32, 1.0);
  const Warning leak{"data_leakage", "data leakage: 1 of 20 evaluation samples (5.0%) also occur in the training set"};
  const auto w = check_training_run(balanced_with_weak_shirt(466), {1.0, 0.8, 0.6, 0.5}, {1.0, 1.1, 1.2, 1.3}, lb,
                                    leak, ro);
  REQUIRE(w.size() == 4);
  CHECK(w[0].kind == "low_recall_class");
  CHECK(has(w[0].message, "class Shirt has recall 0.466"));
  CHECK(w[1].kind == "data_leakage");
  CHECK(w[2].kind == "overfitting");
  CHECK(has(w[2].message, "rose for 3 epochs in a row (1.0000 -> 1.3000)"));
  CHECK(w[3].kind == "load_imbalance");
  CHECK(has(w[3].message, "replica 1 was idle"));
}
