// The HPACK dynamic table (RFC 7541 §2.3.2, §4), shared by encoder and decoder.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <string_view>
#include <utility>
#include <vector>

#include "hpack/hash.hpp"

namespace h2wire::hpack::detail {

/// Entries live in one byte buffer used as a ring, each entry's name and
/// value stored contiguously and never split by the end of the buffer: an
/// entry that does not fit before the end goes to offset 0 if there is room
/// before the oldest entry. A ring of descriptors, indexed by an entry's
/// absolute insertion number (its id), locates them. Both grow with what the
/// table really holds, not with its maximum: a table the peer fills with a
/// few hundred octets of fields costs about that. When an entry finds no
/// room, the live entries are repacked, oldest first, into a buffer twice as
/// large (at most twice the maximum size, where room always exists: the live
/// octets are at most the maximum minus 32 per entry). No allocation happens
/// once the buffer has grown to what the peer's fields need.
class DynamicTable {
public:
    explicit DynamicTable(std::uint32_t max_size, std::pmr::memory_resource* mr);
    ~DynamicTable();
    DynamicTable(const DynamicTable&) = delete;
    DynamicTable& operator=(const DynamicTable&) = delete;

    /// RFC 7541 §4.1 size: the sum of name + value + 32 over the entries.
    std::pmr::memory_resource* resource() const noexcept { return mr_; }
    std::uint32_t size() const noexcept { return size_; }
    std::uint32_t max_size() const noexcept { return max_size_; }
    std::size_t count() const noexcept { return static_cast<std::size_t>(next_id_ - first_id_); }
    /// Ids of the oldest entry and of the next one to be inserted.
    std::uint64_t first_id() const noexcept { return first_id_; }
    std::uint64_t next_id() const noexcept { return next_id_; }

    /// Changes the maximum size, evicting the oldest entries as needed (§4.3).
    void set_max_size(std::uint32_t max_size);
    /// Evicts the oldest entry; the table must not be empty.
    void evict_oldest() noexcept {
        const Slot& s = slots_[first_id_ & slot_mask_];
        size_ -= s.name_len + s.value_len + kEntryOverhead;
        ++first_id_;
        if (first_id_ == next_id_) head_ = 0;
    }
    /// Adds an entry, evicting as needed (§4.4). An entry larger than the
    /// maximum empties the table and is not added. `name` may point into this
    /// table (into an entry this insertion evicts); `value` must not.
    void insert(std::string_view name, std::string_view value, std::uint8_t memo = 0) {
        const std::uint64_t entry = std::uint64_t{name.size()} + value.size() + kEntryOverhead;
        if (entry > max_size_) [[unlikely]] {
            clear();
            return;
        }
        while (size_ + entry > max_size_) evict_oldest();
        const auto n = static_cast<std::uint32_t>(name.size() + value.size());
        std::uint32_t at = 0;
        if (count() >= slots_.size() || !room_for(n, at)) [[unlikely]] {
            insert_grown(name, value, memo);
            return;
        }
        char* dst = bytes_ + at;
        // The name may be an evicted entry's octets, which this write may overlap.
        move_bytes(dst, name.data(), name.size());
        move_bytes(dst + name.size(), value.data(), value.size());
        add_slot(at, name.size(), value.size(), memo);
    }
    /// Evicts every entry.
    void clear() noexcept {
        first_id_ = next_id_;
        size_ = 0;
        head_ = 0;
    }

    /// Entry by relative index, 0 the newest (HPACK index - 62).
    std::string_view name(std::size_t i) const noexcept { return name_of(next_id_ - 1 - i); }
    std::string_view value(std::size_t i) const noexcept { return value_of(next_id_ - 1 - i); }
    /// Entry by id, first_id() <= id < next_id().
    std::string_view name_of(std::uint64_t id) const noexcept {
        const Slot& s = slots_[id & slot_mask_];
        return {bytes_ + s.offset, s.name_len};
    }
    std::string_view value_of(std::uint64_t id) const noexcept {
        const Slot& s = slots_[id & slot_mask_];
        return {bytes_ + s.offset + s.name_len, s.value_len};
    }
    /// Whether entry `id` (first_id() <= id < next_id()) is `name` and `value`.
    bool holds(std::uint64_t id, std::string_view name, std::string_view value) const noexcept {
        const Slot& s = slots_[id & slot_mask_];
        if (s.name_len != name.size() || s.value_len != value.size()) return false;
        const char* p = bytes_ + s.offset;
        return equal_bytes(p + s.name_len, value.data(), value.size()) && equal_bytes(p, name.data(), name.size());
    }
    /// The user's memo byte of an entry (see hpack::FieldSink), by relative
    /// index as name()/value().
    std::uint8_t& memo(std::size_t i) noexcept { return slots_[(next_id_ - 1 - i) & slot_mask_].memo; }
    /// The same by id, first_id() <= id < next_id().
    std::uint8_t& memo_of(std::uint64_t id) noexcept { return slots_[id & slot_mask_].memo; }

private:
    static constexpr std::uint32_t kEntryOverhead = 32;  // RFC 7541 §4.1

    struct Slot {
        std::uint32_t offset;
        std::uint32_t name_len;
        std::uint32_t value_len;
        std::uint8_t memo;
    };
    /// Where `n` octets go in the buffer as it is, or false if nowhere.
    bool room_for(std::uint32_t n, std::uint32_t& at) const noexcept {
        const auto cap = static_cast<std::uint32_t>(cap_);
        if (first_id_ == next_id_) {  // empty: head_ is 0
            at = 0;
            return n <= cap;
        }
        const std::uint32_t tail = slots_[first_id_ & slot_mask_].offset;
        // Live octets run from the oldest entry's offset up to head_, through
        // the end of the buffer and on from 0 when they wrapped (head_ == tail:
        // wrapped unless every live entry is empty).
        if (head_ < tail || (head_ == tail && size_ != count() * kEntryOverhead)) {
            at = head_;
            return std::uint64_t{head_} + n <= tail;
        }
        if (std::uint64_t{head_} + n <= cap) {
            at = head_;
            return true;
        }
        at = 0;
        return n <= tail;
    }
    /// insert() when the buffer or the ring must grow first.
    void insert_grown(std::string_view name, std::string_view value, std::uint8_t memo);
    /// Repacks the live entries, oldest first, into a buffer of `bytes`
    /// octets and a ring of at least `slots` descriptors; returns the old
    /// buffer and its size, for the caller to free.
    std::pair<char*, std::size_t> repack(std::size_t bytes, std::size_t slots);
    void add_slot(std::uint32_t at, std::size_t name_len, std::size_t value_len, std::uint8_t memo) noexcept {
        const auto n = static_cast<std::uint32_t>(name_len + value_len);
        slots_[next_id_ & slot_mask_] = {at, static_cast<std::uint32_t>(name_len),
                                         static_cast<std::uint32_t>(value_len), memo};
        ++next_id_;
        head_ = at + n;
        size_ += n + kEntryOverhead;
    }

    std::pmr::vector<Slot> slots_;  // ring of descriptors, power-of-two size
    std::pmr::memory_resource* mr_;
    char* bytes_ = nullptr;  // cap_ octets from mr_ (not zeroed): grows on demand up to 2 * max_size
    std::size_t cap_ = 0;
    std::uint64_t slot_mask_ = 0;
    std::uint64_t first_id_ = 0;
    std::uint64_t next_id_ = 0;
    std::uint32_t head_ = 0;  // where the next entry's bytes go
    std::uint32_t size_ = 0;
    std::uint32_t max_size_;
};

}  // namespace h2wire::hpack::detail
