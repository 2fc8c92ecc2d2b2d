#!/usr/bin/env bash
# CTI API latency under load: wrk against GET /api/v1/calls, /api/v1/queues
# and /api/v1/cdrs?limit=50 of a release demo node, at CONNS connection
# counts, first with no call on the node, then with about CALLS_UP calls in
# progress (RTP both ways through the node's relay, driven by
# switchyard-load in the background).
#
# The API limits each token to 20 requests/s (bursts of 40, then 429), and
# the node's configuration has no key to change that. Each load is therefore
# measured two ways:
#
#   limited  one token for all connections, no pacing: what the limiter
#            lets through and how many answers are 429;
#   paced    2 x C tokens taken in turn, each connection waiting PACE_MS
#            after every answer: at most C * 1000 / PACE_MS requests/s
#            offered, every token under its limit, so the latency is that
#            of real answers.
#
# CDRs are seeded first (SEED_CALLS short calls) so that /cdrs returns full
# pages. Prints one markdown table.
#
#   loadtest/api/api-latency.sh
#
# Env: CONNS (default "10 50 200"), SECS per wrk run (default 10), PACE_MS
# (default 60), CALLS_UP (default 60), AGENTS (default 100), SEED_CALLS
# (default 300), OUT (default target/loadtest/api-latency), QUIET_LOAD
# (wait for a load average below it, default 1.0; 0 skips the wait), and
# lib.sh's NODE_BIN, LOAD_BIN, PORT, KEEP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
source "$here/lib.sh"
conns=${CONNS:-10 50 200}
secs=${SECS:-10}
pace=${PACE_MS:-60}
calls_up=${CALLS_UP:-60}
agents=${AGENTS:-100}
seed_calls=${SEED_CALLS:-300}
out=${OUT:-$root/target/loadtest/api-latency}
mkdir -p "$out"
max_conns=$(printf '%s\n' $conns | sort -n | tail -1)
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_demo
add_extensions 2001 $((2000 + agents))
make_tokens latency $((2 * max_conns + 1)) "$work/tokens.txt"
# The last token serves the limited runs alone; the others the paced ones.
tail -n 1 "$work/tokens.txt" >"$work/one-token.txt"

# calls_scenario NAME RATE DURATION HOLD MEDIA FILE
calls_scenario() {
  cat >"$6" <<TOML
name = "$1"
target = "127.0.0.1:$port"

[generator]
seed = 3
drain = "60s"

[agents]
extensions = "2001-$((2000 + agents))"
password = "pw{user}"
algorithm = "MD5"
answer_delay = "200ms"
handle_time = "10m"
hangup = "caller"
media = $5

[[calls]]
name = "$1"
from = "1006-1010"
algorithm = "MD5"
to = "2001-$((2000 + agents))"
rate = $2
arrival = "constant"
duration = "$3"
max_concurrent = $agents
hold = "$4"
hangup = "caller"
media = $5
TOML
}

calls_scenario seed 30 "$((seed_calls / 30))s" 200ms false "$work/seed.toml"
"$LOAD_BIN" run "$work/seed.toml" --credentials "$work/demo/demo-credentials.txt" \
  --out "$out/seed" --quiet >/dev/null
cdrs=$(curl -sf -H "Authorization: Bearer $(head -n 1 "$work/tokens.txt")" "http://$api/api/v1/cdrs?limit=1000" |
  python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]))')
echo "CDRs in the store: $cdrs" >&2

# measure PHASE ENDPOINT CONNS MODE: one wrk run, one table row.
measure() {
  local phase=$1 path=$2 c=$3 mode=$4 tokens pace_ms=0 t0 t1 json
  if [ "$mode" = limited ]; then
    tokens=$work/one-token.txt
  else
    tokens=$work/paced-$c.txt
    head -n $((2 * c)) "$work/tokens.txt" >"$tokens"
    pace_ms=$pace
  fi
  # Let the buckets refill between runs.
  sleep 3
  t0=$(cpu_ticks "$node_pid")
  json=$(TOKENS_FILE=$tokens PACE_MS=$pace_ms wrk -t2 -c"$c" -d"${secs}s" --timeout 10s \
    -s "$here/bearer.lua" "http://$api$path" | grep '^{"requests"')
  t1=$(cpu_ticks "$node_pid")
  echo "$json" >>"$out/runs.jsonl"
  python3 - "$phase" "$path" "$c" "$mode" "$json" "$(( (t1 - t0) * 100 / hz ))" "$secs" <<'PY'
import json, sys
phase, path, c, mode, raw, cpu_s100, secs = sys.argv[1:]
r = json.loads(raw)
n = r["requests"]
st = {int(k): v for k, v in r["statuses"].items()}
ok = sum(v for k, v in st.items() if 200 <= k < 300)
limited = st.get(429, 0)
other = n - ok - limited
dur = r["duration_us"] / 1e6
ms = lambda us: us / 1000
print(f"| {phase} | `{path}` | {c} | {mode} | {n / dur:.0f} | {ok / dur:.0f} | {100 * limited / max(n, 1):.1f} % "
      f"| {ms(r['p50_us']):.2f} | {ms(r['p99_us']):.2f} | {ms(r['max_us']):.1f} "
      f"| {other + r['socket_errors']} | {int(cpu_s100) / float(secs):.0f} |")
PY
}

header="| calls up | endpoint | connections | mode | answers/s | 2xx/s | 429 share | p50 ms | p99 ms | max ms | other errors | node CPU % |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
rows=()
run_matrix() {
  for path in /api/v1/calls /api/v1/queues "/api/v1/cdrs?limit=50"; do
    for c in $conns; do
      for mode in limited paced; do
        rows+=("$(measure "$1" "$path" "$c" "$mode")")
        echo "${rows[-1]}" >&2
      done
    done
  done
}

load=$( [ "${QUIET_LOAD:-1.0}" = 0 ] && cut -d' ' -f1 /proc/loadavg || wait_quiet "${QUIET_LOAD:-1.0}")
echo "idle phase, load average $load" >&2
run_matrix 0

# About CALLS_UP calls held 25 s, with RTP both ways.
calls_scenario background "$(python3 -c "print($calls_up / 25)")" 3600s 25s true "$work/background.toml"
"$LOAD_BIN" run "$work/background.toml" --credentials "$work/demo/demo-credentials.txt" \
  --node-pid "$node_pid" --out "$out/background" --quiet >"$work/background.log" 2>&1 &
load_pid=$!
pids+=("$load_pid")
sleep 30
up=$(curl -sf -H "Authorization: Bearer $(head -n 1 "$work/tokens.txt")" "http://$api/api/v1/calls" |
  python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
echo "calls phase: $up calls up, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
run_matrix "$up"
kill -INT "$load_pid" 2>/dev/null || true
wait "$load_pid" 2>/dev/null || true

{ echo "$header"; printf '%s\n' "${rows[@]}"; } | tee "$out/table.md"
