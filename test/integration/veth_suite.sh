# The suite shared by test_raw_tcp.sh and test_pcap_tcp.sh: weir on one
# end of a veth pair, Linux on the other, each end in a namespace of its
# own. Source it after lib.sh (whose rules it follows) and call
#
#   run_veth_tcp_suite raw|pcap 10.77.N
#
# Linux has 10.77.N.1/24 on veth-a in weir-<test>-a-$$; weir runs on
# veth-b in weir-<test>-b-$$ with 10.77.N.2/24 and MAC 02:77:00:00:N:02,
# and veth-b has no IPv4 address (and IPv6 off), so that the kernel on
# weir's side never answers for weir.
#
# shellcheck shell=bash

# open_fails WHAT EXPECT CMD...: CMD must exit non-zero with exactly one
# line on stderr that contains EXPECT.
open_fails() {
  local what=$1 expect=$2 rc
  shift 2
  timeout 10 "$@" </dev/null >/dev/null 2>"$TMP/open.err"
  rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] ||
    [ "$(wc -l <"$TMP/open.err")" -ne 1 ] ||
    ! grep -q -- "$expect" "$TMP/open.err"; then
    fail "$what: exit $rc, want non-zero and one line with '$expect':" \
      "$(tr '\n' '|' <"$TMP/open.err")"
  fi
  log "$what: exit $rc, $(cat "$TMP/open.err")"
}

