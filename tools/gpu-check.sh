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
#   tools/gpu-check.sh --bench-plan         # each benchmark command's steps and estimated seconds
#   ROWS=failed PREV_SUMMARY=old/summary.txt tools/gpu-check.sh   # rerun what failed last time
#
# Proof first: when tools/gpu-prebuild.sh has put prebuilt binaries into
# $PREBUILT (built on a machine with nvcc and no GPU), the check runs them
# before it configures anything — a smoke test (one GEMM, one convolution, one
# own kernel, one two-replica step, each against the CPU) within the first
# minute or so, then the GPU tests, DistributedDataParallel, one against two
# replicas and memcheck: the verdict, within CORRECTNESS_BY (240 s) of the
# start. Then it configures and builds, here, only the four targets those
# steps need, each timed; without prebuilt binaries the same steps run on what
# it built. Then, if time is left, the benchmark and racecheck.
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
#   command), BUDGET_RACECHECK: each command's own timeout in seconds (45, 120,
#   60, 60, 120, 120, 300, 60, 90), cut to what is left before the deadline.
#   A command that hangs costs its own row, never the rows after it.
#   CORRECTNESS_BY (240): the steps on the prebuilt binaries (the verdict) end
#   by then, so that the build on this machine gets its time.
#   ROWS: which rows to run, comma-separated as the summary names them
#   ("smoke,GPU tests,memcheck"; "GPU tests" brings "counts" along), or
#   "failed": the rows that failed in PREV_SUMMARY (default: the summary.txt
#   already in OUT), so that a short second run follows a fix. The rows not
#   run say so and count neither way; gpu, preflight and data always run.
#
# Rows are required or optional. The benchmark and racecheck are optional:
# cut for time, they say "cut: N s left" and do not fail the run. The
# verdict's rows (smoke, GPU tests, counts, ddp, dp, memcheck) are required:
# one that fails, times out or is not reached in time fails the run (it was
# not checked). The configure and build rows are required only when there are
# no prebuilt binaries (they then give the verdict's binaries); after the
# prebuilt binaries loaded, a failed build here is reported, not counted. A
# failed benchmark command, or a CUDA graph step that fell back to eager, is
# FAILED under the benchmark table and fails the run.
#
# What survives a kill: $OUT/summary.txt is rewritten after every step and
# $OUT/logs.tgz repacked, so a run cut short still says what it saw; a trap
# prints the summary on exit, also on SIGTERM/SIGINT. $OUT ends up with at
# most three files (summary.txt, logs.tgz, bench.jsonl). The summary is the
# last thing printed.
#
# Exit status: 0 when every required row passed (and no benchmark command
# failed); 1 otherwise; 124 when killed.
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

# ---------------------------------------------------------------- the benchmark's plan
# model batch tf32 warmup steps runs minidp-device-lists (most important first;
# the run stops when time runs out). A list ending in "+graph" runs the step
# replayed as a CUDA graph (bench_step --cuda-graph). The same warm-up, steps
# and runs go to PyTorch's side. The wide model's step is ~2.2 TFLOP (44 ms in
# fp32 on an H200), so its rows take 3 + 3 x 10 steps, not 20 + 3 x 200.
CONFIGS=("mlp 512 false 20 200 3 cuda:0 cuda:0+graph cuda:0,cuda:0 cuda:0,cuda:0+graph"
         "cnn 256 false 20 200 3 cuda:0 cuda:0+graph cuda:0,cuda:0 cuda:0,cuda:0+graph"
         "wide 8192 false 3 10 3 cuda:0"
         "wide 8192 true 3 10 3 cuda:0")
