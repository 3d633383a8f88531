#!/usr/bin/env bash
# `forkrun runs create examples/dust.json --mode pool --dust --wait --json` against the same
# three requests made with curl (POST /v1/runs, GET /v1/runs/{id}/events until `end`, GET
# /v1/runs/{id}), the same run on the same server, interleaved round by round (issue #13 item 4;
# goal: the client costs at most 5 ms more than curl, median against median).
#
# Serves a private copy of build/forkrun (or --forkrun BINARY) with --devnet 1 (a pool of two
# warm forks of a local chain 1) and a tokens file, and prints per side the median, p90 and min
# wall ms and the difference of the medians. Exits 1 when the goal is missed, 2 on a setup error.
#
# Usage: tools/bench-cli.sh [--rounds N] [--warmup N] [--forkrun BINARY]
# Run it under `nice -n 5` on a shared machine.
set -euo pipefail

rounds=30
warmup=3
binary=""
command="$0 $*"
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --forkrun) binary="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-cli.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive integer" >&2; exit 2; }
[[ "$warmup" =~ ^[0-9]+$ ]] || { echo "--warmup must be a non-negative integer" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
if [ -z "$binary" ]; then
    build_forkrun "$FORKRUN_ROOT/build" >&2
    binary="$FORKRUN_ROOT/build/forkrun"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/forkrun-bench-cli.XXXXXX")"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$binary" "$work/forkrun"  # others may rebuild build/ while this measures
token="tok_cli_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '[{"token": "%s", "organizationId": "org_bench", "subject": "bench-cli", "scopes": ["runs:read", "runs:write"]}]\n' \
    "$token" >"$work/tokens.json"
"$work/forkrun" serve --listen 127.0.0.1:0 --tokens "$work/tokens.json" --anvil "$FORKRUN_ANVIL" \
    --devnet 1 --no-access-log >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 300); do
    api=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/server.out" | head -1 || true)
    [ -n "$api" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 2; }
    sleep 0.1  # waiting for the server's first line, against a deadline
done
[ -n "$api" ] || { echo "bench-cli.sh: the server printed no URL" >&2; exit 2; }

dust="$FORKRUN_ROOT/examples/dust.json"
# The body the client sends for these flags, for curl (made once, outside the timing).
python3 - "$dust" >"$work/body.json" <<'PY'
import json, sys
body = {"workflowId": "dust", "workflowVersion": 1, "workflowDefinition": json.load(open(sys.argv[1])),
        "triggerSource": "cli", "isSimulation": True, "simulationMode": "pool", "isDustTest": True}
print(json.dumps(body))
PY

now_ns() { date +%s%N; }
cli_round() {
    "$work/forkrun" runs create "$dust" --mode pool --dust --wait --json --server "$api" \
        --token "$token" >"$work/cli.out" || { cat "$work/cli.out" >&2; return 1; }
    grep -q '"status":"success"' "$work/cli.out"
}
curl_round() {
    local id
    id=$(curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        --data-binary @"$work/body.json" "$api/v1/runs" | grep -o '"id":"run_[A-Za-z0-9_-]*"' |
        head -1 | cut -d'"' -f4)
    curl -sS -N -H "Authorization: Bearer $token" "$api/v1/runs/$id/events" >/dev/null
    curl -sS -H "Authorization: Bearer $token" "$api/v1/runs/$id" >"$work/curl.out"
    grep -q '"status":"success"' "$work/curl.out"
}

for _ in $(seq "$warmup"); do cli_round; curl_round; done
: >"$work/times"
for i in $(seq "$rounds"); do
    # Alternate which side goes first, so neither always follows the other's fork release.
    for side in $([ $((i % 2)) -eq 0 ] && echo "cli curl" || echo "curl cli"); do
        t0=$(now_ns)
        "${side}_round"
        t1=$(now_ns)
        echo "$side $(((t1 - t0) / 1000))" >>"$work/times"
    done
done

python3 - "$work/times" "$command" "$rounds" <<'PY'
import statistics, sys, datetime
times = {"cli": [], "curl": []}
for line in open(sys.argv[1]):
    side, us = line.split()
    times[side].append(int(us) / 1000)
def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]
print(f"bench-cli: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {sys.argv[3]} rounds per side, "
      f"command: {sys.argv[2]}")
for side in ("cli", "curl"):
    xs = times[side]
    print(f"  {side:5} median {statistics.median(xs):7.2f} ms  p90 {q(xs, 0.9):7.2f} ms  "
          f"min {min(xs):7.2f} ms")
diff = statistics.median(times["cli"]) - statistics.median(times["curl"])
print(f"  forkrun runs create --wait - curl: {diff:+.2f} ms (goal <= +5 ms): "
      f"{'met' if diff <= 5 else 'NOT met'}")
sys.exit(0 if diff <= 5 else 1)
PY
