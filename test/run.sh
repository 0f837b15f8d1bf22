#!/usr/bin/env bash
# Runs every test of weir and ends with one line: N passed, N failed,
# N skipped. Called by `make test` after the build; each suite's full
# output is kept in build/test-logs/.
#
#   unit        the core's unit and stack tests, native
#   unit-san    the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   unit-mips   the same on 32-bit big-endian MIPS under qemu-user
#   unit-s390x  the same on 64-bit big-endian s390x under qemu-user
#   replay      recorded exchanges with Linux fed back into the core
#   driver      the libuv driver over an in-process link
#   tcp-scripts scripted TCP conversations with the core, in virtual time
#   purity      the core's objects call nothing outside the allow-list
#   fuzz        each libFuzzer target for a bounded number of inputs
#   integration weir against Linux in network namespaces (root)
set -u
cd "$(dirname "$0")/.."
B=build
LOGS=$B/test-logs
FUZZ_RUNS=${FUZZ_RUNS:-20000}
mkdir -p "$LOGS"

passed=0 failed=0 skipped=0
failures=()

# A suite prints its own "N passed, N failed[, N skipped]" line; its
# counts are added to the total. A suite that exits non-zero without
# reporting a failure (a crash, a sanitizer report) counts as one failure.
suite() {
  local name=$1
  shift
  local log=$LOGS/$name.log rc line p f s
  "$@" >"$log" 2>&1
  rc=$?
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -z "$line" ]; then
    p=0 f=1 s=0
  else
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    s=${s:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      f=1
    fi
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  if [ "$f" -ne 0 ]; then
    failures+=("$name")
    printf '%-28s FAILED (exit %d): %s\n' "$name" "$rc" "${line:-no summary}"
    grep -E '^(FAIL|     )|ERROR|runtime error' "$log" | head -20 | sed 's/^/    /'
  else
    printf '%-28s %s\n' "$name" "$line"
  fi
}

# A single test: exit 0 passes, 77 skips (its last line says why), any
# other status fails.
single() {
  local name=$1
  shift
  local log=$LOGS/$name.log rc
  "$@" >"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    printf '%-28s ok   %s\n' "$name" "$(tail -1 "$log")"
  elif [ $rc -eq 77 ]; then
    skipped=$((skipped + 1))
    printf '%-28s skip %s\n' "$name" "$(tail -1 "$log")"
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf '%-28s FAIL (exit %d)\n' "$name" "$rc"
    tail -15 "$log" | sed 's/^/    /'
  fi
}

suite unit $B/test/unit
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  suite unit-san $B/test/unit-san
QEMU_LD_PREFIX=/usr/mips-linux-gnu suite unit-mips qemu-mips $B/test/unit-mips
QEMU_LD_PREFIX=/usr/s390x-linux-gnu suite unit-s390x qemu-s390x $B/test/unit-s390x
WEIR_REPLAY_DIR=test/replay suite replay $B/test/replay
if [ -e test/tcp ]; then
  suite tcp-scripts $B/test/tcpscript test/tcp/scripts
  ASAN_OPTIONS=detect_leaks=1 suite tcp-scripts-san $B/test/tcpscript-san test/tcp/scripts
fi
if [ -e test/backends ]; then
  suite driver $B/test/driver
fi
single purity bash test/purity.sh
suite perf-callgrind bash test/perf/callgrind.sh $B
single format make --no-print-directory fmt-check

# A fuzz target run: libFuzzer exits non-zero on a crash, a leak, a
# sanitizer report or a timeout; its last words say how many inputs ran.
fuzz_bounded() {
  local bin=$1 t=$2
  "$bin" -runs="$FUZZ_RUNS" -max_total_time=300 -timeout=10 \
    -artifact_prefix="$B/fuzz-work/$t-" "$B/fuzz-work/$t" "test/fuzz/corpus/$t" || return 1
  echo "$FUZZ_RUNS inputs from $(ls "test/fuzz/corpus/$t" | wc -l) seeds, no crash"
}

for f in $B/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  t=$(basename "$f")
  # New inputs go to a scratch folder, never into the committed corpus.
  rm -rf "$B/fuzz-work/$t" && mkdir -p "$B/fuzz-work/$t"
  single "fuzz-$t" fuzz_bounded "$f" "$t"
done

for t in test/integration/test_*.sh; do
  [ -f "$t" ] || continue
  single "integration-$(basename "$t" .sh)" timeout 600 bash "$t"
done

echo
if [ ${#failures[@]} -ne 0 ]; then
  echo "failed: ${failures[*]} (logs in $LOGS/)"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
