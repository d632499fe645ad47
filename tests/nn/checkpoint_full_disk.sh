#!/usr/bin/env bash
# A full disk while saving: train_mlp --save over an existing checkpoint, run
# with a file size limit (ulimit -f) and SIGXFSZ ignored, so that writing past
# the limit fails with EFBIG exactly as a write to a full disk fails with
# ENOSPC. The save must fail loudly (a non-zero exit, a message that says the
# previous checkpoint is untouched), leave that checkpoint byte for byte as it
# was, and leave no temporary file behind.
set -euo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--limit-train 600 --limit-test 100 --quiet)
ck=$work/run.safetensors
"$bin" "${common[@]}" --max-steps 1 --save "$ck" > /dev/null
cp "$ck" "$work/before.bin"
size_kb=$(( $(stat -c %s "$ck") / 1024 ))
limit_kb=$(( size_kb / 2 ))  # half the checkpoint fits

# In a subshell: lower the limit, ignore SIGXFSZ (an ignored signal stays
# ignored across exec), and run the save. Its output goes to /dev/null and a
# pipe, not to files, which the limit would cut too.
set +e
err=$( (ulimit -f "$limit_kb"; trap '' XFSZ; exec "$bin" "${common[@]}" --max-steps 2 --save "$ck" > /dev/null) 2>&1 )
status=$?
set -e
echo "train_mlp under ulimit -f $limit_kb (checkpoint: $size_kb KiB) exited with $status:"
echo "  $err"
fail() { echo "full disk: $*"; exit 1; }
[ "$status" -ne 0 ] || fail "the save past the limit reported success"
case $err in
  *"$ck: cannot save: "*) ;;
  *) fail "the message does not say the save of $ck failed" ;;
esac
case $err in
  *"the previous checkpoint $ck is untouched"*) ;;
  *) fail "the message does not say the previous checkpoint is untouched" ;;
esac
cmp -s "$ck" "$work/before.bin" || fail "the previous checkpoint changed"
leftover=$(find "$work" -name 'run.safetensors.tmp.*')
[ -z "$leftover" ] || fail "a temporary file was left behind: $leftover"
# The limit was what failed the save: without it, the same run saves and the file changes.
"$bin" "${common[@]}" --max-steps 2 --save "$ck" > /dev/null
if cmp -s "$ck" "$work/before.bin"; then fail "a save without the limit did not change the checkpoint: the check cannot tell"; fi
echo "full disk: the save failed, the previous checkpoint is byte-identical, no temporary file -> untouched"
