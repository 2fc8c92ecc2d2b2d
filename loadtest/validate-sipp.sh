#!/usr/bin/env bash
# Cross-checks switchyard-load against SIPp: one SIPp UAS (`sipp -sn uas`)
# takes the same simple load twice, first from switchyard-load, then from a
# SIPp UAC (loadtest/sipp/uac-no-media.xml): RATE calls/s, CALLS calls, no
# media, HOLD_MS hold, the caller hangs up. Prints, for each generator, the
# calls it placed, answered and failed, the calls the UAS saw complete, and
# the setup time (INVITE -> 200) distribution; exits 1 when the counts
# disagree.
#
#   loadtest/validate-sipp.sh [SWITCHYARD_LOAD_BIN]
#
# Env: RATE (default 20), CALLS (default 600), HOLD_MS (default 2000),
# PORT_BASE (default 28000), KEEP=1 keeps the work directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=${1:-$root/target/release/switchyard-load}
rate=${RATE:-20}
calls=${CALLS:-600}
hold_ms=${HOLD_MS:-2000}
base=${PORT_BASE:-28000}
uas_port=$((base + 90)) uac_port=$((base + 70))

command -v sipp >/dev/null || { echo "sipp is missing: apt-get install sip-tester" >&2; exit 1; }
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release -p switchyard-load)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# sipp_stat FILE COLUMN...: the last row's value of each named column.
sipp_stat() {
  python3 - "$@" <<'PY'
import sys
rows = [l.rstrip('\n').split(';') for l in open(sys.argv[1]) if l.strip()]
print(*(rows[-1][rows[0].index(c)] for c in sys.argv[2:]))
PY
}

# uas_done [EXPECTED]: calls the UAS completed so far. Its stat file is
# rewritten each second, and its scenario ends 4 s after the BYE (absorbing
# retransmissions): wait until EXPECTED calls are done, or 15 s.
uas_done() {
  local n=0
  for _ in $(seq 30); do
    sleep 0.5
    read -r n < <(sipp_stat "$work/uas_stat.csv" 'SuccessfulCall(C)')
    [ "$n" -ge "${1:-0}" ] && break
  done
  echo "$n"
}

(cd "$work" && exec sipp -sn uas -i 127.0.0.1 -p "$uas_port" -buff_size 4194304 -nostdin \
  -trace_stat -stf uas_stat.csv -fd 1 >/dev/null 2>&1) &
pids+=("$!")
for _ in $(seq 50); do [ -s "$work/uas_stat.csv" ] && break; sleep 0.1; done

sed -e "s/^rate = .*/rate = $rate/" -e "s/^total = .*/total = $calls/" \
  -e "s/^hold = .*/hold = \"${hold_ms}ms\"/" "$here/scenarios/validate-sipp.toml" >"$work/validate.toml"
before=$(uas_done)
"$bin" run "$work/validate.toml" --target "127.0.0.1:$uas_port" --out "$work/load" --quiet >"$work/load.txt"
after_load=$(uas_done $((before + calls)))

(cd "$work" && sipp -sf "$here/sipp/uac-no-media.xml" "127.0.0.1:$uas_port" -s service -i 127.0.0.1 \
  -p "$uac_port" -r "$rate" -m "$calls" -d "$hold_ms" -l $((calls + 1)) -buff_size 4194304 -nostdin \
  -timeout $((calls / rate + 60))s -trace_stat -stf uac_stat.csv -trace_msg -fd 1 \
  >/dev/null 2>&1) || true
after_sipp=$(uas_done $((after_load + calls)))
read -r sipp_out sipp_ok sipp_failed < <(sipp_stat "$work/uac_stat.csv" 'OutgoingCall(C)' 'SuccessfulCall(C)' 'FailedCall(C)')

python3 - "$work" "$before" "$after_load" "$after_sipp" "$sipp_out" "$sipp_ok" "$sipp_failed" "$rate" "$calls" "$hold_ms" <<'PY'
import glob, json, sys
work, before, after_load, after_sipp, s_out, s_ok, s_failed, rate, calls, hold = sys.argv[1:]
before, after_load, after_sipp = int(before), int(after_load), int(after_sipp)
r = json.load(open(f"{work}/load/result.json"))["calls"][0]
from datetime import datetime
# SIPp's own RTD counters tick in whole milliseconds: read the microsecond
# timestamps of its message log instead (INVITE sent -> 200 received).
sent, rtt = {}, []
for f in glob.glob(f"{work}/*_messages.log"):
    for block in open(f, errors="replace").read().split("-" * 47 + " ")[1:]:
        lines = block.splitlines()
        if len(lines) < 4:
            continue
        at = datetime.strptime(lines[0].strip(), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        first = lines[3]
        call_id = next((l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("call-id:")), None)
        cseq = next((l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("cseq:")), "")
        if lines[1].startswith("UDP message sent") and first.startswith("INVITE "):
            sent.setdefault(call_id, at)
        elif first.startswith("SIP/2.0 200") and cseq.endswith("INVITE") and call_id in sent:
            rtt.append(1000 * (at - sent.pop(call_id)))
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, -(-len(v) * p // 100) - 1))] if v else float("nan")
print(f"load: {rate} calls/s, {calls} calls, no media, {hold} ms hold, against one SIPp UAS")
print(f"{'generator':16} {'placed':>7} {'answered':>8} {'failed':>6} {'UAS completed':>13} "
      f"{'setup mean':>10} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>6}  (ms)")
s = r["setup_ms"]
print(f"{'switchyard-load':16} {r['sent']:>7} {r['answered']:>8} {r['failed']:>6} {after_load - before:>13} "
      f"{s['mean']:>10.2f} {s['p50']:>6.2f} {s['p95']:>6.2f} {s['p99']:>6.2f} {s['max']:>6.2f}")
mean = sum(rtt) / len(rtt) if rtt else float("nan")
print(f"{'sipp uac':16} {int(s_out):>7} {int(s_ok):>8} {int(s_failed):>6} {after_sipp - after_load:>13} "
      f"{mean:>10.2f} {pct(rtt, 50):>6.2f} {pct(rtt, 95):>6.2f} {pct(rtt, 99):>6.2f} {max(rtt or [float('nan')]):>6.2f}")
print("(SIPp setup times from the microsecond timestamps of its -trace_msg log.)")
same = (r["sent"] == int(s_out) and r["answered"] == int(s_ok) and r["failed"] == int(s_failed)
        and after_load - before == after_sipp - after_load == r["answered"])
print("counts agree" if same else "COUNTS DISAGREE")
sys.exit(0 if same else 1)
PY
