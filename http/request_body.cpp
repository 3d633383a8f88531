// A request body's media type, blankness and JSON, read the same way by every endpoint.
#include "http/request_body.hpp"

#include <boost/json/parse.hpp>
#include <cctype>
#include <string>

#include "util/json_text.hpp"

namespace forkrun::http {

namespace json = boost::json;

bool iequals_ascii(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

bool is_json_media_type(std::string_view content_type) {
    const auto semi = content_type.find(';');
    auto type = content_type.substr(0, semi);
    while (!type.empty() && type.back() == ' ') {
        type.remove_suffix(1);
    }
    return iequals_ascii(type, "application/json");
}

bool is_blank_body(std::string_view body) {
    return body.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::optional<json::value> parse_json_body(std::string_view body, controller::FieldErrors& errors) {
    json::parse_options opts;
    opts.max_depth = kMaxBodyDepth;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec, {}, opts);
    if (ec) {
        errors.push_back({"", "the body is not valid JSON (" + ec.message() + ")"});
        return std::nullopt;
    }
    if (auto at = util::non_finite_number_in(body, v)) {
        errors.push_back({*at, "is a number out of range (beyond a double's 1.8e308)"});
        return std::nullopt;
    }
    return v;
}

}  // namespace forkrun::http
