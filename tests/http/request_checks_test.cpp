// The request-head checks, fed raw heads as a hostile client writes them (parsed by Beast as the
// server parses them): every framing a proxy might read differently is refused with its exact
// status and message, and plain requests pass.
#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>

#include "http/request_checks.hpp"

namespace forkrun::http {
namespace {

namespace bhttp = boost::beast::http;

struct CheckedHead {
    bool parsed = false;  ///< false: Beast's parser refused the head itself
    unsigned status = 0;
    std::string message;
};

CheckedHead check_raw_head(std::string_view bytes) {
    bhttp::request_parser<bhttp::string_body> parser;
    boost::system::error_code ec;
    parser.put(boost::asio::const_buffer(bytes.data(), bytes.size()), ec);
    CheckedHead out;
    if ((ec && ec != bhttp::error::need_more) || !parser.is_header_done()) {
        return out;
    }
    out.parsed = true;
    const auto problem = header_problem(parser.get());
    out.status = problem.status;
    out.message = std::string(problem.message);
    return out;
}

struct RequestChecksCase {
    std::string_view head;
    unsigned status;
    std::string_view message;
};

void expect_request_checks(const RequestChecksCase& c) {
    const auto got = check_raw_head(c.head);
    ASSERT_TRUE(got.parsed) << c.head;
    EXPECT_EQ(got.status, c.status) << c.head;
    EXPECT_EQ(got.message, c.message) << c.head;
}

TEST(RequestChecks, TransferEncodingThatCouldBeReadTwoWaysIsRefused) {
    const RequestChecksCase request_checks_cases[] = {
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
         "Transfer-Encoding is not allowed in an HTTP/1.0 request"},
        {"POST / HTTP/1.0\r\nHost: a\r\nHost: b\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
         "Transfer-Encoding is not allowed in an HTTP/1.0 request"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
         "Transfer-Encoding must end in chunked"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400,
         "Transfer-Encoding must end in chunked"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\n",
         400, "Transfer-Encoding must end in chunked"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
         "Transfer-Encoding other than chunked is not supported"},
        {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
         "\r\n",
         501, "Transfer-Encoding other than chunked is not supported"},
    };
    for (const auto& c : request_checks_cases) {
        expect_request_checks(c);
    }
}

TEST(RequestChecks, HostAndAuthorizationMustComeOnce) {
    const RequestChecksCase request_checks_cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", 400, "an HTTP/1.1 request needs a Host header"},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "more than one Host header"},
        {"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400, "more than one Host header"},
        {"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400, "more than one Host header"},
        {"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nAuthorization: Bearer a\r\n\r\n",
         400, "more than one Authorization header"},
        {"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nAUTHORIZATION: Bearer b\r\n\r\n",
         400, "more than one Authorization header"},
        // Host comes before Authorization.
        {"GET / HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", 400,
         "an HTTP/1.1 request needs a Host header"},
    };
    for (const auto& c : request_checks_cases) {
        expect_request_checks(c);
    }
}

TEST(RequestChecks, PlainRequestsPass) {
    for (const std::string_view head : {
             "GET /healthz HTTP/1.0\r\n\r\n",
             "GET /healthz HTTP/1.1\r\nHost:\r\n\r\n",
             "GET /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n",
             "POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n",
             "POST /v1/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
             "POST /v1/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n",
             "POST /v1/runs HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
         }) {
        const auto got = check_raw_head(head);
        ASSERT_TRUE(got.parsed) << head;
        EXPECT_EQ(got.status, 0u) << head << ": " << got.message;
    }
}

TEST(RequestChecks, WhatBeastRefusesItselfNeverReachesTheChecks) {
    // A Transfer-Encoding after a Content-Length or before one, and chunked repeated: the
    // parser's own errors, which the server answers with its framing 400.
    for (const std::string_view head : {
             "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: "
             "5\r\n\r\n",
             "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: "
             "chunked\r\n\r\n",
             "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
             "chunked\r\n\r\n",
             "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         }) {
        EXPECT_FALSE(check_raw_head(head).parsed) << head;
    }
}

TEST(RequestChecks, BothFramingHeadersAreRefusedShouldTheParserEverLetThemThrough) {
    // Beast refuses a chunked request with a Content-Length in either order (above); the check
    // does not count on it.
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/runs", 11};
    req.set(bhttp::field::host, "x");
    req.set(bhttp::field::transfer_encoding, "chunked");
    req.set(bhttp::field::content_length, "5");
    const auto problem = header_problem(req);
    EXPECT_EQ(problem.status, 400u);
    EXPECT_EQ(problem.message, "Transfer-Encoding and Content-Length must not be sent together");
}

}  // namespace
}  // namespace forkrun::http
