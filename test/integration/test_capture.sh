#!/usr/bin/env bash
# --pcap-out on a full TCP exchange over TUN, 10.77.31.0/24: weir's
# echoserver echoes 1 MiB to socat (sha256 equal) and a ping, capturing
# both directions. The file reads in tcpdump and tshark with nothing on
# stderr; with IP and TCP checksum validation on, no frame is malformed,
# has a bad checksum or draws an expert error, and tshark finds no
# segment missing (none "not captured", none "ACKed unseen"); it holds
# exactly the frames the driver counted, both ways. A second echoserver
# killed in the middle of a transfer leaves a file that still reads to its
# last frame without an error: each frame is written whole as it passes,
# nothing waits in a buffer. (SIGSTOP first, which takes effect between
# system calls, then SIGKILL: a SIGKILL that lands inside a write spanning
# two pages may cut that one record, as the kernel checks for it between
# pages; a crash of the process itself never does.)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

need_root
for c in tshark tcpdump; do
  command -v "$c" >/dev/null || skip "missing $c (run ci/deps.sh)"
done
command -v ss >/dev/null || skip "missing ss (iproute2)"

net=10.77.31
weir=$net.2
kern=$net.1
dev=wcap31
pcap=$TMP/capture.pcap
ns='' server='' killed=''
make_ns_into ns
head -c $((1024 * 1024)) /dev/urandom >"$TMP/in.bin"

# tshark says this on stderr whenever root runs it: about tshark, not
# about the file.
tshark_err() {
  sed 's/Running as user "root" and group "root". This could be dangerous.//g' \
    "$1" | grep -v '^[[:space:]]*$'
}

# --count 1: the server exits after one connection, printing (-v) the
# counters that the file must agree with.
start_bg server 60 ip netns exec "$ns" "$BUILD/echoserver" -v --backend tun \
  --if "$dev" --ip "$weir/24" --kernel-ip "$kern/24" --pcap-out "$pcap" \
  --count 1 --timeout 30 7 >"$TMP/server.log" 2>"$TMP/server.err"
wait_until 5 dev_ready "$ns" "$dev" "$kern/24" ||
  fail "$dev did not come up: $(cat "$TMP/server.log" "$TMP/server.err")"

ns_exec "$ns" ping -n -c 3 -i 0.05 -W 1 "$weir" >"$TMP/ping.log" 2>&1 ||
  fail "ping $weir: $(tail -2 "$TMP/ping.log")"
tcp_echo_check "$ns" socat "$weir" 7 "$TMP/in.bin" "$TMP/out.bin"
log "socat -> weir echoserver --pcap-out: 1 MiB each way, sha256 equal, $RATE"
wait_pid "$server" 10
rc=$?
[ "$rc" -eq 0 ] || fail "echoserver exited $rc: $(tail -3 "$TMP/server.err")"
expect_settled "$ns" "after socat"

counter() {
  awk -v k="$1" '$1 == k { print $2 }' "$TMP/server.log"
}
fin=$(counter driver.frames_in)
fout=$(counter driver.frames_out)
fcap=$(counter capture.frames)
# A super-segment (TUN offloads) is written as the segments it became.
gso=$(counter driver.gso_out)
gsegs=$(counter driver.gso_segs)
if [ -z "$fin" ] || [ -z "$fout" ] || [ -z "$fcap" ]; then
  fail "echoserver -v printed no driver counters: $(tail "$TMP/server.log")"
fi

# tcpdump: one line on stderr, naming the link type; nothing else.
tcpdump -n -r "$pcap" >"$TMP/tcpdump.txt" 2>"$TMP/tcpdump.err" ||
  fail "tcpdump -r failed: $(cat "$TMP/tcpdump.err")"
[ "$(cat "$TMP/tcpdump.err")" = "reading from file $pcap, link-type RAW (Raw IP), snapshot length 262144" ] ||
  fail "tcpdump -r said: $(cat "$TMP/tcpdump.err")"
ndump=$(wc -l <"$TMP/tcpdump.txt")

# tshark: nothing on stderr; checksums checked; no malformed frame, no
# bad checksum, no expert error, no gap. (Expert warnings as such are
# allowed: a zero window or a full one is flow control doing its job.)
chk=(-o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE
  -o udp.check_checksum:TRUE)
tshark -r "$pcap" "${chk[@]}" >"$TMP/tshark.txt" 2>"$TMP/tshark.err" ||
  fail "tshark -r failed: $(tshark_err "$TMP/tshark.err")"
[ -z "$(tshark_err "$TMP/tshark.err")" ] ||
  fail "tshark -r warned: $(tshark_err "$TMP/tshark.err")"
