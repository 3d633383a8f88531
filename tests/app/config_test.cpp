// serve's configuration as parse_serve reads it: flags over the environment over the config
// file, and each bad value named.
#include "app/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace forkrun::app {
namespace {

/// Each test starts with no FORKRUN_* variable (ctest sets FORKRUN_ANVIL and FORKRUN_BIN) and
/// a folder of its own for config files; both are put back afterwards.
class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        for (char** e = environ; *e; ++e) {
            const std::string entry = *e;
            if (entry.starts_with("FORKRUN_")) {
                const auto eq = entry.find('=');
                saved_[entry.substr(0, eq)] = entry.substr(eq + 1);
            }
        }
        for (const auto& [name, value] : saved_) {
            ::unsetenv(name.c_str());
        }
        std::string dir = (std::filesystem::temp_directory_path() / "forkrun-config-XXXXXX");
        ASSERT_NE(::mkdtemp(dir.data()), nullptr);
        dir_ = dir;
    }

    void TearDown() override {
        for (const auto& name : set_) {
            ::unsetenv(name.c_str());
        }
        for (const auto& [name, value] : saved_) {
            ::setenv(name.c_str(), value.c_str(), 1);
        }
        std::filesystem::remove_all(dir_);
    }

    void set_env(const std::string& name, const std::string& value) {
        ::setenv(name.c_str(), value.c_str(), 1);
        set_.push_back(name);
    }

    std::string write_config(const std::string& json) {
        const auto path = dir_ / "config.json";
        std::ofstream(path) << json;
        return path.string();
    }

    std::filesystem::path dir_;
    std::map<std::string, std::string> saved_;
    std::vector<std::string> set_;
};

TEST_F(ConfigTest, DefaultsWithoutAnything) {
    const auto r = parse_serve({});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->server.host, "127.0.0.1");
    EXPECT_EQ(r.config->server.port, 8080);
    EXPECT_FALSE(r.config->tokens_file);
    EXPECT_GE(r.config->threads, 1u);
    EXPECT_TRUE(r.config->server.access_log);
    EXPECT_TRUE(r.config->simulation_report);
    EXPECT_EQ(r.config->retain_runs, 100000u);
    EXPECT_NE(r.config->forks.anvil_path.find("tools/node_modules"), std::string::npos);
    EXPECT_EQ(r.err, "");
}

TEST_F(ConfigTest, FlagBeatsEnvironmentBeatsConfigFile) {
    const auto path = write_config(
        R"({"retainRuns": 7, "publicBaseUrl": "http://file", "maxActiveRuns": 5,
            "maxConnections": 11})");
    set_env("FORKRUN_CONFIG", path);
    set_env("FORKRUN_RETAIN_RUNS", "8");
    set_env("FORKRUN_PUBLIC_URL", "http://env");
    const auto r = parse_serve({"--retain-runs", "9"});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->retain_runs, 9u);              // flag over both
    EXPECT_EQ(r.config->public_url, "http://env");     // environment over the file
    EXPECT_EQ(r.config->limits.active_runs, 5u);       // the file alone
    EXPECT_EQ(r.config->server.max_connections, 11u);  // the file alone
    EXPECT_EQ(r.config->server.host, "127.0.0.1");     // nobody: the default
}

TEST_F(ConfigTest, TheLastOfARepeatedFlagWins) {
    // tools/run.sh passes its own --listen before the caller's.
    set_env("FORKRUN_LISTEN", "10.0.0.1:1");
    const auto r = parse_serve({"--listen", "127.0.0.1:8080", "--listen=0.0.0.0:0"});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->server.host, "0.0.0.0");
    EXPECT_EQ(r.config->server.port, 0);
}

TEST_F(ConfigTest, UnknownFlagIsAnErrorNamingIt) {
    const auto r = parse_serve({"--listen", "127.0.0.1:0", "--no-such-flag", "1"});
    EXPECT_FALSE(r.config);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err.find("forkrun: unknown option --no-such-flag\n"), 0u) << r.err;
    EXPECT_NE(r.err.find("--listen HOST:PORT"), std::string::npos) << "usage follows";

    // No abbreviations: a later flag could make one mean something else.
    EXPECT_NE(parse_serve({"--list", "127.0.0.1:0"}).err.find("unknown option --list"),
              std::string::npos);
    EXPECT_NE(parse_serve({"stray"}).err.find("unknown option stray"), std::string::npos);
    // Variables that are no flag's (FORKRUN_BIN, a signer's key) are left alone.
    set_env("FORKRUN_BIN", "/bin/true");
    set_env("FORKRUN_SIGNER_KEY", "0x01");
    EXPECT_TRUE(parse_serve({}).config);
}

