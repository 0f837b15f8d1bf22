#!/usr/bin/env bash
# Offloads on the Ethernet backends, as test_tso_tun.sh checks them on
# TUN: raw (a packet socket with a virtio-net header on one end of a veth
# pair, 10.77.221.0/24, Linux on the other end in a namespace of its own)
# and tap (10.77.222.0/24). For each, weir's echoserver echoes 16 MiB from
# socat, sha256 equal, with the offloads on (the default) and with
# --no-offload. On, weir must really have handed the kernel super-segments
# (driver.gso_out, and far fewer frames than the segments they stood for)
# and the kernel weir its own uncut (fewer frames in than 16 MiB in
# MSS-sized segments); a --pcap-out capture of the run has no bad
# checksum in it. Off, every frame is a segment both ways (raw cuts the
# veth's super-frames itself).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

nsa='' nsb='' nst='' # set by make_ns_into
big=$((16 * 1024 * 1024))
segs=$((big / 1448)) # 16 MiB in full-sized segments (MSS less timestamps)

need_root
head -c "$big" /dev/urandom >"$TMP/big.bin"

# counter LOG NAME: the value of an exit counter echoserver -v printed.
counter() {
  awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }' "$1"
}

# raw: Linux on veth-a in $nsa, weir on veth-b in $nsb (no address there).
raw_net=10.77.221
make_ns_into nsa a
make_ns_into nsb b
ip link add veth-a netns "$nsa" type veth peer name veth-b netns "$nsb" ||
  fail "cannot create the veth pair"
ns_exec "$nsa" ip addr add "$raw_net.1/24" dev veth-a
ns_exec "$nsa" ip link set veth-a up
ns_exec "$nsb" ip link set veth-b up

# tap: weir's device and the kernel's side of it in $nst.
tap_net=10.77.222
tap_dev=wofl222
make_ns_into nst t

# run_echo TAG BACKEND FLAGS...: one 16 MiB socat echo through a fresh
# echoserver with FLAGS; its -v log is left in $TMP/TAG.log.
run_echo() {
  local tag=$1 backend=$2 server rc lns weir
  shift 2
  if [ "$backend" = raw ]; then
    lns=$nsa weir=$raw_net.2
    start_bg server 120 ip netns exec "$nsb" "$BUILD/echoserver" -v \
      --backend raw --if veth-b --ip "$weir/24" --mac 02:77:00:00:dd:02 \
      --timeout 30 --count 1 "$@" 7 >"$TMP/$tag.log" 2>"$TMP/$tag.err"
    wait_until 5 grep -q "echoing TCP on port 7" "$TMP/$tag.log" ||
      fail "$tag: echoserver did not start: $(cat "$TMP/$tag.err")"
  else
    lns=$nst weir=$tap_net.2
    start_bg server 120 ip netns exec "$nst" "$BUILD/echoserver" -v \
      --backend tap --if "$tap_dev" --ip "$weir/24" \
      --kernel-ip "$tap_net.1/24" --timeout 30 --count 1 "$@" 7 \
      >"$TMP/$tag.log" 2>"$TMP/$tag.err"
    wait_until 5 dev_ready "$nst" "$tap_dev" "$tap_net.1/24" ||
      fail "$tag: $tap_dev did not come up: $(cat "$TMP/$tag.err")"
  fi
  tcp_echo_check "$lns" socat "$weir" 7 "$TMP/big.bin" "$TMP/$tag.echo"
  wait_pid "$server" 10
  rc=$?
  [ "$rc" -eq 0 ] ||
    fail "$tag: echoserver exited $rc: $(tail -5 "$TMP/$tag.err")"
  expect_settled "$lns" "$tag"
  if [ "$backend" = tap ]; then
    # The device goes with the server; the next one makes it anew.
    wait_until 5 eval "! ip netns exec $nst ip link show $tap_dev \
      >/dev/null 2>&1" || fail "$tag: $tap_dev outlived echoserver"
  fi
}

# check_on TAG: weir sent super-segments and took the kernel's whole, and
# the capture of the run has every checksum right.
check_on() {
  local tag=$1 gso out in tsegs
  gso=$(counter "$TMP/$tag.log" driver.gso_out)
  out=$(counter "$TMP/$tag.log" driver.frames_out)
  in=$(counter "$TMP/$tag.log" driver.frames_in)
  tsegs=$(counter "$TMP/$tag.log" TCP_SEGS_OUT)
  [ "$gso" -gt 0 ] ||
    fail "$tag: no super-segment sent: $(cat "$TMP/$tag.log")"
  # As on TUN, how many segments a frame carries depends on how the
  # kernel's side paces itself: the bounds are loose.
  [ "$out" -lt $((segs / 2)) ] ||
    fail "$tag: $out frames out for $segs segments' worth"
  [ "$tsegs" -ge "$segs" ] ||
    fail "$tag: TCP_SEGS_OUT $tsegs counts frames, not segments"
  [ "$in" -lt $((segs * 3 / 4)) ] ||
    fail "$tag: $in frames in: the kernel's super-segments were cut"
  log "$tag: 16 MiB each way, sha256 equal, $RATE; $out frames out" \
    "($gso super-segments) for $tsegs segments, $in frames in"
  if command -v tcpdump >/dev/null; then
    tcpdump -r "$TMP/$tag.pcap" -nn -vv tcp 2>/dev/null >"$TMP/$tag.txt"
    [ -s "$TMP/$tag.txt" ] || fail "$tag: tcpdump read nothing from the capture"
    ! grep -q "incorrect" "$TMP/$tag.txt" ||
      fail "$tag: the capture has bad checksums:" \
        "$(grep -m2 incorrect "$TMP/$tag.txt")"
    log "$tag: --pcap-out: $(grep -c 'IP (' "$TMP/$tag.txt") packets," \
      "every TCP checksum right"
  fi
}

# check_off TAG: one segment a frame, both ways.
check_off() {
  local tag=$1 gso out in
  gso=$(counter "$TMP/$tag.log" driver.gso_out)
  out=$(counter "$TMP/$tag.log" driver.frames_out)
  in=$(counter "$TMP/$tag.log" driver.frames_in)
  [ "$gso" -eq 0 ] || fail "$tag: $gso super-segments"
  [ "$out" -ge "$segs" ] ||
    fail "$tag: $out frames out, fewer than $segs segments"
  [ "$in" -ge "$segs" ] ||
    fail "$tag: $in frames in, fewer than $segs segments: some were merged"
  log "$tag: 16 MiB each way, sha256 equal, $RATE; $out frames out," \
    "$in in"
}

run_echo raw-on raw --pcap-out "$TMP/raw-on.pcap"
check_on raw-on
raw_on=$RATE
run_echo raw-off raw --no-offload
check_off raw-off
raw_off=$RATE

run_echo tap-on tap --pcap-out "$TMP/tap-on.pcap"
check_on tap-on
tap_on=$RATE
run_echo tap-off tap --no-offload
check_off tap-off

echo "PASS offl_raw_tap: 16 MiB echoes sha256 equal with offloads on and" \
  "off, super-segments both ways when on: raw ($raw_on on, $raw_off off)," \
  "tap ($tap_on on, $RATE off)"
