#!/usr/bin/env bash
# tools/gpu-check.sh — the whole GPU check of minidp in one run under one hard
# deadline, on any machine with an NVIDIA GPU: the GPU tests, DistributedDataParallel
# under mpirun, one against two replicas training the same curves,
# compute-sanitizer, the build on this machine, and the step benchmark against
# PyTorch — with the summary rewritten after every step.
#
#   tools/gpu-check.sh                      # on the GPU machine; summary in $OUT/summary.txt
#   DEADLINE=300 OUT=/tmp/out tools/gpu-check.sh
#   tools/gpu-check.sh --dry                # no GPU, no build: fake steps, same logic (a ctest runs this)
#   tools/gpu-check.sh --source-digest      # the digest of the sources gpu-prebuild.sh records
#
# Proof first: when tools/gpu-prebuild.sh has put prebuilt binaries into
# $PREBUILT (built on a machine with nvcc and no GPU), the check runs them
# before it configures anything — a smoke test (one GEMM, one convolution, one
# own kernel, one two-replica step, each against the CPU) within the first
# minute or so, then the GPU tests, DistributedDataParallel, one against two
# replicas and memcheck. Then it configures and builds, here, only the four
# targets those steps need, each timed; without prebuilt binaries the same
# steps run on what it built. Then, if time is left, the benchmark and
# racecheck.
#
# Environment (relative paths are taken from the repository root):
#   OUT       where summary.txt, logs.tgz and bench.jsonl go (build/gpu-check)
#   DEADLINE  seconds for everything (540)
#   PREBUILT  the prebuilt binaries, from tools/gpu-prebuild.sh (.gpu-bin)
#   BUILD     the build folder of this machine's build (build-gpu)
#   DATA      Fashion-MNIST's four .gz files (.data/fashion-mnist)
#   ARCH (90), JOBS (nproc)
#   BUDGET_SMOKE, BUDGET_TESTS, BUDGET_DDP, BUDGET_DP, BUDGET_MEMCHECK,
#   BUDGET_CONFIGURE, BUDGET_BUILD (each target), BUDGET_BENCH (each benchmark
#   command), BUDGET_RACECHECK: each command's own timeout in seconds (75, 150,
#   90, 120, 90, 120, 300, 60, 90), cut to what is left before the deadline.
#   A command that hangs costs its own row, never the rows after it.
#   CORRECTNESS_BY (300): the steps on the prebuilt binaries end by then, so
#   that the build on this machine gets its time.
#
# Rows are required or optional. The benchmark and racecheck are optional:
# cut for time, they say "cut: N s left" and do not fail the run. Every other
# row is required: one that fails, times out or is not reached in time fails
# the run (it was not checked). A failed benchmark command is FAILED in the
# benchmark table and fails the run.
#
# What survives a kill: $OUT/summary.txt is rewritten after every step and
# $OUT/logs.tgz repacked, so a run cut short still says what it saw; a trap
# prints the summary on exit, also on SIGTERM/SIGINT. $OUT ends up with at
# most three files (summary.txt, logs.tgz, bench.jsonl). The summary is the
# last thing printed.
#
# Exit status: 0 when every required row passed; 1 otherwise; 124 when killed.
# shellcheck disable=SC2054  # (commas inside arguments are device lists, not array separators)
set -uo pipefail
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.." || exit 1

# The sources of the four programs the check runs (gpu-prebuild.sh records
# this digest in its MANIFEST; the check says whether the tree still matches).
source_digest() {
  find CMakeLists.txt minidp.h cmake core kernels nn parallel metrics examples bench tests/gpu tests/gpu_distributed \
       tests/CMakeLists.txt -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.hpp' -o -name '*.cu' -o -name '*.cuh' \
       -o -name CMakeLists.txt -o -name '*.cmake' -o -name '*.in' \) 2>/dev/null |
    LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -c1-16
}
if [ "${1:-}" = "--source-digest" ]; then source_digest; exit 0; fi

# ---------------------------------------------------------------- fake steps (--dry)
# Run as separate processes (`gpu-check.sh --fake STEP ...`), under the same
# timeouts as the real commands. Each prints what the real step prints, in the
# formats the parsers below read. DRY_SLEEP: seconds each step takes (the
# benchmark's commands take none); DRY_FAIL=STEP makes one fail, DRY_HANG=STEP
# makes one hang.
if [ "${1:-}" = "--fake" ]; then
  step=$2
  shift 2
  case "$step" in gpu | bench-*) ;; *) sleep "${DRY_SLEEP:-0}" ;; esac
  [ "${DRY_HANG:-}" = "$step" ] && { echo "fake $step: hanging"; exec sleep 100000; }
  rc=0; [ "${DRY_FAIL:-}" = "$step" ] && rc=1
  case "$step" in
    gpu) echo "NVIDIA H200 (dry), 143771 MiB, 580.00" ;;
    configure) echo "-- minidp: CUDA backend ON (architectures ${ARCH:-90}; dry)"
               echo "-- minidp: CPU GEMM through Eigen (dry)" ;;
    build)
      # ninja's log: start end mtime target hash (milliseconds)
      [ "$1" = test_gpu ] && printf '# ninja log v5\n0\t61000\t0\tCMakeFiles/minidp.dir/kernels/cuda/conv.cu.o\t0\n0\t45000\t0\tCMakeFiles/minidp.dir/kernels/cuda/reduce.cu.o\t0\n0\t3000\t0\ttests/CMakeFiles/test_gpu.dir/gpu/test_ops.cpp.o\t0\n' > "$NINJA_LOG"
      echo "[1/1] Linking CXX executable $1 (dry)"
      [ $rc = 0 ] || echo "error: fake build failure" ;;
    smoke) echo "[doctest] test cases: 4 | $((4 - rc)) passed | $rc failed | 30 skipped" ;;
    tests) echo "[doctest] test cases: 34 | $((34 - rc)) passed | $rc failed | 0 skipped"
           echo "minidp counts: linear forward fused=12 plain=8, backward fused=10 plain=10; cuda graphs captured=5 replayed=23" ;;
    memcheck) echo "[doctest] test cases: 16 | 16 passed | 0 failed | 18 skipped"; echo "========= ERROR SUMMARY: $rc errors" ;;
    dp) echo "epoch 1: train loss relative difference 1.20e-08, test accuracy difference 0.00 points -> same"
        echo "epoch 2: train loss relative difference 3.10e-08, test accuracy difference 0.00 points -> same" ;;
    ddp) echo "[doctest] test cases: 2 | $((2 - rc)) passed | $rc failed | 0 skipped" ;;
    racecheck) echo "[doctest] test cases: 3 | 3 passed | 0 failed | 31 skipped"; echo "========= RACECHECK SUMMARY: $rc hazards displayed ($rc errors, 0 warnings)" ;;
    bench-minidp)  # model batch devices tf32 mode
      [ $rc = 0 ] && echo "{\"framework\": \"minidp\", \"mode\": \"$5\", \"model\": \"$1\", \"batch\": $2, \"devices\": \"$3\", \"device_kind\": \"cuda\", \"tf32\": $4, \"samples_per_s\": 1000000.0, \"ms_per_step\": 0.5, \"peak_memory_mib\": 80.0}" >> "$OUT/bench.jsonl" ;;
    bench-torch)  # model batch tf32
      if [ $rc = 0 ]; then for m in eager graph; do
        echo "{\"framework\": \"pytorch\", \"mode\": \"$m\", \"model\": \"$1\", \"batch\": $2, \"devices\": \"cuda\", \"device_kind\": \"cuda\", \"tf32\": $3, \"samples_per_s\": 800000.0, \"ms_per_step\": 0.6, \"peak_memory_mib\": 96.0}" >> "$OUT/bench.jsonl"
      done; fi ;;
  esac
  exit $rc
