// A text kept compressed and expanded when read; the texts read most recently stay expanded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace forkrun::controller {

/// A finished run's full JSON, kept compressed (about an eighth of its size with the wire
/// layer's dictionary). Reading it expands it once: the last kRecent texts read, across every
/// PackedText, stay expanded, so a run read again and again is expanded once. Not thread-safe:
/// its owner (the run's record) serializes the calls.
class PackedText {
  public:
    static constexpr std::size_t kRecent = 256;

    PackedText() = default;
    /// Empty when `text` cannot be compressed (the caller keeps the text as it is then).
    /// `dictionary` must outlive this (a static string of the wire layer's).
    PackedText(std::string_view text, std::string_view dictionary);

    bool empty() const { return size_ == 0; }
    /// The text as it was given; null if it could not be expanded (never, barring memory).
    std::shared_ptr<const std::string> text() const;

  private:
    std::string packed_;
    std::string_view dictionary_;
    std::uint32_t size_ = 0;
    mutable std::weak_ptr<const std::string> inflated_;
};

}  // namespace forkrun::controller
