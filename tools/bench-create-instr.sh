#!/usr/bin/env bash
# User-space instructions per create, counted by valgrind's callgrind: a figure that does not move
# with the machine's load, for comparing two builds of the create path (issue #16) where
# tools/bench-http.sh's requests/s and CPU times are too noisy to show a few percent.
#
# For each BINARY: starts `BINARY serve` (memory store, a tokens file, free port) under callgrind,
# makes 300 creates to warm it up, zeroes the counters, makes --creates more on one kept-alive
# connection (the body of tools/bench-http.sh's POST row: a run of `root` only), dumps the
# counters and prints the instructions per create. Kernel time (sockets, wake-ups) is not
# counted, and a `rep movs` counts once per byte, so copies weigh more than they cost: compare
# builds with it, not with nginx.
#
# Usage: tools/bench-create-instr.sh [--creates N] [--cancel] [--top K] BINARY...
#   --creates N  creates counted (default 1000)
#   --cancel     each create is of a waiting run (root -> wait 3600 s, the body of
#                bench-http.sh's create+cancel row), cancelled at once: instructions per pair
#   --top K      also print the K forkrun functions with the most instructions (inclusive)
set -euo pipefail

CREATES=1000
TOP=0
CANCEL=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
BINS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --creates) CREATES="$2"; shift 2 ;;
        --top) TOP="$2"; shift 2 ;;
        --cancel) CANCEL=1; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
        *) BINS+=("$1"); shift ;;
    esac
done
[ ${#BINS[@]} -gt 0 ] || { usage >&2; exit 2; }
for n in "$CREATES" "$TOP"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "not a number: $n" >&2; exit 2; }
done

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ensure_apt_packages valgrind

WORK=$(mktemp -d /tmp/forkrun-bench-instr.XXXXXX)
PID=""
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TOKEN="bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '[{"token": "%s", "organizationId": "org_bench", "subject": "bench", "scopes": ["runs:read", "runs:write"]}]\n' \
    "$TOKEN" >"$WORK/tokens.json"
printf '%s' '{"workflowId": "wf_bench", "workflowVersion": 1, "isSimulation": false,
 "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}}' >"$WORK/body.json"
if [ "$CANCEL" = 1 ]; then
    printf '%s' '{"workflowId": "wf_bench_wait", "workflowVersion": 1, "isSimulation": false,
 "workflowDefinition": {"nodes": {"root": {"type": "manual", "children": ["hold"]},
  "hold": {"type": "wait", "props": {"seconds": 3600}}}}}' >"$WORK/body.json"
fi

# creates PORT N: N creates (each cancelled with --cancel) on one connection; fails on any
# answer but 201 (and 200 for the cancel).
creates() {
    python3 - "$1" "$2" "$WORK/body.json" "$TOKEN" "$CANCEL" <<'EOF'
import http.client, json, sys
port, n, body, token = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], "rb").read(), sys.argv[4]
cancel = sys.argv[5] == "1"
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
for _ in range(n):
    c.request("POST", "/v1/runs", body, headers)
    r = c.getresponse()
    answer = r.read()
    if r.status != 201:
        sys.exit(f"create answered {r.status}")
    if cancel:
        c.request("POST", "/v1/runs/" + json.loads(answer)["data"]["id"] + "/cancel", "{}", headers)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"cancel answered {r.status}")
EOF
}

for bin in "${BINS[@]}"; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    out="$WORK/cg.out"
    rm -f "$out"*
    : >"$WORK/serve.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" serve --listen "127.0.0.1:$port" \
        --tokens "$WORK/tokens.json" --no-access-log >"$WORK/serve.out" 2>"$WORK/serve.err" &
    PID=$!
    for _ in $(seq 600); do
        grep -q listening "$WORK/serve.out" && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    grep -q listening "$WORK/serve.out" || { tail -5 "$WORK/serve.err" >&2; echo "bench-create-instr: $bin did not start" >&2; exit 2; }
    creates "$port" 300
    callgrind_control -z "$PID" >/dev/null 2>&1
    creates "$port" "$CREATES"
    callgrind_control -d "$PID" >/dev/null 2>&1
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
    dump=$(ls -t "$out".* 2>/dev/null | head -1)
    [ -n "$dump" ] || { echo "bench-create-instr: no callgrind dump for $bin" >&2; exit 2; }
    total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
    what="create"
    [ "$CANCEL" = 1 ] && what="create+cancel pair"
    echo "$bin: $((total / CREATES)) instructions per $what ($CREATES, user space)"
    if [ "$TOP" -gt 0 ]; then
        callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null |
            grep -E "^ *[0-9,]+ .*forkrun::" | grep -v "_State_impl\|_Function_handler" |
            awk -v n="$CREATES" '{ c = $1; gsub(",", "", c); $1 = ""; $2 = ""; sub(/\(.*$/, "");
                sub(/^ *[^:]*:/, ""); if (!seen[$0]++) printf "  %8d  %s\n", c / n, $0 }' |
            head -"$TOP" || true  # head stops reading early
    fi
done
