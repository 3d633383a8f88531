// HTTP strictness over raw sockets against a real server: framing a proxy could read differently
// (Transfer-Encoding not ending in chunked, with Content-Length), missing or repeated Host, and a
// repeated Authorization are one 400 envelope and a closed connection; nothing after them is
// ever answered as a request of its own.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

using Clock = std::chrono::steady_clock;

class HttpStrictness : public ApiSharedServerTest {
  protected:
    struct Answer {
        std::string bytes;  // everything the server sent until it closed
        bool closed = false;
    };

    /// Sends `bytes` on a fresh connection and reads until the server closes it.
    Answer exchange(const std::string& bytes) const {
        RawConnection connection(server().port());
        EXPECT_TRUE(connection.send_all(bytes));
        const auto r = connection.read_until_closed(Clock::now() + 10s);
        return {r.data, r.closed};
    }
};

/// How many HTTP responses `bytes` holds (status lines at the start of a response).
std::size_t responses_in(const std::string& bytes) {
    std::size_t n = 0;
    for (auto at = bytes.find("HTTP/1."); at != std::string::npos;
         at = bytes.find("HTTP/1.", at + 1)) {
        if (at == 0 || bytes.compare(at - 1, 1, "\n") == 0 || bytes.compare(at - 1, 1, "}") == 0) {
            ++n;
        }
    }
    return n;
}

/// Exactly one answer, a 400 with the envelope naming the problem, then the connection closed.
void expect_one_400(const std::string& what,
                    const std::string& bytes,
                    bool closed,
                    const std::string& says) {
    EXPECT_TRUE(closed) << what << ": the connection stayed open";
    ASSERT_EQ(raw_status(bytes), 400) << what << ": " << bytes.substr(0, 300);
    EXPECT_EQ(responses_in(bytes), 1u) << what << ": more than one answer:\n" << bytes;
    const auto body_at = bytes.find("\r\n\r\n");
    ASSERT_NE(body_at, std::string::npos) << what;
    HttpResponse r;
    r.status = 400;
    r.body = bytes.substr(body_at + 4);
    boost::system::error_code ec;
    auto parsed = json::parse(r.body, ec);
    ASSERT_FALSE(ec) << what << ": the body is not JSON: " << r.body;
    r.json = parsed;
    // The raw head's headers, for the envelope check.
    std::istringstream head(bytes.substr(0, body_at));
    std::string line;
    while (std::getline(head, line)) {
        const auto colon = line.find(':');
        if (colon != std::string::npos) {
            r.headers[trim(line.substr(0, colon))] = trim(line.substr(colon + 1));
        }
    }
    EXPECT_TRUE(is_envelope(r)) << what;
    EXPECT_TRUE(contains_ci(message_of(r), says)) << what << ": " << message_of(r);
}

// A request whose body, read as chunked, holds a second request.
const std::string kSmuggled = "GET /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                              std::string(kTokenARw) + "\r\n\r\n";

std::string chunked_post(const std::string& transfer_encoding) {
    const std::string chunk = "0\r\n\r\n" + kSmuggled;
    return "POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Transfer-Encoding: " +
           transfer_encoding + "\r\n\r\n" + chunk;
}

TEST_F(HttpStrictness, TransferEncodingNotEndingInChunkedIs400AndNothingAfterItIsParsed) {
    for (const std::string te : {"chunked, identity", "identity", "gzip", "chunked, gzip"}) {
        const auto a = exchange(chunked_post(te));
        expect_one_400("Transfer-Encoding: " + te, a.bytes, a.closed, "Transfer-Encoding");
        EXPECT_EQ(a.bytes.find("\"runs\""), std::string::npos)
            << te << ": the smuggled GET was answered:\n"
            << a.bytes;
    }
    // Split over two header lines, the last coding still decides.
    const std::string split =
        "POST /v1/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        "Transfer-Encoding: identity\r\n\r\n0\r\n\r\n" +
        kSmuggled;
    const auto a = exchange(split);
    EXPECT_EQ(raw_status(a.bytes), 400) << a.bytes;
    EXPECT_EQ(responses_in(a.bytes), 1u) << a.bytes;
    EXPECT_TRUE(a.closed);
}

