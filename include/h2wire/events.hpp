/// \file
/// Events a Connection reports from the bytes it received.
///
/// Lifetimes: every view (string_view, span) inside an event points into
/// memory the connection owns and reuses, or, for DataReceived::data, into
/// the bytes given to Connection::receive(). It stays valid until the next
/// call to Connection::receive() or Connection::trim(), and no longer. Copy
/// what you keep.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "h2wire/error.hpp"
#include "h2wire/header.hpp"
#include "h2wire/priority.hpp"
#include "h2wire/settings.hpp"

namespace h2wire {

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
    /// The new stream: odd, higher than any before (1 after an h2c upgrade).
    std::uint32_t stream = 0;
    std::span<const Field> headers;  ///< all fields, pseudo-headers first, in wire order
    std::string_view method;         ///< :method
    std::string_view scheme;         ///< :scheme (empty for a classic CONNECT, RFC 9113 §8.5)
    std::string_view authority;      ///< :authority (may be empty)
    std::string_view path;           ///< :path (empty for a classic CONNECT)
    std::string_view protocol;       ///< :protocol of an extended CONNECT (RFC 8441 §4), else empty
    bool end_stream = false;         ///< no body follows
    /// Null when reported: a new stream carries none yet. Attach yours with
    /// Connection::set_stream_user_data() while handling this event; this
    /// event and the stream's others carry it from then on.
    void* user_data = nullptr;
    /// The priority the response will be sent with (RFC 9218): from the
    /// request's `priority` header field, or from a PRIORITY_UPDATE that came
    /// before the request; the default (u=3, not incremental) otherwise.
    /// Connection::set_priority() overrides it.
    Priority priority{};
};

/// A final (non-1xx) response's header block (client side). To a CONNECT
/// (classic or extended, RFC 9113 §8.5, RFC 8441), a 2xx opens a tunnel:
/// DATA both ways is an opaque byte stream (content-length does not apply),
/// END_STREAM half-closes one direction, RST_STREAM aborts it; any other
/// status ends the attempt as an ordinary response. `status` is 200..999 (a
/// 1xx is an InformationalResponseReceived), or 0 when :status is missing or
/// not three digits, which only Config::validate_messages off lets through.
struct ResponseReceived {
    /// The stream of our request (or of a promise).
    std::uint32_t stream = 0;
    int status = 0;  ///< :status
    /// All fields, :status first, in wire order.
    std::span<const Field> headers;
    /// No body follows; StreamEnded comes next.
    bool end_stream = false;
    /// The stream's user data (Connection::set_stream_user_data()); null when
    /// none was attached.
    void* user_data = nullptr;
};

/// A 1xx response (client side); any number may precede the final response.
struct InformationalResponseReceived {
    /// The stream of our request.
    std::uint32_t stream = 0;
    /// :status, 100..199; 101 (RFC 9113 §8.6) only without validate_messages.
    int status = 0;
    /// All fields, :status first, in wire order.
    std::span<const Field> headers;
    /// The stream's user data (Connection::set_stream_user_data()); null when
    /// none was attached.
    void* user_data = nullptr;
};

/// Trailers: a header block after the body. Always ends the stream.
struct TrailersReceived {
    /// The stream; a StreamEnded for it follows.
    std::uint32_t stream = 0;
    /// In wire order; no pseudo-headers (unless validate_messages is off).
    std::span<const Field> headers;
    /// The stream's user data (Connection::set_stream_user_data()); null when
    /// none was attached.
    void* user_data = nullptr;
};

/// Body bytes, in order, as they arrived: `data` is a view of the input given
/// to receive() (zero copy).
struct DataReceived {
    /// A stream whose header block was reported before.
    std::uint32_t stream = 0;
    /// The body octets, padding removed; may be empty (a frame with only
    /// END_STREAM, or padding alone).
    std::span<const std::uint8_t> data;
    /// Octets this chunk costs in the flow-control windows (padding included).
    /// A frame that arrives over several receive() calls charges its whole
    /// length to its first chunk (later chunks say 0), so this is not
    /// data.size(): in manual flow control, count these and hand that sum back
    /// with Connection::consume(), never data.size() plus a guess at padding.
    std::uint32_t flow_controlled_length = 0;
    /// The last body octets of the stream; StreamEnded comes next.
    bool end_stream = false;
    /// The stream's user data (Connection::set_stream_user_data()); null when
    /// none was attached.
    void* user_data = nullptr;
};

/// The peer ended its side of the stream (END_STREAM). Follows the
/// Request/Response/Trailers/DataReceived event that carried the flag.
struct StreamEnded {
    /// Now half-closed (remote), or closed if our side had ended too.
    std::uint32_t stream = 0;
    /// The stream's user data (Connection::set_stream_user_data()); null when
    /// none was attached.
    void* user_data = nullptr;
};

/// Who ended something: `local` is this endpoint, `peer` the other one.
enum class Initiator : std::uint8_t { local, peer };

