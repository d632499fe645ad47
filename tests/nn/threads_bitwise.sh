#!/usr/bin/env bash
# Results do not depend on the CPU's thread count: a few training steps with
# 1, 2 and 4 threads must write the same checkpoint, byte for byte (weights,
# momentum buffers, metadata). The sizes are chosen so that every kind of
# chunked loop runs in several chunks: GEMMs of more than 256 rows, several
# image groups per convolution, reductions of several partials, elementwise
# ops beyond one chunk. The CNN runs on both convolution paths: oneDNN's
# (the default where the build has it) and the reference im2col + GEMM; the
# MLP on both float32 GEMM paths: oneDNN's sgemm (the default where the build
# has it) and the BLAS (OpenBLAS, or Eigen).
set -euo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() {  # name, then train_mlp's flags
  local name=$1; shift
  "$bin" "$@" --epochs 1 --save "$work/$name.safetensors" > "$work/$name.log"
}
run_ref() {  # the same, on the reference convolutions (im2col + the BLAS's products)
  local name=$1; shift
  MINIDP_CPU_CONV=reference MINIDP_CPU_GEMM=blas "$bin" "$@" --epochs 1 --save "$work/$name.safetensors" > "$work/$name.log"
}
run_blas() {  # the same, with the float32 products on the BLAS
  local name=$1; shift
  MINIDP_CPU_GEMM=blas "$bin" "$@" --epochs 1 --save "$work/$name.safetensors" > "$work/$name.log"
}
check_threads() {  # log, expected header
  grep -q "$2" "$work/$1.log" || { echo "threads: $1 did not run as asked (expected '$2'):"; cat "$work/$1.log"; exit 1; }
}
same() {  # a, b
  if cmp -s "$work/$1.safetensors" "$work/$2.safetensors"; then
    echo "threads: $1 == $2 bitwise ($(stat -c %s "$work/$1.safetensors") bytes)"
  else
    echo "threads: $1 and $2 differ"; cmp "$work/$1.safetensors" "$work/$2.safetensors" || true; exit 1
  fi
}
mlp=(--model mlp --limit-train 900 --limit-test 100 --batch 300 --max-steps 3)
cnn=(--model cnn --limit-train 256 --limit-test 64 --batch 64 --max-steps 3)
for t in 1 2 4; do
  run "mlp-t$t" "${mlp[@]}" --devices cpu --threads "$t"
  check_threads "mlp-t$t" "CPU threads: $t ($t per replica)"
  run_blas "mlp-blas-t$t" "${mlp[@]}" --devices cpu --threads "$t"
  run "cnn-t$t" "${cnn[@]}" --devices cpu --threads "$t"
  run_ref "cnn-ref-t$t" "${cnn[@]}" --devices cpu --threads "$t"
done
# oneDNN's own OpenMP threads must not change the bits either: minidp runs
# each of its calls on one OpenMP thread, whatever OMP_NUM_THREADS says.
OMP_NUM_THREADS=1 run cnn-omp1 "${cnn[@]}" --devices cpu --threads 2
OMP_NUM_THREADS=4 run cnn-omp4 "${cnn[@]}" --devices cpu --threads 2
OMP_NUM_THREADS=1 run mlp-omp1 "${mlp[@]}" --devices cpu --threads 2
OMP_NUM_THREADS=4 run mlp-omp4 "${mlp[@]}" --devices cpu --threads 2
# A wrong MINIDP_CPU_CONV or MINIDP_CPU_GEMM is refused, naming what it expected.
if MINIDP_CPU_CONV=fast "$bin" "${cnn[@]}" --devices cpu --epochs 1 > "$work/bad.log" 2>&1 ||
   ! grep -q "MINIDP_CPU_CONV: unknown path 'fast'; expected 'onednn' or 'reference'" "$work/bad.log"; then
  echo "threads: MINIDP_CPU_CONV=fast was not refused as expected:"; cat "$work/bad.log"; exit 1
fi
if MINIDP_CPU_GEMM=fast "$bin" "${mlp[@]}" --devices cpu --epochs 1 > "$work/bad.log" 2>&1 ||
   ! grep -q "MINIDP_CPU_GEMM: unknown path 'fast'; expected 'onednn' or 'blas'" "$work/bad.log"; then
  echo "threads: MINIDP_CPU_GEMM=fast was not refused as expected:"; cat "$work/bad.log"; exit 1
fi
if grep -q "float32 matrix products by oneDNN" "$work/mlp-t1.log"; then
  grep -q "float32 matrix products by oneDNN" "$work/mlp-blas-t1.log" &&
    { echo "threads: MINIDP_CPU_GEMM=blas still ran oneDNN's products:"; cat "$work/mlp-blas-t1.log"; exit 1; }
  # The two paths sum in other orders: their checkpoints differ, so the runs above took both.
  if cmp -s "$work/mlp-t1.safetensors" "$work/mlp-blas-t1.safetensors"; then
    echo "threads: oneDNN's and the BLAS's MLP checkpoints are identical: did both paths run?"; exit 1
  fi
else
  echo "threads: this build has no oneDNN: the MLP's products ran on the BLAS only"
fi
check_threads cnn-ref-t1 "CPU convolutions: im2col + GEMM (reference)"
if grep -q "CPU convolutions: oneDNN" "$work/cnn-t1.log"; then
  # The two paths sum in other orders: their checkpoints differ, so the runs above took both.
  if cmp -s "$work/cnn-t1.safetensors" "$work/cnn-ref-t1.safetensors"; then
    echo "threads: oneDNN's and the reference's CNN checkpoints are identical: did both paths run?"; exit 1
  fi
else
  echo "threads: this build has no oneDNN: the CNN ran on the reference convolutions only"
fi
# Two replicas on the CPU: 1 and 2 threads each.
run "mlp2-t2" "${mlp[@]}" --devices cpu,cpu --threads 2
check_threads "mlp2-t2" "CPU threads: 2 (1 per replica)"
run "mlp2-t4" "${mlp[@]}" --devices cpu,cpu --threads 4
# The comparison can fail: another seed gives another checkpoint.
run "mlp-seed" "${mlp[@]}" --devices cpu --threads 2 --seed 7
if cmp -s "$work/mlp-t2.safetensors" "$work/mlp-seed.safetensors"; then
  echo "threads: another seed gave the same checkpoint: the check cannot tell"; exit 1
fi
same mlp-t1 mlp-t2
same mlp-t1 mlp-t4
same mlp-t1 mlp-omp1
same mlp-t1 mlp-omp4
same mlp-blas-t1 mlp-blas-t2
same mlp-blas-t1 mlp-blas-t4
same cnn-t1 cnn-t2
same cnn-t1 cnn-t4
same cnn-t1 cnn-omp1
same cnn-t1 cnn-omp4
same cnn-ref-t1 cnn-ref-t2
same cnn-ref-t1 cnn-ref-t4
same mlp2-t2 mlp2-t4
echo "threads: checkpoints independent of the thread count -> identical"
