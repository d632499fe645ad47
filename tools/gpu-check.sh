#!/usr/bin/env bash
# tools/gpu-check.sh — the whole GPU check of minidp in one call that cannot
# waste itself: preflight, build, GPU tests, compute-sanitizer, data-parallel
# equivalence on one GPU, and the step benchmark against PyTorch — under one
# hard deadline, with the summary rewritten after every step.
#
#   tools/gpu-check.sh                      # on the GPU machine
#   DEADLINE=300 OUT=/tmp/out tools/gpu-check.sh
#   tools/gpu-check.sh --dry                # no GPU, no build: fake steps, same logic (a ctest runs this)
#
# Environment: OUT (where summary.txt and logs.tgz go; default ./gpu-logs),
# DEADLINE (seconds for everything, default 480), BUILD (build-gpu), ARCH (90),
# JOBS (nproc), DATA (.data/fashion-mnist: the four Fashion-MNIST .gz files).
#
# What survives a kill: $OUT/summary.txt is rewritten after every step and
# $OUT/logs.tgz repacked, so a run cut short still says what it saw; a trap
# prints the summary on exit, also on SIGTERM/SIGINT. Each step gets a timeout
# from the time left; a step that cannot finish in time is skipped and says so.
# $OUT ends up with at most three files (summary.txt, logs.tgz, bench.jsonl).
#
# Exit status: 0 when every step ran and passed and the sanitizers found nothing;
# 1 otherwise (a skipped step counts: it was not checked); 124 when killed.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
[ "${1:-}" = "--dry" ] && DRY=1
OUT=${OUT:-./gpu-logs}
DEADLINE=${DEADLINE:-480}
BUILD=${BUILD:-build-gpu}
ARCH=${ARCH:-90}
JOBS=${JOBS:-$(nproc)}
DATA=${DATA:-.data/fashion-mnist}
DRY_SLEEP=${DRY_SLEEP:-0}   # dry mode: seconds each fake step takes (tests of the deadline and the trap)
RESERVE=8                   # seconds kept back for packing the logs and printing the summary
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOGS=$(mktemp -d)
START=$(date +%s)
STATUS=0

elapsed() { echo $(( $(date +%s) - START )); }
left() { echo $(( DEADLINE - $(elapsed) - RESERVE )); }

# ---------------------------------------------------------------- the summary
ROWS=(gpu preflight configure "build test_gpu" "GPU tests" memcheck "build all" "dp 1 vs 2" "ddp on GPU" benchmark racecheck)
declare -A RESULT
for r in "${ROWS[@]}"; do RESULT[$r]="pending"; done
BENCH_TABLE=""

pack_logs() {
  tar -czf "$OUT/logs.tgz.part" -C "$LOGS" . 2>/dev/null && mv -f "$OUT/logs.tgz.part" "$OUT/logs.tgz"
}
summary_text() {
  echo "================================ minidp GPU check$([ $DRY = 1 ] && echo ' (DRY RUN: fake steps)')"
  for r in "${ROWS[@]}"; do printf '%-16s %s\n' "$r" "${RESULT[$r]}"; done
  printf '%-16s %s s of a %s s deadline; exit status %s\n' "total" "$(elapsed)" "$DEADLINE" "$STATUS"
  if [ -n "$BENCH_TABLE" ]; then
    echo
    echo "step benchmark (samples/s; ratio > 1: minidp faster; same call, same GPU):"
    echo "$BENCH_TABLE"
  fi
}
write_summary() {
  summary_text > "$OUT/summary.txt.part" && mv -f "$OUT/summary.txt.part" "$OUT/summary.txt"
  pack_logs
}
set_row() { RESULT[$1]="$2"; write_summary; }
fail_row() { RESULT[$1]="$2"; STATUS=1; write_summary; }

