// PgConnection: libpq's non-blocking calls polled against a deadline, so no statement waits
// longer than its caller's bound.
#include "controller/pg_connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cstdint>

namespace forkrun::controller {

namespace {

std::string trimmed(const char* message) {
    std::string s = message ? message : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    return s.empty() ? "no answer" : s;
}

}  // namespace

std::string pg_redacted(std::string_view url) {
    const auto scheme = url.find("://");
    const auto at = url.find('@');
    if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme) {
        return std::string(url);
    }
    const auto colon = url.find(':', scheme + 3);
    if (colon == std::string_view::npos || colon > at) {
        return std::string(url);
    }
    return std::string(url.substr(0, colon)) + ":***" + std::string(url.substr(at));
}

std::string pg_first(const PgResult& r) {
    if (!r || PQntuples(r.get()) < 1 || PQnfields(r.get()) < 1) {
        return {};
    }
    return PQgetvalue(r.get(), 0, 0);
}

std::string pg_text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (const auto& item : items) {
        out += out.size() > 1 ? ",\"" : "\"";
        for (const char c : item) {
            if (c == '"' || c == '\\') {
                out += '\\';
            }
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

namespace {

void put_int32(std::string& out, std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b, 4);
}

constexpr std::uint32_t kTextOid = 25;

}  // namespace

void PgBinaryTextArray::add(std::string_view item) {
    if (bytes_.empty()) {
        put_int32(bytes_, 1);  // dimensions
        put_int32(bytes_, 0);  // no NULL element
        put_int32(bytes_, kTextOid);
        put_int32(bytes_, 0);  // the count, set by param()
        put_int32(bytes_, 1);  // lower bound
    }
    put_int32(bytes_, static_cast<std::uint32_t>(item.size()));
    bytes_.append(item);
    ++count_;
}

PgParam PgBinaryTextArray::param() {
    if (count_ == 0) {
        // No dimension at all: PostgreSQL's empty array.
        bytes_.clear();
        put_int32(bytes_, 0);
        put_int32(bytes_, 0);
        put_int32(bytes_, kTextOid);
        return {bytes_.data(), static_cast<int>(bytes_.size()), true};
    }
    std::string count;
    put_int32(count, static_cast<std::uint32_t>(count_));
    bytes_.replace(12, 4, count);
    return {bytes_.data(), static_cast<int>(bytes_.size()), true};
}

void PgConnection::close() {
    prepared_.clear();
    next_name_ = 0;
    if (conn_) {
        PQfinish(conn_);
        conn_ = nullptr;
    }
}

bool PgConnection::connect(const std::string& url,
                           std::chrono::milliseconds bound,
                           std::string& error) {
    close();
    const std::string timeout = std::to_string(std::max<long>(
        2, static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(bound).count())));
    const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
    const char* values[] = {url.c_str(), timeout.c_str(), "forkrun", nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
        error = "cannot connect to PostgreSQL at " + pg_redacted(url) + ": " +
                trimmed(conn_ ? PQerrorMessage(conn_) : "out of memory");
        close();
        return false;
    }
    PQsetnonblocking(conn_, 1);
    // NOTICEs (a migration's "already exists, skipping") are not the operator's business.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    return true;
}

bool PgConnection::wait(short events, SteadyClock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
        return false;
    }
    pollfd p{PQsocket(conn_), events, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
}

PgResult PgConnection::run(const std::string& sql,
                           const std::vector<const char*>& params,
                           SteadyClock::time_point deadline,
                           std::string& error) {
    if (!ok()) {
        error = "not connected";
        return nullptr;
    }
    const int sent = params.empty()
                         ? PQsendQuery(conn_, sql.c_str())
                         : PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()),
                                             nullptr, params.data(), nullptr, nullptr, 0);
    if (!sent) {
        return broken(error);
    }
    return finish(deadline, error);
}

