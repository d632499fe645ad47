#!/usr/bin/env bash
# tools/gpu-check.sh — on a machine with an NVIDIA GPU: build minidp with the
# CUDA backend, run the GPU test suite, run it again under compute-sanitizer
# (memcheck on everything, racecheck on the stream tests), and print a short
# summary table last. Logs go to ${OUT:-./gpu-logs}. A few minutes in all.
#
#   tools/gpu-check.sh                 # build-gpu/, sm_90 (H100/H200)
#   ARCH=80 BUILD=build-a100 tools/gpu-check.sh
#
# Exit status: 0 when everything passed and the sanitizers found nothing.
set -uo pipefail
cd "$(dirname "$0")/.."

LOGS=${OUT:-./gpu-logs}
BUILD=${BUILD:-build-gpu}
ARCH=${ARCH:-90}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$LOGS"
start=$(date +%s)
status=0
build_all="-"

step() { echo "== $*"; }
# Numbers from doctest's last summary line: "test cases: N | P passed | F failed | S skipped"
cases() { grep -E '^\[doctest\] test cases:' "$1" | tail -1 | sed -E 's/.*test cases: *([0-9]+) \| *([0-9]+) passed \| *([0-9]+) failed \| *([0-9]+) skipped.*/\1 \2 \3 \4/'; }
# "ERROR SUMMARY: N errors" from compute-sanitizer (racecheck: "RACECHECK SUMMARY: N hazards")
sanitizer_errors() { grep -Eo '(ERROR|RACECHECK) SUMMARY: [0-9]+' "$1" | tail -1 | grep -Eo '[0-9]+$' || echo "?"; }

gpu_name=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
gpu_name=${gpu_name:-"no nvidia-smi / no GPU"}
nvidia-smi > "$LOGS/nvidia-smi.txt" 2>&1 || true

# ---------------------------------------------------------------- build
step "configure ($BUILD, sm_$ARCH)"
generator=()
# Ninja when there is one, unless the build folder was configured with another generator.
[ ! -f "$BUILD/CMakeCache.txt" ] && command -v ninja >/dev/null && generator=(-G Ninja)
if cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DMINIDP_CUDA=ON \
     -DCMAKE_CUDA_ARCHITECTURES="$ARCH" > "$LOGS/configure.log" 2>&1; then
  grep -E '^-- minidp' "$LOGS/configure.log"
  # What this check needs first; the rest of the tree after (reported, not blocking).
  step "build test_gpu and cuda_hello (-j$JOBS)"
  if cmake --build "$BUILD" -j "$JOBS" --target test_gpu cuda_hello > "$LOGS/build.log" 2>&1; then build=ok; else build=FAILED; fi
  step "build everything else"
  if cmake --build "$BUILD" -j "$JOBS" > "$LOGS/build_all.log" 2>&1; then build_all=ok
  else build_all="FAILED (see build_all.log)"; grep -E 'error' "$LOGS/build_all.log" | head -5; status=1; fi
else
  build="configure FAILED"
fi
build_s=$(( $(date +%s) - start ))
if [ "$build" != ok ]; then
  tail -40 "$LOGS/build.log" "$LOGS/configure.log" 2>/dev/null
  status=1
fi

