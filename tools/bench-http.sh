#!/usr/bin/env bash
# HTTP throughput of forkrun against nginx serving the same bytes, measured in the same run.
#
# Starts forkrun (a tokens file, free port) and a private nginx (one temp dir for config, pid,
# logs and temp paths; access_log off; static files), then for each scenario runs wrk against
# forkrun and against nginx with the same connection count and duration. nginx serves a static
# file holding exactly the bytes of forkrun's answer (fetched with curl), as application/json.
#
# Scenarios:
#   GET /v1/runs/{id}        a terminal run
#   GET /v1/runs?limit=50    after creating 60 runs
#   POST /v1/runs            a live run of `root` only (201); nginx cannot POST to a static file,
#                            so its reference is a GET of a file with the same 201 bytes
#   create+cancel            POST create of a waiting run (root -> wait 3600 s), then POST cancel
#                            of it (tools/bench/create-cancel.lua); requests/s counts both, so
#                            pairs/s is half; nginx alternates GETs of the two answers' bytes
# Modes:
#   pinned   forkrun --threads 1 and nginx `worker_processes 1` on core 0, wrk -t1 on core 1
#   default  no pinning, forkrun's default threads (one per core), nginx `worker_processes auto`
#            (one per core), wrk -t2
#
# Goals: GET >= 0.8x nginx; list, create and create+cancel >= 0.3x nginx. Exits 1 when a goal is
# missed, 2 on a setup error.
#
# Usage: tools/bench-http.sh [--duration SECONDS] [--connections N] [--rounds N]
#                            [--mode pinned|default|both]
#   --rounds N   measure each pair N times (alternating which server goes first), report medians
#   FORKRUN_BIN=PATH uses that binary instead of building $FORKRUN_ROOT/build
#   FORKRUN_ENV="NAME=VALUE ..." extra environment for the forkrun process only (e.g.
#     MALLOC_CONF=narenas:2 to tune the service's jemalloc, or LD_PRELOAD of another allocator
#     into a -DFORKRUN_JEMALLOC=OFF build)
# Run it under `nice -n 10` on a shared machine.
set -euo pipefail

DURATION=10
CONNECTIONS=64
ROUNDS=1
MODE=both
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --mode) MODE="$2"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$MODE" in pinned) MODES=(pinned) ;; default) MODES=(default) ;; both) MODES=(pinned default) ;;
    *) echo "--mode must be pinned, default or both" >&2; exit 2 ;; esac
