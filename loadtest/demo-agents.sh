#!/usr/bin/env bash
# switchyard-load against a real demo node: starts `switchyard demo` on a
# loopback port, runs loadtest/scenarios/demo-agents.toml (simulated agents
# registered as 1001-1005, callers 1006-1010 dialling them, RTP and DTMF
# through the node) with the node's CPU and memory sampled, and leaves
# result.json and report.html in OUT.
#
#   loadtest/demo-agents.sh [SWITCHYARD_BIN] [SWITCHYARD_LOAD_BIN]
#
# Env: OUT (default target/loadtest/demo-agents), SCENARIO (another scenario
# written for the demo's extensions), PORT (default 26160), KEEP=1 keeps the
# node's directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
node_bin=${1:-$root/target/release/switchyard}
load_bin=${2:-$root/target/release/switchyard-load}
out=${OUT:-target/loadtest/demo-agents}
scenario=${SCENARIO:-$here/scenarios/demo-agents.toml}
port=${PORT:-26160}

for b in "$node_bin" "$load_bin"; do
  [ -x "$b" ] || { echo "no binary at $b (cargo build --release -p switchyard -p switchyard-load)" >&2; exit 1; }
done
work=$(mktemp -d)
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

"$node_bin" demo --data-dir "$work/demo" --sip-port "$port" --http-port $((port + 2)) >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 100); do
  grep -q "SIP listening" "$work/node.log" 2>/dev/null && break
  kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.log" >&2; exit 1; }
  sleep 0.1
done

"$load_bin" run "$scenario" --target "127.0.0.1:$port" --credentials "$work/demo/demo-credentials.txt" \
  --node-pid "$node_pid" --out "$out"
echo "node log: $(grep -c . "$work/node.log") lines, $(grep -ci "error" "$work/node.log" || true) errors"
