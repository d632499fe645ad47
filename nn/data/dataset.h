// minidp/nn/data/dataset.h — an in-memory data set: a tensor of inputs and a tensor of labels.
//
// Every data set minidp reads (IDX, CIFAR-10, CSV) fits in host memory, so a
// Dataset is simply two CPU tensors whose first dimension is the sample index:
// inputs [N, ...] of any dtype (uint8 pixels stay uint8 until a batch is
// transformed, a quarter of the memory of float32) and labels int64 [N].
// A subset copies the chosen rows, and remembers which rows of the parent they
// were, so a validation split can be traced back to the training file.
//
//   Dataset train = fashion_mnist();                      // [60000, 28, 28] uint8
//   Dataset first = train.subset({0, 1, 2});               // 3 samples
//   std::vector<std::int64_t> counts = train.label_counts();  // 6000 per class
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "minidp/core/tensor.h"

namespace minidp::nn::data {

// The most classes a data set may have: 1024 (ImageNet has 1000). A
// classifier's evaluation keeps a K x K confusion matrix of 64-bit counts
// (metrics::ConfusionMatrix::kMaxClasses, the same limit), and a label
// column holding ids like 8999999999999999 is a wrong column, not a data set
// with that many classes.
inline constexpr std::int64_t kMaxClasses = 1024;

// Which part of a data set a reader returns.
enum class Split { Train, Test };

struct Dataset {
  Tensor inputs;  // [N, ...] on the CPU, contiguous
  Tensor labels;  // int64 [N] on the CPU
  std::string name = "dataset";  // used in messages ("fashion-mnist/train")
  std::int64_t num_classes = 0;  // 0 = not known
  // Which data set the rows come from: a fresh id for every data set built
  // from tensors (read from files), inherited by its subsets. For a subset,
  // row i was row source_indices[i] of that data set (composed through nested
  // subsets); empty for the data set itself. check_overlap uses both.
  std::uint64_t source_id = 0;
  std::vector<std::int64_t> source_indices;

  Dataset() = default;
  // Checks that both are defined CPU tensors with the same first dimension,
  // labels int64 [N] in [0, num_classes) when num_classes > 0; makes inputs contiguous.
  Dataset(Tensor inputs, Tensor labels, std::string name = "dataset", std::int64_t num_classes = 0);

  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  Shape sample_shape() const;  // inputs' shape without the first dimension
  std::size_t sample_bytes() const;  // bytes of one input row
  const std::uint8_t* sample_data(std::int64_t i) const;  // raw bytes of input row i

  // The samples at `indices` (any order, repeats allowed), copied.
  Dataset subset(const std::vector<std::int64_t>& indices, const std::string& name = "") const;
  // How many samples carry each label (length num_classes, or max label + 1).
  std::vector<std::int64_t> label_counts() const;
};

// Rows `indices` of a contiguous CPU tensor (any dtype), copied into a new
// tensor [indices.size(), ...]. No autograd: this is data, not a model op.
Tensor gather_rows(const Tensor& t, const std::vector<std::int64_t>& indices);

// Concatenate data sets sample-wise (same sample shape and dtype).
Dataset concat(const std::vector<Dataset>& parts, const std::string& name);

}  // namespace minidp::nn::data
