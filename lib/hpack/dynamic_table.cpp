#include "hpack/dynamic_table.hpp"

#include <algorithm>
#include <cstring>

namespace h2wire::hpack::detail {

namespace {
std::size_t pow2_at_least(std::size_t n) {
    std::size_t p = 8;
    while (p < n) p <<= 1;
    return p;
}
}  // namespace

DynamicTable::DynamicTable(std::uint32_t max_size, std::pmr::memory_resource* mr)
    : slots_(mr), mr_(mr), max_size_(max_size) {}

DynamicTable::~DynamicTable() {
    if (bytes_ != nullptr) mr_->deallocate(bytes_, cap_, 1);
}

std::pair<char*, std::size_t> DynamicTable::repack(std::size_t bytes, std::size_t slots) {
    std::pmr::vector<Slot> sl(pow2_at_least(slots), Slot{}, slots_.get_allocator());
    char* const b = static_cast<char*>(mr_->allocate(bytes, 1));  // last: nothing to undo if it throws
    const std::uint64_t mask = sl.size() - 1;
    std::uint32_t at = 0;
    for (std::uint64_t id = first_id_; id != next_id_; ++id) {
        const Slot& s = slots_[id & slot_mask_];
        if (s.name_len + s.value_len != 0) std::memcpy(b + at, bytes_ + s.offset, s.name_len + s.value_len);
        sl[id & mask] = {at, s.name_len, s.value_len, s.memo};
        at += s.name_len + s.value_len;
    }
    const std::pair<char*, std::size_t> old{bytes_, cap_};
    bytes_ = b;
    cap_ = bytes;
    slots_.swap(sl);
    slot_mask_ = mask;
    head_ = at;
    return old;
}

void DynamicTable::set_max_size(std::uint32_t max_size) {
    // Storage follows the entries (insert()); a smaller maximum only evicts.
    max_size_ = max_size;
    while (size_ > max_size_) evict_oldest();
}

void DynamicTable::insert_grown(std::string_view name, std::string_view value, std::uint8_t memo) {
    // Grow: twice the buffer, or twice what the entries need, up to twice
    // the maximum (where there is always room, so this is then a plain
    // repack, which only a table shrunk and grown again can need). insert()
    // has evicted what the entry needs.
    const auto n = static_cast<std::uint32_t>(name.size() + value.size());
    const std::uint32_t live = size_ - static_cast<std::uint32_t>(count()) * kEntryOverhead;
    const std::size_t want = std::max<std::size_t>({256, cap_ * 2, (std::size_t{live} + n) * 2});
    const std::size_t bytes = std::min(want, std::max<std::size_t>(std::size_t{max_size_} * 2, std::size_t{live} + n));
    const std::size_t slots = count() + 1 > slots_.size() ? std::max<std::size_t>(slots_.size() * 2, 8) : slots_.size();
    const std::pair<char*, std::size_t> old = repack(bytes, slots);  // the octets `name` may point into
    char* dst = bytes_ + head_;
    if (!name.empty()) std::memcpy(dst, name.data(), name.size());
    if (!value.empty()) std::memcpy(dst + name.size(), value.data(), value.size());
    add_slot(head_, name.size(), value.size(), memo);
    if (old.first != nullptr) mr_->deallocate(old.first, old.second, 1);
}

}  // namespace h2wire::hpack::detail
