// Flow control of the connection (RFC 9113 §5.2, §6.9): WINDOW_UPDATE in and
// out, SETTINGS_INITIAL_WINDOW_SIZE changes, consume().
#include "connection/flow_control.hpp"

#include <algorithm>
#include <memory_resource>
#include <vector>

#include "connection/connection_impl.hpp"

namespace h2wire {

using detail::Stream;
using detail::StreamState;
namespace sf = detail::stream_flag;

// Limits::max_empty_frames: a WINDOW_UPDATE is useful when it gives back
// window our DATA used (DATA went out on the stream since the last one, or
// the window is below where it started), or raises a window past its start
// once (peers that want larger windows do that up front). Any other, such as a stream of
// 1-octet increments on a window we never used, is counted as empty.
void Connection::Impl::on_window_update(const frame::WindowUpdate& f) {
    if (f.stream_id == 0) {
        if (conn_send_window < conn_send_high || !conn_window_raised) ++useful_frames;
        else count_empty_frame();
        conn_window_raised = true;
        if (closed) return;
        // RFC 9113 §6.9.1: a connection window past 2^31-1 is a connection
        // FLOW_CONTROL_ERROR.
        if (!detail::add_increment(conn_send_window, f.increment)) {
            connection_error(ErrorCode::flow_control_error, "WINDOW_UPDATE takes the connection window past 2^31-1");
            return;
        }
        conn_send_high = std::max(conn_send_high, conn_send_window);
        if (conn_blocked && conn_send_window > 0) {
            conn_blocked = false;
            report(StreamWritable{0, static_cast<std::uint32_t>(conn_send_window)});
        }
        return;
    }
    Stream* s = find(f.stream_id);
    if (!s) {
        // RFC 9113 §5.1: WINDOW_UPDATE on an idle stream is a connection
        // PROTOCOL_ERROR; on a closed one it may trail our END_STREAM or
        // RST_STREAM and is ignored.
        if (implied_state(f.stream_id) == StreamState::idle)
            connection_error(ErrorCode::protocol_error, "WINDOW_UPDATE on an idle stream");
        else count_empty_frame();
        return;
    }
    if (s->has(sf::window_used) || s->send_window < static_cast<std::int64_t>(peer.initial_window_size)) {
        s->clear(sf::window_used);
        ++useful_frames;
    } else if (!s->has(sf::window_raised)) {
        s->set(sf::window_raised);
        ++useful_frames;
    } else {
        count_empty_frame();
        if (closed) return;
    }
    const detail::Transition t = detail::transition(s->state, detail::StreamInput::recv_window_update);
    if (t.outcome == detail::Outcome::connection_error) {
        connection_error(t.code, s->state == StreamState::idle ? "WINDOW_UPDATE on an idle stream"
                                                               : "WINDOW_UPDATE on a reserved (remote) stream");
        return;
    }
    if (s->state == StreamState::closed) return;
    // RFC 9113 §6.9.1: a stream window past 2^31-1 is a stream
    // FLOW_CONTROL_ERROR.
    if (!detail::add_increment(s->send_window, f.increment)) {
        stream_error(s->id, s, ErrorCode::flow_control_error, "WINDOW_UPDATE takes the stream window past 2^31-1");
        return;
    }
    if (s->has(sf::want_writable) && s->send_window > 0) notify_writable(s);
}

// A stream that waited for its window has some again. It can send when the
// connection window allows too; if not, the wait moves to the connection
// (reported with stream 0 when that opens).
void Connection::Impl::notify_writable(Stream* s) {
    s->clear(sf::want_writable);
    const std::uint64_t w = std::min(detail::usable(s->send_window), detail::usable(conn_send_window));
    // A stream with a body source needs no event: the source is asked.
    if (w > 0) {
        if (!s->body()) report(StreamWritable{s->id, static_cast<std::uint32_t>(w), s->user_data});
    }
    else {
        counters.connection_stalls += !conn_blocked;
        conn_blocked = true;
    }
    make_ready(s);
}

void Connection::Impl::apply_peer_initial_window(std::uint32_t value, std::uint32_t largest) {
    // RFC 9113 §6.9.2: the difference applies to every stream's send window;
    // it may go negative, but past 2^31-1 is a connection FLOW_CONTROL_ERROR.
    // `largest` is the largest value the frame passed through on the way.
    const std::int64_t old_value = peer.initial_window_size;
    const std::int64_t delta = static_cast<std::int64_t>(value) - old_value;
    const std::int64_t worst = std::max<std::int64_t>(static_cast<std::int64_t>(largest) - old_value, delta);
    peer.initial_window_size = value;
    if (worst <= 0 && delta == 0) return;  // nothing moves, nothing can pass 2^31-1
    // Every stream is visited: Limits::stream_walk_budget pays for it.
    if (!pay_stream_walk(streams.size())) return;
    // One pass: an overflow ends the connection, so windows changed before
    // it is found no longer matter.
    bool overflow = false;
    streams.for_each([&](Stream* s) {
        if (static_cast<std::int64_t>(s->send_window) + worst > static_cast<std::int64_t>(max_window_size))
            overflow = true;
        detail::apply_delta(s->send_window, delta);
    });
    if (overflow) {
        connection_error(ErrorCode::flow_control_error, "SETTINGS_INITIAL_WINDOW_SIZE takes a window past 2^31-1");
        return;
    }
    if (delta > 0) {
        // Streams that waited for window can send again: in stream id order,
        // so that the order they resume in (their StreamWritable events,
        // their place in the DATA round robin) does not depend on the map's
        // layout. A SETTINGS frame, not a request: the list may allocate.
        if (!pay_stream_walk(streams.size())) return;
        std::pmr::vector<Stream*> waiting(mr);
        streams.for_each([&](Stream* s) {
            if (s->has(sf::want_writable) && s->send_window > 0) waiting.push_back(s);
        });
        std::sort(waiting.begin(), waiting.end(), [](const Stream* a, const Stream* b) { return a->id < b->id; });
        for (Stream* s : waiting) notify_writable(s);
    }
}

void Connection::Impl::apply_local_initial_window(std::uint32_t old_value, std::uint32_t new_value) {
    // Our new SETTINGS_INITIAL_WINDOW_SIZE is acknowledged: the peer now
    // counts every stream window from it (RFC 9113 §6.9.2).
    const std::int64_t delta = static_cast<std::int64_t>(new_value) - static_cast<std::int64_t>(old_value);
    streams.for_each([&](Stream* s) { detail::apply_delta(s->recv_window, delta); });
}

ApiError Connection::Impl::consume(std::uint32_t id, std::size_t n) {
    if (cfg.flow_control != FlowControl::manual || n == 0) return ApiError::none;
    Stream* s = find(id);
    if (!s || s->state == StreamState::closed) {
        // Closed: what it had not consumed went back to the connection
        // window as it closed (set_state), so there is nothing to do.
        const bool opened = id != 0 && (is_local_id(id) ? id < next_local_id : id <= highest_peer_id);
        return opened ? ApiError::none : ApiError::invalid_stream;
    }
    if (n > s->unconsumed) return ApiError::invalid_argument;
    s->unconsumed -= static_cast<std::uint32_t>(n);  // n <= unconsumed
    conn_unconsumed -= n;
    // Only streams the peer may still send on get their window back.
    credit(detail::can_receive(s->state) ? s : nullptr, n);
    return ApiError::none;
}

void Connection::Impl::build_window_updates() {
    auto write_update = [&](std::uint32_t stream, std::uint32_t increment) {
        const std::size_t from = out.buf.size();
        std::uint8_t* p = out.buf.grow(frame::header_size + 4);
        frame::write(std::span<std::uint8_t>(p, frame::header_size + 4), frame::WindowUpdate{stream, increment});
        out.note_buf(from);
        count_sent(0x8, 4);
        if (tracer) [[unlikely]] trace_sent(out.buf.data() + from, out.buf.data() + from + frame::header_size);
    };
    if (detail::update_due(conn_credit, conn_recv_target)) {
        const std::uint32_t inc = detail::clamp_increment(conn_recv_window, conn_credit);
        if (inc > 0) {
            write_update(0, inc);
            conn_recv_window += inc;
            conn_credit -= inc;
        }
    }
    while (Stream* s = wu_fifo.front(sf::in_wu)) {
        wu_fifo.pop();
        s->clear(sf::in_wu);
        // No point in window for a stream the peer has ended.
        if (!detail::can_receive(s->state) && s->state != StreamState::reserved_remote) {
            s->recv_credit = 0;
            continue;
        }
        const std::uint32_t inc = detail::clamp_increment(s->recv_window, s->recv_credit);
        if (inc == 0) continue;
        write_update(s->id, inc);
        s->recv_window += inc;
        s->recv_credit -= inc;
    }
}

}  // namespace h2wire