BUDGET_BENCH=${BUDGET_BENCH:-60}
# PyTorch 2.x's eager step as measured on an H200 (ms; synthetic data, SGD
# with momentum): the yardstick for each command's estimated time, not a claim.
bench_ms() {
  case "$1 $2" in
    "mlp false") echo 1.10 ;; "cnn false") echo 1.83 ;; "wide false") echo 44.1 ;; "wide true") echo 8.63 ;;
    *) echo 50 ;;
  esac
}
# Estimated seconds of one command, with margins: start-up (CUDA context,
# cuBLAS/cuDNN loading; `import torch`), minidp's step up to 3x PyTorch's
# eager step (its first GPU run: nothing is known) on a GPU up to 1.3x slower
# than an H200, PyTorch's two modes (eager, graph) with 3 more warm-up steps
# for the capture, each 1.5x the yardstick.
bench_estimate() {  # minidp|torch model tf32 warmup steps runs
  awk -v who="$1" -v ms="$(bench_ms "$2" "$3")" -v w="$4" -v s="$5" -v r="$6" 'BEGIN {
    if (who == "minidp") printf "%.0f", 15 + (w + s * r) * ms * 3 * 1.3 / 1000
    else printf "%.0f", 20 + 2 * (w + 3 + s * r) * ms * 1.5 * 1.3 / 1000 }'
}
bench_plan() {
  local c model batch tf32 w st r devlists dev over=0
  plan_line() {  # WHAT STEPS SECONDS: one command of the plan; OVER when it does not fit its budget
    local fits=ok
    [ "$3" -le "$BUDGET_BENCH" ] || { fits=OVER; over=1; }
    printf '%-50s %4s steps  ~%3s s of %s s  %s\n' "$1" "$2" "$3" "$BUDGET_BENCH" "$fits"
  }
  for c in "${CONFIGS[@]}"; do
    read -r model batch tf32 w st r devlists <<< "$c"
    for dev in $devlists; do
      plan_line "bench_step $model $batch tf32=$tf32 $dev" $((w + st * r)) \
        "$(bench_estimate minidp "$model" "$tf32" "$w" "$st" "$r")"
    done
    plan_line "PyTorch $model $batch tf32=$tf32 eager,graph" $((2 * (w + 3 + st * r))) \
      "$(bench_estimate torch "$model" "$tf32" "$w" "$st" "$r")"
  done
  return $over
}
if [ "${1:-}" = "--bench-plan" ]; then bench_plan; exit $?; fi

