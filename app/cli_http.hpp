// The client commands' HTTP: one libcurl easy handle per request, and a Server-Sent Events reader.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace forkrun::app {

struct ClientResponse {
    long status = 0;  // 0: no HTTP answer (`error` says why)
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
    std::string error;
    bool timed_out = false;

    /// The first value of header `lower_name`, or empty.
    std::string header(const std::string& lower_name) const;
};

/// One event of a stream: `id`, `event` and `data` lines, as the server sent them.
struct SseEvent {
    std::string id;
    std::string event;
    std::string data;
};

/// `s` percent-encoded for a path segment or a query value (libcurl's escape).
std::string url_escape(const std::string& s);

/// The `data` object of an answer's envelope; nullopt when the body has none.
std::optional<boost::json::object> data_object(const ClientResponse& r);

class ApiClient {
  public:
    /// `server`: e.g. http://127.0.0.1:8080 (a trailing slash is dropped); `token` may be empty.
    ApiClient(std::string server, std::string token);

    /// `method` `path` with a JSON body when `body` is set; `extra` headers as "Name: value".
    /// `timeout` zero: none.
    ClientResponse send(const std::string& method,
                        const std::string& path,
                        const std::optional<std::string>& body = std::nullopt,
                        const std::vector<std::string>& extra = {},
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const;

    /// GETs an event stream, calling `on_event` for each event in order until it returns false
    /// or the stream ends; `timeout` zero: none. The answer holds the status and, when it is
    /// not 200, the body.
    ClientResponse stream(const std::string& path,
                          const std::vector<std::string>& extra,
                          std::chrono::milliseconds timeout,
                          const std::function<bool(const SseEvent&)>& on_event) const;

    const std::string& server() const { return server_; }

  private:
    std::string server_;
    std::string token_;
};

}  // namespace forkrun::app
