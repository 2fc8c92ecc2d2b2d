#!/usr/bin/env bash
# How fast the sync bridge drains a backlog: a release node with [bridge]
# pointing at a cloud that is down takes a burst of calls (each a 404 from
# SIPp, each a committed CDR with its outbox row), then `switchyard cloud`
# starts and the script times how long the node's outbox takes to empty and
# checks that the cloud stored every record once.
#
# A backlog of RECORDS stands for an outage: 6000 records are ten minutes of a
# node ending 10 calls a second. The burst is generated faster than that
# (RATE calls/s) so the run stays short; only the drain is timed.
#
#   loadtest/bridge/backlog-drain.sh
#
# Env: RECORDS (default 6000), RATE (default 200), PORT (default 27360),
# NODE_BIN (skip the build), KEEP=1 keeps the work directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
records=${RECORDS:-6000}
rate=${RATE:-200}
port=${PORT:-27360}
http=$((port + 2))
cloud_port=$((port + 4))

if [ -z "${NODE_BIN:-}" ]; then
  (cd "$root" && cargo build --release --bin switchyard)
  NODE_BIN=${CARGO_TARGET_DIR:-$root/target}/release/switchyard
fi
for tool in sipp sqlite3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install sip-tester sqlite3)" >&2; exit 1; }
done
ulimit -n 65536 2>/dev/null || true

work=$(mktemp -d /tmp/switchyard-drain-XXXXXX)
node_pid= cloud_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  [ -n "$cloud_pid" ] && kill "$cloud_pid" 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

"$NODE_BIN" certs init "$work/bridge" --name 127.0.0.1 >/dev/null
cat > "$work/switchyard.toml" <<EOF
[node]
name = "drain"
data_dir = "$work"
[sip]
listen = "127.0.0.1"
port = $port
tls_port = 0
domain = "127.0.0.1"
[auth]
trusted = ["127.0.0.1"]
[media]
bind = "127.0.0.1"
rtp_port_min = $((port + 100))
rtp_port_max = $((port + 199))
[http]
listen = "127.0.0.1"
port = $http
[bridge]
cloud = "127.0.0.1:$cloud_port"
server_name = "127.0.0.1"
certs = "$work/bridge"
[log]
level = "warn"
EOF
cat > "$work/cloud.toml" <<EOF
listen = "127.0.0.1:$cloud_port"
certs = "$work/bridge"
data_dir = "$work/cloud"
EOF
"$NODE_BIN" node --config "$work/switchyard.toml" > "$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 100); do
  sqlite3 "$work/switchyard.db" "SELECT 1 FROM bridge_outbox LIMIT 1" >/dev/null 2>&1 && break
  sleep 0.1
done

echo "burst: $records calls at $rate/s, the cloud down"
sipp -sn uac -s 1009 -r "$rate" -m "$records" -l 500 -i 127.0.0.1 -p $((port + 10)) \
  -nostdin -timeout 600s 127.0.0.1:$port > "$work/sipp.log" 2>&1 || true
count() { sqlite3 "$work/$1" "$2" 2>/dev/null || echo 0; }
for _ in $(seq 50); do
  cdrs=$(count switchyard.db "SELECT COUNT(*) FROM cdrs")
  backlog=$(count switchyard.db "SELECT COUNT(*) FROM bridge_outbox")
  [ "$cdrs" = "$backlog" ] && break
  sleep 0.2
done
echo "backlog: $backlog outbox rows for $cdrs CDRs"

start=$(date +%s.%N)
"$NODE_BIN" cloud --config "$work/cloud.toml" > "$work/cloud.log" 2>&1 &
cloud_pid=$!
until [ "$(count switchyard.db "SELECT COUNT(*) FROM bridge_outbox")" = 0 ]; do sleep 0.05; done
end=$(date +%s.%N)
stored=$(count cloud/cloud.db "SELECT COUNT(*) FROM call_records")
received=$(count cloud/cloud.db "SELECT COUNT(*) FROM bridge_received")
seconds=$(echo "$end - $start" | bc -l)
printf 'drained %s records in %.2f s (%.0f records/s, cloud start-up included); cloud stored %s, keys %s\n' \
  "$backlog" "$seconds" "$(echo "$backlog / $seconds" | bc -l)" "$stored" "$received"
[ "$stored" = "$backlog" ] && [ "$received" = "$backlog" ] || { echo "MISMATCH" >&2; exit 1; }
