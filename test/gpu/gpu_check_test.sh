#!/usr/bin/env bash
# scripts/gpu-check end to end on Vulkan (lavapipe): ember-pack and
# ember-compile --target vulkan for every bench/gpu program, then gpu_bench
# --quick (every op check must pass; the timings only have to run). Where
# no Vulkan device exists, the case is reported as skipped, with the reason.
# Args: ember-pack ember-compile gpu_bench
set -uo pipefail
export EMBER_PACK=$PWD/$1 EMBER_COMPILE=$PWD/$2 GPU_BENCH=$PWD/$3
export GPU_CHECK_DIR=$TEST_TMPDIR/gpu-check
bash scripts/gpu-check prepare vulkan || exit 1
bash scripts/gpu-check run vulkan --quick > "$TEST_TMPDIR/log" 2>&1
status=$?
cat "$TEST_TMPDIR/log"
if [ $status -eq 2 ] && grep -q 'not available' "$TEST_TMPDIR/log"; then
  reason=$(grep -m1 'not available' "$TEST_TMPDIR/log" | sed 's/[<>&"]/ /g')
  echo "SKIPPED: $reason"
  if [ -n "${XML_OUTPUT_FILE:-}" ]; then
    printf '<?xml version="1.0"?>\n<testsuites><testsuite name="gpu_check" tests="1" skipped="1"><testcase name="gpu_check_vulkan"><skipped message="%s"/></testcase></testsuite></testsuites>\n' "$reason" > "$XML_OUTPUT_FILE"
  fi
  exit 0
fi
exit $status
