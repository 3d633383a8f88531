// Config decoding for the forks library; problems are collected, never thrown.
#include "forks/forks_config.hpp"

#include <algorithm>
#include <charconv>
#include <thread>

namespace forkrun::forks {

namespace json = boost::json;

namespace {

std::optional<std::uint64_t> positive(const json::value& v) {
    std::error_code ec;
    if (!v.is_number()) {
        return std::nullopt;
    }
    const auto n = v.to_number<std::uint64_t>(ec);
    return ec ? std::nullopt : std::optional(n);
}

void read_pinned_pools(const json::value& v,
                       const std::string& where,
                       ChainConfig& c,
                       std::vector<std::string>& problems) {
    const auto* pools = v.if_object();
    if (!pools) {
        problems.push_back(where + ".pinnedPools must be an object of block number to pool size");
        return;
    }
    for (const auto& [key, size] : *pools) {
        std::uint64_t block = 0;
        auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), block);
        if (ec != std::errc() || p != key.data() + key.size() || key.empty()) {
            problems.push_back(where + ".pinnedPools." + std::string(key) +
                               ": the key must be a block number");
            continue;
        }
        auto n = positive(size);
        if (!n || *n == 0 || *n > 64) {
            problems.push_back(where + ".pinnedPools." + std::string(key) +
                               " must be a pool size from 1 to 64");
            continue;
        }
        c.pinned_pools[block] = static_cast<std::size_t>(*n);
    }
}

// A spawnAhead count, 0 to kMaxSpawnAhead.
std::optional<std::size_t> spawn_ahead(const json::value& v,
                                       const std::string& key,
                                       std::vector<std::string>& problems) {
    auto n = positive(v);
    if (!n || *n > kMaxSpawnAhead) {
        problems.push_back(key + " must be an integer from 0 to " + std::to_string(kMaxSpawnAhead));
        return std::nullopt;
    }
    return static_cast<std::size_t>(*n);
}

}  // namespace

void read_forks_config(const json::value& doc,
                       ForksConfig& out,
                       std::vector<std::string>& problems) {
    const auto* obj = doc.if_object();
    if (!obj) {
        problems.push_back("the config must be a JSON object");
        return;
    }
    auto str = [&](std::string_view key, std::string& dst) {
        if (const auto* v = obj->if_contains(key)) {
            if (v->is_string()) {
                dst = std::string(v->get_string());
            } else {
                problems.push_back(std::string(key) + " must be a string");
            }
        }
    };
    auto ms = [&](std::string_view key, std::chrono::milliseconds& dst) {
        if (const auto* v = obj->if_contains(key)) {
            auto n = positive(*v);
            if (!n || *n == 0) {
                problems.push_back(std::string(key) + " must be a positive integer (milliseconds)");
            } else {
                dst = std::chrono::milliseconds(*n);
            }
        }
    };
    str("anvilPath", out.anvil_path);
    str("cuTable", out.cu_table_path);
    ms("teardownTimeoutMs", out.teardown_timeout);
    ms("leaseTimeoutMs", out.lease_timeout);
    ms("rpcTimeoutMs", out.rpc_timeout);
    ms("spawnAheadMaxAgeMs", out.spawn_ahead_max_age);
    if (const auto* v = obj->if_contains("spawnAhead")) {
        out.spawn_ahead = spawn_ahead(*v, "spawnAhead", problems).value_or(out.spawn_ahead);
    }
    if (const auto* v = obj->if_contains("forkSpawnLimit")) {
        auto n = positive(*v);
        if (!n || *n == 0 || *n > kMaxForkSpawnLimit) {
            problems.push_back("forkSpawnLimit must be an integer from 1 to " +
                               std::to_string(kMaxForkSpawnLimit));
        } else {
            out.fork_spawn_limit = static_cast<std::size_t>(*n);
        }
    }
    if (const auto* v = obj->if_contains("chains")) {
        if (!v->is_object()) {
            problems.push_back("chains must be an object keyed by chain id");
        } else {
            for (const auto& [key, chain] : v->as_object()) {
                std::uint64_t id = 0;
                auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
                const std::string where = "chains." + std::string(key);
                if (ec != std::errc() || p != key.data() + key.size() || id == 0) {
                    problems.push_back(where + ": the key must be a positive chain id");
                    continue;
                }
                ChainConfig c;
                const auto* co = chain.if_object();
                if (!co) {
                    problems.push_back(where + " must be an object");
                    continue;
                }
                if (const auto* u = co->if_contains("upstreamRpcUrl"); u && !u->is_null()) {
                    if (!u->is_string() || u->get_string().empty()) {
                        problems.push_back(where + ".upstreamRpcUrl must be a URL string or null");
                    } else {
                        c.upstream_rpc_url = std::string(u->get_string());
                    }
                }
                if (const auto* ps = co->if_contains("poolSize")) {
                    auto n = positive(*ps);
                    if (!n || *n > 64) {
                        problems.push_back(where + ".poolSize must be an integer from 0 to 64");
                    } else {
                        c.pool_size = static_cast<std::size_t>(*n);
                    }
                }
                if (const auto* pp = co->if_contains("pinnedPools")) {
                    read_pinned_pools(*pp, where, c, problems);
                }
                if (const auto* sa = co->if_contains("spawnAhead")) {
                    c.spawn_ahead = spawn_ahead(*sa, where + ".spawnAhead", problems);
                }
                out.chains[id] = std::move(c);
            }
        }
    }
    if (const auto* v = obj->if_contains("devnet")) {
        const auto* arr = v->if_array();
        if (!arr) {
            problems.push_back("devnet must be an array of chain ids");
        } else {
            for (const auto& e : *arr) {
                auto n = positive(e);
                if (!n || *n == 0) {
                    problems.push_back("devnet entries must be positive chain ids");
                } else {
                    out.devnet.push_back(*n);
                }
            }
        }
    }
}

std::size_t default_spawn_limit() noexcept {
    return std::max<std::size_t>(2, 2 * std::size_t{std::thread::hardware_concurrency()});
}

}  // namespace forkrun::forks
