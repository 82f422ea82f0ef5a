// Connection::trim(): memory kept for reuse goes back to the memory resource.
// What each piece holds is described where it lives (buffers.hpp, stream.hpp,
// connection_impl.hpp); here only the order matters: nothing may still point
// at what is freed.
#include "connection/connection_impl.hpp"

namespace h2wire::detail {

void BlockPool::trim() noexcept {
    for (unsigned size = 0; size < sizes; ++size) {
        while (Block* b = free_[size]) {
            free_[size] = b->next_free;
            const std::uint32_t cap = b->cap;
            b->~Block();
            mr_->deallocate(b, Block::footprint(cap), alignof(Block));
        }
    }
    spare_octets_ = 0;
    spare_full_ = 0;
    release_unused_slabs();
}

void BlockPool::release_unused_slabs() noexcept {
    // Segments come in slabs; they can go back only when none is in use.
    if (segs_in_use_ == 0) {
        for (void* slab : seg_slabs_) mr_->deallocate(slab, 64 * sizeof(SendSeg), alignof(SendSeg));
        std::pmr::vector<void*>(seg_slabs_.get_allocator()).swap(seg_slabs_);
        free_segs_ = nullptr;
    }
}

void BlockPool::end_epoch() noexcept {
    const std::uint64_t allowed = peak_.recent();
    // The largest sizes go first: fewest frees for the octets.
    for (unsigned size = sizes; size-- > 0 && spare_octets_ > allowed;) {
        while (Block* b = free_[size]) {
            if (spare_octets_ <= allowed) break;
            free_[size] = b->next_free;
            const std::uint32_t cap = b->cap;
            spare_octets_ -= cap;
            spare_full_ -= size == sizes - 1;
            b->~Block();
            mr_->deallocate(b, Block::footprint(cap), alignof(Block));
        }
    }
    peak_.roll(in_use_, true);
    // Slabs of segments: all of them once none was used for two epochs.
    if (seg_peak_.recent() <= 64 && seg_slabs_.size() > 1) release_unused_slabs();
    seg_peak_.roll(segs_in_use_);
}

}  // namespace h2wire::detail

