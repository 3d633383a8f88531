// Loading of the CU cost table and metering of JSON-RPC request bodies.
#include "forks/cu_table.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/throw_exception.hpp>

#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>

namespace forkrun::forks {
namespace {

class CuTableCategory final : public std::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.cu_table"; }

    std::string message(int ev) const override {
        switch (static_cast<CuTableErrc>(ev)) {
            case CuTableErrc::kUnreadable:
                return "CU table cannot be read";
            case CuTableErrc::kMalformed:
                return "CU table is malformed";
        }
        return "unknown CU table error";
    }
};

CuTableError malformed(std::string message) {
    return CuTableError{CuTableErrc::kMalformed, std::move(message)};
}

/// A JSON number that is a non-negative integer, as uint64.
std::optional<std::uint64_t> as_cu(const boost::json::value& v) {
    if (const auto* u = v.if_uint64()) {
        return *u;
    }
    if (const auto* i = v.if_int64(); i != nullptr && *i >= 0) {
        return static_cast<std::uint64_t>(*i);
    }
    return std::nullopt;
}

/// Calls `f(method)` for each call in a request body.
template <class F>
void for_each_method(std::string_view body, F&& f) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec);
    if (ec) {
        return;
    }
    auto visit = [&](const boost::json::value& call) {
        const auto* obj = call.if_object();
        const auto* method = obj ? obj->if_contains("method") : nullptr;
        if (method != nullptr && method->is_string()) {
            f(std::string_view(method->get_string()));
        }
    };
    if (const auto* arr = v.if_array()) {
        for (const auto& element : *arr) {
            visit(element);
        }
    } else {
        visit(v);
    }
}

}  // namespace

const std::error_category& cu_table_category() noexcept {
    static const CuTableCategory category;
    return category;
}

std::error_code make_error_code(CuTableErrc e) noexcept {
    return {static_cast<int>(e), cu_table_category()};
}

void throw_exception_from_error(const CuTableError& e, const boost::source_location& loc) {
    boost::throw_with_location(std::system_error(e.error_code(), e.message), loc);
}

boost::system::result<CuTable, CuTableError> CuTable::load_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return CuTableError{CuTableErrc::kUnreadable, "cannot open CU table " + path.string() +
                                                          ": " +
                                                          std::generic_category().message(errno)};
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        return CuTableError{CuTableErrc::kUnreadable, "cannot read CU table " + path.string()};
    }
    auto table = parse(text.str());
    if (!table) {
        CuTableError e = table.error();
        e.message = "CU table " + path.string() + ": " + e.message;
        return e;
    }
    return table;
}

boost::system::result<CuTable, CuTableError> CuTable::parse(std::string_view json) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(json, ec);
    if (ec) {
        return malformed("not valid JSON (" + ec.message() + ")");
    }
    const auto* root = v.if_object();
    if (root == nullptr) {
        return malformed("the top level must be an object");
    }
    CuTable table;
    std::vector<std::string> problems;

    const auto* version = root->if_contains("version");
    if (version == nullptr || !version->is_string() || version->get_string().empty()) {
        problems.emplace_back("/version must be a non-empty string");
    } else {
        table.version_ = version->get_string();
    }

    const auto* default_cu = root->if_contains("defaultCu");
    if (auto cu = default_cu ? as_cu(*default_cu) : std::nullopt) {
        table.default_cu_ = *cu;
    } else {
        problems.emplace_back("/defaultCu must be a non-negative integer");
    }

    const auto* notes = root->if_contains("notes");
    if (notes != nullptr && !notes->is_string()) {
        problems.emplace_back("/notes must be a string");
    }

    const auto* methods = root->if_contains("methods");
    if (methods == nullptr || !methods->is_object()) {
        problems.emplace_back("/methods must be an object of method name to CU");
    } else {
        for (const auto& [name, cost] : methods->get_object()) {
            if (name.empty()) {
                problems.emplace_back("/methods has an empty method name");
            } else if (auto cu = as_cu(cost)) {
                table.methods_.emplace(std::string(name), *cu);
            } else {
                problems.emplace_back("/methods/" + std::string(name) +
                                      " must be a non-negative integer");
            }
        }
    }

    if (!problems.empty()) {
        std::string message = problems.front();
        for (std::size_t i = 1; i < problems.size(); ++i) {
            message += "; " + problems[i];
        }
        return malformed(std::move(message));
    }
    return table;
}

std::uint64_t CuTable::cost(std::string_view method) const noexcept {
    auto it = methods_.find(method);
    return it == methods_.end() ? default_cu_ : it->second;
}

std::optional<std::uint64_t> CuTable::listed_cost(std::string_view method) const noexcept {
    auto it = methods_.find(method);
    return it == methods_.end() ? std::nullopt : std::optional<std::uint64_t>(it->second);
}

std::vector<std::string> jsonrpc_methods(std::string_view body) {
    std::vector<std::string> out;
    for_each_method(body, [&](std::string_view m) { out.emplace_back(m); });
    return out;
}

std::uint64_t cu_of_body(const CuTable& table, std::string_view body) noexcept {
    std::uint64_t total = 0;
    try {
        for_each_method(body, [&](std::string_view m) { total += table.cost(m); });
    } catch (...) {
        // Only allocation can fail here; what was metered so far is still owed.
    }
    return total;
}

}  // namespace forkrun::forks
