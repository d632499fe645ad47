#!/usr/bin/env bash
# The CPU benchmark, side by side: minidp's training step (bench_step) and
# PyTorch's (bench/torch_step.py) on the same models, batches and thread
# count, alternated over several rounds in this one call (so that a machine
# whose speed drifts treats both alike), then the ratio table of
# bench/compare.py: median samples/s, ms/step and the peak resident memory of
# each process.
#
#   bench/cpu.sh                       # every core, 3 rounds
#   bench/cpu.sh --threads 2 --rounds 5 --out /tmp/cpu-bench
#
# Configurations: MLP 784-1024-1024-10 at batch 512 and the CNN at batch 256,
# each as one replica using every thread (`cpu`) and as two replicas sharing
# them (`cpu,cpu`, half the threads each) at the same global batch.
#
# PyTorch: the python3 on PATH, else /usr/bin/python3 (Debian's
# python3-torch). Where Debian's OpenMP build of OpenBLAS is installed
# (libopenblas0-openmp), PyTorch runs on it: measured faster for PyTorch than
# the default pthread build. Without PyTorch, minidp's side runs alone.
# A benchmark, not a test: nothing here passes or fails on a time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
threads=$(nproc)
rounds=3
out=""
bench_step=${BENCH_STEP:-}
while [[ $# -gt 0 ]]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --bench-step) bench_step=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "cpu.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z $bench_step ]]; then
  for c in "$here/../build/bench/bench_step" "$here/../build-release/bench/bench_step"; do
    [[ -x $c ]] && bench_step=$c && break
  done
fi
[[ -n $bench_step && -x $bench_step ]] || { echo "cpu.sh: bench_step not found: run 'make' first, or pass --bench-step PATH" >&2; exit 2; }
[[ -n $out ]] || out=$(mktemp -d)
mkdir -p "$out"
rows=$out/cpu.jsonl
: > "$rows"

python=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" > /dev/null && "$p" -c "import torch" 2> /dev/null; then python=$p; break; fi
done
torch_env=()
openmp_blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
[[ -d $openmp_blas ]] && torch_env=(env "LD_LIBRARY_PATH=$openmp_blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
if [[ -z $python ]]; then
  echo "cpu.sh: PyTorch is not installed, so minidp's side runs alone. To compare: sudo apt-get install python3-torch"
  echo "        (and libopenblas0-openmp, the OpenBLAS build PyTorch runs fastest on), or pip install torch."
fi

echo "CPU benchmark: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $threads threads, $rounds rounds"
echo "minidp: $bench_step"
[[ -n $python ]] && echo "PyTorch: $("$python" -c 'import torch; print(torch.__version__)') ($python${torch_env:+, OpenBLAS from $openmp_blas})"
echo
configs=("mlp 512 30" "cnn 256 10")  # model, batch, timed steps per run
run_minidp() {  # model batch steps
  for devices in cpu cpu,cpu; do
    sleep 1  # let the previous process's memory and threads go first
    "$bench_step" --model "$1" --batch "$2" --devices "$devices" --threads "$threads" --warmup 3 \
      --steps "$3" --runs 3 --jsonl "$rows"
  done
}
run_torch() {  # model batch steps
  [[ -n $python ]] || return 0
  sleep 1
  "${torch_env[@]}" "$python" "$here/torch_step.py" --model "$1" --batch "$2" --device cpu --modes eager \
    --threads "$threads" --warmup 3 --steps "$3" --runs 3 --jsonl "$rows"
}
for ((r = 1; r <= rounds; ++r)); do
  echo "round $r of $rounds"
  for c in "${configs[@]}"; do
    read -r model batch steps <<< "$c"
    # Who goes first alternates from round to round: neither side always
    # follows the other's process.
    if ((r % 2)); then
      run_minidp "$model" "$batch" "$steps"; run_torch "$model" "$batch" "$steps"
    else
      run_torch "$model" "$batch" "$steps"; run_minidp "$model" "$batch" "$steps"
    fi
  done
done
echo
python3 "$here/compare.py" "$rows"
python3 - "$rows" << 'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for model in ("mlp", "cnn"):
    one = [r["samples_per_s"] for r in rows if r["framework"] == "minidp" and r["model"] == model and r["devices"] == "cpu"]
    two = [r["samples_per_s"] for r in rows if r["framework"] == "minidp" and r["model"] == model and r["devices"] == "cpu,cpu"]
    if one and two:
        print(f"{model}: two replicas sharing the threads (cpu,cpu) run at {statistics.median(two) / statistics.median(one):.2f}x "
              "one replica using them all (cpu), same global batch")
EOF
echo "rows: $rows"
