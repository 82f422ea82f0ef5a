/// \file
/// Observability of a Connection: a frame trace the caller routes to its
/// logger (FrameTrace), and counters kept in place (ConnectionCounters). With
/// no trace attached a frame costs one test of a null pointer; the counters
/// are plain integers. No clock, no I/O, no allocation per frame.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "h2wire/error.hpp"
#include "h2wire/export.hpp"
#include "h2wire/frame.hpp"
#include "h2wire/header.hpp"

namespace h2wire {

/// Which way a traced frame went.
enum class Direction : std::uint8_t {
    received,  ///< read from the peer's bytes by Connection::receive()
    sent,      ///< built into the output (see FrameTrace)
};

/// "recv" or "send", for logs.
H2WIRE_API std::string_view to_string(Direction d) noexcept;

/// One frame as the trace sees it (RFC 9113 §4.1 header, and the few payload
/// fields a log needs). Views in it are valid only during
/// FrameTrace::on_frame().
struct TracedFrame {
    /// Received or sent.
    Direction direction = Direction::received;
    /// The frame type as on the wire: any 8-bit value, so unknown and
    /// extension types show as they are (frame::to_string() names the known
    /// ones).
    std::uint8_t type = 0;
    /// All 8 flag bits (frame::flags), unused ones included.
    std::uint8_t flags = 0;
    /// Stream identifier (31 bits); 0 for connection frames.
    std::uint32_t stream = 0;
    /// Payload length (the frame is 9 octets more on the wire).
    std::uint32_t length = 0;
    /// RST_STREAM and GOAWAY: the error code; ErrorCode::no_error otherwise.
    ErrorCode error_code = ErrorCode::no_error;
    /// PUSH_PROMISE: the promised stream; GOAWAY: the last stream id; 0
    /// otherwise.
    std::uint32_t related_stream = 0;
    /// WINDOW_UPDATE: the window size increment; 0 otherwise.
    std::uint32_t window_increment = 0;
    /// True when `headers` holds the decoded fields of a header block: on
    /// the frame that ends the block (HEADERS or PUSH_PROMISE with
    /// END_HEADERS, or its last CONTINUATION), when the trace asked for
    /// headers (FrameTrace::wants_headers()) and the block could be decoded.
    /// The list is the whole block's, delivered once; earlier frames of the
    /// block carry none.
    bool has_headers = false;
    /// The block's fields (see has_headers): received ones as the peer sent
    /// them (a refused or ignored stream's too); sent ones as they went into
    /// the output (HPACK-decoded from it, so exactly what the peer will see).
    std::span<const Field> headers;

    /// The known frame type, or a value frame::is_known() rejects.
    frame::Type frame_type() const noexcept { return static_cast<frame::Type>(type); }
    /// True if any bit of `flag` is set (SETTINGS or PING ACK: frame::flags::ack).
    bool has(std::uint8_t flag) const noexcept { return (flags & flag) != 0; }
};

/// A frame trace: derive from it, attach it with Config::trace or
/// Connection::set_trace(), and on_frame() hears every frame the connection
/// reads or builds (nghttp2's on_frame_recv_callback and
/// on_frame_send_callback in one).
///
/// - Received frames are reported as the connection reads them: a DATA
///   frame once its header has arrived (its payload may still be on the
///   way), other frames once whole, each before the events it causes are
///   returned. A frame the reader rejects as a connection error is not
///   reported (ConnectionTerminated says why). The client preface is not a
///   frame.
/// - Sent frames are reported when they are built into the output
///   (pending_output(), pending_output_vectors()): "queued to the output",
///   not "written to the socket", which is the caller's to know.
///
/// on_frame() is called from inside the connection's own calls: it must not
/// call the connection's non-const members and must not throw. It stays
/// referenced until detached (set_trace(nullptr)) or the connection ends.
class FrameTrace {
public:
    /// `headers`: decoded header lists are wanted (TracedFrame::headers).
    /// Decoding sent header blocks costs a second HPACK decoder, created
    /// when the trace is attached; it works only when the trace is attached
    /// before the first header block is built (a later one sees received
    /// headers only).
    explicit FrameTrace(bool headers = false) noexcept : headers_(headers) {}
    /// One frame, received or sent.
    virtual void on_frame(const TracedFrame& frame) = 0;
    /// Whether decoded header lists were asked for, as constructed.
    bool wants_headers() const noexcept { return headers_; }
    /// Destroys the trace; detach it first if the connection lives on.
    virtual ~FrameTrace() = default;

protected:
    /// Copyable by derived classes only.
    FrameTrace(const FrameTrace&) = default;
    /// Assignable by derived classes only.
    FrameTrace& operator=(const FrameTrace&) = default;

private:
    bool headers_;
};

/// Number of frame type buckets in FrameCounts.
inline constexpr std::size_t frame_type_buckets = 14;

/// The bucket of frame type `type`: 0 to 9 for the RFC 9113 types (DATA to
/// CONTINUATION), 10 ALTSVC (0xa), 11 ORIGIN (0xc), 12 PRIORITY_UPDATE
/// (0x10), 13 any other type (unknown or extension).
constexpr std::size_t frame_type_bucket(std::uint8_t type) noexcept {
    return type < 0xa ? type : type == 0xa ? 10 : type == 0xc ? 11 : type == 0x10 ? 12 : 13;
}

/// Frames and octets of one direction, per frame type bucket
/// (frame_type_bucket()). Octets count whole frames: the 9-octet header and
/// the payload (padding included).
struct FrameCounts {
    /// Frames, per bucket.
    std::array<std::uint64_t, frame_type_buckets> frames{};
    /// Octets of those frames, per bucket.
    std::array<std::uint64_t, frame_type_buckets> octets{};

