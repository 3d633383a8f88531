// Deflated text comes back byte for byte, and only with the dictionary and size it was made with.
#include <gtest/gtest.h>

#include <string>

#include "util/deflate.hpp"

namespace forkrun::util {

TEST(Deflate, TextComesBackExactlyAndSmaller) {
    std::string text;
    for (int i = 0; i < 40; ++i) {
        text += "node\n{\"runId\":\"run_1\",\"nodeId\":\"n" + std::to_string(i) +
                "\",\"status\":\"success\",\"cu\":0,\"error\":null}\n";
    }
    const std::string dict = "\"status\":\"success\"";
    const auto packed = deflate_text(text, dict);
    EXPECT_LT(packed.size(), text.size() / 4);
    EXPECT_EQ(inflate_text(packed, text.size(), dict), text);
}

TEST(Deflate, WrongSizeDictionaryOrDataIsRefused) {
    const std::string text = "event\n{\"a\":1}\n";
    const auto packed = deflate_text(text, "{\"a\":");
    EXPECT_FALSE(inflate_text(packed, text.size() + 1, "{\"a\":"));
    EXPECT_FALSE(inflate_text(packed, text.size() - 1, "{\"a\":"));
    EXPECT_FALSE(inflate_text("not deflate", text.size(), "{\"a\":"));
    EXPECT_NE(inflate_text(packed, text.size(), "other"), std::optional<std::string>(text));
}

TEST(Deflate, ManyTextsInARowEachWithItsOwnDictionary) {
    // The compressor is reused on a thread: nothing of one text may leak into the next.
    for (int i = 0; i < 200; ++i) {
        const std::string dict = "dict" + std::to_string(i % 3);
        const std::string text = "event " + std::to_string(i) + " " + std::string(i, 'x');
        const auto packed = deflate_text(text, dict);
        ASSERT_EQ(inflate_text(packed, text.size(), dict), text) << i;
    }
}

TEST(Deflate, EmptyTextRoundTrips) {
    EXPECT_EQ(inflate_text(deflate_text("", ""), 0, ""), std::string());
}

}  // namespace forkrun::util
