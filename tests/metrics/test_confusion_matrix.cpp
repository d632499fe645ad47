// ConfusionMatrix: counting, ignore_index, errors, and merging of replica shards.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "minidp/core/ops.h"
#include "minidp/metrics/metrics.h"
#include "test_util.h"

using namespace minidp;
using namespace minidp::metrics;

TEST_CASE("confusion matrix: rows are true classes, columns predictions") {
  ConfusionMatrix cm(3);
  cm.update(std::vector<std::int64_t>{0, 0, 2, 2, 1}, std::vector<std::int64_t>{0, 1, 2, 2, 2});
  // sklearn.metrics.confusion_matrix([0,1,2,2,2], [0,0,2,2,1])
  CHECK(cm.counts() == std::vector<std::int64_t>{1, 0, 0, 1, 0, 0, 0, 1, 2});
  CHECK(cm.total() == 5);
  CHECK(cm.correct() == 3);
  CHECK(cm.true_count(2) == 3);
  CHECK(cm.predicted_count(0) == 2);
  CHECK(cm.true_positives(2) == 2);
  CHECK(cm.false_positives(0) == 1);
  CHECK(cm.false_negatives(2) == 1);
  CHECK(cm.true_negatives(0) == 3);  // samples neither true 0 nor predicted 0
  CHECK(cm.to_tensor().to_vector<std::int64_t>() == cm.counts());
  CHECK(cm.to_tensor().shape() == Shape{3, 3});
}

TEST_CASE("confusion matrix: update from tensors of any integer dtype and from logits") {
  ConfusionMatrix a(3), b(3);
  a.update(from_vector<std::int32_t>({2, 1, 0, 0}, {4}), from_vector<std::int64_t>({2, 1, 1, 0}, {4}));
  // argmax of each row: 2, 1, 0, 0 (row 3 ties between 0 and 2: the first maximum wins)
  Tensor logits = from_vector<float>({0.1f, 0.2f, 3.0f,  //
                                      -1.f, 5.0f, 0.0f,  //
                                      2.0f, 1.0f, 1.0f,  //
                                      7.0f, 0.0f, 7.0f},
                                     {4, 3});
  b.update_from_logits(logits, from_vector<std::int64_t>({2, 1, 1, 0}, {4}));
  CHECK(a == b);
  CHECK(a.at(1, 0) == 1);
  CHECK(a.correct() == 3);
}

TEST_CASE("confusion matrix: ignore_index skips samples, like cross_entropy") {
  ConfusionMatrix cm(2, -100);
  cm.update(std::vector<std::int64_t>{1, 0, 1}, std::vector<std::int64_t>{1, -100, 0});
  CHECK(cm.total() == 2);
  CHECK(cm.at(1, 1) == 1);
  CHECK(cm.at(0, 1) == 1);
  CHECK(cm.counted_class(0));

  ConfusionMatrix bg(3, 0);  // class 0 ("background") is ignored
  bg.update(std::vector<std::int64_t>{0, 1, 2}, std::vector<std::int64_t>{0, 1, 1});
  CHECK(bg.total() == 2);
  CHECK_FALSE(bg.counted_class(0));
}

TEST_CASE("confusion matrix: out-of-range labels and predictions raise errors that name them") {
  ConfusionMatrix cm(3);
  CHECK_THROWS_WITH_AS(cm.update(std::vector<std::int64_t>{0, 1}, std::vector<std::int64_t>{0, 3}), doctest::Contains("label 3"), Error);
  CHECK_THROWS_WITH_AS(cm.update(std::vector<std::int64_t>{0, 1}, std::vector<std::int64_t>{0, 3}), doctest::Contains("[0, 3)"), Error);
  CHECK(cm.total() == 0);  // a bad batch leaves the matrix untouched
  CHECK_THROWS_WITH_AS(cm.add(1, -1), doctest::Contains("predicted class -1"), Error);
  CHECK_THROWS_WITH_AS(cm.add(-100, 0), doctest::Contains("label -100"), Error);
  ConfusionMatrix ig(3, -100);
  CHECK_THROWS_WITH_AS(ig.add(-5, 0), doctest::Contains("ignore_index -100"), Error);
  CHECK_THROWS_WITH_AS(cm.update(std::vector<std::int64_t>{0}, std::vector<std::int64_t>{0, 1}), doctest::Contains("1 predictions but 2 labels"), Error);
  CHECK_THROWS_WITH_AS(cm.update(from_vector<float>({0.f}, {1}), from_vector<std::int64_t>({0}, {1})), doctest::Contains("integer tensor"), Error);
  CHECK_THROWS_WITH_AS(cm.update_from_logits(zeros({2, 4}), from_vector<std::int64_t>({0, 1}, {2})), doctest::Contains("expected logits [N, 3]"), Error);
  CHECK_THROWS_AS(ConfusionMatrix(0), Error);
}

TEST_CASE("confusion matrix: merged shards equal the whole, for any split") {
  Generator gen(7);
  const std::int64_t n = 101, k = 4;
  Tensor labels = randint(0, k, {n}, kInt64, &gen);
  Tensor logits = randn({n, k}, {}, &gen);
  ConfusionMatrix whole(k);
  whole.update_from_logits(logits, labels);
  for (std::int64_t cut : {0, 1, 50, 100, 101}) {
    ConfusionMatrix a(k), b(k);
    a.update_from_logits(logits.slice(0, cut), labels.slice(0, cut));
    b.update_from_logits(logits.slice(cut, n), labels.slice(cut, n));
    a.merge(b);
    CHECK(a == whole);
  }
  ConfusionMatrix three(k);
  for (std::int64_t r = 0; r < 3; ++r) {  // three replicas with uneven shards: 34, 34, 33
    ConfusionMatrix shard(k);
    const std::int64_t lo = r * 34, hi = std::min<std::int64_t>(n, lo + 34);
    shard.update_from_logits(logits.slice(lo, hi), labels.slice(lo, hi));
    three += shard;
  }
  CHECK(three == whole);
  CHECK_THROWS_AS(whole.merge(ConfusionMatrix(3)), Error);
  CHECK_THROWS_AS(whole.merge(ConfusionMatrix(k, 0)), Error);
  whole.reset();
  CHECK(whole.total() == 0);
}
