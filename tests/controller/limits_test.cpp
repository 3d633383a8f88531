// Tests for the limit checks: the bounded JSON measure, limits from config and flags, and
// template resolution within size limits.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "controller/limits.hpp"
#include "controller/templates.hpp"

namespace forkrun::controller {

namespace {

namespace json = boost::json;

// ---- json_size ----

TEST(JsonSize, IsTheCompactTextSizeWithoutEscapesOrDoubles) {
    for (const char* text : {R"({"a":[1,2,"xy"],"b":null,"c":true,"d":false})", R"([])", R"({})",
                             R"("plain")", R"([-12,18446744073709551615,{"k":{"l":[]}}])", "0"}) {
        const auto v = json::parse(text);
        EXPECT_EQ(json_size(v, 1 << 20), json::serialize(v).size()) << text;
    }
}

TEST(JsonSize, StopsSoonAfterTheLimit) {
    json::array big(1'000'000, json::value(12345));
    const auto size = json_size(json::value(std::move(big)), 100);
    EXPECT_GT(size, 100u);
    EXPECT_LT(size, 200u) << "it went on counting";
}

TEST(JsonSize, DescribesBytesAsPeopleWriteThem) {
    EXPECT_EQ(describe_bytes(64 * 1024), "64 KiB");
    EXPECT_EQ(describe_bytes(16 * 1024 * 1024), "16 MiB");
    EXPECT_EQ(describe_bytes(1500), "1500 bytes");
    EXPECT_EQ(too_large("the node's output", 1024, kMaxNodeOutputBytes),
              "the node's output is larger than the 1 KiB limit (maxNodeOutputBytes)");
}

// ---- config and flags ----

TEST(LimitsConfig, DefaultsAreTheDocumentedOnes) {
    const Limits l;
    EXPECT_EQ(l.active_runs_per_org, 1024u);
    EXPECT_EQ(l.active_runs, 2048u);
    EXPECT_EQ(l.live_forks_per_org, 16u);
    EXPECT_EQ(l.live_forks, 64u);
    EXPECT_EQ(l.chains_per_run, 16u);
    EXPECT_EQ(l.unconfigured_chains, 4u);
    EXPECT_EQ(l.unconfigured_pool_idle_ms, 60000u);
    EXPECT_EQ(l.sizes.template_string_bytes, 64u * 1024);
    EXPECT_EQ(l.sizes.node_output_bytes, 1024u * 1024);
    EXPECT_EQ(l.sizes.run_json_bytes, 16u * 1024 * 1024);
}

TEST(LimitsConfig, ConfigKeysSetLimitsAndBadValuesAreListed) {
    Limits l;
    std::vector<std::string> problems;
    read_limits_config(json::parse(R"({"maxActiveRunsPerOrg": 8, "maxLiveForks": 3,
        "maxUnconfiguredChains": 0, "maxRunJsonBytes": -1, "maxChainsPerRun": "many",
        "chains": {}})"),
                       l, problems);
    EXPECT_EQ(l.active_runs_per_org, 8u);
    EXPECT_EQ(l.live_forks, 3u);
    EXPECT_EQ(l.unconfigured_chains, 0u);
    EXPECT_EQ(l.sizes.run_json_bytes, 16u * 1024 * 1024);
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0], "maxChainsPerRun must be a positive integer");
    EXPECT_EQ(problems[1], "maxRunJsonBytes must be a positive integer");
}

TEST(LimitsConfig, FlagsSetLimitsAndOtherFlagsAreNotTheirs) {
    Limits l;
    EXPECT_EQ(apply_limit_flag("--max-live-forks-per-org", "2", l), std::string());
    EXPECT_EQ(l.live_forks_per_org, 2u);
    EXPECT_EQ(apply_limit_flag("--unconfigured-pool-idle-ms", "250", l), std::string());
    EXPECT_EQ(l.unconfigured_pool_idle_ms, 250u);
    EXPECT_EQ(apply_limit_flag("--max-chains-per-run", "0", l),
              "--max-chains-per-run needs a positive integer");
    EXPECT_EQ(apply_limit_flag("--max-node-output-bytes", "1k", l),
              "--max-node-output-bytes needs a positive integer");
    EXPECT_FALSE(apply_limit_flag("--listen", "127.0.0.1:0", l).has_value());
    EXPECT_EQ(limit_flags().size(), 10u);
    EXPECT_NE(limits_usage().find("--max-active-runs-per-org N"), std::string::npos);
}

// ---- templates within size limits ----

class BoundedTemplates : public ::testing::Test {
  protected:
    json::object props_{{"big", std::string(100 * 1024, 'x')},
                        {"obj", json::object{{"k", std::string(100 * 1024, 'o')}}},
                        {"n", 7}};
    TemplateContext ctx_ = [this] {
        TemplateContext c;
        c.props = &props_;
        c.max_string_bytes = 64 * 1024;
        c.max_total_bytes = 1024 * 1024;
        return c;
    }();
};

TEST_F(BoundedTemplates, AmplifiedStringFailsBeforeItIsBuilt) {
    std::string refs;
    for (int i = 0; i < 3000; ++i) {
        refs += "{{props.big}}";
    }
    const auto started = std::chrono::steady_clock::now();
    auto r = resolve_templates_within(json::object{{"value", refs}}, ctx_);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(200));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, TemplateFailure::Kind::kLongString);
    EXPECT_EQ(
        r.error().message,
        "a string built from templates is larger than the 64 KiB limit (maxTemplateStringBytes)");
}

TEST_F(BoundedTemplates, AnObjectInsideTextIsMeasuredNotPrinted) {
    auto r = resolve_templates_within(json::value("value: {{props.obj}}"), ctx_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, TemplateFailure::Kind::kLongString);
}

TEST_F(BoundedTemplates, ExactCopiesCountTowardTheTotal) {
    json::array copies;
    for (int i = 0; i < 3000; ++i) {
        copies.emplace_back("{{props.big}}");
    }
    auto r = resolve_templates_within(json::value(copies), ctx_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, TemplateFailure::Kind::kTooBig);
    // Ten copies fit in 1 MiB: an exact template is not held to the string limit.
    copies.resize(10);
    auto ok = resolve_templates_within(json::value(copies), ctx_);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->as_array().size(), 10u);
    EXPECT_EQ(ok->as_array()[9].as_string().size(), 100u * 1024);
}

TEST_F(BoundedTemplates, WithinTheLimitsItResolvesLikeResolveTemplates) {
    const auto v = json::parse(R"({"a": "n={{props.n}}", "b": ["{{props.n}}", 1.5, null, true]})");
    auto bounded = resolve_templates_within(v, ctx_);
    auto plain = resolve_templates(v, ctx_);
    ASSERT_TRUE(bounded && plain);
    EXPECT_EQ(*bounded, *plain);
    EXPECT_EQ(*bounded, json::parse(R"({"a": "n=7", "b": [7, 1.5, null, true]})"));
    auto missing = resolve_templates_within(json::value("{{props.nope}}"), ctx_);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, TemplateFailure::Kind::kReference);
}

}  // namespace

}  // namespace forkrun::controller
