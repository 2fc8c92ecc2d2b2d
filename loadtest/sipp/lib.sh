# Shared by the benchmark scripts in this folder: a work directory, a node
# config, starting the node, registering a SIPp UAS as an extension, and
# reading SIPp's statistics. Source it after setting `root` and `bin`.

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

command -v sipp >/dev/null || { echo "sipp is missing: apt-get install sip-tester" >&2; exit 1; }
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)" >&2; exit 1; }

# Every relayed call holds four sockets: lift the descriptor limit (root may
# raise the hard limit too).
ulimit -Hn 262144 2>/dev/null || true
ulimit -n 262144 2>/dev/null || ulimit -n "$(ulimit -Hn)"

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# node_config PORT [EXTRA_TOML]: loopback node, MD5 first (SIPp 3.6 answers
# only MD5 and reads the first challenge), INVITEs from 127.0.0.1 trusted.
node_config() {
  cat >"$work/node.toml" <<TOML
[node]
data_dir = "$work"
[sip]
listen = "127.0.0.1"
port = $1
tls_port = 0
domain = "127.0.0.1"
recv_buffer_bytes = 4194304
[auth]
algorithms = ["MD5", "SHA-256"]
trusted = ["127.0.0.1"]
[log]
level = "warn"
${2:-}
TOML
}

# start_node [nice]: runs the node from $work/node.toml; sets node_pid.
start_node() {
  ${1:+nice -n -20} "$bin" node --config "$work/node.toml" 2>"$work/node.log" &
  node_pid=$!
  pids+=("$node_pid")
  local probe=0
  until grep -q "SIP listening\|error" "$work/node.log" 2>/dev/null || [ $probe -ge 50 ]; do
    sleep 0.1; probe=$((probe + 1))
  done
}

# callee EXT NODE_PORT UAS_PORT REG_PORT: provisions EXT, starts a SIPp UAS on
# UAS_PORT and registers it as EXT (digest auth) from REG_PORT.
callee() {
  "$bin" ext add "$1" --password "bench$1" --config "$work/node.toml" >/dev/null
  sipp -sn uas -i 127.0.0.1 -p "$3" -buff_size 4194304 -nostdin >/dev/null 2>&1 &
  pids+=("$!")
  sipp -sf "$root/tests/interop/sipp/register-digest.xml" "127.0.0.1:$2" -i 127.0.0.1 -p "$4" \
    -s "$1" -au "$1" -ap "bench$1" -key contact_port "$3" -m 1 -nostdin -timeout 10s -timeout_error \
    >/dev/null 2>&1 || { echo "registration of $1 failed" >&2; exit 1; }
}

# sipp_stat FILE COLUMN...: the last row's value of each named column.
sipp_stat() {
  python3 - "$@" <<'PY'
import sys
rows = [l.rstrip('\n').split(';') for l in open(sys.argv[1]) if l.strip()]
print(*(rows[-1][rows[0].index(c)] for c in sys.argv[2:]))
PY
}
