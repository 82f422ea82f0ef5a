// QPACK encoding (RFC 9204 §2.1, §4.3, §4.4, §4.5): field sections, the
// encoder-stream inserts they rely on, and the peer's acknowledgments.
#include <algorithm>
#include <cstring>
#include <memory_resource>

#include "hpack/dynamic_table.hpp"
#include "qpack/common.hpp"

namespace h2wire::qpack {

using hpack::detail::DynamicTable;

namespace {

constexpr std::uint32_t kEntryOverhead = 32;  // RFC 9204 §3.2.1
/// Room kept in front of a section's field lines for its prefix (§4.5.1):
/// two integers of up to 10 octets.
constexpr std::size_t kPrefixRoom = 20;
/// Below this capacity the table holds a few entries: Duplicate keeps its
/// source.
constexpr std::uint32_t kSmallTable = 512;

enum NamePolicy : std::uint8_t {
    kSecret = 1,       ///< never indexed, whatever the value
    kShortSecret = 2,  ///< never indexed when the value is under 20 octets (cookies)
    kUnique = 4,       ///< values rarely repeat: not inserted
    kRepeat = 8,       ///< values repeat within a connection (a client's host, referer, agent): inserted at once
};

/// The policy of a name, by its first static index + 1 (0: not in the
/// static table: none).
constexpr std::array<std::uint8_t, wire::kStaticTableSize + 1> kNamePolicy = [] {
    std::array<std::uint8_t, wire::kStaticTableSize + 1> policy{};
    for (std::size_t i = 0; i < wire::kStaticTableSize; ++i) {
        const std::string_view name = detail::kStaticTable[i].name;
        std::uint8_t p = 0;
        if (name == "authorization") p = kSecret;
        if (name == "cookie") p = kShortSecret;
        if (name == "age" || name == "etag" || name == ":path" || name == "content-length" ||
            name == "if-modified-since" || name == "if-none-match" || name == "location" || name == "set-cookie")
            p = kUnique;
        if (name == ":authority" || name == "referer" || name == "user-agent" || name == "origin" ||
            name == "accept-language")
            p = kRepeat;
        policy[i + 1] = p;
    }
    return policy;
}();

bool is_sensitive(const Field& f, std::uint32_t static_name) noexcept {
    if (f.sensitive) return true;
    // proxy-authorization is not in QPACK's static table.
    if (static_name == 0) return detail::same(f.name, "proxy-authorization");
    const std::uint8_t p = kNamePolicy[static_name];
    return (p & kSecret) != 0 || ((p & kShortSecret) != 0 && f.value.size() < 20);
}

}  // namespace

/// Finds dynamic entries by name + value and by name: two hash tables of
/// chains. A bucket holds the id + 1 of the newest entry whose hash fell
/// there (0: none), and each entry the id + 1 of the next older one in its
/// bucket, in a ring indexed like the table's own. Chains run newest to
/// oldest, so a walk stops at the first evicted id; matches are checked on
/// the bytes, so a shared bucket costs a comparison, never a wrong reference.
struct Encoder::Index {
    Index(std::size_t buckets, std::size_t slots, std::pmr::memory_resource* mr)
        : full(buckets, 0, mr), name(buckets, 0, mr), seen(buckets, 0, mr), full_next(slots, 0, mr),
          name_next(slots, 0, mr), mask(buckets - 1), slot_mask(slots - 1) {}
    std::pmr::vector<std::uint64_t> full;
    std::pmr::vector<std::uint64_t> name;
    /// Hashes of fields sent as literals recently (a field is inserted the
    /// second time it is seen, unless the table has room to spare: one-off
    /// values do not push out entries in use). Direct-mapped, one per
    /// bucket: about twice as many as the table holds entries, so "recently"
    /// scales with the capacity.
    std::pmr::vector<std::uint32_t> seen;
    std::pmr::vector<std::uint64_t> full_next;
    std::pmr::vector<std::uint64_t> name_next;
    std::uint64_t mask;
    std::uint64_t slot_mask;
    /// What the field at each position of the last sections resolved to:
    /// id + 1 of a dynamic entry, kStaticMark | static index, or 0. Requests
    /// (and responses) of one peer repeat their fields in the same order, so
    /// the next section's field at that position is first compared with it,
    /// which skips hashing and lookups.
    static constexpr std::uint64_t kStaticMark = std::uint64_t{1} << 63;
    std::array<std::uint64_t, 32> by_position{};
    /// Per name (by hash, direct-mapped), whether its entries tend to be
    /// used again: +1 when an entry is referenced by a later section, -1
    /// when one is evicted unused.
    struct NameScore {
        std::uint64_t hash = 0;
        std::int8_t score = 0;
    };
    std::array<NameScore, 64> names{};
    std::int8_t& score(std::uint64_t name_hash) noexcept {
        NameScore& n = names[(name_hash >> 32) & (names.size() - 1)];
        if (n.hash != name_hash) n = {name_hash, 0};
        return n.score;
    }
    void adjust(std::uint64_t name_hash, int by) noexcept {
        std::int8_t& s = score(name_hash);
        s = static_cast<std::int8_t>(std::clamp(s + by, -4, 4));
    }

