// Why a fork could not be had or given back: an error enum with its category for the fork
// manager (ForkErrc) and one for the warm pools (PoolErrc), and the value both return, which
// carries the sentence a run's error or teardown shows.
#pragma once

#include <boost/assert/source_location.hpp>

#include <string>
#include <system_error>
#include <type_traits>

namespace forkrun::forks {

/// Why ForkManager could not start its upstreams or open a fork for a run.
enum class ForkErrc {
    kNoUpstream = 1,  ///< A fork at a block (or a pinned pool) of a chain with nothing to fork.
    kDevnetFailed,    ///< A devnet upstream's anvil did not start.
    kSpawnFailed,     ///< The fork's anvil did not start (AnvilErrc in the message).
    kNotReady,        ///< The fork's anvil started but did not answer eth_chainId.
    kCancelled,       ///< The run stopped waiting; whatever was started was stopped.
    kNoPool,          ///< The chain has no warm pool (poolSize 0).
    kPoolRefused,     ///< No pool may be held for the chain now (maxUnconfiguredChains).
};

/// Why a ForkPool could not lend a fork, or take one back as it was lent; or why the pools of
/// unconfigured chains could not be held (UnconfiguredPools::hold: kTooManyChains,
/// kAllowanceTaken, kShutDown).
enum class PoolErrc {
    kLeaseTimeout = 1,   ///< No warm fork became free within the lease timeout.
    kCancelled,          ///< The acquire was cancelled; a fork it took went back as it was.
    kShutDown,           ///< The pool is shut down (or was during the release).
    kNotLeased,          ///< No outstanding lease with that snapshot (released twice?).
    kForkDied,           ///< The fork's process ended while leased; it was replaced.
    kRevertFailed,       ///< evm_revert failed or did not answer true; the fork was replaced.
    kNotRestored,        ///< After evm_revert the fork is not as it was; it was replaced.
    kFingerprintFailed,  ///< The fingerprint batch failed or lacked what it compares.
    kRestoreFailed,      ///< Setting back the base fee or dropping the pool's transactions failed.
    /// The run alone names more unconfigured chains than maxUnconfiguredChains: it never fits.
    kTooManyChains,
    /// The unconfigured chains' allowance is taken by other chains' pools: room comes back as
    /// they are reaped.
    kAllowanceTaken,
};

/// The category of ForkErrc ("forkrun.forks").
const std::error_category& fork_category() noexcept;
/// The category of PoolErrc ("forkrun.pool").
const std::error_category& pool_category() noexcept;

std::error_code make_error_code(ForkErrc e) noexcept;
std::error_code make_error_code(PoolErrc e) noexcept;

/// A fork that could not be had. `code` is a ForkErrc or a PoolErrc (a lease passes its pool's
/// on); `message` is a complete sentence for a user naming the chain, e.g. "chain 8453: the fork
/// did not start: anvil exited with status 1 before it was ready: ...".
struct ForkError {
    std::error_code code;
    std::string message;
};

/// Lets `boost::system::result<T, ForkError>::value()` throw a std::system_error carrying the
/// message.
[[noreturn]] void throw_exception_from_error(const ForkError& e, const boost::source_location& loc);

}  // namespace forkrun::forks

template <>
struct std::is_error_code_enum<forkrun::forks::ForkErrc> : std::true_type {};
template <>
struct std::is_error_code_enum<forkrun::forks::PoolErrc> : std::true_type {};
