#!/usr/bin/env bash
# bench/net.sh [BUILD]: weir's network figures, each beside Linux's own
# figure for a comparable path, measured in the same run.
#
#   bulk     one-way TCP over each backend (tun, tap, raw, pcap; tun and
#            raw also with --no-offload, one packet per frame), both
#            ways, each figure the median of 3 runs of 2 s: Linux -> weir
#            is bench/netxfer writing to weir's echoserver --discard, timed
#            from connect to weir's FIN (every byte read by weir); weir ->
#            Linux is weir's echoclient reading /dev/zero into bench/netxfer
#            sink, timed from its first read to its last. Reference: Linux
#            -> Linux TCP over a veth pair between two namespaces (iperf3,
#            and netxfer as weir's runs use it), offloads off (ethtool -K
#            ... tso gso gro tx rx off, both ends: MTU-sized segments on
#            the wire; the issue's reference for TUN) and with the veth's
#            defaults (64 KiB super-frames: the fairer comparison where
#            weir's device has offloads too, as a TUN device may; a
#            progress line shows the device's). raw is held to the link's
#            own rate instead. Linux's end of weir's veth keeps its
#            defaults for raw and has tx checksum offload off for pcap
#            (which cannot; see backends/pcap.c).
#   link     the device's own rate at MTU size through the calls weir's
#            backends make: TUN/TAP write(), AF_PACKET sendmmsg() and
#            pcap_inject() on a veth end (bench/linkrate), in frames/s and
#            in Gbit/s of 1500-byte IP packets (TCP's goodput per such
#            packet is 1448 bytes: 96.5% of it at best).
#   latency  TCP_NODELAY ping-pong of 1 B and 1 KiB (bench/rr, 20000 round
#            trips after 1000 unmeasured), p50 and p99 in microseconds,
#            against weir's echoserver over each backend, beside a kernel
#            echo server (rr -l) over a veth pair between namespaces and on
#            loopback.
#
# CPU placement, the same for weir and Linux: with two CPUs or more, the
# side under test (weir, or the Linux server standing in for it) runs on
# CPU 1; for bulk the Linux peer (sender, sink) runs on CPU 0, so that the
# two ends work in parallel; for latency the client shares CPU 1 with the
# server, because across CPUs each round trip also pays for waking an
# idle CPU, which in a VM costs tens of microseconds and varies from run
# to run (it hid the stacks' own costs: 14 us against 80 us p50 for Linux
# over veth here). Link rates run on CPU 1. Kernel work runs where the
# system call that causes it runs (a veth or TUN delivers in the sender's
# context).
#
# Output: progress on stderr; on stdout one CSV row per figure, no header:
#   section,case,value,unit,reference,ref_value,goal
# where goal is a comparison that value/ref_value (value alone if there is
# no reference) should meet, empty if none. A case that cannot run gives
# value NA (the reason on stderr); the script goes on, and exits 1 at the
# end if any did. Exit 77 (skip) if not root.
#
# Namespaces weir-net-*-<pid>, addresses in 10.77.200.0/24-10.77.209.0/24
# only, all of it removed at exit. About two minutes.

