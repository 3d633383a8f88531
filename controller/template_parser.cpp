// The `{{...}}` grammar: one parser shared by validation (syntax) and execution (resolution).
#include "controller/template_parser.hpp"

#include "controller/field_error.hpp"
#include "controller/node_types.hpp"

namespace forkrun::controller {

namespace json = boost::json;

namespace {

using Pieces = boost::system::result<std::vector<TemplatePiece>, std::string>;

constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";
// Quoted user text in messages is cut here, so one huge string cannot bloat a 400.
constexpr std::size_t kMaxQuoted = 80;

// Output fields are not length-limited like ids, but share their alphabet.
bool is_output_field(std::string_view s) {
    for (char c : s) {
        if (!is_valid_id(std::string_view(&c, 1))) {
            return false;
        }
    }
    return !s.empty();
}

bool is_reference_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim_reference(std::string_view s) {
    while (!s.empty() && is_reference_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_reference_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

std::string template_excerpt(std::string_view s) {
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

std::vector<std::string_view> split_reference(std::string_view s, char sep) {
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
    const std::vector<std::string_view> parts = split_reference(trim_reference(inner), '.');
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
        if (!is_output_field(parts[i])) {
            return std::nullopt;
        }
        ref.fields.push_back(parts[i]);
    }
    return ref;
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
            return Pieces(boost::system::in_place_error,
                          "unclosed template " + in_quotes(template_excerpt(s.substr(open))) +
                              ": no closing }}");
        }
        const std::string_view text = s.substr(open, close + kClose.size() - open);
        std::optional<TemplateRef> ref =
            parse_reference(text.substr(kOpen.size(), text.size() - kOpen.size() - kClose.size()));
        if (!ref) {
            return Pieces(boost::system::in_place_error,
                          "invalid template " + in_quotes(template_excerpt(text)) +
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
                errors.push_back({at, "invalid template " +
                                          in_quotes(template_excerpt(piece.text)) +
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

}  // namespace forkrun::controller
