// minidp/kernels/cpu/one_omp_thread.h — run a oneDNN call on the calling
// thread alone.
//
// oneDNN (built on OpenMP) sizes its parallel regions, and the primitives it
// creates, by the calling thread's OpenMP team. minidp's oneDNN calls
// (conv_onednn.cpp, gemm.cpp) are each one block of work on one of minidp's
// own threads, so while an OneOmpThread is in scope that team is 1 thread;
// then it is what it was, so the host program's OpenMP setting is left as it
// was found.
#pragma once

#if defined(MINIDP_WITH_ONEDNN) && MINIDP_WITH_ONEDNN
#include <omp.h>

namespace minidp::kernels::cpu {

class OneOmpThread {
 public:
  OneOmpThread() : prev_(omp_get_max_threads()) {
    if (prev_ != 1) omp_set_num_threads(1);
  }
  ~OneOmpThread() {
    if (prev_ != 1) omp_set_num_threads(prev_);
  }
  OneOmpThread(const OneOmpThread&) = delete;
  OneOmpThread& operator=(const OneOmpThread&) = delete;

 private:
  int prev_;
};

}  // namespace minidp::kernels::cpu
#endif
