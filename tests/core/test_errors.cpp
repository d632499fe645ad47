// Bad input, table-driven: every case must raise minidp::Error (not another
// exception, not a crash, not silence) whose message names the op and what
// was wrong with the input (its shape, dtype, device or value).
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "minidp/minidp.h"

using namespace minidp;

namespace {

struct BadInput {
  const char* what;
  std::function<void()> run;
  std::vector<std::string> message_has;  // each must appear in the error message
};

void check_case(const BadInput& c) {
  INFO("case: " << c.what);
  std::string msg;
  bool raised = false;
  try {
    c.run();
  } catch (const Error& e) {
    raised = true;
    msg = e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("raised a std::exception that is not minidp::Error: " << e.what());
    return;
  }
  CHECK_MESSAGE(raised, "no minidp::Error was raised");
  for (const auto& s : c.message_has) CHECK_MESSAGE(msg.find(s) != std::string::npos, "'" << s << "' not in: " << msg);
}

Tensor f32(const Shape& s) { return zeros(s); }
Tensor f64(const Shape& s) { return zeros(s, kFloat64); }
Tensor i64(const std::vector<std::int64_t>& v) { return from_vector(v, {static_cast<std::int64_t>(v.size())}); }
Tensor leaf(const Shape& s) { return zeros(s, kFloat64).requires_grad_(); }

}  // namespace

