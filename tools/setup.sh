#!/usr/bin/env bash
# Installs what forkrun needs on Debian 12 (apt packages by exact name, the pinned anvil from npm)
# and builds it. Sourced by run.sh and test.sh; quick when nothing is missing.
set -euo pipefail

FORKRUN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FORKRUN_ANVIL="$FORKRUN_ROOT/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"

APT_PACKAGES=(
    g++ cmake ninja-build pkg-config git curl ca-certificates clang-format
    libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev
    libcurl4-openssl-dev libsecp256k1-dev libcrypto++-dev libzstd-dev libjemalloc-dev
    libgtest-dev libgmock-dev libbenchmark-dev
    libpq-dev postgresql-15
    nodejs npm python3 chromium libxml2-utils
)

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_apt_packages PKG...: installs those of PKG (exact Debian names) that are missing. Tools
# with their own needs (wrk, nginx, clang) call it after sourcing this file.
ensure_apt_packages() {
    local missing=()
    for p in "$@"; do
        # node and npm may come from elsewhere (nvm, nodesource); only install when absent.
        if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
        if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing apt packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
}

install_anvil() {
    local stamp="$FORKRUN_ROOT/tools/node_modules/.forkrun-lock"
    if [ -x "$FORKRUN_ANVIL" ] && [ -f "$stamp" ] &&
        cmp -s "$stamp" "$FORKRUN_ROOT/tools/package-lock.json"; then
        return
    fi
    log "installing the pinned npm tools: anvil and the test clients (npm ci in tools/)"
    (cd "$FORKRUN_ROOT/tools" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$FORKRUN_ROOT/tools/package-lock.json" "$stamp"
}

# build DIR [cmake args...]
build_forkrun() {
    local dir="$1"
    shift
    local gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    if [ ! -f "$dir/CMakeCache.txt" ]; then
        cmake -S "$FORKRUN_ROOT" -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    fi
    cmake --build "$dir" -j "$(nproc)"
}

ensure_apt_packages "${APT_PACKAGES[@]}"
install_anvil
export FORKRUN_ANVIL
