// The response envelope {code, data, message, requestId} and request ids.
#pragma once

#include <string>
#include <string_view>

#include "controller/field_error.hpp"
#include "util/json_text.hpp"

namespace forkrun::http {

using util::is_valid_utf8;
using util::json_quote;
using util::valid_utf8;

/// The caller's X-Request-Id when it is 1-128 chars of [A-Za-z0-9._-], else a fresh one.
std::string request_id_for(std::string_view header);

/// The envelope around already-serialized `data_json` (e.g. "null" or a cached run).
std::string envelope(unsigned code,
                     std::string_view data_json,
                     std::string_view message,
                     std::string_view request_id);

/// The same written in place: envelope_open appends `{"code":N,"data":` to `out`, the caller
/// appends the data, envelope_close the rest.
void envelope_open(std::string& out, unsigned code);
void envelope_close(std::string& out, std::string_view message, std::string_view request_id);

/// A 400 envelope whose data lists every problem: {"errors": [{"path", "message"}]} (made valid
/// UTF-8 like json_quote).
std::string validation_envelope(const controller::FieldErrors& errors,
                                std::string_view message,
                                std::string_view request_id);

}  // namespace forkrun::http
