// CORS for the origins `--cors-origin` lists: preflights answered, response headers added.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/api.hpp"

namespace forkrun::http {

/// Why `origin` cannot be a `--cors-origin` ("" when it can): it must be an origin as browsers
/// send it, `http://` or `https://`, a host and maybe a port, with no path, query or user.
std::string cors_origin_problem(std::string_view origin);

/// Appends the comma-separated origins of `list` (a `--cors-origin` value) to `out`; the problem
/// with the first that is not an origin ("" when none).
std::string add_cors_origins(std::string_view list, std::vector<std::string>& out);

/// Appends the origins of `value` (config key `corsOrigins`: an array of strings) to `out`; the
/// problem ("" when none).
std::string read_cors_origins(const boost::json::value& value, std::vector<std::string>& out);

/// Cross-origin access for exactly the listed origins (compared byte for byte with the
/// request's `Origin`). With none listed it does nothing at all.
class Cors {
  public:
    explicit Cors(std::vector<std::string> origins = {});

    bool enabled() const { return !origins_.empty(); }
    bool allows(std::string_view origin) const;

    /// The answer to a preflight (OPTIONS with Origin and Access-Control-Request-Method) while
    /// CORS is on: 204 with the allow headers for a listed origin, a 403 envelope without them
    /// for any other. nullopt for every other request, and always while CORS is off.
    std::optional<ApiResponse> preflight(const ApiRequest& req) const;

    /// Adds `Vary: Origin` to every answer while CORS is on and, when `origin` is listed,
    /// Access-Control-Allow-Origin and -Expose-Headers. Call it once per answer.
    void decorate(std::string_view origin, ApiResponse& r) const;

  private:
    std::vector<std::string> origins_;
};

}  // namespace forkrun::http
