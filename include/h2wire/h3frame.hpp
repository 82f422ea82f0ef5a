/// \file
/// HTTP/3 frames (RFC 9114 §7) and the prefixes of unidirectional streams
/// (RFC 9114 §6.2), over QUIC variable-length integers (RFC 9000 §16): an
/// incremental reader per stream, checked writers, and an unchecked raw
/// writer for crafting invalid frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "h2wire/export.hpp"

/// HTTP/3 framing on its own, without a connection. Each QUIC stream gets
/// its own Reader; the caller's QUIC stack owns the streams.
namespace h2wire::h3 {

/// Octets someone else owns: see ReadResult for how long received ones stay
/// valid; when writing, the caller's, read during the call only.
using Bytes = std::span<const std::uint8_t>;

// ---------------------------------------------------------------------------
// Variable-length integers (RFC 9000 §16)
// ---------------------------------------------------------------------------

/// The largest value a variable-length integer holds: 2^62-1 (RFC 9000 §16).
inline constexpr std::uint64_t max_varint = (std::uint64_t{1} << 62) - 1;

/// Octets of the shortest encoding of `v`: 1, 2, 4 or 8; 0 when `v` is over
/// max_varint and cannot be encoded.
constexpr std::size_t varint_size(std::uint64_t v) noexcept {
    if (v < 64) return 1;
    if (v < 16384) return 2;
    if (v < (std::uint64_t{1} << 30)) return 4;
    if (v <= max_varint) return 8;
    return 0;
}

/// Writes the shortest encoding of `v` at the start of `out`. Returns the
/// octets written, or 0 (nothing written) when `v` is over max_varint or
/// `out` is too small.
H2WIRE_API std::size_t write_varint(std::span<std::uint8_t> out, std::uint64_t v) noexcept;

/// Writes `v` in exactly `size` octets (1, 2, 4 or 8), a longer encoding
/// than needed if so asked, which RFC 9000 §16 permits. Returns `size`, or 0
/// when `size` is not one of those, `v` does not fit in it, or `out` is too
/// small.
H2WIRE_API std::size_t write_varint(std::span<std::uint8_t> out, std::uint64_t v, std::size_t size) noexcept;

/// One-shot read of a variable-length integer at the start of `in`: the
/// octets it takes (1, 2, 4 or 8), with its value in `value`; 0 when `in`
/// holds only part of it (then `value` is untouched). Any encoding length is
/// accepted, minimal or not (RFC 9000 §16).
H2WIRE_API std::size_t read_varint(Bytes in, std::uint64_t& value) noexcept;

/// Incremental reader of one variable-length integer split anywhere.
///
///     VarintReader v;
///     input = input.subspan(v.read(input));
///     if (v.done()) use(v.value());
class VarintReader {
public:
    /// Consumes octets of `in` up to the end of the integer; returns how
    /// many. Consumes nothing once done().
    std::size_t read(Bytes in) noexcept {
        std::size_t i = 0;
        if (need_ == 0) {
            if (in.empty()) return 0;
            need_ = static_cast<std::uint8_t>(1u << (in[0] >> 6));
            value_ = in[0] & 0x3fu;
            have_ = 1;
            i = 1;
        }
        while (have_ < need_ && i < in.size()) {
            value_ = value_ << 8 | in[i++];
            ++have_;
        }
        return i;
    }
    /// True once the whole integer was read.
    bool done() const noexcept { return need_ != 0 && have_ == need_; }
    /// True while part of an integer is held.
    bool partial() const noexcept { return have_ != 0 && have_ < need_; }
    /// The value; only meaningful when done().
    std::uint64_t value() const noexcept { return value_; }
    /// Octets of the encoding (1, 2, 4 or 8) once the first was read, else 0.
    std::size_t size() const noexcept { return need_; }
    /// Ready for the next integer.
    void reset() noexcept { *this = VarintReader{}; }

private:
    std::uint64_t value_ = 0;
    std::uint8_t need_ = 0;  // encoded length, 0 before the first octet
    std::uint8_t have_ = 0;
};

// ---------------------------------------------------------------------------
// Registries
// ---------------------------------------------------------------------------

/// True for the reserved "grease" values 0x1f * N + 0x21 of frame types,
/// setting identifiers, stream types and error codes (RFC 9114 §7.2.8,
/// §7.2.4.1, §6.2.3, §8.1), which a receiver ignores.
constexpr bool is_grease(std::uint64_t v) noexcept {
    return v >= 0x21 && (v - 0x21) % 0x1f == 0;
}
/// The grease value 0x1f * n + 0x21, for n up to (2^62 - 1 - 0x21) / 0x1f.
constexpr std::uint64_t grease_value(std::uint64_t n) noexcept {
    return 0x1f * n + 0x21;
}

/// A frame type (RFC 9114 §7.2, §11.2.1). Open: any 62-bit value may be held.
enum class FrameType : std::uint64_t {
    data = 0x0,          ///< RFC 9114 §7.2.1
    headers = 0x1,       ///< RFC 9114 §7.2.2
    cancel_push = 0x3,   ///< RFC 9114 §7.2.3
    settings = 0x4,      ///< RFC 9114 §7.2.4
    push_promise = 0x5,  ///< RFC 9114 §7.2.5
    goaway = 0x7,        ///< RFC 9114 §7.2.6
    max_push_id = 0xd,   ///< RFC 9114 §7.2.7
};

/// True for the HTTP/2 frame types with no HTTP/3 counterpart, 0x2, 0x6, 0x8
/// and 0x9: receiving one is H3_FRAME_UNEXPECTED (RFC 9114 §7.2.8, §11.2.1).
constexpr bool is_http2_frame_type(std::uint64_t t) noexcept {
    return t == 0x2 || t == 0x6 || t == 0x8 || t == 0x9;
}
/// True for the types named in FrameType.
constexpr bool is_known(FrameType t) noexcept {
    const auto v = static_cast<std::uint64_t>(t);
    return v <= 0x7 ? !is_http2_frame_type(v) : v == 0xd;
}
/// "DATA", ..., "MAX_PUSH_ID"; "RESERVED_H2" for 0x2, 0x6, 0x8, 0x9;
/// "GREASE"; or "UNKNOWN".
H2WIRE_API std::string_view to_string(FrameType t) noexcept;

/// A setting identifier (RFC 9114 §7.2.4.1, §11.2.2). Open enumeration.
enum class SettingId : std::uint64_t {
    qpack_max_table_capacity = 0x1,  ///< RFC 9204 §5
    max_field_section_size = 0x6,    ///< RFC 9114 §7.2.4.1
    qpack_blocked_streams = 0x7,     ///< RFC 9204 §5
    enable_connect_protocol = 0x8,   ///< RFC 9220 §5
    h3_datagram = 0x33,              ///< RFC 9297 §2.1.1
};
/// True for 0x0 and the HTTP/2 setting identifiers 0x2..0x5 that HTTP/3
/// reserves: receiving one is H3_SETTINGS_ERROR (RFC 9114 §7.2.4.1, §11.2.2).
constexpr bool is_http2_setting(std::uint64_t id) noexcept {
    return id == 0x0 || (id >= 0x2 && id <= 0x5);
}
/// True when `value` is allowed for `id`: SETTINGS_ENABLE_CONNECT_PROTOCOL
/// (RFC 9220 §3, RFC 8441 §3) and SETTINGS_H3_DATAGRAM (RFC 9297 §2.1.1) are
/// 0 or 1; any other value of any identifier is allowed. A receiver treats a
/// failure as H3_SETTINGS_ERROR.
constexpr bool is_valid_setting_value(std::uint64_t id, std::uint64_t value) noexcept {
    if (id == static_cast<std::uint64_t>(SettingId::enable_connect_protocol) ||
        id == static_cast<std::uint64_t>(SettingId::h3_datagram))
        return value <= 1;
    return true;
}
/// "SETTINGS_QPACK_MAX_TABLE_CAPACITY", ..., "SETTINGS_H3_DATAGRAM";
/// "RESERVED_H2", "GREASE" or "UNKNOWN".
H2WIRE_API std::string_view to_string(SettingId id) noexcept;

/// An HTTP/3 or QPACK error code (RFC 9114 §8.1, RFC 9204 §6), as sent in
/// QUIC CONNECTION_CLOSE, RESET_STREAM and STOP_SENDING. Open enumeration.
enum class ErrorCode : std::uint64_t {
    h3_no_error = 0x100,                 ///< no error; graceful close
    h3_general_protocol_error = 0x101,   ///< no more specific code applies
    h3_internal_error = 0x102,           ///< an internal error
    h3_stream_creation_error = 0x103,    ///< a stream that was not acceptable
    h3_closed_critical_stream = 0x104,   ///< a required stream was closed
    h3_frame_unexpected = 0x105,         ///< a frame not permitted here
    h3_frame_error = 0x106,              ///< a frame's layout or size is wrong
    h3_excessive_load = 0x107,           ///< the peer generates excessive load
    h3_id_error = 0x108,                 ///< an identifier used incorrectly
    h3_settings_error = 0x109,           ///< an error in the SETTINGS payload
    h3_missing_settings = 0x10a,         ///< no SETTINGS first on the control stream
    h3_request_rejected = 0x10b,         ///< request not processed at all
    h3_request_cancelled = 0x10c,        ///< request or response cancelled
    h3_request_incomplete = 0x10d,       ///< the stream ended before the message did
    h3_message_error = 0x10e,            ///< a malformed message
    h3_connect_error = 0x10f,            ///< a CONNECT tunnel was reset or closed
    h3_version_fallback = 0x110,         ///< retry over HTTP/1.1
    qpack_decompression_failed = 0x200,  ///< RFC 9204 §6
    qpack_encoder_stream_error = 0x201,  ///< RFC 9204 §6
    qpack_decoder_stream_error = 0x202,  ///< RFC 9204 §6
};
/// "H3_NO_ERROR", ..., "QPACK_DECODER_STREAM_ERROR"; "GREASE" or "UNKNOWN".
H2WIRE_API std::string_view to_string(ErrorCode e) noexcept;

/// A unidirectional stream type (RFC 9114 §6.2, RFC 9204 §4.2). Open.
enum class StreamType : std::uint64_t {
    control = 0x00,        ///< RFC 9114 §6.2.1
    push = 0x01,           ///< RFC 9114 §6.2.2; a Push ID follows the type
    qpack_encoder = 0x02,  ///< RFC 9204 §4.2
    qpack_decoder = 0x03,  ///< RFC 9204 §4.2
};
/// "CONTROL", "PUSH", "QPACK_ENCODER", "QPACK_DECODER", "GREASE" or "UNKNOWN".
H2WIRE_API std::string_view to_string(StreamType t) noexcept;

/// Who sent the bytes a reader parses; enables the checks only that
/// knowledge allows.
enum class PeerRole : std::uint8_t {
    unknown,  ///< no role-dependent checks
    client,   ///< we are the server: PUSH_PROMISE is H3_FRAME_UNEXPECTED (§7.2.5), a push stream
              ///< H3_STREAM_CREATION_ERROR (§6.2.2)
    server,   ///< we are the client: MAX_PUSH_ID is H3_FRAME_UNEXPECTED (§7.2.7), a GOAWAY
              ///< id that is not a client-initiated bidirectional stream H3_ID_ERROR (§5.2)
};

/// What an error ends.
enum class ErrorScope : std::uint8_t {
    connection,  ///< close the connection (CONNECTION_CLOSE with `code`)
    stream,      ///< reset this stream only (RESET_STREAM / STOP_SENDING with `code`)
};

/// An error found in the peer's bytes: the code to send and why.
struct Error {
    /// The code to close the connection (or reset the stream) with.
    ErrorCode code = ErrorCode::h3_no_error;
    /// A short static English text (never freed; safe to keep).
    std::string_view reason;
    /// Every error from Reader::read() is a connection error.
    ErrorScope scope = ErrorScope::connection;
};

// ---------------------------------------------------------------------------
// Frames. The same structs are read and written. Views in frames handed out
// by Reader point into the caller's input or the reader's buffers: see
// ReadResult for how long they stay valid.
// ---------------------------------------------------------------------------

/// One setting (RFC 9114 §7.2.4.1): any identifier, any 62-bit value.
struct Setting {
    std::uint64_t id = 0;     ///< a SettingId, or an unknown or grease one
    std::uint64_t value = 0;  ///< at most max_varint
    friend bool operator==(const Setting&, const Setting&) = default;
};

/// DATA (RFC 9114 §7.2.1), for writing. The reader delivers DATA as DataChunk.
struct Data {
    Bytes payload{};  ///< the message content
};
/// HEADERS (RFC 9114 §7.2.2).
struct Headers {
    /// The QPACK-encoded field section (RFC 9204 §4.5), uninterpreted.
    Bytes field_section{};
};
/// CANCEL_PUSH (RFC 9114 §7.2.3); control stream only.
struct CancelPush {
    std::uint64_t push_id = 0;  ///< the push to cancel
};
/// SETTINGS (RFC 9114 §7.2.4); first frame of the control stream, once.
struct Settings {
    /// In frame order. Received entries have no duplicate identifier, no
    /// HTTP/2 one, and pass is_valid_setting_value(); unknown and grease
    /// identifiers are kept (the caller ignores them, RFC 9114 §7.2.4).
    std::span<const Setting> entries{};
    /// Writing only: a grease setting (is_grease(id) must hold) written after
    /// the entries (RFC 9114 §7.2.4.1). Never set by the reader.
    std::optional<Setting> grease{};
};
/// PUSH_PROMISE (RFC 9114 §7.2.5); request streams, server to client only.
struct PushPromise {
    std::uint64_t push_id = 0;  ///< the promised push
    /// The QPACK-encoded field section of the promised request.
    Bytes field_section{};
};
/// GOAWAY (RFC 9114 §7.2.6); control stream only.
struct Goaway {
    /// From a server: a client-initiated bidirectional stream id; from a
    /// client: a push id.
    std::uint64_t id = 0;
};
/// MAX_PUSH_ID (RFC 9114 §7.2.7); control stream, client to server only.
struct MaxPushId {
    std::uint64_t push_id = 0;  ///< the largest push id the server may use
};
/// A frame of a type this library does not interpret, for writing: grease
/// (RFC 9114 §7.2.8) or an extension. The reader skips such frames and
/// reports only their header (ReadStatus::unknown_frame).
struct Unknown {
    /// Not a FrameType and not an HTTP/2 type (write_raw() writes those).
    std::uint64_t type = 0;
    Bytes payload{};  ///< uninterpreted
};

/// Every complete non-DATA frame the reader hands out.
using Frame = std::variant<Headers, CancelPush, Settings, PushPromise, Goaway, MaxPushId>;

/// The two varints before each payload (RFC 9114 §7.1).
struct FrameHeader {
    std::uint64_t type = 0;    ///< any 62-bit value
    std::uint64_t length = 0;  ///< payload octets, as declared
    friend bool operator==(const FrameHeader&, const FrameHeader&) = default;
};

/// A piece of a DATA frame's payload. Every DATA frame yields at least one
/// chunk; the first has `first`, the last has `last` (one chunk may have
/// both; an empty frame yields one empty chunk with both).
struct DataChunk {
    /// Payload octets: always a view of the input given to Reader::read().
    Bytes data{};
    bool first = false;  ///< the chunk starts its frame
    bool last = false;   ///< the chunk ends its frame
};

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/// Which stream a Reader parses (RFC 9114 §6.1, §6.2), which decides the
/// frames allowed (RFC 9114 §7.2, table 1).
enum class StreamKind : std::uint8_t {
    request,  ///< a bidirectional request stream: DATA, HEADERS, PUSH_PROMISE
    push,     ///< a push stream, after its type and Push ID: DATA, HEADERS
    control,  ///< the control stream, after its type: SETTINGS first, then
              ///< CANCEL_PUSH, GOAWAY, MAX_PUSH_ID
};

/// The largest value Reader accepts for ReaderOptions::max_frame_payload
/// and max_field_section (1 GiB); larger ones are clamped to it.
inline constexpr std::uint64_t max_buffer_limit = std::uint64_t{1} << 30;

/// Reader configuration.
struct ReaderOptions {
    /// The stream read.
    StreamKind stream = StreamKind::request;
    /// Who sends the input; enables the checks listed under PeerRole.
    PeerRole peer = PeerRole::unknown;
    /// The largest payload of a buffered frame other than HEADERS and
    /// PUSH_PROMISE (SETTINGS, CANCEL_PUSH, GOAWAY, MAX_PUSH_ID); larger is
    /// H3_EXCESSIVE_LOAD (RFC 9114 §10.5). DATA and unknown frames are never
    /// buffered and have no limit.
    std::uint64_t max_frame_payload = 16 * 1024;
    /// The largest encoded field section of HEADERS and PUSH_PROMISE, which
    /// are buffered whole; larger is H3_EXCESSIVE_LOAD (RFC 9114 §4.2.2,
    /// §10.5.1). This counts encoded octets, unlike
    /// SETTINGS_MAX_FIELD_SECTION_SIZE, which counts decoded ones.
    std::uint64_t max_field_section = 64 * 1024;
    /// The most entries a SETTINGS frame may have; more is H3_EXCESSIVE_LOAD.
    std::size_t max_settings = 256;
    /// Enforce the message sequence of request and push streams (RFC 9114
    /// §4.1): HEADERS, DATA*, optional trailing HEADERS, nothing after; a
    /// violation is H3_FRAME_UNEXPECTED. See Reader::interim_response().
    bool check_message = true;
};

/// What one Reader::read call produced.
enum class ReadStatus : std::uint8_t {
    need_input,     ///< all input was consumed; call again with more
    frame,          ///< `frame` holds a complete non-DATA frame
    data,           ///< `data` holds a piece of a DATA frame
    unknown_frame,  ///< `header` starts a frame of an unknown or grease type, skipped unread
    error,          ///< `error`; the reader stays failed
};

/// The result of Reader::read. Only the members named by `status` are set.
///
/// Views in `frame` and `data` point either into this call's input (a DATA
/// chunk always does; another frame does when its whole payload was in this
/// input) or into the reader's buffers. Either way they stay valid until the
/// next call to read() or finish(), provided the caller keeps this call's
/// input alive that long.
struct ReadResult {
    /// Which member below holds the item.
    ReadStatus status = ReadStatus::need_input;
    /// Input octets consumed by this call; the next call starts after them.
    std::size_t consumed = 0;
    /// The frame the item comes from (not set for need_input).
    FrameHeader header{};
    /// With ReadStatus::frame: the frame, parsed and checked.
    Frame frame{};
    /// With ReadStatus::data: the next piece of a DATA frame.
    DataChunk data{};
    /// With ReadStatus::error: what to close the connection with. Every
    /// later read() returns it again.
    Error error{};
};

/// Incremental frame reader for one stream (pull style). Give it the
/// stream's bytes as they arrive, split anywhere (after the stream type and
/// Push ID of a unidirectional stream: see StreamHeaderReader); each call
/// consumes some and returns at most one item.
///
///     for (;;) {
///         ReadResult r = reader.read(input);
///         input = input.subspan(r.consumed);
///         if (r.status == ReadStatus::need_input) break;
///         ... handle r ...
///     }
///
/// DATA payload is never copied: it is returned as views of the input as it
/// arrives. HEADERS and PUSH_PROMISE are buffered whole (up to
/// max_field_section), other known frames up to max_frame_payload; the
/// declared length is checked before anything is buffered. Frames of
/// unknown and grease types are skipped octet by octet without buffering.
/// Buffers are reused: once grown to the largest frame seen, reading
/// allocates nothing.
///
/// Checked here: payload layouts (H3_FRAME_ERROR, RFC 9114 §7.1), which
/// frames each stream allows (H3_FRAME_UNEXPECTED, §7.2 table 1, §7.2.8),
/// SETTINGS first and once on the control stream (H3_MISSING_SETTINGS,
/// H3_FRAME_UNEXPECTED, §6.2.1, §7.2.4), SETTINGS entries (H3_SETTINGS_ERROR,
/// §7.2.4.1), GOAWAY ids that grow and MAX_PUSH_ID ids that shrink
/// (H3_ID_ERROR, §5.2, §7.2.7), the message sequence (§4.1), and with
/// ReaderOptions::peer the role rules. Left to the connection: push ids
/// against MAX_PUSH_ID, QPACK, and the meaning of settings values.
class Reader {
public:
    /// A reader whose buffers come from `mr`, which must outlive it. Nothing
    /// is allocated until a buffered frame arrives split across reads.
    /// `options` is copied, its limits clamped to max_buffer_limit.
    H2WIRE_API explicit Reader(const ReaderOptions& options = {},
                               std::pmr::memory_resource* mr = std::pmr::get_default_resource());
    /// Takes over `other`'s state and buffers; a moved-from reader may only
    /// be destroyed or assigned to.
    Reader(Reader&& other) = default;
    /// As the move constructor; the buffers move only between readers of
    /// the same memory resource, else they are copied.
    Reader& operator=(Reader&& other) = default;
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    /// Consumes a prefix of `input` and returns the next item. With
    /// need_input, all of `input` was consumed. After an error every call
    /// returns that error again with nothing consumed.
    H2WIRE_API ReadResult read(Bytes input);

