// Tests for workflowDefinition validation, with the node props and inputSchema rules as a
// definition meets them.
#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "controller/field_error_print.hpp"
#include "controller/workflow_validation.hpp"

namespace forkrun::controller {

namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::string_view kNodes = "/workflowDefinition/nodes";
const std::string kA = "/workflowDefinition/nodes/a";
const std::string kProps = "/workflowDefinition/nodes/a/props";

/// `root -> a`, with node `a` as given.
std::string with_a(std::string_view node_a) {
    return R"({"nodes":{"root":{"type":"manual","children":["a"]},"a":)" + std::string(node_a) +
           "}}";
}

/// `root -> a` where `a` has type `type` and props `props`.
std::string props_of(std::string_view type, std::string_view props) {
    return with_a(R"({"type":")" + std::string(type) + R"(","props":)" + std::string(props) + "}");
}

ValidationOptions options(bool is_simulation = true) {
    ValidationOptions opts;
    opts.enabled = NodeTypeSet::all();
    opts.is_simulation = is_simulation;
    return opts;
}

FieldErrors validate(std::string_view definition, const ValidationOptions& opts = options()) {
    return validate_workflow_definition(json::parse(definition), opts);
}

std::string chain(std::size_t n) {
    std::string def = R"({"nodes":{"root":{"type":"manual","children":["n0"]})";
    for (std::size_t i = 0; i < n; ++i) {
        def += ",\"n" + std::to_string(i) + "\":{\"type\":\"wait\",\"props\":{\"seconds\":0}";
        if (i + 1 < n) {
            def += ",\"children\":[\"n" + std::to_string(i + 1) + "\"]";
        }
        def += "}";
    }
    return def + "}}";
}

// ---- one case per rule: a definition and every error it must produce ----

struct RuleCase {
    std::string name;
    std::string definition;
    FieldErrors expected;
    bool is_simulation = true;
    NodeTypeSet enabled = NodeTypeSet::all();
    std::size_t max_nodes = 10000;
};

void PrintTo(const RuleCase& c, std::ostream* os) {
    *os << c.name;
}

class ValidationRule : public ::testing::TestWithParam<RuleCase> {};

TEST_P(ValidationRule, ReportsExactlyTheseErrors) {
    const RuleCase& c = GetParam();
    ValidationOptions opts = options(c.is_simulation);
    opts.enabled = c.enabled;
    opts.max_nodes = c.max_nodes;
    EXPECT_EQ(validate(c.definition, opts), c.expected) << c.definition;
}

std::string must_be(std::string_view prop, std::string_view what) {
    return std::string(prop) + " must be " + std::string(what);
}

const std::string kAddress = "an address: 0x and 40 hex digits";
const std::string kHexData = "0x and an even number of hex digits";
const std::string kPositive = "a positive integer";
const std::string kWei = "a decimal string of wei (digits only, at most 2^256 - 1)";
const std::string kBlockTag =
    "a block tag (latest, pending, earliest, safe, finalized), a 0x-hex block number or a "
    "non-negative integer";
const std::string kTemplateHelp =
    ": use {{props.<key>}}, {{nodes.<id>.output}} or {{nodes.<id>.output.<field>}}";
const std::string kMaxWei =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";
const std::string kTooMuchWei =
    "115792089237316195423570985008687907853269984665640564039457584007913129639936";
const std::string kTo = R"("to":"0x00000000000000000000000000000000000000aA")";

std::vector<RuleCase> valid_cases() {
    return {
        {"minimal", R"({"nodes":{"root":{"type":"manual"}}})", {}},
        {"manual_empty_props",
         R"({"nodes":{"root":{"type":"manual","props":{},"children":[]}}})",
         {}},
        {"every_type",
         R"({"nodes":{
            "root":{"type":"manual","children":["rpc","call","transfer","send","fund","wait","check","blk"]},
            "rpc":{"type":"rpc","props":{"chainId":1,"method":"eth_blockNumber"}},
            "call":{"type":"call","props":{"chainId":8453,"to":"0x00000000000000000000000000000000000000aA",
                    "data":"0x","from":"0xAbCdEf0000000000000000000000000000000001","block":"0x1a"}},
            "transfer":{"type":"transfer","props":{"chainId":1,"to":"0x00000000000000000000000000000000000000aA",
                    "valueWei":"1000","signer":"ops_1"}},
            "send":{"type":"sendTransaction","props":{"chainId":1,"to":"0x00000000000000000000000000000000000000aA",
                    "data":"0xa9059cbb","gasLimit":21000}},
            "fund":{"type":"setBalance","props":{"chainId":1,"address":"0x00000000000000000000000000000000000000aA",
                    "valueWei":")" +
             kMaxWei + R"("}},
            "wait":{"type":"wait","props":{"blocks":2,"chainId":1,"seconds":86400}},
            "check":{"type":"assert","props":{"value":null,"notEquals":{"a":[1]}}},
            "blk":{"type":"block","props":{"blockId":"erc20-balance","props":{"x":1}}}},
          "inputSchema":[{"key":"chain","type":"number","required":true,"description":"chain id"},
                         {"key":"who","type":"string"}]})",
         {}},
        {"block_tags",
         R"({"nodes":{"root":{"type":"manual","children":["a","b","c","d"]},
            "a":{"type":"call","props":{"chainId":1,)" +
             kTo + R"(,"data":"0x","block":"finalized"}},
            "b":{"type":"call","props":{"chainId":1,)" +
             kTo + R"(,"data":"0x","block":"0x0"}},
            "c":{"type":"call","props":{"chainId":1,)" +
             kTo + R"(,"data":"0x","block":0}},
            "d":{"type":"call","props":{"chainId":1,)" +
             kTo + R"(,"data":"0x","block":18446744073709551615}}}})",
         {}},
        {"templates_for_any_type",
         props_of("sendTransaction",
                  R"({"chainId":"{{props.chain}}","to":"{{ nodes.root.output.to }}",
                      "data":"0x{{props.data}}","valueWei":"{{nodes.root.output}}",
                      "gasLimit":"{{props.gas}}","signer":"{{props.signer}}"})"),
         {}},
        {"templates_nested_in_params",
         props_of("rpc", R"({"chainId":1,"method":"eth_getBalance",
                            "params":["{{props.who}}",{"block":["{{nodes.root.output.0}}"]}]})"),
         {}},
    };
}

