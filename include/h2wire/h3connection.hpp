/// \file
/// An HTTP/3 connection (RFC 9114) over QUIC streams that the caller owns.
///
/// h3::Connection is the HTTP/3 counterpart of h2wire::Connection: a pure
/// state machine that never touches UDP, TLS or QUIC. The caller's QUIC
/// stack (ngtcp2, quiche, msquic, a test harness) reports what arrived on
/// its streams, and the connection answers with events and with what to
/// write on which stream:
///
///     h3::Connection conn(config);
///     conn.bind_local_streams(control, encoder, decoder);   // three uni streams the caller opened
///     for (const h3::Event& e : conn.receive(stream, bytes, fin)) { ... }
///     while (auto out = conn.next_output()) {                 // what to write, stream by stream
///         std::size_t n = quic_write(out->stream, out->chunks, out->fin);
///         conn.consume_output(out->stream, n);
///     }
///     while (auto cmd = conn.next_command()) { ... }          // RESET_STREAM / STOP_SENDING
///
/// The events use the names and members of the HTTP/2 events (events.hpp)
/// wherever the meaning is the same, so application code written against
/// one serves the other with generic lambdas; stream ids are QUIC's 62-bit
/// ids and error codes HTTP/3's (h3::ErrorCode).
///
/// Lifetimes: views inside events (headers, data, reasons) stay valid until
/// the next non-const call on the connection. DataReceived::data points into
/// the bytes given to receive(), or into the connection's copy of bytes it
/// held (see InputConsumed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "h2wire/connection.hpp"
#include "h2wire/error.hpp"
#include "h2wire/export.hpp"
#include "h2wire/h3frame.hpp"
#include "h2wire/header.hpp"

namespace h2wire::h3 {

/// The SETTINGS an endpoint announces (RFC 9114 §7.2.4.1, RFC 9204 §5,
/// RFC 9220 §3).
struct ConnectionSettings {
    /// SETTINGS_MAX_FIELD_SECTION_SIZE: the largest field section (name +
    /// value + 32 per field) we accept. A peer that does not send it allows
    /// any size (max_varint).
    std::uint64_t max_field_section_size = 64 * 1024;
    /// SETTINGS_QPACK_MAX_TABLE_CAPACITY: the dynamic table our decoder
    /// allows the peer's encoder (0: none).
    std::uint32_t qpack_max_table_capacity = 4096;
    /// SETTINGS_QPACK_BLOCKED_STREAMS: streams whose field section may wait
    /// for encoder-stream inserts at once.
    std::uint32_t qpack_blocked_streams = 100;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3): extended CONNECT
    /// (:protocol, e.g. WebSocket) is accepted.
    bool enable_connect_protocol = false;
};

/// Bounds on what a peer can make the connection hold or do. Each has a
/// documented reaction when exceeded; none depends on timing.
struct ConnectionLimits {
    /// Request streams the peer may have open at once (server side; set the
    /// QUIC stack's MAX_STREAMS to this or less). Past it a new request
    /// stream is rejected with H3_REQUEST_REJECTED (RFC 9114 §4.1.1) and not
    /// reported.
    std::size_t max_peer_requests = 100;
    /// Unidirectional streams of unknown or reserved type (RFC 9114 §6.2,
    /// §9) the peer may have open at once; each is read and discarded (after
    /// STOP_SENDING). Past it: STOP_SENDING without reading.
    std::size_t max_unknown_streams = 16;
    /// The largest frame on the control stream (SETTINGS, GOAWAY, ...), and
    /// the most SETTINGS entries / 16; past it H3_EXCESSIVE_LOAD.
    std::size_t max_control_frame = 16 * 1024;
    /// Octets held for request streams whose field section waits for QPACK
    /// inserts (RFC 9204 §2.1.2): the section and what follows it on the
    /// stream, over all streams. Past it H3_EXCESSIVE_LOAD. Keep it at least
    /// qpack_blocked_streams times the QUIC stream receive window, and
    /// extend that window for held octets only when InputConsumed says so.
    std::size_t max_held_input = 1024 * 1024;
    /// Octets send_data() may copy into one stream's output before it
    /// refuses with ApiError::buffer_full.
    std::size_t max_buffered_per_stream = 256 * 1024;
    /// The largest field (name + value) the QPACK decoder accepts.
    std::uint32_t max_field_size = 64 * 1024;
    /// What the connection may hold from its memory resource (memory_used()):
    /// input that takes it past this ends the connection with
    /// H3_EXCESSIVE_LOAD. Checked after each receive(), which adds at most one
    /// frame buffer (max_field_section_size x 4) beyond what it was given.
    std::size_t max_connection_memory = 16 * 1024 * 1024;
};

