/// \file
/// HTTP/2 frames (RFC 9113 §4, §6; ALTSVC RFC 7838 §4; ORIGIN RFC 8336 §2;
/// PRIORITY_UPDATE RFC 9218 §7.1): an incremental reader and checked writers,
/// plus an unchecked raw writer for crafting invalid frames.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory_resource>
#include <optional>
#include <ranges>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "h2wire/export.hpp"
#include "h2wire/error.hpp"
#include "h2wire/settings.hpp"

/// Frames on their own, without a connection: an incremental Reader,
/// checked writers (write(), write_split()) and an unchecked one
/// (write_raw()). Useful for proxies, tools and tests.
namespace h2wire::frame {

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/// A frame type (RFC 9113 §4.1). Open enumeration: any 8-bit value may be
/// held; the named ones are those this library parses.
enum class Type : std::uint8_t {
    data = 0x0,              ///< RFC 9113 §6.1
    headers = 0x1,           ///< RFC 9113 §6.2
    priority = 0x2,          ///< RFC 9113 §6.3 (deprecated signal, still parsed)
    rst_stream = 0x3,        ///< RFC 9113 §6.4
    settings = 0x4,          ///< RFC 9113 §6.5
    push_promise = 0x5,      ///< RFC 9113 §6.6
    ping = 0x6,              ///< RFC 9113 §6.7
    goaway = 0x7,            ///< RFC 9113 §6.8
    window_update = 0x8,     ///< RFC 9113 §6.9
    continuation = 0x9,      ///< RFC 9113 §6.10
    altsvc = 0xa,            ///< RFC 7838 §4
    origin = 0xc,            ///< RFC 8336 §2
    priority_update = 0x10,  ///< RFC 9218 §7.1
};

/// True for the types named in Type.
H2WIRE_API bool is_known(Type t) noexcept;
/// "DATA", "HEADERS", ..., "PRIORITY_UPDATE", or "UNKNOWN".
H2WIRE_API std::string_view to_string(Type t) noexcept;

/// Flag bits (RFC 9113 §6). Which ones a type defines: DATA end_stream,
/// padded; HEADERS end_stream, end_headers, padded, priority; SETTINGS and
/// PING ack; PUSH_PROMISE end_headers, padded; CONTINUATION end_headers.
/// Other bits are unused and ignored on receipt (RFC 9113 §4.1).
namespace flags {
/// END_STREAM: the sender's last frame on the stream (RFC 9113 §6.1, §6.2).
inline constexpr std::uint8_t end_stream = 0x1;
/// ACK of SETTINGS and PING; the same bit as end_stream (RFC 9113 §6.5, §6.7).
inline constexpr std::uint8_t ack = 0x1;
/// END_HEADERS: the field block ends with this frame; without it,
/// CONTINUATION frames follow (RFC 9113 §6.2, §6.10).
inline constexpr std::uint8_t end_headers = 0x4;
/// PADDED: a Pad Length octet and that much padding are present (RFC 9113 §6.1).
inline constexpr std::uint8_t padded = 0x8;
/// PRIORITY: HEADERS carries the 5 octets of PriorityFields (RFC 9113 §6.2).
inline constexpr std::uint8_t priority = 0x20;
}  // namespace flags

/// Names of the flags `type` defines that are set in `flags`, joined by '|'
/// ("END_STREAM|END_HEADERS"); unused bits as "0x40". Writes into `out`
/// (64 bytes are always enough) and returns the view of what it wrote.
H2WIRE_API std::string_view flag_names(Type type, std::uint8_t flags, std::span<char, 64> out) noexcept;

/// Size of the frame header (RFC 9113 §4.1).
inline constexpr std::size_t header_size = 9;
/// Largest stream identifier (31 bits).
inline constexpr std::uint32_t max_stream_id = 0x7fffffff;
/// SETTINGS_MAX_FRAME_SIZE until changed (RFC 9113 §6.5.2).
inline constexpr std::uint32_t default_max_frame_size = min_max_frame_size;
/// The range of SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2), also reachable as
/// frame::min_max_frame_size and frame::max_max_frame_size.
using h2wire::max_max_frame_size;
using h2wire::min_max_frame_size;
/// The client connection preface (RFC 9113 §3.4).
inline constexpr std::string_view client_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// ---------------------------------------------------------------------------
// Frame header
// ---------------------------------------------------------------------------

/// The 9-octet frame header as it is on the wire (RFC 9113 §4.1).
struct FrameHeader {
    std::uint32_t length = 0;  ///< 24 bits: payload length
    /// Any 8-bit value; the reader hands out unknown types as Unknown.
    Type type{};
    std::uint8_t flags = 0;       ///< all 8 bits, unused ones included
    std::uint32_t stream_id = 0;  ///< 31 bits
    bool reserved = false;        ///< the reserved bit; ignored on receipt

