// One table of the limits (config key, flag, help, minimum) read by both the config file and
// the flags, and the bounded JSON measure.
#include "controller/limits.hpp"

#include <algorithm>
#include <charconv>

namespace forkrun::controller {

namespace json = boost::json;

namespace {

struct Setting {
    std::string_view key;
    std::string_view flag;
    std::string_view help;
    std::size_t minimum;
    std::size_t& (*field)(Limits&);
};

constexpr Setting kSettings[] = {
    {kMaxActiveRunsPerOrg, "max-active-runs-per-org",
     "non-terminal runs per organization; more is 429", 1,
     [](Limits& l) -> std::size_t& { return l.active_runs_per_org; }},
    {kMaxActiveRuns, "max-active-runs", "non-terminal runs of the server", 1,
     [](Limits& l) -> std::size_t& { return l.active_runs; }},
    {kMaxLiveForksPerOrg, "max-live-forks-per-org",
     "fork-mode anvils plus pool leases per organization, counted from each run's chains at "
     "create; more is 429",
     1, [](Limits& l) -> std::size_t& { return l.live_forks_per_org; }},
    {kMaxLiveForks, "max-live-forks", "the same for the whole server", 1,
     [](Limits& l) -> std::size_t& { return l.live_forks; }},
    {kMaxChainsPerRun, "max-chains-per-run", "chains of one run; more is 400", 1,
     [](Limits& l) -> std::size_t& { return l.chains_per_run; }},
    {kMaxUnconfiguredChains, "max-unconfigured-chains",
     "chains the config does not list that have a pool at once", 0,
     [](Limits& l) -> std::size_t& { return l.unconfigured_chains; }},
    {kUnconfiguredPoolIdleMs, "unconfigured-pool-idle-ms",
     "such a pool no run held for N ms is stopped", 1,
     [](Limits& l) -> std::size_t& { return l.unconfigured_pool_idle_ms; }},
    {kMaxTemplateStringBytes, "max-template-string-bytes", "a string built from templates", 1,
     [](Limits& l) -> std::size_t& { return l.sizes.template_string_bytes; }},
    {kMaxNodeOutputBytes, "max-node-output-bytes", "a node's stored output and resolved props", 1,
     [](Limits& l) -> std::size_t& { return l.sizes.node_output_bytes; }},
    {kMaxRunJsonBytes, "max-run-json-bytes", "a run's stored JSON", 1,
     [](Limits& l) -> std::size_t& { return l.sizes.run_json_bytes; }},
};

std::string minimum_text(const Setting& s) {
    return s.minimum == 0 ? "a non-negative integer" : "a positive integer";
}

std::size_t digits(std::uint64_t n) {
    std::size_t d = 1;
    while (n >= 10) {
        n /= 10;
        ++d;
    }
    return d;
}

}  // namespace

void read_limits_config(const json::value& doc, Limits& out, std::vector<std::string>& problems) {
    const auto* obj = doc.if_object();
    if (!obj) {
        return;  // read_forks_config reports it
    }
    for (const auto& s : kSettings) {
        const auto* v = obj->if_contains(s.key);
        if (!v) {
            continue;
        }
        std::error_code ec;
        const auto n = v->is_number() ? v->to_number<std::size_t>(ec) : 0;
        if (!v->is_number() || ec || n < s.minimum) {
            problems.push_back(std::string(s.key) + " must be " + minimum_text(s));
        } else {
            s.field(out) = n;
        }
    }
}

std::vector<std::string_view> limit_flags() {
    std::vector<std::string_view> out;
    for (const auto& s : kSettings) {
        out.push_back(s.flag);
    }
    return out;
}

std::optional<std::string> apply_limit_flag(std::string_view flag,
                                            std::string_view value,
                                            Limits& out) {
    if (!flag.starts_with("--")) {
        return std::nullopt;
    }
    flag.remove_prefix(2);
    for (const auto& s : kSettings) {
        if (s.flag != flag) {
            continue;
        }
        std::size_t n = 0;
        const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || p != value.data() + value.size() || n < s.minimum) {
            return "--" + std::string(s.flag) + " needs " + minimum_text(s);
        }
        s.field(out) = n;
        return std::string();
    }
    return std::nullopt;
}