namespace h2wire {

using detail::Stream;

void Connection::Impl::free_body_pools() noexcept {
    while (detail::Body* b = free_bodies) {
        free_bodies = b->next_free;
        mr->deallocate(b, sizeof(detail::Body), alignof(detail::Body));
    }
    while (detail::Lend* l = free_lends) {
        free_lends = l->next_free;
        mr->deallocate(l, sizeof(detail::Lend), alignof(detail::Lend));
    }
}

// Stream objects on the free list past `keep` go back. Nothing that outlives
// a stream may name one: stale FIFO entries go first, and the DATA frame or
// header block in progress forgets a stream that is gone (they would ignore
// it anyway, seeing its id changed). The work is that of the lists, which
// hold no more than the live streams and the stale entries of the streams
// released since the last time.
void Connection::Impl::shed_streams(std::uint32_t keep) noexcept {
    header_fifo.compact_and_shrink();
    open_fifo.compact_and_shrink();
    wu_fifo.compact_and_shrink();
    std::erase_if(space_waiters, [](const SpaceWaiter& w) { return w.stream->id != w.id; });
    if (space_waiters.empty()) decltype(space_waiters)(mr).swap(space_waiters);
    if (data_stream && data_stream->id != data_stream_id) data_stream = nullptr;
    if (block.active) block.drop_gone_target();
    while (free_count > keep) {
        Stream* s = free_streams;
        free_streams = s->ready_next;
        s->~Stream();
        mr->deallocate(s, sizeof(Stream), alignof(Stream));
        --free_count;
    }
}

void Connection::Impl::release_idle_output() noexcept {
    if (out.pending == 0 && out.head == out.chunks.size()) {
        out.buf.release();
        decltype(out.chunks)(mr).swap(out.chunks);
        decltype(out.vecs)(mr).swap(out.vecs);
        out.flat.release();
        out.head = out.head_off = 0;
    }
}

// The end of an epoch (connection_impl.hpp, follow_load()): what the last
// epochs did not need goes back. A burst of 1,000 streams' objects is down to
// 16 spare ones after some eight epochs (the peaks halve each epoch).
void Connection::Impl::end_epoch() noexcept {
    // The peaks decay by half an epoch: a load whose rounds span several
    // epochs keeps what a round uses.
    streams_peak.roll(static_cast<std::uint32_t>(std::min<std::size_t>(streams.size(), UINT32_MAX / 2)), true);
    pool.end_epoch();
    buffers.end_epoch();
    // Buffers and lists grown for a burst, four times what the last two
    // epochs needed at most (they grow by doubling: a steady load never
    // shrinks them). The output must be empty (nothing points into it);
    // the lists of events and fields hold nothing live at the start of a
    // receive() (the last call's and take_events()'s views are dead).
    const std::size_t out_used = std::max<std::size_t>(out_peak.recent(), 1024);
    if (out.buf.capacity() > 4 * out_used || out.flat.capacity() > 4 * out_used ||
        out.chunks.capacity() * sizeof(detail::OutChunk) > 4 * out_used)
        release_idle_output();
    if (ctrl.empty() && ctrl.capacity() > 4 * out_used) ctrl.release();  // (it trades places with the output's)
    if (scratch.capacity() > 4 * out_used) scratch.release();
    out_peak.roll();
    const std::size_t deferred_used = std::max<std::size_t>(deferred_peak.recent(), 16);
    if (deferred.empty() && deferred.capacity() > 4 * deferred_used) std::pmr::vector<Event>(mr).swap(deferred);
    if (taken.capacity() > 4 * deferred_used) std::pmr::vector<Event>(mr).swap(taken);
    deferred_peak.roll();
    // (events is empty here: end_epoch() runs at the start of a receive().)
    if (events.capacity() > 4 * std::max<std::size_t>(events_peak.recent(), 16)) std::pmr::vector<Event>(mr).swap(events);
    events_peak.roll();
    if (!block.active) arena.end_epoch();  // (else the arena holds the block's fields)
    // Field lists: only one grown for a block of many fields.
    if (!block.active && block_fields.capacity() > 256) std::pmr::vector<Field>(mr).swap(block_fields);
    if (send_fields.capacity() > 256) std::pmr::vector<Field>(mr).swap(send_fields);
    if (streams.capacity() > 64 && std::size_t{streams_peak.recent()} * 8 < streams.capacity())
        streams.shrink();
    // The priority heap of a burst, once it is over.
    ready.release_idle();
    if (idle_priorities.empty() && idle_priorities.capacity() > 0) std::pmr::vector<IdlePriority>(mr).swap(idle_priorities);
    pings.release_if_empty(mr);
}

// The end of a round (connection_impl.hpp): every stream object is spare
// now, so free_count is the most streams alive at once since the objects
// were last shed. A round more than twice as large as any before it (a
// burst: rounds of a steady load vary less) gives back what only it
// needed: spare stream objects past 16 (or the largest earlier round's
// need), spare send blocks, segments, body records and header-store
// buffers, the output's octets, the stream map's slots and the priority
// heap, which hold nothing now. What the events of the last receive() or
// take_events() point at (the arena, the event lists) stays, as trim()
// would not take it either. The largest round so far is never forgotten
// here (rounds with nothing in them come between any two, from a PING's
// ACK on); the epochs give back what a load that shrank no longer needs.
// After a shed, a round larger than every one since allocates what it
// needs beyond them: in all, at most what the shed gave back.
void Connection::Impl::end_round() noexcept {
    const std::uint32_t need = free_count;
    const std::uint32_t keep = std::max(16u, round_streams);
    if (need <= 2 * keep) return;
    round_streams = need;
    shed_streams(keep);
    streams.shrink();
    ready.release_idle();
    buffers.trim();
    pool.trim();
    free_body_pools();
    if (ctrl.empty()) ctrl.release();
    scratch.release();
    // The output's octets (nothing is pending: no chunk points into them).
    // Its lists of chunks stay: their length follows how the rounds' frames
    // interleave, which a steady load's rounds do not repeat exactly, and
    // a list regrown piecemeal would allocate in rounds long after.
    out.buf.release();
    out.flat.release();
    if (send_fields.capacity() > 0) std::pmr::vector<Field>(mr).swap(send_fields);
}

void Connection::trim() noexcept {
    Impl& c = *impl_;
    if (c.in_receive) return;

    // The last receive()'s events and the arena their views point into. The
    // fields of a header block still being received live in the arena too:
    // then it stays.
    c.events.clear();
    std::pmr::vector<Event>(c.mr).swap(c.events);
    // The events take_events() handed out: their span ends here too.
    std::pmr::vector<Event>(c.mr).swap(c.taken);
    if (!c.block.active) {
        c.arena.trim();
        std::pmr::vector<Field>(c.mr).swap(c.block_fields);
    } else {
        c.arena.keep_from(c.block.fields_from);
    }
    std::pmr::vector<Field>(c.mr).swap(c.send_fields);
    // Events of API calls already collected (a burst of StreamClosed).
    if (c.deferred.empty()) std::pmr::vector<Event>(c.mr).swap(c.deferred);

    c.shed_streams(0);
    c.streams.shrink();
    c.ready.release_idle();
    if (c.idle_priorities.empty()) std::pmr::vector<Impl::IdlePriority>(c.mr).swap(c.idle_priorities);
    c.buffers.trim();
    c.pool.trim();
    c.free_body_pools();
    c.pings.release_if_empty(c.mr);

    // Output buffers with nothing in them.
    if (c.ctrl.empty()) c.ctrl.release();
    c.scratch.release();
    c.release_idle_output();
}

}  // namespace h2wire
