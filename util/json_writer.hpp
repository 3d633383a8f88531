// JSON text appended member by member, byte for byte as Boost.JSON's serializer writes the same
// value, for the texts made on every run (its events, its wire object): no value tree is built.
#pragma once

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/json_text.hpp"
#include "util/timestamp.hpp"

namespace forkrun::util {

/// Keys are literals of the caller's (nothing to escape); objects and arrays nest with
/// open()/close(). Every member after the first of its container gets its comma.
class JsonWriter {
  public:
    explicit JsonWriter(std::size_t reserve = 192) { text_.reserve(reserve); }

    /// `{` or `[`, as a member (`key`) or as a value (an array's element, the top level).
    JsonWriter& open(char bracket, std::string_view key = {}) {
        if (key.empty()) {
            element();
        } else {
            this->key(key);
        }
        text_.push_back(bracket);
        first_ = true;
        return *this;
    }
    JsonWriter& close(char bracket) {
        text_.push_back(bracket);
        first_ = false;
        return *this;
    }
    /// A member whose key is not a literal (a node's or fork's id): escaped.
    JsonWriter& open_escaped(char bracket, std::string_view key) {
        comma();
        append_json_string(text_, key);
        text_.push_back(':');
        text_.push_back(bracket);
        first_ = true;
        return *this;
    }
    JsonWriter& str(std::string_view k, std::string_view v) {
        key(k);
        append_json_string(text_, v);
        return *this;
    }
    /// The string, or null.
    JsonWriter& opt_str(std::string_view k, const std::optional<std::string>& v) {
        return v ? str(k, std::string_view(*v)) : null(k);
    }
    /// The number, or null.
    template <class T>
    JsonWriter& opt_num(std::string_view k, const std::optional<T>& v) {
        return v ? num(k, static_cast<std::uint64_t>(*v)) : null(k);
    }
    /// The time in RFC 3339 (format_timestamp), or null.
    JsonWriter& opt_time(std::string_view k, const std::optional<Timestamp>& t) {
        return t ? str(k, format_timestamp(*t)) : null(k);
    }
    JsonWriter& num(std::string_view k, std::uint64_t v) {
        key(k);
        digits(v);
        return *this;
    }
    JsonWriter& num(std::string_view k, std::int64_t v) {
        key(k);
        digits(v);
        return *this;
    }
    JsonWriter& boolean(std::string_view k, bool v) {
        key(k);
        text_.append(v ? "true" : "false");
        return *this;
    }
    JsonWriter& null(std::string_view k) {
        key(k);
        text_.append("null");
        return *this;
    }
    /// A JSON value as Boost.JSON serializes it.
    JsonWriter& value(std::string_view k, const boost::json::value& v) {
        key(k);
        text_.append(boost::json::serialize(v));
        return *this;
    }
    JsonWriter& value(std::string_view k, const boost::json::object& v) {
        key(k);
        text_.append(boost::json::serialize(v));
        return *this;
    }
    /// The text so far (a complete value once every open() is closed).
    std::string take() && { return std::move(text_); }

  private:
    void comma() {
        if (!first_) {
            text_.push_back(',');
        }
        first_ = false;
    }
    void key(std::string_view k) {
        comma();
        text_.push_back('"');
        text_.append(k);
        text_.append("\":");
    }
    void element() {
        if (!text_.empty()) {
            comma();
        }
    }
    template <class T>
    void digits(T v) {
        char buf[24];
        const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
        text_.append(buf, end);
    }

    std::string text_;
    bool first_ = true;
};

}  // namespace forkrun::util
