#!/usr/bin/env bash
# Memory per established call: SIPp places CALLS calls through the node's
# B2BUA at RATE calls/s and holds them (no media packets; each call still
# holds its relay session: 4 sockets). Once all are up, prints the node's RSS
# growth per call, its open descriptors, and the CPU it spends holding them.
#
#   loadtest/sipp/concurrent-calls.sh [BIN]
#
# Env: CALLS (default 10000), RATE (default 500), PORT_BASE, KEEP (keep the
# work directory with logs), MEDIA=no (calls without SDP: no relay session, so
# the figure is the signalling state of an established call alone), SETTLE
# (seconds to wait once all calls are up before measuring, default 3; 40 lets
# the set-up transactions' 32 s absorption windows run out first).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/release/switchyard}
calls=${CALLS:-10000}
rate=${RATE:-500}
base=${PORT_BASE:-27000}
node_port=$((base + 60)) uas_port=$((base + 90)) uac_port=$((base + 70)) reg_port=$((base + 80))
settle=${SETTLE:-3}
hold_ms=$(( (calls / rate + 60 + settle) * 1000 ))
. "$here/lib.sh"

node_config "$node_port" "[media]
bind = \"127.0.0.1\"
rtp_port_min = 10000
rtp_port_max = 60000
[calls]
max_duration_s = 86400"
start_node
callee 2000 "$node_port" "$uas_port" "$reg_port"
sleep 2
rss() { awk '/VmRSS/{print $2}' "/proc/$node_pid/status"; }
before=$(rss)

scenario=(-sn uac)
[ "${MEDIA:-yes}" = no ] && scenario=(-sf "$here/uac-no-media.xml")
sipp "${scenario[@]}" "127.0.0.1:$node_port" -s 2000 -i 127.0.0.1 -p "$uac_port" -r "$rate" -m "$calls" -l "$calls" \
  -d "$hold_ms" -buff_size 4194304 -nostdin -trace_stat -stf "$work/uac_stat.csv" -fd 1 \
  -trace_err -error_file "$work/uac_err.log" >/dev/null 2>&1 &
pids+=("$!")

deadline=$(( SECONDS + calls / rate + 60 ))
up=0 failed=0
while :; do
  [ -s "$work/uac_stat.csv" ] && read -r up failed < <(sipp_stat "$work/uac_stat.csv" CurrentCall 'FailedCall(C)')
  [ "$up" -ge "$calls" ] && break
  [ "$SECONDS" -ge "$deadline" ] && { echo "only $up calls up ($failed failed)" >&2; break; }
  sleep 1
done
sleep "$settle"
after=$(rss)
c0=$(cpu_ticks "$node_pid"); sleep 10; c1=$(cpu_ticks "$node_pid")
fds=$(ls "/proc/$node_pid/fd" | wc -l)
python3 - "$before" "$after" "$up" "$failed" "$fds" "$c0" "$c1" "$hz" <<'PY'
import sys
before, after, up, failed, fds, c0, c1, hz = map(int, sys.argv[1:])
print(f"calls up={up} failed={failed} rss_before={before} kB rss_after={after} kB "
      f"per_call={(after - before) / max(up, 1):.1f} kB fds={fds} idle_cpu={100 * (c1 - c0) / hz / 10:.1f}% of a core")
PY