std::string limit_flag_help(std::string_view flag) {
    for (const auto& s : kSettings) {
        if (s.flag == flag) {
            Limits defaults;
            return std::string(s.help) + " (default " + std::to_string(s.field(defaults)) +
                   "; config key " + std::string(s.key) + ")";
        }
    }
    return {};
}

std::string limits_usage() {
    constexpr std::size_t kIndent = 26;
    constexpr std::size_t kWidth = 100;
    std::string out;
    for (const auto& s : kSettings) {
        std::string line = "  --" + std::string(s.flag) + " N";
        if (line.size() + 1 > kIndent) {
            out += line + "\n";
            line.clear();
        }
        line.resize(kIndent, ' ');
        // The help, then its config key, wrapped at word boundaries.
        const std::string words = limit_flag_help(s.flag);
        std::size_t at = 0;
        while (at < words.size()) {
            std::size_t end = words.find(' ', at);
            end = end == std::string::npos ? words.size() : end;
            const std::string word = words.substr(at, end - at);
            if (line.size() > kIndent && line.size() + 1 + word.size() > kWidth) {
                out += line + "\n";
                line.assign(kIndent, ' ');
            }
            if (line.size() > kIndent) {
                line.push_back(' ');
            }
            line += word;
            at = end + 1;
        }
        out += line + "\n";
    }
    return out;
}

std::size_t json_size(const json::value& v, std::size_t stop_after) {
    // An explicit stack of containers and the index of the next element to count.
    struct Frame {
        const json::value* container;
        std::size_t next;
    };
    std::vector<Frame> frames;
    std::size_t size = 0;
    auto leaf = [](const json::value& x) -> std::size_t {
        switch (x.kind()) {
            case json::kind::null:
                return 4;
            case json::kind::bool_:
                return x.get_bool() ? 4 : 5;
            case json::kind::int64: {
                const auto n = x.get_int64();
                return n < 0 ? 1 + digits(0 - static_cast<std::uint64_t>(n))
                             : digits(static_cast<std::uint64_t>(n));
            }
            case json::kind::uint64:
                return digits(x.get_uint64());
            case json::kind::double_:
                return 24;  // at most, as Boost.JSON writes it
            case json::kind::string:
                return x.get_string().size() + 2;
            default:
                return 2;  // the brackets of an object or array
        }
    };
    auto visit = [&](const json::value& x) {
        size += leaf(x);
        if (x.is_object() || x.is_array()) {
            frames.push_back({&x, 0});
        }
    };
    visit(v);
    while (!frames.empty() && size <= stop_after) {
        Frame& f = frames.back();
        if (const auto* o = f.container->if_object(); o && f.next < o->size()) {
            const auto& entry = o->begin()[f.next];
            size += entry.key().size() + 3 + (f.next > 0 ? 1 : 0);  // "key": and a comma
            ++f.next;
            visit(entry.value());
        } else if (const auto* a = f.container->if_array(); a && f.next < a->size()) {
            size += f.next > 0 ? 1 : 0;
            const auto& element = (*a)[f.next];
            ++f.next;
            visit(element);
        } else {
            frames.pop_back();
        }
    }
    return size;
}

std::size_t json_size(const json::object& o, std::size_t stop_after) {
    std::size_t size = 2;
    for (const auto& entry : o) {
        if (size > stop_after) {
            break;
        }
        size += entry.key().size() + 4 + json_size(entry.value(), stop_after - size);
    }
    return size;
}

std::string describe_bytes(std::size_t bytes) {
    constexpr std::size_t kKiB = 1024;
    if (bytes >= kKiB * kKiB && bytes % (kKiB * kKiB) == 0) {
        return std::to_string(bytes / (kKiB * kKiB)) + " MiB";
    }
    if (bytes >= kKiB && bytes % kKiB == 0) {
        return std::to_string(bytes / kKiB) + " KiB";
    }
    return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

std::string too_large(std::string_view what, std::size_t limit, std::string_view key) {
    std::string out(what);
    out.append(" is larger than the ").append(describe_bytes(limit));
    out.append(" limit (").append(key).append(")");
    return out;
}

}  // namespace forkrun::controller
