#!/bin/sh
# CPU per poll of the deployed poller at the 200/s cap (poller-cpu.ts): the
# code at BEFORE (default: where this branch left main) against the working
# tree, A B A B, each poller process alone under /usr/bin/time -v. dynalite
# and the APIG simulator run in a process of their own (poller-cpu-stack.ts),
# started afresh and seeded for every run, and are not counted. The poller is
# bundled as serverless.yml bundles it (esbuild, minified, ESM). Last, the
# floor: the bare signed APIG query at 200/s (poller-cpu-floor.ts), 30 s.
# Each side runs against a stack built from its own tree (poller-cpu-stack.ts
# with that revision's table, item codec and simulator), so each reads the
# items its code defines. A revision without lib/platform/poller-handler.ts
# (ec96256, the code when issue 18 was filed) runs through
# poller-cpu-legacy.ts: the same settings put in process.env, then
# functions/poller imported and its handler called.
#   scripts/bench/poller-cpu.sh [seconds=58] [pairs=2]   # 58: the deployed loop (60 s schedule)
#   BEFORE=<git ref> scripts/bench/poller-cpu.sh ...
#   INVOCATIONS=2 scripts/bench/poller-cpu.sh ...   # two invocations one after the other per process: the second finds a warm container
cd "$(dirname "$0")/../.." || exit 2
S=${1:-58}
PAIRS=${2:-2}
INV=${INVOCATIONS:-1}
BEFORE=${BEFORE:-$(git merge-base HEAD main)}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
bundle() {
  npx esbuild "$1/scripts/bench/${3:-poller-cpu}.ts" --bundle --minify --platform=node --format=esm --target=node22 \
    --main-fields=module,main --outfile="$2" --log-level=warning \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" || exit 1
}
# The code before, with today's harness.
mkdir -p "$OUT/before/scripts/bench"
git archive "$BEFORE" lib functions infra scripts/bench/stack.ts package.json tsconfig.json | tar -x -C "$OUT/before" || exit 1
cp scripts/bench/poller-cpu.ts scripts/bench/poller-cpu-legacy.ts scripts/bench/poller-cpu-env.ts scripts/bench/poller-cpu-stack.ts "$OUT/before/scripts/bench/"
ln -s "$PWD/node_modules" "$OUT/before/node_modules"
ENTRY=poller-cpu
[ -f "$OUT/before/lib/platform/poller-handler.ts" ] || ENTRY=poller-cpu-legacy
bundle "$OUT/before" "$OUT/before.mjs" "$ENTRY"
bundle "$PWD" "$OUT/after.mjs"
bundle "$PWD" "$OUT/floor.mjs" poller-cpu-floor
echo "before = $(git rev-parse --short "$BEFORE") (via $ENTRY.ts), after = working tree of $(git rev-parse --short HEAD); ${INV} invocation(s) of ${S} s a process at APIG_MAX_RPS 200, 64 in flight, APIG 50 ms, 3,000 young watches (15-45 s old), AK/SK signing, LOG_LEVEL INFO, metrics on"
# start_stack <tree>: the stack of that tree's revision, seeded afresh.
start_stack() {
  rm -f "$OUT/ctl" "$OUT/stack.json"
  mkfifo "$OUT/ctl"
  (cd "$1" && exec node --import tsx scripts/bench/poller-cpu-stack.ts 50 3000) <"$OUT/ctl" >"$OUT/stack.json" 2>"$OUT/stack.err" &
  exec 3>"$OUT/ctl"
  n=0
  until [ -s "$OUT/stack.json" ] || [ "$n" -ge 120 ]; do sleep 1; n=$((n + 1)); done
  [ -s "$OUT/stack.json" ] || { echo "stack of $1 did not start:" >&2; cat "$OUT/stack.err" >&2; exit 1; }
}
stop_stack() {
  exec 3>&-
  wait
}
i=0
while [ "$i" -lt "$PAIRS" ]; do
  for side in before after; do
    if [ "$side" = before ]; then start_stack "$OUT/before"; else start_stack "$PWD"; fi
    /usr/bin/time -v -o "$OUT/time" node "$OUT/$side.mjs" "$OUT/stack.json" "$S" 200 64 "$INV" >"$OUT/stdout" 2>"$OUT/res"
    stop_stack
    user=$(sed -n 's/^\s*User time (seconds): //p' "$OUT/time")
    sys=$(sed -n 's/^\s*System time (seconds): //p' "$OUT/time")
    wall=$(sed -n 's/^\s*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$OUT/time")
    res=$(grep '^{' "$OUT/res" | tr '\n' ' ')
    conns=$(grep -o '"apigConnections":[0-9]*' "$OUT/stack.err" | cut -d: -f2)
    polls=$(echo "$res" | grep -o '"polls":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s }')
    echo "$side user ${user} s sys ${sys} s wall ${wall} polls ${polls} -> $(echo "$user $sys $polls" | awk '{ printf "%d us", ($1 + $2) / $3 * 1e6 }') per poll (time -v); each invocation alone: $res; log lines $(wc -l <"$OUT/stdout"); APIG connections ${conns}"
  done
  i=$((i + 1))
done
start_stack "$PWD"
node "$OUT/floor.mjs" "$OUT/stack.json" 30 2>&1 >/dev/null | grep '^{' | sed 's/^/floor (signed GET alone, 200\/s): /'
stop_stack