# ---------------------------------------------------------------- fake steps (--dry)
# Run as separate processes (`gpu-check.sh --fake STEP ...`), under the same
# timeouts as the real commands. Each prints what the real step prints, in the
# formats the parsers below read. DRY_SLEEP: seconds each step takes (the
# benchmark's commands take none); DRY_FAIL=STEP makes one fail, DRY_HANG=STEP
# makes one hang, DRY_FALLBACK=1 makes minidp's CUDA graph steps fall back.
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
    smoke) if [ -e "${1:-}" ]; then "$1" || { echo "fake smoke: $1 does not run"; exit 126; }; fi
           echo "[doctest] test cases: 4 | $((4 - rc)) passed | $rc failed | 30 skipped" ;;
    tests) echo "[doctest] test cases: 34 | $((34 - rc)) passed | $rc failed | 0 skipped"
           echo "minidp counts: linear forward fused=12 plain=8 (no algorithm 0), backward fused=8 plain=12 (no algorithm 2); cuda graphs captured=5 replayed=23" ;;
    memcheck) echo "[doctest] test cases: 16 | 16 passed | 0 failed | 18 skipped"; echo "========= ERROR SUMMARY: $rc errors" ;;
    dp) echo "epoch 1: train loss relative difference 1.20e-08, test accuracy difference 0.00 points -> same"
        echo "epoch 2: train loss relative difference 3.10e-08, test accuracy difference 0.00 points -> same" ;;
    ddp) echo "[doctest] test cases: 2 | $((2 - rc)) passed | $rc failed | 0 skipped" ;;
    racecheck) echo "[doctest] test cases: 3 | 3 passed | 0 failed | 31 skipped"; echo "========= RACECHECK SUMMARY: $rc hazards displayed ($rc errors, 0 warnings)" ;;
    bench-minidp)  # model batch devices tf32 mode
      mode=$5
      if [ "$mode" = graph ] && [ -n "${DRY_FALLBACK:-}" ]; then
        mode=graph-fell-back; echo "minidp: cuda_graph: (dry) capture refused: an allocation during capture" >&2
      fi
      [ $rc = 0 ] && echo "{\"framework\": \"minidp\", \"mode\": \"$mode\", \"model\": \"$1\", \"batch\": $2, \"devices\": \"$3\", \"device_kind\": \"cuda\", \"tf32\": $4, \"samples_per_s\": 1000000.0, \"ms_per_step\": 0.5, \"peak_memory_mib\": 80.0}" >> "$OUT/bench.jsonl" ;;
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
BUDGET_SMOKE=${BUDGET_SMOKE:-45}
BUDGET_TESTS=${BUDGET_TESTS:-120}
BUDGET_DDP=${BUDGET_DDP:-60}
BUDGET_DP=${BUDGET_DP:-60}
BUDGET_MEMCHECK=${BUDGET_MEMCHECK:-120}
BUDGET_CONFIGURE=${BUDGET_CONFIGURE:-120}
BUDGET_BUILD=${BUDGET_BUILD:-300}
BUDGET_RACECHECK=${BUDGET_RACECHECK:-90}
CORRECTNESS_BY=${CORRECTNESS_BY:-240}  # the prebuilt binaries' steps (smoke to memcheck: the verdict) end by then, so the build gets its time
MIN_START=10        # a required step starts with at least this many seconds left (or its whole budget, if smaller)
MIN_OPTIONAL=30     # the benchmark (per configuration) and racecheck start with at least this many seconds left
RESERVE=8           # seconds kept back for packing the logs and printing the summary
DRY_PREBUILT=${DRY_PREBUILT:-1}  # dry mode: 1 = a fake pack of prebuilt binaries, noexec = a folder without exec bits, 0 = none
FASHION=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
LOGS=$(mktemp -d)   # packed into $OUT/logs.tgz
WORK=$(mktemp -d)   # unpacked prebuilt binaries; not packed
START=$(date +%s)
STATUS=0
NINJA_LOG="$BUILD/.ninja_log"
[ $DRY = 1 ] && NINJA_LOG="$LOGS/ninja_log.dry"  # a dry run writes nothing outside $OUT and temporary folders
export OUT ARCH NINJA_LOG DRY_SLEEP DRY_FAIL DRY_HANG DRY_FALLBACK

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
ROW_NAMES=(gpu preflight data smoke "GPU tests" counts "ddp on GPU" "dp 1 vs 2" memcheck configure
      "build test_gpu" "build test_ddp_gpu" "build train_mlp" "build bench_step" benchmark racecheck)
declare -A RESULT
for r in "${ROW_NAMES[@]}"; do RESULT[$r]="pending"; done

# ROWS: the rows this run runs (all when empty). "failed": those of
# PREV_SUMMARY that failed the run or were not checked. gpu, preflight and
# data always run; "GPU tests" and "counts" go together.
ROWS=${ROWS:-}
PREV_SUMMARY=${PREV_SUMMARY:-$OUT/summary.txt}
declare -A SELECTED
SELECTION=""
row_failed() {  # a previous summary's value: did that row fail the run, or go unchecked?
  case "$1" in
    "" | ok* | cut:* | "not run"*) return 1 ;;
    FAILED* | "not checked"* | "timed out"* | KILLED* | "not reached"* | pending* | running* | SKIPPED*) return 0 ;;
  esac
  grep -Eq 'FAILED|ERRORS|HAZARDS|DIFFERENT' <<< "$1"
}
if [ "$ROWS" = failed ]; then
  [ -f "$PREV_SUMMARY" ] || { echo "gpu-check: ROWS=failed needs the previous run's summary.txt: PREV_SUMMARY=$PREV_SUMMARY does not exist" >&2; exit 2; }
  for r in "${ROW_NAMES[@]}"; do
    v=$(awk -v r="$r" '{ n = substr($0, 1, 19); sub(/ +$/, "", n) } n == r { print substr($0, 21); exit }' "$PREV_SUMMARY")
    if row_failed "$v"; then SELECTED[$r]=1; fi
  done
  SELECTION="ROWS=failed, from $PREV_SUMMARY:"
  for r in "${ROW_NAMES[@]}"; do [ -n "${SELECTED[$r]:-}" ] && SELECTION+=" $r;"; done
  [ "$SELECTION" != "ROWS=failed, from $PREV_SUMMARY:" ] || SELECTION+=" none failed"
