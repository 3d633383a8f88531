// A real PostgreSQL 15 server of the test's own (tools/pg-server.sh: initdb into a temporary
// folder, a free loopback port, run as the `postgres` user when the test runs as root), and
// plain queries to it through libpq.
#pragma once

#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "http/server_process.hpp"

namespace forkrun::http::test {

class PgServer {
  public:
    PgServer() {
        ::setenv("PG_OPTIONS", "-c fsync=off", 1);
        url_ = script("start");
        if (!url_.starts_with("postgresql://")) {
            throw std::runtime_error("PostgreSQL did not start: " + url_);
        }
    }
    PgServer(const PgServer&) = delete;
    PgServer& operator=(const PgServer&) = delete;
    ~PgServer() {
        if (running_) {
            try {
                script("kill");
            } catch (...) {
                // The folder goes anyway; a server left behind dies with its files.
            }
        }
    }

    /// postgresql://postgres@127.0.0.1:PORT/postgres
    const std::string& url() const { return url_; }

    /// A fast shutdown; start() brings it back on the same port with the same data.
    void stop() {
        script("stop");
        running_ = false;
    }
    void start() {
        script("start");
        running_ = true;
    }

    /// The rows of `sql` (each value as text, NULL as ""); throws when it fails.
    std::vector<std::vector<std::string>> query(const std::string& sql) const {
        std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url_.c_str()), PQfinish);
        if (PQstatus(conn.get()) != CONNECTION_OK) {
            throw std::runtime_error("cannot connect: " + std::string(PQerrorMessage(conn.get())));
        }
        std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), sql.c_str()), PQclear);
        const auto st = PQresultStatus(res.get());
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            throw std::runtime_error(sql + ": " + PQresultErrorMessage(res.get()));
        }
        std::vector<std::vector<std::string>> rows;
        for (int i = 0; i < PQntuples(res.get()); ++i) {
            auto& row = rows.emplace_back();
            for (int j = 0; j < PQnfields(res.get()); ++j) {
                row.emplace_back(PQgetvalue(res.get(), i, j));
            }
        }
        return rows;
    }

    /// The single value of `sql`.
    std::string value(const std::string& sql) const {
        const auto rows = query(sql);
        return rows.empty() || rows[0].empty() ? std::string() : rows[0][0];
    }

  private:
    std::string script(const std::string& command) {
        auto r = run_command({"/bin/bash", std::string(FORKRUN_SOURCE_DIR) + "/tools/pg-server.sh",
                              command, dir_.path().string()});
        if (!r.status.clean()) {
            throw std::runtime_error("pg-server.sh " + command + " failed: " + r.err);
        }
        while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == ' ')) {
            r.out.pop_back();
        }
        return r.out;
    }

    // Runs `argv` to completion (at most 60 s).
    static CommandResult run_command(const std::vector<std::string>& argv) {
        TempDir out;
        const auto out_path = out.path() / "stdout";
        const auto err_path = out.path() / "stderr";
        const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        const pid_t pid = spawn(argv, out_fd, err_fd);
        ::close(out_fd);
        ::close(err_fd);
        CommandResult result;
        auto status = wait_for_exit(pid, std::chrono::steady_clock::now() + 60s);
        if (!status) {
            ::kill(pid, SIGKILL);
            status = wait_for_exit(pid, std::chrono::steady_clock::now() + 10s);
            status->timed_out = true;
        }
        result.status = *status;
        result.out = read_file(out_path);
        result.err = read_file(err_path);
        return result;
    }

    TempDir dir_;
    std::string url_;
    bool running_ = true;
};

}  // namespace forkrun::http::test
