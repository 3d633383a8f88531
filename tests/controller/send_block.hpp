// A library block for tests: funds an address, pays it, and asserts on a memo (inputs chainId,
// to, memo, signer).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>

#include "controller/block_library.hpp"

namespace forkrun::controller::test {

inline constexpr const char* kSendBlock = R"({
  "blockId": "send", "description": "funds then sends",
  "inputs": [{"key": "chainId", "type": "number", "required": true},
             {"key": "to", "type": "string", "required": true},
             {"key": "memo", "type": "string"},
             {"key": "signer", "type": "string"}],
  "entry": "fund", "exit": "pay",
  "nodes": {
    "fund": {"type": "setBalance", "children": ["pay", "note"],
             "props": {"chainId": "{{inputs.chainId}}", "address": "{{inputs.to}}",
                       "valueWei": "5"}},
    "pay": {"type": "transfer",
            "props": {"chainId": "{{inputs.chainId}}", "to": "{{inputs.to}}", "valueWei": "1",
                      "signer": "{{inputs.signer}}"}},
    "note": {"type": "assert",
             "props": {"value": "memo: {{inputs.memo}} after {{nodes.fund.output}}",
                       "notEquals": ""}}
  }
})";

/// Adds the block file `text` to `lib`; the problems it has.
inline std::vector<std::string> load_block(BlockLibrary& lib, std::string_view text) {
    std::vector<std::string> problems;
    lib.add(boost::json::parse(text), "test.json", problems);
    return problems;
}

}  // namespace forkrun::controller::test