elif [ -n "$ROWS" ]; then
  IFS=',' read -r -a wanted <<< "$ROWS"
  for w in "${wanted[@]}"; do
    w=$(echo "$w" | sed -E 's/^ +| +$//g')
    known=0
    for r in "${ROW_NAMES[@]}"; do [ "$r" = "$w" ] && known=1; done
    [ $known = 1 ] || { echo "gpu-check: ROWS: unknown row '$w'; the rows are: $(printf '%s, ' "${ROW_NAMES[@]}" | sed 's/, $//'), or ROWS=failed" >&2; exit 2; }
    SELECTED[$w]=1
  done
  SELECTION="ROWS=$ROWS"
fi
if [ -n "$ROWS" ]; then
  for r in gpu preflight data; do SELECTED[$r]=1; done
  [ -n "${SELECTED[counts]:-}" ] && SELECTED["GPU tests"]=1
  [ -n "${SELECTED["GPU tests"]:-}" ] && SELECTED[counts]=1
fi
selected() { [ -z "$ROWS" ] || [ -n "${SELECTED[$1]:-}" ]; }
# A row this run does not run: it counts neither way.
skip_row() { set_row "$1" "not run (not selected by ROWS)"; }
# Rows whose failure is reported but not counted (the build, once the
# prebuilt binaries have loaded and given the verdict).
declare -A OPTIONAL
BINARIES="(not looked at yet)"
BENCH_TABLE=""
BENCH_FAILED=""

