// One libpq connection in non-blocking mode, every statement under a deadline, and the
// notifications a LISTEN on it hears; shared by the store's writers, its member thread and its
// readers (each thread owns its own connection).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace forkrun::controller {

struct PgResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

/// A notification heard on a LISTEN channel.
struct PgNotice {
    std::string channel;
    std::string payload;
};

/// What a URL is shown as: without its password.
std::string pg_redacted(std::string_view url);

class PgConnection {
  public:
    using SteadyClock = std::chrono::steady_clock;

    PgConnection() = default;
    ~PgConnection() { close(); }
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    void close();
    bool ok() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

    /// Connects (closing any old connection) within about `bound`; false with `error`.
    bool connect(const std::string& url, std::chrono::milliseconds bound, std::string& error);

    /// Sends one command (with parameters when `params` is not empty: then one statement) and
    /// reads every result. The last result, or null with `error` (the connection is closed when
    /// it broke or the deadline passed).
    PgResult run(const std::string& sql,
                 const std::vector<const char*>& params,
                 SteadyClock::time_point deadline,
                 std::string& error);

    /// Waits until something arrives on the connection, on `also` (a descriptor to be woken
    /// by, or -1) or the deadline, and reads what came; false when the connection broke (it is
    /// then closed).
    bool wait_input(SteadyClock::time_point deadline, int also = -1);

    /// The notifications heard so far (LISTEN), oldest first.
    std::vector<PgNotice> take_notices();

  private:
    bool wait(short events, SteadyClock::time_point deadline);
    PgResult broken(std::string& error);
    PgResult timed_out(std::string& error);

    PGconn* conn_ = nullptr;
};

/// The first value of a result (row 0, column 0), or "" when there is none.
std::string pg_first(const PgResult& r);

/// `items` as a text[] literal, each element quoted: `{"a","b\"c"}`.
std::string pg_text_array(const std::vector<std::string>& items);

}  // namespace forkrun::controller
