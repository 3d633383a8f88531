// Tests for the config file of `forkrun serve` read on its own: what each server key sets, keys
// it does not have left alone, and every problem listed on its own line naming the file.
#include "app/config_file.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

namespace forkrun::app {
namespace {

/// A folder of its own for each test's config file, removed afterwards.
class ConfigFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string dir = (std::filesystem::temp_directory_path() / "forkrun-config-file-XXXXXX");
        ASSERT_NE(::mkdtemp(dir.data()), nullptr);
        dir_ = dir;
    }

    void TearDown() override { std::filesystem::remove_all(dir_); }

    /// Writes `text` as the config file; its path.
    std::string config_at(const std::string& text) {
        const auto path = dir_ / "forkrun.json";
        std::ofstream(path) << text;
        return path.string();
    }

    std::filesystem::path dir_;
};

TEST_F(ConfigFileTest, EachServerKeySetsItsPartOfTheConfig) {
    const std::string path = config_at(R"({"store": "postgresql://u@db/forkrun",
        "controllerId": "ctl-a", "leaseMs": 2500, "storeRetentionMs": 0, "publicBaseUrl": "https://forkrun.example",
        "retainRuns": 0, "maxConnections": 64, "blocksDir": "/opt/blocks",
        "simulationReport": true, "replaceUnminedAfterMs": 0, "dustWei": "1000"})");
    Config config;
    std::string err;
    ASSERT_TRUE(load_config_file(path, config, err)) << err;
    EXPECT_EQ(err, "");
    EXPECT_EQ(config.store, "postgresql://u@db/forkrun");
    EXPECT_EQ(config.controller_id, "ctl-a");
    EXPECT_EQ(config.lease, std::chrono::milliseconds(2500));
    EXPECT_EQ(config.store_retention, std::chrono::milliseconds(0));
    EXPECT_EQ(config.public_url, "https://forkrun.example");
    EXPECT_EQ(config.retain_runs, 0u);
    EXPECT_EQ(config.server.max_connections, 64u);
    EXPECT_EQ(config.blocks_dir, "/opt/blocks");  // absolute: as written
    EXPECT_TRUE(config.simulation_report);
    EXPECT_EQ(config.replace_unmined_after, std::chrono::milliseconds(0));
    EXPECT_EQ(config.dust_wei, eth::Uint256(1000));
}

TEST_F(ConfigFileTest, KeysTheFileDoesNotHaveAreLeftAlone) {
    Config config;
    config.store = "memory";
    config.controller_id = "kept";
    config.retain_runs = 123;
    std::string err;
    ASSERT_TRUE(load_config_file(config_at(R"({"store": "postgres://h/db"})"), config, err)) << err;
    EXPECT_EQ(config.store, "postgres://h/db");
    EXPECT_EQ(config.controller_id, "kept");
    EXPECT_EQ(config.retain_runs, 123u);
    ASSERT_TRUE(load_config_file(config_at("{}"), config, err)) << err;
    EXPECT_EQ(config.store, "postgres://h/db");
}

TEST_F(ConfigFileTest, EveryProblemIsALineNamingTheFile) {
    const std::string path = config_at(R"({"store": "mysql://h/db", "controllerId": "",
        "leaseMs": 0, "simulationReport": "yes", "retainRuns": 1.5, "maxConnections": -1,
        "storeRetentionMs": -5,
        "replaceUnminedAfterMs": 4294967296, "dustWei": "-1", "blocksDir": 7})");
    Config config;
    config.store = "memory";
    std::string err;
    EXPECT_FALSE(load_config_file(path, config, err));
    const std::string prefix = "forkrun: config file " + path + ": ";
    EXPECT_EQ(err, prefix + "dustWei must be a decimal string of wei\n" + prefix +
                       "simulationReport must be true or false\n" + prefix +
                       "replaceUnminedAfterMs must be a non-negative integer of ms\n" + prefix +
                       "retainRuns must be a non-negative integer\n" + prefix +
                       "store must be \"memory\" or a postgresql:// URL\n" + prefix +
                       "controllerId must be a non-empty string\n" + prefix +
                       "leaseMs must be a positive integer\n" + prefix +
                       "storeRetentionMs must be a non-negative integer\n" + prefix +
                       "maxConnections must be a positive integer\n" + prefix +
                       "blocksDir must be the path of a folder\n");
    EXPECT_EQ(config.store, "memory") << "a bad value sets nothing";
}

TEST_F(ConfigFileTest, AFileThatCannotBeReadOrIsNotJson) {
    Config config;
    std::string err;
    const std::string missing = (dir_ / "missing.json").string();
    EXPECT_FALSE(load_config_file(missing, config, err));
    EXPECT_EQ(err, "forkrun: cannot read config file " + missing + "\n");
    err.clear();
    const std::string broken = config_at(R"({"store": )");
    EXPECT_FALSE(load_config_file(broken, config, err));
    EXPECT_EQ(err.rfind("forkrun: config file " + broken + " is not JSON: ", 0), 0u) << err;
    EXPECT_EQ(err.back(), '\n');
    // JSON that is not an object is a problem, said once.
    err.clear();
    EXPECT_FALSE(load_config_file(config_at("[1, 2]"), config, err));
    EXPECT_EQ(err.rfind("forkrun: config file ", 0), 0u) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace
}  // namespace forkrun::app
