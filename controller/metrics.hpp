// Counters and histograms for /metrics: lock-free to update from any thread, read as a snapshot
// when Prometheus scrapes.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace forkrun::controller {

/// A Prometheus histogram of durations with fixed buckets (seconds).
class Histogram {
  public:
    /// Upper bounds, sub-millisecond to tens of seconds.
    static constexpr std::array<double, 16> kBounds = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
        0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};

    void observe(double seconds) noexcept {
        std::size_t i = 0;
        while (i < kBounds.size() && seconds > kBounds[i]) {
            ++i;
        }
        buckets_[i].fetch_add(1, std::memory_order_relaxed);
        // Microseconds as an integer: atomic<double> has no fetch_add before C++20 libraries do.
        sum_us_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
    }
    void observe(std::chrono::steady_clock::duration d) noexcept {
        observe(std::chrono::duration<double>(d).count());
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines of `name` (with `labels`, e.g.
    /// `route="/v1/runs"`, or empty) to `out`.
    void render(std::string& out, std::string_view name, std::string_view labels = {}) const;

  private:
    std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // last: +Inf
    std::atomic<std::uint64_t> sum_us_{0};
};

/// Forks started ahead for `fork` runs (spawnAhead), summed over the chains.
struct SpawnAheadFigures {
    std::uint64_t ready = 0;   ///< Waiting to be taken now.
    std::uint64_t taken = 0;   ///< Handed to a run.
    std::uint64_t missed = 0;  ///< A run asked while none was ready and started its own.
    std::uint64_t aged = 0;    ///< Replaced at spawnAheadMaxAgeMs.
    std::uint64_t died = 0;    ///< Found exited before any run took them.
};

/// What the controller counts.
struct ControllerMetrics {
    std::atomic<std::uint64_t> runs_created{0};
    std::atomic<std::uint64_t> runs_success{0};
    std::atomic<std::uint64_t> runs_failure{0};
    std::atomic<std::uint64_t> runs_cancelled{0};
    std::atomic<std::uint64_t> cu_total{0};        ///< totalCu of every finished run
    std::atomic<std::int64_t> forks_live_fork{0};  ///< Fork-mode forks up now
    std::atomic<std::int64_t> forks_live_pool{0};  ///< Pool leases held now
    Histogram cancel_seconds;                      ///< POST cancel, to the answer
    Histogram fork_provision_seconds;              ///< One fork, from asking to ready
    /// Read when /metrics is scraped; set once before the server starts. Null: not shown.
    std::function<SpawnAheadFigures()> spawn_ahead;
};

}  // namespace forkrun::controller
