// minidp/metrics/report.cpp — the metrics as text for people (scikit-learn's
// classification report, the confusion matrix, the speed report) and as JSON
// for programs (schema in docs/metrics.md; NaN written as null).
#include "minidp/metrics/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "minidp/core/device.h"

namespace minidp::metrics {

using nlohmann::json;

namespace {

std::string fixed(double v, int digits) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string pad_left(const std::string& s, std::size_t w) { return s.size() >= w ? s : std::string(w - s.size(), ' ') + s; }

std::vector<std::string> names_for(const ConfusionMatrix& cm, const std::vector<std::string>& names) {
  if (names.empty()) {
    std::vector<std::string> n;
    for (std::int64_t c = 0; c < cm.num_classes(); ++c) n.push_back(std::to_string(c));
    return n;
  }
  MINIDP_CHECK(static_cast<std::int64_t>(names.size()) == cm.num_classes(), "classification_report: ",
               names.size(), " class names for ", cm.num_classes(), " classes");
  return names;
}

json score_json(const AveragedScore& a) {
  json per = json::array();
  for (double v : a.per_class) per.push_back(json_number(v));
  return {{"macro", json_number(a.macro)}, {"micro", json_number(a.micro)},
          {"weighted", json_number(a.weighted)}, {"per_class", per}};
}

// The class checks (accuracy paradox, low-recall class) with the report's class names.
std::vector<Warning> class_warnings(const ConfusionMatrix& cm, const ReportOptions& opts) {
  ClassCheckOptions o = opts.paradox;
  if (o.class_names.empty() && !opts.class_names.empty()) o.class_names = names_for(cm, opts.class_names);
  return check_class_recall(cm, o);
}

json vec_json(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(json_number(x));
  return a;
}

}  // namespace

json json_number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json to_json(const std::vector<Warning>& warnings) {
  json a = json::array();
  for (const auto& w : warnings) a.push_back({{"kind", w.kind}, {"message", w.message}});
  return a;
}

std::string warnings_text(const std::vector<Warning>& warnings) {
  std::string s;
  for (const auto& w : warnings) s += "WARNING: " + w.message + "\n";
  return s;
}

// ---------------------------------------------------------------- classification
std::string confusion_matrix_table(const ConfusionMatrix& cm, const std::vector<std::string>& class_names) {
  const auto names = names_for(cm, class_names);
  const auto k = cm.num_classes();
  std::size_t w = 4;
  for (const auto& n : names) w = std::max(w, n.size());
  for (auto c : cm.counts()) w = std::max(w, std::to_string(c).size());
  std::size_t lw = std::string("true \\ pred").size();
  for (const auto& n : names) lw = std::max(lw, n.size());
  std::ostringstream os;
  os << "confusion matrix (rows: true class, columns: predicted class)\n";
  os << pad_left("true \\ pred", lw);
  for (const auto& n : names) os << "  " << pad_left(n, w);
  os << "\n";
  for (std::int64_t t = 0; t < k; ++t) {
    os << pad_left(names[static_cast<std::size_t>(t)], lw);
    for (std::int64_t p = 0; p < k; ++p) os << "  " << pad_left(std::to_string(cm.at(t, p)), w);
    os << "\n";
  }
  return os.str();
}

std::string classification_report(const ConfusionMatrix& cm, const ReportOptions& opts) {
  const auto names = names_for(cm, opts.class_names);
  const ClassificationSummary s = summarize(cm, opts.zero_division);
  const int d = opts.digits;
  std::size_t width = std::string("weighted avg").size();  // sklearn's layout
  for (std::int64_t c = 0; c < s.num_classes; ++c)
    width = std::max(width, names[static_cast<std::size_t>(c)].size() + (cm.counted_class(c) ? 0 : 10));
  auto row = [&](const std::string& label, const std::string& p, const std::string& r, const std::string& f,
                 std::int64_t support) {
    return pad_left(label, width) + " " + pad_left(p, 10) + pad_left(r, 10) + pad_left(f, 10) +
           pad_left(std::to_string(support), 10) + "\n";
  };
  std::string out = pad_left("", width) + " " + pad_left("precision", 10) + pad_left("recall", 10) +
                    pad_left("f1-score", 10) + pad_left("support", 10) + "\n\n";
  for (std::int64_t c = 0; c < s.num_classes; ++c) {
    const auto i = static_cast<std::size_t>(c);
    const std::string label = names[i] + (cm.counted_class(c) ? "" : " (ignored)");
    out += row(label, fixed(s.precision.per_class[i], d), fixed(s.recall.per_class[i], d),
               fixed(s.f1.per_class[i], d), s.per_class_support[i]);
  }
  out += "\n";
  out += row("accuracy", "", "", fixed(s.accuracy, d), s.support);
  // Micro averages equal accuracy unless a class is left out of the averages.
  const bool micro_differs = !(s.precision.micro == s.accuracy && s.recall.micro == s.accuracy);
  if (micro_differs && s.support > 0)
    out += row("micro avg", fixed(s.precision.micro, d), fixed(s.recall.micro, d), fixed(s.f1.micro, d), s.support);
  out += row("macro avg", fixed(s.precision.macro, d), fixed(s.recall.macro, d), fixed(s.f1.macro, d), s.support);
  out += row("weighted avg", fixed(s.precision.weighted, d), fixed(s.recall.weighted, d), fixed(s.f1.weighted, d),
             s.support);
  out += "\n";
  out += "balanced accuracy (mean recall)  " + fixed(s.balanced_accuracy, d) + "\n";
  out += "majority-class baseline accuracy " + fixed(s.majority_baseline, d);
  if (s.majority_class >= 0) out += " (always predicting " + names[static_cast<std::size_t>(s.majority_class)] + ")";
  out += "\n";
  // A table of K x K counts is read for tens of classes; for thousands it is
  // megabytes of text nobody reads (the JSON report holds the matrix).
  constexpr std::int64_t kMaxPrintedClasses = 50;
  if (opts.show_confusion_matrix && cm.num_classes() <= kMaxPrintedClasses) {
    out += "\n";
    out += confusion_matrix_table(cm, names);
  } else if (opts.show_confusion_matrix) {
    out += "\nconfusion matrix: not printed for " + std::to_string(cm.num_classes()) + " classes (more than " +
           std::to_string(kMaxPrintedClasses) + "); the JSON report holds it\n";
  }
  const auto warnings = class_warnings(cm, opts);
  if (!warnings.empty()) {
    out += "\n";
    out += warnings_text(warnings);
  }
  return out;
}

json classification_json(const ConfusionMatrix& cm, const ReportOptions& opts) {
  const ClassificationSummary s = summarize(cm, opts.zero_division);
  json m = json::array();
  for (std::int64_t t = 0; t < cm.num_classes(); ++t) {
    json r = json::array();
    for (std::int64_t p = 0; p < cm.num_classes(); ++p) r.push_back(cm.at(t, p));
    m.push_back(r);
  }
  json j = {{"num_classes", s.num_classes},
            {"support", s.support},
            {"accuracy", json_number(s.accuracy)},
            {"balanced_accuracy", json_number(s.balanced_accuracy)},
            {"majority_baseline_accuracy", json_number(s.majority_baseline)},
            {"precision", score_json(s.precision)},
            {"recall", score_json(s.recall)},
            {"f1", score_json(s.f1)},
            {"specificity", score_json(s.specificity)},
            {"per_class_support", s.per_class_support},
            {"confusion_matrix", m},
            {"zero_division", to_string(opts.zero_division)},
            {"ignore_index", cm.ignore_index() ? json(*cm.ignore_index()) : json(nullptr)},
            {"warnings", to_json(class_warnings(cm, opts))}};
  if (!opts.class_names.empty()) j["class_names"] = names_for(cm, opts.class_names);
  return j;
}

// ---------------------------------------------------------------- binary
namespace {
json curves_json(const RocCurve& roc, const PrCurve& pr) {
  return {{"roc_curve", {{"fpr", vec_json(roc.fpr)}, {"tpr", vec_json(roc.tpr)}, {"thresholds", vec_json(roc.thresholds)}}},
          {"pr_curve",
           {{"precision", vec_json(pr.precision)}, {"recall", vec_json(pr.recall)}, {"thresholds", vec_json(pr.thresholds)}}}};
}
}  // namespace

json binary_json(const BinaryScores& scores, double threshold) {
  json j = curves_json(scores.roc_curve(), scores.pr_curve());
  j["threshold"] = threshold;
  j["roc_auc"] = json_number(scores.roc_auc());
  j["average_precision"] = json_number(scores.average_precision());
  return j;
}

json binary_json(const BinnedBinaryScores& scores) {
  json j = curves_json(scores.roc_curve(), scores.pr_curve());
  j["num_bins"] = scores.num_bins();
  j["roc_auc"] = json_number(scores.roc_auc());
  j["average_precision"] = json_number(scores.average_precision());
  return j;
}

std::string binary_report(const BinaryScores& scores, double threshold) {
  std::ostringstream os;
  os << "binary scores: " << scores.size() << " samples, " << scores.positives() << " positive\n";
  os << "ROC-AUC            " << fixed(scores.roc_auc(), 4) << "\n";
  os << "average precision  " << fixed(scores.average_precision(), 4) << "\n";
  const ConfusionMatrix cm = scores.confusion_at(threshold);
  const double tp = static_cast<double>(cm.at(1, 1));
  const double pp = static_cast<double>(cm.predicted_count(1)), ap = static_cast<double>(cm.true_count(1));
  os << "at threshold " << threshold << ": precision " << fixed(pp > 0 ? tp / pp : NAN, 4) << ", recall "
     << fixed(ap > 0 ? tp / ap : NAN, 4) << "\n";
  return os.str();
}

// ---------------------------------------------------------------- speed
json to_json(const LossMeter& m) {
  return {{"sum", m.sum()}, {"count", m.count()}, {"mean", json_number(m.mean())}};
}

json to_json(const ThroughputMeter& m) {
  return {{"num_replicas", m.num_replicas()},
          {"warmup_steps", m.warmup_steps()},
          {"steps_counted", m.steps_counted()},
          {"samples", m.samples()},
          {"seconds", m.seconds()},
          {"samples_per_second", json_number(m.samples_per_second())},
          {"per_replica_samples_per_second", vec_json(m.per_replica_samples_per_second())}};
}

json to_json(const StepTimer& t) {
  json phases = json::object();
  for (const auto& p : t.phases())
    phases[p] = {{"mean_seconds", json_number(t.mean(p))}, {"fraction", json_number(t.fraction(p))}};
  return {{"steps_counted", t.steps_counted()}, {"step_mean_seconds", json_number(t.step_mean())}, {"phases", phases}};
}

json to_json(const MemoryTracker& m) {
  json j = json::object();
  for (const auto& [d, p] : m.peaks()) j[d] = p;
  return {{"peak_bytes", j}};
}

json to_json(const LoadBalance& lb) {
  json samples = json::array(), busy = json::array();
  for (std::int64_t r = 0; r < lb.num_replicas(); ++r) {
    samples.push_back(lb.samples(r));
    busy.push_back(lb.busy_seconds(r));
  }
  json w = json::array();
  if (auto x = check_load_imbalance(lb)) w = to_json(std::vector<Warning>{*x});
  return {{"samples", samples},
          {"busy_seconds", busy},
          {"imbalance_ratio", json_number(lb.imbalance_ratio())},
          {"sample_imbalance_ratio", json_number(lb.sample_imbalance_ratio())},
          {"idle_replicas", lb.idle_replicas()},
          {"warnings", w}};
}

std::string speed_report(const ThroughputMeter* tm, const StepTimer* timer, const MemoryTracker* mem,
                         const LoadBalance* lb) {
  std::ostringstream os;
  if (tm) {
    os << "throughput: " << fixed(tm->samples_per_second(), 1) << " samples/s over " << tm->steps_counted()
       << " steps (" << tm->warmup_steps() << " warm-up steps excluded)\n";
    for (std::int64_t r = 0; r < tm->num_replicas(); ++r)
      os << "  replica " << r << ": " << fixed(tm->samples_per_second(r), 1) << " samples/s\n";
  }
  if (timer && timer->steps_counted() > 0) {
    os << "step time: " << fixed(timer->step_mean() * 1e3, 3) << " ms per step\n";
    for (const auto& p : timer->phases())
      os << "  " << pad_left(p, 10) << "  " << pad_left(fixed(timer->mean(p) * 1e3, 3), 10) << " ms  "
         << pad_left(fixed(100.0 * timer->fraction(p), 1), 5) << "%\n";
  }
  if (mem)
    for (const auto& [d, p] : mem->peaks())
      os << "peak memory " << d << ": " << fixed(static_cast<double>(p) / (1024.0 * 1024.0), 1) << " MiB\n";
  if (lb) {
    os << "load balance: imbalance ratio " << fixed(lb->imbalance_ratio(), 3) << " (max/mean busy time)\n";
    for (std::int64_t r = 0; r < lb->num_replicas(); ++r)
      os << "  replica " << r << ": " << lb->samples(r) << " samples, " << fixed(lb->busy_seconds(r), 3)
         << " s busy\n";
    if (auto w = check_load_imbalance(*lb)) os << "WARNING: " << w->message << "\n";
  }
  return os.str();
}

std::string speed_report(const TrainingRecorder& rec) {
  std::ostringstream mine;  // this process's own figures
  mine << speed_report(&rec.throughput(), &rec.timer(), &rec.memory(), &rec.balance());
  const double total = rec.comm_total_mean(), exposed = rec.timer().mean("allreduce");
  if (std::isfinite(total) && std::isfinite(exposed) && rec.zero_stage() > 0)  // the weights' all-gather is no sum
    mine << "communication (ZeRO-1): " << fixed(total * 1e3, 3) << " ms per step in all — the gradients' "
         << "reduce-scatters, " << fixed(exposed * 1e3, 3) << " ms of them exposed after backward, and the "
         << "all-gather of the updated weights, inside the optimizer phase\n";
  else if (std::isfinite(total) && std::isfinite(exposed))
    mine << "gradient sums: " << fixed(total * 1e3, 3) << " ms per step in all, " << fixed(exposed * 1e3, 3)
         << " ms exposed (the step waited for them after backward); " << fixed(std::max(0.0, total - exposed) * 1e3, 3)
         << " ms overlapped with backward\n";
  const double sent = rec.comm_bytes_mean();
  if (std::isfinite(sent) && sent > 0)
    mine << "bytes sent: " << fixed(sent / (1024.0 * 1024.0), 3) << " MiB per step (counted at the communicator, "
         << "as a ring algorithm moves them)\n";
  mine << "optimizer state: " << fixed(static_cast<double>(rec.optimizer_state_bytes()) / (1024.0 * 1024.0), 3)
       << " MiB held" << (rec.zero_stage() > 0 ? " (ZeRO-1: this process's shard)" : "") << "\n";
  std::ostringstream os;
  if (rec.ranks().empty()) {
    os << mine.str();
  } else {
    // Across processes the job's figure comes first; this process's own
    // follow, labelled as such (a rank's samples/s is about 1/N of the job's).
    os << "throughput of the job: " << fixed(rec.global_samples_per_second(), 1) << " samples/s across "
       << rec.ranks().size() << " processes (every rank's samples over the slowest rank's time)\n"
       << "this process (rank " << rec.ranks().front().rank << ") alone:\n";
    std::istringstream lines(mine.str());
    for (std::string line; std::getline(lines, line);) os << "  " << line << "\n";
  }
  if (!rec.ranks().empty()) {
    const auto& ranks = rec.ranks();
    os << "per process:\n";
    os << "  rank  device      samples/s   busy_s  comm_ms  exposed_ms  peak_MiB  sent_MiB/step  opt_state_MiB\n";
    double busy_sum = 0, busy_max = 0;
    int slowest = 0;
    for (const auto& r : ranks) {
      os << "  " << pad_left(std::to_string(r.rank), 4) << "  " << pad_left(r.device, 8) << "  "
         << pad_left(fixed(r.seconds > 0 ? r.samples / r.seconds : 0.0, 1), 11) << "  "
         << pad_left(fixed(r.busy_seconds, 3), 7) << "  " << pad_left(fixed(r.comm_total * 1e3, 3), 7) << "  "
         << pad_left(fixed(r.comm_exposed * 1e3, 3), 10) << "  "
         << pad_left(fixed(static_cast<double>(r.peak_bytes) / (1024.0 * 1024.0), 1), 8) << "  "
         << pad_left(fixed(r.comm_bytes / (1024.0 * 1024.0), 3), 13) << "  "
         << pad_left(fixed(static_cast<double>(r.optimizer_state_bytes) / (1024.0 * 1024.0), 3), 13) << "\n";
      busy_sum += r.busy_seconds;
      if (r.busy_seconds > busy_max) busy_max = r.busy_seconds, slowest = r.rank;
    }
    const double ratio = busy_sum > 0 ? busy_max / (busy_sum / static_cast<double>(ranks.size())) : 1.0;
    os << "load balance across processes: imbalance ratio " << fixed(ratio, 3) << " (max/mean busy time); "
       << "the slowest is rank " << slowest << "\n";
  }
  os << "host synchronisations: " << fixed(rec.host_syncs_per_step(), 2) << " per step (the host waited for a "
     << "device this often inside the training loop)\n";
  if (rec.cpu_threads() > 0)
    os << "CPU threads: " << rec.cpu_threads() << " (" << rec.cpu_threads_per_replica() << " per replica; float32 matrix products: "
       << cpu_gemm_library() << (*cpu_gemm_kernels() ? std::string(", ") + cpu_gemm_kernels() + " kernels" : "")
       << "; convolutions: " << cpu_conv_kernels() << ")\n";
  if (rec.cpu_threads() > 0 && !cpu_gemm_warning().empty()) os << "WARNING: " << cpu_gemm_warning() << "\n";
  return os.str();
}

json speed_json(const TrainingRecorder& rec) {
  // samples_per_s is the job's: this process's in one process, every rank's
  // samples over the slowest rank's time across processes ("throughput" and
  // "ranks" hold the per-process figures).
  json j = {{"samples_per_s", json_number(rec.ranks().empty() ? rec.throughput().samples_per_second()
                                                                 : rec.global_samples_per_second())},
            {"step_time", to_json(rec.timer())},
            {"throughput", to_json(rec.throughput())},
            {"load_balance", to_json(rec.balance())},
            {"peak_memory", to_json(rec.memory())},
            {"comm_total_s_per_step", json_number(rec.comm_total_mean())},
            {"comm_exposed_s_per_step", json_number(rec.timer().mean("allreduce"))},
            {"comm_bytes_per_step", json_number(rec.comm_bytes_mean())},
            {"optimizer_state_bytes", rec.optimizer_state_bytes()},
            {"zero_stage", rec.zero_stage()},
            {"host_syncs_per_step", json_number(rec.host_syncs_per_step())},
            {"cpu_threads", rec.cpu_threads()},
            {"cpu_threads_per_replica", rec.cpu_threads_per_replica()}};
  if (!rec.ranks().empty()) {
    j["global_samples_per_s"] = json_number(rec.global_samples_per_second());
    j["ranks"] = json::array();
    for (const auto& r : rec.ranks())
      j["ranks"].push_back({{"rank", r.rank}, {"device", r.device}, {"samples", r.samples},
                            {"seconds", json_number(r.seconds)}, {"busy_seconds", json_number(r.busy_seconds)},
                            {"comm_total_s_per_step", json_number(r.comm_total)},
                            {"comm_exposed_s_per_step", json_number(r.comm_exposed)}, {"peak_bytes", r.peak_bytes},
                            {"comm_bytes_per_step", json_number(r.comm_bytes)},
                            {"optimizer_state_bytes", r.optimizer_state_bytes}});
  }
  return j;
}

json training_run_json(const TrainingRecorder& rec, double train_loss, const Evaluation& test,
                       const ReportOptions& opts, const std::vector<Warning>& warnings) {
  json j;
  j["train"] = speed_json(rec);
  j["train"]["loss"] = json_number(train_loss);
  json t = classification_json(test.cm, opts);
  t["loss"] = json_number(test.loss.mean());
  // Flat keys for quick reading, beside the full nested report.
  const auto pr = precision(test.cm), rc = recall(test.cm), f = f1(test.cm);
  t["precision_macro"] = json_number(pr.macro);
  t["recall_macro"] = json_number(rc.macro);
  t["f1_macro"] = json_number(f.macro);
  t["per_class"] = json::array();
  for (std::int64_t k = 0; k < test.cm.num_classes(); ++k)
    t["per_class"].push_back({{"class", k < static_cast<std::int64_t>(opts.class_names.size()) ? opts.class_names[k]
                                                                                              : std::to_string(k)},
                              {"precision", json_number(pr.per_class[k])},
                              {"recall", json_number(rc.per_class[k])},
                              {"f1", json_number(f.per_class[k])},
                              {"support", test.cm.true_count(k)}});
  j["test"] = t;
  j["warnings"] = to_json(warnings);
  return j;
}

json epoch_json(std::int64_t epoch, const LossMeter& train, const LossMeter& val, const ConfusionMatrix* cm,
                const ThroughputMeter* tm) {
  json j = {{"epoch", epoch}, {"train_loss", json_number(train.mean())}, {"val_loss", json_number(val.mean())}};
  if (cm) {
    j["val_accuracy"] = json_number(accuracy(*cm));
    j["val_balanced_accuracy"] = json_number(balanced_accuracy(*cm));
    j["val_macro_f1"] = json_number(f1(*cm).macro);
  }
  if (tm) j["samples_per_second"] = json_number(tm->samples_per_second());
  return j;
}

json scaling_json(const std::vector<std::pair<std::int64_t, double>>& runs) {
  double base = 0;
  for (const auto& [n, t] : runs)
    if (n == 1) base = t;
  MINIDP_CHECK(base > 0, "scaling_json: needs a run with 1 replica and positive throughput as the baseline");
  json a = json::array();
  for (const auto& [n, t] : runs)
    a.push_back({{"replicas", n}, {"samples_per_second", t}, {"efficiency", scaling_efficiency(t, n, base)}});
  return {{"scaling", a}};
}

// ---------------------------------------------------------------- JSONL
JsonlWriter::JsonlWriter(const std::string& path, bool append)
    : path_(path), out_(path, append ? std::ios::app : std::ios::trunc) {
  MINIDP_CHECK(out_.good(), "JsonlWriter: cannot open '", path, "' for writing");
}

void JsonlWriter::write(const json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
  MINIDP_CHECK(out_.good(), "JsonlWriter: writing to '", path_, "' failed");
}

}  // namespace minidp::metrics