finish() {
  trap - EXIT TERM INT
  for r in "${ROWS[@]}"; do
    [ "${RESULT[$r]}" = "pending" ] && RESULT[$r]="not reached"
  done
  write_summary
  echo
  cat "$OUT/summary.txt"
  rm -rf "$LOGS"
}
CHILD=""
on_signal() {
  STATUS=1
  if [ -n "$CHILD" ]; then pkill -TERM -P "$CHILD" 2>/dev/null; kill -TERM "$CHILD" 2>/dev/null; fi
  for r in "${ROWS[@]}"; do
    case "${RESULT[$r]}" in running*) RESULT[$r]="KILLED while running, at $(elapsed) s";; esac
  done
  exit 124
}
trap finish EXIT
trap on_signal TERM INT

# run_step ROW MIN_SECONDS MAX_SECONDS LOG -- COMMAND...
# Runs COMMAND with a timeout of min(MAX, time left), output into $LOGS/LOG.
# Returns 0 on success, 2 when skipped for lack of time, 3 on a timeout,
# otherwise the command's status. The caller writes the row.
run_step() {
  local row=$1 min=$2 max=$3 log=$4
  shift 5
  local l
  l=$(left)
  if [ "$l" -lt "$min" ]; then
    fail_row "$row" "skipped: needs at least ${min} s, ${l} s left before the deadline"
    return 2
  fi
  local t=$(( l < max ? l : max ))
  set_row "$row" "running (timeout ${t} s)"
  echo "== $row (timeout ${t} s)"
  local s0 rc
  s0=$(date +%s)
  # In the background, so that a SIGTERM reaches the trap at once (bash runs
  # traps only between foreground commands, but `wait` is interrupted).
  if [ "$1" = fake ]; then "$@" > "$LOGS/$log" 2>&1 &
  else timeout --kill-after=5 "$t" "$@" > "$LOGS/$log" 2>&1 & fi
  CHILD=$!
  wait "$CHILD"
  rc=$?
  CHILD=""
  STEP_SECONDS=$(( $(date +%s) - s0 ))
  tail -3 "$LOGS/$log"
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    TIMED_OUT="timed out after ${t} s"
    return 3
  fi
  return "$rc"
}

# Numbers from doctest's summary line: "test cases: N | P passed | F failed | S skipped"
cases() {
  grep -E '^\[doctest\] test cases:' "$1" | tail -1 |
    sed -E 's/.*test cases: *([0-9]+) \| *([0-9]+) passed \| *([0-9]+) failed \| *([0-9]+) skipped.*/\1 \2 \3 \4/'
}
# "ERROR SUMMARY: N errors" (memcheck) or "RACECHECK SUMMARY: N hazards"
sanitizer_count() { grep -Eo '(ERROR|RACECHECK) SUMMARY: [0-9]+' "$1" | tail -1 | grep -Eo '[0-9]+$' || echo "?"; }
# The five slowest objects of the build, from ninja's log (start end mtime target hash, milliseconds).
NINJA_LOG="$BUILD/.ninja_log"
slowest_objects() {
  [ -f "$NINJA_LOG" ] || { echo "(no .ninja_log)"; return; }
  awk -F'\t' 'NR > 1 && $4 ~ /\.o$/ { d[$4] = ($2 - $1) / 1000 } END { for (t in d) printf "%.0f %s\n", d[t], t }' \
    "$NINJA_LOG" | sort -rn | head -5 | awk '{ n = split($2, p, "/"); printf "%s%s %s s", (NR > 1 ? ", " : ""), p[n], $1 }'
}

