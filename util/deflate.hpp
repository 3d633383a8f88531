// Small text compressed in memory (zlib's raw deflate with a preset dictionary): for what is
// kept long and read rarely, such as a finished run's events.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace forkrun::util {

/// `text` deflated with `dictionary` (the same must be given to inflate_text). Fast level: the
/// caller is on a hot path.
std::string deflate_text(std::string_view text, std::string_view dictionary);

/// What deflate_text() made, given back; empty when `data` is not such a stream or does not
/// inflate to exactly `size` bytes.
std::optional<std::string> inflate_text(std::string_view data,
                                        std::size_t size,
                                        std::string_view dictionary);

}  // namespace forkrun::util
