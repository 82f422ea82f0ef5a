/// \file
/// An HTTP/2 connection (RFC 9113) as a pure state machine: bytes in, events
/// out, bytes to send pulled. No socket, clock, thread or lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <optional>
#include <span>
#include <string_view>

#include "h2wire/export.hpp"
#include "h2wire/error.hpp"
#include "h2wire/events.hpp"
#include "h2wire/header.hpp"
#include "h2wire/priority.hpp"
#include "h2wire/settings.hpp"
#include "h2wire/trace.hpp"

namespace h2wire {

/// Which end of the connection we are. The client sends the connection
/// preface and opens odd streams; the server opens even (pushed) streams
/// (RFC 9113 §3.4, §5.1.1).
enum class Role : std::uint8_t { client, server };

/// Abuse limits. Each one is a budget counted in octets or frames (never in
/// time) and names the attack it stops. Exceeding one is a protocol error
/// (stream or connection, as noted) with an event, never unbounded memory.
struct Limits {
    /// Our SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2 accounting). A
    /// larger header list is refused with a stream error (the block is still
    /// decoded to keep HPACK in sync). Stops header-list bombs.
    std::uint32_t max_header_list_size = 64 * 1024;
    /// Encoded octets of one header block (HEADERS/PUSH_PROMISE plus its
    /// CONTINUATIONs). Connection error ENHANCE_YOUR_CALM. Stops CONTINUATION
    /// floods that never end a block.
    std::uint32_t max_header_block_size = 256 * 1024;
    /// CONTINUATION frames in one block. Connection error ENHANCE_YOUR_CALM.
    /// Stops floods of tiny or empty CONTINUATION frames.
    std::uint32_t max_continuation_frames = 64;
    /// Our SETTINGS_MAX_CONCURRENT_STREAMS. Streams past it are refused with
    /// RST_STREAM REFUSED_STREAM.
    std::uint32_t max_concurrent_streams = 100;
    /// Largest name + value of one field. Stops one huge field from being
    /// buffered across frames (connection error COMPRESSION_ERROR, as HPACK
    /// cannot resync).
    std::uint32_t max_field_size = 64 * 1024;
    /// Answers we must send (PING ACK, SETTINGS ACK, RST_STREAM) still
    /// unsent from an earlier receive() call: the peer is not reading them.
    /// Past it, the next answer is a connection error ENHANCE_YOUR_CALM.
    /// Answers queued within one call do not count (the caller could not
    /// write in between, and they take no more than the input that asked for
    /// them), so a peer that reads may pipeline any number of PINGs. Stops
    /// PING/SETTINGS floods (CVE-2019-9512, CVE-2019-9515).
    std::uint32_t max_queued_control_frames = 1000;
    /// Streams whose reset we remember, to ignore their late frames
    /// (RFC 9113 §5.1) rather than treat them as errors. Older ones are
    /// forgotten (their late frames then get STREAM_CLOSED). At most 2^20.
    std::uint32_t max_reset_streams = 1024;
    /// Streams the peer resets, gets refused, or makes us reset (malformed
    /// messages, "MadeYouReset") are paid from two allowances of this many:
    ///  - reset within the receive() call that opened them (the application
    ///    was handed work it could never act on): refilled by one per four
    ///    receive() calls with input, never by completed requests;
    ///  - reset later but before the application answered (submitted its
    ///    final response): refilled by one per receive() call and two per
    ///    stream that completes.
    /// Either spent: the connection ends with ENHANCE_YOUR_CALM. Stops "rapid
    /// reset" (CVE-2023-44487) however it is mixed with completed requests,
    /// and the same spread over reads; never trips on long polls cancelled
    /// one at a time, or on clients that cancel up to two requests for every
    /// one they let complete (hedging, deadlines, navigation).
    std::uint32_t max_rapid_resets = 1000;
    /// Octets of body one stream may hold queued for sending beyond what the
    /// peer's windows let out. send_data() accepts no more: backpressure.
    std::uint32_t max_buffered_per_stream = 256 * 1024;
    /// Client requests waiting for a free stream slot (the peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS). Past it submit_request() fails.
    std::uint32_t max_queued_requests = 1000;
    /// Frames the peer may send that carry nothing (empty DATA without
    /// END_STREAM, zero-length CONTINUATION, unknown frames, PRIORITY,
    /// PRIORITY_UPDATE,
    /// RST_STREAM on a closed stream, a WINDOW_UPDATE that gives back no
    /// window our DATA used) over the connection's life, plus this many per
    /// 1000 useful frames. Stops empty-frame floods (CVE-2019-9513,
    /// CVE-2019-9518).
    std::uint32_t max_empty_frames = 10000;
    /// 1xx responses the client accepts on one stream before the final one
    /// (RFC 9113 §8.1 sets no number; real servers send one or two, such as
    /// 100 Continue and 103 Early Hints). Past it: stream error ENHANCE_YOUR_CALM.
    /// Stops a server that streams endless interim responses, each decoded
    /// into the events of one receive() call. At most 255.
    std::uint32_t max_informational_responses = 16;
    /// Client: streams the server has promised (PUSH_PROMISE) and not yet
    /// started answering (RFC 9113 §5.1, "reserved (remote)"). A promise past
    /// it is refused with RST_STREAM REFUSED_STREAM (RFC 9113 §8.4.2) and
    /// not reported; its header block is still decoded, to keep the HPACK
    /// table in step. Stops a server that promises without end (each promise
    /// holds a stream until answered). nghttp2: max_reserved_remote_streams.
    std::uint32_t max_reserved_streams = 100;
    /// Hard budget for everything the connection holds from Config::memory
    /// (its own object, tables, streams, buffers, the events of one
    /// receive() call, queued output). Input that would take the connection
    /// past it ends the connection with ENHANCE_YOUR_CALM instead. The list
    /// of events and the buffer of control frames never grow past it; the
    /// rest is checked after each frame, so a connection never holds more
    /// than
    ///
    ///     max_connection_memory + 10 x SETTINGS_MAX_FRAME_SIZE (ours)
    ///       + 6 x max_header_list_size + max_field_size + 64 KiB
    ///
    /// (Connection::memory_bound() computes it), however the peer splits its
    /// input. A request that arrives when the events of the same receive()
    /// call already hold an eighth of the budget is refused (RST_STREAM
    /// REFUSED_STREAM: the client may retry it), so a burst of huge header
    /// lists costs refusals, not the connection. send_data() returns
    /// buffer_full rather than copy into the last quarter of the budget,
    /// which is kept for what the peer sends. See
    /// memory_used(). Values below min_connection_memory (64 KiB, about
    /// three times what a fresh connection holds) count as that.
    std::size_t max_connection_memory = 16 * 1024 * 1024;
    /// Work whose cost grows with the number of open streams (a change of
    /// SETTINGS_INITIAL_WINDOW_SIZE, a GOAWAY that lowers its last stream
    /// id) is paid from a budget of stream visits: this many, plus one per
    /// octet received. Past it: ENHANCE_YOUR_CALM. Stops SETTINGS floods that
    /// make every entry walk every stream.
    std::uint32_t stream_walk_budget = 64 * 1024;
};

/// The smallest Limits::max_connection_memory that takes effect.
inline constexpr std::size_t min_connection_memory = 64 * 1024;

/// Who gives received DATA back to the peer's send windows (RFC 9113 §5.2,
/// §6.9): the connection, or the application through Connection::consume().
enum class FlowControl : std::uint8_t {
    /// Received DATA is handed back to the windows as soon as it is reported
    /// (the views die at the next receive() anyway); the WINDOW_UPDATEs go
    /// out, coalesced, with the next output.
    automatic,
    /// The application calls consume(stream, n) when it has really processed
    /// n octets: real backpressure.
    manual,
};

/// Everything a Connection is built with, copied at construction. Designated
/// initializers read best: `Connection conn{{.role = Role::client}}`.
struct Config {
    /// Client or server; a server by default.
    Role role = Role::server;
    /// Our settings, announced in our first SETTINGS frame. The
    /// max_concurrent_streams and max_header_list_size here are overridden by
    /// `limits`.
    Settings settings{.header_table_size = 4096,
                      .enable_push = false,
                      .initial_window_size = 1024 * 1024,
                      .max_frame_size = 16384,
                      .no_rfc7540_priorities = true};
    /// Our receive window for the whole connection (RFC 9113 §6.9.2); raised
    /// from 65,535 with a WINDOW_UPDATE on stream 0 right after SETTINGS.
    /// Values below 65,535 count as 65,535: a connection window starts there
    /// (§6.9.2) and can only be lowered by withholding WINDOW_UPDATEs, which
    /// manual flow control (FlowControl::manual, consume()) does.
    std::uint32_t connection_window_size = 16 * 1024 * 1024;
    /// Automatic by default: the windows refill as DATA is reported.
    FlowControl flow_control = FlowControl::automatic;
    /// RFC 9113 §8.1.1, §8.2, §8.3 message checks. Off for proxies that pass
    /// fields through untouched (framing, HPACK and flow control are always
    /// checked).
    bool validate_messages = true;
    /// The most HPACK dynamic table our encoder uses (with the peer's
    /// SETTINGS_HEADER_TABLE_SIZE as a further cap).
    std::uint32_t encoder_table_size = 4096;
    /// Abuse limits. Its max_concurrent_streams and max_header_list_size
    /// override those of `settings`.
    Limits limits{};
    /// Every allocation comes from here (null: the default resource). It must
    /// outlive the connection.
    std::pmr::memory_resource* memory = std::pmr::get_default_resource();
    /// A frame trace attached from the start (see FrameTrace and
    /// Connection::set_trace()); null: none. It must outlive the connection
    /// or be detached first.
    FrameTrace* trace = nullptr;
};

/// Misuse of the API. Never caused by peer input; the connection stays usable.
/// too_many_queued also means 8 SETTINGS not yet acknowledged
/// (update_settings()) or a push over the peer's
/// SETTINGS_MAX_CONCURRENT_STREAMS (push_promise()).
enum class ApiError : std::uint8_t {
    /// Success. Any other value: the call was refused.
    none = 0,
    wrong_role,              ///< e.g. submit_request on a server
    connection_closed,       ///< after GOAWAY or a connection error
    invalid_stream,          ///< no such stream, or not in a state that allows it
    stream_closed,           ///< our side of the stream already ended
    invalid_header,          ///< a field or pseudo-header RFC 9113 §8 forbids
    push_disabled,           ///< the peer's SETTINGS_ENABLE_PUSH is 0
    connect_protocol_disabled,  ///< :protocol sent before the peer enabled it (RFC 8441 §3)
    too_many_queued,         ///< Limits::max_queued_requests / max_queued_control_frames
    buffer_full,             ///< Limits::max_buffered_per_stream reached; nothing taken
    invalid_argument,        ///< e.g. window increment 0, setting out of range
    too_late,                ///< must come before any traffic (the h2c upgrade calls)
    unsupported_by_peer,     ///< the peer said it does not take this (reprioritize())
};

/// A short English description of `e` ("stream send buffer full", ...), for
/// logs; static text.
H2WIRE_API std::string_view to_string(ApiError e) noexcept;

/// Result of submit_request / push_promise.
struct Submitted {
    /// The new stream's id (odd for a request, even for a promise); 0 on error.
    std::uint32_t stream = 0;
    /// ApiError::none on success; on error nothing was queued.
    ApiError error = ApiError::none;
    /// True on success.
    explicit operator bool() const noexcept { return error == ApiError::none; }
};

/// One piece of output for scatter-gather writes (writev/sendmsg).
struct OutputChunk {
    /// Points into the connection's buffers or into memory given to
    /// send_data_borrowed(); valid until the next non-const call.
    const std::uint8_t* data = nullptr;
    /// Octets at `data`.
    std::size_t size = 0;
};

/// The state of a stream (RFC 9113 §5.1), as Connection::stream_state()
/// reports it.
enum class StreamState : std::uint8_t {
    /// Not opened yet: an id above every one used, a request still waiting
    /// for a slot under the peer's SETTINGS_MAX_CONCURRENT_STREAMS, or a
    /// promise not sent yet.
    idle,
    /// We promised it (PUSH_PROMISE sent); the response is ours to send.
    reserved_local,
    /// The peer promised it; its response will arrive.
    reserved_remote,
    /// Both sides may send.
    open,
    /// We ended our side (END_STREAM sent); the peer may still send.
    half_closed_local,
    /// The peer ended its side; we may still send.
    half_closed_remote,
    /// Over: both sides ended it, or it was reset or refused.
    closed,
};

// ---- bodies pulled on demand ------------------------------------------------

/// What a body source says about the body after the octets it handed over
/// (BodyReader::read(), BodyLender::lend()).
enum class BodyStatus : std::uint8_t {
    /// More octets follow: the connection asks again as soon as the windows
    /// let more out. With no octets handed over it counts as `wait` (the
    /// connection does not spin on a source that has nothing).
    more,
    /// Nothing more for now: the stream is parked. The source is not asked
    /// again, and nothing more is sent on the stream, until
    /// Connection::resume_body().
    wait,
    /// The body ends with these octets: END_STREAM goes on the last DATA
    /// frame, or the trailers follow it. The source is not asked again.
    end,
    /// Give up (a read error, say): the stream is reset with INTERNAL_ERROR
    /// and the octets handed over with this answer are not sent.
    abort,
};

/// The answer of BodyReader::read().
struct BodyRead {
    /// Octets written at the start of the buffer, at most its size.
    std::size_t size = 0;
    /// How the body goes on.
    BodyStatus status = BodyStatus::more;
    /// With BodyStatus::end: trailers that end the stream (a trailing header
    /// section, RFC 9113 §8.1); empty: END_STREAM on the last DATA frame.
    /// Encoded before the call that asked returns; the fields need to stay
    /// valid only until the source is called again. Invalid trailers (see
    /// Connection::send_trailers()) reset the stream with INTERNAL_ERROR.
    std::span<const Field> trailers;
};

/// The answer of BodyLender::lend().
struct BodyLend {
    /// Octets lent: at most what lend() was asked for. The memory must stay
    /// valid and unchanged until BodyLender::release() gives it back.
    std::span<const std::uint8_t> data;
    /// How the body goes on.
    BodyStatus status = BodyStatus::more;
    /// With BodyStatus::end: trailers after the body, as in BodyRead
    /// (copied before the call that asked returns).
    std::span<const Field> trailers;
};

class BodyReader;
class BodyLender;

/// A body the connection pulls while it builds output (pending_output(),
/// pending_output_vectors()), asking for no more than the stream and
/// connection send windows let out, so a body of any size streams through
/// in constant memory. Derive from BodyReader (the source copies into the
/// DATA frame being built: each octet is copied once) or from BodyLender
/// (the source lends its memory: zero copy with pending_output_vectors()).
/// Attach one with Connection::submit_request(), submit_response() or
/// set_body_source().
///
/// The connection calls the source only from inside its own calls
/// (pending_output*(), consume_output(), receive(), reset_stream(), ...).
/// A source must not call the connection's non-const members and must not
/// throw. It stays referenced until finished() is called; one object may
/// serve several streams (each call names the stream). A connection that
/// is destroyed calls nothing more: free its sources with it.
class BodySource {
public:
    /// The two forms of source.
    enum class Form : std::uint8_t {
        copy,  ///< a BodyReader
        lend,  ///< a BodyLender
    };
    /// Which of the two this source is.
    Form form() const noexcept { return form_; }

