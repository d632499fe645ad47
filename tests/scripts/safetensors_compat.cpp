// A helper for tests/nn/safetensors_compat.py: loads a safetensors file written
// by the script (the reference layout), checks the values it knows the script
// wrote, and saves the same tensors with minidp for the script to compare.
//
//   safetensors_compat roundtrip IN OUT     exit 0 ok, 1 mismatch or error
//   safetensors_compat skip REASON          exit 77 (ctest: skipped)
#include <cmath>
#include <iostream>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "minidp/core/ops.h"
#include "minidp/nn/checkpoint.h"

using namespace minidp;

namespace {

template <typename T>
bool expect(const nn::TensorMap& m, const std::string& name, DType dtype, const Shape& shape, const std::vector<T>& v) {
  const auto it = m.find(name);
  if (it == m.end()) {
    std::cerr << "missing tensor " << name << "\n";
    return false;
  }
  const Tensor& t = it->second;
  if (t.dtype() != dtype || t.shape() != shape || t.to_vector<T>() != v) {
    std::cerr << "tensor " << name << ": got " << t.describe() << " " << t << "\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "skip") {
    std::cout << "SKIP: " << args[1] << "\n";
    return 77;
  }
  if (args.size() != 3 || args[0] != "roundtrip") {
    std::cerr << "usage: safetensors_compat roundtrip IN OUT | skip REASON\n";
    return 2;
  }
  try {
    const nn::Checkpoint ck = nn::load_safetensors(args[1]);
    const float inf = std::numeric_limits<float>::infinity();
    bool ok = ck.tensors.size() == 6;
    ok &= expect<float>(ck.tensors, "fc.weight", kFloat32, {2, 3}, {0.5f, -1.25f, 3.0f, inf, -0.0f, 1e-30f});
    ok &= expect<float>(ck.tensors, "fc.bias", kFloat32, {3}, {1, 2, 3});
    ok &= expect<std::int64_t>(ck.tensors, "bn.num_batches_tracked", kInt64, {}, {123456789012});
    ok &= expect<double>(ck.tensors, "bn.running_mean", kFloat64, {2}, {std::numbers::pi, -2.5e-300});
    ok &= expect<std::int32_t>(ck.tensors, "labels", kInt32, {4}, {-1, 0, 7, 2147483647});
    ok &= expect<std::uint8_t>(ck.tensors, "pixels", kUInt8, {2, 2}, {0, 17, 128, 255});
    ok &= ck.metadata == nn::StringMap{{"format", "pt"}, {"epoch", "3"}, {"minidp", "compat"}};
    if (!ok) {
      std::cerr << "minidp read different tensors or metadata than the script wrote\n";
      return 1;
    }
    nn::save_safetensors(args[2], ck.tensors, ck.metadata);
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
