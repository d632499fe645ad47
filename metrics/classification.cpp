// minidp/metrics/classification.cpp — accuracy, balanced accuracy and
// precision / recall / F1 / specificity per class and averaged (macro, micro,
// weighted), all from the confusion matrix's counts, with scikit-learn's rules
// for zero division and for classes that never occur.
#include "minidp/metrics/classification.h"

#include <cmath>
#include <limits>

namespace minidp::metrics {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(double num, double den, ZeroDivision zd) { return den == 0 ? zero_division_value(zd) : num / den; }

// sklearn's _nanaverage: skip NaN entries; with weights, if the remaining
// weights sum to zero fall back to the plain mean of the remaining entries.
double nan_average(const std::vector<double>& v, const std::vector<bool>& use, const std::vector<double>* w) {
  double sum = 0, wsum = 0, plain = 0;
  std::int64_t n = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!use[i] || std::isnan(v[i])) continue;
    const double wi = w ? (*w)[i] : 1.0;
    sum += wi * v[i];
    wsum += wi;
    plain += v[i];
    ++n;
  }
  if (n == 0) return kNaN;
  if (wsum == 0) return plain / static_cast<double>(n);
  return sum / wsum;
}

struct Sums {
  std::vector<double> tp, pred, truth;  // per class, as doubles for the ratios
  double tp_all = 0, pred_all = 0, truth_all = 0;  // over the averaged classes
  std::vector<bool> use;
};

Sums sums(const ConfusionMatrix& cm) {
  Sums s;
  const auto k = cm.num_classes();
  s.use = averaged_classes(cm);
  for (std::int64_t c = 0; c < k; ++c) {
    s.tp.push_back(static_cast<double>(cm.true_positives(c)));
    s.pred.push_back(static_cast<double>(cm.predicted_count(c)));
    s.truth.push_back(static_cast<double>(cm.true_count(c)));
    if (s.use[static_cast<std::size_t>(c)]) {
      s.tp_all += s.tp.back();
      s.pred_all += s.pred.back();
      s.truth_all += s.truth.back();
    }
  }
  return s;
}

// Fill macro and weighted from per_class; micro is set by the caller.
void average(AveragedScore& a, const Sums& s) {
  a.macro = nan_average(a.per_class, s.use, nullptr);
  a.weighted = nan_average(a.per_class, s.use, &s.truth);
}
}  // namespace

double zero_division_value(ZeroDivision z) {
  switch (z) {
    case ZeroDivision::Zero: return 0.0;
    case ZeroDivision::One: return 1.0;
    case ZeroDivision::NaN: return kNaN;
  }
  return 0.0;
}

std::string to_string(ZeroDivision z) {
  switch (z) {
    case ZeroDivision::Zero: return "0";
    case ZeroDivision::One: return "1";
    case ZeroDivision::NaN: return "nan";
  }
  return "?";
}

ZeroDivision parse_zero_division(const std::string& s) {
  if (s == "0" || s == "warn") return ZeroDivision::Zero;  // sklearn's "warn" behaves as 0
  if (s == "1") return ZeroDivision::One;
  if (s == "nan" || s == "NaN" || s == "NAN") return ZeroDivision::NaN;
  MINIDP_FAIL("zero_division: got '", s, "'; expected 0, 1 or nan");
}

std::vector<bool> averaged_classes(const ConfusionMatrix& cm) {
  std::vector<bool> use(static_cast<std::size_t>(cm.num_classes()));
  for (std::int64_t c = 0; c < cm.num_classes(); ++c)
    use[static_cast<std::size_t>(c)] =
        cm.counted_class(c) && (cm.true_count(c) > 0 || cm.predicted_count(c) > 0);
  return use;
}

double accuracy(const ConfusionMatrix& cm) {
  const auto n = cm.total();
  return n == 0 ? kNaN : static_cast<double>(cm.correct()) / static_cast<double>(n);
}

double balanced_accuracy(const ConfusionMatrix& cm) {
  // sklearn: per-class recall, classes absent from y_true (NaN recall) dropped.
  double sum = 0;
  std::int64_t n = 0;
  for (std::int64_t c = 0; c < cm.num_classes(); ++c) {
    const auto t = cm.true_count(c);
    if (t == 0 || !cm.counted_class(c)) continue;
    sum += static_cast<double>(cm.true_positives(c)) / static_cast<double>(t);
    ++n;
  }
  return n == 0 ? kNaN : sum / static_cast<double>(n);
}

double majority_baseline_accuracy(const ConfusionMatrix& cm) {
  std::int64_t best = 0;
  for (std::int64_t c = 0; c < cm.num_classes(); ++c) best = std::max(best, cm.true_count(c));
  const auto n = cm.total();
  return n == 0 ? kNaN : static_cast<double>(best) / static_cast<double>(n);
}

namespace {
// TP / denominator per class (predicted count: precision; true count: recall),
// macro/weighted over the averaged classes, and micro from the summed counts.
AveragedScore tp_ratio(const Sums& s, const std::vector<double>& den, double den_all, ZeroDivision zd) {
  AveragedScore a;
  for (std::size_t c = 0; c < s.tp.size(); ++c) a.per_class.push_back(ratio(s.tp[c], den[c], zd));
  average(a, s);
  a.micro = ratio(s.tp_all, den_all, zd);
  return a;
}
}  // namespace

