// Connection::trim(): memory kept for reuse goes back to the memory resource.
// What each piece holds is described where it lives (buffers.hpp, stream.hpp,
// connection_impl.hpp); here only the order matters: nothing may still point
// at what is freed.
#include "connection/connection_impl.hpp"

namespace h2wire::detail {

void BlockPool::trim() noexcept {
    while (Block* b = free_) {
        free_ = b->next_free;
        b->~Block();
        mr_->deallocate(b, sizeof(Block), alignof(Block));
    }
    free_count_ = 0;
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

    // Stream objects on the free list. Nothing that outlives a stream may
    // name one: stale FIFO entries go first, and the DATA frame or header
    // block in progress forgets a stream that is gone (they would ignore it
    // anyway, seeing its id changed).
    c.header_fifo.compact_and_shrink();
    c.open_fifo.compact_and_shrink();
    c.wu_fifo.compact_and_shrink();
    std::erase_if(c.space_waiters, [](const Impl::SpaceWaiter& w) { return w.stream->id != w.id; });
    if (c.space_waiters.empty()) decltype(c.space_waiters)(c.mr).swap(c.space_waiters);
    if (c.data_stream && c.data_stream->id != c.data_stream_id) c.data_stream = nullptr;
    if (c.block.active) c.block.drop_gone_target();
    while (Stream* s = c.free_streams) {
        c.free_streams = s->ready_next;
        s->~Stream();
        c.mr->deallocate(s, sizeof(Stream), alignof(Stream));
    }
    c.free_count = 0;
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
