#!/usr/bin/env bash
# Exact resume: 12 steps straight must equal 6 steps, save, load, 6 more steps —
# the saved checkpoints (weights, optimizer state, metadata) byte for byte.
# The run crosses an epoch boundary (8 steps per epoch) and uses two replicas.
set -euo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--limit-train 800 --limit-test 100 --batch 100 --epochs 2 --devices cpu,cpu --quiet)
"$bin" "${common[@]}" --max-steps 12 --save "$work/straight.safetensors" > /dev/null
"$bin" "${common[@]}" --max-steps 6 --save "$work/half.safetensors" > /dev/null
# A different --seed: only a working resume (weights, optimizer state, seed,
# position in the epoch) can reproduce the straight run.
"$bin" "${common[@]}" --seed 99 --resume "$work/half.safetensors" --max-steps 12 --save "$work/resumed.safetensors" > /dev/null
"$bin" "${common[@]}" --seed 99 --max-steps 12 --save "$work/fresh.safetensors" > /dev/null
if cmp -s "$work/straight.safetensors" "$work/fresh.safetensors"; then
  echo "resume: a run without --resume matched too: the check cannot tell"; exit 1
fi
if cmp -s "$work/straight.safetensors" "$work/resumed.safetensors"; then
  echo "resume: 12 straight steps == 6 + save/load + 6 steps, bitwise ($(stat -c %s "$work/straight.safetensors") bytes) -> identical"
else
  echo "resume: checkpoints differ"; cmp "$work/straight.safetensors" "$work/resumed.safetensors" || true; exit 1
fi
