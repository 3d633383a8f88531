// The OpenAPI 3.1 document of the HTTP API, served at GET /openapi.json.
#pragma once

#include <string_view>

namespace forkrun::http {

/// docs/openapi.json as it was at build time (CMake embeds it; cmake/embed-text.cmake).
std::string_view openapi_document();

}  // namespace forkrun::http
