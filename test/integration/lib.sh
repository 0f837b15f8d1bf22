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

# need_root [packet]: skips unless we can make namespaces and tun/tap
# devices (or, with `packet`, packet sockets on veth pairs: no tun needed).
# shellcheck disable=SC2120 # veth_suite.sh passes `packet`
need_root() {
  local c what="network namespaces, /dev/net/tun"
  [ "${1:-}" = packet ] && what="network namespaces, packet sockets"
  [ "$(id -u)" -eq 0 ] || skip "needs root ($what)"
  if [ "${1:-}" != packet ]; then
    [ -c /dev/net/tun ] || skip "no /dev/net/tun (modprobe tun)"
  fi
  for c in ip socat ping sha256sum timeout ss; do
    command -v "$c" >/dev/null || skip "missing $c (run ci/deps.sh)"
  done
  if [ ! -x "$BUILD/echoserver" ] || [ ! -x "$BUILD/echoclient" ]; then
    fail "no $BUILD/echoserver or echoclient: run make first"
  fi
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
  if [ "$rc" -ne 1 ] || ! grep -qi "refused" "$TMP/client9.err"; then
    fail "echoclient to closed port: exit $rc: $(head -1 "$TMP/client9.err")"
  fi
  log "echoclient -> closed port: exit 1, $(head -1 "$TMP/client9.err")"

  if [ "$backend" = tap ]; then
    # Nobody has .99: weir's ARP retries run on the driver's timer and
    # give up (3 requests, 1 s apart), and the client hears of it.
    timeout 30 ip netns exec "$ns" "$BUILD/echoclient" -u --backend tap \
      --if "$dev" --ip "$weir/24" --kernel-ip "$kern/24" --timeout 10 \
      "$net.99" 7 <<<"hello?" >/dev/null 2>"$TMP/client99.err"
    rc=$?
    if [ "$rc" -ne 1 ] || ! grep -q "no route to host" "$TMP/client99.err"
    then
      fail "echoclient to $net.99: exit $rc: $(head -1 "$TMP/client99.err")"
    fi
    log "echoclient -> $net.99 (nobody): ARP gave up, exit 1, no route to host"
  fi
}

# ---------------------------------------------------------------- TCP

# tcp_listening NS PORT: some socket in NS listens on TCP PORT.
tcp_listening() {
  ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q .
}

# tcp_settled NS: no TCP connection in NS (the Linux side) is left
# ESTABLISHED or CLOSE-WAIT. (TIME-WAIT is fine: that is how a close ends.)
tcp_settled() {
  [ -z "$(ip netns exec "$1" ss -Htan state established state close-wait \
    2>/dev/null)" ]
}

# expect_settled NS WHAT: waits (10 s at most) for tcp_settled, or fails
# showing what is left.
expect_settled() {
  wait_until 10 tcp_settled "$1" ||
    fail "$2: connections left on the Linux side: $(ns_exec "$1" ss -tan |
      tr '\n' ';')"
}

now_ns() { date +%s%N; }

# rate BYTES NS: "12.3 s, 45.6 Mbit/s" for BYTES moved in NS nanoseconds.
rate() {
  awk -v b="$1" -v ns="$2" \
    'BEGIN { s = ns / 1e9; if (s <= 0) s = 1e-9;
             printf "%.2f s, %.1f Mbit/s", s, b * 8 / s / 1e6 }'
}

# capture_start NS DEV FILE FILTER...: tcpdump in the background (if the
# host has it) writing text lines to FILE. Sets CAPTURE_PID; returns 1 if
# there is no tcpdump.
capture_start() {
  local ns=$1 dev=$2 file=$3
  shift 3
  CAPTURE_PID=
  command -v tcpdump >/dev/null || return 1
  start_bg CAPTURE_PID 60 ip netns exec "$ns" tcpdump -n -l -i "$dev" "$@" \
    >"$file" 2>"$file.err"
  wait_until 5 grep -q "listening on" "$file.err" ||
    fail "tcpdump did not start: $(cat "$file.err")"
}

capture_stop() {
  [ -n "${CAPTURE_PID:-}" ] || return 0
  sleep 0.2 # the last packets reach the file
  kill -INT "$CAPTURE_PID" 2>/dev/null
  wait_pid "$CAPTURE_PID" 5 >/dev/null 2>&1
  CAPTURE_PID=
}

