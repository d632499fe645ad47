#!/usr/bin/env bash
# OpenBLAS picks its kernels from the CPU's model when the program starts; a
# CPU it does not recognise gets the oldest (Prescott) kernels, several times
# slower. minidp names the kernels and warns when they are older than the CPU.
# Forcing the old kernels (OPENBLAS_CORETYPE=Prescott) on a CPU with AVX2 must
# bring the warning; the kernels OpenBLAS picks by itself are named. The
# float32 products run on OpenBLAS here (MINIDP_CPU_GEMM=blas): by default,
# in builds with oneDNN, they run on oneDNN's sgemm, which picks its own.
# usage: openblas_kernels.sh BENCH_STEP
set -euo pipefail
bin=$1
export MINIDP_CPU_GEMM=blas
grep -qw avx2 /proc/cpuinfo || { echo "SKIPPED: this CPU has no AVX2, so old kernels are the right ones"; exit 77; }
own=$("$bin" --model mlp --batch 8 --steps 1 --runs 1 --warmup 0 2>&1)
case "$own" in *"OpenBLAS "*) ;; *) echo "SKIPPED: built without OpenBLAS"; exit 77;; esac
echo "$own" | grep -o "threads [0-9]* ([^)]*)"
forced=$(OPENBLAS_CORETYPE=Prescott "$bin" --model mlp --batch 8 --steps 1 --runs 1 --warmup 0 2>&1)
echo "$forced" | grep -o "threads [0-9]* ([^)]*)"
if echo "$forced" | grep -q "WARNING: OpenBLAS runs its Prescott kernels on a CPU with AVX.*OPENBLAS_CORETYPE="; then
  echo "$forced" | grep "WARNING"
  echo "old kernels on a newer CPU: warned -> ok"
else
  echo "no warning for Prescott kernels on a CPU with AVX2"; exit 1
fi
