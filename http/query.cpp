// Query-string decoding (application/x-www-form-urlencoded rules).
#include "http/query.hpp"

#include "forks/eth/hex.hpp"

namespace forkrun::http {

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) {
                return std::nullopt;
            }
            const int hi = eth::hex_digit_value(s[i + 1]);
            const int lo = eth::hex_digit_value(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return std::nullopt;
            }
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+') {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::optional<std::vector<QueryParam>> parse_query(std::string_view query) {
    std::vector<QueryParam> out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (part.empty()) {
            continue;
        }
        const auto eq = part.find('=');
        auto key = percent_decode(part.substr(0, eq));
        auto value =
            percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
        if (!key || !value) {
            return std::nullopt;
        }
        out.push_back({std::move(*key), std::move(*value)});
    }
    return out;
}

}  // namespace forkrun::http
