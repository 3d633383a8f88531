// List cursors: a cursor pages only the organization it was made for, on the server that made
// it, and anything else a client sends back does not decode.
#include <gtest/gtest.h>

#include <string>

#include "http/cursor.hpp"

namespace forkrun::http {
namespace {

TEST(Cursor, DecodesToTheSequenceNumberItWasMadeFor) {
    const CursorCodec codec("a fixed key");
    for (const std::uint64_t seq : {0ull, 1ull, 41ull, ~0ull}) {
        const std::string cursor = codec.encode("org_a", seq);
        EXPECT_EQ(cursor.rfind("cur_", 0), 0u) << cursor;
        EXPECT_EQ(cursor.size(), 4u + 32u) << cursor;
        EXPECT_EQ(codec.decode("org_a", cursor), seq);
    }
}

TEST(Cursor, CursorsGivenOutBeforeStillDecode) {
    // HMAC-SHA256 as RFC 2104 defines it (checked with Python's hmac module), for a key of one
    // block and for a longer one, which is hashed first: a configured key's cursors survive a
    // new build.
    const CursorCodec codec("a fixed key");
    EXPECT_EQ(codec.encode("org_a", 12345), "cur_AAAAAAAAMDnyXObyBzOjUhLFbDNpFSJd");
    EXPECT_EQ(codec.decode("org_a", "cur_AAAAAAAAMDnyXObyBzOjUhLFbDNpFSJd"), 12345u);
    const CursorCodec long_key(std::string(100, 'k'));
    EXPECT_EQ(long_key.encode("org_b", 7), "cur_AAAAAAAAAAdOVT_KGs7PT53JfsvuQWxa");
}

TEST(Cursor, AnotherOrganizationsCursorDoesNotDecode) {
    const CursorCodec codec("a fixed key");
    EXPECT_FALSE(codec.decode("org_b", codec.encode("org_a", 7)));
}

TEST(Cursor, AnotherServersCursorDoesNotDecode) {
    const CursorCodec ours("key one");
    const CursorCodec theirs("key two");
    EXPECT_FALSE(ours.decode("org_a", theirs.encode("org_a", 7)));
    // Without a key each codec draws its own: cursors last as long as the process.
    EXPECT_FALSE(CursorCodec().decode("org_a", CursorCodec().encode("org_a", 7)));
}

TEST(Cursor, AnyChangedCharacterOrLengthIsRefused) {
    const CursorCodec codec("a fixed key");
    const std::string cursor = codec.encode("org_a", 12345);
    for (std::size_t i = 0; i < cursor.size(); ++i) {
        std::string changed = cursor;
        changed[i] = changed[i] == 'A' ? 'B' : 'A';
        EXPECT_FALSE(codec.decode("org_a", changed)) << changed;
    }
    for (const std::string& bad : {std::string(), std::string("cur_"), cursor.substr(0, 20),
                                   cursor + "A", "run_" + cursor.substr(4), std::string(36, '!')}) {
        EXPECT_FALSE(codec.decode("org_a", bad)) << bad;
    }
}

}  // namespace
}  // namespace forkrun::http
