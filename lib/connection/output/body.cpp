// Bodies pulled on demand (BodySource) and push-style bodies that take what
// fits (send_data_partial), with the StreamWritable owed to them.
//
// A stream with a source carries the `pull` flag while the source may be
// asked. When its turn on the DATA round robin comes with nothing queued,
// send_one() asks it (scheduler.cpp):
//   - a BodyReader writes straight into the output buffer, behind the frame
//     header reserved for it: one DATA frame per call, at most as long as
//     both send windows and the peer's SETTINGS_MAX_FRAME_SIZE allow, so each
//     octet is copied once and nothing is held beyond the output itself;
//   - a BodyLender's memory becomes a queued segment, like send_data_borrowed
//     memory, owned by a Lend: a reference-counted Backing (stream.hpp) held
//     by the segment and by each output chunk that points into it. When the
//     last one goes (consume_output(), pending_output() copying it, a reset
//     copying what the output still needs), BlockPool calls lend_released(),
//     which gives it back to the source.
// The source's state, Body, belongs to the stream until the stream lets go
// (END_STREAM built, a reset, the end of the connection: end_body()); it
// lives on while lends of it are out, and finished() is called when the
// last one comes back.
#include <algorithm>
#include <new>

#include "connection/connection_impl.hpp"
#include "connection/flow_control.hpp"

