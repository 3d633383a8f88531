// Rendering histograms in the Prometheus text exposition format.
#include "controller/metrics.hpp"

#include <cstdio>

namespace forkrun::controller {

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
    const std::string sep = labels.empty() ? "" : ",";
    std::uint64_t cumulative = 0;
    char num[64];
    for (std::size_t i = 0; i <= kBounds.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        out.append(name).append("_bucket{").append(labels).append(sep).append("le=\"");
        if (i < kBounds.size()) {
            std::snprintf(num, sizeof num, "%g", kBounds[i]);
            out.append(num);
        } else {
            out.append("+Inf");
        }
        out.append("\"} ").append(std::to_string(cumulative)).push_back('\n');
    }
    const auto braces = labels.empty() ? std::string() : "{" + std::string(labels) + "}";
    std::snprintf(num, sizeof num, "%.6f",
                  static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6);
    out.append(name).append("_sum").append(braces).append(" ").append(num).push_back('\n');
    out.append(name).append("_count").append(braces).append(" ");
    out.append(std::to_string(cumulative)).push_back('\n');
}

}  // namespace forkrun::controller