    /// True if any bit of `flag` is set in `flags`, whether or not `type`
    /// defines it.
    bool has(std::uint8_t flag) const noexcept { return (flags & flag) != 0; }
    friend bool operator==(const FrameHeader&, const FrameHeader&) = default;
};

/// Decodes a frame header from 9 bytes at `p`.
H2WIRE_API FrameHeader parse_header(const std::uint8_t* p) noexcept;

/// Encodes `h` into 9 bytes at `p`: exactly the given fields, length
/// truncated to 24 bits and stream id to 31 bits. Unchecked.
H2WIRE_API void write_header(std::uint8_t* p, const FrameHeader& h) noexcept;

// ---------------------------------------------------------------------------
// Frame fields and frames. The same structs are read and written. Byte and
// text views (std::span, std::string_view) in frames handed out by Reader
// point into the caller's input or into the reader's buffer: see ReadResult
// for how long they stay valid. For writing, they are the caller's.
// ---------------------------------------------------------------------------

/// Octets someone else owns: see ReadResult for how long received ones stay
/// valid; when writing, the caller's, read during the call only.
using Bytes = std::span<const std::uint8_t>;

/// Padding of DATA, HEADERS and PUSH_PROMISE (RFC 9113 §6.1).
struct Padding {
    /// Pad Length: number of padding octets (the field itself is one more).
    std::uint8_t length = 0;
    /// On receipt: the padding octets as received. On sending: empty for
    /// `length` zero octets, as RFC 9113 §6.1 requires of senders; or exactly
    /// `length` octets to send instead (tools that reproduce a capture).
    Bytes content{};
};

/// The RFC 7540 priority fields of HEADERS and PRIORITY (RFC 9113 §6.3).
struct PriorityFields {
    /// The E flag: the stream becomes the sole dependency of `dependency`
    /// (RFC 7540 §5.3.1).
    bool exclusive = false;
    std::uint32_t dependency = 0;  ///< 31 bits
    /// The octet as on the wire; the RFC 7540 §5.3.2 weight is `weight + 1`.
    std::uint8_t weight = 15;
    friend bool operator==(const PriorityFields&, const PriorityFields&) = default;
};

/// DATA (RFC 9113 §6.1), for writing. The reader delivers DATA as DataChunk.
struct Data {
    /// 1..2^31-1: DATA always belongs to a stream.
    std::uint32_t stream_id = 0;
    /// Sets END_STREAM: this side's last frame on the stream.
    bool end_stream = false;
    /// Sets PADDED: Pad Length and padding, 1 + length octets more, all of
    /// them counted by flow control. Absent: no padding, not even Pad Length.
    std::optional<Padding> padding;
    /// The payload; write() copies it, write_data_header() leaves it to the caller.
    Bytes data{};
};

/// HEADERS (RFC 9113 §6.2).
struct Headers {
    /// 1..2^31-1: HEADERS always belongs to a stream.
    std::uint32_t stream_id = 0;
    /// Sets END_STREAM: no DATA follows (a message without body, or trailers).
    /// It may be set while CONTINUATION frames are still to come.
    bool end_stream = false;
    /// Sets END_HEADERS; false when CONTINUATION frames carry the rest of
    /// the block (write_split() sets it itself).
    bool end_headers = true;
    /// Sets PRIORITY: the deprecated RFC 7540 signal (RFC 9113 §5.3.2). On
    /// receipt it is parsed; the connection only checks it for a dependency
    /// on the stream itself.
    std::optional<PriorityFields> priority;
    /// Sets PADDED; see Data::padding.
    std::optional<Padding> padding;
    Bytes fragment{};  ///< field block fragment (RFC 9113 §4.3)
};

/// PRIORITY (RFC 9113 §6.3).
struct Priority {
    /// 1..2^31-1; on stream 0 a connection PROTOCOL_ERROR.
    std::uint32_t stream_id = 0;
    /// A dependency on `stream_id` itself is a stream PROTOCOL_ERROR on
    /// receipt and WriteError::invalid_priority when writing.
    PriorityFields fields{};
};

/// RST_STREAM (RFC 9113 §6.4).
struct RstStream {
    /// 1..2^31-1; on stream 0 a connection PROTOCOL_ERROR.
    std::uint32_t stream_id = 0;
    /// Any 32-bit value; unknown ones are kept.
    ErrorCode error_code = ErrorCode::no_error;
};

/// The settings of a SETTINGS frame: either the wire payload of a received
/// frame (decoded on access, no copy) or a caller's array (for writing).
class SettingsList {
public:
    /// An empty list.
    SettingsList() = default;
    /// A view of `list` (an array, std::vector, std::span... of Setting),
    /// which must outlive this object.
    template <class R>
    requires std::ranges::contiguous_range<const R> && std::ranges::sized_range<const R> &&
        std::same_as<std::ranges::range_value_t<const R>, Setting>
        SettingsList(const R& list)
    noexcept  // NOLINT(google-explicit-constructor)
        : list_(std::ranges::data(list)), n_(std::ranges::size(list)) {}
    /// A view of a SETTINGS payload; `payload.size()` must be a multiple of 6.
    static SettingsList from_wire(Bytes payload) noexcept {
        SettingsList s;
        s.wire_ = payload.data();
        s.n_ = payload.size() / 6;
        return s;
    }

