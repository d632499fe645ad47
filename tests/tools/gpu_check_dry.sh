#!/usr/bin/env bash
# tools/gpu-check.sh --dry on a machine without a GPU: the script's own logic
# (the order of its steps, the prebuilt binaries first, each command's own
# timeout, required and optional rows, the deadline, the summary after every
# step, the trap on a kill, the files it leaves in $OUT) checked with fake
# steps, so it cannot rot between the runs that have a GPU.
#
#   bash tests/tools/gpu_check_dry.sh REPO_ROOT      (prints "gpu-check dry runs ok")
set -uo pipefail
script="$1/tools/gpu-check.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out="" log=""
fail() {
  echo "FAIL: $*"
  [ -f "$out/summary.txt" ] && cat "$out/summary.txt"
  [ -f "$log" ] && { echo "--- last lines of $log"; tail -40 "$log"; }
  exit 1
}
# A row's value in a summary: row NAME [RUN]
row() { sed -nE "s/^$1 +//p" "$tmp/${2:-$name}/summary.txt"; }
# The steps in the order they started (the "== [T s] step" lines).
starts() { sed -nE 's/^== \[[0-9]+ s\] (.*)$/\1/p' "$tmp/$1.log" | sed -E 's/ \(timeout [0-9]+ s\)$//' | paste -sd'|'; }
# The exit status a background run left.
status() { cat "$tmp/$1.rc"; }
use() { name=$1; out="$tmp/$1"; log="$tmp/$1.log"; }

# Fake data: the four files, small.
mkdir -p "$tmp/data" "$tmp/empty"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  echo x | gzip > "$tmp/data/$f"
done

# launch NAME VAR=VALUE...: one dry run in the background, output in $tmp/NAME.log, status in $tmp/NAME.rc
launch() {
  local n=$1
  shift
  ( env OUT="$tmp/$n" DATA="$tmp/data" "$@" bash "$script" --dry > "$tmp/$n.log" 2>&1; echo $? > "$tmp/$n.rc" ) &
}
# The runs are independent: all at once (the ctest must stay well under a minute).
launch full
launch cut DEADLINE=44 DRY_SLEEP=1                  # time for every required row, not for the optional ones
launch benchfail DRY_FAIL=bench-minidp               # bench_step fails
launch hang DRY_HANG=tests BUDGET_TESTS=2            # the GPU tests hang: their own 2 s budget, then the next rows
launch nodata DATA="$tmp/empty"
launch noprebuilt DRY_PREBUILT=0
launch short DEADLINE=20 DRY_SLEEP=1                 # not even the required rows fit
launch phase CORRECTNESS_BY=16 DRY_HANG=memcheck     # the steps on prebuilt binaries end by 16 s, hung or not
launch fallback DRY_FALLBACK=1                       # minidp's CUDA graph steps ran eagerly
launch noexec DRY_PREBUILT=noexec                    # prebuilt binaries copied without their executable bits
launch buildfail DRY_FAIL=build                      # the build here fails after the prebuilt binaries gave the verdict
launch buildfail0 DRY_FAIL=build DRY_PREBUILT=0      # ... and without prebuilt binaries, where it is the verdict's
launch ddpnoload DRY_DDP_NOLOAD=1                    # the prebuilt test_ddp_gpu alone does not load (its MPI)
launch badrows ROWS="smoke,bogus"
wait
# A rerun of what failed in the hung run (GPU tests, and counts with it).
launch rerun ROWS=failed PREV_SUMMARY="$tmp/hang/summary.txt"
launch rerunnone ROWS=failed PREV_SUMMARY="$tmp/nonexistent/summary.txt"
wait

required="gpu preflight data smoke GPU.tests counts ddp.on.GPU dp.1.vs.2 memcheck configure build.test_gpu build.test_ddp_gpu build.train_mlp build.bench_step"
order_prebuilt="gpu|preflight|data|smoke|GPU tests|ddp on GPU|dp 1 vs 2|memcheck|configure|build test_gpu|build test_ddp_gpu|build train_mlp|build bench_step|benchmark|racecheck"
counts="linear forward fused=12 plain=8 (no algorithm 0), backward fused=8 plain=12 (no algorithm 2); cuda graphs captured=5 replayed=23"

