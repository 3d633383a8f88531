// Address parsing and EIP-55 checksums (case of each letter digit from the keccak of the
// lowercase hex).
#include "forks/eth/address.hpp"

#include <ostream>

#include <boost/json/value.hpp>

#include "forks/eth/hex.hpp"
#include "forks/eth/keccak.hpp"

namespace forkrun::eth {
namespace {

class AddressCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.address"; }
    std::string message(int ev) const override {
        switch (static_cast<AddressError>(ev)) {
            case AddressError::kMissingPrefix:
                return "address must start with 0x";
            case AddressError::kWrongLength:
                return "address must have 40 hex digits";
            case AddressError::kInvalidDigit:
                return "address has an invalid hex digit";
            case AddressError::kBadChecksum:
                return "address has a wrong EIP-55 checksum";
            case AddressError::kNotAString:
                return "address must be a string";
        }
        return "unknown address error";
    }
};

// Applies EIP-55 to 40 lowercase hex digits.
std::string checksum_digits(std::string_view lower) {
    const Hash256 hash = keccak256(lower);
    std::string out(lower);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const uint8_t nibble = (i % 2 == 0) ? hash[i / 2] >> 4 : hash[i / 2] & 0x0f;
        if (out[i] >= 'a' && out[i] <= 'f' && nibble >= 8) {
            out[i] = static_cast<char>(out[i] - 'a' + 'A');
        }
    }
    return out;
}

}  // namespace

const boost::system::error_category& address_category() noexcept {
    static const AddressCategory category;
    return category;
}

boost::system::error_code make_error_code(AddressError e) noexcept {
    return {static_cast<int>(e), address_category()};
}

boost::system::result<Address> Address::parse(std::string_view text) {
    if (!has_hex_prefix(text)) {
        return make_error_code(AddressError::kMissingPrefix);
    }
    const std::string_view digits = text.substr(2);
    if (digits.size() != 40) {
        return make_error_code(AddressError::kWrongLength);
    }
    bool has_lower = false;
    bool has_upper = false;
    for (const char c : digits) {
        if (hex_digit_value(c) < 0) {
            return make_error_code(AddressError::kInvalidDigit);
        }
        has_lower |= c >= 'a' && c <= 'f';
        has_upper |= c >= 'A' && c <= 'F';
    }
    auto bytes = from_hex_fixed<20>(digits);
    if (!bytes) {
        return make_error_code(AddressError::kInvalidDigit);
    }
    Address address(*bytes);
    if (has_lower && has_upper && address.to_checksum().substr(2) != digits) {
        return make_error_code(AddressError::kBadChecksum);
    }
    return address;
}

std::string Address::to_checksum() const {
    return "0x" + checksum_digits(std::string_view(to_lower_hex()).substr(2));
}

std::string Address::to_lower_hex() const {
    return to_hex(bytes_);
}

std::ostream& operator<<(std::ostream& os, const Address& a) {
    return os << a.to_checksum();
}

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& jv, const Address& a) {
    jv = a.to_checksum();
}

boost::system::result<Address> tag_invoke(const boost::json::try_value_to_tag<Address>&,
                                          const boost::json::value& jv) {
    const auto* s = jv.if_string();
    if (s == nullptr) {
        return make_error_code(AddressError::kNotAString);
    }
    return Address::parse(*s);
}

}  // namespace forkrun::eth
