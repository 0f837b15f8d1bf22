#!/usr/bin/env bash
# TCP between weir on a TAP device (Ethernet and ARP) and Linux, in a
# namespace of its own, 10.77.12.0/24: weir's echoserver echoes 16 MiB
# from socat and from nc (sha256 equal) and serves 4 socat clients at
# once; weir's echoclient gets 16 MiB back from a Linux socat echo
# server; no connection is left ESTABLISHED or CLOSE-WAIT on the Linux
# side; a closed port on weir answers RST, and echoclient reports a
# refused connect.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

run_tcp_suite tap 10.77.12
echo "PASS tap_tcp: 16 MiB echoes (socat, nc, echoclient) sha256 equal," \
  "4 clients at once, clean closes, RST on closed ports"