TEST_F(ConfigTest, BadNumberNamesTheFlag) {
    auto r = parse_serve({"--threads", "many"});
    EXPECT_FALSE(r.config);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "forkrun: --threads needs a positive number\n");
    EXPECT_EQ(parse_serve({"--body-limit", "12k"}).err, "forkrun: --body-limit needs a number\n");
    EXPECT_EQ(parse_serve({"--read-timeout-ms", "0"}).err,
              "forkrun: --read-timeout-ms needs a positive number\n");
    EXPECT_EQ(parse_serve({"--listen", "localhost"}).err, "forkrun: --listen wants HOST:PORT\n");
    EXPECT_EQ(parse_serve({"--fork-spawn-limit", "5000"}).err,
              "forkrun: --fork-spawn-limit wants a number from 1 to 1024\n");
    EXPECT_EQ(parse_serve({"--spawn-ahead", "17"}).err,
              "forkrun: --spawn-ahead wants a number from 0 to 16\n");
    EXPECT_EQ(parse_serve({"--spawn-ahead", "0"}).config->forks.spawn_ahead, 0u);
    EXPECT_EQ(parse_serve({"--spawn-ahead-max-age-ms", "0"}).err,
              "forkrun: --spawn-ahead-max-age-ms needs a positive number\n");
    EXPECT_EQ(parse_serve({"--max-connections", "0"}).err,
              "forkrun: --max-connections wants a positive number\n");
    EXPECT_EQ(parse_serve({"--tokens"}).err, "forkrun: --tokens needs a value\n");

    // From the environment too, and every bad one at once.
    set_env("FORKRUN_HEADER_LIMIT", "-1");
    r = parse_serve({"--idle-timeout-ms", "x"});
    EXPECT_EQ(r.err,
              "forkrun: --header-limit needs a number\n"
              "forkrun: --idle-timeout-ms needs a positive number\n");
    // An empty variable counts as unset.
    set_env("FORKRUN_HEADER_LIMIT", "");
    EXPECT_TRUE(parse_serve({}).config);
}

TEST_F(ConfigTest, DevnetTakesAListOfChainIds) {
    auto r = parse_serve({"--devnet", "1,8453"});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->forks.devnet, (std::vector<std::uint64_t>{1, 8453}));
    set_env("FORKRUN_DEVNET", "10");
    r = parse_serve({});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->forks.devnet, (std::vector<std::uint64_t>{10}));
    for (const char* bad : {"1,,2", "0", ",1", "x", "1;2"}) {
        EXPECT_EQ(parse_serve({"--devnet", bad}).err,
                  "forkrun: --devnet wants chain ids like 1,8453\n")
            << bad;
    }
}

TEST_F(ConfigTest, LimitFlags) {
    set_env("FORKRUN_MAX_LIVE_FORKS", "3");
    const auto r =
        parse_serve({"--max-chains-per-run", "2", "--max-unconfigured-chains", "0",
                     "--unconfigured-pool-idle-ms", "1500", "--max-node-output-bytes", "4096"});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->limits.chains_per_run, 2u);
    EXPECT_EQ(r.config->limits.live_forks, 3u);
    EXPECT_EQ(r.config->limits.sizes.node_output_bytes, 4096u);
    // The forks part follows the limits.
    EXPECT_EQ(r.config->forks.max_unconfigured_chains, 0u);
    EXPECT_EQ(r.config->forks.unconfigured_pool_idle, std::chrono::milliseconds(1500));
    EXPECT_EQ(parse_serve({"--max-chains-per-run", "0"}).err,
              "forkrun: --max-chains-per-run needs a positive integer\n");
}

TEST_F(ConfigTest, ARepeatableFlagTakesEveryValueAndReplacesTheFileAndEnvironment) {
    const auto path = write_config(R"({"corsOrigins": ["https://file.example"]})");
    auto r = parse_serve({"--config", path});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->server.cors_origins, std::vector<std::string>{"https://file.example"});

    set_env("FORKRUN_CORS_ORIGIN", "https://env.example");
    r = parse_serve({"--config", path});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->server.cors_origins, std::vector<std::string>{"https://env.example"});

    r = parse_serve({"--config", path, "--cors-origin", "https://a.example,https://b.example",
                     "--cors-origin=http://[::1]:3000"});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(
        r.config->server.cors_origins,
        (std::vector<std::string>{"https://a.example", "https://b.example", "http://[::1]:3000"}));
    EXPECT_EQ(parse_serve({"--cors-origin", "*"}).err.find("forkrun: --cors-origin: *: "), 0u);
}

