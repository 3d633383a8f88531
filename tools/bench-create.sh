#!/usr/bin/env bash
# tools/bench-create.sh [--pairs N] [--duration S] BINARY_A BINARY_B
# A quick A/B of the create path: for each pair, a fresh `forkrun serve` of A then of B (memory
# store), `wrk -t2 -c64` of POST /v1/runs (a one-node run) for S seconds, and the server's CPU
# (user + system, every thread) per create. Prints one line per server: label, idle RSS right
# after start, requests/s, CPU us per create. Needs wrk (tools/bench-http.sh installs it).
set -euo pipefail
PAIRS=3
DURATION=6
while [ $# -gt 2 ]; do
    case "$1" in
    --pairs) PAIRS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    *) echo "usage: $0 [--pairs N] [--duration S] BINARY_A BINARY_B" >&2; exit 2 ;;
    esac
done
[ $# -eq 2 ] || { echo "usage: $0 [--pairs N] [--duration S] BINARY_A BINARY_B" >&2; exit 2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK=$(mktemp -d /tmp/forkrun-bench-create.XXXXXX)
PID=""
cleanup() {
    [ -z "$PID" ] || kill "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
TOKEN="bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '[{"token": "%s", "organizationId": "org_bench", "subject": "bench", "scopes": ["runs:read", "runs:write"]}]\n' \
    "$TOKEN" >"$WORK/tokens.json"
printf '%s' '{"workflowId": "wf_bench", "workflowVersion": 1, "isSimulation": false,
 "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}}' >"$WORK/body.json"
export BENCH_BODY_FILE="$WORK/body.json" BENCH_TOKEN="$TOKEN"
HZ=$(getconf CLK_TCK)

one() {
    local bin="$1" api="" t0 t1 out n rps rss
    "$bin" serve --listen 127.0.0.1:0 --tokens "$WORK/tokens.json" --no-access-log \
        >"$WORK/out" 2>"$WORK/log" &
    PID=$!
    for _ in $(seq 100); do
        api=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/out")
        [ -n "$api" ] && break
        sleep 0.1
    done
    [ -n "$api" ] || { cat "$WORK/log" >&2; exit 1; }
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
    t0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    out=$(wrk -t2 -c64 -d"${DURATION}s" -s "$ROOT/tools/bench/post.lua" "$api/v1/runs")
    t1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
    printf '%s idle_rss=%skB rps=%s cpu_us_per_create=%s\n' "$bin" "$rss" "$rps" \
        "$(awk -v t=$((t1 - t0)) -v n="$n" -v hz="$HZ" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
}

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$PAIRS"); do
    one "$1"
    one "$2"
done
