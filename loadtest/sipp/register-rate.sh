#!/usr/bin/env bash
# Digest-authenticated registrations per second against the node's
# registrar: SIPp sends REGISTER, answers the 401 with MD5 credentials and
# expects 200, spread over USERS extensions.
#
#   loadtest/sipp/register-rate.sh [BIN]
#
# Env: RATES (default "2000 5000 10000"), SECS (default 20), USERS (default
# 1000), PORT_BASE. Prints one line per step: rate, registrations ok/failed,
# node CPU ms per registration and % of a core per 1,000 registrations/s.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/release/switchyard}
rates=${RATES:-"2000 5000 10000"}
secs=${SECS:-20}
users=${USERS:-1000}
base=${PORT_BASE:-26000}
node_port=$((base + 60)) uac_port=$((base + 70))
command -v sipp >/dev/null || { echo "sipp is missing: apt-get install sip-tester" >&2; exit 1; }
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

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
# SIPp 3.6 answers only MD5 and reads the first challenge.
algorithms = ["MD5", "SHA-256"]
[log]
level = "warn"
EOF

echo "SEQUENTIAL" >"$work/users.csv"
for i in $(seq 1 "$users"); do
  ext=$((100000 + i))
  "$bin" ext add "$ext" --password "pw$ext" --config "$work/node.toml" >/dev/null
  echo "$ext;[authentication username=$ext password=pw$ext]" >>"$work/users.csv"
done

nice -n -20 "$bin" node --config "$work/node.toml" 2>"$work/node.log" &
node_pid=$!
pids+=("$node_pid")
sleep 1
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

for rate in $rates; do
  n=$(( rate * secs ))
  rm -f "$work"/*_stat.csv
  c0=$(cpu_ticks "$node_pid"); t0=$(date +%s.%N)
  nice -n -20 sipp -sf "$here/register-storm.xml" -inf "$work/users.csv" "127.0.0.1:$node_port" \
    -i 127.0.0.1 -p "$uac_port" -r "$rate" -m "$n" -l $(( rate * 2 )) -buff_size 4194304 -nostdin \
    -timeout $(( secs + 60 ))s -trace_stat -stf "$work/reg_stat.csv" -fd 1 >/dev/null 2>&1 || true
  t1=$(date +%s.%N); c1=$(cpu_ticks "$node_pid")
  python3 - "$work/reg_stat.csv" "$rate" "$c0" "$c1" "$hz" "$t0" "$t1" <<'PY'
import sys
path, rate, c0, c1, hz, t0, t1 = sys.argv[1:]
rows = [l.rstrip('\n').split(';') for l in open(path) if l.strip()]
head, last = rows[0], rows[-1]
ok, failed = int(last[head.index('SuccessfulCall(C)')]), int(last[head.index('FailedCall(C)')])
cpu = (int(c1) - int(c0)) / int(hz)
wall = float(t1) - float(t0)
per = 1000 * cpu / max(ok, 1)
print(f"register rate={int(rate):6}/s ok={ok:7} failed={failed:5} wall={wall:5.1f}s achieved={ok / wall:7.0f}/s "
      f"node_cpu={cpu:6.2f}s {per:.3f} ms/registration {100 * cpu / wall / max(ok / wall / 1000, 1e-9):5.1f}% of a core per 1,000/s")
PY
done
echo "node memory: $(awk '/VmHWM/{print $2 " kB peak RSS"}' "/proc/$node_pid/status")"
