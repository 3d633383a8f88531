// Upstream URLs never leave the controller: a provider URL carries its API key, and anvil names
// the URL it forks in its error messages.
#pragma once

#include <string>
#include <string_view>

#include "forks/forks_config.hpp"

namespace forkrun::forks {

/// What stands in for an upstream URL in any text a client can see.
inline constexpr std::string_view kRedactedUpstream = "<upstream>";

/// `text` with every occurrence of `url` (and of it with a trailing slash, as anvil prints it),
/// of its host:port and of its user part replaced by `with`. An empty `url` changes nothing.
std::string redact_url(std::string text,
                       std::string_view url,
                       std::string_view with = kRedactedUpstream);

/// `text` with every configured chain's upstream URL redacted.
std::string redact_upstreams(std::string text, const ForksConfig& config);

}  // namespace forkrun::forks
