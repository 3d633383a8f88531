// Signing throughput: a whole EIP-1559 transfer (encode, hash, sign, encode signed) and a bare
// secp256k1 recoverable signature of a 32-byte digest. Target: >= 30k signatures/s per core.
#include <benchmark/benchmark.h>

#include "forks/eth/eip1559.hpp"
#include "forks/eth/secp256k1_key.hpp"

namespace {

using forkrun::eth::Address;
using forkrun::eth::Eip1559Tx;
using forkrun::eth::Hash256;
using forkrun::eth::PrivateKey;
using forkrun::eth::Uint256;

// anvil dev account #0, a public test key.
PrivateKey bench_key() {
    return PrivateKey::from_hex(
               "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        .value();
}

void BM_SignEip1559Transfer(benchmark::State& state) {
    const PrivateKey key = bench_key();
    Eip1559Tx tx;
    tx.chain_id = 31337;
    tx.max_priority_fee_per_gas = Uint256{1'000'000'000};
    tx.max_fee_per_gas = Uint256{30'000'000'000ULL};
    tx.gas_limit = 21000;
    tx.to = Address::parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8").value();
    tx.value = Uint256{1'000'000'000'000'000'000ULL};
    for (auto _ : state) {
        ++tx.nonce;  // a fresh transaction each time, as a run would send
        auto signed_tx = tx.sign(key);
        benchmark::DoNotOptimize(signed_tx.raw.data());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignEip1559Transfer);

void BM_Secp256k1SignHash(benchmark::State& state) {
    const PrivateKey key = bench_key();
    Hash256 digest{};
    for (auto _ : state) {
        ++digest[31];
        ++digest[0];
        auto signature = key.sign(digest);
        benchmark::DoNotOptimize(signature);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Secp256k1SignHash);

}  // namespace

BENCHMARK_MAIN();
