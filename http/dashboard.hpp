// The dashboard's files, served at GET / and GET /assets/... without a token.
#pragma once

#include <string_view>

namespace forkrun::http {

/// http/dashboard/index.html, app.js and app.css as they were at build time (CMake embeds them;
/// cmake/embed-text.cmake).
std::string_view dashboard_index_html();
std::string_view dashboard_app_js();
std::string_view dashboard_app_css();

}  // namespace forkrun::http
