// pg_text_array: a text[] literal PostgreSQL reads back as the same items, quotes and
// backslashes included (the lost runs' ids of decision 84 go through it).
#include <gtest/gtest.h>

#include "controller/pg_connection.hpp"

namespace forkrun::controller {
namespace {

TEST(PgTextArray, EachItemIsQuotedAndItsQuotesAndBackslashesEscaped) {
    EXPECT_EQ(pg_text_array({}), "{}");
    EXPECT_EQ(pg_text_array({"run_a-B_c"}), R"({"run_a-B_c"})");
    EXPECT_EQ(pg_text_array({"a", "b,c", "d\"e", "f\\g", "{h}"}),
              R"({"a","b,c","d\"e","f\\g","{h}"})");
}

}  // namespace
}  // namespace forkrun::controller
