// Resolved props -> the node type's struct, with the messages a node fails with.
#include "controller/node_props.hpp"

#include <system_error>

#include "forks/eth/hex.hpp"

namespace forkrun::controller {

namespace json = boost::json;

namespace {

ErrorInfo invalid(std::string message) {
    return ErrorInfo{RunErrc::kInvalidProps, std::move(message)};
}

std::uint64_t chain_of(const json::object& p) {
    std::error_code ec;
    const auto* c = p.if_contains("chainId");
    const auto id = c && c->is_number() ? c->to_number<std::uint64_t>(ec) : 0;
    return ec ? 0 : id;
}

boost::system::result<NodeProps, ErrorInfo> wait_props(const json::object& p) {
    WaitProps out;
    if (const auto* seconds = p.if_contains("seconds")) {
        if (!seconds->is_number()) {
            return invalid("wait seconds must be a number");
        }
        const double s = seconds->to_number<double>();
        if (!(s >= 0 && s <= 86400)) {
            return invalid("wait seconds must be between 0 and 86400");
        }
        out.time = std::chrono::microseconds(static_cast<std::int64_t>(s * 1e6));
    }
    if (const auto* blocks = p.if_contains("blocks")) {
        std::error_code ec;
        const auto n = blocks->is_number() ? blocks->to_number<std::uint64_t>(ec) : 0;
        out.chain_id = chain_of(p);
        if (ec || n == 0 || out.chain_id == 0) {
            return invalid("wait blocks needs a positive integer and a chainId");
        }
        out.blocks = n;
    }
    return out;
}

boost::system::result<NodeProps, ErrorInfo> assert_props(const json::object& p) {
    for (auto op : {AssertOp::kEquals, AssertOp::kNotEquals, AssertOp::kGte, AssertOp::kLte}) {
        if (const auto* expected = p.if_contains(to_string(op))) {
            const auto* value = p.if_contains("value");
            return AssertProps{value ? *value : json::value(), op, *expected};
        }
    }
    return invalid("assert needs one of equals, notEquals, gte, lte");
}

boost::system::result<NodeProps, ErrorInfo> rpc_props(const json::object& p) {
    RpcProps out;
    out.chain_id = chain_of(p);
    const auto* method = p.if_contains("method");
    if (out.chain_id == 0 || !method || !method->is_string() || method->get_string().empty()) {
        return invalid("rpc needs a positive chainId and a method");
    }
    out.method = std::string(method->get_string());
    if (const auto* ps = p.if_contains("params")) {
        if (!ps->is_array()) {
            return invalid("rpc params must be an array");
        }
        out.params = ps->get_array();
    }
    return out;
}

boost::system::result<NodeProps, ErrorInfo> call_props(const json::object& p) {
    CallProps out;
    out.chain_id = chain_of(p);
    for (const char* key : {"to", "data", "from"}) {
        if (const auto* v = p.if_contains(key)) {
            out.tx[key] = *v;
        }
    }
    out.block = "latest";
    if (const auto* b = p.if_contains("block")) {
        // Throws on a number that is no block number: the node fails as an internal error.
        out.block =
            b->is_number() ? json::value(eth::Uint256(b->to_number<std::uint64_t>()).to_hex()) : *b;
    }
    return out;
}

boost::system::result<NodeProps, ErrorInfo> set_balance_props(const json::object& p) {
    const auto* address = p.if_contains("address");
    const auto* value = p.if_contains("valueWei");
    if (!address || !address->is_string() || !value || !value->is_string()) {
        return invalid("setBalance needs an address and a valueWei string");
    }
    auto wei = eth::Uint256::from_decimal(value->get_string());
    if (!wei) {
        return invalid("valueWei must be a decimal string below 2^256");
    }
    return SetBalanceProps{chain_of(p), std::string(address->get_string()), *wei};
}

boost::system::result<NodeProps, ErrorInfo> transaction_props(NodeType type,
                                                              const json::object& p) {
    TransactionProps out;
    std::error_code ec;
    const auto* chain_v = p.if_contains("chainId");
    out.chain_id = chain_v && chain_v->is_number() ? chain_v->to_number<std::uint64_t>(ec) : 0;
    if (out.chain_id == 0 || ec) {
        return invalid("chainId must be a positive integer");
    }
    const auto* to_v = p.if_contains("to");
    auto to =
        to_v && to_v->is_string()
            ? eth::Address::parse(to_v->get_string())
            : boost::system::result<eth::Address>(make_error_code(eth::AddressError::kNotAString));
    if (!to) {
        return invalid("to must be a 0x-prefixed 20-byte address");
    }
    out.to = *to;
    const auto* value_v = p.if_contains("valueWei");
    auto requested = eth::Uint256::from_decimal(
        value_v && value_v->is_string() ? std::string_view(value_v->get_string()) : "0");
    if (!requested || (value_v && !value_v->is_string())) {
        return invalid("valueWei must be a decimal string below 2^256");
    }
    out.value_wei = *requested;
    if (type == NodeType::kSendTransaction) {
        const auto* d = p.if_contains("data");
        auto bytes = d && d->is_string() ? eth::from_hex(d->get_string())
                                         : boost::system::result<std::vector<std::uint8_t>>(
                                               make_error_code(eth::HexError::kMissingPrefix));
        if (!bytes) {
            return invalid("data must be 0x-prefixed hex");
        }
        out.data = std::move(*bytes);
    }
    if (const auto* s = p.if_contains("signer"); s && s->is_string()) {
        out.signer = std::string(s->get_string());
    }
    if (const auto* g = p.if_contains("gasLimit"); g && g->is_number()) {
        out.gas_limit = g->to_number<std::uint64_t>(ec);
    }
    return out;
}

}  // namespace

boost::system::result<NodeProps, ErrorInfo> decode_props(NodeType type, const json::value& props) {
    static const json::object kNone;
    const auto* object = props.if_object();
    const json::object& p = object ? *object : kNone;
    switch (type) {
        case NodeType::kWait:
            return wait_props(p);
        case NodeType::kAssert:
            return assert_props(p);
        case NodeType::kRpc:
            return rpc_props(p);
        case NodeType::kCall:
            return call_props(p);
        case NodeType::kSetBalance:
            return set_balance_props(p);
        case NodeType::kTransfer:
        case NodeType::kSendTransaction:
            return transaction_props(type, p);
        case NodeType::kManual:
        case NodeType::kBlock:
            break;
    }
    return NoProps{};
}

}  // namespace forkrun::controller
