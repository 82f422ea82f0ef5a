// One stream's state: lifecycle, windows, message progress, what it has
// queued to send, and the links that put it on the scheduler's lists.
// Stream objects are pooled by the connection and reused.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "connection/header_block.hpp"
#include "connection/stream_table.hpp"
#include "h2wire/events.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire {
class BodySource;
}  // namespace h2wire

namespace h2wire::detail {

/// What queued body octets live in when the connection must know when they
/// are no longer referred to: a Block of copied octets, or a Lend. Queued
/// segments and output chunks that point into it hold one reference each
/// (BlockPool::release() drops one).
struct Backing {
    std::uint32_t refs = 0;
    bool lend = false;  // a Lend, else a Block
};

/// Storage for body octets copied in by send_data(), shared by the stream
/// queue and by output chunks that point into it (zero-copy output), freed
/// when the last reference goes. Its octets follow the header. A body that
/// fits in less than `capacity` gets a block of its own size (a 16-octet
/// response holds a 64-octet block, not 16 KiB); a stream that goes on
/// queueing gets full blocks, which a connection-wide pool recycles.
struct alignas(16) Block : Backing {
    static constexpr std::uint32_t capacity = 16 * 1024;  // a full block
    std::uint32_t used = 0;
    std::uint32_t cap = capacity;
    Block* next_free = nullptr;

    std::uint8_t* bytes() noexcept { return reinterpret_cast<std::uint8_t*>(this + 1); }
    std::uint32_t room() const noexcept { return cap - used; }
    /// What a block of `cap` octets takes from the memory resource.
    static constexpr std::size_t footprint(std::uint32_t cap) noexcept { return sizeof(Block) + cap; }
};
static_assert(sizeof(Block) % 16 == 0, "the octets after the header stay 16-aligned");

struct Body;

/// Memory a BodyLender lent (body.cpp): given back to it with release() when
/// the last reference goes.
struct Lend : Backing {
    Lend* next_free = nullptr;
    Body* body = nullptr;
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
};

/// A stream's body source (Connection::set_body_source(), body.cpp). It
/// outlives the stream while lends of it are still referred to.
struct Body {
    BodySource* source = nullptr;
    std::uint32_t stream = 0;   // for the source's calls (the Stream may be gone)
    std::uint32_t lends = 0;    // lends not yet released
    bool parked = false;        // BodyStatus::wait: not asked until resume_body()
    bool ended = false;         // not asked again (end, abort, or the stream let go)
    bool detached = false;      // the stream let go: finished() once `lends` is 0
    bool complete = false;      // for finished()
    Body* next_free = nullptr;
};

/// A run of queued body octets: inside a Block (copied), a Lend, or the
/// caller's memory (send_data_borrowed).
struct SendSeg {
    SendSeg* next = nullptr;
    const std::uint8_t* data = nullptr;  // next octet not yet built into output
    std::uint32_t size = 0;              // octets left
    Backing* block = nullptr;            // owning block or lend (holds one ref), or null when borrowed
};

/// Where the peer's message on a stream stands (RFC 9113 §8.1).
enum class RecvPhase : std::uint8_t {
    headers,   ///< waiting for the request, or the response (1xx may come first)
    body,      ///< final header section received; DATA may follow
    trailers,  ///< trailers received
};

namespace stream_flag {
inline constexpr std::uint32_t local = 1u << 0;            // we initiated it
inline constexpr std::uint32_t head_request = 1u << 1;     // request method HEAD
inline constexpr std::uint32_t connect = 1u << 2;          // CONNECT (tunnel once 2xx)
inline constexpr std::uint32_t final_submitted = 1u << 3;  // our final header section is queued/sent
inline constexpr std::uint32_t end_submitted = 1u << 4;    // our END_STREAM is queued/sent
inline constexpr std::uint32_t end_after_data = 1u << 5;   // END_STREAM on the last queued DATA
inline constexpr std::uint32_t trailers_queued = 1u << 6;  // trailers wait after the DATA
inline constexpr std::uint32_t in_ready = 1u << 7;         // on the DATA round robin
inline constexpr std::uint32_t in_fifo = 1u << 8;          // on the header-block FIFO or the open queue
inline constexpr std::uint32_t in_wu = 1u << 9;            // on the WINDOW_UPDATE list
inline constexpr std::uint32_t want_writable = 1u << 10;   // blocked on its window with data waiting
inline constexpr std::uint32_t tunnel = 1u << 11;          // CONNECT established: no content-length
inline constexpr std::uint32_t no_length_check = 1u << 12; // content-length not checked (HEAD, 204, 304)
inline constexpr std::uint32_t ignore_recv = 1u << 13;     // peer's frames dropped (malformed, being reset)
inline constexpr std::uint32_t pushed = 1u << 14;          // a promised stream
inline constexpr std::uint32_t window_raised = 1u << 15;   // the peer raised our send window past its initial size
inline constexpr std::uint32_t window_used = 1u << 16;     // DATA went out since the peer's last WINDOW_UPDATE
inline constexpr std::uint32_t pull = 1u << 17;            // a body source to ask when nothing is queued (body.cpp)
inline constexpr std::uint32_t want_space = 1u << 18;      // send_data refused or cut short: StreamWritable owed
inline constexpr std::uint32_t sourced = 1u << 19;         // a body source is attached (Stream::body_state)
inline constexpr std::uint32_t announced = 1u << 20;       // the application knows it: StreamClosed is due
inline constexpr std::uint32_t finishing = 1u << 21;       // in_ready with only its end to send (Impl::finishing)
// Bits 24-31 count the 1xx responses received (Limits::max_informational_responses).
inline constexpr unsigned informational_shift = 24;
inline constexpr std::uint32_t informational_one = 1u << informational_shift;
}  // namespace stream_flag

// Stream::prio: the urgency (0-7) and these flags.
inline constexpr std::uint8_t prio_urgency = 0x07;
inline constexpr std::uint8_t prio_incremental = 0x08;
inline constexpr std::uint8_t prio_pinned = 0x10;         // set by the server application: the client's signals no longer apply
inline constexpr std::uint8_t prio_update_owed = 0x20;    // client: PRIORITY_UPDATE to send once the HEADERS went out

struct Stream {
    std::uint32_t id = 0;
    StreamState state = StreamState::idle;
    RecvPhase recv_phase = RecvPhase::headers;
    std::uint16_t leading_blocks = 0;  // header blocks waiting on the FIFO / open queue
    std::uint32_t flags = 0;
    std::uint32_t recv_credit = 0;     // consumed octets not yet given back by WINDOW_UPDATE

