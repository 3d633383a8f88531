// Compute-unit (CU) metering: a versioned per-method cost table loaded from a fixture, and the
// cost of a JSON-RPC request body.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace forkrun::forks {

/// Why a cost table could not be loaded.
enum class CuTableErrc {
    kUnreadable = 1,  ///< The file cannot be opened or read.
    kMalformed,       ///< Not JSON, or not the shape described at CuTable.
};

/// The category of CuTableErrc ("forkrun.cu_table").
const std::error_category& cu_table_category() noexcept;

std::error_code make_error_code(CuTableErrc e) noexcept;

/// A failed load; `message` names the file (when there is one) and every problem found.
struct CuTableError {
    CuTableErrc code = CuTableErrc::kMalformed;
    std::string message;

    std::error_code error_code() const noexcept { return make_error_code(code); }
};

/// Lets `boost::system::result<T, CuTableError>::value()` throw a std::system_error.
[[noreturn]] void throw_exception_from_error(const CuTableError& e,
                                             const boost::source_location& loc);

/// CU cost per JSON-RPC method. The file is a JSON object:
///   {"version": "<non-empty string>", "defaultCu": <uint>, "methods": {"<method>": <uint>, ...},
///    "notes": "<optional string>"}
/// A method that is not listed (every `anvil_*` and `evm_*` method among them) costs `defaultCu`;
/// the shipped table, fixtures/cu/alchemy-2026-11.json, sets it to 10.
class CuTable {
  public:
    /// Reads and parses a table file.
    static boost::system::result<CuTable, CuTableError> load_file(
        const std::filesystem::path& path);

    /// Parses a table from JSON text.
    static boost::system::result<CuTable, CuTableError> parse(std::string_view json);

    /// The cost of one call of `method`; `default_cost()` when it is not listed.
    std::uint64_t cost(std::string_view method) const noexcept;

    /// The cost of `method` when the table lists it; nullopt (not the default) otherwise. For
    /// what is priced only if a table says so, like a subscription's notifications
    /// (`eth_subscription`).
    std::optional<std::uint64_t> listed_cost(std::string_view method) const noexcept;

    /// The table's version, e.g. "alchemy-2026-11".
    const std::string& version() const noexcept { return version_; }

    std::uint64_t default_cost() const noexcept { return default_cu_; }

  private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    std::string version_;
    std::uint64_t default_cu_ = 0;
    std::unordered_map<std::string, std::uint64_t, Hash, std::equal_to<>> methods_;
};

/// The method names of a JSON-RPC request body, a single call or a batch, in order. An element
/// that is not a call (not an object, or without a string `method`) is skipped; a body that is
/// not JSON yields nothing. Never throws on bad input.
std::vector<std::string> jsonrpc_methods(std::string_view body);

/// The CU a JSON-RPC request body costs: each call of a batch is charged; elements that are not
/// valid calls, and bodies that are not JSON, cost 0 (the server will reject them unexecuted).
std::uint64_t cu_of_body(const CuTable& table, std::string_view body) noexcept;

}  // namespace forkrun::forks

template <>
struct std::is_error_code_enum<forkrun::forks::CuTableErrc> : std::true_type {};
