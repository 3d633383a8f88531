// Tests for propValues checked against a definition's inputSchema: required keys, declared
// types, undeclared keys, and schema entries that are themselves broken.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "controller/field_error_print.hpp"
#include "controller/workflow_validation.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const char* const kSchema = R"([
    {"key": "chain", "type": "number", "required": true},
    {"key": "who", "type": "string"},
    {"key": "flag", "type": "boolean"},
    {"key": "cfg", "type": "object"},
    {"key": "list", "type": "array"}
])";

FieldErrors check_values(const char* values, const char* schema = kSchema) {
    const json::value v = json::parse(values);
    const json::value s = json::parse(schema);
    return validate_prop_values(&v, &s);
}

TEST(ValidationPropValues, AcceptsValuesOfTheirDeclaredTypes) {
    EXPECT_THAT(check_values(R"({"chain":1,"who":"me","flag":false,"cfg":{},"list":[]})"),
                IsEmpty());
    EXPECT_THAT(check_values(R"({"chain":18446744073709551615})"), IsEmpty());
    EXPECT_THAT(check_values(R"({"chain":-2.5})"), IsEmpty());
}

TEST(ValidationPropValues, RequiredKeyMissing) {
    EXPECT_THAT(check_values("{}"),
                ElementsAre(FieldError{"/propValues/chain", "chain is required by inputSchema"}));
    const json::value schema = json::parse(kSchema);
    EXPECT_THAT(validate_prop_values(nullptr, &schema),
                ElementsAre(FieldError{"/propValues/chain", "chain is required by inputSchema"}));
}

TEST(ValidationPropValues, EachTypeIsChecked) {
    EXPECT_THAT(check_values(R"({"chain":"1","who":1,"flag":"true","cfg":[],"list":{}})"),
                ElementsAre(FieldError{"/propValues/chain", "chain must be a number"},
                            FieldError{"/propValues/who", "who must be a string"},
                            FieldError{"/propValues/flag", "flag must be a boolean"},
                            FieldError{"/propValues/cfg", "cfg must be an object"},
                            FieldError{"/propValues/list", "list must be an array"}));
    EXPECT_THAT(check_values(R"({"chain":1,"who":null})"),
                ElementsAre(FieldError{"/propValues/who", "who must be a string"}));
}

TEST(ValidationPropValues, UndeclaredKeys) {
    EXPECT_THAT(
        check_values(R"({"chain":1,"a/b":2})"),
        ElementsAre(FieldError{"/propValues/a~1b", "\"a/b\" is not declared in inputSchema"}));
    const json::value values = json::parse(R"({"x":1})");
    EXPECT_THAT(validate_prop_values(&values, nullptr),
                ElementsAre(FieldError{"/propValues/x", "\"x\" is not declared in inputSchema"}));
}

TEST(ValidationPropValues, NotAnObject) {
    EXPECT_THAT(check_values("[]"),
                ElementsAre(FieldError{"/propValues", "propValues must be an object"}));
    const json::value null_values;
    EXPECT_THAT(validate_prop_values(&null_values, nullptr), IsEmpty());
}

TEST(ValidationPropValues, BrokenSchemaEntriesAreSkipped) {
    // Bad type: declared, but its type is unknown. Bad required: not enforced. Bad key: nothing
    // said about it. Duplicate: the first declaration counts.
    const char* schema = R"([
        {"key": "t", "type": "date"},
        {"key": "r", "type": "string", "required": "yes"},
        {"key": "bad key", "type": "string", "required": true},
        {"key": "d", "type": "number"},
        {"key": "d", "type": "string"}
    ])";
    EXPECT_THAT(check_values(R"({"t":"x","bad key":5,"d":1})", schema), IsEmpty());
    EXPECT_THAT(check_values(R"({"d":"1"})", schema),
                ElementsAre(FieldError{"/propValues/d", "d must be a number"}));
    // A schema that is not an array declares nothing we can rely on: no undeclared-key errors.
    EXPECT_THAT(check_values(R"({"anything":1})", "{}"), IsEmpty());
}

TEST(ValidationPropValues, UsesTheGivenBasePath) {
    const json::value schema = json::parse(kSchema);
    EXPECT_THAT(
        validate_prop_values(nullptr, &schema, "/body/propValues"),
        ElementsAre(FieldError{"/body/propValues/chain", "chain is required by inputSchema"}));
}

}  // namespace
}  // namespace forkrun::controller
