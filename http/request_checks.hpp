// The checks of a request's head that Beast's parser leaves to us: framing (RFC 9112 6.1) and
// identity headers (Host, Authorization) that a proxy in front might read differently.
#pragma once

#include <memory>
#include <string_view>

// Beast's request header type, declared here so that this header needs none of Beast's.
namespace boost::beast::http {
template <class Allocator>
class basic_fields;
template <bool isRequest, class Fields>
class header;
}  // namespace boost::beast::http

namespace forkrun::http {

/// The head of a request as Beast's parser read it (a `request<...>` converts to it).
using RequestHead =
    boost::beast::http::header<true, boost::beast::http::basic_fields<std::allocator<char>>>;

/// Why a request's head is refused; `status` 0: it is not.
struct HeaderProblem {
    unsigned status = 0;
    std::string_view message;  ///< a literal: the error envelope's message
};

/// The first reason to refuse `head`, in this order: a Transfer-Encoding in HTTP/1.0, one whose
/// last coding is not chunked, one sent with a Content-Length (400), one with a coding beside
/// chunked (501); then more than one Host, no Host in HTTP/1.1, more than one Authorization
/// (400). Where two readings of the head are possible nothing is guessed: the caller answers
/// and closes, so the bytes after the head are never read as another request. Beast itself
/// refuses chunked with a Content-Length (in either order) and chunked repeated; the check of
/// both framing headers stays, so the rule does not rest on the parser.
HeaderProblem header_problem(const RequestHead& head);

}  // namespace forkrun::http