# ---------------------------------------------------------------- fake steps (--dry)
# Each prints what the real step prints, in the formats the parsers above read.
fake() {
  case "$1" in gpu | bench-*) ;; *) sleep "$DRY_SLEEP" ;; esac  # the steps run_step times
  case "$1" in
    gpu) echo "NVIDIA H200 (dry), 143771 MiB, 580.00" ;;
    configure) echo "-- minidp: CUDA backend ON (architectures $ARCH; dry)" ;;
    build) printf '# ninja log v5\n0\t61000\t0\tCMakeFiles/minidp.dir/kernels/cuda/conv.cu.o\t0\n0\t45000\t0\tCMakeFiles/minidp.dir/kernels/cuda/reduce.cu.o\t0\n' > "$NINJA_LOG" ;;
    tests) echo "[doctest] test cases: 34 | 34 passed | 0 failed | 0 skipped" ;;
    memcheck) echo "[doctest] test cases: 34 | 16 passed | 0 failed | 18 skipped"; echo "========= ERROR SUMMARY: 0 errors" ;;
    dp) echo "epoch 1: train loss relative difference 1.20e-08, test accuracy difference 0.00 points -> same"
        echo "epoch 2: train loss relative difference 3.10e-08, test accuracy difference 0.00 points -> same" ;;
    ddp) echo "[doctest] test cases: 2 | 2 passed | 0 failed | 0 skipped" ;;
    racecheck) echo "[doctest] test cases: 34 | 3 passed | 0 failed | 31 skipped"; echo "========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)" ;;
    bench-minidp)
      echo "{\"framework\": \"minidp\", \"mode\": \"${6:-eager}\", \"model\": \"$2\", \"batch\": $3, \"devices\": \"$4\", \"device_kind\": \"cuda\", \"tf32\": $5, \"samples_per_s\": 1000000.0, \"ms_per_step\": 0.5, \"peak_memory_mib\": 80.0}" >> "$OUT/bench.jsonl" ;;
    bench-torch)
      for m in eager graph; do
        echo "{\"framework\": \"pytorch\", \"mode\": \"$m\", \"model\": \"$2\", \"batch\": $3, \"devices\": \"cuda\", \"device_kind\": \"cuda\", \"tf32\": $4, \"samples_per_s\": 800000.0, \"ms_per_step\": 0.6, \"peak_memory_mib\": 96.0}" >> "$OUT/bench.jsonl"
      done ;;
  esac
}
[ $DRY = 1 ] && NINJA_LOG="$LOGS/ninja_log.dry"  # a dry run writes nothing outside $OUT

# ---------------------------------------------------------------- 1. the GPU and the preflight
if [ $DRY = 1 ]; then gpu_name=$(fake gpu)
else gpu_name=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1); fi
set_row gpu "${gpu_name:-no nvidia-smi / no GPU visible}"
nvidia-smi > "$LOGS/nvidia-smi.txt" 2>&1 || true

