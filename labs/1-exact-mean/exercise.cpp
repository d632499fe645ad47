// labs/1-exact-mean/exercise.cpp — YOUR divide_by_global_count.
//
// When this runs, the replicas' gradients have been summed: every bucket holds
// the SUM, over every sample of every replica, of that sample's gradient (each
// replica's loss is a sum, not a mean), and tail = [loss sum, sample count],
// summed the same way. Make the gradients and the loss MEANS over the whole
// (global) batch, in place: the handles you get share their memory with the
// buckets every .grad views (so b.mul_(...) changes the gradients, while
// b = mul(b, ...) only rebinds your copy of the handle).
// Leave the count as it is. A count of 0 (no sample anywhere) must give 0,
// not NaN.
//
// Read first: docs/walkthrough.md, stop 8 and stop 17; docs/parallel.md.
// Tools: tail.narrow(0, i, 1) is a view of element i; mul_(t) multiplies in
// place by a one-element tensor; clamp, div and full are in core/ops.h. Stay
// on the tensors' device: no item(), no to_vector() (the host must not wait).
// Test: make lab 1
#include <minidp/minidp.h>

namespace minidp::parallel {

void divide_by_global_count(std::vector<Tensor> buckets, Tensor tail) {
  (void)buckets;
  (void)tail;
  throw Error("lab 1 is yours to write: in labs/1-exact-mean/exercise.cpp, divide every bucket and tail[0] (the "
              "loss sum) by tail[1] (the global sample count, at least 1), in place");
}

}  // namespace minidp::parallel