/// Connection configuration.
struct ConnectionConfig {
    /// Client (opens request streams) or server.
    Role role = Role::client;
    /// What we announce in our SETTINGS.
    ConnectionSettings settings{};
    /// Bounds on the peer.
    ConnectionLimits limits{};
    /// Check messages (RFC 9114 §4.1.2, §4.3: pseudo-headers, field names
    /// and values, content-length) both ways, as the HTTP/2 connection does.
    bool validate_messages = true;
    /// Exercise the peer's tolerance (RFC 9114 §7.2.4.1, §7.2.8, §9): a
    /// reserved setting in our SETTINGS and a reserved frame type after it
    /// on the control stream.
    bool grease = true;
    /// Output stays held after consume_output() until acknowledged()
    /// (QUIC stacks that retransmit from the application's buffers, such as
    /// ngtcp2 and msquic). Off: consumed output is released at once (stacks
    /// that copy, such as quiche).
    bool retain_until_acked = false;
    /// Where all of the connection's memory comes from; must outlive it.
    std::pmr::memory_resource* memory = std::pmr::get_default_resource();
};

// ---------------------------------------------------------------------------
// Events. Same names and members as the HTTP/2 events where the meaning is
// the same; `stream` is a QUIC stream id.
// ---------------------------------------------------------------------------

/// The peer's SETTINGS arrived on its control stream and apply now.
struct SettingsReceived {
    ConnectionSettings settings;  ///< the peer's values (absent ones at their RFC defaults)
};

/// A request's header section (server side).
struct RequestReceived {
    std::uint64_t stream = 0;        ///< the client-initiated bidirectional stream
    std::span<const Field> headers;  ///< all fields, pseudo-headers first, in wire order
    std::string_view method;         ///< :method
    std::string_view scheme;         ///< :scheme (empty for a classic CONNECT)
    std::string_view authority;      ///< :authority (may be empty)
    std::string_view path;           ///< :path (empty for a classic CONNECT)
    std::string_view protocol;       ///< :protocol of an extended CONNECT (RFC 9220), else empty
    /// The stream ended right after the section (FIN in the same input): no
    /// body. When false, a body may still be empty: StreamEnded tells.
    bool end_stream = false;
    /// Null when reported; attach yours with Connection::set_stream_user_data().
    void* user_data = nullptr;
};

/// A final (non-1xx) response's header section (client side).
struct ResponseReceived {
    std::uint64_t stream = 0;        ///< the stream of our request
    int status = 0;                  ///< :status, 200..999 (0 without validation if absent)
    std::span<const Field> headers;  ///< all fields, :status first, in wire order
    bool end_stream = false;         ///< FIN came right after it
    void* user_data = nullptr;       ///< the stream's user data, or null
};

/// An interim (1xx) response (client side, RFC 9114 §4.1); any number may
/// precede the final one.
struct InformationalResponseReceived {
    std::uint64_t stream = 0;        ///< the stream of our request
    int status = 0;                  ///< 100..199
    std::span<const Field> headers;  ///< all fields, :status first, in wire order
    void* user_data = nullptr;       ///< the stream's user data, or null
};

/// Trailers: a header section after the body (RFC 9114 §4.1).
struct TrailersReceived {
    std::uint64_t stream = 0;        ///< the stream; StreamEnded follows once it ends
    std::span<const Field> headers;  ///< in wire order, no pseudo-headers
    void* user_data = nullptr;       ///< the stream's user data, or null
};