TEST_F(ConfigTest, ConfigFileProblemsAreListedAllAtOnce) {
    const auto path = write_config(
        R"({"retainRuns": -1, "maxConnections": 0, "maxActiveRuns": "many", "dustWei": 5,
            "blocksDir": "", "replaceUnminedAfterMs": -3, "forkSpawnLimit": 0, "corsOrigins": "https://a.example"})");
    const auto r = parse_serve({"--config", path});
    EXPECT_FALSE(r.config);
    EXPECT_EQ(r.exit_code, 2);
    const std::string prefix = "forkrun: config file " + path + ": ";
    for (const char* problem :
         {"retainRuns must be a non-negative integer", "maxConnections must be a positive integer",
          "maxActiveRuns must be a positive integer", "dustWei must be a decimal string of wei",
          "replaceUnminedAfterMs must be a non-negative integer of ms",
          "blocksDir must be the path of a folder", "forkSpawnLimit", "corsOrigins: "}) {
        EXPECT_NE(r.err.find(prefix + problem), std::string::npos) << problem << "\n" << r.err;
    }
    EXPECT_EQ(parse_serve({"--config", (dir_ / "missing.json").string()}).err,
              "forkrun: cannot read config file " + (dir_ / "missing.json").string() + "\n");
    EXPECT_EQ(parse_serve({"--config", write_config("{")})
                  .err.find("forkrun: config file " + path + " is not JSON: "),
              0u);
}

TEST_F(ConfigTest, ConfigFilePathsAndSwitches) {
    const auto path =
        write_config(R"({"blocksDir": "blocks", "dustWei": "12", "simulationReport": false,
                            "replaceUnminedAfterMs": 4000})");
    const auto r = parse_serve({"--config", path, "--no-access-log", "--tokens", "t.json"});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->blocks_dir, (dir_ / "blocks").string());  // next to the file
    EXPECT_EQ(r.config->dust_wei, eth::Uint256(12));
    EXPECT_FALSE(r.config->simulation_report);
    EXPECT_EQ(r.config->replace_unmined_after, std::chrono::milliseconds(4000));
    EXPECT_FALSE(r.config->server.access_log);
    EXPECT_EQ(r.config->tokens_file, "t.json");
}

TEST_F(ConfigTest, TheLeaseOfControllersSharingAStore) {
    EXPECT_EQ(parse_serve({}).config->lease, std::chrono::milliseconds(10000));
    auto r = parse_serve({"--lease-ms", "2000"});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->lease, std::chrono::milliseconds(2000));
    EXPECT_EQ(parse_serve({"--lease-ms", "0"}).err,
              "forkrun: --lease-ms needs a positive number\n");
    set_env("FORKRUN_CONFIG", write_config(R"({"leaseMs": 3000})"));
    r = parse_serve({});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->lease, std::chrono::milliseconds(3000));
    set_env("FORKRUN_CONFIG", write_config(R"({"leaseMs": -1})"));
    EXPECT_NE(parse_serve({}).err.find("leaseMs must be a positive integer"), std::string::npos);
}

TEST_F(ConfigTest, TheRetentionOfTheDurableStore) {
    EXPECT_EQ(parse_serve({}).config->store_retention, std::chrono::hours(24 * 30));
    auto r = parse_serve({"--store-retention-ms", "0"});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->store_retention, std::chrono::milliseconds(0)) << "0 keeps every run";
    EXPECT_EQ(parse_serve({"--store-retention-ms", "-1"}).err,
              "forkrun: --store-retention-ms needs a number\n");
    set_env("FORKRUN_CONFIG", write_config(R"({"storeRetentionMs": 86400000})"));
    r = parse_serve({});
    ASSERT_TRUE(r.config) << r.err;
    EXPECT_EQ(r.config->store_retention, std::chrono::hours(24));
}

TEST_F(ConfigTest, HelpIsTheUsageAndExitsZero) {
    for (const char* flag : {"--help", "-h"}) {
        const auto r = parse_serve({"--listen", "x", flag});
        EXPECT_FALSE(r.config);
        EXPECT_EQ(r.exit_code, 0);
        EXPECT_EQ(r.err, "");
        EXPECT_EQ(r.out, usage());
    }
    const std::string text = usage();
    for (const char* line : {"forkrun serve [options]", "--listen HOST:PORT", "--tokens FILE",
                             "--no-access-log", "--max-active-runs-per-org N", "FORKRUN_<FLAG>"}) {
        EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
    }
}

}  // namespace
}  // namespace forkrun::app
