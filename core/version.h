// minidp/core/version.h — which minidp this is. The one place the version is
// written: CMake reads the three numbers below (project(VERSION)), and the
// installed package answers find_package(minidp 0.2) from them.
#pragma once

#define MINIDP_VERSION_MAJOR 0
#define MINIDP_VERSION_MINOR 2
#define MINIDP_VERSION_PATCH 0

#define MINIDP_VERSION_STR2_(x) #x
#define MINIDP_VERSION_STR_(x) MINIDP_VERSION_STR2_(x)
// "0.2.0"
#define MINIDP_VERSION_STRING                                                                 \
  MINIDP_VERSION_STR_(MINIDP_VERSION_MAJOR) "." MINIDP_VERSION_STR_(MINIDP_VERSION_MINOR) "." \
      MINIDP_VERSION_STR_(MINIDP_VERSION_PATCH)

namespace minidp {

// The version of the headers compiled against, "0.2.0".
constexpr const char* version() { return MINIDP_VERSION_STRING; }

}  // namespace minidp