fi

DRY=0
[ "${1:-}" = "--dry" ] && DRY=1
OUT=${OUT:-build/gpu-check}
DEADLINE=${DEADLINE:-540}
PREBUILT=${PREBUILT:-.gpu-bin}
BUILD=${BUILD:-build-gpu}
DATA=${DATA:-.data/fashion-mnist}
ARCH=${ARCH:-90}
JOBS=${JOBS:-$(nproc)}
BUDGET_SMOKE=${BUDGET_SMOKE:-75}
BUDGET_TESTS=${BUDGET_TESTS:-150}
BUDGET_DDP=${BUDGET_DDP:-90}
BUDGET_DP=${BUDGET_DP:-120}
BUDGET_MEMCHECK=${BUDGET_MEMCHECK:-90}
BUDGET_CONFIGURE=${BUDGET_CONFIGURE:-120}
BUDGET_BUILD=${BUDGET_BUILD:-300}
BUDGET_BENCH=${BUDGET_BENCH:-60}
BUDGET_RACECHECK=${BUDGET_RACECHECK:-90}
CORRECTNESS_BY=${CORRECTNESS_BY:-300}  # the prebuilt binaries' steps (smoke to memcheck) end by then, so the build gets its time
MIN_START=10        # a required step starts with at least this many seconds left (or its whole budget, if smaller)
MIN_OPTIONAL=30     # the benchmark (per configuration) and racecheck start with at least this many seconds left
RESERVE=8           # seconds kept back for packing the logs and printing the summary
DRY_PREBUILT=${DRY_PREBUILT:-1}  # dry mode: 1 = a fake pack of prebuilt binaries, 0 = none
FASHION=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOGS=$(mktemp -d)   # packed into $OUT/logs.tgz
WORK=$(mktemp -d)   # unpacked prebuilt binaries; not packed
START=$(date +%s)
STATUS=0
NINJA_LOG="$BUILD/.ninja_log"
[ $DRY = 1 ] && NINJA_LOG="$LOGS/ninja_log.dry"  # a dry run writes nothing outside $OUT and temporary folders
export OUT ARCH NINJA_LOG DRY_SLEEP DRY_FAIL DRY_HANG

elapsed() { echo $(( $(date +%s) - START )); }
# Seconds left before the deadline, or before the end of the current phase
# when that comes first (PHASE_END: the prebuilt binaries' steps end by CORRECTNESS_BY).
PHASE_END=""
end_of() { if [ -n "$PHASE_END" ] && [ "$PHASE_END" -lt $(( DEADLINE - RESERVE )) ]; then echo "$PHASE_END"; else echo $(( DEADLINE - RESERVE )); fi; }
left() { echo $(( $(end_of) - $(elapsed) )); }
limit_text() {
  if [ "$(end_of)" = "$PHASE_END" ]; then echo "the ${PHASE_END} s limit of the steps before the build, CORRECTNESS_BY"
  else echo "the deadline"; fi
}

# ---------------------------------------------------------------- the summary
ROWS=(gpu preflight data smoke "GPU tests" counts "ddp on GPU" "dp 1 vs 2" memcheck configure
      "build test_gpu" "build test_ddp_gpu" "build train_mlp" "build bench_step" benchmark racecheck)
declare -A RESULT
for r in "${ROWS[@]}"; do RESULT[$r]="pending"; done
BINARIES="(not looked at yet)"
BENCH_TABLE=""
BENCH_FAILED=""