# 1. Time enough: every row filled, in the specified order; the smoke row before
#    configure and within 90 s; counts, memcheck, build times, the benchmark table.
use full
[ "$(status full)" = 0 ] || fail "full dry run exited $(status full)"
for r in $required benchmark racecheck total binaries; do grep -Eq "^${r//./ } " "$out/summary.txt" || fail "row '$r' missing"; done
grep -Eq " (pending|not reached|not checked|running|cut:)|FAILED" "$out/summary.txt" && fail "a row was not filled"
[ "$(starts full)" = "$order_prebuilt" ] || fail "steps ran in the order $(starts full)"
smoke_line=$(grep -n '^<< \[[0-9]* s\] smoke: ok' "$log" | head -1)
configure_line=$(grep -n '^== \[[0-9]* s\] configure' "$log" | head -1)
{ [ -n "$smoke_line" ] && [ -n "$configure_line" ]; } || fail "no smoke result or no configure step"
[ "${smoke_line%%:*}" -lt "${configure_line%%:*}" ] || fail "the smoke row was not done before configure started"
t=$(sed -E 's/^[0-9]+:<< \[([0-9]+) s\].*/\1/' <<< "$smoke_line")
[ "$t" -le 90 ] || fail "the smoke row was done at $t s, not within 90 s"
row smoke | grep -q "^ok: 4/4 smoke cases passed .*(prebuilt binaries)" || fail "smoke row: $(row smoke)"
row binaries | grep -q "^prebuilt, from .*built from these sources" || fail "binaries: $(row binaries)"
[ "$(row counts)" = "$counts" ] || fail "counts not parsed: $(row counts)"
row "GPU tests" | grep -q "^34/34 passed, 0 failed, 0 skipped" || fail "GPU test counts not parsed"
row memcheck | grep -q "^0 errors; 16/16 kernel tests passed" || fail "memcheck not parsed"
row "build test_gpu" | grep -Eq "^ok in [0-9]+ s on [0-9]+ jobs .*slowest: conv.cu.o 61 s, reduce.cu.o 45 s" || fail "build times not parsed"
for t in test_ddp_gpu train_mlp bench_step; do row "build $t" | grep -Eq "^ok in [0-9]+ s" || fail "no build time for $t"; done
row "dp 1 vs 2" | grep -q "^same curves" || fail "dp row: $(row "dp 1 vs 2")"
row benchmark | grep -q "^4 of 4 configurations (table below)" || fail "benchmark row: $(row benchmark)"
[ "$(grep -c 'cuda:0.*1\.25x' "$out/summary.txt")" -ge 10 ] || fail "benchmark table incomplete"
n=$(find "$out" -mindepth 1 | wc -l)
[ "$n" -le 3 ] || fail "$n files in OUT (at most 3: summary.txt, logs.tgz, bench.jsonl)"
listing=$(tar -tzf "$out/logs.tgz")  # (not piped into grep -q: with pipefail, tar's SIGPIPE would fail it)
for f in preflight.txt steps.txt test_gpu.log; do grep -q "$f" <<< "$listing" || fail "logs.tgz lacks $f"; done
[[ "$(tail -1 "$log")" == *1.25x* ]] || fail "summary not printed last"
[ "$(grep -n '^<< ' "$log" | tail -1 | cut -d: -f1)" -lt "$(grep -n '^=* minidp GPU check' "$log" | tail -1 | cut -d: -f1)" ] ||
  fail "a step's output came after the summary"