# version_of HEADER MACRO...: the values of the macros in the first header found, joined by dots
header_version() {
  local h=$1; shift
  local v="" m x
  for m in "$@"; do
    x=$(grep -m1 -E "#define[[:space:]]+$m[[:space:]]" "$h" 2>/dev/null | awk '{print $3}' | tr -d '"')
    v="${v:+$v.}${x:-?}"
  done
  echo "$v"
}
find_first() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return; }; done; echo ""; }
preflight() {
  local py_sites w
  py_sites=$(python3 -c "import site; print(' '.join(site.getsitepackages()))" 2>/dev/null)
  local nvcc; nvcc=$(command -v nvcc || find_first /usr/local/cuda/bin/nvcc)
  echo "nvcc        ${nvcc:-MISSING} $([ -n "$nvcc" ] && "$nvcc" --version | grep -Eo 'release [0-9.]+')"
  local cublas; cublas=$(find_first /usr/local/cuda/lib64/libcublas.so /usr/local/cuda/targets/x86_64-linux/lib/libcublas.so /usr/lib/x86_64-linux-gnu/libcublas.so)
  echo "cuBLAS      ${cublas:-MISSING} $(header_version "$(find_first /usr/local/cuda/include/cublas_api.h /usr/include/cublas_api.h)" CUBLAS_VER_MAJOR CUBLAS_VER_MINOR CUBLAS_VER_PATCH)"
  local cudnn_h; cudnn_h=$(find_first /usr/include/x86_64-linux-gnu/cudnn_version.h /usr/include/cudnn_version.h /usr/local/cuda/include/cudnn_version.h)
  local cudnn_l; cudnn_l=$(find_first /usr/lib/x86_64-linux-gnu/libcudnn.so /usr/local/cuda/lib64/libcudnn.so)
  if [ -z "$cudnn_l" ]; then for w in $py_sites; do cudnn_l=$(ls "$w"/nvidia/cudnn/lib/libcudnn.so.* "$w"/nvidia/cu*/cudnn/lib/libcudnn.so.* 2>/dev/null | head -1); [ -n "$cudnn_l" ] && break; done; fi
  echo "cuDNN       ${cudnn_l:-MISSING} header ${cudnn_h:-MISSING} $( [ -n "$cudnn_h" ] && header_version "$cudnn_h" CUDNN_MAJOR CUDNN_MINOR CUDNN_PATCHLEVEL)"
  local nccl_h; nccl_h=$(find_first /usr/include/nccl.h /usr/local/cuda/include/nccl.h)
  local nccl_l; nccl_l=$(find_first /usr/lib/x86_64-linux-gnu/libnccl.so /usr/local/cuda/lib64/libnccl.so)
  echo "NCCL        ${nccl_l:-MISSING} header ${nccl_h:-MISSING} $( [ -n "$nccl_h" ] && header_version "$nccl_h" NCCL_MAJOR NCCL_MINOR NCCL_PATCH)"
  echo "MPI         $(command -v mpirun || echo MISSING) $(mpirun --version 2>/dev/null | head -1)"
  echo "Eigen       $(find_first /usr/include/eigen3/Eigen/Core) $(header_version /usr/include/eigen3/Eigen/src/Core/util/Macros.h EIGEN_WORLD_VERSION EIGEN_MAJOR_VERSION EIGEN_MINOR_VERSION)"
  echo "doctest     $(find_first /usr/include/doctest/doctest.h) $(header_version /usr/include/doctest/doctest.h DOCTEST_VERSION_MAJOR DOCTEST_VERSION_MINOR DOCTEST_VERSION_PATCH)"
  echo "CLI11       $(find_first /usr/include/CLI/CLI.hpp) $(header_version "$(find_first /usr/include/CLI/Version.hpp)" CLI11_VERSION_MAJOR CLI11_VERSION_MINOR CLI11_VERSION_PATCH)"
  local nj; nj=$(find_first /usr/include/nlohmann/json.hpp)
  echo "nlohmann    ${nj:-MISSING} $(header_version "$(find_first /usr/include/nlohmann/detail/abi_macros.hpp /usr/include/nlohmann/json.hpp)" NLOHMANN_JSON_VERSION_MAJOR NLOHMANN_JSON_VERSION_MINOR NLOHMANN_JSON_VERSION_PATCH)"
  echo "zlib        $(find_first /usr/include/zlib.h) $(header_version /usr/include/zlib.h ZLIB_VERSION)"
  local san; san=$(command -v compute-sanitizer || find_first /usr/local/cuda/bin/compute-sanitizer)
  echo "sanitizer   ${san:-MISSING}"
  echo "cmake       $(cmake --version | head -1); ninja $(ninja --version 2>/dev/null || echo MISSING)"
  echo "PyTorch     $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || echo MISSING)"
}
preflight > "$LOGS/preflight.txt" 2>&1
cat "$LOGS/preflight.txt"
missing=$(grep -E 'MISSING' "$LOGS/preflight.txt" | awk '{print $1}' | tr '\n' ' ')
set_row preflight "$(grep -E '^(nvcc|cuDNN|NCCL)' "$LOGS/preflight.txt" | awk '{print $1, $NF}' | paste -sd, | sed 's/,/, /g')${missing:+; missing: $missing}"

