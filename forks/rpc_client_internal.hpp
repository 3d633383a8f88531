// The pieces of RpcClient shared by its files: the curl multi core and how an exchange ended.
#pragma once

#include "forks/rpc_client.hpp"

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace forkrun::forks::detail {

struct EasyDeleter {
    void operator()(CURL* e) const noexcept { curl_easy_cleanup(e); }
};
struct MultiDeleter {
    void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
struct UrlDeleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
    void operator()(char* s) const noexcept { curl_free(s); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

/// How an HTTP exchange ended, before any JSON-RPC meaning is given to it.
struct Outcome {
    enum class Kind { kReply, kTransport, kTimeout, kAborted, kTooLarge };
    Kind kind = Kind::kReply;
    int http_status = 0;
    std::string body;
    std::string detail;  // For kTransport and kTimeout: what went wrong, naming host:port.
    std::string endpoint;
};

struct Transfer;

struct CallState {
    std::weak_ptr<ClientCore> core;
    std::atomic<bool> abort_requested{false};
    Transfer* transfer = nullptr;  // I/O thread only: set while the transfer is in the multi.
};

struct Transfer {
    std::shared_ptr<CallState> state;
    std::string url;
    std::string request_body;
    std::chrono::milliseconds timeout{0};
    std::function<void(Outcome)> finish;
    EasyPtr easy;
    std::string response;
    std::size_t max_bytes = 0;
    bool too_large = false;
    bool local = false;  // Completes on the I/O thread without any HTTP exchange.
    char error_buffer[CURL_ERROR_SIZE] = {};
};

struct ClientCore : std::enable_shared_from_this<ClientCore> {
    RpcClientOptions options;
    MultiPtr multi;
    SlistPtr headers;
    std::atomic<std::uint64_t> next_id{1};

    std::mutex mutex;
    std::vector<std::unique_ptr<Transfer>> submitted;  // Guarded by mutex.
    std::vector<std::shared_ptr<CallState>> aborts;    // Guarded by mutex.
    bool stopping = false;                             // Guarded by mutex.

    // I/O thread only.
    std::unordered_map<Transfer*, std::unique_ptr<Transfer>> active;
    std::vector<EasyPtr> idle;

    void wake() noexcept { curl_multi_wakeup(multi.get()); }
    CallHandle submit(std::string url,
                      std::string body,
                      std::chrono::milliseconds timeout,
                      std::function<void(Outcome)> finish,
                      bool local = false,
                      std::size_t max_bytes = 0);
    void run();

  private:
    void start(std::unique_ptr<Transfer> t);
    void finish(Transfer* t, Outcome outcome);
    void finish_unstarted(std::unique_ptr<Transfer> t, Outcome outcome);
    Outcome outcome_of(Transfer& t, CURLcode rc);
    void reap();
    void abort_all();
};

/// Initialises libcurl once per process; throws std::runtime_error when it cannot.
void ensure_curl_global_init();

/// The error for an exchange that produced no usable HTTP reply, or nullopt.
std::optional<RpcError> transport_error(const Outcome& o,
                                        const std::string& label,
                                        std::size_t limit);

}  // namespace forkrun::forks::detail
