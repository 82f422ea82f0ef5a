#include "hpack/dynamic_table.hpp"

#include <algorithm>
#include <cstring>

namespace h2wire::hpack::detail {

namespace {
constexpr std::uint32_t kEntryOverhead = 32;  // RFC 7541 §4.1

std::size_t pow2_at_least(std::size_t n) {
    std::size_t p = 8;
    while (p < n) p <<= 1;
    return p;
}
}  // namespace

DynamicTable::DynamicTable(std::uint32_t max_size, std::pmr::memory_resource* mr)
    : slots_(mr), bytes_(mr), max_size_(max_size) {}

std::pmr::vector<char> DynamicTable::repack(std::size_t bytes, std::size_t slots) {
    std::pmr::vector<char> b(bytes, bytes_.get_allocator());
    std::pmr::vector<Slot> sl(pow2_at_least(slots), Slot{}, slots_.get_allocator());
    const std::uint64_t mask = sl.size() - 1;
    std::uint32_t at = 0;
    for (std::uint64_t id = first_id_; id != next_id_; ++id) {
        const Slot& s = slots_[id & slot_mask_];
        if (s.name_len + s.value_len != 0) std::memcpy(b.data() + at, bytes_.data() + s.offset, s.name_len + s.value_len);
        sl[id & mask] = {at, s.name_len, s.value_len, s.memo};
        at += s.name_len + s.value_len;
    }
    bytes_.swap(b);
    slots_.swap(sl);
    slot_mask_ = mask;
    head_ = at;
    return b;  // the old octets
}

bool DynamicTable::room_for(std::uint32_t n, std::uint32_t& at) const noexcept {
    const auto cap = static_cast<std::uint32_t>(bytes_.size());
    if (count() == 0) {  // head_ is 0
        at = 0;
        return n <= cap;
    }
    const std::uint32_t tail = slots_[first_id_ & slot_mask_].offset;
    const std::uint32_t live = size_ - static_cast<std::uint32_t>(count()) * kEntryOverhead;
    // Live octets run from the oldest entry's offset up to head_, through the
    // end of the buffer and on from 0 when they wrapped.
    const bool wrapped = head_ < tail || (head_ == tail && live != 0);
    if (!wrapped) {
        if (std::uint64_t{head_} + n <= cap) {
            at = head_;
            return true;
        }
        at = 0;
        return n <= tail;
    }
    at = head_;
    return std::uint64_t{head_} + n <= tail;
}

void DynamicTable::evict_oldest() noexcept {
    const Slot& s = slots_[first_id_ & slot_mask_];
    size_ -= s.name_len + s.value_len + kEntryOverhead;
    ++first_id_;
    if (first_id_ == next_id_) head_ = 0;
}

void DynamicTable::set_max_size(std::uint32_t max_size) {
    // Storage follows the entries (insert()); a smaller maximum only evicts.
    max_size_ = max_size;
    while (size_ > max_size_) evict_oldest();
}

void DynamicTable::insert(std::string_view name, std::string_view value, std::uint8_t memo) {
    const std::uint64_t entry = std::uint64_t{name.size()} + value.size() + kEntryOverhead;
    if (entry > max_size_) {
        // RFC 7541 §4.4: an entry larger than the table empties it.
        while (count() != 0) evict_oldest();
        return;
    }
    while (size_ + entry > max_size_) evict_oldest();
    const auto n = static_cast<std::uint32_t>(name.size() + value.size());
    std::uint32_t at = 0;
    std::pmr::vector<char> old(bytes_.get_allocator());  // keeps the octets `name` may point into
    if (count() + 1 > slots_.size() || !room_for(n, at)) {
        // Grow: twice the buffer, or twice what the entries need, up to twice
        // the maximum (where there is always room, so this is then a plain
        // repack, which only a table shrunk and grown again can need).
        const std::uint32_t live = size_ - static_cast<std::uint32_t>(count()) * kEntryOverhead;
        const std::size_t want = std::max<std::size_t>({256, bytes_.size() * 2, (std::size_t{live} + n) * 2});
        const std::size_t bytes = std::min(want, std::max<std::size_t>(std::size_t{max_size_} * 2, std::size_t{live} + n));
        const std::size_t slots = count() + 1 > slots_.size() ? std::max<std::size_t>(slots_.size() * 2, 8) : slots_.size();
        old = repack(bytes, slots);
        at = head_;
    }
    char* dst = bytes_.data() + at;
    // The name may be an evicted entry's octets, which this write may overlap.
    if (!name.empty()) std::memmove(dst, name.data(), name.size());
    if (!value.empty()) std::memcpy(dst + name.size(), value.data(), value.size());
    add_slot(at, name.size(), value.size(), memo, entry);
}

void DynamicTable::add_slot(std::uint32_t at, std::size_t name_len, std::size_t value_len, std::uint8_t memo,
                            std::uint64_t entry) noexcept {
    slots_[next_id_ & slot_mask_] = {at, static_cast<std::uint32_t>(name_len), static_cast<std::uint32_t>(value_len),
                                     memo};
    ++next_id_;
    head_ = at + static_cast<std::uint32_t>(name_len + value_len);
    size_ += static_cast<std::uint32_t>(entry);
}

}  // namespace h2wire::hpack::detail
