#!/usr/bin/env bash
# The one rule, checked on the compiled objects: linked together, the
# core's objects may call only the C library's memory functions and the
# default allocator. Anything else (a clock, a syscall wrapper, stdio,
# rand) fails this test. They must also hold no mutable static data.
set -u
objdir=${1:-build/obj/core}
allowed='^(memcpy|memmove|memset|memcmp|malloc|free)$'

objs=$(find "$objdir" -name '*.o' 2>/dev/null | sort)
if [ -z "$objs" ]; then
  echo "purity: no objects under $objdir (build first)"
  exit 1
fi
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
  echo "purity: $(echo "$objs" | wc -l) core objects call only:$used; no mutable static data"
fi
exit $bad
