// Packed text comes back byte for byte, and only with the dictionary and size it was made with.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "util/pack.hpp"

namespace forkrun::util {

TEST(PackText, TextComesBackExactlyAndSmaller) {
    std::string text;
    for (int i = 0; i < 40; ++i) {
        text += "node\n{\"runId\":\"run_1\",\"nodeId\":\"n" + std::to_string(i) +
                "\",\"status\":\"success\",\"cu\":0,\"error\":null}\n";
    }
    const std::string dict = "\"status\":\"success\"";
    const auto packed = pack_text(text, dict);
    EXPECT_LT(packed.size(), text.size() / 4);
    EXPECT_EQ(unpack_text(packed, text.size(), dict), text);
}

TEST(PackText, WrongSizeDictionaryOrDataIsRefused) {
    const std::string text = "event\n{\"a\":1}\n";
    const auto packed = pack_text(text, "{\"a\":");
    EXPECT_FALSE(unpack_text(packed, text.size() + 1, "{\"a\":"));
    EXPECT_FALSE(unpack_text(packed, text.size() - 1, "{\"a\":"));
    EXPECT_FALSE(unpack_text("not deflate", text.size(), "{\"a\":"));
    EXPECT_NE(unpack_text(packed, text.size(), "other"), std::optional<std::string>(text));
}

TEST(PackText, ManyTextsInARowEachWithItsOwnDictionary) {
    // The compressor is reused on a thread: nothing of one text may leak into the next.
    for (int i = 0; i < 200; ++i) {
        const std::string dict = "dict" + std::to_string(i % 3);
        const std::string text = "event " + std::to_string(i) + " " + std::string(i, 'x');
        const auto packed = pack_text(text, dict);
        ASSERT_EQ(unpack_text(packed, text.size(), dict), text) << i;
    }
}

TEST(PackText, ALongTextPackedWithOneDictionaryDoesNotComeBackWithAnother) {
    std::string text;
    for (int i = 0; i < 20; ++i) {
        text += "{\"runId\":\"run_1\",\"status\":\"success\",\"n\":" + std::to_string(i) + "}\n";
    }
    const std::string dict = "{\"runId\":\"run_1\",\"status\":\"success\",\"n\":";
    const auto packed = pack_text(text, dict);
    ASSERT_FALSE(packed.empty());
    EXPECT_EQ(unpack_text(packed, text.size(), dict), text);
    EXPECT_FALSE(unpack_text(packed, text.size(), dict + "x"));
    EXPECT_FALSE(unpack_text(packed, text.size(), ""));
    EXPECT_FALSE(unpack_text(packed.substr(0, packed.size() - 1), text.size(), dict));
}

TEST(PackText, MoreDictionariesThanAThreadKeepsDigestedStillRoundTrip) {
    // A thread digests a few dictionaries and drops the oldest past that: one that comes back
    // is digested again, and its texts still come back.
    std::vector<std::pair<std::string, std::string>> packed;
    for (int i = 0; i < 40; ++i) {
        const std::string dict = "dictionary number " + std::to_string(i % 20);
        const std::string text = dict + " and its text " + std::to_string(i);
        packed.emplace_back(text, pack_text(text, dict));
    }
    for (int i = 0; i < 40; ++i) {
        const std::string dict = "dictionary number " + std::to_string(i % 20);
        EXPECT_EQ(unpack_text(packed[i].second, packed[i].first.size(), dict), packed[i].first)
            << i;
    }
}

TEST(PackText, EmptyTextRoundTrips) {
    EXPECT_EQ(unpack_text(pack_text("", ""), 0, ""), std::string());
}

}  // namespace forkrun::util
