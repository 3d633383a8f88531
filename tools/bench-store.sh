#!/usr/bin/env bash
# Create throughput on the PostgreSQL store against pgbench on the same server, in one run; and
# POST /v1/runs on the memory store (against a baseline binary when one is given).
#
# Starts a private PostgreSQL 15 (tools/pg-server.sh, fsync on, default settings), then:
#   pgbench   -c N -j 2 -M prepared: a one-row INSERT of a ~1 KB JSON document (about a run's
#             row) into a table with a text primary key, each its own transaction
#   forkrun   --store postgresql://...: wrk -c N POSTs of a live run of `root` only (201 only once
#             its row is committed; it finishes at once, so each run is also a second write)
#   memory    the same wrk against --store memory (and FORKRUN_BASELINE_BIN, if set, e.g. the
#             main branch's build)
# Goal: forkrun on PostgreSQL >= 0.5x pgbench's transactions per second. Exits 1 when missed.
#
# Usage: tools/bench-store.sh [--duration SECONDS] [--clients N] [--breakdown]
#   --breakdown   the server also loads pg_stat_statements (for pgbench too); after forkrun's run
#                 on PostgreSQL, prints the CPU seconds of forkrun and of the server's processes
#                 per create, what the store's connections were waiting on (pg_stat_activity,
#                 sampled every 100 ms by one psql session), and the statements by total
#                 execution time (pg_stat_statements costs some throughput: take the ratio
#                 from runs without it)
#   FORKRUN_BIN=PATH uses that binary instead of building $FORKRUN_ROOT/build
# Run it under `nice -n 10` on a shared machine.
set -euo pipefail

DURATION=10
CLIENTS=32
BREAKDOWN=""
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --clients) CLIENTS="$2"; shift 2 ;;
        --breakdown) BREAKDOWN=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ensure_apt_packages wrk postgresql-15
if [ -n "${FORKRUN_BIN:-}" ]; then
    BIN="$FORKRUN_BIN"
else
    build_forkrun "$FORKRUN_ROOT/build" >&2
    BIN="$FORKRUN_ROOT/build/forkrun"
fi
PGBENCH=/usr/lib/postgresql/15/bin/pgbench