/// A stream ended abnormally: RST_STREAM sent or received, a malformed
/// message, or a stream the peer's GOAWAY left unprocessed.
struct StreamReset {
    /// Closed now: sending on it fails with ApiError::stream_closed.
    std::uint32_t stream = 0;
    /// The RST_STREAM code (as received, possibly an unknown value), or
    /// REFUSED_STREAM for a stream the peer's GOAWAY left unprocessed.
    ErrorCode code = ErrorCode::no_error;
    /// peer: its RST_STREAM or GOAWAY. local: our RST_STREAM for its input
    /// (a malformed message, a refused stream). A reset_stream() call of
    /// ours is not reported.
    Initiator by = Initiator::peer;
    /// The peer never processed the request (GOAWAY above it, or
    /// REFUSED_STREAM): it may be retried on another connection (RFC 9113 §8.7).
    bool safe_to_retry = false;
    std::string_view reason;  ///< static text; why we reset it, when we did
    /// When we reset it because the peer's header section (request,
    /// response, trailers or promise) was malformed: the rule it broke and
    /// the field at fault, counted in the order the fields arrived. Empty
    /// (HeaderError::none) for every other reset.
    InvalidHeader invalid_header{};
    /// The stream's user data (Connection::set_stream_user_data()); null when
    /// none was attached, or for a stream refused before it was reported.
    void* user_data = nullptr;
};

/// The stream is over, and the connection holds nothing of the caller's for
/// it any more: no queued or pending output refers to memory lent with
/// send_data_borrowed(), which may be freed now. The last event of the
/// stream.
///
/// Reported exactly once for every stream the application saw: one it
/// created (submit_request(), push_promise(), upgrade_client()'s stream 1),
/// and one the peer opened once RequestReceived or PushPromiseReceived
/// reported it (or upgrade_server() did). That includes requests still
/// waiting for a slot under the peer's SETTINGS_MAX_CONCURRENT_STREAMS,
/// which end without going out (GOAWAY, reset_stream(), the end of the
/// connection). Never for a stream the peer opened that was refused or
/// reset before it was reported (a StreamReset says so).
///
/// When: as soon as both sides ended the stream (END_STREAM each way) or it
/// was reset, and the output no longer refers to it. A clean end often
/// completes when consume_output() passes the stream's last octets (or
/// pending_output() copies them), so this event, like any event caused by an
/// API call, may be collected without input. All streams still held when the
/// connection ends are reported right before ConnectionTerminated (pending
/// output still needed is copied first). After it the connection has
/// forgotten the stream: consume() for it does nothing, and stream_user_data()
/// is null.
struct StreamClosed {
    /// The stream that ended.
    std::uint32_t stream = 0;
    /// NO_ERROR for a clean end (both sides sent END_STREAM). Otherwise the
    /// RST_STREAM code, sent (reset_stream(), a stream error we found) or
    /// received; REFUSED_STREAM for a request the peer's GOAWAY left
    /// unprocessed; or, for a stream cut off by the end of the connection,
    /// the GOAWAY's code (CANCEL when that is NO_ERROR).
    ErrorCode code = ErrorCode::no_error;
    /// Who ended it: for a clean end, the side whose END_STREAM came last;
    /// else the side whose RST_STREAM or GOAWAY ended it (`local` for a
    /// reset_stream() call, for streams we reset for the peer's errors, and
    /// for the end of the connection we caused).
    Initiator by = Initiator::local;
    /// The stream's user data (given to submit_request() or push_promise(),
    /// or set with Connection::set_stream_user_data()); null when none.
    void* user_data = nullptr;
};

/// A stream (or, with stream 0, the connection) that had data waiting for
/// flow-control window can send again. Also reported, with the window as it
/// is then (possibly 0), for a stream whose send_data() or
/// send_data_partial() took less than it was given, once its send buffer
/// has room again (Connection::send_data_partial()); that one comes from
/// building or consuming output, so it arrives with the next receive().
/// Never reported for a stream with a BodySource (the source is asked).
struct StreamWritable {
    /// The stream, or 0 when the connection window opened.
    std::uint32_t stream = 0;
    std::uint32_t window = 0;  ///< octets it may send now
    /// The stream's user data (Connection::set_stream_user_data()); null when
    /// none was attached, and for stream 0.
    void* user_data = nullptr;
};

/// A PING from the peer (RFC 9113 §6.7), already answered: the ACK is
/// queued in the output.
struct PingReceived {
    /// The opaque data, echoed in the ACK.
    std::array<std::uint8_t, 8> data{};
};
/// The peer answered a ping() of ours. ACKs that match none of our last 16
/// unanswered PINGs are ignored.
struct PingAcknowledged {
    /// The data given to ping().
    std::array<std::uint8_t, 8> data{};
};

