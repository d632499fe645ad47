#!/usr/bin/env bash
# expect_exercise.sh N PROGRAM [ARGS...] — passes when PROGRAM, built with the
# untouched labs/N-*/exercise.cpp, fails and says "lab N is yours to write".
n=$1
shift
out=$("$@" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "lab $n is yours to write" <<<"$out"; then
  echo "as expected: exit status $rc and \"$(grep -o "lab $n is yours to write[^\"]*" <<<"$out" | head -1 | cut -c1-120)...\""
  exit 0
fi
echo "expected a failure saying \"lab $n is yours to write\"; got exit status $rc and:"
echo "$out" | tail -20
exit 1
