// zstd frames with a preset dictionary, held in memory only (the data never leaves the process):
// four bytes naming the dictionary, then the frame.
#include "util/pack.hpp"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_createCDict_advanced: tables sized for small texts
#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

namespace forkrun::util {

namespace {

// Level 1, tables sized for texts of a few KB: a table sized for unknown sizes costs more to
// reset for each small text than compressing it does.
constexpr int kLevel = 1;
constexpr std::size_t kMarkSize = sizeof(std::uint32_t);
constexpr unsigned long long kTypicalSize = 4096;

struct CDictFree {
    void operator()(ZSTD_CDict* d) const { ZSTD_freeCDict(d); }
};
struct DDictFree {
    void operator()(ZSTD_DDict* d) const { ZSTD_freeDDict(d); }
};

/// A dictionary digested once for compressing and once for decompressing, on one thread (the
/// digests hold their own copies; `text` is what a caller's dictionary is matched against).
struct Digested {
    std::string text;
    std::uint32_t mark = 0;  // names the dictionary in front of each frame made with it
    std::unique_ptr<ZSTD_CDict, CDictFree> c;
    std::unique_ptr<ZSTD_DDict, DDictFree> d;
};

/// One thread's compression contexts and the dictionaries it has seen (a few: each caller has
/// one fixed dictionary; past kMaxDicts the oldest is digested again when it comes back).
class Codec {
  public:
    Codec() : cctx_(ZSTD_createCCtx()), dctx_(ZSTD_createDCtx()) {}
    ~Codec() {
        ZSTD_freeCCtx(cctx_);
        ZSTD_freeDCtx(dctx_);
    }
    Codec(const Codec&) = delete;
    Codec& operator=(const Codec&) = delete;

    ZSTD_CCtx* cctx() const { return cctx_; }
    ZSTD_DCtx* dctx() const { return dctx_; }

    const Digested* dict(std::string_view text) {
        for (const auto& d : dicts_) {
            if (d.text == text) {  // (not memcmp: an empty view may hold no pointer)
                return &d;
            }
        }
        if (dicts_.size() == kMaxDicts) {
            dicts_.erase(dicts_.begin());
        }
        Digested d;
        d.text.assign(text);
        d.mark = static_cast<std::uint32_t>(std::hash<std::string_view>{}(text));
        if (text.empty()) {
            dicts_.push_back(std::move(d));  // no digests: frames without a dictionary
            return &dicts_.back();
        }
        const auto params = ZSTD_getCParams(kLevel, kTypicalSize, d.text.size());
        d.c.reset(ZSTD_createCDict_advanced(text.data(), text.size(), ZSTD_dlm_byCopy,
                                            ZSTD_dct_rawContent, params, ZSTD_defaultCMem));
        d.d.reset(ZSTD_createDDict_advanced(text.data(), text.size(), ZSTD_dlm_byCopy,
                                            ZSTD_dct_rawContent, ZSTD_defaultCMem));
        if (!d.c || !d.d) {
            return nullptr;
        }
        dicts_.push_back(std::move(d));
        return &dicts_.back();
    }

  private:
    static constexpr std::size_t kMaxDicts = 8;
    ZSTD_CCtx* cctx_;
    ZSTD_DCtx* dctx_;
    std::vector<Digested> dicts_;
};

Codec& codec() {
    thread_local Codec c;
    return c;
}

}  // namespace

std::string pack_text(std::string_view text, std::string_view dictionary) {
    auto& c = codec();
    const Digested* d = c.dict(dictionary);
    if (d == nullptr || c.cctx() == nullptr) {
        return {};
    }
    std::string out(kMarkSize + ZSTD_compressBound(text.size()), '\0');
    std::memcpy(out.data(), &d->mark, kMarkSize);
    char* frame = out.data() + kMarkSize;
    const std::size_t room = out.size() - kMarkSize;
    const std::size_t n =
        d->c ? ZSTD_compress_usingCDict(c.cctx(), frame, room, text.data(), text.size(), d->c.get())
             : ZSTD_compressCCtx(c.cctx(), frame, room, text.data(), text.size(), kLevel);
    if (ZSTD_isError(n)) {
        return {};
    }
    // Cut to what was written. (resize would do, but GCC 12 then warns of the growing branch
    // it cannot rule out.)
    out.erase(kMarkSize + n);
    out.shrink_to_fit();
    return out;
}

std::optional<std::string> unpack_text(std::string_view data,
                                       std::size_t size,
                                       std::string_view dictionary) {
    auto& c = codec();
    const Digested* d = c.dict(dictionary);
    if (d == nullptr || c.dctx() == nullptr || data.size() < kMarkSize ||
        std::memcmp(data.data(), &d->mark, kMarkSize) != 0) {
        return std::nullopt;  // not made with this dictionary (a frame that never used it
                              // would otherwise come back with any)
    }
    data.remove_prefix(kMarkSize);
    std::string out(size, '\0');
    const std::size_t n =
        d->d ? ZSTD_decompress_usingDDict(c.dctx(), out.data(), out.size(), data.data(),
                                          data.size(), d->d.get())
             : ZSTD_decompressDCtx(c.dctx(), out.data(), out.size(), data.data(), data.size());
    if (ZSTD_isError(n) || n != size) {
        return std::nullopt;
    }
    return out;
}

}  // namespace forkrun::util
