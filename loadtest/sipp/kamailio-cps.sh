#!/usr/bin/env bash
# The peer for loadtest/sipp/b2bua-cps.sh: the same SIPp UAC -> server ->
# SIPp UAS load (0 s hold, no media) through Kamailio as a minimal stateful
# proxy (loadtest/sipp/kamailio.cfg: tm + in-memory registrar, no auth, no
# media anchoring, no accounting), with the TLSF allocator (`-x tlsf`: the
# Debian default `qm` keeps debug bookkeeping and costs 2.5x the CPU).
#
#   loadtest/sipp/kamailio-cps.sh
#
# Env: RATES (default "1000 2000 3000"), SECS (default 30), PORT_BASE.
# Needs the Debian package kamailio (apt-get install kamailio).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rates=${RATES:-"1000 2000 3000"}
secs=${SECS:-30}
base=${PORT_BASE:-28000}
proxy_port=$((base + 60)) uas_port=$((base + 90)) uac_port=$((base + 70))
command -v kamailio >/dev/null || { echo "kamailio is missing: apt-get install kamailio" >&2; exit 1; }
command -v sipp >/dev/null || { echo "sipp is missing: apt-get install sip-tester" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

nice -n -20 kamailio -f "$here/kamailio.cfg" -l "udp:127.0.0.1:$proxy_port" -P "$work/kamailio.pid" \
  -n 2 -m 512 -M 16 -x tlsf -DD -E >"$work/kamailio.log" 2>&1 &
pids+=("$!")
sleep 1
sipp -sn uas -i 127.0.0.1 -p "$uas_port" -buff_size 4194304 -nostdin >/dev/null 2>&1 &
pids+=("$!")

# Register extension 2000 at the SIPp UAS (Kamailio asks for no credentials).
python3 - "$proxy_port" "$uas_port" <<'PY'
import socket, sys
proxy, uas = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); s.settimeout(5)
me = s.getsockname()[1]
s.sendto((f"REGISTER sip:127.0.0.1:{proxy} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKreg1;rport\r\n"
          f"From: <sip:2000@127.0.0.1>;tag=r1\r\nTo: <sip:2000@127.0.0.1>\r\nCall-ID: reg-2000\r\nCSeq: 1 REGISTER\r\n"
          f"Contact: <sip:2000@127.0.0.1:{uas}>\r\nExpires: 3600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(),
         ("127.0.0.1", proxy))
assert s.recv(4096).startswith(b"SIP/2.0 200"), "registration refused"
PY

# Every Kamailio process (main, UDP workers, timers) counts.
kam_ticks() { pgrep -f "$here/kamailio.cfg" | xargs -I{} awk '{print $14 + $15}' /proc/{}/stat | awk '{s += $1} END {print s}'; }
hz=$(getconf CLK_TCK)

for rate in $rates; do
  n=$(( rate * secs ))
  c0=$(kam_ticks); t0=$(date +%s.%N)
  nice -n -20 sipp -sn uac "127.0.0.1:$proxy_port" -s 2000 -i 127.0.0.1 -p "$uac_port" -r "$rate" -m "$n" -d 0 \
    -l $(( rate * 4 )) -buff_size 4194304 -nostdin -timeout $(( secs + 60 ))s \
    -trace_stat -stf "$work/uac_stat.csv" -fd 1 >/dev/null 2>&1 || true
  t1=$(date +%s.%N); c1=$(kam_ticks)
  python3 - "$work/uac_stat.csv" "$rate" "$c0" "$c1" "$hz" "$t0" "$t1" <<'PY'
import sys
path, rate, c0, c1, hz, t0, t1 = sys.argv[1:]
rows = [l.rstrip('\n').split(';') for l in open(path) if l.strip()]
head, last = rows[0], rows[-1]
ok, failed = int(last[head.index('SuccessfulCall(C)')]), int(last[head.index('FailedCall(C)')])
cpu = (int(c1) - int(c0)) / int(hz)
wall = float(t1) - float(t0)
print(f"kamailio rate={int(rate):5}/s ok={ok:6} failed={failed:4} wall={wall:5.1f}s cpu={cpu:6.2f}s "
      f"{1000 * cpu / max(ok, 1):.3f} ms/call  {100 * cpu / wall / max(ok / wall / 1000, 1e-9):5.1f}% of a core per 1,000 CPS")
PY
  rm -f "$work/uac_stat.csv"
done