# 2. A deadline long enough for the required rows only: the optional ones say
#    "cut", and the run passes.
use cut
[ "$(status cut)" = 0 ] || fail "run with the optional rows cut exited $(status cut), expected 0"
row benchmark | grep -Eq "^cut: [0-9]+ s left" || fail "benchmark should be cut: $(row benchmark)"
row racecheck | grep -Eq "^cut: [0-9]+ s left" || fail "racecheck should be cut: $(row racecheck)"
for r in $required; do row "${r//./ }" | grep -Eq "^(not|FAILED|cut|KILLED|running|pending)" && fail "required row $r: $(row "${r//./ }")"; done

# 3. A failed bench_step: FAILED in the benchmark, exit status 1.
use benchfail
[ "$(status benchfail)" = 1 ] || fail "run with a failed bench_step exited $(status benchfail), expected 1"
row benchmark | grep -q "^FAILED: 10 command(s) failed" || fail "benchmark row: $(row benchmark)"
grep -q "^FAILED  bench_step mlp 512 fp32 cuda:0 eager (rc 1" "$out/summary.txt" || fail "no FAILED line in the benchmark table"
grep -q "^FAILED  bench_step wide 8192 tf32 cuda:0 eager" "$out/summary.txt" || fail "no FAILED line for the last configuration"

# 4. A hung step: its row times out at its own budget; the rows after it still run.
use hang
[ "$(status hang)" = 1 ] || fail "run with a hung step exited $(status hang), expected 1"
row "GPU tests" | grep -q "^timed out after 2 s (its budget)" || fail "GPU tests row: $(row "GPU tests")"
row counts | grep -q "^not checked: the GPU tests did not finish" || fail "counts row: $(row counts)"
for r in ddp.on.GPU dp.1.vs.2 memcheck configure build.test_gpu build.bench_step benchmark racecheck; do
  row "${r//./ }" | grep -Eq "^(not|FAILED|cut|timed|KILLED|running|pending)" && fail "row $r after the hung step: $(row "${r//./ }")"
done
[ "$(starts hang)" = "$order_prebuilt" ] || fail "after the hung step the order was $(starts hang)"

# 5. No data: the data row fails and says how to fix it; dp 1 vs 2 says it needs the data.
use nodata
[ "$(status nodata)" = 1 ] || fail "run without data exited $(status nodata), expected 1"
row data | grep -q "^FAILED: Fashion-MNIST is not in .*apt-get install dataset-fashion-mnist" || fail "data row: $(row data)"
row "dp 1 vs 2" | grep -q "^not checked: needs data" || fail "dp row without data: $(row "dp 1 vs 2")"

# 6. No prebuilt binaries: the smoke row says so, and runs right after building test_gpu.
use noprebuilt
[ "$(status noprebuilt)" = 0 ] || fail "run without prebuilt binaries exited $(status noprebuilt), expected 0"
[ "$(starts noprebuilt)" = "gpu|preflight|data|configure|build test_gpu|smoke|build test_ddp_gpu|build train_mlp|build bench_step|GPU tests|ddp on GPU|dp 1 vs 2|memcheck|benchmark|racecheck" ] ||
  fail "steps without prebuilt binaries ran in the order $(starts noprebuilt)"
grep -q "^<< \[[0-9]* s\] smoke: no prebuilt binaries in .*run tools/gpu-prebuild.sh.*smoke runs after the build" "$log" ||
  fail "the smoke row did not say first that there are no prebuilt binaries"
row smoke | grep -q "^ok: 4/4 smoke cases passed .*(binaries built here)" || fail "smoke row: $(row smoke)"
row binaries | grep -q "^built here" || fail "binaries: $(row binaries)"

# 7. Not enough time for the required rows: those not reached in time fail the run.
use short
[ "$(status short)" = 1 ] || fail "run with too short a deadline exited $(status short), expected 1"
grep -Eq "^(dp 1 vs 2|memcheck|configure) +not checked: -?[0-9]+ s left before the deadline" "$out/summary.txt" ||
  fail "no required row says it was not checked for lack of time"
grep -Eq "^(benchmark|racecheck) +FAILED" "$out/summary.txt" && fail "an optional row failed for lack of time"

# 8. The steps on the prebuilt binaries end by CORRECTNESS_BY, so that the build gets its time.
use phase
[ "$(status phase)" = 1 ] || fail "run with a hung memcheck exited $(status phase), expected 1"
row memcheck | grep -Eq "^(timed out after [0-9]+ s \(cut by|not checked: -?[0-9]+ s left before) the 16 s limit of the steps before the build" ||
  fail "memcheck row: $(row memcheck)"
t=$(sed -nE 's/^== \[([0-9]+) s\] configure.*/\1/p' "$log")
{ [ -n "$t" ] && [ "$t" -le 18 ]; } || fail "configure started at ${t:-?} s, expected by 18 s"
row "build bench_step" | grep -q "^ok" || fail "the build after the cut: $(row "build bench_step")"

# 9. A CUDA graph step that fell back to eager: its own FAILED line with minidp's reason, its own table row.
use fallback
[ "$(status fallback)" = 1 ] || fail "run with graph steps that fell back exited $(status fallback), expected 1"
grep -q "^FAILED  bench_step mlp 512 fp32 cuda:0 graph: FELL BACK to eager ((dry) capture refused" "$out/summary.txt" ||
  fail "no FELL BACK line for the mlp graph step"
grep -Eq "^ +mlp +512 +fp32 +cuda:0 graph FELL BACK \(ran eager\)" "$out/summary.txt" || fail "no FELL BACK row in the table"
row benchmark | grep -q "^FAILED: 4 command(s) failed or fell back" || fail "benchmark row: $(row benchmark)"

# 10. Prebuilt binaries that lost their executable bits on the way still run (the fake smoke step runs test_gpu).
use noexec
[ "$(status noexec)" = 0 ] || fail "run with non-executable prebuilt files exited $(status noexec), expected 0"
row smoke | grep -q "^ok: 4/4 smoke cases passed .*(prebuilt binaries)" || fail "smoke row: $(row smoke)"
grep -q "fake binary test_gpu ran" <<< "$(tar -xzOf "$out/logs.tgz" ./smoke.log)" || fail "the prebuilt test_gpu did not run"

# 11. The build here fails after the prebuilt binaries passed: reported, not counted; without them it is the verdict.
use buildfail
[ "$(status buildfail)" = 0 ] || fail "a failed build after a prebuilt verdict exited $(status buildfail), expected 0"
row "build test_gpu" | grep -q "^FAILED (rc 1).*(not counted: the prebuilt binaries gave the verdict)" ||
  fail "build row: $(row "build test_gpu")"
row benchmark | grep -q "^4 of 4 configurations" || fail "the benchmark did not fall back on the prebuilt bench_step: $(row benchmark)"
use buildfail0
[ "$(status buildfail0)" = 1 ] || fail "a failed build without prebuilt binaries exited $(status buildfail0), expected 1"
row smoke | grep -q "^not checked: no prebuilt binaries, and build test_gpu did not succeed" || fail "smoke row: $(row smoke)"

# 12. Only test_ddp_gpu does not load (MPI): the DDP row waits for this machine's build; the rest runs prebuilt.
use ddpnoload
[ "$(status ddpnoload)" = 0 ] || fail "run with test_ddp_gpu not loading exited $(status ddpnoload), expected 0"
grep -q "^<< \[[0-9]* s\] ddp on GPU: the prebuilt test_ddp_gpu does not load here: .*runs after this machine's build" "$log" ||
  fail "the DDP row did not say first why it waits"
[ "$(starts ddpnoload)" = "gpu|preflight|data|smoke|GPU tests|dp 1 vs 2|memcheck|configure|build test_gpu|build test_ddp_gpu|build train_mlp|build bench_step|ddp on GPU|benchmark|racecheck" ] ||
  fail "steps with test_ddp_gpu not loading ran in the order $(starts ddpnoload)"
row "ddp on GPU" | grep -q "passed" || fail "ddp row: $(row "ddp on GPU")"
row smoke | grep -q "(prebuilt binaries)" || fail "smoke row: $(row smoke)"

# 13. ROWS: a rerun of the rows that failed, read from the previous summary; a wrong row name is refused.
use rerun
[ "$(status rerun)" = 0 ] || fail "rerun of the failed rows exited $(status rerun), expected 0"
[ "$(starts rerun)" = "gpu|preflight|data|GPU tests" ] || fail "the rerun ran $(starts rerun)"
row rows | grep -q "^ROWS=failed, from .*hang/summary.txt: GPU tests; counts;$" || fail "rows line: $(row rows)"
row "GPU tests" | grep -q "^34/34 passed" || fail "GPU tests row in the rerun: $(row "GPU tests")"
row memcheck | grep -q "^not run (not selected by ROWS)" || fail "memcheck row in the rerun: $(row memcheck)"
row "build test_gpu" | grep -q "^not run (not selected" || fail "build row in the rerun: $(row "build test_gpu")"
use rerunnone
[ "$(status rerunnone)" = 2 ] || fail "ROWS=failed without a previous summary exited $(status rerunnone), expected 2"
grep -q "ROWS=failed needs the previous run's summary.txt" "$log" || fail "no message for the missing previous summary"
use badrows
[ "$(status badrows)" = 2 ] || fail "ROWS with an unknown row exited $(status badrows), expected 2"
grep -q "ROWS: unknown row 'bogus'; the rows are: gpu, preflight" "$log" || fail "no message for the unknown row"

# 14. The benchmark's arithmetic: every command's estimate (its steps at the
#     reference step times, with margins) fits its budget.
plan=$(bash "$script" --bench-plan) || fail "a benchmark command cannot fit its budget: $plan"
[ "$(grep -c ' ok$' <<< "$plan")" = 14 ] || fail "the plan does not list 14 commands, each ok: $plan"
BUDGET_BENCH=20 bash "$script" --bench-plan > /dev/null && fail "--bench-plan accepted a 20 s budget for the wide model"

# 15. Killed in the middle of a step: the trap writes and prints the summary at once.
use killed
OUT="$out" DATA="$tmp/data" DEADLINE=300 DRY_SLEEP=20 bash "$script" --dry > "$log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do grep -q "^smoke *running" "$out/summary.txt" 2>/dev/null && break; sleep 0.2; done
t0=$(date +%s)
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 124 ] || fail "killed run exited $rc, expected 124"
[ $(( $(date +%s) - t0 )) -le 10 ] || fail "the trap waited for the step to end"
row smoke | grep -q "^KILLED while running" || fail "the killed step is not named"
grep -q "^smoke .*KILLED while running" "$log" || fail "summary not printed on the kill"
[ "$(tail -1 "$log" | cut -c1-5)" = "total" ] || fail "the summary is not the last thing printed on the kill"
echo "gpu-check dry runs ok"