    /// Called exactly once per stream the source was attached to, when the
    /// connection lets go of it: it will not ask it again and, for a
    /// BodyLender, has released every lend. `complete`: the whole body (and
    /// its trailers) went into the output. False: the stream was reset (by
    /// either side, or refused by a GOAWAY), the source aborted, or the
    /// connection ended first. The source may be destroyed from here.
    virtual void finished(std::uint32_t stream, bool complete) {
        (void)stream;
        (void)complete;
    }

protected:
    /// Destroyed by the derived class (not through this base).
    virtual ~BodySource() = default;
    /// Copyable by the derived classes.
    BodySource(const BodySource&) = default;
    /// Assignable by the derived classes.
    BodySource& operator=(const BodySource&) = default;

private:
    friend class BodyReader;
    friend class BodyLender;
    explicit BodySource(Form form) noexcept : form_(form) {}
    Form form_;
};

/// The copy form of BodySource: read() writes body octets straight into the
/// DATA frame the connection is building.
class BodyReader : public BodySource {
public:
    /// Asked for the next octets of `stream`'s body: write at most
    /// buffer.size() octets (never 0 sized: as many as the windows and the
    /// peer's SETTINGS_MAX_FRAME_SIZE let out in one frame) at
    /// buffer.data() and say how many, and how the body goes on.
    virtual BodyRead read(std::uint32_t stream, std::span<std::uint8_t> buffer) = 0;

protected:
    /// A copy-form source.
    BodyReader() noexcept : BodySource(Form::copy) {}
    /// Destroyed by the derived class.
    ~BodyReader() override = default;
    /// Copyable by the derived classes.
    BodyReader(const BodyReader&) = default;
    /// Assignable by the derived classes.
    BodyReader& operator=(const BodyReader&) = default;
};

/// The zero-copy form of BodySource: lend() hands over memory the source
/// keeps, release() gives it back once the connection no longer refers to
/// it. With pending_output_vectors() the octets reach the caller's writev()
/// untouched; pending_output() copies them into its buffer (and releases
/// them at once).
class BodyLender : public BodySource {
public:
    /// Asked for the next octets of `stream`'s body: lend at most `max`
    /// octets (as many as the stream and connection windows let out; the
    /// connection cuts them into frames) and say how the body goes on.
    virtual BodyLend lend(std::uint32_t stream, std::size_t max) = 0;
    /// Gives back one lend (`lent` is the span lend() returned), exactly once
    /// for every non-empty lend: after consume_output() passed its last
    /// octet, after pending_output() copied it, or when the stream is reset
    /// or the connection ends (what the output still needs is copied).
    /// Always before finished().
    virtual void release(std::uint32_t stream, std::span<const std::uint8_t> lent) = 0;

protected:
    /// A lending source.
    BodyLender() noexcept : BodySource(Form::lend) {}
    /// Destroyed by the derived class.
    ~BodyLender() override = default;
    /// Copyable by the derived classes.
    BodyLender(const BodyLender&) = default;
    /// Assignable by the derived classes.
    BodyLender& operator=(const BodyLender&) = default;
};

/// Result of Connection::send_data_partial().
struct DataAccepted {
    /// Octets taken from the front of the data (possibly none).
    std::size_t accepted = 0;
    /// ApiError::none even when only part (or none) of the data fit; an
    /// error when the call was refused as send_data() refuses it.
    ApiError error = ApiError::none;
    /// True when error is ApiError::none.
    explicit operator bool() const noexcept { return error == ApiError::none; }
};

/// A client or server HTTP/2 connection.
///
///     h2wire::Connection conn{{.role = h2wire::Role::server}};
///     for (const h2wire::Event& ev : conn.receive(bytes)) { ... }
///     auto out = conn.pending_output();
///     const ssize_t n = ::write(fd, out.data(), out.size());
///     if (n > 0) conn.consume_output(static_cast<std::size_t>(n));
///
/// One thread at a time; a connection may move between threads.
class Connection {
public:
    /// Starts the connection: the first output (the client preface on a
    /// client, our SETTINGS, and a WINDOW_UPDATE on stream 0 when
    /// Config::connection_window_size is above 65,535) is pending at once;
    /// nothing needs to be received first. Allocates from Config::memory and
    /// lets its exceptions (std::bad_alloc) through.
    H2WIRE_API explicit Connection(const Config& config = {});
    /// Gives back all memory to Config::memory. Nothing is sent: for a clean
    /// close, call goaway() or shutdown() and write out the output first.
    H2WIRE_API ~Connection();
    /// Takes over the whole connection. The moved-from object may only be
    /// destroyed or assigned to.
    H2WIRE_API Connection(Connection&&) noexcept;
    /// Ends this connection, as the destructor does, then takes over the
    /// other one; see the move constructor.
    H2WIRE_API Connection& operator=(Connection&&) noexcept;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // ---- input -------------------------------------------------------------

