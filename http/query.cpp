// Request targets and their query strings, read by Boost.URL. A target is percent-encoded where
// RFC 3986 would refuse a character before it is parsed, and its parts are decoded back, so
// what Beast accepts is read as sent; only a query's own escapes are decoded
// (application/x-www-form-urlencoded: '+' is a space).
#include "http/query.hpp"

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

}  // namespace

RequestTarget split_target(std::string_view target) {
    RequestTarget out;
    if (!target.starts_with('/')) {
        out.path = target;  // "*" or absolute-form: no route of ours
        return out;
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
