// Blocking HTTP helpers for the black-box server tests: a libcurl client and a raw socket.
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace forkrun::http::test {

/// Orders header names the way HTTP compares them: ignoring case.
struct CaseInsensitiveLess {
    bool operator()(const std::string& a, const std::string& b) const {
        return strcasecmp(a.c_str(), b.c_str()) < 0;
    }
};

/// Response headers by name; repeated headers are joined with ", ".
using HeaderMap = std::map<std::string, std::string, CaseInsensitiveLess>;

struct HttpRequest {
    std::string method = "GET";
    /// Path and query, e.g. "/v1/runs?limit=2".
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    /// Absent: no body and no Content-Length (like `curl -X POST`).
    std::optional<std::string> body;
    std::chrono::milliseconds timeout{30000};
};

/// A request of `method` for `target`, optionally with a body.
inline HttpRequest make_request(std::string method,
                                std::string target,
                                std::optional<std::string> body = std::nullopt) {
    HttpRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.body = std::move(body);
    return request;
}

struct HttpResponse {
    /// 0 when no HTTP response arrived; `transport_error` then says why.
    long status = 0;
    HeaderMap headers;
    std::string body;
    /// The body parsed as JSON, when it is JSON.
    std::optional<boost::json::value> json;
    std::string transport_error;
    std::chrono::milliseconds elapsed{0};

    /// The header's value, or "" when it is absent.
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string{} : it->second;
    }
    bool has_header(const std::string& name) const { return headers.contains(name); }
};

inline std::string trim(std::string_view s) {
    while (!s.empty() &&
           (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
        s.remove_prefix(1);
    }
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

/// A tiny blocking libcurl client; every request uses a fresh easy handle, so it is thread-safe.
class HttpClient {
  public:
    explicit HttpClient(std::string base_url) : base_url_(std::move(base_url)) {
        static const bool initialised = [] {
            return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
        }();
        if (!initialised) {
            throw std::runtime_error("curl_global_init failed");
        }
    }

    const std::string& base_url() const { return base_url_; }

    HttpResponse send(const HttpRequest& request) const {
        HttpResponse response;
        std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(),
                                                                 &curl_easy_cleanup);
        if (!curl) {
            response.transport_error = "curl_easy_init failed";
            return response;
        }
        CURL* h = curl.get();
        const std::string url = base_url_ + request.target;
        curl_easy_setopt(h, CURLOPT_URL, url.c_str());
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        if (request.method == "GET" && !request.body) {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else if (request.method == "HEAD") {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        }
        if (request.body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body->data());
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.body->size()));
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
        }

        std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(
            nullptr, &curl_slist_free_all);
        bool has_content_type = false;
        for (const auto& [name, value] : request.headers) {
            if (strcasecmp(name.c_str(), "Content-Type") == 0) {
                has_content_type = true;
            }
            // "Name;" sends an empty value; "Name:" would remove the header.
            const std::string line = value.empty() ? name + ";" : name + ": " + value;
            header_list.reset(curl_slist_append(header_list.release(), line.c_str()));
        }
        if (request.body && !has_content_type) {
            // Without this libcurl would claim application/x-www-form-urlencoded.
            header_list.reset(curl_slist_append(header_list.release(), "Content-Type:"));
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());

        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &HttpClient::on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &HttpClient::on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);

        const auto start = std::chrono::steady_clock::now();
        const CURLcode rc = curl_easy_perform(h);
        response.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        if (rc != CURLE_OK) {
            response.transport_error = curl_easy_strerror(rc);
        }
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        response.status = status;
        if (!response.body.empty()) {
            boost::system::error_code ec;
            auto parsed = boost::json::parse(response.body, ec);
            if (!ec) {
                response.json = std::move(parsed);
            }
        }
        return response;
    }

  private:
    static size_t on_body(char* data, size_t size, size_t count, void* user) {
        static_cast<HttpResponse*>(user)->body.append(data, size * count);
        return size * count;
    }

    static size_t on_header(char* data, size_t size, size_t count, void* user) {
        auto* response = static_cast<HttpResponse*>(user);
        const std::string_view line(data, size * count);
        if (line.starts_with("HTTP/")) {
            response->headers.clear();  // a new response (after "100 Continue")
        } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
            std::string name = trim(line.substr(0, colon));
            std::string value = trim(line.substr(colon + 1));
            auto [it, inserted] = response->headers.try_emplace(name, value);
            if (!inserted) {
                it->second += ", " + value;
            }
        }
        return size * count;
    }

    std::string base_url_;
};

/// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
inline std::string url_encode(std::string_view value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

/// The port of a base URL such as "http://127.0.0.1:41234".
inline std::uint16_t port_of(const std::string& base_url) {
    const auto colon = base_url.rfind(':');
    if (colon == std::string::npos) {
        throw std::runtime_error("no port in " + base_url);
    }
    return static_cast<std::uint16_t>(std::stoi(base_url.substr(colon + 1)));
}

/// A plain TCP connection to the server for requests libcurl refuses to send (malformed, slow,
/// silent).
class RawConnection {
  public:
    struct ReadResult {
        std::string data;
        /// The server closed (or reset) the connection.
        bool closed = false;
    };

    explicit RawConnection(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) {
            throw std::runtime_error("socket() failed");
        }
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
            ::close(fd_);
            fd_ = -1;
            throw std::runtime_error("connect() to 127.0.0.1:" + std::to_string(port) + " failed");
        }
    }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;
    RawConnection(RawConnection&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    RawConnection& operator=(RawConnection&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    ~RawConnection() { reset(); }

    /// Sends everything; false when the server has gone away.
    bool send_all(std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return false;
            }
            data.remove_prefix(static_cast<size_t>(n));
        }
        return true;
    }

    /// Reads until `done(data)` holds, the server closes, or the deadline passes.
    template <typename Done>
    ReadResult read_until(std::chrono::steady_clock::time_point deadline, Done done) {
        ReadResult result;
        char buffer[8192];
        while (!done(result.data)) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                break;
            }
            pollfd p{fd_, POLLIN, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
            if (ready <= 0) {
                continue;
            }
            const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n <= 0) {
                result.closed = true;
                break;
            }
            result.data.append(buffer, static_cast<size_t>(n));
        }
        return result;
    }

    /// Reads one response's status line and headers (and whatever body came with them).
    ReadResult read_response_head(std::chrono::steady_clock::time_point deadline) {
        return read_until(deadline, [](const std::string& data) {
            return data.find("\r\n\r\n") != std::string::npos;
        });
    }

    /// Waits for the server to close the connection, discarding what it sends.
    ReadResult read_until_closed(std::chrono::steady_clock::time_point deadline) {
        return read_until(deadline, [](const std::string&) { return false; });
    }

    int fd() const { return fd_; }

  private:
    void reset() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    int fd_ = -1;
};

/// The status code of a raw response ("HTTP/1.1 400 Bad Request..."), or nullopt.
inline std::optional<int> raw_status(const std::string& data) {
    if (!data.starts_with("HTTP/1.")) {
        return std::nullopt;
    }
    const auto space = data.find(' ');
    if (space == std::string::npos || data.size() < space + 4) {
        return std::nullopt;
    }
    try {
        return std::stoi(data.substr(space + 1, 3));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace forkrun::http::test