pack_logs() {
  tar -czf "$OUT/logs.tgz.part" -C "$LOGS" . 2>/dev/null && mv -f "$OUT/logs.tgz.part" "$OUT/logs.tgz"
}
summary_text() {
  echo "================================ minidp GPU check$([ $DRY = 1 ] && echo ' (DRY RUN: fake steps)')"
  printf '%-19s %s\n' "binaries" "$BINARIES"
  for r in "${ROWS[@]}"; do printf '%-19s %s\n' "$r" "${RESULT[$r]}"; done
  printf '%-19s %s s of a %s s deadline; exit status %s\n' "total" "$(elapsed)" "$DEADLINE" "$STATUS"
  if [ -n "$BENCH_TABLE$BENCH_FAILED" ]; then
    echo
    echo "step benchmark (samples/s; ratio > 1: minidp faster; same run, same GPU):"
    [ -z "$BENCH_TABLE" ] || echo "$BENCH_TABLE"
    [ -z "$BENCH_FAILED" ] || printf '%s' "$BENCH_FAILED"
  fi
}
write_summary() {
  summary_text > "$OUT/summary.txt.part" && mv -f "$OUT/summary.txt.part" "$OUT/summary.txt"
  pack_logs
}
# A row's value; every final one is also logged, with the time, in steps.txt.
set_row() {
  RESULT[$1]="$2"
  case "$2" in running*) ;; *) echo "<< [$(elapsed) s] $1: $2" | tee -a "$LOGS/steps.txt" | cut -c1-400;; esac
  write_summary
}
fail_row() { STATUS=1; set_row "$1" "$2"; }
# A step that is about to start: on stdout and in steps.txt, in the order the steps run.
announce() { echo "== [$(elapsed) s] $1${2:+ ($2)}" | tee -a "$LOGS/steps.txt"; }
# A required row that did not run: it was not checked, so the run fails.
not_run() { fail_row "$1" "not checked: $2"; }

# shellcheck disable=SC2317  # (finish and on_signal run from traps)
finish() {
  trap - EXIT TERM INT
  for r in "${ROWS[@]}"; do
    [ "${RESULT[$r]}" = "pending" ] && RESULT[$r]="not reached"
  done
  write_summary
  echo
  cat "$OUT/summary.txt"
  rm -rf "$LOGS" "$WORK"
}
CHILD=""
# shellcheck disable=SC2317
on_signal() {
  STATUS=124
  # CHILD is `timeout`, which passes the signal on to its whole process group.
  [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
  for r in "${ROWS[@]}"; do
    case "${RESULT[$r]}" in running*) RESULT[$r]="KILLED while running, at $(elapsed) s";; esac
  done
  exit 124
}
trap finish EXIT
trap on_signal TERM INT

# timed SECONDS LOG COMMAND...: COMMAND with a timeout, output appended to $LOGS/LOG.
# In the background, so that a SIGTERM reaches the trap at once (bash runs
# traps only between foreground commands, but `wait` is interrupted); in its
# own process group (timeout's), so that a timeout or a kill ends all of it.
timed() {
  local t=$1 log=$2
  shift 2
  timeout --kill-after=5 "$t" "$@" >> "$LOGS/$log" 2>&1 &
  CHILD=$!
  wait "$CHILD"
  local rc=$?
  CHILD=""
  return $rc
}

# run_step ROW BUDGET LOG -- COMMAND...
# Runs COMMAND with a timeout of min(BUDGET, time left), output into $LOGS/LOG.
# Returns 0 on success, 2 when not started for lack of time (the row then says
# so), 3 on a timeout (TIMED_OUT says which), otherwise the command's status.
# The caller writes the row.
run_step() {
  local row=$1 budget=$2 log=$3
  shift 4
  local l min
  l=$(left)
  min=$(( budget < MIN_START ? budget : MIN_START ))
  if [ "$l" -lt "$min" ]; then
    not_run "$row" "$l s left before $(limit_text) (needs at least $min s)"
    return 2
  fi
  local t=$(( l < budget ? l : budget ))
  announce "$row" "timeout $t s"
  set_row "$row" "running (timeout ${t} s)"
  local s0 rc
  s0=$(date +%s)
  timed "$t" "$log" "$@"
  rc=$?
  STEP_SECONDS=$(( $(date +%s) - s0 ))
  tail -3 "$LOGS/$log" | cut -c1-300
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    if [ "$t" -lt "$budget" ]; then TIMED_OUT="timed out after ${t} s (cut by $(limit_text); its budget is ${budget} s)"
    else TIMED_OUT="timed out after ${t} s (its budget)"; fi
    return 3
  fi
  return "$rc"
}

# Numbers from doctest's summary line: "test cases: N | P passed | F failed | S skipped"
cases() {
  grep -E '^\[doctest\] test cases:' "$1" 2>/dev/null | tail -1 |
    sed -E 's/.*test cases: *([0-9]+) \| *([0-9]+) passed \| *([0-9]+) failed \| *([0-9]+) skipped.*/\1 \2 \3 \4/'
}
# "ERROR SUMMARY: N errors" (memcheck) or "RACECHECK SUMMARY: N hazards"
sanitizer_count() { grep -Eo '(ERROR|RACECHECK) SUMMARY: [0-9]+' "$1" | tail -1 | grep -Eo '[0-9]+$' || echo "?"; }
# The first lines of a log that say what went wrong (else its last line), on one line.
errors_of() {
  local e
  e=$(grep -E 'ERROR|FAILED|[Ee]rror|Invalid|Program hit|not found|SKIPPED' "$LOGS/$1" | grep -v '^Traceback' | awk '!seen[$0]++' | head -"${2:-3}")
  [ -n "$e" ] || e=$(grep -v '^[[:space:]]*$' "$LOGS/$1" | tail -1)
  echo "$e" | tr '\n' ' ' | cut -c1-300
}
# The five slowest objects of the build, from ninja's log (start end mtime target hash, milliseconds).
slowest_objects() {
  [ -f "$NINJA_LOG" ] || { echo "(no .ninja_log)"; return; }
  awk -F'\t' 'NR > 1 && $4 ~ /\.o$/ { d[$4] = ($2 - $1) / 1000 } END { for (t in d) printf "%.0f %s\n", d[t], t }' \
    "$NINJA_LOG" | sort -rn | head -5 | awk '{ n = split($2, p, "/"); printf "%s%s %s s", (NR > 1 ? ", " : ""), p[n], $1 }'
}