PgResult PgConnection::run_prepared(const std::string& sql,
                                    const std::vector<PgParam>& params,
                                    SteadyClock::time_point deadline,
                                    std::string& error) {
    if (!ok()) {
        error = "not connected";
        return nullptr;
    }
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    values.reserve(params.size());
    lengths.reserve(params.size());
    formats.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p.data);
        lengths.push_back(p.length);
        formats.push_back(p.binary ? 1 : 0);
    }
    const int n = static_cast<int>(params.size());
    for (int attempt = 0;; ++attempt) {
        auto it = prepared_.find(sql);
        if (it == prepared_.end() && prepared_.size() < kMaxPrepared) {
            const std::string name = "forkrun_" + std::to_string(next_name_++);
            if (!PQsendPrepare(conn_, name.c_str(), sql.c_str(), n, nullptr)) {
                return broken(error);
            }
            if (!finish(deadline, error)) {
                return nullptr;
            }
            it = prepared_.emplace(sql, name).first;
        }
        const bool named = it != prepared_.end();
        const int sent = named ? PQsendQueryPrepared(conn_, it->second.c_str(), n, values.data(),
                                                     lengths.data(), formats.data(), 0)
                               : PQsendQueryParams(conn_, sql.c_str(), n, nullptr, values.data(),
                                                   lengths.data(), formats.data(), 0);
        if (!sent) {
            return broken(error);
        }
        auto r = finish(deadline, error);
        // The session lost its prepared statements while the connection stayed up (DISCARD ALL,
        // DEALLOCATE, a pooler): prepared again, once.
        constexpr std::string_view kNoSuchStatement = "26000";
        if (r || !named || !ok() || attempt > 0 || last_sqlstate_ != kNoSuchStatement) {
            return r;
        }
        prepared_.clear();
    }
}

PgResult PgConnection::finish(SteadyClock::time_point deadline, std::string& error) {
    for (;;) {
        const int f = PQflush(conn_);
        if (f == 0) {
            break;
        }
        if (f < 0 || !wait(POLLIN | POLLOUT, deadline)) {
            return f < 0 ? broken(error) : timed_out(error);
        }
        if (!PQconsumeInput(conn_)) {
            return broken(error);
        }
    }
    PgResult last;
    std::string failed;
    last_sqlstate_.clear();
    for (;;) {
        while (PQisBusy(conn_)) {
            if (!wait(POLLIN, deadline)) {
                return timed_out(error);
            }
            if (!PQconsumeInput(conn_)) {
                return broken(error);
            }
        }
        PgResult r(PQgetResult(conn_));
        if (!r) {
            break;
        }
        const auto st = PQresultStatus(r.get());
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && failed.empty()) {
            failed = trimmed(PQresultErrorMessage(r.get()));
            const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
            last_sqlstate_ = state ? state : "";
        }
        last = std::move(r);
    }
    if (!failed.empty() || !last) {
        error = failed.empty() ? "no result" : failed;
        if (PQstatus(conn_) != CONNECTION_OK) {
            close();
        }
        return nullptr;
    }
    return last;
}

bool PgConnection::wait_input(SteadyClock::time_point deadline, int also) {
    if (!ok()) {
        return false;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    pollfd p[2] = {{PQsocket(conn_), POLLIN, 0}, {also, POLLIN, 0}};
    const int n = ::poll(p, also >= 0 ? 2 : 1, static_cast<int>(std::max<long>(0, left.count())));
    if (n > 0 && (p[0].revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(conn_)) {
        close();
        return false;
    }
    return true;
}

std::vector<PgNotice> PgConnection::take_notices() {
    std::vector<PgNotice> out;
    if (!conn_) {
        return out;
    }
    while (PGnotify* n = PQnotifies(conn_)) {
        out.push_back({n->relname ? n->relname : "", n->extra ? n->extra : ""});
        PQfreemem(n);
    }
    return out;
}

PgResult PgConnection::broken(std::string& error) {
    error = trimmed(PQerrorMessage(conn_));
    close();
    return nullptr;
}

PgResult PgConnection::timed_out(std::string& error) {
    error = "the database did not answer in time";
    close();  // what it was doing is abandoned with the connection
    return nullptr;
}

}  // namespace forkrun::controller