/// Body octets of a DATA frame, in order: a view of the input (zero copy).
struct DataReceived {
    std::uint64_t stream = 0;               ///< a stream whose header section was reported
    std::span<const std::uint8_t> data;     ///< may be empty (an empty DATA frame)
    bool end_stream = false;                ///< FIN came right after these octets
    void* user_data = nullptr;              ///< the stream's user data, or null
};

/// The peer ended its side of the stream (QUIC FIN) after a complete
/// message.
struct StreamEnded {
    std::uint64_t stream = 0;   ///< half-closed (remote) now, or closed
    void* user_data = nullptr;  ///< the stream's user data, or null
};

/// A request stream ended abnormally: reset by the peer (RESET_STREAM or
/// STOP_SENDING), by us for its malformed input, or refused by the peer's
/// GOAWAY.
struct StreamReset {
    std::uint64_t stream = 0;                       ///< no longer usable for sending
    ErrorCode code = ErrorCode::h3_request_cancelled;  ///< as received, or the one we sent
    Initiator by = Initiator::peer;                 ///< who reset it
    /// The request was never processed (H3_REQUEST_REJECTED, or above the
    /// peer's GOAWAY): retry it on another connection (RFC 9114 §4.1.1, §5.2).
    bool safe_to_retry = false;
    std::string_view reason;        ///< static text, when we reset it
    /// The rule a malformed header section broke and the field at fault,
    /// when that is why we reset it (H3_MESSAGE_ERROR).
    InvalidHeader invalid_header{};
    void* user_data = nullptr;      ///< the stream's user data, or null
};

/// The stream is over both ways and the connection holds nothing of the
/// caller's for it any more (memory lent to send_data_borrowed() may be
/// freed). Exactly once per stream the application saw or created; its last
/// event.
struct StreamClosed {
    std::uint64_t stream = 0;  ///< the stream that ended
    /// H3_NO_ERROR for a clean end, else the reset's code (or the
    /// connection's, for streams cut off by its end).
    ErrorCode code = ErrorCode::h3_no_error;
    Initiator by = Initiator::local;  ///< whose FIN came last, or who reset it
    void* user_data = nullptr;        ///< the stream's user data, or null
};

/// Octets of a stream that the connection held (its field section waited
/// for QPACK inserts) have now been processed: extend the QUIC stream's
/// receive window (and the connection's) by `octets`. Octets given to
/// receive() and not held count as processed when receive() returns.
struct InputConsumed {
    std::uint64_t stream = 0;   ///< the stream the octets came on
    std::uint64_t octets = 0;   ///< how many
};

/// GOAWAY from the peer (RFC 9114 §5.2). Client side: our requests on
/// streams at or above `id` follow as StreamReset with safe_to_retry.
struct GoawayReceived {
    std::uint64_t id = 0;  ///< a stream id (from a server) or a push id (from a client)
};

/// The connection is over: close the QUIC connection with `code` as its
/// application error code (CONNECTION_CLOSE), after writing what
/// next_output() still has. StreamClosed of every stream still held comes
/// right before it.
struct ConnectionTerminated {
    ErrorCode code = ErrorCode::h3_no_error;  ///< H3_NO_ERROR after a graceful shutdown
    Initiator by = Initiator::local;          ///< who ended it
    std::string_view reason;                  ///< static text
};

/// One event: look inside with std::visit or std::get_if.
using Event = std::variant<SettingsReceived, RequestReceived, ResponseReceived, InformationalResponseReceived,
                           TrailersReceived, DataReceived, StreamEnded, StreamReset, StreamClosed, InputConsumed,
                           GoawayReceived, ConnectionTerminated>;

// ---------------------------------------------------------------------------
// Output and commands for the QUIC stack.
// ---------------------------------------------------------------------------

/// What to write on one stream next: `chunks` in order (frame bytes in the
/// connection's buffers, DATA payload lent with send_data_borrowed() as
/// is), then FIN when `fin`. Valid until the next non-const call.
struct StreamOutput {
    std::uint64_t stream = 0;                 ///< the QUIC stream
    std::span<const OutputChunk> chunks;      ///< may be empty (FIN alone)
    std::size_t size = 0;                     ///< octets in `chunks`
    bool fin = false;                         ///< FIN follows the last chunk
};

