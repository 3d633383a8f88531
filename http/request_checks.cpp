// The request-head checks of RFC 9112 3.2 and 6.1 that Beast's parser leaves to us.
#include "http/request_checks.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace forkrun::http {

namespace bhttp = boost::beast::http;

HeaderProblem header_problem(const RequestHead& head) {
    const auto te = head.equal_range(bhttp::field::transfer_encoding);
    if (te.first != te.second) {
        if (head.version() < 11) {
            return {400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"};
        }
        // The last coding of the last Transfer-Encoding line says how the body ends.
        boost::beast::string_view last;
        std::size_t codings = 0;
        for (auto it = te.first; it != te.second; ++it) {
            last = {};
            for (const auto coding : bhttp::token_list(it->value())) {
                last = coding;
                ++codings;
            }
        }
        if (!boost::beast::iequals(last, "chunked")) {
            return {400, "Transfer-Encoding must end in chunked"};
        }
        if (head.count(bhttp::field::content_length) > 0) {
            return {400, "Transfer-Encoding and Content-Length must not be sent together"};
        }
        if (codings > 1) {
            return {501, "Transfer-Encoding other than chunked is not supported"};
        }
    }
    const auto hosts = head.count(bhttp::field::host);
    if (hosts > 1) {
        return {400, "more than one Host header"};
    }
    if (hosts == 0 && head.version() >= 11) {
        return {400, "an HTTP/1.1 request needs a Host header"};
    }
    if (head.count(bhttp::field::authorization) > 1) {
        return {400, "more than one Authorization header"};
    }
    return {};
}

}  // namespace forkrun::http
