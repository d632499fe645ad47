#!/usr/bin/env bash
# The rules of a library that is a guest in its user's process, checked on
# the sources (core, kernels, nn, parallel, metrics):
#   - no exit(), _Exit(), quick_exit() or abort(): the host program decides how
#     its process ends (fatal errors go through parallel/fatal.h);
#   - MPI_COMM_WORLD is only duplicated (MPI_Comm_dup) or aborted (MPI_Abort):
#     minidp's collectives run on its own communicators, and the host's world,
#     its error handler and its collectives stay the host's;
#   - no file over 450 lines: a learner reads a file in one sitting (split by
#     idea, not by line count).
set -uo pipefail
cd "$1"
dirs=(core kernels nn parallel metrics)
code() {  # source lines without // comments
  grep -rnE "$1" "${dirs[@]}" --include='*.cpp' --include='*.h' --include='*.cu' --include='*.cuh' |
    sed -E 's#//.*$##' | grep -E "$1"
}
bad=0
if hits=$(code '(^|[^A-Za-z0-9_.>:])(std::)?((exit|_Exit|quick_exit)[[:space:]]*\(|abort[[:space:]]*\([[:space:]]*\))'); then
  echo "FAIL: library code ends the process:"; echo "$hits"; bad=1
fi
if hits=$(code '(^|[^A-Za-z0-9_])MPI_COMM_WORLD($|[^A-Za-z0-9_])' | grep -vE 'MPI_Comm_dup\(MPI_COMM_WORLD|MPI_Abort\(MPI_COMM_WORLD'); then
  echo "FAIL: library code uses the host's MPI_COMM_WORLD beyond duplicating or aborting it:"; echo "$hits"; bad=1
fi
long=$(find "${dirs[@]}" \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) -print0 |
  xargs -0 wc -l | awk '$2 != "total" && $1 > 450 {print $2" ("$1" lines)"}')
if [ -n "$long" ]; then
  echo "FAIL: library files over 450 lines:"; echo "$long"; bad=1
fi
largest=$(find "${dirs[@]}" \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) -print0 |
  xargs -0 wc -l | awk '$2 != "total"' | sort -n | tail -1)
[ $bad = 0 ] && echo "library rules: no exit/abort, MPI_COMM_WORLD only duplicated, largest file $largest -> ok"
exit $bad