pack_logs() {
  tar -czf "$OUT/logs.tgz.part" -C "$LOGS" . 2>/dev/null && mv -f "$OUT/logs.tgz.part" "$OUT/logs.tgz"
}
summary_text() {
  echo "================================ minidp GPU check$([ $DRY = 1 ] && echo ' (DRY RUN: fake steps)')"
  printf '%-19s %s\n' "binaries" "$BINARIES"
  [ -z "$SELECTION" ] || printf '%-19s %s\n' "rows" "$SELECTION"
  for r in "${ROW_NAMES[@]}"; do printf '%-19s %s\n' "$r" "${RESULT[$r]}"; done
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
fail_row() {
  if [ -n "${OPTIONAL[$1]:-}" ]; then set_row "$1" "$2 (not counted: ${OPTIONAL[$1]})"
  else STATUS=1; set_row "$1" "$2"; fi
}
# A step that is about to start: on stdout and in steps.txt, in the order the steps run.
announce() { echo "== [$(elapsed) s] $1${2:+ ($2)}" | tee -a "$LOGS/steps.txt"; }
# A required row that did not run: it was not checked, so the run fails.
not_run() { fail_row "$1" "not checked: $2"; }

# shellcheck disable=SC2317  # (finish and on_signal run from traps)
finish() {
  trap - EXIT TERM INT
  for r in "${ROW_NAMES[@]}"; do
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
  for r in "${ROW_NAMES[@]}"; do
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
DDP_PREBUILT_REASON=""  # set when test_ddp_gpu alone does not load (its MPI): the DDP row waits for this machine's build
DRY_DDP_NOLOAD=${DRY_DDP_NOLOAD:-}  # dry mode: pretend the prebuilt test_ddp_gpu does not load
if [ $DRY = 1 ] && [ "$DRY_PREBUILT" != 0 ]; then
  # A fake pack, the shape gpu-prebuild.sh leaves: MANIFEST and bin.tar.xz;
  # DRY_PREBUILT=noexec: a plain bin/ folder whose files lost their executable
  # bits on the way. The fake binaries print "fake binary NAME ran"; the fake
  # smoke step runs test_gpu, so it fails unless the binary can be executed.
  PREBUILT="$WORK/fake-gpu-bin"
  mkdir -p "$PREBUILT" "$WORK/fake-src"
  for t in test_gpu test_ddp_gpu train_mlp bench_step; do printf '#!/bin/sh\necho "fake binary %s ran"\n' "$t" > "$WORK/fake-src/$t"; chmod +x "$WORK/fake-src/$t"; done
  if [ "$DRY_PREBUILT" = noexec ]; then
    mkdir -p "$PREBUILT/bin"
    cp "$WORK"/fake-src/* "$PREBUILT/bin/"
    chmod a-x "$PREBUILT"/bin/*
  else
    tar -C "$WORK/fake-src" -cJf "$PREBUILT/bin.tar.xz" test_gpu test_ddp_gpu train_mlp bench_step
  fi
  printf 'commit: 0000000 (dry)\nsources: %s\ndate: (dry)\n' "$(source_digest)" > "$PREBUILT/MANIFEST"
elif [ $DRY = 1 ]; then
  PREBUILT="$WORK/no-gpu-bin"
fi
load_prebuilt() {
  local dir=$PREBUILT t
  [ -d "$PREBUILT" ] || { prebuilt_reason="no prebuilt binaries in $PREBUILT"; return 1; }
  # Into a folder of our own, whatever the copy to this machine kept: an
  # archive unpacked here, or a plain folder copied (without its executable
  # bits, maybe); either way they are made executable here.
  dir="$WORK/prebuilt"
  mkdir -p "$dir"
  if [ -f "$PREBUILT/bin.tar.xz" ]; then
    if command -v xz >/dev/null; then timeout 60 tar -C "$dir" -xJf "$PREBUILT/bin.tar.xz" 2>"$LOGS/prebuilt.txt"
    else timeout 60 python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$PREBUILT/bin.tar.xz" "$dir" 2>"$LOGS/prebuilt.txt"
    fi || { prebuilt_reason="$PREBUILT/bin.tar.xz does not unpack: $(head -c 200 "$LOGS/prebuilt.txt")"; return 1; }
  elif [ -d "$PREBUILT/bin" ]; then cp "$PREBUILT"/bin/* "$dir"/ 2>"$LOGS/prebuilt.txt"
  fi
  for t in test_gpu test_ddp_gpu train_mlp bench_step; do
    [ -f "$dir/$t" ] || { prebuilt_reason="$PREBUILT is incomplete: no $t"; return 1; }
    chmod u+x "$dir/$t"
    [ -x "$dir/$t" ] || { prebuilt_reason="$dir/$t cannot be made executable (a noexec file system?)"; return 1; }
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
    # ldd -r: also every symbol (a library older than the one built against
    # may lack some), one binary at a time: only test_ddp_gpu needs MPI, so
    # an MPI that does not match costs the DDP row alone (it then runs on this
    # machine's build).
    local missing_ddp="" missing_rest=""
    for t in test_gpu test_ddp_gpu train_mlp bench_step; do
      "${RUN_ENV[@]}" timeout 60 ldd -r "$dir/$t" > "$LOGS/ldd_$t.txt" 2>&1
      cat "$LOGS/ldd_$t.txt" >> "$LOGS/prebuilt.txt"
      # (only the binary's own references: what the libraries lack among themselves is not ours to judge)
      lost=$(grep -E "not found|undefined symbol: .*\\($dir/" "$LOGS/ldd_$t.txt" | sort -u | head -3 | tr '\n' ' ' | cut -c1-200)
      rm -f "$LOGS/ldd_$t.txt"
      [ -z "$lost" ] && continue
      if [ "$t" = test_ddp_gpu ]; then missing_ddp="$lost"; else missing_rest+="$t: $lost "; fi
    done
    [ -z "$missing_rest" ] || { prebuilt_reason="the prebuilt binaries do not load here: $missing_rest"; RUN_ENV=(env); return 1; }
    [ -z "$missing_ddp" ] || DDP_PREBUILT_REASON="the prebuilt test_ddp_gpu does not load here: $missing_ddp"
  fi
  [ -n "$DRY_DDP_NOLOAD" ] && DDP_PREBUILT_REASON="the prebuilt test_ddp_gpu does not load here: libmpi.so.40 => not found (dry)"
  BIN_TEST=$dir/test_gpu BIN_DDP=$dir/test_ddp_gpu BIN_MLP=$dir/train_mlp BIN_BENCH=$dir/bench_step
  [ -z "$DDP_PREBUILT_REASON" ] || BIN_DDP=""
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
  if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake smoke "$BIN_TEST")
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
  # NCCL_DEBUG=WARN: an NCCL failure says why in the log, not only its error code.
  else cmd=("${RUN_ENV[@]}" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_DEBUG=WARN bash -c
            "mpirun --oversubscribe --bind-to none -x NCCL_DEBUG ${x[*]} -np 2 '$BIN_DDP' && mpirun --oversubscribe --bind-to none -x NCCL_DEBUG ${x[*]} -np $NGPUS '$BIN_DDP'"); fi
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
    # still allocated, and memcheck cannot see it. --report-api-errors no: a
    # CUDA call that returns an error is not a memory error (cuBLAS and cuDNN
    # probe with calls that fail by design, and minidp checks every status it
    # gets itself); with the default, --error-exitcode would count them.
    cmd=("${RUN_ENV[@]}" MINIDP_CUDA_NO_CACHE=1 "$SAN" --tool memcheck --report-api-errors no --error-exitcode 99
         --print-limit 20 "$BIN_TEST"
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

prebuilt=0; [ "$FROM" = "prebuilt binaries" ] && prebuilt=1
# Each step of the verdict, if this run runs its row.
run_smoke() { if selected smoke; then do_smoke; else skip_row smoke; fi; }
run_tests() { if selected "GPU tests"; then do_tests; else skip_row "GPU tests"; skip_row counts; fi; }
run_ddp() { if selected "ddp on GPU"; then do_ddp; else skip_row "ddp on GPU"; fi; }
run_dp() { if selected "dp 1 vs 2"; then do_dp; else skip_row "dp 1 vs 2"; fi; }
run_memcheck() { if selected memcheck; then do_memcheck; else skip_row memcheck; fi; }

if [ $prebuilt = 1 ]; then
  # The verdict first, on the prebuilt binaries; the build here is then for
  # the benchmark, and its failure is reported, not counted.
  for r in configure "build test_gpu" "build test_ddp_gpu" "build train_mlp" "build bench_step"; do
    OPTIONAL[$r]="the prebuilt binaries gave the verdict"
  done
  PHASE_END=$CORRECTNESS_BY
  run_smoke
  run_tests
  if [ -n "$BIN_DDP" ]; then run_ddp
  elif selected "ddp on GPU"; then set_row "ddp on GPU" "$DDP_PREBUILT_REASON; runs after this machine's build"
    # The DDP row now depends on this machine's build: its failure counts.
    unset 'OPTIONAL[build test_ddp_gpu]' 'OPTIONAL[configure]'
  fi
  run_dp
  run_memcheck
  PHASE_END=""
else
  set_row smoke "$prebuilt_reason (run tools/gpu-prebuild.sh on a machine with nvcc); smoke runs after the build"
fi

# ---------------------------------------------------------------- 4. configure and build, here, what the steps need
declare -A BUILT
declare -A WHERE=([test_gpu]=tests/test_gpu [test_ddp_gpu]=tests/test_ddp_gpu [train_mlp]=examples/train_mlp
                  [bench_step]=bench/bench_step)
# Whether this run builds target $1: its own row is selected, or a selected
# row needs it from this machine's build (every row, without prebuilt
# binaries; the benchmark, always: it prefers a bench_step built here).
needs_build() {
  selected "build $1" && return 0
  case $1 in
    test_gpu) [ $prebuilt = 0 ] && { selected smoke || selected "GPU tests" || selected memcheck || selected racecheck; } ;;
    test_ddp_gpu) { [ $prebuilt = 0 ] || [ -z "$BIN_DDP" ]; } && selected "ddp on GPU" ;;
    train_mlp) [ $prebuilt = 0 ] && selected "dp 1 vs 2" ;;
    bench_step) selected benchmark ;;
  esac
}
any_build=0
for t in test_gpu test_ddp_gpu train_mlp bench_step; do needs_build $t && any_build=1; done
generator=()
[ ! -f "$BUILD/CMakeCache.txt" ] && command -v ninja >/dev/null && generator=(-G Ninja)
configured=0
if [ $any_build = 0 ] && ! selected configure; then skip_row configure
else
  if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake configure)
  else cmd=(cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DMINIDP_CUDA=ON
            -DCMAKE_CUDA_ARCHITECTURES="$ARCH"); fi
  run_step configure "$BUDGET_CONFIGURE" configure.log -- "${cmd[@]}"
  rc=$?
  case $rc in
    0) configured=1; set_row configure "ok in ${STEP_SECONDS} s: $(grep -E '^-- minidp' "$LOGS/configure.log" | head -3 | sed 's/^-- minidp: //' | paste -sd';')";;
    2) ;;
    3) fail_row configure "$TIMED_OUT";;
    *) fail_row configure "FAILED (rc $rc): $(grep -m1 -E 'Error|error' "$LOGS/configure.log" | cut -c1-300)";;
  esac
fi

build_target() {
  local t=$1 row="build $1"
  BUILT[$t]=0
  if ! needs_build "$t"; then skip_row "$row"; return; fi
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

build_target test_gpu
if [ $prebuilt = 0 ]; then
  use_fresh
  if ! selected smoke; then skip_row smoke
  elif [ "${BUILT[test_gpu]}" = 1 ]; then do_smoke; else not_run smoke "no prebuilt binaries, and build test_gpu did not succeed"; fi
fi
build_target test_ddp_gpu
build_target train_mlp
build_target bench_step
# on_fresh ROW TARGET FUNCTION: run ROW (FUNCTION) on this machine's build of TARGET, or say why it cannot.
on_fresh() {
  local row=$1 t=$2 fn=$3
  if ! selected "$row"; then skip_row "$row"; [ "$row" = "GPU tests" ] && skip_row counts; return; fi
  if [ "${BUILT[$t]}" = 1 ]; then "$fn"; return; fi
  not_run "$row" "build $t did not succeed"
  [ "$row" = "GPU tests" ] && not_run counts "build $t did not succeed"
}
if [ $prebuilt = 0 ]; then
  on_fresh "GPU tests" test_gpu do_tests
  on_fresh "ddp on GPU" test_ddp_gpu do_ddp
  on_fresh "dp 1 vs 2" train_mlp do_dp
  on_fresh memcheck test_gpu do_memcheck
elif [ -z "$BIN_DDP" ] && selected "ddp on GPU"; then
  # The prebuilt test_ddp_gpu did not load: this machine's build runs the DDP row.
  BIN_DDP=$BUILD/${WHERE[test_ddp_gpu]} ddp_env=("${RUN_ENV[@]}") RUN_ENV=(env)
  on_fresh "ddp on GPU" test_ddp_gpu do_ddp
  RUN_ENV=("${ddp_env[@]}")
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
if ! selected benchmark; then skip_row benchmark
elif [ -z "$bench_bin" ]; then
  set_row benchmark "cut: no bench_step (build bench_step did not succeed)"
else
  announce benchmark
  : > "$OUT/bench.jsonl"
  bench_plan > "$LOGS/bench-plan.txt"  # (CONFIGS and each command's estimate: top of this file)
  done_configs=0 bench_cut=""
  set_row benchmark "running"
  for c in "${CONFIGS[@]}"; do
    read -r model batch tf32 warm steps runs devlists <<< "$c"
    counts=(--warmup "$warm" --steps "$steps" --runs "$runs")
    l=$(left)
    if [ "$l" -lt "$MIN_OPTIONAL" ]; then bench_cut="cut: $l s left"; break; fi
    flag=(); [ "$tf32" = true ] && flag=(--tf32)
    prec=fp32; [ "$tf32" = true ] && prec=tf32
    for dev in $devlists; do
      mode=eager graph=()
      if [ "${dev%+graph}" != "$dev" ]; then dev=${dev%+graph} mode=graph graph=(--cuda-graph); fi
      if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake bench-minidp "$model" "$batch" "$dev" "$tf32" "$mode")
      else cmd=("${bench_env[@]}" "$bench_bin" --model "$model" --batch "$batch" --devices "$dev" "${flag[@]}" "${graph[@]}"
                "${counts[@]}" --jsonl "$OUT/bench.jsonl"); fi
      bench_cmd "bench_step $model $batch $prec $dev $mode" "${cmd[@]}"
      rc=$?
      [ $rc = 2 ] && break 2
      # A graph step that ran eagerly is no graph figure: FAILED, with minidp's reason.
      if [ $rc = 0 ] && [ "$mode" = graph ] && tail -1 "$OUT/bench.jsonl" | grep -q '"mode": *"graph-fell-back"'; then
        why=$(grep 'minidp: cuda_graph: ' "$LOGS/bench.log" | tail -1 | sed 's/^minidp: cuda_graph: //' | cut -c1-160)
        BENCH_FAILED+="FAILED  bench_step $model $batch $prec $dev graph: FELL BACK to eager (${why:-no reason printed})"$'\n'
        STATUS=1
      fi
    done
    if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake bench-torch "$model" "$batch" "$tf32")
    else cmd=(python3 bench/torch_step.py --model "$model" --batch "$batch" --device cuda --modes eager,graph "${flag[@]}"
              "${counts[@]}" --jsonl "$OUT/bench.jsonl"); fi
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
  if [ "$nfail" -gt 0 ]; then fail_row benchmark "FAILED: $nfail command(s) failed or fell back; $text"
  else set_row benchmark "$text"; fi
fi

# ---------------------------------------------------------------- 6. racecheck on the kernels with shared memory (optional)
race_bin="" race_env=(env)
if [ "${BUILT[test_gpu]}" = 1 ]; then race_bin=$BUILD/${WHERE[test_gpu]}
elif [ $prebuilt = 1 ]; then race_bin=$BIN_TEST race_env=("${RUN_ENV[@]}"); fi
l=$(left)
if ! selected racecheck; then skip_row racecheck
elif [ -z "$race_bin" ]; then set_row racecheck "cut: no test_gpu to run"
elif [ $DRY = 0 ] && [ ! -x "$SAN" ]; then set_row racecheck "cut: compute-sanitizer not found"
elif [ "$l" -lt "$MIN_OPTIONAL" ]; then set_row racecheck "cut: $l s left"
else
  if [ $DRY = 1 ]; then cmd=(bash "$SELF" --fake racecheck)
  else cmd=("${race_env[@]}" "$SAN" --tool racecheck --report-api-errors no --error-exitcode 99 --print-limit 20 "$race_bin"
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
