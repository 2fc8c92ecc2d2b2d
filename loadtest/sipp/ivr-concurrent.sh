#!/usr/bin/env bash
# Calls inside the IVR at once: SIPp places CALLS calls to the demo flow's
# number at RATE calls/s; each caller listens for HOLD seconds (prompts
# playing, menus waiting for keys, the node generating 50 RTP packets/s toward
# each) and hangs up. Once all are up, prints the node's CPU, its RSS growth
# per call and SIPp's failures.
#
#   loadtest/sipp/ivr-concurrent.sh [BIN]
#
# Env: CALLS (default 500), RATE (default 100), HOLD (seconds, default: long
# enough to measure), PORT_BASE, KEEP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/release/switchyard}
calls=${CALLS:-500}
rate=${RATE:-100}
base=${PORT_BASE:-27000}
node_port=$((base + 60)) uac_port=$((base + 70))
hold=${HOLD:-$(( calls / rate + 25 ))}
. "$here/lib.sh"

# The demo flows, open round the clock so the callers stay in the menus.
mkdir -p "$work/flows"
for f in "$root"/config/examples/flows/*.toml; do
  sed -e 's/^mon-fri = "08:00-18:00"/mon-sun = "00:00-24:00"/' -e 's/^holidays = .*/holidays = []/' \
    "$f" >"$work/flows/$(basename "$f")"
done
node_config "$node_port" "[media]
bind = \"127.0.0.1\"
rtp_port_min = 10000
rtp_port_max = 60000
[calls]
max_duration_s = 86400
[ivr]
flows = \"$work/flows\"
prompts = \"$root/config/examples/prompts\"
numbers = { \"500\" = \"main\" }"
start_node
sleep 1
rss() { awk '/VmRSS/{print $2}' "/proc/$node_pid/status"; }
before=$(rss)

sipp -sf "$here/uac-ivr-listen.xml" "127.0.0.1:$node_port" -s 500 -i 127.0.0.1 -p "$uac_port" \
  -r "$rate" -m "$calls" -l "$calls" -d "$((hold * 1000))" -buff_size 4194304 -nostdin \
  -trace_stat -stf "$work/uac_stat.csv" -fd 1 -trace_err -error_file "$work/uac_err.log" >/dev/null 2>&1 &
pids+=("$!")

deadline=$(( SECONDS + calls / rate + 30 ))
up=0 failed=0
while :; do
  [ -s "$work/uac_stat.csv" ] && read -r up failed < <(sipp_stat "$work/uac_stat.csv" CurrentCall 'FailedCall(C)')
  [ "$up" -ge "$calls" ] && break
  [ "$SECONDS" -ge "$deadline" ] && { echo "only $up calls up ($failed failed)" >&2; break; }
  sleep 1
done
sleep 2
after=$(rss)
c0=$(cpu_ticks "$node_pid"); sleep 10; c1=$(cpu_ticks "$node_pid")
read -r up_end failed_end < <(sipp_stat "$work/uac_stat.csv" CurrentCall 'FailedCall(C)')
python3 - "$before" "$after" "$up" "$up_end" "$failed_end" "$c0" "$c1" "$hz" <<'PY'
import sys
before, after, up, up_end, failed, c0, c1, hz = map(int, sys.argv[1:])
cpu = 100 * (c1 - c0) / hz / 10
print(f"IVR calls up={up} (still up after the 10 s window: {up_end}) failed={failed} "
      f"node CPU={cpu:.1f}% of a core ({cpu / max(up, 1) * 100:.1f}% per 100 calls) "
      f"rss_before={before} kB rss_after={after} kB per_call={(after - before) / max(up, 1):.1f} kB")
PY
