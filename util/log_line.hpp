// One JSON log line ({"time":...,"event":...,...}), appended piece by piece: request, overload
// and run-transition lines are logged several times per run or request, so they are not built as
// a json::object first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace forkrun::util {

class LogLine {
  public:
    /// Starts `{"time":"<now, RFC 3339>","event":"<event>"`; `event` is a literal of the caller.
    explicit LogLine(std::string_view event, std::size_t reserve = 160);

    /// `,"key":"value"` with `value` escaped as a JSON string; `key` is a literal of the caller.
    LogLine& str(std::string_view key, std::string_view value);
    /// `,"key":value` for a number.
    LogLine& num(std::string_view key, std::uint64_t value);
    /// `,"key":value` with `value` already JSON (e.g. a formatted decimal).
    LogLine& raw(std::string_view key, std::string_view json);

    /// The finished line (the object closed), without a newline.
    std::string finish() &&;

  private:
    void key(std::string_view k);

    std::string line_;
};

}  // namespace forkrun::util
