#!/usr/bin/env bash
# Records the replay tests' exchanges between weir's apps and the Linux
# kernel, on a TUN or TAP device in a weir-* namespace, with tcpdump on the
# device writing NAME.pcap; NAME.conf says how weir was configured and
# what its app did, for test_replay.c to rebuild the same stack and app.
#
#   tun_ping_udp, tap_ping_udp   echoserver -u; the kernel pings, sends
#                                UDP datagrams and one to a closed port
#   tun_tcp_peer_closes,         echoserver; a Linux socat client sends a
#   tap_tcp_peer_closes          few KB and closes first, weir echoes and
#                                closes (CLOSE-WAIT -> LAST-ACK)
#   tun_tcp_weir_closes,         echoclient with a short stdin against a
#   tap_tcp_weir_closes          Linux socat echo server: weir closes
#                                first (FIN-WAIT -> TIME-WAIT), and
#                                delays its ACK of the echo
#   tun_tcp_refused              echoclient to a closed Linux port (RST)
#   tun_tcp_peer_resets          echoserver; a Linux client gets its echo
#                                and resets the connection (SO_LINGER 0)
#
# Run as root from the repository root after `make`:
#   bash test/replay/record.sh [NAME...]     (default: all of them)
# WEIR_RECORD_DIR=DIR writes elsewhere than test/replay. Re-record only
# when a deliberate change alters what weir sends, and say so in the
# commit. A TCP recording holds one connection: test_replay.c aligns its
# clock on that connection's ISN.
set -eu
cd "$(dirname "$0")/../.."
out=${WEIR_RECORD_DIR:-test/replay}
ns=weir-record-$$
pids=()
only=("$@")
tmp=$(mktemp -d /tmp/weir-record.XXXXXX)

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "record.sh: needs root" >&2; exit 1; }
mkdir -p "$out"
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
  net.ipv6.conf.default.disable_ipv6=1