# ---------------------------------------------------------------- 1. the GPU, the preflight, the data
announce gpu
if [ $DRY = 1 ]; then gpu_name=$(bash "$SELF" --fake gpu)
else gpu_name=$(timeout 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1); fi
timeout 20 nvidia-smi > "$LOGS/nvidia-smi.txt" 2>&1
if [ -n "$gpu_name" ]; then set_row gpu "$gpu_name"; else fail_row gpu "no GPU visible (nvidia-smi found none)"; fi
NGPUS=$(timeout 20 nvidia-smi -L 2>/dev/null | grep -c '^GPU')
[ "$NGPUS" -ge 1 ] || NGPUS=1
[ "$NGPUS" -le 8 ] || NGPUS=8

# header_version HEADER MACRO...: the values of the macros in HEADER, joined by dots
header_version() {
  local h=$1; shift
  local v="" m x
  for m in "$@"; do
    x=$(grep -m1 -E "#define[[:space:]]+${m}[[:space:]]" "$h" 2>/dev/null | awk '{print $3}' | tr -d '"')
    v="${v:+$v.}${x:-?}"
  done
  echo "$v"
}
find_first() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return; }; done; echo ""; }
PY_SITES=$(timeout 20 python3 -c "import site; print(' '.join(site.getsitepackages()))" 2>/dev/null)
preflight() {
  local w
  local nvcc; nvcc=$(command -v nvcc || find_first /usr/local/cuda/bin/nvcc)
  echo "nvcc        ${nvcc:-MISSING} $([ -n "$nvcc" ] && "$nvcc" --version | grep -Eo 'release [0-9.]+')"
  local cublas; cublas=$(find_first /usr/local/cuda/lib64/libcublas.so /usr/local/cuda/targets/x86_64-linux/lib/libcublas.so /usr/lib/x86_64-linux-gnu/libcublas.so)
  echo "cuBLAS      ${cublas:-MISSING} $(header_version "$(find_first /usr/local/cuda/include/cublas_api.h /usr/include/cublas_api.h)" CUBLAS_VER_MAJOR CUBLAS_VER_MINOR CUBLAS_VER_PATCH)"
  local cudnn_h; cudnn_h=$(find_first /usr/include/x86_64-linux-gnu/cudnn_version.h /usr/include/cudnn_version.h /usr/local/cuda/include/cudnn_version.h)
  local cudnn_l; cudnn_l=$(find_first /usr/lib/x86_64-linux-gnu/libcudnn.so /usr/local/cuda/lib64/libcudnn.so /usr/local/cuda/lib/libcudnn.so)
  # shellcheck disable=SC2012
  if [ -z "$cudnn_l" ]; then for w in $PY_SITES; do cudnn_l=$(ls "$w"/nvidia/cudnn/lib/libcudnn.so.* "$w"/nvidia/cu*/cudnn/lib/libcudnn.so.* 2>/dev/null | head -1); [ -n "$cudnn_l" ] && break; done; fi
  echo "cuDNN       ${cudnn_l:-MISSING} header ${cudnn_h:-MISSING} $( [ -n "$cudnn_h" ] && header_version "$cudnn_h" CUDNN_MAJOR CUDNN_MINOR CUDNN_PATCHLEVEL)"
  local nccl_h; nccl_h=$(find_first /usr/include/nccl.h /usr/local/cuda/include/nccl.h)
  local nccl_l; nccl_l=$(find_first /usr/lib/x86_64-linux-gnu/libnccl.so /usr/local/cuda/lib64/libnccl.so /usr/local/cuda/lib/libnccl.so)
  echo "NCCL        ${nccl_l:-MISSING} header ${nccl_h:-MISSING} $( [ -n "$nccl_h" ] && header_version "$nccl_h" NCCL_MAJOR NCCL_MINOR NCCL_PATCH)"
  echo "MPI         $(command -v mpirun || echo MISSING) $(timeout 20 mpirun --version 2>/dev/null | head -1)"
  echo "Eigen       $(find_first /usr/include/eigen3/Eigen/Core) $(header_version /usr/include/eigen3/Eigen/src/Core/util/Macros.h EIGEN_WORLD_VERSION EIGEN_MAJOR_VERSION EIGEN_MINOR_VERSION)"
  echo "doctest     $(find_first /usr/include/doctest/doctest.h) $(header_version /usr/include/doctest/doctest.h DOCTEST_VERSION_MAJOR DOCTEST_VERSION_MINOR DOCTEST_VERSION_PATCH)"
  echo "CLI11       $(find_first /usr/include/CLI/CLI.hpp) $(header_version "$(find_first /usr/include/CLI/Version.hpp)" CLI11_VERSION_MAJOR CLI11_VERSION_MINOR CLI11_VERSION_PATCH)"
  local nj; nj=$(find_first /usr/include/nlohmann/json.hpp)
  echo "nlohmann    ${nj:-MISSING} $(header_version "$(find_first /usr/include/nlohmann/detail/abi_macros.hpp /usr/include/nlohmann/json.hpp)" NLOHMANN_JSON_VERSION_MAJOR NLOHMANN_JSON_VERSION_MINOR NLOHMANN_JSON_VERSION_PATCH)"
  echo "zlib        $(find_first /usr/include/zlib.h) $(header_version /usr/include/zlib.h ZLIB_VERSION)"
  local san; san=$(command -v compute-sanitizer || find_first /usr/local/cuda/bin/compute-sanitizer)
  echo "sanitizer   ${san:-MISSING}"
  echo "cmake       $(cmake --version | head -1); ninja $(ninja --version 2>/dev/null || echo MISSING)"
  echo "PyTorch     $(timeout 30 python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null || echo MISSING)"
}
announce preflight
preflight > "$LOGS/preflight.txt" 2>&1
cat "$LOGS/preflight.txt"
missing=$(grep -E 'MISSING' "$LOGS/preflight.txt" | awk '{print $1}' | tr '\n' ' ')
set_row preflight "$(grep -E '^(nvcc|cuDNN|NCCL)' "$LOGS/preflight.txt" | awk '{print $1, $NF}' | paste -sd, | sed 's/,/, /g')${missing:+; missing: $missing}"

