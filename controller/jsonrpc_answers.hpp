// The gateway's own JSON-RPC answers: error objects under the caller's ids, for every call of a
// body or spliced into the fork's answer to a batch.
#pragma once

#include <string>
#include <string_view>

#include "controller/rpc_gateway.hpp"
#include "forks/jsonrpc_request.hpp"

namespace forkrun::controller::detail {

namespace json = boost::json;

// Error objects, comma-separated, to be answered alongside (or instead of) the fork's answer.
class Answers {
  public:
    void add(const json::value& id, int code, std::string_view message) {
        if (!text_.empty()) {
            text_.push_back(',');
        }
        text_.append(forks::jsonrpc_error(id, code, message));
        ++count_;
    }
    bool empty() const { return count_ == 0; }
    std::size_t count() const { return count_; }
    const std::string& text() const { return text_; }

    /// The whole answer: an array for a batch, the one object otherwise.
    std::string body(bool batch) const { return batch ? "[" + text_ + "]" : text_; }

  private:
    std::string text_;
    std::size_t count_ = 0;
};

// The same error for every call of a body (or one with a null id when it could not be read).
inline GatewayReply answer_all(
    unsigned status,
    const boost::system::result<forks::JsonRpcBody, forks::JsonRpcBodyError>& parsed,
    int code,
    std::string_view message) {
    if (!parsed) {
        return {status, forks::jsonrpc_error(nullptr, code, message)};
    }
    Answers a;
    for (const auto& c : parsed->calls) {
        a.add(c.id, code, message);
    }
    return {status, a.body(parsed->batch)};
}

// Adds our error objects to the fork's answer to a batch.
inline std::string splice(std::string_view fork_answer, const Answers& ours) {
    auto first = fork_answer.find_first_not_of(" \t\r\n");
    auto last = fork_answer.find_last_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return "[" + ours.text() + "]";
    }
    const auto trimmed = fork_answer.substr(first, last - first + 1);
    std::string out;
    out.reserve(trimmed.size() + ours.text().size() + 4);
    if (trimmed.size() >= 2 && trimmed.front() == '[' && trimmed.back() == ']') {
        const auto inner = trimmed.substr(1, trimmed.size() - 2);
        out.push_back('[');
        if (inner.find_first_not_of(" \t\r\n") != std::string_view::npos) {
            out.append(inner);
            out.push_back(',');
        }
    } else {
        out.push_back('[');
        out.append(trimmed);
        out.push_back(',');
    }
    out.append(ours.text());
    out.push_back(']');
    return out;
}

}  // namespace forkrun::controller::detail
