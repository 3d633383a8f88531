// Admission under pressure, in plain POSIX calls: shedding must not wait on anything, and must
// hold no descriptor longer than it takes to say 503.
#include "http/admission.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>

#include <boost/asio/dispatch.hpp>

#include "http/api.hpp"
#include "http/envelope.hpp"

namespace forkrun::http {

namespace asio = boost::asio;

std::size_t default_max_connections() {
    constexpr std::size_t kMax = 10000;
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
        return kMax;
    }
    const auto limit = static_cast<std::size_t>(rl.rlim_cur);
    const std::size_t reserve = std::max<std::size_t>(128, limit / 4);
    const std::size_t room = limit > reserve ? limit - reserve : 0;
    return std::clamp<std::size_t>(room, 16, kMax);
}

IdleConnections::Mark::Mark(std::shared_ptr<IdleConnections> owner,
                            asio::any_io_executor ex,
                            std::function<void()> close)
    : owner_(std::move(owner)),
      ex_(std::move(ex)),
      close_(std::make_shared<std::function<void()>>(std::move(close))) {
    std::lock_guard lock(owner_->mu_);
    at_ = owner_->marks_.insert(owner_->marks_.end(), this);
}

IdleConnections::Mark::~Mark() {
    release();
}

bool IdleConnections::Mark::release() {
    std::lock_guard lock(owner_->mu_);
    if (listed_) {
        owner_->marks_.erase(at_);
        listed_ = false;
        released_ = true;
    }
    return !released_;
}

bool IdleConnections::close_oldest() {
    std::weak_ptr<std::function<void()>> close;
    asio::any_io_executor ex;
    {
        std::lock_guard lock(mu_);
        if (marks_.empty()) {
            return false;
        }
        Mark* oldest = marks_.front();
        marks_.pop_front();
        oldest->listed_ = false;
        close = oldest->close_;
        ex = oldest->ex_;
    }
    // The mark is destroyed on its own executor too, so it cannot go between lock() and the
    // call. A connection whose request came meanwhile learnt from Mark::release that it was
    // picked, and gives itself up: closing another idle one instead could leave none, and the
    // connection the room was made for one past the cap.
    asio::dispatch(ex, [close = std::move(close)] {
        if (auto c = close.lock()) {
            (*c)();
        }
    });
    return true;
}

std::optional<ConnectionCount::Slot> make_room(ConnectionCount& count, IdleConnections& idle) {
    auto slot = count.take();
    if (!idle.close_oldest()) {
        return std::nullopt;  // the slot goes back
    }
    return slot;
}

std::size_t IdleConnections::size() const {
    std::lock_guard lock(mu_);
    return marks_.size();
}

ReserveFd::ReserveFd() {
    restore();
}

ReserveFd::~ReserveFd() {
    release();
}

bool ReserveFd::release() {
    if (fd_ < 0) {
        return false;
    }
    ::close(fd_);
    fd_ = -1;
    return true;
}

void ReserveFd::restore() {
    if (fd_ < 0) {
        fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
}

namespace {

// The whole 503, head and envelope, with a fresh request id.
std::string shed_response() {
    auto r = Api::error(503, "the server has as many connections as it can serve; retry shortly",
                        request_id_for(""));
    std::string out;
    out.reserve(256 + r.body.size());
    out.append("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n");
    out.append("Retry-After: 1\r\nConnection: close\r\nX-Request-Id: ");
    out.append(r.request_id);
    out.append("\r\nContent-Length: ");
    out.append(std::to_string(r.body.size()));
    out.append("\r\n\r\n");
    out.append(r.body);
    return out;
}

}  // namespace

void shed_connection(int fd) {
    if (fd < 0) {
        return;
    }
    std::array<char, 4096> sink;
    for (int i = 0; i < 16 && ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT) > 0; ++i) {
    }
    const auto answer = shed_response();
    (void)::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
}

std::size_t shed_waiting(int listen_fd, ReserveFd& reserve, std::size_t max) {
    std::size_t shed_n = 0;
    while (shed_n < max) {
        int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && reserve.release()) {
            fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        }
        if (fd < 0 && (errno == ECONNABORTED || errno == EINTR)) {
            continue;  // that one went away while it waited
        }
        if (fd < 0) {
            break;  // nothing waits (EAGAIN), or not even the reserve made room
        }
        shed_connection(fd);
        ++shed_n;
        reserve.restore();
    }
    reserve.restore();
    return shed_n;
}

}  // namespace forkrun::http