nshark=$(wc -l <"$TMP/tshark.txt")
tshark -r "$pcap" "${chk[@]}" -Y '_ws.malformed || ip.checksum.status == 0 ||
  tcp.checksum.status == 0 || icmp.checksum.status == 0 ||
  _ws.expert.severity >= error || tcp.analysis.lost_segment ||
  tcp.analysis.ack_lost_segment' >"$TMP/bad.txt" 2>/dev/null
[ ! -s "$TMP/bad.txt" ] ||
  fail "$(wc -l <"$TMP/bad.txt") frames malformed, with a bad checksum, an" \
    "expert error or a gap: $(head -5 "$TMP/bad.txt")"
ngood=$(tshark -r "$pcap" "${chk[@]}" -Y 'ip.checksum.status == 1 &&
  (tcp.checksum.status == 1 || icmp.checksum.status == 1)' 2>/dev/null |
  wc -l)
notes=$(tshark -r "$pcap" -Y '_ws.expert.severity >= warning' 2>/dev/null |
  wc -l)
flow=$(tshark -r "$pcap" -Y 'tcp.analysis.zero_window ||
  tcp.analysis.window_full' 2>/dev/null | wc -l)

total=$((fin + fout - ${gso:-0} + ${gsegs:-0}))
if [ "$ndump" -ne "$total" ] || [ "$nshark" -ne "$total" ] ||
  [ "$fcap" -ne "$total" ]; then
  fail "frames: driver $fin in + $fout out = $total, capture.frames $fcap," \
    "tcpdump $ndump, tshark $nshark"
fi
[ "$ngood" -eq "$total" ] ||
  fail "only $ngood of $total frames have IP and TCP/ICMP checksums" \
    "tshark verified good"
grep -q "ICMP echo reply" "$TMP/tcpdump.txt" ||
  fail "no echo reply in the capture"
log "$total frames ($fin in, $fout out, ${gsegs:-0} segments cut from" \
  "${gso:-0} of those, as the driver counted);" \
  "tcpdump and tshark read it silently; all $ngood checksums good, none" \
  "malformed, no gap, no expert error ($notes frames with expert" \
  "warnings, $flow of them zero or full windows)"

# --- a capture cut by SIGKILL -----------------------------------------
cut=$TMP/cut.pcap
start_bg killed 60 ip netns exec "$ns" "$BUILD/echoserver" --backend tun \
  --if "${dev}k" --ip "$net.6/24" --kernel-ip "$net.5/24" --pcap-out "$cut" \
  --timeout 30 7 >"$TMP/killed.log" 2>&1
wait_until 5 dev_ready "$ns" "${dev}k" "$net.5/24" ||
  fail "${dev}k did not come up: $(cat "$TMP/killed.log")"
# A background job's stdin is /dev/null unless redirected in the job
# itself: hence bash -c.
# shellcheck disable=SC2016 # expanded by that bash
start_bg client 30 bash -c 'head -c 64M /dev/zero |
  ip netns exec "$1" socat -T 5 - "TCP4:$2:7" >/dev/null 2>&1' _ "$ns" "$net.6"
cut_grew() { [ "$(stat -c %s "$cut" 2>/dev/null || echo 0)" -gt 1000000 ]; }
wait_until 10 cut_grew ||
  fail "the capture did not grow: $(cat "$TMP/killed.log")"
# `ip netns exec` execs the echoserver: it is the child of our timeout.
victim=$(pgrep -P "$killed")
[ -n "$victim" ] || fail "no echoserver under PID $killed"
kill -STOP "$victim"
sleep 0.1
kill -KILL "$victim"
wait_pid "$killed" 5 >/dev/null 2>&1
ncut=$(tcpdump -n -r "$cut" 2>"$TMP/cut.err" | wc -l)
grep -qi "truncated\|error\|warning" "$TMP/cut.err" &&
  fail "tcpdump -r on the killed server's capture: $(cat "$TMP/cut.err")"
tshark -r "$cut" >/dev/null 2>"$TMP/cut.tshark.err" ||
  fail "tshark -r on the killed server's capture failed"
[ -z "$(tshark_err "$TMP/cut.tshark.err")" ] ||
  fail "tshark -r on the killed server's capture: $(tshark_err \
    "$TMP/cut.tshark.err")"
[ "$ncut" -gt 100 ] || fail "the killed server's capture has $ncut frames"
log "SIGSTOP, SIGKILL in the middle of a transfer: the capture reads" \
  "cleanly," \
  "$ncut whole frames ($(stat -c %s "$cut") bytes)"

echo "PASS capture: --pcap-out of a TCP echo reads in tcpdump and tshark" \
  "without a word, $total frames = the driver's count, checksums good," \
  "readable after SIGKILL"