    /// The stream ended cleanly (QUIC FIN) after all input was read. Returns
    /// the error this is, if any: the control stream closing
    /// (H3_CLOSED_CRITICAL_STREAM, connection, RFC 9114 §6.2.1); a truncated
    /// frame (H3_FRAME_ERROR, connection, §7.1); or, with check_message, a
    /// request or push stream that ended before any HEADERS
    /// (H3_REQUEST_INCOMPLETE when the peer is a client, else
    /// H3_MESSAGE_ERROR; stream scope, §4.1). A connection error leaves the
    /// reader failed.
    H2WIRE_API std::optional<Error> finish() noexcept;

    /// Tells the reader that the HEADERS frame just read was an interim (1xx)
    /// response (RFC 9114 §4.1), which only its decoded `:status` shows: the
    /// next HEADERS is then another response header section, not trailers.
    /// Call it after the HEADERS and before reading on; it does nothing
    /// unless the last message frame was the first HEADERS.
    H2WIRE_API void interim_response() noexcept;

    /// The options in force, limits as clamped.
    const ReaderOptions& options() const noexcept { return options_; }
    /// True after an error.
    bool failed() const noexcept { return state_ == State::failed; }
    /// True between frames: no part of a frame is held or pending.
    bool at_frame_boundary() const noexcept { return state_ == State::type && !varint_.partial(); }
    /// Octets the payload buffer holds room for (tests of the memory bound).
    std::size_t buffer_capacity() const noexcept { return buffer_.capacity(); }

