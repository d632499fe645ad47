// minidp/nn/training_state.h — a whole training run's state in one checkpoint,
// so that any program (not only the examples) can stop and resume exactly.
//
// One safetensors file (nn/checkpoint.h, atomic) holds:
//   tensors   the model's state_dict (PyTorch names: "1.weight", ...) and the
//             optimizer's state ("optimizer.state.0.momentum_buffer", ...);
//   metadata  where the run stands (epoch, step_in_epoch, global_step, seed),
//             the optimizer's kind and scalars (lr, step count), and the
//             random-number state: the default generator's seed and offset
//             and every Dropout layer's generator offset.
// Resuming with all of it — and the data loader positioned at
// (epoch, step_in_epoch), DataLoader::set_epoch — continues the run bit for
// bit: the examples' test saves after 6 steps, resumes, and compares with 12
// straight steps byte for byte.
//
//   nn::save_training_state("run.safetensors", *model, opt, {.epoch = 2, .step_in_epoch = 40, .global_step = 977});
//   nn::TrainingState st = nn::load_training_state("run.safetensors");
//   st.load_model(*model);          // before the replicas are made
//   st.load_optimizer(opt);         // every replica's optimizer
//   st.restore_rng(*model);
//   loader.set_epoch(st.progress.epoch, st.progress.step_in_epoch);
#pragma once

#include <cstdint>
#include <string>

#include "minidp/nn/checkpoint.h"
#include "minidp/nn/module.h"
#include "minidp/nn/optim/optimizer.h"

namespace minidp::nn {

// Where a run stands: the next step is batch `step_in_epoch` of epoch `epoch`.
struct TrainingProgress {
  std::int64_t epoch = 0;
  std::int64_t step_in_epoch = 0;
  std::int64_t global_step = 0;  // optimizer steps taken in all
  std::uint64_t seed = 0;        // of the run: the shuffle order of every epoch follows from it
};

// Writes model, optimizer, progress and random-number state to `path`,
// atomically (a crash mid-save leaves the previous file whole).
void save_training_state(const std::string& path, const Module& model, const Optimizer& optimizer,
                         const TrainingProgress& progress);

// A checkpoint read back, to be applied piece by piece.
struct TrainingState {
  std::string path;
  TensorMap model;      // the state_dict
  TensorMap optimizer;  // the optimizer's state, without the "optimizer." prefix
  StringMap metadata;
  TrainingProgress progress;

  // Each raises minidp::Error naming the file and what does not fit.
  void load_model(Module& m) const;
  void load_optimizer(Optimizer& o) const;  // refuses another kind (sgd, adam, adamw); unchanged when refused
  void restore_rng(Module& m) const;        // default generator and Dropout generators
};

TrainingState load_training_state(const std::string& path);

}  // namespace minidp::nn
