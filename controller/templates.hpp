// Templates in node props resolved while a run executes: each `{{...}}` reference (parsed by
// template_parser) replaced by the value it names, within the size limits.
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

#include "controller/template_parser.hpp"

namespace forkrun::controller {

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
