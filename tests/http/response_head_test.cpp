// The answer's head written by hand is the bytes Beast's serializer writes for the same response
// (the way the server built answers before decision 86), for every shape an answer takes; a
// header value that would start another header line is left out.
#include <gtest/gtest.h>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>
#include <string>

#include "http/response_head.hpp"

namespace forkrun::http {
namespace {

namespace bhttp = boost::beast::http;
using Headers = std::vector<std::pair<std::string_view, std::string>>;

// One answer as the server builds it.
struct Shape {
    const char* what;
    unsigned status;
    unsigned version;
    bool keep_alive;
    std::string_view type;
    Headers headers;
    std::string body;
};

constexpr std::string_view kRequestId = "req_1";

// What Beast writes for the answer, as server.cpp built it with Beast: head and body.
std::string beast_bytes(const Shape& s) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(s.status), s.version};
    if (!s.type.empty()) {
        res.set(bhttp::field::content_type, s.type);
    }
    res.set("X-Request-Id", kRequestId);
    for (const auto& [name, value] : s.headers) {
        res.set(name, value);
    }
    res.keep_alive(s.keep_alive);
    res.body() = s.body;
    res.prepare_payload();
    std::ostringstream out;
    out << res;
    return out.str();
}

std::string our_bytes(const Shape& s) {
    return response_head(
               {s.status, s.version, s.keep_alive, s.type, kRequestId, &s.headers, s.body.size()}) +
           s.body;
}

TEST(ResponseHead, EveryShapeOfAnswerIsTheBytesBeastWrites) {
    const std::vector<Shape> shapes{
        {"a GET", 200, 11, true, "application/json", {}, R"({"data":{"id":"run_x"}})"},
        {"a create",
         201,
         11,
         true,
         "application/json",
         {{"Location", "/v1/runs/run_x"}, {"Idempotent-Replayed", "true"}},
         "{}"},
        {"a preflight",
         204,
         11,
         true,
         "",
         {{"Access-Control-Allow-Origin", "https://dash.example"},
          {"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
          {"Vary", "Origin"}},
         ""},
        {"a refusal that closes", 400, 11, false, "application/json", {}, R"({"error":{}})"},
        {"HTTP/1.0 kept alive", 200, 10, true, "application/json", {}, "{}"},
        {"HTTP/1.0 closed", 404, 10, false, "application/json", {}, "{}"},
        {"a 429 with Retry-After", 429, 11, true, "application/json", {{"Retry-After", "1"}}, "{}"},
        {"a 503", 503, 11, true, "application/json", {{"Retry-After", "1"}}, "{}"},
        {"a 405", 405, 11, true, "application/json", {{"Allow", "GET, POST"}}, "{}"},
        {"a 422", 422, 11, true, "application/json", {}, "{}"},
        {"an unusual status", 299, 11, true, "text/plain", {}, "x"},
        {"a header set twice",
         200,
         11,
         true,
         "application/json",
         {{"Vary", "Origin"}, {"Allow", "GET"}, {"vary", "Accept"}},
         "{}"},
        {"a header naming the type again",
         200,
         11,
         true,
         "application/json",
         {{"content-type", "text/event-stream"}},
         ""},
        {"metrics", 200, 11, true, "text/plain; version=0.0.4", {}, "# HELP x\n"},
        {"values with spaces and tabs around them",
         200,
         11,
         true,
         "application/json",
         {{"Retry-After", " 1\t"}, {"Vary", "\t "}},
         "{}"},
    };
    for (const auto& s : shapes) {
        EXPECT_EQ(our_bytes(s), beast_bytes(s)) << s.what;
    }
}

TEST(ResponseHead, AValueWithALineBreakNeverStartsAnotherHeader) {
    const Headers headers{
        {"Location", "/v1/runs/x\r\nSet-Cookie: stolen=1"}, {"X-Bad\nName", "v"}, {"Allow", "GET"}};
    const auto head = response_head({200, 11, true, "application/json", "req_1", &headers, 2});
    EXPECT_EQ(head,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: req_1\r\n"
              "Allow: GET\r\nContent-Length: 2\r\n\r\n");
    const auto id = response_head({200, 11, true, "", "a\rb", nullptr, 0});
    EXPECT_EQ(id, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace
}  // namespace forkrun::http
