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

}  // namespace forkrun::util
