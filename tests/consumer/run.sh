#!/usr/bin/env bash
# A user's project against an installed minidp: install the fresh build into
# a prefix, check that the package names no absolute path, MOVE the prefix
# (an install must not depend on where it was made), then configure, build
# and run tests/consumer from the moved prefix with g++ and with clang++.
set -euo pipefail
build_dir=$1
src_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"

# 1. The package files name their dependencies as imported targets found on
#    the user's machine, never by absolute path. (MinidpCudaLibraries.cmake,
#    the search for cuDNN and NCCL, lists places to look, not places found.)
pkg="$work/prefix/lib/cmake/minidp"
ls "$pkg"/minidp*.cmake > /dev/null
if grep -nE '(^|[^A-Za-z0-9_}])/(usr|opt|home|root|work|tmp|lib|var)/' "$pkg"/minidp*.cmake; then
  echo "FAIL: absolute paths in the installed package files (above)"; exit 1
fi
if grep -n "$work/prefix" "$pkg"/minidp*.cmake; then
  echo "FAIL: the package names its own install prefix (above): it would break once moved"; exit 1
fi
echo "package files: no absolute path -> ok"

# 2. Only <minidp/...> on the consumer's include path.
[ -f "$work/prefix/include/minidp/minidp.h" ] && [ -f "$work/prefix/include/minidp/core/tensor.h" ] ||
  { echo "FAIL: headers not under include/minidp/"; exit 1; }

# 3. Moved, then used with both compilers.
mv "$work/prefix" "$work/moved-prefix"
for cxx in g++ clang++; do
  if ! command -v "$cxx" > /dev/null; then echo "FAIL: $cxx not found (tools/install-deps.sh installs it)"; exit 1; fi
  cmake -S "$src_dir/tests/consumer" -B "$work/build-$cxx" -DCMAKE_PREFIX_PATH="$work/moved-prefix" \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release > "$work/configure-$cxx.log" 2>&1 ||
    { cat "$work/configure-$cxx.log"; exit 1; }
  cmake --build "$work/build-$cxx" > "$work/build-$cxx.log" 2>&1 || { cat "$work/build-$cxx.log"; exit 1; }
  echo "$cxx, from the moved prefix:"
  "$work/build-$cxx/consumer"
done
echo "installed package: moved prefix, g++ and clang++ -> all ok"
