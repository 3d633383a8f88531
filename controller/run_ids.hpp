// Run ids: opaque, URL-safe and unguessable (128 random bits).
#pragma once

#include <string>
#include <string_view>

namespace forkrun::controller {

/// "run_" followed by 22 base64url characters of 128 bits from the kernel's CSPRNG.
std::string new_run_id();

/// True when `id` has the shape new_run_id() makes; anything else cannot name a run.
bool is_run_id(std::string_view id);

/// `bytes` random bytes from the kernel's CSPRNG as unpadded base64url.
std::string random_token(std::size_t bytes);

}  // namespace forkrun::controller
