#!/usr/bin/env bash
# TCP between weir on the pcap backend (libpcap live capture and
# pcap_inject on one end of a veth pair, weir with its own IP and MAC
# there) and Linux on the other end, 10.77.22.0/24: weir's echoserver
# echoes 16 MiB from socat, weir's echoclient gets 16 MiB back from a
# Linux socat echo server (sha256 equal both ways); Linux pings weir with
# no loss; no connection is left ESTABLISHED or CLOSE-WAIT on the Linux
# side; a pcap link that cannot open (no such interface, interface down,
# not root) says so in one line and exits non-zero. Linux's checksum
# offload is off on its veth end (libpcap cannot see what it left
# undone; see README).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=veth_suite.sh
. "$(dirname "$0")/veth_suite.sh"

run_veth_tcp_suite pcap 10.77.22
echo "PASS pcap_tcp: 16 MiB echoes both ways (socat -> echoserver," \
  "echoclient -> socat) sha256 equal over libpcap, ping 10/10," \
  "nothing left open, one-line open errors"
