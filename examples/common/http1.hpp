// A minimal, bounded HTTP/1.1 message-head parser (RFC 9112 §2-§5), only for
// the h2c upgrade (RFC 7540 §3.2): the server reads one request head, the
// client one response head. Not a general HTTP/1.1 implementation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace example {

struct Http1Head {
    std::string method, target;                               // request
    int status = 0;                                           // response
    std::vector<std::pair<std::string, std::string>> fields;  // names lower-cased, values trimmed
    std::size_t size = 0;                                     // octets of the head, blank line included

    /// The value of the only field `name`, or null when absent or repeated.
    const std::string* one(std::string_view name) const;
    /// True when the comma-separated field `name` lists `token` (any case).
    bool lists(std::string_view name, std::string_view token) const;
};

enum class Http1Parse { incomplete, done, bad };

/// Whether `in` can still be the start of an HTTP/1.x request line
/// (RFC 9112 §3: method SP request-target SP HTTP-version CRLF). Bytes that
/// cannot (binary data, another protocol) are better answered as what else
/// the port speaks (on an h2c port: an invalid HTTP/2 preface).
bool may_be_request_line(std::string_view in);

/// Parses the head at the start of `in`. Heads longer than `max_size` octets
/// or with more than 100 fields are `bad`.
Http1Parse parse_request_head(std::string_view in, Http1Head& head, std::size_t max_size = 16 * 1024);
Http1Parse parse_response_head(std::string_view in, Http1Head& head, std::size_t max_size = 16 * 1024);

}  // namespace example