AveragedScore precision(const ConfusionMatrix& cm, ZeroDivision zd) {
  const Sums s = sums(cm);
  return tp_ratio(s, s.pred, s.pred_all, zd);
}

AveragedScore recall(const ConfusionMatrix& cm, ZeroDivision zd) {
  const Sums s = sums(cm);
  return tp_ratio(s, s.truth, s.truth_all, zd);
}

AveragedScore f1(const ConfusionMatrix& cm, ZeroDivision zd) {
  // 2TP / (2TP + FP + FN) = 2TP / (true + predicted): defined whenever the
  // class occurs at all, even when precision or recall alone is 0/0.
  const Sums s = sums(cm);
  AveragedScore a;
  for (std::size_t c = 0; c < s.tp.size(); ++c)
    a.per_class.push_back(ratio(2 * s.tp[c], s.truth[c] + s.pred[c], zd));
  average(a, s);
  a.micro = ratio(2 * s.tp_all, s.truth_all + s.pred_all, zd);
  return a;
}

AveragedScore specificity(const ConfusionMatrix& cm, ZeroDivision zd) {
  const Sums s = sums(cm);
  AveragedScore a;
  double tn_all = 0, neg_all = 0;
  // From the row and column sums: cm.true_negatives(c) would sum the whole
  // matrix for every class, K^3 work (found by fuzzing minidp-metrics).
  const double total = static_cast<double>(cm.total());
  for (std::int64_t c = 0; c < cm.num_classes(); ++c) {
    const auto i = static_cast<std::size_t>(c);
    const double tn = total - s.truth[i] - s.pred[i] + s.tp[i];
    const double fp = s.pred[i] - s.tp[i];
    a.per_class.push_back(ratio(tn, tn + fp, zd));
    if (s.use[static_cast<std::size_t>(c)]) tn_all += tn, neg_all += tn + fp;
  }
  average(a, s);
  a.micro = ratio(tn_all, neg_all, zd);
  return a;
}

ClassificationSummary summarize(const ConfusionMatrix& cm, ZeroDivision zd) {
  ClassificationSummary s;
  s.num_classes = cm.num_classes();
  s.support = cm.total();
  s.accuracy = accuracy(cm);
  s.balanced_accuracy = balanced_accuracy(cm);
  s.majority_baseline = majority_baseline_accuracy(cm);
  std::int64_t best = -1;
  for (std::int64_t c = 0; c < cm.num_classes(); ++c) {
    s.per_class_support.push_back(cm.true_count(c));
    if (cm.true_count(c) > 0 && (best < 0 || cm.true_count(c) > cm.true_count(best))) best = c;
  }
  s.majority_class = best;
  s.precision = precision(cm, zd);
  s.recall = recall(cm, zd);
  s.f1 = f1(cm, zd);
  s.specificity = specificity(cm, zd);
  s.in_average = averaged_classes(cm);
  return s;
}

// ---------------------------------------------------------------- top-k
TopKAccuracy::TopKAccuracy(std::int64_t k, std::optional<std::int64_t> ignore_index) : k_(k), ignore_(ignore_index) {
  MINIDP_CHECK(k >= 1, "TopKAccuracy: k must be >= 1, got ", k);
}

void TopKAccuracy::update(const Tensor& logits, const Tensor& labels) {
  MINIDP_CHECK(logits.defined() && logits.dim() == 2, "TopKAccuracy::update: expected logits [N, C], got ",
               logits.defined() ? logits.describe() : std::string("an undefined tensor"));
  const std::int64_t n = logits.size(0), c = logits.size(1);
  MINIDP_CHECK(labels.defined() && labels.numel() == n, "TopKAccuracy::update: ", n,
               " rows of logits but labels ", labels.defined() ? labels.describe() : std::string("undefined"));
  const auto z = detail::host_double(logits, "logits");
  const auto y = detail::host_int64(labels, "labels");
  std::int64_t hits = 0, total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t label = y[static_cast<std::size_t>(i)];
    if (ignore_ && label == *ignore_) continue;
    MINIDP_CHECK(label >= 0 && label < c, "TopKAccuracy: label ", label, " is out of range [0, ", c, ")");
    const double* row = z.data() + i * c;
    // rank of the label = classes that come before it (larger, or equal with a smaller index)
    std::int64_t rank = 0;
    for (std::int64_t j = 0; j < c; ++j)
      if (row[j] > row[label] || (row[j] == row[label] && j < label)) ++rank;
    hits += rank < k_ ? 1 : 0;
    ++total;
  }
  hits_ += hits;
  total_ += total;
}

void TopKAccuracy::merge(const TopKAccuracy& other) {
  MINIDP_CHECK(other.k_ == k_, "TopKAccuracy::merge: k differs (", k_, " vs ", other.k_, ")");
  hits_ += other.hits_;
  total_ += other.total_;
}

double TopKAccuracy::value() const {
  return total_ == 0 ? kNaN : static_cast<double>(hits_) / static_cast<double>(total_);
}

double top_k_accuracy(const Tensor& logits, const Tensor& labels, std::int64_t k) {
  TopKAccuracy t(k);
  t.update(logits, labels);
  return t.value();
}

}  // namespace minidp::metrics
