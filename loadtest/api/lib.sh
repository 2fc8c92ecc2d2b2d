# Shared by the CTI API benchmarks in this folder: release binaries, a demo
# node in a scratch directory, extensions for simulated agents, API tokens,
# and the node's event counter. Source it after setting `here` and `root`.
#
# Env: NODE_BIN / LOAD_BIN (skip the build), CARGO_TARGET_DIR, PORT (SIP
# port of the demo node; TLS takes PORT+1, the API PORT+2), KEEP=1 keeps the
# scratch directory.

port=${PORT:-27160}
api_port=$((port + 2))
api="127.0.0.1:$api_port"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -z "${NODE_BIN:-}" ] || [ -z "${LOAD_BIN:-}" ]; then
  target_dir=${CARGO_TARGET_DIR:-$root/target}
  case $target_dir in /*) ;; *) target_dir=$root/$target_dir ;; esac
  (cd "$root" && cargo build --release -p switchyard --bin switchyard -p switchyard-load --bin switchyard-load)
  NODE_BIN=${NODE_BIN:-$target_dir/release/switchyard}
  LOAD_BIN=${LOAD_BIN:-$target_dir/release/switchyard-load}
fi
for b in "$NODE_BIN" "$LOAD_BIN"; do
  [ -x "$b" ] || { echo "no binary at $b" >&2; exit 1; }
done

# Every WebSocket client and every HTTP connection is a descriptor on both
# sides: lift the limit as far as the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# start_demo: a fresh demo node (release) in $work/demo; sets node_pid.
start_demo() {
  "$NODE_BIN" demo --data-dir "$work/demo" --sip-port "$port" --http-port "$api_port" \
    >"$work/node.log" 2>&1 &
  node_pid=$!
  pids+=("$node_pid")
  for _ in $(seq 300); do
    grep -q "CTI API listening" "$work/node.log" 2>/dev/null && return 0
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/node.log" >&2
  echo "the demo node did not start" >&2
  exit 1
}

# add_extensions FIRST LAST: extensions FIRST..LAST with password pwEXT.
add_extensions() {
  for ext in $(seq "$1" "$2"); do
    "$NODE_BIN" ext add "$ext" --password "pw$ext" --config "$work/demo/switchyard.toml" >/dev/null
  done
}

# make_tokens USER COUNT FILE: an administrator USER (console) and COUNT API
# tokens of theirs, one a line in FILE. Tokens beyond the first are issued
# through the API, paced under its per-token limit (20/s, bursts of 40).
make_tokens() {
  local user=$1 count=$2 file=$3 first
  first=$(SWITCHYARD_PASSWORD="bench-password-$user" "$NODE_BIN" users add "$user" --role admin \
    --config "$work/demo/switchyard.toml" | sed -n 's/^API token (shown once): //p')
  [ -n "$first" ] || { echo "users add $user gave no token" >&2; exit 1; }
  echo "$first" >"$file"
  for i in $(seq 2 "$count"); do
    curl -sf -X POST -H "Authorization: Bearer $first" -H 'Content-Type: application/json' \
      -d "{\"label\": \"bench $i\"}" "http://$api/api/v1/users/$user/tokens" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' >>"$file"
    sleep 0.06
  done
  [ "$(wc -l <"$file")" -eq "$count" ] || { echo "made $(wc -l <"$file") of $count tokens" >&2; exit 1; }
}

# events_published: the node's switchyard_events_published_total, all types.
events_published() {
  curl -sf "http://$api/metrics" | awk '/^switchyard_events_published_total/ { s += $NF } END { print s + 0 }'
}

# wait_quiet [MAX_LOAD] [MAX_WAIT_S]: waits (default up to 20 minutes) for the
# 1-minute load average to fall below MAX_LOAD (default 1.0); prints it.
wait_quiet() {
  local max=${1:-1.0} wait_s=${2:-1200} waited=0 load
  while :; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if python3 -c "import sys; sys.exit(0 if $load < $max else 1)" || [ "$waited" -ge "$wait_s" ]; then
      echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
      echo "$load"
      return 0
    fi
    sleep 30
    waited=$((waited + 30))
  done
}
