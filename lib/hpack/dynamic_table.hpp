// The HPACK dynamic table (RFC 7541 §2.3.2, §4), shared by encoder and decoder.
#pragma once

#include <cstdint>
#include <memory_resource>
#include <string_view>
#include <vector>

#include "hpack/hash.hpp"

namespace h2wire::hpack::detail {

/// Entries live in one byte buffer of twice the table's maximum size, each
/// entry's name and value stored contiguously and never split by the end of
/// the buffer: an entry that does not fit before the end goes to offset 0.
/// With the buffer at least twice the maximum, that space is always free
/// (the live bytes are at most the maximum minus 32 per entry, and the end
/// we wrapped at lies past the buffer's midpoint), so inserting never moves
/// other entries and every name and value is one string_view. A ring of
/// descriptors, indexed by an entry's absolute insertion number (its id),
/// locates them. No allocation happens after the first insertion unless the
/// maximum size grows.
class DynamicTable {
public:
    explicit DynamicTable(std::uint32_t max_size, std::pmr::memory_resource* mr);

    /// RFC 7541 §4.1 size: the sum of name + value + 32 over the entries.
    std::uint32_t size() const noexcept { return size_; }
    std::uint32_t max_size() const noexcept { return max_size_; }
    std::size_t count() const noexcept { return static_cast<std::size_t>(next_id_ - first_id_); }
    /// Ids of the oldest entry and of the next one to be inserted.
    std::uint64_t first_id() const noexcept { return first_id_; }
    std::uint64_t next_id() const noexcept { return next_id_; }

    /// Changes the maximum size, evicting the oldest entries as needed (§4.3).
    void set_max_size(std::uint32_t max_size);
    /// Evicts the oldest entry; the table must not be empty.
    void evict_oldest() noexcept;
    /// Adds an entry, evicting as needed (§4.4). An entry larger than the
    /// maximum empties the table and is not added. `name` may point into this
    /// table (into an entry this insertion evicts); `value` must not.
    void insert(std::string_view name, std::string_view value, std::uint8_t memo = 0);

    /// Entry by relative index, 0 the newest (HPACK index - 62).
    std::string_view name(std::size_t i) const noexcept { return name_of(next_id_ - 1 - i); }
    std::string_view value(std::size_t i) const noexcept { return value_of(next_id_ - 1 - i); }
    /// Entry by id, first_id() <= id < next_id().
    std::string_view name_of(std::uint64_t id) const noexcept {
        const Slot& s = slots_[id & slot_mask_];
        return {bytes_.data() + s.offset, s.name_len};
    }
    std::string_view value_of(std::uint64_t id) const noexcept {
        const Slot& s = slots_[id & slot_mask_];
        return {bytes_.data() + s.offset + s.name_len, s.value_len};
    }
    /// Whether entry `id` (first_id() <= id < next_id()) is `name` and `value`.
    bool holds(std::uint64_t id, std::string_view name, std::string_view value) const noexcept {
        const Slot& s = slots_[id & slot_mask_];
        if (s.name_len != name.size() || s.value_len != value.size()) return false;
        const char* p = bytes_.data() + s.offset;
        return equal_bytes(p + s.name_len, value.data(), value.size()) && equal_bytes(p, name.data(), name.size());
    }
    /// The user's memo byte of an entry (see hpack::FieldSink), by relative
    /// index as name()/value().
    std::uint8_t& memo(std::size_t i) noexcept { return slots_[(next_id_ - 1 - i) & slot_mask_].memo; }
    /// The same by id, first_id() <= id < next_id().
    std::uint8_t& memo_of(std::uint64_t id) noexcept { return slots_[id & slot_mask_].memo; }

private:
    struct Slot {
        std::uint32_t offset;
        std::uint32_t name_len;
        std::uint32_t value_len;
        std::uint8_t memo;
    };
    void reserve_for(std::uint32_t max_size);

    std::pmr::vector<Slot> slots_;  // ring of descriptors, power-of-two size
    std::pmr::vector<char> bytes_;  // 2 * the largest max_size so far
    std::uint64_t slot_mask_ = 0;
    std::uint64_t first_id_ = 0;
    std::uint64_t next_id_ = 0;
    std::uint32_t head_ = 0;  // where the next entry's bytes go
    std::uint32_t size_ = 0;
    std::uint32_t max_size_;
};

}  // namespace h2wire::hpack::detail
