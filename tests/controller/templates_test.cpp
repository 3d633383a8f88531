// Tests for template resolution against props, inputs and node outputs (the parser and its
// syntax errors: template_parser_test.cpp).
#include <map>
#include <ostream>
#include <string>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "controller/templates.hpp"

namespace forkrun::controller {

namespace {

namespace json = boost::json;

const std::string kHelp =
    ": use {{props.<key>}}, {{nodes.<id>.output}} or {{nodes.<id>.output.<field>}}";

/// Props and node outputs for resolution; `bal` has an output, `pending` has none yet.
class TemplateResolution : public ::testing::Test {
  protected:
    json::object props_ = json::parse(R"({
        "chain": 1, "big": 18446744073709551615, "ratio": 1.5, "neg": -7, "on": true, "none": null,
        "who": "0xabc", "cfg": {"a": 1, "b": [true, null]}, "list": [1, "x"], "empty": ""
    })")
                              .as_object();
    std::map<std::string, json::value, std::less<>> outputs_ = {
        {"bal", json::parse(R"({"balance": "0x10", "items": [{"name": "first"}, {"name": "second"}],
                                "nested": {"deep": {"er": 42}}})")},
        {"root", json::value()},
    };
    TemplateContext ctx_{&props_, [this](std::string_view id) -> const json::value* {
                             const auto it = outputs_.find(id);
                             return it == outputs_.end() ? nullptr : &it->second;
                         }};

    json::value resolve(std::string_view json_text) const {
        auto r = resolve_templates(json::parse(json_text), ctx_);
        EXPECT_TRUE(r.has_value()) << (r ? "" : r.error());
        return r ? *r : json::value();
    }

    std::string failure(std::string_view json_text) const {
        auto r = resolve_templates(json::parse(json_text), ctx_);
        EXPECT_FALSE(r.has_value()) << json::serialize(*r);
        return r ? "" : r.error();
    }
};

TEST_F(TemplateResolution, ExactTemplateKeepsTheJsonType) {
    EXPECT_EQ(resolve(R"("{{props.chain}}")"), json::value(1));
    EXPECT_EQ(resolve(R"("{{props.big}}")"), json::value(18446744073709551615ull));
    EXPECT_EQ(resolve(R"("{{props.ratio}}")"), json::value(1.5));
    EXPECT_EQ(resolve(R"("{{props.on}}")"), json::value(true));
    EXPECT_EQ(resolve(R"("{{props.none}}")"), json::value());
    EXPECT_EQ(resolve(R"("{{props.cfg}}")"), json::parse(R"({"a": 1, "b": [true, null]})"));
    EXPECT_EQ(resolve(R"("{{props.list}}")"), json::parse(R"([1, "x"])"));
    EXPECT_EQ(*resolve_templates(json::value("{{  props.chain\t\n}}"), ctx_), json::value(1));
    EXPECT_EQ(resolve(R"("{{nodes.root.output}}")"), json::value());
}

TEST_F(TemplateResolution, TextAroundATemplateMakesAString) {
    EXPECT_EQ(resolve(R"(" {{props.chain}}")"), json::value(" 1"));
    EXPECT_EQ(resolve(R"("{{props.chain}}{{props.chain}}")"), json::value("11"));
}

TEST_F(TemplateResolution, InterpolatesEachJsonTypeAsText) {
    EXPECT_EQ(resolve(R"("to {{props.who}}!")"), json::value("to 0xabc!"));
    EXPECT_EQ(resolve(R"("[{{props.empty}}]")"), json::value("[]"));
    EXPECT_EQ(resolve(R"("chain {{props.chain}}")"), json::value("chain 1"));
    EXPECT_EQ(resolve(R"("n={{props.neg}}")"), json::value("n=-7"));
    EXPECT_EQ(resolve(R"("u={{props.big}}")"), json::value("u=18446744073709551615"));
    EXPECT_EQ(resolve(R"("r={{props.ratio}}")"), json::value("r=1.5"));
    EXPECT_EQ(resolve(R"("on={{ props.on }}")"), json::value("on=true"));
    EXPECT_EQ(resolve(R"("none={{props.none}}")"), json::value("none=null"));
    EXPECT_EQ(resolve(R"("cfg={{props.cfg}}")"), json::value(R"(cfg={"a":1,"b":[true,null]})"));
    EXPECT_EQ(resolve(R"("list={{props.list}}")"), json::value(R"(list=[1,"x"])"));
    EXPECT_EQ(resolve(R"("{{props.who}} has {{nodes.bal.output.balance}} wei")"),
              json::value("0xabc has 0x10 wei"));
}

TEST_F(TemplateResolution, ResolvesInsideNestedObjectsAndArrays) {
    EXPECT_EQ(resolve(R"({"chainId": "{{props.chain}}", "method": "eth_getBalance",
                          "params": ["{{props.who}}", {"block": ["{{nodes.bal.output.balance}}", 5]},
                                     "at {{props.chain}}", null, false, 2.5]})"),
              json::parse(R"({"chainId": 1, "method": "eth_getBalance",
                              "params": ["0xabc", {"block": ["0x10", 5]}, "at 1", null, false, 2.5]})"));
}

