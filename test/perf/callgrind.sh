#!/usr/bin/env bash
# The per-segment cost of weir's core must not creep up unnoticed: counts
# the instructions callgrind sees per full-size segment (bench/core.c's
# `segments` mode) and compares them with test/perf/baseline.txt. Fails
# above 1.10 x the baseline; below 0.90 x it passes and asks for the
# baseline to be lowered. The count is deterministic (fixed seeds, virtual
# clock), but it depends on the C library's string functions, so a new
# machine or libc may need a new baseline: say so in the file's comment.
#
#   test/perf/callgrind.sh [BUILD_DIR]     (make test builds bench/core)
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
N=2000
baseline_file=test/perf/baseline.txt

if ! command -v valgrind >/dev/null 2>&1; then
  echo "skip: valgrind is not installed"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
baseline=$(sed -nE 's/^ir_per_segment ([0-9.]+)$/\1/p' "$baseline_file")
if [ -z "$baseline" ]; then
  echo "FAIL: no 'ir_per_segment <number>' line in $baseline_file"
  echo "0 passed, 1 failed"
  exit 1
fi
if ! out=$(bash test/perf/ir-per-segment.sh "$B/bench/core" "$N"); then
  echo "FAIL: $out"
  echo "0 passed, 1 failed"
  exit 1
fi
measured=$(echo "$out" | sed -nE 's/^ir_per_segment ([0-9.]+)$/\1/p')
echo "$out" | sed -n 2p
verdict=$(awk -v m="$measured" -v b="$baseline" 'BEGIN {
  r = m / b
  printf "measured %.1f Ir/segment, baseline %.1f, ratio %.3f", m, b, r
  if (r > 1.10) print " (over 1.10): FAIL"
  else if (r < 0.90) print " (under 0.90): pass; consider lowering the baseline"
  else print ": pass"
}')
echo "$verdict"
case $verdict in
*FAIL)
  echo "FAIL test_core_instructions_per_segment_within_10_percent_of_baseline"
  echo "0 passed, 1 failed"
  exit 1
  ;;
esac
echo "1 passed, 0 failed"