# ---------------------------------------------------------------- 2. configure and build what the tests need
generator=()
[ ! -f "$BUILD/CMakeCache.txt" ] && command -v ninja >/dev/null && generator=(-G Ninja)
if [ $DRY = 1 ]; then cmd=(fake configure)
else cmd=(cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DMINIDP_CUDA=ON
          -DCMAKE_CUDA_ARCHITECTURES="$ARCH"); fi
run_step configure 10 180 configure.log -- "${cmd[@]}"
rc=$?
configured=0
case $rc in
  0) configured=1; set_row configure "ok: $(grep -E '^-- minidp' "$LOGS/configure.log" | head -2 | tr '\n' ' ')";;
  2) ;;
  3) fail_row configure "$TIMED_OUT";;
  *) fail_row configure "FAILED (rc $rc): $(grep -m1 -E 'Error|error' "$LOGS/configure.log")";;
esac

built=0
if [ $configured = 1 ]; then
  if [ $DRY = 1 ]; then cmd=(fake build)
  else cmd=(cmake --build "$BUILD" -j "$JOBS" --target test_gpu); fi
  run_step "build test_gpu" 45 420 build_test_gpu.log -- "${cmd[@]}"
  rc=$?
  case $rc in
    0) built=1; set_row "build test_gpu" "ok in ${STEP_SECONDS} s on ${JOBS} jobs; slowest: $(slowest_objects)";;
    2) ;;
    3) fail_row "build test_gpu" "$TIMED_OUT";;
    *) fail_row "build test_gpu" "FAILED (rc $rc): $(grep -m2 -E 'error' "$LOGS/build_test_gpu.log" | tr '\n' ' ')";;
  esac
fi

# ---------------------------------------------------------------- 3. the GPU tests, then memcheck on the kernels
TEST="$BUILD/tests/test_gpu"
if [ $built = 1 ]; then
  if [ $DRY = 1 ]; then cmd=(fake tests); else cmd=("$TEST" --duration=true); fi
  run_step "GPU tests" 20 200 test_gpu.log -- "${cmd[@]}"
  rc=$?
  read -r n p f s <<< "$(cases "$LOGS/test_gpu.log")"
  case $rc in
    0) set_row "GPU tests" "${p:-?}/${n:-?} passed, ${f:-?} failed, ${s:-?} skipped";;
    2) ;;
    3) fail_row "GPU tests" "$TIMED_OUT (${p:-?} passed, ${f:-?} failed so far)";;
    77) fail_row "GPU tests" "SKIPPED by the suite: no GPU visible";;
    *) fail_row "GPU tests" "${p:-?}/${n:-?} passed, ${f:-?} FAILED (rc $rc): $(grep -m3 -E 'ERROR|FAILED|error' "$LOGS/test_gpu.log" | tr '\n' ' ' | cut -c1-300)";;
  esac

  SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  if [ $DRY = 1 ]; then cmd=(fake memcheck)
  else
    # The kernel suites, with the caching allocator off: inside a cached 2 MiB
    # segment an out-of-bounds access or a use after free hits memory that is
    # still allocated, and memcheck cannot see it.
    cmd=(env MINIDP_CUDA_NO_CACHE=1 "$SAN" --tool memcheck --error-exitcode 99 --print-limit 20 "$TEST"
         "--source-file=*test_kernels.cpp,*test_ops.cpp,*test_optim_gpu.cpp,*test_metrics_gpu.cpp")
  fi
  if [ $DRY = 1 ] || [ -x "$SAN" ]; then
    run_step memcheck 30 200 memcheck.log -- "${cmd[@]}"
    rc=$?
    read -r n p f s <<< "$(cases "$LOGS/memcheck.log")"
    case $rc in
      0) set_row memcheck "$(sanitizer_count "$LOGS/memcheck.log") errors; ${p:-?}/$(( ${n:-0} - ${s:-0} )) kernel tests passed (no-cache allocator)";;
      2) ;;
      3) fail_row memcheck "$TIMED_OUT";;
      *) fail_row memcheck "$(sanitizer_count "$LOGS/memcheck.log") ERRORS (rc $rc); tests ${p:-?} passed, ${f:-?} failed: $(grep -m2 -E 'Invalid|Program hit' "$LOGS/memcheck.log" | tr '\n' ' ' | cut -c1-300)";;
    esac
  else
    fail_row memcheck "compute-sanitizer not found"
  fi