    void add(std::uint64_t id, std::uint64_t full_hash, std::uint64_t name_hash) noexcept {
        std::uint64_t& f = full[full_hash & mask];
        full_next[id & slot_mask] = f;
        f = id + 1;
        std::uint64_t& n = name[name_hash & mask];
        name_next[id & slot_mask] = n;
        n = id + 1;
    }
    /// id + 1 of the newest live entry `n`: `v` (hash `h`), or 0.
    std::uint64_t find_full(const DynamicTable& t, std::uint64_t h, std::string_view n, std::string_view v) const
        noexcept {
        for (std::uint64_t slot = full[h & mask]; slot != 0 && slot - 1 >= t.first_id();
             slot = full_next[(slot - 1) & slot_mask])
            if (t.holds(slot - 1, n, v)) return slot;
        return 0;
    }
    /// id + 1 of the newest live entry named `n` (hash `h`), or 0.
    std::uint64_t find_name(const DynamicTable& t, std::uint64_t h, std::string_view n) const noexcept {
        for (std::uint64_t slot = name[h & mask]; slot != 0 && slot - 1 >= t.first_id();
             slot = name_next[(slot - 1) & slot_mask])
            if (detail::same(t.name_of(slot - 1), n)) return slot;
        return 0;
    }
};

/// What the encoder knows of one field before choosing its representation.
struct Encoder::Lookup {
    std::uint64_t name_hash = 0;
    std::uint64_t full_hash = 0;
    std::uint32_t static_full = 0;  // static index + 1 of an exact match, or 0
    std::uint32_t static_name = 0;  // static index + 1 of the first entry with the name, or 0
    std::uint64_t dynamic_full = 0;  // id + 1 of the newest live exact match, or 0
    std::uint64_t dynamic_name = 0;  // id + 1 of the newest live entry with the name, or 0
};

Encoder::Encoder(const EncoderOptions& options, std::pmr::memory_resource* mr)
    : options_(options), mr_(mr), unacked_(mr), blocking_(mr), output_(mr), pending_(mr) {}

Encoder::~Encoder() {
    std::pmr::polymorphic_allocator<> alloc(mr_);
    if (index_ != nullptr) alloc.delete_object(index_);
    if (table_ != nullptr) alloc.delete_object(table_);
}

std::uint32_t Encoder::capacity() const noexcept { return capacity_; }
std::uint32_t Encoder::table_size() const noexcept { return table_ != nullptr ? table_->size() : 0; }
std::size_t Encoder::table_entries() const noexcept { return table_ != nullptr ? table_->count() : 0; }
std::uint64_t Encoder::insert_count() const noexcept { return table_ != nullptr ? table_->next_id() : 0; }

void Encoder::consume_encoder_stream_output(std::size_t n) noexcept {
    n = std::min(n, output_.size());
    output_.erase(output_.begin(), output_.begin() + static_cast<std::ptrdiff_t>(n));
}

void Encoder::set_peer_settings(std::uint32_t max_table_capacity, std::uint32_t blocked_streams, bool assume_set) {
    if (table_ != nullptr) return;  // settings come once (RFC 9114 §7.2.4)
    peer_max_capacity_ = max_table_capacity;
    peer_blocked_ = std::min(blocked_streams, options_.max_blocked_streams);
    capacity_ = std::min(max_table_capacity, options_.max_table_capacity);
    // §3.2.3: 0 entries fit under 32 octets: no table at all then.
    if (capacity_ < kEntryOverhead) capacity_ = 0;
    if (capacity_ == 0) return;
    std::pmr::polymorphic_allocator<> alloc(mr_);
    table_ = alloc.new_object<DynamicTable>(capacity_, mr_);
    // Buckets and chain slots: a power of two at least the most entries
    // the table can hold (capacity / 32).
    std::size_t slots = 8;
    while (slots < capacity_ / kEntryOverhead + 1) slots <<= 1;
    index_ = alloc.new_object<Index>(2 * slots, slots, mr_);
    if (!assume_set) {  // §4.3.1 Set Dynamic Table Capacity: 001 capacity(5+)
        std::uint8_t buf[10];
        const std::uint8_t* const end = detail::put_integer(buf, capacity_, 5, 0x20);
        output_.insert(output_.end(), static_cast<const std::uint8_t*>(buf), end);
    }
}

std::size_t Encoder::max_encoded_size(std::span<const Field> fields) noexcept {
    // Per field, the longest representation: a literal name and value, each
    // with a length of up to 10 octets, not Huffman-coded.
    std::size_t n = kPrefixRoom;
    for (const Field& f : fields) n += detail::string_room(f.name.size()) + detail::string_room(f.value.size());
    return n;
}

void Encoder::refresh_blocking() const noexcept {
    if (blocking_valid_ && blocking_known_ == known_received_) return;
    blocking_.clear();
    for (const Unacked& u : unacked_)
        if (u.required > known_received_) blocking_.push_back(u.stream_id);
    std::sort(blocking_.begin(), blocking_.end());
    blocking_.erase(std::unique(blocking_.begin(), blocking_.end()), blocking_.end());
    blocking_known_ = known_received_;
    blocking_valid_ = true;
}

bool Encoder::may_block(std::uint64_t stream_id) const noexcept {
    // Every insert referenced so far is acknowledged: nothing blocks.
    if (max_required_ <= known_received_) return peer_blocked_ > 0;
    // §2.1.2: a stream already blocking costs nothing more; else only while
    // fewer than the allowed streams block.
    refresh_blocking();
    if (std::binary_search(blocking_.begin(), blocking_.end(), stream_id)) return true;
    return blocking_.size() < peer_blocked_;
}

std::size_t Encoder::blocked_streams() const noexcept {
    if (max_required_ <= known_received_) return 0;
    refresh_blocking();
    return blocking_.size();
}

std::uint64_t Encoder::evicted_below(std::uint64_t room) const noexcept {
    // Oldest first, until `room` octets (at most the capacity) are free.
    std::uint64_t free = capacity_ - table_->size();
    std::uint64_t id = table_->first_id();
    for (; free < room && id != table_->next_id(); ++id)
        free += table_->name_of(id).size() + table_->value_of(id).size() + kEntryOverhead;
    return id;
}

bool Encoder::can_insert(std::uint64_t entry_size, std::uint64_t protect) const noexcept {
    // §2.1.1: evict only entries whose insert was acknowledged and that no
    // unacknowledged section (nor the one being written: ids from `protect`
    // on) references.
    if (entry_size > capacity_) return false;
    std::uint64_t limit = std::min(known_received_, protect);
    for (const Unacked& u : unacked_) limit = std::min(limit, u.lowest);
    return evicted_below(entry_size) <= limit;
}

std::uint64_t Encoder::insert(const Field& f, const Lookup& l) {
    const std::uint64_t next = table_->next_id();
    const std::size_t old = output_.size();
    // At most: 10 octets of name index or length, the name, 10 of value length.
    output_.resize(old + detail::string_room(f.name.size()) + detail::string_room(f.value.size()));
    std::uint8_t* out = output_.data() + old;
    if (l.dynamic_name != 0) {  // §4.3.2 Insert with Name Reference, dynamic, by relative index: 10 index(6+)
        out = detail::put_integer(out, next - l.dynamic_name, 6, 0x80);
    } else if (l.static_name != 0) {  // static: 11 index(6+)
        out = detail::put_integer(out, l.static_name - 1, 6, 0xc0);
    } else {  // §4.3.3 Insert with Literal Name: 01 H len(5+)
        out = detail::put_string(out, f.name, 5, 0x40, options_.huffman);
    }
    out = detail::put_string(out, f.value, 7, 0x00, options_.huffman);
    output_.resize(static_cast<std::size_t>(out - output_.data()));
    // The entries this insert evicts: those never used again count against
    // their names.
    const std::uint64_t evicted = evicted_below(std::uint64_t{f.name.size()} + f.value.size() + kEntryOverhead);
    for (std::uint64_t id = table_->first_id(); id != evicted; ++id)
        if (table_->memo_of(id) == 0) index_->adjust(detail::hash_bytes(table_->name_of(id)), -1);
    table_->insert(f.name, f.value);
    index_->add(next, l.full_hash, l.name_hash);
    return next;
}

std::uint64_t Encoder::duplicate(const Field& f, const Lookup& l, std::uint64_t id) {
    const std::uint64_t next = table_->next_id();
    std::uint8_t buf[10];  // §4.3.4 Duplicate: 000 relative index(5+)
    const std::uint8_t* const end = detail::put_integer(buf, next - 1 - id, 5, 0x00);
    output_.insert(output_.end(), static_cast<const std::uint8_t*>(buf), end);
    table_->insert(f.name, f.value);
    index_->add(next, l.full_hash, l.name_hash);
    return next;
}

std::size_t Encoder::encode(std::uint64_t stream_id, std::span<const Field> fields, std::uint8_t* const out) {
    std::uint8_t* o = out + kPrefixRoom;
    const bool dynamic = table_ != nullptr && unacked_.size() < options_.max_unacknowledged_sections;
    const std::uint64_t base = dynamic ? table_->next_id() : 0;
    const bool can_block = dynamic && may_block(stream_id);
    // Entries about to be evicted are not referenced: a reference would keep
    // them, and so every newer entry, from being evicted until the section
    // is acknowledged. A field matching one is duplicated instead. Those
    // are the ids below `draining`: the entries the next capacity/5 octets
    // of inserts would evict (in a small table of a few entries, half of
    // it, up to 128 octets), as the table stands after each insert.
    // `drain_free` is the free octets plus the sizes of the live entries
    // below `draining`, so that an insert moves the boundary on from where
    // it was.
    const std::uint64_t drain_room =
        std::max<std::uint64_t>(capacity_ / 5, std::min<std::uint64_t>(capacity_ / 2, 128));
    std::uint64_t draining = 0;
    std::uint64_t drain_free = 0;
    const auto drain_from = [&](std::uint64_t id, std::uint64_t free) {
        for (; free < drain_room && id != table_->next_id(); ++id)
            free += table_->name_of(id).size() + table_->value_of(id).size() + kEntryOverhead;
        draining = id;
        drain_free = free;
    };
    // After an insert of `entry` octets: what it evicted lay below the
    // boundary unless the boundary itself went.
    const auto drain_after_insert = [&](std::uint64_t entry) {
        if (draining < table_->first_id())
            drain_from(table_->first_id(), capacity_ - table_->size());
        else
            drain_from(draining, drain_free - entry);
    };
    if (dynamic) drain_from(table_->first_id(), capacity_ - table_->size());
    // Entries this section may reference: acknowledged ones, or all of them
    // when it may block (§2.1.2).
    std::uint64_t highest = 0;           // largest id referenced + 1: the Required Insert Count
    std::uint64_t lowest = ~std::uint64_t{0};  // the oldest id referenced
    const auto usable = [&](std::uint64_t id) { return id < known_received_ || can_block; };
    const auto live = [&](std::uint64_t slot) { return slot != 0 && slot - 1 >= table_->first_id(); };
    const auto reference = [&](std::uint64_t id) {
        highest = std::max(highest, id + 1);
        lowest = std::min(lowest, id);
    };
    // A full match used by a later section than its insert's: its name's
    // values repeat.
    const auto reused = [&](std::uint64_t id, std::uint64_t name_hash) {
        if (id < base && table_->memo_of(id) == 0) {
            table_->memo_of(id) = 1;
            index_->adjust(name_hash, +1);
        }
    };

    std::size_t position = 0;
    for (const Field& f : fields) {
        std::uint64_t* const remembered =
            dynamic && position < index_->by_position.size() ? &index_->by_position[position] : nullptr;
        ++position;
        if (remembered != nullptr && *remembered != 0 && !f.sensitive) {
            const std::uint64_t r = *remembered;
            if ((r & Index::kStaticMark) != 0) {
                const detail::StaticEntry& e = detail::kStaticTable[r & 0xff];
                if (detail::same(e.value, f.value) && detail::same(e.name, f.name)) {
                    o = detail::put_integer(o, r & 0xff, 6, 0xc0);  // §4.5.2, static
                    continue;
                }
            } else if (r > draining && usable(r - 1) && r - 1 >= table_->first_id() &&
                       table_->holds(r - 1, f.name, f.value)) {
                const std::uint64_t id = r - 1;
                reference(id);
                if (table_->memo_of(id) == 0) reused(id, detail::hash_bytes(f.name));
                if (id < base)  // §4.5.2 Indexed Field Line, dynamic: 10 index(6+)
                    o = detail::put_integer(o, base - 1 - id, 6, 0x80);
                else  // §4.5.3 Post-Base Index: 0001 index(4+)
                    o = detail::put_integer(o, id - base, 4, 0x10);
                continue;
            }
        }
        if (remembered != nullptr) *remembered = 0;
        Lookup l;
        l.name_hash = detail::hash_bytes(f.name);
        l.full_hash = detail::hash_bytes(f.value, l.name_hash);
        // The common case first: a field the dynamic table holds, usable and
        // not draining. Neither a static match nor a field that is secret by
        // policy is ever inserted, so the static lookups can wait.
        if (dynamic && !f.sensitive) {
            const std::uint64_t full = index_->find_full(*table_, l.full_hash, f.name, f.value);
            if (full > draining && usable(full - 1)) {
                const std::uint64_t id = full - 1;
                reference(id);
                reused(id, l.name_hash);
                if (remembered != nullptr) *remembered = full;
                if (id < base)  // §4.5.2 Indexed Field Line, dynamic: 10 index(6+)
                    o = detail::put_integer(o, base - 1 - id, 6, 0x80);
                else  // §4.5.3 Post-Base Index: 0001 index(4+)
                    o = detail::put_integer(o, id - base, 4, 0x10);
                continue;
            }
        }
        l.static_name = detail::static_name(f.name, l.name_hash);
        const bool secret = is_sensitive(f, l.static_name);
        if (!secret) {
            l.static_full = detail::static_full(f.name, f.value, l.full_hash);
            if (l.static_full != 0) {  // §4.5.2 Indexed Field Line, static: 11 index(6+)
                if (remembered != nullptr) *remembered = Index::kStaticMark | (l.static_full - 1);
                o = detail::put_integer(o, l.static_full - 1, 6, 0xc0);
                continue;
            }
        }
        if (dynamic) {
            if (!secret) l.dynamic_full = index_->find_full(*table_, l.full_hash, f.name, f.value);
            l.dynamic_name = index_->find_name(*table_, l.name_hash, f.name);
            if (l.dynamic_name == 0 && l.dynamic_full != 0) l.dynamic_name = l.dynamic_full;
        }
        // (Only when the section may block: the copy is not acknowledged yet.)
        // The copy may evict its own source (RFC 9204 §3.2.2, §4.3.4), but
        // no newer entry; in a table of a few entries (under 512 octets) it
        // must fit beside its source, or copies would churn the whole table.
        if (can_block && l.dynamic_full != 0 && l.dynamic_full - 1 < draining &&
            can_insert(std::uint64_t{f.name.size()} + f.value.size() + kEntryOverhead,
                       std::min(lowest, l.dynamic_full - (capacity_ < kSmallTable ? 1 : 0)))) {
            const std::uint64_t id = duplicate(f, l, l.dynamic_full - 1);
            drain_after_insert(std::uint64_t{f.name.size()} + f.value.size() + kEntryOverhead);
            if (usable(id)) {
                reference(id);  // §4.5.3 Post-Base Index: 0001 index(4+)
                o = detail::put_integer(o, id - base, 4, 0x10);
                continue;
            }
            l.dynamic_full = 0;
        }
        if (l.dynamic_full != 0 && usable(l.dynamic_full - 1)) {
            const std::uint64_t id = l.dynamic_full - 1;
            reference(id);
            if (id < base)  // §4.5.2 Indexed Field Line, dynamic: 10 index(6+)
                o = detail::put_integer(o, base - 1 - id, 6, 0x80);
            else  // §4.5.3 Post-Base Index: 0001 index(4+)
                o = detail::put_integer(o, id - base, 4, 0x10);
            continue;
        }
        // Worth inserting: a field seen before, any field while the table
        // has room to spare (no eviction), or any field of a name whose
        // entries keep being used again; so one-off values (ids, dates,
        // digests) do not push out entries in use. Never an entry over 3/4
        // of the capacity: it would empty the table.
        bool worth = false;
        if (dynamic && !secret && l.dynamic_full == 0 && (kNamePolicy[l.static_name] & kUnique) == 0) {
            std::uint32_t& seen = index_->seen[(l.full_hash >> 20) & (index_->seen.size() - 1)];
            const std::uint64_t entry = std::uint64_t{f.name.size()} + f.value.size() + kEntryOverhead;
            // (A section that may not block pays twice for an insert, which
            // it must also send as a literal: then only the first two reasons.)
            worth = (seen == static_cast<std::uint32_t>(l.full_hash >> 32) || capacity_ - table_->size() >= entry ||
                     (can_block && (((kNamePolicy[l.static_name] & kRepeat) != 0 && entry <= capacity_ / 8) ||
                                    index_->score(l.name_hash) > 3))) &&
                    entry <= capacity_ / 4 * 3;
            seen = static_cast<std::uint32_t>(l.full_hash >> 32);
        }
        if (worth) {
            const std::uint64_t entry = std::uint64_t{f.name.size()} + f.value.size() + kEntryOverhead;
            // What this section referenced may not be evicted by the insert;
            // nor may the entry it names, or else the insert spells the name
            // out (a new value of a name taking its old value's place).
            // The static name is used unless its index takes a second octet
            // (from 63) where the dynamic entry's relative index does not.
            if (l.static_name != 0 &&
                !(l.static_name > 63 && live(l.dynamic_name) && table_->next_id() - l.dynamic_name < 63))
                l.dynamic_name = 0;
            bool fits = false;
            if (l.dynamic_name != 0) fits = can_insert(entry, std::min(lowest, l.dynamic_name - 1));
            if (!fits) {
                fits = can_insert(entry, lowest);
                if (fits) l.dynamic_name = 0;
            }
            if (fits) {
                const std::uint64_t id = insert(f, l);
                drain_after_insert(entry);
                if (can_block) {  // §4.5.3 Post-Base Index: 0001 index(4+)
                    reference(id);
                    o = detail::put_integer(o, id - base, 4, 0x10);
                    continue;
                }
                l.dynamic_name = id + 1;
            }
        }
        // A literal (§4.5.4-§4.5.6); N, the never-indexed bit, for secrets.
        const auto n = static_cast<std::uint8_t>(secret ? 1 : 0);
        // A static name index from 15 takes a second octet: an acknowledged
        // dynamic entry with the name is named instead when its index fits
        // in one.
        if (l.static_name > 15 && dynamic && live(l.dynamic_name) && l.dynamic_name - 1 < known_received_) {
            const std::uint64_t id = l.dynamic_name - 1;
            if ((id < base && base - 1 - id < 15) || (id >= base && id - base < 7)) l.static_name = 0;
        }
        if (l.static_name != 0) {  // 01 N 1 index(4+)
            o = detail::put_integer(o, l.static_name - 1, 4, static_cast<std::uint8_t>(0x50 | n << 5));
        } else if (dynamic && live(l.dynamic_name) && usable(l.dynamic_name - 1)) {
            const std::uint64_t id = l.dynamic_name - 1;
            reference(id);
            if (id < base)  // 01 N 0 index(4+)
                o = detail::put_integer(o, base - 1 - id, 4, static_cast<std::uint8_t>(0x40 | n << 5));
            else  // §4.5.5 Post-Base Name Reference: 0000 N index(3+)
                o = detail::put_integer(o, id - base, 3, static_cast<std::uint8_t>(n << 3));
        } else {  // §4.5.6 Literal with Literal Name: 001 N H len(3+)
            o = detail::put_string(o, f.name, 3, static_cast<std::uint8_t>(0x20 | n << 4), options_.huffman);
        }
        o = detail::put_string(o, f.value, 7, 0x00, options_.huffman);
    }

    // §4.5.1 prefix, written in front of the field lines.
    std::uint8_t prefix[kPrefixRoom];
    std::uint8_t* p = prefix;
    if (highest == 0) {
        *p++ = 0;
        *p++ = 0;
    } else {
        // §4.5.1.1: Encoded Required Insert Count.
        const std::uint64_t max_entries = peer_max_capacity_ / kEntryOverhead;
        p = detail::put_integer(p, highest % (2 * max_entries) + 1, 8, 0x00);
        // §4.5.1.2: Base relative to it, with the sign bit.
        if (base >= highest)
            p = detail::put_integer(p, base - highest, 7, 0x00);
        else
            p = detail::put_integer(p, highest - base - 1, 7, 0x80);
        unacked_.push_back({stream_id, highest, lowest});
        max_required_ = std::max(max_required_, highest);
        if (highest > known_received_ && blocking_valid_ && blocking_known_ == known_received_) {
            const auto at = std::lower_bound(blocking_.begin(), blocking_.end(), stream_id);
            if (at == blocking_.end() || *at != stream_id) blocking_.insert(at, stream_id);
        }
    }
    const auto plen = static_cast<std::size_t>(p - prefix);
    const auto flen = static_cast<std::size_t>(o - (out + kPrefixRoom));
    std::memmove(out + plen, out + kPrefixRoom, flen);
    std::memcpy(out, prefix, plen);
    return plen + flen;
}

void Encoder::forget_stream(std::uint64_t stream_id) noexcept {
    if (std::erase_if(unacked_, [&](const Unacked& u) { return u.stream_id == stream_id; }) != 0)
        blocking_valid_ = false;
}

Error Encoder::read_decoder_stream(std::span<const std::uint8_t> bytes) {
    if (fatal_ != Error::none) return fatal_;
    // Decoder instructions are one integer each (at most 10 octets): an
    // incomplete one is held in pending_ and completed octet by octet.
    const std::uint8_t* p = bytes.data();
    const std::uint8_t* const end = p + bytes.size();
    while (p != end) {
        const std::uint8_t* q = p;
        const std::uint8_t* qend = end;
        if (!pending_.empty()) {
            pending_.push_back(*p++);
            q = pending_.data();
            qend = q + pending_.size();
        }
        const std::uint8_t b = *q;
        const int prefix_bits = (b & 0x80) ? 7 : 6;
        std::uint64_t v = 0;
        const int k = detail::get_integer(q, qend, prefix_bits, v);
        if (k < 0) return fatal_ = Error::decoder_integer_overflow;
        if (k == 0) {
            if (pending_.empty()) {
                pending_.assign(p, end);
                p = end;
            }
            continue;
        }
        if (pending_.empty())
            p += k;
        else
            pending_.clear();
        if (b & 0x80) {  // §4.4.1 Section Acknowledgment: the stream's oldest unacknowledged section
            const auto it =
                std::find_if(unacked_.begin(), unacked_.end(), [&](const Unacked& u) { return u.stream_id == v; });
            if (it == unacked_.end()) return fatal_ = Error::ack_without_section;
            known_received_ = std::max(known_received_, it->required);  // §2.1.4
            unacked_.erase(it);
            blocking_valid_ = false;
        } else if (b & 0x40) {  // §4.4.2 Stream Cancellation
            forget_stream(v);
        } else {  // §4.4.3 Insert Count Increment
            if (v == 0 || v > insert_count() - known_received_) return fatal_ = Error::increment_invalid;
            known_received_ += v;
        }
    }
    return Error::none;
}

}  // namespace h2wire::qpack
