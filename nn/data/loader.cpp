// minidp/nn/data/loader.cpp — batching, per-epoch order and the prefetch thread.
#include "minidp/nn/data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "minidp/core/error.h"
#include "minidp/core/stream.h"
#include "minidp/nn/data/sampler.h"

namespace minidp::nn::data {

// One epoch in flight. With prefetch, a producer thread builds batches in
// order into a queue of at most `capacity`; the consumer pops them. The queue
// bound keeps memory flat (the producer never runs more than `capacity`
// batches ahead), and the stop flag lets the destructor end the producer even
// when it is blocked on a full queue.
struct DataLoader::Run {
  std::vector<std::int64_t> order;
  std::int64_t num_batches = 0;
  std::int64_t first = 0;      // the first batch of this epoch to build (> 0 when resuming)
  std::int64_t delivered = 0;  // batches handed to the consumer, counting the skipped ones

  std::size_t capacity = 0;    // 0: no thread, batches are built in next()
  std::thread worker;
  std::mutex mu;
  std::condition_variable not_full, not_empty;
  std::deque<Batch> queue;
  std::exception_ptr error;    // set by the producer; rethrown after the batches before it
  bool stop = false;

  void produce(const DataLoader* loader) {
    for (std::int64_t i = first; i < num_batches; ++i) {
      Batch b;
      try {
        b = loader->build(order, i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        error = std::current_exception();
        not_empty.notify_all();
        return;
      }
      std::unique_lock<std::mutex> lock(mu);
      not_full.wait(lock, [&] { return stop || queue.size() < capacity; });
      if (stop) return;
      queue.push_back(std::move(b));
      not_empty.notify_all();
    }
  }

  Batch pop() {
    std::unique_lock<std::mutex> lock(mu);
    not_empty.wait(lock, [&] { return !queue.empty() || error; });
    if (queue.empty()) std::rethrow_exception(error);
    Batch b = std::move(queue.front());
    queue.pop_front();
    not_full.notify_all();
    return b;
  }

  ~Run() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    not_full.notify_all();
    if (worker.joinable()) worker.join();
  }
};

DataLoader::DataLoader(Dataset dataset, DataLoaderOptions opts) : dataset_(std::move(dataset)), opts_(std::move(opts)) {
  MINIDP_CHECK(opts_.batch_size > 0, "DataLoader: batch_size must be positive, got ", opts_.batch_size);
  MINIDP_CHECK(opts_.prefetch >= 0, "DataLoader: prefetch must be >= 0, got ", opts_.prefetch);
  MINIDP_CHECK(opts_.parts >= 1 && opts_.part >= 0 && opts_.part < opts_.parts, "DataLoader: part ", opts_.part,
               " of ", opts_.parts, " is out of range; expected 0 <= part < parts");
  MINIDP_CHECK(dataset_.inputs.defined(), "DataLoader: the dataset is empty (no inputs tensor)");
  MINIDP_CHECK(dataset_.size() > 0, "DataLoader: data set '", dataset_.name,
               "' has no samples: there is nothing to train or evaluate on (its file declares 0 of them?)");
}

DataLoader::~DataLoader() = default;

std::int64_t DataLoader::num_batches() const {
  const std::int64_t n = dataset_.size(), b = opts_.batch_size;
  return opts_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::set_epoch(std::int64_t epoch, std::int64_t first_batch) {
  MINIDP_CHECK(epoch >= 0, "DataLoader::set_epoch: negative epoch ", epoch);
  MINIDP_CHECK(first_batch >= 0 && first_batch <= num_batches(), "DataLoader::set_epoch: first batch ", first_batch,
               " out of range [0, ", num_batches(), "] (batches per epoch)");
  next_epoch_ = epoch;
  first_batch_ = first_batch;
}

std::vector<std::int64_t> DataLoader::order(std::int64_t epoch) const {
  return opts_.shuffle ? shuffled_indices(dataset_.size(), opts_.seed, static_cast<std::uint64_t>(epoch))
                       : sequential_indices(dataset_.size());
}

Batch DataLoader::build(const std::vector<std::int64_t>& order, std::int64_t i) const {
  MINIDP_CHECK(i >= 0 && i < num_batches(), "DataLoader: batch ", i, " out of range [0, ", num_batches(), ")");
  std::int64_t begin = i * opts_.batch_size;
  std::int64_t end = std::min<std::int64_t>(begin + opts_.batch_size, dataset_.size());
  Batch b;
  b.global_size = end - begin;
  if (opts_.parts > 1) {  // this process's consecutive rows of the global batch
    const auto [first, last] = part_rows(end - begin, opts_.part, opts_.parts);
    end = begin + last;
    begin += first;
  }
  b.indices.assign(order.begin() + begin, order.begin() + end);
  b.inputs = gather_rows(dataset_.inputs, b.indices);
  b.labels = gather_rows(dataset_.labels, b.indices);
  if (!opts_.transform.identity()) b.inputs = opts_.transform.apply(b.inputs);
  if (opts_.map) opts_.map(b);
  if (opts_.pin_memory || !opts_.device.is_cpu()) {  // a GPU's (or sim's) copies from it are asynchronous
    b.inputs = pin_memory(b.inputs);
    b.labels = pin_memory(b.labels);
  }
  return b;
}

Batch DataLoader::batch(std::int64_t epoch, std::int64_t i) const {
  Batch b = build(order(epoch), i);
  b.inputs = b.inputs.to(opts_.device);
  b.labels = b.labels.to(opts_.device);
  return b;
}

void DataLoader::start_epoch() {
  run_.reset();  // stops and joins the previous epoch's producer, if any
  auto run = std::make_unique<Run>();
  run->order = order(next_epoch_);
  run->num_batches = num_batches();
  run->first = run->delivered = first_batch_;  // a resumed epoch: the batches before it are not built at all
  run->capacity = static_cast<std::size_t>(opts_.prefetch);
  ++next_epoch_;
  first_batch_ = 0;
  if (run->capacity > 0 && run->delivered < run->num_batches) {
    Run* r = run.get();
    r->worker = std::thread([r, this] { r->produce(this); });
  }
  run_ = std::move(run);
}

std::optional<Batch> DataLoader::next() {
  MINIDP_CHECK(run_ != nullptr, "DataLoader::next: call start_epoch() (or iterate with begin()) first");
  Run& r = *run_;
  if (r.delivered >= r.num_batches) return std::nullopt;
  Batch b = r.capacity > 0 ? r.pop() : build(r.order, r.delivered);
  ++r.delivered;
  b.inputs = b.inputs.to(opts_.device);
  b.labels = b.labels.to(opts_.device);
  return b;
}

}  // namespace minidp::nn::data