/// What the QUIC stack must do to a stream besides writing.
enum class CommandKind : std::uint8_t {
    reset_stream,  ///< RESET_STREAM: abandon our sending side with `code`
    stop_sending,  ///< STOP_SENDING: ask the peer to stop, with `code`
};

/// One stream command.
struct StreamCommand {
    CommandKind kind = CommandKind::reset_stream;    ///< which frame
    std::uint64_t stream = 0;                        ///< the QUIC stream
    ErrorCode code = ErrorCode::h3_request_cancelled;  ///< its application error code
};

/// Result of Connection::submit_request().
struct SubmittedRequest {
    /// ApiError::none on success; on error nothing was queued.
    ApiError error = ApiError::none;
    /// True on success.
    explicit operator bool() const noexcept { return error == ApiError::none; }
};

/// An HTTP/3 connection, client or server. Not thread-safe; no I/O, clock
/// or lock inside.
class Connection {
public:
    /// A connection that has written nothing yet; its first output comes
    /// with bind_local_streams().
    H2WIRE_API explicit Connection(const ConnectionConfig& config = {});
    H2WIRE_API ~Connection();
    /// Moves the whole state; the moved-from connection may only be destroyed.
    H2WIRE_API Connection(Connection&&) noexcept;
    /// As the move constructor.
    H2WIRE_API Connection& operator=(Connection&&) noexcept;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// The caller opened three unidirectional streams for us (RFC 9114
    /// §6.2.1, RFC 9204 §4.2): the control stream and the QPACK encoder and
    /// decoder streams. Queues their stream types and our SETTINGS. Call
    /// once, first. invalid_stream: an id that is not a unidirectional
    /// stream of our role, or the same id twice.
    H2WIRE_API ApiError bind_local_streams(std::uint64_t control, std::uint64_t qpack_encoder,
                                           std::uint64_t qpack_decoder);

    // -- Input from the QUIC stack ------------------------------------------

    /// Octets received on `stream`, in order, `fin` when the stream's data
    /// ends with them. A stream the peer opened is taken up with its first
    /// octets. All of `bytes` is processed or copied (see InputConsumed).
    H2WIRE_API std::span<const Event> receive(std::uint64_t stream, std::span<const std::uint8_t> bytes,
                                              bool fin);
    /// The peer reset its sending side of `stream` (RESET_STREAM) with
    /// `code`.
    H2WIRE_API std::span<const Event> stream_reset(std::uint64_t stream, std::uint64_t code);
    /// The peer asked us to stop sending on `stream` (STOP_SENDING). A
    /// RESET_STREAM command follows (RFC 9000 §3.5).
    H2WIRE_API std::span<const Event> stop_sending(std::uint64_t stream, std::uint64_t code);
    /// The QUIC connection ended under us (peer's CONNECTION_CLOSE, idle
    /// timeout): reports StreamClosed for every stream and
    /// ConnectionTerminated with `code` (by the peer).
    H2WIRE_API std::span<const Event> transport_closed(std::uint64_t code);
    /// Events caused by API calls since the last call that returned events
    /// (a stream closed by consume_output(), the end of a graceful
    /// shutdown...).
    H2WIRE_API std::span<const Event> take_events();

    // -- Output ----------------------------------------------------------------

    /// The next stream with something to write, control and QPACK streams
    /// first, request streams in turn; streams marked blocked are skipped.
    /// nullopt when there is nothing.
    H2WIRE_API std::optional<StreamOutput> next_output();
    /// The QUIC stack took the first `n` octets of next_output() for
    /// `stream` (and its FIN, when `n` covers everything and FIN was
    /// offered). invalid_argument: `n` past what is pending (nothing is
    /// taken).
    H2WIRE_API ApiError consume_output(std::uint64_t stream, std::size_t n);
    /// With retain_until_acked: the peer acknowledged `n` more octets of
    /// `stream`, in order; they are released. Does nothing otherwise.
    H2WIRE_API void acknowledged(std::uint64_t stream, std::size_t n);
    /// The QUIC stack cannot take more on `stream` now (flow control):
    /// next_output() skips it until unblock_stream().
    H2WIRE_API void block_stream(std::uint64_t stream) noexcept;
    /// Credit arrived for `stream`.
    H2WIRE_API void unblock_stream(std::uint64_t stream) noexcept;
    /// The next RESET_STREAM or STOP_SENDING to send, taken off the queue.
    H2WIRE_API std::optional<StreamCommand> next_command();
    /// True when next_output() or next_command() has something.
    H2WIRE_API bool wants_write() const noexcept;

