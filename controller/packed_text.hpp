// A text kept deflated and inflated when read; the texts read most recently stay inflated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace forkrun::controller {

/// A finished run's full JSON, kept deflated (about an eighth of its size with the wire
/// layer's dictionary). Reading it inflates it once: the last kRecent texts read, across every
/// PackedText, stay inflated, so a run read again and again is inflated once. Not thread-safe:
/// its owner (the run's record) serializes the calls.
class PackedText {
  public:
    static constexpr std::size_t kRecent = 256;

    PackedText() = default;
    /// Empty when `text` cannot be deflated (the caller keeps the text as it is then).
    /// `dictionary` must outlive this (a static string of the wire layer's).
    PackedText(std::string_view text, std::string_view dictionary);

    bool empty() const { return size_ == 0; }
    /// The text as it was given; null if it could not be inflated (never, barring memory).
    std::shared_ptr<const std::string> text() const;

  private:
    std::string packed_;
    std::string_view dictionary_;
    std::uint32_t size_ = 0;
    mutable std::weak_ptr<const std::string> inflated_;
};

}  // namespace forkrun::controller