tests="-"; ctest_line="-"; memcheck="-"; racecheck="-"; hello="-"; dp_equiv="-"; scaling="-"
# Fashion-MNIST travels with the checkout in an ignored folder (see docs/cuda.md).
DATA=${DATA:-.data/fashion-mnist}
if [ "$build" = ok ]; then
  TEST="$BUILD/tests/test_gpu"
  # ---------------------------------------------------------------- tests
  step "GPU tests"
  timeout 600 "$TEST" --duration=true > "$LOGS/test_gpu.log" 2>&1
  rc=$?
  tail -4 "$LOGS/test_gpu.log"
  read -r n p f s <<< "$(cases "$LOGS/test_gpu.log")"
  if [ "$rc" = 77 ]; then tests="SKIPPED (no GPU)"; status=1
  else tests="${p:-?}/${n:-?} passed, ${f:-?} failed, ${s:-?} skipped (rc $rc)"; [ "$rc" = 0 ] || status=1; fi

  step "ctest -L gpu (the same suite as ctest sees it)"
  (cd "$BUILD" && timeout 600 ctest -L gpu --output-on-failure) > "$LOGS/ctest_gpu.log" 2>&1
  ctest_line=$(grep -E 'tests passed|tests failed' "$LOGS/ctest_gpu.log" | tail -1)
  grep -q '(Skipped)' "$LOGS/ctest_gpu.log" && ctest_line="$ctest_line (reported as skipped)"
  echo "$ctest_line"

  step "examples/cuda_hello"
  if timeout 120 "$BUILD/examples/cuda_hello" > "$LOGS/cuda_hello.log" 2>&1; then hello=ok; else hello=FAILED; status=1; fi
  cat "$LOGS/cuda_hello.log"

  # ---------------------------------------------------------------- data parallelism on the GPU
  if [ -f "$DATA/train-images-idx3-ubyte.gz" ] && [ "$build_all" = ok ]; then
    step "parallel: train_mlp with cuda:0 vs cuda:0,cuda:0 (same curves)"
    timeout 300 python3 tests/parallel/dp_equivalence.py "$BUILD/examples/train_mlp" cuda:0 cuda:0,cuda:0 "$DATA" \
      > "$LOGS/dp_equivalence.log" 2>&1 && dp_equiv=ok || { dp_equiv=FAILED; status=1; }
    cat "$LOGS/dp_equivalence.log"
    step "parallel: scaling table, cuda:0 then cuda:0,cuda:0"
    timeout 300 "$BUILD/examples/scaling" --data "$DATA" --devices cuda:0,cuda:0 --model mlp --batch 512 \
      --json "$LOGS/scaling.json" > "$LOGS/scaling.log" 2>&1 && scaling=ok || { scaling=FAILED; status=1; }
    cat "$LOGS/scaling.log"
  else
    dp_equiv="not run (no data in $DATA or build incomplete)"; scaling="$dp_equiv"
  fi

  # ---------------------------------------------------------------- sanitizers
  SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  if [ -x "$SAN" ]; then
    # The out-of-memory test asks cudaMalloc for 1 PiB on purpose; the sanitizer would count that failure.
    step "compute-sanitizer --tool memcheck (all tests but the out-of-memory one)"
    timeout 900 "$SAN" --tool memcheck --error-exitcode 99 --print-limit 20 "$TEST" -tce="*out of memory*" \
      > "$LOGS/memcheck.log" 2>&1
    mrc=$?
    read -r n p f s <<< "$(cases "$LOGS/memcheck.log")"
    memcheck="$(sanitizer_errors "$LOGS/memcheck.log") errors; tests ${p:-?}/${n:-?} passed (rc $mrc)"
    [ "$mrc" = 0 ] || status=1
    tail -3 "$LOGS/memcheck.log"

    step "compute-sanitizer --tool racecheck (stream tests)"
    timeout 600 "$SAN" --tool racecheck --error-exitcode 99 --print-limit 20 "$TEST" -tc="stream:*" \
      > "$LOGS/racecheck.log" 2>&1
    rrc=$?
    read -r n p f s <<< "$(cases "$LOGS/racecheck.log")"
    racecheck="$(sanitizer_errors "$LOGS/racecheck.log") hazards; tests ${p:-?}/${n:-?} passed (rc $rrc)"
    [ "$rrc" = 0 ] || status=1
    tail -3 "$LOGS/racecheck.log"
  else
    memcheck="compute-sanitizer not found"; racecheck="$memcheck"; status=1
  fi
fi

total_s=$(( $(date +%s) - start ))
echo
echo "================================ minidp GPU check"
printf '%-12s %s\n' "GPU" "$gpu_name"
printf '%-12s %s (%s s)\n' "build" "$build" "$build_s"
printf '%-12s %s\n' "full build" "$build_all"
printf '%-12s %s\n' "GPU tests" "$tests"
printf '%-12s %s\n' "ctest -L gpu" "$ctest_line"
printf '%-12s %s\n' "cuda_hello" "$hello"
printf '%-12s %s\n' "dp 1 vs 2" "$dp_equiv"
printf '%-12s %s\n' "scaling" "$scaling"
printf '%-12s %s\n' "memcheck" "$memcheck"
printf '%-12s %s\n' "racecheck" "$racecheck"
printf '%-12s %s s; logs in %s\n' "total" "$total_s" "$LOGS"
exit $status