    // -- Application -------------------------------------------------------

    /// Client: sends a request on `stream`, a client-initiated bidirectional
    /// stream the caller just opened in its QUIC stack. `user_data` is
    /// carried in the stream's events.
    H2WIRE_API SubmittedRequest submit_request(std::uint64_t stream, std::span<const Field> headers,
                                               bool end_stream, void* user_data = nullptr);
    /// Server: a response (or, with a 1xx :status, an interim one) on a
    /// request stream.
    H2WIRE_API ApiError submit_response(std::uint64_t stream, std::span<const Field> headers, bool end_stream);
    /// Body octets, copied (up to max_buffered_per_stream queued).
    H2WIRE_API ApiError send_data(std::uint64_t stream, std::span<const std::uint8_t> data, bool end_stream);
    /// Body octets, lent: they must stay valid until the stream's
    /// StreamClosed.
    H2WIRE_API ApiError send_data_borrowed(std::uint64_t stream, std::span<const std::uint8_t> data,
                                           bool end_stream);
    /// Trailers; ends our side of the stream.
    H2WIRE_API ApiError send_trailers(std::uint64_t stream, std::span<const Field> trailers);
    /// Abandons the stream both ways: RESET_STREAM and STOP_SENDING with
    /// `code` (H3_REQUEST_CANCELLED by default, RFC 9114 §4.1.1).
    H2WIRE_API ApiError reset_stream(std::uint64_t stream, ErrorCode code = ErrorCode::h3_request_cancelled);
    /// Graceful shutdown (RFC 9114 §5.2): GOAWAY; requests already accepted
    /// finish, new ones are refused; ConnectionTerminated (H3_NO_ERROR)
    /// once every stream is closed.
    H2WIRE_API ApiError shutdown();
    /// Ends the connection now with `code`: ConnectionTerminated follows.
    H2WIRE_API ApiError close(ErrorCode code = ErrorCode::h3_no_error);
    /// Attaches the application's value to a stream.
    H2WIRE_API ApiError set_stream_user_data(std::uint64_t stream, void* user_data) noexcept;
    /// The stream's user data, or null.
    H2WIRE_API void* stream_user_data(std::uint64_t stream) const noexcept;

    // -- State -------------------------------------------------------------

    /// Client or server.
    H2WIRE_API Role role() const noexcept;
    /// After ConnectionTerminated.
    H2WIRE_API bool is_closed() const noexcept;
    /// The peer's SETTINGS arrived.
    H2WIRE_API bool peer_settings_received() const noexcept;
    /// The peer's settings (RFC defaults until they arrive).
    H2WIRE_API const ConnectionSettings& peer_settings() const noexcept;
    /// Ours, as announced.
    H2WIRE_API const ConnectionSettings& local_settings() const noexcept;
    /// Request streams held (open, or closing).
    H2WIRE_API std::size_t open_streams() const noexcept;
    /// Octets of `stream` not yet taken by consume_output().
    H2WIRE_API std::size_t buffered(std::uint64_t stream) const noexcept;
    /// Octets held for blocked field sections (see InputConsumed).
    H2WIRE_API std::size_t held_input() const noexcept;
    /// Octets the connection holds from its memory resource.
    H2WIRE_API std::size_t memory_used() const noexcept;
    /// The rule and field of the last submission refused with
    /// invalid_header.
    H2WIRE_API InvalidHeader last_invalid_header() const noexcept;

private:
    struct Impl;
    Impl* impl_;
};

}  // namespace h2wire::h3
