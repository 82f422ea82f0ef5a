// Stream lifecycle (RFC 9113 §5.1) as data, and the containers that find
// streams by id: an open-addressing map of live streams and a bounded ledger
// of streams we reset recently.
#pragma once

#include <cstddef>
#include <array>
#include <cstdint>
#include <memory_resource>

#include "h2wire/connection.hpp"
#include "h2wire/error.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::detail {

struct Stream;

/* RFC 9113 §5.1, Figure 2:

                                +--------+
                        send PP |        | recv PP
                       ,--------+  idle  +--------.
                      /         |        |         \
                     v          +--------+          v
              +----------+          |           +----------+
              |          |          | send H /  |          |
       ,------+ reserved |          | recv H    | reserved +------.
       |      | (local)  |          |           | (remote) |      |
       |      +---+------+          v           +------+---+      |
       |          |             +--------+             |          |
       |          |     recv ES |        | send ES     |          |
       |   send H |     ,-------+  open  +-------.     | recv H   |
       |          |    /        |        |        \    |          |
       |          v   v         +---+----+         v   v          |
       |      +----------+          |           +----------+      |
       |      |   half-  |          |           |   half-  |      |
       |      |  closed  |          | send R /  |  closed  |      |
       |      | (remote) |          | recv R    | (local)  |      |
       |      +----+-----+          |           +-----+----+      |
       |           |                |                 |           |
       |           | send ES /      |       recv ES / |           |
       |           |  send R /      v        send R / |           |
       |           |  recv R    +--------+   recv R   |           |
       | send R /  `----------->|        |<-----------'  send R / |
       | recv R                 | closed |               recv R   |
       `----------------------->|        |<-----------------------'
                                +--------+

     H: HEADERS (with its CONTINUATIONs), ES: END_STREAM, R: RST_STREAM,
     PP: PUSH_PROMISE (transitions of the promised stream).

   END_STREAM is an input of its own (§5.1: "processed as a separate event to
   the frame that bears it"), so a HEADERS with END_STREAM is two steps.
*/
using StreamState = h2wire::StreamState;  // public (connection.hpp): stream_state() reports it as is
inline constexpr std::size_t stream_state_count = 7;
static_assert(static_cast<std::size_t>(StreamState::closed) + 1 == stream_state_count);

/// What happens to a stream: frames received from the peer (recv_*) and
/// frames we send (send_*).
enum class StreamInput : std::uint8_t {
    recv_headers,        ///< HEADERS (or the block it starts)
    recv_data,           ///< DATA
    recv_end_stream,     ///< END_STREAM on a received HEADERS or DATA
    recv_priority,       ///< PRIORITY
    recv_rst_stream,     ///< RST_STREAM
    recv_window_update,  ///< WINDOW_UPDATE
    recv_push_promise,   ///< PUSH_PROMISE carried on this (associated) stream
    recv_promised,       ///< this stream is promised by a received PUSH_PROMISE
    send_headers,
    send_data,
    send_end_stream,
    send_rst_stream,
    send_push_promise,   ///< we send PUSH_PROMISE on this (associated) stream
    send_promised,       ///< this stream is promised by a PUSH_PROMISE we send
};
inline constexpr std::size_t stream_input_count = 14;

enum class Outcome : std::uint8_t {
    accept,            ///< go to `next`
    stream_error,      ///< RST_STREAM with `code` (RFC 9113 §5.4.2)
    connection_error,  ///< GOAWAY with `code` (RFC 9113 §5.4.1)
    invalid,           ///< we may not send this now (API misuse)
};

struct Transition {
    Outcome outcome = Outcome::invalid;
    StreamState next = StreamState::idle;
    ErrorCode code = ErrorCode::no_error;
};

