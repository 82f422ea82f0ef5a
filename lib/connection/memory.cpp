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
    std::size_t spare = 0;
    for (const SendSeg* s = free_segs_; s; s = s->next) ++spare;
    if (spare == seg_slabs_.size() * 64) {
        for (void* slab : seg_slabs_) mr_->deallocate(slab, 64 * sizeof(SendSeg), alignof(SendSeg));
        std::pmr::vector<void*>(seg_slabs_.get_allocator()).swap(seg_slabs_);
        free_segs_ = nullptr;
    }
}

void BlockPool::end_epoch() noexcept {
    const std::uint64_t allowed = std::max(peak_, peak_prev_);
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
    peak_prev_ = peak_;
    peak_ = in_use_;
    if (seg_slabs_.size() > 1) release_unused_slabs();
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
    scratch.release();
    if (out.pending == 0 && out.head == out.chunks.size()) {
        out.buf.release();
        decltype(out.chunks)(mr).swap(out.chunks);
        decltype(out.vecs)(mr).swap(out.vecs);
        out.flat.release();
        out.head = out.head_off = 0;
    }
}

// Every stream_epoch_calls receive() calls: what the last two epochs did not
// need goes back, without Connection::trim(). A connection whose load is
// steady keeps what it uses and allocates nothing; one whose burst is over
// holds what a quiet connection holds two epochs later.
void Connection::Impl::end_epoch() noexcept {
    streams_peak_prev = streams_peak;
    streams_peak = static_cast<std::uint32_t>(std::min<std::size_t>(streams.size(), UINT32_MAX / 2));
    pool.end_epoch();
    // Output buffers grown for a burst (the output is empty: nothing points
    // into them), and a stream map grown for many more streams than now.
    release_idle_output();
    if (ctrl.empty() && ctrl.capacity() > 256) ctrl.release();  // (it trades places with the output's)
    // Lists a burst grew that hold nothing live now (this runs at the start
    // of a receive(): the last call's and take_events()'s views are dead).
    if (deferred.empty()) std::pmr::vector<Event>(mr).swap(deferred);
    std::pmr::vector<Event>(mr).swap(taken);
    if (!block.active) std::pmr::vector<Field>(mr).swap(block_fields);
    std::pmr::vector<Field>(mr).swap(send_fields);
    if (streams.capacity() > 64 && std::max<std::size_t>(streams_peak, streams_peak_prev) * 8 < streams.capacity())
        streams.shrink();
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
    c.buffers.trim();
    c.pool.trim();
    c.free_body_pools();

    // Output buffers with nothing in them.
    if (c.ctrl.empty()) c.ctrl.release();
    c.release_idle_output();
}

}  // namespace h2wire
