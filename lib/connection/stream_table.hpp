// Stream lifecycle (RFC 9113 §5.1) as data, and the containers that find
// streams by id: an open-addressing map of live streams and a bounded ledger
// of streams we reset recently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory_resource>

#include "h2wire/error.hpp"

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
enum class StreamState : std::uint8_t {
    idle,
    reserved_local,
    reserved_remote,
    open,
    half_closed_local,
    half_closed_remote,
    closed,
};
inline constexpr std::size_t stream_state_count = 7;

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

/// The transition of `input` in `state`. Every pair has an entry; see
/// stream_table.cpp for the table and the RFC text behind each row.
Transition transition(StreamState state, StreamInput input) noexcept;

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

    Stream* find(std::uint32_t id) const noexcept;
    void insert(Stream* s);
    void erase(std::uint32_t id) noexcept;
    std::size_t size() const noexcept { return size_; }

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
    ResetLedger(std::pmr::memory_resource* mr, std::uint32_t capacity) noexcept : mr_(mr), max_(capacity) {}
    ~ResetLedger();
    ResetLedger(const ResetLedger&) = delete;
    ResetLedger& operator=(const ResetLedger&) = delete;

    void add(std::uint32_t id);
    bool contains(std::uint32_t id) const noexcept;
    std::size_t size() const noexcept { return size_; }

private:
    std::pmr::memory_resource* mr_;
    std::uint32_t max_;
    std::uint32_t* ids_ = nullptr;
    std::uint32_t cap_ = 0;   // allocated slots, grows to max_
    std::uint32_t size_ = 0;
    std::uint32_t next_ = 0;  // where the next id goes once full
};

}  // namespace h2wire::detail
