#!/usr/bin/env bash
# Switchyard's RTP relay beside rtpengine, same generator, same machine, one run.
#
#   loadtest/rtp/relay-vs-rtpengine.sh
#
# Builds the `ng_relay` example and the `relay_vs_rtpengine` benchmark in release,
# installs rtpengine (Debian `rtpengine-daemon`) when it is missing and this user may,
# then steps both relays up a ladder of concurrent calls (G.711, 50 pps each way per
# call) until each loses 0.1 % or more, refines between the last clean step and the
# first lossy one, and writes a results file. Environment:
#
#   START=500 STEP=500 LIMIT=3000   coarse ladder (calls)
#   FINE=250                        refinement step after the coarse ladder (0: none)
#   SECS=20 WARMUP=4                seconds per step, of which warm-up
#   ROUNDS=1                        times the relays alternate at each coarse step; the
#                                   ratio is then between medians (3 steadies it)
#   TARGETS=switchyard,rtpengine    which relays
#   THREADS=1                       ng_relay runtime: 1 = current-thread, N = N workers
#   RTPENGINE_ARGS=                 extra rtpengine arguments (e.g. --num-threads=1)
#   INSTALL=yes                     apt-get install rtpengine-daemon if missing
#   NICE=-10                        niceness for the benchmark, both relays and this
#                                   session's autogroup when running as root (the same
#                                   for both relays); empty: leave priorities alone
#   RESULTS_DIR=target/rtp-results  where the results file goes
#   CARGO_TARGET_DIR=target         cargo's target directory
set -euo pipefail

cd "$(dirname "$0")/../.."
START=${START:-500}
STEP=${STEP:-500}
LIMIT=${LIMIT:-3000}
FINE=${FINE:-250}
SECS=${SECS:-20}
WARMUP=${WARMUP:-4}
ROUNDS=${ROUNDS:-1}
TARGETS=${TARGETS:-switchyard,rtpengine}
THREADS=${THREADS:-1}
RTPENGINE_ARGS=${RTPENGINE_ARGS:-}
INSTALL=${INSTALL:-yes}
NICE=${NICE--10}
RESULTS_DIR=${RESULTS_DIR:-target/rtp-results}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

say() { printf '%s\n' "$*" >&2; }

