// A request problem located by a JSON pointer, so one 400 can list every problem found.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace forkrun::controller {

/// One problem in a request body: where it is and what is wrong.
struct FieldError {
    std::string path;  ///< JSON pointer (RFC 6901, keys escaped with ~0 and ~1)
    std::string message;

    friend bool operator==(const FieldError&, const FieldError&) = default;
};

using FieldErrors = std::vector<FieldError>;

/// `s` in double quotes, as a problem's message names a key, an id or a template.
inline std::string in_quotes(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return out;
}

/// Extends the pointer `path` in place by one object key, escaped per RFC 6901 (`~` -> `~0`,
/// `/` -> `~1`).
inline void pointer_push(std::string& path, std::string_view key) {
    path.push_back('/');
    for (char c : key) {
        if (c == '~') {
            path.append("~0");
        } else if (c == '/') {
            path.append("~1");
        } else {
            path.push_back(c);
        }
    }
}

/// Extends the pointer `path` in place by one array index.
inline void pointer_push(std::string& path, std::size_t index) {
    path.push_back('/');
    path.append(std::to_string(index));
}

/// `base` extended by one object key, escaped per RFC 6901.
inline std::string pointer_append(std::string_view base, std::string_view key) {
    std::string out(base);
    pointer_push(out, key);
    return out;
}

/// `base` extended by one array index.
inline std::string pointer_append(std::string_view base, std::size_t index) {
    std::string out(base);
    pointer_push(out, index);
    return out;
}

}  // namespace forkrun::controller
