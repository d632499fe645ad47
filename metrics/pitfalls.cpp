// minidp/metrics/pitfalls.cpp — the warnings that catch a run that looks good
// but is not: high accuracy on imbalanced data with a missed class (the
// accuracy paradox), a class far below the others, test samples that also occur
// in the training set (by hashing rows), validation loss rising while training
// loss falls, and replicas that idle or straggle.
#include "minidp/metrics/pitfalls.h"

#include <cstdio>
#include <unordered_set>
#include <utility>

#include "minidp/metrics/classification.h"

namespace minidp::metrics {

namespace {
std::string fmt(double v, int digits = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string pct(double v) { return fmt(100.0 * v, 1) + "%"; }

std::string class_name(const ClassCheckOptions& opts, std::int64_t c) {
  return opts.class_names.empty() ? std::to_string(c) : opts.class_names[static_cast<std::size_t>(c)];
}
}  // namespace

std::vector<Warning> check_class_recall(const ConfusionMatrix& cm, const ClassCheckOptions& opts) {
  MINIDP_CHECK(opts.class_names.empty() || static_cast<std::int64_t>(opts.class_names.size()) == cm.num_classes(),
               "check_class_recall: ", opts.class_names.size(), " class names for ", cm.num_classes(), " classes");
  std::vector<Warning> out;
  const std::int64_t n = cm.total();
  if (n == 0) return out;
  std::vector<std::int64_t> classes;
  if (opts.positive_class) {
    MINIDP_CHECK(*opts.positive_class >= 0 && *opts.positive_class < cm.num_classes(),
                 "check_class_recall: positive_class ", *opts.positive_class, " is out of range [0, ",
                 cm.num_classes(), ")");
    classes.push_back(*opts.positive_class);
  } else {
    for (std::int64_t c = 0; c < cm.num_classes(); ++c) classes.push_back(c);
  }
  // The majority class: the one a model that ignores its input would always answer.
  std::int64_t major = -1, present = 0;
  for (std::int64_t c = 0; c < cm.num_classes(); ++c) {
    if (cm.true_count(c) == 0 || !cm.counted_class(c)) continue;
    ++present;
    if (major < 0 || cm.true_count(c) > cm.true_count(major)) major = c;
  }
  const double acc = accuracy(cm), baseline = majority_baseline_accuracy(cm), mean_recall = balanced_accuracy(cm);
  const bool imbalanced = baseline >= opts.imbalanced_share;
  const std::string always = "always predicting the majority class " + class_name(opts, major) + " (" +
                             pct(baseline) + " of the samples) would score " + fmt(baseline);
  for (std::int64_t c : classes) {
    const auto support = cm.true_count(c);
    if (support == 0 || !cm.counted_class(c)) continue;
    const auto tp = cm.true_positives(c), predicted = cm.predicted_count(c);
    const double rec = static_cast<double>(tp) / static_cast<double>(support);
    if (!(rec < opts.min_recall)) continue;
    const std::string found =
        "recall " + fmt(rec) + " (" + std::to_string(tp) + " of " + std::to_string(support) + " found, " +
        (predicted ? "precision " + fmt(static_cast<double>(tp) / static_cast<double>(predicted)) : "never predicted") +
        ")";
    if (imbalanced && acc >= opts.high_accuracy) {
      out.push_back({"accuracy_paradox", "accuracy paradox: accuracy " + fmt(acc) + " looks high, but class " +
                                             class_name(opts, c) + " has " + found + "; " + always +
                                             ", balanced accuracy is " + fmt(mean_recall)});
    } else if (rec <= mean_recall - opts.recall_gap) {
      const std::string why = imbalanced ? "; " + always + ", accuracy is " + fmt(acc)
                                         : "; the largest class is " + pct(baseline) + " of the samples, so accuracy " +
                                               fmt(acc) + " is no accuracy paradox, but it averages this class away";
      out.push_back({"low_recall_class", "low recall: class " + class_name(opts, c) + " has " + found + ", " +
                                             fmt(mean_recall - rec) + " below the mean recall " + fmt(mean_recall) +
                                             " of the " + std::to_string(present) + " classes" + why});
    }
  }
  return out;
}

std::vector<Warning> check_accuracy_paradox(const ConfusionMatrix& cm, const ClassCheckOptions& opts) {
  std::vector<Warning> out;
  for (auto& w : check_class_recall(cm, opts))
    if (w.kind == "accuracy_paradox") out.push_back(std::move(w));
  return out;
}

std::uint64_t fnv1a(const void* data, std::size_t n, std::uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= kFnv1aPrime;
  }
  return h;
}

std::vector<std::uint64_t> hash_rows(const Tensor& x) {
  MINIDP_CHECK(x.defined() && x.dim() >= 1, "hash_rows: expected a tensor with a sample dimension, got ",
               x.defined() ? x.describe() : std::string("an undefined tensor"));
  // The CPU copy is contiguous, so each sample's bytes lie side by side.
  const Tensor c = x.to(Device::cpu()).contiguous();
  const std::int64_t n = c.size(0);
  const std::size_t row = n ? static_cast<std::size_t>(c.numel() / n) * dtype_size(c.dtype()) : 0;
  const auto* base = static_cast<const unsigned char*>(c.raw_data());
  std::vector<std::uint64_t> h(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) h[static_cast<std::size_t>(i)] = fnv1a(base + i * row, row);
  return h;
}

Overlap find_overlap(const std::vector<std::uint64_t>& train, const std::vector<std::uint64_t>& eval) {
  Overlap o;
  o.train_samples = static_cast<std::int64_t>(train.size());
  o.eval_samples = static_cast<std::int64_t>(eval.size());
  const std::unordered_set<std::uint64_t> seen(train.begin(), train.end());
  for (std::size_t i = 0; i < eval.size(); ++i) {
    if (!seen.count(eval[i])) continue;
    ++o.overlap;
    if (o.eval_indices.size() < 10) o.eval_indices.push_back(static_cast<std::int64_t>(i));
  }
  return o;
}

Overlap find_overlap(const Tensor& train, const Tensor& eval) {
  MINIDP_CHECK(train.defined() && eval.defined(), "find_overlap: undefined tensor");
  MINIDP_CHECK(train.dtype() == eval.dtype() && Shape(train.shape().begin() + 1, train.shape().end()) ==
                                                    Shape(eval.shape().begin() + 1, eval.shape().end()),
               "find_overlap: train ", train.describe(), " and eval ", eval.describe(),
               " must hold samples of the same dtype and shape");
  return find_overlap(hash_rows(train), hash_rows(eval));
}

std::optional<Warning> check_data_leakage(const Overlap& o) {
  if (o.overlap == 0) return std::nullopt;
  std::string idx;
  for (auto i : o.eval_indices) idx += (idx.empty() ? "" : ", ") + std::to_string(i);
  return Warning{"data_leakage", "data leakage: " + std::to_string(o.overlap) + " of " +
                                     std::to_string(o.eval_samples) + " evaluation samples (" +
                                     fmt(100.0 * o.fraction(), 1) +
                                     "%) also occur in the training set (first: " + idx + ")"};
}

std::optional<Warning> check_overfitting(const std::vector<double>& train, const std::vector<double>& val,
                                         std::int64_t epochs) {
  MINIDP_CHECK(epochs >= 1, "check_overfitting: epochs must be >= 1, got ", epochs);
  const auto k = static_cast<std::size_t>(epochs);
  if (train.size() < k + 1 || val.size() < k + 1) return std::nullopt;
  const std::size_t nt = train.size(), nv = val.size();
  for (std::size_t j = 0; j < k; ++j) {
    if (!(val[nv - 1 - j] > val[nv - 2 - j])) return std::nullopt;
    if (!(train[nt - 1 - j] < train[nt - 2 - j])) return std::nullopt;
  }
  return Warning{"overfitting", "overfitting: validation loss rose for " + std::to_string(epochs) +
                                    " epochs in a row (" + fmt(val[nv - 1 - k], 4) + " -> " + fmt(val[nv - 1], 4) +
                                    ") while training loss fell (" + fmt(train[nt - 1 - k], 4) + " -> " +
                                    fmt(train[nt - 1], 4) + ")"};
}

std::optional<Warning> check_load_imbalance(const LoadBalance& lb, double max_ratio) {
  const auto idle = lb.idle_replicas();
  const double ratio = lb.imbalance_ratio();
  std::string msg;
  if (!idle.empty()) {
    msg = "load imbalance: replica";
    msg += idle.size() > 1 ? "s " : " ";
    for (std::size_t i = 0; i < idle.size(); ++i) msg += (i ? ", " : "") + std::to_string(idle[i]);
    msg += idle.size() > 1 ? " were idle" : " was idle";
  }
  if (ratio > max_ratio) {
    const auto s = lb.slowest_replica();
    msg += msg.empty() ? "load imbalance: " : "; ";
    msg += "replica " + std::to_string(s) + " was busy " + fmt(ratio, 2) + "x the mean busy time (" +
           fmt(lb.busy_seconds(s), 3) + " s); the others wait for it at every gradient sync";
  }
  if (msg.empty()) return std::nullopt;
  return Warning{"load_imbalance", msg};
}

std::vector<Warning> check_training_run(const ConfusionMatrix& test_cm, const std::vector<double>& train_loss,
                                        const std::vector<double>& test_loss, const LoadBalance& balance,
                                        const std::optional<Warning>& leakage, const RunCheckOptions& opts) {
  std::vector<Warning> w = check_class_recall(test_cm, opts.classes);
  if (leakage) w.push_back(*leakage);
  if (auto o = check_overfitting(train_loss, test_loss, opts.overfitting_epochs)) w.push_back(*o);
  if (auto l = check_load_imbalance(balance, opts.max_load_ratio)) w.push_back(*l);
  return w;
}

}  // namespace minidp::metrics
