#!/usr/bin/env bash
# A contact center's busy hour at 1x, 3x and 5x its rate, against a fresh
# release node each time, in one of two sizes:
#
# - SIZE=48 (the default): IVR number 500 running the demo flows (opened
#   round the clock), queues sales/support/billing (and premium, unused), 48
#   agents (2001-2048, 16 per queue), callers going through both menus to a
#   queue (scenarios/busy-hour.toml).
# - SIZE=200: IVR number 500 running scenarios/busy-hour-200/center.toml
#   (three menus), queues sales/support/billing/premium/retention, 200 agents
#   (2001-2200, 40 per queue), callers going through two or three menus to a
#   queue (scenarios/busy-hour-200.toml).
#
# Agents have skills en = 5 plus their queue's, and are registered and logged
# in with *71 by switchyard-load. Prints one table row per run, from
# switchyard-load's result.json (calls, setup time, calls up, MOS, node
# CPU/RSS) and the node's CDRs (time to agent, service level).
#
#   loadtest/busy-hour.sh
#   SIZE=200 loadtest/busy-hour.sh
#
# Env: SIZE (48 or 200), MULTIPLIERS (default "1 3 5"), SCENARIO (default
# per SIZE), OUT (default target/loadtest/busy-hour, or busy-hour-200),
# PORT (default 26360), NODE_BIN / LOAD_BIN (skip the build), KEEP=1 keeps
# the nodes' directories.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
size=${SIZE:-48}
case $size in
  48)
    scenario=${SCENARIO:-$here/scenarios/busy-hour.toml}
    out=${OUT:-$root/target/loadtest/busy-hour}
    agents_first=2001 agents_last=2048
    queues=(sales support billing)
    extra_queues=(premium) # configured, no agents, no callers
    flow_files=("$root"/config/examples/flows/*.toml)
    ivr_number_flow=main
    ;;
  200)
    scenario=${SCENARIO:-$here/scenarios/busy-hour-200.toml}
    out=${OUT:-$root/target/loadtest/busy-hour-200}
    agents_first=2001 agents_last=2200
    queues=(sales support billing premium retention)
    extra_queues=()
    flow_files=("$here/scenarios/busy-hour-200/center.toml")
    ivr_number_flow=center
    ;;
  *) echo "SIZE must be 48 or 200" >&2; exit 2 ;;
esac
port=${PORT:-26360}
multipliers=${MULTIPLIERS:-1 3 5}

if [ -z "${NODE_BIN:-}" ] || [ -z "${LOAD_BIN:-}" ]; then
  target_dir=${CARGO_TARGET_DIR:-$root/target}
  (cd "$root" && cargo build --release -p switchyard-load --bin switchyard-load -p switchyard --bin switchyard)
  NODE_BIN=${NODE_BIN:-$target_dir/release/switchyard}
  LOAD_BIN=${LOAD_BIN:-$target_dir/release/switchyard-load}
fi
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing (apt-get install sqlite3)" >&2; exit 1; }
mkdir -p "$out"
ulimit -n 65536 2>/dev/null || true

node_pid= work=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  if [ -n "$work" ] && [ -z "${KEEP:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# node_config DIR: the node's config, flows and extensions in DIR.
node_config() {
  local dir=$1 n=$((agents_last - agents_first + 1))
  mkdir -p "$dir/flows"
  for f in "${flow_files[@]}"; do
    sed -e 's/^mon-fri = "08:00-18:00"/mon-sun = "00:00-24:00"/' -e 's/^holidays = .*/holidays = []/' \
      "$f" >"$dir/flows/$(basename "$f")"
  done
  {
    cat <<TOML
[node]
data_dir = "$dir"
[sip]
listen = "127.0.0.1"
port = $port
tls_port = 0
domain = "127.0.0.1"
recv_buffer_bytes = 4194304
[auth]
algorithms = ["MD5", "SHA-256"]
trusted = ["127.0.0.1"]
[media]
bind = "127.0.0.1"
rtp_port_min = 30000
rtp_port_max = 45000
[store]
url = "sqlite://switchyard.db"
[calls]
max_duration_s = 3600
[http]
listen = "127.0.0.1"
port = $((port + 2))
[log]
level = "warn"
[ivr]
flows = "$dir/flows"
prompts = "$root/config/examples/prompts"
numbers = { "500" = "$ivr_number_flow" }
TOML
    for q in "${extra_queues[@]}"; do
      printf '\n[[acd.queues]]\nname = "%s"\n' "$q"
    done
    for q in "${queues[@]}"; do
      printf '\n[[acd.queues]]\nname = "%s"\nstrategy = "longest_idle"\nring_timeout_s = 15\nwrap_up_s = 3\nservice_level_s = 20\n' "$q"
    done
    for ext in $(seq "$agents_first" "$agents_last"); do
      local q=${queues[$(( (ext - agents_first) * ${#queues[@]} / n ))]}
      printf '\n[[acd.agents]]\nid = "%s"\nqueues = { %s = 1 }\nskills = { en = 5, %s = 3 }\n' "$ext" "$q" "$q"
    done
  } >"$dir/node.toml"
  for ext in $(seq "$agents_first" "$agents_last"); do
    "$NODE_BIN" ext add "$ext" --password "pw$ext" --config "$dir/node.toml" >/dev/null
  done
}

# scaled_scenario M FILE: the scenario with every `rate` times M and audio
# paths made absolute.
scaled_scenario() {
  local scen_dir
  scen_dir=$(cd "$(dirname "$scenario")" && pwd)
  awk -v m="$1" -v dir="$scen_dir" '
    /^rate = / { $3 = sprintf("%.4f", $3 * m) }
    /^audio = "/ { sub(/^audio = "/, "audio = \"" dir "/") }
    { print }' "$scenario" >"$2"
}

# summarise M DIR RESULT: one markdown table row; failures, media and the
# generator's own figures on stderr.
summarise() {
  python3 - "$1" "$3" "$2/switchyard.db" "${queues[@]}" <<'PY'
import json, sqlite3, sys
m, result, db, queues = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
r = json.load(open(result))
calls = r["calls"]
offered = sum(c["sent"] for c in calls)
answered = sum(c["answered"] for c in calls)
rate = sum(c["offered_rate"] for c in calls)
def weighted(key):
    n = sum(c["setup_ms"]["count"] for c in calls)
    return sum(c["setup_ms"][key] * c["setup_ms"]["count"] for c in calls) / max(n, 1)
p50 = weighted("p50")
p99 = max(c["setup_ms"]["p99"] for c in calls)
# Calls up from the first arrival on: the agents' login calls, all up at
# the start, are not calls of the busy hour.
timeline = r.get("timeline") or []
first = next((i for i, p in enumerate(timeline) if p["attempts"] > 0), len(timeline))
timeline = timeline[first:]
peak = max((p["concurrent"] for p in timeline), default=0)
busiest = sorted(timeline, key=lambda p: p["concurrent"])[-10:]
busy_cpu = sum(p["node_cpu"] or 0 for p in busiest) / max(len(busiest), 1)
busy_up = sum(p["concurrent"] for p in busiest) / max(len(busiest), 1)
marks = ", ".join("?" * len(queues))
rows = sqlite3.connect(db).execute(
    f"SELECT queue_wait_ms, agent FROM cdrs WHERE queue IN ({marks})", queues).fetchall()
queued = len(rows)
# The node's own view: each party's audio as the relay received it.
heard = sqlite3.connect(db).execute(
    "SELECT AVG(caller_loss_pct), AVG(caller_mos), MIN(caller_mos), AVG(callee_loss_pct), "
    "AVG(callee_mos), MIN(callee_mos) FROM cdrs WHERE callee_mos IS NOT NULL").fetchone()
waits = sorted(w for w, a in rows if a is not None and w is not None)
within = sum(1 for w in waits if w <= 20000)
pct = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] / 1000 if xs else float("nan")
a = r.get("agents") or {}
node = r.get("node") or {}
gen = r.get("generator") or {}
media = r["media"]
print(f"| {m}x | {rate * 3600:,.0f} | {offered} | {answered} ({100 * answered / max(offered, 1):.1f} %) "
      f"| {p50:.1f} / {p99:.1f} | {peak} | {len(waits)} of {queued} "
      f"| {pct(waits, 0.5):.1f} / {pct(waits, 0.9):.1f} "
      f"| {100 * within / max(queued, 1):.1f} % | {media['mos']['mean']:.2f} ({media['mos']['min']:.2f}) "
      f"| {node.get('cpu_mean_percent', 0):.1f} / {node.get('cpu_max_percent', 0):.0f} "
      f"| {node.get('rss_max_kb', 0) / 1024:.0f} | {a.get('logged_in', 0)}/{a.get('registered', 0)} |")
failures = {}
for c in calls:
    for cause, n in (c.get("failures") or {}).items():
        failures[cause] = failures.get(cause, 0) + n
print(f"{m}x: failed {sum(c['failed'] for c in calls)} {failures or ''}, "
      f"blocked {sum(c['blocked_by_cap'] for c in calls)}, "
      f"abandoned {sum(c['abandoned'] for c in calls)}; SIP retransmissions "
      f"{r['sip']['retransmissions']}, timeouts {r['sip']['timeouts']}; "
      f"loss {media['loss_percent']['mean']:.3f} %, jitter {media['jitter_ms']['mean']:.2f} ms, "
      f"RTP socket drops {media.get('socket_drops', 0)}, digits unsent {media.get('digits_unsent', 0)}, "
      f"send lag mean {media.get('send_lag_mean_ms', 0):.1f} ms; "
      f"generator CPU mean / max {gen.get('cpu_mean_percent', 0):.1f} / {gen.get('cpu_max_percent', 0):.0f} %; "
      f"node CPU {busy_cpu:.0f} % over the ten busiest seconds (~{busy_up:.0f} calls up); "
      "node-measured loss % / MOS mean (min), callers: {:.3f} / {:.2f} ({:.2f}), agents: {:.3f} / {:.2f} ({:.2f})"
      .format(*(x if x is not None else float("nan") for x in heard)),
      file=sys.stderr)
PY
}

header="| load | calls/h offered | calls placed | IVR answered (ASR) | setup p50 / p99 ms | peak calls up | reached an agent | wait p50 / p90 s | SL 20 s | MOS mean (min) | node CPU mean / max % | node RSS max MB | agents logged in |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
rows=()
for m in $multipliers; do
  work=$(mktemp -d)
  node_config "$work"
  scaled_scenario "$m" "$work/scenario.toml"
  "$NODE_BIN" node --config "$work/node.toml" 2>"$work/node.log" &
  node_pid=$!
  for _ in $(seq 100); do
    grep -q "SIP listening\|error" "$work/node.log" 2>/dev/null && break
    sleep 0.1
  done
  echo "== ${m}x: node $node_pid, $work" >&2
  "$LOAD_BIN" run "$work/scenario.toml" --target "127.0.0.1:$port" --node-pid "$node_pid" \
    --out "$out/${m}x" --quiet
  kill -TERM "$node_pid"
  wait "$node_pid" 2>/dev/null || true
  node_pid=
  rows+=("$(summarise "$m" "$work" "$out/${m}x/result.json")")
  echo "node log: $(grep -c . "$work/node.log" || true) lines, $(grep -ci "error" "$work/node.log" || true) errors" >&2
  cp "$work/node.log" "$out/${m}x/node.log"
  [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
  work=
done
{ echo "$header"; printf '%s\n' "${rows[@]}"; } | tee "$out/table.md"