    /// Number of settings (the payload size / 6 for a wire view).
    std::size_t size() const noexcept { return n_; }
    /// True when there is no setting (a SETTINGS ACK, or an empty SETTINGS).
    bool empty() const noexcept { return n_ == 0; }
    /// The setting at `i` in frame order; `i` < size(), unchecked. A wire view
    /// decodes it on each call.
    Setting operator[](std::size_t i) const noexcept {
        if (list_) return list_[i];
        const std::uint8_t* p = wire_ + 6 * i;
        return Setting{static_cast<SettingId>(p[0] << 8 | p[1]),
                       std::uint32_t{p[2]} << 24 | std::uint32_t{p[3]} << 16 | std::uint32_t{p[4]} << 8 | p[5]};
    }

    /// Walks the settings in frame order, yielding each by value. It refers
    /// to the SettingsList object it came from, which must outlive it, and
    /// compares by position only: compare iterators of one list.
    class iterator {
    public:
        /// Forward only: multi-pass, no decrement.
        using iterator_category = std::forward_iterator_tag;
        /// Each setting is yielded as a Setting value.
        using value_type = Setting;
        /// Required by the iterator concepts; distances are never computed.
        using difference_type = std::ptrdiff_t;
        /// void: there is no operator->, the Setting is made on access.
        using pointer = void;
        /// A value, not a reference: wire entries are decoded on access.
        using reference = Setting;
        /// A singular iterator: it may only be assigned to.
        iterator() = default;
        /// The position `i` (0..size()) in `l`; begin() and end() make these.
        iterator(const SettingsList* l, std::size_t i) noexcept : l_(l), i_(i) {}
        /// The setting at this position; not valid at end().
        Setting operator*() const noexcept { return (*l_)[i_]; }
        /// Moves to the next setting.
        iterator& operator++() noexcept {
            ++i_;
            return *this;
        }
        /// Moves to the next setting; returns the old position.
        iterator operator++(int) noexcept {
            iterator t = *this;
            ++i_;
            return t;
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.i_ == b.i_; }

    private:
        const SettingsList* l_ = nullptr;
        std::size_t i_ = 0;
    };
    /// The first setting, in frame order.
    iterator begin() const noexcept { return {this, 0}; }
    /// Past the last setting.
    iterator end() const noexcept { return {this, n_}; }

private:
    const std::uint8_t* wire_ = nullptr;
    const Setting* list_ = nullptr;
    std::size_t n_ = 0;
};

/// SETTINGS (RFC 9113 §6.5). Not to be confused with h2wire::Settings, the
/// values of all settings; this is one frame.
struct Settings {
    /// Sets ACK: acknowledges the peer's SETTINGS; `entries` must then be
    /// empty (RFC 9113 §6.5).
    bool ack = false;
    /// In frame order; an identifier may repeat, and applied in order the
    /// last one wins (RFC 9113 §6.5.3). Received entries all passed
    /// check_setting(); a failure is a connection error.
    SettingsList entries{};
};

/// PUSH_PROMISE (RFC 9113 §6.6).
struct PushPromise {
    /// The client's stream the promise rides on.
    std::uint32_t stream_id = 0;
    /// Sets END_HEADERS; see Headers::end_headers.
    bool end_headers = true;
    /// The stream reserved for the push: even, 1..2^31-1. 0 is a connection
    /// PROTOCOL_ERROR on receipt, WriteError::invalid_promised_stream when
    /// writing.
    std::uint32_t promised_stream_id = 0;
    /// Sets PADDED; see Data::padding.
    std::optional<Padding> padding;
    /// Field block fragment of the promised request (RFC 9113 §4.3).
    Bytes fragment{};
};

/// PING (RFC 9113 §6.7).
struct Ping {
    /// Sets ACK: the answer to a PING.
    bool ack = false;
    /// Any 8 octets; the ACK echoes them.
    std::array<std::uint8_t, 8> opaque_data{};
};

/// GOAWAY (RFC 9113 §6.8).
struct Goaway {
    /// The highest stream id the sender processed or may still process;
    /// 31 bits (the reserved bit is ignored on receipt).
    std::uint32_t last_stream_id = 0;
    /// NO_ERROR for a graceful shutdown; any 32-bit value.
    ErrorCode error_code = ErrorCode::no_error;
    /// Opaque diagnostics, often text; may be empty.
    Bytes debug_data{};
};

/// WINDOW_UPDATE (RFC 9113 §6.9).
struct WindowUpdate {
    /// 0 for the connection window.
    std::uint32_t stream_id = 0;
    std::uint32_t increment = 0;  ///< 1..2^31-1
};

/// CONTINUATION (RFC 9113 §6.10).
struct Continuation {
    /// That of the HEADERS or PUSH_PROMISE it continues.
    std::uint32_t stream_id = 0;
    /// Sets END_HEADERS: the block ends with this frame.
    bool end_headers = true;
    /// The next piece of the field block.
    Bytes fragment{};
};

/// ALTSVC (RFC 7838 §4). On stream 0 the origin is non-empty; on any other
/// stream it is empty (the stream's origin applies).
struct Altsvc {
    /// 0, or the stream whose origin is meant.
    std::uint32_t stream_id = 0;
    /// ASCII serialized origin (RFC 6454), at most 65,535 octets; present
    /// exactly on stream 0.
    std::string_view origin;
    std::string_view field_value;  ///< an Alt-Svc header field value
};

/// The origins of an ORIGIN frame: either the wire payload of a received
/// frame (walked on access, no copy) or a caller's array (for writing).
class OriginList {
public:
    /// An empty list.
    OriginList() = default;
    /// A view of `list` (an array, std::vector, std::span... of
    /// std::string_view), which must outlive this object.
    template <class R>
    requires std::ranges::contiguous_range<const R> && std::ranges::sized_range<const R> &&
        std::same_as<std::ranges::range_value_t<const R>, std::string_view>
        OriginList(const R& list)
    noexcept  // NOLINT(google-explicit-constructor)
        : list_(std::ranges::data(list)), n_(std::ranges::size(list)) {}
    /// A view of an ORIGIN payload that is a whole number of Origin-Entry
    /// fields (the reader checks this before handing one out).
    static OriginList from_wire(Bytes payload) noexcept {
        OriginList o;
        o.wire_ = payload.data();
        o.n_ = payload.size();
        return o;
    }

