// minidp/parallel/zero.cpp — ZeRO-1: the weights as flat buckets, each rank's
// chunks, the optimizer over them, and its state gathered for checkpoints.
#include "minidp/parallel/zero.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "minidp/core/autograd.h"
#include "minidp/core/ops.h"
#include "minidp/parallel/data_parallel.h"
#include "minidp/parallel/process_group.h"

namespace minidp::parallel {

ZeroShards::ZeroShards(nn::Module& model, GradientBuckets& grads, int rank, int size) : rank_(rank), size_(size) {
  NoGradGuard ng;
  const auto params = model.parameters();
  num_params_ = static_cast<int>(params.size());
  for (int b = 0; b < grads.num_buckets(); ++b) {
    const Tensor& gb = grads.bucket(b);
    // The bucket's weights in one buffer, in the gradient bucket's layout;
    // each parameter then points into it (its values copied first).
    Tensor flat = zeros({gb.numel()}, params[0].options().with_requires_grad(false));
    std::vector<Slot> slots;
    std::int64_t off = 0;
    for (int i : grads.params_of(b)) {
      Tensor p = params[i];
      MINIDP_CHECK(p.is_contiguous(), "ZeRO-1: parameter ", i, " (", p.describe(), ") is not contiguous");
      flat.narrow(0, off, p.numel()).copy_(p.reshape({-1}));
      TensorImpl* impl = p.impl();
      impl->storage = flat.storage();
      impl->offset = flat.offset() + off;
      impl->strides = contiguous_strides(impl->shape);
      slots.push_back({i, off, p.numel(), p.shape()});
      off += p.numel();
    }
    const Chunk c = chunk_of(flat.numel(), size, rank);
    if (c.length > 0) {
      Tensor sp = make_view(flat, {c.length}, {1}, flat.offset() + c.offset);
      sp.requires_grad_(true);
      Tensor sg = gb.narrow(0, c.offset, c.length);
      sp.set_grad(sg);
      shard_params_.push_back(sp);
      shard_grads_.push_back(sg);
      shard_bucket_.push_back(b);
    }
    flat_.push_back(flat);
    chunks_.push_back(c);
    slots_.push_back(std::move(slots));
  }
  nn::bump_state_version();  // the weights moved: anything holding their addresses must look again
}

ShardedOptimizer::ShardedOptimizer(std::vector<Tensor> params, std::shared_ptr<ZeroShards> shards,
                                   std::unique_ptr<nn::Optimizer> inner, Communicator& comm, double timeout_s)
    : Optimizer(std::move(params), inner ? inner->lr() : 0.0),
      shards_(std::move(shards)),
      inner_(std::move(inner)),
      comm_(comm),
      timeout_s_(timeout_s) {
  MINIDP_CHECK(inner_ != nullptr, "ZeRO-1: the optimizer factory returned no optimizer");
}

void ShardedOptimizer::sync_inner() const {
  inner_->set_lr(lr_);
  inner_->count_steps(step_count_ - inner_->steps_taken());
}

void ShardedOptimizer::step() {
  sync_inner();
  inner_->step();
  step_count_ = inner_->steps_taken();
  // Every rank's updated chunks into every rank's weights, bucket by bucket.
  std::vector<std::unique_ptr<PendingCollective>> pending;
  for (int b = 0; b < shards_->num_buckets(); ++b)
    pending.push_back(comm_.allgather_chunks_async(shards_->rank(), shards_->params(b)));
  gather_seconds_ = 0;
  gather_spans_.clear();
  for (std::size_t b = 0; b < pending.size(); ++b) {
    pending[b]->wait(timeout_s_, "the all-gather of the updated parameters of bucket " + std::to_string(b));
    gather_seconds_ += pending[b]->seconds();
    gather_spans_.push_back(pending[b]->host_span());
  }
}

std::vector<std::pair<std::string, std::string>> ShardedOptimizer::hyperparameters() const {
  sync_inner();
  return inner_->hyperparameters();
}

std::vector<std::pair<std::string, Tensor>> ShardedOptimizer::state_tensors() const {
  throw Error("ZeRO-1: the optimizer state is sharded over " + std::to_string(shards_->size()) +
              " ranks and no rank holds all of it; call gather_state() on every rank (a collective), or save with "
              "parallel::save_training_state(path, dp, progress) on every rank");
}

namespace {
// "state.<i>.<buffer>" -> (i, buffer); false for anything else.
bool parse_state_name(const std::string& name, std::size_t& index, std::string& buffer) {
  const std::size_t dot = name.find('.', 6);
  if (name.rfind("state.", 0) != 0 || dot == std::string::npos || dot == 6) return false;
  const auto [end, ec] = std::from_chars(name.data() + 6, name.data() + dot, index);
  buffer = name.substr(dot + 1);
  return ec == std::errc() && end == name.data() + dot && !buffer.empty();
}
}  // namespace

std::vector<std::pair<std::string, Tensor>> ShardedOptimizer::gather_state(int root) const {
  NoGradGuard ng;
  const ZeroShards& z = *shards_;
  // This rank's state by (shard, buffer).
  std::map<std::pair<std::size_t, std::string>, Tensor> mine;
  std::vector<std::string> own;  // this rank's buffer names, in the optimizer's order
  for (const auto& [name, t] : inner_->state_tensors()) {
    std::size_t k = 0;
    std::string buffer;
    MINIDP_CHECK(parse_state_name(name, k, buffer) && buffer.find(';') == std::string::npos, "ZeRO-1: the ", kind(),
                 " optimizer names its state '", name, "', not state.<index>.<buffer>");
    mine[{k, buffer}] = t;
    if (std::find(own.begin(), own.end(), buffer) == own.end()) own.push_back(buffer);
  }
  std::string names;
  for (const auto& b : own) names += b + ";";
  // The buffers' names, from every rank in rank order — the same list on
  // every rank. (A rank with no chunk at all holds no state; the others hold
  // the same buffers once a step was taken: the same optimizer, the same steps.)
  const int size = z.size();
  constexpr std::int64_t kNameBytes = 256;
  MINIDP_CHECK(static_cast<std::int64_t>(names.size()) <= kNameBytes, "ZeRO-1: optimizer state names too long");
  Tensor in = zeros({kNameBytes}, kUInt8), all = zeros({kNameBytes * size}, kUInt8);
  std::copy(names.begin(), names.end(), in.data<std::uint8_t>());
  comm_.allgather(z.rank(), in, all);
  std::vector<std::string> buffers;
  for (int r = 0; r < size; ++r) {
    const auto* first = all.data<std::uint8_t>() + r * kNameBytes;
    const std::string s(first, std::find(first, first + kNameBytes, std::uint8_t{0}));
    for (std::size_t at = 0, semi; (semi = s.find(';', at)) != std::string::npos; at = semi + 1)
      if (std::find(buffers.begin(), buffers.end(), s.substr(at, semi - at)) == buffers.end())
        buffers.push_back(s.substr(at, semi - at));
  }
  // One bucket of one buffer at a time: each rank's chunk into a buffer of the
  // bucket's size, all-gathered; the root cuts it into parameters. No rank
  // but the root ever holds more than one bucket of it.
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& buffer : buffers) {
    std::size_t k = 0;  // this rank's shard of bucket b, when it has one
    for (int b = 0; b < z.num_buckets(); ++b) {
      const Tensor& flat = const_cast<ZeroShards&>(z).params(b);
      Tensor full = zeros({flat.numel()}, flat.options().with_requires_grad(false));
      if (z.chunk(b).length > 0) {
        auto it = mine.find({k++, buffer});
        if (it != mine.end()) full.narrow(0, z.chunk(b).offset, z.chunk(b).length).copy_(it->second.reshape({-1}));
      }
      comm_.allgather_chunks_async(z.rank(), full)->wait(timeout_s_, "the gather of the optimizer state");
      if (z.rank() != root) continue;
      for (const auto& s : z.slots(b))
        out.emplace_back("state." + std::to_string(s.param) + "." + buffer,
                         full.narrow(0, s.offset, s.numel).reshape(s.shape).clone());
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

void ShardedOptimizer::load_state_tensors(const std::map<std::string, Tensor>& state) {
  NoGradGuard ng;
  const ZeroShards& z = *shards_;
  std::vector<Shape> shapes(z.num_parameters());
  for (int b = 0; b < z.num_buckets(); ++b)
    for (const auto& s : z.slots(b)) shapes[s.param] = s.shape;
  // Checked whole on every rank (each holds the whole checkpoint), so that
  // every rank refuses the same file with the same words.
  std::vector<std::string> buffers;
  std::map<std::string, int> holders;  // buffer -> parameters that have it
  for (const auto& [name, t] : state) {
    std::size_t i = 0;
    std::string buffer;
    MINIDP_CHECK(parse_state_name(name, i, buffer) && i < shapes.size(), kind(), ": the checkpoint's optimizer state ",
                 "holds '", name.substr(0, 200), "', which an optimizer of ", shapes.size(), " parameters does not have");
    MINIDP_CHECK(t.shape() == shapes[i], kind(), ": state ", name, " is ", t.describe(), " but parameter ", i, " is ",
                 shape_str(shapes[i]));
    if (++holders[buffer] == 1) buffers.push_back(buffer);
  }
  for (const auto& buffer : buffers)
    MINIDP_CHECK(holders[buffer] == static_cast<int>(shapes.size()), kind(), ": the checkpoint holds '", buffer,
                 "' state for ", holders[buffer], " of the ", shapes.size(), " parameters; ZeRO-1 shards the state ",
                 "of every parameter, so it needs all of them (or none: a run that took no step)");
  // This rank's chunk of each buffer: the parts of the parameters the chunk covers.
  std::map<std::string, Tensor> sharded;
  for (const auto& buffer : buffers) {
    std::size_t k = 0;
    for (int b = 0; b < z.num_buckets(); ++b) {
      const Chunk c = z.chunk(b);
      if (c.length == 0) continue;
      Tensor part = zeros({c.length}, z.shard_params()[k].options().with_requires_grad(false));
      for (const auto& s : z.slots(b)) {
        const std::int64_t lo = std::max(s.offset, c.offset), hi = std::min(s.offset + s.numel, c.offset + c.length);
        if (lo >= hi) continue;
        const Tensor& whole = state.at("state." + std::to_string(s.param) + "." + buffer);
        part.narrow(0, lo - c.offset, hi - lo)
            .copy_(whole.reshape({-1}).narrow(0, lo - s.offset, hi - lo).to(part.device()).to(part.dtype()));
      }
      sharded["state." + std::to_string(k) + "." + buffer] = part;
      ++k;
    }
  }
  inner_->load_state_tensors(sharded);
}

std::int64_t ShardedOptimizer::state_bytes() const {
  std::int64_t bytes = 0;
  for (const auto& [name, t] : inner_->state_tensors()) bytes += t.numel() * static_cast<std::int64_t>(dtype_size(t.dtype()));
  return bytes;
}

std::int64_t optimizer_state_bytes(const DataParallel& dp) {
  if (auto* z = dynamic_cast<const ShardedOptimizer*>(&dp.optimizer(0))) return z->state_bytes();
  std::int64_t bytes = 0;  // every replica of this process holds a whole copy
  for (int r = 0; r < dp.size(); ++r)
    for (const auto& [name, t] : dp.optimizer(r).state_tensors())
      bytes += t.numel() * static_cast<std::int64_t>(dtype_size(t.dtype()));
  return bytes;
}

namespace {
// The whole state, gathered, as an optimizer that nn::save_training_state can write.
class GatheredOptimizer : public nn::Optimizer {
 public:
  GatheredOptimizer(const ShardedOptimizer& z)
      : Optimizer(z.params(), z.lr()), kind_(z.kind()), state_(z.gather_state(0)) {
    count_steps(z.steps_taken());
  }
  void step() override { throw Error("ZeRO-1: a gathered optimizer state is for saving, not for steps"); }
  std::string kind() const override { return kind_; }
  std::vector<std::pair<std::string, Tensor>> state_tensors() const override { return state_; }
  void load_state_tensors(const std::map<std::string, Tensor>&) override {
    throw Error("ZeRO-1: a gathered optimizer state is for saving, not for loading");
  }

 private:
  std::string kind_;
  std::vector<std::pair<std::string, Tensor>> state_;
};
}  // namespace

void save_training_state(const std::string& path, DataParallel& dp, const nn::TrainingProgress& progress) {
  const bool lead = dp.process_group() == nullptr || dp.process_group()->rank() == 0;
  if (auto* z = dynamic_cast<ShardedOptimizer*>(&dp.optimizer(0))) {
    GatheredOptimizer whole(*z);  // every rank: the gather is a collective (the state lands on rank 0)
    if (lead) nn::save_training_state(path, *dp.module(0), whole, progress);
    return;
  }
  if (lead) nn::save_training_state(path, *dp.module(0), dp.optimizer(0), progress);
}

}  // namespace minidp::parallel