/// GOAWAY from the peer (RFC 9113 §6.8). We open no new streams from now on;
/// ours above `last_stream_id` follow as StreamReset with REFUSED_STREAM
/// (safe to retry). With a code other than NO_ERROR, ConnectionTerminated
/// follows; with NO_ERROR the open streams go on.
struct GoawayReceived {
    /// Highest of our streams the peer may have processed.
    std::uint32_t last_stream_id = 0;
    /// As received, possibly an unknown value.
    ErrorCode code = ErrorCode::no_error;
    /// Opaque diagnostics, often text; may be empty.
    std::span<const std::uint8_t> debug_data;
};

/// PUSH_PROMISE (client side): the server will push a response on
/// `promised_stream`, for the request in `headers`.
struct PushPromiseReceived {
    std::uint32_t stream = 0;  ///< the stream it belongs to
    /// The even stream reserved for the pushed response, which arrives on it
    /// as ResponseReceived; refuse it with reset_stream().
    std::uint32_t promised_stream = 0;
    /// The promised request, pseudo-headers first, in wire order.
    std::span<const Field> headers;
    /// The user data of `stream` (the associated request). The promised
    /// stream has none yet: attach it with Connection::set_stream_user_data().
    void* user_data = nullptr;
};

/// PRIORITY_UPDATE (RFC 9218 §7.1), server side: `field_value` is a Priority
/// field value, such as "u=1, i", for `stream`.
struct PriorityUpdated {
    /// The prioritized stream; it may still be idle.
    std::uint32_t stream = 0;
    /// As received, not parsed; may be empty.
    std::string_view field_value;
    /// The stream's user data when the connection holds the stream (and
    /// one was attached), else null.
    void* user_data = nullptr;
    /// `field_value` parsed (parse_priority(), defaults for what it omits);
    /// nullopt when it is not a valid Dictionary, and the frame was ignored.
    /// A stream whose priority the server set (Connection::set_priority())
    /// keeps it.
    std::optional<Priority> priority;
};

/// ALTSVC (RFC 7838 §4), client side: alternative services for an origin.
/// Malformed ALTSVC frames are ignored, not reported.
struct AltsvcReceived {
    /// 0, or the stream whose origin is meant.
    std::uint32_t stream = 0;
    /// The origin on stream 0; empty on any other stream.
    std::string_view origin;
    /// An Alt-Svc field value (RFC 7838 §3), not parsed.
    std::string_view field_value;
    /// The stream's user data when `stream` is one the connection holds (and
    /// one was attached), else null.
    void* user_data = nullptr;
};

/// ORIGIN (RFC 8336 §2): the origins the server is authoritative for on
/// this connection. Malformed ORIGIN frames are ignored, not reported.
struct OriginReceived {
    /// In frame order; may be empty.
    std::span<const std::string_view> origins;
};

/// A frame of a type RFC 9113 does not define (RFC 9113 §5.5). Reported, then
/// ignored.
struct UnknownFrameReceived {
    /// Not one of frame::Type's named values.
    std::uint8_t type = 0;
    /// All 8 bits as received.
    std::uint8_t flags = 0;
    /// Any stream, in any state, or 0.
    std::uint32_t stream = 0;
    /// The whole payload, uninterpreted.
    std::span<const std::uint8_t> payload;
    /// The stream's user data when `stream` is one the connection holds (and
    /// one was attached), else null.
    void* user_data = nullptr;
};

/// The connection is over: GOAWAY sent or received with an error, or the
/// graceful shutdown finished. Nothing more is accepted; flush the output
/// (it holds our GOAWAY, if we sent one) and close the transport. The last
/// event of the connection: the StreamClosed of every stream it still held
/// comes right before it.
struct ConnectionTerminated {
    /// The GOAWAY's code; NO_ERROR after a graceful shutdown.
    ErrorCode code = ErrorCode::no_error;
    /// Who sent the GOAWAY.
    Initiator by = Initiator::local;
    /// The GOAWAY's last stream id: ours (the highest peer stream we
    /// processed) or the peer's (the highest of our streams it may have
    /// processed).
    std::uint32_t last_stream_id = 0;
    std::string_view reason;  ///< static text, or the peer's debug data as text
    /// When a malformed header section from the peer ended the connection:
    /// the rule it broke and the field at fault, as in
    /// StreamReset::invalid_header. That happens when the stream reset it
    /// caused spent Limits::max_rapid_resets (the "MadeYouReset" defence),
    /// or closed the last stream of a graceful shutdown(); no StreamReset
    /// is reported for that stream then. Empty otherwise.
    InvalidHeader invalid_header{};
};

/// One event: one of the structs above. Look inside with std::visit (an
/// overload set of lambdas) or std::get_if.
using Event = std::variant<SettingsReceived, SettingsAcknowledged, RequestReceived, ResponseReceived,
                           InformationalResponseReceived, TrailersReceived, DataReceived, StreamEnded, StreamReset,
                           StreamWritable, PingReceived, PingAcknowledged, GoawayReceived, PushPromiseReceived,
                           PriorityUpdated, AltsvcReceived, OriginReceived, UnknownFrameReceived, ConnectionTerminated,
                           StreamClosed>;

}  // namespace h2wire
