// ForkErrc and PoolErrc: each enumerator has its own message in its own category, and a
// ForkError's value() throws the sentence a user reads.
#include <gtest/gtest.h>

#include <boost/system/result.hpp>

#include <set>
#include <string>
#include <system_error>

#include "forks/fork_error.hpp"

namespace forkrun::forks {
namespace {

template <class Errc>
std::set<std::string> messages(Errc first, Errc last, const std::error_category& category) {
    std::set<std::string> seen;
    for (int e = static_cast<int>(first); e <= static_cast<int>(last); ++e) {
        const std::error_code ec = static_cast<Errc>(e);
        EXPECT_EQ(&ec.category(), &category) << e;
        EXPECT_EQ(ec.message().find("unknown"), std::string::npos) << e;
        EXPECT_TRUE(seen.insert(ec.message()).second) << ec.message();
    }
    return seen;
}

TEST(ForkErrc, EachCodeHasItsOwnMessageInTheForksCategory) {
    EXPECT_STREQ(fork_category().name(), "forkrun.forks");
    EXPECT_EQ(messages(ForkErrc::kNoUpstream, ForkErrc::kPoolRefused, fork_category()).size(), 7u);
}

TEST(PoolErrc, EachCodeHasItsOwnMessageInThePoolCategory) {
    EXPECT_STREQ(pool_category().name(), "forkrun.pool");
    EXPECT_EQ(messages(PoolErrc::kLeaseTimeout, PoolErrc::kAllowanceTaken, pool_category()).size(),
              11u);
    EXPECT_EQ(std::error_code(PoolErrc::kTooManyChains).message(),
              "the run names more unconfigured chains than may have a pool");
    EXPECT_EQ(std::error_code(PoolErrc::kAllowanceTaken).message(),
              "other chains' pools take the unconfigured chains' allowance");
}

TEST(ForkError, CodesOfTheTwoCategoriesNeverCompareEqual) {
    const std::error_code cancelled_open = ForkErrc::kCancelled;
    const std::error_code cancelled_lease = PoolErrc::kCancelled;
    EXPECT_NE(cancelled_open, cancelled_lease);
    EXPECT_EQ(cancelled_open, ForkErrc::kCancelled);
    EXPECT_EQ(cancelled_lease, PoolErrc::kCancelled);
}

TEST(ForkError, ValueOfAFailureThrowsItsSentence) {
    const boost::system::result<int, ForkError> failed{
        boost::system::in_place_error,
        ForkError{ForkErrc::kNoPool, "chain 8453 has no warm pool (poolSize is 0)"}};
    try {
        (void)failed.value();
        FAIL() << "value() of a failure returned";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), ForkErrc::kNoPool);
        EXPECT_NE(std::string(e.what()).find("chain 8453 has no warm pool"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace forkrun::forks
