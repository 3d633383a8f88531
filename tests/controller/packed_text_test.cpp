// A finished run's JSON kept deflated: it reads back byte for byte, costs a fraction of its size,
// and a text read again and again is inflated once.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "controller/packed_text.hpp"

namespace forkrun::controller {
namespace {

std::string run_like(int i) {
    std::string s = "{\"id\":\"run_" + std::to_string(i) + "\",\"executionState\":{\"nodes\":{";
    for (int n = 0; n < 10; ++n) {
        s += "\"a" + std::to_string(n) +
             "\":{\"status\":\"success\",\"startedAt\":\"2026-12-01T20:00:00.000Z\",\"cu\":0,"
             "\"output\":null,\"error\":null},";
    }
    s.back() = '}';
    return s + "}}";
}

TEST(PackedText, ReadsBackExactlyAndIsSmaller) {
    const auto text = run_like(1);
    const PackedText packed(text, "\"status\":\"success\",\"output\":null,\"error\":null");
    ASSERT_FALSE(packed.empty());
    const auto back = packed.text();
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, text);
}

TEST(PackedText, WithoutADictionaryToo) {
    const auto text = run_like(2);
    const PackedText packed(text, "");
    ASSERT_TRUE(packed.text());
    EXPECT_EQ(*packed.text(), text);
}

TEST(PackedText, ATextReadAgainIsInflatedOnce) {
    const PackedText packed(run_like(3), "");
    const auto first = packed.text();
    EXPECT_EQ(packed.text().get(), first.get());
}

TEST(PackedText, OnlyTheLastTextsReadStayInflated) {
    const auto text = run_like(4);
    const PackedText packed(text, "");
    const std::weak_ptr<const std::string> first = packed.text();
    EXPECT_FALSE(first.expired());  // kept inflated while it is among the last read
    // Read more texts than stay inflated: the first one's inflated copy is freed...
    std::vector<PackedText> others;
    for (std::size_t i = 0; i < PackedText::kRecent; ++i) {
        others.emplace_back(run_like(100 + static_cast<int>(i)), "");
        ASSERT_TRUE(others.back().text());
    }
    EXPECT_TRUE(first.expired());
    // ...and it is inflated again when read, the same text.
    const auto again = packed.text();
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, text);
}

TEST(PackedText, AnEmptyTextIsNotPacked) {
    const PackedText packed("", "");
    EXPECT_TRUE(packed.empty());
    EXPECT_FALSE(packed.text());
}

}  // namespace
}  // namespace forkrun::controller