std::vector<RuleCase> structure_cases() {
    const std::string n(kNodes);
    return {
        {"definition_not_object",
         "[]",
         {{"/workflowDefinition", "workflowDefinition must be an object"}}},
        {"nodes_missing", "{}", {{n, "nodes is required"}}},
        // Only sourceRunId and simulationMode may be null anywhere in a create.
        {"null_children",
         with_a(R"({"type":"wait","props":{"seconds":0.5},"children":null})"),
         {{kA + "/children", "children must be an array of node ids, not null"}}},
        {"null_props",
         R"({"nodes":{"root":{"type":"manual","props":null}}})",
         {{n + "/root/props", "props must be an object, not null (or left out)"}}},

        {"nodes_not_object", R"({"nodes":[]})", {{n, "nodes must be an object keyed by node id"}}},
        {"root_missing",
         R"({"nodes":{}})",
         {{n + "/root", "a node \"root\" of type manual is required: it triggers the run"}}},
        {"root_not_manual",
         R"({"nodes":{"root":{"type":"wait","props":{"seconds":1}}}})",
         {{n + "/root/type", "root must be of type manual"}}},
        {"other_manual",
         with_a(R"({"type":"manual"})"),
         {{kA + "/type", "only root can be of type manual"}}},
        {"id_with_space",
         R"({"nodes":{"root":{"type":"manual","children":["a b"]},"a b":{"type":"wait","props":{"seconds":1}}}})",
         {{n + "/a b", "node id must be 1-64 characters of [A-Za-z0-9_-]"}}},
        {"id_escaped_in_pointer",
         R"({"nodes":{"root":{"type":"manual","children":["a/b","c~d"]},
            "a/b":{"type":"wait","props":{"seconds":1}},"c~d":{"type":"wait","props":{"seconds":1}}}})",
         {{n + "/a~1b", "node id must be 1-64 characters of [A-Za-z0-9_-]"},
          {n + "/c~0d", "node id must be 1-64 characters of [A-Za-z0-9_-]"}}},
        {"id_too_long",
         R"({"nodes":{"root":{"type":"manual","children":[")" + std::string(65, 'x') + R"("]},")" +
             std::string(65, 'x') + R"(":{"type":"wait","props":{"seconds":1}}}})",
         {{n + "/" + std::string(65, 'x'), "node id must be 1-64 characters of [A-Za-z0-9_-]"}}},
        {"id_of_64_chars",
         R"({"nodes":{"root":{"type":"manual","children":[")" + std::string(64, 'x') + R"("]},")" +
             std::string(64, 'x') + R"(":{"type":"wait","props":{"seconds":1}}}})",
         {}},
        {"node_not_object", with_a("5"), {{kA, "a node must be an object"}}},
        {"unknown_node_key",
         R"({"nodes":{"root":{"type":"manual","position":{"x":1}}}})",
         {{n + "/root/position", "unknown key \"position\""}}},
        {"type_missing", with_a("{}"), {{kA + "/type", "type is required"}}},
        {"type_not_string", with_a(R"({"type":7})"), {{kA + "/type", "type must be a string"}}},
        {"type_unknown",
         with_a(R"({"type":"frobnicate"})"),
         {{kA + "/type", "unknown node type \"frobnicate\""}}},
        {"type_not_enabled",
         props_of("wait", R"({"seconds":1})"),
         {{kA + "/type", "unknown node type \"wait\""}},
         true,
         NodeTypeSet{NodeType::kManual, NodeType::kRpc}},
        {"children_not_array",
         R"({"nodes":{"root":{"type":"manual","children":"a"}}})",
         {{n + "/root/children", "children must be an array of node ids"}}},
        {"child_not_string",
         R"({"nodes":{"root":{"type":"manual","children":[1]}}})",
         {{n + "/root/children/0", "a child must be a node id"}}},
        {"child_not_a_node",
         R"({"nodes":{"root":{"type":"manual","children":["zz"]}}})",
         {{n + "/root/children/0", "\"zz\" is not a node"}}},
        {"child_duplicate",
         R"({"nodes":{"root":{"type":"manual","children":["a","a"]},
            "a":{"type":"wait","props":{"seconds":1}}}})",
         {{n + "/root/children/1", "duplicate child \"a\""}}},
        {"child_is_itself",
         with_a(R"({"type":"wait","props":{"seconds":1},"children":["a"]})"),
         {{kA + "/children/0", "a node cannot be its own child"}}},
        {"cycle",
         R"({"nodes":{"root":{"type":"manual","children":["a"]},
            "a":{"type":"wait","props":{"seconds":1},"children":["b"]},
            "b":{"type":"wait","props":{"seconds":1},"children":["a"]}}})",
         {{n, "nodes form a cycle: a -> b -> a"}}},
        {"cycle_named_from_smallest_id_shortest_way",
         R"({"nodes":{"root":{"type":"manual","children":["z"]},
            "z":{"type":"wait","props":{"seconds":1},"children":["m"]},
            "m":{"type":"wait","props":{"seconds":1},"children":["b","q"]},
            "q":{"type":"wait","props":{"seconds":1},"children":["r"]},
            "r":{"type":"wait","props":{"seconds":1},"children":["z"]},
            "b":{"type":"wait","props":{"seconds":1},"children":["z"]}}})",
         {{n, "nodes form a cycle: b -> z -> m -> b"}}},
        {"two_cycles_one_error_each",
         R"({"nodes":{"root":{"type":"manual","children":["a","c"]},
            "a":{"type":"wait","props":{"seconds":1},"children":["b"]},
            "b":{"type":"wait","props":{"seconds":1},"children":["a"]},
            "c":{"type":"wait","props":{"seconds":1},"children":["d"]},
            "d":{"type":"wait","props":{"seconds":1},"children":["c"]}}})",
         {{n, "nodes form a cycle: a -> b -> a"}, {n, "nodes form a cycle: c -> d -> c"}}},
        {"cycle_through_root",
         R"({"nodes":{"root":{"type":"manual","children":["a"]},
            "a":{"type":"wait","props":{"seconds":1},"children":["root"]}}})",
         {{n, "nodes form a cycle: a -> root -> a"}}},
        {"unreachable",
         R"({"nodes":{"root":{"type":"manual"},"b":{"type":"wait","props":{"seconds":1},"children":["c"]},
            "c":{"type":"wait","props":{"seconds":1}}}})",
         {{n + "/b", "node is not reachable from root"},
          {n + "/c", "node is not reachable from root"}}},
        {"block_expansions_supplied",
         R"({"nodes":{"root":{"type":"manual"}},"blockExpansions":{}})",
         {{"/workflowDefinition/blockExpansions",
           "blockExpansions is set by the controller and cannot be supplied"}}},
        {"unknown_definition_key",
         R"({"nodes":{"root":{"type":"manual"}},"name":"x"})",
         {{"/workflowDefinition/name", "unknown key \"name\""}}},
        {"too_many_nodes",
         props_of("wait", R"({"seconds":1})"),
         {{n, "a workflow has at most 1 nodes; this one has 2"}},
         true,
         NodeTypeSet::all(),
         1},
    };
}