    /// The fast path of a DATA frame's payload: when the reader is inside
    /// one and `input` is not empty, takes what read() would (the next piece
    /// of the payload, from the front of `input`, which is advanced past it)
    /// into `chunk` and returns true. Otherwise takes nothing and returns
    /// false: call read(). The same result as read(), without building a
    /// ReadResult.
    bool read_data(Bytes& input, DataChunk& chunk) noexcept {
        if (state_ != State::data || input.empty() || remaining_ == 0) return false;
        const std::size_t take = remaining_ < input.size() ? static_cast<std::size_t>(remaining_) : input.size();
        chunk = DataChunk{input.first(take), data_first_, take == remaining_};
        data_first_ = false;
        remaining_ -= take;
        input = input.subspan(take);
        if (remaining_ == 0) state_ = State::type;
        return true;
    }

private:
    enum class State : std::uint8_t {
        type,     // reading the Type varint
        length,   // reading the Length varint
        payload,  // buffering a known non-DATA payload
        data,     // handing out DATA payload as it arrives
        skip,     // discarding the payload of an unknown frame
        failed,   // terminal
    };
    // Where a request or push stream is in its message (RFC 9114 §4.1).
    enum class Phase : std::uint8_t { start, headers, body, trailers };

    std::optional<Error> check_header();
    void finish_frame(ReadResult& r, Bytes payload);
    ReadResult& fail(ReadResult& r, Error e, std::size_t consumed);