/// The transition of `input` in `state`: the table below has an entry for
/// every pair, with the RFC text behind each row.
namespace table_detail {

using S = StreamState;
inline constexpr ErrorCode protocol = ErrorCode::protocol_error;
inline constexpr ErrorCode closed = ErrorCode::stream_closed;

constexpr Transition ok(S next) { return {Outcome::accept, next, ErrorCode::no_error}; }
constexpr Transition conn(ErrorCode c) { return {Outcome::connection_error, S::closed, c}; }
constexpr Transition strm(ErrorCode c) { return {Outcome::stream_error, S::closed, c}; }
constexpr Transition no() { return {Outcome::invalid, S::closed, ErrorCode::no_error}; }

// One row per state, one column per StreamInput, in declaration order:
//   recv: H, DATA, ES, PRIORITY, RST, WINDOW_UPDATE, PP (associated), PP (promised)
//   send: H, DATA, ES, RST, PP (associated), PP (promised)
// Missing pairs do not exist: every cell is spelled out.
inline constexpr std::array<std::array<Transition, stream_input_count>, stream_state_count> table = {{
    // idle. §5.1: "Receiving any frame other than HEADERS or PRIORITY on a
    // stream in this state MUST be treated as a connection error of type
    // PROTOCOL_ERROR." RST_STREAM "MUST NOT be sent for a stream in the idle
    // state" (§6.4).
    {{ok(S::open), conn(protocol), conn(protocol), ok(S::idle), conn(protocol), conn(protocol), conn(protocol),
      ok(S::reserved_remote),
      ok(S::open), no(), no(), no(), no(), ok(S::reserved_local)}},
    // reserved (local). §5.1: "Receiving any type of frame other than
    // RST_STREAM, PRIORITY, or WINDOW_UPDATE on a stream in this state MUST be
    // treated as a connection error of type PROTOCOL_ERROR." We may send
    // HEADERS (-> half-closed (remote)) or RST_STREAM.
    {{conn(protocol), conn(protocol), conn(protocol), ok(S::reserved_local), ok(S::closed),
      ok(S::reserved_local), conn(protocol), conn(protocol),
      ok(S::half_closed_remote), no(), no(), ok(S::closed), no(), no()}},
    // reserved (remote). §5.1: "Receiving any type of frame other than
    // HEADERS, RST_STREAM, or PRIORITY on a stream in this state MUST be
    // treated as a connection error of type PROTOCOL_ERROR." HEADERS moves it
    // to half-closed (local); we may send RST_STREAM (and WINDOW_UPDATE).
    {{ok(S::half_closed_local), conn(protocol), conn(protocol), ok(S::reserved_remote), ok(S::closed),
      conn(protocol), conn(protocol), conn(protocol),
      no(), no(), no(), ok(S::closed), no(), no()}},
    // open. §5.1: "frames of any type" in both directions; END_STREAM
    // half-closes, RST_STREAM closes. §6.6: PUSH_PROMISE on an open stream.
    {{ok(S::open), ok(S::open), ok(S::half_closed_remote), ok(S::open), ok(S::closed), ok(S::open), ok(S::open),
      conn(protocol),
      ok(S::open), ok(S::open), ok(S::half_closed_local), ok(S::closed), ok(S::open), no()}},
    // half-closed (local). §5.1: we sent END_STREAM; the peer may send
    // anything; its END_STREAM or a RST_STREAM closes. §6.6: a PUSH_PROMISE
    // on a stream that is "half-closed (local)" is fine for the receiver.
    {{ok(S::half_closed_local), ok(S::half_closed_local), ok(S::closed), ok(S::half_closed_local), ok(S::closed),
      ok(S::half_closed_local), ok(S::half_closed_local), conn(protocol),
      no(), no(), no(), ok(S::closed), no(), no()}},
    // half-closed (remote). §5.1: "If an endpoint receives additional frames,
    // other than WINDOW_UPDATE, PRIORITY, or RST_STREAM, for a stream that is
    // in this state, it MUST respond with a stream error of type
    // STREAM_CLOSED." §6.6: PUSH_PROMISE on a stream that is neither "open"
    // nor "half-closed (local)" is a connection PROTOCOL_ERROR.
    {{strm(closed), strm(closed), strm(closed), ok(S::half_closed_remote), ok(S::closed),
      ok(S::half_closed_remote), conn(protocol), conn(protocol),
      ok(S::half_closed_remote), ok(S::half_closed_remote), ok(S::closed), ok(S::closed), ok(S::half_closed_remote),
      no()}},
    // closed. §5.1: "An endpoint that receives any frame other than PRIORITY
    // after receiving a RST_STREAM MUST treat that as a stream error of type
    // STREAM_CLOSED"; WINDOW_UPDATE and RST_STREAM may arrive "for a short
    // period" after END_STREAM and are ignored. (Frames on streams we reset
    // are ignored before this table is consulted, see ResetLedger.)
    {{strm(closed), strm(closed), strm(closed), ok(S::closed), ok(S::closed), ok(S::closed), conn(protocol),
      conn(protocol),
      no(), no(), no(), no(), no(), no()}},
}};

}  // namespace table_detail

inline Transition transition(StreamState state, StreamInput input) noexcept {
    return table_detail::table[static_cast<std::size_t>(state)][static_cast<std::size_t>(input)];
}


