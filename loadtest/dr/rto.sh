#!/usr/bin/env bash
# RTO and RPO of disaster recovery, measured N times (default 5): each run is
# `cargo test --test dr` (primary, standby and phones in network namespaces
# when run as root, else on loopback addresses), which kills the primary with SIGKILL, retries a call
# through the standby every 200 ms until one is answered, prints the time from
# the kill to that answer, and checks that every committed CDR survives and the
# standby's are merged once (RPO 0, or the run fails).
#
#   loadtest/dr/rto.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
cargo build --quiet --bin switchyard --test dr 2>/dev/null || cargo build --bin switchyard --test dr
results=$(mktemp)
for i in $(seq 1 "$runs"); do
  out=$(cargo test --quiet --test dr -- --nocapture 2>&1) || {
    echo "run $i failed:"; echo "$out" | tail -40; exit 1
  }
  rto=$(echo "$out" | grep -o 'RTO: [0-9]* ms' | grep -o '[0-9]*')
  echo "run $i: RTO $rto ms"
  echo "$rto" >> "$results"
done
sort -n "$results" | awk '{ v[NR] = $1; s += $1 } END {
  printf "runs %d: RTO min %d ms, median %d ms, max %d ms, mean %.0f ms; 0 CDRs lost in every run\n",
  NR, v[1], v[int((NR + 1) / 2)], v[NR], s / NR }'
rm -f "$results"
