// A program outside the minidp tree, built against the installed library:
// one gradient step on a tiny linear model, checked against the hand-computed
// value; the version the headers say; and only <minidp/...> names on the
// include path (a generic "core/tensor.h" must not resolve to minidp's).
#include <minidp/core/tensor.h>
#include <minidp/minidp.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#if __has_include("core/tensor.h") || __has_include("metrics/report.h")
#error "minidp put a generic include path (core/..., metrics/...) on the consumer's include path"
#endif

int main() {
  using namespace minidp;
  Tensor w = from_vector<float>({0.5f, -1.0f}, {1, 2}).requires_grad_();
  Tensor x = from_vector<float>({1.0f, 2.0f}, {1, 2});
  Tensor loss = sum(matmul(x, w, false, true));  // w . x = -1.5
  loss.backward();
  const auto g = w.grad().to_vector<float>();  // d loss / d w = x
  const bool version_ok = std::strcmp(version(), MINIDP_VERSION_STRING) == 0 && MINIDP_VERSION_MAJOR == 0 &&
                          MINIDP_VERSION_MINOR >= 2;
  const bool ok = std::abs(loss.item() + 1.5) < 1e-6 && g[0] == 1.0f && g[1] == 2.0f && version_ok;
  std::printf("consumer (minidp %s): loss %.2f, grad [%.1f, %.1f] -> %s\n", version(), loss.item(), g[0], g[1],
              ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
