// A program outside the minidp tree, built against the installed library:
// one gradient step on a tiny linear model, checked against the hand-computed value.
#include <minidp/minidp.h>

#include <cmath>
#include <cstdio>

int main() {
  using namespace minidp;
  Tensor w = from_vector<float>({0.5f, -1.0f}, {1, 2}).requires_grad_();
  Tensor x = from_vector<float>({1.0f, 2.0f}, {1, 2});
  Tensor loss = sum(matmul(x, w, false, true));  // w . x = -1.5
  loss.backward();
  const auto g = w.grad().to_vector<float>();  // d loss / d w = x
  const bool ok = std::abs(loss.item() + 1.5) < 1e-6 && g[0] == 1.0f && g[1] == 2.0f;
  std::printf("consumer: loss %.2f, grad [%.1f, %.1f] -> %s\n", loss.item(), g[0], g[1], ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
