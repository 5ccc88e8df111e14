#!/bin/sh
# CPU per poll at the 200/s cap, old limiter (spin) against one queue with one
# timer (queue), A B A B, each under /usr/bin/time -v. The script is bundled
# with esbuild first so that tsx's loader thread is not in the figures.
#   scripts/bench/limiter-cpu.sh [seconds=20]
cd "$(dirname "$0")/../.." || exit 2
S=${1:-20}
OUT=$(mktemp -d)
npx esbuild scripts/bench/limiter-cpu.ts --bundle --platform=node --format=esm --target=node20 --outfile="$OUT/limiter-cpu.mjs" --log-level=warning || exit 1
for mode in spin queue spin queue; do
  /usr/bin/time -v node "$OUT/limiter-cpu.mjs" "$mode" "$S" 200 64 50 3000 2>"$OUT/time"
  grep -E "User time|System time|Voluntary context" "$OUT/time" | sed 's/^\s*/    /'
done
rm -rf "$OUT"