    ReaderOptions options_;
    State state_ = State::type;
    Phase phase_ = Phase::start;
    bool settings_seen_ = false;  // control stream: a frame was read (SETTINGS)
    bool data_first_ = false;
    VarintReader varint_;
    FrameHeader current_{};
    std::uint64_t remaining_ = 0;  // data/skip: octets left
    std::optional<std::uint64_t> last_goaway_;
    std::optional<std::uint64_t> last_max_push_id_;
    Error fatal_{};
    std::pmr::vector<std::uint8_t> buffer_;  // split payloads, at most the limit
    std::pmr::vector<Setting> settings_;     // parsed SETTINGS, at most max_settings
    std::pmr::vector<std::uint64_t> ids_;    // duplicate check scratch
};

/// Reads the prefix of a unidirectional stream (RFC 9114 §6.2): the stream
/// type and, for a push stream, the Push ID (§4.6), split anywhere. Then
/// hand the rest of the stream to a Reader (control, push) or a QPACK
/// decoder; a stream of another type is aborted or discarded by the caller
/// (H3_STREAM_CREATION_ERROR is the code to use, §6.2).
class StreamHeaderReader {
public:
    /// `peer` sent the stream: a push stream from a client is an error.
    explicit StreamHeaderReader(PeerRole peer = PeerRole::unknown) noexcept : peer_(peer) {}
    /// Consumes octets of `in` up to the end of the prefix; returns how many.
    /// Consumes nothing once done() or after an error.
    H2WIRE_API std::size_t read(Bytes in) noexcept;
    /// True once the whole prefix was read (and no error).
    bool done() const noexcept { return done_; }
    /// The stream type; valid when done().
    std::uint64_t type() const noexcept { return type_; }
    /// The Push ID of a push stream; valid when done().
    std::optional<std::uint64_t> push_id() const noexcept { return push_id_; }
    /// A push stream from a client: H3_STREAM_CREATION_ERROR (connection,
    /// RFC 9114 §6.2.2).
    std::optional<Error> error() const noexcept { return error_; }

private:
    PeerRole peer_;
    bool have_type_ = false;
    bool done_ = false;
    std::uint64_t type_ = 0;
    std::optional<std::uint64_t> push_id_;
    std::optional<Error> error_;
    VarintReader varint_;
};

// ---------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------

/// Why a checked writer refused to write.
enum class WriteError : std::uint8_t {
    none = 0,          ///< the frame was written
    buffer_too_small,  ///< `out` is smaller than encoded_size()
    value_too_large,   ///< a value (id, length) over max_varint
    invalid_setting,   ///< an HTTP/2 or duplicate identifier, a value is_valid_setting_value() rejects,
                       ///< or a grease setting whose id is not grease
    known_type,        ///< Unknown with a FrameType or HTTP/2 type (use write_raw)
};
/// A short English description of `e`.
H2WIRE_API std::string_view to_string(WriteError e) noexcept;

/// What a checked writer did: `size` octets written, or an error and nothing
/// written.
struct WriteResult {
    std::size_t size = 0;                 ///< octets written at the start of `out`
    WriteError error = WriteError::none;  ///< WriteError::none on success
    /// True when the frame was written.
    explicit operator bool() const noexcept { return error == WriteError::none; }
};

/// \name Encoded sizes
/// Octets the frame takes on the wire, type and length included, with
/// shortest varints. 0 when a value cannot be encoded.
//@{
/// DATA: type, length and payload.
H2WIRE_API std::size_t encoded_size(const Data& f) noexcept;
/// HEADERS: type, length and field section.
H2WIRE_API std::size_t encoded_size(const Headers& f) noexcept;
/// CANCEL_PUSH: type, length and Push ID.
H2WIRE_API std::size_t encoded_size(const CancelPush& f) noexcept;
/// SETTINGS: type, length and every entry, grease included.
H2WIRE_API std::size_t encoded_size(const Settings& f) noexcept;
/// PUSH_PROMISE: type, length, Push ID and field section.
H2WIRE_API std::size_t encoded_size(const PushPromise& f) noexcept;
/// GOAWAY: type, length and id.
H2WIRE_API std::size_t encoded_size(const Goaway& f) noexcept;
/// MAX_PUSH_ID: type, length and Push ID.
H2WIRE_API std::size_t encoded_size(const MaxPushId& f) noexcept;
/// An unknown frame: type, length and payload.
H2WIRE_API std::size_t encoded_size(const Unknown& f) noexcept;
//@}

/// \name Checked writers
/// Write `f` at the start of `out`, checked as RFC 9114 requires of a
/// sender; on error nothing is written. Which stream a frame may go on is
/// the caller's concern.
//@{
/// DATA (RFC 9114 §7.2.1), header and payload.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Data& f) noexcept;
/// HEADERS (RFC 9114 §7.2.2).
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Headers& f) noexcept;
/// CANCEL_PUSH (RFC 9114 §7.2.3).
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const CancelPush& f) noexcept;
/// SETTINGS (RFC 9114 §7.2.4): no HTTP/2 identifier, no duplicate, values at
/// most max_varint that pass is_valid_setting_value(); then `grease`, if
/// set, whose id must be grease.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Settings& f) noexcept;
/// PUSH_PROMISE (RFC 9114 §7.2.5).
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const PushPromise& f) noexcept;
/// GOAWAY (RFC 9114 §7.2.6).
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Goaway& f) noexcept;
/// MAX_PUSH_ID (RFC 9114 §7.2.7).
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const MaxPushId& f) noexcept;
/// A grease or extension frame (RFC 9114 §7.2.8, §9): refuses the types
/// this library interprets and the HTTP/2 ones (known_type).
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Unknown& f) noexcept;
//@}

