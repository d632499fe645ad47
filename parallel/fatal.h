// minidp/parallel/fatal.h — what minidp does when a distributed job cannot go
// on: a rank failed, a peer is dead or stuck, a collective timed out.
//
// minidp is a guest in its user's process: it never calls exit(). It calls
// the fatal handler with a message that names this rank ("minidp rank 1 of 4:
// waited 60 s for ..."). The default handler prints the message to stderr and,
// when MPI is running, calls MPI_Abort — the only way to wake the other ranks,
// which may be blocked inside an MPI call waiting for this one. In a world of
// one process (no MPI) there is nobody to wake: it only prints.
//
// A host program may install its own handler (to flush its logs, to report
// to its scheduler, to end in its own way). If the handler returns, minidp
// raises minidp::Error with the message in the thread that hit the error, so
// the caller's stack unwinds as for any other error.
//
//   parallel::set_fatal_handler([](const std::string& msg, int code) {
//     my_log.flush(); std::fprintf(stderr, "%s\n", msg.c_str()); MPI_Abort(MPI_COMM_WORLD, code);
//   });
#pragma once

#include <functional>
#include <string>

namespace minidp::parallel {

using FatalHandler = std::function<void(const std::string& message, int code)>;

// Installs `handler` (nullptr: the default) and returns the previous one.
FatalHandler set_fatal_handler(FatalHandler handler);

// Calls the handler; raises minidp::Error(message) if it returns.
[[noreturn]] void fatal_error(const std::string& message, int code = 1);

}  // namespace minidp::parallel
