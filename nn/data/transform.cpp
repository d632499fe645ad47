// minidp/nn/data/transform.cpp — scale, normalise and reshape in one pass.
#include "minidp/nn/data/transform.h"

#include "minidp/core/error.h"

namespace minidp::nn::data {

Transform Transform::fashion_mnist(bool flat) {
  Transform t;
  t.scale = true;
  t.mean = {0.2860};
  t.std = {0.3530};
  t.add_channel_dim = !flat;
  t.flatten = flat;
  return t;
}

Transform Transform::mnist(bool flat) {
  Transform t = fashion_mnist(flat);
  t.mean = {0.1307};
  t.std = {0.3081};
  return t;
}

Tensor Transform::apply(const Tensor& in) const {
  MINIDP_CHECK(in.defined() && in.dim() >= 1, "Transform: expected a batch [B, ...], got ",
               in.defined() ? in.describe() : std::string("an undefined tensor"));
  MINIDP_CHECK(mean.size() == std.size(), "Transform: ", mean.size(), " means but ", std.size(), " stds");
  Tensor x = in;
  if (add_channel_dim) {
    MINIDP_CHECK(x.dim() == 3, "Transform: add_channel_dim expects [B, H, W], got ", x.describe());
    x = x.unsqueeze(1);
  }
  if (scale || !mean.empty()) {
    MINIDP_CHECK(x.device().is_cpu(), "Transform: runs on the cpu, got ", x.describe());
    const Tensor src = x.contiguous();
    const std::int64_t channels = src.dim() >= 2 ? src.size(1) : 1;
    std::int64_t inner = 1;
    for (std::int64_t d = 2; d < src.dim(); ++d) inner *= src.size(d);
    MINIDP_CHECK(mean.size() <= 1 || static_cast<std::int64_t>(mean.size()) == channels, "Transform: ", mean.size(),
                 " mean/std values for ", channels, " channels (dim 1 of ", src.describe(), ")");
    // Fold scale and normalisation into one multiply-add per element: y = x * a[c] + b[c].
    const double s = scale ? 1.0 / 255.0 : 1.0;
    std::vector<float> a(static_cast<std::size_t>(channels)), b(a.size());
    for (std::size_t c = 0; c < a.size(); ++c) {
      const double m = mean.empty() ? 0.0 : mean[mean.size() == 1 ? 0 : c];
      const double sd = std.empty() ? 1.0 : std[std.size() == 1 ? 0 : c];
      MINIDP_CHECK(sd > 0, "Transform: std must be positive, got ", sd);
      a[c] = static_cast<float>(s / sd);
      b[c] = static_cast<float>(-m / sd);
    }
    Tensor out = Tensor::empty(src.shape(), TensorOptions(kFloat32));
    float* y = out.data<float>();
    const std::int64_t n = src.numel();
    visit_dtype(src.dtype(), [&](auto zero) {
      using T = decltype(zero);
      const T* p = src.data<T>();
      for (std::int64_t i = 0; i < n; ++i) {
        const auto c = static_cast<std::size_t>((i / inner) % channels);
        y[i] = static_cast<float>(p[i]) * a[c] + b[c];
      }
    });
    x = out;
  }
  if (flatten) x = x.dim() >= 2 ? x.flatten(1) : x;
  return x;
}

}  // namespace minidp::nn::data
