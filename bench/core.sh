#!/usr/bin/env bash
# The core's figures for `make bench`, as CSV rows on stdout
# (section,case,value,unit,reference,ref_value,goal); what each run says
# goes to stderr. Runs BUILD/bench/core:
#
#   bulk            3 runs, the median of each figure
#   bulk-offload    the same with 64 KiB segments and no checksums
#   segments 2000   under callgrind: instructions per segment, against the
#                   baseline of make test's check (test/perf/baseline.txt)
#   scale 10000, scale 100000
#   scale 100000    again under callgrind: instructions per segment at
#                   1 vs 100000 connections (about a minute)
#
# A run that fails is named on stderr; the others still report, and the
# exit status is 1.
#
#   bench/core.sh [BUILD_DIR]     (default build)
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
bin=$B/bench/core
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()

if [ ! -x "$bin" ]; then
  echo "core.sh: $bin is missing (make $bin)" >&2
  exit 1
fi

# A row: section,case,value,unit,reference,ref_value,goal.
row() {
  local IFS=,
  echo "$*"
}

# Three bulk runs of each kind (MTU-size segments with checksums, and
# the loopback-like link with offloads); each case gets the median of its
# three values.
for i in 1 2 3; do
  for mode in bulk bulk-offload; do
    if ! "$bin" "$mode" >>"$tmp/bulk.csv" 2>>"$tmp/bulk.err"; then
      failed+=("$mode run $i")
    fi
  done
done
cat "$tmp/bulk.err" >&2
cut -d, -f2 "$tmp/bulk.csv" | awk '!seen[$0]++' | while read -r what; do
  awk -F, -v w="$what" '$2 == w' "$tmp/bulk.csv" | sort -t, -k3,3g |
    awk '{ r[NR] = $0 } END { print r[int((NR + 1) / 2)] }'
done

# Instructions per segment, as make test's regression check counts them.
if ! command -v valgrind >/dev/null 2>&1; then
  echo "core.sh: valgrind is not installed: no instruction counts" >&2
else
  if out=$(bash test/perf/ir-per-segment.sh "$bin" 2000); then
    echo "segments 2000 under callgrind: $out" | tr '\n' ' ' >&2
    echo >&2
    ir=$(echo "$out" | sed -nE 's/^ir_per_segment ([0-9.]+)$/\1/p')
    base=$(sed -nE 's/^ir_per_segment ([0-9.]+)$/\1/p' test/perf/baseline.txt)
    row core "instructions per segment" "$ir" Ir/segment \
      "${base:+baseline (test/perf/baseline.txt)}" "$base" "${base:+<=1.10}"
  else
    echo "$out" >&2
    failed+=("segments under callgrind")
  fi
fi

for n in 10000 100000; do
  if ! "$bin" scale "$n"; then
    failed+=("scale $n")
  fi
done

# The same scale run under callgrind: each timed run has its own function,
# whose inclusive Ir over its segments (3 runs of them) is Ir/segment.
# Wall-clock differences between 1 and N connections are cache misses;
# this shows whether the instructions grow with N.
scale_ir() {
  local n=$1 s=$2 fn line segs runs
  valgrind --tool=callgrind --callgrind-out-file="$tmp/scale.cg" \
    "$bin" scale "$n" >/dev/null 2>"$tmp/scale.err" || return 1
  callgrind_annotate --inclusive=yes "$tmp/scale.cg" >"$tmp/scale.ann" \
    2>/dev/null || return 1
  for fn in 1_of_1 1_of_n s_of_s s_of_n; do
    case $fn in
    1_of_1) line="1 active of 1:" ;;
    1_of_n) line="1 active of $n:" ;;
    s_of_s) line="$s active of $s:" ;;
    s_of_n) line="$s active of $n:" ;;
    esac
    runs=$(grep -F "scale: $line" "$tmp/scale.err" |
      sed -nE 's/.* ([0-9]+) runs of ([0-9]+) segments$/\1 \2/p')
    segs=$(echo "$runs" | awk '{ print $1 * $2 }')
    ir=$(grep -E "core.c:segcost_${fn} " "$tmp/scale.ann" | head -1 |
      awk '{ gsub(",", "", $1); print $1 }')
    [ -n "$segs" ] && [ -n "$ir" ] || return 1
    printf -v "ir_$fn" '%s' "$(awk -v i="$ir" -v s="$segs" \
      'BEGIN { printf "%.0f", i / s }')"
  done
  row scale "Ir per segment at $n conns" "$ir_1_of_n" Ir/segment \
    "Ir per segment at 1 conn" "$ir_1_of_1" "<=1.10"
  row scale "Ir per segment at $n conns ($s active)" "$ir_s_of_n" Ir/segment \
    "Ir per segment at $s conns ($s active)" "$ir_s_of_s" "<=1.10"
}
if command -v valgrind >/dev/null 2>&1; then
  # 1024: SCALE_SAMPLE in bench/core.c.
  if ! scale_ir 100000 1024; then
    tail -3 "$tmp/scale.err" >&2
    failed+=("scale 100000 under callgrind")
  fi
fi

if [ ${#failed[@]} -ne 0 ]; then
  echo "core.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
