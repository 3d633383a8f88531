// Templates resolved: each reference looked up in the run's props, inputs or node outputs, and the
// value rebuilt within the size limits while it is made.
#include "controller/templates.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <system_error>
#include <utility>

#include <boost/json/serialize.hpp>

#include "controller/limits.hpp"
#include "controller/node_types.hpp"

namespace forkrun::controller {

namespace json = boost::json;

namespace {

using Resolved = boost::system::result<json::value, TemplateFailure>;
// A lookup fails the way the whole resolution does (a kReference failure), and is passed on.
using Lookup = boost::system::result<const json::value*, TemplateFailure>;

std::string refers_to_nothing(std::string_view written, std::string_view why) {
    std::string message = "template ";
    message.append(written).append(" refers to nothing: ").append(why);
    return message;
}

const json::value* child_of(const json::value& v, std::string_view field) {
    if (const json::object* o = v.if_object()) {
        const auto it = o->find(field);
        return it == o->end() ? nullptr : &it->value();
    }
    if (const json::array* a = v.if_array()) {
        std::size_t index = 0;
        const char* end = field.data() + field.size();
        const auto [ptr, ec] = std::from_chars(field.data(), end, index);
        if (ec != std::errc() || ptr != end || index >= a->size()) {
            return nullptr;
        }
        return &(*a)[index];
    }
    return nullptr;
}

Lookup fail_lookup_reference(std::string message) {
    return Lookup(boost::system::in_place_error,
                  TemplateFailure{TemplateFailure::Kind::kReference, std::move(message)});
}

Lookup lookup_reference(const TemplatePiece& piece, const TemplateContext& ctx) {
    const TemplateRef& ref = *piece.ref;
    switch (ref.source) {
        case TemplateSource::kProps:
        case TemplateSource::kInputs: {
            const bool is_props = ref.source == TemplateSource::kProps;
            const json::object* values = is_props ? ctx.props : ctx.inputs;
            if (values != nullptr) {
                if (const auto it = values->find(ref.name); it != values->end()) {
                    return &it->value();
                }
            }
            return fail_lookup_reference(refers_to_nothing(
                piece.text,
                (is_props ? "no prop " : "no input ") + in_quotes(ref.name) + " was given"));
        }
        case TemplateSource::kNodeOutput:
            break;
    }
    const json::value* current = ctx.node_output ? ctx.node_output(ref.name) : nullptr;
    if (current == nullptr) {
        return fail_lookup_reference(
            refers_to_nothing(piece.text, "node " + in_quotes(ref.name) + " has no output"));
    }
    std::string walked;
    for (std::string_view field : ref.fields) {
        if (!walked.empty()) {
            walked.push_back('.');
        }
        walked.append(field);
        current = child_of(*current, field);
        if (current == nullptr) {
            return fail_lookup_reference(refers_to_nothing(
                piece.text, "node " + in_quotes(ref.name) + " has no field " + in_quotes(walked)));
        }
    }
    return current;
}

Resolved fail_resolve(std::string message,
                      TemplateFailure::Kind kind = TemplateFailure::Kind::kReference) {
    return Resolved(boost::system::in_place_error, TemplateFailure{kind, std::move(message)});
}

// What is left of the size limits while one value resolves.
struct ResolveBudget {
    std::size_t max_string = 0;  // 0: no limit
    std::size_t left = std::numeric_limits<std::size_t>::max();

