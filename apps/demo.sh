#!/usr/bin/env bash
# make demo [BACKEND=tun|tap|raw|pcap]: weir talking TCP (and ICMP, UDP) to
# Linux through the backend of your choice (tun by default).
#
#   tun, tap   In a network namespace of its own (weir-demo-<pid>),
#              echoserver creates the device weir0, gives the kernel's side
#              10.77.0.1/24 and takes 10.77.0.2 for weir; a second
#              echoserver, in UDP mode, does the same on weir1 with
#              10.77.10.0/24.
#   raw, pcap  Two namespaces joined by veth pairs: weir-demo-w-<pid> holds
#              weir's ends (wdemo0, wdemo1: no address, so the kernel there
#              stays out of the way), weir-demo-<pid> the kernel's ends
#              (wdemo0k 10.77.0.1/24, wdemo1k 10.77.10.1/24). weir sits on
#              its end with its own MAC and IP, through an AF_PACKET socket
#              (raw) or libpcap (pcap; checksum offload is turned off on
#              the kernel's ends, as libpcap cannot show what it left out).
#
# From the kernel's namespace we then ping weir, send it a few lines over
# TCP with `nc -N` (which closes its sending side at the end of its input,
# so that the whole close shows), try a closed TCP port, and send one UDP
# line. Each echoserver writes what crossed its link to a pcap file
# (--pcap-out) that outlives the demo: build/demo-BACKEND.pcap (TCP, ping)
# and build/demo-BACKEND-udp.pcap; both are named at the end. Shown: the
# echoserver's -v lines (one per TCP state transition), its counters, and
# `tcpdump -r` of its capture: the handshake, the data, the close, the RST.
# Exits 0 only if the echoes came back right. Everything else it makes
# (namespaces, devices, processes) is removed at exit.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${WEIR_BUILD:-$root/build}
backend=${BACKEND:-tun}
ns=weir-demo-$$
wns=$ns # where weir runs: its own namespace for raw and pcap
weir=10.77.0.2
kern=10.77.0.1
uweir=10.77.10.2
ukern=10.77.10.1
port=7
pcap=$build/demo-$backend.pcap
upcap=$build/demo-$backend-udp.pcap
tmp=$(mktemp -d /tmp/weir-demo.XXXXXX)
pids=()
made_ns=()

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
  local rc=$? pid n
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    stop "$pid"
  done
  for n in "${made_ns[@]}"; do
    ip netns del "$n" 2>/dev/null
  done
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

# shellcheck disable=SC2317 # called through until_ok
logged() { grep -q "$2" "$1"; }

new_ns() {
  ip netns add "$1" || die "cannot create namespace $1"
  made_ns+=("$1")
  ip netns exec "$1" ip link set lo up
  # No IPv6 chatter (router solicitations, MLD) in the capture.
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
}

# veth WEIR_END KERNEL_END KERNEL_ADDR: a pair between the namespaces,
# only the kernel's end addressed.
veth() {
  ip link add "$1" netns "$wns" type veth peer name "$2" netns "$ns" ||
    die "cannot create the veth pair $1/$2"
  ip netns exec "$wns" ip link set "$1" up
  ip netns exec "$ns" ip addr add "$3/24" dev "$2"
  ip netns exec "$ns" ip link set "$2" up
  # libpcap shows weir the frames as they are, and a local sender leaves
  # checksums to the (virtual) hardware: turn that off on the kernel's end
  # (the raw backend repairs them itself; see backends/pcap.c).
  if [ "$backend" = pcap ]; then
    ip netns exec "$ns" ethtool -K "$2" tx off >/dev/null 2>&1 ||
      die "ethtool -K $2 tx off failed"
  fi
}

case $backend in
tun | tap | raw | pcap) ;;
*)
  echo "demo: unknown BACKEND '$backend': want tun, tap, raw or pcap" \
    "(e.g. make demo BACKEND=tap)" >&2
  exit 2
  ;;
esac
[ "$(id -u)" -eq 0 ] ||
  die "needs root (network namespaces, devices): sudo make demo"
[ -x "$build/echoserver" ] || die "no $build/echoserver: run make first"
# --help exits 0 only past a known --backend: this asks the build itself.
"$build/echoserver" --backend "$backend" --help >/dev/null 2>&1 ||
  die "this build has no '$backend' backend yet ($("$build/echoserver" \
    --backend "$backend" 7 2>&1 | sed -e 's/^echoserver: //' -e 's/ (see --help)//'))"
