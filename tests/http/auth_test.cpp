// Bearer tokens: a tokens file's entries map a token (or its SHA-256) to an organization, a
// subject and scopes; a bad entry is named without ever echoing a token.
#include <gtest/gtest.h>

#include <string>

#include "forks/eth/hex.hpp"
#include "http/auth.hpp"

namespace forkrun::http {
namespace {

TEST(Sha256, MatchesTheStandardVector) {
    EXPECT_EQ(eth::to_hex(sha256("abc")),
              "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenStore, APlainTokenAndADigestBothGrantTheirScopes) {
    auto store = TokenStore::parse(R"([
      {"token": "plain-token-1", "organizationId": "org_a", "subject": "ci",
       "scopes": ["runs:read", "runs:write"]},
      {"tokenSha256": "a81e611a041b13f078bf8ebe5dab4d4fd63fcc5594661c918bec093a2f416a7e",
       "organizationId": "org_b", "subject": "viewer", "scopes": ["runs:read"]}
    ])");
    ASSERT_TRUE(store) << store.error();
    EXPECT_EQ(store->size(), 2u);

    const auto writer = store->find("plain-token-1");
    ASSERT_TRUE(writer);
    EXPECT_EQ(writer->principal.organization_id, "org_a");
    EXPECT_EQ(writer->principal.subject, "ci");
    EXPECT_TRUE(writer->allows(kRunsRead));
    EXPECT_TRUE(writer->allows(kRunsWrite));

    const auto reader = store->find("s3cret-token");  // the digest's token
    ASSERT_TRUE(reader);
    EXPECT_EQ(reader->principal.organization_id, "org_b");
    EXPECT_TRUE(reader->allows(kRunsRead));
    EXPECT_FALSE(reader->allows(kRunsWrite));

    EXPECT_FALSE(store->find("plain-token-2"));
    EXPECT_FALSE(store->find(""));
}

TEST(TokenStore, EachBadEntryIsNamedAndNoTokenIsEchoed) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"token": "x"})", "tokens file must be a JSON array"},
        {R"([1])", "tokens file entry 0 is not an object"},
        {R"([{"token": "long-enough-1", "subject": "s", "scopes": []}])",
         "entry 0: organizationId must be a non-empty string"},
        {R"([{"token": "long-enough-1", "organizationId": "o", "scopes": []}])",
         "entry 0: subject must be a non-empty string"},
        {R"([{"token": "long-enough-1", "organizationId": "o", "subject": "s", "scopes": "x"}])",
         "entry 0: scopes must be an array"},
        {R"([{"token": "long-enough-1", "organizationId": "o", "subject": "s",
              "scopes": ["runs:admin"]}])",
         "entry 0: unknown scope"},
        {R"([{"token": "short", "organizationId": "o", "subject": "s", "scopes": []}])",
         "entry 0: token must be at least 8 characters"},
        {R"([{"tokenSha256": "abcd", "organizationId": "o", "subject": "s", "scopes": []}])",
         "entry 0: tokenSha256 must be 64 hex characters"},
        {R"([{"organizationId": "o", "subject": "s", "scopes": []}])",
         "entry 0: needs token or tokenSha256"},
    };
    for (const auto& [json, expected] : cases) {
        const auto store = TokenStore::parse(json);
        ASSERT_FALSE(store) << json;
        EXPECT_NE(store.error().find(expected), std::string::npos) << store.error();
        EXPECT_EQ(store.error().find("long-enough-1"), std::string::npos) << store.error();
        EXPECT_EQ(store.error().find("short\""), std::string::npos) << store.error();
    }
}

}  // namespace
}  // namespace forkrun::http
