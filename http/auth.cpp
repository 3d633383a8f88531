// Tokens are kept only as SHA-256 digests; lookups hash the presented token first.
#include "http/auth.hpp"

#include "forks/eth/hex.hpp"

#include <cryptopp/misc.h>
#include <cryptopp/sha.h>

#include <boost/json/parse.hpp>
#include <cstring>
#include <fstream>
#include <sstream>

namespace forkrun::http {

namespace json = boost::json;

Sha256 sha256(std::string_view data) {
    Sha256 out;
    CryptoPP::SHA256 h;
    h.CalculateDigest(out.data(), reinterpret_cast<const CryptoPP::byte*>(data.data()),
                      data.size());
    return out;
}

std::size_t TokenStore::DigestHash::operator()(const Sha256& d) const {
    std::size_t h;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
}

void TokenStore::add(std::string_view token, TokenGrant grant) {
    grants_[sha256(token)] = std::move(grant);
}

std::optional<TokenGrant> TokenStore::find(std::string_view token) const {
    if (token.empty()) {
        return std::nullopt;
    }
    const auto digest = sha256(token);
    auto it = grants_.find(digest);
    if (it == grants_.end() ||
        !CryptoPP::VerifyBufsEqual(it->first.data(), digest.data(), digest.size())) {
        return std::nullopt;
    }
    return it->second;
}

boost::system::result<TokenStore, std::string> TokenStore::load_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return std::string("cannot read tokens file ") + path;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return parse(ss.str());
}

boost::system::result<TokenStore, std::string> TokenStore::parse(std::string_view text) {
    boost::system::error_code ec;
    auto doc = json::parse(text, ec);
    if (ec || !doc.is_array()) {
        return std::string("tokens file must be a JSON array of token entries");
    }
    TokenStore store;
    std::size_t i = 0;
    for (const auto& e : doc.as_array()) {
        const std::string where = "tokens file entry " + std::to_string(i++);
        const auto* obj = e.if_object();
        if (!obj) {
            return where + " is not an object";
        }
        auto str = [&](std::string_view k) -> const json::string* {
            const auto* v = obj->if_contains(k);
            return v ? v->if_string() : nullptr;
        };
        const auto* org = str("organizationId");
        const auto* subject = str("subject");
        const auto* scopes = obj->if_contains("scopes");
        if (!org || org->empty()) {
            return where + ": organizationId must be a non-empty string";
        }
        if (!subject || subject->empty()) {
            return where + ": subject must be a non-empty string";
        }
        TokenGrant grant{{std::string(*org), std::string(*subject)}, 0};
        if (!scopes || !scopes->is_array()) {
            return where + ": scopes must be an array";
        }
        for (const auto& s : scopes->as_array()) {
            if (s == "runs:read") {
                grant.scopes |= kRunsRead;
            } else if (s == "runs:write") {
                grant.scopes |= kRunsWrite;
            } else {
                return where + ": unknown scope (known: runs:read, runs:write)";
            }
        }
        if (const auto* token = str("token")) {
            if (token->size() < 8) {
                return where + ": token must be at least 8 characters";
            }
            store.add(*token, std::move(grant));
        } else if (const auto* digest = str("tokenSha256")) {
            auto d =
                digest->size() == 64
                    ? eth::from_hex_fixed<32>(*digest)
                    : boost::system::result<Sha256>(make_error_code(eth::HexError::kWrongLength));
            if (!d) {
                return where + ": tokenSha256 must be 64 hex characters";
            }
            store.grants_[*d] = std::move(grant);
        } else {
            return where + ": needs token or tokenSha256";
        }
    }
    return store;
}

}  // namespace forkrun::http
