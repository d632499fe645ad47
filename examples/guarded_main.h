// examples/guarded_main.h — every example's main: one clear line and a non-zero
// exit status for whatever goes wrong, never "terminate called ...".
//
// minidp reports bad input as minidp::Error with a message that names what was
// wrong; out of memory and other std::exceptions are caught too, so a user
// sees one line, the status says it failed, and scripts around it can tell.
//
//   int run(int argc, char** argv) { ... }
//   int main(int argc, char** argv) { return minidp::examples::guarded_main("fit_curve", run, argc, argv); }
#pragma once

#include <cstdio>
#include <exception>
#include <new>

#include "minidp/minidp.h"

namespace minidp::examples {

template <typename Run, typename... Args>
int guarded_main(const char* program, Run&& run, Args&&... args) {
  try {
    return run(static_cast<Args&&>(args)...);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "%s: error: out of memory\n", program);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
  }
  return 1;
}

}  // namespace minidp::examples
