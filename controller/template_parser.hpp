// The `{{...}}` references in node props' strings: their grammar, a string split into literal
// text and references, and the syntax errors of a whole value, each message naming the template.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include "controller/field_error.hpp"

namespace forkrun::controller {

/// Where a template takes its value from.
enum class TemplateSource {
    kProps,       ///< `{{props.<key>}}`: a propValue of the run
    kNodeOutput,  ///< `{{nodes.<id>.output[.<field>...]}}`: an earlier node's output
    kInputs,      ///< `{{inputs.<key>}}`: an input of a block-library sub-graph
};

/// One parsed `{{...}}` reference. Views point into the parsed string.
struct TemplateRef {
    TemplateSource source = TemplateSource::kProps;
    std::string_view name;                 ///< prop key, node id or input key
    std::vector<std::string_view> fields;  ///< fields (or all-digit array indexes) to walk
};

/// A piece of a string: literal text, or one template (then `text` is the template as written,
/// braces included).
struct TemplatePiece {
    std::string_view text;
    std::optional<TemplateRef> ref;
};

/// Splits `s` into literal text and templates. Fails on an unclosed `{{` or on anything inside
/// `{{ }}` that is not a reference; the message names the offending template.
boost::system::result<std::vector<TemplatePiece>, std::string> parse_template_string(
    std::string_view s);

/// Whether `s` contains a template opening `{{` (valid or not).
bool has_templates(std::string_view s);

/// Adds one error per string in `v` (searched through nested objects and arrays, without
/// recursion) whose template syntax is invalid. `path` is the JSON pointer of `v`. `{{inputs.x}}`
/// is an error unless `allow_inputs` (only block-library sub-graphs have inputs).
void collect_template_errors(const boost::json::value& v,
                             std::string_view path,
                             FieldErrors& errors,
                             bool allow_inputs = false);

}  // namespace forkrun::controller
