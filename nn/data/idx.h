// minidp/nn/data/idx.h — the IDX format of MNIST and Fashion-MNIST.
//
// An IDX file is a 4-byte magic (0x00 0x00, an element-type code, the number
// of dimensions), one big-endian uint32 per dimension, then the elements in
// row-major order. MNIST and Fashion-MNIST ship four of them: images
// (magic 0x00000803: uint8 [N, 28, 28]) and labels (0x00000801: uint8 [N]) for
// the training and test sets, usually gzip-compressed. Every check below exists
// because a half-downloaded or mismatched file otherwise trains a model on
// garbage without any error.
//
//   Dataset train = fashion_mnist();               // /usr/share/datasets/fashion-mnist
//   Dataset test = fashion_mnist(dir, Split::Test);
//   train.inputs;  // uint8 [60000, 28, 28]     train.labels;  // int64 [60000]
#pragma once

#include <string>
#include <vector>

#include "minidp/core/tensor.h"
#include "minidp/nn/data/dataset.h"

namespace minidp::nn::data {

// Where the Debian package dataset-fashion-mnist installs the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Any IDX file of unsigned bytes (type code 0x08), as a uint8 tensor of its dimensions.
Tensor read_idx(const std::string& path);
// An image file (magic 0x00000803): uint8 [N, H, W].
Tensor read_idx_images(const std::string& path);
// A label file (magic 0x00000801): int64 [N], each checked to lie in [0, num_classes).
Tensor read_idx_labels(const std::string& path, std::int64_t num_classes = 10);
// An image file and its label file, checked to hold the same number of samples.
Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path,
                         std::int64_t num_classes = 10, const std::string& name = "idx");

// The standard four-file layout: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in `dir`.
Dataset mnist(const std::string& dir, Split split = Split::Train);
Dataset fashion_mnist(const std::string& dir = kFashionMnistDir, Split split = Split::Train);
// True when `dir` holds the four files (so examples and tests can skip politely).
bool mnist_files_present(const std::string& dir);
const std::vector<std::string>& fashion_mnist_classes();  // "T-shirt/top", "Trouser", ...

}  // namespace minidp::nn::data
