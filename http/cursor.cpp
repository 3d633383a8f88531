// Cursor sealing: 8 bytes of sequence number and a 16-byte truncated HMAC-SHA256, base64url.
#include "http/cursor.hpp"

#include <cryptopp/misc.h>
#include <cryptopp/sha.h>

#include <algorithm>
#include <array>

#include "controller/run_ids.hpp"

namespace forkrun::http {

namespace {

constexpr std::string_view kPrefix = "cur_";
constexpr std::size_t kSeqBytes = 8;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kBytes = kSeqBytes + kTagBytes;  // 24 bytes: 32 base64url characters
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using Sealed = std::array<std::uint8_t, kBytes>;

int digit_of(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '-' ? 62 : (c == '_' ? 63 : -1);
}

// Whole groups of three bytes only, so no padding and no partial digits to check.
std::string base64url(const Sealed& bytes) {
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        const std::uint32_t v =
            (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        for (int shift = 18; shift >= 0; shift -= 6) {
            out.push_back(kAlphabet[(v >> shift) & 0x3f]);
        }
    }
    return out;
}

std::optional<Sealed> from_base64url(std::string_view text) {
    if (text.size() != kBytes / 3 * 4) {
        return std::nullopt;
    }
    Sealed out;
    for (std::size_t i = 0, o = 0; i < text.size(); i += 4, o += 3) {
        std::uint32_t v = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const int d = digit_of(text[i + j]);
            if (d < 0) {
                return std::nullopt;
            }
            v = (v << 6) | static_cast<std::uint32_t>(d);
        }
        out[o] = static_cast<std::uint8_t>(v >> 16);
        out[o + 1] = static_cast<std::uint8_t>(v >> 8);
        out[o + 2] = static_cast<std::uint8_t>(v);
    }
    return out;
}

// The 64-byte HMAC key block of `key` (RFC 2104: a longer key is hashed first).
std::array<CryptoPP::byte, CryptoPP::SHA256::BLOCKSIZE> key_block(std::string_view key) {
    std::array<CryptoPP::byte, CryptoPP::SHA256::BLOCKSIZE> block{};
    if (key.size() > block.size()) {
        CryptoPP::SHA256().CalculateDigest(
            block.data(), reinterpret_cast<const CryptoPP::byte*>(key.data()), key.size());
    } else {
        std::copy(key.begin(), key.end(), block.begin());
    }
    return block;
}

}  // namespace

// HMAC-SHA256 with the key's two padded blocks hashed once, here: a tag then costs the two
// compressions of its own bytes instead of four and a key schedule (decision 77).
struct CursorCodec::Keyed {
    CryptoPP::SHA256 inner;  // has absorbed key ^ ipad
    CryptoPP::SHA256 outer;  // has absorbed key ^ opad

    explicit Keyed(std::string_view key) {
        auto block = key_block(key);
        for (auto& b : block) {
            b ^= 0x36;
        }
        inner.Update(block.data(), block.size());
        for (auto& b : block) {
            b ^= 0x36 ^ 0x5c;
        }
        outer.Update(block.data(), block.size());
    }

    // The tag over the organization and the big-endian number (the NUL keeps the two apart).
    std::array<std::uint8_t, kTagBytes> tag_of(std::string_view organization_id,
                                               const std::uint8_t* seq) const {
        CryptoPP::SHA256 h = inner;
        h.Update(reinterpret_cast<const CryptoPP::byte*>(organization_id.data()),
                 organization_id.size());
        const CryptoPP::byte nul = 0;
        h.Update(&nul, 1);
        h.Update(seq, kSeqBytes);
        std::array<CryptoPP::byte, CryptoPP::SHA256::DIGESTSIZE> digest;
        h.Final(digest.data());
        h = outer;
        h.Update(digest.data(), digest.size());
        std::array<std::uint8_t, kTagBytes> tag;
        h.TruncatedFinal(tag.data(), tag.size());
        return tag;
    }
};

CursorCodec::CursorCodec(std::string key)
    : keyed_(std::make_shared<const Keyed>(key.empty() ? controller::random_token(32) : key)) {}

std::string CursorCodec::encode(std::string_view organization_id, std::uint64_t org_seq) const {
    Sealed bytes;
    for (std::size_t i = 0; i < kSeqBytes; ++i) {
        bytes[i] = static_cast<std::uint8_t>(org_seq >> (8 * (kSeqBytes - 1 - i)));
    }
    const auto tag = keyed_->tag_of(organization_id, bytes.data());
    std::copy(tag.begin(), tag.end(), bytes.begin() + kSeqBytes);
    return std::string(kPrefix) + base64url(bytes);
}

std::optional<std::uint64_t> CursorCodec::decode(std::string_view organization_id,
                                                 std::string_view cursor) const {
    if (!cursor.starts_with(kPrefix)) {
        return std::nullopt;
    }
    const auto bytes = from_base64url(cursor.substr(kPrefix.size()));
    if (!bytes) {
        return std::nullopt;
    }
    const auto tag = keyed_->tag_of(organization_id, bytes->data());
    if (!CryptoPP::VerifyBufsEqual(tag.data(), bytes->data() + kSeqBytes, kTagBytes)) {
        return std::nullopt;
    }
    std::uint64_t seq = 0;
    for (std::size_t i = 0; i < kSeqBytes; ++i) {
        seq = (seq << 8) | (*bytes)[i];
    }
    return seq;
}

}  // namespace forkrun::http