TEST_CASE("errors: mismatched shapes") {
  const std::vector<BadInput> cases = {
      {"matmul inner dims", [] { matmul(f32({2, 3}), f32({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]", "3 vs 4"}},
      {"matmul transposed inner dims", [] { matmul(f32({2, 3}), f32({3, 2}), false, true); }, {"matmul", "^T", "3 vs 2"}},
      {"matmul 3-D", [] { matmul(f32({2, 3, 4}), f32({4, 2})); }, {"matmul", "[2, 3, 4]", "2 dimensions"}},
      {"linear in_features", [] { linear(f32({4, 3}), f32({2, 5})); }, {"linear", "[4, 3]", "[2, 5]"}},
      {"linear bias", [] { linear(f32({4, 3}), f32({2, 3}), f32({3})); }, {"linear", "bias", "[3]"}},
      {"add non-broadcastable", [] { add(f32({2, 3}), f32({4})); }, {"add", "[2, 3]", "[4]", "broadcast"}},
      {"mul non-broadcastable", [] { mul(f32({3, 2}), f32({2, 3})); }, {"mul", "[3, 2]", "[2, 3]"}},
      {"maximum non-broadcastable", [] { maximum(f32({5}), f32({4})); }, {"maximum", "[5]", "[4]"}},
      {"cat size mismatch", [] { cat({f32({2, 3}), f32({3, 4})}, 1); }, {"cat", "[3, 4]", "[2, 3]"}},
      {"cat rank mismatch", [] { cat({f32({2, 3}), f32({3})}, 0); }, {"cat", "[3]", "rank"}},
      {"cat of nothing", [] { cat({}, 0); }, {"cat", "at least one"}},
      {"split sizes", [] { split(f32({5, 2}), std::vector<std::int64_t>{2, 2}, 0); }, {"split", "4", "[5, 2]"}},
      {"mse_loss shapes", [] { mse_loss(f32({2}), f32({3})); }, {"mse_loss", "[2]", "[3]"}},
      {"bce shapes", [] { binary_cross_entropy_with_logits(f32({2, 3}), f32({3, 2})); },
       {"binary_cross_entropy_with_logits", "[2, 3]", "[3, 2]"}},
      {"bce pos_weight size", [] { binary_cross_entropy_with_logits(f32({2, 3}), f32({2, 3}), f32({2})); },
       {"binary_cross_entropy_with_logits", "pos_weight", "[2]"}},
      {"cross_entropy target length", [] { cross_entropy(f32({4, 3}), i64({0, 1, 2})); },
       {"cross_entropy", "[3]", "[4, 3]"}},
      {"cross_entropy 1-D logits", [] { cross_entropy(f32({3}), i64({0})); }, {"cross_entropy", "[3]", "2 dimensions"}},
      {"reshape numel", [] { f32({2, 3}).reshape({4}); }, {"reshape", "[2, 3]", "[4]", "6 elements"}},
      {"reshape two -1", [] { f32({2, 3}).reshape({-1, -1}); }, {"reshape", "-1"}},
      {"reshape -1 impossible", [] { f32({2, 3}).reshape({4, -1}); }, {"reshape", "[2, 3]", "[4, -1]"}},
      {"view of a non-contiguous tensor", [] { f32({2, 3}).t().view({6}); }, {"view", "[3, 2]", "contiguous"}},
      {"copy_ shapes", [] { f32({2, 3}).copy_(f32({3, 2})); }, {"copy_", "[3, 2]", "[2, 3]"}},
      {"from_vector count", [] { from_vector<float>({1, 2, 3}, {2, 2}); }, {"from_vector", "3", "[2, 2]"}},
      {"add_ non-broadcastable", [] { f32({2, 3}).add_(f32({2})); }, {"add_", "[2, 3]", "[2]"}},
  };
  for (const auto& c : cases) check_case(c);
}

TEST_CASE("errors: dims and ranges") {
  const std::vector<BadInput> cases = {
      {"narrow past the end", [] { f32({3}).narrow(0, 2, 2); }, {"narrow", "[2, 4)", "[3]"}},
      {"narrow negative start", [] { f32({3, 4}).narrow(1, -1, 2); }, {"narrow", "[3, 4]"}},
      {"narrow bad dim", [] { f32({3}).narrow(1, 0, 1); }, {"narrow", "dim 1"}},
      {"slice out of range", [] { f32({3, 2}).slice(1, 4); }, {"slice", "[1, 4)", "[3, 2]"}},
      {"operator[] out of range", [] { f32({3, 2})[3]; }, {"operator[]", "3", "[3, 2]"}},
      {"permute repeated dims", [] { f32({2, 3}).permute({0, 0}); }, {"permute", "dim 0", "twice"}},
      {"permute wrong count", [] { f32({2, 3, 4}).permute({0, 1}); }, {"permute", "2 dims", "[2, 3, 4]"}},
      {"transpose dim out of range", [] { transpose(f32({2, 3}), 0, 2); }, {"transpose", "dim 2"}},
      {"size() dim out of range", [] { f32({2, 3}).size(2); }, {"size", "dim 2", "[2, 3]"}},
      {"unsqueeze dim out of range", [] { f32({2}).unsqueeze(3); }, {"unsqueeze", "dim 3"}},
      {"sum dim out of range", [] { sum(f32({2, 3}), {3}); }, {"sum", "dim 3", "2 dimensions"}},
      {"sum repeated dim", [] { sum(f32({2, 3}), {1, -1}); }, {"sum", "twice"}},
      {"mean repeated dim", [] { mean(f32({2, 3}), {0, 0}); }, {"mean", "twice"}},
      {"max dim out of range", [] { max(f32({2, 3}), -3); }, {"max", "dim -3"}},
      {"max of an empty tensor", [] { max(f32({0, 3}), 0); }, {"max", "empty", "[0, 3]"}},
      {"softmax dim out of range", [] { softmax(f32({2, 3}), 2); }, {"softmax", "dim 2"}},
      {"log_softmax dim out of range", [] { log_softmax(f32({2, 3}), -3); }, {"log_softmax", "dim -3"}},
      {"cat dim out of range", [] { cat({f32({2}), f32({2})}, 1); }, {"cat", "dim 1"}},
      {"split size zero", [] { split(f32({4}), 0, 0); }, {"split", "split_size", "0"}},
      {"cross_entropy label too large", [] { cross_entropy(f32({2, 3}), i64({0, 5})); },
       {"cross_entropy", "target 5", "sample 1", "[0, 3)"}},
      {"cross_entropy negative label", [] { cross_entropy(f32({2, 3}), i64({-1, 0})); },
       {"cross_entropy", "target -1", "sample 0"}},
      {"cross_entropy label smoothing", [] {
         CrossEntropyOptions o;
         o.label_smoothing = 1.5;
         cross_entropy(f32({2, 3}), i64({0, 1}), o);
       }, {"cross_entropy", "label_smoothing", "1.5"}},
      {"index_select out of range", [] { index_select(f32({3, 2}), i64({0, 7})); },
       {"index_select", "index 7", "position 1", "[3, 2]"}},
      {"index_select negative", [] { index_select(f32({3, 2}), i64({-1})); }, {"index_select", "index -1"}},
      {"index_select 2-D index", [] { index_select(f32({3, 2}), from_vector<std::int64_t>({0, 1}, {1, 2})); },
       {"index_select", "1-D", "[1, 2]"}},
      {"embedding out of range", [] { embedding(f32({5, 2}), i64({1, 5})); }, {"index 5", "[5, 2]"}},
      {"embedding 1-D weight", [] { embedding(f32({5}), i64({1})); }, {"embedding", "[5]"}},
      {"dropout p 1.5", [] { dropout(f32({4}), 1.5, true); }, {"dropout", "1.5"}},
      {"dropout p negative", [] { dropout(f32({4}), -0.1, true); }, {"dropout", "-0.1"}},
      {"clamp min above max", [] { clamp(f32({2}), 1.0, -1.0); }, {"clamp", "min 1", "max -1"}},
      {"div by scalar zero", [] { div(f32({2}), 0.0); }, {"div", "0", "[2]"}},
      {"arange zero step", [] { arange(0.0, 1.0, 0.0); }, {"arange", "steps of 0"}},
      {"arange wrong direction", [] { arange(0.0, 1.0, -1.0); }, {"arange"}},
      {"uniform low above high", [] { uniform({2}, 1.0, 0.0); }, {"uniform", "low 1"}},
      {"bernoulli p", [] { bernoulli({2}, 2.0); }, {"bernoulli", "2"}},
      {"randint empty range", [] { randint(3, 3, {2}); }, {"randint", "[3, 3)"}},
      {"negative size", [] { zeros({2, -1}); }, {"negative", "[2, -1]"}},
  };
  for (const auto& c : cases) check_case(c);
}

TEST_CASE("errors: dtypes") {
  const std::vector<BadInput> cases = {
      {"add float32 + float64", [] { add(f32({2}), f64({2})); }, {"add", "float32[2]", "float64[2]", "dtype"}},
      {"matmul float32 @ float64", [] { matmul(f32({2, 2}), f64({2, 2})); }, {"matmul", "float32", "float64"}},
      {"matmul of integers", [] { matmul(zeros({2, 2}, kInt64), zeros({2, 2}, kInt64)); }, {"matmul", "int64[2, 2]"}},
      {"cat mixed dtypes", [] { cat({f32({2}), f64({2})}, 0); }, {"cat", "float32", "float64"}},
      {"cross_entropy float target", [] { cross_entropy(f32({2, 3}), f32({2})); },
       {"cross_entropy", "target", "float32[2]", "int64"}},
      {"cross_entropy int logits", [] { cross_entropy(zeros({2, 3}, kInt64), i64({0, 1})); },
       {"cross_entropy", "int64[2, 3]"}},
      {"bce float32 logits, float64 target", [] { binary_cross_entropy_with_logits(f32({2}), f64({2})); },
       {"binary_cross_entropy_with_logits", "float32", "float64"}},
      {"exp of integers", [] { exp(zeros({2}, kInt32)); }, {"exp", "int32[2]"}},
      {"relu of bytes", [] { relu(zeros({2}, kUInt8)); }, {"relu", "uint8[2]"}},
      {"mean of integers", [] { mean(zeros({2}, kInt64)); }, {"mean", "int64[2]"}},
      {"softmax of integers", [] { softmax(zeros({2}, kInt64), 0); }, {"softmax", "int64[2]"}},
      {"conv2d float64 weight", [] { conv2d(f32({1, 1, 3, 3}), f64({1, 1, 2, 2})); }, {"conv2d", "float32", "float64"}},
      {"index_select float index", [] { index_select(f32({3, 2}), f32({1})); }, {"index_select", "float32[1]"}},
      {"requires_grad_ on int", [] { zeros({2}, kInt64).requires_grad_(); }, {"requires_grad_", "int64[2]"}},
      {"data<double> of float32", [] { f32({2}).data<double>(); }, {"data<float64>", "float32"}},
      {"rand of integers", [] { rand({2}, kInt64); }, {"rand", "int64"}},
      {"batch_norm float64 weight", [] { batch_norm(f32({4, 2}), f64({2}), Tensor(), Tensor(), Tensor(), true); },
       {"batch_norm", "float32", "float64"}},
  };
  for (const auto& c : cases) check_case(c);
}

TEST_CASE("errors: devices") {
  std::vector<BadInput> cases = {
      {"parse gpu", [] { Device::parse("gpu"); }, {"Device::parse", "'gpu'", "cuda:N"}},
      {"parse CPU (case matters)", [] { Device::parse("CPU"); }, {"Device::parse", "'CPU'"}},
      {"parse cuda:", [] { Device::parse("cuda:"); }, {"'cuda:'"}},
      {"parse cuda:x", [] { Device::parse("cuda:x"); }, {"'cuda:x'"}},
      {"parse cuda:-1", [] { Device::parse("cuda:-1"); }, {"'cuda:-1'"}},
  };
  if (cuda_device_count() == 0) {
    // No GPU (or no CUDA build): a cuda tensor cannot even be created, and says why.
    cases.push_back({"zeros on cuda:0", [] { zeros({2}, Device::parse("cuda:0")); }, {"cuda:0", "requested"}});
    cases.push_back({"randn on cuda:0", [] { randn({2}, Device::cuda(0)); }, {"cuda:0"}});
    cases.push_back({"to(cuda:0)", [] { f32({2}).to(Device::cuda(0)); }, {"cuda:0"}});
    cases.push_back({"check_device_available", [] { check_device_available(Device::cuda(0)); }, {"cuda:0"}});
  } else {
    // With a GPU: mixing devices is an error that names both.
    cases.push_back({"add cpu + cuda", [] { add(f32({2}), f32({2}).to(Device::cuda(0))); },
                     {"add", "cpu", "cuda:0", "different devices"}});
    cases.push_back({"cross_entropy target on another device",
                     [] { cross_entropy(f32({2, 3}).to(Device::cuda(0)), i64({0, 1})); },
                     {"cross_entropy", "cpu", "cuda:0"}});
    const int n = cuda_device_count();
    cases.push_back({"device index past the last GPU", [n] { zeros({2}, Device::cuda(n)); },
                     {"cuda:" + std::to_string(n)}});
  }
  for (const auto& c : cases) check_case(c);
}

TEST_CASE("errors: convolution and pooling geometry") {
  const std::vector<BadInput> cases = {
      {"conv2d kernel larger than input", [] { conv2d(f32({1, 1, 3, 3}), f32({1, 1, 5, 5})); },
       {"conv2d", "kernel 5x5", "[1, 1, 3, 3]"}},
      {"conv2d kernel larger than input, stride 3", [] { conv2d(f32({1, 1, 3, 3}), f32({1, 1, 5, 5}), Tensor(), Conv2dOptions::make(3, 0)); },
       {"conv2d", "kernel 5x5", "[1, 1, 3, 3]"}},
      {"conv2d dilated kernel too large", [] { conv2d(f32({1, 1, 4, 4}), f32({1, 1, 3, 3}), Tensor(), Conv2dOptions::make(1, 0, 2)); },
       {"conv2d", "dilation 2", "[1, 1, 4, 4]"}},
      {"conv2d zero stride", [] { conv2d(f32({1, 1, 4, 4}), f32({1, 1, 2, 2}), Tensor(), Conv2dOptions::make(0, 0)); },
       {"conv2d", "stride 0x0"}},
      {"conv2d negative padding", [] { conv2d(f32({1, 1, 4, 4}), f32({1, 1, 2, 2}), Tensor(), Conv2dOptions::make(1, -1)); },
       {"conv2d", "padding -1x-1"}},
      {"conv2d channel mismatch", [] { conv2d(f32({1, 2, 4, 4}), f32({1, 3, 3, 3})); },
       {"conv2d", "[1, 2, 4, 4]", "2 channels", "[1, 3, 3, 3]", "expects 3"}},
      {"conv2d 3-D input", [] { conv2d(f32({1, 4, 4}), f32({1, 1, 3, 3})); }, {"conv2d", "[1, 4, 4]", "4 dimensions"}},
      {"conv2d 2-D weight", [] { conv2d(f32({1, 1, 4, 4}), f32({1, 9})); }, {"conv2d", "weight", "[1, 9]"}},
      {"conv2d bias shape", [] { conv2d(f32({1, 1, 4, 4}), f32({2, 1, 3, 3}), f32({3})); }, {"conv2d", "bias", "[3]"}},
      {"max_pool2d kernel larger than input", [] { max_pool2d(f32({1, 1, 2, 2}), Pool2dOptions::make(3)); },
       {"max_pool2d", "kernel 3x3", "[1, 1, 2, 2]"}},
      {"avg_pool2d kernel larger than input, stride 2", [] { avg_pool2d(f32({1, 1, 2, 5}), Pool2dOptions{3, 3, 2, 2, 0, 0}); },
       {"avg_pool2d", "kernel 3x3", "[1, 1, 2, 5]"}},
      {"avg_pool2d zero stride", [] { avg_pool2d(f32({1, 1, 4, 4}), Pool2dOptions{2, 2, 0, 0, 0, 0}); },
       {"avg_pool2d", "stride 0x0"}},
      {"max_pool2d zero kernel", [] { max_pool2d(f32({1, 1, 4, 4}), Pool2dOptions{0, 0, 1, 1, 0, 0}); },
       {"max_pool2d", "kernel 0x0"}},
      {"max_pool2d 3-D input", [] { max_pool2d(f32({2, 4, 4})); }, {"max_pool2d", "[2, 4, 4]", "4 dimensions"}},
      {"avg_pool2d padding over half the kernel", [] { avg_pool2d(f32({1, 1, 4, 4}), Pool2dOptions::make(2, 1, 2)); },
       {"avg_pool2d", "padding 2x2", "kernel 2x2"}},
      {"batch_norm one value per channel in training", [] {
         batch_norm(f32({1, 3}), Tensor(), Tensor(), zeros({3}), ones({3}), true);
       }, {"batch_norm", "more than 1 value per channel", "[1, 3]"}},
      {"batch_norm 1x1 image, one sample", [] { batch_norm(f32({1, 2, 1, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
       {"batch_norm", "[1, 2, 1, 1]"}},
      {"batch_norm 3-D input", [] { batch_norm(f32({2, 3, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true); },
       {"batch_norm", "[2, 3, 4]"}},
      {"batch_norm weight shape", [] { batch_norm(f32({4, 3}), f32({2}), Tensor(), Tensor(), Tensor(), true); },
       {"batch_norm", "weight", "[2]", "[4, 3]"}},
      {"batch_norm running_mean without running_var", [] {
         batch_norm(f32({4, 3}), Tensor(), Tensor(), zeros({3}), Tensor(), true);
       }, {"batch_norm", "running_var"}},
  };
  for (const auto& c : cases) check_case(c);
}

TEST_CASE("errors: autograd and tensor misuse") {
  const std::vector<BadInput> cases = {
      {"backward on a non-scalar without grad", [] { mul(leaf({3}), 2.0).backward(); },
       {"backward", "float64[3]", "not a scalar"}},
      {"backward on a tensor that does not require grad", [] { sum(f64({3})).backward(); },
       {"backward", "does not require grad"}},
      {"backward with a gradient of the wrong shape", [] { mul(leaf({3}), 2.0).backward(f64({2})); },
       {"backward", "float64[2]", "float64[3]"}},
      {"backward with a gradient of the wrong dtype", [] { mul(leaf({3}), 2.0).backward(f32({3})); },
       {"backward", "float32[3]", "float64[3]"}},
      {"second backward without retain_graph", [] {
         Tensor l = sum(exp(leaf({2})));
         l.backward();
         l.backward();
       }, {"backward", "'sum'", "retain_graph"}},
      {"undefined tensor: metadata", [] { Tensor().shape(); }, {"undefined Tensor"}},
      {"undefined tensor: add", [] { add(Tensor(), f32({2})); }, {"add", "undefined"}},
      {"undefined tensor: matmul second operand", [] { matmul(f32({2, 2}), Tensor()); }, {"matmul", "undefined"}},
      {"undefined tensor: cross_entropy target", [] { cross_entropy(f32({2, 3}), Tensor()); },
       {"cross_entropy", "target", "undefined"}},
      {"undefined tensor: item", [] { Tensor().item(); }, {"undefined Tensor"}},
      {"item of a multi-element tensor", [] { f32({2}).item(); }, {"item", "float32[2]", "one element"}},
      {"item of an empty tensor", [] { f32({0}).item(); }, {"item", "[0]"}},
      {"in-place fill_ on a leaf requiring grad", [] { leaf({2}).fill_(1.0); },
       {"fill_", "float64[2]", "leaf", "NoGradGuard"}},
      {"in-place add_ on a leaf requiring grad", [] { leaf({2}).add_(f64({2})); }, {"add_", "leaf", "NoGradGuard"}},
      {"in-place mul_ on a leaf requiring grad", [] { leaf({2}).mul_(2.0); }, {"mul_", "leaf"}},
      {"in-place zero_ on a leaf requiring grad", [] { leaf({2}).zero_(); }, {"leaf", "NoGradGuard"}},
      {"in-place copy_ on a leaf requiring grad", [] { leaf({2}).copy_(f64({2})); }, {"copy_", "leaf"}},
      {"mul_ of a non-contiguous tensor", [] { f32({2, 3}).t().mul_(2.0); }, {"mul_", "[3, 2]", "contiguous"}},
      {"requires_grad_(false) on a non-leaf", [] { mul(leaf({2}), 2.0).requires_grad_(false); },
       {"requires_grad_(false)", "not a leaf", "detach"}},
      {"register_hook on a non-leaf", [] { mul(leaf({2}), 2.0).register_hook([](const Tensor&) {}); },
       {"register_hook", "leaf"}},
      {"set_grad of the wrong shape", [] { leaf({2}).set_grad(f64({3})); }, {"set_grad", "float64[3]", "float64[2]"}},
      {"named tensor in a message", [] {
         Tensor w = f32({2, 3});
         w.set_name("fc1.weight");
         matmul(w, f32({2, 3}));
       }, {"matmul", "'fc1.weight' float32[2, 3]"}},
  };
  for (const auto& c : cases) check_case(c);
}

TEST_CASE("errors: the table checker itself fails on silence and on the wrong message") {
  // Run check_case's logic by hand on a case that does not throw and one with the wrong text.
  auto raises_with = [](const std::function<void()>& f, const std::string& sub) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what()).find(sub) != std::string::npos;
    }
    return false;
  };
  CHECK_FALSE(raises_with([] { add(f32({2}), f32({2})); }, "add"));           // valid input: no error
  CHECK_FALSE(raises_with([] { add(f32({2}), f32({3})); }, "matmul"));        // wrong op name
  CHECK(raises_with([] { add(f32({2}), f32({3})); }, "add"));
}
