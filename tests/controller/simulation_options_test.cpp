// Tests for the simulation-only request options: forkBlockNumbers and keepForksOnFailure read,
// refused with every problem at its pointer, left out of a live run, and copied by a re-run.
#include "controller/simulation_options.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>

#include <boost/json/parse.hpp>

#include "controller/field_error_print.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

/// Chains 1 and 8453 have an upstream; chain 31337 does not.
bool sim_options_upstream(std::uint64_t chain) {
    return chain == 1 || chain == 8453;
}

/// A simulation of chains 1, 8453 and 31337.
Run sim_options_run(bool is_simulation = true) {
    controller::Run run;
    run.is_simulation = is_simulation;
    run.chains = {1, 8453, 31337};
    return run;
}

FieldErrors decode_sim_options(std::string_view body,
                               Run& run,
                               const std::optional<Run>& source = std::nullopt) {
    FieldErrors errors;
    decode_simulation_options(json::parse(body).as_object(), source, sim_options_upstream, run,
                              errors);
    return errors;
}

TEST(SimulationOptions, PinsAndKeepAreRead) {
    controller::Run run = sim_options_run();
    EXPECT_THAT(
        decode_sim_options(
            R"({"forkBlockNumbers": {"8453": 20000000, "1": 0}, "keepForksOnFailure": 3600})", run),
        IsEmpty());
    EXPECT_EQ(run.fork_block_numbers,
              (std::map<std::uint64_t, std::uint64_t>{{1, 0}, {8453, 20000000}}));
    EXPECT_EQ(run.keep_forks_on_failure, kMaxKeepForksSeconds);
    // Left out, or null: nothing pinned, nothing kept.
    controller::Run plain = sim_options_run();
    EXPECT_THAT(
        decode_sim_options(R"({"forkBlockNumbers": null, "keepForksOnFailure": null})", plain),
        IsEmpty());
    EXPECT_TRUE(plain.fork_block_numbers.empty());
    EXPECT_EQ(plain.keep_forks_on_failure, 0u);
}

TEST(SimulationOptions, EveryBadPinIsListedAtItsKey) {
    controller::Run run = sim_options_run();
    const FieldErrors errors = decode_sim_options(R"({"forkBlockNumbers": {
        "x": 1, "08453": 1, "0": 1, "-1": 1, "10": 5, "31337": 5, "8453": -1, "1": "20000000",
        "18446744073709551616": 1}})",
                                                  run);
    EXPECT_THAT(
        errors,
        ElementsAre(
            FieldError{"/forkBlockNumbers/x", "the key must be a chain id (a positive integer)"},
            FieldError{"/forkBlockNumbers/08453",
                       "the key must be a chain id (a positive integer)"},
            FieldError{"/forkBlockNumbers/0", "the key must be a chain id (a positive integer)"},
            FieldError{"/forkBlockNumbers/-1", "the key must be a chain id (a positive integer)"},
            FieldError{"/forkBlockNumbers/10", "chain 10 is not one of the run's chains"},
            FieldError{"/forkBlockNumbers/31337",
                       "chain 31337 has no configured upstream to fork, so it has no block to pin"},
            FieldError{"/forkBlockNumbers/8453", "the block number must be a non-negative integer"},
            FieldError{"/forkBlockNumbers/1", "the block number must be a non-negative integer"},
            FieldError{"/forkBlockNumbers/18446744073709551616",
                       "the key must be a chain id (a positive integer)"}));
    EXPECT_TRUE(run.fork_block_numbers.empty()) << "nothing of a bad pin is kept";
    // A key and its number can both be wrong: both are said.
    controller::Run both = sim_options_run();
    EXPECT_THAT(decode_sim_options(R"({"forkBlockNumbers": {"a/b": 1.5}})", both),
                ElementsAre(FieldError{"/forkBlockNumbers/a~1b",
                                       "the key must be a chain id (a positive integer)"},
                            FieldError{"/forkBlockNumbers/a~1b",
                                       "the block number must be a non-negative integer"}));
    controller::Run not_object = sim_options_run();
    EXPECT_THAT(decode_sim_options(R"({"forkBlockNumbers": [1]})", not_object),
                ElementsAre(FieldError{"/forkBlockNumbers",
                                       "must be an object of chain id to block number"}));
}

TEST(SimulationOptions, KeepIsWholeSecondsUpToAnHour) {
    const std::string message = "must be an integer number of seconds from 0 to 3600";
    for (const char* bad : {"3601", "-1", "1.5", "\"60\"", "true", "18446744073709551616"}) {
        controller::Run run = sim_options_run();
        EXPECT_THAT(decode_sim_options(std::string(R"({"keepForksOnFailure": )") + bad + "}", run),
                    ElementsAre(FieldError{"/keepForksOnFailure", message}))
            << bad;
        EXPECT_EQ(run.keep_forks_on_failure, 0u) << bad;
    }
    controller::Run zero = sim_options_run();
    EXPECT_THAT(decode_sim_options(R"({"keepForksOnFailure": 0})", zero), IsEmpty());
    controller::Run whole_double = sim_options_run();
    EXPECT_THAT(decode_sim_options(R"({"keepForksOnFailure": 60.0})", whole_double), IsEmpty());
    EXPECT_EQ(whole_double.keep_forks_on_failure, 60u);
}

TEST(SimulationOptions, ALiveRunTakesNeither) {
    controller::Run run = sim_options_run(/*is_simulation=*/false);
    EXPECT_THAT(
        decode_sim_options(R"({"forkBlockNumbers": {"1": 5}, "keepForksOnFailure": 60})", run),
        ElementsAre(
            FieldError{"/forkBlockNumbers", "a live run forks nothing; leave it out"},
            FieldError{"/keepForksOnFailure", "a live run has no forks to keep; leave it out"}));
    EXPECT_TRUE(run.fork_block_numbers.empty());
    // Even a live re-run of a pinned simulation copies nothing.
    controller::Run source = sim_options_run();
    source.fork_block_numbers = {{1, 5}};
    source.keep_forks_on_failure = 60;
    controller::Run rerun = sim_options_run(/*is_simulation=*/false);
    EXPECT_THAT(decode_sim_options("{}", rerun, source), IsEmpty());
    EXPECT_TRUE(rerun.fork_block_numbers.empty());
    EXPECT_EQ(rerun.keep_forks_on_failure, 0u);
}

TEST(SimulationOptions, AReRunCopiesWhatItLeavesOutForTheChainsItStillHas) {
    controller::Run source = sim_options_run();
    source.fork_block_numbers = {{1, 5}, {10, 7}};
    source.keep_forks_on_failure = 60;
    controller::Run rerun = sim_options_run();
    EXPECT_THAT(decode_sim_options("{}", rerun, source), IsEmpty());
    EXPECT_EQ(rerun.fork_block_numbers, (std::map<std::uint64_t, std::uint64_t>{{1, 5}}));
    EXPECT_EQ(rerun.keep_forks_on_failure, 60u);
    // What the request says replaces the source's.
    controller::Run told = sim_options_run();
    EXPECT_THAT(decode_sim_options(R"({"forkBlockNumbers": {"8453": 9}, "keepForksOnFailure": 0})",
                                   told, source),
                IsEmpty());
    EXPECT_EQ(told.fork_block_numbers, (std::map<std::uint64_t, std::uint64_t>{{8453, 9}}));
    EXPECT_EQ(told.keep_forks_on_failure, 0u);
}

}  // namespace
}  // namespace forkrun::controller
