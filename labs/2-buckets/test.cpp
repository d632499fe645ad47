// labs/2-buckets/test.cpp — what plan_buckets must do. Run by `make lab 2`
// against YOUR version.
#include <doctest/doctest.h>
#include <minidp/minidp.h>

#include <algorithm>
#include <vector>

using namespace minidp;
using parallel::plan_buckets;
using Plan = std::vector<std::vector<int>>;

TEST_CASE("lab 2: backward's order - the last parameter goes first") {
  // 3 parameters of 10 floats (40 bytes each), limits large enough for all: one bucket.
  CHECK(plan_buckets({10, 10, 10}, 4, 1000, 1000) == Plan{{2, 1, 0}});
}

TEST_CASE("lab 2: a small first bucket, then larger ones - a bucket closes when the next parameter would overflow it") {
  // Sizes in floats: p0=30, p1=5, p2=20, p3=10, p4=3 (4 bytes each).
  // Backward's order: p4 (12 B), p3 (40 B) -> 52 B > 48: bucket 0 is {4}; then
  // p3 + p2 + p1 = 40 + 80 + 20 = 140 <= 160, + p0 (120) would be 260 > 160.
  CHECK(plan_buckets({30, 5, 20, 10, 3}, 4, 48, 160) == Plan{{4}, {3, 2, 1}, {0}});
}

TEST_CASE("lab 2: a parameter is never split - one larger than the limit gets a bucket of its own") {
  CHECK(plan_buckets({4, 100, 4}, 4, 16, 16) == Plan{{2}, {1}, {0}});
  CHECK(plan_buckets({100}, 4, 16, 16) == Plan{{0}});  // no empty bucket before it
  CHECK(plan_buckets({3, 1}, 8, 8, 1 << 20) == Plan{{1}, {0}});
}

TEST_CASE("lab 2: every parameter in exactly one bucket, whatever the sizes") {
  const std::vector<std::int64_t> numels = {7, 1, 300, 2, 2, 64, 9, 1000, 5};
  for (std::size_t first : {4, 64, 4096}) {
    for (std::size_t rest : {8, 256, 1 << 20}) {
      const Plan plan = plan_buckets(numels, 4, first, rest);
      std::vector<int> seen;
      for (const auto& bucket : plan) {
        CHECK_FALSE(bucket.empty());
        seen.insert(seen.end(), bucket.begin(), bucket.end());
      }
      std::vector<int> want(numels.size());
      for (std::size_t i = 0; i < want.size(); ++i) want[i] = static_cast<int>(want.size() - 1 - i);
      CHECK(seen == want);  // all of them, once, last first
    }
  }
}

TEST_CASE("lab 2: the real GradientBuckets of the example MLP 784-1024-1024-10 (1 MiB first, 25 MiB after)") {
  nn::Sequential mlp(std::vector<nn::ModulePtr>{std::make_shared<nn::Linear>(784, 1024), std::make_shared<nn::ReLU>(),
                                                std::make_shared<nn::Linear>(1024, 1024), std::make_shared<nn::ReLU>(),
                                                std::make_shared<nn::Linear>(1024, 10)});
  parallel::GradientBuckets buckets(mlp, 1 << 20, 25 << 20);
  REQUIRE(buckets.num_buckets() == 2);
  // Bucket 0: the last layer (10 x 1024 + 10) and the second layer's bias (1,024): 11,274 floats.
  CHECK(buckets.params_of(0) == std::vector<int>{5, 4, 3});
  CHECK(buckets.bucket(0).numel() == 11274);
  CHECK(buckets.params_of(1) == std::vector<int>{2, 1, 0});
  CHECK(buckets.bucket(1).numel() == 1852416);
  // Each gradient is a view into its bucket: writing the bucket writes the gradient.
  buckets.bucket(0).fill_(2.0);
  CHECK(mlp.parameters()[5].grad().to_vector<float>()[0] == 2.0f);
}
