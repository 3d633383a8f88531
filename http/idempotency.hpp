// The wire side of idempotent creates: the Idempotency-Key header's shape, and the digest that
// says whether a repeat carries the same JSON body.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace forkrun::http {

inline constexpr std::size_t kMaxIdempotencyKey = 255;

/// Why `key` is not an Idempotency-Key (1-255 printable ASCII characters), or empty.
std::string idempotency_key_problem(std::string_view key);

/// SHA-256 of `body` written with every object's keys sorted: key order and whitespace do not
/// make two bodies different, any value does.
std::string body_digest(const boost::json::value& body);

}  // namespace forkrun::http
