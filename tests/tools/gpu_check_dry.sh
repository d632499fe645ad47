#!/usr/bin/env bash
# tools/gpu-check.sh --dry on a machine without a GPU: the script's own logic
# (deadline, skips, summary after every step, the trap on a kill, the files
# it leaves in $OUT) checked with fake steps, so it cannot rot between the
# rare sessions that have a GPU.
set -uo pipefail
script="$1/tools/gpu-check.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$out/summary.txt" ] && cat "$out/summary.txt"; exit 1; }
rows="gpu preflight configure build.test_gpu GPU.tests memcheck build.all dp.1.vs.2 ddp.on.GPU benchmark racecheck total"

# 1. Time enough: every row filled, none pending, the benchmark table, at most 3 files.
out="$tmp/full"
OUT="$out" DEADLINE=120 bash "$script" --dry > "$tmp/full.log" 2>&1
rc=$?
[ $rc = 0 ] || fail "full dry run exited $rc"
for r in $rows; do grep -Eq "^${r//./ } " "$out/summary.txt" || fail "row '$r' missing"; done
grep -Eq " (pending|not reached|skipped:|running)|FAILED" "$out/summary.txt" && fail "a row was not filled"
grep -q "34/34 passed" "$out/summary.txt" || fail "GPU test counts not parsed"
grep -q "0 errors; 16/16 kernel tests passed" "$out/summary.txt" || fail "memcheck not parsed"
grep -q "slowest: conv.cu.o 61 s" "$out/summary.txt" || fail "build times not parsed"
[ "$(grep -c 'cuda:0' "$out/summary.txt")" -ge 6 ] || fail "benchmark table incomplete"
grep -q "1.25x" "$out/summary.txt" || fail "no ratio in the benchmark table"
n=$(ls "$out" | wc -l)
[ "$n" -le 3 ] || fail "$n files in OUT (at most 3 come back from the device tool)"
listing=$(tar -tzf "$out/logs.tgz")  # (not piped into grep -q: with pipefail, tar's SIGPIPE would fail it)
grep -q preflight.txt <<< "$listing" || fail "logs.tgz lacks the logs"
[[ "$(tail -1 "$tmp/full.log")" == *1.25x* ]] || fail "summary not printed last"

# 2. A short deadline: steps that cannot fit are skipped and say so; exit status 1.
out="$tmp/short"
OUT="$out" DEADLINE=40 DRY_SLEEP=3 bash "$script" --dry > "$tmp/short.log" 2>&1
rc=$?
[ $rc = 1 ] || fail "short dry run exited $rc, expected 1"
grep -q "^configure .*ok" "$out/summary.txt" || fail "configure should fit in 40 s"
grep -Eq "^build test_gpu +skipped: needs at least 45 s" "$out/summary.txt" || fail "build should be skipped"
grep -Eq "^GPU tests +not reached" "$out/summary.txt" || fail "tests should be 'not reached'"

# 3. Killed in the middle of a step: the trap writes and prints the summary at once.
out="$tmp/killed"
OUT="$out" DEADLINE=300 DRY_SLEEP=20 bash "$script" --dry > "$tmp/killed.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do grep -q "^configure *running" "$out/summary.txt" 2>/dev/null && break; sleep 0.2; done
t0=$(date +%s)
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 124 ] || fail "killed run exited $rc, expected 124"
[ $(( $(date +%s) - t0 )) -le 10 ] || fail "the trap waited for the step to end"
grep -q "^configure .*KILLED while running" "$out/summary.txt" || fail "the killed step is not named"
grep -q "KILLED while running" "$tmp/killed.log" || fail "summary not printed on the kill"
echo "gpu-check dry runs ok"
