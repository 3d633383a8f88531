// The nonce book's promises: concurrent senders with one key get distinct, gap-free nonces; a
// nonce that never reached the chain goes to the next sender; a stale report reads the chain
// again without handing out a nonce twice; a live book forgets an idle key.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <set>
#include <vector>

#include "controller/nonce_book.hpp"

namespace forkrun::controller {
namespace {

namespace asio = boost::asio;

const NonceKey kKey{"0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 1};

/// A chain whose pending count is `count`; each read yields once, so first uses overlap.
struct FakeChain {
    std::uint64_t count = 0;
    int reads = 0;
    PendingCount pending() {
        return [this]() -> asio::awaitable<NonceResult> {
            ++reads;
            co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
            co_return count;
        };
    }
};

/// Allocates `n` nonces at once (interleaved on one io_context), in completion order.
std::vector<std::uint64_t> allocate_at_once(NonceAllocator& book, FakeChain& chain, int n) {
    asio::io_context ioc;
    std::vector<std::uint64_t> out;
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                auto r = co_await book.allocate(kKey, chain.pending());
                EXPECT_TRUE(r.has_value());
                out.push_back(*r);
            },
            asio::detached);
    }
    ioc.run();
    return out;
}

std::uint64_t allocate_one(NonceAllocator& book, FakeChain& chain) {
    auto v = allocate_at_once(book, chain, 1);
    return v.empty() ? ~0ull : v.front();
}

TEST(NonceBook, TenSendersAtOnceGetTenDistinctNoncesFromTheChainsCount) {
    NonceBook book(true);
    FakeChain chain{7};
    auto nonces = allocate_at_once(book, chain, 10);
    std::set<std::uint64_t> distinct(nonces.begin(), nonces.end());
    EXPECT_EQ(distinct, (std::set<std::uint64_t>{7, 8, 9, 10, 11, 12, 13, 14, 15, 16}));
    // A later sender continues the sequence while these are outstanding.
    EXPECT_EQ(allocate_one(book, chain), 17u);
}

TEST(NonceBook, ANonceThatNeverReachedTheChainGoesToTheNextSender) {
    NonceBook book(true);
    FakeChain chain{3};
    EXPECT_EQ(allocate_at_once(book, chain, 3).size(), 3u);  // 3, 4, 5
    book.settle(kKey, 4, NonceOutcome::kUnsent);
    EXPECT_EQ(allocate_one(book, chain), 4u) << "a gap at 4 would hold up 5 for ever";
    EXPECT_EQ(allocate_one(book, chain), 6u);
}

TEST(NonceBook, StaleNonceReadsTheChainAgainButNeverHandsOutAnOutstandingOne) {
    NonceBook book(true);
    FakeChain chain{0};
    EXPECT_EQ(allocate_at_once(book, chain, 3).size(), 3u);  // 0, 1, 2 outstanding
    const int reads = chain.reads;
    // Someone else sent nonce 0 with this key; the chain now counts 1.
    chain.count = 1;
    book.settle(kKey, 0, NonceOutcome::kStale);
    EXPECT_EQ(allocate_one(book, chain), 3u) << "1 and 2 are still ours";
    EXPECT_GT(chain.reads, reads);
    // Someone else sent many: the chain's count wins.
    chain.count = 50;
    book.settle(kKey, 1, NonceOutcome::kStale);
    EXPECT_EQ(allocate_one(book, chain), 50u);
}

TEST(NonceBook, ALiveBookReadsTheChainAgainOnceNothingIsOutstanding) {
    NonceBook book(true);
    FakeChain chain{5};
    const auto n = allocate_one(book, chain);
    EXPECT_EQ(n, 5u);
    book.settle(kKey, n, NonceOutcome::kSent);
    EXPECT_EQ(book.size(), 0u);
    chain.count = 9;  // sent from elsewhere meanwhile
    EXPECT_EQ(allocate_one(book, chain), 9u);
}

TEST(NonceBook, ASimulationsBookKeepsCountingWithoutReadingTheChain) {
    NonceBook book(false);
    FakeChain chain{2};
    const auto n = allocate_one(book, chain);
    book.settle(kKey, n, NonceOutcome::kSent);
    EXPECT_EQ(allocate_one(book, chain), 3u);
    EXPECT_EQ(chain.reads, 1);
}

TEST(NonceBook, ALeaseGivesItsNonceBackUnlessTold) {
    NonceBook book(false);
    FakeChain chain{0};
    {
        NonceLease lease(book, kKey, allocate_one(book, chain));  // 0, dropped: a failed send
    }
    {
        NonceLease lease(book, kKey, allocate_one(book, chain));
        EXPECT_EQ(lease.nonce(), 0u);
        lease.set(NonceOutcome::kSent);
    }
    EXPECT_EQ(allocate_one(book, chain), 1u);
}

}  // namespace
}  // namespace forkrun::controller
