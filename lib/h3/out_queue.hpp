// A stream's output queue for the HTTP/3 connection: the frames we wrote
// (in blocks from the connection's BufferPool) and the DATA payload the
// application lent, as one run of segments that next_output() hands out,
// consume_output() marks written and acknowledged() releases.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <vector>

#include "connection/buffers.hpp"
#include "h2wire/connection.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::h3 {

// Smallest pooled output block: a HEADERS frame and a DATA header fit.
constexpr std::size_t kMinBlock = 256;

/// One piece of a stream's output.
struct Segment {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    std::uint8_t* block = nullptr;  // the pooled block holding `data`; null when lent
    std::size_t cap = 0;            // the block's size
};

/// A stream's output: segments from the oldest octet not yet released to
/// the newest queued. Octets go through three marks: written (taken by the
/// QUIC stack), then released (acknowledged, or written when nothing is
/// retained).
class OutQueue {
public:
    explicit OutQueue(std::pmr::memory_resource* mr) : segs_(mr) {}

    /// Room for `n` octets at the end, in a pooled block.
    std::uint8_t* append(std::size_t n, detail::BufferPool& pool) {
        if (segs_.size() > first_) {
            Segment& last = segs_.back();
            std::uint8_t* end = const_cast<std::uint8_t*>(last.data) + last.size;
            if (last.block != nullptr && end + n <= last.block + last.cap) {
                if (wseg_ == segs_.size()) {  // it was all written: write on from its end
                    wseg_ = segs_.size() - 1;
                    woff_ = last.size;
                }
                last.size += n;
                pending_ += n;
                return end;
            }
        }
        std::size_t cap = 0;
        std::uint8_t* block = pool.take(std::max(n, kMinBlock), cap);
        segs_.push_back({block, n, block, cap});
        pending_ += n;
        return block;
    }
    /// `n` octets lent by the application.
    void lend(const std::uint8_t* p, std::size_t n) {
        if (n == 0) return;
        segs_.push_back({p, n, nullptr, 0});
        pending_ += n;
    }
    /// Drops the last `n` octets appended (a frame that was not finished).
    void unappend(std::size_t n) noexcept {
        segs_.back().size -= n;
        pending_ -= n;
    }

    std::size_t pending() const noexcept { return pending_; }
    std::size_t retained() const noexcept { return retained_; }

    /// Up to `max` chunks of unwritten octets.
    std::size_t chunks(OutputChunk* out, std::size_t max, std::size_t& total) const noexcept {
        std::size_t k = 0;
        total = 0;
        std::size_t off = woff_;
        for (std::size_t i = wseg_; i < segs_.size() && k < max; ++i, off = 0) {
            const Segment& s = segs_[i];
            if (s.size == off) continue;
            out[k++] = {s.data + off, s.size - off};
            total += s.size - off;
        }
        return k;
    }

    /// The first `n` unwritten octets were written.
    void written(std::size_t n, bool retain, detail::BufferPool& pool) {
        pending_ -= n;
        retained_ += n;
        while (n > 0) {
            const Segment& s = segs_[wseg_];
            const std::size_t step = std::min(n, s.size - woff_);
            woff_ += step;
            n -= step;
            if (woff_ == s.size) {
                ++wseg_;
                woff_ = 0;
            }
        }
        if (!retain) release(retained_, pool);
    }

    /// The first `n` written octets not yet released are released.
    void release(std::size_t n, detail::BufferPool& pool) {
        n = std::min(n, retained_);
        retained_ -= n;
        while (n > 0) {
            Segment& s = segs_[first_];
            const std::size_t step = std::min(n, s.size - foff_);
            foff_ += step;
            n -= step;
            if (foff_ == s.size && (first_ + 1 < segs_.size() || wseg_ > first_)) drop_first(pool);
        }
        // A last segment that is wholly released goes too (it is not extended
        // once released: append() only extends segments at or after first_).
        if (first_ < segs_.size() && retained_ == 0 && pending_ == 0 && foff_ == segs_[first_].size)
            drop_first(pool);
        if (first_ == segs_.size()) {
            segs_.clear();
            first_ = wseg_ = 0;
            foff_ = woff_ = 0;
        }
    }

    /// Everything goes (the stream was reset, or the connection ends).
    void clear(detail::BufferPool& pool) {
        for (std::size_t i = first_; i < segs_.size(); ++i)
            if (segs_[i].block != nullptr) pool.give(segs_[i].block, segs_[i].cap);
        segs_.clear();
        first_ = wseg_ = 0;
        foff_ = woff_ = 0;
        pending_ = retained_ = 0;
    }

private:
    void drop_first(detail::BufferPool& pool) {
        Segment& s = segs_[first_];
        if (s.block != nullptr) pool.give(s.block, s.cap);
        s = {};
        ++first_;
        foff_ = 0;
        if (wseg_ < first_) {
            wseg_ = first_;
            woff_ = 0;
        }
    }

    std::pmr::vector<Segment> segs_;
    std::size_t first_ = 0;  // oldest segment holding unreleased octets
    std::size_t foff_ = 0;   // octets of segs_[first_] released
    std::size_t wseg_ = 0;   // segment of the next unwritten octet
    std::size_t woff_ = 0;
    std::size_t pending_ = 0;   // queued, not written
    std::size_t retained_ = 0;  // written, not released
};

}  // namespace h2wire::h3

#pragma GCC visibility pop
