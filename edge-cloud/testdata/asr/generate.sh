#!/bin/sh
# Regenerates the speech test set from manifest.tsv: espeak-ng (US English,
# 150 words per minute) to a WAV, then sox to telephone format: the
# 300-3400 Hz voice band, 8 kHz, 16-bit, mono, with 0.3 s of silence before
# and 0.6 s after. Needs: apt-get install espeak-ng sox
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' manifest.tsv | while IFS="$(printf '\t')" read -r file text; do
    espeak-ng -v en-us -s 150 -w "$tmp/raw.wav" "$text"
    sox "$tmp/raw.wav" -r 8000 -b 16 -c 1 "$file" sinc 300-3400 pad 0.3 0.6
done
