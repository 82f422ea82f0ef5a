// The streams ready to send DATA, ordered by priority (RFC 9218 §10).
//
//   - The lowest urgency goes first: a stream of urgency 5 gets a turn only
//     when no stream of urgency 0-4 is ready.
//   - Within an urgency, non-incremental streams are served one at a time in
//     stream id order (the order the client made its requests), incremental
//     ones a frame each in turn (round robin).
//   - When an urgency has both kinds, they alternate frame by frame, so a
//     long non-incremental response does not starve incremental ones issued
//     after it, nor the reverse (RFC 9218 §10 asks servers to avoid both).
//
// Non-incremental streams sit in one binary heap keyed by (urgency, id);
// incremental ones in a circular list per urgency, with a bit mask of the
// urgencies that have any. next() is O(1), insert() and remove() O(log n)
// for non-incremental streams and O(1) for incremental ones, so choosing a
// frame costs no more with many streams open than with one.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <memory_resource>
#include <vector>

#include "connection/stream.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::detail {

/// Circular lists of streams through ready_next / ready_prev, `head` the
/// next to go: push() adds at the tail (just before the head), erase()
/// unlinks. Both O(1).
struct StreamRing {
    static void push(Stream*& head, Stream* s) noexcept {
        if (!head) {
            head = s->ready_next = s->ready_prev = s;
            return;
        }
        s->ready_next = head;
        s->ready_prev = head->ready_prev;
        head->ready_prev->ready_next = s;
        head->ready_prev = s;
    }
    /// True when `s` was the last one (the ring is now empty).
    static bool erase(Stream*& head, Stream* s) noexcept {
        const bool last = s->ready_next == s;
        if (last) {
            head = nullptr;
        } else {
            s->ready_prev->ready_next = s->ready_next;
            s->ready_next->ready_prev = s->ready_prev;
            if (head == s) head = s->ready_next;
        }
        s->ready_next = s->ready_prev = nullptr;
        return last;
    }
};

class ReadySet {
public:
    explicit ReadySet(std::pmr::memory_resource* mr) : heap_(mr) {}

    bool empty() const noexcept { return heap_.empty() && ring_mask_ == 0; }

    /// Adds `s` (not in the set) under its current priority.
    void insert(Stream* s) {
        const unsigned u = s->urgency();
        if (s->incremental()) {
            StreamRing::push(rings_[u], s);  // the tail of the round robin
            ring_mask_ |= static_cast<std::uint8_t>(1u << u);
            return;
        }
        s->heap_pos = static_cast<std::uint32_t>(heap_.size());
        heap_.push_back(s);
        sift_up(s->heap_pos);
    }

    /// Removes `s` (in the set).
    void remove(Stream* s) noexcept {
        const unsigned u = s->urgency();
        if (s->incremental()) {
            if (StreamRing::erase(rings_[u], s)) ring_mask_ &= static_cast<std::uint8_t>(~(1u << u));
            return;
        }
        const std::uint32_t at = s->heap_pos;
        Stream* last = heap_.back();
        heap_.pop_back();
        if (last == s) return;
        heap_[at] = last;
        last->heap_pos = at;
        // The moved element may belong above or below its new place.
        if (at > 0 && less(last, heap_[(at - 1) / 2])) sift_up(at);
        else sift_down(at);
    }

    /// The stream whose turn it is, or null when the set is empty.
    Stream* next() const noexcept {
        const unsigned ring = ring_mask_ ? static_cast<unsigned>(std::countr_zero(ring_mask_)) : 8;
        const unsigned heap = heap_.empty() ? 8 : heap_[0]->urgency();
        if (ring < heap) return rings_[ring];
        if (heap < ring) return heap_[0];
        if (heap == 8) return nullptr;
        return (ring_turn_ >> ring) & 1 ? rings_[ring] : heap_[0];
    }

    /// Stream `s`, which next() returned, had its turn (and may have left
    /// the set meanwhile): the round robin moves past it, and an urgency
    /// with both kinds gives the next turn to the other kind.
    void turn_taken(const Stream* s, unsigned urgency, bool incremental) noexcept {
        const auto bit = static_cast<std::uint8_t>(1u << urgency);
        if (incremental) {
            Stream*& head = rings_[urgency];
            if (head == s) head = s->ready_next;
            ring_turn_ &= static_cast<std::uint8_t>(~bit);
        } else {
            ring_turn_ |= bit;
        }
    }

    /// Whether stream `s`, which next() returned, would have every turn
    /// until it leaves the set: nothing else of its urgency or more urgent
    /// is ready (what the caller may use to send its frames in one go).
    bool alone(const Stream* s) const noexcept {
        const unsigned u = s->urgency();
        if (s->incremental()) {
            return s->ready_next == s && (heap_.empty() || heap_[0]->urgency() > u);
        }
        return !(ring_mask_ & static_cast<std::uint8_t>(1u << u));
    }

    /// Every stream in the set, in no particular order.
    template <class F>
    void for_each(F&& f) const {
        for (Stream* s : heap_) f(s);
        for (Stream* head : rings_) {
            if (!head) continue;
            Stream* s = head;
            do {
                Stream* n = s->ready_next;
                f(s);
                s = n;
            } while (s != head);
        }
    }

    /// Frees the heap's storage when nothing is in it (memory that a burst
    /// left behind).
    void release_idle() {
        if (heap_.empty() && heap_.capacity() > 0) std::pmr::vector<Stream*>(heap_.get_allocator()).swap(heap_);
    }
    std::size_t capacity_bytes() const noexcept { return heap_.capacity() * sizeof(Stream*); }

private:
    static bool less(const Stream* a, const Stream* b) noexcept {
        const unsigned ua = a->urgency();
        const unsigned ub = b->urgency();
        return ua != ub ? ua < ub : a->id < b->id;
    }
    void sift_up(std::uint32_t at) noexcept {
        Stream* s = heap_[at];
        while (at > 0) {
            const std::uint32_t up = (at - 1) / 2;
            if (!less(s, heap_[up])) break;
            heap_[at] = heap_[up];
            heap_[at]->heap_pos = at;
            at = up;
        }
        heap_[at] = s;
        s->heap_pos = at;
    }
    void sift_down(std::uint32_t at) noexcept {
        Stream* s = heap_[at];
        const auto n = static_cast<std::uint32_t>(heap_.size());
        for (;;) {
            std::uint32_t child = 2 * at + 1;
            if (child >= n) break;
            if (child + 1 < n && less(heap_[child + 1], heap_[child])) ++child;
            if (!less(heap_[child], s)) break;
            heap_[at] = heap_[child];
            heap_[at]->heap_pos = at;
            at = child;
        }
        heap_[at] = s;
        s->heap_pos = at;
    }

    std::pmr::vector<Stream*> heap_;    // non-incremental, min-heap by (urgency, id)
    std::array<Stream*, 8> rings_{};    // incremental, per urgency: the next to go
    std::uint8_t ring_mask_ = 0;        // urgencies with incremental streams
    std::uint8_t ring_turn_ = 0;        // urgencies whose next turn is an incremental stream's
};

}  // namespace h2wire::detail

#pragma GCC visibility pop
