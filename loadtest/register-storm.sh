#!/usr/bin/env bash
# Registration storm against a node: provisions extensions 100001-100500
# (password pw<ext>) on a fresh node offering SHA-256 and MD5 challenges,
# then runs loadtest/scenarios/register-storm.toml (500 MD5 registrations,
# then 500 SHA-256 ones, 200/s each) with the node's CPU and memory sampled.
#
#   loadtest/register-storm.sh [SWITCHYARD_BIN] [SWITCHYARD_LOAD_BIN]
#
# Env: OUT (default target/loadtest/register-storm), PORT (default 26260).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
node_bin=${1:-$root/target/release/switchyard}
load_bin=${2:-$root/target/release/switchyard-load}
out=${OUT:-target/loadtest/register-storm}
port=${PORT:-26260}

for b in "$node_bin" "$load_bin"; do
  [ -x "$b" ] || { echo "no binary at $b (cargo build --release -p switchyard -p switchyard-load)" >&2; exit 1; }
done
work=$(mktemp -d)
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/node.toml" <<TOML
[node]
data_dir = "$work"
[sip]
listen = "127.0.0.1"
port = $port
tls_port = 0
domain = "127.0.0.1"
[auth]
algorithms = ["SHA-256", "MD5"]
[http]
listen = "127.0.0.1"
port = $((port + 2))
[log]
level = "warn"
TOML
for ext in $(seq 100001 100500); do
  "$node_bin" ext add "$ext" --password "pw$ext" --config "$work/node.toml" >/dev/null
done
"$node_bin" node --config "$work/node.toml" 2>"$work/node.log" &
node_pid=$!
for _ in $(seq 100); do
  grep -q "SIP listening\|error" "$work/node.log" 2>/dev/null && break
  sleep 0.1
done
"$load_bin" run "$here/scenarios/register-storm.toml" --target "127.0.0.1:$port" --node-pid "$node_pid" --out "$out"
