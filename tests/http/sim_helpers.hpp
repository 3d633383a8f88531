// Helpers of the simulation tests: JSON-RPC calls through rpcUrls, fork processes, CU sums.
#pragma once

#include <dirent.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {

struct RpcReply {
    long status = 0;
    json::value body;
};

// One JSON-RPC call to `url` (a fork's rpcUrl or an anvil), as a wallet would make it.
inline RpcReply rpc(const std::string& url, std::string_view method, json::array params = {}) {
    const auto path_at = url.find('/', url.find("//") + 2);
    HttpClient client(url.substr(0, path_at));
    json::object call{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}};
    HttpRequest req = make_request("POST", path_at == std::string::npos ? "/" : url.substr(path_at),
                                   json::serialize(call));
    req.headers.emplace_back("Content-Type", "application/json");
    auto r = client.send(req);
    RpcReply out;
    out.status = r.status;
    if (r.json) {
        out.body = *r.json;
    }
    return out;
}

inline std::string rpc_result(const std::string& url,
                              std::string_view method,
                              json::array params = {}) {
    auto r = rpc(url, method, std::move(params));
    EXPECT_EQ(r.status, 200) << method << " " << json::serialize(r.body);
    const auto* obj = r.body.if_object();
    const auto* result = obj ? obj->if_contains("result") : nullptr;
    return result && result->is_string() ? std::string(result->get_string()) : std::string();
}

// The anvil processes whose parent is `parent`.
inline std::vector<pid_t> anvil_children(pid_t parent) {
    std::vector<pid_t> out;
    DIR* d = opendir("/proc");
    if (!d) {
        return out;
    }
    while (auto* e = readdir(d)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0) {
            continue;
        }
        std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
        std::string line;
        std::getline(stat, line);
        const auto open = line.find('(');
        const auto close = line.rfind(')');
        if (open == std::string::npos || close == std::string::npos) {
            continue;
        }
        const std::string comm = line.substr(open + 1, close - open - 1);
        std::istringstream rest(line.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (comm == "anvil" && ppid == parent && state != 'Z') {
            out.push_back(pid);
        }
    }
    closedir(d);
    return out;
}

// Polls until the server has exactly `n` anvil children; false at the deadline.
inline bool anvil_count_becomes(pid_t server, std::size_t n, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (anvil_children(server).size() != n) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

inline bool process_gone(pid_t pid) {
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Whether `pid` is gone by `deadline` (the anvils of a SIGKILLed server end when the kernel
// delivers their PDEATHSIG, a moment after the server).
inline bool gone_by(pid_t pid, std::chrono::steady_clock::time_point deadline) {
    while (!process_gone(pid) && std::chrono::steady_clock::now() < deadline) {
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return process_gone(pid);
}

// Whether every thread of `pid` has stopped: SIGSTOP takes effect one thread at a time, after
// kill() has returned.
inline bool process_stopped(pid_t pid) {
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = opendir(tasks.c_str());
    if (!d) {
        return false;
    }
    bool all = true;
    while (auto* e = readdir(d)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        std::ifstream stat(tasks + "/" + e->d_name + "/stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'T' &&
            line[close + 2] != 't') {
            all = false;
        }
    }
    closedir(d);
    return all;
}

inline json::object sim_request(std::string_view mode, json::array chains, json::object nodes) {
    auto body = run_request(unique_workflow_id("sim"), std::move(nodes));
    body["isSimulation"] = true;
    body["simulationMode"] = mode;
    body["chains"] = std::move(chains);
    return body;
}

// A run that holds its forks for `seconds`: a root and one wait node.
inline json::object hold_nodes(double seconds = 60) {
    return json::object{{"root", root({"w"})}, {"w", wait_node(seconds)}};
}

// The JSON-RPC error code of a reply, or 0.
inline std::int64_t error_code(const json::value& reply) {
    const auto* obj = reply.if_object();
    const auto* err = obj ? obj->if_contains("error") : nullptr;
    return err && err->is_object() ? err->at("code").to_number<std::int64_t>() : 0;
}

// root -> no (an assert that fails): the run fails once its fork is up, and keeps it
// `keep_seconds` for inspection.
inline json::object failing_run(std::string_view mode, std::uint64_t chain, int keep_seconds) {
    auto body =
        sim_request(mode, json::array{chain},
                    json::object{{"root", root({"no"})}, {"no", assert_node("1", "equals", "2")}});
    body["keepForksOnFailure"] = keep_seconds;
    return body;
}

// POST /v1/runs/{id}/release of a run's kept forks.
inline HttpResponse release(const Api& api,
                            const std::string& id,
                            const std::string& token = kTokenARw) {
    HttpRequest request = make_request("POST", "/v1/runs/" + id + "/release");
    request.headers.emplace_back("Authorization", "Bearer " + token);
    return api.send(std::move(request));
}

inline json::object rpc_node(std::uint64_t chain,
                             std::string_view method,
                             std::vector<std::string> children = {}) {
    return node("rpc", std::move(children),
                json::object{{"chainId", chain}, {"method", method}, {"params", json::array{}}});
}

// Waits until every chain of the run has a fork with an rpcUrl.
inline json::object wait_forks_ready(const Api& api, const std::string& id, std::size_t n) {
    return api.poll_run(
        id,
        [&](const json::object& run) {
            const auto* f = run.if_contains("simulationForks");
            return f && f->is_array() && f->as_array().size() == n;
        },
        30s);
}

// Anvil's first two well-known dev accounts (the default mnemonic) and the second's key.
inline constexpr const char* kDev0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
inline constexpr const char* kDev1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
inline constexpr const char* kKey1 =
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
// An address nobody holds a key for, where transfers of the tests go.
inline constexpr const char* kSink = "0x00000000000000000000000000000000000000cc";
inline constexpr const char* kSink2 = "0x00000000000000000000000000000000000000dd";

// The one fork of a one-chain run's execution state.
inline json::object only_fork(const json::object& run) {
    const auto forks = value_at(run, "/executionState/forks");
    return forks.as_object().begin()->value().as_object();
}

inline std::string rpc_url_of(const json::object& run, std::uint64_t chain) {
    for (const auto& f : run.at("simulationForks").as_array()) {
        if (f.at("chainId").to_number<std::uint64_t>() == chain) {
            return str(f.at("rpcUrl"));
        }
    }
    return {};
}

inline std::uint64_t total_cu(const json::object& run) {
    return run.at("totalCu").to_number<std::uint64_t>();
}

// The sum of every node's and fork's share of the run.
inline std::uint64_t parts_cu(const json::object& run) {
    std::uint64_t sum = 0;
    const auto& es = run.at("executionState").as_object();
    for (const auto& [id, n] : es.at("nodes").as_object()) {
        sum += n.at("cu").to_number<std::uint64_t>();
    }
    for (const auto& [id, f] : es.at("forks").as_object()) {
        sum += f.at("cu").to_number<std::uint64_t>();
    }
    return sum;
}

inline constexpr const char* kAddrX = "0x00000000000000000000000000000000000000aa";
inline constexpr const char* kAddrY = "0x00000000000000000000000000000000000000bb";

// A raw body POSTed to `url` as a wallet would, with the answer as it came.
inline HttpResponse post_raw(const std::string& url, const std::string& body) {
    const auto path_at = url.find('/', url.find("//") + 2);
    HttpClient client(url.substr(0, path_at));
    HttpRequest req =
        make_request("POST", path_at == std::string::npos ? "/" : url.substr(path_at), body);
    req.headers.emplace_back("Content-Type", "application/json");
    return client.send(req);
}

}  // namespace forkrun::http::test
