// The in-memory store of runs: lookup by id, and each organization's runs newest first.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "controller/run_record.hpp"

namespace forkrun::controller {

struct ListQuery {
    std::vector<RunStatus> statuses;  // empty: any
    std::optional<std::string> workflow_id;
    std::optional<bool> is_simulation;
    std::optional<bool> is_dust_test;
    std::size_t limit = 50;
    /// Only runs created before the organization's run with this number (RunRecord::org_seq,
    /// from a cursor).
    std::optional<std::uint64_t> before_seq;
};

struct ListPage {
    std::vector<std::shared_ptr<RunRecord>> runs;
    /// Set when more runs may follow: the organization's sequence number to continue before.
    std::optional<std::uint64_t> next_before_seq;
};

class RunStore {
  public:
    static constexpr std::size_t kDefaultRetain = 100000;

    /// Keeps at most `retain` runs: past it, the oldest terminal runs are dropped (runs that are
    /// not terminal are never dropped). 0 keeps every run.
    explicit RunStore(std::size_t retain = kDefaultRetain) : retain_(retain) {}

    /// Stores a new run and gives it the next sequence number, and the next of its organization.
    std::shared_ptr<RunRecord> insert(Run run);

    /// insert() in two steps, for a durable store: make() numbers a new run without storing
    /// it (its numbers are never given out again), add() stores it once it is committed. Its
    /// organization number is the next one that is `slot` modulo `stride` (set_org_seq_slot):
    /// controllers sharing a store never give out the same one.
    std::shared_ptr<RunRecord> make(Run run);
    void add(std::shared_ptr<RunRecord> record);

    /// Stores a terminal run read back from a durable store under its organization's number
    /// `org_seq` (numbers given out later are larger). Oldest first.
    void restore(Run run, std::uint64_t org_seq, std::string full, std::string summary);
    /// The organization has used numbers up to `org_seq` (its runs may not all be here).
    void note_org_seq(const std::string& organization_id, std::uint64_t org_seq);
    void set_org_seq_slot(std::uint64_t stride, std::uint64_t slot) {
        stride_ = std::max<std::uint64_t>(1, stride);
        slot_ = slot % stride_;
    }

    /// Any organization's run (for the controller's own use).
    std::shared_ptr<RunRecord> find(std::string_view id) const;
    /// The run if it belongs to `organization_id`, else null: another organization's run is
    /// indistinguishable from one that does not exist.
    std::shared_ptr<RunRecord> find(std::string_view organization_id, std::string_view id) const;

    ListPage list(std::string_view organization_id, const ListQuery& q) const;

    std::size_t size() const;

  private:
    struct StringHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    using OrgRuns = std::map<std::uint64_t, std::shared_ptr<RunRecord>>;  // by org_seq

    // Indexes `rec`. Holds `mu_`.
    void add_locked(std::shared_ptr<RunRecord> rec);
    // Drops the oldest terminal runs while more than `retain_` are stored. Holds `mu_`.
    void evict_locked();

    const std::size_t retain_;
    mutable std::shared_mutex mu_;
    std::uint64_t next_seq_ = 1;
    std::uint64_t stride_ = 1;  // make()'s organization numbers: slot_ modulo stride_
    std::uint64_t slot_ = 0;
    std::map<std::uint64_t, RunRecord*> by_age_;  // every stored run, oldest first
    std::unordered_map<std::string, std::shared_ptr<RunRecord>, StringHash, std::equal_to<>> by_id_;
    std::unordered_map<std::string, OrgRuns, StringHash, std::equal_to<>> by_org_;
    // The last org_seq given out per organization; kept when its runs are all dropped, so a
    // number is never given out twice.
    std::unordered_map<std::string, std::uint64_t, StringHash, std::equal_to<>> org_last_seq_;
};

}  // namespace forkrun::controller
