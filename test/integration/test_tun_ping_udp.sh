#!/usr/bin/env bash
# weir on a TUN device (bare IPv4) in a namespace of its own, 10.77.1.0/24:
# Linux ping gets 20/20 replies, socat's UDP datagrams come back byte for
# byte, a closed port answers ICMP port unreachable, and echoclient gets
# its data back from a Linux (socat) echo server.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

run_ping_udp_suite tun 10.77.1
echo "PASS tun_ping_udp: ping 0% loss, UDP echo identical," \
  "port unreachable, echoclient vs Linux"
