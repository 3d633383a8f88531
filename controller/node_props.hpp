// A node's props once its templates are resolved: one struct per node type, decoded from the
// resolved JSON with the problems a node reports (`invalid_props`).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include "controller/assert_compare.hpp"
#include "controller/node_types.hpp"
#include "controller/run.hpp"
#include "forks/eth/address.hpp"
#include "forks/eth/uint256.hpp"

namespace forkrun::controller {

/// manual: holds nothing; a block node: takes its exit node's output.
struct NoProps {};

/// wait: a time, then a number of blocks of a chain (either or both).
struct WaitProps {
    std::optional<std::chrono::microseconds> time;
    std::optional<std::uint64_t> blocks;
    std::uint64_t chain_id = 0;  ///< set with `blocks`
};

/// assert: `value` compared with `expected` by the first operator given.
struct AssertProps {
    boost::json::value value;
    AssertOp op = AssertOp::kEquals;
    boost::json::value expected;
};

/// rpc: one JSON-RPC call.
struct RpcProps {
    std::uint64_t chain_id = 0;
    std::string method;
    boost::json::array params;
};

/// call: eth_call of `tx` ({to, data, from} as given) at `block`.
struct CallProps {
    std::uint64_t chain_id = 0;  ///< 0 when not a chain id (the call then fails at the chain)
    boost::json::object tx;
    boost::json::value block;  ///< "latest", a tag or a hex quantity
};

/// setBalance: anvil_setBalance on the run's fork.
struct SetBalanceProps {
    std::uint64_t chain_id = 0;
    std::string address;
    eth::Uint256 value_wei;
};

/// transfer (no data) and sendTransaction: a signed EIP-1559 transaction.
struct TransactionProps {
    std::uint64_t chain_id = 0;
    eth::Address to;
    eth::Uint256 value_wei;  ///< the value requested (0 when not given)
    std::vector<std::uint8_t> data;
    std::string signer;                      ///< empty: the default signer
    std::optional<std::uint64_t> gas_limit;  ///< null: estimated
};

using NodeProps = std::variant<NoProps,
                               WaitProps,
                               AssertProps,
                               RpcProps,
                               CallProps,
                               SetBalanceProps,
                               TransactionProps>;

/// The props of a node of type `type` from their resolved JSON, or why they do not fit it.
boost::system::result<NodeProps, ErrorInfo> decode_props(NodeType type,
                                                         const boost::json::value& props);

}  // namespace forkrun::controller