announce data
have_data=1
for f in "${FASHION[@]}"; do [ -s "$DATA/$f" ] || have_data=0; done
if [ $have_data = 1 ]; then
  set_row data "Fashion-MNIST in $DATA ($(du -shL "$DATA" 2>/dev/null | cut -f1))"
else
  fail_row data "FAILED: Fashion-MNIST is not in $DATA. Fix: copy ${FASHION[*]} there (on Debian/Ubuntu: apt-get install dataset-fashion-mnist, then tools/gpu-prebuild.sh copies them), or set DATA=folder"
fi

# ---------------------------------------------------------------- 2. the prebuilt binaries (tools/gpu-prebuild.sh)
# BIN_* are the programs the correctness rows run; RUN_ENV is what they need
# in their environment (the library folders the prebuilt ones lack).
FROM=""
RUN_ENV=(env)
prebuilt_reason=""
if [ $DRY = 1 ] && [ "$DRY_PREBUILT" = 1 ]; then
  # A fake pack, the shape gpu-prebuild.sh leaves: MANIFEST and bin.tar.xz.
  PREBUILT="$WORK/fake-gpu-bin"
  mkdir -p "$PREBUILT" "$WORK/fake-src"
  for t in test_gpu test_ddp_gpu train_mlp bench_step; do printf '#!/bin/sh\nexit 0\n' > "$WORK/fake-src/$t"; chmod +x "$WORK/fake-src/$t"; done
  tar -C "$WORK/fake-src" -cJf "$PREBUILT/bin.tar.xz" test_gpu test_ddp_gpu train_mlp bench_step
  printf 'commit: 0000000 (dry)\nsources: %s\ndate: (dry)\n' "$(source_digest)" > "$PREBUILT/MANIFEST"
elif [ $DRY = 1 ]; then
  PREBUILT="$WORK/no-gpu-bin"
