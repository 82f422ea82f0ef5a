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
    // Segments come in slabs; they can go back only when none is in use.
    std::size_t spare = 0;
    for (const SendSeg* s = free_segs_; s; s = s->next) ++spare;
    if (spare == seg_slabs_.size() * 64) {
        for (void* slab : seg_slabs_) mr_->deallocate(slab, 64 * sizeof(SendSeg), alignof(SendSeg));
        std::pmr::vector<void*>(seg_slabs_.get_allocator()).swap(seg_slabs_);
        free_segs_ = nullptr;
    }
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
    c.scratch.release();
    if (c.out.pending == 0 && c.out.head == c.out.chunks.size()) {
        c.out.buf.release();
        decltype(c.out.chunks)(c.mr).swap(c.out.chunks);
        decltype(c.out.vecs)(c.mr).swap(c.out.vecs);
        c.out.flat.release();
        c.out.head = c.out.head_off = 0;
    }
}

}  // namespace h2wire
