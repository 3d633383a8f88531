// The error category of RpcErrc.
#include "forks/rpc_error.hpp"

#include <boost/throw_exception.hpp>

namespace forkrun::forks {
namespace {

class RpcCategory final : public std::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.rpc"; }

    std::string message(int ev) const override {
        switch (static_cast<RpcErrc>(ev)) {
            case RpcErrc::kTransport:
                return "transport failure";
            case RpcErrc::kTimeout:
                return "timed out";
            case RpcErrc::kAborted:
                return "aborted";
            case RpcErrc::kHttpStatus:
                return "unexpected HTTP status";
            case RpcErrc::kBadResponse:
                return "bad JSON-RPC response";
            case RpcErrc::kRpcError:
                return "JSON-RPC error";
        }
        return "unknown RPC error";
    }
};

}  // namespace

const std::error_category& rpc_category() noexcept {
    static const RpcCategory category;
    return category;
}

std::error_code make_error_code(RpcErrc e) noexcept {
    return {static_cast<int>(e), rpc_category()};
}

void throw_exception_from_error(const RpcError& e, const boost::source_location& loc) {
    boost::throw_with_location(std::system_error(e.error_code(), e.message), loc);
}

}  // namespace forkrun::forks
