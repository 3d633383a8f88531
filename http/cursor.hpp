// List cursors: a position in one organization's creation order, sealed to that organization.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace forkrun::http {

/// Makes and checks the `nextCursor` strings of GET /v1/runs. A cursor holds the organization's
/// own sequence number (RunRecord::org_seq, so it reveals nothing about other organizations) and
/// an HMAC-SHA256 tag over the organization and that number: a cursor another organization was
/// given, or one this server did not make, does not decode.
class CursorCodec {
  public:
    /// `key` is the HMAC key; empty: 32 random bytes (cursors then last as long as the process,
    /// like the in-memory store they page through).
    explicit CursorCodec(std::string key = {});

    /// "cur_" and 32 base64url characters.
    std::string encode(std::string_view organization_id, std::uint64_t org_seq) const;

    /// The sequence number, when `cursor` was made by encode() for `organization_id`.
    std::optional<std::uint64_t> decode(std::string_view organization_id,
                                        std::string_view cursor) const;

  private:
    struct Keyed;
    std::shared_ptr<const Keyed> keyed_;  // shared by copies; never changes
};

}  // namespace forkrun::http