case $backend in
tun | tap) [ -c /dev/net/tun ] || die "no /dev/net/tun (modprobe tun)" ;;
esac
need=(ip ping socat nc tcpdump timeout)
[ "$backend" = pcap ] && need+=(ethtool)
for c in "${need[@]}"; do
  command -v "$c" >/dev/null || die "missing $c (run ci/deps.sh)"
done

new_ns "$ns"
case $backend in
tun | tap)
  dev=weir0 udev=weir1
  link=(--backend "$backend" --if "$dev" --kernel-ip "$kern/24")
  ulink=(--backend "$backend" --if "$udev" --kernel-ip "$ukern/24")
  echo "weir demo: echoserver on $backend device $dev in namespace $ns"
  echo "  weir $weir/24 (user space)  <->  Linux $kern/24 (kernel side" \
    "of $dev)"
  ;;
raw | pcap)
  wns=weir-demo-w-$$
  new_ns "$wns"
  dev=wdemo0 udev=wdemo1
  veth "$dev" "${dev}k" "$kern"
  veth "$udev" "${udev}k" "$ukern"
  link=(--backend "$backend" --if "$dev")
  ulink=(--backend "$backend" --if "$udev")
  echo "weir demo: echoserver on $dev ($backend) in namespace $wns," \
    "Linux on ${dev}k in $ns"
  echo "  weir $weir/24 (user space, own MAC)  <->  Linux $kern/24"
  ;;
esac

# --timeout: each echoserver leaves by itself should this script die.
timeout --kill-after=2 30 ip netns exec "$wns" "$build/echoserver" -v \
  "${link[@]}" --ip "$weir/24" --pcap-out "$pcap" --timeout 20 "$port" \
  >"$tmp/server.log" 2>&1 &
server=$!
pids+=("$server")
timeout --kill-after=2 30 ip netns exec "$wns" "$build/echoserver" -u -v \
  "${ulink[@]}" --ip "$uweir/24" --pcap-out "$upcap" --timeout 20 "$port" \
  >"$tmp/userver.log" 2>&1 &
userver=$!
pids+=("$userver")
until_ok 5 logged "$tmp/server.log" "echoing TCP on port" ||
  die "echoserver did not start: $(cat "$tmp/server.log")"
until_ok 5 logged "$tmp/userver.log" "echoing UDP on port" ||
  die "the UDP echoserver did not start: $(cat "$tmp/userver.log")"

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

say "UDP: one line to the UDP echoserver at $uweir:$port (on $udev)"
uline="hello over UDP"
ureply=$(printf '%s\n' "$uline" |
  timeout 5 ip netns exec "$ns" socat -t 1 - "UDP4:$uweir:$port" 2>&1)
printf '  sent "%s", got back "%s"\n' "$uline" "$ureply"

stop "$server" INT
stop "$userver" INT

say "echoserver -v (TCP on $dev): one line per state transition"
cat "$tmp/server.log"
say "tcpdump -n -r $pcap: weir's own capture (--pcap-out): ping, the" \
  "handshake (S, S.), the data (P.), the close (F. both ways), the RST" \
  "(R.) from port 9"
tcpdump -n -r "$pcap" 2>/dev/null
frames=$(tcpdump -n -r "$pcap" 2>/dev/null | wc -l)
uframes=$(tcpdump -n -r "$upcap" 2>/dev/null | wc -l)

echo
echo "captures (pcap, both directions, stamped with weir's monotonic clock;"
echo "open them with tcpdump -r, tshark -r or Wireshark):"
echo "  $pcap ($frames frames: ping and TCP)"
echo "  $upcap ($uframes frames: UDP)"
echo
if [ "${pings:-0}" -eq 3 ] && [ "$tcp_ok" -eq 1 ] && [ -n "$refused" ] &&
  [ "$ureply" = "$uline" ]; then
  echo "PASS ($backend): weir answered 3/3 pings, echoed 3 lines over TCP" \
    "(closed with FINs both ways), refused TCP port 9 with RST, echoed UDP"
  exit 0
fi
echo "FAIL ($backend): ${pings:-0}/3 ping replies, TCP echo $(
  [ "$tcp_ok" -eq 1 ] && echo right || echo wrong
), port 9 ${refused:-not refused}, UDP echo \"$ureply\""
exit 1
