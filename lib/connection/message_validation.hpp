// HTTP message checks of RFC 9113 §8 (with RFC 9110 and RFC 8441 §4): what
// makes a request, response or trailer section well formed. Each check looks
// at a complete field list and either extracts what the connection needs
// (method, status, content-length...) or says why the message is malformed.
// Usable on their own: they know nothing of streams or frames.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "h2wire/header.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::detail {

/// What a request's pseudo-header fields and framing fields say.
struct RequestInfo {
    std::string_view method;
    std::string_view scheme;
    std::string_view authority;
    std::string_view path;
    std::string_view protocol;  ///< RFC 8441 §4 :protocol, empty if absent
    /// content-length, or -1 when absent.
    std::int64_t content_length = -1;
    bool is_connect = false;  ///< :method CONNECT (classic or extended)
    bool is_head = false;     ///< :method HEAD
};

/// What a response's fields say.
struct ResponseInfo {
    int status = 0;  ///< :status, 0 if absent (only without validation)
    std::int64_t content_length = -1;
};

struct RequestRules {
    /// We announced SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (RFC 8441 §3): a
    /// request may carry :protocol. Off: :protocol makes the request malformed.
    bool connect_protocol = false;
    /// A pushed request (RFC 9113 §8.4): it must be safe and cacheable
    /// (GET or HEAD here) and carry no content.
    bool promised = false;
    /// How many of the regular fields are already known to pass
    /// check_regular_field(); when all of them are, they are not checked
    /// again (content-length is still read).
    std::size_t prechecked = 0;
};

/// The bit a field's HPACK table entry carries (hpack::FieldSink memo on
/// receive, hpack::Encoder memos on send) once the field passed
/// check_regular_field(): the check looks at the field alone, so it holds
/// whenever the entry is used again.
inline constexpr std::uint8_t memo_valid_field = 1;

/// Checks one regular field (not a pseudo-header) per RFC 9113 §8.2.1 and
/// §8.2.2: name not empty, no octet in 0x00-0x20, 'A'-'Z', 0x7f-0xff or ':';
/// value without NUL, CR, LF and without leading or trailing SP/HTAB; not a
/// connection-specific field; TE only "trailers". Returns an empty view when
/// fine, else a static reason.
std::string_view check_regular_field(const Field& f) noexcept;

/// RFC 9113 §8.3.1, §8.5, RFC 8441 §4. Fills `info` and returns an empty view
/// when the request is well formed, else a static reason.
std::string_view check_request(std::span<const Field> fields, const RequestRules& rules, RequestInfo& info) noexcept;

/// RFC 9113 §8.3.2, §8.6. Fills `info` and returns an empty view when the
/// response (informational or final) is well formed, else a static reason.
std::string_view check_response(std::span<const Field> fields, ResponseInfo& info,
                                std::size_t prechecked = 0) noexcept;

/// RFC 9113 §8.1: trailers carry no pseudo-header field.
std::string_view check_trailers(std::span<const Field> fields, std::size_t prechecked = 0) noexcept;

/// Without validation: takes the pseudo-headers and content-length as they
/// come (first of each), never fails.
void extract_request(std::span<const Field> fields, RequestInfo& info) noexcept;
void extract_response(std::span<const Field> fields, ResponseInfo& info) noexcept;

/// Parses a content-length value (RFC 9110 §8.6): digits, or a list of equal
/// values separated by commas. Returns -1 when invalid.
std::int64_t parse_content_length(std::string_view v) noexcept;

/// Parses a 3-digit :status; returns 0 when it is not one.
int parse_status(std::string_view v) noexcept;

}  // namespace h2wire::detail

#pragma GCC visibility pop