WORK=$(mktemp -d /tmp/forkrun-bench-store.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/pg"
cp "$BIN" "$WORK/forkrun"
FORKRUN_PID=""
cleanup() {
    if [ -n "$FORKRUN_PID" ]; then
        kill "$FORKRUN_PID" 2>/dev/null || true
        wait "$FORKRUN_PID" 2>/dev/null || true
    fi
    "$FORKRUN_ROOT/tools/pg-server.sh" stop "$WORK/pg" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench-store: $*" >&2; exit 2; }

if [ -n "$BREAKDOWN" ]; then
    export PG_OPTIONS="${PG_OPTIONS:-} -c shared_preload_libraries=pg_stat_statements"
fi
URL=$("$FORKRUN_ROOT/tools/pg-server.sh" start "$WORK/pg")
[ -z "$BREAKDOWN" ] || psql -q "$URL" -c "CREATE EXTENSION pg_stat_statements"
TOKEN="bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '[{"token": "%s", "organizationId": "org_bench", "subject": "bench", "scopes": ["runs:read", "runs:write"]}]\n' \
    "$TOKEN" >"$WORK/tokens.json"
printf '%s' '{"workflowId": "wf_bench", "workflowVersion": 1, "isSimulation": false,
 "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}}' >"$WORK/body.json"

# start_forkrun BIN STORE: sets FORKRUN_PID and API.
start_forkrun() {
    : >"$WORK/forkrun.out"
    "$1" serve --listen 127.0.0.1:0 --tokens "$WORK/tokens.json" --no-access-log --store "$2" \
        >"$WORK/forkrun.out" 2>"$WORK/forkrun.log" &
    FORKRUN_PID=$!
    API=""
    for _ in $(seq 200); do
        API=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/forkrun.out")
        [ -n "$API" ] && return
        kill -0 "$FORKRUN_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/forkrun.out" "$WORK/forkrun.log" >&2
    die "forkrun did not start"
}
stop_forkrun() {
    kill "$FORKRUN_PID" && wait "$FORKRUN_PID" || true
    FORKRUN_PID=""
}

# wrk_creates: requests/s of 201s (fails on any other answer).
wrk_creates() {
    BENCH_BODY_FILE="$WORK/body.json" BENCH_TOKEN="$TOKEN" \
        wrk -t2 -c "$CLIENTS" -d "${DURATION}s" -s "$FORKRUN_ROOT/tools/bench/post.lua" \
        "$API/v1/runs" >"$WORK/wrk.out"
    if grep -q 'Non-2xx' "$WORK/wrk.out"; then
        cat "$WORK/wrk.out" >&2
        die "some creates were not answered 201"
    fi
    sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$WORK/wrk.out"
}

# One row of about the size of a run's (its JSON is ~900 bytes for this body).
doc=$(python3 -c 'import json; print(json.dumps({"id": "x" * 26, "pad": "p" * 850}))')
psql -q "$URL" -c "CREATE TABLE bench_insert (id text PRIMARY KEY, org text, doc json)"
printf "INSERT INTO bench_insert (id, org, doc) VALUES (md5(random()::text || clock_timestamp()::text), 'org_bench', '%s');\n" \
    "$doc" >"$WORK/insert.sql"
"$PGBENCH" -n -M prepared -c "$CLIENTS" -j 2 -T "$DURATION" -f "$WORK/insert.sql" "$URL" \
    >"$WORK/pgbench.out" 2>&1 || { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
PGBENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out" | head -1)

# server_ticks FILE: "PID TICKS" (user + system clock ticks) of the server and its children.
server_ticks() {
    local pm p
    pm=$(head -1 "$WORK/pg/data/postmaster.pid")
    for p in "$pm" $(pgrep -P "$pm"); do
        [ -r "/proc/$p/stat" ] && echo "$p $(awk '{print $14 + $15}' "/proc/$p/stat")"
    done >"$1"
}
start_forkrun "$WORK/forkrun" "$URL"
if [ -n "$BREAKDOWN" ]; then
    psql -qtA "$URL" -c "SELECT pg_stat_statements_reset()" >/dev/null
    F0=$(awk '{print $14 + $15}' "/proc/$FORKRUN_PID/stat")
    server_ticks "$WORK/ticks0"
    (
        # One psql session sampling every 100 ms (\watch), from 1 s in to 1 s before the end.
        sleep 1
        echo "SELECT coalesce(wait_event_type || ':' || wait_event, 'on CPU') || '  ' || \
            left(query, 24) FROM pg_stat_activity WHERE application_name = 'forkrun' AND \
            state = 'active' \\watch 0.1" |
            timeout "$((DURATION > 2 ? DURATION - 2 : 1))" psql -qtA "$URL" >"$WORK/waits.out" \
                2>/dev/null || true
    ) &
    WAITS_PID=$!
fi
PG_RPS=$(wrk_creates)
STORED=$(psql -qtA "$URL" -c "SELECT count(*) FROM runs")
if [ -n "$BREAKDOWN" ]; then
    F1=$(awk '{print $14 + $15}' "/proc/$FORKRUN_PID/stat")
    server_ticks "$WORK/ticks1"
    wait "$WAITS_PID" || true
fi
stop_forkrun
if [ -n "$BREAKDOWN" ]; then
    HZ=$(getconf CLK_TCK)
    python3 - "$WORK/ticks0" "$WORK/ticks1" <<EOF
import sys
before = dict(map(int, l.split()) for l in open(sys.argv[1]))
after = dict(map(int, l.split()) for l in open(sys.argv[2]))
server = sum(t - before.get(p, 0) for p, t in after.items())
n = $PG_RPS * $DURATION
print(f"CPU per create: forkrun {($F1 - $F0) / $HZ / n * 1e3:.3f} ms, "
      f"PostgreSQL {server / $HZ / n * 1e3:.3f} ms (processes of the server alive at the end)")
EOF
    echo "what forkrun's connections were doing (samples of pg_stat_activity):"
    grep -v '^$' "$WORK/waits.out" | sort | uniq -c | sort -rn | head -12
    psql -q "$URL" -c "SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 48) AS statement, \
        sum(calls) AS calls, round(sum(total_exec_time)::numeric) AS exec_ms, sum(rows) AS rows \
        FROM pg_stat_statements WHERE toplevel AND query LIKE ANY (ARRAY['%runs%', '%quota%']) \
        GROUP BY 1 ORDER BY 3 DESC LIMIT 8"
fi

start_forkrun "$WORK/forkrun" memory
MEM_RPS=$(wrk_creates)
stop_forkrun
BASE_RPS=""
if [ -n "${FORKRUN_BASELINE_BIN:-}" ]; then
    cp "$FORKRUN_BASELINE_BIN" "$WORK/baseline"
    # The baseline may predate --store: it is started without it.
    : >"$WORK/forkrun.out"
    "$WORK/baseline" serve --listen 127.0.0.1:0 --tokens "$WORK/tokens.json" --no-access-log \
        >"$WORK/forkrun.out" 2>"$WORK/forkrun.log" &
    FORKRUN_PID=$!
    for _ in $(seq 200); do
        API=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/forkrun.out")
        [ -n "$API" ] && break
        sleep 0.1
    done
    BASE_RPS=$(wrk_creates)
    stop_forkrun
fi

RATIO=$(python3 -c "print(f'{$PG_RPS / $PGBENCH_TPS:.2f}')")
echo "clients $CLIENTS, ${DURATION}s each, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "pgbench one-row INSERT:           $PGBENCH_TPS tps"
echo "forkrun create on PostgreSQL:     $PG_RPS creates/s (${RATIO}x pgbench; $STORED rows stored)"
echo "forkrun create on memory:         $MEM_RPS creates/s"
[ -z "$BASE_RPS" ] || echo "baseline create (memory):         $BASE_RPS creates/s"
python3 -c "import sys; sys.exit(0 if $PG_RPS >= 0.5 * $PGBENCH_TPS else 1)" || {
    echo "goal missed: PostgreSQL creates < 0.5x pgbench" >&2
    exit 1
}