TEST_F(HttpStrictness, SmugglingAttemptGetsExactlyOne400AndNoSecondAnswer) {
    // Read as "no body" a server would answer the POST and then the GET hidden in its body.
    RawConnection connection(server().port());
    ASSERT_TRUE(connection.send_all(chunked_post("chunked, identity")));
    const auto r = connection.read_until_closed(Clock::now() + 10s);
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(raw_status(r.data), 400) << r.data;
    EXPECT_EQ(responses_in(r.data), 1u) << r.data;
    EXPECT_EQ(r.data.find("HTTP/1.1 200"), std::string::npos) << r.data;
}

TEST_F(HttpStrictness, TransferEncodingWithContentLengthIs400InEitherOrder) {
    const std::vector<std::string> cases{
        "POST /v1/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"
        "\r\n0\r\n\r\n" +
            kSmuggled,
        "POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
        "\r\n0\r\n\r\n" +
            kSmuggled,
        "POST /v1/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n"
        "\r\n{}" +
            kSmuggled,
    };
    for (const auto& bytes : cases) {
        const auto a = exchange(bytes);
        expect_one_400(bytes.substr(0, 80), a.bytes, a.closed, "Transfer-Encoding");
    }
}

TEST_F(HttpStrictness, MissingOrRepeatedHostIs400) {
    auto a = exchange("GET /healthz HTTP/1.1\r\n\r\n");
    expect_one_400("no Host", a.bytes, a.closed, "Host");
    a = exchange("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    expect_one_400("two Host", a.bytes, a.closed, "Host");
    a = exchange("GET /healthz HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n");
    expect_one_400("two Host on HTTP/1.0", a.bytes, a.closed, "Host");
    // HTTP/1.0 needs no Host; an empty one is a Host.
    a = exchange("GET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_EQ(raw_status(a.bytes), 200) << a.bytes;
    a = exchange("GET /healthz HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(raw_status(a.bytes), 200) << a.bytes;
}

TEST_F(HttpStrictness, RepeatedAuthorizationIs400EvenWhenBothAreValid) {
    const std::string auth = "Authorization: Bearer " + std::string(kTokenARw) + "\r\n";
    auto a = exchange("GET /v1/runs HTTP/1.1\r\nHost: x\r\n" + auth + auth + "\r\n");
    expect_one_400("two Authorization", a.bytes, a.closed, "Authorization");
    a = exchange("GET /v1/runs HTTP/1.1\r\nHost: x\r\n" + auth + "Authorization: Bearer " +
                 kTokenBRw + "\r\n\r\n");
    expect_one_400("two tokens", a.bytes, a.closed, "Authorization");
    // One is served as before.
    a = exchange("GET /v1/runs?limit=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth +
                 "\r\n");
    EXPECT_EQ(raw_status(a.bytes), 200) << a.bytes;
}

TEST_F(HttpStrictness, OnlyChunkedIsSpokenAndPlainChunkedRequestsStillWork) {
    const std::string body = json::serialize(quick_run(unique_workflow_id("chunked")));
    std::ostringstream chunk;
    chunk << std::hex << body.size() << "\r\n" << body << "\r\n0\r\n\r\n";
    const std::string head =
        "POST /v1/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nAuthorization: Bearer " +
        std::string(kTokenARw) + "\r\n";
    // Framed soundly, but a coding the server does not decode: 501, and the request is not run.
    const auto gzip = exchange(head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunk.str());
    EXPECT_EQ(raw_status(gzip.bytes), 501) << gzip.bytes;
    EXPECT_EQ(responses_in(gzip.bytes), 1u) << gzip.bytes;
    EXPECT_TRUE(gzip.closed);
    const auto plain = exchange(head + "Transfer-Encoding: Chunked\r\n\r\n" + chunk.str());
    EXPECT_EQ(raw_status(plain.bytes), 201) << plain.bytes;
    EXPECT_EQ(responses_in(plain.bytes), 1u) << plain.bytes;
}

}  // namespace
}  // namespace forkrun::http::test
