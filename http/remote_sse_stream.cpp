// RemoteSseStream: pages of stored events framed as Server-Sent Events; between them, a wait
// for the run's NOTIFY, the poll interval or the ping.
#include "http/remote_sse_stream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "controller/event_stream.hpp"
#include "controller/remote_runs.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// Events read at once.
constexpr std::size_t kPage = 500;
// How often the run's row is looked at while no event comes, and how long a terminal row waits
// for its owner's `end` before the stream ends without it.
constexpr std::chrono::seconds kRowEvery{1};
constexpr std::chrono::seconds kEndGrace{3};

bool terminal(const std::string& status) {
    return status == "success" || status == "failure" || status == "cancelled";
}

}  // namespace

RemoteSseStream::RemoteSseStream(controller::RemoteRuns& remote,
                                 std::string run_id,
                                 std::string org,
                                 std::uint64_t after,
                                 std::chrono::milliseconds ping,
                                 asio::any_io_executor ex)
    : remote_(remote),
      run_id_(std::move(run_id)),
      org_(std::move(org)),
      last_(after),
      ping_(ping),
      wake_(std::make_shared<Wake>()) {
    wake_->timer = std::make_shared<asio::steady_timer>(ex);
    // Watching before the first read: a NOTIFY cannot fall between them.
    watch_ = remote_.watch(run_id_, waker(std::move(ex), wake_));
}

asio::awaitable<std::optional<std::string>> RemoteSseStream::next() {
    const auto ping_at = SteadyClock::now() + ping_;
    while (!done_ && !stopped_) {
        boost::system::error_code ec;
        auto events = co_await remote_.async_read_events(
            run_id_, last_, kPage, asio::redirect_error(asio::use_awaitable, ec));
        if (stopped_) {
            break;
        }
        if (!ec && !events.empty()) {
            seen_any_ = true;
            ended_at_.reset();
            std::string out;
            for (auto& e : events) {
                controller::Event ev;
                ev.id = e.id;
                ev.type = std::move(e.type);
                ev.data = std::move(e.data);
                out.append(controller::sse_frame(ev));
                last_ = ev.id;
                if (ev.type == "end") {
                    done_ = true;  // the run's last event
                    break;
                }
            }
            co_return out;
        }
        if (!ec) {
            if (auto end = co_await end_without_owner()) {
                done_ = true;
                co_return end;
            }
        }
        // The database away: tried again at the poll interval, pinging meanwhile.
        if (SteadyClock::now() >= ping_at) {
            co_return std::string(": ping\n\n");
        }
        co_await wait_a_while(*wake_, remote_.poll_interval(), ping_at);
    }
    done_ = true;
    co_return std::nullopt;
}

asio::awaitable<std::optional<std::string>> RemoteSseStream::end_without_owner() {
    const auto now = SteadyClock::now();
    if (now - row_read_at_ < kRowEvery) {
        co_return std::nullopt;
    }
    row_read_at_ = now;
    boost::system::error_code ec;
    auto row =
        co_await remote_.async_read(run_id_, org_, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && !row.found) {
        co_return std::string();  // deleted (the store's retention): nothing more will come
    }
    if (ec || !terminal(row.status)) {
        co_return std::nullopt;
    }
    auto doc = json::parse(row.json, ec);
    if (ec || !doc.is_object()) {
        co_return std::nullopt;
    }
    const auto& run = doc.get_object();
    const auto* code = doc.find_pointer("/executionState/error/code", ec);
    const bool lost = code && code->is_string() && code->get_string() == "controllerLost";
    // An owner that lives sends the `end` itself (a failed run's kept forks hold it back).
    if (!lost && seen_any_) {
        co_return std::nullopt;
    }
    if (!ended_at_) {
        ended_at_ = now;
    }
    if (now - *ended_at_ < kEndGrace) {
        co_return std::nullopt;
    }
    json::object data{{"runId", run_id_}, {"status", row.status}};
    for (const char* key : {"totalCu", "finishedAt"}) {
        const auto* v = run.if_contains(key);
        data[key] = v ? *v : json::value(nullptr);
    }
    controller::Event end;
    end.id = last_ + 1;
    end.type = "end";
    end.data = json::serialize(data);
    co_return controller::sse_frame(end);
}

void RemoteSseStream::stop() {
    stopped_ = true;
    wake_->fired = true;
    wake_->timer->cancel();
}

}  // namespace forkrun::http
