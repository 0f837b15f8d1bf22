#!/usr/bin/env bash
# weir on a TAP device (Ethernet, so ARP too) in a namespace of its own,
# 10.77.2.0/24: Linux resolves weir's MAC and ping gets 20/20 replies,
# socat's UDP datagrams come back byte for byte, a closed port answers
# ICMP port unreachable, echoclient gets its data back from a Linux
# (socat) echo server, and ARP for an absent host gives up on the driver's
# timer with "no route to host".
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

run_ping_udp_suite tap 10.77.2
echo "PASS tap_ping_udp: ARP, ping 0% loss, UDP echo identical," \
  "port unreachable, echoclient vs Linux, ARP give-up"
