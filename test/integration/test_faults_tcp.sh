#!/usr/bin/env bash
# TCP through weir's fault injector, against Linux: 5% loss, 1%
# duplication, 2% reordering and 1% corruption on weir's side, both
# directions (--seed 1: the same choices on every run). Over TUN: weir's
# echoserver echoes 4 MiB from socat (10.77.41.0/24), and weir's
# echoclient gets 4 MiB back from a Linux socat echo server
# (10.77.47.0/24); if this build has the raw backend, the same two over
# veth pairs, weir in one namespace and Linux in another (10.77.42.0/24,
# 10.77.48.0/24). Each transfer: sha256 equal within DEADLINE seconds;
# the time, weir's retransmissions and what the injector did are printed;
# weir's --pcap-out shows no frame of weir's longer than the MTU (SACK
# blocks on a data segment come out of its payload: RFC 6691), and the
# link refused none of them. The transfers, each in namespaces of its
# own, run at once: they wait on retransmission timers, not on the CPU.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# Seconds per transfer: loss recovery is slow (every tail loss costs an
# RTO, 200 ms at least), not endless.
DEADLINE=90
IDLE=30 # seconds without a byte moving: a stall, not slowness
SIZE=$((4 * 1024 * 1024))
FAULTS=(--loss 0.05 --dup 0.01 --reorder 0.02 --corrupt 0.01 --seed 1)

need_root
command -v ss >/dev/null || skip "missing ss (iproute2)"
head -c "$SIZE" /dev/urandom >"$TMP/in.bin"

# counter LOG NAME: a counter from -v's list at exit (0 if absent).
counter() {
  awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1"
}

# What weir's TCP and the injector did, from a -v log.
summary() {
  local f=$1
  echo "weir retransmitted $(counter "$f" TCP_RETRANSMITS) segments" \
    "($(counter "$f" TCP_FAST_RETRANSMITS) fast, $(counter "$f" \
      TCP_TIMEOUTS) timeouts); injected: lost $(($(counter "$f" \
      faults.in.lost) + $(counter "$f" faults.out.lost))), dup" \
    "$(($(counter "$f" faults.in.duplicated) + $(counter "$f" \
      faults.out.duplicated))), reordered $(($(counter "$f" \
      faults.in.reordered) + $(counter "$f" faults.out.reordered)))," \
    "corrupted $(($(counter "$f" faults.in.corrupted) + $(counter "$f" \
      faults.out.corrupted))) of $(($(counter "$f" faults.in.frames) + \
      $(counter "$f" faults.out.frames))) frames"
}

