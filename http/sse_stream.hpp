// A subscription to run events as a Server-Sent Events body: frames, pings, the end.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "controller/event_stream.hpp"
#include "http/api.hpp"

namespace forkrun::http {

class SseStream : public ResponseStream {
  public:
    /// `ends_with_run`: the body is over after an `end` event (a run's stream). `pace`: at most
    /// one write per that interval; events that come sooner wait and go out together (0: each
    /// pull is written at once).
    SseStream(std::shared_ptr<controller::Subscription> sub,
              bool ends_with_run,
              std::chrono::milliseconds ping,
              std::chrono::milliseconds pace = std::chrono::milliseconds(0));

    boost::asio::awaitable<std::optional<std::string>> next() override;
    void stop() override;

  private:
    std::shared_ptr<controller::Subscription> sub_;
    const bool ends_with_run_;
    const std::chrono::milliseconds ping_;
    const std::chrono::milliseconds pace_;
    std::chrono::steady_clock::time_point last_write_{};
    bool done_ = false;
};

}  // namespace forkrun::http
