#!/usr/bin/env bash
# Command lines that cannot work are refused with one clear line and a
# non-zero status — never a crash, a hang or a run that prints NaN.
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
small=(--limit-train 300 --limit-test 100 --batch 100 --quiet)
failures=0
expect() {  # expect "<substring of stderr>" args...
  local want=$1
  shift
  "$bin" "$@" > "$work/out" 2> "$work/err"
  local rc=$?
  if [ $rc -eq 0 ] || ! grep -qF -- "$want" "$work/err" || grep -q "terminate called" "$work/err"; then
    echo "FAIL: $* -> exit $rc, stderr: $(head -c 400 "$work/err")"
    failures=$((failures + 1))
  else
    echo "ok: $* -> exit $rc: $(grep -m1 -F -- "$want" "$work/err" | head -c 200)"
  fi
}
expect "--weight-decay: expected a finite number in [0" --weight-decay inf
expect "--lr: expected a finite number in [0" --lr nan
expect "--momentum: expected a finite number" --momentum -0.5
expect "--epochs: Value 0 not in range" --epochs 0
expect "--max-steps" --max-steps -3
cpus=$(printf 'cpu,%.0s' $(seq 65)); cpus=${cpus%,}
expect "DataParallel: 65 replicas, more than the 64 one process holds" "${small[@]}" --devices "$cpus"
expect "--metrics-json /nonexistent-dir/run.json: cannot write in /nonexistent-dir: No such file or directory (checked before training" "${small[@]}" --epochs 1 --metrics-json /nonexistent-dir/run.json
"$bin" "${small[@]}" --epochs 1 --save "$work/done.safetensors" > /dev/null 2>&1 || { echo "FAIL: a 1-epoch run"; exit 1; }
expect "nothing to train (raise --epochs to go on)" "${small[@]}" --epochs 1 --resume "$work/done.safetensors"
[ $failures -eq 0 ] && echo "bad command lines: all refused -> ok"
exit $failures