    // Flow control (RFC 9113 §5.2, §6.9): what we may send (may go negative,
    // §6.9.2) and what the peer may still send us. Both stay within
    // ±(2^31-1): windows never pass 2^31-1 and neither side sends past one.
    std::int32_t send_window = 0;
    std::int32_t recv_window = 0;
    std::uint32_t unconsumed = 0;      // manual flow control: delivered, not yet consume()d
    std::uint32_t queued_owned = 0;    // queued octets counted against max_buffered_per_stream

    // How it ended, for StreamClosed: set when it closes (a clean end: the
    // side of the last END_STREAM).
    ErrorCode close_code = ErrorCode::no_error;
    Initiator close_by = Initiator::local;
    // RFC 9218 priority: urgency in bits 0-2, then the prio_* flags.
    std::uint8_t prio = default_urgency;
    void* user_data = nullptr;         // the application's (Connection::set_stream_user_data)
    std::uint32_t announced_at = 0;    // index in Impl::events of its RequestReceived / PushPromiseReceived
    std::uint32_t heap_pos = 0;        // place in ReadySet's heap (non-incremental, in_ready)

    // RFC 9113 §8.1.1: declared content-length of the peer's message, -1 if none.
    std::int64_t content_length = -1;
    std::uint64_t data_received = 0;

