// minidp/parallel/fatal.cpp — see fatal.h.
#include "minidp/parallel/fatal.h"

#include <cstdio>
#include <mutex>

#include "minidp/core/error.h"

#ifdef MINIDP_WITH_MPI
#include "minidp/parallel/mpi_check.h"
#endif

namespace minidp::parallel {

namespace {
std::mutex g_mu;
FatalHandler g_handler;  // empty: the default

void default_handler(const std::string& message, int code) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
#ifdef MINIDP_WITH_MPI
  if (mpi_running()) MPI_Abort(MPI_COMM_WORLD, code);  // wakes the ranks blocked in MPI; does not return
#else
  (void)code;
#endif
}
}  // namespace

FatalHandler set_fatal_handler(FatalHandler handler) {
  std::lock_guard<std::mutex> lock(g_mu);
  FatalHandler previous = std::move(g_handler);
  g_handler = std::move(handler);
  return previous;
}

void fatal_error(const std::string& message, int code) {
  FatalHandler h;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    h = g_handler;
  }
  if (h) h(message, code);
  else default_handler(message, code);
  throw Error(message);
}

}  // namespace minidp::parallel