fi

# ---------------------------------------------------------------- 4. the rest of the tree
built_all=0
if [ $built = 1 ]; then
  if [ $DRY = 1 ]; then cmd=(fake build); else cmd=(cmake --build "$BUILD" -j "$JOBS"); fi
  run_step "build all" 30 300 build_all.log -- "${cmd[@]}"
  rc=$?
  case $rc in
    0) built_all=1; set_row "build all" "ok in ${STEP_SECONDS} s";;
    2) ;;
    3) fail_row "build all" "$TIMED_OUT";;
    *) fail_row "build all" "FAILED (rc $rc): $(grep -m2 -E 'error' "$LOGS/build_all.log" | tr '\n' ' ')";;
  esac
fi

# ---------------------------------------------------------------- 5. one GPU, two replicas: the same training
if [ $built_all = 1 ]; then
  if [ $DRY = 0 ] && [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
    set_row "dp 1 vs 2" "skipped: no Fashion-MNIST in $DATA (carry it with the checkout)"
  else
    if [ $DRY = 1 ]; then cmd=(fake dp)
    else cmd=(python3 tests/parallel/dp_equivalence.py "$BUILD/examples/train_mlp" cuda:0 cuda:0,cuda:0 "$DATA"); fi
    run_step "dp 1 vs 2" 30 150 dp_equivalence.log -- "${cmd[@]}"
    rc=$?
    case $rc in
      0) set_row "dp 1 vs 2" "same curves: $(grep -E 'relative difference' "$LOGS/dp_equivalence.log" | sed 's/ -> same//' | paste -sd';')";;
      2) ;;
      3) fail_row "dp 1 vs 2" "$TIMED_OUT";;
      *) fail_row "dp 1 vs 2" "DIFFERENT or failed (rc $rc): $(tail -2 "$LOGS/dp_equivalence.log" | tr '\n' ' ')";;
    esac
  fi
fi

# ---------------------------------------------------------------- 5b. one process per device (mpirun)
if [ $built_all = 1 ]; then
  # Two processes sharing cuda:0 (the MPI path: NCCL refuses two ranks on one
  # GPU), then one process per GPU through NCCL (world size 1 on one GPU).
  np_nccl=$(nvidia-smi -L 2>/dev/null | wc -l); [ "$np_nccl" -ge 1 ] || np_nccl=1; [ "$np_nccl" -le 8 ] || np_nccl=8
  if [ $DRY = 1 ]; then cmd=(fake ddp)
  else cmd=(env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 bash -c
            "mpirun --oversubscribe --bind-to none -np 2 $BUILD/tests/test_ddp_gpu && mpirun --oversubscribe --bind-to none -np $np_nccl $BUILD/tests/test_ddp_gpu"); fi
  run_step "ddp on GPU" 20 120 ddp_gpu.log -- "${cmd[@]}"
  rc=$?
  read -r n p f s <<< "$(cases "$LOGS/ddp_gpu.log")"
  case $rc in
    0) set_row "ddp on GPU" "mpirun -np 2 (MPI, shared cuda:0) and -np $np_nccl (NCCL): ${p:-?}/${n:-?} passed";;
    2) ;;
    3) fail_row "ddp on GPU" "$TIMED_OUT";;
    *) fail_row "ddp on GPU" "FAILED (rc $rc): $(grep -m2 -E 'ERROR|error|minidp rank' "$LOGS/ddp_gpu.log" | tr '\n' ' ' | cut -c1-300)";;
  esac