run_veth_tcp_suite() {
  local backend=$1 net=$2 nsa nsb server rc loss t t0 t1
  local kern="$net.1" weir="$net.2" mac="02:77:00:00:${2##*.}:02"
  local big=$((16 * 1024 * 1024))
  local common=(--backend "$backend" --if veth-b --ip "$weir/24" --mac "$mac")

  need_root packet
  if [ "$backend" = pcap ]; then
    command -v ethtool >/dev/null ||
      skip "missing ethtool (pcap needs the Linux peer's checksum" \
        "offload off; run ci/deps.sh)"
  fi
  make_ns_into nsa a
  make_ns_into nsb b
  ip link add veth-a netns "$nsa" type veth peer name veth-b netns "$nsb" ||
    fail "cannot create the veth pair"
  ns_exec "$nsa" ip addr add "$kern/24" dev veth-a
  ns_exec "$nsa" ip link set veth-a up
  ns_exec "$nsb" ip link set veth-b up
  if [ "$backend" = pcap ]; then
    # A veth passes the sender's TCP on as 64 KiB super-frames whose
    # checksums are left for hardware to fill; libpcap shows them as
    # they are and weir drops them. (The raw backend asks the kernel for
    # the offload metadata and repairs them; libpcap cannot.) With
    # checksum offload off, Linux segments and checksums in software.
    ns_exec "$nsa" ethtool -K veth-a tx off >/dev/null 2>&1 ||
      fail "ethtool -K veth-a tx off failed"
    log "Linux side: veth-a tx checksum offload off (ethtool -K veth-a tx off)"
  fi
  head -c "$big" /dev/urandom >"$TMP/big.bin"

  # --- (1) weir echoserver, Linux socat client --------------------------
  # --timeout: the server leaves after 30 s without a connection, should
  # this script die.
  start_bg server 120 ip netns exec "$nsb" "$BUILD/echoserver" -v \
    "${common[@]}" --timeout 30 7 >"$TMP/server.log" 2>"$TMP/server.err"
  wait_until 5 grep -q "echoing TCP on port 7" "$TMP/server.log" ||
    fail "echoserver did not start: $(cat "$TMP/server.log" \
      "$TMP/server.err")"

  tcp_echo_check "$nsa" socat "$weir" 7 "$TMP/big.bin" "$TMP/big.socat"
  log "socat -> weir echoserver ($backend): 16 MiB each way, sha256" \
    "equal, $RATE"
  expect_settled "$nsa" "after socat"

  # --- (3) ping weir from Linux ------------------------------------------
  ns_exec "$nsa" ping -n -c 10 -i 0.05 -W 1 "$weir" >"$TMP/ping.log" 2>&1
  loss=$(grep -o '[0-9.]*% packet loss' "$TMP/ping.log")
  [ "$loss" = "0% packet loss" ] ||
    fail "ping $weir: ${loss:-no summary}: $(tail -3 "$TMP/ping.log")"
  ns_exec "$nsa" ip neigh show dev veth-a | grep -q "$weir lladdr $mac" ||
    fail "Linux has no ARP entry for weir: $(ns_exec "$nsa" ip neigh)"
  log "ping: 10/10 replies from weir, ARP says $weir is at $mac"

  kill -TERM "$server"
  wait_pid "$server" 10
  rc=$?
  [ "$rc" -eq 0 ] ||
    fail "echoserver exited $rc on SIGTERM: $(tail -5 "$TMP/server.err")"
  for t in "SYN-RECEIVED -> ESTABLISHED" "LAST-ACK -> CLOSED"; do
    grep -q -- "$t" "$TMP/server.log" ||
      fail "echoserver -v shows no '$t': $(head -20 "$TMP/server.log")"
  done
  grep -q " closed: " "$TMP/server.err" ||
    fail "echoserver did not close the connection cleanly:" \
      "$(head -5 "$TMP/server.err")"
  log "echoserver: closed with FINs both ways," \
    "$(grep -c " retransmit " "$TMP/server.log") retransmissions," \
    "exit 0 on SIGTERM"

  # --- (2) weir echoclient, Linux socat EXEC:cat ---------------------------
  # shellcheck disable=SC2034 # set by start_bg, through printf -v
  local linux
  # -t: after the client's FIN, wait for cat's last bytes to go back.
  start_bg linux 120 ip netns exec "$nsa" socat -t 60 -T 60 \
    TCP4-LISTEN:7,fork,reuseaddr EXEC:cat >"$TMP/linux.log" 2>&1
  wait_until 5 tcp_listening "$nsa" 7 || fail "socat did not listen on 7"
  t0=$(now_ns)
  timeout 120 ip netns exec "$nsb" "$BUILD/echoclient" -v "${common[@]}" \
    --timeout 10 "$kern" 7 <"$TMP/big.bin" >"$TMP/client.out" \
    2>"$TMP/client.err"
  rc=$?
  t1=$(now_ns)
  [ "$rc" -eq 0 ] || fail "echoclient exited $rc: $(grep -v ' -> ' \
    "$TMP/client.err" | tail -3 | tr '\n' ' ')"
  same_file "$TMP/big.bin" "$TMP/client.out" ||
    fail "echoclient: the echo differs ($(wc -c <"$TMP/client.out") of" \
      "$big bytes)"
  for t in "SYN-SENT -> ESTABLISHED" "-> TIME-WAIT" "TIME-WAIT -> CLOSED"; do
    grep -q -- "$t" "$TMP/client.err" ||
      fail "echoclient -v shows no '$t': $(head -20 "$TMP/client.err")"
  done
  ! grep -q "reset by peer" "$TMP/client.err" ||
    fail "echoclient: the connection was reset"
  log "weir echoclient ($backend) -> socat EXEC:cat: 16 MiB each way," \
    "sha256 equal, $(grep -o 'in [0-9.]* s: [0-9.]* Mbit/s each way' \
      "$TMP/client.err"), exit 0 after $(rate "$big" $((t1 - t0)) |
      cut -d, -f1) (2 s of it TIME-WAIT)," \
    "$(grep -c " retransmit " "$TMP/client.err") retransmissions"

  # --- (4) nothing left on the Linux side --------------------------------
  expect_settled "$nsa" "after echoclient"
  log "ss -tan on the Linux side: nothing ESTABLISHED or CLOSE-WAIT"

  # --- (5) a backend that cannot open -------------------------------------
  open_fails "no such interface" "no interface 'weir-nosuch'" \
    ip netns exec "$nsb" "$BUILD/echoserver" --backend "$backend" \
    --if weir-nosuch --ip "$weir/24" 7
  # A second veth pair, left down (not every kernel has dummy).
  ns_exec "$nsb" ip link add weir-down type veth peer name weir-down-p ||
    fail "cannot create a second veth pair"
  open_fails "interface down" "weir-down is down" \
    ip netns exec "$nsb" "$BUILD/echoclient" --backend "$backend" \
    --if weir-down --ip "$weir/24" "$kern" 7
  # As nobody, when nobody may run the build (it may live in a private
  # home directory).
  local nobody=(setpriv --reuid 65534 --regid 65534 --clear-groups
    --inh-caps=-all)
  if command -v setpriv >/dev/null &&
    ns_exec "$nsb" "${nobody[@]}" test -x "$BUILD/echoserver" 2>/dev/null; then
    open_fails "not root" "run as root" \
      ip netns exec "$nsb" "${nobody[@]}" "$BUILD/echoserver" \
      --backend "$backend" "${common[@]:2}" 7
  else
    log "not root: not tried (no setpriv, or nobody cannot run $BUILD)"
  fi
}
