#!/usr/bin/env bash
# A diverging run (learning rate 50) under each --on-nonfinite mode:
#   stop (the default): exit status 1, one message naming the epoch, the step,
#        the last finite loss and the likely cause; no checkpoint written;
#   skip: the steps whose gradients are not finite are skipped and counted,
#        exit status 0;
#   warn: one warning, and training goes on to the end.
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--limit-train 2000 --limit-test 200 --batch 100 --epochs 2 --devices cpu,cpu --lr 50)
fail() { echo "FAIL: $*"; exit 1; }

"$bin" "${common[@]}" --save "$work/ck.safetensors" > "$work/stop.out" 2> "$work/stop.err"
rc=$?
[ $rc -eq 1 ] || fail "stop: exit status $rc, expected 1"
grep -q "training stopped: the training loss is nan at epoch 1, step [0-9]* (global step [0-9]*); the last finite loss was" "$work/stop.err" ||
  fail "stop: message: $(cat "$work/stop.err")"
grep -q "Likely cause: learning rate 50 is probably too high for sgd" "$work/stop.err" || fail "stop: no likely cause"
[ ! -e "$work/ck.safetensors" ] || fail "stop: a checkpoint of diverged weights was written"
echo "stop: $(grep -o 'training stopped.*' "$work/stop.err")"

# At learning rate 50 no step can save the run (the weights grow huge before
# any gradient is NaN): skip must count the steps it skipped and finish.
# What a skipped step leaves unchanged is checked exactly by the parallel
# tests ("skip_nonfinite").
"$bin" "${common[@]}" --on-nonfinite skip > "$work/skip.out" 2>&1 || fail "skip: exit status $?: $(tail -3 "$work/skip.out")"
grep -q "optimizer step(s) skipped so far" "$work/skip.out" || fail "skip: no step was skipped"
grep -qE '^ +2 ' "$work/skip.out" || fail "skip: training did not go on to epoch 2"
echo "skip: $(grep -o '([0-9]* optimizer step(s) skipped so far[^)]*)' "$work/skip.out" | tail -1), trained to the end"

"$bin" "${common[@]}" --on-nonfinite warn > "$work/warn.out" 2> "$work/warn.err" || fail "warn: exit status $?"
[ "$(grep -c "WARNING: the training loss is" "$work/warn.err")" -eq 1 ] || fail "warn: expected one warning: $(cat "$work/warn.err")"
grep -qE '^ +2 ' "$work/warn.out" || fail "warn: training did not go on to epoch 2"
echo "warn: one warning, training went on -> ok"
echo "non-finite losses: stop, skip and warn -> ok"
