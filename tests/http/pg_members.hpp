// Controllers sharing one real PostgreSQL in the tests: a member started on it, and a wait for
// the database to answer what the test expects.
#pragma once

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/pg_server.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {

inline constexpr auto kLease = 2000ms;

// `forkrun serve` on `pg` as controller `id` with a 2 s lease, a pool of one fork on each of
// `pooled` (fresh local chains), and the keys of `config` in its config file.
inline std::unique_ptr<ServerProcess> member(const PgServer& pg,
                                             TempDir& dir,
                                             const std::string& id,
                                             std::vector<std::uint64_t> pooled = {},
                                             json::object config = {}) {
    json::object chains;
    for (auto c : pooled) {
        chains[std::to_string(c)] = json::object{{"poolSize", 1}};
    }
    config["chains"] = std::move(chains);
    const auto path = dir.path() / (id + ".json");
    std::ofstream(path) << json::serialize(config);
    ServerOptions opts;
    opts.extra_args = {"--config",        path.string(),
                       "--store",         pg.url(),
                       "--controller-id", id,
                       "--lease-ms",      std::to_string(kLease.count())};
    return std::make_unique<ServerProcess>(opts);
}

// Polls `sql` until it answers `want` or the deadline; false at the deadline.
inline bool becomes(const PgServer& pg,
                    const std::string& sql,
                    const std::string& want,
                    std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pg.value(sql) == want) {
            return true;
        }
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(20ms);
    }
    return pg.value(sql) == want;
}

// POST /v1/runs of `body` with an Idempotency-Key, as organization A.
inline HttpResponse create_with_key(const Api& api,
                                    const json::object& body,
                                    const std::string& key) {
    HttpRequest request = make_request("POST", "/v1/runs", json::serialize(body));
    request.headers.emplace_back("Content-Type", "application/json");
    request.headers.emplace_back("Authorization", std::string("Bearer ") + kTokenARw);
    request.headers.emplace_back("Idempotency-Key", key);
    return api.send(std::move(request));
}

// Controllers `a` and `b` on one fresh database, and a client of each.
struct TwoMembers {
    PgServer pg;
    TempDir dir;
    std::unique_ptr<ServerProcess> a = member(pg, dir, "a");
    std::unique_ptr<ServerProcess> b = member(pg, dir, "b");
    Api on_a{a->base_url()};
    Api on_b{b->base_url()};

    struct Parts {
        const PgServer& pg;
        const Api& on_a;
        const Api& on_b;
    };
    Parts parts() const { return {pg, on_a, on_b}; }
};

}  // namespace forkrun::http::test
