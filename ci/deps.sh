#!/usr/bin/env bash
# Install what weir needs to build, test and demo, on Debian 12.
# Quick when everything is present: it asks dpkg first and runs
# apt-get update only when something is missing.
#
#   bash ci/deps.sh          build, test, demo
#   bash ci/deps.sh bench    and what make bench adds (iperf3 for Linux's
#                            reference figures, matplotlib for the chart)
set -eu

pkgs=(
  build-essential make pkg-config git
  libuv1-dev libpcap-dev
  iproute2 iputils-ping tcpdump tshark socat netcat-openbsd procps ethtool
  clang libclang-rt-14-dev llvm clang-format
  valgrind binutils
  gcc-mips-linux-gnu libc6-dev-mips-cross
  gcc-s390x-linux-gnu libc6-dev-s390x-cross
  qemu-user
)
if [ "${1:-}" = bench ]; then
  pkgs+=(iperf3 python3-matplotlib)
fi

missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ci/deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "ci/deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer before it asks.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
  debconf-set-selections 2>/dev/null || true
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
