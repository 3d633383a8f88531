// Why a node or a run failed: the error codes of the contract (`error.code` of a node, a run, a
// fork teardown), as one enum with its category.
#pragma once

#include <string_view>
#include <system_error>
#include <type_traits>

namespace forkrun::controller {

/// A wire error code. Each enumerator is named after the code it writes (kInvalidProps ->
/// "invalid_props"); to_string() gives the code, the category's message a sentence.
enum class RunErrc {
    kInvalidProps = 1,     ///< a node's resolved props do not fit its type
    kTemplateError,        ///< a template names an output or a field that is not there
    kTooLarge,             ///< "tooLarge": a value passed its size limit (decision 27)
    kNoChains,             ///< the server has no chain access configured
    kNoSigner,             ///< no signer of that name is configured
    kSimulationOnly,       ///< a node type that runs only in simulations
    kUnsupportedNodeType,  ///< a node type this build does not execute
    kAssertionFailed,      ///< an assert node's comparison did not hold
    kRpcError,             ///< the chain answered a JSON-RPC error
    kRpcFailed,            ///< the call to the chain failed (transport, timeout, bad answer)
    kMethodRefused,        ///< the method policy refused the call
    kChainNotForked,       ///< the run has no fork of that chain
    kChainNotConfigured,   ///< the server knows no such chain
    kTransactionReverted,  ///< a sent transaction reverted
    kReceiptTimeout,       ///< no receipt within the timeout
    kProvisioningFailed,   ///< a fork could not be brought up
    kInterrupted,          ///< a node stopped because another one failed
    kNodeFailed,           ///< a node failed without saying why
    kInternalError,        ///< a bug: an exception where none was expected
    kControllerLost,       ///< the process that ran it ended first (decision 66)
    /// A call stopped by the run's cancel or another node's failure: never written as an
    /// error, the node ends `cancelled` (or `interrupted`).
    kCancelled,
};

/// The wire code: "invalid_props", "tooLarge", ...
std::string_view to_string(RunErrc e) noexcept;

/// The category of RunErrc ("forkrun.run").
const std::error_category& run_category() noexcept;

std::error_code make_error_code(RunErrc e) noexcept;

}  // namespace forkrun::controller

template <>
struct std::is_error_code_enum<forkrun::controller::RunErrc> : std::true_type {};