    /// Feeds bytes that arrived, split anywhere. Returns the events they
    /// caused, in order. The span and every view inside the events stay valid
    /// until the next receive() (and `bytes` must stay alive that long: DATA
    /// is reported as views of it). Protocol errors never throw: they become
    /// StreamReset or ConnectionTerminated events and the matching RST_STREAM
    /// or GOAWAY in the output. After ConnectionTerminated, receive() ignores
    /// its input and returns nothing.
    ///
    /// Events caused by API calls rather than input (ConnectionTerminated
    /// after goaway(), or when a shutdown() completes as output ends the
    /// last stream; StreamClosed when consume_output(), pending_output() or
    /// a submission ends a stream) come first in the next receive(), unless
    /// take_events() collected them before.
    H2WIRE_API std::span<const Event> receive(std::span<const std::uint8_t> bytes);
    /// The events caused by API calls since they were last collected (by
    /// this or by receive()), in order: ConnectionTerminated after goaway(),
    /// or after a shutdown() once the last stream ended (through
    /// pending_output*(), submit_response(), reset_stream(), ...); the
    /// request of upgrade_server(). Each such event is returned
    /// once: by take_events() if it is called first, else at the start of
    /// the next receive(). Call it after the calls that may cause events
    /// when no input is coming (a silent peer). The span and the views in
    /// its events stay valid until the next take_events(), receive() or
    /// trim(); the span of the last receive() is not affected.
    H2WIRE_API std::span<const Event> take_events();

