/// \file
/// HTTP/2 error codes (RFC 9113 §7) and the two kinds of protocol error
/// (RFC 9113 §5.4).
#pragma once

#include <cstdint>
#include <string_view>

#include "h2wire/export.hpp"

namespace h2wire {

/// An RFC 9113 §7 error code, as carried by RST_STREAM and GOAWAY. The
/// enumeration is open: any 32-bit value received from a peer is kept as is
/// (`static_cast<ErrorCode>(v)`), and unknown values "MUST NOT trigger any
/// special behavior" (RFC 9113 §7).
enum class ErrorCode : std::uint32_t {
    /// Not an error, as in the GOAWAY of a graceful shutdown.
    no_error = 0x0,
    /// A protocol error with no more specific code.
    protocol_error = 0x1,
    /// The sender hit an unexpected internal error.
    internal_error = 0x2,
    /// The flow-control rules were broken (RFC 9113 §6.9).
    flow_control_error = 0x3,
    /// SETTINGS not acknowledged in time (RFC 9113 §6.5.3).
    settings_timeout = 0x4,
    /// A frame arrived after the stream was half-closed (remote).
    stream_closed = 0x5,
    /// A frame of the wrong size (RFC 9113 §4.2).
    frame_size_error = 0x6,
    /// Refused before any processing: safe to retry (RFC 9113 §8.7).
    refused_stream = 0x7,
    /// The stream is no longer needed.
    cancel = 0x8,
    /// The HPACK context cannot be kept in sync (RFC 9113 §4.3).
    compression_error = 0x9,
    /// The connection a CONNECT request set up was reset or closed abnormally
    /// (RFC 9113 §8.5).
    connect_error = 0xa,
    /// The peer's behaviour may be generating excessive load.
    enhance_your_calm = 0xb,
    /// The transport is not secure enough (RFC 9113 §9.2).
    inadequate_security = 0xc,
    /// Retry the request over HTTP/1.1.
    http_1_1_required = 0xd,
};

/// True for the codes RFC 9113 §7 defines.
constexpr bool is_known(ErrorCode code) noexcept {
    return static_cast<std::uint32_t>(code) <= static_cast<std::uint32_t>(ErrorCode::http_1_1_required);
}

/// The RFC's name of `code` ("PROTOCOL_ERROR", ...), or "UNKNOWN" for a value
/// RFC 9113 does not define.
H2WIRE_API std::string_view to_string(ErrorCode code) noexcept;

/// An error that ends the connection (RFC 9113 §5.4.1): the caller sends
/// GOAWAY with `code` and closes.
struct ConnectionError {
    /// The code to send in GOAWAY.
    ErrorCode code = ErrorCode::no_error;
    /// A short static English text (never freed; safe to keep).
    std::string_view reason;
    /// The stream of the frame that caused the error (0 for stream 0 or when
    /// no frame is involved). Informational only: the error is the connection's.
    std::uint32_t stream_id = 0;
};

/// An error confined to one stream (RFC 9113 §5.4.2): the caller sends
/// RST_STREAM with `code` on `stream_id`, and the connection goes on.
struct StreamError {
    /// The code to send in RST_STREAM.
    ErrorCode code = ErrorCode::no_error;
    /// The stream to reset; never 0 (an error on stream 0 is a connection
    /// error).
    std::uint32_t stream_id = 0;
    /// A short static English text (never freed; safe to keep).
    std::string_view reason;
};

/// Why a header section (a request, a response, trailers or a promised
/// request) is malformed or refused: the rule of RFC 9113 §8 (with RFC 9110
/// and RFC 8441) it breaks. Reported with the field at fault in
/// InvalidHeader, for the application's own submissions
/// (Connection::last_invalid_header()) and for what the peer sent
/// (StreamReset::invalid_header).
enum class HeaderError : std::uint8_t {
    /// No problem.
    none = 0,
    /// A field name is empty (RFC 9113 §8.2.1, RFC 9110 §5.1).
    empty_name,
    /// A field name has an uppercase letter: HTTP/2 names are lowercase
    /// (RFC 9113 §8.2.1).
    uppercase_name,
    /// A field name has an octet 0x00-0x20 or 0x7f-0xff, or a ':' other than
    /// the first octet of a pseudo-header (RFC 9113 §8.2.1).
    invalid_name_octet,
    /// A field value (pseudo-headers included) has NUL, CR or LF
    /// (RFC 9113 §8.2.1).
    invalid_value_octet,
    /// A field value starts or ends with a space or a tab (RFC 9113 §8.2.1).
    value_whitespace,
    /// A connection-specific field: connection, keep-alive, proxy-connection,
    /// transfer-encoding or upgrade (RFC 9113 §8.2.2).
    connection_specific_field,
    /// TE with a value other than "trailers" (RFC 9113 §8.2.2).
    te_not_trailers,
    /// A pseudo-header RFC 9113 does not define, such as ":foo" (§8.3).
    unknown_pseudo_header,
    /// A pseudo-header of the other kind of message: :status in a request,
    /// :method, :scheme, :authority, :path or :protocol in a response
    /// (RFC 9113 §8.3.1, §8.3.2).
    misplaced_pseudo_header,
    /// A pseudo-header after a regular field (RFC 9113 §8.3).
    pseudo_header_after_regular,
    /// A pseudo-header in trailers (RFC 9113 §8.1).
    pseudo_header_in_trailers,
    /// The same pseudo-header twice (RFC 9113 §8.3.1, §8.3.2).
    duplicate_pseudo_header,
    /// A request without :method, or with an empty one (RFC 9113 §8.3.1).
    missing_method,
    /// A request (not a classic CONNECT) without :scheme, or with an empty
    /// one (RFC 9113 §8.3.1).
    missing_scheme,
    /// A request (not a classic CONNECT) without :path (RFC 9113 §8.3.1).
    missing_path,
    /// An empty :path (RFC 9113 §8.3.1).
    empty_path,
    /// A CONNECT, classic or extended, without :authority or with an empty
    /// one (RFC 9113 §8.5, RFC 8441 §4).
    missing_authority,
    /// A classic CONNECT with :scheme or :path (RFC 9113 §8.5).
    connect_with_scheme_or_path,
    /// :protocol on a request other than CONNECT (RFC 8441 §4).
    protocol_without_connect,
    /// :protocol received although we did not announce
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3).
    protocol_not_enabled,
    /// An empty :protocol (RFC 8441 §4).
    empty_protocol,
    /// A promised request whose method is not safe and cacheable (here: not
    /// GET or HEAD) (RFC 9113 §8.4).
    promise_not_safe,
    /// A promised request with content (a content-length above 0)
    /// (RFC 9113 §8.4).
    promise_with_content,
    /// A response without :status (RFC 9113 §8.3.2).
    missing_status,
    /// A :status that is not three digits from 100 up (RFC 9113 §8.3.2,
    /// RFC 9110 §15).
    invalid_status,
    /// :status 101, which HTTP/2 does not have (RFC 9113 §8.6).
    status_101,
    /// A 1xx response that ends the stream (RFC 9113 §8.1).
    informational_end_stream,
    /// A content-length that is not a number, or several that differ
    /// (RFC 9110 §8.6).
    invalid_content_length,
    /// A content-length in a 2xx response to CONNECT (RFC 9110 §9.3.6).
    connect_content_length,
    /// A header section after the final one that does not end the stream
    /// (RFC 9113 §8.1: trailers carry END_STREAM).
    trailers_without_end_stream,
    /// The header list is larger than our SETTINGS_MAX_HEADER_LIST_SIZE
    /// (Limits::max_header_list_size, RFC 9113 §6.5.2, §8.2.2 on receipt).
    header_list_too_large,
};

/// A short English description of `e` ("uppercase letter in a field name",
/// ...), for logs; static text.
H2WIRE_API std::string_view to_string(HeaderError e) noexcept;

/// A header section refused: which rule, and which field broke it.
struct InvalidHeader {
    /// `field` when no single field is at fault (a required pseudo-header is
    /// missing, the list is too large, END_STREAM is missing).
    static constexpr std::uint32_t no_field = 0xffffffff;
    /// The rule; HeaderError::none when nothing was refused.
    HeaderError error = HeaderError::none;
    /// The position of the field at fault in the section, counting from 0 in
    /// the order the fields were given to the call (a submission) or arrived
    /// (as decoded from the peer's header block); or no_field. When several
    /// fields break rules, the first one found in that order.
    std::uint32_t field = no_field;
    /// True when a section was refused.
    explicit operator bool() const noexcept { return error != HeaderError::none; }
};

}  // namespace h2wire