for n in "$DURATION" "$CONNECTIONS" "$ROUNDS"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "not a positive integer: $n" >&2; exit 2; }
done
[ "$CONNECTIONS" -ge 2 ] || { echo "--connections must be >= 2 (wrk -t2 in default mode)" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ensure_apt_packages wrk nginx
if [ -n "${FORKRUN_BIN:-}" ]; then
    BIN="$FORKRUN_BIN"
else
    build_forkrun "$FORKRUN_ROOT/build" >&2
    BIN="$FORKRUN_ROOT/build/forkrun"
fi
LUA_DIR="$FORKRUN_ROOT/tools/bench"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(mktemp -d /tmp/forkrun-bench-http.XXXXXX)
chmod 755 "$WORK"  # nginx's worker may run as another user (nobody) and must read www/
mkdir -p "$WORK/www" "$WORK/nginx"
cp "$BIN" "$WORK/forkrun"  # a private copy: others may rebuild build/ while we measure
FORKRUN_PID=""
NGINX_PID=""

stop_servers() {
    if [ -n "$FORKRUN_PID" ]; then
        kill "$FORKRUN_PID" 2>/dev/null || true
        wait "$FORKRUN_PID" 2>/dev/null || true
        FORKRUN_PID=""
    fi
    if [ -n "$NGINX_PID" ]; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=""
    fi
}
cleanup() {
    stop_servers
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
    echo "bench-http: $*" >&2
    exit 2
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

TOKEN="bench_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '[{"token": "%s", "organizationId": "org_bench", "subject": "bench", "scopes": ["runs:read", "runs:write"]}]\n' \
    "$TOKEN" >"$WORK/tokens.json"
printf '%s' '{"workflowId": "wf_bench", "workflowVersion": 1, "isSimulation": false,
 "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}}' >"$WORK/create-body.json"
printf '%s' '{"workflowId": "wf_bench_wait", "workflowVersion": 1, "isSimulation": false,
 "workflowDefinition": {"nodes": {"root": {"type": "manual", "children": ["hold"]},
  "hold": {"type": "wait", "props": {"seconds": 3600}}}}}' >"$WORK/wait-body.json"

# start_forkrun THREADS PIN...: sets FORKRUN_PID and API.
start_forkrun() {
    local threads="$1"
    shift
    local args=(serve --listen 127.0.0.1:0 --tokens "$WORK/tokens.json" --no-access-log)
    [ "$threads" = default ] || args+=(--threads "$threads")
    : >"$WORK/forkrun.out"
    local extra_env=()
    read -r -a extra_env <<<"${FORKRUN_ENV:-}"
    env "${extra_env[@]}" "$@" "$WORK/forkrun" "${args[@]}" >"$WORK/forkrun.out" \
        2>"$WORK/forkrun.log" &
    FORKRUN_PID=$!
    API=""
    for _ in $(seq 100); do
        API=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/forkrun.out")
        [ -n "$API" ] && return
        kill -0 "$FORKRUN_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/forkrun.out" "$WORK/forkrun.log" >&2
    die "forkrun did not start"
}

# start_nginx WORKERS PIN...: sets NGINX_PID and NGINX_URL.
start_nginx() {
    local workers="$1"
    shift
    local port
    port=$(free_port)
    local n="$WORK/nginx"
    cat >"$n/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $n/nginx.pid;
error_log $n/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    types { }
    default_type application/json;
    client_body_temp_path $n/client_body;
    proxy_temp_path $n/proxy;
    fastcgi_temp_path $n/fastcgi;
    uwsgi_temp_path $n/uwsgi;
    scgi_temp_path $n/scgi;
    server {
        listen 127.0.0.1:$port;
        root $WORK/www;
        location / { }
    }
}
EOF
    "$@" "$NGINX" -p "$n/" -c "$n/nginx.conf" -e "$n/error.log" &
    NGINX_PID=$!
    NGINX_URL="http://127.0.0.1:$port"
    echo probe >"$WORK/www/probe.txt"
    for _ in $(seq 100); do
        curl -sf -o /dev/null "$NGINX_URL/probe.txt" && return
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$n/error.log" >&2 || true
    die "nginx did not start"
}

api() { curl -sS -H "Authorization: Bearer $TOKEN" "$@"; }
run_id_of() { sed -n 's/^{"code":20[01],"data":{"id":"\([^"]*\)".*/\1/p' "$1"; }

# fetch_body NAME URL [curl args...]: writes forkrun's answer to www/NAME (exact bytes) and checks
# its status code.
fetch_body() {
    local name="$1" url="$2" want="$3"
    shift 3
    local code
    code=$(api -o "$WORK/www/$name" -w '%{http_code}' "$@" "$url")
    [ "$code" = "$want" ] || die "$url answered $code, not $want: $(head -c 300 "$WORK/www/$name")"
}

header_bytes() { curl -sS -o /dev/null -w '%{size_header}' -H "Authorization: Bearer $TOKEN" "$@"; }

# prepare: fixtures on the running forkrun, their bytes in www/.
prepare() {
    local id i
    # A terminal run.
    fetch_body create.json "$API/v1/runs" 201 -H 'Content-Type: application/json' \
        --data-binary @"$WORK/create-body.json"
    id=$(run_id_of "$WORK/www/create.json")
    [ -n "$id" ] || die "no run id in the create answer"
    api -o /dev/null "$API/v1/runs/$id?waitUntil=terminal&timeoutMs=10000"
    fetch_body get.json "$API/v1/runs/$id" 200
    grep -q '"status":"success"' "$WORK/www/get.json" || die "run $id is not terminal"
    GET_PATH="/v1/runs/$id"
    # 60 runs in all for the list, all terminal.
    for i in $(seq 59); do
        api -o "$WORK/last.json" -H 'Content-Type: application/json' \
            --data-binary @"$WORK/create-body.json" "$API/v1/runs"
    done
    id=$(run_id_of "$WORK/last.json")
    api -o /dev/null "$API/v1/runs/$id?waitUntil=terminal&timeoutMs=10000"
    fetch_body list.json "$API/v1/runs?limit=50" 200
    # A waiting run and its cancel.
    fetch_body create-wait.json "$API/v1/runs" 201 -H 'Content-Type: application/json' \
        --data-binary @"$WORK/wait-body.json"
    id=$(run_id_of "$WORK/www/create-wait.json")
    fetch_body cancel.json "$API/v1/runs/$id/cancel" 200 -X POST
}

