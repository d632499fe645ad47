// minidp/nn/data/cifar.h — the CIFAR-10 binary version (cifar-10-batches-bin).
//
// Each batch file is a plain run of 3073-byte records: one label byte (0..9)
// followed by 3072 pixel bytes, the 1024 red values of the 32x32 image, then
// green, then blue — already the channel-first [3, 32, 32] layout convolutions
// want. The standard files hold 10000 records each: data_batch_1.bin …
// data_batch_5.bin (training) and test_batch.bin. There is no header, so the
// file size and the label range are all there is to check.
//
//   Dataset train = cifar10("/data/cifar-10-batches-bin");          // uint8 [50000, 3, 32, 32]
//   Dataset one = read_cifar10_batch("/data/cifar-10-batches-bin/test_batch.bin");
#pragma once

#include <string>
#include <vector>

#include "minidp/nn/data/dataset.h"

namespace minidp::nn::data {

inline constexpr std::int64_t kCifarRecordBytes = 1 + 3 * 32 * 32;

// One batch file: any whole number of records (the standard files have 10000).
Dataset read_cifar10_batch(const std::string& path);
// The five training batches, or test_batch.bin, from `dir`.
Dataset cifar10(const std::string& dir, Split split = Split::Train);
const std::vector<std::string>& cifar10_classes();  // "airplane", "automobile", ...

}  // namespace minidp::nn::data
