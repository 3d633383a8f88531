#!/usr/bin/env bash
# Installs what is missing, builds, and serves forkrun on the embedded default (127.0.0.1:8080).
# Extra arguments go to `forkrun serve`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
build_forkrun "$FORKRUN_ROOT/build" >&2
exec "$FORKRUN_ROOT/build/forkrun" serve --listen 127.0.0.1:8080 --anvil "$FORKRUN_ANVIL" "$@"
