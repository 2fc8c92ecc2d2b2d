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
. "$here/lib.sh"

node_config "$node_port"
echo "SEQUENTIAL" >"$work/users.csv"
for i in $(seq 1 "$users"); do
  ext=$((100000 + i))
  "$bin" ext add "$ext" --password "pw$ext" --config "$work/node.toml" >/dev/null
  echo "$ext;[authentication username=$ext password=pw$ext]" >>"$work/users.csv"
done
start_node nice

for rate in $rates; do
  n=$(( rate * secs ))
  c0=$(cpu_ticks "$node_pid"); t0=$(date +%s.%N)
  nice -n -20 sipp -sf "$here/register-storm.xml" -inf "$work/users.csv" "127.0.0.1:$node_port" \
    -i 127.0.0.1 -p "$uac_port" -r "$rate" -m "$n" -l $(( rate * 2 )) -buff_size 4194304 -nostdin \
    -timeout $(( secs + 60 ))s -trace_stat -stf "$work/reg_stat.csv" -fd 1 >/dev/null 2>&1 || true
  t1=$(date +%s.%N); c1=$(cpu_ticks "$node_pid")
  read -r ok failed < <(sipp_stat "$work/reg_stat.csv" 'SuccessfulCall(C)' 'FailedCall(C)')
  rm -f "$work/reg_stat.csv"
  python3 - "$rate" "$ok" "$failed" "$c0" "$c1" "$hz" "$t0" "$t1" <<'PY'
import sys
rate, ok, failed, c0, c1, hz, t0, t1 = sys.argv[1:]
ok, failed = int(ok), int(failed)
cpu = (int(c1) - int(c0)) / int(hz)
wall = float(t1) - float(t0)
print(f"register rate={int(rate):6}/s ok={ok:7} failed={failed:5} wall={wall:5.1f}s achieved={ok / wall:7.0f}/s "
      f"node_cpu={cpu:6.2f}s {1000 * cpu / max(ok, 1):.3f} ms/registration "
      f"{100 * cpu / wall / max(ok / wall / 1000, 1e-9):5.1f}% of a core per 1,000/s")
PY
done
echo "node memory: $(awk '/VmHWM/{print $2 " kB peak RSS"}' "/proc/$node_pid/status")"
