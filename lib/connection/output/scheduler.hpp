// The connection's output: built frames waiting for the caller to write
// them, as a list of chunks. Frame headers and control frames live in one
// reusable buffer; DATA payload chunks point at the stream's send blocks or
// at borrowed application memory (zero copy), so pending_output_vectors()
// hands them to writev() untouched. The build order itself (control frames,
// header blocks, DATA round robin) is Connection::Impl::build() in
// scheduler.cpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <span>
#include <vector>

#include "connection/buffers.hpp"
#include "connection/stream.hpp"
#include "h2wire/connection.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::detail {

/// Send blocks of a connection, in nine sizes: 64 octets to a full block
/// (Block::capacity), doubling. A body that fits in less than a full block
/// gets the smallest size it fits in (a 16-octet response holds 64 octets,
/// not 16 KiB). Freed blocks are kept for reuse up to `keep` full blocks'
/// worth of octets, as many as the limits let be in use at once (every
/// stream's max_buffered_per_stream), so a connection that reaches a steady
/// state allocates nothing more, and holds no more than its own peak until
/// Connection::trim(). Past `keep` they go back to the memory resource.
class BlockPool {
public:
    static constexpr unsigned sizes = 9;
    static constexpr std::uint32_t smallest = 64;
    static_assert(smallest << (sizes - 1) == Block::capacity);

    BlockPool(std::pmr::memory_resource* mr, std::uint32_t keep) noexcept : mr_(mr), keep_octets_(std::uint64_t{keep} * Block::capacity), seg_slabs_(mr) {}
    ~BlockPool();
    BlockPool(const BlockPool&) = delete;
    BlockPool& operator=(const BlockPool&) = delete;

    /// A block with one reference, nothing used and room for at least `want`
    /// octets (a full block when `want` is Block::capacity or more).
    Block* get(std::size_t want);
    /// Drops one reference; the block is recycled when none is left (a lend
    /// goes to the hook given to on_lend_released()).
    void release(Backing* b) noexcept {
        if (--b->refs == 0) put(b);
    }
    /// What to call for a Lend whose last reference went.
    void on_lend_released(void (*hook)(void* context, Lend* lend) noexcept, void* context) noexcept {
        lend_hook_ = hook;
        lend_context_ = context;
    }

    /// Frees the spare blocks (Connection::trim()).
    void trim() noexcept;
    /// Ends an epoch of the connection (Connection::Impl::end_epoch()): spare
    /// blocks past the most octets in use at once lately (the peak of this
    /// epoch and the one before, halved each epoch) go back, so what a burst
    /// left is freed a few epochs after it, while a load that comes back
    /// keeps what it uses.
    void end_epoch() noexcept;
    /// Octets of spare blocks ready for get() without an allocation.
    /// (Full blocks only: what a large copy can use.)
    std::size_t spare_octets() const noexcept { return std::size_t{spare_full_} * Block::capacity; }

    SendSeg* get_seg();
    void put_seg(SendSeg* s) noexcept {
        s->next = free_segs_;
        free_segs_ = s;
        --segs_in_use_;
    }

private:
    void put(Backing* b) noexcept;
    void release_unused_slabs() noexcept;

    std::pmr::memory_resource* mr_;
    void (*lend_hook_)(void*, Lend*) noexcept = nullptr;
    void* lend_context_ = nullptr;
    std::uint64_t keep_octets_;
    std::uint64_t spare_octets_ = 0;  // of every size
    std::array<Block*, sizes> free_{};
    std::uint32_t spare_full_ = 0;    // spare full blocks
    std::uint64_t in_use_ = 0;        // octets of the blocks handed out
    RecentPeak<std::uint64_t> peak_;  // of in_use_
    std::size_t segs_in_use_ = 0;
    RecentPeak<std::size_t> seg_peak_;  // of segs_in_use_
    SendSeg* free_segs_ = nullptr;
    std::pmr::vector<void*> seg_slabs_;
};

/// One piece of built output: `buf_len` octets of Output::buf from `off`,
/// then `len` octets of memory outside it (a DATA payload in a send block or
/// in borrowed application memory), either part possibly empty. A DATA frame
/// is one piece: its header in `buf`, its payload outside.
struct OutChunk {
    std::size_t off = 0;
    const std::uint8_t* ptr = nullptr;  // the outside part, or null
    std::size_t len = 0;
    Backing* block = nullptr;  // reference released once consumed
    Stream* stream = nullptr;  // the outside part is DATA of this stream (Stream::inflight)
    std::uint32_t buf_len = 0;
    bool owned = false;  // `ptr` is a rescued copy, freed once consumed

    std::size_t size() const noexcept { return buf_len + len; }
};

class Output {
public:
    explicit Output(std::pmr::memory_resource* mr) : buf(mr), chunks(mr), vecs(mr), flat(mr), mr_(mr) {}
    ~Output();

    ByteBuffer buf;
    std::pmr::vector<OutChunk> chunks;
    std::pmr::vector<OutputChunk> vecs;
    ByteBuffer flat;
    std::size_t head = 0;      // first chunk not fully consumed
    std::size_t head_off = 0;  // octets of it consumed
    std::size_t pending = 0;   // octets built and not consumed
    BlockPool* pool = nullptr;

