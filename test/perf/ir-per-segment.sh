#!/usr/bin/env bash
# Instructions per segment of weir's core: runs `BENCH segments N` under
# callgrind, counting only inside measured_phase (the transfer of N
# full-size segments on a warmed-up connection, with B's ACKs and A's
# handling of them), and prints
#
#   ir_per_segment <Ir / segments sent>
#   ir <Ir> segments <segments sent>
#
# Exits 1 with a reason if the bench or valgrind fails.
#
#   test/perf/ir-per-segment.sh BENCH [N]
set -u
bin=$1
n=${2:-2000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measured_phase* also matches a clone GCC may make (measured_phase.isra.0).
if ! valgrind --tool=callgrind --toggle-collect='measured_phase*' \
  --callgrind-out-file="$tmp/cg.out" "$bin" segments "$n" \
  >"$tmp/stdout" 2>"$tmp/stderr"; then
  echo "ir-per-segment: $bin segments $n failed under callgrind:"
  tail -5 "$tmp/stderr"
  exit 1
fi
ir=$(sed -nE 's/^(summary|totals): ([0-9]+).*/\2/p' "$tmp/cg.out" | head -1)
segs=$(sed -nE 's/^segments_sent ([0-9]+)$/\1/p' "$tmp/stdout")
if [ -z "$ir" ] || [ -z "$segs" ] || [ "$segs" -eq 0 ]; then
  echo "ir-per-segment: no Ir total or segment count (Ir '$ir', segments '$segs')"
  exit 1
fi
echo "ir_per_segment $(awk -v i="$ir" -v s="$segs" 'BEGIN { printf "%.1f", i / s }')"
echo "ir $ir segments $segs"
