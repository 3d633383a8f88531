// Templates in node props: one parser shared by validation (syntax) and execution (resolution).
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

using Pieces = boost::system::result<std::vector<TemplatePiece>, std::string>;
using Resolved = boost::system::result<json::value, TemplateFailure>;
using Lookup = boost::system::result<const json::value*, std::string>;

constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";
// Quoted user text in messages is cut here, so one huge string cannot bloat a 400.
constexpr std::size_t kMaxQuoted = 80;

// Output fields are not length-limited like ids, but share their alphabet.
bool is_field(std::string_view s) {
    for (char c : s) {
        if (!is_valid_id(std::string_view(&c, 1))) {
            return false;
        }
    }
    return !s.empty();
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

std::string excerpt(std::string_view s) {
    if (s.size() <= kMaxQuoted) {
        return std::string(s);
    }
    // Cut before a UTF-8 continuation byte, so the message stays valid UTF-8 (and valid JSON).
    std::size_t cut = kMaxQuoted;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) {
        --cut;
    }
    return std::string(s.substr(0, cut)) + "...";
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = s.find(sep, start);
        if (end == std::string_view::npos) {
            parts.push_back(s.substr(start));
            return parts;
        }
        parts.push_back(s.substr(start, end - start));
        start = end + 1;
    }
}

std::optional<TemplateRef> parse_reference(std::string_view inner) {
    const std::vector<std::string_view> parts = split(trim(inner), '.');
    if (parts.size() < 2 || !is_valid_id(parts[1])) {
        return std::nullopt;
    }
    TemplateRef ref;
    ref.name = parts[1];
    if (parts[0] == "props" || parts[0] == "inputs") {
        if (parts.size() != 2) {
            return std::nullopt;
        }
        ref.source = parts[0] == "props" ? TemplateSource::kProps : TemplateSource::kInputs;
        return ref;
    }
    if (parts[0] != "nodes") {
        return std::nullopt;
    }
    // A node id is one id, or `<blockNode>.<subId>` for a node of a block expansion: the id runs
    // up to the first `output` segment (block files may not name a node `output`).
    std::size_t output_at = 2;
    while (output_at < parts.size() && parts[output_at] != "output") {
        if (!is_valid_id(parts[output_at])) {
            return std::nullopt;
        }
        ++output_at;
    }
    if (output_at >= parts.size() || output_at > 3) {
        return std::nullopt;
    }
    const std::string_view& last = parts[output_at - 1];
    ref.name = std::string_view(
        parts[1].data(), static_cast<std::size_t>(last.data() + last.size() - parts[1].data()));
    ref.source = TemplateSource::kNodeOutput;
    for (std::size_t i = output_at + 1; i < parts.size(); ++i) {
        if (!is_field(parts[i])) {
            return std::nullopt;
        }
        ref.fields.push_back(parts[i]);
    }
    return ref;
}

std::string nothing(std::string_view written, std::string_view why) {
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

Lookup fail_lookup(std::string message) {
    return Lookup(boost::system::in_place_error, std::move(message));
}

Lookup lookup(const TemplatePiece& piece, const TemplateContext& ctx) {
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
            return fail_lookup(nothing(piece.text, (is_props ? "no prop " : "no input ") +
                                                       in_quotes(ref.name) + " was given"));
        }
        case TemplateSource::kNodeOutput:
            break;
    }
    const json::value* current = ctx.node_output ? ctx.node_output(ref.name) : nullptr;
    if (current == nullptr) {
        return fail_lookup(nothing(piece.text, "node " + in_quotes(ref.name) + " has no output"));
    }
    std::string walked;
    for (std::string_view field : ref.fields) {
        if (!walked.empty()) {
            walked.push_back('.');
        }
        walked.append(field);
        current = child_of(*current, field);
        if (current == nullptr) {
            return fail_lookup(nothing(
                piece.text, "node " + in_quotes(ref.name) + " has no field " + in_quotes(walked)));
        }
    }
    return current;
}

Resolved fail(std::string message, TemplateFailure::Kind kind = TemplateFailure::Kind::kReference) {
    return Resolved(boost::system::in_place_error, TemplateFailure{kind, std::move(message)});
}

