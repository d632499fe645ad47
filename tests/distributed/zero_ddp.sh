#!/usr/bin/env bash
# ZeRO-1 in the example, as a user runs it: train_mlp --ddp --zero 1 writes the
# checkpoint that --zero 0 writes, byte for byte (weights and the gathered
# Adam state), on 2 and 3 processes; and a ZeRO-1 checkpoint of 3 processes
# resumes on 2, with and without ZeRO-1, to the same bytes.
# usage: zero_ddp.sh MPIRUN TRAIN_MLP
set -euo pipefail
mpirun=$1 bin=$2
data=/usr/share/datasets/fashion-mnist
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "SKIPPED: no Fashion-MNIST in $data"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() { local np=$1; shift; "$mpirun" --oversubscribe --bind-to none -np "$np" "$bin" --ddp --data "$data" \
          --limit-train 900 --limit-test 100 --batch 100 --epochs 2 --optimizer adam --lr 0.001 --quiet "$@" > /dev/null; }
same() {
  if cmp -s "$1" "$2"; then echo "$3 -> identical"; else echo "$3 -> the checkpoints differ"; exit 1; fi
}
for np in 2 3; do
  run "$np" --zero 0 --max-steps 8 --save "$work/ddp$np.safetensors"
  run "$np" --zero 1 --max-steps 8 --save "$work/zero$np.safetensors"
  same "$work/ddp$np.safetensors" "$work/zero$np.safetensors" "$np processes, 8 Adam steps: --zero 1 == --zero 0, bitwise"
done
run 3 --zero 1 --max-steps 4 --save "$work/half3.safetensors"
run 2 --zero 1 --resume "$work/half3.safetensors" --max-steps 8 --save "$work/resumed_zero.safetensors"
run 2 --zero 0 --resume "$work/half3.safetensors" --max-steps 8 --save "$work/resumed_ddp.safetensors"
same "$work/resumed_zero.safetensors" "$work/resumed_ddp.safetensors" \
  "a ZeRO-1 checkpoint of 3 processes resumed on 2: --zero 1 == --zero 0, bitwise"
