// zlib's raw deflate (no header, no checksum: the data never leaves the process).
#include "util/deflate.hpp"

#include <zlib.h>

namespace forkrun::util {

namespace {

const Bytef* bytes(std::string_view s) {
    return reinterpret_cast<const Bytef*>(s.data());
}

}  // namespace

std::string deflate_text(std::string_view text, std::string_view dictionary) {
    z_stream z{};
    // Level 1, a 4 KB window (text is small), the least memory for the state.
    if (deflateInit2(&z, 1, Z_DEFLATED, -12, 1, Z_DEFAULT_STRATEGY) != Z_OK) {
        return {};
    }
    if (!dictionary.empty()) {
        deflateSetDictionary(&z, bytes(dictionary), static_cast<uInt>(dictionary.size()));
    }
    std::string out(deflateBound(&z, static_cast<uLong>(text.size())), '\0');
    z.next_in = const_cast<Bytef*>(bytes(text));
    z.avail_in = static_cast<uInt>(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    const auto used = out.size() - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        return {};
    }
    out.resize(used);
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
