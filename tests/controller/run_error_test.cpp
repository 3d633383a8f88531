// RunErrc: every enumerator writes its own wire code, and its error codes carry the category.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "controller/run_error.hpp"

namespace forkrun::controller {
namespace {

TEST(RunErrc, EachCodeIsWrittenAsItsOwnWireName) {
    EXPECT_EQ(to_string(RunErrc::kInvalidProps), "invalid_props");
    EXPECT_EQ(to_string(RunErrc::kTooLarge), "tooLarge");
    EXPECT_EQ(to_string(RunErrc::kControllerLost), "controllerLost");
    std::set<std::string_view> seen;
    for (int e = static_cast<int>(RunErrc::kInvalidProps);
         e <= static_cast<int>(RunErrc::kCancelled); ++e) {
        EXPECT_TRUE(seen.insert(to_string(static_cast<RunErrc>(e))).second) << e;
    }
}

TEST(RunErrc, ItsErrorCodesNameTheirCategory) {
    const std::error_code ec = RunErrc::kRpcFailed;
    EXPECT_EQ(&ec.category(), &run_category());
    EXPECT_STREQ(ec.category().name(), "forkrun.run");
    EXPECT_FALSE(ec.message().empty());
    EXPECT_EQ(ec, RunErrc::kRpcFailed);
}

}  // namespace
}  // namespace forkrun::controller