fi
load_prebuilt() {
  local dir=$PREBUILT t
  [ -d "$PREBUILT" ] || { prebuilt_reason="no prebuilt binaries in $PREBUILT"; return 1; }
  if [ -f "$PREBUILT/bin.tar.xz" ]; then
    dir="$WORK/prebuilt"
    mkdir -p "$dir"
    if command -v xz >/dev/null; then timeout 60 tar -C "$dir" -xJf "$PREBUILT/bin.tar.xz" 2>"$LOGS/prebuilt.txt"
    else timeout 60 python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$PREBUILT/bin.tar.xz" "$dir" 2>"$LOGS/prebuilt.txt"
    fi || { prebuilt_reason="$PREBUILT/bin.tar.xz does not unpack: $(head -c 200 "$LOGS/prebuilt.txt")"; return 1; }
  elif [ -d "$PREBUILT/bin" ]; then dir="$PREBUILT/bin"
  fi
  for t in test_gpu test_ddp_gpu train_mlp bench_step; do
    [ -x "$dir/$t" ] || { prebuilt_reason="$PREBUILT is incomplete: no $t"; return 1; }
  done
  if [ $DRY = 0 ]; then
    # Libraries the loader cannot find: look for them where CUDA, Open MPI and
    # PyTorch's wheels keep theirs, and add those folders to LD_LIBRARY_PATH.
    local lost extra="" so d w
    lost=$(timeout 60 ldd "$dir"/* 2>/dev/null | awk '/not found/ { print $1 }' | sort -u)
    for so in $lost; do
      for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
               /usr/lib/x86_64-linux-gnu/openmpi/lib $(for w in $PY_SITES; do echo "$w"/nvidia/*/lib "$w"/nvidia/cu*/*/lib; done); do
        [ -e "$d/$so" ] && { extra="${extra:+$extra:}$d"; break; }
      done
    done
    if [ -n "$extra" ]; then
      RUN_ENV=(env "LD_LIBRARY_PATH=$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
      echo "prebuilt: LD_LIBRARY_PATH gets $extra" >> "$LOGS/prebuilt.txt"
    fi
    # ldd -r: also every symbol (a library older than the one built against may lack some).
    "${RUN_ENV[@]}" timeout 60 ldd -r "$dir"/* >> "$LOGS/prebuilt.txt" 2>&1
    # (only the binaries' own references: what the libraries lack among themselves is not ours to judge)
    lost=$(grep -E "not found|undefined symbol: .*\\($dir/" "$LOGS/prebuilt.txt" | sort -u | head -3 | tr '\n' ' ' | cut -c1-300)
    [ -z "$lost" ] || { prebuilt_reason="the prebuilt binaries do not load here: $lost"; RUN_ENV=(env); return 1; }
  fi
  BIN_TEST=$dir/test_gpu BIN_DDP=$dir/test_ddp_gpu BIN_MLP=$dir/train_mlp BIN_BENCH=$dir/bench_step
  return 0
}
if load_prebuilt; then
  FROM="prebuilt binaries"
  manifest_commit=$(sed -n 's/^commit: //p' "$PREBUILT/MANIFEST" 2>/dev/null)
  manifest_date=$(sed -n 's/^date: //p' "$PREBUILT/MANIFEST" 2>/dev/null)
  manifest_sources=$(sed -n 's/^sources: //p' "$PREBUILT/MANIFEST" 2>/dev/null)
  if [ -z "$manifest_sources" ]; then same="sources unknown (no MANIFEST)"
  elif [ "$manifest_sources" = "$(source_digest)" ]; then same="built from these sources"
  else same="built from OTHER sources than this tree's: the first rows describe the prebuilt commit; the build below is this tree"; fi
  BINARIES="prebuilt, from $PREBUILT (commit ${manifest_commit:-?}, ${manifest_date:-?}; $same); this machine's build in $BUILD for the benchmark"
else
  BINARIES="built here, in $BUILD ($prebuilt_reason)"
fi
cp "$PREBUILT/MANIFEST" "$LOGS/prebuilt-MANIFEST.txt" 2>/dev/null
write_summary

# ---------------------------------------------------------------- 3. the correctness rows
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)

do_smoke() {
  if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake smoke)
  else cmd=("${RUN_ENV[@]}" "$BIN_TEST" "--test-case=smoke:*"); fi
  run_step smoke "$BUDGET_SMOKE" smoke.log -- "${cmd[@]}"
  local rc=$? n p f s
  read -r n p f s <<< "$(cases "$LOGS/smoke.log")"
  case $rc in
    0) if [ "${n:-0}" -gt 0 ] 2>/dev/null && [ "$p" = "$n" ]; then
         set_row smoke "ok: $p/$n smoke cases passed in ${STEP_SECONDS} s, at $(elapsed) s ($FROM)"
       else fail_row smoke "FAILED: no test case matched 'smoke:*' in this test_gpu ($FROM)"; fi ;;
    2) ;;
    3) fail_row smoke "$TIMED_OUT ($FROM)";;
    77) fail_row smoke "SKIPPED by the suite: no GPU visible";;
    *) fail_row smoke "FAILED (rc $rc; $FROM): ${p:-?} passed, ${f:-?} failed: $(errors_of smoke.log)";;
  esac
}
do_tests() {
  if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake tests)
  else cmd=("${RUN_ENV[@]}" "$BIN_TEST" --duration=true); fi
  run_step "GPU tests" "$BUDGET_TESTS" test_gpu.log -- "${cmd[@]}"
  local rc=$? n p f s
  read -r n p f s <<< "$(cases "$LOGS/test_gpu.log")"
  case $rc in
    0) set_row "GPU tests" "${p:-?}/${n:-?} passed, ${f:-?} failed, ${s:-?} skipped ($FROM)";;
    2) ;;
    3) fail_row "GPU tests" "$TIMED_OUT (${p:-?} passed, ${f:-?} failed so far)";;
    77) fail_row "GPU tests" "SKIPPED by the suite: no GPU visible";;
    *) fail_row "GPU tests" "${p:-?}/${n:-?} passed, ${f:-?} FAILED, ${s:-?} skipped (rc $rc): $(errors_of test_gpu.log)";;
  esac
  # What test_gpu printed after its run: how many of Linear's GEMMs ran fused,
  # and how many CUDA graphs were captured and replayed.
  local counts
  counts=$(grep -m1 '^minidp counts: ' "$LOGS/test_gpu.log" 2>/dev/null | sed 's/^minidp counts: //')
  if [ -n "$counts" ]; then set_row counts "$counts"
  elif [ "$rc" = 0 ]; then fail_row counts "FAILED: test_gpu printed no 'minidp counts: ...' line"
  else not_run counts "the GPU tests did not finish"; fi
}
do_ddp() {
  # Two processes sharing cuda:0 (the MPI path: NCCL refuses two ranks on one
  # GPU), then one process per GPU through NCCL (a world of one on one GPU).
  local x=()
  [ "${#RUN_ENV[@]}" -gt 1 ] && x=(-x LD_LIBRARY_PATH)
  if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake ddp)
  else cmd=("${RUN_ENV[@]}" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 bash -c
            "mpirun --oversubscribe --bind-to none ${x[*]} -np 2 '$BIN_DDP' && mpirun --oversubscribe --bind-to none ${x[*]} -np $NGPUS '$BIN_DDP'"); fi
  run_step "ddp on GPU" "$BUDGET_DDP" ddp_gpu.log -- "${cmd[@]}"
  local rc=$? n p f s
  read -r n p f s <<< "$(cases "$LOGS/ddp_gpu.log")"
  case $rc in
    0) set_row "ddp on GPU" "mpirun -np 2 (MPI, shared cuda:0) and -np $NGPUS (NCCL): ${p:-?}/${n:-?} passed";;
    2) ;;
    3) fail_row "ddp on GPU" "$TIMED_OUT";;
    *) fail_row "ddp on GPU" "FAILED (rc $rc): $(errors_of ddp_gpu.log)";;
  esac
}
do_dp() {
  if [ $have_data = 0 ]; then not_run "dp 1 vs 2" "needs data (see the data row)"; return; fi
  if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake dp)
  else cmd=("${RUN_ENV[@]}" python3 tests/parallel/dp_equivalence.py "$BIN_MLP" cuda:0 cuda:0,cuda:0 "$DATA"); fi
  run_step "dp 1 vs 2" "$BUDGET_DP" dp_equivalence.log -- "${cmd[@]}"
  local rc=$?
  case $rc in
    0) set_row "dp 1 vs 2" "same curves, cuda:0 vs cuda:0,cuda:0: $(grep -E 'relative difference' "$LOGS/dp_equivalence.log" |
         sed -E 's/ -> same//; s/train loss relative difference/loss rel. diff/; s/test accuracy difference/accuracy diff/' | paste -sd';' | sed 's/;/; /g')";;
    2) ;;
    3) fail_row "dp 1 vs 2" "$TIMED_OUT";;
    1) if grep -q 'DIFFERENT' "$LOGS/dp_equivalence.log"; then
         fail_row "dp 1 vs 2" "DIFFERENT curves: $(grep -E 'DIFFERENT' "$LOGS/dp_equivalence.log" | paste -sd';' | cut -c1-300)"
       else fail_row "dp 1 vs 2" "FAILED (rc 1): $(errors_of dp_equivalence.log 1)"; fi;;
    *) fail_row "dp 1 vs 2" "FAILED (rc $rc): $(errors_of dp_equivalence.log 1)";;
  esac
}
do_memcheck() {
  if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake memcheck)
  elif [ ! -x "$SAN" ]; then fail_row memcheck "FAILED: compute-sanitizer not found"; return
  else
    # The kernel suites, with the caching allocator off: inside a cached 2 MiB
    # segment an out-of-bounds access or a use after free hits memory that is
    # still allocated, and memcheck cannot see it.
    cmd=("${RUN_ENV[@]}" MINIDP_CUDA_NO_CACHE=1 "$SAN" --tool memcheck --error-exitcode 99 --print-limit 20 "$BIN_TEST"
         "--source-file=*test_kernels.cpp,*test_ops.cpp,*test_optim_gpu.cpp,*test_metrics_gpu.cpp")
  fi
  run_step memcheck "$BUDGET_MEMCHECK" memcheck.log -- "${cmd[@]}"
  local rc=$? n p f s
  read -r n p f s <<< "$(cases "$LOGS/memcheck.log")"
  case $rc in
    0) set_row memcheck "$(sanitizer_count "$LOGS/memcheck.log") errors; ${p:-?}/${n:-?} kernel tests passed (no-cache allocator)";;
    2) ;;
    3) fail_row memcheck "$TIMED_OUT";;
    *) fail_row memcheck "$(sanitizer_count "$LOGS/memcheck.log") ERRORS (rc $rc); tests ${p:-?} passed, ${f:-?} failed: $(errors_of memcheck.log 2)";;
  esac
}

if [ "$FROM" = "prebuilt binaries" ]; then
  PHASE_END=$CORRECTNESS_BY
  do_smoke
  do_tests
  do_ddp
  do_dp
  do_memcheck
  PHASE_END=""
else
  set_row smoke "$prebuilt_reason (run tools/gpu-prebuild.sh on a machine with nvcc); smoke runs after the build"
fi

# ---------------------------------------------------------------- 4. configure and build, here, what the steps need
generator=()
[ ! -f "$BUILD/CMakeCache.txt" ] && command -v ninja >/dev/null && generator=(-G Ninja)
if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake configure)
else cmd=(cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DMINIDP_CUDA=ON
          -DCMAKE_CUDA_ARCHITECTURES="$ARCH"); fi
run_step configure "$BUDGET_CONFIGURE" configure.log -- "${cmd[@]}"
rc=$?
configured=0
case $rc in
  0) configured=1; set_row configure "ok in ${STEP_SECONDS} s: $(grep -E '^-- minidp' "$LOGS/configure.log" | head -3 | sed 's/^-- minidp: //' | paste -sd';')";;
  2) ;;
  3) fail_row configure "$TIMED_OUT";;
  *) fail_row configure "FAILED (rc $rc): $(grep -m1 -E 'Error|error' "$LOGS/configure.log" | cut -c1-300)";;
esac

declare -A BUILT
declare -A WHERE=([test_gpu]=tests/test_gpu [test_ddp_gpu]=tests/test_ddp_gpu [train_mlp]=examples/train_mlp
                  [bench_step]=bench/bench_step)
build_target() {
  local t=$1 row="build $1"
  BUILT[$t]=0
  if [ $configured = 0 ]; then not_run "$row" "configure did not succeed"; return; fi
  if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake build "$t")
  else cmd=(cmake --build "$BUILD" --target "$t" -j "$JOBS"); fi
  run_step "$row" "$BUDGET_BUILD" "build_$t.log" -- "${cmd[@]}"
  local rc=$?
  case $rc in
    0) BUILT[$t]=1
       if [ "$t" = test_gpu ]; then set_row "$row" "ok in ${STEP_SECONDS} s on ${JOBS} jobs (with the library); slowest: $(slowest_objects)"
       else set_row "$row" "ok in ${STEP_SECONDS} s"; fi;;
    2) ;;
    3) fail_row "$row" "$TIMED_OUT";;
    *) fail_row "$row" "FAILED (rc $rc): $(grep -m2 -E 'error' "$LOGS/build_$t.log" | tr '\n' ' ' | cut -c1-300)";;
  esac
}
use_fresh() {
  FROM="binaries built here"
  BIN_TEST=$BUILD/${WHERE[test_gpu]} BIN_DDP=$BUILD/${WHERE[test_ddp_gpu]} BIN_MLP=$BUILD/${WHERE[train_mlp]}
  BIN_BENCH=$BUILD/${WHERE[bench_step]}
  RUN_ENV=(env)
}

prebuilt=0; [ "$FROM" = "prebuilt binaries" ] && prebuilt=1
build_target test_gpu
if [ $prebuilt = 0 ]; then
  use_fresh
  if [ "${BUILT[test_gpu]}" = 1 ]; then do_smoke; else not_run smoke "no prebuilt binaries, and build test_gpu did not succeed"; fi
fi
build_target test_ddp_gpu
build_target train_mlp
build_target bench_step
if [ $prebuilt = 0 ]; then
  if [ "${BUILT[test_gpu]}" = 1 ]; then do_tests
  else not_run "GPU tests" "build test_gpu did not succeed"; not_run counts "build test_gpu did not succeed"; fi
  if [ "${BUILT[test_ddp_gpu]}" = 1 ]; then do_ddp; else not_run "ddp on GPU" "build test_ddp_gpu did not succeed"; fi
  if [ "${BUILT[train_mlp]}" = 1 ]; then do_dp; else not_run "dp 1 vs 2" "build train_mlp did not succeed"; fi
  if [ "${BUILT[test_gpu]}" = 1 ]; then do_memcheck; else not_run memcheck "build test_gpu did not succeed"; fi
fi

# ---------------------------------------------------------------- 5. the step benchmark, minidp and PyTorch in this run (optional)
# It runs this machine's bench_step (built for this processor); the prebuilt
# one when that build failed.
bench_bin="" bench_env=(env)
if [ "${BUILT[bench_step]}" = 1 ]; then bench_bin=$BUILD/${WHERE[bench_step]}
elif [ $prebuilt = 1 ]; then bench_bin=$BIN_BENCH bench_env=("${RUN_ENV[@]}"); fi
# bench_cmd WHAT COMMAND...: one benchmark command under its budget. A failure
# is FAILED in the table and fails the run; a timeout that the deadline cut
# short is a cut.
bench_cmd() {
  local what=$1 l t rc
  shift
  l=$(left)
  if [ "$l" -lt "$MIN_START" ]; then bench_cut="cut: $l s left"; return 2; fi
  t=$(( l < BUDGET_BENCH ? l : BUDGET_BENCH ))
  echo "-- $what (timeout $t s)" >> "$LOGS/bench.log"
  local n0 said
  n0=$(wc -l < "$LOGS/bench.log")
  timed "$t" bench.log "$@"
  rc=$?
  [ $rc = 0 ] && return 0
  said=$(tail -n +$(( n0 + 1 )) "$LOGS/bench.log" | grep -v '^[[:space:]]*$' | tail -1 | cut -c1-160)
  if { [ $rc = 124 ] || [ $rc = 137 ]; } && [ "$t" -lt "$BUDGET_BENCH" ]; then bench_cut="cut: the deadline ended $what"; return 2; fi
  if [ $rc = 124 ] || [ $rc = 137 ]; then rc="timed out after $t s"; else rc="rc $rc"; fi
  BENCH_FAILED+="FAILED  $what ($rc${said:+: $said})"$'\n'
  STATUS=1
  return 1
}
if [ -z "$bench_bin" ]; then
  set_row benchmark "cut: no bench_step (build bench_step did not succeed)"
else
  announce benchmark
  : > "$OUT/bench.jsonl"
  # model batch tf32 minidp-device-lists (most important first; stops when time runs out).
  # A list ending in "+graph" runs the step replayed as a CUDA graph (bench_step --cuda-graph).
  CONFIGS=("mlp 512 false cuda:0 cuda:0+graph cuda:0,cuda:0 cuda:0,cuda:0+graph"
           "cnn 256 false cuda:0 cuda:0+graph cuda:0,cuda:0 cuda:0,cuda:0+graph" "wide 8192 false cuda:0"
           "wide 8192 true cuda:0")
  done_configs=0 bench_cut=""
  set_row benchmark "running"
  for c in "${CONFIGS[@]}"; do
    read -r model batch tf32 devlists <<< "$c"
    l=$(left)
    if [ "$l" -lt "$MIN_OPTIONAL" ]; then bench_cut="cut: $l s left"; break; fi
    flag=(); [ "$tf32" = true ] && flag=(--tf32)
    prec=fp32; [ "$tf32" = true ] && prec=tf32
    for dev in $devlists; do
      mode=eager graph=()
      if [ "${dev%+graph}" != "$dev" ]; then dev=${dev%+graph} mode=graph graph=(--cuda-graph); fi
      if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake bench-minidp "$model" "$batch" "$dev" "$tf32" "$mode")
      else cmd=("${bench_env[@]}" "$bench_bin" --model "$model" --batch "$batch" --devices "$dev" "${flag[@]}" "${graph[@]}"
                --jsonl "$OUT/bench.jsonl"); fi
      bench_cmd "bench_step $model $batch $prec $dev $mode" "${cmd[@]}"
      [ $? = 2 ] && break 2
    done
    if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake bench-torch "$model" "$batch" "$tf32")
    else cmd=(python3 bench/torch_step.py --model "$model" --batch "$batch" --device cuda --modes eager,graph "${flag[@]}"
              --jsonl "$OUT/bench.jsonl"); fi
    bench_cmd "PyTorch $model $batch $prec eager,graph" "${cmd[@]}"
    [ $? = 2 ] && break
    done_configs=$((done_configs + 1))
    BENCH_TABLE=$(python3 bench/compare.py "$OUT/bench.jsonl" 2>>"$LOGS/bench.log")
    set_row benchmark "running: $done_configs of ${#CONFIGS[@]} configurations done"
  done
  BENCH_TABLE=$(python3 bench/compare.py "$OUT/bench.jsonl" 2>>"$LOGS/bench.log")
  nfail=$(printf '%s' "$BENCH_FAILED" | grep -c '^FAILED')
  if [ "$done_configs" = 0 ] && [ -n "$bench_cut" ]; then text="$bench_cut (0 of ${#CONFIGS[@]} configurations run)"
  else text="$done_configs of ${#CONFIGS[@]} configurations${BENCH_TABLE:+ (table below)}${bench_cut:+; $bench_cut}"; fi
  if [ "$nfail" -gt 0 ]; then fail_row benchmark "FAILED: $nfail command(s) failed; $text"
  else set_row benchmark "$text"; fi
fi

# ---------------------------------------------------------------- 6. racecheck on the kernels with shared memory (optional)
race_bin="" race_env=(env)
if [ "${BUILT[test_gpu]}" = 1 ]; then race_bin=$BUILD/${WHERE[test_gpu]}
elif [ $prebuilt = 1 ]; then race_bin=$BIN_TEST race_env=("${RUN_ENV[@]}"); fi
l=$(left)
if [ -z "$race_bin" ]; then set_row racecheck "cut: no test_gpu to run"
elif [ $DRY = 0 ] && [ ! -x "$SAN" ]; then set_row racecheck "cut: compute-sanitizer not found"
elif [ "$l" -lt "$MIN_OPTIONAL" ]; then set_row racecheck "cut: $l s left"
else
  if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake racecheck)
  else cmd=("${race_env[@]}" "$SAN" --tool racecheck --error-exitcode 99 --print-limit 20 "$race_bin"
            "--test-case=reduce:*,arg_reduce and softmax*,batch norm*"); fi
  run_step racecheck "$BUDGET_RACECHECK" racecheck.log -- "${cmd[@]}"
  rc=$?
  case $rc in
    0) set_row racecheck "$(sanitizer_count "$LOGS/racecheck.log") hazards (reduce, softmax, batch norm: the kernels with shared memory)";;
    3) set_row racecheck "cut: $TIMED_OUT";;
    *) fail_row racecheck "$(sanitizer_count "$LOGS/racecheck.log") HAZARDS or a failure (rc $rc): $(errors_of racecheck.log 2)";;
  esac
fi

exit $STATUS
