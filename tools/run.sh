#!/usr/bin/env bash
# Installs what is missing, builds, and serves forkrun on the embedded default: 127.0.0.1:8080,
# with a local anvil as the upstream of chains 1 and 8453 so simulations fork real chains offline.
# Extra arguments go to `forkrun serve` (e.g. --config FILE, --listen HOST:PORT).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
build_forkrun "$FORKRUN_ROOT/build" >&2
exec "$FORKRUN_ROOT/build/forkrun" serve --listen 127.0.0.1:8080 --anvil "$FORKRUN_ANVIL" \
    --devnet 1,8453 "$@"