# cpu_ticks PID...: user+system clock ticks used so far by these processes (all their threads).
cpu_ticks() {
    local p t=0
    for p in "$@"; do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
server_pids() {
    if [ "$1" = forkrun ]; then echo "$FORKRUN_PID"; else echo "$NGINX_PID" $(pgrep -P "$NGINX_PID"); fi
}
CLK_TCK=$(getconf CLK_TCK)

# wrk_run forkrun|nginx [wrk args...]: prints "req/s non2xx sockerr cpu_us_per_request" from one
# wrk run; the CPU is the server's own (user + system, every process and thread of it).
wrk_run() {
    local name="$1"
    shift
    local out pids t0 t1
    pids=$(server_pids "$name")
    # shellcheck disable=SC2086
    t0=$(cpu_ticks $pids)
    out=$("${WRK_PIN[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "$@" 2>&1) ||
        die "wrk failed: $out"
    # shellcheck disable=SC2086
    t1=$(cpu_ticks $pids)
    printf '%s\n' "$out" >>"$WORK/wrk-$name.txt"
    local rps non2xx sock reqs
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    sock=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
    echo "${rps:-0} ${non2xx:-0} ${sock:-0} $(awk -v t=$((t1 - t0)) -v n="${reqs:-0}" -v hz="$CLK_TCK" \
        'BEGIN {printf "%.1f", (n > 0) ? t * 1e6 / hz / n : 0}')"
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# scenario LABEL GOAL BODYFILE FORKRUN_WRK_ARGS... :: NGINX_WRK_ARGS...: measures both (medians
# over the rounds) and appends a row to ROWS.
scenario() {
    local label="$1" goal="$2" body="$3"
    shift 3
    local fargs=() nargs=() side=f a
    for a in "$@"; do
        if [ "$a" = "::" ]; then side=n; elif [ $side = f ]; then fargs+=("$a"); else nargs+=("$a"); fi
    done
    local r f n fr=() nr=() fc=() nc=() warn="" frps fnon fsock fcpu nrps nnon nsock ncpu
    echo "bench-http: $label ..." >&2
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then
            f=$(wrk_run forkrun "${fargs[@]}")
            n=$(wrk_run nginx "${nargs[@]}")
        else
            n=$(wrk_run nginx "${nargs[@]}")
            f=$(wrk_run forkrun "${fargs[@]}")
        fi
        read -r frps fnon fsock fcpu <<<"$f"
        read -r nrps nnon nsock ncpu <<<"$n"
        fr+=("$frps")
        nr+=("$nrps")
        fc+=("$fcpu")
        nc+=("$ncpu")
        [ "$fnon" = 0 ] && [ "$fsock" = 0 ] || warn+=" forkrun non-2xx $fnon, socket errors $fsock;"
        [ "$nnon" = 0 ] && [ "$nsock" = 0 ] || warn+=" nginx non-2xx $nnon, socket errors $nsock;"
    done
    local fm nm fcm ncm ratio result
    fm=$(printf '%s\n' "${fr[@]}" | median)
    nm=$(printf '%s\n' "${nr[@]}" | median)
    fcm=$(printf '%s\n' "${fc[@]}" | median)
    ncm=$(printf '%s\n' "${nc[@]}" | median)
    ratio=$(awk -v a="$fm" -v b="$nm" 'BEGIN {printf "%.2f", (b > 0) ? a / b : 0}')
    if awk -v r="$ratio" -v g="$goal" 'BEGIN {exit !(r >= g)}'; then
        result=pass
    else
        result=FAIL
        FAILED=1
    fi
    [ -z "$warn" ] || result+=" (errors:$warn)"
    ROWS+=("$(printf '%-22s %6s %13.0f %13.0f %6s %6s %9.1f %9.1f  %s' "$label" \
        "$(stat -c %s "$body")" "$fm" "$nm" "$ratio" ">=$goal" "$fcm" "$ncm" "$result")")
}

FAILED=0
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); forkrun: $BIN${FORKRUN_ENV:+ with $FORKRUN_ENV}"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for mode in "${MODES[@]}"; do
    stop_servers
    if [ "$mode" = pinned ]; then
        start_forkrun 1 taskset -c 0
        start_nginx 1 taskset -c 0
        WRK_PIN=(taskset -c 1)
        WRK_THREADS=1
        desc="forkrun --threads 1 and nginx worker_processes 1 on core 0; wrk -t1 on core 1"
    else
        start_forkrun default
        start_nginx auto
        WRK_PIN=()
        WRK_THREADS=2
        desc="no pinning; forkrun default threads ($(nproc) cores), nginx worker_processes auto; wrk -t2"
    fi
    prepare
    AUTH=(-H "Authorization: Bearer $TOKEN")
    export BENCH_TOKEN="$TOKEN"
    ROWS=()
    scenario "GET /v1/runs/{id}" 0.8 "$WORK/www/get.json" \
        "${AUTH[@]}" "$API$GET_PATH" :: "${AUTH[@]}" "$NGINX_URL/get.json"
    scenario "GET /v1/runs?limit=50" 0.3 "$WORK/www/list.json" \
        "${AUTH[@]}" "$API/v1/runs?limit=50" :: "${AUTH[@]}" "$NGINX_URL/list.json"
    export BENCH_BODY_FILE="$WORK/create-body.json"
    scenario "POST /v1/runs" 0.3 "$WORK/www/create.json" \
        -s "$LUA_DIR/post.lua" "$API/v1/runs" :: "${AUTH[@]}" "$NGINX_URL/create.json"
    export BENCH_BODY_FILE="$WORK/wait-body.json"
    scenario "create+cancel" 0.3 "$WORK/www/cancel.json" \
        -s "$LUA_DIR/create-cancel.lua" "$API/" :: \
        -s "$LUA_DIR/create-cancel.lua" "$NGINX_URL/" -- nginx
    answers=$(grep -h '^bench: answers' "$WORK/wrk-forkrun.txt" | sed 's/^bench: answers //' |
        paste -sd';' -)
    hdr_get="$(header_bytes "$API$GET_PATH")/$(header_bytes "$NGINX_URL/get.json")"
    hdr_create="$(header_bytes -H 'Content-Type: application/json' \
        --data-binary @"$WORK/create-body.json" "$API/v1/runs")/$(header_bytes "$NGINX_URL/create.json")"
    rm -f "$WORK"/wrk-*.txt

    echo
    echo "mode $mode: $desc; -c$CONNECTIONS, ${DURATION} s per measurement, $ROUNDS round(s)"
    printf '%-22s %6s %13s %13s %6s %6s %9s %9s  %s\n' scenario bytes 'forkrun req/s' \
        'nginx req/s' ratio goal 'f cpu/req' 'n cpu/req' result
    printf '%s\n' "${ROWS[@]}"
    echo "  response header bytes forkrun/nginx: GET $hdr_get, POST-vs-GET create $hdr_create"
    echo "  create+cancel answers seen by wrk on forkrun, per round: $answers"
done

cat <<EOF

bytes: body bytes of forkrun's answer (create+cancel: of the cancel answer; the create answer is
$(stat -c %s "$WORK/www/create-wait.json") bytes), served byte for byte by nginx as application/json.
A 201 shows the run as it is when answered, so forkrun's create answers vary by a few dozen bytes
(a run of root only may already have finished); nginx serves the one sampled.
cpu/req: microseconds of server CPU (user + system, all threads and processes) per request,
forkrun (f) and nginx (n), over the same wrk run; steadier than req/s on a shared machine.
POST /v1/runs: nginx cannot POST to a static file; its reference is a GET of the 201 answer's bytes.
create+cancel: requests/s counts creates and cancels alike (one pair = two requests; pairs/s is
half); nginx alternates GETs of the create and cancel answers' bytes.
EOF
[ "$FAILED" = 0 ] || exit 1
