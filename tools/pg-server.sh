#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server of the tests' (and benchmarks') own, in a folder of theirs:
#   pg-server.sh start DIR [PORT]   initdb into DIR/data if needed, start on PORT (default: a free
#                                   one); prints the connection URL
#   pg-server.sh stop DIR           fast stop (the data stays; start again on the same port)
#   pg-server.sh kill DIR           immediate stop (like a crash)
# PG_OPTIONS adds server settings (the tests pass "-c fsync=off": their data need not survive
# the machine, only the server).
# The server refuses to run as root: as root, DIR is given to the `postgres` user and every
# server command runs as that user (runuser). Sockets stay in DIR; only loopback TCP listens.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd="${1:?usage: pg-server.sh start|stop|kill DIR [PORT]}"
dir="${2:?usage: pg-server.sh start|stop|kill DIR [PORT]}"
dir="$(cd "$dir" && pwd)"

case "$cmd" in
start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        if [ "$(id -u)" -eq 0 ]; then
            chown postgres "$dir"
        fi
        as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale -N \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    port="${3:-}"
    if [ -z "$port" ] && [ -f "$dir/port" ]; then port="$(cat "$dir/port")"; fi
    if [ -z "$port" ]; then port="$(free_port)"; fi
    echo "$port" | as_pg tee "$dir/port" >/dev/null
    # max_connections: pgbench at the benchmark's client counts, plus the servers under test.
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 ${PG_OPTIONS:-}" >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -w -t 30 -m fast stop >/dev/null
    ;;
kill)
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -w -t 30 -m immediate stop >/dev/null
    ;;
*)
    echo "pg-server.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