# Four sockets per relayed call in the relay; the generator needs a few dozen.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ]; then ulimit -n "$hard"; else ulimit -n 1048576; fi
need=$((LIMIT * 4 + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
    say "warning: open-file limit $(ulimit -n) < $need needed for $LIMIT calls; steps above $(( ($(ulimit -n) - 256) / 4 )) calls will fail"
fi

install_rtpengine() {
    if command -v rtpengine >/dev/null 2>&1; then return 0; fi
    if [ "$INSTALL" != yes ]; then
        say "rtpengine is missing: install the Debian package rtpengine-daemon (INSTALL=no given)"
        return 1
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            say "rtpengine is missing and this user cannot install it: run as root" \
                "'apt-get install -y rtpengine-daemon' (needs root or password-less sudo)"
            return 1
        fi
    fi
    say "installing rtpengine-daemon ..."
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y rtpengine-daemon >&2; then
        "${sudo[@]}" apt-get update >&2 &&
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y rtpengine-daemon >&2 ||
            { say "apt-get could not install rtpengine-daemon (no Debian repository reachable?)"; return 1; }
    fi
    command -v rtpengine >/dev/null 2>&1
}

if [[ ,$TARGETS, == *,rtpengine,* ]] && ! install_rtpengine; then
    say "running Switchyard's relay alone"
    TARGETS=switchyard
fi

# The relays' ng ports must be free (a packaged rtpengine service may hold 2223).
for port in 2223 2224; do
    if ss -Hluan "sport = :$port" 2>/dev/null | grep -q .; then
        say "UDP port $port is in use (a running rtpengine service?): stop it first"
        exit 1
    fi
done

say "building (release) ..."
cargo build --release -p switchyard-media --example ng_relay >&2
cargo bench -p switchyard-media --bench relay_vs_rtpengine --no-run >&2

# Other work on the machine must not starve the generator's pacing: as root, raise the
# priority of this session's scheduling group (autogroup: nice alone does not reach
# across sessions) and of the benchmark, whose children (both relays) inherit it.
prio=()
if [ -n "$NICE" ] && [ "$(id -u)" -eq 0 ]; then
    prio=(nice -n "$NICE")
    if [ -w /proc/self/autogroup ]; then
        old_group_nice=$(sed 's/.*nice //' /proc/self/autogroup)
        echo "$NICE" >/proc/self/autogroup
        trap 'echo "$old_group_nice" >/proc/self/autogroup' EXIT
    fi
fi

# Runs one ladder for the given targets; the benchmark's output goes to stdout.
bench() {
    local targets=$1 calls=$2 rounds=${3:-1}
    RTP_BENCH_TARGETS=$targets RTP_BENCH_CALLS=$calls RTP_BENCH_SECONDS=$SECS \
        RTP_BENCH_ROUNDS=$rounds \
        RTP_BENCH_WARMUP=$WARMUP RTP_BENCH_SWITCHYARD_THREADS=$THREADS \
        RTP_BENCH_RTPENGINE_ARGS=$RTPENGINE_ARGS \
        "${prio[@]}" cargo bench -q -p switchyard-media --bench relay_vs_rtpengine
}

mkdir -p "$RESULTS_DIR"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
out="$RESULTS_DIR/relay-vs-rtpengine-$(date +%Y%m%d-%H%M%S).txt"
log="${out%.txt}.log"
ladder=$(seq -s, "$START" "$STEP" "$LIMIT")
say "coarse ladder $ladder for $TARGETS ($SECS s a step) ..."
bench "$TARGETS" "$ladder" "$ROUNDS" | tee "$log" >&2 || say "the benchmark failed: see $log"

# Most calls with < 0.1 % loss, and the first count that lost more, per target.
best() {
    { grep "^RESULT target=$1 " "$log" || true; } | { grep ' pass=yes ' || true; } |
        sed 's/.* calls=\([0-9]*\) .*/\1/' | sort -n | tail -1
}
first_fail() {
    local t=$1 c
    for c in $({ grep "^RESULT target=$t " "$log" || true; } | sed 's/.* calls=\([0-9]*\) .*/\1/' | sort -nu); do
        grep "^RESULT target=$t calls=$c " "$log" | grep -q ' pass=yes ' || { echo "$c"; return; }
    done
}

if [ "$FINE" -gt 0 ]; then
    for t in ${TARGETS//,/ }; do
        ok=$(best "$t"); bad=$(first_fail "$t")
        if [ -n "$bad" ] && [ $(( ${ok:-0} + FINE )) -lt "$bad" ]; then
            fine=$(seq -s, $(( ${ok:-0} + FINE )) "$FINE" $(( bad - 1 )))
            say "refining $t: $fine ..."
            bench "$t" "$fine" | tee -a "$log" >&2 || say "refining $t failed: see $log"
        fi
    done
fi

{
    echo "# RTP relay beside rtpengine — $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), load average at start: $load_before"
    echo "rtpengine: $(rtpengine --version 2>&1 | head -1 || echo 'not installed')"
    echo "command: START=$START STEP=$STEP LIMIT=$LIMIT FINE=$FINE SECS=$SECS WARMUP=$WARMUP ROUNDS=$ROUNDS TARGETS=$TARGETS THREADS=$THREADS RTPENGINE_ARGS='$RTPENGINE_ARGS' NICE=$NICE $0"
    echo
    grep '^RESULT' "$log" || true
    echo
    for t in ${TARGETS//,/ }; do
        b=$(best "$t"); f=$(first_fail "$t")
        echo "most concurrent calls passing (< 0.1 % loss, >= 95 % relayed in real time): $t ${b:-none} (first failing step: ${f:-none within the ladder})"
    done
    echo
    grep -E '^(\||RATIO)' "$log" || true
} >"$out"
cat "$out"
say "results: $out (full output: $log)"