    // Takes `n` bytes; false when fewer are left.
    bool take(std::size_t n) {
        if (n > left) {
            return false;
        }
        left -= n;
        return true;
    }
};

Resolved too_big_resolved() {
    return fail_resolve("the resolved props pass their size limit", TemplateFailure::Kind::kTooBig);
}

Resolved too_long_built(std::size_t limit) {
    return fail_resolve(too_large("a string built from templates", limit, kMaxTemplateStringBytes),
                        TemplateFailure::Kind::kLongString);
}

Resolved resolve_string(const json::string& s, const TemplateContext& ctx, ResolveBudget& budget) {
    const std::string_view text(s.data(), s.size());
    if (!has_templates(text)) {
        return budget.take(text.size() + 2) ? Resolved(json::value(s)) : too_big_resolved();
    }
    auto pieces = parse_template_string(text);
    if (!pieces) {
        return fail_resolve(pieces.error());
    }
    if (pieces->size() == 1 && pieces->front().ref) {
        auto found = lookup_reference(pieces->front(), ctx);
        if (!found) {
            return Resolved(boost::system::in_place_error, found.error());
        }
        // Measured before it is copied: a big value referenced many times is copied only while
        // the budget lasts.
        if (!budget.take(json_size(**found, budget.left))) {
            return too_big_resolved();
        }
        return json::value(**found);
    }
    // The longest the string may grow: the string limit, and what the budget has left.
    std::size_t room = budget.left >= 2 ? budget.left - 2 : 0;
    if (budget.max_string != 0) {
        room = std::min(room, budget.max_string);
    }
    auto over = [&] {
        return budget.max_string != 0 && room == budget.max_string ? too_long_built(room)
                                                                   : too_big_resolved();
    };
    std::string out;
    std::string text_of;
    for (const TemplatePiece& piece : *pieces) {
        std::string_view add = piece.text;
        if (piece.ref) {
            auto found = lookup_reference(piece, ctx);
            if (!found) {
                return Resolved(boost::system::in_place_error, found.error());
            }
            if (const json::string* str = (*found)->if_string()) {
                add = std::string_view(str->data(), str->size());
            } else if ((*found)->is_structured() &&
                       json_size(**found, room - out.size()) > room - out.size()) {
                return over();  // never printed whole
            } else {
                text_of = template_text(**found);
                add = text_of;
            }
        }
        if (add.size() > room - out.size()) {
            return over();
        }
        out.append(add);
    }
    budget.take(out.size() + 2);
    return json::value(json::string(out));
}

// `depth` counts the objects and arrays around `v`; recursion is bounded by kMaxTemplateDepth.
Resolved resolve_value(const json::value& v,
                       const TemplateContext& ctx,
                       std::size_t depth,
                       ResolveBudget& budget) {
    if ((v.is_object() || v.is_array()) && depth >= kMaxTemplateDepth) {
        return fail_resolve("props nest deeper than " + std::to_string(kMaxTemplateDepth) +
                            " levels");
    }
    if (const json::object* o = v.if_object()) {
        if (!budget.take(2)) {
            return too_big_resolved();
        }
        json::object out;
        out.reserve(o->size());
        for (const auto& entry : *o) {
            if (!budget.take(entry.key().size() + 4)) {
                return too_big_resolved();
            }
            auto r = resolve_value(entry.value(), ctx, depth + 1, budget);
            if (!r) {
                return r;
            }
            out.insert_or_assign(entry.key(), std::move(*r));
        }
        return json::value(std::move(out));
    }
    if (const json::array* a = v.if_array()) {
        if (!budget.take(2)) {
            return too_big_resolved();
        }
        json::array out;
        out.reserve(a->size());
        for (const json::value& element : *a) {
            if (!budget.take(1)) {
                return too_big_resolved();
            }
            auto r = resolve_value(element, ctx, depth + 1, budget);
            if (!r) {
                return r;
            }
            out.push_back(std::move(*r));
        }
        return json::value(std::move(out));
    }
    if (const json::string* s = v.if_string()) {
        return resolve_string(*s, ctx, budget);
    }
    return budget.take(json_size(v, budget.left)) ? Resolved(v) : too_big_resolved();
}

}  // namespace

std::string template_text(const json::value& v) {
    if (const json::string* s = v.if_string()) {
        return std::string(s->data(), s->size());
    }
    if (const double* d = v.if_double()) {
        // Boost.JSON would print 1.5 as "1.5E0"; shortest round-trip text reads better in a string.
        char buffer[32];
        const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, *d);
        if (ec == std::errc()) {
            return std::string(buffer, end);
        }
    }
    return json::serialize(v);
}

boost::system::result<json::value, std::string> resolve_templates(const json::value& v,
                                                                  const TemplateContext& ctx) {
    auto r = resolve_templates_within(v, ctx);
    if (!r) {
        return boost::system::result<json::value, std::string>(boost::system::in_place_error,
                                                               std::move(r.error().message));
    }
    return std::move(*r);
}

Resolved resolve_templates_within(const json::value& v, const TemplateContext& ctx) {
    ResolveBudget budget;
    budget.max_string = ctx.max_string_bytes;
    if (ctx.max_total_bytes != 0) {
        budget.left = ctx.max_total_bytes;
    }
    return resolve_value(v, ctx, 0, budget);
}

}  // namespace forkrun::controller