# checks NAME LOG WEIR: what weir's capture and counters must show.
checks() {
  local name=$1 vlog=$2 weir=$3 pcap=$TMP/$1.pcap hdr=0 big
  if command -v tshark >/dev/null; then
    # The frame's real size, not its length field (a corrupted frame may
    # say anything): 1500 bytes of IP, plus 14 on Ethernet.
    [ "$(tshark -r "$pcap" -c 1 -T fields -e frame.encap_type \
      2>/dev/null)" = 1 ] && hdr=14
    big=$(tshark -r "$pcap" -Y "ip.src == $weir &&
      frame.len > $((1500 + hdr))" -T fields -e frame.len -e tcp.hdr_len \
      2>/dev/null | sort | uniq -c | tr -s ' \n\t' ' ')
    [ -z "$big" ] || fail "$name: weir sent IP packets longer than the MTU" \
      "(1500): count, frame length, TCP header length: $big"
  fi
  # A frame the link refused for good is a loss nobody injected.
  [ "$(counter "$vlog" driver.send_errors)" -eq 0 ] ||
    fail "$name: the link refused $(counter "$vlog" driver.send_errors) of" \
      "weir's frames (driver.send_errors)"
}

# The app is up: -v's first lines are out (the device exists, the
# listener is open).
weir_ready() { grep -q "echoing TCP on port" "$1"; }

# faulted_server NAME WEIR_NS LINUX_NS WEIR LINK_FLAGS...: weir's
# echoserver (LINK_FLAGS) at WEIR, a Linux socat client in LINUX_NS.
faulted_server() {
  local name=$1 wns=$2 lns=$3 weir=$4 server rc t0 t1 srv_rc
  shift 4
  start_bg server $((DEADLINE + 30)) ip netns exec "$wns" \
    "$BUILD/echoserver" -v "$@" "${FAULTS[@]}" --count 1 --timeout "$IDLE" \
    --pcap-out "$TMP/$name.pcap" 7 >"$TMP/$name.log" 2>"$TMP/$name.err"
  wait_until 5 weir_ready "$TMP/$name.log" ||
    fail "$name: echoserver did not start: $(cat "$TMP/$name.err")"
  t0=$(now_ns)
  timeout $((DEADLINE + 5)) ip netns exec "$lns" socat -t "$IDLE" \
    -T "$IDLE" - "TCP4:$weir:7" <"$TMP/in.bin" >"$TMP/$name.echo" \
    2>"$TMP/$name.socat.err"
  rc=$?
  t1=$(now_ns)
  # The server ends after one connection (or $IDLE s without one): its
  # counters are then in its log.
  wait_pid "$server" $((IDLE + 10))
  srv_rc=$?
  [ "$rc" -eq 0 ] || fail "$name: socat exit $rc after $(wc -c \
    <"$TMP/$name.echo") of $SIZE bytes: $(head -2 "$TMP/$name.socat.err")"
  [ "$(wc -c <"$TMP/$name.echo")" -eq "$SIZE" ] ||
    fail "$name: stalled: $(wc -c <"$TMP/$name.echo") of $SIZE bytes came" \
      "back, then nothing for $IDLE s (weir: $(grep -h -e 'ended' -e \
        'OUT_OF_WINDOW' -e 'TCP_TIMEOUTS' "$TMP/$name.log" "$TMP/$name.err" |
        tr -s ' \n' ' '))"
  same_file "$TMP/in.bin" "$TMP/$name.echo" ||
    fail "$name: the echo differs"
  [ $((t1 - t0)) -le $((DEADLINE * 1000000000)) ] ||
    fail "$name: took $(rate "$SIZE" $((t1 - t0)))"
  [ "$srv_rc" -eq 0 ] ||
    fail "$name: echoserver exited $srv_rc: $(tail -3 "$TMP/$name.err")"
  expect_settled "$lns" "$name: after socat"
  checks "$name" "$TMP/$name.log" "$weir"
  log "$name: socat -> weir echoserver, faulted: 4 MiB each way, sha256" \
    "equal, $(rate "$SIZE" $((t1 - t0)))"
  log "  $(summary "$TMP/$name.log")"
}

# faulted_client NAME WEIR_NS LINUX_NS WEIR LINUX LINK_FLAGS...: weir's
# echoclient (LINK_FLAGS) at WEIR, a Linux socat echo server at LINUX.
faulted_client() {
  local name=$1 wns=$2 lns=$3 weir=$4 linux=$5 echo_srv rc t0 t1
  shift 5
  start_bg echo_srv $((DEADLINE + 30)) ip netns exec "$lns" socat \
    -t "$IDLE" -T "$IDLE" TCP4-LISTEN:7,reuseaddr EXEC:cat \
    >"$TMP/$name.linux.log" 2>&1
  wait_until 5 tcp_listening "$lns" 7 || fail "$name: socat did not listen"
  t0=$(now_ns)
  timeout $((DEADLINE + 5)) ip netns exec "$wns" "$BUILD/echoclient" -v \
    "$@" "${FAULTS[@]}" --timeout "$IDLE" --pcap-out "$TMP/$name.pcap" \
    "$linux" 7 <"$TMP/in.bin" >"$TMP/$name.out" 2>"$TMP/$name.err"
  rc=$?
  t1=$(now_ns)
  [ "$rc" -eq 0 ] || fail "$name: echoclient exited $rc: $(grep -v \
    -e ' -> ' -e retransmit "$TMP/$name.err" | tail -3 | tr '\n' ' ')"
  same_file "$TMP/in.bin" "$TMP/$name.out" ||
    fail "$name: echoclient's echo differs ($(wc -c \
      <"$TMP/$name.out") bytes)"
  [ $((t1 - t0)) -le $((DEADLINE * 1000000000)) ] ||
    fail "$name: echoclient took $(rate "$SIZE" $((t1 - t0)))"
  wait_pid "$echo_srv" 5 >/dev/null 2>&1
  expect_settled "$lns" "$name: after echoclient"
  checks "$name" "$TMP/$name.err" "$weir"
  log "$name: weir echoclient -> socat EXEC:cat, faulted: 4 MiB each way," \
    "sha256 equal, $(rate "$SIZE" $((t1 - t0)) | cut -d, -f1) with 2 s" \
    "of TIME-WAIT"
  log "  $(summary "$TMP/$name.err")"
}

