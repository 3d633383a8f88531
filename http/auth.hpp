// Bearer tokens: loading the tokens file, and mapping a presented token to its principal.
#pragma once

#include <array>
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "controller/controller.hpp"

namespace forkrun::http {

enum Scope : std::uint8_t { kRunsRead = 1, kRunsWrite = 2 };

struct TokenGrant {
    controller::Principal principal;
    std::uint8_t scopes = 0;
    bool allows(Scope s) const { return (scopes & s) != 0; }
};

using Sha256 = std::array<std::uint8_t, 32>;

Sha256 sha256(std::string_view data);

class TokenStore {
  public:
    /// Reads a JSON array of {token | tokenSha256, organizationId, subject, scopes}.
    /// The error names the entry and field that is wrong, never a token.
    static boost::system::result<TokenStore, std::string> load_file(const std::string& path);
    static boost::system::result<TokenStore, std::string> parse(std::string_view json);

    /// Adds a token (the dev token).
    void add(std::string_view token, TokenGrant grant);

    /// The grant of `token`, compared by SHA-256 digest in constant time.
    std::optional<TokenGrant> find(std::string_view token) const;

    std::size_t size() const { return grants_.size(); }

  private:
    struct DigestHash {
        std::size_t operator()(const Sha256& d) const;
    };
    std::unordered_map<Sha256, TokenGrant, DigestHash> grants_;
};

}  // namespace forkrun::http