    // ---- output ------------------------------------------------------------

    /// Builds and returns the bytes to send now: control frames first, then
    /// header blocks, then DATA as windows allow (round robin across ready
    /// streams). Valid until the next non-const call. Empty when there is
    /// nothing to send.
    H2WIRE_API std::span<const std::uint8_t> pending_output();
    /// The same output as a list of pieces: frame headers and control frames
    /// from the connection's buffer, DATA payload straight from where
    /// send_data() put it (no copy into the output buffer).
    H2WIRE_API std::span<const OutputChunk> pending_output_vectors();
    /// The caller wrote the first n octets of the pending output. Pending
    /// means: what the last pending_output() or pending_output_vectors()
    /// call returned (the span's size, or the sum of the pieces' sizes; both
    /// forms return all output not yet consumed, so they may be mixed), less
    /// what consume_output() took since. Output not yet returned by either
    /// call is not pending. n == 0 does nothing. n past what is pending
    /// (such as a -1 from write() converted to size_t) returns
    /// invalid_argument and consumes nothing.
    H2WIRE_API ApiError consume_output(std::size_t n);
    /// True when pending_output() would return something.
    H2WIRE_API bool wants_write() const noexcept;

    // ---- requests and responses --------------------------------------------

    /// Client: opens a stream with a request header block. If the peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS is reached the request waits inside the
    /// connection and goes out in submission order as streams finish. The
    /// stream id is assigned now; queued requests keep increasing ids on the
    /// wire because they are sent in order.
    H2WIRE_API Submitted submit_request(std::span<const Field> headers, bool end_stream);
    /// Client: submit_request() with `user_data` attached to the new stream
    /// (see set_stream_user_data()): every event of the stream carries it,
    /// up to its StreamClosed.
    H2WIRE_API Submitted submit_request(std::span<const Field> headers, bool end_stream, void* user_data);
    /// Server: sends a response header block (1xx any number of times, then a
    /// final status).
    H2WIRE_API ApiError submit_response(std::uint32_t stream, std::span<const Field> headers, bool end_stream);
    /// Queues body octets (copied into the stream's send buffer, at most
    /// Limits::max_buffered_per_stream held). Returns buffer_full without
    /// taking anything when the buffer cannot take all of `data` (a
    /// StreamWritable follows when room is back, as for
    /// send_data_partial()); see send_capacity(). An empty `data` with
    /// end_stream sends an empty DATA frame with END_STREAM.
    H2WIRE_API ApiError send_data(std::uint32_t stream, std::span<const std::uint8_t> data, bool end_stream);
    /// Like send_data, but zero copy: the connection refers to `data` until it
    /// has been handed out by pending_output*/consume_output. The caller keeps
    /// it alive and unchanged until buffered(stream) == 0, the stream is
    /// reset, or at the latest until its StreamClosed event. Not counted
    /// against max_buffered_per_stream.
    H2WIRE_API ApiError send_data_borrowed(std::uint32_t stream, std::span<const std::uint8_t> data, bool end_stream);
    /// Ends the stream with a trailing header block.
    H2WIRE_API ApiError send_trailers(std::uint32_t stream, std::span<const Field> trailers);
    /// RST_STREAM with `code`; queued output of the stream is dropped.
    H2WIRE_API ApiError reset_stream(std::uint32_t stream, ErrorCode code = ErrorCode::cancel);
    /// Server: PUSH_PROMISE on `stream` for the request in `headers`; returns
    /// the promised (even) stream, on which submit_response follows.
    H2WIRE_API Submitted push_promise(std::uint32_t stream, std::span<const Field> headers);
    /// Server: push_promise() with `user_data` attached to the promised
    /// stream (see set_stream_user_data()).
    H2WIRE_API Submitted push_promise(std::uint32_t stream, std::span<const Field> headers, void* user_data);
    /// Attaches an application value to a stream the application knows (one
    /// it created, or one RequestReceived or PushPromiseReceived reported),
    /// replacing the one given before. Every event of the stream not yet
    /// handled carries it (`user_data`), up to and including its
    /// StreamClosed, so the application needs no map from stream ids to its
    /// own objects: set it while handling RequestReceived, and the events
    /// that follow in the same span carry it too, even a StreamClosed when
    /// the request and its end came in one read. The connection never looks
    /// at it. Costs a pass over the events of that span that follow the
    /// stream's first one. Errors: invalid_stream when the stream was never
    /// reported to the application, or its StreamClosed is older than the
    /// last receive().
    H2WIRE_API ApiError set_stream_user_data(std::uint32_t stream, void* user_data) noexcept;
    /// The value attached to `stream` (submit_request(), push_promise(),
    /// set_stream_user_data()); null when none, or when the connection does
    /// not hold the stream.
    H2WIRE_API void* stream_user_data(std::uint32_t stream) const noexcept;

