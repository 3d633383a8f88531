// RunStore: a reader-writer lock over two indexes; records carry their own locks.
#include "controller/run_store.hpp"

#include <algorithm>
#include <mutex>

namespace forkrun::controller {

std::shared_ptr<RunRecord> RunStore::insert(Run run) {
    std::unique_lock lock(mu_);
    auto last = org_last_seq_.find(run.organization_id);
    if (last == org_last_seq_.end()) {
        last = org_last_seq_.emplace(run.organization_id, 0).first;
    }
    auto rec = std::make_shared<RunRecord>(std::move(run), next_seq_++, ++last->second);
    add_locked(rec);
    return rec;
}

std::shared_ptr<RunRecord> RunStore::make(Run run) {
    std::unique_lock lock(mu_);
    auto& last = org_last_seq_[run.organization_id];
    auto seq = last - last % stride_ + slot_;
    last = seq > last ? seq : seq + stride_;
    return std::make_shared<RunRecord>(std::move(run), next_seq_++, last);
}

void RunStore::add(std::shared_ptr<RunRecord> record) {
    std::unique_lock lock(mu_);
    add_locked(std::move(record));
}

void RunStore::restore(Run run, std::uint64_t org_seq, std::string full, std::string summary) {
    std::unique_lock lock(mu_);
    auto& last = org_last_seq_[run.organization_id];
    last = std::max(last, org_seq);
    add_locked(RunRecord::restored(std::move(run), next_seq_++, org_seq, std::move(full),
                                   std::move(summary)));
}

void RunStore::note_org_seq(const std::string& organization_id, std::uint64_t org_seq) {
    std::unique_lock lock(mu_);
    auto& last = org_last_seq_[organization_id];
    last = std::max(last, org_seq);
}

void RunStore::add_locked(std::shared_ptr<RunRecord> rec) {
    by_org_[rec->organization_id()].emplace(rec->org_seq(), rec);
    by_age_.emplace(rec->seq(), rec.get());
    by_id_.emplace(rec->id(), std::move(rec));
    if (retain_ != 0 && by_id_.size() > retain_) {
        evict_locked();
    }
}

void RunStore::evict_locked() {
    // Runs still in progress are skipped, but only so many: a store whose oldest runs all wait
    // for hours stays over its size rather than scanning it on every insert.
    constexpr std::size_t kMaxScan = 256;
    auto it = by_age_.begin();
    for (std::size_t scanned = 0;
         by_id_.size() > retain_ && it != by_age_.end() && scanned < kMaxScan; ++scanned) {
        RunRecord* rec = it->second;
        if (rec->in_progress()) {  // a kept run too: its forks still serve
            ++it;
            continue;
        }
        const auto org = by_org_.find(rec->organization_id());
        if (org != by_org_.end()) {
            org->second.erase(rec->org_seq());
            if (org->second.empty()) {
                by_org_.erase(org);
            }
        }
        it = by_age_.erase(it);
        // By iterator, last: the entry may hold the record's last reference, and its key.
        by_id_.erase(by_id_.find(rec->id()));
    }
}

std::shared_ptr<RunRecord> RunStore::find(std::string_view id) const {
    std::shared_lock lock(mu_);
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
}

std::shared_ptr<RunRecord> RunStore::find(std::string_view organization_id,
                                          std::string_view id) const {
    auto rec = find(id);
    if (rec && rec->organization_id() != organization_id) {
        return nullptr;
    }
    return rec;
}

namespace {

bool matches(const RunRecord& rec, const ListQuery& q) {
    if (q.statuses.empty() && !q.workflow_id && !q.is_simulation && !q.is_dust_test) {
        return true;
    }
    return rec.read([&](const Run& r) {
        if (!q.statuses.empty() &&
            std::find(q.statuses.begin(), q.statuses.end(), r.status) == q.statuses.end()) {
            return false;
        }
        if (q.workflow_id && r.workflow_id != *q.workflow_id) {
            return false;
        }
        if (q.is_simulation && r.is_simulation != *q.is_simulation) {
            return false;
        }
        if (q.is_dust_test && r.is_dust_test != *q.is_dust_test) {
            return false;
        }
        return true;
    });
}

}  // namespace

ListPage RunStore::list(std::string_view organization_id, const ListQuery& q) const {
    ListPage page;
    std::shared_lock lock(mu_);
    auto org = by_org_.find(organization_id);
    if (org == by_org_.end() || q.limit == 0) {
        return page;
    }
    const OrgRuns& runs = org->second;
    // Newest first: walk the organization's sequence numbers downwards from the cursor.
    auto it = q.before_seq ? runs.lower_bound(*q.before_seq) : runs.end();
    while (it != runs.begin()) {
        --it;
        if (!matches(*it->second, q)) {
            continue;
        }
        if (page.runs.size() == q.limit) {
            page.next_before_seq = page.runs.back()->org_seq();
            break;
        }
        page.runs.push_back(it->second);
    }
    return page;
}

std::size_t RunStore::size() const {
    std::shared_lock lock(mu_);
    return by_id_.size();
}

}  // namespace forkrun::controller
