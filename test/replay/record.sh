#!/usr/bin/env bash
# Records the replay tests' exchanges: weir's echoserver on a TUN and on a
# TAP device in a weir-* namespace, and the Linux kernel on the other side
# of the device sending pings, UDP datagrams to the echo port, and one to
# a closed port. tcpdump on the device writes NAME.pcap; NAME.conf says how
# weir was configured, for test_replay.c to rebuild the same stack.
#
# Run as root from the repository root after `make`:
#   bash test/replay/record.sh
# Re-record only when a deliberate change alters what weir sends, and say
# so in the commit.
set -eu
cd "$(dirname "$0")/../.."
out=test/replay
ns=weir-record-$$
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "record.sh: needs root" >&2; exit 1; }
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
  net.ipv6.conf.default.disable_ipv6=1

record() {
  local name=$1 backend=$2 net=$3 link=$4 dev=wrec$2
  local weir=$net.2 kern=$net.1 mac=02:77:00:00:00:02 seed=1 port=7
  ip netns exec "$ns" timeout 30 build/echoserver -u --backend "$backend" \
    --if "$dev" --ip "$weir/24" --kernel-ip "$kern/24" --mac "$mac" \
    --seed $seed --timeout 25 $port &
  local srv=$!
  pids+=("$srv")
  for _ in $(seq 100); do
    ip netns exec "$ns" ip -4 -o addr show dev "$dev" up 2>/dev/null |
      grep -q "$kern" && break
    sleep 0.05
  done
  ip netns exec "$ns" timeout 20 tcpdump --immediate-mode -U -n -i "$dev" -w "$out/$name.pcap" \
    2>/dev/null &
  local dump=$!
  pids+=("$dump")
  sleep 1
  ip netns exec "$ns" ping -c 3 -i 0.2 -W 1 "$weir" >/dev/null
  printf 'first line\nsecond, longer line of the exchange\n' |
    ip netns exec "$ns" timeout 5 socat -t 0.5 - "UDP4:$weir:$port" >/dev/null
  head -c 1472 /dev/zero | tr '\0' 'w' |
    ip netns exec "$ns" timeout 5 socat -b 1472 -t 0.5 - "UDP4:$weir:$port" >/dev/null
  # A closed port: weir answers ICMP port unreachable, socat fails.
  if echo closed | ip netns exec "$ns" timeout 5 socat -t 0.5 - \
    "UDP4:$weir:9" >/dev/null 2>"$out/.socat.err"; then
    echo "record.sh: no port unreachable from weir" >&2
    exit 1
  fi
  grep -q 'Connection refused' "$out/.socat.err"
  rm -f "$out/.socat.err"
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

record tun_ping_udp tun 10.77.201 ip
record tap_ping_udp tap 10.77.202 ethernet
