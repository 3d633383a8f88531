// The `{{...}}` parser: a string split into text and references, each reference's source, name
// and fields, and every malformed template refused with its exact message, wherever in a value
// its string is.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "controller/field_error_print.hpp"
#include "controller/template_parser.hpp"

namespace forkrun::controller {

namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kParserHelp =
    ": use {{props.<key>}}, {{nodes.<id>.output}} or {{nodes.<id>.output.<field>}}";

struct TemplateSyntaxCase {
    std::string text;
    std::string error;  ///< empty when the text is valid
};

class TemplateSyntax : public ::testing::TestWithParam<TemplateSyntaxCase> {};

TEST_P(TemplateSyntax, IsCheckedWhereverTheStringIs) {
    const TemplateSyntaxCase& c = GetParam();
    FieldErrors errors;
    collect_template_errors(json::value(c.text), "/p", errors);
    if (c.error.empty()) {
        EXPECT_THAT(errors, IsEmpty()) << c.text;
        EXPECT_TRUE(parse_template_string(c.text).has_value());
    } else {
        EXPECT_THAT(errors, ElementsAre(FieldError{"/p", c.error})) << c.text;
        auto parsed = parse_template_string(c.text);
        ASSERT_FALSE(parsed.has_value());
        EXPECT_EQ(parsed.error(), c.error);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Template,
    TemplateSyntax,
    ::testing::Values(
        TemplateSyntaxCase{"plain text", ""},
        TemplateSyntaxCase{"}} only closes", ""},
        TemplateSyntaxCase{"{{props.a}}", ""},
        TemplateSyntaxCase{"{{ props.a_1-B }}", ""},
        TemplateSyntaxCase{"{{nodes.n-1.output}}", ""},
        TemplateSyntaxCase{"{{nodes.n.output.a.0.b_c}}", ""},
        TemplateSyntaxCase{"0x{{props.a}}{{nodes.b.output}} and more", ""},
        TemplateSyntaxCase{"{{props}}", "invalid template \"{{props}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{props.a.b}}", "invalid template \"{{props.a.b}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{props.}}", "invalid template \"{{props.}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{nodes.x}}", "invalid template \"{{nodes.x}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{nodes.x.result}}",
                           "invalid template \"{{nodes.x.result}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{nodes.x.output.}}",
                           "invalid template \"{{nodes.x.output.}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{nodes.x.output..a}}",
                           "invalid template \"{{nodes.x.output..a}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{nodes.x.output.a b}}",
                           "invalid template \"{{nodes.x.output.a b}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{ }}", "invalid template \"{{ }}\"" + kParserHelp},
        TemplateSyntaxCase{"{{}}", "invalid template \"{{}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{env.HOME}}", "invalid template \"{{env.HOME}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{{props.a}}}", "invalid template \"{{{props.a}}\"" + kParserHelp},
        TemplateSyntaxCase{"ok {{props.a}} then {{bad}}",
                           "invalid template \"{{bad}}\"" + kParserHelp},
        TemplateSyntaxCase{
            "{{props." + std::string(65, 'k') + "}}",
            "invalid template \"{{props." + std::string(65, 'k') + "}}\"" + kParserHelp},
        TemplateSyntaxCase{"{{props.a", "unclosed template \"{{props.a\": no closing }}"},
        TemplateSyntaxCase{"{{props.a} }", "unclosed template \"{{props.a} }\": no closing }}"},
        TemplateSyntaxCase{"x {{props.a}} {{", "unclosed template \"{{\": no closing }}"},
        TemplateSyntaxCase{
            "{{" + std::string(200, 'z'),
            "unclosed template \"{{" + std::string(78, 'z') + "...\": no closing }}"}));

TEST(TemplateSyntaxWalk, ReportsEveryBadStringWithItsPointer) {
    FieldErrors errors;
    collect_template_errors(json::parse(R"({"a/b": ["{{x}}", {"c~d": "{{props.ok}}", "e": "{{y"}],
                                            "f": 1, "g": "{{inputs.i}}"})"),
                            "/n/props", errors);
    EXPECT_THAT(
        errors,
        ElementsAre(FieldError{"/n/props/a~1b/0", "invalid template \"{{x}}\"" + kParserHelp},
                    FieldError{"/n/props/a~1b/1/e", "unclosed template \"{{y\": no closing }}"},
                    FieldError{"/n/props/g",
                               "invalid template \"{{inputs.i}}\": inputs exist only "
                               "inside a block"}));
    FieldErrors in_block;
    collect_template_errors(json::value("{{inputs.i}}"), "/b", in_block, true);
    EXPECT_THAT(in_block, IsEmpty());
}

TEST(TemplateParse, SplitsTextAndReferences) {
    auto pieces = parse_template_string("send {{ props.amount }} to {{nodes.a.output.x.1}}");
    ASSERT_TRUE(pieces);
    ASSERT_EQ(pieces->size(), 4u);
    EXPECT_EQ((*pieces)[0].text, "send ");
    EXPECT_FALSE((*pieces)[0].ref);
    EXPECT_EQ((*pieces)[1].text, "{{ props.amount }}");
    ASSERT_TRUE((*pieces)[1].ref);
    EXPECT_EQ((*pieces)[1].ref->source, TemplateSource::kProps);
    EXPECT_EQ((*pieces)[1].ref->name, "amount");
    EXPECT_EQ((*pieces)[2].text, " to ");
    ASSERT_TRUE((*pieces)[3].ref);
    EXPECT_EQ((*pieces)[3].ref->source, TemplateSource::kNodeOutput);
    EXPECT_EQ((*pieces)[3].ref->name, "a");
    EXPECT_THAT((*pieces)[3].ref->fields, ElementsAre("x", "1"));
    EXPECT_TRUE(has_templates("a {{"));
    EXPECT_FALSE(has_templates("a { { }}"));
    EXPECT_THAT(*parse_template_string(""), IsEmpty());
}

// Found by fuzz_templates: the 80-byte excerpt quoted in a message cut a UTF-8 character in two,
// so the 400 (or the node error) carrying it was not valid JSON.
TEST(TemplateParse, ExcerptsInMessagesKeepUtf8CharactersWhole) {
    std::string text = "{{a";
    for (int i = 0; i < 60; ++i) {
        text += "\u00e9";  // 2 bytes each: byte 80 of the template is inside one
    }
    auto pieces = parse_template_string(text);
    ASSERT_FALSE(pieces);
    EXPECT_EQ(pieces.error(), "unclosed template \"" + text.substr(0, 79) + "...\": no closing }}");
}

TEST(TemplateParse, ANodeOfABlockIsNamedWithItsBlockAndInputsAreTheirOwnSource) {
    auto pieces = parse_template_string("{{nodes.blk.sub.output.v}}{{inputs.amount}}");
    ASSERT_TRUE(pieces);
    ASSERT_EQ(pieces->size(), 2u);
    ASSERT_TRUE((*pieces)[0].ref);
    EXPECT_EQ((*pieces)[0].ref->source, TemplateSource::kNodeOutput);
    EXPECT_EQ((*pieces)[0].ref->name, "blk.sub");
    EXPECT_THAT((*pieces)[0].ref->fields, ElementsAre("v"));
    ASSERT_TRUE((*pieces)[1].ref);
    EXPECT_EQ((*pieces)[1].ref->source, TemplateSource::kInputs);
    EXPECT_EQ((*pieces)[1].ref->name, "amount");
    EXPECT_THAT((*pieces)[1].ref->fields, IsEmpty());
}

TEST(TemplateParse, ReferencesBeyondTheGrammarAreRefusedWithTheirText) {
    for (const std::string text : {"{{nodes.a.b.c.output}}", "{{inputs.a.b}}", "{{nodes..output}}",
                                   "{{Props.a}}", "{{props.a.}}", "{{nodes.a.output.x y}}"}) {
        const auto pieces = parse_template_string(text);
        ASSERT_FALSE(pieces) << text;
        const std::string written = text.substr(0, text.find("}}") + 2);
        EXPECT_EQ(pieces.error(), "invalid template \"" + written + "\"" + kParserHelp);
    }
    // An output field may itself be "output" once the node's id has ended.
    EXPECT_TRUE(parse_template_string("{{nodes.a.output.output}}"));
}

}  // namespace
}  // namespace forkrun::controller
