// minidp/nn/data/sampler.h — the order in which an epoch visits the samples.
//
// The shuffled order is a pure function of (n, seed, epoch): a Fisher-Yates
// shuffle whose random numbers come from the Philox counter-based generator
// (core/rng.h), keyed by the seed, with the epoch and the step as the counter.
// No generator state is carried from one epoch to the next, so
//   * every data-parallel replica or process computes the same order on its
//     own, with no communication, and can take its own slice of it;
//   * a run resumed from a checkpoint at epoch 7 sees exactly the order the
//     uninterrupted run saw at epoch 7;
//   * the order is the same on any machine, compiler and thread count.
//
//   std::vector<std::int64_t> order = shuffled_indices(60000, /*seed=*/42, /*epoch=*/3);
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace minidp::nn::data {

// 0 .. n-1 in the shuffled order of (seed, epoch).
std::vector<std::int64_t> shuffled_indices(std::int64_t n, std::uint64_t seed, std::uint64_t epoch);

// 0 .. n-1 in order (what an evaluation loader, or shuffle = false, uses).
std::vector<std::int64_t> sequential_indices(std::int64_t n);

// Sizes of the k parts of n samples, as even as possible: the first n % k
// parts get one sample more; some are 0 when n < k. How a batch is cut among
// replicas (parallel::DataParallel) and among processes (DataLoaderOptions::parts).
std::vector<std::int64_t> shard_sizes(std::int64_t n, std::int64_t k);

// The rows [first, second) of a global batch of n rows that part `part` of
// `parts` loads (a process of a distributed job, DataLoaderOptions::part):
// consecutive, sizes as shard_sizes gives them, every row in exactly one part
// — no padding, no repeats. (nn/data/part_rows.cpp; lab 4.)
std::pair<std::int64_t, std::int64_t> part_rows(std::int64_t n, int part, int parts);

}  // namespace minidp::nn::data
