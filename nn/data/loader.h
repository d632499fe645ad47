// minidp/nn/data/loader.h — batches of a Dataset, shuffled per epoch, built ahead on a thread.
//
// What the loader guarantees:
//   * each epoch visits every sample exactly once (the last batch may be
//     short, unless drop_last drops it);
//   * the order of epoch e is shuffled_indices(N, seed, e) (sampler.h): a pure
//     function of (seed, epoch), so replicas, processes and resumed runs agree;
//   * with prefetch > 0 a background thread gathers and transforms the next
//     batches while the model trains on this one, through a bounded queue; the
//     batches are the same, in the same order, as with prefetch = 0. An error
//     on that thread is rethrown to the caller at the batch where it happened,
//     and destroying the loader stops and joins the thread.
//
//   DataLoaderOptions o;
//   o.batch_size = 128;  o.seed = 42;  o.transform = Transform::fashion_mnist();
//   DataLoader loader(fashion_mnist(), o);
//   for (int epoch = 0; epoch < 10; ++epoch) {
//     loader.set_epoch(epoch);              // optional: begin() advances it by itself
//     for (Batch& b : loader) train_step(b.inputs, b.labels);   // [128,1,28,28], [128]
//   }
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "minidp/core/device.h"
#include "minidp/core/tensor.h"
#include "minidp/nn/data/dataset.h"
#include "minidp/nn/data/transform.h"

namespace minidp::nn::data {

struct Batch {
  Tensor inputs;                      // transformed, on the loader's device
  Tensor labels;                      // int64 [B], on the loader's device
  std::vector<std::int64_t> indices;  // which samples of the dataset, in batch order
  std::int64_t global_size = 0;       // samples of the whole batch (= size() unless parts > 1)
  std::int64_t size() const { return static_cast<std::int64_t>(indices.size()); }
};

struct DataLoaderOptions {
  std::int64_t batch_size = 64;
  bool shuffle = true;          // false: samples in dataset order (evaluation)
  std::uint64_t seed = 0;
  bool drop_last = false;       // drop a final batch smaller than batch_size
  Transform transform;          // applied to each batch's inputs
  std::function<void(Batch&)> map;  // optional extra step after the transform (runs on the prefetch thread)
  int prefetch = 2;             // batches built ahead by a background thread; 0 = on the caller's thread
  // Where batches are delivered. The copy (Tensor::to) runs on the consuming
  // thread, so it is queued on that thread's current stream.
  Device device = Device::cpu();
  // Build batches in page-locked host memory (on the prefetch thread), so that
  // copies to a GPU — by this loader for `device`, or by DataParallel for
  // each replica's shard — are asynchronous DMA transfers. Always on when
  // `device` is a GPU (or sim:N); set it when batches stay on the host for
  // DataParallel GPU replicas. Without a CUDA GPU it is ordinary host memory,
  // which sim devices treat as page-locked.
  bool pin_memory = false;
  // Deliver only part `part` of `parts` of every batch — consecutive rows, as
  // even as possible (shard_sizes) — while batch_size stays the size of the
  // whole batch. Each process of a distributed job loads its own part of the
  // same global batches this way (parallel::DistributedSampler), so N
  // processes see exactly the batches one process would: nothing is padded or
  // repeated, and a part of the last, short batch may be empty.
  int part = 0;
  int parts = 1;
};

class DataLoader {
 public:
  explicit DataLoader(Dataset dataset, DataLoaderOptions opts = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  const Dataset& dataset() const { return dataset_; }
  const DataLoaderOptions& options() const { return opts_; }
  std::int64_t num_batches() const;  // batches per epoch
  std::int64_t size() const { return num_batches(); }

  // The epoch the next begin()/start_epoch() runs. Each start advances it by
  // one; set it to resume a run (or to pin an epoch, as in PyTorch's set_epoch).
  // `first_batch` > 0 resumes in the middle of that epoch: its first
  // `first_batch` batches are skipped without being gathered or transformed
  // (the order is a pure function of (seed, epoch), so nothing else is
  // needed); later epochs start at batch 0 again.
  void set_epoch(std::int64_t epoch, std::int64_t first_batch = 0);
  std::int64_t epoch() const { return next_epoch_; }

  // The sample order of an epoch (before batching) and one batch of it, built
  // directly — both pure functions of (seed, epoch).
  std::vector<std::int64_t> order(std::int64_t epoch) const;
  Batch batch(std::int64_t epoch, std::int64_t i) const;

  // Pull-style iteration: start_epoch(), then next() until it returns nothing.
  void start_epoch();
  std::optional<Batch> next();

  // Range-for support: `for (Batch& b : loader)` runs one epoch.
  class Iterator {
   public:
    Iterator() = default;
    explicit Iterator(DataLoader* l) : loader_(l) { ++*this; }
    Batch& operator*() { return *current_; }
    Batch* operator->() { return &*current_; }
    Iterator& operator++() {
      current_ = loader_->next();
      if (!current_) loader_ = nullptr;
      return *this;
    }
    bool operator==(const Iterator& o) const { return loader_ == o.loader_; }
    bool operator!=(const Iterator& o) const { return !(*this == o); }

   private:
    DataLoader* loader_ = nullptr;
    std::optional<Batch> current_;
  };
  Iterator begin() {
    start_epoch();
    return Iterator(this);
  }
  Iterator end() { return Iterator(); }

 private:
  struct Run;  // one epoch in progress (and its prefetch thread)
  Batch build(const std::vector<std::int64_t>& order, std::int64_t i) const;  // gather + transform, on the host

  Dataset dataset_;
  DataLoaderOptions opts_;
  std::int64_t next_epoch_ = 0;
  std::int64_t first_batch_ = 0;  // of the next epoch only
  std::unique_ptr<Run> run_;
};

}  // namespace minidp::nn::data
