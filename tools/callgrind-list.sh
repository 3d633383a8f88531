#!/usr/bin/env bash
# User-space instructions per GET /v1/runs?limit=50 of a forkrun binary, counted by callgrind:
# steady on a loaded machine, where req/s and CPU per request are not (decision 77).
#
# Starts BINARY under valgrind --tool=callgrind with instrumentation off (a tokens file, free
# port), creates 60 runs of `root` only and waits for the last to end, warms up for 2 s with
# wrk, then counts only the requests of a second wrk run (-t1 -c2, DURATION seconds, default 8)
# and prints instructions (Ir) per request. The profile stays in OUTDIR for callgrind_annotate.
#
# Usage: tools/callgrind-list.sh BINARY [OUTDIR] [DURATION]
set -euo pipefail
BIN="${1:?usage: tools/callgrind-list.sh BINARY [OUTDIR] [DURATION]}"
OUT="${2:-$(mktemp -d /tmp/forkrun-callgrind.XXXXXX)}"
DUR="${3:-8}"
mkdir -p "$OUT"
W=$(mktemp -d /tmp/forkrun-callgrind-run.XXXXXX)
TOKEN="bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '[{"token": "%s", "organizationId": "org_bench", "subject": "bench", "scopes": ["runs:read", "runs:write"]}]\n' \
    "$TOKEN" >"$W/tokens.json"
printf '%s' '{"workflowId": "wf_bench", "workflowVersion": 1, "isSimulation": false,
 "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}}' >"$W/body.json"
cp "$BIN" "$W/forkrun"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out.%p" \
    "$W/forkrun" serve --listen 127.0.0.1:0 --tokens "$W/tokens.json" --no-access-log \
    >"$W/out" 2>"$W/log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$W"' EXIT
API=""
for _ in $(seq 300); do
    API=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$W/out")
    [ -n "$API" ] && break
    sleep 0.1
done
[ -n "$API" ] || { cat "$W/log" >&2; echo "callgrind-list: forkrun did not start" >&2; exit 2; }
AUTH="Authorization: Bearer $TOKEN"
for _ in $(seq 60); do
    curl -sS -o "$W/last.json" -H "$AUTH" -H 'Content-Type: application/json' \
        --data-binary @"$W/body.json" "$API/v1/runs"
done
id=$(sed -n 's/^{"code":20[01],"data":{"id":"\([^"]*\)".*/\1/p' "$W/last.json")
curl -sS -o /dev/null -H "$AUTH" "$API/v1/runs/$id?waitUntil=terminal&timeoutMs=30000"
wrk -t1 -c2 -d2s -H "$AUTH" "$API/v1/runs?limit=50" >/dev/null
callgrind_control -i on "$PID" >/dev/null
wrk -t1 -c2 -d"${DUR}s" -H "$AUTH" "$API/v1/runs?limit=50" >"$OUT/wrk.txt"
callgrind_control -i off "$PID" >/dev/null
callgrind_control -d "$PID" >/dev/null
reqs=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
profile=$(ls -t "$OUT"/callgrind.out."$PID".* | head -1)
ir=$(callgrind_annotate "$profile" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
awk -v ir="$ir" -v n="$reqs" -v p="$profile" \
    'BEGIN {printf "%d requests, %.0f instructions per request (user space); profile %s\n", n, ir / n, p}'
