#!/usr/bin/env bash
# Wall time of the dust-test workflow (root -> setBalance -> transfer 1 ETH, capped to dust ->
# rpc eth_getBalance -> assert) on a forkrun pool fork against the same calls made with foundry's
# cast in a shell script (tools/bench/dust-cast.sh) on a warm anvil fork of the same upstream,
# interleaved in one run (issue #4; goal: forkrun no slower than the script, ratio <= 1.0x).
# tools/bench-dust.py says exactly what is timed.
#
# Builds build/forkrun (unless --forkrun), installs the pinned cast (tools/bench/package.json)
# with `npm ci` when missing, serves a private copy of the binary with a tokens file and a config
# of chain 31337 (devnet upstream, pool of 1), and prints per side median, p90 and min wall ms,
# the ratio of the medians and forkrun's median time per node. Exits 1 when the goal is missed,
# 2 on a setup error.
#
# Usage: tools/bench-dust.sh [--rounds N] [--warmup N] [--forkrun BINARY] [--keep]
#   --rounds N        timed rounds per side, interleaved (default 20)
#   --warmup N        untimed rounds per side first (default 2)
#   --forkrun BINARY  serve this binary instead of building build/forkrun
#   --keep            keep the work directory (config, tokens, server.err)
# Run it under `nice -n 5` on a shared machine.
set -euo pipefail

rounds=20
warmup=2
binary=""
keep=0
command="$0 $*"
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --forkrun) binary="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-dust.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive integer" >&2; exit 2; }
[[ "$warmup" =~ ^[0-9]+$ ]] || { echo "--warmup must be a non-negative integer" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

CAST="$FORKRUN_ROOT/tools/bench/node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
install_cast() {
    local stamp="$FORKRUN_ROOT/tools/bench/node_modules/.forkrun-lock"
    if [ -x "$CAST" ] && [ -f "$stamp" ] &&
        cmp -s "$stamp" "$FORKRUN_ROOT/tools/bench/package-lock.json"; then
        return
    fi
    log "installing the pinned cast (npm ci in tools/bench/)"
    (cd "$FORKRUN_ROOT/tools/bench" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$FORKRUN_ROOT/tools/bench/package-lock.json" "$stamp"
}
install_cast

if [ -z "$binary" ]; then
    build_forkrun "$FORKRUN_ROOT/build" >&2
    binary="$FORKRUN_ROOT/build/forkrun"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/forkrun-bench-dust.XXXXXX")"
py_pid=""
cleanup() {
    if [ -n "$py_pid" ] && kill -0 "$py_pid" 2>/dev/null; then
        kill -TERM "$py_pid" 2>/dev/null || true  # it stops forkrun and its anvil fork
        wait "$py_pid" 2>/dev/null || true
    fi
    if [ "$keep" -eq 1 ]; then echo "[bench-dust] kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A private copy: others may rebuild build/ while this measures.
cp "$binary" "$work/forkrun"
token="tok_dust_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$work/tokens.json" <<JSON
[{"token": "$token", "organizationId": "org_bench", "subject": "bench-dust",
  "scopes": ["runs:read", "runs:write"]}]
JSON

status=0
python3 -u "$FORKRUN_ROOT/tools/bench-dust.py" --forkrun "$work/forkrun" --anvil "$FORKRUN_ANVIL" \
    --cast "$CAST" --tokens "$work/tokens.json" --token "$token" --work "$work" \
    --rounds "$rounds" --warmup "$warmup" --command "$command" &
py_pid=$!
wait "$py_pid" || status=$?
py_pid=""
exit "$status"
