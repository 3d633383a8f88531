// The workflow node types, which of them a build executes, and the shape of each type's props.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>

#include <boost/json/value.hpp>

#include "controller/field_error.hpp"

namespace forkrun::controller {

/// A node's `type`, as named in the API ("Workflow nodes").
enum class NodeType : std::uint8_t {
    kManual,
    kRpc,
    kCall,
    kTransfer,
    kSendTransaction,
    kSetBalance,
    kWait,
    kAssert,
    kBlock,
};

inline constexpr std::size_t kNodeTypeCount = 9;

/// The type named `name` (`"sendTransaction"` -> kSendTransaction), or nothing if unknown.
std::optional<NodeType> parse_node_type(std::string_view name);

/// The API name of `type`.
std::string_view to_string(NodeType type);

/// Whether `s` is 1-64 characters of `[A-Za-z0-9_-]`: the shape of node ids, inputSchema keys,
/// template names and signer names.
bool is_valid_id(std::string_view s);

/// A set of node types: the ones this build executes. Validation treats a type outside the set
/// exactly like an unknown type.
class NodeTypeSet {
  public:
    constexpr NodeTypeSet() = default;
    constexpr NodeTypeSet(std::initializer_list<NodeType> types) {
        for (NodeType type : types) {
            insert(type);
        }
    }

    /// Every node type.
    static constexpr NodeTypeSet all() {
        NodeTypeSet set;
        set.bits_ = static_cast<std::uint16_t>((1u << kNodeTypeCount) - 1);
        return set;
    }

    constexpr NodeTypeSet& insert(NodeType type) {
        bits_ = static_cast<std::uint16_t>(bits_ | bit(type));
        return *this;
    }

    constexpr NodeTypeSet& erase(NodeType type) {
        bits_ = static_cast<std::uint16_t>(bits_ & ~bit(type));
        return *this;
    }

    constexpr bool contains(NodeType type) const { return (bits_ & bit(type)) != 0; }

    friend constexpr bool operator==(NodeTypeSet, NodeTypeSet) = default;

  private:
    static constexpr std::uint16_t bit(NodeType type) {
        return static_cast<std::uint16_t>(1u << static_cast<unsigned>(type));
    }

    std::uint16_t bits_ = 0;
};

/// Checks the props of a node of type `type` against the API's table, adding every problem to
/// `errors`. `props` is the node's `props` value, or null when the node has none; `props_path` is
/// its JSON pointer (`.../nodes/<id>/props`). A string holding templates passes for any prop type
/// as long as the template syntax is valid. `setBalance` outside a simulation is reported at the
/// sibling `type` pointer. `{{inputs.<key>}}` templates are accepted only with `allow_inputs`
/// (the nodes of a block-library file).
void check_props(NodeType type,
                 const boost::json::value& props,
                 std::string_view props_path,
                 bool is_simulation,
                 FieldErrors& errors,
                 bool allow_inputs = false);

}  // namespace forkrun::controller
