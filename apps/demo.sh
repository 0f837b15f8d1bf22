#!/usr/bin/env bash
# make demo: weir answering Linux through a TUN device.
#
# In a network namespace of its own (weir-demo-<pid>), echoserver creates
# the TUN device weir0, gives the kernel's side 10.77.0.1/24 and takes
# 10.77.0.2 for weir. From the namespace's kernel we then ping weir, send
# it a few UDP lines with socat and one datagram to a closed port, with
# tcpdump on weir0. Shown at the end: echoserver's -v lines and counters,
# and the tcpdump of the exchange. Exits 0 only if the replies came back.
# Everything it makes (namespace, device, processes) is removed at exit.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${WEIR_BUILD:-$root/build}
ns=weir-demo-$$
dev=weir0
weir=10.77.0.2
kern=10.77.0.1
port=7
tmp=$(mktemp -d /tmp/weir-demo.XXXXXX)
pids=()

say() { printf '\n== %s ==\n' "$*"; }
die() {
  echo "demo: $*" >&2
  echo "FAIL"
  exit 1
}

# Stops a PID we started: the signal, then KILL past a short deadline.
stop() {
  local pid=$1 sig=${2:-TERM}
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null
}

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    stop "$pid"
  done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# until_ok SECONDS CMD...: retries CMD every 50 ms up to the deadline.
until_ok() {
  local end=$(($(date +%s%N) + $1 * 1000000000))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.05
  done
}

[ "$(id -u)" -eq 0 ] ||
  die "needs root (network namespace, /dev/net/tun): sudo make demo"
[ -c /dev/net/tun ] || die "no /dev/net/tun (modprobe tun)"
[ -x "$build/echoserver" ] || die "no $build/echoserver: run make first"
for c in ip ping socat tcpdump timeout; do
  command -v $c >/dev/null || die "missing $c (run ci/deps.sh)"
done

ip netns add "$ns" || die "cannot create namespace $ns"
ip netns exec "$ns" ip link set lo up
# No IPv6 chatter (router solicitations, MLD) in the capture.
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
  net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1

echo "weir demo: echoserver on TUN device $dev in namespace $ns"
echo "  weir $weir/24 (user space)  <->  Linux $kern/24 (kernel side of $dev)"

# --timeout: echoserver leaves by itself should this script die.
timeout --kill-after=2 30 ip netns exec "$ns" "$build/echoserver" -u -v \
  --backend tun --if "$dev" --ip "$weir/24" --kernel-ip "$kern/24" \
  --timeout 20 "$port" >"$tmp/server.log" 2>&1 &
server=$!
pids+=("$server")
dev_ready() {
  ip netns exec "$ns" ip -4 -o addr show dev "$dev" up | grep -q " $kern/24 "
}
until_ok 5 dev_ready ||
  die "$dev did not come up: $(cat "$tmp/server.log")"

timeout --kill-after=2 25 ip netns exec "$ns" tcpdump -n -l -i "$dev" \
  >"$tmp/tcpdump.txt" 2>"$tmp/tcpdump.err" &
pids+=("$!")
tcpdump_pid=$!
until_ok 5 grep -q "listening on" "$tmp/tcpdump.err" ||
  die "tcpdump did not start: $(cat "$tmp/tcpdump.err")"

say "ping -c 3 $weir (from the kernel)"
ip netns exec "$ns" ping -n -c 3 -i 0.2 -W 1 "$weir" | tee "$tmp/ping.txt"
pings=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$tmp/ping.txt")

say "UDP lines to $weir:$port with socat"
echoed=0
lines=("hello, weir" "a user-space TCP/IP stack" "bye")
for line in "${lines[@]}"; do
  reply=$(printf '%s\n' "$line" |
    timeout 5 ip netns exec "$ns" socat -t 1 - "UDP4:$weir:$port" 2>&1)
  printf '  sent %-28s got back %s\n' "\"$line\"" "\"$reply\""
  [ "$reply" = "$line" ] && echoed=$((echoed + 1))
done

say "UDP to closed port 9"
refused=$(printf 'anyone?\n' |
  timeout 5 ip netns exec "$ns" socat -t 1 - "UDP4:$weir:9" 2>&1 |
  grep -o 'Connection refused')
echo "  socat: ${refused:-no error} (weir sent ICMP port unreachable)"

sleep 0.2 # let tcpdump print the last replies
stop "$server" INT
stop "$tcpdump_pid" INT

say "echoserver -v"
cat "$tmp/server.log"
say "tcpdump -n -i $dev"
cat "$tmp/tcpdump.txt"

echo
n=${#lines[@]}
if [ "${pings:-0}" -eq 3 ] && [ "$echoed" -eq "$n" ] && [ -n "$refused" ]; then
  echo "PASS: weir answered 3/3 pings, echoed $echoed/$n UDP lines" \
    "and refused port 9"
  exit 0
fi
echo "FAIL: ${pings:-0}/3 ping replies, $echoed/$n UDP echoes," \
  "port 9 ${refused:-not refused}"
exit 1
