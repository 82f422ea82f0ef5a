// The RFC 9113 §5.1 transition table, the stream map and the reset ledger.
#include "connection/stream_table.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "connection/stream.hpp"

namespace h2wire::detail {

// --- StreamMap ---------------------------------------------------------------

StreamMap::~StreamMap() {
    if (slots_) mr_->deallocate(slots_, cap_ * sizeof(Stream*), alignof(Stream*));
}

void StreamMap::insert(Stream* s) {
    if ((size_ + 1) * 2 > cap_) grow();
    std::size_t i = home(s->id);
    while (slots_[i]) i = (i + 1) & (cap_ - 1);
    slots_[i] = s;
    ++size_;
}

void StreamMap::erase(std::uint32_t id) noexcept {
    if (size_ == 0) return;
    std::size_t i = home(id);
    for (;; i = (i + 1) & (cap_ - 1)) {
        if (!slots_[i]) return;
        if (slots_[i]->id == id) break;
    }
    // Backward-shift deletion: move later members of the probe run into the
    // hole when their home slot does not lie cyclically in (hole, j].
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & (cap_ - 1); slots_[j]; j = (j + 1) & (cap_ - 1)) {
        const std::size_t h = home(slots_[j]->id);
        const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (stays) continue;
        slots_[hole] = slots_[j];
        hole = j;
    }
    slots_[hole] = nullptr;
    --size_;
}

void StreamMap::grow() { rehash(cap_ ? cap_ * 2 : 16); }

void StreamMap::shrink() noexcept {
    std::size_t want = 16;
    while (size_ * 2 > want) want *= 2;
    if (size_ == 0) want = 0;
    if (want >= cap_) return;
    try {
        rehash(want);
    } catch (...) {
        // Out of memory for the smaller array: the map stays as it is.
    }
}

void StreamMap::rehash(std::size_t new_cap) {
    // The new array first: if that fails, the map is unchanged.
    Stream** fresh = nullptr;
    if (new_cap) {
        fresh = static_cast<Stream**>(mr_->allocate(new_cap * sizeof(Stream*), alignof(Stream*)));
        std::memset(fresh, 0, new_cap * sizeof(Stream*));
    }
    const std::size_t old_cap = cap_;
    Stream** old = slots_;
    cap_ = new_cap;
    slots_ = fresh;
    size_ = 0;
    for (std::size_t i = 0; i < old_cap; ++i)
        if (old[i]) {
            std::size_t j = home(old[i]->id);
            while (slots_[j]) j = (j + 1) & (cap_ - 1);
            slots_[j] = old[i];
            ++size_;
        }
    if (old) mr_->deallocate(old, old_cap * sizeof(Stream*), alignof(Stream*));
}

// --- ResetLedger -------------------------------------------------------------
//
// A ring of ids in the order they were added (the oldest is overwritten once
// full) and, beside it, an open-addressing set of the same ids for
// contains(): one probe sequence per late frame, however many streams were
// reset (a linear search would let a peer make every frame on a closed
// stream cost max_reset_streams compares).

ResetLedger::~ResetLedger() { free_storage(); }

void ResetLedger::free_storage() noexcept {
    if (ring_) mr_->deallocate(ring_, storage_size(cap_), alignof(std::uint32_t));
    ring_ = table_ = nullptr;
}

std::size_t ResetLedger::storage_size(std::uint32_t cap) noexcept {
    return (std::size_t{cap} + table_size(cap)) * sizeof(std::uint32_t);
}

void ResetLedger::add(std::uint32_t id) {
    if (max_ == 0 || id == 0 || contains(id)) return;
    if (size_ == cap_ && cap_ < max_) grow(std::min<std::uint32_t>(max_, cap_ ? cap_ * 2 : 16));
    if (size_ < cap_) {
        ring_[size_++] = id;
    } else {
        // Full at the maximum: the oldest goes.
        ++forgotten_;
        erase_from_table(ring_[next_]);
        ring_[next_] = id;
        next_ = (next_ + 1) % cap_;
    }
    insert_into_table(id);
}

bool ResetLedger::contains(std::uint32_t id) const noexcept {
    if (size_ == 0) return false;
    const std::uint32_t mask = table_size(cap_) - 1;
    for (std::uint32_t i = slot_of(id, mask);; i = (i + 1) & mask) {
        if (table_[i] == id) return true;
        if (table_[i] == 0) return false;
    }
}

void ResetLedger::grow(std::uint32_t cap) {
    auto* fresh = static_cast<std::uint32_t*>(mr_->allocate(storage_size(cap), alignof(std::uint32_t)));
    std::memset(fresh, 0, storage_size(cap));
    if (size_) std::memcpy(fresh, ring_, size_ * sizeof(std::uint32_t));
    free_storage();
    cap_ = cap;
    ring_ = fresh;
    table_ = fresh + cap;
    for (std::uint32_t i = 0; i < size_; ++i) insert_into_table(ring_[i]);
}

void ResetLedger::insert_into_table(std::uint32_t id) noexcept {
    const std::uint32_t mask = table_size(cap_) - 1;
    std::uint32_t i = slot_of(id, mask);
    while (table_[i] != 0) i = (i + 1) & mask;
    table_[i] = id;
}

void ResetLedger::erase_from_table(std::uint32_t id) noexcept {
    // Linear probing without tombstones: after emptying a slot, move back
    // every later entry of the run that the hole now cuts off from its home.
    const std::uint32_t mask = table_size(cap_) - 1;
    std::uint32_t i = slot_of(id, mask);
    while (table_[i] != id) {
        if (table_[i] == 0) return;
        i = (i + 1) & mask;
    }
    std::uint32_t hole = i;
    for (std::uint32_t j = (hole + 1) & mask; table_[j] != 0; j = (j + 1) & mask) {
        const std::uint32_t home = slot_of(table_[j], mask);
        // Entry j may fill the hole when its home is not in (hole, j].
        const bool reachable = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (reachable) continue;
        table_[hole] = table_[j];
        hole = j;
    }
    table_[hole] = 0;
}

}  // namespace h2wire::detail
