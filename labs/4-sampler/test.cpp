// labs/4-sampler/test.cpp — what part_rows must do. Run by `make lab 4`
// against YOUR version.
#include <doctest/doctest.h>
#include <minidp/minidp.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

using namespace minidp;
using nn::data::part_rows;
using Rows = std::pair<std::int64_t, std::int64_t>;

TEST_CASE("lab 4: a batch of 7 rows over 3 processes is rows 0-2, 3-4 and 5-6") {
  CHECK(part_rows(7, 0, 3) == Rows{0, 3});
  CHECK(part_rows(7, 1, 3) == Rows{3, 5});
  CHECK(part_rows(7, 2, 3) == Rows{5, 7});
  CHECK(part_rows(7, 0, 1) == Rows{0, 7});
}

TEST_CASE("lab 4: fewer rows than processes - some parts are empty, none is padded") {
  CHECK(part_rows(2, 0, 3) == Rows{0, 1});
  CHECK(part_rows(2, 1, 3) == Rows{1, 2});
  CHECK(part_rows(2, 2, 3) == Rows{2, 2});
  CHECK(part_rows(0, 1, 2) == Rows{0, 0});
}

TEST_CASE("lab 4: for every size and count - consecutive, covering, as even as DataParallel's shards") {
  for (std::int64_t n = 0; n <= 25; ++n)
    for (int parts = 1; parts <= 6; ++parts) {
      CAPTURE(n);
      CAPTURE(parts);
      const auto sizes = nn::data::shard_sizes(n, parts);
      std::int64_t at = 0;
      for (int p = 0; p < parts; ++p) {
        const Rows r = part_rows(n, p, parts);
        CHECK(r.first == at);  // starts where the previous part ended: no gap, no overlap
        CHECK(r.second - r.first == sizes[p]);
        at = r.second;
      }
      CHECK(at == n);  // every row, once
    }
}

TEST_CASE("lab 4: a part that does not exist is an error") {
  CHECK_THROWS_AS(part_rows(5, 3, 3), Error);
  CHECK_THROWS_AS(part_rows(5, -1, 3), Error);
  CHECK_THROWS_AS(part_rows(5, 0, 0), Error);
}

TEST_CASE("lab 4: the real DataLoader - 3 processes' parts of each shuffled batch are the one-process batch") {
  Tensor x = arange(0, 103, 1).reshape({103, 1});
  Tensor y = zeros({103}, kInt64);
  nn::data::Dataset data(x, y, "rows");
  nn::data::DataLoaderOptions one{.batch_size = 10, .seed = 5};
  nn::data::DataLoader whole(data, one);
  std::vector<std::unique_ptr<nn::data::DataLoader>> parts;  // what 3 processes' loaders load
  for (int p = 0; p < 3; ++p)
    parts.push_back(std::make_unique<nn::data::DataLoader>(data, parallel::DistributedSampler(p, 3).apply(one)));
  std::vector<std::int64_t> seen;
  for (std::int64_t b = 0; b < whole.num_batches(); ++b) {
    const nn::data::Batch want = whole.batch(0, b);
    std::vector<std::int64_t> got;
    for (auto& loader : parts) {
      const nn::data::Batch part = loader->batch(0, b);
      CHECK(part.global_size == want.global_size);
      got.insert(got.end(), part.indices.begin(), part.indices.end());
    }
    CHECK(got == want.indices);  // the same rows in the same order: nothing padded, nothing repeated
    seen.insert(seen.end(), got.begin(), got.end());
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == nn::data::sequential_indices(103));  // the epoch visits every sample once
}
