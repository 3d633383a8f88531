// The error categories of ForkErrc and PoolErrc.
#include "forks/fork_error.hpp"

#include <boost/throw_exception.hpp>

namespace forkrun::forks {
namespace {

class ForkCategory final : public std::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.forks"; }

    std::string message(int ev) const override {
        switch (static_cast<ForkErrc>(ev)) {
            case ForkErrc::kNoUpstream:
                return "the chain has no upstream to fork";
            case ForkErrc::kDevnetFailed:
                return "a devnet upstream did not start";
            case ForkErrc::kSpawnFailed:
                return "the fork did not start";
            case ForkErrc::kNotReady:
                return "the fork did not answer";
            case ForkErrc::kCancelled:
                return "opening the fork was cancelled";
            case ForkErrc::kNoPool:
                return "the chain has no warm pool";
            case ForkErrc::kPoolRefused:
                return "the chain's pool cannot be held now";
        }
        return "unknown fork error";
    }
};

class PoolCategory final : public std::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.pool"; }

    std::string message(int ev) const override {
        switch (static_cast<PoolErrc>(ev)) {
            case PoolErrc::kLeaseTimeout:
                return "no warm fork became free in time";
            case PoolErrc::kCancelled:
                return "acquiring a fork was cancelled";
            case PoolErrc::kShutDown:
                return "the fork pool is shut down";
            case PoolErrc::kNotLeased:
                return "no outstanding lease";
            case PoolErrc::kForkDied:
                return "the fork process ended while leased";
            case PoolErrc::kRevertFailed:
                return "evm_revert did not succeed";
            case PoolErrc::kNotRestored:
                return "the fork is not as it was before the lease";
            case PoolErrc::kFingerprintFailed:
                return "the fork's fingerprint could not be read";
            case PoolErrc::kRestoreFailed:
                return "the fork's settings could not be set back";
            case PoolErrc::kTooManyChains:
                return "the run names more unconfigured chains than may have a pool";
            case PoolErrc::kAllowanceTaken:
                return "other chains' pools take the unconfigured chains' allowance";
        }
        return "unknown pool error";
    }
};

}  // namespace

const std::error_category& fork_category() noexcept {
    static const ForkCategory category;
    return category;
}

const std::error_category& pool_category() noexcept {
    static const PoolCategory category;
    return category;
}

std::error_code make_error_code(ForkErrc e) noexcept {
    return {static_cast<int>(e), fork_category()};
}

std::error_code make_error_code(PoolErrc e) noexcept {
    return {static_cast<int>(e), pool_category()};
}

void throw_exception_from_error(const ForkError& e, const boost::source_location& loc) {
    boost::throw_with_location(std::system_error(e.code, e.message), loc);
}

}  // namespace forkrun::forks
