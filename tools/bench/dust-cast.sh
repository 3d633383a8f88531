#!/usr/bin/env bash
# The dust-test workflow done by hand with foundry's cast against an anvil fork, the reference
# for tools/bench-dust.sh: fund dev account #0 (anvil_setBalance, 100 ETH), send 1000 wei (the
# dust amount) from it to SINK and wait for the receipt (cast send's default), read SINK's
# balance and check it is 1000. Pass a fresh SINK per call so that repeated calls stay correct;
# without one a random address is used.
#
# Usage: tools/bench/dust-cast.sh RPC_URL [SINK]
#   CAST=PATH  the cast binary (default: the one pinned in tools/bench/package.json)
set -euo pipefail

rpc="${1:?usage: dust-cast.sh RPC_URL [SINK]}"
sink="${2:-0x$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')}"
cast="${CAST:-$(dirname "${BASH_SOURCE[0]}")/node_modules/@foundry-rs/cast-linux-amd64/bin/cast}"
dev0=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
# anvil's development key #0 (public test data, not a secret)
dev0_key=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80

"$cast" rpc --rpc-url "$rpc" anvil_setBalance "$dev0" 0x56bc75e2d63100000 >/dev/null
"$cast" send --rpc-url "$rpc" --private-key "$dev0_key" --value 1000 "$sink" >/dev/null
bal="$("$cast" balance --rpc-url "$rpc" "$sink")"
if [ "$bal" != 1000 ]; then
    echo "dust-cast.sh: balance of $sink is $bal, expected 1000" >&2
    exit 1
fi