    // ---- bodies pulled on demand (BodySource) --------------------------------

    /// Client: submit_request(headers, false) with `body` as the request
    /// body, pulled as windows allow once the request is sent (see
    /// BodySource). On error nothing was queued and `body` is not used.
    H2WIRE_API Submitted submit_request(std::span<const Field> headers, BodySource& body);
    /// Client: submit_request() with a body source and `user_data` attached
    /// to the stream (see set_stream_user_data()).
    H2WIRE_API Submitted submit_request(std::span<const Field> headers, BodySource& body, void* user_data);
    /// Server: submit_response(stream, headers, false) with `body` as the
    /// response body (see BodySource). On error nothing was queued and `body`
    /// is not used. Errors as submit_response(), and invalid_stream for a 1xx.
    H2WIRE_API ApiError submit_response(std::uint32_t stream, std::span<const Field> headers, BodySource& body);
    /// The rest of the stream's body comes from `body`: after what
    /// send_data() queued, the connection pulls it as the windows allow, and
    /// it ends the stream. Needs the final header section submitted, our side
    /// not ended and no source attached yet (else invalid_stream or
    /// stream_closed). From here send_data*() and send_trailers() on the
    /// stream return stream_closed.
    H2WIRE_API ApiError set_body_source(std::uint32_t stream, BodySource& body);
    /// A stream parked by BodyStatus::wait asks its source again, from the
    /// next pending_output*() on. ApiError::none also when it was not parked;
    /// invalid_stream when the stream has no source (any more: it ended, was
    /// reset, or its source finished).
    H2WIRE_API ApiError resume_body(std::uint32_t stream);
    /// Like send_data(), but takes as much of `data` as fits now
    /// (send_capacity()), possibly nothing, and says how much; END_STREAM
    /// only if it took all of it. When it took less than all, a
    /// StreamWritable for the stream follows once its buffer has drained to
    /// half of Limits::max_buffered_per_stream (or, when the memory budget
    /// was what refused, once room is back).
    H2WIRE_API DataAccepted send_data_partial(std::uint32_t stream, std::span<const std::uint8_t> data,
                                              bool end_stream);

