#!/usr/bin/env bash
# The pcapfile backend: recordings replayed offline, on a virtual clock.
#   - test/replay/tun_ping_udp.pcap (raw IP) and tap_ping_udp.pcap
#     (Ethernet, with ARP), recorded by tcpdump from weir's UDP
#     echoserver and the kernel (3 pings, 2 datagrams, 1 to a closed
#     port), replayed through echoserver -u twice: the two --pcap-out
#     files are byte-identical (cmp), tshark counts the 3 echo replies,
#     2 UDP echoes and the port unreachable, and every frame weir sends
#     is byte for byte the one it sent when the recording was made.
#   - the same with heavy faults (--loss, --dup, --reorder, --delay,
#     --seed 3): byte-identical twice over, and not the same as without.
#   - bad flag values (probabilities, delay, direction, an unreadable or
#     unknown --pcap-in, an uncreatable --pcap-out) exit 2 with one line.
#   - as root only: a TCP echo recorded live over TUN with --pcap-out
#     and --seed, replayed: identical twice, and weir's segments carry
#     the very ISN, sequence and acknowledgement numbers, flags, lengths
#     and windows of the live run (the capture holds the clock the core
#     saw). Without root that part is skipped, and said.
# Reading files needs no root: the rest runs anywhere.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ ! -x "$BUILD/echoserver" ] || [ ! -x "$BUILD/echoclient" ]; then
  fail "no $BUILD/echoserver or echoclient: run make first"
fi
for c in tshark tcpdump; do
  command -v "$c" >/dev/null || skip "missing $c (run ci/deps.sh)"
done
REC=$WEIR_ROOT/test/replay

# replay OUT FLAGS...: echoserver offline; fails unless it exits 0.
replay() {
  local out=$1 rc
  shift
  timeout 30 "$BUILD/echoserver" -v "$@" --pcap-out "$out" \
    >"$out.log" 2>&1 </dev/null
  rc=$?
  [ "$rc" -eq 0 ] || fail "echoserver $* exited $rc: $(tail -3 "$out.log")"
}

# frames FILE: the bytes of every frame, one hex dump, no timestamps.
frames() {
  tcpdump -n -x -r "$1" 2>/dev/null | grep '^[[:space:]]*0x'
}

# count FILE FILTER: frames tshark's display filter matches.
count() {
  tshark -r "$1" -Y "$2" 2>/dev/null | wc -l
}

