// JSON log lines appended piece by piece.
#include "util/log_line.hpp"

#include "util/json_text.hpp"
#include "util/timestamp.hpp"

namespace forkrun::util {

LogLine::LogLine(std::string_view event, std::size_t reserve) {
    line_.reserve(reserve);
    line_.append("{\"time\":\"");
    line_.append(format_timestamp(Clock::now()));
    line_.append("\",\"event\":\"");
    line_.append(event);
    line_.push_back('"');
}

void LogLine::key(std::string_view k) {
    line_.append(",\"");
    line_.append(k);
    line_.append("\":");
}

LogLine& LogLine::str(std::string_view k, std::string_view value) {
    key(k);
    append_json_string(line_, value);
    return *this;
}

LogLine& LogLine::num(std::string_view k, std::uint64_t value) {
    key(k);
    line_.append(std::to_string(value));
    return *this;
}

LogLine& LogLine::raw(std::string_view k, std::string_view json) {
    key(k);
    line_.append(json);
    return *this;
}

std::string LogLine::finish() && {
    line_.push_back('}');
    return std::move(line_);
}

}  // namespace forkrun::util
