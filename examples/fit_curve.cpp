// examples/fit_curve.cpp — the smallest end-to-end minidp program: fit a tiny
// two-layer network to a noisy curve with autograd and plain gradient descent,
// printing the loss as it falls. Every piece a bigger model uses is here: a
// leaf tensor per parameter, a forward pass, a scalar loss, backward(), and an
// update of the parameters under NoGradGuard.
//
//   ./fit_curve [--steps 300] [--lr 0.2] [--device cpu]
#include "flags.h"
#include <cstdio>

#include "minidp/minidp.h"
#include "guarded_main.h"  // one clear line and exit status 1 for any error

using namespace minidp;

int run(int argc, char** argv) {
  examples::Flags flags{"Fit y = tanh(3x) - x/2 with a 1-32-1 MLP using minidp's autograd"};
  int steps = 300;
  double lr = 0.2;
  std::string device = "cpu";
  flags.add("--steps", steps, "gradient steps").range(1, 1000000);
  flags.add("--lr", lr, "learning rate").range(1e-9, 100.0);
  flags.add("--device", device, "cpu or cuda:N");
  if (const int rc = flags.parse(argc, argv); rc >= 0) return rc;

  try {
    const Device dev = Device::parse(device);
    Generator gen(0);
    // data: 256 points of a curve plus a little noise
    Tensor x = uniform({256, 1}, -1.0, 1.0, dev, &gen);
    Tensor y = sub(tanh(mul(x, 3.0)), mul(x, 0.5)) + normal({256, 1}, 0.0, 0.05, dev, &gen);

    // parameters: leaves that require gradients
    auto param = [&](Shape s, double bound) {
      return uniform(s, -bound, bound, dev, &gen).requires_grad_();
    };
    Tensor w1 = param({32, 1}, 1.0), b1 = param({32}, 1.0);
    Tensor w2 = param({1, 32}, 0.18), b2 = param({1}, 0.18);

    for (int step = 0; step <= steps; ++step) {
      Tensor pred = linear(tanh(linear(x, w1, b1)), w2, b2);
      Tensor loss = mse_loss(pred, y);
      for (Tensor* p : {&w1, &b1, &w2, &b2}) p->set_grad(Tensor());
      loss.backward();
      {
        NoGradGuard no_grad;  // the update itself is not part of the graph
        for (Tensor* p : {&w1, &b1, &w2, &b2}) p->add_(p->grad(), -lr);
      }
      if (step % 50 == 0) std::printf("step %4d  loss %.5f\n", step, loss.item());
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) { return minidp::examples::guarded_main("fit_curve", run, argc, argv); }
