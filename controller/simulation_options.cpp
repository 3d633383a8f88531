// Decoding the simulation-only request options, every problem listed with its JSON pointer.
#include "controller/simulation_options.hpp"

#include <algorithm>
#include <charconv>

namespace forkrun::controller {

namespace json = boost::json;

namespace {

constexpr std::string_view kPins = "/forkBlockNumbers";
constexpr std::string_view kKeep = "/keepForksOnFailure";

// "8453" -> 8453; no sign, no leading zero, no other text.
std::optional<std::uint64_t> chain_key(std::string_view key) {
    std::uint64_t id = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size() || id == 0 || key.front() == '0') {
        return std::nullopt;
    }
    return id;
}

void decode_pins(const json::value& v,
                 const std::function<bool(std::uint64_t)>& has_upstream,
                 Run& run,
                 FieldErrors& errors) {
    const auto* obj = v.if_object();
    if (!obj) {
        errors.push_back({std::string(kPins), "must be an object of chain id to block number"});
        return;
    }
    for (const auto& [key, block] : *obj) {
        const auto at = pointer_append(kPins, key);
        const auto chain = chain_key(key);
        bool ok = true;
        if (!chain) {
            errors.push_back({at, "the key must be a chain id (a positive integer)"});
            ok = false;
        } else if (std::find(run.chains.begin(), run.chains.end(), *chain) == run.chains.end()) {
            errors.push_back({at, "chain " + std::string(key) + " is not one of the run's chains"});
            ok = false;
        } else if (!(has_upstream && has_upstream(*chain))) {
            errors.push_back({at, "chain " + std::string(key) +
                                      " has no configured upstream to fork, so it has no "
                                      "block to pin"});
            ok = false;
        }
        std::error_code ec;
        const auto n = block.is_number() ? block.to_number<std::uint64_t>(ec) : 0;
        if (!block.is_number() || ec) {
            errors.push_back({at, "the block number must be a non-negative integer"});
            ok = false;
        }
        if (ok) {
            run.fork_block_numbers[*chain] = n;
        }
    }
}

}  // namespace

void decode_simulation_options(const json::object& body,
                               const std::optional<Run>& source,
                               const std::function<bool(std::uint64_t)>& has_upstream,
                               Run& run,
                               FieldErrors& errors) {
    const auto* pins = body.if_contains("forkBlockNumbers");
    const auto* keep = body.if_contains("keepForksOnFailure");
    pins = pins && !pins->is_null() ? pins : nullptr;  // a null is reported by the caller
    keep = keep && !keep->is_null() ? keep : nullptr;
    if (!run.is_simulation) {
        if (pins) {
            errors.push_back({std::string(kPins), "a live run forks nothing; leave it out"});
        }
        if (keep) {
            errors.push_back({std::string(kKeep), "a live run has no forks to keep; leave it out"});
        }
        return;
    }
    if (pins) {
        decode_pins(*pins, has_upstream, run, errors);
    } else if (source) {
        // A re-run forks its chains where its source did, those it still has.
        for (const auto& [chain, block] : source->fork_block_numbers) {
            if (std::find(run.chains.begin(), run.chains.end(), chain) != run.chains.end()) {
                run.fork_block_numbers[chain] = block;
            }
        }
    }
    if (keep) {
        std::error_code ec;
        const auto n = keep->is_number() ? keep->to_number<std::uint64_t>(ec) : 0;
        if (!keep->is_number() || ec || n > kMaxKeepForksSeconds) {
            errors.push_back(
                {std::string(kKeep), "must be an integer number of seconds from 0 to " +
                                         std::to_string(kMaxKeepForksSeconds)});
        } else {
            run.keep_forks_on_failure = static_cast<std::uint32_t>(n);
        }
    } else if (source) {
        run.keep_forks_on_failure = source->keep_forks_on_failure;
    }
}

}  // namespace forkrun::controller
