// Request targets and their query strings, read by Boost.URL. A target is percent-encoded where
// RFC 3986 would refuse a character before it is parsed, and its parts are decoded back, so
// what Beast accepts is read as sent; only a query's own escapes are decoded
// (application/x-www-form-urlencoded: '+' is a space).
#include "http/query.hpp"

#include <algorithm>

#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/pchars.hpp>

namespace forkrun::http {
namespace {

namespace urls = boost::urls;

// What a path or a query may hold as it is (RFC 3986 `query`, which is also every `segment`
// character and '/').
constexpr auto kQueryChars = urls::pchars + '/' + '?';

// Nothing to encode and no escape to decode (decision 77): the parts are the text's own slices,
// found without Boost.URL's copies. Such a text parses the same either way (query_test).
bool plain(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return kQueryChars(c); });
}

RequestTarget split_plain(std::string_view target) {
    RequestTarget out;
    const auto q = target.find('?');
    out.path = target.substr(0, q);
    if (q != std::string_view::npos) {
        out.query = target.substr(q + 1);
    }
    if (out.path != "/") {  // "/" has no segment
        std::string_view rest = std::string_view(out.path).substr(1);
        for (;;) {
            const auto slash = rest.find('/');
            out.segments.emplace_back(rest.substr(0, slash));
            if (slash == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(slash + 1);
        }
    }
    return out;
}

std::vector<QueryParam> parse_plain_query(std::string_view query) {
    std::vector<QueryParam> out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (part.empty()) {
            continue;  // "a&&b", a trailing '&'
        }
        const auto eq = part.find('=');
        QueryParam p{std::string(part.substr(0, eq)), eq == std::string_view::npos
                                                          ? std::string()
                                                          : std::string(part.substr(eq + 1))};
        std::replace(p.key.begin(), p.key.end(), '+', ' ');
        std::replace(p.value.begin(), p.value.end(), '+', ' ');
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace

RequestTarget split_target(std::string_view target) {
    RequestTarget out;
    if (!target.starts_with('/')) {
        out.path = target;  // "*" or absolute-form: no route of ours
        return out;
    }
    if (plain(target) && !target.starts_with("/./")) {  // Boost.URL drops a leading "." segment
        return split_plain(target);
    }
    // Every '%' is encoded too: the parts decode back to exactly what was sent, escapes and all.
    const std::string escaped = urls::encode(target, kQueryChars);
    const auto url = urls::parse_origin_form(escaped);
    if (!url) {
        out.path = target;  // not reached: what is left is always origin-form
        return out;
    }
    out.path = url->encoded_path().decode();
    for (const auto segment : url->encoded_segments()) {
        out.segments.push_back(segment.decode());
    }
    if (url->has_query()) {
        out.query = url->encoded_query().decode();
    }
    return out;
}

std::optional<std::vector<QueryParam>> parse_query(std::string_view query) {
    if (plain(query)) {
        return parse_plain_query(query);
    }
    // '%' is kept as it is: its escapes are what the pairs decode, and a malformed one fails.
    const std::string escaped = urls::encode(query, kQueryChars + '%');
    const auto params = urls::parse_query(escaped);
    if (!params) {
        return std::nullopt;
    }
    urls::encoding_opts form;
    form.space_as_plus = true;
    std::vector<QueryParam> out;
    for (const urls::param_pct_view p : *params) {
        if (p.key.empty() && !p.has_value) {
            continue;  // "a&&b", a trailing '&'
        }
        out.push_back({p.key.decode(form), p.value.decode(form)});
    }
    return out;
}

}  // namespace forkrun::http
