#!/usr/bin/env bash
# echoserver and echoclient refuse bad usage with one line on stderr and
# exit status 2 (bad flags, addresses, ports, MACs, device names, unknown
# backend, missing or extra arguments, TCP-only flags with -u, server
# flags given to the client), --help exits 0 and documents TCP (now the
# default) and its flags, and an unwritable --sink exits 1 with one line.
# No root needed: nothing here may reach the network.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ ! -x "$BUILD/echoserver" ] || [ ! -x "$BUILD/echoclient" ]; then
  fail "no $BUILD/echoserver or echoclient: run make first"
fi

# Should a bad case slip through parsing, the app would open a device: as
# root, let that happen in a throwaway network namespace, never the host's.
isolate=()
if [ "$(id -u)" -eq 0 ] && unshare --net true 2>/dev/null; then
  isolate=(unshare --net)
fi

checked=0
# bad PROG ARGS...: exit status 2, nothing on stdout, one line on stderr.
bad() {
  local prog=$1 rc lines
  shift
  timeout 5 "${isolate[@]}" "$BUILD/$prog" "$@" </dev/null \
    >"$TMP/out" 2>"$TMP/err"
  rc=$?
  lines=$(wc -l <"$TMP/err")
  [ "$rc" -eq 2 ] ||
    fail "$prog $*: exit $rc, want 2 ($(head -1 "$TMP/err"))"
  [ "$lines" -eq 1 ] ||
    fail "$prog $*: $lines lines on stderr, want 1: $(cat "$TMP/err")"
  [ ! -s "$TMP/out" ] || fail "$prog $*: wrote to stdout: $(head -1 "$TMP/out")"
  grep -q "^$prog: " "$TMP/err" || fail "$prog $*: message lacks '$prog: '"
  checked=$((checked + 1))
}

for prog in echoserver echoclient; do
  if [ $prog = echoserver ]; then ok=(7); else ok=(10.77.0.1 7); fi
  bad $prog -u --bogus "${ok[@]}"
  bad $prog -u -Z "${ok[@]}"
  bad $prog -u --port
  bad $prog -u --backend nosuch "${ok[@]}"
  bad $prog -u --backend "${ok[@]}"
  bad $prog -u --ip 10.77.0.300/24 "${ok[@]}"
  bad $prog -u --ip 10.77.0.2 "${ok[@]}"
  bad $prog -u --ip 10.77.0.2/33 "${ok[@]}"
  bad $prog -u --ip 224.0.0.1/24 "${ok[@]}"
  bad $prog -u --ip 10.77.0.2/24x "${ok[@]}"
  bad $prog -u --gw 10.77.0.2 "${ok[@]}"
  bad $prog -u --gw 10.78.0.1 "${ok[@]}"
  bad $prog -u --gw banana "${ok[@]}"
  bad $prog -u --kernel-ip 10.77.0.2/24 "${ok[@]}"
  bad $prog -u --kernel-ip 10.77.0.1 "${ok[@]}"
  bad $prog -u --mac 01:00:5e:00:00:01 "${ok[@]}"
  bad $prog -u --mac 02:77:00:00:00 "${ok[@]}"
  bad $prog -u --mac zz:77:00:00:00:02 "${ok[@]}"
  bad $prog -u --if this-name-is-too-long "${ok[@]}"
  bad $prog -u --if a/b "${ok[@]}"
  bad $prog -u --if "" "${ok[@]}"
  bad $prog -u --mtu 100 "${ok[@]}"
  bad $prog -u --mtu 70000 "${ok[@]}"
  bad $prog -u --timeout 0 "${ok[@]}"
  bad $prog -u --timeout -1 "${ok[@]}"
  bad $prog -u --timeout soon "${ok[@]}"
  bad $prog -u --seed -3 "${ok[@]}"
  bad $prog -u --port 0 "${ok[0]}"
  bad $prog -u
  bad $prog
  # TCP (the default): the same checks hold without -u.
  bad $prog --bogus "${ok[@]}"
  bad $prog --ip 10.77.0.2/33 "${ok[@]}"
  bad $prog --port 0 "${ok[0]}"
  bad $prog --timeout 0 "${ok[@]}"
  bad $prog --msl "${ok[@]}"
  bad $prog --msl 0 "${ok[@]}"
  bad $prog --msl -5 "${ok[@]}"
  bad $prog --msl 1.5 "${ok[@]}"
  bad $prog --msl 600001 "${ok[@]}"
  bad $prog --msl 2s "${ok[@]}"
  bad $prog -u --msl 500 "${ok[@]}" # TCP only
done

bad echoserver -u 0
bad echoserver -u 65536
bad echoserver -u -- -7
bad echoserver -u 7x
bad echoserver -u 10.77.0.2 7 8
bad echoserver -u 10.77.0.9 --ip 10.77.0.2/24 7
bad echoserver -u --port 7 10.77.0.2 8
bad echoserver -u --count 0 7
bad echoserver -u --count many 7
bad echoserver -u --discard 7
bad echoserver -u --sink "$TMP/sink" 7
bad echoserver --discard --sink "$TMP/sink" 7
bad echoserver --sink "" 7
bad echoserver --sink
bad echoserver --discard=yes 7
bad echoserver --count 0 7
bad echoserver 10.77.0.2 7 8
bad echoclient --discard 10.77.0.1 7
bad echoclient --sink "$TMP/sink" 10.77.0.1 7
bad echoclient 10.77.0.1
bad echoclient 10.77.0.2 7 # weir's own address
bad echoclient -u 10.77.0.1
bad echoclient -u 10.77.0.999 7
bad echoclient -u 10.77.0.1 99999
bad echoclient -u 10.77.0.1 7 8
bad echoclient -u --port 8 10.77.0.1 7
bad echoclient -u 10.77.0.2 7 # weir's own address
bad echoclient -u 255.255.255.255 7

# A sink that cannot be opened: a system failure (1), one line, and no
# device was made for nothing (it is opened first).
timeout 5 "${isolate[@]}" "$BUILD/echoserver" --sink /nonexistent/dir/f \
  --if wflags0 7 </dev/null >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -ne 1 ] || [ "$(wc -l <"$TMP/err")" -ne 1 ] ||
  ! grep -q "^echoserver: /nonexistent/dir/f: No such file" "$TMP/err"; then
  fail "unwritable --sink: exit $rc: $(cat "$TMP/err")"
fi
checked=$((checked + 1))

for prog in echoserver echoclient; do
  timeout 5 "$BUILD/$prog" --help >"$TMP/help" 2>"$TMP/err" ||
    fail "$prog --help: exit $?"
  grep -q -- "--kernel-ip" "$TMP/help" || fail "$prog --help lacks --kernel-ip"
  grep -q "^usage: $prog \[flags\] " "$TMP/help" ||
    fail "$prog --help lacks a usage line"
  for f in --msl "-u, --udp" TIME-WAIT; do
    grep -q -- "$f" "$TMP/help" || fail "$prog --help lacks '$f'"
  done
  ! grep -q "not implemented" "$TMP/help" ||
    fail "$prog --help still says TCP is not implemented"
  [ ! -s "$TMP/err" ] || fail "$prog --help wrote to stderr"
done
for f in --discard --sink; do
  "$BUILD/echoserver" --help | grep -q -- "$f" ||
    fail "echoserver --help lacks $f"
done

echo "PASS app_flags: $checked bad usages exit 2 (1 for an unwritable" \
  "--sink) with one line; --help exits 0 and documents TCP's flags"
