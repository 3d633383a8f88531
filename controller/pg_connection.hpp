// One libpq connection in non-blocking mode, every statement under a deadline, and the
// notifications a LISTEN on it hears; shared by the store's writers, its member thread and its
// readers (each thread owns its own connection).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
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

/// A statement's parameter: text, or (`binary`) `length` bytes in PostgreSQL's binary format of
/// the parameter's type (PgBinaryTextArray's).
struct PgParam {
    const char* data = nullptr;
    int length = 0;
    bool binary = false;
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

    /// As run(), for a statement with a fixed text run often: prepared on this connection at its
    /// first use (parsed and planned once, not at every call), then executed by name; prepared
    /// again once when the session no longer has it. At most kMaxPrepared texts are kept a
    /// connection; others run unprepared.
    PgResult run_prepared(const std::string& sql,
                          const std::vector<PgParam>& params,
                          SteadyClock::time_point deadline,
                          std::string& error);
    static constexpr std::size_t kMaxPrepared = 64;

    /// Waits until something arrives on the connection, on `also` (a descriptor to be woken
    /// by, or -1) or the deadline, and reads what came; false when the connection broke (it is
    /// then closed).
    bool wait_input(SteadyClock::time_point deadline, int also = -1);

    /// The notifications heard so far (LISTEN), oldest first.
    std::vector<PgNotice> take_notices();

  private:
    bool wait(short events, SteadyClock::time_point deadline);
    // After a command was sent: flushes it, then reads every result (run()'s answer).
    PgResult finish(SteadyClock::time_point deadline, std::string& error);
    PgResult broken(std::string& error);
    PgResult timed_out(std::string& error);

    PGconn* conn_ = nullptr;
    // The statements prepared on this connection (text -> name); gone with the connection.
    // Names are never used twice on one connection.
    std::unordered_map<std::string, std::string> prepared_;
    std::uint64_t next_name_ = 0;
    // The SQLSTATE of the last statement that failed (finish()).
    std::string last_sqlstate_;
};

/// The first value of a result (row 0, column 0), or "" when there is none.
std::string pg_first(const PgResult& r);

/// `items` as a text[] literal, each element quoted: `{"a","b\"c"}`.
std::string pg_text_array(const std::vector<std::string>& items);

/// Builds a text[] in PostgreSQL's binary format (array_recv), element by element: no quoting,
/// and the server has nothing to parse but lengths. param() comes after the last add().
class PgBinaryTextArray {
  public:
    void add(std::string_view item);
    std::size_t size() const { return count_; }
    /// The array's bytes; valid while this object lives and is not changed.
    PgParam param();

  private:
    std::string bytes_;
    std::size_t count_ = 0;
};

}  // namespace forkrun::controller
