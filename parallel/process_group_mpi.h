// minidp/parallel/process_group_mpi.h — what a ProcessGroup holds of MPI.
// Internal: included only by the files built with MPI (process_group.cpp,
// mpi_communicator.cpp), so that no public header needs <mpi.h>.
#pragma once

#include <mpi.h>

#include "minidp/parallel/process_group.h"

namespace minidp::parallel {

struct ProcessGroup::Mpi {
  MPI_Comm comm = MPI_COMM_NULL;  // minidp's own: a duplicate of the world's, or a split of it
};

}  // namespace minidp::parallel
