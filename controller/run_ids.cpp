// Random ids from getrandom(2) (a block per thread at a time), encoded as unpadded base64url.
#include "controller/run_ids.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace forkrun::controller {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kPrefix = "run_";
constexpr std::size_t kIdChars = 22;

}  // namespace

namespace {

// The kernel's random bytes, taken a block at a time per thread: an id is made on every create,
// and a getrandom(2) call for each was a syscall per run. The bytes are used once each.
void random_bytes(std::uint8_t* out, std::size_t n) {
    constexpr std::size_t kBlock = 512;
    thread_local std::array<std::uint8_t, kBlock> pool;
    thread_local std::size_t left = 0;
    while (n > 0) {
        if (left == 0) {
            std::size_t got = 0;
            while (got < kBlock) {
                const ssize_t r = ::getrandom(pool.data() + got, kBlock - got, 0);
                if (r < 0) {
                    throw std::runtime_error("getrandom failed");
                }
                got += static_cast<std::size_t>(r);
            }
            left = kBlock;
        }
        const std::size_t take = std::min(n, left);
        std::uint8_t* from = pool.data() + (kBlock - left);
        std::memcpy(out, from, take);
        std::memset(from, 0, take);  // not kept once handed out
        out += take;
        n -= take;
        left -= take;
    }
}

}  // namespace

std::string random_token(std::size_t bytes) {
    std::array<std::uint8_t, 64> small;
    std::vector<std::uint8_t> big;
    std::uint8_t* buf = small.data();
    if (bytes > small.size()) {
        big.resize(bytes);
        buf = big.data();
    }
    random_bytes(buf, bytes);
    std::string out;
    out.reserve((bytes * 4 + 2) / 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
        acc = (acc << 8) | buf[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
        }
    }
    if (bits > 0) {
        out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
    }
    return out;
}

std::string new_run_id() {
    return std::string(kPrefix) + random_token(16);
}

bool is_run_id(std::string_view id) {
    if (id.size() != kPrefix.size() + kIdChars || id.substr(0, kPrefix.size()) != kPrefix) {
        return false;
    }
    for (char c : id.substr(kPrefix.size())) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace forkrun::controller
