// The event stream of a run another member owns, served from the database (decision 72): the
// stored events replayed after an id, then the live tail, woken by the owner's NOTIFY with the
// poll interval behind it, until the `end`; the same ids and types as the owner's stream.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "http/api.hpp"
#include "http/remote_wake.hpp"

namespace forkrun::controller {
class RemoteRuns;
}

namespace forkrun::http {

class RemoteSseStream final : public ResponseStream {
  public:
    /// Events of `run_id` (in `org`) after `after`; a `: ping` when nothing came for `ping`.
    /// `remote` outlives the stream.
    RemoteSseStream(controller::RemoteRuns& remote,
                    std::string run_id,
                    std::string org,
                    std::uint64_t after,
                    std::chrono::milliseconds ping,
                    boost::asio::any_io_executor ex);

    boost::asio::awaitable<std::optional<std::string>> next() override;
    void stop() override;

  private:
    using SteadyClock = std::chrono::steady_clock;
    // The `end` of a run whose owner cannot send one (it was lost, or the run was stored before
    // events were), once its row has been terminal for a while with nothing more stored; "" when
    // the row is gone (the stream then closes).
    boost::asio::awaitable<std::optional<std::string>> end_without_owner();

    controller::RemoteRuns& remote_;
    const std::string run_id_;
    const std::string org_;
    std::uint64_t last_;
    bool seen_any_ = false;
    const std::chrono::milliseconds ping_;
    std::shared_ptr<Wake> wake_;
    std::shared_ptr<void> watch_;
    bool done_ = false;
    bool stopped_ = false;
    SteadyClock::time_point row_read_at_{};
    std::optional<SteadyClock::time_point> ended_at_;
};

}  // namespace forkrun::http
