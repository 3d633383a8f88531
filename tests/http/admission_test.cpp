// The connection count's cap taken in one step: acceptors on several HTTP threads racing for the
// last places never count past the cap (the CI flake of
// HttpConnections.IdleConnectionsPastTheCapMakeRoomAndHealthzAnswersAtOnce: 129 of a cap of 128
// stayed open when two acceptors each saw 127 and both took a place).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "http/admission.hpp"

namespace forkrun::http {
namespace {

TEST(ConnectionCount, TryTakeNeverCountsPastTheCapWhateverRacesForIt) {
    constexpr std::size_t kCap = 128;
    for (int round = 0; round < 50; ++round) {
        ConnectionCount count;
        std::vector<std::vector<ConnectionCount::Slot>> taken(4);
        std::vector<std::thread> acceptors;
        for (auto& mine : taken) {
            acceptors.emplace_back([&count, &mine] {
                for (int i = 0; i < 100; ++i) {
                    if (auto slot = count.try_take(kCap)) {
                        mine.push_back(std::move(*slot));
                    }
                }
            });
        }
        for (auto& t : acceptors) {
            t.join();
        }
        std::size_t held = 0;
        for (const auto& mine : taken) {
            held += mine.size();
        }
        ASSERT_EQ(held, kCap) << "round " << round;
        ASSERT_EQ(count.now(), kCap);
        // A place given back is a place to take again; at the cap, none.
        for (auto& mine : taken) {
            if (!mine.empty()) {  // a thread that started late may have none
                mine.pop_back();
                break;
            }
        }
        EXPECT_EQ(count.now(), kCap - 1);
        EXPECT_TRUE(count.try_take(kCap).has_value());  // taken, and given back at once
        auto again = count.try_take(kCap);
        ASSERT_TRUE(again);
        EXPECT_FALSE(count.try_take(kCap));
        EXPECT_EQ(count.now(), kCap);
    }
}

}  // namespace
}  // namespace forkrun::http
