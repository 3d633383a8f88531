#!/usr/bin/env bash
# Soak test (issue #5): 10 minutes of mixed load at 128 kept-alive connections against a fresh
# `forkrun serve` with devnet chains 1 and 8453 and a warm pool on each: creates, gets, lists,
# long-polls, cancels, and simulations in `fork` and `pool` mode (tools/soak.py says exactly
# what). Passes with zero 5xx answers, zero failed connections, RSS flat after warm-up (within
# 10%), every live run drained, no anvil beyond the pools' and devnets' after the load, a clean
# SIGTERM exit within 10 s and no anvil left behind. Prints the figures; exits 1 when one fails.
#
# Usage: tools/soak.sh [--minutes N] [--connections N] [--pool-size N] [--fork-concurrency N]
#                      [--retain-runs N] [--forkrun BINARY] [--keep] [--mix KIND=WEIGHT,...]
#   --retain-runs N   the server keeps N runs (default 5000; it drops the oldest finished ones
#                     past that), so memory can level off while runs are created without end
#   --forkrun BINARY  serve this binary instead of building build/forkrun
#   --keep            keep the work directory (logs, RSS samples) even when the soak passes
#   --mix SPEC        other weights for the mix (diagnosis only; see tools/soak.py)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

minutes=10
connections=128
pool_size=3
fork_concurrency=3
retain_runs=5000
binary=""
keep=0
mix=()
while [ $# -gt 0 ]; do
    case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --pool-size) pool_size="$2"; shift 2 ;;
    --fork-concurrency) fork_concurrency="$2"; shift 2 ;;
    --retain-runs) retain_runs="$2"; shift 2 ;;
    --forkrun) binary="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --mix) mix=(--mix "$2"); shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [ -z "$binary" ]; then
    build_forkrun "$FORKRUN_ROOT/build" >&2
    binary="$FORKRUN_ROOT/build/forkrun"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/forkrun-soak.XXXXXX")"
# The soak serves a copy: build/ may be rebuilt while it runs.
cp "$binary" "$work/forkrun"
token="tok_soak_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$work/tokens.json" <<EOF
[{"token": "$token", "organizationId": "org_soak", "subject": "soak",
  "scopes": ["runs:read", "runs:write"]}]
EOF
cat >"$work/config.json" <<EOF
{"chains": {"1": {"poolSize": $pool_size}, "8453": {"poolSize": $pool_size}},
 "retainRuns": $retain_runs}
EOF

status=0
python3 -u "$FORKRUN_ROOT/tools/soak.py" --forkrun "$work/forkrun" --anvil "$FORKRUN_ANVIL" \
    --work "$work" --token "$token" --tag "$(basename "$work")" --minutes "$minutes" \
    --connections "$connections" --devnet 1,8453 --pool-total $((2 * pool_size)) \
    --fork-concurrency "$fork_concurrency" --pool-concurrency "$pool_size" \
    --retain-runs "$retain_runs" --rss-csv "$work/rss.csv" "${mix[@]}" || status=$?

if [ "$status" -ne 0 ] || [ "$keep" -eq 1 ]; then
    echo "[soak] kept $work (server.out, server.err, rss.csv)"
else
    rm -rf "$work"
fi
exit "$status"