    /// True for a view of a received payload (from_wire()), false for a
    /// caller's array.
    bool is_wire() const noexcept { return wire_ != nullptr; }
    /// Number of origins (walks the payload when it is a wire view).
    std::size_t size() const noexcept {
        std::size_t k = 0;
        for (auto it = begin(); it != end(); ++it) ++k;
        return k;
    }

    /// Walks the origins in frame order. It refers to the OriginList object
    /// it came from, which must outlive it, and compares by position only:
    /// compare iterators of one list.
    class iterator {
    public:
        /// Forward only: a wire view can only be walked from the front.
        using iterator_category = std::forward_iterator_tag;
        /// Each origin is a view of the payload or of the caller's array.
        using value_type = std::string_view;
        /// Required by the iterator concepts; distances are never computed.
        using difference_type = std::ptrdiff_t;
        /// void: there is no operator->, the view is made on access.
        using pointer = void;
        /// A value, not a reference: wire entries are found on access.
        using reference = std::string_view;
        /// A singular iterator: it may only be assigned to.
        iterator() = default;
        /// The position `pos` in `l`: an index into a caller's array, or an
        /// octet offset into a wire payload. begin() and end() make these.
        iterator(const OriginList* l, std::size_t pos) noexcept : l_(l), pos_(pos) {}
        /// The origin at this position; not valid at end().
        std::string_view operator*() const noexcept {
            if (l_->list_) return l_->list_[pos_];
            const std::uint8_t* p = l_->wire_ + pos_;
            return {reinterpret_cast<const char*>(p + 2), std::size_t{p[0]} << 8 | p[1]};
        }
        /// Moves to the next origin (on a wire view, past this one's
        /// Origin-Len and octets).
        iterator& operator++() noexcept {
            if (l_->list_) {
                ++pos_;
            } else {
                const std::uint8_t* p = l_->wire_ + pos_;
                pos_ += 2 + (std::size_t{p[0]} << 8 | p[1]);
            }
            return *this;
        }
        /// Moves to the next origin; returns the old position.
        iterator operator++(int) noexcept {
            iterator t = *this;
            ++*this;
            return t;
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.pos_ == b.pos_; }

