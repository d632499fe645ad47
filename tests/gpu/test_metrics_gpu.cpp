// GPU tests of metrics/: the confusion matrix counted on the GPU equals the CPU's.
#include "gpu_test.h"

using namespace minidp;
using namespace minidp::test;

GPU_TEST_CASE("metrics: confusion matrix counted on the GPU equals the CPU count, with ignore_index") {
  Tensor pred = random_cpu({5000}, kInt64, 0, 7, 1);
  Tensor labels = random_cpu({5000}, kInt64, 0, 7, 2);
  metrics::ConfusionMatrix on_cpu(7, 3), on_gpu(7, 3);
  on_cpu.update(pred, labels);
  on_gpu.update(pred.to(gpu()), labels.to(gpu()));
  CHECK(on_gpu == on_cpu);
  CHECK(on_gpu.total() < 5000);  // class 3 ignored
  Tensor logits = random_cpu({300, 7}, kFloat32, -1, 1, 3);
  metrics::ConfusionMatrix from_cpu(7), from_gpu(7);
  from_cpu.update_from_logits(logits, labels.narrow(0, 0, 300));
  from_gpu.update_from_logits(logits.to(gpu()), labels.narrow(0, 0, 300).to(gpu()));
  CHECK(from_gpu == from_cpu);
}

GPU_TEST_CASE("metrics: an out-of-range label on the GPU raises a clear error and counts nothing") {
  metrics::ConfusionMatrix cm(3);
  Tensor pred = from_vector<std::int64_t>({0, 1, 2}, {3}).to(gpu());
  Tensor labels = from_vector<std::int64_t>({0, 5, 2}, {3}).to(gpu());
  CHECK_THROWS_WITH_AS(cm.update(pred, labels), doctest::Contains("label 5 at position 1"), Error);
  CHECK(cm.total() == 0);
}
