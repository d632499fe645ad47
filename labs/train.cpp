// labs/train.cpp — the real framework on a lab's piece: 3 CPU replicas of an
// MLP train on Fashion-MNIST for 30 steps of 100 images, in the way that lab's
// piece matters most, and print each step's loss.
//
//   lab_train_reference --lab N > ref.txt      minidp's own pieces
//   lab_train_N --lab N --against ref.txt      the same program linked with YOUR
//                                              labs/N-*/exercise.cpp: its
//                                              function replaces minidp's
//                                              (make lab N does both)
//
// Lab 1: every step is two micro-batches (37 rows accumulated, then 63), so
//        the gradients are summed and divided by YOUR divide_by_global_count.
// Lab 2: small buckets (4 KiB first, 64 KiB after): YOUR plan_buckets lays out
//        the gradients of the real GradientBuckets.
// Lab 3: every bucket is summed by YOUR allreduce_sum_cpu; the replicas must
//        stay bitwise identical (checked after every step).
// Lab 4: three DataLoaders, parts 0, 1, 2 of 3, load each batch through YOUR
//        part_rows; their parts joined must be the one-process batch.
// Labs 1, 2 and 4 must give minidp's losses bit for bit; lab 3 within 1e-5
// (a ring adds in another order than minidp's sum).
#include <minidp/minidp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

using namespace minidp;

namespace {
int train(int lab, const char* against) {
  const std::int64_t kSteps = 30, kBatch = 100;
  manual_seed(0);
  nn::data::Dataset all = nn::data::fashion_mnist(nn::data::kFashionMnistDir, nn::data::Split::Train);
  nn::data::Dataset data = all.subset(nn::data::sequential_indices(kSteps * kBatch));
  nn::ModulePtr model = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 64), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(64, 10)});
  parallel::DataParallelOptions opts;
  if (lab == 2) {
    opts.first_bucket_bytes = 4 << 10;
    opts.bucket_bytes = 64 << 10;
  }
  opts.check_identical = lab == 3;  // a hash of every replica's weights after each step
  parallel::DataParallel dp(model, parallel::parse_replicas("cpu,cpu,cpu"), [](std::vector<Tensor> p) {
    return std::make_unique<nn::SGD>(p, nn::SGDOptions{.lr = 0.1, .momentum = 0.9});
  }, opts);
  if (lab == 2) {
    const auto& b = dp.buckets(0);
    for (int i = 0; i < b.num_buckets(); ++i) {
      std::fprintf(stderr, "bucket %d: %lld floats, parameters", i, static_cast<long long>(b.bucket(i).numel()));
      for (int p : b.params_of(i)) std::fprintf(stderr, " %d", p);
      std::fprintf(stderr, "\n");
    }
  }

  const nn::data::DataLoaderOptions lo{.batch_size = kBatch, .seed = 1, .transform = nn::data::Transform::fashion_mnist(),
                                       .prefetch = 0};
  nn::data::DataLoader loader(data, lo);
  std::vector<std::unique_ptr<nn::data::DataLoader>> parts;  // lab 4: what 3 processes would load
  for (int p = 0; p < 3; ++p)
    parts.push_back(std::make_unique<nn::data::DataLoader>(data, parallel::DistributedSampler(p, 3).apply(lo)));

  std::vector<double> losses;
  for (std::int64_t step = 0; step < kSteps; ++step) {
    nn::data::Batch b = loader.batch(0, step);
    if (lab == 4) {
      std::vector<std::int64_t> rows;
      std::vector<Tensor> xs, ys;
      for (auto& part : parts) {
        nn::data::Batch pb = part->batch(0, step);
        rows.insert(rows.end(), pb.indices.begin(), pb.indices.end());
        xs.push_back(pb.inputs);
        ys.push_back(pb.labels);
      }
      MINIDP_CHECK(rows == b.indices, "lab 4: batch ", step, ": the 3 parts' rows joined (", rows.size(),
                   " rows) are not the one-process batch's ", b.indices.size(), " rows, in order");
      b.inputs = cat(xs, 0);  // train on what the 3 parts loaded
      b.labels = cat(ys, 0);
    }
    parallel::StepResult r;
    if (lab == 1) {
      dp.accumulate(b.inputs.slice(0, 37), b.labels.slice(0, 37));
      r = dp.train_step(b.inputs.slice(37, kBatch), b.labels.slice(37, kBatch));
    } else {
      r = dp.train_step(b.inputs, b.labels);
    }
    losses.push_back(r.loss());
    std::printf("step %2lld loss %.9g\n", static_cast<long long>(step), losses.back());
  }
  if (against == nullptr) return 0;

  std::ifstream ref(against);
  MINIDP_CHECK(ref.good(), "lab_train: cannot read the reference losses from ", against);
  std::string word;
  long long step = 0;
  double want = 0;
  int compared = 0;
  while (ref >> word >> step >> word >> want) {
    MINIDP_CHECK(step >= 0 && step < kSteps, "lab_train: ", against, " is not a reference of this program");
    const double got = losses[static_cast<std::size_t>(step)];
    // The loss is a float: its 9 digits above are all of it.
    const bool same = lab == 3 ? std::abs(got - want) <= 1e-5 * std::abs(want)
                               : static_cast<float>(got) == static_cast<float>(want);
    if (!same) {
      std::printf("lab %d: step %lld: the loss is %.9g with your piece, %.9g with minidp's own%s\n", lab, step, got,
                  want, lab == 3 ? " (more than 1e-5 apart)" : " (they must be the same bits)");
      return 1;
    }
    ++compared;
  }
  MINIDP_CHECK(compared == kSteps, "lab_train: ", against, " holds ", compared, " losses, expected ", kSteps);
  std::printf("lab %d: done - the real DataParallel trained %lld steps on your piece; every loss %s minidp's own "
              "(%.4f -> %.4f)\n", lab, static_cast<long long>(kSteps),
              lab == 3 ? "within 1e-5 of" : "bitwise equal to", losses.front(), losses.back());
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  int lab = 0;
  const char* against = nullptr;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--lab") == 0) lab = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--against") == 0) against = argv[i + 1];
  }
  if (lab < 1 || lab > 4) {
    std::fprintf(stderr, "usage: %s --lab 1|2|3|4 [--against reference.txt]\n", argv[0]);
    return 2;
  }
  try {
    return train(lab, against);
  } catch (const std::exception& e) {
    std::printf("%s\n", e.what());
    return 1;
  }
}
