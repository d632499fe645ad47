// minidp/kernels/cuda/metrics.cu — the confusion matrix, counted where the predictions are.
//
// One thread per sample adds 1 to counts[label, prediction] with an integer
// atomicAdd. Integer addition is associative, so the counts are exact and the
// same on every run whatever order the threads run in (unlike float atomics).
// Only the K x K counts then travel to the host, not the N labels.
#include "minidp/kernels/cuda/common.cuh"

namespace minidp::kernels::cuda {

namespace {
__global__ void confusion_kernel(const std::int64_t* __restrict__ pred, const std::int64_t* __restrict__ labels,
                                 std::int64_t n, std::int64_t k, std::int64_t ignore,
                                 unsigned long long* __restrict__ counts, DeviceErrorRecord* err) {
  MINIDP_GRID_STRIDE(i, n) {
    const std::int64_t l = labels[i], p = pred[i];
    if (l == ignore) continue;
    if (l < 0 || l >= k) {
      report_device_error(err, kConfusionLabelOutOfRange, l, i, k);
    } else if (p < 0 || p >= k) {
      report_device_error(err, kConfusionPredictionOutOfRange, p, i, k);
    } else {
      atomicAdd(counts + l * k + p, 1ull);
    }
  }
}
}  // namespace

void confusion_matrix(const Tensor& pred, const Tensor& labels, std::int64_t ignore, const Tensor& counts) {
  check_cuda("confusion_matrix", pred);
  check_cuda("confusion_matrix", labels);
  check_cuda("confusion_matrix", counts);
  const std::int64_t n = labels.numel();
  if (n == 0) return;
  Launch l(labels);
  confusion_kernel<<<grid_for(n), kThreads, 0, l.stream>>>(
      static_cast<const std::int64_t*>(pred.raw_data()), static_cast<const std::int64_t*>(labels.raw_data()), n,
      counts.size(0), ignore, static_cast<unsigned long long*>(counts.raw_data()), device_error_record(l));
  MINIDP_CUDA_CHECK_LAUNCH();
}

}  // namespace minidp::kernels::cuda
