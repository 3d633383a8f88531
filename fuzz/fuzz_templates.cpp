// Template parsing, checking and resolution (controller/templates.hpp).
// Input: JSON. An object {"value": V, "props": {...}, "outputs": {node id: output},
// "inputs": {...}} resolves V against those; any other document is V itself, with nothing to refer
// to. Every string in V is also parsed on its own. Checks: nothing throws, crashes or recurses
// without bound; the pieces of a parsed string are the string; a string with `{{` either fails to
// parse or holds a reference; a value that collect_template_errors accepts fails to resolve only
// because a reference finds nothing (or it nests too deep); messages about the (UTF-8) input are
// UTF-8.
#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "controller/templates.hpp"
#include "fuzz/check.hpp"
#include "http/envelope.hpp"

namespace {

namespace json = boost::json;
using namespace forkrun::controller;

void check_string(std::string_view s) {
    auto pieces = parse_template_string(s);
    if (!pieces) {
        FUZZ_CHECK(has_templates(s), "only a string with {{ can fail to parse");
        FUZZ_CHECK(!pieces.error().empty(), "a parse error says why");
        FUZZ_CHECK(forkrun::http::valid_utf8(pieces.error()) == pieces.error(),
                   "messages about UTF-8 text are UTF-8");
        return;
    }
    std::string joined;
    bool any_ref = false;
    for (const TemplatePiece& piece : *pieces) {
        FUZZ_CHECK(piece.text.data() >= s.data() &&
                       piece.text.data() + piece.text.size() <= s.data() + s.size(),
                   "pieces point into the string");
        joined.append(piece.text);
        if (piece.ref) {
            any_ref = true;
            FUZZ_CHECK(piece.text.starts_with("{{") && piece.text.ends_with("}}"),
                       "a template piece is braced");
            FUZZ_CHECK(!piece.ref->name.empty(), "a reference names something");
        } else {
            FUZZ_CHECK(!piece.text.empty(), "no empty literal pieces");
        }
    }
    FUZZ_CHECK(joined == s, "the pieces are the string");
    FUZZ_CHECK(any_ref == has_templates(s), "a parsed string with {{ holds a reference");
}

// Parses every string in `v` (iteratively: the input may nest deeply).
std::size_t check_strings(const json::value& v) {
    std::size_t depth_max = 0;
    std::vector<std::pair<const json::value*, std::size_t>> stack{{&v, 0}};
    while (!stack.empty()) {
        auto [cur, depth] = stack.back();
        stack.pop_back();
        depth_max = std::max(depth_max, depth);
        if (const auto* s = cur->if_string()) {
            check_string(std::string_view(s->data(), s->size()));
        } else if (const auto* o = cur->if_object()) {
            for (const auto& e : *o) {
                stack.emplace_back(&e.value(), depth + 1);
            }
        } else if (const auto* a = cur->if_array()) {
            for (const auto& e : *a) {
                stack.emplace_back(&e, depth + 1);
            }
        }
    }
    return depth_max;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    json::parse_options opts;
    opts.max_depth = 512;
    boost::system::error_code ec;
    const json::value doc =
        json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec, {}, opts);
    if (ec) {
        return 0;
    }
    const json::value* value = &doc;
    TemplateContext ctx;
    const json::object* outputs = nullptr;
    if (const auto* o = doc.if_object(); o != nullptr && o->contains("value")) {
        value = o->if_contains("value");
        if (const auto* p = o->if_contains("props")) {
            ctx.props = p->if_object();
        }
        if (const auto* i = o->if_contains("inputs")) {
            ctx.inputs = i->if_object();
        }
        if (const auto* out = o->if_contains("outputs")) {
            outputs = out->if_object();
        }
    }
    ctx.node_output = [outputs](std::string_view id) -> const json::value* {
        return outputs ? outputs->if_contains(id) : nullptr;
    };

    const std::size_t depth = check_strings(*value);

    FieldErrors strict;
    collect_template_errors(*value, "/props", strict, false);
    FieldErrors lenient;
    collect_template_errors(*value, "/props", lenient, true);
    FUZZ_CHECK(lenient.size() <= strict.size(), "allowing inputs never adds errors");
    for (const auto& e : strict) {
        FUZZ_CHECK(e.path.starts_with("/props"), "error paths start at the value's pointer");
        FUZZ_CHECK(!e.message.empty(), "errors say why");
        FUZZ_CHECK(forkrun::http::valid_utf8(e.message) == e.message,
                   "messages about UTF-8 text are UTF-8");
    }

    auto resolved = resolve_templates(*value, ctx);
    if (!resolved) {
        const std::string& why = resolved.error();
        FUZZ_CHECK(!why.empty(), "a resolution error says why");
        FUZZ_CHECK(forkrun::http::valid_utf8(why) == why, "messages about UTF-8 text are UTF-8");
        if (lenient.empty() && depth < kMaxTemplateDepth) {
            FUZZ_CHECK(why.starts_with("template "),
                       "a syntactically valid value fails only on a reference to nothing");
        }
    } else {
        FUZZ_CHECK(lenient.empty(), "a value that resolves has valid template syntax");
        FUZZ_CHECK(value->kind() == resolved->kind() || value->is_string(),
                   "only strings change kind when resolved");
    }
    return 0;
}
