// minidp/metrics/confusion_matrix.cpp — the K x K counts every classification
// metric comes from: counted where the predictions are (a CPU loop or a GPU
// kernel) and merged across replicas by adding, with clear errors for labels
// out of range.
#include "minidp/metrics/confusion_matrix.h"

#include <algorithm>
#include <limits>
#include <string>

#include "minidp/core/ops.h"
#include "minidp/kernels/kernels.h"

namespace minidp::metrics {

namespace detail {

// Scores and curves need every value on the host; the confusion matrix does
// not (see ConfusionMatrix::update, which counts on the tensors' device).
static Tensor to_host(const Tensor& t) {
  MINIDP_CHECK(t.defined(), "metrics: expected a tensor, got an undefined one");
  return !t.device().is_cpu() ? t.to(Device::cpu()) : t;
}

std::vector<std::int64_t> host_int64(const Tensor& t, const char* what) {
  Tensor h = to_host(t);
  MINIDP_CHECK(!is_floating(h.dtype()), "metrics: ", what, " must be an integer tensor of class indices, got ",
               h.describe());
  return h.to_vector<std::int64_t>();
}

std::vector<double> host_double(const Tensor& t, const char* what) {
  Tensor h = to_host(t);
  MINIDP_CHECK(is_floating(h.dtype()), "metrics: ", what, " must be a floating tensor, got ", h.describe());
  return h.to_vector<double>();
}

}  // namespace detail

ConfusionMatrix::ConfusionMatrix(std::int64_t num_classes, std::optional<std::int64_t> ignore_index)
    : k_(num_classes), ignore_(ignore_index) {
  MINIDP_CHECK(num_classes >= 1 && num_classes <= kMaxClasses, "ConfusionMatrix: num_classes must be in [1, ",
               kMaxClasses, "], got ", num_classes, " (the matrix holds num_classes^2 counts)");
  counts_.assign(static_cast<std::size_t>(k_ * k_), 0);
}

void ConfusionMatrix::check_label(std::int64_t label) const {
  MINIDP_CHECK(label >= 0 && label < k_, "ConfusionMatrix: label ", label, " is out of range [0, ", k_, ")",
               ignore_ ? " and is not the ignore_index " + std::to_string(*ignore_) : std::string());
}

void ConfusionMatrix::check_pred(std::int64_t pred) const {
  MINIDP_CHECK(pred >= 0 && pred < k_, "ConfusionMatrix: predicted class ", pred, " is out of range [0, ", k_,
               ")");
}

void ConfusionMatrix::add(std::int64_t label, std::int64_t predicted, std::int64_t n) {
  if (ignore_ && label == *ignore_) return;
  check_label(label);
  check_pred(predicted);
  counts_[static_cast<std::size_t>(label * k_ + predicted)] += n;
}

void ConfusionMatrix::update(const std::vector<std::int64_t>& predicted, const std::vector<std::int64_t>& labels) {
  MINIDP_CHECK(predicted.size() == labels.size(), "ConfusionMatrix::update: ", predicted.size(),
               " predictions but ", labels.size(), " labels; expected one prediction per label");
  // Validate everything first so that a bad batch leaves the matrix untouched.
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (ignore_ && labels[i] == *ignore_) continue;
    check_label(labels[i]);
    check_pred(predicted[i]);
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (ignore_ && labels[i] == *ignore_) continue;
    counts_[static_cast<std::size_t>(labels[i] * k_ + predicted[i])] += 1;
  }
}