    // ---- priorities (RFC 9218) ----------------------------------------------
    //
    // Streams ready to send DATA go out by priority: the lowest urgency first;
    // within one urgency, non-incremental streams one after another in stream
    // id order, incremental ones a frame each in turn, and the two kinds
    // alternate frame by frame so that neither starves the other (RFC 9218
    // §10). A stream that waits for its window never holds up the others. A
    // server takes each request's priority from its `priority` header field
    // (RFC 9218 §5) and from the client's PRIORITY_UPDATE frames (§7.1); a
    // client schedules its request bodies by the priority it gave them.

    /// Client: submit_request() with priority `p`, sent as a `priority`
    /// header field after `headers` (none when `p` is the default, u=3 and
    /// not incremental; a `priority` field in `headers` is then still sent
    /// as given). Request bodies are scheduled by it too.
    H2WIRE_API Submitted submit_request(std::span<const Field> headers, bool end_stream, Priority p,
                                        void* user_data = nullptr);
    /// Client: submit_request() with a body source and priority `p` (as
    /// above).
    H2WIRE_API Submitted submit_request(std::span<const Field> headers, BodySource& body, Priority p,
                                        void* user_data = nullptr);
    /// Changes the priority our side sends the stream's DATA by. On a server
    /// this overrides the client's signals: the stream keeps `p` until the
    /// next set_priority(), whatever PRIORITY_UPDATE frames come later (they
    /// are still reported). On a client it orders request bodies (use
    /// reprioritize() to tell the server). Errors: invalid_stream when the
    /// connection does not hold the stream; invalid_argument for an urgency
    /// above 7.
    H2WIRE_API ApiError set_priority(std::uint32_t stream, Priority p);
    /// The priority the connection schedules the stream by; nullopt when it
    /// does not hold the stream.
    H2WIRE_API std::optional<Priority> priority(std::uint32_t stream) const noexcept;
    /// Client: asks the server to serve the response of `stream` with
    /// priority `p`: a PRIORITY_UPDATE frame (RFC 9218 §7.1), and
    /// set_priority() locally. A request still waiting for a stream slot
    /// sends it right after its HEADERS (an update for an idle stream would
    /// count against the server's SETTINGS_MAX_CONCURRENT_STREAMS). The frame
    /// is sent until the server's first SETTINGS arrives, and afterwards
    /// only if it had SETTINGS_NO_RFC7540_PRIORITIES = 1 (RFC 9218 §2.1.1:
    /// a server that did not say it takes the new scheme would likely
    /// ignore the frame); otherwise only the local priority changes and the
    /// call returns ApiError::unsupported_by_peer. Errors: wrong_role on a
    /// server; invalid_stream when the connection does not hold the stream;
    /// stream_closed once the response has ended (half-closed (remote));
    /// invalid_argument for an urgency above 7; too_many_queued past
    /// Limits::max_queued_control_frames.
    H2WIRE_API ApiError reprioritize(std::uint32_t stream, Priority p);

    // ---- flow control ------------------------------------------------------

