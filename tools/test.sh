#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test; ends with ctest's summary.
# --sanitize builds with ASan+UBSan into build-sanitize and runs the suite there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
dir="$FORKRUN_ROOT/build"
args=()
if [ "${1:-}" = "--sanitize" ]; then
    dir="$FORKRUN_ROOT/build-sanitize"
    args=(-DFORKRUN_SANITIZE=ON -DFORKRUN_BENCHMARKS=OFF)
    # A UBSan finding ends the process that made it (a test, or a server it started), so its
    # test fails: by default UBSan reports and goes on, and the suite passed with findings.
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
fi
build_forkrun "$dir" "${args[@]}"
cd "$dir"
ctest --output-on-failure -j "$(nproc)" --timeout 300