    /// Octets [from, buf.size()) were appended to `buf`.
    void note_buf(std::size_t from) {
        std::size_t n = buf.size() - from;
        if (n == 0) return;
        pending += n;
        if (!chunks.empty()) {
            OutChunk& last = chunks.back();
            // Joins the last piece when that one ends in `buf` where these
            // octets start.
            if (!last.ptr && last.off + last.buf_len == from && n <= UINT32_MAX - last.buf_len) {
                last.buf_len += static_cast<std::uint32_t>(n);
                return;
            }
        }
        while (n > 0) {
            const auto k = static_cast<std::uint32_t>(std::min<std::size_t>(n, UINT32_MAX));
            chunks.push_back(OutChunk{from, nullptr, 0, nullptr, nullptr, k, false});
            from += k;
            n -= k;
        }
    }
    /// A DATA payload piece outside `buf` (the caller took a block
    /// reference); it follows the last piece's `buf` octets when that one has
    /// no outside part yet.
    void add_external(const std::uint8_t* p, std::size_t n, Backing* b, Stream* s) {
        pending += n;
        if (!chunks.empty()) {
            OutChunk& last = chunks.back();
            if (!last.ptr) {
                last.ptr = p;
                last.len = n;
                last.block = b;
                last.stream = s;
                return;
            }
        }
        chunks.push_back(OutChunk{buf.size(), p, n, b, s, 0, false});
    }
    /// A DATA frame whose header was just appended to `buf` at `from`, with
    /// its payload outside: note_buf() and add_external() in one step.
    void add_frame(std::size_t from, const std::uint8_t* p, std::size_t n, Backing* b, Stream* s) {
        const auto h = static_cast<std::uint32_t>(buf.size() - from);
        pending += h + n;
        if (!chunks.empty()) {
            OutChunk& last = chunks.back();
            if (!last.ptr && last.off + last.buf_len == from && last.buf_len <= UINT32_MAX - h) [[unlikely]] {
                last.buf_len += h;
                last.ptr = p;
                last.len = n;
                last.block = b;
                last.stream = s;
                return;
            }
        }
        chunks.push_back(OutChunk{from, p, n, b, s, h, false});
    }
    bool empty() const noexcept { return pending == 0; }

    /// Drops fully consumed chunks and the front of `buf` they used, so both
    /// stay small while the caller keeps up.
    void compact();

    /// Marks `n` octets written. `done(stream, octets)` is called for every
    /// completed DATA payload of a stream.
    template <class Done>
    void consume(std::size_t n, Done&& done) {
        if (n >= pending) {
            // All of it: the common case of a caller that keeps up.
            pending = 0;
            reset_all(done);
            return;
        }
        pending -= n;
        while (n > 0) {  // n < pending: some chunk stays
            OutChunk& c = chunks[head];
            const std::size_t left = c.size() - head_off;
            if (n < left) {
                head_off += n;
                return;
            }
            n -= left;
            ++head;
            head_off = 0;
            finish(c, done);
        }
    }

    /// The unconsumed output as one span, copying it together first when it
    /// is in several pieces.
    template <class Done>
    std::span<const std::uint8_t> contiguous(Done&& done) {
        if (pending == 0) return {};
        if (chunks.size() - head == 1 && !chunks[head].ptr) {
            const OutChunk& c = chunks[head];
            return {buf.data() + c.off + head_off, c.buf_len - head_off};
        }
        flat.clear();
        std::uint8_t* p = flat.grow(pending);
        for (std::size_t i = head; i < chunks.size(); ++i) {
            OutChunk& c = chunks[i];
            std::size_t skip = i == head ? head_off : 0;
            if (skip < c.buf_len) {
                std::memcpy(p, buf.data() + c.off + skip, c.buf_len - skip);
                p += c.buf_len - skip;
                skip = 0;
            } else {
                skip -= c.buf_len;
            }
            if (c.len > skip) {
                std::memcpy(p, c.ptr + skip, c.len - skip);
                p += c.len - skip;
            }
            finish(c, done);
        }
        const std::size_t n = pending;
        chunks.clear();
        head = head_off = 0;
        buf.swap(flat);
        note_buf(0);
        pending = n;
        return {buf.data(), n};
    }

    /// The unconsumed output as pieces for writev().
    std::span<const OutputChunk> vectors();

    /// Detaches every unconsumed chunk from stream `s` (which goes away),
    /// copying DATA that points at borrowed application memory or at a lend
    /// (which is released) so the application may free it at once. Returns
    /// the octets detached.
    std::uint64_t detach(Stream* s);

private:
    template <class Done>
    void finish(OutChunk& c, Done& done) {
        if (c.stream) {
            done(c.stream, c.len);
            c.stream = nullptr;
        }
        if (c.block || c.owned) [[unlikely]] {
            if (c.block) {
                pool->release(c.block);
                c.block = nullptr;
            }
            if (c.owned) {
                mr_->deallocate(const_cast<std::uint8_t*>(c.ptr), c.len, 1);
                c.owned = false;
            }
        }
    }
    template <class Done>
    void reset_all(Done& done) {
        // `done` may release a stream, which looks at the chunks from `head`
        // (detach()): it finds them finished, and none is added meanwhile.
        OutChunk* c = chunks.data() + head;
        OutChunk* const end = chunks.data() + chunks.size();
        for (; c != end; ++c) finish(*c, done);
        chunks.clear();
        buf.clear();
        head = head_off = 0;
    }
    std::pmr::memory_resource* mr_;
};

}  // namespace h2wire::detail

#pragma GCC visibility pop
