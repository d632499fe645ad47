// labs/2-buckets/exercise.cpp — YOUR plan_buckets.
//
// Given each parameter's size in elements (in registration order: the first
// layer's weight first) and the size of one element in bytes, return the
// buckets: for each bucket, the indices of its parameters in the order
// backward finishes their gradients. The rules (PyTorch's DDP uses the same):
//   * backward's order: the LAST parameter first, so bucket 0 is complete
//     early in backward and its sum can start while backward goes on;
//   * bucket 0 holds at most first_bucket_bytes (small: the sum starts
//     sooner), every later bucket at most bucket_bytes;
//   * a parameter is never split between buckets; one larger than the limit
//     gets a bucket of its own;
//   * every parameter in exactly one bucket, no bucket empty.
//
// Read first: docs/walkthrough.md, stop 7; parallel/gradient_buckets.h.
// Test: make lab 2
#include <minidp/minidp.h>

namespace minidp::parallel {

std::vector<std::vector<int>> plan_buckets(const std::vector<std::int64_t>& numels, std::size_t element_bytes,
                                           std::size_t first_bucket_bytes, std::size_t bucket_bytes) {
  (void)numels;
  (void)element_bytes;
  (void)first_bucket_bytes;
  (void)bucket_bytes;
  throw Error("lab 2 is yours to write: in labs/2-buckets/exercise.cpp, walk the parameters from the last to the "
              "first and close a bucket when the next one would take it past its limit");
}

}  // namespace minidp::parallel