    private:
        const OriginList* l_ = nullptr;
        std::size_t pos_ = 0;  // index into list_, or byte offset into wire_
    };
    /// The first origin, in frame order.
    iterator begin() const noexcept { return {this, 0}; }
    /// Past the last origin.
    iterator end() const noexcept { return {this, n_}; }

private:
    const std::uint8_t* wire_ = nullptr;
    const std::string_view* list_ = nullptr;
    std::size_t n_ = 0;  // entries in list_, or payload bytes at wire_
};

/// ORIGIN (RFC 8336 §2); always on stream 0.
struct Origin {
    /// ASCII serialized origins (RFC 6454), each at most 65,535 octets; may
    /// be empty.
    OriginList origins{};
};

/// PRIORITY_UPDATE (RFC 9218 §7.1); always on stream 0.
struct PriorityUpdate {
    /// The stream whose priority changes, possibly not open yet; never 0 (a
    /// connection PROTOCOL_ERROR on receipt, WriteError::invalid_stream_id
    /// when writing).
    std::uint32_t prioritized_stream_id = 0;
    std::string_view field_value;  ///< a Priority header field value
};

/// A frame of a type this library does not know (RFC 9113 §5.5: such frames
/// are ignored by the protocol; the connection may hand them to the
/// application).
struct Unknown {
    /// A type is_known() is false for; write() refuses the others.
    std::uint8_t type = 0;
    /// All 8 bits, meaning unknown.
    std::uint8_t flags = 0;
    /// Any stream, 0 included.
    std::uint32_t stream_id = 0;
    /// The payload, uninterpreted.
    Bytes payload{};
};

/// A frame of a known extension type that its RFC says to ignore (a
/// malformed or misplaced ALTSVC or ORIGIN frame). Only reported, never
/// written.
struct Ignored {
    /// Type::altsvc or Type::origin.
    Type type{};
    /// As received.
    std::uint32_t stream_id = 0;
    /// The whole payload as received.
    Bytes payload{};
    std::string_view reason;  ///< static text
};

/// Every complete non-DATA frame the reader hands out.
using Frame = std::variant<Headers, Priority, RstStream, Settings, PushPromise, Ping, Goaway, WindowUpdate,
                           Continuation, Altsvc, Origin, PriorityUpdate, Unknown, Ignored>;

/// A piece of a DATA frame's Data field (RFC 9113 §6.1), padding removed.
/// Every DATA frame yields at least one chunk; the first has `first`, the
/// last has `last` (one chunk may have both). `data` may be empty (e.g. an
/// empty frame with END_STREAM).
struct DataChunk {
    /// Never 0: DATA on stream 0 is a connection error.
    std::uint32_t stream_id = 0;
    /// Data octets of this chunk: always a view of the input given to
    /// Reader::read(), never of the reader's buffer.
    Bytes data{};
    /// The chunk starts its frame and carries flow_controlled_length.
    bool first = false;
    /// The chunk ends its frame (padding consumed too).
    bool last = false;
    /// END_STREAM of the frame; set only on the last chunk.
    bool end_stream = false;
    /// Octets to charge to the stream and connection flow-control windows for
    /// this chunk: the whole frame payload, Pad Length and padding included
    /// (RFC 9113 §6.1, §6.9.1), on the first chunk; 0 on the others. Summing
    /// it over chunks charges each frame exactly once, as soon as it starts.
    std::uint32_t flow_controlled_length = 0;
    /// Pad Length when the frame is padded.
    std::optional<std::uint8_t> pad_length;
};

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/// Who sent the bytes a reader parses; enables the checks only that knowledge
/// allows.
enum class PeerRole : std::uint8_t {
    unknown,  ///< no role-dependent checks
    client,   ///< we are the server: PUSH_PROMISE is a PROTOCOL_ERROR (RFC 9113 §8.4)
    server,   ///< we are the client: ENABLE_PUSH=1, an odd promised stream id and
              ///< PRIORITY_UPDATE are PROTOCOL_ERRORs (RFC 9113 §6.5.2, §5.1.1;
              ///< RFC 9218 §7.1); ALTSVC is accepted (a server ignores it, RFC 7838 §4)
};

/// Reader configuration.
struct ReaderOptions {
    /// Our SETTINGS_MAX_FRAME_SIZE: the largest payload accepted and the most
    /// the reader buffers (RFC 9113 §4.2). Clamped to 2^14..2^24-1.
    std::uint32_t max_frame_size = default_max_frame_size;
    /// Who sends the input; enables the role checks listed under PeerRole.
    PeerRole peer = PeerRole::unknown;
    /// Enforce RFC 9113 §6.2 and §6.10: after HEADERS or PUSH_PROMISE without
    /// END_HEADERS only CONTINUATION frames of that stream may follow, and a
    /// CONTINUATION must follow one of those. Off only to look at lone frames.
    bool check_continuation = true;
};

/// What one Reader::read call produced.
enum class ReadStatus : std::uint8_t {
    need_input,        ///< all input was consumed; call again with more
    frame,             ///< `frame` holds a complete non-DATA frame
    data,              ///< `data` holds a piece of a DATA frame
    stream_error,      ///< `stream_error`; the rest of the frame is skipped, reading goes on
    connection_error,  ///< `connection_error`; the reader stays failed
};

/// The result of Reader::read. Only the member named by `status` is set.
///
/// Views in `frame` and `data` point either into the input of this call (a
/// DATA chunk always does; another frame does when its whole payload was in
/// this input) or into the reader's own buffer. Either way they stay valid
/// until the next call to read() (or until the reader is destroyed), provided
/// the caller keeps this call's input alive that long.
struct ReadResult {
    /// Which member below holds the item.
    ReadStatus status = ReadStatus::need_input;
    /// Input octets consumed by this call; the next call starts after them.
    std::size_t consumed = 0;
    /// Header of the frame the item comes from (not set for need_input).
    FrameHeader header{};
    /// With ReadStatus::frame: the frame, parsed and checked.
    Frame frame{};
    /// With ReadStatus::data: the next piece of a DATA frame.
    DataChunk data{};
    /// With ReadStatus::stream_error: the stream to reset and the code. The
    /// frame's payload is skipped and reading goes on with the next frame.
    StreamError stream_error{};
    /// With ReadStatus::connection_error: what to send in GOAWAY. Every later
    /// read() returns it again, until reset().
    ConnectionError connection_error{};
};

/// Incremental frame reader (pull style). Give it bytes as they arrive, split
/// anywhere; each call consumes some and returns at most one item. DATA
/// payload is never copied or held back: it is returned as views of the
/// input as soon as it arrives. Other frames are buffered up to their
/// declared length, which is first checked against max_frame_size(). The
/// buffer is reused: once it has grown to the largest frame seen, reading
/// allocates nothing.
///
///     for (;;) {
///         ReadResult r = reader.read(input);
///         input = input.subspan(r.consumed);
///         if (r.status == ReadStatus::need_input) break;
///         ... handle r ...
///     }
///
/// Validation: everything RFC 9113 §4 and §6 (and RFC 7838, 8336, 9218) says
/// about a frame on its own: lengths, stream 0 rules, padding, setting
/// values, zero increments, stream dependency on itself (PRIORITY only),
/// promised id 0, and with ReaderOptions the CONTINUATION sequence and the
/// role checks. Not checked here, because it needs stream state or the
/// decoded block: stream states and id order (§5.1), flow-control windows,
/// and a HEADERS frame depending on its own stream (that HEADERS must still
/// go through HPACK to keep the table in sync, RFC 9113 §4.3; the connection
/// checks `priority->dependency == stream_id` after decoding).
class Reader {
public:
    /// A reader whose payload buffer comes from `mr`, which must outlive it;
    /// `options` is copied, max_frame_size clamped to 2^14..2^24-1. Nothing is
    /// allocated until a non-DATA frame arrives split across reads.
    H2WIRE_API explicit Reader(const ReaderOptions& options = {},
                               std::pmr::memory_resource* mr = std::pmr::get_default_resource());
    /// Gives the payload buffer back to the memory resource.
    H2WIRE_API ~Reader();
    /// A moved-from reader may only be destroyed or assigned to.
    H2WIRE_API Reader(Reader&& other) noexcept;
    /// Frees this reader's buffer, then takes over `other`'s state and buffer,
    /// as the move constructor does.
    H2WIRE_API Reader& operator=(Reader&& other) noexcept;
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    /// Consumes a prefix of `input` and returns the next item. With
    /// need_input, all of `input` was consumed. After a connection error every
    /// call returns that error again with nothing consumed.
    H2WIRE_API ReadResult read(Bytes input);

