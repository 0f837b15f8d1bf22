#!/usr/bin/env bash
# TCP between weir on the raw backend (an AF_PACKET socket on one end of
# a veth pair, weir with its own IP and MAC there) and Linux on the other
# end, 10.77.21.0/24: weir's echoserver echoes 16 MiB from socat, weir's
# echoclient gets 16 MiB back from a Linux socat echo server (sha256
# equal both ways); Linux pings weir with no loss; no connection is left
# ESTABLISHED or CLOSE-WAIT on the Linux side; a raw link that cannot
# open (no such interface, interface down, not root) says so in one line
# and exits non-zero. The veth keeps its default offloads: Linux's 64 KiB
# super-frames reach weir whole, and weir's own go out for the kernel to
# cut (test_offl_raw_tap.sh checks both, and --no-offload, where the
# backend cuts them into wire-sized segments with complete checksums).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=veth_suite.sh
. "$(dirname "$0")/veth_suite.sh"

run_veth_tcp_suite raw 10.77.21
echo "PASS raw_tcp: 16 MiB echoes both ways (socat -> echoserver," \
  "echoclient -> socat) sha256 equal over AF_PACKET, ping 10/10," \
  "nothing left open, one-line open errors"
