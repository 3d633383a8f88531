#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang 14 (ASan + UBSan) into build-fuzz and runs one,
# or each in turn, for SECONDS.
#
#   tools/fuzz.sh [--merge] TARGET|all SECONDS [-- LIBFUZZER_ARGS...]
#
# TARGET is a fuzz/fuzz_<TARGET>.cpp: api, workflow, templates, rpc_response, rlp. A run starts
# from a copy of the seeds in fixtures/fuzz/<TARGET>/ kept in build-fuzz/corpus/<TARGET>/ (it grows
# there from run to run; fixtures/ is never written unless --merge is given, which then merges into
# the seeds what adds coverage), with fixtures/fuzz/<TARGET>.dict as dictionary when present.
# Logs go to build-fuzz/logs/<TARGET>.log. On a crash, hang (> 20 s) or out-of-memory (> 2 GB) the
# script exits non-zero and prints the reproducer; replay it with build-fuzz/fuzz/fuzz_<TARGET>
# <file>. Inputs slower than 1 s are listed (Slowest unit, with the file in the artifacts folder).
# Everything runs under nice so the machine stays usable.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

usage() {
    echo "usage: tools/fuzz.sh [--merge] TARGET|all SECONDS [-- LIBFUZZER_ARGS...]" >&2
    exit 2
}

merge=0
if [ "${1:-}" = "--merge" ]; then
    merge=1
    shift
fi
[ $# -ge 2 ] || usage
target="$1"
seconds="$2"
shift 2
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
extra=()
if [ $# -gt 0 ]; then
    [ "$1" = "--" ] || usage
    shift
    extra=("$@")
fi

all_targets=()
for src in "$FORKRUN_ROOT"/fuzz/fuzz_*.cpp; do
    name="$(basename "$src" .cpp)"
    all_targets+=("${name#fuzz_}")
done
if [ "$target" = all ]; then
    targets=("${all_targets[@]}")
elif [ -f "$FORKRUN_ROOT/fuzz/fuzz_$target.cpp" ]; then
    targets=("$target")
else
    echo "unknown fuzz target '$target'; one of: ${all_targets[*]} all" >&2
    exit 2
fi

ensure_apt_packages clang-14 libclang-rt-14-dev

dir="$FORKRUN_ROOT/build-fuzz"
if [ ! -f "$dir/CMakeCache.txt" ]; then
    gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    CC=clang-14 CXX=clang++-14 cmake -S "$FORKRUN_ROOT" -B "$dir" "${gen[@]}" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFORKRUN_FUZZ=ON -DBUILD_TESTING=OFF \
        -DFORKRUN_BENCHMARKS=OFF >/dev/null
fi
build_targets=()
for t in "${targets[@]}"; do
    build_targets+=("fuzz_$t")
done
log "building ${build_targets[*]} in $dir"
nice -n 10 cmake --build "$dir" --target "${build_targets[@]}" -j "$(nproc)"

mkdir -p "$dir/logs"
status=0
for t in "${targets[@]}"; do
    bin="$dir/fuzz/fuzz_$t"
    seeds="$FORKRUN_ROOT/fixtures/fuzz/$t"
    corpus="$dir/corpus/$t"
    artifacts="$dir/artifacts/$t/"
    logfile="$dir/logs/$t.log"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$seeds" ]; then
        cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    fi
    # A hang is an input over 20 s (the machine is shared: a loaded core can stall a fast input
    # for seconds); any input over 1 s is reported as a slow unit, to be replayed and judged.
    args=(-max_total_time="$seconds" -timeout=20 -report_slow_units=1 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts")
    [ -f "$FORKRUN_ROOT/fixtures/fuzz/$t.dict" ] && args+=(-dict="$FORKRUN_ROOT/fixtures/fuzz/$t.dict")
    # The API target creates runs, which log to stderr; libFuzzer keeps its own output.
    [ "$t" = api ] && args+=(-close_fd_mask=2)
    log "fuzzing $t for ${seconds}s (corpus $corpus, log $logfile)"
    rc=0
    nice -n 10 "$bin" "${args[@]}" "${extra[@]}" "$corpus" >"$logfile" 2>&1 || rc=$?
    grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$logfile" | tail -n 1 >&2 || true
    grep -E '^(stat::|Done )' "$logfile" >&2 || true
    grep -E '^Slowest unit' "$logfile" | tail -n 3 >&2 || true
    if [ "$rc" -ne 0 ]; then
        status=1
        reproducer="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$logfile" | tail -n 1)"
        log "fuzz_$t FAILED (exit $rc); see $logfile"
        grep -E 'ERROR|FUZZ_CHECK|SUMMARY' "$logfile" | head -n 5 >&2 || true
        if [ -n "$reproducer" ]; then
            log "reproducer: $reproducer (replay: $bin $reproducer)"
        fi
        continue
    fi
    if [ "$merge" -eq 1 ]; then
        mkdir -p "$seeds"
        log "merging new coverage of $t into $seeds"
        nice -n 10 "$bin" -merge=1 "$seeds" "$corpus" >>"$logfile" 2>&1
    fi
done
exit "$status"
