#!/usr/bin/env bash
# make bench: every benchmark of weir in one run, each beside the
# reference it is compared with, then one table (and build/bench/
# results.csv and results.png).
#
#   bench/core.sh  the core alone: two stacks in one process (bulk rate,
#                  callgrind instructions per segment, 10,000 and 100,000
#                  connections)
#   bench/net.sh   weir over each backend beside Linux's TCP on the same
#                  kind of path and the link's own frame rate; latency
#                  (root: it makes network namespaces)
#
# Machines are shared and noisy: compare figures only within one run.
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
OUT=$B/bench
mkdir -p "$OUT"
ROWS=$OUT/rows.csv
: >"$ROWS"
rc=0

echo "== core" >&2
bash bench/core.sh "$B" >>"$ROWS" || rc=1
if [ "$(id -u)" -eq 0 ]; then
  echo "== network" >&2
  bash bench/net.sh "$B" >>"$ROWS" || rc=1
else
  echo "bench: not root, so no network namespaces: the network part is skipped" >&2
fi

py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3 # Debian's, with matplotlib
"$py" bench/report.py "$ROWS" "$OUT" || rc=1
exit $rc