    /// Frames of type `t` (an unknown type: all of the "other" bucket).
    std::uint64_t frames_of(frame::Type t) const noexcept {
        return frames[frame_type_bucket(static_cast<std::uint8_t>(t))];
    }
    /// Octets of frames of type `t`.
    std::uint64_t octets_of(frame::Type t) const noexcept {
        return octets[frame_type_bucket(static_cast<std::uint8_t>(t))];
    }
    /// Frames of every type.
    std::uint64_t total_frames() const noexcept {
        std::uint64_t n = 0;
        for (const std::uint64_t f : frames) n += f;
        return n;
    }
    /// Octets of every type.
    std::uint64_t total_octets() const noexcept {
        std::uint64_t n = 0;
        for (const std::uint64_t o : octets) n += o;
        return n;
    }
};

/// A count for each end of the connection.
struct BySide {
    std::uint64_t local = 0;  ///< by us
    std::uint64_t peer = 0;   ///< by the peer
};

/// The members of Limits, to say which one tripped.
enum class Limit : std::uint8_t {
    max_header_list_size,         ///< a header list refused (stream error)
    max_header_block_size,        ///< a header block too large (connection error)
    max_continuation_frames,      ///< too many CONTINUATIONs (connection error)
    max_concurrent_streams,       ///< a peer stream refused (REFUSED_STREAM)
    max_field_size,               ///< one field too large (connection error)
    max_queued_control_frames,    ///< answers unread by the peer (connection error)
    max_reset_streams,            ///< the oldest reset stream forgotten
    max_rapid_resets,             ///< rapid reset (connection error)
    max_buffered_per_stream,      ///< send_data() refused or cut short
    max_queued_requests,          ///< submit_request() refused
    max_empty_frames,             ///< empty-frame flood (connection error)
    max_informational_responses,  ///< too many 1xx (stream error)
    max_connection_memory,        ///< the memory budget: a refusal or the connection's end
    stream_walk_budget,           ///< work across all streams (connection error)
    max_reserved_streams,         ///< a server's promise refused (REFUSED_STREAM)
};

/// Number of Limit values.
inline constexpr std::size_t limit_count = 15;

/// The Limits member's name ("max_header_list_size", ...); static text.
H2WIRE_API std::string_view to_string(Limit l) noexcept;

/// Counters of one connection since it was built (Connection::counters()).
/// Plain integers kept up to date in place; nothing is reset.
struct ConnectionCounters {
    /// Frames read from the peer (the frames FrameTrace reports as
    /// received).
    FrameCounts received;
    /// Frames built into the output (the frames FrameTrace reports as sent).
    FrameCounts sent;
    /// Streams that left the idle state: ours when the HEADERS or
    /// PUSH_PROMISE that opens or reserves them is built into the output,
    /// the peer's when its HEADERS or PUSH_PROMISE is accepted (refused
    /// ones are counted in streams_refused only).
    BySide streams_opened;
    /// RST_STREAM frames: local, those we queued (refusals included); peer,
    /// those received for a stream that was still open.
    BySide streams_reset;
    /// Streams refused: local, RST_STREAM REFUSED_STREAM we queued; peer,
    /// RST_STREAM REFUSED_STREAM received for a stream still open, and our
    /// streams above the last stream id of the peer's GOAWAY.
    BySide streams_refused;
    /// Times a stream had body to send (queued, or a body source to ask) and
    /// started waiting for its own send window (RFC 9113 §6.9.1): counted
    /// once per wait, which ends when a WINDOW_UPDATE or SETTINGS raises the
    /// window.
    std::uint64_t stream_stalls = 0;
    /// Times DATA was ready to go (window on its stream) and the connection
    /// send window started holding it back: counted once per wait, which
    /// ends when a WINDOW_UPDATE on stream 0 opens the window.
    std::uint64_t connection_stalls = 0;
    /// Times each limit refused or ended something, indexed by Limit.
    std::array<std::uint64_t, limit_count> limits_tripped{};

    /// limits_tripped for `l`.
    std::uint64_t tripped(Limit l) const noexcept { return limits_tripped[static_cast<std::size_t>(l)]; }
};

}  // namespace h2wire