TEST_F(TemplateResolution, WalksNodeOutputFieldsAndIndexes) {
    EXPECT_EQ(resolve(R"("{{nodes.bal.output.balance}}")"), json::value("0x10"));
    EXPECT_EQ(resolve(R"("{{nodes.bal.output.items.1.name}}")"), json::value("second"));
    EXPECT_EQ(resolve(R"("{{nodes.bal.output.nested.deep.er}}")"), json::value(42));
    EXPECT_EQ(resolve(R"("{{nodes.bal.output.items.0}}")"), json::parse(R"({"name": "first"})"));
    EXPECT_EQ(resolve(R"("{{nodes.bal.output}}")"), outputs_.at("bal"));
}

TEST_F(TemplateResolution, SubstitutedTextIsNotResolvedAgain) {
    props_["sneaky"] = "{{props.chain}}";
    EXPECT_EQ(resolve(R"("{{props.sneaky}}")"), json::value("{{props.chain}}"));
    EXPECT_EQ(resolve(R"("x{{props.sneaky}}")"), json::value("x{{props.chain}}"));
}

TEST_F(TemplateResolution, ValuesWithoutTemplatesAreUnchanged) {
    const char* text = R"({"a": [1, -2, 3.5, true, null, "plain }} text {", {"b": "c"}]})";
    EXPECT_EQ(resolve(text), json::parse(text));
}

TEST_F(TemplateResolution, ReferenceToNothingNamesTheTemplate) {
    EXPECT_EQ(failure(R"("{{props.missing}}")"),
              "template {{props.missing}} refers to nothing: no prop \"missing\" was given");
    EXPECT_EQ(failure(R"({"a": ["x {{ props.missing }} y"]})"),
              "template {{ props.missing }} refers to nothing: no prop \"missing\" was given");
    EXPECT_EQ(
        failure(R"("{{nodes.pending.output}}")"),
        "template {{nodes.pending.output}} refers to nothing: node \"pending\" has no output");
    EXPECT_EQ(failure(R"("{{nodes.bal.output.value}}")"),
              "template {{nodes.bal.output.value}} refers to nothing: node \"bal\" has no field "
              "\"value\"");
    EXPECT_EQ(failure(R"("{{nodes.bal.output.nested.deep.gone}}")"),
              "template {{nodes.bal.output.nested.deep.gone}} refers to nothing: node \"bal\" has "
              "no field \"nested.deep.gone\"");
    EXPECT_EQ(failure(R"("{{nodes.bal.output.items.2}}")"),
              "template {{nodes.bal.output.items.2}} refers to nothing: node \"bal\" has no field "
              "\"items.2\"");
    EXPECT_EQ(failure(R"("{{nodes.bal.output.items.first}}")"),
              "template {{nodes.bal.output.items.first}} refers to nothing: node \"bal\" has no "
              "field \"items.first\"");
    EXPECT_EQ(
        failure(R"("{{nodes.bal.output.balance.x}}")"),
        "template {{nodes.bal.output.balance.x}} refers to nothing: node \"bal\" has no field "
        "\"balance.x\"");
    EXPECT_EQ(
        failure(R"("{{nodes.root.output.x}}")"),
        "template {{nodes.root.output.x}} refers to nothing: node \"root\" has no field \"x\"");
    EXPECT_EQ(failure(R"("{{inputs.amount}}")"),
              "template {{inputs.amount}} refers to nothing: no input \"amount\" was given");
}

TEST_F(TemplateResolution, MissingContextRefersToNothing) {
    const TemplateContext empty;
    auto r = resolve_templates(json::value("{{props.chain}}"), empty);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "template {{props.chain}} refers to nothing: no prop \"chain\" was given");
    r = resolve_templates(json::value("{{nodes.bal.output}}"), empty);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(),
              "template {{nodes.bal.output}} refers to nothing: node \"bal\" has no output");
}

TEST_F(TemplateResolution, InputsResolveInsideBlocks) {
    const json::object inputs = json::parse(R"({"amount": "1000"})").as_object();
    TemplateContext ctx = ctx_;
    ctx.inputs = &inputs;
    auto r = resolve_templates(json::parse(R"(["{{inputs.amount}}", "{{props.chain}}"])"), ctx);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, json::parse(R"(["1000", 1])"));
}

TEST_F(TemplateResolution, MalformedTemplatesFail) {
    EXPECT_EQ(failure(R"("{{props}}")"), "invalid template \"{{props}}\"" + kHelp);
    EXPECT_EQ(failure(R"({"a": "x {{props.a b}}"})"), "invalid template \"{{props.a b}}\"" + kHelp);
    EXPECT_EQ(failure(R"("{{props.chain")"), "unclosed template \"{{props.chain\": no closing }}");
}

TEST_F(TemplateResolution, NestingIsBounded) {
    std::string ok = "\"{{props.chain}}\"";
    for (std::size_t i = 0; i < kMaxTemplateDepth; ++i) {
        ok = "[" + ok + "]";
    }
    EXPECT_TRUE(resolve_templates(json::parse(ok, {}, {.max_depth = 100}), ctx_));
    const std::string too_deep = "[" + ok + "]";
    auto r = resolve_templates(json::parse(too_deep, {}, {.max_depth = 100}), ctx_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), "props nest deeper than 64 levels");
}

}  // namespace
}  // namespace forkrun::controller
