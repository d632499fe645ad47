// minidp/nn/data/cifar.cpp — CIFAR-10 batch files.
#include "minidp/nn/data/cifar.h"

#include <cstring>

#include "minidp/core/error.h"
#include "minidp/nn/data/file_io.h"

namespace minidp::nn::data {

Dataset read_cifar10_batch(const std::string& path) {
  const std::vector<std::uint8_t> b = read_file_bytes(path);
  const auto size = static_cast<std::int64_t>(b.size());
  MINIDP_CHECK(size > 0, path, ": empty file; expected records of ", kCifarRecordBytes,
               " bytes (1 label byte + 3072 pixel bytes)");
  const std::int64_t n = size / kCifarRecordBytes;
  MINIDP_CHECK(size % kCifarRecordBytes == 0, path, ": truncated: expected a multiple of ", kCifarRecordBytes,
               " bytes (records of 1 label byte + 3072 pixel bytes), got ", size, " = ", n, " records + ",
               size % kCifarRecordBytes, " bytes");
  Tensor images = Tensor::empty({n, 3, 32, 32}, TensorOptions(kUInt8));
  Tensor labels = Tensor::empty({n}, TensorOptions(kInt64));
  auto* img = images.data<std::uint8_t>();
  auto* lab = labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint8_t* rec = b.data() + i * kCifarRecordBytes;
    MINIDP_CHECK(rec[0] < 10, path, ": label ", int(rec[0]), " of record ", i, " is out of range [0, 10)");
    lab[i] = rec[0];
    std::memcpy(img + i * (kCifarRecordBytes - 1), rec + 1, kCifarRecordBytes - 1);
  }
  return Dataset(images, labels, path, 10);
}

Dataset cifar10(const std::string& dir, Split split) {
  const bool train = split == Split::Train;
  std::vector<std::string> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) files.push_back(join_path(dir, "data_batch_" + std::to_string(i) + ".bin"));
  } else {
    files.push_back(join_path(dir, "test_batch.bin"));
  }
  std::vector<Dataset> parts;
  for (const std::string& f : files) {
    MINIDP_CHECK(file_exists(f), "cifar10: cannot find ", f, "; download the binary version from "
                 "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and point to cifar-10-batches-bin");
    parts.push_back(read_cifar10_batch(f));
  }
  return concat(parts, train ? "cifar10/train" : "cifar10/test");
}

const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

}  // namespace minidp::nn::data
