// The connection's output: built frames waiting for the caller to write
// them, as a list of chunks. Frame headers and control frames live in one
// reusable buffer; DATA payload chunks point at the stream's send blocks or
// at borrowed application memory (zero copy), so pending_output_vectors()
// hands them to writev() untouched. The build order itself (control frames,
// header blocks, DATA round robin) is Connection::Impl::build() in
// scheduler.cpp.
#pragma once

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

/// Pool of send blocks shared by all streams of a connection. Freed blocks
/// are kept for reuse up to `keep`: as many as the limits let be in use at
/// once (every stream's max_buffered_per_stream), so a connection that
/// reaches a steady state allocates nothing more, and holds no more than its
/// own peak. Past `keep` they go back to the memory resource.
class BlockPool {
public:
    BlockPool(std::pmr::memory_resource* mr, std::uint32_t keep) noexcept : mr_(mr), keep_(keep), seg_slabs_(mr) {}
    ~BlockPool();
    BlockPool(const BlockPool&) = delete;
    BlockPool& operator=(const BlockPool&) = delete;

    /// A block with one reference and nothing used.
    Block* get();
    /// Drops one reference; the block is recycled when none is left.
    void release(Block* b) noexcept {
        if (--b->refs == 0) put(b);
    }

    /// Frees the spare blocks (Connection::trim()).
    void trim() noexcept;

    SendSeg* get_seg();
    void put_seg(SendSeg* s) noexcept {
        s->next = free_segs_;
        free_segs_ = s;
    }

private:
    void put(Block* b) noexcept;

    std::pmr::memory_resource* mr_;
    std::uint32_t keep_;
    Block* free_ = nullptr;
    std::uint32_t free_count_ = 0;
    SendSeg* free_segs_ = nullptr;
    std::pmr::vector<void*> seg_slabs_;
};

/// One piece of built output.
struct OutChunk {
    const std::uint8_t* ptr = nullptr;  // external memory, or null: `off` into Output::buf
    std::size_t off = 0;
    std::size_t len = 0;
    Block* block = nullptr;    // reference released once consumed
    Stream* stream = nullptr;  // DATA payload of this stream (Stream::inflight)
    std::uint8_t* owned = nullptr;  // a rescued copy, freed once consumed
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
        const std::size_t n = buf.size() - from;
        if (n == 0) return;
        pending += n;
        if (!chunks.empty() && head < chunks.size()) {
            OutChunk& last = chunks.back();
            if (!last.ptr && !last.owned && last.off + last.len == from) {
                last.len += n;
                return;
            }
        }
        chunks.push_back(OutChunk{nullptr, from, n, nullptr, nullptr, nullptr});
    }
    /// A DATA payload piece outside `buf` (the caller took a block reference).
    void add_external(const std::uint8_t* p, std::size_t n, Block* b, Stream* s) {
        pending += n;
        chunks.push_back(OutChunk{p, 0, n, b, s, nullptr});
    }
    /// A DATA frame: its header was appended to `buf` at `from`, its payload
    /// is outside (note_buf() and add_external() in one step).
    void add_frame(std::size_t from, const std::uint8_t* p, std::size_t n, Block* b, Stream* s) {
        const std::size_t h = buf.size() - from;
        pending += h + n;
        if (!chunks.empty()) {
            OutChunk& last = chunks.back();
            if (!last.ptr && last.off + last.len == from) {
                last.len += h;
                chunks.push_back(OutChunk{p, 0, n, b, s, nullptr});
                return;
            }
        }
        chunks.push_back(OutChunk{nullptr, from, h, nullptr, nullptr, nullptr});
        chunks.push_back(OutChunk{p, 0, n, b, s, nullptr});
    }
    bool empty() const noexcept { return pending == 0; }

    /// Drops fully consumed chunks and the front of `buf` they used, so both
    /// stay small while the caller keeps up.
    void compact();

    /// Marks `n` octets written. `done(stream, octets)` is called for every
    /// completed DATA chunk of a stream.
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
            const std::size_t left = c.len - head_off;
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
            return {buf.data() + c.off + head_off, c.len - head_off};
        }
        flat.clear();
        std::uint8_t* p = flat.grow(pending);
        for (std::size_t i = head; i < chunks.size(); ++i) {
            OutChunk& c = chunks[i];
            const std::size_t skip = i == head ? head_off : 0;
            const std::uint8_t* src = (c.ptr ? c.ptr : buf.data() + c.off) + skip;
            std::memcpy(p, src, c.len - skip);
            p += c.len - skip;
            finish(c, done);
        }
        const std::size_t n = pending;
        chunks.clear();
        head = head_off = 0;
        buf.swap(flat);
        chunks.push_back(OutChunk{nullptr, 0, n, nullptr, nullptr, nullptr});
        return {buf.data(), n};
    }

    /// The unconsumed output as pieces for writev().
    std::span<const OutputChunk> vectors();

    /// Detaches every unconsumed chunk from stream `s` (which goes away),
    /// copying DATA that points at borrowed application memory so the
    /// application may free it at once. Returns the octets detached.
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
                mr_->deallocate(c.owned, c.len, 1);
                c.owned = nullptr;
            }
        }
    }
    template <class Done>
    void reset_all(Done& done) {
        for (std::size_t i = head; i < chunks.size(); ++i) finish(chunks[i], done);
        chunks.clear();
        buf.clear();
        head = head_off = 0;
    }
    std::pmr::memory_resource* mr_;
};

}  // namespace h2wire::detail

#pragma GCC visibility pop
