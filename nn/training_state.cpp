// minidp/nn/training_state.cpp — one checkpoint for a whole run: what goes in, and how it is checked coming out.
#include "minidp/nn/training_state.h"

#include <charconv>
#include <type_traits>

#include "minidp/core/rng.h"
#include "minidp/nn/layers.h"

namespace minidp::nn {

namespace {
constexpr const char* kFormat = "minidp-checkpoint-1";
constexpr const char* kOptimizerPrefix = "optimizer.";

// Every Dropout of the tree, with its path ("2", "block.0.drop"), in module order.
template <typename M, typename F>
void for_each_dropout(M& m, const std::string& prefix, const F& fn) {
  using D = std::conditional_t<std::is_const_v<M>, const Dropout, Dropout>;
  if (auto* d = dynamic_cast<D*>(&m)) fn(prefix, *d);
  for (auto& [name, child] : m.children())
    for_each_dropout(static_cast<M&>(*child), prefix.empty() ? name : prefix + "." + name, fn);
}

// The whole string must be the number: "12" is 12, "12x" and "" are errors.
template <typename T>
T parse_number(const StringMap& meta, const std::string& key, const std::string& path) {
  auto it = meta.find(key);
  MINIDP_CHECK(it != meta.end(), path, ": checkpoint metadata lacks '", key, "'");
  T v{};
  const std::string& s = it->second;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  MINIDP_CHECK(ec == std::errc() && end == s.data() + s.size(), path, ": checkpoint metadata '", key, "' is '", s,
               "'; expected a whole number");
  return v;
}
}  // namespace

void save_training_state(const std::string& path, const Module& model, const Optimizer& optimizer,
                         const TrainingProgress& progress) {
  TensorMap tensors;
  for (auto& [name, t] : model.state_dict()) tensors[name] = t;
  for (auto& [name, t] : optimizer.state_tensors()) tensors[kOptimizerPrefix + name] = t;
  StringMap meta = optimizer.state_scalars();
  meta["format"] = kFormat;
  meta["optimizer"] = optimizer.kind();
  meta["epoch"] = std::to_string(progress.epoch);
  meta["step_in_epoch"] = std::to_string(progress.step_in_epoch);
  meta["global_step"] = std::to_string(progress.global_step);
  meta["seed"] = std::to_string(progress.seed);
  meta["rng.seed"] = std::to_string(default_generator().seed());
  meta["rng.offset"] = std::to_string(default_generator().offset());
  for_each_dropout(model, "", [&](const std::string& name, const Dropout& d) {
    meta["rng.dropout." + name + ".offset"] = std::to_string(d.generator().offset());
  });
  save_safetensors(path, tensors, meta);
}

TrainingState load_training_state(const std::string& path) {
  Checkpoint ck = load_safetensors(path);
  TrainingState st;
  st.path = path;
  st.metadata = std::move(ck.metadata);
  auto format = st.metadata.find("format");
  MINIDP_CHECK(format != st.metadata.end() && format->second == kFormat, path, ": not a minidp training checkpoint ",
               "(metadata 'format' is ", format == st.metadata.end() ? "missing" : "'" + format->second + "'",
               "; expected '", kFormat, "')");
  for (auto& [name, t] : ck.tensors) {
    if (name.rfind(kOptimizerPrefix, 0) == 0) st.optimizer[name.substr(std::string(kOptimizerPrefix).size())] = t;
    else st.model[name] = t;
  }
  st.progress.epoch = parse_number<std::int64_t>(st.metadata, "epoch", path);
  st.progress.step_in_epoch = parse_number<std::int64_t>(st.metadata, "step_in_epoch", path);
  st.progress.global_step = parse_number<std::int64_t>(st.metadata, "global_step", path);
  st.progress.seed = parse_number<std::uint64_t>(st.metadata, "seed", path);
  MINIDP_CHECK(st.progress.epoch >= 0 && st.progress.step_in_epoch >= 0 && st.progress.global_step >= 0, path,
               ": checkpoint progress must not be negative (epoch ", st.progress.epoch, ", step_in_epoch ",
               st.progress.step_in_epoch, ", global_step ", st.progress.global_step, ")");
  return st;
}

void TrainingState::load_model(Module& m) const {
  try {
    m.load_state_dict(model);
  } catch (const Error& e) {
    MINIDP_FAIL(path, ": the checkpoint's weights do not fit the model: ", e.what());
  }
}

void TrainingState::load_optimizer(Optimizer& o) const {
  // The kind first: SGD's momentum buffers are not Adam's moments, and Adam
  // and AdamW differ in how weight decay enters the update.
  auto kind = metadata.find("optimizer");
  MINIDP_CHECK(kind != metadata.end(), path, ": the checkpoint does not say which optimizer wrote it (no metadata ",
               "'optimizer'); it cannot resume a '", o.kind(), "' optimizer");
  MINIDP_CHECK(kind->second == o.kind(), path, ": the checkpoint was written by a '", kind->second.substr(0, 64),
               "' optimizer; it cannot resume a '", o.kind(), "' one (its state and update rule differ)");
  // Scalars, then tensors; each checks everything before it changes anything,
  // and a refused tensor state puts the scalars back.
  const StringMap before = o.state_scalars();
  try {
    o.load_state_scalars(metadata);
    try {
      o.load_state_tensors(optimizer);
    } catch (const Error&) {
      o.load_state_scalars(before);
      throw;
    }
  } catch (const Error& e) {
    MINIDP_FAIL(path, ": ", e.what());
  }
}

void TrainingState::restore_rng(Module& m) const {
  default_generator().manual_seed(parse_number<std::uint64_t>(metadata, "rng.seed", path));
  default_generator().set_offset(parse_number<std::uint64_t>(metadata, "rng.offset", path));
  for_each_dropout(m, "", [&](const std::string& name, Dropout& d) {
    d.generator().set_offset(parse_number<std::uint64_t>(metadata, "rng.dropout." + name + ".offset", path));
  });
}

}  // namespace minidp::nn
