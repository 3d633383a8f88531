// Valid JSON text: quoting repairs UTF-8, and numbers JSON cannot carry are found by pointer.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>
#include <boost/json/value.hpp>

#include "util/json_text.hpp"

namespace forkrun::util {

TEST(JsonText, NonFiniteNumberIsFoundByItsJsonPointer) {
    EXPECT_EQ(non_finite_number_at(boost::json::parse(R"({"a/b":{"~":[1e308,1e309]}})")),
              std::optional<std::string>("/a~1b/~0/1"));
    EXPECT_FALSE(non_finite_number_at(boost::json::parse(R"([1.7976931348623157e308,-0.0])")));
}

TEST(JsonText, QuotingKeepsValidUtf8AndReplacesTheRest) {
    EXPECT_EQ(json_quote("caf\xc3\xa9 \"x\""), "\"caf\xc3\xa9 \\\"x\\\"\"");
    EXPECT_EQ(json_quote("a\xff"), "\"a\xef\xbf\xbd\"");
    EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x99\x82"));
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));
}

// append_json_string writes what Boost.JSON's serializer writes, for every byte (escaped or
// not, inside and around plain text) and for text with nothing to escape.
TEST(JsonText, AppendedStringsAreWhatBoostJsonWrites) {
    for (int b = 0; b < 256; ++b) {
        const std::string s = std::string("a") + static_cast<char>(b) + "z";
        std::string out = "[";
        append_json_string(out, s);
        EXPECT_EQ(out, "[" + boost::json::serialize(boost::json::string_view(s))) << b;
    }
    std::string out;
    append_json_string(out, "");
    append_json_string(out, "run_0123 caf\xc3\xa9");
    EXPECT_EQ(out, "\"\"\"run_0123 caf\xc3\xa9\"");
}

// The quick look says no only for text that cannot hold a number beyond a double's range, and
// whatever it says, non_finite_number_in finds what non_finite_number_at finds.
TEST(JsonText, TextWithoutExponentsOrLongDigitRunsHoldsNoOutOfRangeNumber) {
    EXPECT_FALSE(may_hold_out_of_range_number(R"({"a":[1,-2.5,"x"],"b":123456789012345678901})"));
    EXPECT_TRUE(may_hold_out_of_range_number("[1e400]"));
    EXPECT_TRUE(may_hold_out_of_range_number("[-2.5E+9]"));
    EXPECT_TRUE(may_hold_out_of_range_number(R"(["0x1e"])")) << "conservative inside strings";
    const std::string huge = "[" + std::string(400, '9') + "]";
    EXPECT_TRUE(may_hold_out_of_range_number(huge));
    for (const std::string& text : {std::string("[1e400]"), huge, std::string("{\"a\":[1,-1e309]}"),
                                    std::string("[1.5e3, 2]"), std::string("{\"n\":12}")}) {
        const auto v = boost::json::parse(text);
        EXPECT_EQ(non_finite_number_in(text, v), non_finite_number_at(v)) << text;
    }
    EXPECT_EQ(non_finite_number_in(huge, boost::json::parse(huge)),
              std::optional<std::string>("/0"));
}

}  // namespace forkrun::util
