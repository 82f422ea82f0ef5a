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

void DynamicTable::reserve_for(std::uint32_t max_size) {
    const std::size_t want_bytes = std::size_t{max_size} * 2;
    const std::size_t want_slots = pow2_at_least(max_size / kEntryOverhead + 1);
    if (bytes_.size() >= want_bytes && slots_.size() >= want_slots) return;
    // Repack the live entries, oldest first, into larger storage.
    std::pmr::vector<char> bytes(std::max(want_bytes, bytes_.size()), bytes_.get_allocator());
    std::pmr::vector<Slot> slots(std::max(want_slots, slots_.size()), Slot{}, slots_.get_allocator());
    const std::uint64_t mask = slots.size() - 1;
    std::uint32_t at = 0;
    for (std::uint64_t id = first_id_; id != next_id_; ++id) {
        const Slot& s = slots_[id & slot_mask_];
        std::memcpy(bytes.data() + at, bytes_.data() + s.offset, s.name_len + s.value_len);
        slots[id & mask] = {at, s.name_len, s.value_len, s.memo};
        at += s.name_len + s.value_len;
    }
    bytes_.swap(bytes);
    slots_.swap(slots);
    slot_mask_ = mask;
    head_ = at;
}

void DynamicTable::evict_oldest() noexcept {
    const Slot& s = slots_[first_id_ & slot_mask_];
    size_ -= s.name_len + s.value_len + kEntryOverhead;
    ++first_id_;
    if (first_id_ == next_id_) head_ = 0;
}

void DynamicTable::set_max_size(std::uint32_t max_size) {
    max_size_ = max_size;
    while (size_ > max_size_) evict_oldest();
    // Grow here, never in insert() once storage exists: insert()'s name may
    // point into the storage.
    if (!bytes_.empty()) reserve_for(max_size_);
}

void DynamicTable::insert(std::string_view name, std::string_view value, std::uint8_t memo) {
    const std::uint64_t entry = std::uint64_t{name.size()} + value.size() + kEntryOverhead;
    if (entry > max_size_) {
        // RFC 7541 §4.4: an entry larger than the table empties it.
        while (count() != 0) evict_oldest();
        return;
    }
    while (size_ + entry > max_size_) evict_oldest();
    if (bytes_.empty()) reserve_for(max_size_);  // first use; nothing can point into it yet
    const auto n = static_cast<std::uint32_t>(name.size() + value.size());
    if (head_ + n > bytes_.size()) head_ = 0;
    char* dst = bytes_.data() + head_;
    // The name may be an evicted entry's bytes that this write overlaps.
    if (!name.empty()) std::memmove(dst, name.data(), name.size());
    if (!value.empty()) std::memcpy(dst + name.size(), value.data(), value.size());
    slots_[next_id_ & slot_mask_] = {head_, static_cast<std::uint32_t>(name.size()),
                                     static_cast<std::uint32_t>(value.size()), memo};
    ++next_id_;
    head_ += n;
    size_ += static_cast<std::uint32_t>(entry);
}

}  // namespace h2wire::hpack::detail