namespace h2wire {

using detail::Stream;
using detail::StreamState;
namespace sf = detail::stream_flag;

namespace {
// Largest DATA payload per frame (as scheduler.cpp's max_data_frame).
constexpr std::uint32_t max_pulled_frame = 64 * 1024;
}  // namespace

// --- attaching and resuming ------------------------------------------------------

detail::Body* Connection::Impl::new_body() {
    detail::Body* b = free_bodies;
    if (b) free_bodies = b->next_free;
    else b = static_cast<detail::Body*>(mr->allocate(sizeof(detail::Body), alignof(detail::Body)));
    return new (b) detail::Body;
}

void Connection::Impl::attach_body(Stream* s, BodySource& source) {
    detail::Body* b = new_body();
    b->source = &source;
    b->stream = s->id;
    // The open block takes no more octets: its slot holds the source now
    // (the segments that point into it keep it).
    if (s->open_block) pool.release(s->open_block);
    s->body_state = b;
    s->set(sf::sourced);
    ++bodies_live;
    // The source ends the stream: no more send_data() or send_trailers().
    s->set(sf::end_submitted | sf::pull);
    make_ready(s);
}

ApiError Connection::Impl::set_body_source(std::uint32_t id, BodySource& source) {
    ApiError err;
    Stream* s = sendable_stream(id, err);
    if (!s) return err;
    // A body follows the final header section (RFC 9113 §8.1).
    if (!s->has(sf::final_submitted)) return ApiError::invalid_stream;
    attach_body(s, source);
    return ApiError::none;
}

Submitted Connection::Impl::submit_request(std::span<const Field> headers, BodySource& body, void* user_data) {
    const Submitted r = submit_request(headers, false, user_data);
    if (r) attach_body(find(r.stream), body);
    return r;
}

ApiError Connection::Impl::submit_response(std::uint32_t id, std::span<const Field> headers, BodySource& body) {
    // RFC 9113 §8.1: a 1xx response has no body. (The checks proper come with
    // the submission; this only reads :status.)
    detail::ResponseInfo info;
    detail::extract_response(headers, info);
    if (info.status >= 100 && info.status < 200) return ApiError::invalid_stream;
    if (const ApiError e = submit_response(id, headers, false); e != ApiError::none) return e;
    return set_body_source(id, body);
}

ApiError Connection::Impl::resume_body(std::uint32_t id) {
    if (closed) return ApiError::connection_closed;
    Stream* s = find(id);
    detail::Body* b = s ? s->body() : nullptr;
    if (!b || b->ended) return ApiError::invalid_stream;
    if (!b->parked) return ApiError::none;
    b->parked = false;
    s->set(sf::pull);
    make_ready(s);
    return ApiError::none;
}

// --- asking the source -----------------------------------------------------------------

void Connection::Impl::park_body(Stream* s) {
    s->body_state->parked = true;
    s->clear(sf::pull);
    if (s->queued == 0) unready(s);
}

// RFC 9113 §6.9.1: a source is asked for no more than both send windows let
// out. False when the stream cannot be asked now (it waits for window).
bool Connection::Impl::pull_window(Stream* s, PullTurn& turn) {
    if (s->send_window <= 0) {
        s->set(sf::want_writable);
        unready(s);
        turn = PullTurn::done;
        return false;
    }
    if (conn_send_window <= 0) {
        conn_blocked = true;
        turn = PullTurn::stuck;
        return false;
    }
    return true;
}

// Where the payloads a source copies land: a copy whose destination is a
// little past its source modulo 4096 runs several times slower on x86 (the
// loads alias the stores just made: "4K aliasing", and `rep movsb` falls
// back to its slow path). Sources are most often page-aligned or close to it
// (large allocations, mappings, read buffers), and one DATA frame's payload
// (16 KiB by default) moves a source by whole pages, while the payload in the
// output moves by the 9 octets of each frame header. So an output buffer that
// starts with a pulled frame starts it where the payload lands mid-page, as
// far from page-aligned sources as it can be; the frames after it stay
// within a few hundred octets of there. The octets skipped are no part of
// the output (chunks start at an offset into the buffer).
void Connection::Impl::place_first_payload(std::size_t frame_size) {
    constexpr std::size_t page = 4096, target = page / 2;
    out.buf.reserve(page + frame_size);
    const auto at = reinterpret_cast<std::uintptr_t>(out.buf.data()) + frame::header_size;
    out.buf.grow((target - at % page) % page);
}

// A BodyReader's turn: one DATA frame written in place by the source.
Connection::Impl::PullTurn Connection::Impl::pull_copy(Stream* s) {
    const std::int64_t window = std::min<std::int64_t>(s->send_window, conn_send_window);
    if (window <= 0) [[unlikely]] {
        PullTurn turn = PullTurn::done;
        pull_window(s, turn);  // false: it says how to wait
        return turn;
    }
    // What it copies stays in the output buffer until written: no more than
    // the contiguous form's budget, in either form.
    if (out.pending >= copy_budget()) return PullTurn::stuck;
    const auto max = static_cast<std::uint32_t>(
        std::min<std::int64_t>(window, std::min(peer.max_frame_size, max_pulled_frame)));
    if (out.buf.empty()) place_first_payload(frame::header_size + max);
    const std::size_t from = out.buf.size();
    std::uint8_t* header = out.buf.grow(frame::header_size + max);
    detail::Body* b = s->body_state;
    const BodyRead r = static_cast<BodyReader*>(b->source)->read(s->id, {header + frame::header_size, max});
    // More than it was given means it wrote past the buffer: a bug in the
    // source, which ends the stream like an abort.
    if (r.status == BodyStatus::abort || r.size > max) {
        out.buf.resize_down(from);
        abort_body(s);
        return PullTurn::done;
    }
    const auto n = static_cast<std::uint32_t>(r.size);
    const bool end = r.status == BodyStatus::end;
    const bool end_stream = end && r.trailers.empty();
    if (n > 0 || end_stream) {
        out.buf.resize_down(from + frame::header_size + n);
        if (end_stream)
            detail::put_frame_header(header, n, static_cast<std::uint8_t>(frame::Type::data), frame::flags::end_stream,
                                     s->id);
        else
            detail::put_data_header(header, n, s->id);
        out.note_buf(from);
        s->send_window -= static_cast<std::int32_t>(n);  // n <= send_window
        conn_send_window -= n;
        if (n > 0) s->set(sf::window_used);  // Limits::max_empty_frames
    } else {
        out.buf.resize_down(from);
    }
    if (end) {
        s->clear(sf::pull);
        b->ended = true;
        unready(s);
        // Both may end the stream and release it: nothing of `s` after.
        if (end_stream) after_send_end_stream(s);
        else send_body_trailers(s, r.trailers);
        return PullTurn::done;
    }
    if (r.status == BodyStatus::wait || n == 0) park_body(s);
    return PullTurn::done;
}

// A BodyLender's turn: what it lends is queued, for send_one() to frame.
Connection::Impl::PullTurn Connection::Impl::pull_lend(Stream* s) {
    PullTurn turn = PullTurn::done;
    if (!pull_window(s, turn)) return turn;
    const auto max = static_cast<std::size_t>(std::min<std::int64_t>(s->send_window, conn_send_window));
    detail::Body* b = s->body_state;
    auto* lender = static_cast<BodyLender*>(b->source);
    const BodyLend l = lender->lend(s->id, max);
    if (l.status == BodyStatus::abort || l.data.size() > max) {
        if (!l.data.empty()) lender->release(s->id, l.data);
        abort_body(s);
        return PullTurn::done;
    }
    if (!l.data.empty()) {
        detail::Lend* lend = free_lends;
        if (lend) free_lends = lend->next_free;
        else lend = static_cast<detail::Lend*>(mr->allocate(sizeof(detail::Lend), alignof(detail::Lend)));
        new (lend) detail::Lend;
        lend->refs = 1;  // the segment's
        lend->lend = true;
        lend->body = b;
        lend->data = l.data.data();
        lend->size = l.data.size();
        ++b->lends;
        detail::SendSeg* seg = pool.get_seg();
        seg->data = l.data.data();
        seg->size = static_cast<std::uint32_t>(l.data.size());  // <= max < 2^31
        seg->block = lend;
        if (s->seg_tail) s->seg_tail->next = seg;
        else s->seg_head = seg;
        s->seg_tail = seg;
        s->queued += seg->size;
        // Counted with the octets send_data() copied (a segment with a
        // Backing takes its octets off as they go out); the stream takes
        // no send_data() any more, so the limit does not apply.
        s->queued_owned += seg->size;
    }
    if (l.status == BodyStatus::end) {
        s->clear(sf::pull);
        b->ended = true;
        if (!l.trailers.empty()) {
            if (check_outbound(l.trailers, detail::BlockKind::trailers, s, nullptr, nullptr) != ApiError::none) {
                abort_body(s);
                return PullTurn::done;
            }
            s->hdr.push(buffers, detail::BlockKind::trailers, true, 0, l.trailers);
            s->set(sf::trailers_queued);
        } else {
            s->set(sf::end_after_data);
        }
        return PullTurn::queued;  // a frame, or the empty END_STREAM DATA, or the trailers
    }
    if (l.status == BodyStatus::wait || l.data.empty()) park_body(s);
    return s->queued > 0 ? PullTurn::queued : PullTurn::done;
}

// The trailers a BodyReader ended its body with: encoded now, behind its last
// DATA frame.
void Connection::Impl::send_body_trailers(Stream* s, std::span<const Field> trailers) {
    if (check_outbound(trailers, detail::BlockKind::trailers, s, nullptr, nullptr) != ApiError::none) {
        abort_body(s);
        return;
    }
    const std::size_t from = out.buf.size();
    detail::write_header_block(out.buf, scratch, encoder, trailers, s->id, true, false, 0, peer.max_frame_size);
    out.note_buf(from);
    after_send_headers(s, true);
}

// The source gave up (BodyStatus::abort) or broke its contract: RST_STREAM
// INTERNAL_ERROR (RFC 9113 §7), as for a reset_stream() of the application.
void Connection::Impl::abort_body(Stream* s) {
    s->clear(sf::pull);
    reset_local(s, ErrorCode::internal_error, false);
}

// --- letting go --------------------------------------------------------------------

void Connection::Impl::end_body(Stream* s, bool complete) {
    detail::Body* b = s->body_state;
    s->open_block = nullptr;  // the slot is the open block's again (none)
    s->clear(sf::pull | sf::sourced);
    b->ended = b->detached = true;
    b->complete = complete;
    if (b->lends == 0) finish_body(b);
}

void Connection::Impl::finish_body(detail::Body* b) {
    BodySource* source = b->source;
    const std::uint32_t id = b->stream;
    const bool complete = b->complete;
    b->next_free = free_bodies;
    free_bodies = b;
    --bodies_live;
    if (!dying) source->finished(id, complete);
}

void Connection::Impl::lend_released(detail::Lend* l) noexcept {
    detail::Body* b = l->body;
    const std::span<const std::uint8_t> lent(l->data, l->size);
    l->next_free = free_lends;
    free_lends = l;
    if (!dying) static_cast<BodyLender*>(b->source)->release(b->stream, lent);
    if (--b->lends == 0 && b->detached) finish_body(b);
}

// --- push-style bodies: StreamWritable when room is back -----------------------------

void Connection::Impl::wait_for_space(Stream* s) {
    if (s->has(sf::want_space)) return;
    s->set(sf::want_space);
    space_waiters.push_back(SpaceWaiter{s, s->id});
}

std::size_t Connection::Impl::capacity_of(const Stream* s) const noexcept {
    if (closed || s->has(sf::end_submitted) || s->state == StreamState::closed) return 0;
    const std::uint64_t max = cfg.limits.max_buffered_per_stream;
    const std::size_t n = s->queued_owned >= max ? 0 : static_cast<std::size_t>(max - s->queued_owned);
    // Limits::max_connection_memory as well: the most send_data() would take.
    return std::min(n, copy_capacity(s));
}

// Streams whose send_data() was refused or cut short hear StreamWritable once
// their buffer has drained to half of Limits::max_buffered_per_stream and
// room for a block's worth (or what the limit leaves, if less) is there:
// refilling then keeps the stream busy without an event per frame. When the
// memory budget is what limits them, the room they share goes to the
// longest waiting first, as far as it lasts (no herd of events for room
// that only one of them can take).
void Connection::Impl::wake_space_waiters() {
    const std::uint64_t limit = cfg.limits.max_buffered_per_stream;
    std::size_t shared = shared_copy_room();
    std::size_t kept = 0;
    for (const SpaceWaiter w : space_waiters) {
        Stream* s = w.stream;
        if (s->id != w.id || !s->has(sf::want_space)) continue;  // gone (the object is kept for reuse)
        const bool sendable = !closed && !s->has(sf::end_submitted) && s->state != StreamState::closed &&
                              s->state != StreamState::half_closed_local;
        if (sendable) {
            const std::uint64_t own = limit - std::min<std::uint64_t>(limit, s->queued_owned);
            const std::uint64_t wanted = std::min<std::uint64_t>(own, detail::Block::capacity);
            const std::size_t block_room = open_block_room(s);
            const std::uint64_t room = std::min<std::uint64_t>(own, block_room + shared);
            if (s->queued_owned > limit / 2 || room < wanted) {
                space_waiters[kept++] = w;
                continue;
            }
            // What it may take of the shared room is spoken for.
            if (room > block_room) shared -= static_cast<std::size_t>(room - block_room);
        }
        s->clear(sf::want_space);
        if (!sendable) continue;
        const std::uint64_t window = std::min(detail::usable(s->send_window), detail::usable(conn_send_window));
        report(StreamWritable{s->id, static_cast<std::uint32_t>(window), s->user_data});
    }
    space_waiters.resize(kept);
}

DataAccepted Connection::Impl::send_data_partial(std::uint32_t id, std::span<const std::uint8_t> data,
                                                 bool end_stream) {
    std::size_t accepted = 0;
    const ApiError e = queue_data(id, data, end_stream, false, &accepted);
    return DataAccepted{e == ApiError::none ? accepted : 0, e};
}

}  // namespace h2wire
