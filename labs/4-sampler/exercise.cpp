// labs/4-sampler/exercise.cpp — YOUR part of a global batch.
//
// A distributed job of `parts` processes reads the same global batches as one
// process would; each process loads only its rows. Return the rows
// [first, last) of a global batch of n rows that part `part` loads:
//   * consecutive rows, part 0 first, then part 1, ...;
//   * as even as possible: the first n % parts parts get one row more (the
//     rule DataParallel uses for its replicas, shard_sizes);
//   * every row in exactly one part: nothing padded, nothing repeated, so an
//     evaluation counts each sample once (PyTorch's DistributedSampler pads
//     with repeated samples instead);
//   * a part that does not exist (part < 0, part >= parts, parts < 1) is a
//     minidp::Error.
//
// Read first: docs/walkthrough.md, stop 14; docs/data.md.
// Test: make lab 4
#include <minidp/minidp.h>

namespace minidp::nn::data {

std::pair<std::int64_t, std::int64_t> part_rows(std::int64_t n, int part, int parts) {
  (void)n;
  (void)part;
  (void)parts;
  throw Error("lab 4 is yours to write: in labs/4-sampler/exercise.cpp, return part `part`'s consecutive rows "
              "of the n: sizes n / parts, plus one for the first n % parts parts");
}

}  // namespace minidp::nn::data
