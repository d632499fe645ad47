#!/usr/bin/env bash
# Exact resume across processes: with mpirun -np 2 --ddp, 12 steps straight
# equal 6 steps, a checkpoint written by rank 0, and 6 more steps resumed by
# both ranks from that file — the final checkpoints byte for byte.
# usage: resume_ddp.sh MPIRUN TRAIN_MLP
set -euo pipefail
mpirun=$1 bin=$2
data=/usr/share/datasets/fashion-mnist
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "SKIPPED: no Fashion-MNIST in $data"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { "$mpirun" --oversubscribe --bind-to none -np 2 "$bin" --ddp --data "$data" --limit-train 800 --limit-test 100 \
          --batch 100 --epochs 2 --quiet "$@" > /dev/null; }
run --max-steps 12 --save "$work/straight.safetensors"
run --max-steps 6 --save "$work/half.safetensors"
run --seed 99 --resume "$work/half.safetensors" --max-steps 12 --save "$work/resumed.safetensors"
if cmp -s "$work/straight.safetensors" "$work/resumed.safetensors"; then
  echo "resume across 2 processes: 12 straight steps == 6 + save/load + 6 steps, bitwise -> identical"
else
  echo "resume across 2 processes: checkpoints differ"; exit 1
fi
