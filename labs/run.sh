#!/usr/bin/env bash
# labs/run.sh N — what `make lab N` runs: YOUR labs/N-*/exercise.cpp against
# the lab's tests; when they pass, the real DataParallel trains an MLP with
# your function in minidp's place, against minidp's own.
#   labs/run.sh --trainer-only N REFERENCE TRAINER   (the trainer part alone; CI)
set -uo pipefail
trainer() {  # N REFERENCE TRAINER
  local ref
  ref=$(mktemp)
  "$2" --lab "$1" > "$ref" || { cat "$ref"; rm -f "$ref"; return 1; }
  "$3" --lab "$1" --against "$ref"
  local rc=$?
  rm -f "$ref"
  return $rc
}
if [ "${1:-}" = --trainer-only ]; then
  trainer "$2" "$3" "$4"
  exit $?
fi
n=${1:-}
dir=$(ls -d "$(dirname "$0")/$n"-*/ 2>/dev/null | head -1)
if [ -z "$n" ] || [ -z "$dir" ]; then
  echo "usage: make lab N, N one of: $(cd "$(dirname "$0")" && ls -d [0-9]-*/ | tr -d / | tr '\n' ' ')"
  exit 2
fi
build=${BUILD:-build}
cmake --build "$build" -j"$(nproc)" --target lab"$n"_test lab"$n"_train lab_train_reference > "$build/lab$n.build.log" 2>&1 ||
  { grep -E "error|Error" "$build/lab$n.build.log" | head -30; echo "lab $n: does not compile (above)"; exit 1; }
echo "== lab $n: ${dir}exercise.cpp against the lab's tests"
"$build"/labs/lab"$n"_test || { echo "lab $n: not yet — the failures above say what is missing"; exit 1; }
echo "== lab $n: minidp with your function in its place trains the MLP (3 CPU replicas, 30 steps)"
trainer "$n" "$build"/labs/lab_train_reference "$build"/labs/lab"$n"_train | tail -4