fi

# ---------------------------------------------------------------- 6. the step benchmark, minidp and PyTorch in this call
if [ $built_all = 1 ]; then
  : > "$OUT/bench.jsonl"
  # model batch tf32 minidp-device-lists (most important first; stops when time runs out).
  # A list ending in "+graph" runs the step replayed as a CUDA graph (bench_step --cuda-graph).
  CONFIGS=("mlp 512 false cuda:0 cuda:0+graph cuda:0,cuda:0 cuda:0,cuda:0+graph"
           "cnn 256 false cuda:0 cuda:0+graph cuda:0,cuda:0 cuda:0,cuda:0+graph" "wide 8192 false cuda:0"
           "wide 8192 true cuda:0")
  done_configs=0; bench_note=""
  set_row benchmark "running"
  for c in "${CONFIGS[@]}"; do
    read -r model batch tf32 devlists <<< "$c"
    if [ "$(left)" -lt 25 ]; then bench_note="; stopped: $(left) s left"; break; fi
    flag=(); [ "$tf32" = true ] && flag=(--tf32)
    for dev in $devlists; do
      mode=eager graph=()
      if [ "${dev%+graph}" != "$dev" ]; then dev=${dev%+graph} mode=graph graph=(--cuda-graph); fi
      if [ $DRY = 1 ]; then fake bench-minidp "$model" "$batch" "$dev" "$tf32" "$mode"
      else timeout "$(( $(left) > 5 ? $(left) : 5 ))" "$BUILD/bench/bench_step" --model "$model" --batch "$batch" \
             --devices "$dev" "${flag[@]}" "${graph[@]}" --jsonl "$OUT/bench.jsonl" >> "$LOGS/bench.log" 2>&1 ||
             echo "bench_step $model $batch $dev $mode failed (rc $?)" >> "$LOGS/bench.log"; fi
    done
    if [ $DRY = 1 ]; then fake bench-torch "$model" "$batch" "$tf32"
    else timeout "$(( $(left) > 5 ? $(left) : 5 ))" python3 bench/torch_step.py --model "$model" --batch "$batch" \
           --device cuda --modes eager,graph "${flag[@]}" --jsonl "$OUT/bench.jsonl" >> "$LOGS/bench.log" 2>&1 ||
           echo "torch_step $model $batch failed (rc $?)" >> "$LOGS/bench.log"; fi
    done_configs=$((done_configs + 1))
    BENCH_TABLE=$(python3 bench/compare.py "$OUT/bench.jsonl" 2>>"$LOGS/bench.log")
    set_row benchmark "$done_configs of ${#CONFIGS[@]} configurations (table below)$bench_note"
  done
  set_row benchmark "$done_configs of ${#CONFIGS[@]} configurations (table below)$bench_note"
fi

# ---------------------------------------------------------------- 7. racecheck, only on kernels with shared memory, if time is left
if [ $built = 1 ]; then
  if [ $DRY = 1 ]; then cmd=(fake racecheck)
  else cmd=("$SAN" --tool racecheck --error-exitcode 99 --print-limit 20 "$TEST"
            "--test-case=reduce:*,arg_reduce and softmax*,batch norm*"); fi
  run_step racecheck 40 150 racecheck.log -- "${cmd[@]}"
  rc=$?
  case $rc in
    0) set_row racecheck "$(sanitizer_count "$LOGS/racecheck.log") hazards (reduce, softmax, batch norm: the kernels with shared memory)";;
    2) ;;
    3) fail_row racecheck "$TIMED_OUT";;
    *) fail_row racecheck "$(sanitizer_count "$LOGS/racecheck.log") HAZARDS (rc $rc)";;
  esac
fi

exit $STATUS