// What is left of the size limits while one value resolves.
struct Budget {
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

Resolved too_big() {
    return fail("the resolved props pass their size limit", TemplateFailure::Kind::kTooBig);
}

Resolved too_long(std::size_t limit) {
    return fail(too_large("a string built from templates", limit, kMaxTemplateStringBytes),
                TemplateFailure::Kind::kLongString);
}

Resolved resolve_string(const json::string& s, const TemplateContext& ctx, Budget& budget) {
    const std::string_view text(s.data(), s.size());
    if (!has_templates(text)) {
        return budget.take(text.size() + 2) ? Resolved(json::value(s)) : too_big();
    }
    auto pieces = parse_template_string(text);
    if (!pieces) {
        return fail(pieces.error());
    }
    if (pieces->size() == 1 && pieces->front().ref) {
        auto found = lookup(pieces->front(), ctx);
        if (!found) {
            return fail(found.error());
        }
        // Measured before it is copied: a big value referenced many times is copied only while
        // the budget lasts.
        if (!budget.take(json_size(**found, budget.left))) {
            return too_big();
        }
        return json::value(**found);
    }
    // The longest the string may grow: the string limit, and what the budget has left.
    std::size_t room = budget.left >= 2 ? budget.left - 2 : 0;
    if (budget.max_string != 0) {
        room = std::min(room, budget.max_string);
    }
    auto over = [&] {
        return budget.max_string != 0 && room == budget.max_string ? too_long(room) : too_big();
    };
    std::string out;
    std::string text_of;
    for (const TemplatePiece& piece : *pieces) {
        std::string_view add = piece.text;
        if (piece.ref) {
            auto found = lookup(piece, ctx);
            if (!found) {
                return fail(found.error());
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
Resolved resolve(const json::value& v,
                 const TemplateContext& ctx,
                 std::size_t depth,
                 Budget& budget) {
    if ((v.is_object() || v.is_array()) && depth >= kMaxTemplateDepth) {
        return fail("props nest deeper than " + std::to_string(kMaxTemplateDepth) + " levels");
    }
    if (const json::object* o = v.if_object()) {
        if (!budget.take(2)) {
            return too_big();
        }
        json::object out;
        out.reserve(o->size());
        for (const auto& entry : *o) {
            if (!budget.take(entry.key().size() + 4)) {
                return too_big();
            }
            auto r = resolve(entry.value(), ctx, depth + 1, budget);
            if (!r) {
                return r;
            }
            out.insert_or_assign(entry.key(), std::move(*r));
        }
        return json::value(std::move(out));
    }
    if (const json::array* a = v.if_array()) {
        if (!budget.take(2)) {
            return too_big();
        }
        json::array out;
        out.reserve(a->size());
        for (const json::value& element : *a) {
            if (!budget.take(1)) {
                return too_big();
            }
            auto r = resolve(element, ctx, depth + 1, budget);
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
    return budget.take(json_size(v, budget.left)) ? Resolved(v) : too_big();
}

}  // namespace

Pieces parse_template_string(std::string_view s) {
    std::vector<TemplatePiece> pieces;
    std::size_t pos = 0;
    while (pos < s.size()) {
        const std::size_t open = s.find(kOpen, pos);
        if (open == std::string_view::npos) {
            pieces.push_back({s.substr(pos), std::nullopt});
            break;
        }
        if (open > pos) {
            pieces.push_back({s.substr(pos, open - pos), std::nullopt});
        }
        const std::size_t close = s.find(kClose, open + kOpen.size());
        if (close == std::string_view::npos) {
            return Pieces(
                boost::system::in_place_error,
                "unclosed template " + in_quotes(excerpt(s.substr(open))) + ": no closing }}");
        }
        const std::string_view text = s.substr(open, close + kClose.size() - open);
        std::optional<TemplateRef> ref =
            parse_reference(text.substr(kOpen.size(), text.size() - kOpen.size() - kClose.size()));
        if (!ref) {
            return Pieces(boost::system::in_place_error,
                          "invalid template " + in_quotes(excerpt(text)) +
                              ": use {{props.<key>}}, {{nodes.<id>.output}} or "
                              "{{nodes.<id>.output.<field>}}");
        }
        pieces.push_back({text, std::move(ref)});
        pos = close + kClose.size();
    }
    return pieces;
}

bool has_templates(std::string_view s) {
    return s.find(kOpen) != std::string_view::npos;
}

void collect_template_errors(const json::value& v,
                             std::string_view path,
                             FieldErrors& errors,
                             bool allow_inputs) {
    auto check = [&](const json::string& s, const std::string& at) {
        const std::string_view text(s.data(), s.size());
        if (!has_templates(text)) {
            return;
        }
        auto pieces = parse_template_string(text);
        if (!pieces) {
            errors.push_back({at, pieces.error()});
            return;
        }
        if (allow_inputs) {
            return;
        }
        for (const TemplatePiece& piece : *pieces) {
            if (piece.ref && piece.ref->source == TemplateSource::kInputs) {
                errors.push_back({at, "invalid template " + in_quotes(excerpt(piece.text)) +
                                          ": inputs exist only inside a block"});
                return;
            }
        }
    };
    // An explicit stack, and one pointer string grown and cut back in place: a fuzzer-built value
    // may nest deeper than the call stack allows, and copying the pointer per level would make
    // deep values quadratic.
    struct Frame {
        const json::value* container;
        std::size_t next;
        std::size_t path_size;
    };
    std::string current(path);
    std::vector<Frame> frames;
    auto visit = [&](const json::value& child) {
        if (const json::string* s = child.if_string()) {
            check(*s, current);
        } else if (child.is_object() || child.is_array()) {
            frames.push_back({&child, 0, current.size()});
        }
    };
    visit(v);
    while (!frames.empty()) {
        Frame& frame = frames.back();
        current.resize(frame.path_size);
        if (const json::object* o = frame.container->if_object(); o && frame.next < o->size()) {
            const json::key_value_pair& entry = o->begin()[frame.next++];
            pointer_push(current, entry.key());
            visit(entry.value());
        } else if (const json::array* a = frame.container->if_array();
                   a && frame.next < a->size()) {
            const std::size_t index = frame.next++;
            pointer_push(current, index);
            visit((*a)[index]);
        } else {
            frames.pop_back();
        }
    }
}

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
    Budget budget;
    budget.max_string = ctx.max_string_bytes;
    if (ctx.max_total_bytes != 0) {
        budget.left = ctx.max_total_bytes;
    }
    return resolve(v, ctx, 0, budget);
}

}  // namespace forkrun::controller
