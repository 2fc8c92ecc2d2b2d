#!/usr/bin/env bash
# RTO and RPO of disaster recovery, measured N times (default 5): each run is
# `cargo test --test dr`, which kills the primary with SIGKILL, retries a call
# through the standby every 200 ms until one is answered, prints the time from
# the kill to that answer, and checks that every committed CDR survives and the
# standby's are merged once (RPO 0, or the run fails).
#
#   loadtest/dr/rto.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
cargo build --quiet --bin switchyard --test dr 2>/dev/null || cargo build --bin switchyard --test dr
for i in $(seq 1 "$runs"); do
  out=$(cargo test --quiet --test dr -- --nocapture 2>&1) || {
    echo "run $i failed:"; echo "$out" | tail -40; exit 1
  }
  echo "$out" | grep -o 'RTO: [0-9]* ms' | sed "s/^/run $i: /"
done | tee /dev/stderr | awk '{ v[NR] = $4; s += $4 } END {
  n = asort(v); printf "runs %d, RTO min %d ms, median %d ms, max %d ms, mean %.0f ms; RPO 0 CDRs lost in every run\n",
  n, v[1], v[int((n + 1) / 2)], v[n], s / n }'
