// zlib's raw deflate (no header, no checksum: the data never leaves the process).
#include "util/deflate.hpp"

#include <zlib.h>

namespace forkrun::util {

namespace {

const Bytef* bytes(std::string_view s) {
    return reinterpret_cast<const Bytef*>(s.data());
}

}  // namespace

namespace {

/// One compressor per thread, reset between uses: deflateInit2's allocations were a quarter of
/// a small text's cost (runs end on every thread).
class Compressor {
  public:
    Compressor() {
        // Level 1, a 4 KB window (texts are small), the least memory for the state.
        ok_ = deflateInit2(&z_, 1, Z_DEFLATED, -12, 1, Z_DEFAULT_STRATEGY) == Z_OK;
    }
    ~Compressor() {
        if (ok_) {
            deflateEnd(&z_);
        }
    }
    Compressor(const Compressor&) = delete;
    Compressor& operator=(const Compressor&) = delete;

    z_stream* reset() {
        if (!ok_ || deflateReset(&z_) != Z_OK) {
            return nullptr;
        }
        return &z_;
    }

  private:
    z_stream z_{};
    bool ok_ = false;
};

}  // namespace

std::string deflate_text(std::string_view text, std::string_view dictionary) {
    thread_local Compressor compressor;
    z_stream* z = compressor.reset();
    if (z == nullptr) {
        return {};
    }
    if (!dictionary.empty()) {
        deflateSetDictionary(z, bytes(dictionary), static_cast<uInt>(dictionary.size()));
    }
    std::string out(deflateBound(z, static_cast<uLong>(text.size())), '\0');
    z->next_in = const_cast<Bytef*>(bytes(text));
    z->avail_in = static_cast<uInt>(text.size());
    z->next_out = reinterpret_cast<Bytef*>(out.data());
    z->avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(z, Z_FINISH);
    if (rc != Z_STREAM_END) {
        return {};
    }
    // Cut to what was written. (resize would do, but GCC 12 then warns of the growing branch
    // it cannot rule out.)
    out.erase(out.size() - z->avail_out);
    out.shrink_to_fit();
    return out;
}

std::optional<std::string> inflate_text(std::string_view data,
                                        std::size_t size,
                                        std::string_view dictionary) {
    z_stream z{};
    if (inflateInit2(&z, -12) != Z_OK) {
        return std::nullopt;
    }
    if (!dictionary.empty()) {
        inflateSetDictionary(&z, bytes(dictionary), static_cast<uInt>(dictionary.size()));
    }
    std::string out(size, '\0');
    z.next_in = const_cast<Bytef*>(bytes(data));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_FINISH);
    const bool exact = rc == Z_STREAM_END && z.avail_out == 0;
    inflateEnd(&z);
    if (!exact) {
        return std::nullopt;
    }
    return out;
}

}  // namespace forkrun::util
