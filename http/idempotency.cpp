// Idempotency-Key checks and the canonical body digest.
#include "http/idempotency.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <vector>

#include "http/auth.hpp"

namespace forkrun::http {

namespace json = boost::json;

std::string idempotency_key_problem(std::string_view key) {
    if (key.empty()) {
        return "must be 1 to 255 printable ASCII characters, not empty";
    }
    if (key.size() > kMaxIdempotencyKey) {
        return "must be at most 255 characters (it has " + std::to_string(key.size()) + ")";
    }
    for (const char c : key) {
        if (c < 0x20 || c > 0x7e) {
            return "must be printable ASCII (0x20 to 0x7E)";
        }
    }
    return {};
}

namespace {

void canonical(const json::value& v, std::string& out) {
    if (const auto* obj = v.if_object()) {
        std::vector<const json::key_value_pair*> members;
        members.reserve(obj->size());
        for (const auto& kv : *obj) {
            members.push_back(&kv);
        }
        std::sort(members.begin(), members.end(),
                  [](const auto* a, const auto* b) { return a->key() < b->key(); });
        out.push_back('{');
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (i > 0) {
                out.push_back(',');
            }
            out += json::serialize(json::string_view(members[i]->key()));
            out.push_back(':');
            canonical(members[i]->value(), out);
        }
        out.push_back('}');
    } else if (const auto* arr = v.if_array()) {
        out.push_back('[');
        for (std::size_t i = 0; i < arr->size(); ++i) {
            if (i > 0) {
                out.push_back(',');
            }
            canonical((*arr)[i], out);
        }
        out.push_back(']');
    } else {
        out += json::serialize(v);
    }
}

}  // namespace

std::string body_digest(const json::value& body) {
    std::string text;
    canonical(body, text);
    const Sha256 d = sha256(text);
    return std::string(d.begin(), d.end());
}

}  // namespace forkrun::http
