#!/usr/bin/env bash
# The scaling study across processes measures its own baseline: under
# mpirun -np 3, `scaling --ddp` trains with the first 1, 2 and 3 ranks in one
# job and prints a row for each, every speedup against the 1-process row of
# the same run. Strong scaling (global batch fixed): the accuracy of every row
# within 1 point of the 1-process row. Weak scaling (batch per device fixed,
# --lr-scaling linear): row k has k times the batch and k times the rate.
# usage: scaling_ddp.sh MPIRUN SCALING
set -euo pipefail
mpirun=$1 bin=$2
data=/usr/share/datasets/fashion-mnist
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "SKIPPED: no Fashion-MNIST in $data"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { "$mpirun" --oversubscribe --bind-to none -np "$1" "$bin" --ddp --data "$data" --limit-train 1536 \
          --limit-test 300 --epochs 1 "${@:2}"; }
run 3 --batch 96 --json "$work/strong.json"
run 2 --batch 48 --weak --lr-scaling linear --warmup-steps 3 --json "$work/weak.json"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
strong = json.load(open(f"{work}/strong.json"))["rows"]
assert [r["replicas"] for r in strong] == [1, 2, 3], strong
base = strong[0]["samples_per_s"]
for r in strong:
    assert abs(r["speedup"] - r["samples_per_s"] / base) < 1e-9, r
    assert r["batch"] == 96, r
    assert abs(r["test_accuracy"] - strong[0]["test_accuracy"]) <= 0.01, (r, strong[0])
weak = json.load(open(f"{work}/weak.json"))
assert weak["weak"] and weak["batch"] == 48, weak
rows = weak["rows"]
assert [r["batch"] for r in rows] == [48, 96], rows
assert abs(rows[1]["lr"] - 2 * rows[0]["lr"]) < 1e-12, rows
speedups = ", ".join("%.2fx" % r["speedup"] for r in strong)
accuracies = ", ".join("%.2f%%" % (100 * r["test_accuracy"]) for r in strong)
print("scaling --ddp: rows for 1, 2, 3 processes, speedups against the measured 1-process row (%s), accuracy %s; "
      "weak rows: batch 48 -> 96, lr %g -> %g -> ok" % (speedups, accuracies, rows[0]["lr"], rows[1]["lr"]))
PY
