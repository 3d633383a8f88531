// Small text compressed in memory (zstd with a preset dictionary): for what is kept long and
// read rarely, such as a finished run's JSON and events.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace forkrun::util {

/// `text` compressed with `dictionary` (the same must be given to unpack_text); empty when it
/// cannot be. Fast level: the caller is on a hot path.
std::string pack_text(std::string_view text, std::string_view dictionary);

/// What pack_text() made, given back; empty when `data` is not such a text, was packed with
/// another dictionary, or does not come back to exactly `size` bytes.
std::optional<std::string> unpack_text(std::string_view data,
                                       std::size_t size,
                                       std::string_view dictionary);

}  // namespace forkrun::util