/// For zero-copy output: only the type and length of a DATA frame whose
/// payload is `payload_length` octets; the caller sends the payload itself.
H2WIRE_API WriteResult write_data_header(std::span<std::uint8_t> out, std::uint64_t payload_length) noexcept;
/// Octets write_data_header() writes: 1 + varint_size(payload_length), or 0
/// when the length cannot be encoded.
constexpr std::size_t data_header_size(std::uint64_t payload_length) noexcept {
    const std::size_t n = varint_size(payload_length);
    return n == 0 ? 0 : 1 + n;
}

/// The prefix of a unidirectional stream (RFC 9114 §6.2): its type, and for
/// StreamType::push (0x01) the `push_id` after it (§4.6), which is ignored
/// for other types. Any type may be written, grease included (§6.2.3).
H2WIRE_API WriteResult write_stream_header(std::span<std::uint8_t> out, std::uint64_t stream_type,
                                           std::uint64_t push_id = 0) noexcept;

/// UNCHECKED: a frame of any `type` whose Length field says `declared_length`
/// whatever `payload` holds, then `payload` as is: for testing other
/// implementations. Returns the octets written, or 0 when `out` has no room
/// or `type` or `declared_length` is over max_varint.
H2WIRE_API std::size_t write_raw(std::span<std::uint8_t> out, std::uint64_t type, std::uint64_t declared_length,
                                 Bytes payload) noexcept;

/// Appends a checked frame to a byte container (std::vector<std::uint8_t>,
/// ...). On error the container is unchanged.
template <class ByteContainer, class F>
WriteResult append(ByteContainer& out, const F& f) {
    const std::size_t old = out.size();
    const std::size_t n = encoded_size(f);
    out.resize(old + n);
    const WriteResult r = write(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()) + old, n), f);
    out.resize(old + r.size);
    return r;
}

}  // namespace h2wire::h3