    /// Changes the frame size limit (call when the peer ACKs a SETTINGS that
    /// changed our SETTINGS_MAX_FRAME_SIZE). It applies from the next frame
    /// header. Clamped to 2^14..2^24-1.
    H2WIRE_API void set_max_frame_size(std::uint32_t size) noexcept;
    /// The payload limit in force, as clamped.
    std::uint32_t max_frame_size() const noexcept { return options_.max_frame_size; }
    /// Changes who sends the input, and so the role checks (PeerRole). Call it
    /// at a frame boundary: a frame in progress would get some checks of each.
    void set_peer(PeerRole peer) noexcept { options_.peer = peer; }
    /// The options in force: max_frame_size as clamped and last set, peer as
    /// last set.
    const ReaderOptions& options() const noexcept { return options_; }

    /// True after a connection error.
    bool failed() const noexcept { return state_ == State::failed; }
    /// True between frames: no part of a frame is held or pending.
    bool at_frame_boundary() const noexcept { return state_ == State::header && header_have_ == 0; }
    /// True between HEADERS/PUSH_PROMISE without END_HEADERS and the
    /// CONTINUATION that ends the block (tracked when check_continuation is on).
    bool in_header_block() const noexcept { return block_stream_ != 0; }
    /// Capacity of the payload buffer (for tests of the no-allocation rule).
    std::size_t buffer_capacity() const noexcept { return capacity_; }

    /// Forgets any partial frame and a failure; keeps options and the buffer.
    H2WIRE_API void reset() noexcept;

private:
    enum class State : std::uint8_t {
        header,           // collecting the 9-octet frame header
        payload,          // buffering a non-DATA payload
        data_pad_length,  // DATA: waiting for the Pad Length octet
        data_payload,     // DATA: handing out the Data field as it arrives
        data_padding,     // DATA: discarding padding, then the last chunk
        skip,             // discarding the rest of a frame after a stream error
        failed,           // connection error: terminal
    };

    ReadResult fail(ReadResult& r, const std::uint8_t* begin, const std::uint8_t* p);
    void finish_frame(ReadResult& r, Bytes payload);