    // Send side: queued body, in order.
    SendSeg* seg_head = nullptr;
    SendSeg* seg_tail = nullptr;
    // send_data()'s open block or, once a body source is attached (it takes
    // the rest of the body: send_data() is refused from then on, and the
    // open block is let go), the source's state: one slot, so that the
    // source costs an idle stream nothing.
    union {
        Block* open_block = nullptr;   // block appended to by send_data (holds one ref)
        Body* body_state;              // with stream_flag::sourced (body.cpp)
    };
    std::uint64_t queued = 0;          // octets queued and not yet built into output
    std::uint64_t inflight = 0;        // octets of DATA built into output, not yet consumed
    HeaderStore hdr;                   // queued header blocks, encoded when sent

    // DATA round robin (circular); ready_next also links the free list.
    Stream* ready_prev = nullptr;
    Stream* ready_next = nullptr;

    /// Back to a fresh stream for reuse (the header store must be empty and
    /// recycled).
    void recycle() noexcept {
        id = 0;
        state = StreamState::idle;
        recv_phase = RecvPhase::headers;
        leading_blocks = 0;
        flags = 0;
        recv_credit = 0;
        send_window = recv_window = 0;
        unconsumed = queued_owned = 0;
        close_code = ErrorCode::no_error;
        close_by = Initiator::local;
        prio = default_urgency;
        user_data = nullptr;
        content_length = -1;
        data_received = 0;
        seg_head = seg_tail = nullptr;
        open_block = nullptr;
        queued = inflight = 0;
        ready_prev = ready_next = nullptr;
    }

    unsigned urgency() const noexcept { return prio & prio_urgency; }
    bool incremental() const noexcept { return (prio & prio_incremental) != 0; }
    Priority priority() const noexcept { return Priority{static_cast<std::uint8_t>(urgency()), incremental()}; }
    /// Sets urgency and incremental, keeping the other prio_* flags (the
    /// caller takes the stream out of the ReadySet first).
    void set_priority(Priority p) noexcept {
        prio = static_cast<std::uint8_t>((prio & ~(prio_urgency | prio_incremental)) | (p.urgency & prio_urgency) |
                                         (p.incremental ? prio_incremental : 0));
    }

    /// The body source's state, or null.
    Body* body() const noexcept { return has(stream_flag::sourced) ? body_state : nullptr; }
    bool has(std::uint32_t f) const noexcept { return (flags & f) != 0; }
    void set(std::uint32_t f) noexcept { flags |= f; }
    void clear(std::uint32_t f) noexcept { flags &= ~f; }
};

inline Stream* StreamMap::find(std::uint32_t id) const noexcept {
    if (size_ == 0) return nullptr;
    for (std::size_t i = home(id);; i = (i + 1) & (cap_ - 1)) {
        Stream* s = slots_[i];
        if (!s) return nullptr;
        if (s->id == id) return s;
    }
}

/// A frame header (RFC 9113 §4.1) written in place: what frame::write_header
/// does, inlined for the per-frame paths.
inline void put_frame_header(std::uint8_t* p, std::uint32_t length, std::uint8_t type, std::uint8_t flags,
                             std::uint32_t stream) noexcept {
    p[0] = static_cast<std::uint8_t>(length >> 16);
    p[1] = static_cast<std::uint8_t>(length >> 8);
    p[2] = static_cast<std::uint8_t>(length);
    p[3] = type;
    p[4] = flags;
    p[5] = static_cast<std::uint8_t>((stream >> 24) & 0x7f);
    p[6] = static_cast<std::uint8_t>(stream >> 16);
    p[7] = static_cast<std::uint8_t>(stream >> 8);
    p[8] = static_cast<std::uint8_t>(stream);
}

/// A DATA frame header without flags (RFC 9113 §4.1, §6.1): length, type 0,
/// flags 0, reserved bit 0, stream; the first eight octets in one store.
inline void put_data_header(std::uint8_t* p, std::uint32_t length, std::uint32_t stream) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        const std::uint64_t head = std::uint64_t{length} << 40 | ((stream >> 8) & 0x7fffffu);
        const std::uint64_t wire = __builtin_bswap64(head);
        std::memcpy(p, &wire, 8);
        p[8] = static_cast<std::uint8_t>(stream);
    } else {
        put_frame_header(p, length, 0, 0, stream);
    }
}

}  // namespace h2wire::detail

#pragma GCC visibility pop
