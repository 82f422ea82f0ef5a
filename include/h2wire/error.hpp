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

}  // namespace h2wire
