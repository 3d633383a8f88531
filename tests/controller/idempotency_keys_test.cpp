// The in-memory idempotency-key table: replay, mismatch, release, the wait for a key in
// progress, expiry after 24 h and the per-organization cap (a fake clock stands in for 24 h).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "controller/idempotency_keys.hpp"

namespace forkrun::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Outcome = IdempotencyClaim::Outcome;

class IdempotencyKeysTest : public ::testing::Test {
  protected:
    IdempotencyClaim claim(IdempotencyKeys& keys,
                           std::string org,
                           std::string key,
                           std::string digest,
                           std::chrono::milliseconds wait = 0ms) {
        auto f = asio::co_spawn(io_, keys.claim(org, key, digest, wait), asio::use_future);
        io_.restart();
        io_.run();
        return f.get();
    }

    asio::io_context io_;
    std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now();
    MemoryIdempotencyKeys::Now clock_ = [this] { return now_; };
};

TEST_F(IdempotencyKeysTest, CompletedKeyReplaysItsRunAndAnotherBodyMismatches) {
    MemoryIdempotencyKeys keys(10, clock_);
    const auto first = claim(keys, "org", "k", "d1");
    ASSERT_EQ(first.outcome, Outcome::kClaimed);
    keys.complete(first.ticket, "run_1", 201);
    const auto again = claim(keys, "org", "k", "d1");
    EXPECT_EQ(again.outcome, Outcome::kReplay);
    EXPECT_EQ(again.run_id, "run_1");
    EXPECT_EQ(again.status, 201u);
    EXPECT_EQ(claim(keys, "org", "k", "d2").outcome, Outcome::kMismatch);
    EXPECT_EQ(claim(keys, "other", "k", "d2").outcome, Outcome::kClaimed);
}

TEST_F(IdempotencyKeysTest, ReleasedKeyIsFreeAgain) {
    MemoryIdempotencyKeys keys(10, clock_);
    const auto first = claim(keys, "org", "k", "d1");
    keys.release(first.ticket);
    EXPECT_EQ(keys.size(), 0u);
    EXPECT_EQ(claim(keys, "org", "k", "d2").outcome, Outcome::kClaimed);
}

TEST_F(IdempotencyKeysTest, RepeatWaitsForTheFirstAndGetsItsRun) {
    MemoryIdempotencyKeys keys(10, clock_);
    const auto first = claim(keys, "org", "k", "d1");
    // The repeat waits (up to a minute) until the first completes: no timing in the test.
    auto repeat = asio::co_spawn(io_, keys.claim("org", "k", "d1", 60s), asio::use_future);
    io_.restart();
    io_.poll();
    EXPECT_EQ(repeat.wait_for(0s), std::future_status::timeout);
    keys.complete(first.ticket, "run_1", 201);
    io_.run();
    const auto answer = repeat.get();
    EXPECT_EQ(answer.outcome, Outcome::kReplay);
    EXPECT_EQ(answer.run_id, "run_1");
}

TEST_F(IdempotencyKeysTest, RepeatClaimsTheKeyWhenTheFirstIsReleased) {
    MemoryIdempotencyKeys keys(10, clock_);
    const auto first = claim(keys, "org", "k", "d1");
    auto repeat = asio::co_spawn(io_, keys.claim("org", "k", "d1", 60s), asio::use_future);
    io_.restart();
    io_.poll();
    keys.release(first.ticket);
    io_.run();
    EXPECT_EQ(repeat.get().outcome, Outcome::kClaimed);
}

TEST_F(IdempotencyKeysTest, RepeatWithoutTimeToWaitIsInProgress) {
    MemoryIdempotencyKeys keys(10, clock_);
    claim(keys, "org", "k", "d1");
    EXPECT_EQ(claim(keys, "org", "k", "d1", 0ms).outcome, Outcome::kInProgress);
    EXPECT_EQ(claim(keys, "org", "k", "d1", 1ms).outcome, Outcome::kInProgress);
}

TEST_F(IdempotencyKeysTest, KeysExpireAfter24Hours) {
    MemoryIdempotencyKeys keys(10, clock_);
    const auto first = claim(keys, "org", "k", "d1");
    keys.complete(first.ticket, "run_1", 201);
    now_ += 24h - 1s;
    EXPECT_EQ(claim(keys, "org", "k", "d1").outcome, Outcome::kReplay);
    now_ += 1s;
    EXPECT_EQ(claim(keys, "org", "k", "d2").outcome, Outcome::kClaimed);
    // Expired keys of an organization go when it claims a new one.
    const auto other = claim(keys, "org", "k2", "d");
    keys.complete(other.ticket, "run_2", 201);
    now_ += 25h;
    claim(keys, "org", "k3", "d");
    EXPECT_EQ(keys.size(), 1u);
}

TEST_F(IdempotencyKeysTest, AtTheCapTheOrganizationsOldestCompletedKeyIsForgotten) {
    MemoryIdempotencyKeys keys(3, clock_);
    for (const char* k : {"a", "b", "c"}) {
        keys.complete(claim(keys, "org", k, "d").ticket, std::string("run_") + k, 201);
        now_ += 1s;
    }
    const auto other_org = claim(keys, "other", "a", "d");
    keys.complete(other_org.ticket, "run_x", 201);
    keys.complete(claim(keys, "org", "d", "d").ticket, "run_d", 201);
    EXPECT_EQ(keys.size(), 4u);
    EXPECT_EQ(claim(keys, "org", "a", "d").outcome, Outcome::kClaimed);  // forgotten
    EXPECT_EQ(claim(keys, "org", "c", "d").outcome, Outcome::kReplay);
    EXPECT_EQ(claim(keys, "other", "a", "d").outcome, Outcome::kReplay);  // not another org's
}

}  // namespace
}  // namespace forkrun::controller
