#!/usr/bin/env bash
# SIGTERM in the middle of an epoch: the run finishes its step, writes its
# checkpoint, says how to resume and exits with status 143; resuming from
# that checkpoint ends with the same bytes as a run never interrupted. A
# second signal (SIGINT twice) ends the process at once, writing nothing.
set -uo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--limit-train 20000 --limit-test 200 --batch 100 --epochs 2 --devices cpu --quiet)
fail() { echo "FAIL: $*"; exit 1; }
# Wait until the run has installed its SIGINT/SIGTERM handler (the "caught"
# mask in /proc), then a little more: a fixed sleep alone could land in the
# data loading on a loaded machine, where the default action still applies.
wait_for_handler() {
  local pid=$1 mask
  for _ in $(seq 1 600); do
    mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || true
    [ -n "$mask" ] && (( (16#$mask >> 14) & 1 )) && { sleep 1; return 0; }
    sleep 0.1
  done
  fail "the run did not install its signal handler within 60 s"
}

"$bin" "${common[@]}" --save "$work/straight.safetensors" > /dev/null || fail "the straight run failed"

"$bin" "${common[@]}" --save "$work/stopped.safetensors" > "$work/run.out" 2> "$work/run.err" &
pid=$!
wait_for_handler $pid
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 143 ] || fail "SIGTERM: exit status $rc, expected 143 (stderr: $(cat "$work/run.err"))"
grep -q "stopped by SIGTERM at epoch [12], step [0-9]* (global step [0-9]*). Checkpoint written to" "$work/run.err" ||
  fail "SIGTERM: message: $(cat "$work/run.err")"
msg=$(grep -o "stopped by SIGTERM.*" "$work/run.err")
echo "SIGTERM: $msg"
[ -e "$work/stopped.safetensors" ] || fail "no checkpoint after SIGTERM"

"$bin" "${common[@]}" --resume "$work/stopped.safetensors" --save "$work/resumed.safetensors" > /dev/null ||
  fail "the resumed run failed"
cmp -s "$work/straight.safetensors" "$work/resumed.safetensors" ||
  fail "the resumed run's checkpoint differs from the straight run's"
echo "SIGTERM mid-epoch, then --resume: the final checkpoint equals the uninterrupted run's, byte for byte -> identical"

# The second signal goes once the first has been taken (the handler says so
# on stderr), inside one step of the CNN on batches of 1000 (about half a
# second here). Sent together, the two could merge into one pending signal:
# POSIX does not queue them.
"$bin" --model cnn --batch 1000 --limit-train 20000 --limit-test 200 --epochs 1 --devices cpu --quiet \
  --save "$work/twice.safetensors" > /dev/null 2> "$work/twice.err" &
pid=$!
wait_for_handler $pid
kill -INT $pid
for _ in $(seq 1 200); do grep -q "stopping after this step" "$work/twice.err" && break; sleep 0.02; done
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] || fail "SIGINT twice: exit status $rc, expected 130"
! grep -q "Checkpoint written" "$work/twice.err" || fail "SIGINT twice: the run finished its step and saved"
[ ! -e "$work/twice.safetensors" ] || fail "SIGINT twice: a checkpoint was written"
echo "SIGINT twice: ended at once (status 130), nothing written -> ok"
