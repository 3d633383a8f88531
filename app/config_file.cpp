// The config file's keys: each part (forks, signers, limits) reads its own, the rest are here.
#include "app/config_file.hpp"

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "http/cors.hpp"

namespace forkrun::app {

namespace {

void read_dust_wei(const boost::json::object& obj, Config& o, std::vector<std::string>& problems) {
    if (const auto* d = obj.if_contains("dustWei")) {
        auto v = d->is_string() ? eth::Uint256::from_decimal(d->get_string())
                                : boost::system::result<eth::Uint256>(
                                      make_error_code(eth::Uint256Error::kNotAString));
        if (!v) {
            problems.push_back("dustWei must be a decimal string of wei");
        } else {
            o.dust_wei = *v;
        }
    }
}

void read_server_keys(const boost::json::object& obj,
                      const std::string& path,
                      Config& o,
                      std::vector<std::string>& problems) {
    if (const auto* r = obj.if_contains("simulationReport")) {
        if (!r->is_bool()) {
            problems.push_back("simulationReport must be true or false");
        } else {
            o.simulation_report = r->get_bool();
        }
    }
    if (const auto* n = obj.if_contains("replaceUnminedAfterMs")) {
        std::error_code ec;
        const auto v = n->is_number() ? n->to_number<std::uint32_t>(ec) : 0;
        if (!n->is_number() || ec) {
            problems.push_back("replaceUnminedAfterMs must be a non-negative integer of ms");
        } else {
            o.replace_unmined_after = std::chrono::milliseconds(v);
        }
    }
    if (const auto* u = obj.if_contains("publicBaseUrl"); u && u->is_string()) {
        o.public_url = std::string(u->get_string());
    }
    if (const auto* n = obj.if_contains("retainRuns")) {
        std::error_code ec;
        const auto v = n->is_number() ? n->to_number<std::size_t>(ec) : 0;
        if (!n->is_number() || ec) {
            problems.push_back("retainRuns must be a non-negative integer");
        } else {
            o.retain_runs = v;
        }
    }
    if (const auto* st = obj.if_contains("store")) {
        const auto* v = st->if_string();
        if (!v || (*v != "memory" && !v->starts_with("postgresql://") &&
                   !v->starts_with("postgres://"))) {
            problems.push_back("store must be \"memory\" or a postgresql:// URL");
        } else {
            o.store = std::string(*v);
        }
    }
    if (const auto* id = obj.if_contains("controllerId")) {
        if (!id->is_string() || id->get_string().empty()) {
            problems.push_back("controllerId must be a non-empty string");
        } else {
            o.controller_id = std::string(id->get_string());
        }
    }
    if (const auto* n = obj.if_contains("leaseMs")) {
        std::error_code ec;
        const auto v = n->is_number() ? n->to_number<std::int64_t>(ec) : 0;
        if (!n->is_number() || ec || v <= 0) {
            problems.push_back("leaseMs must be a positive integer");
        } else {
            o.lease = std::chrono::milliseconds(v);
        }
    }
    if (const auto* n = obj.if_contains("storeRetentionMs")) {
        std::error_code ec;
        const auto v = n->is_number() ? n->to_number<std::int64_t>(ec) : -1;
        if (!n->is_number() || ec || v < 0) {
            problems.push_back("storeRetentionMs must be a non-negative integer");
        } else {
            o.store_retention = std::chrono::milliseconds(v);
        }
    }
    if (const auto* n = obj.if_contains("maxConnections")) {
        std::error_code ec;
        const auto v = n->is_number() ? n->to_number<std::size_t>(ec) : 0;
        if (!n->is_number() || ec || v == 0) {
            problems.push_back("maxConnections must be a positive integer");
        } else {
            o.server.max_connections = v;
        }
    }
    if (const auto* b = obj.if_contains("blocksDir")) {
        if (!b->is_string() || b->get_string().empty()) {
            problems.push_back("blocksDir must be the path of a folder");
        } else {
            // Relative to the config file, like a path written next to it.
            std::filesystem::path dir(std::string(b->get_string()));
            o.blocks_dir = dir.is_absolute()
                               ? dir.string()
                               : (std::filesystem::path(path).parent_path() / dir).string();
        }
    }
}

}  // namespace

bool load_config_file(const std::string& path, Config& o, std::string& err) {
    std::ifstream in(path);
    if (!in) {
        err += "forkrun: cannot read config file " + path + "\n";
        return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    auto doc = boost::json::parse(ss.str(), ec);
    if (ec) {
        err += "forkrun: config file " + path + " is not JSON: " + ec.message() + "\n";
        return false;
    }
    std::vector<std::string> problems;
    forks::read_forks_config(doc, o.forks, problems);  // also says when doc is no object
    if (const auto* c = doc.is_object() ? doc.as_object().if_contains("corsOrigins") : nullptr) {
        if (auto why = http::read_cors_origins(*c, o.server.cors_origins); !why.empty()) {
            problems.push_back("corsOrigins: " + why);
        }
    }
    o.signers.read_config(doc, problems);
    controller::read_limits_config(doc, o.limits, problems);
    if (const auto* obj = doc.if_object()) {
        read_dust_wei(*obj, o, problems);
        read_server_keys(*obj, path, o, problems);
    }
    for (const auto& p : problems) {
        err += "forkrun: config file " + path + ": " + p + "\n";
    }
    return problems.empty();
}

}  // namespace forkrun::app
