#!/usr/bin/env bash
# A dead or stuck rank must not hang the job: the others stop within 60 s with
# a message that names a rank and what it was waiting for.
#   1. kill -9 of rank 1 in the middle of training (mpirun notices the death);
#   2. SIGSTOP of rank 1 (alive but silent): the others give up after
#      --comm-timeout seconds in their gradient sum and end the job.
#   3. an error on one rank (a data file that only rank 2 cannot read) ends the
#      job with that rank's message, no one left waiting.
# usage: faults.sh MPIRUN TRAIN_MLP
set -uo pipefail
mpirun=$1 bin=$2
data=/usr/share/datasets/fashion-mnist
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "SKIPPED: no Fashion-MNIST in $data"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp=$(mktemp -d)
trap 'kill -9 $(cat "$tmp"/pid.* 2>/dev/null) 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; tail -20 "$tmp/out"; exit 1; }
launch() {  # every rank writes its PID, then becomes train_mlp
  "$mpirun" --oversubscribe --bind-to none -np 3 bash -c \
    'echo $$ > '"$tmp"'/pid.$OMPI_COMM_WORLD_RANK; exec "$0" "$@"' \
    "$bin" --ddp --data "$data" --epochs 100 --limit-train 6000 --limit-test 100 "$@" > "$tmp/out" 2>&1 &
  job=$!
  # Training has begun once rank 0's epoch table reaches the file (its stdout
  # is flushed at each epoch's end): every rank has then loaded its data and
  # received the parameters' broadcast. A fixed sleep was not enough on a
  # loaded machine: the fault landed in the broadcast, not in a step.
  for _ in $(seq 1 600); do grep -q "train_loss" "$tmp/out" 2>/dev/null && [ -f "$tmp/pid.1" ] && break; sleep 0.1; done
  grep -q "train_loss" "$tmp/out" || fail "training did not start within 60 s"
  sleep 1  # a few steps into training
}

# 1. a killed rank
launch --comm-timeout 60
t0=$(date +%s.%N)
kill -9 "$(cat "$tmp/pid.1")"
wait $job
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
grep -Eq "rank 1" "$tmp/out" || fail "the killed rank is not named"
echo "killed rank 1: the job ended after ${secs} s; mpirun said: $(grep -m1 -E 'rank 1' "$tmp/out" | sed 's/^ *//')"
awk -v s="$secs" 'BEGIN { exit !(s < 60) }' || fail "took ${secs} s"
rm -f "$tmp"/pid.*

# 2. a stuck rank
launch --comm-timeout 5
t0=$(date +%s.%N)
kill -STOP "$(cat "$tmp/pid.1")"
wait $job
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
grep -Eq "minidp rank [02] of 3: waited 5 s for .*(gradient sum|loss)" "$tmp/out" || fail "no rank said what it waited for"
echo "stopped rank 1: the job ended after ${secs} s; $(grep -m1 -E 'minidp rank' "$tmp/out")"
awk -v s="$secs" 'BEGIN { exit !(s < 60) }' || fail "took ${secs} s"
rm -f "$tmp"/pid.*

# 3. an error on one rank: rank 2 reads a data folder that does not exist
"$mpirun" --oversubscribe --bind-to none -np 3 bash -c \
  'd='"$data"'; [ "$OMPI_COMM_WORLD_RANK" = 2 ] && d=/nonexistent; exec "$0" "$@" --data "$d"' \
  "$bin" --ddp --epochs 1 --limit-train 600 --quiet > "$tmp/out" 2>&1
rc=$?
[ $rc != 0 ] || fail "the job succeeded"
grep -q "minidp rank 2 of 3: .*cannot find train-images" "$tmp/out" || fail "rank 2's error is not reported with its rank"
echo "an error on rank 2 ended the job: $(grep -m1 'minidp rank 2' "$tmp/out")"
echo "faults ok"
