// minidp/parallel/mpi_check.h — every MPI call checked and reported with the
// failing expression, file:line and MPI's own error string, as minidp::Error.
// (Internal to parallel/: needs <mpi.h>.)
#pragma once

#include <mpi.h>

#include "minidp/core/error.h"

#define MINIDP_MPI_CHECK(expr)                                                                \
  do {                                                                                        \
    const int rc_ = (expr);                                                                   \
    if (rc_ != MPI_SUCCESS) {                                                                 \
      char msg_[MPI_MAX_ERROR_STRING] = {0};                                                  \
      int len_ = 0;                                                                           \
      MPI_Error_string(rc_, msg_, &len_);                                                     \
      MINIDP_FAIL("MPI error at ", __FILE__, ":", __LINE__, ": ", #expr, " failed: ", msg_); \
    }                                                                                         \
  } while (0)

namespace minidp::parallel {
// True between MPI_Init (the host's or minidp's) and MPI_Finalize: the only
// time an MPI call, a communicator free or MPI_Abort is allowed.
inline bool mpi_running() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}
}  // namespace minidp::parallel