    /// Manual flow control: the application has processed n octets of the
    /// stream's DATA (flow_controlled_length units). WINDOW_UPDATEs follow,
    /// coalesced. In automatic mode this is not needed (and does nothing).
    ///
    /// One rule for streams that end: when a stream closes, however it ends
    /// (END_STREAM both ways, a reset by either side, a refusal, the end of
    /// the connection), the connection gives back to the connection window
    /// every octet of the stream's DATA that was handed over and not
    /// consumed yet. From then on consume() for that stream does nothing and
    /// returns ApiError::none, so a late call is harmless and no call is ever
    /// owed. DATA never handed over (arriving after our reset, on a closed
    /// stream, or making a message malformed) is given back at once.
    ///
    /// Errors: invalid_argument when n is more than the stream's DATA handed
    /// over and not consumed yet (nothing is credited); invalid_stream for
    /// stream 0 or an id never opened.
    H2WIRE_API ApiError consume(std::uint32_t stream, std::size_t n);
    /// Octets the stream may send right now (min of stream and connection
    /// send windows, never negative); 0 for a stream the connection does not
    /// hold (closed, or an id never used). With stream 0, the connection's
    /// send window alone.
    H2WIRE_API std::size_t send_window(std::uint32_t stream) const noexcept;
    /// Octets the peer may still send us on the stream (its receive window,
    /// never negative), or with stream 0 on the whole connection: what our
    /// SETTINGS_INITIAL_WINDOW_SIZE (or Config::connection_window_size) and
    /// the WINDOW_UPDATEs already built into output allow, less the DATA
    /// received. Credit not yet built into output (consumed octets waiting
    /// for the coalescing threshold, or for the next pending_output*())
    /// does not count. 0 once the peer's side of the stream ended
    /// (half-closed (remote), closed) and for a stream the connection does
    /// not hold.
    H2WIRE_API std::size_t receive_window(std::uint32_t stream) const noexcept;
    /// Octets the stream may still queue with send_data().
    H2WIRE_API std::size_t send_capacity(std::uint32_t stream) const noexcept;
    /// Octets queued on the stream: not yet built into output, or built into
    /// output that consume_output() has not passed yet. Borrowed memory
    /// (send_data_borrowed) may be released once this is 0 or the stream was
    /// reset (by either side): a reset copies what the output still needs.
    /// StreamClosed says the same without polling.
    H2WIRE_API std::size_t buffered(std::uint32_t stream) const noexcept;

    // ---- connection ----------------------------------------------------------

    /// PING with 8 octets of opaque data; PingAcknowledged follows.
    H2WIRE_API ApiError ping(std::span<const std::uint8_t, 8> data);
    /// Graceful shutdown: GOAWAY with the highest stream id (2^31-1 first, as
    /// RFC 9113 §6.8 suggests, then the real last id once a PING round trip
    /// shows in-flight streams have arrived); open streams finish; when none
    /// is left, ConnectionTerminated(no_error).
    H2WIRE_API ApiError shutdown();
    /// Immediate GOAWAY with `code` and `debug` data; then ConnectionTerminated.
    H2WIRE_API ApiError goaway(ErrorCode code, std::string_view debug = {});
    /// New local settings; they apply once the peer ACKs them.
    H2WIRE_API ApiError update_settings(const Settings& settings);

    // ---- h2c upgrade (RFC 7540 §3.2; h2c.hpp has the HTTP2-Settings codec) ---
    //
    // HTTP/2 over cleartext may start with an HTTP/1.1 request carrying
    // `Connection: Upgrade, HTTP2-Settings`, `Upgrade: h2c` and
    // `HTTP2-Settings: <base64url SETTINGS payload>`. The HTTP/1.1 text is the
    // caller's to write and parse; these calls start the HTTP/2 connection
    // after the "HTTP/1.1 101 Switching Protocols". Each must come before any
    // receive() of bytes and any consume_output(), else ApiError::too_late.
    //
    // Server:
    //     parse the HTTP/1.1 request; conn.upgrade_server(settings_value, fields, body)
    //     write "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    //     then run the connection as usual: pending_output() starts with our
    //     SETTINGS (RFC 7540 §3.5); the next receive() (bytes after the request,
    //     which begin with the client preface, or none) reports the request as
    //     RequestReceived on stream 1, and the response goes there.
    // Client:
    //     send the request with HTTP2-Settings: conn.upgrade_settings_header()
    //     read the 101; conn.upgrade_client(method); write pending_output()
    //     (the client preface), feed the bytes after the 101 to receive(): the
    //     response arrives as ResponseReceived on stream 1.

    /// Client: the HTTP2-Settings header value announcing this connection's
    /// settings (base64url without padding, RFC 7540 §3.2.1). Valid until
    /// upgrade_client() or the connection's end. Empty on a server.
    H2WIRE_API std::string_view upgrade_settings_header();
    /// Client, after the 101: the request sent in HTTP/1.1 is stream 1,
    /// half-closed (local); its response is reported as on any stream
    /// (`method` "HEAD" means it has no body). The settings sent in
    /// HTTP2-Settings are in force (the 101 acknowledged them). Errors:
    /// wrong_role, too_late (bytes received or written, or a request
    /// submitted), connection_closed.
    H2WIRE_API ApiError upgrade_client(std::string_view method = "GET");
    /// Server: the caller parsed an HTTP/1.1 upgrade request. `http2_settings`
    /// is its HTTP2-Settings value (decoded and applied as the client's
    /// settings); `request` its fields in HTTP/2 form (:method, :scheme,
    /// :authority from Host, :path, then the fields without the
    /// connection-specific ones, RFC 9113 §8.2.2); `body` its body, whole
    /// (copied). The next receive() reports RequestReceived for stream 1
    /// (half-closed remote), then the body as one DataReceived (with
    /// flow_controlled_length 0: nothing to consume) and StreamEnded.
    /// Errors leave the connection unused, so the caller can answer in
    /// HTTP/1.1 instead: invalid_argument (bad HTTP2-Settings: not base64url,
    /// not a multiple of 6 octets, a value out of range; content-length
    /// differs from the body; or the request is a CONNECT, whose tunnel
    /// could not open on a stream the upgrade half-closes), invalid_header
    /// (the request is not a valid HTTP/2 request; last_invalid_header()
    /// says why), wrong_role, too_late, connection_closed.
    H2WIRE_API ApiError upgrade_server(std::string_view http2_settings, std::span<const Field> request,
                                       std::span<const std::uint8_t> body = {});

