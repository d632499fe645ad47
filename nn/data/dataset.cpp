// minidp/nn/data/dataset.cpp — Dataset checks, subsets and row gathers.
#include "minidp/nn/data/dataset.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "minidp/core/error.h"

namespace minidp::nn::data {
namespace {
std::uint64_t next_source_id() {
  static std::atomic<std::uint64_t> next{1};
  return next++;
}
}  // namespace

Dataset::Dataset(Tensor in, Tensor lab, std::string nm, std::int64_t classes)
    : name(std::move(nm)), num_classes(classes), source_id(next_source_id()) {
  MINIDP_CHECK(in.defined() && lab.defined(), name, ": inputs and labels must both be defined tensors");
  MINIDP_CHECK(in.device().is_cpu() && lab.device().is_cpu(), name, ": a Dataset lives on the cpu, got inputs ",
               in.describe(), " and labels ", lab.describe(), " (the DataLoader moves batches to a device)");
  MINIDP_CHECK(in.dim() >= 1, name, ": inputs need a sample dimension, got ", in.describe());
  MINIDP_CHECK(lab.dtype() == kInt64 && lab.dim() == 1, name, ": labels must be int64 [N], got ", lab.describe());
  MINIDP_CHECK(in.size(0) == lab.size(0), name, ": ", in.size(0), " inputs but ", lab.size(0), " labels");
  MINIDP_CHECK(num_classes <= kMaxClasses, name, ": ", num_classes, " classes is more than minidp handles (",
               kMaxClasses, ": evaluation keeps a K x K confusion matrix); is the label column the right one?");
  inputs = in.contiguous();
  labels = lab.contiguous();
  const std::int64_t* l = labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < labels.numel(); ++i) {
    MINIDP_CHECK(l[i] >= 0 && l[i] < (num_classes > 0 ? num_classes : kMaxClasses), name, ": label ", l[i],
                 " of sample ", i, " is out of range [0, ", num_classes > 0 ? num_classes : kMaxClasses, ")",
                 num_classes > 0 ? "" : " (minidp's limit on the number of classes)");
  }
}

Shape Dataset::sample_shape() const {
  MINIDP_CHECK(inputs.defined(), name, ": empty Dataset");
  return Shape(inputs.shape().begin() + 1, inputs.shape().end());
}

std::size_t Dataset::sample_bytes() const {
  return static_cast<std::size_t>(shape_numel(sample_shape())) * dtype_size(inputs.dtype());
}

const std::uint8_t* Dataset::sample_data(std::int64_t i) const {
  MINIDP_CHECK(i >= 0 && i < size(), name, ": sample index ", i, " out of range [0, ", size(), ")");
  return static_cast<const std::uint8_t*>(inputs.raw_data()) + static_cast<std::size_t>(i) * sample_bytes();
}

Tensor gather_rows(const Tensor& t, const std::vector<std::int64_t>& indices) {
  MINIDP_CHECK(t.defined() && t.dim() >= 1 && t.device().is_cpu(), "gather_rows: expected a cpu tensor with a first "
               "dimension, got ", t.defined() ? t.describe() : std::string("an undefined tensor"));
  const Tensor src = t.contiguous();
  Shape shape = src.shape();
  const std::int64_t n = shape[0];
  shape[0] = static_cast<std::int64_t>(indices.size());
  Tensor out = Tensor::empty(shape, TensorOptions(src.dtype()));
  const std::size_t row = static_cast<std::size_t>(n == 0 ? 0 : src.numel() / n) * dtype_size(src.dtype());
  const auto* from = static_cast<const std::uint8_t*>(src.raw_data());
  auto* to = static_cast<std::uint8_t*>(out.raw_data());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const std::int64_t i = indices[k];
    MINIDP_CHECK(i >= 0 && i < n, "gather_rows: index ", i, " out of range [0, ", n, ")");
    std::memcpy(to + k * row, from + static_cast<std::size_t>(i) * row, row);
  }
  return out;
}

Dataset Dataset::subset(const std::vector<std::int64_t>& indices, const std::string& nm) const {
  Dataset d(gather_rows(inputs, indices), gather_rows(labels, indices), nm.empty() ? name + "/subset" : nm,
            num_classes);
  d.source_id = source_id;
  d.source_indices.reserve(indices.size());
  for (std::int64_t i : indices) d.source_indices.push_back(source_indices.empty() ? i : source_indices[i]);
  return d;
}

std::vector<std::int64_t> Dataset::label_counts() const {
  const std::vector<std::int64_t> l = labels.to_vector<std::int64_t>();
  std::int64_t k = num_classes;
  for (std::int64_t v : l) k = std::max(k, v + 1);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(k), 0);
  for (std::int64_t v : l) ++counts[static_cast<std::size_t>(v)];
  return counts;
}

Dataset concat(const std::vector<Dataset>& parts, const std::string& name) {
  MINIDP_CHECK(!parts.empty(), name, ": nothing to concatenate");
  std::int64_t n = 0;
  for (const Dataset& p : parts) {
    MINIDP_CHECK(p.sample_shape() == parts[0].sample_shape() && p.inputs.dtype() == parts[0].inputs.dtype(), name,
                 ": cannot concatenate ", p.name, " (", p.inputs.describe(), ") with ", parts[0].name, " (",
                 parts[0].inputs.describe(), ")");
    n += p.size();
  }
  Shape shape = parts[0].inputs.shape();
  shape[0] = n;
  Tensor inputs = Tensor::empty(shape, TensorOptions(parts[0].inputs.dtype()));
  Tensor labels = Tensor::empty({n}, TensorOptions(kInt64));
  auto* in = static_cast<std::uint8_t*>(inputs.raw_data());
  auto* lab = labels.data<std::int64_t>();
  for (const Dataset& p : parts) {
    const std::size_t bytes = p.sample_bytes() * static_cast<std::size_t>(p.size());
    std::memcpy(in, p.inputs.raw_data(), bytes);
    std::memcpy(lab, p.labels.raw_data(), static_cast<std::size_t>(p.size()) * sizeof(std::int64_t));
    in += bytes;
    lab += p.size();
  }
  return Dataset(inputs, labels, name, parts[0].num_classes);
}

}  // namespace minidp::nn::data
