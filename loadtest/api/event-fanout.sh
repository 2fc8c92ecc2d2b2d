#!/usr/bin/env bash
# Event fan-out: how many events per second a release demo node delivers to
# CLIENTS (default 500) WebSocket clients on its CTI event stream while a
# burst of calls runs through it.
#
# One demo node for all runs; AGENTS simulated agents (extensions 2001...)
# registered by switchyard-load; callers 1006-1010 (the demo's credentials)
# dial them at each rate in RATES for SECS seconds, without media (each call
# publishes call.created and call.ended). switchyard-load's supervisors mode
# keeps the CLIENTS clients connected (an administrator's tokens, TOKENS of
# them, clients taking them in turn) from before the first call until no
# event came for two seconds after the last. Prints one table row per rate;
# CPU is the mean over the seconds in which calls arrived, in % of one core.
#
#   loadtest/api/event-fanout.sh
#
# Env: RATES (calls/s, default "20 50 100"), SECS (default 10), CLIENTS
# (default 500), TOKENS (default 25: 20 clients a token, inside the
# per-token burst of 40 handshakes), AGENTS (default 200), OUT (default
# target/loadtest/event-fanout), QUIET_LOAD (wait for a load average below
# it, default 1.0; 0 skips the wait), and lib.sh's NODE_BIN, LOAD_BIN, PORT,
# KEEP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
rates=${RATES:-20 50 100}
secs=${SECS:-10}
clients=${CLIENTS:-500}
tokens=${TOKENS:-25}
agents=${AGENTS:-200}
out=${OUT:-$root/target/loadtest/event-fanout}
mkdir -p "$out"

start_demo
add_extensions 2001 $((2000 + agents))
make_tokens fanout "$tokens" "$work/tokens.txt"

# scenario RATE FILE
scenario() {
  cat >"$2" <<TOML
name = "event-fanout-$1"
target = "127.0.0.1:$port"
supervisors = $clients

[generator]
seed = 7
drain = "30s"

[agents]
extensions = "2001-$((2000 + agents))"
password = "pw{user}"
algorithm = "MD5"
answer_delay = "100ms"
handle_time = "1s"
wrap_up = "0s"
media = false

[[calls]]
name = "burst"
from = "1006-1010"
algorithm = "MD5"
to = "2001-$((2000 + agents))"
rate = $1
arrival = "constant"
duration = "${secs}s"
start = "3s"
hangup = "callee"
max_call = "20s"
media = false

[api]
address = "$api"
tokens_file = "$work/tokens.txt"
linger = "2s"
linger_max = "60s"
TOML
}

# row RATE RESULT PUBLISHED LOAD: one markdown table row.
row() {
  python3 - "$@" <<'PY'
import json, sys
rate, path, published, load = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
c = r["calls"][0]
# CLIENTS=0 (a control run without clients) has no supervisors summary.
s = r.get("supervisors") or {"connected": 0, "clients": 0, "events_received": 0, "delivered_per_s": 0,
                            "peak_delivered_per_s": 0, "gaps": 0, "duplicates": 0,
                            "delivery_ms": {"p50": 0, "p99": 0, "max": 0}}
d = s["delivery_ms"]
burst = [t for t in r["timeline"] if t["attempts"] > 0]
def busy(key):
    xs = [t[key] for t in burst if t.get(key) is not None]
    return sum(xs) / max(len(xs), 1)
expected = published * s["connected"]
print(f"| {rate} | {c['answered']}/{c['sent']} | {published} | {s['connected']}/{s['clients']} "
      f"| {s['events_received']} / {expected} | {s['delivered_per_s']:.0f} | {s['peak_delivered_per_s']} "
      f"| {d['p50']:.1f} / {d['p99']:.1f} / {d['max']:.0f} | {s['gaps']} / {s['duplicates']} "
      f"| {busy('node_cpu'):.0f} | {busy('own_cpu'):.0f} | {load} "
      f"| {c['setup_ms']['p50']:.0f} / {c['setup_ms']['p99']:.0f} |")
PY
}

header="| calls/s | answered/sent | events published | clients connected | deliveries / expected | delivered/s | peak/s | delay p50 / p99 / max ms | gaps / dups | node CPU % | generator CPU % | load avg before | call setup p50 / p99 ms |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
rows=()
for rate in $rates; do
  load=$( [ "${QUIET_LOAD:-1.0}" = 0 ] && cut -d' ' -f1 /proc/loadavg || wait_quiet "${QUIET_LOAD:-1.0}")
  scenario "$rate" "$work/scenario-$rate.toml"
  before=$(events_published)
  mkdir -p "$out/$rate"
  "$LOAD_BIN" run "$work/scenario-$rate.toml" --credentials "$work/demo/demo-credentials.txt" \
    --node-pid "$node_pid" --out "$out/$rate" --quiet | tee "$out/$rate/summary.txt"
  published=$(( $(events_published) - before ))
  rows+=("$(row "$rate" "$out/$rate/result.json" "$published" "$load")")
done
cp "$work/node.log" "$out/node.log"
{ echo "$header"; printf '%s\n' "${rows[@]}"; } | tee "$out/table.md"
