/// \file
/// Events a Connection reports from the bytes it received.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

#include "h2wire/error.hpp"
#include "h2wire/header.hpp"
#include "h2wire/settings.hpp"

namespace h2wire {

/// Lifetimes: every view (string_view, span) inside an event points into
/// memory the connection owns and reuses. It stays valid until the next call
/// to Connection::receive(), and no longer. Copy what you keep.

/// The peer's SETTINGS arrived and was applied (and ACKed, RFC 9113 §6.5.3).
struct SettingsReceived {
    Settings settings;  ///< the peer's settings now in force
};

/// The peer acknowledged our SETTINGS: our new values apply to its frames now.
struct SettingsAcknowledged {
    Settings settings;  ///< our settings now in force
};

/// A request's header block (server side).
struct RequestReceived {
    std::uint32_t stream = 0;
    std::span<const Field> headers;  ///< all fields, pseudo-headers first, in wire order
    std::string_view method;         ///< :method
    std::string_view scheme;         ///< :scheme (empty for a classic CONNECT, RFC 9113 §8.5)
    std::string_view authority;      ///< :authority (may be empty)
    std::string_view path;           ///< :path (empty for a classic CONNECT)
    std::string_view protocol;       ///< :protocol of an extended CONNECT (RFC 8441 §4), else empty
    bool end_stream = false;         ///< no body follows
};

/// A final (non-1xx) response's header block (client side). To a CONNECT
/// (classic or extended, RFC 9113 §8.5, RFC 8441), a 2xx opens a tunnel:
/// DATA both ways is an opaque byte stream (content-length does not apply),
/// END_STREAM half-closes one direction, RST_STREAM aborts it; any other
/// status ends the attempt as an ordinary response.
struct ResponseReceived {
    std::uint32_t stream = 0;
    int status = 0;  ///< :status
    std::span<const Field> headers;
    bool end_stream = false;
};

/// A 1xx response (client side); any number may precede the final response.
struct InformationalResponseReceived {
    std::uint32_t stream = 0;
    int status = 0;
    std::span<const Field> headers;
};

/// Trailers: a header block after the body. Always ends the stream.
struct TrailersReceived {
    std::uint32_t stream = 0;
    std::span<const Field> headers;
};

/// Body bytes, in order, as they arrived: `data` is a view of the input given
/// to receive() (zero copy).
struct DataReceived {
    std::uint32_t stream = 0;
    std::span<const std::uint8_t> data;
    /// Octets this chunk costs in the flow-control windows (padding included).
    /// A frame that arrives over several receive() calls charges its whole
    /// length to its first chunk (later chunks say 0), so this is not
    /// data.size(): in manual flow control, count these and hand that sum back
    /// with Connection::consume(), never data.size() plus a guess at padding.
    std::uint32_t flow_controlled_length = 0;
    bool end_stream = false;
};

/// The peer ended its side of the stream (END_STREAM). Follows the
/// Request/Response/Trailers/DataReceived event that carried the flag.
struct StreamEnded {
    std::uint32_t stream = 0;
};

/// Who ended something.
enum class Initiator : std::uint8_t { local, peer };

/// A stream ended abnormally: RST_STREAM sent or received, a malformed
/// message, or a stream the peer's GOAWAY left unprocessed.
struct StreamReset {
    std::uint32_t stream = 0;
    ErrorCode code = ErrorCode::no_error;
    Initiator by = Initiator::peer;
    /// The peer never processed the request (GOAWAY above it, or
    /// REFUSED_STREAM): it may be retried on another connection (RFC 9113 §8.7).
    bool safe_to_retry = false;
    std::string_view reason;  ///< static text; why we reset it, when we did
};

/// A stream (or, with stream 0, the connection) that had data waiting for
/// flow-control window can send again.
struct StreamWritable {
    std::uint32_t stream = 0;
    std::uint32_t window = 0;  ///< octets it may send now
};

struct PingReceived {  ///< already answered: the ACK is queued
    std::array<std::uint8_t, 8> data{};
};
struct PingAcknowledged {  ///< the peer answered a ping() of ours
    std::array<std::uint8_t, 8> data{};
};

struct GoawayReceived {
    std::uint32_t last_stream_id = 0;
    ErrorCode code = ErrorCode::no_error;
    std::span<const std::uint8_t> debug_data;
};

/// PUSH_PROMISE (client side): the server will push a response on
/// `promised_stream`, for the request in `headers`.
struct PushPromiseReceived {
    std::uint32_t stream = 0;  ///< the stream it belongs to
    std::uint32_t promised_stream = 0;
    std::span<const Field> headers;
};

/// PRIORITY_UPDATE (RFC 9218 §7.1), server side: `field_value` is a Priority
/// field value (e.g. "u=1, i") for `stream`.
struct PriorityUpdated {
    std::uint32_t stream = 0;
    std::string_view field_value;
};

struct AltsvcReceived {  ///< RFC 7838 §4
    std::uint32_t stream = 0;
    std::string_view origin;
    std::string_view field_value;
};

struct OriginReceived {  ///< RFC 8336; origins in order
    std::span<const std::string_view> origins;
};

/// A frame of a type RFC 9113 does not define (RFC 9113 §5.5). Reported, then
/// ignored.
struct UnknownFrameReceived {
    std::uint8_t type = 0;
    std::uint8_t flags = 0;
    std::uint32_t stream = 0;
    std::span<const std::uint8_t> payload;
};

/// The connection is over: GOAWAY sent or received with an error, or the
/// graceful shutdown finished. Nothing more is accepted; flush the output
/// (it holds our GOAWAY, if we sent one) and close the transport.
struct ConnectionTerminated {
    ErrorCode code = ErrorCode::no_error;
    Initiator by = Initiator::local;
    std::uint32_t last_stream_id = 0;
    std::string_view reason;  ///< static text, or the peer's debug data as text
};

using Event = std::variant<SettingsReceived, SettingsAcknowledged, RequestReceived, ResponseReceived,
                           InformationalResponseReceived, TrailersReceived, DataReceived, StreamEnded, StreamReset,
                           StreamWritable, PingReceived, PingAcknowledged, GoawayReceived, PushPromiseReceived,
                           PriorityUpdated, AltsvcReceived, OriginReceived, UnknownFrameReceived, ConnectionTerminated>;

}  // namespace h2wire
