#!/usr/bin/env bash
# TUN offloads (a virtio-net header: TSO, GRO and checksums left to the
# kernel), in a namespace of its own, 10.77.210.0/24: weir's echoserver
# echoes 16 MiB from socat, sha256 equal, with the offloads on (the
# default) and with --no-offload. On, weir must really have handed the
# kernel super-segments (driver.gso_out, and far fewer frames than the
# segments they stood for) and the kernel weir its own uncut (fewer
# frames in than 16 MiB in MSS-sized segments); a --pcap-out capture of
# the run has no bad checksum in it. Off, every frame is a segment.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

net=10.77.210
dev=wtso210
weir=$net.2
kern=$net.1
big=$((16 * 1024 * 1024))
segs=$((big / 1448)) # 16 MiB in full-sized segments (MSS less timestamps)

need_root
make_ns_into ns
head -c "$big" /dev/urandom >"$TMP/big.bin"

# counter LOG NAME: the value of an exit counter echoserver -v printed.
counter() {
  awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }' "$1"
}

# run_echo TAG FLAGS...: one 16 MiB socat echo through a fresh
# echoserver with FLAGS; its -v log is left in $TMP/TAG.log.
run_echo() {
  local tag=$1 server rc
  shift
  start_bg server 120 ip netns exec "$ns" "$BUILD/echoserver" -v \
    --backend tun --if "$dev" --ip "$weir/24" --kernel-ip "$kern/24" \
    --timeout 30 --count 1 "$@" 7 >"$TMP/$tag.log" 2>"$TMP/$tag.err"
  wait_until 5 dev_ready "$ns" "$dev" "$kern/24" ||
    fail "$tag: $dev did not come up: $(cat "$TMP/$tag.log" "$TMP/$tag.err")"
  wait_until 5 tcp_listening "$ns" 7 || true
  tcp_echo_check "$ns" socat "$weir" 7 "$TMP/big.bin" "$TMP/$tag.echo"
  wait_pid "$server" 10
  rc=$?
  [ "$rc" -eq 0 ] ||
    fail "$tag: echoserver exited $rc: $(tail -5 "$TMP/$tag.err")"
  expect_settled "$ns" "$tag"
  # The device goes with the server; the next one makes it anew.
  wait_until 5 eval "! ip netns exec $ns ip link show $dev >/dev/null 2>&1" ||
    fail "$tag: $dev outlived echoserver"
}

run_echo on --pcap-out "$TMP/on.pcap"
on_rate=$RATE
gso=$(counter "$TMP/on.log" driver.gso_out)
out=$(counter "$TMP/on.log" driver.frames_out)
in=$(counter "$TMP/on.log" driver.frames_in)
tsegs=$(counter "$TMP/on.log" TCP_SEGS_OUT)
[ "$gso" -gt 0 ] || fail "offloads on: no super-segment sent: $(cat "$TMP/on.log")"
# Each super-segment is as large as the window allows when it leaves:
# 2 segments behind a lone ACK, up to 45 in a burst. Runs show 3 to 15
# segments' worth of data a frame out, ACKs included; they vary with how
# the kernel's side paces itself, so the bound is loose.
[ "$out" -lt $((segs / 2)) ] ||
  fail "offloads on: $out frames out for $segs segments' worth"
[ "$tsegs" -ge "$segs" ] ||
  fail "offloads on: TCP_SEGS_OUT $tsegs counts frames, not segments"
[ "$in" -lt $((segs * 3 / 4)) ] ||
  fail "offloads on: $in frames in: the kernel cut what it could hand over"
log "offloads on: 16 MiB each way, sha256 equal, $on_rate;" \
  "$out frames out ($gso super-segments) for $tsegs segments, $in frames in"

if command -v tcpdump >/dev/null; then
  tcpdump -r "$TMP/on.pcap" -nn -vv tcp 2>/dev/null >"$TMP/on.txt"
  [ -s "$TMP/on.txt" ] || fail "tcpdump read nothing from the capture"
  ! grep -q "incorrect" "$TMP/on.txt" ||
    fail "the capture has bad checksums: $(grep -m2 incorrect "$TMP/on.txt")"
  log "--pcap-out with offloads: $(grep -c 'IP (' "$TMP/on.txt") packets," \
    "every TCP checksum right"
fi

run_echo off --no-offload
gso=$(counter "$TMP/off.log" driver.gso_out)
out=$(counter "$TMP/off.log" driver.frames_out)
[ "$gso" -eq 0 ] || fail "--no-offload: $gso super-segments"
[ "$out" -ge "$segs" ] ||
  fail "--no-offload: $out frames out, fewer than $segs segments"
log "--no-offload: 16 MiB each way, sha256 equal, $RATE; $out frames out"

echo "PASS tso_tun: 16 MiB echoes sha256 equal with TUN offloads on" \
  "($on_rate, super-segments both ways) and off ($RATE)"
