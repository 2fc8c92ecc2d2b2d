#!/usr/bin/env bash
# Calls per second through the node's B2BUA, with SIPp as UAC and UAS, beside
# SIPp UAC -> UAS direct (the generator's own ceiling), in one run.
#
#   loadtest/sipp/b2bua-cps.sh [BIN]
#
# Env: RATES (default "1000 2000 3000 4000"), SECS (default 30), PORT_BASE.
# Each step runs RATE calls/s for SECS seconds with 0 s hold and no media
# packets (SDP is still rewritten and relay ports are still allocated and
# freed per call; CDRs are group-committed to SQLite). Prints one line per
# step: rate, calls ok/failed, node CPU ms per call, CPU % per 1,000 CPS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/release/switchyard}
rates=${RATES:-"1000 2000 3000 4000"}
secs=${SECS:-30}
base=${PORT_BASE:-25000}
node_port=$((base + 60)) uas_port=$((base + 90)) uac_port=$((base + 70)) reg_port=$((base + 80))
. "$here/lib.sh"

node_config "$node_port" "[media]
bind = \"127.0.0.1\"
rtp_port_min = 30000
rtp_port_max = 60000
[store]
cdr_batch_max = 1024"
start_node nice
callee 2000 "$node_port" "$uas_port" "$reg_port"

run_step() { # target rate label
  local target=$1 rate=$2 label=$3 n=$(( $2 * secs ))
  local c0 t0 c1 t1 ok failed
  c0=$(cpu_ticks "$node_pid"); t0=$(date +%s.%N)
  nice -n -20 sipp -sn uac "$target" -s 2000 -i 127.0.0.1 -p "$uac_port" -r "$rate" -m "$n" -d 0 \
    -l $(( rate * 4 )) -buff_size 4194304 -nostdin -timeout $(( secs + 60 ))s \
    -trace_stat -stf "$work/uac_stat.csv" -fd 1 >/dev/null 2>&1 || true
  t1=$(date +%s.%N); c1=$(cpu_ticks "$node_pid")
  read -r ok failed < <(sipp_stat "$work/uac_stat.csv" 'SuccessfulCall(C)' 'FailedCall(C)')
  rm -f "$work/uac_stat.csv"
  python3 - "$label" "$rate" "$ok" "$failed" "$c0" "$c1" "$hz" "$t0" "$t1" <<'PY'
import sys
label, rate, ok, failed, c0, c1, hz, t0, t1 = sys.argv[1:]
ok, failed, rate = int(ok), int(failed), int(rate)
cpu_s = (int(c1) - int(c0)) / int(hz)
wall = float(t1) - float(t0)
line = f"{label:7} rate={rate:5}/s ok={ok:6} failed={failed:4} wall={wall:5.1f}s"
if label == "b2bua":
    line += (f" node_cpu={cpu_s:6.2f}s  {1000 * cpu_s / max(ok, 1):.3f} ms/call"
             f"  {100 * cpu_s / wall / max(ok / wall / 1000, 1e-9):5.1f}% of a core per 1,000 CPS")
print(line)
PY
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
for rate in $rates; do run_step "127.0.0.1:$node_port" "$rate" b2bua; done
for rate in $rates; do run_step "127.0.0.1:$uas_port" "$rate" direct; done
echo "node memory: $(awk '/VmHWM/{print $2 " kB peak RSS"}' "/proc/$node_pid/status")"
