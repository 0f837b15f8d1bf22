# Helpers for weir's integration tests. Source it from a test script:
#
#   . "$(dirname "$0")/lib.sh"
#   need_root                      # or exit 77 with the reason
#   make_ns_into ns                # ns=weir-<test>-<pid>, removed at exit
#   start_bg pid 60 ip netns exec "$ns" "$BUILD/echoserver" ... >log
#   wait_until 5 dev_ready "$ns" wtun1 10.77.1.1/24 || fail "..."
#
# Rules every test follows: namespaces are named weir-<test>-$$ and hold
# addresses in 10.77.0.0/16 only; everything made is removed at exit, even
# on failure (trap cleanup EXIT); only PIDs started here (and what runs
# inside our own namespaces) are killed; every wait has a deadline.
#
# Exit statuses: 0 pass, 77 skip (the reason is printed), anything else
# fail.

# shellcheck shell=bash
set -u

WEIR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${WEIR_BUILD:-$WEIR_ROOT/build}
TEST_NAME=$(basename "$0" .sh)
TEST_NAME=${TEST_NAME#test_}
TEST_NAME=${TEST_NAME//_/-}
TMP=$(mktemp -d "/tmp/weir-$TEST_NAME.XXXXXX")

_weir_ns=()
_weir_pids=()

log() { echo "  $TEST_NAME: $*"; }

skip() {
  echo "SKIP $TEST_NAME: $*"
  exit 77
}

fail() {
  echo "FAIL $TEST_NAME: $*" >&2
  exit 1
}

# Kills one PID we started: TERM, then KILL if it outlives the deadline.
_weir_kill() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? pid ns
  trap - EXIT INT TERM
  for pid in "${_weir_pids[@]}"; do
    _weir_kill "$pid"
  done
  for ns in "${_weir_ns[@]}"; do
    # Anything still inside a namespace we made was started by us (a
    # socat child, say): ours to stop.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      _weir_kill "$pid"
    done
    ip netns del "$ns" 2>/dev/null || true
  done
  wait 2>/dev/null
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Skips unless we can make namespaces and tun/tap devices.
need_root() {
  local c
  [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, /dev/net/tun)"
  [ -c /dev/net/tun ] || skip "no /dev/net/tun (modprobe tun)"
  for c in ip socat ping sha256sum timeout; do
    command -v "$c" >/dev/null || skip "missing $c (run ci/deps.sh)"
  done
  [ -x "$BUILD/echoserver" ] && [ -x "$BUILD/echoclient" ] ||
    fail "no $BUILD/echoserver or echoclient: run make first"
  ip netns add "weir-probe-$$" 2>/dev/null ||
    skip "cannot create network namespaces here"
  ip netns del "weir-probe-$$"
}

# make_ns_into VAR [SUFFIX]: creates weir-<test>[-SUFFIX]-$$ with lo up
# and IPv6 off (so that only what the test sends is on the wire), and
# sets VAR to its name. (Not `ns=$(make_ns)`: a subshell could not record
# the name for cleanup.)
make_ns_into() {
  local var=$1 name="weir-$TEST_NAME${2:+-$2}-$$"
  ip netns add "$name" || fail "cannot create namespace $name"
  _weir_ns+=("$name")
  ip netns exec "$name" ip link set lo up
  ip netns exec "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
  printf -v "$var" '%s' "$name"
}

ns_exec() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

# start_bg VAR SECONDS CMD...: runs CMD in the background under a hard
# deadline, records its PID for cleanup and in VAR. Redirect as needed
# around the call: start_bg pid 30 cmd >out 2>&1
start_bg() {
  local var=$1 secs=$2
  shift 2
  timeout --kill-after=2 "$secs" "$@" &
  _weir_pids+=($!)
  printf -v "$var" '%s' "$!"
}

# wait_until SECONDS CMD...: retries CMD every 50 ms until it succeeds;
# fails when the deadline passes.
wait_until() {
  local secs=$1 end
  shift
  end=$(($(date +%s%N) + secs * 1000000000))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.05
  done
}

# wait_pid PID SECONDS: waits for a background PID to exit, at most
# SECONDS; returns its status, or 124 if it did not end in time.
wait_pid() {
  local pid=$1 secs=$2 end
  end=$(($(date +%s%N) + secs * 1000000000))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$(date +%s%N)" -lt "$end" ] || return 124
    sleep 0.05
  done
  wait "$pid"
}

# dev_ready NS DEV ADDR/PREFIX: the device is up with the kernel address.
dev_ready() {
  ip netns exec "$1" ip -4 -o addr show dev "$2" up 2>/dev/null |
    grep -q " $3 "
}

# udp_bound NS PORT: some socket in NS is bound to UDP PORT.
udp_bound() {
  ip netns exec "$1" ss -Hlun "sport = :$2" 2>/dev/null | grep -q .
}

same_file() {
  local a b
  a=$(sha256sum <"$1" | cut -d' ' -f1)
  b=$(sha256sum <"$2" | cut -d' ' -f1)
  [ "$a" = "$b" ]
}

# Test data: text lines and binary, the largest datagram first so that a
# size problem shows at once.
make_payloads() {
  local dir=$1 i
  head -c 1472 /dev/urandom >"$dir/max.bin"   # 1500 - 20 (IPv4) - 8 (UDP)
  printf 'x' >"$dir/one.bin"
  head -c 16384 /dev/urandom >"$dir/bulk.bin"
  for i in $(seq 1 40); do
    echo "line $i: the quick brown fox jumps over the lazy dog"
  done >"$dir/lines.txt"
}

# udp_echo_check NS ADDR PORT FILE: sends FILE with socat in datagrams
# of at most 1472 bytes and checks that the echo is byte-identical.
udp_echo_check() {
  local ns=$1 addr=$2 port=$3 file=$4 out
  out="$TMP/$(basename "$file").echo"
  # -b: one read of stdin becomes one datagram, so none exceeds the MTU;
  # -t: how long to wait for echoes after stdin ends.
  timeout 15 ip netns exec "$ns" socat -b 1472 -t 1 - \
    "UDP4:$addr:$port" <"$file" >"$out" 2>"$TMP/socat.err" ||
    fail "socat to $addr:$port failed: $(head -1 "$TMP/socat.err")"
  same_file "$file" "$out" ||
    fail "echo of $(basename "$file") differs ($(wc -c <"$file") bytes" \
      "sent, $(wc -c <"$out") back)"
}

# The suite shared by the tun and tap tests. BACKEND tun|tap, NET the
# /24 to use as "10.77.N".
run_ping_udp_suite() {
  local backend=$1 net=$2 dev="w${1}${2##*.}" ns server rc loss
  local weir="$net.2" kern="$net.1"

  need_root
  make_ns_into ns
  make_payloads "$TMP"

  # --- echoserver on a device it creates -------------------------------
  # Positional PORT; --timeout bounds it should the test die.
  start_bg server 60 ip netns exec "$ns" "$BUILD/echoserver" -u -v \
    --backend "$backend" --if "$dev" --ip "$weir/24" \
    --kernel-ip "$kern/24" --timeout 30 --seed 1 7 \
    >"$TMP/server.log" 2>&1
  wait_until 5 dev_ready "$ns" "$dev" "$kern/24" ||
    fail "$dev did not come up with $kern/24: $(cat "$TMP/server.log")"

  ns_exec "$ns" ping -n -c 20 -i 0.05 -W 1 "$weir" >"$TMP/ping.log" 2>&1
  loss=$(grep -o '[0-9.]*% packet loss' "$TMP/ping.log")
  [ "$loss" = "0% packet loss" ] ||
    fail "ping $weir: ${loss:-no summary}: $(tail -3 "$TMP/ping.log")"
  log "ping: 20/20 replies from weir ($backend)"

  for f in max.bin one.bin lines.txt bulk.bin; do
    udp_echo_check "$ns" "$weir" 7 "$TMP/$f"
  done
  log "udp: socat datagrams (1, 1472, 16384 bytes, 40 lines) echoed" \
    "byte for byte"

  if timeout 10 ip netns exec "$ns" socat -t 2 - "UDP4:$weir:9" \
    <<<"anyone there" >/dev/null 2>"$TMP/refused.err"; then
    fail "UDP to closed port 9: socat saw no error"
  fi
  grep -q "Connection refused" "$TMP/refused.err" ||
    fail "UDP to closed port 9: $(head -1 "$TMP/refused.err")"
  log "udp: closed port 9 -> ICMP port unreachable (Connection refused)"

  if [ "$backend" = tap ]; then
    ns_exec "$ns" ip neigh show dev "$dev" |
      grep -q "$weir lladdr 02:77:00:00:00:02" ||
      fail "the kernel has no ARP entry for weir: $(ns_exec "$ns" ip neigh)"
    log "arp: the kernel resolved $weir to 02:77:00:00:00:02"
  fi

  kill -TERM "$server"
  wait_pid "$server" 5
  rc=$?
  [ "$rc" -eq 0 ] ||
    fail "echoserver exited $rc on SIGTERM: $(tail -5 "$TMP/server.log")"
  grep -q "bytes echoed" "$TMP/server.log" ||
    fail "echoserver -v printed no echo line"
  grep -q "ICMP_UNREACH_OUT" "$TMP/server.log" ||
    fail "echoserver counters lack ICMP_UNREACH_OUT: $(cat "$TMP/server.log")"
  ! ns_exec "$ns" ip link show "$dev" >/dev/null 2>&1 ||
    fail "$dev still exists after echoserver exited"
  log "echoserver: exit 0 on SIGTERM, counters printed, $dev removed"

  # --- echoclient against a Linux echo server ---------------------------
  # One socat child per datagram keeps datagram boundaries (a stream
  # through `cat` would merge them); -T ends each child.
  # shellcheck disable=SC2034 # set by start_bg, through printf -v
  local linux
  start_bg linux 60 ip netns exec "$ns" socat -T 2 "UDP4-RECVFROM:7,fork" \
    EXEC:cat >"$TMP/linux.log" 2>&1
  wait_until 5 udp_bound "$ns" 7 || fail "socat did not bind UDP port 7"
  cat "$TMP/lines.txt" "$TMP/bulk.bin" >"$TMP/client.in"
  timeout 30 ip netns exec "$ns" "$BUILD/echoclient" -u --backend "$backend" \
    --if "$dev" --ip "$weir/24" --kernel-ip "$kern/24" --timeout 5 \
    "$kern" 7 <"$TMP/client.in" >"$TMP/client.out" 2>"$TMP/client.err"
  rc=$?
  [ "$rc" -eq 0 ] || fail "echoclient exited $rc: $(tail -3 "$TMP/client.err")"
  same_file "$TMP/client.in" "$TMP/client.out" ||
    fail "echoclient output differs from its input"
  log "echoclient -> Linux socat echo: $(wc -c <"$TMP/client.in") bytes" \
    "back identical"

  timeout 30 ip netns exec "$ns" "$BUILD/echoclient" -u --backend "$backend" \
    --if "$dev" --ip "$weir/24" --kernel-ip "$kern/24" --timeout 5 \
    --port 9 "$kern" <<<"hello?" >/dev/null 2>"$TMP/client9.err"
  rc=$?
  [ "$rc" -eq 1 ] && grep -qi "refused" "$TMP/client9.err" ||
    fail "echoclient to closed port: exit $rc: $(head -1 "$TMP/client9.err")"
  log "echoclient -> closed port: exit 1, $(head -1 "$TMP/client9.err")"

  if [ "$backend" = tap ]; then
    # Nobody has .99: weir's ARP retries run on the driver's timer and
    # give up (3 requests, 1 s apart), and the client hears of it.
    timeout 30 ip netns exec "$ns" "$BUILD/echoclient" -u --backend tap \
      --if "$dev" --ip "$weir/24" --kernel-ip "$kern/24" --timeout 10 \
      "$net.99" 7 <<<"hello?" >/dev/null 2>"$TMP/client99.err"
    rc=$?
    [ "$rc" -eq 1 ] && grep -q "no route to host" "$TMP/client99.err" ||
      fail "echoclient to $net.99: exit $rc: $(head -1 "$TMP/client99.err")"
    log "echoclient -> $net.99 (nobody): ARP gave up, exit 1, no route to host"
  fi
}
