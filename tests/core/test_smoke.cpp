#include <doctest/doctest.h>
#include "minidp.h"
using namespace minidp;
TEST_CASE("smoke: matmul forward") {
  Tensor a = from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = from_vector<float>({5, 6, 7, 8}, {2, 2});
  auto c = matmul(a, b).to_vector<float>();
  CHECK(c == std::vector<float>{19, 22, 43, 50});
}
