// How a fork was torn down: the `method` of a teardown in a run's cancellation.
#pragma once

#include <string_view>

namespace forkrun::forks {

/// A fork mode fork's process ends (SIGTERM, then SIGKILL after the grace); a pool lease is
/// reverted to its snapshot, or destroyed and replaced when it cannot be trusted to revert.
enum class TeardownMethod { kSigterm, kSigkill, kEvmRevert, kDestroy };

/// The contract's name: "SIGTERM", "SIGKILL", "evm_revert", "destroy".
constexpr std::string_view to_string(TeardownMethod m) {
    switch (m) {
        case TeardownMethod::kSigterm:
            return "SIGTERM";
        case TeardownMethod::kSigkill:
            return "SIGKILL";
        case TeardownMethod::kEvmRevert:
            return "evm_revert";
        case TeardownMethod::kDestroy:
            return "destroy";
    }
    return "SIGTERM";
}

}  // namespace forkrun::forks
