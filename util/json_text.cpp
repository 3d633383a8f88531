// Valid JSON text: UTF-8 repair for quoted strings, and the search for non-finite numbers.
#include "util/json_text.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace forkrun::util {

namespace json = boost::json;

namespace {

// The length of the well-formed UTF-8 sequence at the start of `s` (Unicode table 3-7), or 0.
std::size_t utf8_sequence(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char b = byte(0);
    if (b < 0x80) {
        return 1;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        lo = b == 0xe0 ? 0xa0 : 0x80;
        hi = b == 0xed ? 0x9f : 0xbf;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        lo = b == 0xf0 ? 0x90 : 0x80;
        hi = b == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (s.size() < n || byte(1) < lo || byte(1) > hi) {
        return 0;
    }
    for (std::size_t i = 2; i < n; ++i) {
        if (byte(i) < 0x80 || byte(i) > 0xbf) {
            return 0;
        }
    }
    return n;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
    while (!s.empty()) {
        const std::size_t n = utf8_sequence(s);
        if (n == 0) {
            return false;
        }
        s.remove_prefix(n);
    }
    return true;
}

std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    while (!s.empty()) {
        const std::size_t n = utf8_sequence(s);
        if (n == 0) {
            out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
            s.remove_prefix(1);
        } else {
            out.append(s.substr(0, n));
            s.remove_prefix(n);
        }
    }
    return out;
}

void append_json_string(std::string& out, std::string_view s) {
    const bool plain = std::none_of(s.begin(), s.end(), [](char c) {
        return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
    });
    if (!plain) {
        out.append(json::serialize(json::string_view(s.data(), s.size())));
        return;
    }
    out.push_back('"');
    out.append(s);
    out.push_back('"');
}

std::string json_quote(std::string_view s) {
    if (is_valid_utf8(s)) {
        return json::serialize(json::string_view(s.data(), s.size()));
    }
    const std::string text = valid_utf8(s);
    return json::serialize(json::string_view(text.data(), text.size()));
}

bool may_hold_out_of_range_number(std::string_view text) {
    // A double overflows only with an exponent or with more than 308 digits before the point.
    std::size_t digits = 0;
    for (const char c : text) {
        if (c >= '0' && c <= '9') {
            if (++digits >= 300) {
                return true;
            }
            continue;
        }
        if ((c == 'e' || c == 'E') && digits > 0) {
            return true;
        }
        digits = 0;
    }
    return false;
}

std::optional<std::string> non_finite_number_in(std::string_view text,
                                                const boost::json::value& v) {
    if (!may_hold_out_of_range_number(text)) {
        return std::nullopt;
    }
    return non_finite_number_at(v);
}

std::optional<std::string> non_finite_number_at(const boost::json::value& v) {
    // An explicit stack and one pointer grown and cut back in place: replies may nest deeply.
    struct Frame {
        const boost::json::value* container;
        std::size_t next;
        std::size_t path_size;
    };
    std::string path;
    std::vector<Frame> frames;
    auto visit = [&](const boost::json::value& child) {
        if (const double* d = child.if_double()) {
            return !std::isfinite(*d);
        }
        if (child.is_object() || child.is_array()) {
            frames.push_back({&child, 0, path.size()});
        }
        return false;
    };
    if (visit(v)) {
        return path;
    }
    while (!frames.empty()) {
        Frame& frame = frames.back();
        path.resize(frame.path_size);
        path.push_back('/');
        if (const auto* o = frame.container->if_object(); o && frame.next < o->size()) {
            const auto& entry = o->begin()[frame.next++];
            for (char c : entry.key()) {
                path.append(c == '~' ? "~0" : c == '/' ? "~1" : std::string_view(&c, 1));
            }
            if (visit(entry.value())) {
                return path;
            }
        } else if (const auto* a = frame.container->if_array(); a && frame.next < a->size()) {
            const std::size_t index = frame.next++;
            path.append(std::to_string(index));
            if (visit((*a)[index])) {
                return path;
            }
        } else {
            frames.pop_back();
        }
    }
    return std::nullopt;
}

}  // namespace forkrun::util
