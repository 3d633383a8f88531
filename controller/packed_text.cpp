// PackedText, and the small set of texts read last that stays expanded.
#include "controller/packed_text.hpp"

#include <array>
#include <limits>
#include <mutex>

#include "util/pack.hpp"

namespace forkrun::controller {

namespace {

/// Holds the last PackedText::kRecent expanded texts alive (each PackedText keeps a weak
/// reference to its own), so their memory is bounded: about 0.7 MB of 2.7 KB runs.
class RecentTexts {
  public:
    void keep(std::shared_ptr<const std::string> text) {
        std::lock_guard lock(mu_);
        ring_[next_] = std::move(text);
        next_ = (next_ + 1) % ring_.size();
    }

  private:
    std::mutex mu_;
    std::array<std::shared_ptr<const std::string>, PackedText::kRecent> ring_;
    std::size_t next_ = 0;
};

RecentTexts& recent() {
    static RecentTexts r;
    return r;
}

}  // namespace

PackedText::PackedText(std::string_view text, std::string_view dictionary)
    : dictionary_(dictionary) {
    if (text.empty() || text.size() >= std::numeric_limits<std::uint32_t>::max()) {
        return;
    }
    packed_ = util::pack_text(text, dictionary);
    if (!packed_.empty()) {
        size_ = static_cast<std::uint32_t>(text.size());
    }
}

std::shared_ptr<const std::string> PackedText::text() const {
    if (empty()) {
        return nullptr;
    }
    if (auto hot = inflated_.lock()) {
        return hot;
    }
    auto text = util::unpack_text(packed_, size_, dictionary_);
    if (!text) {
        return nullptr;
    }
    auto out = std::make_shared<const std::string>(std::move(*text));
    inflated_ = out;
    recent().keep(out);
    return out;
}

}  // namespace forkrun::controller
