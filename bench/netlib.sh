# Helpers for bench/net.sh, after test/integration/lib.sh (whose rules they
# keep) but with the bench's names: namespaces weir-bench-<pid>-<suffix>,
# addresses in 10.77.200.0/24 .. 10.77.209.0/24, everything made removed
# at exit even on failure, only PIDs started here killed, every wait with
# a deadline. Source it; it installs the EXIT trap.
#
# shellcheck shell=bash

_nb_ns=()
_nb_pids=()
NB_TMP=$(mktemp -d /tmp/weir-bench-net.XXXXXX)

# Kills one PID we started: TERM, then KILL if it outlives a second.
nb_kill() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # called through the trap
nb_cleanup() {
  local rc=$? pid ns
  trap - EXIT INT TERM
  for pid in "${_nb_pids[@]}"; do
    nb_kill "$pid"
  done
  for ns in "${_nb_ns[@]}"; do
    # What still runs in a namespace of ours was started by us.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      nb_kill "$pid"
    done
    ip netns del "$ns" 2>/dev/null || true
  done
  wait 2>/dev/null
  rm -rf "$NB_TMP"
  exit "$rc"
}
trap nb_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# nb_ns VAR SUFFIX: creates weir-bench-<pid>-SUFFIX with lo up and IPv6
# off (nothing but the bench's traffic), and sets VAR to its name.
nb_ns() {
  local name="weir-bench-$$-$2"
  ip netns add "$name" || return 1
  _nb_ns+=("$name")
  ip netns exec "$name" ip link set lo up
  ip netns exec "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
  printf -v "$1" '%s' "$name"
}

# nb_bg VAR SECONDS CMD...: CMD in the background under a hard deadline;
# its PID in VAR and on the cleanup list. Redirect around the call.
nb_bg() {
  local var=$1 secs=$2
  shift 2
  timeout --kill-after=2 "$secs" "$@" &
  _nb_pids+=($!)
  printf -v "$var" '%s' "$!"
}

# nb_until SECONDS CMD...: retries CMD every 50 ms until it succeeds, or
# fails once the deadline has passed.
nb_until() {
  local end=$(($(date +%s%N) + $1 * 1000000000))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.05
  done
}

# nb_wait PID SECONDS: waits for a PID we started, at most SECONDS (then
# kills it); returns its status, 124 if it had to be killed.
nb_wait() {
  local pid=$1 end=$(($(date +%s%N) + $2 * 1000000000))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s%N)" -ge "$end" ]; then
      nb_kill "$pid"
      wait "$pid" 2>/dev/null
      return 124
    fi
    sleep 0.05
  done
  wait "$pid"
}

# nb_stop PID: SIGTERM and wait (5 s at most); the status is not ours to
# judge (a server stopped mid-way may say so).
nb_stop() {
  kill -TERM "$1" 2>/dev/null
  nb_wait "$1" 5 >/dev/null 2>&1
  return 0
}

# nb_dev_ready NS DEV ADDR/PREFIX: DEV is up in NS with ADDR.
nb_dev_ready() {
  ip netns exec "$1" ip -4 -o addr show dev "$2" up 2>/dev/null |
    grep -q " $3 "
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
