#!/usr/bin/env bash
# Fuzzes minidp's readers of user files with libFuzzer (docs/reliability.md).
#
#   tools/fuzz.sh [SECONDS_EACH] [HARNESS ...]     (make fuzz)
#   FUZZ_BUILD=build-asan tools/fuzz.sh 15          (CI: on make sanitize's build, which has the harnesses)
#
# Builds FUZZ_BUILD (build-fuzz) with clang (coverage + AddressSanitizer +
# UBSan) unless it is already configured for fuzzing, writes
# the seed corpora, runs the harnesses (safetensors idx cifar csv metrics by
# default) two at a time for SECONDS_EACH seconds each, and prints a table of
# executions, executions per second and corpus sizes. A failing input is saved
# in FUZZ_BUILD/crashes/<harness>/ and makes the script fail; once its bug is
# fixed, copy it to tests/fuzz/regressions/<harness>/ so every build replays it.
# New interesting inputs accumulate in FUZZ_BUILD/corpus/<harness>/, so a
# second run starts where the first one stopped.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(safetensors idx cifar csv metrics)
B=${FUZZ_BUILD:-build-fuzz}

gen=()
[ -f "$B/CMakeCache.txt" ] || ! command -v ninja >/dev/null || gen=(-G Ninja)
t0=$(date +%s)
if grep -q '^MINIDP_FUZZ:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null; then
  # A build folder already configured for fuzzing (make sanitize's, FUZZ_BUILD=build-asan,
  # which has the test suites too): its configuration is kept, only the harnesses are built.
  echo "fuzz: using the fuzzing build in $B as it is configured"
else
  CC=clang CXX=clang++ cmake -S . -B "$B" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINIDP_FUZZ=ON -DMINIDP_CUDA=OFF \
    -DMINIDP_ONEDNN=OFF -DMINIDP_BUILD_TESTS=OFF -DMINIDP_BUILD_EXAMPLES=OFF > "$B.configure.log" 2>&1 || { cat "$B.configure.log"; exit 1; }
fi
targets=(fuzz_seeds)
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$B" -j"$(nproc)" --target "${targets[@]}" || exit 1
echo "fuzz: configured and built in $(( $(date +%s) - t0 )) s"
"$B/tests/fuzz/fuzz_seeds" "$B/seeds" || exit 1

run() {  # one harness for $secs seconds; its log in $B/fuzz_<h>.log
  local h=$1
  mkdir -p "$B/corpus/$h" "$B/crashes/$h"
  local dirs=("$B/corpus/$h" "$B/seeds/$h")
  [ -d "tests/fuzz/regressions/$h" ] && dirs+=("tests/fuzz/regressions/$h")
  # rss_limit: a reader that trusts a size from the file fails here, not on a user's machine.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 \
    "$B/tests/fuzz/fuzz_$h" "${dirs[@]}" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$B/crashes/$h/" > "$B/fuzz_$h.log" 2>&1
}

status=0
for ((i = 0; i < ${#harnesses[@]}; i += 2)); do  # two at a time: CI has two cores
  pids=()
  for h in "${harnesses[@]:i:2}"; do run "$h" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
done

stat() { grep -m1 "^stat::$2:" "$B/fuzz_$1.log" | awk '{print $2}'; }
printf '%-12s %12s %10s %8s %8s  %s\n' harness executions exec/s seconds corpus result
for h in "${harnesses[@]}"; do
  runs=$(stat "$h" number_of_executed_units)
  rate=$(stat "$h" average_exec_per_sec)
  crashes=$(find "$B/crashes/$h" -type f | wc -l)
  result=ok
  if [ -z "$runs" ] || [ "$crashes" -gt 0 ]; then
    result="FAILED (see $B/fuzz_$h.log and $B/crashes/$h/)"
    status=1
  fi
  printf '%-12s %12s %10s %8s %8s  %s\n' "$h" "${runs:-?}" "${rate:-?}" "$secs" \
    "$(find "$B/corpus/$h" -type f | wc -l)" "$result"
done
if [ $status -ne 0 ]; then
  for h in "${harnesses[@]}"; do
    if [ "$(find "$B/crashes/$h" -type f | wc -l)" -gt 0 ] || ! grep -q "^stat::number_of_executed_units" "$B/fuzz_$h.log"; then
      echo "== $h: the end of its log"; tail -40 "$B/fuzz_$h.log"
    fi
  done
fi
exit $status
