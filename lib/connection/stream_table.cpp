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

ResetLedger::~ResetLedger() {
    if (ids_) mr_->deallocate(ids_, cap_ * sizeof(std::uint32_t), alignof(std::uint32_t));
}

void ResetLedger::add(std::uint32_t id) {
    if (max_ == 0) return;
    if (size_ == cap_ && cap_ < max_) {
        const std::uint32_t want = std::min<std::uint32_t>(max_, cap_ ? cap_ * 2 : 16);
        auto* n = static_cast<std::uint32_t*>(mr_->allocate(want * sizeof(std::uint32_t), alignof(std::uint32_t)));
        if (size_) std::memcpy(n, ids_, size_ * sizeof(std::uint32_t));
        if (ids_) mr_->deallocate(ids_, cap_ * sizeof(std::uint32_t), alignof(std::uint32_t));
        ids_ = n;
        cap_ = want;
    }
    if (size_ < cap_) {
        ids_[size_++] = id;
        return;
    }
    // Full at the maximum: overwrite the oldest.
    ids_[next_] = id;
    next_ = (next_ + 1) % cap_;
}

bool ResetLedger::contains(std::uint32_t id) const noexcept {
    for (std::uint32_t i = 0; i < size_; ++i)
        if (ids_[i] == id) return true;
    return false;
}

}  // namespace h2wire::detail