# tcp_echo_check NS CLIENT ADDR PORT IN OUT: sends IN to ADDR:PORT with a
# Linux client (socat or nc) and checks the echo OUT is IN again; prints
# the rate.
tcp_echo_check() {
  local ns=$1 client=$2 addr=$3 port=$4 in=$5 out=$6 t0 t1 rc size
  local cmd
  size=$(stat -c %s "$in")
  case $client in
  # -t: after stdin's EOF (our FIN) wait this long for the server's;
  # -T: give up on a silent connection.
  socat) cmd=(socat -t 60 -T 30 - "TCP4:$addr:$port") ;;
  # -N: shutdown(SHUT_WR) at stdin's EOF, then read until the server's
  # FIN; -w: give up on a silent connection.
  nc) cmd=(nc -N -w 30 "$addr" "$port") ;;
  esac
  t0=$(now_ns)
  timeout 120 ip netns exec "$ns" "${cmd[@]}" <"$in" >"$out" 2>"$out.err"
  rc=$?
  t1=$(now_ns)
  [ "$rc" -eq 0 ] ||
    fail "$client to $addr:$port: exit $rc after $(wc -c <"$out") of" \
      "$size bytes: $(head -2 "$out.err" | tr '\n' ' ')"
  same_file "$in" "$out" ||
    fail "$client to $addr:$port: the echo differs ($size bytes sent," \
      "$(wc -c <"$out") back)"
  RATE=$(rate "$size" $((t1 - t0)))
}

