// Templates in node props: parsing `{{...}}` references, checking their syntax, and resolving them.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
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

/// What templates can refer to while a run executes.
struct TemplateContext {
    const boost::json::object* props = nullptr;  ///< the run's propValues
    /// The output of a node, or null when the node has none (yet).
    std::function<const boost::json::value*(std::string_view node_id)> node_output;
    const boost::json::object* inputs = nullptr;  ///< block-library `{{inputs.x}}`, optional
    /// Longest string that text and templates may build (`"a{{props.x}}b"`); 0: no limit. A
    /// string that is exactly one template takes its value as is, counted in `max_total_bytes`.
    std::size_t max_string_bytes = 0;
    /// Most bytes (compact JSON, about) the whole resolved value may take; 0: no limit.
    std::size_t max_total_bytes = 0;
};

/// Why resolve_templates_within failed.
struct TemplateFailure {
    enum class Kind {
        kReference,   ///< a template refers to nothing, or props nest too deep
        kLongString,  ///< a built string passed TemplateContext::max_string_bytes
        kTooBig,      ///< the resolved value passed TemplateContext::max_total_bytes
    };
    Kind kind = Kind::kReference;
    std::string message;
};

/// The text a value takes inside a longer string: a string as it is, anything else as compact
/// JSON (numbers in their shortest round-trip form).
std::string template_text(const boost::json::value& v);

/// Greatest nesting of objects and arrays `resolve_templates` accepts.
inline constexpr std::size_t kMaxTemplateDepth = 64;

/// Copy of `v` with every template in every string replaced. A string that is exactly one
/// template takes the referenced value with its JSON type; a template inside longer text is
/// replaced by the value's text (strings as they are, anything else as compact JSON). Fails with
/// a message naming the template when it refers to nothing, or when `v` nests too deep.
/// Use `*r` / `r.error()`: `r.value()` does not compile for a `std::string` error.
boost::system::result<boost::json::value, std::string> resolve_templates(
    const boost::json::value& v,
    const TemplateContext& ctx);

/// resolve_templates within the context's size limits, checked while resolving: no string or
/// value past a limit is ever built, so the work and memory stay within about the limits
/// however many times a big value is referenced.
boost::system::result<boost::json::value, TemplateFailure> resolve_templates_within(
    const boost::json::value& v,
    const TemplateContext& ctx);

}  // namespace forkrun::controller
