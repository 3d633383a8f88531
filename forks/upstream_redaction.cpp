// Redacting upstream URLs from text bound for clients.
#include "forks/upstream_redaction.hpp"

namespace forkrun::forks {

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
