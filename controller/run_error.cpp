// The wire codes of RunErrc and its error category.
#include "controller/run_error.hpp"

#include <string>

namespace forkrun::controller {

namespace {

struct Names {
    std::string_view code;
    std::string_view sentence;
};

Names names(RunErrc e) noexcept {
    switch (e) {
        case RunErrc::kInvalidProps:
            return {"invalid_props", "the node's props do not fit its type"};
        case RunErrc::kTemplateError:
            return {"template_error", "a template names something that is not there"};
        case RunErrc::kTooLarge:
            return {"tooLarge", "a value passed its size limit"};
        case RunErrc::kNoChains:
            return {"no_chains", "this server has no chain access configured"};
        case RunErrc::kNoSigner:
            return {"no_signer", "no such signer is configured"};
        case RunErrc::kSimulationOnly:
            return {"simulation_only", "the node type runs only in simulations"};
        case RunErrc::kUnsupportedNodeType:
            return {"unsupported_node_type", "the node type is not supported here"};
        case RunErrc::kAssertionFailed:
            return {"assertion_failed", "an assertion did not hold"};
        case RunErrc::kRpcError:
            return {"rpc_error", "the chain answered a JSON-RPC error"};
        case RunErrc::kRpcFailed:
            return {"rpc_failed", "the call to the chain failed"};
        case RunErrc::kMethodRefused:
            return {"method_refused", "the method is refused"};
        case RunErrc::kChainNotForked:
            return {"chain_not_forked", "the run has no fork of the chain"};
        case RunErrc::kChainNotConfigured:
            return {"chain_not_configured", "the chain is not configured"};
        case RunErrc::kTransactionReverted:
            return {"transaction_reverted", "the transaction reverted"};
        case RunErrc::kReceiptTimeout:
            return {"receipt_timeout", "no receipt in time"};
        case RunErrc::kProvisioningFailed:
            return {"provisioning_failed", "a fork could not be brought up"};
        case RunErrc::kInterrupted:
            return {"interrupted", "stopped because another node failed"};
        case RunErrc::kNodeFailed:
            return {"node_failed", "the node failed"};
        case RunErrc::kInternalError:
            return {"internal_error", "internal error"};
        case RunErrc::kControllerLost:
            return {"controllerLost", "the controller that ran it ended first"};
        case RunErrc::kCancelled:
            return {"cancelled", "cancelled"};
    }
    return {"internal_error", "unknown run error"};
}

class RunCategory final : public std::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.run"; }
    std::string message(int ev) const override {
        return std::string(names(static_cast<RunErrc>(ev)).sentence);
    }
};

}  // namespace

std::string_view to_string(RunErrc e) noexcept {
    return names(e).code;
}

const std::error_category& run_category() noexcept {
    static const RunCategory category;
    return category;
}

std::error_code make_error_code(RunErrc e) noexcept {
    return {static_cast<int>(e), run_category()};
}

}  // namespace forkrun::controller
