#!/usr/bin/env bash
# Checks the instructions in minidp's static library against the x86-64
# baseline (SSE2): a library built for "any x86-64 machine" must hold no AVX,
# AVX-512, FMA or BMI instruction, or a program linking it can die with SIGILL
# on an older processor.
#   baseline_isa.sh LIB portable   -> fails if any such instruction is found
#   baseline_isa.sh LIB native     -> fails if none is found (the check can see them)
set -euo pipefail
lib=$1 mode=$2
command -v objdump > /dev/null || { echo "FAIL: objdump not found (binutils)"; exit 1; }
# VEX/EVEX-encoded instructions all start with "v" (vaddps, vfmadd231ps,
# vpxord ...), except the old verr/verw; AVX-512 adds the k mask registers;
# BMI1/2, LZCNT and POPCNT are beyond the baseline too. (Not TZCNT: GCC emits
# `rep bsf` for a count of trailing zeros, which objdump shows as tzcnt and
# which older processors run as plain bsf, with the same result for a
# non-zero input.)
pattern='^\s+[0-9a-f]+:\s+(v[a-z0-9]+|kmov[bwdq]|kand[a-z]*|kor[a-z]*|andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|sarx|shlx|shrx|lzcnt|popcnt)\s'
found=$(objdump -d --no-show-raw-insn "$lib" 2>/dev/null | grep -E "$pattern" | grep -vE '\s(verr|verw)\s' || true)
n=$(printf '%s' "$found" | grep -c . || true)
echo "$lib: $n instructions beyond the x86-64 baseline"
if [ "$mode" = portable ]; then
  if [ "$n" -gt 0 ]; then
    echo "FAIL: the portable library uses instructions beyond x86-64 (first 10 below)"
    printf '%s\n' "$found" | head -10
    exit 1
  fi
  echo "portable library: baseline x86-64 only -> ok"
else
  [ "$n" -gt 0 ] || { echo "FAIL: a -march=native build shows no vector instruction: the check cannot see them"; exit 1; }
  echo "native library: $n instructions beyond the baseline, as asked -> ok"
fi
