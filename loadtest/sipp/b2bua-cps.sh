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
command -v sipp >/dev/null || { echo "sipp is missing: apt-get install sip-tester" >&2; exit 1; }
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
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
# SIPp 3.6 answers only MD5 and reads the first challenge.
algorithms = ["MD5", "SHA-256"]
trusted = ["127.0.0.1"]
[media]
bind = "127.0.0.1"
rtp_port_min = 30000
rtp_port_max = 60000
[store]
cdr_batch_max = 1024
[log]
level = "warn"
EOF

"$bin" ext add 2000 --password bench2000 --config "$work/node.toml" >/dev/null
nice -n -20 "$bin" node --config "$work/node.toml" 2>"$work/node.log" &
node_pid=$!
pids+=("$node_pid")
sleep 1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# The callee: a SIPp UAS registered as extension 2000.
sipp -sn uas -i 127.0.0.1 -p "$uas_port" -buff_size 4194304 -nostdin >/dev/null 2>&1 &
pids+=("$!")
sipp -sf "$root/tests/interop/sipp/register-digest.xml" "127.0.0.1:$node_port" -i 127.0.0.1 -p "$reg_port" \
  -s 2000 -au 2000 -ap bench2000 -key contact_port "$uas_port" -m 1 -nostdin -timeout 10s -timeout_error \
  >/dev/null 2>&1 || { echo "registration failed" >&2; exit 1; }

# stat file: the last line's SuccessfulCall(C) and FailedCall(C) columns.
calls_from() {
  python3 - "$1" <<'PY'
import sys
rows = [l.rstrip('\n').split(';') for l in open(sys.argv[1]) if l.strip()]
head, last = rows[0], rows[-1]
print(last[head.index('SuccessfulCall(C)')], last[head.index('FailedCall(C)')])
PY
}

run_step() { # target rate label
  local target=$1 rate=$2 label=$3 n=$(( $2 * secs ))
  rm -f "$work"/uac_*.csv
  local t0 c0
  c0=$(cpu_ticks "$node_pid")
  t0=$(date +%s.%N)
  nice -n -20 sipp -sn uac "$target" -s 2000 -i 127.0.0.1 -p "$uac_port" -r "$rate" -m "$n" -d 0 \
    -l $(( rate * 4 )) -buff_size 4194304 -nostdin -timeout $(( secs + 60 ))s \
    -trace_stat -stf "$work/uac_stat.csv" -fd 1 >/dev/null 2>&1 || true
  local t1 c1
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$node_pid")
  read -r ok failed < <(calls_from "$work/uac_stat.csv")
  python3 - "$label" "$rate" "$ok" "$failed" "$c0" "$c1" "$hz" "$t0" "$t1" <<'PY'
import sys
label, rate, ok, failed, c0, c1, hz, t0, t1 = sys.argv[1:]
ok, failed, rate = int(ok), int(failed), int(rate)
cpu_s = (int(c1) - int(c0)) / int(hz)
wall = float(t1) - float(t0)
per_call = 1000 * cpu_s / max(ok, 1)
line = f"{label:7} rate={rate:5}/s ok={ok:6} failed={failed:4} wall={wall:5.1f}s"
if label == "b2bua":
    line += (f" node_cpu={cpu_s:6.2f}s  {per_call:.3f} ms/call"
             f"  {100 * cpu_s / wall / max(ok / wall / 1000, 1e-9):5.1f}% of a core per 1,000 CPS")
print(line)
PY
}

echo "machine: $(nproc) cores, $(awk '/model name/{$1=$2=$3="";print;exit}' /proc/cpuinfo)"
for rate in $rates; do
  run_step "127.0.0.1:$node_port" "$rate" "b2bua"
done
for rate in $rates; do
  run_step "127.0.0.1:$uas_port" "$rate" "direct"
done
echo "node memory: $(awk '/VmHWM/{print $2 " kB peak RSS"}' "/proc/$node_pid/status")"
