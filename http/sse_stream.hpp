// A subscription to run events as a Server-Sent Events body: frames, pings, the end.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "controller/event_stream.hpp"
#include "http/api.hpp"

namespace forkrun::http {

/// `id: n`, `event: type`, `data: json` and a blank line.
std::string sse_frame(const controller::Event& e);

class SseStream : public ResponseStream {
  public:
    /// `ends_with_run`: the body is over after an `end` event (a run's stream).
    SseStream(std::shared_ptr<controller::Subscription> sub,
              bool ends_with_run,
              std::chrono::milliseconds ping);

    boost::asio::awaitable<std::optional<std::string>> next() override;
    void stop() override;

  private:
    std::shared_ptr<controller::Subscription> sub_;
    const bool ends_with_run_;
    const std::chrono::milliseconds ping_;
    bool done_ = false;
};

}  // namespace forkrun::http
