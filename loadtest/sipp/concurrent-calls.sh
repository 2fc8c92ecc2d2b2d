#!/usr/bin/env bash
# Memory per established call: SIPp places CALLS calls through the node's
# B2BUA at RATE calls/s and holds them (no media packets; each call still
# holds its relay session: 4 sockets). Once all are up, prints the node's RSS
# growth per call, its open descriptors, and the CPU it spends holding them.
#
#   loadtest/sipp/concurrent-calls.sh [BIN]
#
# Env: CALLS (default 10000), RATE (default 500), PORT_BASE.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/release/switchyard}
calls=${CALLS:-10000}
rate=${RATE:-500}
base=${PORT_BASE:-27000}
node_port=$((base + 60)) uas_port=$((base + 90)) uac_port=$((base + 70)) reg_port=$((base + 80))
hold_ms=$(( (calls / rate + 60) * 1000 ))
command -v sipp >/dev/null || { echo "sipp is missing: apt-get install sip-tester" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT
# Each call holds four sockets on the node: lift the descriptor limit (root
# may raise the hard limit too).
ulimit -Hn 262144 2>/dev/null || true
ulimit -n 262144 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cat >"$work/node.toml" <<EOF
[node]
data_dir = "$work"
[sip]
listen = "127.0.0.1"
port = $node_port
tls_port = 0
domain = "127.0.0.1"
recv_buffer_bytes = 4194304
[auth]
algorithms = ["MD5", "SHA-256"]
trusted = ["127.0.0.1"]
[media]
bind = "127.0.0.1"
rtp_port_min = 10000
rtp_port_max = 60000
[calls]
max_duration_s = 86400
[log]
level = "warn"
EOF

"$bin" ext add 2000 --password bench2000 --config "$work/node.toml" >/dev/null
"$bin" node --config "$work/node.toml" 2>"$work/node.log" &
node_pid=$!
pids+=("$node_pid")
sleep 1
rss() { awk '/VmRSS/{print $2}' "/proc/$node_pid/status"; }

sipp -sn uas -i 127.0.0.1 -p "$uas_port" -buff_size 4194304 -nostdin >/dev/null 2>&1 &
pids+=("$!")
sipp -sf "$root/tests/interop/sipp/register-digest.xml" "127.0.0.1:$node_port" -i 127.0.0.1 -p "$reg_port" \
  -s 2000 -au 2000 -ap bench2000 -key contact_port "$uas_port" -m 1 -nostdin -timeout 10s -timeout_error >/dev/null 2>&1
sleep 2
before=$(rss)

sipp -sn uac "127.0.0.1:$node_port" -s 2000 -i 127.0.0.1 -p "$uac_port" -r "$rate" -m "$calls" -l "$calls" \
  -d "$hold_ms" -buff_size 4194304 -nostdin -trace_stat -stf "$work/uac_stat.csv" -fd 1 -trace_err -error_file "$work/uac_err.log" >/dev/null 2>&1 &
pids+=("$!")

current() {
  python3 - "$work/uac_stat.csv" <<'PY'
import sys
try:
    rows = [l.rstrip('\n').split(';') for l in open(sys.argv[1]) if l.strip()]
    print(rows[-1][rows[0].index('CurrentCall')], rows[-1][rows[0].index('FailedCall(C)')])
except Exception:
    print(0, 0)
PY
}
deadline=$(( SECONDS + calls / rate + 60 ))
while :; do
  read -r up failed < <(current)
  [ "$up" -ge "$calls" ] && break
  [ "$SECONDS" -ge "$deadline" ] && { echo "only $up calls up ($failed failed)" >&2; break; }
  sleep 1
done
sleep 3
after=$(rss)
c0=$(awk '{print $14 + $15}' "/proc/$node_pid/stat"); sleep 10; c1=$(awk '{print $14 + $15}' "/proc/$node_pid/stat")
read -r up failed < <(current)
fds=$(ls "/proc/$node_pid/fd" | wc -l)
python3 - "$before" "$after" "$up" "$failed" "$fds" "$c0" "$c1" "$(getconf CLK_TCK)" <<'PY'
import sys
before, after, up, failed, fds, c0, c1, hz = map(int, sys.argv[1:])
print(f"calls up={up} failed={failed} rss_before={before} kB rss_after={after} kB "
      f"per_call={(after - before) / max(up, 1):.1f} kB fds={fds} idle_cpu={100 * (c1 - c0) / hz / 10:.1f}% of a core")
PY
