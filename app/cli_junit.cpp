// JUnit XML from a Run: counts, per-node durations from their timestamps, XML escaping.
#include "app/cli_junit.hpp"

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace forkrun::app {

namespace json = boost::json;

namespace {

std::string text_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// XML text or attribute value: the five entities, and characters XML 1.0 cannot hold dropped.
std::string xml(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (ch) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                if (c >= 0x20 || ch == '\n' || ch == '\t' || ch == '\r') {
                    out.push_back(ch);
                }
        }
    }
    return out;
}

// Seconds since the epoch of an RFC 3339 UTC timestamp ("2026-11-28T08:34:53.123Z"), or -1.
double epoch_seconds(const std::string& ts) {
    std::tm tm{};
    int ms = 0;
    if (std::sscanf(ts.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6) {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return static_cast<double>(timegm(&tm)) + ms / 1000.0;
}

std::string seconds_between(const std::string& from, const std::string& to) {
    const double a = epoch_seconds(from);
    const double b = epoch_seconds(to);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", a >= 0 && b >= a ? b - a : 0.0);
    return buf;
}

}  // namespace

std::string junit_xml(const json::object& run) {
    const std::string workflow = text_at(run, "workflowId");
    const std::string id = text_at(run, "id");
    const json::object* nodes = nullptr;
    if (const auto* es = run.if_contains("executionState"); es && es->is_object()) {
        if (const auto* n = es->get_object().if_contains("nodes"); n && n->is_object()) {
            nodes = &n->get_object();
        }
    }
    std::ostringstream cases;
    std::size_t tests = 0;
    std::size_t failures = 0;
    std::size_t skipped = 0;
    for (const auto& [node_id, v] : nodes ? *nodes : json::object()) {
        if (!v.is_object()) {
            continue;
        }
        const auto& node = v.get_object();
        const std::string status = text_at(node, "status");
        ++tests;
        cases << "    <testcase name=\"" << xml(node_id) << "\" classname=\"" << xml(workflow)
              << "\" time=\""
              << seconds_between(text_at(node, "startedAt"), text_at(node, "finishedAt")) << "\"";
        if (status == "success") {
            cases << "/>\n";
            continue;
        }
        cases << ">\n";
        if (status == "failure") {
            ++failures;
            std::string message = "node failed";
            std::string code = "failure";
            if (const auto* e = node.if_contains("error"); e && e->is_object()) {
                message = text_at(e->get_object(), "message");
                code = text_at(e->get_object(), "code");
            }
            cases << "      <failure message=\"" << xml(message) << "\" type=\"" << xml(code)
                  << "\">" << xml(message) << "</failure>\n";
        } else {
            ++skipped;
            const std::string why = status == "skipped" || status == "cancelled"
                                        ? status
                                        : "not finished (" + status + ")";
            cases << "      <skipped message=\"" << xml(why) << "\"/>\n";
        }
        cases << "    </testcase>\n";
    }
    const std::string time = seconds_between(text_at(run, "startedAt"), text_at(run, "finishedAt"));
    std::ostringstream out;
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        << "<testsuites name=\"forkrun\" tests=\"" << tests << "\" failures=\"" << failures
        << "\" errors=\"0\" skipped=\"" << skipped << "\" time=\"" << time << "\">\n"
        << "  <testsuite name=\"" << xml(workflow) << "\" id=\"" << xml(id) << "\" tests=\""
        << tests << "\" failures=\"" << failures << "\" errors=\"0\" skipped=\"" << skipped
        << "\" time=\"" << time << "\" timestamp=\"" << xml(text_at(run, "startedAt")) << "\">\n"
        << "    <properties>\n"
        << "      <property name=\"runId\" value=\"" << xml(id) << "\"/>\n"
        << "      <property name=\"status\" value=\"" << xml(text_at(run, "status")) << "\"/>\n"
        << "      <property name=\"totalCu\" value=\""
        << (run.contains("totalCu") ? json::serialize(run.at("totalCu")) : "0") << "\"/>\n"
        << "    </properties>\n"
        << cases.str() << "  </testsuite>\n</testsuites>\n";
    return out.str();
}

}  // namespace forkrun::app