std::vector<RuleCase> props_cases() {
    const std::string p = kProps;
    return {
        {"props_not_object", props_of("wait", "[]"), {{p, "props must be an object"}}},
        {"props_not_object_unknown_type",
         props_of("nope", "1"),
         {{kA + "/type", "unknown node type \"nope\""}, {p, "props must be an object"}}},
        {"unknown_prop",
         props_of("wait", R"({"seconds":1,"x":2})"),
         {{p + "/x", "unknown prop \"x\" for node type wait"}}},
        {"manual_takes_no_props",
         R"({"nodes":{"root":{"type":"manual","props":{"x":1}}}})",
         {{std::string(kNodes) + "/root/props/x", "unknown prop \"x\" for node type manual"}}},
        // wait
        {"wait_needs_something",
         props_of("wait", "{}"),
         {{p, "wait needs seconds, blocks or both"}}},
        {"wait_no_props",
         with_a(R"({"type":"wait"})"),
         {{p, "wait needs seconds, blocks or both"}}},
        {"wait_seconds_negative",
         props_of("wait", R"({"seconds":-1})"),
         {{p + "/seconds", must_be("seconds", "a number of seconds from 0 to 86400")}}},
        {"wait_seconds_too_long",
         props_of("wait", R"({"seconds":86400.5})"),
         {{p + "/seconds", must_be("seconds", "a number of seconds from 0 to 86400")}}},
        {"wait_seconds_string",
         props_of("wait", R"({"seconds":"5"})"),
         {{p + "/seconds", must_be("seconds", "a number of seconds from 0 to 86400")}}},
        {"wait_blocks_zero",
         props_of("wait", R"({"blocks":0,"chainId":1})"),
         {{p + "/blocks", must_be("blocks", kPositive)}}},
        {"wait_blocks_fraction",
         props_of("wait", R"({"blocks":1.5,"chainId":1})"),
         {{p + "/blocks", must_be("blocks", kPositive)}}},
        {"wait_blocks_without_chain",
         props_of("wait", R"({"blocks":3})"),
         {{p + "/chainId", "chainId is required when blocks is set"}}},
        // assert
        {"assert_value_missing",
         props_of("assert", R"({"equals":1})"),
         {{p + "/value", "value is required for node type assert"}}},
        {"assert_no_comparator",
         props_of("assert", R"({"value":1})"),
         {{p, "assert needs exactly one of equals, notEquals, gte, lte"}}},
        {"assert_two_comparators",
         props_of("assert", R"({"value":1,"equals":1,"gte":"0x1"})"),
         {{p, "assert needs exactly one of equals, notEquals, gte, lte; got equals, gte"}}},
        // rpc
        {"rpc_missing_required",
         props_of("rpc", "{}"),
         {{p + "/chainId", "chainId is required for node type rpc"},
          {p + "/method", "method is required for node type rpc"}}},
        {"rpc_chain_zero",
         props_of("rpc", R"({"chainId":0,"method":"eth_chainId"})"),
         {{p + "/chainId", must_be("chainId", kPositive)}}},
        {"rpc_chain_string",
         props_of("rpc", R"({"chainId":"1","method":"eth_chainId"})"),
         {{p + "/chainId", must_be("chainId", kPositive)}}},
        {"rpc_method_empty",
         props_of("rpc", R"({"chainId":1,"method":""})"),
         {{p + "/method", must_be("method", "a non-empty string")}}},
        {"rpc_params_not_array",
         props_of("rpc", R"({"chainId":1,"method":"m","params":{}})"),
         {{p + "/params", must_be("params", "an array")}}},
        // call
        {"call_missing_required",
         props_of("call", "{}"),
         {{p + "/chainId", "chainId is required for node type call"},
          {p + "/to", "to is required for node type call"},
          {p + "/data", "data is required for node type call"}}},
        {"call_to_short",
         props_of("call", R"({"chainId":1,"to":"0x1234","data":"0x"})"),
         {{p + "/to", must_be("to", kAddress)}}},
        {"call_to_not_hex",
         props_of("call",
                  R"({"chainId":1,"to":"0x00000000000000000000000000000000000000zz","data":"0x"})"),
         {{p + "/to", must_be("to", kAddress)}}},
        {"call_data_odd",
         props_of("call", R"({"chainId":1,)" + kTo + R"(,"data":"0xabc"})"),
         {{p + "/data", must_be("data", kHexData)}}},
        {"call_data_no_prefix",
         props_of("call", R"({"chainId":1,)" + kTo + R"(,"data":"abcd"})"),
         {{p + "/data", must_be("data", kHexData)}}},
        {"call_from_bad",
         props_of("call", R"({"chainId":1,)" + kTo + R"(,"data":"0x","from":7})"),
         {{p + "/from", must_be("from", kAddress)}}},
        {"call_block_unknown_tag",
         props_of("call", R"({"chainId":1,)" + kTo + R"(,"data":"0x","block":"newest"})"),
         {{p + "/block", must_be("block", kBlockTag)}}},
        {"call_block_leading_zero",
         props_of("call", R"({"chainId":1,)" + kTo + R"(,"data":"0x","block":"0x01"})"),
         {{p + "/block", must_be("block", kBlockTag)}}},
        {"call_block_negative",
         props_of("call", R"({"chainId":1,)" + kTo + R"(,"data":"0x","block":-1})"),
         {{p + "/block", must_be("block", kBlockTag)}}},
        // transfer
        {"transfer_missing_required",
         props_of("transfer", "{}"),
         {{p + "/chainId", "chainId is required for node type transfer"},
          {p + "/to", "to is required for node type transfer"},
          {p + "/valueWei", "valueWei is required for node type transfer"}}},
        {"transfer_wei_signed",
         props_of("transfer", R"({"chainId":1,)" + kTo + R"(,"valueWei":"-1"})"),
         {{p + "/valueWei", must_be("valueWei", kWei)}}},
        {"transfer_wei_number",
         props_of("transfer", R"({"chainId":1,)" + kTo + R"(,"valueWei":1})"),
         {{p + "/valueWei", must_be("valueWei", kWei)}}},
        {"transfer_wei_hex",
         props_of("transfer", R"({"chainId":1,)" + kTo + R"(,"valueWei":"0x10"})"),
         {{p + "/valueWei", must_be("valueWei", kWei)}}},
        {"transfer_wei_empty",
         props_of("transfer", R"({"chainId":1,)" + kTo + R"(,"valueWei":""})"),
         {{p + "/valueWei", must_be("valueWei", kWei)}}},
        {"transfer_wei_over_uint256",
         props_of("transfer",
                  R"({"chainId":1,)" + kTo + R"(,"valueWei":")" + kTooMuchWei + R"("})"),
         {{p + "/valueWei", must_be("valueWei", kWei)}}},
        {"transfer_wei_79_digits",
         props_of("transfer",
                  R"({"chainId":1,)" + kTo + R"(,"valueWei":")" + std::string(79, '1') + R"("})"),
         {{p + "/valueWei", must_be("valueWei", kWei)}}},
        {"transfer_signer_bad",
         props_of("transfer", R"({"chainId":1,)" + kTo + R"(,"valueWei":"1","signer":"a b"})"),
         {{p + "/signer", must_be("signer", "a signer name: 1-64 characters of [A-Za-z0-9_-]")}}},
        // sendTransaction
        {"send_missing_required",
         props_of("sendTransaction", "{}"),
         {{p + "/chainId", "chainId is required for node type sendTransaction"},
          {p + "/to", "to is required for node type sendTransaction"},
          {p + "/data", "data is required for node type sendTransaction"}}},
        {"send_gas_limit_zero",
         props_of("sendTransaction", R"({"chainId":1,)" + kTo + R"(,"data":"0x","gasLimit":0})"),
         {{p + "/gasLimit", must_be("gasLimit", kPositive)}}},
        // setBalance
        {"set_balance_missing_required",
         props_of("setBalance", "{}"),
         {{p + "/chainId", "chainId is required for node type setBalance"},
          {p + "/address", "address is required for node type setBalance"},
          {p + "/valueWei", "valueWei is required for node type setBalance"}}},
        {"set_balance_live",
         props_of(
             "setBalance",
             R"({"chainId":1,"address":"0x00000000000000000000000000000000000000aA","valueWei":"1"})"),
         {{kA + "/type", "setBalance is for simulations only"}},
         false},
        // block
        {"block_missing_id",
         props_of("block", "{}"),
         {{p + "/blockId", "blockId is required for node type block"}}},
        {"block_empty_id_and_bad_props",
         props_of("block", R"({"blockId":"","props":[]})"),
         {{p + "/blockId", must_be("blockId", "a non-empty string")},
          {p + "/props", must_be("props", "an object")}}},
        // template syntax
        {"template_unknown_root",
         props_of("rpc", R"({"chainId":"{{prop.chain}}","method":"m"})"),
         {{p + "/chainId", "invalid template \"{{prop.chain}}\"" + kTemplateHelp}}},
        {"template_unclosed",
         props_of("rpc", R"({"chainId":1,"method":"eth_{{props.m"})"),
         {{p + "/method", "unclosed template \"{{props.m\": no closing }}"}}},
        {"template_nested_in_params",
         props_of("rpc", R"({"chainId":1,"method":"m","params":[1,{"a/b":["ok","{{nodes.x}}"]}]})"),
         {{p + "/params/1/a~1b/1", "invalid template \"{{nodes.x}}\"" + kTemplateHelp}}},
        {"template_in_block_props",
         props_of("block", R"({"blockId":"b","props":{"x":"{{ }}"}})"),
         {{p + "/props/x", "invalid template \"{{ }}\"" + kTemplateHelp}}},
        {"template_inputs_outside_block",
         props_of("assert", R"({"value":"{{inputs.x}}","equals":1})"),
         {{p + "/value", "invalid template \"{{inputs.x}}\": inputs exist only inside a block"}}},
    };
}

std::vector<RuleCase> schema_cases() {
    const std::string s = "/workflowDefinition/inputSchema";
    const std::string root = R"({"nodes":{"root":{"type":"manual"}},"inputSchema":)";
    return {
        {"schema_not_array", root + "{}}", {{s, "inputSchema must be an array"}}},
        {"schema_null", root + "null}", {{s, "inputSchema must be an array, not null"}}},
        {"schema_entry_not_object",
         root + "[1]}",
         {{s + "/0", "inputSchema entries must be objects"}}},
        {"schema_key_missing",
         root + R"([{"type":"string"}]})",
         {{s + "/0/key", "key is required"}}},
        {"schema_key_bad",
         root + R"([{"key":"a.b","type":"string"}]})",
         {{s + "/0/key", "key must be 1-64 characters of [A-Za-z0-9_-]"}}},
        {"schema_key_duplicate",
         root + R"([{"key":"a","type":"string"},{"key":"a","type":"number"}]})",
         {{s + "/1/key", "duplicate key \"a\""}}},
        {"schema_type_missing", root + R"([{"key":"a"}]})", {{s + "/0/type", "type is required"}}},
        {"schema_type_bad",
         root + R"([{"key":"a","type":"integer"}]})",
         {{s + "/0/type", "type must be one of string, number, boolean, object, array"}}},
        {"schema_required_not_bool",
         root + R"([{"key":"a","type":"string","required":"yes"}]})",
         {{s + "/0/required", "required must be a boolean"}}},
        {"schema_description_not_string",
         root + R"([{"key":"a","type":"string","description":1}]})",
         {{s + "/0/description", "description must be a string"}}},
        {"schema_unknown_key",
         root + R"([{"key":"a","type":"string","default":"x"}]})",
         {{s + "/0/default", "unknown key \"default\""}}},
    };
}

std::string case_name(const ::testing::TestParamInfo<RuleCase>& info) {
    return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(ValidationValid,
                         ValidationRule,
                         ::testing::ValuesIn(valid_cases()),
                         case_name);
INSTANTIATE_TEST_SUITE_P(ValidationStructure,
                         ValidationRule,
                         ::testing::ValuesIn(structure_cases()),
                         case_name);
INSTANTIATE_TEST_SUITE_P(ValidationProps,
                         ValidationRule,
                         ::testing::ValuesIn(props_cases()),
                         case_name);
INSTANTIATE_TEST_SUITE_P(ValidationInputSchema,
                         ValidationRule,
                         ::testing::ValuesIn(schema_cases()),
                         case_name);

// ---- several problems, large graphs, odd input ----

TEST(ValidationDefinition, ReportsEveryProblemAtOnce) {
    const FieldErrors errors = validate(R"({
        "nodes": {
            "root": {"type": "wait", "children": ["a", "ghost"]},
            "a": {"type": "rpc", "props": {"chainId": -1, "extra": true}, "children": ["b"]},
            "b": {"type": "manual", "children": ["a"]},
            "lonely": {"type": "teleport"}
        },
        "inputSchema": [{"key": "k", "type": "date"}],
        "blockExpansions": {}
    })");
    const std::string n(kNodes);
    EXPECT_THAT(
        errors,
        ElementsAre(FieldError{"/workflowDefinition/blockExpansions",
                               "blockExpansions is set by the controller and cannot be supplied"},
                    FieldError{n + "/root/type", "root must be of type manual"},
                    FieldError{n + "/root/props", "wait needs seconds, blocks or both"},
                    FieldError{n + "/root/children/1", "\"ghost\" is not a node"},
                    FieldError{n + "/a/props/chainId", "chainId must be a positive integer"},
                    FieldError{n + "/a/props/extra", "unknown prop \"extra\" for node type rpc"},
                    FieldError{n + "/a/props/method", "method is required for node type rpc"},
                    FieldError{n + "/b/type", "only root can be of type manual"},
                    FieldError{n + "/lonely/type", "unknown node type \"teleport\""},
                    FieldError{n, "nodes form a cycle: a -> b -> a"},
                    FieldError{n + "/lonely", "node is not reachable from root"},
                    FieldError{"/workflowDefinition/inputSchema/0/type",
                               "type must be one of string, number, boolean, object, array"}));
}

TEST(ValidationDefinition, UsesTheGivenBasePath) {
    ValidationOptions opts = options();
    opts.base_path = "/definition";
    EXPECT_THAT(validate(R"({"nodes":{}})", opts),
                ElementsAre(FieldError{"/definition/nodes/root",
                                       "a node \"root\" of type manual is required: it triggers "
                                       "the run"}));
}

TEST(ValidationDefinition, LongChainAndFanOutAreQuickWithoutRecursion) {
    std::string fan = R"({"nodes":{"root":{"type":"manual","children":[)";
    std::string leaves;
    for (int i = 0; i < 9999; ++i) {
        fan += (i ? ",\"f" : "\"f") + std::to_string(i) + "\"";
        leaves += ",\"f" + std::to_string(i) + "\":{\"type\":\"wait\",\"props\":{\"seconds\":1}}";
    }
    fan += "]}" + leaves + "}}";
    for (const std::string& def : {chain(9999), fan}) {
        const json::value parsed = json::parse(def);
        ASSERT_EQ(parsed.at("nodes").as_object().size(), 10000u);
        const auto start = std::chrono::steady_clock::now();
        EXPECT_THAT(validate_workflow_definition(parsed, options()), IsEmpty());
        const Graph graph = build_graph(parsed.at("nodes").as_object());
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
        EXPECT_EQ(graph.ids.size(), 10000u);
        EXPECT_EQ(graph.ids.front(), "root");
    }
}

TEST(ValidationDefinition, LongCycleIsNamedShortly) {
    // n0 -> n1 -> ... -> n9998 -> n0: one error, with the middle of the cycle elided.
    std::string def = chain(9999);
    def.replace(def.rfind("{\"seconds\":0}"), 13, "{\"seconds\":0},\"children\":[\"n0\"]");
    const FieldErrors errors = validate(def);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].path, kNodes);
    EXPECT_TRUE(errors[0].message.starts_with("nodes form a cycle: n0 -> n1 -> "));
    EXPECT_TRUE(errors[0].message.ends_with("-> ... (9983 more) -> n0"));
}

