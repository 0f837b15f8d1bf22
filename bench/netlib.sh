# Helpers for bench/net.sh. The rules and the plumbing are the
# integration tests' (test/integration/lib.sh, sourced here): namespaces
# weir-net-<suffix>-<pid>, everything made removed at exit even on
# failure, only PIDs started here killed, every wait with a deadline.
# What a bench needs beyond them is below. Source it with WEIR_BUILD set.
#
# shellcheck shell=bash
# shellcheck source=../test/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../test/integration/lib.sh"

# nb_wait PID SECONDS: waits for a PID we started, at most SECONDS (then
# kills it); returns its status, 124 if it had to be killed.
nb_wait() {
  local rc
  wait_pid "$1" "$2"
  rc=$?
  if [ $rc -eq 124 ]; then
    _weir_kill "$1"
    wait "$1" 2>/dev/null
  fi
  return $rc
}

# nb_stop PID: SIGTERM and wait (5 s at most); the status is not ours to
# judge (a server stopped mid-way may say so).
nb_stop() {
  kill -TERM "$1" 2>/dev/null
  nb_wait "$1" 5 >/dev/null 2>&1
  return 0
}

# nb_listening NS PORT: some socket in NS listens on TCP PORT.
nb_listening() {
  ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q .
}

# nb_logged FILE TEXT: FILE holds TEXT.
nb_logged() {
  grep -q -- "$2" "$1"
}

# nb_gone NS DEV: DEV no longer exists in NS.
nb_gone() {
  ! ip netns exec "$1" ip link show "$2" >/dev/null 2>&1
}

# nb_rx NS DEV: DEV's received-packet counter.
nb_rx() {
  ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_packets"
}