    // ---- memory ----------------------------------------------------------------

    /// Gives back memory the connection keeps for reuse: the storage of the
    /// last receive()'s events (their views end here, as they would at the
    /// next receive()), stream objects of finished streams, spare header
    /// buffers, output buffers that are empty, and lookup tables a burst of
    /// streams grew. A busy connection keeps that memory so that it allocates
    /// nothing per request, and gives back on its own what the load stopped
    /// needing (at the end of each epoch of 256 receive() calls with input,
    /// past what the last two epochs used); trim() gives it all back now:
    /// call it when the connection goes quiet (your idle timer decides when)
    /// or after an unusual burst. Nothing the peer
    /// sees changes, and nothing queued is dropped. Not needed for
    /// correctness. Events caused by API calls and not yet collected are
    /// kept for the next receive() or take_events(); the span the last
    /// take_events() returned ends here. Like receive(), it must not be
    /// called while you are still going through the span of events the last
    /// receive() (or take_events()) returned.
    H2WIRE_API void trim() noexcept;

    // ---- state for the caller's timers and logs ------------------------------

    /// Config::role, as constructed.
    H2WIRE_API Role role() const noexcept;
    /// Our SETTINGS sent and not yet ACKed (time it out with SETTINGS_TIMEOUT).
    H2WIRE_API bool settings_ack_pending() const noexcept;
    /// Our settings in force: the RFC's initial values until the peer ACKs
    /// our first SETTINGS, then the last ones it acknowledged.
    H2WIRE_API const Settings& local_settings() const noexcept;
    /// The peer's settings in force: the RFC's initial values until its first
    /// SETTINGS arrives. The reference stays valid; its values change in
    /// receive().
    H2WIRE_API const Settings& peer_settings() const noexcept;
    /// Streams open or half-closed (not counting queued requests).
    H2WIRE_API std::size_t open_streams() const noexcept;
    /// Client: requests submitted that wait inside the connection for a slot
    /// under the peer's SETTINGS_MAX_CONCURRENT_STREAMS (they have stream
    /// ids, in StreamState::idle). 0 on a server.
    H2WIRE_API std::size_t queued_requests() const noexcept;
    /// Client: how many more submit_request() calls would be accepted now:
    /// the free slots under the peer's SETTINGS_MAX_CONCURRENT_STREAMS (100
    /// until its first SETTINGS arrives) plus Limits::max_queued_requests,
    /// less the requests already waiting, and no more than the stream ids
    /// left. 0 on a server, after GOAWAY (either way) or shutdown(). A proxy
    /// stops taking work for this connection when it is 0.
    H2WIRE_API std::size_t request_capacity() const noexcept;
    /// The state of `stream` (RFC 9113 §5.1). Streams the connection no
    /// longer holds are closed if their id was used (ours: handed out by
    /// submit_request() or push_promise(); the peer's: at or below the
    /// highest it opened), idle otherwise, as is stream 0.
    H2WIRE_API StreamState stream_state(std::uint32_t stream) const noexcept;
    /// Why the last submit_request(), submit_response(), send_trailers(),
    /// push_promise() or upgrade_server() call refused its fields: set when
    /// that call returned ApiError::invalid_header (the rule broken and the
    /// position of the field at fault in the span given), empty after any
    /// other outcome of those calls. Other calls leave it as it is.
    H2WIRE_API InvalidHeader last_invalid_header() const noexcept;
    /// True once the connection is over (ConnectionTerminated was reported).
    H2WIRE_API bool is_closed() const noexcept;
    /// Highest stream id the peer opened that we processed (for GOAWAY).
    H2WIRE_API std::uint32_t last_peer_stream() const noexcept;
    /// Octets the connection holds from Config::memory right now (its own
    /// object included). Sum memory_used() over your connections to enforce
    /// a process-wide cap.
    H2WIRE_API std::size_t memory_used() const noexcept;
    /// The most memory_used() has ever been; trim() does not lower it.
    H2WIRE_API std::size_t memory_peak() const noexcept;
    /// The most a connection with this configuration can ever hold (see
    /// Limits::max_connection_memory): what a server needs per connection.
    H2WIRE_API static std::size_t memory_bound(const Config& config) noexcept;

    // ---- observability (trace.hpp) ---------------------------------------------

    /// Attaches `trace` (replacing Config::trace or an earlier one), or
    /// detaches with null. Every frame received or built into the output
    /// from here on is reported to it (see FrameTrace). When it wants
    /// headers, sent header lists are decoded only if no header block has
    /// been built yet (the HPACK context must start in step); the second
    /// decoder this needs comes from Config::memory (exceptions of the
    /// resource pass through, and the trace is then not attached).
    H2WIRE_API void set_trace(FrameTrace* trace);
    /// The trace attached, or null.
    H2WIRE_API FrameTrace* trace() const noexcept;
    /// Frames and octets per type each way, streams opened, reset and
    /// refused by each side, flow-control stalls and limits tripped, since
    /// the connection was built. The reference stays valid for the
    /// connection's life; the values change in its non-const calls.
    H2WIRE_API const ConnectionCounters& counters() const noexcept;

    struct Impl;

private:
    Impl* impl_;
};

}  // namespace h2wire
