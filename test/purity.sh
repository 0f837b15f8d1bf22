#!/usr/bin/env bash
# The one rule, checked on the compiled objects: linked together, the
# core's objects may call only the C library's memory functions and the
# default allocator. Anything else (a clock, a syscall wrapper, stdio,
# rand) fails this test. They must also hold no mutable static data.
set -u
allowed='^(memcpy|memmove|memset|memcmp|malloc|free)$'

# The objects to check: those given, else the ones the Makefile builds
# into libweir.a (never a stale object left in the build folder).
if [ $# -gt 0 ]; then
  objs="$*"
else
  objs=$(make -s --no-print-directory print-core-objs)
fi
for o in $objs; do
  [ -f "$o" ] || { echo "purity: no $o (build first)"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
ld -r -o "$tmp/core.o" $objs || exit 1

bad=0
used=""
for sym in $(nm -u "$tmp/core.o" | awk '{print $2}'); do
  if [[ $sym =~ $allowed ]]; then
    used="$used $sym"
  else
    echo "purity: the core calls $sym"
    bad=1
  fi
done
# Writable data (.data, .bss) is mutable state; constant tables of
# pointers live in .data.rel.ro and are fine.
if objdump -t "$tmp/core.o" | awk '$0 ~ / O \.(data|bss)[ \t]/ { print "purity: mutable static " $NF; found=1 } END { exit !found }'; then
  bad=1
fi
if [ $bad -eq 0 ]; then
  echo "purity: $(echo "$objs" | wc -w) core objects call only:$used; no mutable static data"
fi
exit $bad
