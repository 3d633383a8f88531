// Redacting upstream URLs from text bound for clients.
#include "forks/upstream_redaction.hpp"

namespace forkrun::forks {

namespace {

std::string replace_all(std::string text, std::string_view what, std::string_view with) {
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at)) {
        text.replace(at, what.size(), with);
        at += with.size();
    }
    return text;
}

}  // namespace

std::string redact_url(std::string text, std::string_view url, std::string_view with) {
    while (!url.empty() && url.back() == '/') {
        url.remove_suffix(1);  // anvil prints "http://host:port/" for "http://host:port"
    }
    if (url.empty()) {
        return text;
    }
    for (auto at = text.find(url); at != std::string::npos; at = text.find(url, at)) {
        auto end = at + url.size();
        if (end < text.size() && text[end] == '/') {
            ++end;
        }
        text.replace(at, end - at, with);
        at += with.size();
    }
    // Error texts also name the server alone ("tcp connect error, 127.0.0.1:8545").
    if (const auto scheme = url.find("://"); scheme != std::string_view::npos) {
        auto authority = url.substr(scheme + 3);
        authority = authority.substr(0, authority.find('/'));
        if (const auto user = authority.rfind('@'); user != std::string_view::npos) {
            text = replace_all(std::move(text), authority.substr(0, user), with);
            authority = authority.substr(user + 1);
        }
        if (!authority.empty()) {
            text = replace_all(std::move(text), authority, with);
        }
    }
    return text;
}

std::string redact_upstreams(std::string text, const ForksConfig& config) {
    for (const auto& [id, chain] : config.chains) {
        if (chain.upstream_rpc_url) {
            text = redact_url(std::move(text), *chain.upstream_rpc_url);
        }
    }
    return text;
}

}  // namespace forkrun::forks
