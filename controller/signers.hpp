// Signing keys from the configuration (never from a request), by name.
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "forks/eth/secp256k1_key.hpp"

namespace forkrun::controller {

class Signers {
  public:
    /// The signer a node uses when it names none.
    static constexpr std::string_view kDefault = "default";

    /// Reads {"signers": {"<name>": {"privateKeyEnv": "VAR"} | {"privateKeyFile": "path"}}}.
    /// Problems name the signer and the source, never a key.
    void read_config(const boost::json::value& doc, std::vector<std::string>& problems);

    /// The configured key named `name` (kDefault when empty), or null.
    const eth::PrivateKey* find(std::string_view name) const;

    /// What a simulation signs with when nothing is configured: the fork's first development
    /// account (anvil's well-known key #0, public knowledge, worthless off a fork).
    static const eth::PrivateKey& simulation_default();

    bool empty() const { return keys_.empty(); }

  private:
    std::map<std::string, eth::PrivateKey, std::less<>> keys_;
};

}  // namespace forkrun::controller