# --- recordings of the UDP echoserver ------------------------------------
for rec in tun_ping_udp tap_ping_udp; do
  ip=$(sed -n 's/^ip=//p' "$REC/$rec.conf")
  mac=$(sed -n 's/^mac=//p' "$REC/$rec.conf")
  seed=$(sed -n 's/^seed=//p' "$REC/$rec.conf")
  port=$(sed -n 's/^echo_port=//p' "$REC/$rec.conf")
  weir=${ip%/*}
  flags=(-u --pcap-in "$REC/$rec.pcap" --ip "$ip" --mac "$mac"
    --seed "$seed" "$port")
  t0=$(now_ns)
  replay "$TMP/$rec.1.pcap" "${flags[@]}"
  t1=$(now_ns)
  replay "$TMP/$rec.2.pcap" "${flags[@]}"
  cmp -s "$TMP/$rec.1.pcap" "$TMP/$rec.2.pcap" ||
    fail "$rec: two replays differ: $(cmp "$TMP/$rec.1.pcap" \
      "$TMP/$rec.2.pcap")"
  out=$TMP/$rec.1.pcap
  n_ping=$(count "$out" "ip.src == $weir && icmp.type == 0")
  n_udp=$(count "$out" "ip.src == $weir && udp.srcport == $port")
  n_unr=$(count "$out" "ip.src == $weir && icmp.type == 3 && icmp.code == 3")
  if [ "$n_ping" -ne 3 ] || [ "$n_udp" -ne 2 ] || [ "$n_unr" -ne 1 ]; then
    fail "$rec: replay answered $n_ping pings, $n_udp datagrams, $n_unr" \
      "port unreachable; want 3, 2, 1: $(tcpdump -n -r "$out" 2>&1)"
  fi
  [ "$(frames "$out")" = "$(frames "$REC/$rec.pcap")" ] ||
    fail "$rec: the replay's frames differ from the recording's:" \
      "$(diff <(frames "$REC/$rec.pcap") <(frames "$out") | head -5)"
  grep -q "end of the recording" "$out.log" ||
    fail "$rec: -v did not report the end of the recording"
  log "$rec: replayed in $(((t1 - t0) / 1000000)) ms, twice, cmp-identical;" \
    "$n_ping echo replies, $n_udp UDP echoes, $n_unr port unreachable, all" \
    "$(frames "$out" | wc -l) dump lines as recorded live"
done

# --- with faults: deterministic too ---------------------------------------
rec=tun_ping_udp
flt=(-u --pcap-in "$REC/$rec.pcap" --ip 10.77.201.2/24 --seed 3 --loss 0.3
  --dup 0.3 --reorder 0.3 --delay 5 7)
replay "$TMP/flt.1.pcap" "${flt[@]}"
replay "$TMP/flt.2.pcap" "${flt[@]}"
cmp -s "$TMP/flt.1.pcap" "$TMP/flt.2.pcap" ||
  fail "faulted replays differ: $(cmp "$TMP/flt.1.pcap" "$TMP/flt.2.pcap")"
! cmp -s "$TMP/flt.1.pcap" "$TMP/$rec.1.pcap" ||
  fail "the faults changed nothing in the replay"
grep -q "faults.out.delayed" "$TMP/flt.1.pcap.log" ||
  fail "-v printed no fault counters: $(tail "$TMP/flt.1.pcap.log")"
log "faults on a replay (30% loss, dup, reorder, 5 ms delay, seed 3):" \
  "cmp-identical twice, $(grep -c . <(tcpdump -n -r "$TMP/flt.1.pcap" \
    2>/dev/null)) frames, $(awk '/faults\..*\.lost/ { n += $2 } END \
    { print n + 0 }' "$TMP/flt.1.pcap.log") lost"

# --- bad values --------------------------------------------------------------
# bad ARGS...: exit 2, one line on stderr, nothing on stdout.
nbad=0
bad() {
  local rc
  timeout 5 "$BUILD/echoserver" "$@" </dev/null >"$TMP/bad.out" \
    2>"$TMP/bad.err"
  rc=$?
  [ "$rc" -eq 2 ] || fail "echoserver $*: exit $rc, want 2: $(cat \
    "$TMP/bad.err")"
  [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] ||
    fail "echoserver $*: want one line on stderr: $(cat "$TMP/bad.err")"
  [ ! -s "$TMP/bad.out" ] || fail "echoserver $*: wrote to stdout"
  nbad=$((nbad + 1))
}
in=(--pcap-in "$REC/tun_ping_udp.pcap" --ip 10.77.201.2/24)
for f in --loss --dup --reorder --corrupt; do
  bad -u "${in[@]}" "$f" 1.5 7
  bad -u "${in[@]}" "$f" -0.1 7
  bad -u "${in[@]}" "$f" x 7
  bad -u "${in[@]}" "$f" nan 7
done
bad -u "${in[@]}" --delay -1 7
bad -u "${in[@]}" --delay 60001 7
bad -u "${in[@]}" --delay 5ms 7
bad -u "${in[@]}" --faults-dir sideways 7
bad -u --pcap-in "$TMP/nonexistent.pcap" 7
printf 'not a capture at all\n' >"$TMP/text.pcap"
bad -u --pcap-in "$TMP/text.pcap" 7
bad -u --backend pcapfile 7
bad -u --backend tun "${in[@]}" 7
bad -u "${in[@]}" --kernel-ip 10.77.201.1/24 7
bad -u "${in[@]}" --pcap-out "$TMP/no/such/dir/out.pcap" 7
cp "$REC/tun_ping_udp.pcap" "$TMP/same.pcap"
bad -u --pcap-in "$TMP/same.pcap" --ip 10.77.201.2/24 \
  --pcap-out "$TMP/same.pcap" 7
cmp -s "$REC/tun_ping_udp.pcap" "$TMP/same.pcap" ||
  fail "--pcap-out equal to --pcap-in truncated the recording"
if [ "$(id -u)" -ne 0 ]; then
  cp "$REC/tun_ping_udp.pcap" "$TMP/locked.pcap"
  chmod 000 "$TMP/locked.pcap"
  bad -u --pcap-in "$TMP/locked.pcap" 7
fi
log "$nbad bad values exit 2 with one line"

# --- a live TCP capture, replayed (root) ------------------------------------
live=skipped
if [ "$(id -u)" -eq 0 ] && [ -c /dev/net/tun ] &&
  ip netns add "weir-probe-$$" 2>/dev/null; then
  ip netns del "weir-probe-$$"
  net=10.77.44
  make_ns_into ns
  # shellcheck disable=SC2034 # set by start_bg, through printf -v
  server=
  start_bg server 30 ip netns exec "$ns" "$BUILD/echoserver" --backend tun \
    --if wpf44 --ip "$net.2/24" --kernel-ip "$net.1/24" --seed 7 \
    --count 1 --timeout 20 --pcap-out "$TMP/live.pcap" 7 \
    >"$TMP/live.log" 2>&1
  wait_until 5 dev_ready "$ns" wpf44 "$net.1/24" ||
    fail "wpf44 did not come up: $(cat "$TMP/live.log")"
  {
    for i in $(seq 1 20); do echo "line $i of a TCP exchange replayed"; done
    head -c 100000 /dev/urandom
  } >"$TMP/live.in"
  timeout 20 ip netns exec "$ns" nc -N -w 10 "$net.2" 7 <"$TMP/live.in" \
    >"$TMP/live.echo" 2>"$TMP/nc.err" || fail "nc: $(cat "$TMP/nc.err")"
  same_file "$TMP/live.in" "$TMP/live.echo" || fail "live echo differs"
  wait_pid "$server" 10 || fail "echoserver: $(tail -3 "$TMP/live.log")"
  tflags=(--pcap-in "$TMP/live.pcap" --ip "$net.2/24" --seed 7 7)
  replay "$TMP/tcp.1.pcap" "${tflags[@]}"
  replay "$TMP/tcp.2.pcap" "${tflags[@]}"
  cmp -s "$TMP/tcp.1.pcap" "$TMP/tcp.2.pcap" ||
    fail "TCP replays differ: $(cmp "$TMP/tcp.1.pcap" "$TMP/tcp.2.pcap")"
  # What weir sent, field by field; TSval is left out: it counts the
  # milliseconds of the `now` of each output, which live comes a few
  # microseconds after the input, and in virtual time at the same one.
  segs() {
    tshark -r "$1" -Y "ip.src == $net.2" -T fields -e tcp.flags \
      -e tcp.seq_raw -e tcp.ack_raw -e tcp.len -e tcp.window_size_value \
      2>/dev/null
  }
  segs "$TMP/live.pcap" >"$TMP/live.segs"
  segs "$TMP/tcp.1.pcap" >"$TMP/replay.segs"
  [ -s "$TMP/live.segs" ] || fail "no segment from weir in the live capture"
  cmp -s "$TMP/live.segs" "$TMP/replay.segs" ||
    fail "the replay's segments differ from the live run's:" \
      "$(diff "$TMP/live.segs" "$TMP/replay.segs" | head -6)"
  live="$(wc -l <"$TMP/live.segs") segments as live"
  log "live TCP echo over TUN (--pcap-out, --seed 7), replayed twice:" \
    "cmp-identical; weir's $live (ISN, seq, ack, flags, length, window)"
else
  log "live TCP capture replayed: skipped (needs root and network" \
    "namespaces)"
fi

echo "PASS pcapfile: replays byte-identical twice (with and without" \
  "faults), answers as recorded live, $nbad bad values refused; live TCP:" \
  "$live"