TEST(ValidationDefinition, MoreThanMaxNodesIsOneError) {
    const FieldErrors errors = validate(chain(10000));
    EXPECT_THAT(errors, ElementsAre(FieldError{std::string(kNodes),
                                               "a workflow has at most 10000 nodes; this one has "
                                               "10001"}));
}

TEST(ValidationDefinition, DeeplyNestedPropsDoNotOverflowTheStack) {
    // Built by hand: the parser would refuse this depth, but a fuzzer's values need not be parsed.
    json::value deep = "{{props.x";
    for (int i = 0; i < 100000; ++i) {
        json::array wrapper;
        wrapper.push_back(std::move(deep));
        deep = std::move(wrapper);
    }
    json::value def = json::parse(props_of("rpc", R"({"chainId":1,"method":"m"})"));
    def.at("nodes").at("a").at("props").as_object()["params"] = std::move(deep);
    const FieldErrors errors = validate_workflow_definition(def, options());
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].message, "unclosed template \"{{props.x\": no closing }}");
    // Boost.JSON destroys recursively: unwrap the nesting one level at a time first.
    json::value nested = std::move(def.at("nodes").at("a").at("props").as_object()["params"]);
    while (nested.is_array() && !nested.get_array().empty()) {
        json::value inner = std::move(nested.get_array()[0]);
        nested = std::move(inner);
    }
}

TEST(ValidationDefinition, NeverThrowsOnOddValues) {
    for (const char* text : {"null", "1", "\"x\"", "[]", R"({"nodes":null})",
                             R"({"nodes":{"root":null}})", R"({"nodes":{"root":{"type":null,
                             "props":"x","children":[null,{},[]]}}})",
                             R"({"nodes":{"":{}},"inputSchema":[null,{"key":1,"type":[]}]})"}) {
        EXPECT_NO_THROW(validate(text)) << text;
        EXPECT_FALSE(validate(text).empty()) << text;
    }
}

}  // namespace
}  // namespace forkrun::controller