    ReaderOptions options_;
    State state_ = State::header;
    std::uint8_t header_have_ = 0;
    std::array<std::uint8_t, header_size> header_bytes_{};
    FrameHeader current_{};
    std::uint32_t remaining_ = 0;      // payload: octets buffered; data: Data octets left; skip: octets left
    std::uint32_t pad_remaining_ = 0;  // DATA padding octets left
    std::optional<std::uint8_t> pad_length_;
    bool data_first_ = false;
    std::uint32_t block_stream_ = 0;  // stream of an open header block, 0 if none
    ConnectionError fatal_{};
    // Payload buffer for non-DATA frames split across reads: raw memory from
    // mr_, grown (never shrunk) to the largest such frame, at most the max
    // frame size.
    std::pmr::memory_resource* mr_;
    std::uint8_t* buffer_ = nullptr;
    std::size_t capacity_ = 0;
};

// ---------------------------------------------------------------------------
// Checked writers
// ---------------------------------------------------------------------------

/// Why a checked writer refused to write.
enum class WriteError : std::uint8_t {
    /// The frame was written.
    none = 0,
    buffer_too_small,         ///< `out` is smaller than encoded_size()
    frame_too_large,          ///< payload over the peer's max frame size
    invalid_stream_id,        ///< stream id over 2^31-1
    stream_id_required,       ///< stream 0 where the type needs a stream
    stream_id_forbidden,      ///< a stream where the type needs stream 0
    invalid_padding,          ///< content given but not `length` octets
    invalid_priority,         ///< dependency over 2^31-1 or on the stream itself
    invalid_setting,          ///< a value check_setting() rejects
    settings_ack_not_empty,   ///< SETTINGS with ACK and entries (RFC 9113 §6.5)
    invalid_promised_stream,  ///< promised stream id 0 or over 2^31-1
    invalid_increment,        ///< WINDOW_UPDATE increment 0 or over 2^31-1
    invalid_last_stream,      ///< GOAWAY last stream id over 2^31-1
    invalid_origin,           ///< ALTSVC/ORIGIN origin over 65535 octets, or ALTSVC origin rule (RFC 7838 §4)
    known_type,               ///< Unknown with a type this library writes itself (use write_raw)
    not_writable,             ///< Ignored frames are only reported
};

/// A short English description of `e`.
H2WIRE_API std::string_view to_string(WriteError e) noexcept;

/// What a checked writer did: `size` octets written, or an error and nothing
/// written.
struct WriteResult {
    /// Octets written at the start of `out`; 0 on error.
    std::size_t size = 0;
    /// WriteError::none on success.
    WriteError error = WriteError::none;
    /// True when the frame was written.
    explicit operator bool() const noexcept { return error == WriteError::none; }
};

/// \name Encoded sizes
/// Octets the frame takes on the wire, header included. Never fails; a frame
/// the writer would refuse still has a size.
//@{
/// DATA: 9 + data, plus 1 + Pad Length when padded.
H2WIRE_API std::size_t encoded_size(const Data& f) noexcept;
/// HEADERS: 9 + fragment, plus 5 with priority and 1 + Pad Length when padded.
H2WIRE_API std::size_t encoded_size(const Headers& f) noexcept;
/// PRIORITY: always 14.
H2WIRE_API std::size_t encoded_size(const Priority& f) noexcept;
/// RST_STREAM: always 13.
H2WIRE_API std::size_t encoded_size(const RstStream& f) noexcept;
/// SETTINGS: 9 + 6 per entry.
H2WIRE_API std::size_t encoded_size(const Settings& f) noexcept;
/// PUSH_PROMISE: 13 + fragment, plus 1 + Pad Length when padded.
H2WIRE_API std::size_t encoded_size(const PushPromise& f) noexcept;
/// PING: always 17.
H2WIRE_API std::size_t encoded_size(const Ping& f) noexcept;
/// GOAWAY: 17 + debug data.
H2WIRE_API std::size_t encoded_size(const Goaway& f) noexcept;
/// WINDOW_UPDATE: always 13.
H2WIRE_API std::size_t encoded_size(const WindowUpdate& f) noexcept;
/// CONTINUATION: 9 + fragment.
H2WIRE_API std::size_t encoded_size(const Continuation& f) noexcept;
/// ALTSVC: 11 + origin + field value.
H2WIRE_API std::size_t encoded_size(const Altsvc& f) noexcept;
/// ORIGIN: 9, plus 2 + length for each origin.
H2WIRE_API std::size_t encoded_size(const Origin& f) noexcept;
/// PRIORITY_UPDATE: 13 + field value.
H2WIRE_API std::size_t encoded_size(const PriorityUpdate& f) noexcept;
/// An unknown type: 9 + payload.
H2WIRE_API std::size_t encoded_size(const Unknown& f) noexcept;
/// An ignored frame: 9 + its payload as received.
H2WIRE_API std::size_t encoded_size(const Ignored& f) noexcept;
/// That of the frame the variant holds.
H2WIRE_API std::size_t encoded_size(const Frame& f) noexcept;
//@}

/// \name Checked writers
/// Checked writers: validate `f` as RFC 9113 requires of a sender (stream 0
/// rules, ranges, padding, payload at most `max_frame_size` — the peer's
/// SETTINGS_MAX_FRAME_SIZE) and write it to `out`. Unused flags and the
/// reserved bit are written as 0. On error nothing is written.
//@{
/// DATA (RFC 9113 §6.1): needs a stream; Padding::content empty or `length`
/// octets.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Data& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// HEADERS (RFC 9113 §6.2): needs a stream; no priority dependency on itself;
/// padding as for DATA.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Headers& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// PRIORITY (RFC 9113 §6.3): needs a stream; no dependency on itself.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Priority& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// RST_STREAM (RFC 9113 §6.4): needs a stream.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const RstStream& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// SETTINGS (RFC 9113 §6.5), on stream 0: an ACK has no entries, and every
/// value passes check_setting().
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Settings& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// PUSH_PROMISE (RFC 9113 §6.6): needs a stream, and a promised stream 1..2^31-1.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const PushPromise& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// PING (RFC 9113 §6.7), on stream 0.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Ping& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// GOAWAY (RFC 9113 §6.8), on stream 0: last_stream_id at most 2^31-1.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Goaway& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// WINDOW_UPDATE (RFC 9113 §6.9), on any stream: an increment of 1..2^31-1.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const WindowUpdate& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// CONTINUATION (RFC 9113 §6.10): needs a stream. That it follows the right
/// frame is the caller's concern (write_split() sees to it).
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Continuation& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// ALTSVC (RFC 7838 §4): an origin, at most 65,535 octets, on stream 0 and
/// only there.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Altsvc& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// ORIGIN (RFC 8336 §2), on stream 0: no origin over 65,535 octets.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Origin& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// PRIORITY_UPDATE (RFC 9218 §7.1), on stream 0: a prioritized stream of
/// 1..2^31-1, else invalid_stream_id.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const PriorityUpdate& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// A frame of an unknown type, on any stream, its flags as given. A type this
/// library writes itself is refused (known_type): write_raw() writes
/// anything.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Unknown& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// Always WriteError::not_writable.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Ignored& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// The frame the variant holds, checked as its own overload does.
H2WIRE_API WriteResult write(std::span<std::uint8_t> out, const Frame& f,
                             std::uint32_t max_frame_size = default_max_frame_size) noexcept;
//@}

/// For scatter-gather output: checks `f` like write() and writes only the
/// frame header and the Pad Length octet (data_header_size(f) octets). The
/// caller then sends `f.data` and `f.padding->length` zero octets itself, so
/// the body is never copied.
H2WIRE_API WriteResult write_data_header(std::span<std::uint8_t> out, const Data& f,
                                         std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// Octets write_data_header() writes: 9, plus 1 for Pad Length when padded.
inline std::size_t data_header_size(const Data& f) noexcept {
    return header_size + (f.padding ? 1 : 0);
}

/// \name Field blocks split over CONTINUATION
/// A field block too large for one frame: `f` (HEADERS or PUSH_PROMISE,
/// whose `fragment` is the whole block and whose `end_headers` is ignored)
/// is written as that frame followed by as many CONTINUATION frames as the
/// block needs, each payload at most `max_frame_size` (RFC 9113 §4.3). The
/// frames must go out back to back. Padding, if any, goes on the first frame.
//@{
/// Octets write_split() writes for a HEADERS block: encoded_size() plus 9
/// for each CONTINUATION.
H2WIRE_API std::size_t encoded_size_split(const Headers& f, std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// Octets write_split() writes for a PUSH_PROMISE block: encoded_size() plus
/// 9 for each CONTINUATION.
H2WIRE_API std::size_t encoded_size_split(const PushPromise& f, std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// Writes HEADERS and its CONTINUATIONs, all or nothing. The first frame is
/// checked as write() checks it; `out` needs encoded_size_split() octets.
H2WIRE_API WriteResult write_split(std::span<std::uint8_t> out, const Headers& f,
                                   std::uint32_t max_frame_size = default_max_frame_size) noexcept;
/// Writes PUSH_PROMISE and its CONTINUATIONs, all or nothing. The first
/// frame is checked as write() checks it; `out` needs encoded_size_split()
/// octets.
H2WIRE_API WriteResult write_split(std::span<std::uint8_t> out, const PushPromise& f,
                                   std::uint32_t max_frame_size = default_max_frame_size) noexcept;
//@}

/// Appends a checked frame to a byte container (std::vector<std::uint8_t>,
/// std::pmr::vector<std::uint8_t>, ...). On error the container is unchanged.
template <class ByteContainer, class F>
WriteResult append(ByteContainer& out, const F& f, std::uint32_t max_frame_size = default_max_frame_size) {
    const std::size_t old = out.size();
    out.resize(old + encoded_size(f));
    const WriteResult r =
        write(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()) + old, out.size() - old), f,
              max_frame_size);
    out.resize(old + r.size);
    return r;
}

// ---------------------------------------------------------------------------
// Unchecked raw writer
// ---------------------------------------------------------------------------

/// Any frame, valid or not: for testing other HTTP/2 implementations.
struct RawFrame {
    /// Written as given: `header.length` need not match payload.size(), the
    /// type, flags, stream id and reserved bit may be anything (length is
    /// truncated to 24 bits, stream id to 31).
    FrameHeader header{};
    /// Written after the header as is, whatever header.length says.
    Bytes payload{};
};

/// header_size + payload.size().
inline std::size_t encoded_size(const RawFrame& f) noexcept {
    return header_size + f.payload.size();
}

/// UNCHECKED: writes `f` exactly as given, with no protocol check at all; the
/// result may be an invalid frame, which is the point. The only check is that
/// `out` has room; returns the octets written, or 0 if it has not.
H2WIRE_API std::size_t write_raw(std::span<std::uint8_t> out, const RawFrame& f) noexcept;

}  // namespace h2wire::frame
