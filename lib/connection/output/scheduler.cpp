// Building output: what goes out, in which order, within which windows.
//
// Order of one build (RFC 9113 leaves it to the sender; this one keeps
// latency low for control traffic and fairness for bodies):
//   1. control frames in the order they were queued (SETTINGS, ACKs,
//      RST_STREAM, GOAWAY, PING);
//   2. coalesced WINDOW_UPDATEs;
//   3. header blocks waiting on the FIFO (responses, 1xx, PUSH_PROMISE), each
//      block HEADERS+CONTINUATION back to back;
//   4. client requests, in stream id order, while the peer's
//      SETTINGS_MAX_CONCURRENT_STREAMS leaves a slot;
//   5. trailers and empty END_STREAM DATA of streams with nothing else
//      left to send;
//   6. DATA, one frame per turn, by priority (ready_set.hpp: RFC 9218 §10),
//      within the stream and connection send windows; trailers right after
//      a stream's last DATA.
// Header blocks are HPACK-encoded here, as they are written, so the encoder's
// dynamic table follows the wire order whatever order the application
// submitted them in.
#include "connection/output/scheduler.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

#include "connection/connection_impl.hpp"
#include "connection/flow_control.hpp"

namespace h2wire {

namespace detail {

// --- BlockPool ---------------------------------------------------------------

BlockPool::~BlockPool() {
    trim();
    for (void* slab : seg_slabs_) mr_->deallocate(slab, 64 * sizeof(SendSeg), alignof(SendSeg));
}

Block* BlockPool::get(std::size_t want) {
    // The smallest size of at least `want` octets.
    const unsigned size = want >= Block::capacity ? sizes - 1
                          : want <= smallest      ? 0
                                                  : static_cast<unsigned>(std::bit_width(want - 1)) - 6;
    const std::uint32_t cap = smallest << size;
    Block* b = free_[size];
    if (b) {
        free_[size] = b->next_free;
        spare_full_ -= size == sizes - 1;
        spare_octets_ -= cap;
    } else {
        b = new (mr_->allocate(Block::footprint(cap), alignof(Block))) Block;
        b->cap = cap;
    }
    in_use_ += cap;
    peak_.note(in_use_);
    b->refs = 1;
    b->used = 0;
    b->next_free = nullptr;
    return b;
}

void BlockPool::put(Backing* backing) noexcept {
    if (backing->lend) [[unlikely]] {
        lend_hook_(lend_context_, static_cast<Lend*>(backing));
        return;
    }
    Block* b = static_cast<Block*>(backing);
    const std::uint32_t cap = b->cap;
    in_use_ -= cap;
    if (spare_octets_ + cap <= keep_octets_) {
        const auto size = static_cast<unsigned>(std::countr_zero(cap / smallest));
        b->next_free = free_[size];
        free_[size] = b;
        spare_full_ += size == sizes - 1;
        spare_octets_ += cap;
        return;
    }
    b->~Block();
    mr_->deallocate(b, Block::footprint(cap), alignof(Block));
}

SendSeg* BlockPool::get_seg() {
    if (!free_segs_) {
        // Segments come in slabs of 64, kept until the connection ends.
        auto* slab = static_cast<SendSeg*>(mr_->allocate(64 * sizeof(SendSeg), alignof(SendSeg)));
        seg_slabs_.push_back(slab);
        for (int i = 63; i >= 0; --i) put_seg(new (slab + i) SendSeg);
        segs_in_use_ += 64;
    }
    seg_peak_.note(++segs_in_use_);
    SendSeg* s = free_segs_;
    free_segs_ = s->next;
    *s = SendSeg{};
    return s;
}

// --- Output ------------------------------------------------------------------

Output::~Output() {
    for (std::size_t i = head; i < chunks.size(); ++i) {
        OutChunk& c = chunks[i];
        if (c.block) pool->release(c.block);
        if (c.owned) mr_->deallocate(const_cast<std::uint8_t*>(c.ptr), c.len, 1);
    }
}

void Output::compact() {
    if (head == 0) return;
    chunks.erase(chunks.begin(), chunks.begin() + static_cast<std::ptrdiff_t>(head));
    head = 0;
    std::size_t base = SIZE_MAX;
    for (const OutChunk& c : chunks)
        if (c.buf_len) {
            base = c.off;
            break;
        }
    if (base == SIZE_MAX) {
        buf.clear();
        for (OutChunk& c : chunks) c.off = 0;
        return;
    }
    if (base == 0 || base * 2 < buf.size()) return;
    buf.erase_front(base);
    for (OutChunk& c : chunks) c.off = c.off >= base ? c.off - base : 0;
}

std::span<const OutputChunk> Output::vectors() {
    // `vecs` only grows: its elements are overwritten, never constructed
    // again (the span returned covers the ones in use).
    const std::size_t count = chunks.size() - head;
    if (count == 0) return {};
    if (vecs.size() < 2 * count) vecs.resize(std::max(2 * count, vecs.size() * 2));
    OutputChunk* const first = vecs.data();
    OutputChunk* v = first;
    const OutChunk* c = chunks.data() + head;
    const OutChunk* const end = chunks.data() + chunks.size();
    const std::uint8_t* base = buf.data();
    // The first chunk may be partly written.
    std::size_t skip = head_off;
    if (skip < c->buf_len) {
        *v++ = OutputChunk{base + c->off + skip, c->buf_len - skip};
        skip = 0;
    } else {
        skip -= c->buf_len;
    }
    if (c->len > skip) *v++ = OutputChunk{c->ptr + skip, c->len - skip};
    for (++c; c != end; ++c) {
        if (c->buf_len) *v++ = OutputChunk{base + c->off, c->buf_len};
        if (c->len) *v++ = OutputChunk{c->ptr, c->len};
    }
    return {first, static_cast<std::size_t>(v - first)};
}

std::uint64_t Output::detach(Stream* s) {
    std::uint64_t n = 0;
    for (std::size_t i = head; i < chunks.size(); ++i) {
        OutChunk& c = chunks[i];
        if (c.stream != s) continue;
        if (c.ptr && !c.owned && (!c.block || c.block->lend)) {
            // Borrowed or lent memory: the application may free it once the
            // stream is reset, so keep a copy for the octets still to be
            // written (a lend goes back to its source).
            auto* copy = static_cast<std::uint8_t*>(mr_->allocate(c.len, 1));
            std::memcpy(copy, c.ptr, c.len);
            c.owned = true;
            c.ptr = copy;
            if (c.block) {
                pool->release(c.block);
                c.block = nullptr;
            }
        }
        n += c.len;
        c.stream = nullptr;
    }
    return n;
}

}  // namespace detail

using detail::Stream;
using detail::StreamState;
namespace sf = detail::stream_flag;

namespace {
// Octets of unconsumed output past which a build stops adding frames: the
// caller is not keeping up, and what is queued stays in the streams (bounded
// by Limits) rather than in the output buffer. The contiguous form copies
// DATA into the buffer, so its budget is also at most an eighth of
// Limits::max_connection_memory (copy_budget()).
constexpr std::size_t budget_copy = 128 * 1024;
constexpr std::size_t budget_vectors = 1024 * 1024;
// Largest DATA payload per frame and turn of the round robin.
constexpr std::uint32_t max_data_frame = 64 * 1024;

}  // namespace

std::size_t Connection::Impl::copy_budget_for(std::size_t memory_limit) noexcept {
    return std::clamp<std::size_t>(memory_limit / 8, 16 * 1024, budget_copy);
}

std::size_t Connection::Impl::output_reserve() const noexcept {
    // A build stops past the budget, after one more frame; the buffer may
    // double to hold that.
    const std::size_t frame = std::min(peer.max_frame_size, max_data_frame) + frame::header_size;
    const std::size_t most = 2 * (copy_budget() + frame);
    return most > out.buf.capacity() ? most - out.buf.capacity() : 0;
}

void Connection::Impl::build(bool copy_data) {
    out.compact();
    const std::size_t budget = copy_data ? copy_budget() : budget_vectors;
    if (out.pending >= budget) return;
    const bool was_blocked = conn_blocked;
    if (!ctrl.empty()) {
        // Counted (and traced) as they enter the output; the client preface
        // is no frame.
        const std::size_t preface = preface_in_ctrl ? frame::client_preface.size() : 0;
        preface_in_ctrl = false;
        account_sent(ctrl.data() + preface, ctrl.size() - preface);
        if (out.pending == 0 && out.buf.empty()) {
            // Nothing else waiting: the committed frames become the output
            // buffer as they are (no copy; one buffer grows, not two).
            out.buf.swap(ctrl);
            out.note_buf(0);
        } else {
            const std::size_t from = out.buf.size();
            out.buf.append(ctrl.data(), ctrl.size());
            out.note_buf(from);
        }
        ctrl.clear();
        ctrl_frames = 0;
    }
    if (closed) return;
    build_window_updates();
    build_header_blocks();
    if (is_client()) build_requests();
    build_data(copy_data);
    counters.connection_stalls += !was_blocked && conn_blocked;
    if (!space_waiters.empty()) [[unlikely]] wake_space_waiters();
    out_peak.note(std::max({out.buf.size(), out.pending, out.chunks.size() * sizeof(detail::OutChunk)}));
}

void Connection::Impl::build_header_blocks() {
    while (out.pending < budget_vectors) {
        Stream* s = header_fifo.front(sf::in_fifo);
        if (!s) break;
        header_fifo.pop();
        s->clear(sf::in_fifo);
        send_leading_blocks(s);
    }
}

void Connection::Impl::build_requests() {
    // RFC 9113 §5.1.2: never more concurrent streams than the peer allows;
    // requests wait here and go out in id order (§5.1.1) as slots free.
    while (out.pending < budget_vectors && active_local < peer_max_concurrent()) {
        Stream* s = open_fifo.front(sf::in_fifo);
        if (!s) break;
        open_fifo.pop();
        s->clear(sf::in_fifo);
        --queued_requests;
        highest_local_sent = s->id;
        const bool update = (s->prio & detail::prio_update_owed) != 0;
        if (send_leading_blocks(s) && update) send_owed_priority_update(s);
    }
}

bool Connection::Impl::send_leading_blocks(Stream* s) {
    const std::uint32_t id = s->id;
    while (s->id == id && !s->hdr.empty() && s->hdr.front_kind() != detail::BlockKind::trailers) {
        send_fields.clear();
        detail::SendMemos memos;
        const detail::QueuedBlock b = s->hdr.pop(send_fields, memos.bytes.data());
        const std::uint8_t* m = send_fields.size() <= detail::SendMemos::capacity ? memos.bytes.data() : nullptr;
        --s->leading_blocks;
        const std::size_t from = out.buf.size();
        if (b.kind == detail::BlockKind::push_promise) {
            Stream* p = find(b.promised);
            if (!p || p->state != StreamState::idle) continue;  // promise withdrawn before it went out
            detail::write_header_block(out.buf, scratch, encoder, send_fields, id, false, true, b.promised,
                                       peer.max_frame_size, m);
            out.note_buf(from);
            account_sent(out.buf.data() + from, out.buf.size() - from);
            highest_local_sent = std::max(highest_local_sent, b.promised);
            set_state(p, StreamState::reserved_local);
            continue;
        }
        detail::write_header_block(out.buf, scratch, encoder, send_fields, id, b.end_stream, false, 0,
                                   peer.max_frame_size, m);
        out.note_buf(from);
        account_sent(out.buf.data() + from, out.buf.size() - from);
        after_send_headers(s, b.end_stream);
    }
    if (s->id != id) return false;  // closed and released by END_STREAM
    s->hdr.recycle(buffers);
    make_ready(s);
    return true;
}

void Connection::Impl::after_send_headers(Stream* s, bool end_stream) {
    const detail::Transition t = detail::transition(s->state, detail::StreamInput::send_headers);
    if (t.outcome == detail::Outcome::accept) set_state(s, t.next);
    if (end_stream) after_send_end_stream(s);
}

void Connection::Impl::after_send_end_stream(Stream* s) {
    if (s->body()) end_body(s, true);  // all of its body is in the output
    s->clear(sf::end_after_data | sf::trailers_queued);
    s->close_by = Initiator::local;  // if this closes it, we ended it last
    const detail::Transition t = detail::transition(s->state, detail::StreamInput::send_end_stream);
    if (t.outcome == detail::Outcome::accept) set_state(s, t.next);
}

void Connection::Impl::make_ready(Stream* s) {
    if (s->has(sf::in_ready) || s->leading_blocks > 0 || !detail::can_send(s->state)) return;
    if (s->queued == 0 && !s->has(sf::end_after_data | sf::trailers_queued | sf::pull)) return;
    // A source is asked only when the stream's window lets something out.
    if ((s->queued > 0 || s->has(sf::pull)) && s->send_window <= 0) {
        counters.stream_stalls += !s->has(sf::want_writable);
        s->set(sf::want_writable);
        return;
    }
    s->set(sf::in_ready);
    if (s->queued == 0 && !s->has(sf::pull)) {
        // Only trailers or an empty END_STREAM DATA: a few octets that need
        // no window, sent ahead of the DATA whatever the priorities.
        s->set(sf::finishing);
        detail::StreamRing::push(finishing, s);
        return;
    }
    ready.insert(s);
}

void Connection::Impl::unready(Stream* s) {
    if (!s->has(sf::in_ready)) return;
    s->clear(sf::in_ready);
    if (!s->has(sf::finishing)) {
        ready.remove(s);
        return;
    }
    s->clear(sf::finishing);
    detail::StreamRing::erase(finishing, s);
}

void Connection::Impl::change_priority(Stream* s, Priority p) {
    if (s->priority() == p) return;
    // RFC 9218 §6: a new priority applies from the next frame on, also in the
    // middle of a body.
    const bool scheduled = s->has(sf::in_ready) && !s->has(sf::finishing);
    if (scheduled) ready.remove(s);
    s->set_priority(p);
    if (scheduled) ready.insert(s);
}

void Connection::Impl::build_data(bool copy_data) {
    const std::size_t budget = copy_data ? copy_budget() : budget_vectors;
    const std::uint32_t frame_cap = std::min(peer.max_frame_size, max_data_frame);
    // Streams with nothing but their end to send leave the set in one turn.
    while (finishing && out.pending < budget) send_one(finishing, copy_data);
    // The middle-frame paths count their frames but do not trace them: with
    // a trace attached, send_one() takes every turn.
    const bool middle = !copy_data && !tracer;
    while (out.pending < budget) {
        Stream* s = ready.next();
        if (!s) break;
        const unsigned urgency = s->urgency();
        const bool incremental = s->incremental();
        if (middle && send_middle_frame(s, frame_cap)) {
            // Its turns would follow one another: take them in one go.
            if (ready.alone(s)) send_middle_burst(s, frame_cap, budget);
        } else if (!send_one(s, copy_data)) {
            // No connection window (or, for a source that copies, no room in
            // the output): nothing else with DATA can go either.
            break;
        }
        ready.turn_taken(s, urgency, incremental);
    }
}

// The common turn of a stream with a long body, zero copy: one full DATA
// frame out of the first queued segment, which has more left after it (so
// the frame is not the stream's last and nothing else changes). What
// send_one() does in that case, without its general bookkeeping. False when
// the turn is not such a frame (send_one() then takes it).
inline bool Connection::Impl::send_middle_frame(Stream* s, std::uint32_t frame_cap) {
    detail::SendSeg* seg = s->seg_head;
    if (!seg) return false;
    // RFC 9113 §6.9.1: within both send windows.
    std::int64_t n = std::min<std::int64_t>(s->send_window, conn_send_window);
    if (n > static_cast<std::int64_t>(frame_cap)) n = frame_cap;
    if (n <= 0 || seg->size <= static_cast<std::uint64_t>(n)) return false;
    const auto len = static_cast<std::uint32_t>(n);
    const std::size_t from = out.buf.size();
    std::uint8_t* header = out.buf.grow(frame::header_size);
    out.add_frame(from, seg->data, len, seg->block, s);
    if (seg->block) {
        ++seg->block->refs;
        s->queued_owned -= len;
    }
    seg->data += len;
    seg->size -= len;
    s->inflight += len;
    s->queued -= len;
    s->send_window -= static_cast<std::int32_t>(len);
    s->set(sf::window_used);  // Limits::max_empty_frames: the peer's next WINDOW_UPDATE is useful
    conn_send_window -= n;
    count_sent(0x0, len);
    // Last: octet stores may alias anything, and nothing is read after them.
    detail::put_data_header(header, len, s->id);
    return true;
}

// One turn of stream `s`: at most one DATA frame (and its trailers). Returns
// false when it could not send because of the connection window (or, for a
// source that copies, because the output is full).
bool Connection::Impl::send_one(Stream* s, bool copy_data) {
    if (s->queued == 0 && s->has(sf::pull)) {
        // Nothing queued: ask the body source (body.cpp). A copying source
        // writes its frame itself; a lender's octets are queued and go on
        // below like borrowed ones.
        // What the source builds (a DATA frame, trailers) is counted from
        // the output, as is a wait for its stream's window (the
        // connection's: build()).
        const OutMark mark = out_mark();
        const bool stalled = s->has(sf::want_writable);
        const PullTurn t = s->body_state->source->form() == BodySource::Form::copy ? pull_copy(s) : pull_lend(s);
        account_since(mark);
        counters.stream_stalls += !stalled && s->id != 0 && s->has(sf::want_writable);
        if (t != PullTurn::queued) return t == PullTurn::done;
    }
    if (s->queued == 0) {
        unready(s);
        if (s->has(sf::trailers_queued)) {
            send_trailers_now(s);
        } else if (s->has(sf::end_after_data)) {
            // RFC 9113 §6.1: an empty DATA frame ends the stream.
            const std::size_t from = out.buf.size();
            frame::write_header(out.buf.grow(frame::header_size),
                                frame::FrameHeader{0, frame::Type::data, frame::flags::end_stream, s->id, false});
            out.note_buf(from);
            account_sent(out.buf.data() + from, frame::header_size);
            after_send_end_stream(s);
        }
        return true;
    }
    // RFC 9113 §6.9.1: a sender MUST NOT send a flow-controlled frame longer
    // than the space in either window.
    const std::uint64_t window = std::min(detail::usable(s->send_window), detail::usable(conn_send_window));
    const std::uint64_t n = std::min<std::uint64_t>({s->queued, window, std::min(peer.max_frame_size, max_data_frame)});
    if (n == 0) {
        if (s->send_window <= 0) {
            counters.stream_stalls += !s->has(sf::want_writable);
            s->set(sf::want_writable);
            unready(s);
            return true;
        }
        conn_blocked = true;  // (counted by build())
        return false;
    }
    const bool last = n == s->queued;
    const bool end_stream = last && s->has(sf::end_after_data) && !s->has(sf::trailers_queued);
    const bool trailers = last && s->has(sf::trailers_queued);
    if (last && !s->has(sf::pull)) unready(s);  // (a source is asked on its next turn)

    const std::size_t from = out.buf.size();
    detail::put_frame_header(out.buf.grow(frame::header_size), static_cast<std::uint32_t>(n),
                             static_cast<std::uint8_t>(frame::Type::data),
                             end_stream ? frame::flags::end_stream : std::uint8_t{0}, s->id);
    if (!copy_data) out.note_buf(from);
    std::uint64_t left = n;
    while (left > 0) {
        detail::SendSeg* seg = s->seg_head;
        const auto take = static_cast<std::uint32_t>(std::min<std::uint64_t>(left, seg->size));
        if (copy_data) {
            std::memcpy(out.buf.grow(take), seg->data, take);
        } else {
            if (seg->block) ++seg->block->refs;
            out.add_external(seg->data, take, seg->block, s);
            s->inflight += take;
        }
        if (seg->block) s->queued_owned -= take;
        seg->data += take;
        seg->size -= take;
        left -= take;
        if (seg->size == 0) {
            s->seg_head = seg->next;
            if (!s->seg_head) s->seg_tail = nullptr;
            if (seg->block) pool.release(seg->block);
            pool.put_seg(seg);
        }
    }
    if (copy_data) out.note_buf(from);
    count_sent(0x0, static_cast<std::uint32_t>(n));
    if (tracer) [[unlikely]] trace_sent(out.buf.data() + from, nullptr);
    s->queued -= n;
    s->send_window -= static_cast<std::int32_t>(n);  // n <= send_window
    s->set(sf::window_used);
    conn_send_window -= static_cast<std::int64_t>(n);
    if (trailers) send_trailers_now(s);
    else if (end_stream) after_send_end_stream(s);
    return true;
}

// Stream `s` is alone on the round robin right after a middle frame: its
// turns follow one another, each what send_middle_frame() would do, for as
// long as the budget, the windows and the segment allow. Written in one go:
// the frame lengths first (all frame_cap but perhaps the last, which the
// window cuts), then the chunks, then the headers, then the accounts.
void Connection::Impl::send_middle_burst(Stream* s, std::uint32_t frame_cap, std::size_t budget) {
    detail::SendSeg* seg = s->seg_head;
    std::int64_t window = std::min<std::int64_t>(s->send_window, conn_send_window);
    std::uint64_t seg_left = seg->size;
    std::size_t pending = out.pending;
    std::size_t frames = 0;
    std::uint64_t total = 0;
    std::uint32_t last_len = 0;
    while (pending < budget) {
        const std::int64_t n = std::min<std::int64_t>(window, frame_cap);
        if (n <= 0 || seg_left <= static_cast<std::uint64_t>(n)) break;
        window -= n;
        seg_left -= static_cast<std::uint64_t>(n);
        pending += frame::header_size + static_cast<std::size_t>(n);
        total += static_cast<std::uint64_t>(n);
        last_len = static_cast<std::uint32_t>(n);
        ++frames;
    }
    if (frames == 0) return;
    const std::size_t from = out.buf.size();
    out.buf.grow(frame::header_size * frames);
    if (out.chunks.capacity() < out.chunks.size() + frames)
        out.chunks.reserve(std::max(out.chunks.size() + frames, 2 * out.chunks.capacity()));
    const std::uint8_t* payload = seg->data;
    for (std::size_t i = 0; i < frames; ++i) {
        const std::uint32_t len = i + 1 == frames ? last_len : frame_cap;
        out.chunks.push_back(
            detail::OutChunk{from + i * frame::header_size, payload, len, seg->block, s, frame::header_size, false});
        payload += len;
    }
    std::uint8_t* header = out.buf.data() + from;
    const std::uint32_t id = s->id;
    for (std::size_t i = 0; i < frames; ++i, header += frame::header_size)
        detail::put_data_header(header, i + 1 == frames ? last_len : frame_cap, id);
    out.pending = pending;
    counters.sent.frames[frame_type_bucket(0x0)] += frames;
    counters.sent.octets[frame_type_bucket(0x0)] += total + frame::header_size * frames;
    if (seg->block) {
        seg->block->refs += static_cast<std::uint32_t>(frames);
        s->queued_owned -= static_cast<std::uint32_t>(total);
    }
    seg->data += total;
    seg->size -= static_cast<std::uint32_t>(total);
    s->inflight += total;
    s->queued -= total;
    s->send_window -= static_cast<std::int32_t>(total);  // total <= window <= 2^31-1
    s->set(sf::window_used);
    conn_send_window -= static_cast<std::int64_t>(total);
}

void Connection::Impl::send_trailers_now(Stream* s) {
    send_fields.clear();
    detail::SendMemos memos;
    s->hdr.pop(send_fields, memos.bytes.data());
    const std::uint8_t* m = send_fields.size() <= detail::SendMemos::capacity ? memos.bytes.data() : nullptr;
    const std::size_t from = out.buf.size();
    detail::write_header_block(out.buf, scratch, encoder, send_fields, s->id, true, false, 0, peer.max_frame_size, m);
    out.note_buf(from);
    account_sent(out.buf.data() + from, out.buf.size() - from);
    s->hdr.recycle(buffers);
    after_send_headers(s, true);
}

bool Connection::Impl::wants_write() const noexcept {
    if (!out.empty() || !ctrl.empty()) return true;
    if (closed) return false;
    if (!header_fifo.empty() || !wu_fifo.empty() || finishing) return true;
    if (detail::update_due(conn_credit, conn_recv_target)) return true;
    if (!open_fifo.empty() && active_local < peer_max_concurrent()) return true;
    // What is left in the set needs connection window (trailers and empty
    // END_STREAM DATA are `finishing`).
    return !ready.empty() && conn_send_window > 0;
}

}  // namespace h2wire