# The suite shared by test_tun_tcp.sh and test_tap_tcp.sh. BACKEND tun|tap,
# NET the /24 to use as "10.77.N".
run_tcp_suite() {
  local backend=$1 net=$2 dev="w${1}${2##*.}t" ns server rc i t
  local weir="$net.2" kern="$net.1" big=$((16 * 1024 * 1024)) t0 t1
  local part=$((4 * 1024 * 1024)) n=4 pids=() closed
  local common=(--backend "$backend" --if "$dev" --ip "$weir/24"
    --kernel-ip "$kern/24")

  need_root
  command -v nc >/dev/null || skip "missing nc (run ci/deps.sh)"
  command -v ss >/dev/null || skip "missing ss (iproute2)"
  make_ns_into ns
  head -c "$big" /dev/urandom >"$TMP/big.bin"
  for i in $(seq 1 $n); do
    head -c "$part" /dev/urandom >"$TMP/part$i.bin"
  done

  # --- weir echoserver, Linux clients ----------------------------------
  # --timeout: connections idle for 30 s are reset, and the server leaves
  # after 30 s without any, should this script die.
  start_bg server 400 ip netns exec "$ns" "$BUILD/echoserver" -v \
    "${common[@]}" --timeout 30 7 >"$TMP/server.log" 2>"$TMP/server.err"
  wait_until 5 dev_ready "$ns" "$dev" "$kern/24" ||
    fail "$dev did not come up: $(cat "$TMP/server.log" "$TMP/server.err")"

  tcp_echo_check "$ns" socat "$weir" 7 "$TMP/big.bin" "$TMP/big.socat"
  log "socat -> weir echoserver: 16 MiB each way, sha256 equal, $RATE"
  expect_settled "$ns" "after socat"

  tcp_echo_check "$ns" nc "$weir" 7 "$TMP/big.bin" "$TMP/big.nc"
  log "nc -N -> weir echoserver: 16 MiB each way, sha256 equal, $RATE"
  expect_settled "$ns" "after nc"

  t0=$(now_ns)
  for i in $(seq 1 $n); do
    timeout 120 ip netns exec "$ns" socat -t 60 -T 30 - "TCP4:$weir:7" \
      <"$TMP/part$i.bin" >"$TMP/part$i.echo" 2>"$TMP/part$i.err" &
    pids+=($!)
  done
  for i in $(seq 1 $n); do
    wait "${pids[$((i - 1))]}"
    rc=$?
    [ "$rc" -eq 0 ] || fail "parallel client $i: socat exit $rc:" \
      "$(head -2 "$TMP/part$i.err" | tr '\n' ' ')"
  done
  t1=$(now_ns)
  for i in $(seq 1 $n); do
    same_file "$TMP/part$i.bin" "$TMP/part$i.echo" ||
      fail "parallel client $i: the echo differs ($(wc -c \
        <"$TMP/part$i.echo") of $part bytes back)"
  done
  log "$n socat clients at once: 4 MiB each, each sha256 equal," \
    "$(rate $((n * part)) $((t1 - t0))) in all"
  expect_settled "$ns" "after $n clients"

  # A port nobody listens on: weir answers the SYN with RST.
  capture_start "$ns" "$dev" "$TMP/refused.pcap.txt" tcp port 9
  t0=$(now_ns)
  if timeout 10 ip netns exec "$ns" socat - "TCP4:$weir:9" </dev/null \
    >/dev/null 2>"$TMP/refused.err"; then
    fail "connect to weir's closed port 9 succeeded"
  fi
  t1=$(now_ns)
  capture_stop
  grep -q "Connection refused" "$TMP/refused.err" ||
    fail "connect to weir's port 9: $(head -1 "$TMP/refused.err")"
  if [ -f "$TMP/refused.pcap.txt" ]; then
    grep -q "$weir\.9 > $kern\.[0-9]*: Flags \[R\.\]" "$TMP/refused.pcap.txt" ||
      fail "no RST from weir in tcpdump: $(cat "$TMP/refused.pcap.txt")"
  fi
  log "connect to weir's closed port 9: RST, Connection refused in" \
    "$(((t1 - t0) / 1000000)) ms"

  kill -TERM "$server"
  wait_pid "$server" 10
  rc=$?
  [ "$rc" -eq 0 ] ||
    fail "echoserver exited $rc on SIGTERM: $(tail -5 "$TMP/server.err")"
  # Every connection closed cleanly on weir's side too (FINs both ways).
  closed=$(grep -c " closed: " "$TMP/server.err")
  [ "$closed" -eq $((n + 2)) ] ||
    fail "echoserver closed $closed connections cleanly, want $((n + 2)):" \
      "$(grep -v Mbit "$TMP/server.err" | head -5)"
  for t in "SYN-RECEIVED -> ESTABLISHED" "CLOSE-WAIT -> LAST-ACK" \
    "LAST-ACK -> CLOSED"; do
    grep -q -- "$t" "$TMP/server.log" ||
      fail "echoserver -v shows no '$t': $(head -20 "$TMP/server.log")"
  done
  log "echoserver: $closed connections closed with FINs both ways," \
    "-v shows the transitions ($(grep -c " retransmit " "$TMP/server.log")" \
    "retransmissions), exit 0 on SIGTERM"

  # --- weir echoclient, a Linux echo server -----------------------------
  # shellcheck disable=SC2034 # set by start_bg, through printf -v
  local linux
  # -t: after the client's FIN, wait for cat's last bytes to go back.
  start_bg linux 400 ip netns exec "$ns" socat -t 60 -T 60 \
    TCP4-LISTEN:7,fork,reuseaddr EXEC:cat >"$TMP/linux.log" 2>&1
  wait_until 5 tcp_listening "$ns" 7 || fail "socat did not listen on 7"
  t0=$(now_ns)
  timeout 120 ip netns exec "$ns" "$BUILD/echoclient" -v "${common[@]}" \
    --timeout 10 "$kern" 7 <"$TMP/big.bin" >"$TMP/client.out" \
    2>"$TMP/client.err"
  rc=$?
  t1=$(now_ns)
  [ "$rc" -eq 0 ] || fail "echoclient exited $rc: $(grep -v ' -> ' \
    "$TMP/client.err" | tail -3 | tr '\n' ' ')"
  same_file "$TMP/big.bin" "$TMP/client.out" ||
    fail "echoclient: the echo differs ($(wc -c <"$TMP/client.out") of" \
      "$big bytes)"
  for t in "SYN-SENT -> ESTABLISHED" "-> TIME-WAIT" "TIME-WAIT -> CLOSED" \
    "bytes sent and echoed"; do
    grep -q -- "$t" "$TMP/client.err" ||
      fail "echoclient -v shows no '$t': $(head -20 "$TMP/client.err")"
  done
  log "weir echoclient -> socat EXEC:cat: 16 MiB each way, sha256 equal," \
    "$(grep -o 'in [0-9.]* s: [0-9.]* Mbit/s each way' "$TMP/client.err")," \
    "exit 0 after $(rate "$big" $((t1 - t0)) | cut -d, -f1) (2 s of it" \
    "TIME-WAIT), $(grep -c " retransmit " "$TMP/client.err") retransmissions"
  expect_settled "$ns" "after echoclient"

  timeout 30 ip netns exec "$ns" "$BUILD/echoclient" "${common[@]}" \
    --timeout 5 "$kern" 9 </dev/null >/dev/null 2>"$TMP/client9.err"
  rc=$?
  if [ "$rc" -ne 1 ] || ! grep -q "refused" "$TMP/client9.err" ||
    [ "$(wc -l <"$TMP/client9.err")" -ne 1 ]; then
    fail "echoclient to closed port 9: exit $rc: $(cat "$TMP/client9.err")"
  fi
  log "echoclient -> Linux closed port 9: exit 1, $(cat "$TMP/client9.err")"
}
