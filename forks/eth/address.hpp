// A 20-byte Ethereum account address with EIP-55 checksummed text.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include <boost/json/fwd.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace forkrun::eth {

/// Why an address string was rejected.
enum class AddressError {
    kMissingPrefix = 1,  ///< must start with "0x"
    kWrongLength,        ///< must have exactly 40 hex digits
    kInvalidDigit,       ///< a character outside [0-9a-fA-F]
    kBadChecksum,        ///< mixed case that is not the EIP-55 checksum
    kNotAString,         ///< JSON value is not a string
};

/// The error category of AddressError ("forkrun.address").
const boost::system::error_category& address_category() noexcept;
boost::system::error_code make_error_code(AddressError e) noexcept;

/// A 20-byte address; the zero address by default.
class Address {
  public:
    using Bytes = std::array<uint8_t, 20>;

    constexpr Address() noexcept = default;
    constexpr explicit Address(const Bytes& bytes) noexcept : bytes_(bytes) {}

    /// Parses "0x" + 40 hex digits. All-lowercase and all-uppercase digits are accepted
    /// unchecked; mixed case must be the EIP-55 checksum.
    static boost::system::result<Address> parse(std::string_view text);

    /// EIP-55 checksummed text, e.g. "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".
    std::string to_checksum() const;
    /// Lowercase text, e.g. "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266".
    std::string to_lower_hex() const;

    constexpr const Bytes& bytes() const noexcept { return bytes_; }

    friend constexpr bool operator==(const Address&, const Address&) noexcept = default;
    friend constexpr auto operator<=>(const Address&, const Address&) noexcept = default;

  private:
    Bytes bytes_{};
};

/// Writes the checksummed form.
std::ostream& operator<<(std::ostream& os, const Address& a);

/// JSON: written as the checksummed string.
void tag_invoke(const boost::json::value_from_tag&, boost::json::value& jv, const Address& a);
/// JSON: read with Address::parse.
boost::system::result<Address> tag_invoke(const boost::json::try_value_to_tag<Address>&,
                                          const boost::json::value& jv);

}  // namespace forkrun::eth

template <>
struct boost::system::is_error_code_enum<forkrun::eth::AddressError> : std::true_type {};