# veth_pair WNS LNS WEIR_END LINUX_END LINUX_ADDR: weir's end unaddressed.
veth_pair() {
  ip link add "$3" netns "$1" type veth peer name "$4" netns "$2" ||
    fail "cannot create the veth pair $3/$4"
  ns_exec "$1" ip link set "$3" up
  ns_exec "$2" ip addr add "$5/24" dev "$4"
  ns_exec "$2" ip link set "$4" up
}

# Each job runs in a subshell of its own, its lines kept for later; a
# job's `fail` ends that job only. Namespaces are made here, in the main
# shell, so that cleanup removes them (and what runs in them) whatever
# the jobs do.
jobs_=() names=()
ts='' tc='' rsw='' rsl='' rcw='' rcl='' # make_ns_into sets them
job() {
  local name=$1
  shift
  ("$@") >"$TMP/$name.job" 2>&1 &
  jobs_+=($!)
  names+=("$name")
}

make_ns_into ts tun-server
job tun-server faulted_server tun-server "$ts" "$ts" 10.77.41.2 \
  --backend tun --if wflt41 --ip 10.77.41.2/24 --kernel-ip 10.77.41.1/24
make_ns_into tc tun-client
job tun-client faulted_client tun-client "$tc" "$tc" 10.77.47.2 10.77.47.1 \
  --backend tun --if wflt47 --ip 10.77.47.2/24 --kernel-ip 10.77.47.1/24
done_on=tun

if "$BUILD/echoserver" --backend raw --help >/dev/null 2>&1; then
  make_ns_into rsw raw-server-weir
  make_ns_into rsl raw-server-linux
  veth_pair "$rsw" "$rsl" wflt42w wflt42l 10.77.42.1
  job raw-server faulted_server raw-server "$rsw" "$rsl" 10.77.42.2 \
    --backend raw --if wflt42w --ip 10.77.42.2/24
  make_ns_into rcw raw-client-weir
  make_ns_into rcl raw-client-linux
  veth_pair "$rcw" "$rcl" wflt48w wflt48l 10.77.48.1
  job raw-client faulted_client raw-client "$rcw" "$rcl" 10.77.48.2 \
    10.77.48.1 --backend raw --if wflt48w --ip 10.77.48.2/24
  done_on="tun and raw"
fi

t0=$(now_ns)
failed=()
for i in "${!jobs_[@]}"; do
  wait_pid "${jobs_[$i]}" $((2 * DEADLINE + 60))
  rc=$?
  cat "$TMP/${names[$i]}.job"
  [ "$rc" -eq 0 ] || failed+=("${names[$i]}")
done
t1=$(now_ns)
[ "$done_on" = tun ] && log "raw: not in this build, skipped"
[ ${#failed[@]} -eq 0 ] || fail "${failed[*]} failed (FAIL lines above)"
log "all ${#jobs_[@]} transfers at once: $(((t1 - t0) / 1000000000)) s"

echo "PASS faults_tcp: 4 MiB each way under 5% loss, 1% dup, 2% reorder," \
  "1% corruption, sha256 equal, on $done_on"