// Counted where the tensors are (kernels' confusion_matrix: a loop on the CPU,
// integer atomics on a GPU) into a fresh K x K buffer; only those K*K counts
// come to the host, and a bad batch adds nothing.
void ConfusionMatrix::update(const Tensor& predicted, const Tensor& labels) {
  MINIDP_CHECK(predicted.defined() && labels.defined(), "ConfusionMatrix::update: undefined tensor");
  MINIDP_CHECK(predicted.numel() == labels.numel(), "ConfusionMatrix::update: predictions ", predicted.describe(),
               " and labels ", labels.describe(), " have different numbers of elements");
  MINIDP_CHECK(predicted.device() == labels.device(), "ConfusionMatrix::update: predictions ", predicted.describe(),
               " and labels ", labels.describe(), " are on different devices");
  MINIDP_CHECK(!is_floating(predicted.dtype()) && !is_floating(labels.dtype()),
               "ConfusionMatrix::update: predictions and labels must be integer tensors of class indices, got ",
               predicted.describe(), " and ", labels.describe());
  const Device dev = labels.device();
  const Tensor p = predicted.to(kInt64).contiguous().reshape({-1});
  const Tensor l = labels.to(kInt64).contiguous().reshape({-1});
  Tensor batch_counts = zeros({k_, k_}, TensorOptions(kInt64).with_device(dev));
  MINIDP_KERNEL(dev, confusion_matrix, p, l, ignore_ ? *ignore_ : std::numeric_limits<std::int64_t>::min(),
                batch_counts);
  const std::vector<std::int64_t> c = batch_counts.to_vector<std::int64_t>();  // raises a GPU kernel's error here
  for (std::size_t i = 0; i < c.size(); ++i) counts_[i] += c[i];
}

void ConfusionMatrix::update_from_logits(const Tensor& logits, const Tensor& labels) {
  MINIDP_CHECK(logits.defined() && labels.defined(), "ConfusionMatrix::update_from_logits: undefined tensor");
  MINIDP_CHECK(logits.dim() == 2 && logits.size(1) == k_, "ConfusionMatrix::update_from_logits: expected logits [N, ",
               k_, "], got ", logits.describe());
  MINIDP_CHECK(labels.numel() == logits.size(0), "ConfusionMatrix::update_from_logits: ", logits.size(0),
               " rows of logits but labels ", labels.describe());
  if (!logits.device().is_cpu()) {  // argmax on the GPU too (first maximum, like the loop below)
    update(argmax(logits, 1), labels);
    return;
  }
  const std::vector<double> z = detail::host_double(logits, "logits");
  const std::int64_t n = logits.size(0);
  std::vector<std::int64_t> pred(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double* row = z.data() + i * k_;
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < k_; ++c)
      if (row[c] > row[best]) best = c;  // strict: the first maximum wins
    pred[static_cast<std::size_t>(i)] = best;
  }
  update(pred, detail::host_int64(labels, "labels"));
}

void ConfusionMatrix::reset() { std::fill(counts_.begin(), counts_.end(), 0); }

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  MINIDP_CHECK(other.k_ == k_, "ConfusionMatrix::merge: matrices have ", k_, " and ", other.k_,
               " classes; expected the same number");
  MINIDP_CHECK(other.ignore_ == ignore_, "ConfusionMatrix::merge: matrices have different ignore_index");
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
}

bool ConfusionMatrix::operator==(const ConfusionMatrix& o) const {
  return k_ == o.k_ && ignore_ == o.ignore_ && counts_ == o.counts_;
}

std::int64_t ConfusionMatrix::at(std::int64_t t, std::int64_t p) const {
  MINIDP_CHECK(t >= 0 && t < k_ && p >= 0 && p < k_, "ConfusionMatrix::at(", t, ", ", p, "): expected indices in [0, ",
               k_, ")");
  return counts_[static_cast<std::size_t>(t * k_ + p)];
}

Tensor ConfusionMatrix::to_tensor() const { return from_vector<std::int64_t>(counts_, {k_, k_}); }

std::int64_t ConfusionMatrix::total() const {
  std::int64_t s = 0;
  for (auto c : counts_) s += c;
  return s;
}

std::int64_t ConfusionMatrix::correct() const {
  std::int64_t s = 0;
  for (std::int64_t c = 0; c < k_; ++c) s += counts_[static_cast<std::size_t>(c * k_ + c)];
  return s;
}

std::int64_t ConfusionMatrix::true_count(std::int64_t c) const {
  std::int64_t s = 0;
  for (std::int64_t p = 0; p < k_; ++p) s += at(c, p);
  return s;
}

std::int64_t ConfusionMatrix::predicted_count(std::int64_t c) const {
  std::int64_t s = 0;
  for (std::int64_t t = 0; t < k_; ++t) s += at(t, c);
  return s;
}

std::int64_t ConfusionMatrix::true_negatives(std::int64_t c) const {
  return total() - true_count(c) - predicted_count(c) + at(c, c);
}

}  // namespace minidp::metrics
