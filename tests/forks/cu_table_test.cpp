// The CU cost table: the shipped fixture, lookups, defaults, metering of request bodies, and
// rejection of malformed tables.
#include "forks/cu_table.hpp"

#include <gtest/gtest.h>

namespace forkrun::forks {
namespace {

const char* const kFixture = FORKRUN_SOURCE_DIR "/fixtures/cu/alchemy-2026-11.json";

CuTable shipped() {
    auto table = CuTable::load_file(kFixture);
    if (!table) {
        throw std::runtime_error(table.error().message);
    }
    return *table;
}

TEST(CuTable, ShippedTableLoads) {
    auto table = CuTable::load_file(kFixture);
    ASSERT_TRUE(table) << table.error().message;
    EXPECT_EQ(table->version(), "alchemy-2026-11");
    EXPECT_EQ(table->default_cost(), 10u);
}

TEST(CuTable, ListedMethodsCostTheirPublishedCu) {
    const CuTable t = shipped();
    EXPECT_EQ(t.cost("eth_chainId"), 0u);
    EXPECT_EQ(t.cost("net_version"), 0u);
    EXPECT_EQ(t.cost("eth_blockNumber"), 10u);
    EXPECT_EQ(t.cost("eth_getBalance"), 20u);
    EXPECT_EQ(t.cost("eth_getTransactionCount"), 20u);
    EXPECT_EQ(t.cost("eth_getTransactionReceipt"), 20u);
    EXPECT_EQ(t.cost("eth_gasPrice"), 20u);
    EXPECT_EQ(t.cost("eth_estimateGas"), 20u);
    EXPECT_EQ(t.cost("eth_call"), 26u);
    EXPECT_EQ(t.cost("eth_getLogs"), 60u);
    EXPECT_EQ(t.cost("eth_sendRawTransaction"), 40u);
    EXPECT_EQ(t.cost("debug_traceTransaction"), 40u);
}

TEST(CuTable, UnlistedMethodsCostTheDefault) {
    const CuTable t = shipped();
    EXPECT_EQ(t.cost("anvil_setBalance"), 10u);
    EXPECT_EQ(t.cost("anvil_mine"), 10u);
    EXPECT_EQ(t.cost("evm_snapshot"), 10u);
    EXPECT_EQ(t.cost("evm_revert"), 10u);
    EXPECT_EQ(t.cost(""), 10u);
    EXPECT_EQ(t.cost("ETH_CALL"), 10u);  // Method names are case-sensitive.
}

TEST(CuTable, MetersSingleAndBatchBodies) {
    const CuTable t = shipped();
    EXPECT_EQ(cu_of_body(t, R"({"jsonrpc":"2.0","id":1,"method":"eth_call","params":[]})"), 26u);
    EXPECT_EQ(cu_of_body(t, R"([{"jsonrpc":"2.0","id":1,"method":"eth_call"},
                               {"jsonrpc":"2.0","id":2,"method":"eth_getLogs"},
                               {"jsonrpc":"2.0","id":3,"method":"anvil_mine"},
                               {"jsonrpc":"2.0","id":4,"method":"eth_chainId"}])"),
              26u + 60u + 10u + 0u);
    EXPECT_EQ(jsonrpc_methods(R"([{"method":"eth_call"},{"method":"evm_revert"}])"),
              (std::vector<std::string>{"eth_call", "evm_revert"}));
}

TEST(CuTable, InvalidCallsAndGarbageCostNothing) {
    const CuTable t = shipped();
    EXPECT_EQ(cu_of_body(t, ""), 0u);
    EXPECT_EQ(cu_of_body(t, "not json"), 0u);
    EXPECT_EQ(cu_of_body(t, R"({"method":"eth_call")"), 0u);  // Truncated.
    EXPECT_EQ(cu_of_body(t, "[]"), 0u);
    EXPECT_EQ(cu_of_body(t, R"({"method":42})"), 0u);
    EXPECT_EQ(cu_of_body(t, R"([1, "eth_call", null, [{"method":"eth_call"}], {"id":1},
                               {"method":"eth_getBalance"}])"),
              20u);
    EXPECT_EQ(cu_of_body(t, std::string(100000, '[')), 0u);
    EXPECT_TRUE(jsonrpc_methods("\xff\xfe garbage").empty());
}

TEST(CuTable, ParsesAMinimalTable) {
    auto t = CuTable::parse(
        R"({"version":"v1","defaultCu":7,"methods":{"a":1,"b":18446744073709551615}})");
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->version(), "v1");
    EXPECT_EQ(t->cost("a"), 1u);
    EXPECT_EQ(t->cost("b"), 18446744073709551615u);
    EXPECT_EQ(t->cost("c"), 7u);
}

TEST(CuTable, MalformedTablesAreRejectedWithEveryProblem) {
    auto not_json = CuTable::parse("{\"version\":");
    ASSERT_FALSE(not_json);
    EXPECT_EQ(not_json.error().code, CuTableErrc::kMalformed);
    EXPECT_NE(not_json.error().message.find("not valid JSON"), std::string::npos);

    auto bad = CuTable::parse(
        R"({"version":"","defaultCu":-1,"methods":{"eth_call":2.5,"eth_getLogs":"60","ok":3}})");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message,
              "/version must be a non-empty string; /defaultCu must be a non-negative integer; "
              "/methods/eth_call must be a non-negative integer; /methods/eth_getLogs must be a "
              "non-negative integer");

    auto no_methods = CuTable::parse(R"({"version":"v","defaultCu":1})");
    ASSERT_FALSE(no_methods);
    EXPECT_EQ(no_methods.error().message, "/methods must be an object of method name to CU");

    EXPECT_FALSE(CuTable::parse("[]"));
    EXPECT_EQ(make_error_code(CuTableErrc::kMalformed).category().name(),
              std::string("forkrun.cu_table"));
}

TEST(CuTable, MissingFileIsUnreadable) {
    auto t = CuTable::load_file("/nonexistent/cu.json");
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, CuTableErrc::kUnreadable);
    EXPECT_NE(t.error().message.find("/nonexistent/cu.json"), std::string::npos);
}

}  // namespace
}  // namespace forkrun::forks