# SC2317: the measuring functions are called through median(), which
# the checker cannot follow.
# shellcheck disable=SC2317
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in
/*) ;;
*) build=$root/$build ;;
esac

SECS=2      # each bulk transfer
RUNS=3      # bulk transfers per figure, which is their median
LSECS=2     # each link rate
RR_N=20000  # round trips per latency figure

say() { echo "net: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  say "SKIP: needs root (network namespaces, TUN/TAP, packet sockets)"
  exit 77
fi
for c in ip ss ethtool taskset timeout; do
  if ! command -v "$c" >/dev/null; then
    say "SKIP: missing $c (run ci/deps.sh)"
    exit 77
  fi
done
for b in echoserver echoclient bench/netxfer bench/rr bench/linkrate; do
  if [ ! -x "$build/$b" ]; then
    say "no $build/$b: build it first (make all, and the Makefile's BENCH_NET_BINS)"
    exit 1
  fi
done
if ! ip netns add "weir-net-probe-$$" 2>/dev/null; then
  say "SKIP: cannot create network namespaces here"
  exit 77
fi
ip netns del "weir-net-probe-$$"

# shellcheck source-path=SCRIPTDIR source=netlib.sh
WEIR_BUILD=$build . "$root/bench/netlib.sh"
T=$TMP
ES=$build/echoserver
EC=$build/echoclient
NX=$build/bench/netxfer
RR=$build/bench/rr
LR=$build/bench/linkrate

if [ "$(nproc)" -ge 2 ]; then
  SUT=(taskset -c 1)
  PEER=(taskset -c 0)
  RR_PEER=(taskset -c 1)
  say "CPU placement: weir / the Linux server on CPU 1; the Linux peer on" \
    "CPU 0 for bulk, on CPU 1 too for latency"
else
  SUT=()
  PEER=()
  RR_PEER=()
  say "CPU placement: one CPU, everything on it"
fi

failed=0
WHY=

row() {
  printf '%s,%s,%s,%s,%s,%s,%s\n' "$1" "$2" "$3" "$4" "${5:-}" "${6:-}" \
    "${7:-}"
}

# verdict VALUE REF GOAL: "0.62x reference, goal >=0.7: met" for stderr.
verdict() {
  awk -v v="$1" -v r="$2" -v g="$3" 'BEGIN {
    if (v == "NA" || r == "NA" || r == "" || r + 0 == 0) exit
    x = v / r; s = sprintf("%.2fx the reference", x)
    if (g != "") {
      op = substr(g, 1, 2); lim = substr(g, 3) + 0
      ok = (op == ">=") ? x >= lim : x <= lim
      s = s sprintf(", goal %s: %s", g, ok ? "met" : "MISSED")
    }
    print s
  }'
}

# report SECTION CASE VALUE UNIT [REFNAME REFVALUE GOAL]: the row, and a
# progress line; VALUE empty means the case failed (WHY says why).
report() {
  local sec=$1 name=$2 val=$3 unit=$4 rname=${5:-} rval=${6:-} goal=${7:-}
  local v
  if [ -z "$val" ]; then
    failed=1
    say "$sec $name: NA: ${WHY:-failed}"
    row "$sec" "$name" NA "$unit" "$rname" "$rval" "$goal"
    return
  fi
  row "$sec" "$name" "$val" "$unit" "$rname" "$rval" "$goal"
  v=$(verdict "$val" "$rval" "$goal")
  say "$sec $name: $val $unit${rname:+ (vs $rname $rval: $v)}"
}

# ---------------------------------------------------------------- setup
# T: weir on TUN and TAP devices it makes, the kernel's side in the same
#    namespace (10.77.200.0/24 tun, 10.77.201.0/24 tap).
# A-B: weir on veth-b (raw, pcap; no address on that end), Linux on veth-a
#    (10.77.202.0/24).
# C-D: Linux on both ends of veth-c/veth-d (10.77.204.0/24), the reference.
setup() {
  make_ns_into NS_T t && make_ns_into NS_A a && make_ns_into NS_B b &&
    make_ns_into NS_C c && make_ns_into NS_D d || return 1
  ip link add veth-a netns "$NS_A" type veth peer name veth-b \
    netns "$NS_B" || return 1
  ip netns exec "$NS_A" ip addr add 10.77.202.1/24 dev veth-a
  ip netns exec "$NS_A" ip link set veth-a up
  ip netns exec "$NS_B" ip link set veth-b up
  ip link add veth-c netns "$NS_C" type veth peer name veth-d \
    netns "$NS_D" || return 1
  ip netns exec "$NS_C" ip addr add 10.77.204.1/24 dev veth-c
  ip netns exec "$NS_C" ip link set veth-c up
  ip netns exec "$NS_D" ip addr add 10.77.204.2/24 dev veth-d
  ip netns exec "$NS_D" ip link set veth-d up
}
if ! setup; then
  say "cannot set up the namespaces and veth pairs"
  exit 1
fi

# ---------------------------------------------------------------- Linux
# Filled in by the reference runs; NA where one failed.
REF_OFF=NA
REF_ON=NA
REF_OFF_NX=NA
declare -A REF_LAT

# The measuring functions below set V to the figure, or leave it empty and
# say why in WHY. (Not $(...): a subshell could not set WHY, nor record
# the PIDs it starts for cleanup.)

# median FUNC ARGS...: runs a measuring function RUNS times; V becomes the
# median of the figures it gave (a run that failed is left out, and said
# on stderr), empty if every run failed. Bulk rates here vary by a third
# from one run to the next (weir's more than Linux's): one run would
# make a poor figure.
median() {
  local vals=() i
  for ((i = 1; i <= RUNS; i++)); do
    V='' WHY=''
    "$@"
    if [ -n "$V" ]; then
      vals+=("$V")
    else
      say "  run $i of $RUNS failed: $WHY"
    fi
  done
  V=''
  [ "${#vals[@]}" -gt 0 ] || return 1
  V=$(printf '%s\n' "${vals[@]}" | sort -g | awk '{ a[NR] = $1 } END {
    if (NR % 2) print a[(NR + 1) / 2]
    else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  say "  runs: ${vals[*]} Gbit/s; median $V"
}

# iperf3_run: Gbit/s that iperf3's receiver saw, C -> D, for SECS.
iperf3_run() {
  local out
  V=
  out=$(timeout 20 ip netns exec "$NS_C" "${PEER[@]}" iperf3 -c 10.77.204.2 \
    -p 5201 -t "$SECS" -f g 2>&1) || {
    WHY="iperf3: $(echo "$out" | tail -1)"
    return 1
  }
  V=$(echo "$out" | awk '/receiver/ {
    for (i = 1; i <= NF; i++) if ($i == "Gbits/sec") print $(i - 1) }')
  [ -n "$V" ] || WHY="iperf3 printed no receiver line: $(echo "$out" |
    tail -1)"
}

# netxfer_ref: Gbit/s of netxfer send C -> netxfer sink D, as weir's
# Linux -> weir runs measure it.
netxfer_ref() {
  local sink out
  V=
  start_bg sink 30 ip netns exec "$NS_D" "${SUT[@]}" "$NX" sink 5003 60 \
    >"$T/nxsink.out" 2>&1
  wait_until 5 nb_listening "$NS_D" 5003 || {
    WHY="netxfer sink did not listen"
    return 1
  }
  out=$(timeout 20 ip netns exec "$NS_C" "${PEER[@]}" "$NX" send 10.77.204.2 \
    5003 "$SECS" 2>&1) || {
    WHY="netxfer send: $out"
    return 1
  }
  nb_wait "$sink" 5 >/dev/null
  V=$(echo "$out" | awk '{ printf "%.2f", $3 }')
}

# rr_run NS ADDR SIZE: sets RR_P50 and RR_P99 (microseconds).
rr_run() {
  local out
  out=$(timeout 60 ip netns exec "$1" "${RR_PEER[@]}" "$RR" "$2" 7 "$3" \
    "$RR_N" 2>&1) || {
    WHY="rr: $out"
    return 1
  }
  read -r RR_P50 RR_P99 _ _ <<<"$out"
  [ -n "$RR_P99" ]
}

linux_reference() {
  local has_iperf=1 srv rrs sz name dev ns

  command -v iperf3 >/dev/null || has_iperf=0
  if [ "$has_iperf" -eq 1 ]; then
    start_bg srv 120 ip netns exec "$NS_D" "${SUT[@]}" iperf3 -s -p 5201 \
      >"$T/iperf3-s.log" 2>&1
    wait_until 5 nb_listening "$NS_D" 5201 || has_iperf=0
  fi
  [ "$has_iperf" -eq 1 ] ||
    say "no iperf3 (ci/deps.sh bench installs it): netxfer's figures are" \
      "the references"

  # The veth's defaults first, while they are the defaults.
  say "Linux -> Linux over veth, default offloads: $(offloads "$NS_C" \
    veth-c)"
  WHY=
  if [ "$has_iperf" -eq 1 ]; then
    median iperf3_run
    report bulk "Linux veth offloads on" "$V" Gbit/s
    REF_ON=${V:-NA}
  fi
  WHY=
  median netxfer_ref
  report bulk "Linux veth offloads on (netxfer)" "$V" Gbit/s
  [ "$has_iperf" -eq 1 ] || REF_ON=${V:-NA}

  for dev in veth-c veth-d; do
    ns=$NS_C
    [ "$dev" = veth-d ] && ns=$NS_D
    ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off \
      rx off >/dev/null 2>&1 || say "ethtool -K $dev ... off failed"
  done
  WHY=
  if [ "$has_iperf" -eq 1 ]; then
    median iperf3_run
    report bulk "Linux veth offloads off" "$V" Gbit/s
    REF_OFF=${V:-NA}
  fi
  WHY=
  median netxfer_ref
  report bulk "Linux veth offloads off (netxfer)" "$V" Gbit/s
  REF_OFF_NX=${V:-NA}
  [ "$has_iperf" -eq 1 ] || REF_OFF=$REF_OFF_NX
  [ "$has_iperf" -eq 1 ] && nb_stop "$srv"

  # Latency: a kernel echo server on CPU 1, over the veth (offloads off,
  # which small segments never use) and on loopback.
  start_bg rrs 120 ip netns exec "$NS_D" "${SUT[@]}" "$RR" -l 7 \
    >"$T/rr-l.log" 2>&1
  if ! wait_until 5 nb_listening "$NS_D" 7; then
    WHY="rr -l did not listen"
  fi
  for sz in 1 1024; do
    name="$sz B"
    [ "$sz" = 1024 ] && name="1 KiB"
    RR_P50='' RR_P99=''
    rr_run "$NS_C" 10.77.204.2 "$sz"
    report latency "Linux veth p50 $name" "$RR_P50" us
    report latency "Linux veth p99 $name" "$RR_P99" us
    REF_LAT["p50 $name"]=${RR_P50:-NA}
    REF_LAT["p99 $name"]=${RR_P99:-NA}
    RR_P50='' RR_P99=''
    rr_run "$NS_D" 127.0.0.1 "$sz"
    report latency "Linux loopback p50 $name" "$RR_P50" us
    report latency "Linux loopback p99 $name" "$RR_P99" us
  done
  nb_stop "$rrs"
}

# ---------------------------------------------------------------- link
declare -A LINK_GBPS LINK_NAME

# link_rate KIND NS DEV [PEER_NS PEER_DEV]: runs linkrate; counts what the
# peer end received when given (a veth may drop what its peer's backlog
# cannot hold; a TUN or TAP write delivers in the call or fails).
link_rate() {
  local kind=$1 ns=$2 dev=$3 pns=${4:-} pdev=${5:-} out frames secs errs
  local rx0=0 rx1=0 fps
  [ -n "$pns" ] && rx0=$(nb_rx "$pns" "$pdev")
  out=$(timeout $((LSECS + 15)) ip netns exec "$ns" "${SUT[@]}" "$LR" "$kind" \
    "$dev" "$LSECS" 2>&1) || {
    WHY="linkrate $kind: $out"
    return 1
  }
  read -r frames secs errs <<<"$out"
  if [ -n "$pns" ]; then
    rx1=$(nb_rx "$pns" "$pdev")
    if [ $((rx1 - rx0)) -lt "$frames" ]; then
      say "link $kind: $frames frames sent, $((rx1 - rx0)) reached $pdev:" \
        "counting those"
      frames=$((rx1 - rx0))
    fi
  fi
  fps=$(awk -v f="$frames" -v s="$secs" 'BEGIN { printf "%.0f", f / s }')
  LINK_FPS=$(awk -v f="$fps" 'BEGIN { printf "%.0f", f / 1000 }')
  LINK_G=$(awk -v f="$fps" 'BEGIN { printf "%.2f", f * 1500 * 8 / 1e9 }')
  [ "$errs" -eq 0 ] || say "link $kind: $errs sends refused"
}

link_rates() {
  local kind ns dev pns pdev name
  for kind in tun tap raw pcap; do
    case $kind in
    tun) ns=$NS_T dev=wblink0 pns='' pdev='' name="tun write 1500 B" ;;
    tap) ns=$NS_T dev=wblink1 pns='' pdev='' name="tap write 1514 B" ;;
    raw) ns=$NS_B dev=veth-b pns=$NS_A pdev=veth-a name="raw sendmmsg 1514 B" ;;
    pcap) ns=$NS_B dev=veth-b pns=$NS_A pdev=veth-a name="pcap inject 1514 B" ;;
    esac
    LINK_FPS='' LINK_G=''
    WHY=
    link_rate "$kind" "$ns" "$dev" "$pns" "$pdev"
    report link "$name" "$LINK_G" Gbit/s
    report link "$name" "$LINK_FPS" kframes/s
    LINK_GBPS[$kind]=${LINK_G:-NA}
    LINK_NAME[$kind]=$name
  done
}

# ---------------------------------------------------------------- weir
# weir_setup BACKEND: sets WNS (weir's namespace), LNS (Linux's), WADDR,
# LADDR, DEV and COMMON (the apps' link flags).
weir_setup() {
  case $1 in
  tun | tap)
    WNS=$NS_T LNS=$NS_T
    if [ "$1" = tun ]; then
      DEV=wbtun0 WADDR=10.77.200.2 LADDR=10.77.200.1
    else
      DEV=wbtap0 WADDR=10.77.201.2 LADDR=10.77.201.1
    fi
    COMMON=(--backend "$1" --if "$DEV" --ip "$WADDR/24"
      --kernel-ip "$LADDR/24")
    ;;
  raw | pcap)
    WNS=$NS_B LNS=$NS_A DEV=veth-b WADDR=10.77.202.2 LADDR=10.77.202.1
    COMMON=(--backend "$1" --if veth-b --ip "$WADDR/24"
      --mac 02:77:00:00:ca:02)
    ;;
  esac
  COMMON+=("${EXTRA[@]}")
}
EXTRA=()

# weir_server BACKEND PORT FLAGS...: starts echoserver in WNS on CPU 1,
# sets SRV; waits until it serves.
weir_server() {
  local backend=$1 port=$2 word=echoing
  shift 2
  case " $* " in *" --discard "*) word=discarding ;; esac
  start_bg SRV 60 ip netns exec "$WNS" "${SUT[@]}" "$ES" -v "${COMMON[@]}" \
    --timeout 15 "$@" "$port" >"$T/es-$backend.log" 2>"$T/es-$backend.err"
  wait_until 5 started_or_gone "$T/es-$backend.log" "$word TCP on port $port"
  if ! nb_logged "$T/es-$backend.log" "$word TCP on port $port"; then
    WHY="echoserver did not start: $(tail -2 "$T/es-$backend.err" |
      tr '\n' ' ')"
    nb_stop "$SRV"
    return 1
  fi
  if [ "$WNS" = "$NS_T" ] && [ -z "${SHOWN[$backend]:-}" ]; then
    SHOWN[$backend]=1
    say "  $backend: weir's device $DEV as weir set it up: $(offloads "$WNS" \
      "$DEV")"
  fi
}
declare -A SHOWN

# offloads NS DEV: DEV's segmentation, receive and checksum offloads.
offloads() {
  ip netns exec "$1" ethtool -k "$2" 2>/dev/null | awk '
    /^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload|tx-checksumming|rx-checksumming):/ {
      printf "%s %s ", $1, $2 }'
}

# started_or_gone LOG TEXT: the server said TEXT, or has already exited
# (no use waiting for it then).
started_or_gone() {
  nb_logged "$1" "$2" || ! kill -0 "$SRV" 2>/dev/null
}

# weir_done: the weir process has ended and its device (tun/tap) is gone,
# so that the next may make it again.
weir_done() {
  case $DEV in
  wbtun0 | wbtap0) wait_until 5 nb_gone "$WNS" "$DEV" ||
    say "$DEV still there after weir exited" ;;
  esac
}

# bulk_in BACKEND: prints Gbit/s, Linux -> weir's echoserver --discard.
bulk_in() {
  local out rc
  V=
  weir_server "$1" 5001 --discard || return 1
  out=$(timeout $((SECS + 20)) ip netns exec "$LNS" "${PEER[@]}" "$NX" send \
    "$WADDR" 5001 "$SECS" 2>&1)
  rc=$?
  nb_stop "$SRV"
  weir_done
  if [ "$rc" -ne 0 ]; then
    WHY="netxfer send: $out; echoserver: $(tail -2 "$T/es-$1.err" |
      tr '\n' ' ')"
    return 1
  fi
  say "  $1 Linux->weir: $(echo "$out" | awk '{ printf "%d MiB in %s s",
    $1 / 1048576, $2 }'), weir's retransmissions:" \
    "$(grep -c ' retransmit ' "$T/es-$1.log")"
  V=$(echo "$out" | awk '{ printf "%.2f", $3 }')
}

# bulk_out BACKEND: prints Gbit/s, weir's echoclient </dev/zero -> a Linux
# sink that stops reading after SECS (and so resets the client).
bulk_out() {
  local sink out
  V=
  start_bg sink $((SECS + 30)) ip netns exec "$LNS" "${PEER[@]}" "$NX" sink 5002 \
    "$SECS" >"$T/sink-$1.out" 2>&1
  if ! wait_until 5 nb_listening "$LNS" 5002; then
    WHY="netxfer sink did not listen"
    return 1
  fi
  timeout $((SECS + 20)) ip netns exec "$WNS" "${SUT[@]}" "$EC" "${COMMON[@]}" \
    --timeout 5 "$LADDR" 5002 </dev/zero >/dev/null 2>"$T/ec-$1.err"
  weir_done
  if ! nb_wait "$sink" 10 >/dev/null 2>&1; then
    WHY="netxfer sink: $(head -1 "$T/sink-$1.out"); echoclient:" \
      "$(grep -v Mbit "$T/ec-$1.err" | tail -2 | tr '\n' ' ')"
    return 1
  fi
  out=$(cat "$T/sink-$1.out")
  say "  $1 weir->Linux: $(echo "$out" | awk '{ printf "%d MiB in %s s",
    $1 / 1048576, $2 }')"
  V=$(echo "$out" | awk '{ printf "%.2f", $3 }')
}

# also_on VALUE: on stderr only, VALUE against Linux with the veth's
# offloads on, the fairer reference when weir's device has them too.
also_on() {
  [ -n "$1" ] && [ "$REF_ON" != NA ] || return 0
  say "  (vs Linux veth offloads on $REF_ON: $(verdict "$1" "$REF_ON" ''))"
}

# weir_backend BACKEND [--no-offload]: its bulk rows, and its latency
# rows (with the offloads it has by default only: a 1 KiB exchange does
# not use them).
weir_backend() {
  local b=$1 ref refname goal sz name lat_goal avail=1 srv_ok=0 why=
  local label=$1
  EXTRA=()
  if [ -n "${2:-}" ]; then
    EXTRA=("$2")
    label="$b $2"
  fi
  weir_setup "$b"
  if ! "$ES" --backend "$b" --help >/dev/null 2>&1; then
    avail=0 why="this build has no $b backend"
  fi
  case $b in
  tun | tap)
    [ -c /dev/net/tun ] || avail=0 why="no /dev/net/tun (modprobe tun)"
    ;;
  pcap)
    # libpcap shows weir a local sender's frames as they are, checksums
    # left to the (virtual) hardware: Linux must checksum in software.
    ip netns exec "$LNS" ethtool -K veth-a tx off >/dev/null 2>&1 ||
      say "ethtool -K veth-a tx off failed"
    ;;
  esac

  # The issue's goals: on TUN, 0.7 x Linux (offloads off) with one frame
  # per system call, 1.0 x with the virtio-net offloads; on raw, 0.8 x the
  # link's own frame rate.
  case $label in
  tun) refname="Linux veth offloads off" ref=$REF_OFF goal=">=1.0" ;;
  "tun --no-offload")
    refname="Linux veth offloads off" ref=$REF_OFF goal=">=0.7" ;;
  raw*) refname="link ${LINK_NAME[raw]}" ref=${LINK_GBPS[raw]} goal=">=0.8" ;;
  *) refname="Linux veth offloads off" ref=$REF_OFF goal= ;;
  esac
  WHY=$why V=
  [ "$avail" -eq 1 ] && median bulk_in "$b"
  report bulk "$label Linux->weir" "$V" Gbit/s "$refname" "$ref" "$goal"
  also_on "$V"
  WHY=$why V=
  [ "$avail" -eq 1 ] && median bulk_out "$b"
  report bulk "$label weir->Linux" "$V" Gbit/s "$refname" "$ref" "$goal"
  also_on "$V"
  [ "$label" = "$b" ] || return 0

  WHY=$why
  [ "$avail" -eq 1 ] && weir_server "$b" 7 && srv_ok=1
  for sz in 1 1024; do
    name="$sz B"
    [ "$sz" = 1024 ] && name="1 KiB"
    lat_goal=
    [ "$b" = tun ] && lat_goal="<=1.2"
    RR_P50='' RR_P99=''
    [ "$srv_ok" -eq 1 ] && rr_run "$LNS" "$WADDR" "$sz"
    report latency "$b p50 $name" "$RR_P50" us "Linux veth p50 $name" \
      "${REF_LAT["p50 $name"]}" "$lat_goal"
    report latency "$b p99 $name" "$RR_P99" us "Linux veth p99 $name" \
      "${REF_LAT["p99 $name"]}"
  done
  if [ "$srv_ok" -eq 1 ]; then
    nb_stop "$SRV"
    weir_done
  fi
}

t_start=$(date +%s)
linux_reference
link_rates
weir_backend tun
weir_backend tun --no-offload
weir_backend tap
weir_backend raw
weir_backend raw --no-offload
weir_backend pcap
say "done in $(($(date +%s) - t_start)) s$([ "$failed" -eq 0 ] ||
  echo ", some cases failed (NA)")"
exit "$failed"
