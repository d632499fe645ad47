// tests/test_util.h — small helpers shared by the test suites.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "core/error.h"

namespace minidp::testing {

// The message of the minidp::Error `f` raises (fails the test if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected a minidp::Error");
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace minidp::testing