/// "open" or "half-closed (local|remote)": counts against
/// SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §5.1.2).
constexpr bool is_active(StreamState s) noexcept {
    return s == StreamState::open || s == StreamState::half_closed_local || s == StreamState::half_closed_remote;
}
/// We may still send DATA or HEADERS (our side not ended).
constexpr bool can_send(StreamState s) noexcept {
    return s == StreamState::open || s == StreamState::half_closed_remote;
}
/// The peer may still send DATA or HEADERS.
constexpr bool can_receive(StreamState s) noexcept {
    return s == StreamState::open || s == StreamState::half_closed_local;
}

/// Live streams by id: open addressing with linear probing over a power-of-2
/// array of pointers, at most half full, deletion by backward shift (no
/// tombstones). Stream ids are never reused, so lookups are exact.
class StreamMap {
public:
    explicit StreamMap(std::pmr::memory_resource* mr) noexcept : mr_(mr) {}
    ~StreamMap();
    StreamMap(const StreamMap&) = delete;
    StreamMap& operator=(const StreamMap&) = delete;

    Stream* find(std::uint32_t id) const noexcept;  // defined in stream.hpp (needs Stream)
    void insert(Stream* s);
    void erase(std::uint32_t id) noexcept;
    std::size_t size() const noexcept { return size_; }
    /// Gives back slots a burst left: the smallest capacity that keeps the
    /// map at most half full (none when empty). When the smaller array cannot
    /// be had, the map stays as it is.
    void shrink() noexcept;
    std::size_t capacity() const noexcept { return cap_; }

    /// Calls f(Stream*) for every stream (order unspecified). `f` must not
    /// insert or erase.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t i = 0; i < cap_; ++i)
            if (slots_[i]) f(slots_[i]);
    }

private:
    std::size_t home(std::uint32_t id) const noexcept {
        // Ids of one initiator step by 2: drop the parity bit, then spread.
        return static_cast<std::size_t>(((id >> 1) ^ (id << 31)) * 0x9E3779B1u) & (cap_ - 1);
    }
    void grow();
    void rehash(std::size_t new_cap);

    std::pmr::memory_resource* mr_;
    Stream** slots_ = nullptr;
    std::size_t cap_ = 0;
    std::size_t size_ = 0;
};

/// Ids of streams we reset recently (RST_STREAM sent, including refusals):
/// frames that arrive for them afterwards are ignored (RFC 9113 §5.1,
/// "closed": "An endpoint MUST ignore frames that it receives on closed
/// streams after it has sent a RST_STREAM frame"). A ring of at most
/// `capacity` ids; the oldest is forgotten first.
class ResetLedger {
public:
    ResetLedger(std::pmr::memory_resource* mr, std::uint32_t capacity) noexcept
        : mr_(mr), max_(capacity), key_(reinterpret_cast<std::uintptr_t>(this) * 0xD6E8FEB86659FD93ull) {}
    ~ResetLedger();
    ResetLedger(const ResetLedger&) = delete;
    ResetLedger& operator=(const ResetLedger&) = delete;

    void add(std::uint32_t id);
    bool contains(std::uint32_t id) const noexcept;
    std::size_t size() const noexcept { return size_; }
    /// Ids forgotten to make room (Limits::max_reset_streams tripped).
    std::uint64_t forgotten() const noexcept { return forgotten_; }

private:
    // The set has at least twice as many slots as the ring (a power of two).
    static std::uint32_t table_size(std::uint32_t cap) noexcept {
        std::uint32_t n = 32;
        while (n < cap * 2) n *= 2;
        return n;
    }
    static std::size_t storage_size(std::uint32_t cap) noexcept;
    // The peer picks the ids it gets reset: the hash is keyed with where
    // this object lives (unknown to the peer under ASLR), so it cannot pick
    // ids that all land in one run.
    std::uint32_t slot_of(std::uint32_t id, std::uint32_t mask) const noexcept {
        const std::uint64_t h = (std::uint64_t{id} ^ key_) * 0x9E3779B97F4A7C15ull;
        return static_cast<std::uint32_t>(h >> 40) & mask;
    }
    void grow(std::uint32_t cap);
    void free_storage() noexcept;
    void insert_into_table(std::uint32_t id) noexcept;
    void erase_from_table(std::uint32_t id) noexcept;

    std::pmr::memory_resource* mr_;
    std::uint32_t max_;
    std::uint64_t key_;
    std::uint32_t* ring_ = nullptr;   // ids in the order added; `table_` follows in the same allocation
    std::uint32_t* table_ = nullptr;  // 0 = empty slot (stream 0 is never reset)
    std::uint32_t cap_ = 0;   // ring slots allocated, grows to max_
    std::uint32_t size_ = 0;
    std::uint32_t next_ = 0;  // the oldest id once full
    std::uint64_t forgotten_ = 0;  // ids dropped to make room
};

}  // namespace h2wire::detail

#pragma GCC visibility pop
