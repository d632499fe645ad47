// minidp/nn/checkpoint_checks.cpp — comparing the tensors a checkpoint holds
// with the ones a model expects (names, shapes, dtypes), for clear errors
// before anything is loaded. Reading and writing the files: checkpoint.cpp.
#include <map>
#include <string>
#include <vector>

#include "minidp/core/error.h"
#include "minidp/nn/checkpoint.h"

namespace minidp::nn {

// ------------------------------------------------------------------ checks
std::map<std::string, TensorSpec> specs_of(const TensorMap& tensors) {
  std::map<std::string, TensorSpec> s;
  for (const auto& [name, t] : tensors) s[name] = {t.shape(), t.dtype()};
  return s;
}

std::map<std::string, TensorSpec> specs_of(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::map<std::string, TensorSpec> s;
  for (const auto& [name, t] : tensors) s[name] = {t.shape(), t.dtype()};
  return s;
}

std::vector<std::string> tensor_mismatches(const TensorMap& actual, const std::map<std::string, TensorSpec>& expected) {
  std::vector<std::string> out;
  for (const auto& [name, spec] : expected) {
    const auto it = actual.find(name);
    if (it == actual.end()) {
      out.push_back("missing: \"" + name + "\" (expected " + dtype_name(spec.dtype) + shape_str(spec.shape) + ")");
      continue;
    }
    const Tensor& t = it->second;
    if (t.shape() != spec.shape) {
      out.push_back("shape mismatch: \"" + name + "\" is " + t.shape_str() + ", expected " + shape_str(spec.shape));
    }
    if (t.dtype() != spec.dtype) {
      out.push_back("dtype mismatch: \"" + name + "\" is " + dtype_name(t.dtype()) + ", expected " +
                    dtype_name(spec.dtype));
    }
  }
  for (const auto& [name, t] : actual) {
    if (!expected.count(name)) {
      out.push_back("unexpected: \"" + name + "\" (" + dtype_name(t.dtype()) + t.shape_str() + ")");
    }
  }
  return out;
}

void check_tensors(const TensorMap& actual, const std::map<std::string, TensorSpec>& expected, const std::string& what) {
  const std::vector<std::string> problems = tensor_mismatches(actual, expected);
  if (problems.empty()) return;
  std::string msg = what + ": " + std::to_string(problems.size()) + " mismatch" + (problems.size() == 1 ? "" : "es") +
                    " with the expected tensors:";
  for (const std::string& p : problems) msg += "\n  " + p;
  MINIDP_FAIL(msg);
}

}  // namespace minidp::nn
