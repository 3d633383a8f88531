// Random ids from getrandom(2), encoded as unpadded base64url.
#include "controller/run_ids.hpp"

#include <sys/random.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace forkrun::controller {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kPrefix = "run_";
constexpr std::size_t kIdChars = 22;

}  // namespace

std::string random_token(std::size_t bytes) {
    std::vector<std::uint8_t> buf(bytes);
    std::size_t got = 0;
    while (got < bytes) {
        const ssize_t n = ::getrandom(buf.data() + got, bytes - got, 0);
        if (n < 0) {
            throw std::runtime_error("getrandom failed");
        }
        got += static_cast<std::size_t>(n);
    }
    std::string out;
    out.reserve((bytes * 4 + 2) / 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (auto b : buf) {
        acc = (acc << 8) | b;
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
