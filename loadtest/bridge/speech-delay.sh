#!/usr/bin/env bash
# End-to-end delay from speech to transcript on the node, N times (default 5):
# each run is `cargo test --test bridge an_angry`, where a SIPp call's caller
# says "I want a refund for my order, this is terrible" (espeak-ng, 8 kHz PCMU),
# the node streams it over the bridge, the cloud transcribes it, and the test
# prints the time from the end of the words (last voiced 20 ms) to the node
# publishing the utterance's last transcript (`call.analysis`).
#
#   loadtest/bridge/speech-delay.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
results=$(mktemp)
for i in $(seq 1 "$runs"); do
  out=$(cargo test --quiet --test bridge an_angry -- --nocapture 2>&1) || {
    echo "run $i failed:"; echo "$out" | tail -40; exit 1
  }
  ms=$(echo "$out" | grep -o 'speech to transcript: [0-9]* ms' | grep -o '[0-9]*')
  echo "run $i: $ms ms"
  echo "$ms" >> "$results"
done
sort -n "$results" | awk '{ v[NR] = $1; s += $1 } END {
  printf "runs %d: speech to transcript min %d ms, median %d ms, max %d ms, mean %.0f ms\n",
  NR, v[1], v[int((NR + 1) / 2)], v[NR], s / NR }'
rm -f "$results"
