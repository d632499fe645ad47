// tests/test_util.h — small helpers shared by the test suites.
//
// The suites' conventions: their helpers live in namespace minidp::test, and
// an expected error is checked one way everywhere:
//   CHECK_THROWS_WITH_AS(expr, doctest::Contains("what the message must say"), Error);
#pragma once

#include <doctest/doctest.h>

#include <string>

namespace minidp::test {

// For strings that are not errors (a warning's message, a report).
inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace minidp::test