wanted() {
  local n
  [ ${#only[@]} -eq 0 ] && return 0
  for n in "${only[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

nsx() { ip netns exec "$ns" "$@"; }

# Waits up to 5 s for a line matching $2 in file $1.
wait_for() {
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "record.sh: timed out waiting for '$2' in $1" >&2
  return 1
}

record_udp() {
  local name=$1 backend=$2 net=$3 link=$4 dev=wrec$2
  local weir=$net.2 kern=$net.1 mac=02:77:00:00:00:02 seed=1 port=7
  wanted "$name" || return 0
  nsx timeout 30 build/echoserver -u --backend "$backend" --no-offload \
    --if "$dev" --ip "$weir/24" --kernel-ip "$kern/24" --mac "$mac" \
    --seed $seed --timeout 25 $port &
  local srv=$!
  pids+=("$srv")
  for _ in $(seq 100); do
    nsx ip -4 -o addr show dev "$dev" up 2>/dev/null |
      grep -q "$kern" && break
    sleep 0.05
  done
  nsx timeout 20 tcpdump -Z root --immediate-mode -U -n -i "$dev" -w "$out/$name.pcap" \
    2>/dev/null &
  local dump=$!
  pids+=("$dump")
  sleep 1
  nsx ping -c 3 -i 0.2 -W 1 "$weir" >/dev/null
  printf 'first line\nsecond, longer line of the exchange\n' |
    nsx timeout 5 socat -t 0.5 - "UDP4:$weir:$port" >/dev/null
  head -c 1472 /dev/zero | tr '\0' 'w' |
    nsx timeout 5 socat -b 1472 -t 0.5 - "UDP4:$weir:$port" >/dev/null
  # A closed port: weir answers ICMP port unreachable, socat fails.
  if echo closed | nsx timeout 5 socat -t 0.5 - \
    "UDP4:$weir:9" >/dev/null 2>"$tmp/socat.err"; then
    echo "record.sh: no port unreachable from weir" >&2
    exit 1
  fi
  grep -q 'Connection refused' "$tmp/socat.err"
  sleep 1
  kill "$dump"
  wait "$dump" 2>/dev/null || true
  kill "$srv"
  wait "$srv" 2>/dev/null || true
  cat >"$out/$name.conf" <<CONF
# weir's configuration when $name.pcap was recorded (see record.sh)
link=$link
ip=$weir/24
mac=$mac
seed=$seed
echo_port=$port
CONF
  echo "recorded $out/$name.pcap ($(tcpdump -r "$out/$name.pcap" 2>/dev/null | wc -l) packets)"
}

# ---------------------------------------------------------------- TCP
#
# The device is made persistent beforehand (and its kernel side set up
# here), so that tcpdump listens before weir's first packet: echoclient
# sends its SYN as soon as it starts. weir attaches to it and leaves it
# behind at exit.

MAC=02:77:00:00:00:02
SEED=1
MSL_MS=1000 # the apps' default, written out: the replay must use it too

# tcp_begin NAME BACKEND NET: the device wtcpBACKEND with the kernel at
# NET.1, and tcpdump on it. Sets dev, weir, kern, dump.
tcp_begin() {
  name=$1 backend=$2 weir=$3.2 kern=$3.1 dev=wtcp$2
  nsx ip tuntap add dev "$dev" mode "$backend"
  nsx ip addr add "$kern/24" dev "$dev"
  nsx ip link set "$dev" up
  nsx timeout 30 tcpdump -Z root --immediate-mode -U -n -i "$dev" \
    -w "$out/$name.pcap" 2>"$tmp/dump.err" &
  dump=$!
  pids+=("$dump")
  wait_for "$tmp/dump.err" 'listening on'
}

# The flags both apps get; -v for the state lines (trace_entries below).
# --no-offload: the recording must hold wire-sized frames, which the
# replay feeds to weir_input as a link without offloads would.
weir_flags() {
  echo --backend "$backend" --if "$dev" --ip "$weir/24" --mac "$MAC" \
    --seed "$SEED" --msl "$MSL_MS" --no-offload -v
}

# tcp_end NAME LINK APP-LINES...: stops tcpdump once weir has exited,
# removes the device and writes NAME.conf.
tcp_end() {
  local name=$1 link=$2 mtu
  shift 2
  mtu=$(nsx cat "/sys/class/net/$dev/mtu")
  sleep 0.3
  kill "$dump"
  wait "$dump" 2>/dev/null || true
  nsx ip link del "$dev"
  {
    echo "# weir's configuration and app when $name.pcap was recorded (see"
    echo "# record.sh); -v gave the app trace_entries=256"
    echo "link=$link"
    echo "ip=$weir/24"
    echo "mac=$MAC"
    echo "mtu=$mtu"
    echo "seed=$SEED"
    echo "msl_ms=$MSL_MS"
    echo "trace_entries=256"
    printf '%s\n' "$@"
  } >"$out/$name.conf"
  echo "recorded $out/$name.pcap ($(tcpdump -r "$out/$name.pcap" 2>/dev/null | wc -l) packets):"
  grep -E -- '->|reset|refused' "$tmp/weir.log" | sed 's/^/  /' || true
}

# Starts echoserver for one connection and waits until it listens.
start_server() {
  # shellcheck disable=SC2046 # weir_flags is a word list
  nsx timeout 20 build/echoserver $(weir_flags) --count 1 --timeout 10 7 \
    >"$tmp/weir.log" 2>&1 &
  srv=$!
  pids+=("$srv")
  wait_for "$tmp/weir.log" 'echoing TCP on port 7'
}

wait_server() {
  if ! wait "$srv"; then
    echo "record.sh: echoserver failed:" >&2
    cat "$tmp/weir.log" >&2
    exit 1
  fi
}

# The text the clients send: a few KB on the passive side, two lines on
# the active one.
for i in $(seq 1 60); do
  printf 'line %02d of a TCP exchange that weir replays byte for byte\n' "$i"
done >"$tmp/few-kb"
printf 'hello from weir\nthe second and last line\n' >"$tmp/short"
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }

record_peer_closes() {
  local name=$1 link=$3
  wanted "$name" || return 0
  tcp_begin "$name" "$2" "$4"
  start_server
  # socat sends the few KB, and 0.1 s later, at the end of its stdin,
  # shuts down its sending side (FIN first); it reads the echo until
  # weir's FIN.
  { cat "$tmp/few-kb"; sleep 0.1; } |
    nsx timeout 10 socat -t 2 - "TCP4:$weir:7" >"$tmp/echo"
  cmp -s "$tmp/few-kb" "$tmp/echo" || {
    echo "record.sh: $name: echo differs" >&2
    exit 1
  }
  wait_server
  tcp_end "$name" "$link" app=tcp-echo-server port=7 count=1
}

record_weir_closes() {
  local name=$1 link=$3
  wanted "$name" || return 0
  tcp_begin "$name" "$2" "$4"
  # cat echoes; the FIN follows 0.2 s after the echo, so that weir, in
  # FIN-WAIT-2, acknowledges the echo on its delayed-ACK timer.
  nsx timeout 20 socat -t 2 "TCP4-LISTEN:7000,bind=$kern,reuseaddr" \
    SYSTEM:'cat; sleep 0.2' 2>/dev/null &
  local echo_srv=$!
  pids+=("$echo_srv")
  for _ in $(seq 100); do
    nsx ss -Htln "sport = :7000" | grep -q . && break
    sleep 0.05
  done
  # stdin is a regular file: echoclient reads it whole, at once, when the
  # connection is established, and shuts down at its end (FIN first).
  # shellcheck disable=SC2046
  if ! nsx timeout 10 build/echoclient $(weir_flags) "$kern" 7000 \
    <"$tmp/short" >"$tmp/echo" 2>"$tmp/weir.log"; then
    echo "record.sh: $name: echoclient failed:" >&2
    cat "$tmp/weir.log" >&2
    exit 1
  fi
  cmp -s "$tmp/short" "$tmp/echo"
  kill "$echo_srv" 2>/dev/null || true
  wait "$echo_srv" 2>/dev/null || true
  tcp_end "$name" "$link" app=tcp-client "connect=$kern:7000" \
    "stdin=$(hex "$tmp/short")"
}

record_refused() {
  local name=$1 link=$3
  wanted "$name" || return 0
  tcp_begin "$name" "$2" "$4"
  # Nothing listens on 7001: the kernel answers the SYN with RST,ACK.
  # shellcheck disable=SC2046
  if nsx timeout 10 build/echoclient $(weir_flags) "$kern" 7001 \
    <"$tmp/short" >/dev/null 2>"$tmp/weir.log"; then
    echo "record.sh: $name: the connect was not refused" >&2
    exit 1
  fi
  grep -q 'refused' "$tmp/weir.log"
  tcp_end "$name" "$link" app=tcp-client "connect=$kern:7001" \
    "stdin=$(hex "$tmp/short")"
}

record_peer_resets() {
  local name=$1 link=$3
  wanted "$name" || return 0
  tcp_begin "$name" "$2" "$4"
  start_server
  # Sends, reads the whole echo, then closes with SO_LINGER 0: a RST in
  # the middle of an established connection.
  nsx timeout 10 python3 - "$weir" "$tmp/few-kb" <<'PY'
import socket, struct, sys
data = open(sys.argv[2], "rb").read()[:1000]
s = socket.create_connection((sys.argv[1], 7))
s.sendall(data)
got = b""
while len(got) < len(data):
    chunk = s.recv(65536)
    if not chunk:
        sys.exit("short echo")
    got += chunk
assert got == data
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
PY
  wait_server
  tcp_end "$name" "$link" app=tcp-echo-server port=7 count=1
}

# Runs a recording again (up to 5 times) until weir sent one SYN and the
# kernel answered it at once: when weir attaches to the device, the
# kernel's transmit queue starts a moment later, and an answer the kernel
# sends before that is dropped unseen; a retransmission (weir's SYN, the
# kernel's SYN-ACK) then shows in the recording, an accident.
one_syn() {
  local name=$1 fn=$2 got
  shift 2
  wanted "$name" || return 0
  for _ in 1 2 3 4 5; do
    "$fn" "$name" "$@"
    got=$(tcpdump -r "$out/$name.pcap" -n -tt 2>/dev/null |
      awk -v me="IP $weir." '
        index($0, me) { if ($0 ~ /Flags \[S\]/) { syn++; t = $1 }; next }
        syn && gap == "" { gap = $1 - t }
        END { print (syn == 1 && gap != "" && gap < 0.1) ? "ok" : syn " SYNs" }')
    [ "$got" = ok ] && return 0
    echo "record.sh: $name: $got or a late answer, recording again" >&2
  done
  exit 1
}

record_udp tun_ping_udp tun 10.77.201 ip
record_udp tap_ping_udp tap 10.77.202 ethernet
record_peer_closes tun_tcp_peer_closes tun ip 10.77.203
record_peer_closes tap_tcp_peer_closes tap ethernet 10.77.204
one_syn tun_tcp_weir_closes record_weir_closes tun ip 10.77.205
one_syn tap_tcp_weir_closes record_weir_closes tap ethernet 10.77.206
one_syn tun_tcp_refused record_refused tun ip 10.77.207
record_peer_resets tun_tcp_peer_resets tun ip 10.77.208
