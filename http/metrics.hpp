// The Prometheus text exposition of GET /metrics: HTTP requests by route and code, their
// durations, and what the controller and the rpcUrl gateway count.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "controller/metrics.hpp"
#include "controller/rpc_gateway.hpp"
#include "http/query.hpp"

namespace forkrun::http {

/// What the HTTP layer counts.
class HttpMetrics {
  public:
    /// One answered request; `route` is a route template ("/v1/runs/{id}"), never a raw path.
    void count(std::string_view route, unsigned code, std::chrono::steady_clock::duration took);

    /// Appends the HTTP metrics to `out`.
    void render(std::string& out) const;

  private:
    mutable std::mutex mu_;
    std::map<std::pair<std::string, unsigned>, std::uint64_t> requests_;
    controller::Histogram seconds_;
};

/// The route template of a request target, for metric labels: secrets and ids never appear.
std::string_view route_label(const RequestTarget& target);

/// Everything /metrics answers, in the Prometheus text format (version 0.0.4).
std::string render_metrics(const HttpMetrics& http,
                           const controller::ControllerMetrics* controller,
                           std::size_t active_runs,
                           const controller::RpcGateway* gateway);

}  // namespace forkrun::http
