#!/usr/bin/env bash
# make demo: weir talking TCP (and ICMP, UDP) to Linux through TUN devices.
#
# In a network namespace of its own (weir-demo-<pid>), echoserver creates
# the TUN device weir0, gives the kernel's side 10.77.0.1/24 and takes
# 10.77.0.2 for weir; a second echoserver, in UDP mode, does the same on
# weir1 with 10.77.10.0/24. From the namespace's kernel we then ping weir,
# send it a few lines over TCP with `nc -N` (which closes its sending side
# at the end of its input, so that the whole close shows), try a closed
# TCP port, and send one UDP line, with tcpdump on weir0. Shown at the
# end: echoserver's -v lines (one per TCP state transition) and counters,
# and the tcpdump of the exchange: the handshake, the data and the close.
# Exits 0 only if the echoes came back right. Everything it makes
# (namespace, devices, processes) is removed at exit.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${WEIR_BUILD:-$root/build}
ns=weir-demo-$$
dev=weir0
weir=10.77.0.2
kern=10.77.0.1
udev=weir1
uweir=10.77.10.2
ukern=10.77.10.1
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

# shellcheck disable=SC2317 # called through the trap
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

# dev_ready DEV ADDR: the device is up with the kernel's address.
# shellcheck disable=SC2317 # called through until_ok
dev_ready() {
  ip netns exec "$ns" ip -4 -o addr show dev "$1" up | grep -q " $2/24 "
}

[ "$(id -u)" -eq 0 ] ||
  die "needs root (network namespace, /dev/net/tun): sudo make demo"
[ -c /dev/net/tun ] || die "no /dev/net/tun (modprobe tun)"
[ -x "$build/echoserver" ] || die "no $build/echoserver: run make first"
for c in ip ping socat nc tcpdump timeout; do
  command -v $c >/dev/null || die "missing $c (run ci/deps.sh)"
done

ip netns add "$ns" || die "cannot create namespace $ns"
ip netns exec "$ns" ip link set lo up
# No IPv6 chatter (router solicitations, MLD) in the capture.
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
  net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1

echo "weir demo: echoserver on TUN device $dev in namespace $ns"
echo "  weir $weir/24 (user space)  <->  Linux $kern/24 (kernel side of $dev)"

# --timeout: each echoserver leaves by itself should this script die.
timeout --kill-after=2 30 ip netns exec "$ns" "$build/echoserver" -v \
  --backend tun --if "$dev" --ip "$weir/24" --kernel-ip "$kern/24" \
  --timeout 20 "$port" >"$tmp/server.log" 2>&1 &
server=$!
pids+=("$server")
timeout --kill-after=2 30 ip netns exec "$ns" "$build/echoserver" -u \
  --backend tun --if "$udev" --ip "$uweir/24" --kernel-ip "$ukern/24" \
  --timeout 20 "$port" >"$tmp/userver.log" 2>&1 &
userver=$!
pids+=("$userver")
until_ok 5 dev_ready "$dev" "$kern" ||
  die "$dev did not come up: $(cat "$tmp/server.log")"
until_ok 5 dev_ready "$udev" "$ukern" ||
  die "$udev did not come up: $(cat "$tmp/userver.log")"

timeout --kill-after=2 25 ip netns exec "$ns" tcpdump -n -l -i "$dev" \
  >"$tmp/tcpdump.txt" 2>"$tmp/tcpdump.err" &
pids+=("$!")
tcpdump_pid=$!
until_ok 5 grep -q "listening on" "$tmp/tcpdump.err" ||
  die "tcpdump did not start: $(cat "$tmp/tcpdump.err")"

say "ping -c 3 $weir (from the kernel)"
ip netns exec "$ns" ping -n -c 3 -i 0.2 -W 1 "$weir" | tee "$tmp/ping.txt"
pings=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$tmp/ping.txt")

say "TCP: three lines to $weir:$port with nc -N, and what came back"
printf '%s\n' "hello, weir" "a user-space TCP/IP stack" "bye" >"$tmp/tcp.in"
timeout 10 ip netns exec "$ns" nc -N -w 5 "$weir" "$port" \
  <"$tmp/tcp.in" >"$tmp/tcp.out" 2>"$tmp/nc.err"
sed 's/^/  sent  /' "$tmp/tcp.in"
sed 's/^/  echo  /' "$tmp/tcp.out"
tcp_ok=0
cmp -s "$tmp/tcp.in" "$tmp/tcp.out" && tcp_ok=1
[ -s "$tmp/nc.err" ] && sed 's/^/  /' "$tmp/nc.err"

say "TCP to closed port 9"
refused=$(timeout 5 ip netns exec "$ns" nc -v -w 2 "$weir" 9 </dev/null 2>&1 |
  grep -o 'Connection refused')
echo "  nc: ${refused:-no error} (weir answered the SYN with RST)"

say "UDP: one line to the UDP echoserver at $uweir:$port (device $udev)"
uline="hello over UDP"
ureply=$(printf '%s\n' "$uline" |
  timeout 5 ip netns exec "$ns" socat -t 1 - "UDP4:$uweir:$port" 2>&1)
printf '  sent "%s", got back "%s"\n' "$uline" "$ureply"

sleep 0.2 # let tcpdump print the last packets
stop "$server" INT
stop "$userver" INT
stop "$tcpdump_pid" INT

say "echoserver -v (TCP on $dev): one line per state transition"
cat "$tmp/server.log"
say "tcpdump -n -i $dev: ping, the handshake (S, S.), the data (P.), the" \
  "close (F. both ways), the RST (R.) from port 9"
cat "$tmp/tcpdump.txt"

echo
if [ "${pings:-0}" -eq 3 ] && [ "$tcp_ok" -eq 1 ] && [ -n "$refused" ] &&
  [ "$ureply" = "$uline" ]; then
  echo "PASS: weir answered 3/3 pings, echoed 3 lines over TCP (closed" \
    "with FINs both ways), refused TCP port 9 with RST, echoed UDP"
  exit 0
fi
echo "FAIL: ${pings:-0}/3 ping replies, TCP echo $([ "$tcp_ok" -eq 1 ] &&
  echo right || echo wrong), port 9 ${refused:-not refused}, UDP echo" \
  "\"$ureply\""
exit 1
