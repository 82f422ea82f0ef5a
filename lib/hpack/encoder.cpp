// HPACK encoding (RFC 7541 §6) and the integer primitive (§5.1).
#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <utility>

#include "h2wire/hpack.hpp"
#include "hpack/dynamic_table.hpp"
#include "hpack/hash.hpp"
#include "hpack/huffman.hpp"
#include "hpack/static_table.hpp"

namespace h2wire::hpack {

namespace {

// RFC 7541 §5.1: the N-bit prefix integer. The one-byte case (nearly every
// index and string length) is inline; longer values take the loop.
std::uint8_t* encode_integer_long(std::uint8_t* out, std::uint32_t value, std::uint32_t max_prefix,
                                  std::uint8_t first) noexcept {
    *out++ = static_cast<std::uint8_t>(first | max_prefix);
    value -= max_prefix;
    while (value >= 128) {
        *out++ = static_cast<std::uint8_t>(0x80 | (value & 0x7f));
        value >>= 7;
    }
    *out++ = static_cast<std::uint8_t>(value);
    return out;
}

inline std::uint8_t* put_integer(std::uint8_t* out, std::uint32_t value, int prefix_bits, std::uint8_t first) noexcept {
    const std::uint32_t max_prefix = (1u << prefix_bits) - 1;
    if (value < max_prefix) [[likely]] {
        *out = static_cast<std::uint8_t>(first | value);
        return out + 1;
    }
    return encode_integer_long(out, value, max_prefix, first);
}

}  // namespace

namespace wire {
std::uint8_t* encode_integer(std::uint8_t* out, std::uint32_t value, int prefix_bits, std::uint8_t first) noexcept {
    return put_integer(out, value, prefix_bits, first);
}
}  // namespace wire

namespace {

constexpr std::size_t kMaxIntegerBytes = 6;  // a 32-bit value with a 1-bit prefix... at most 6 bytes

/// What the encoder does with a field by its name, for the names of the
/// static table (by their first static index); other names get 0.
enum NamePolicy : std::uint8_t {
    /// RFC 7541 §7.1.3: secrets that must not enter a compression table: sent
    /// as never-indexed literals, never inserted. The static full-match
    /// lookup leaves these names out (detail::kStaticValues), so a field
    /// reaches this policy only as a literal.
    kSecret = 1,
    kShortSecret = 2,  ///< kSecret when the value is under 20 bytes (short cookies)
    /// Fields whose values rarely repeat: indexing them would only push useful
    /// entries out of the table.
    kUnique = 4,
};

constexpr std::array<std::uint8_t, detail::kStaticTableSize + 1> kNamePolicy = [] {
    std::array<std::uint8_t, detail::kStaticTableSize + 1> policy{};
    for (std::uint32_t i = 1; i <= detail::kStaticTableSize; ++i) {
        const std::string_view name = detail::kStaticTable[i - 1].name;
        if (name == "authorization" || name == "proxy-authorization") policy[i] = kSecret;
        if (name == "cookie") policy[i] = kShortSecret;
        if (name == "age" || name == "etag" || name == ":path" || name == "content-length") policy[i] = kUnique;
    }
    return policy;
}();

/// Whether `f` (whose name's first static index is `name_index`, 0 if none)
/// is sent as a never-indexed literal.
bool sensitive(const Field& f, std::uint32_t name_index) noexcept {
    const std::uint8_t policy = kNamePolicy[name_index];
    return f.sensitive || (policy & kSecret) != 0 || ((policy & kShortSecret) != 0 && f.value.size() < 20);
}

/// Strings this long or longer take a 4-byte length prefix (§5.1, 7-bit
/// prefix): they are Huffman-coded in two passes (size, then code).
constexpr std::size_t kOnePassBelow = 127 + 128 * 128;

/// §5.2 string literal, Huffman-coded only when that is shorter. The output
/// has room for 6 + s.size() bytes. Inline where a field's value is written
/// (once per literal), out of line for the rarer literal names.
[[gnu::always_inline]] inline std::uint8_t* put_string(std::uint8_t* out, std::string_view s, bool huffman) noexcept {
    if (huffman && !s.empty() && s.size() < kOnePassBelow) {
        // The coded length is below s.size(), so its length prefix is no
        // longer than that of s.size(): code straight after room for that,
        // giving up as soon as it is not shorter (which writes up to 3 bytes
        // past s.size(): within the room, as the prefix takes at most 3);
        // then move it up if its prefix turns out shorter (strings of 127
        // octets or more only).
        const auto room =
            s.size() < 127
                ? 1
                : static_cast<std::size_t>(put_integer(out, static_cast<std::uint32_t>(s.size()), 7, 0) - out);
        if (std::uint8_t* end = detail::huffman_encode_shorter(out + room, s, s.size())) {
            const auto len = static_cast<std::uint32_t>(end - out - room);
            if (len < 127) [[likely]] {
                if (room != 1) std::memmove(out + 1, out + room, len);
                out[0] = static_cast<std::uint8_t>(0x80 | len);
                return out + 1 + len;
            }
            std::uint8_t* const data = put_integer(out, len, 7, 0x80);
            if (data != out + room) std::memmove(data, out + room, len);
            return data + len;
        }
    }
    if (huffman && s.size() >= kOnePassBelow) {
        const std::size_t len = wire::huffman_encoded_size(s);
        if (len < s.size()) {
            out = put_integer(out, static_cast<std::uint32_t>(len), 7, 0x80);
            return wire::huffman_encode(out, s);
        }
    }
    out = put_integer(out, static_cast<std::uint32_t>(s.size()), 7, 0);
    detail::move_bytes(reinterpret_cast<char*>(out), s.data(), s.size());
    return out + s.size();
}

[[gnu::noinline]] std::uint8_t* write_string(std::uint8_t* out, std::string_view s, bool huffman) noexcept {
    return put_string(out, s, huffman);
}

}  // namespace

/// Finds dynamic-table entries by name and by name + value: two tables of
/// hash chains. A bucket holds the id of the newest entry whose key falls in
/// it, and each entry the id of the next older one in the same bucket (a ring
/// indexed by id, beside the table's own). Insertion is two stores per key.
/// Eviction costs nothing: entries leave from the oldest end, so a chain is
/// live down to its first evicted id and a walk stops there (or at any id
/// that is not younger than the last one, so that ids from 2^32 insertions
/// ago can never make it loop). Only names outside the static table go in
/// the name chains: a field with a static name refers to the static entry.
/// A field whose name is in the static table is keyed by the precomputed hash
/// of that name (detail::kStaticNameHash), so only its value is hashed.
///
/// In front of them, probe() tries what the previous block had at the
/// same position, which is what a warm connection's fields usually are.
///
/// The encoder never inserts a field it has a full match for, so at most one
/// entry holds a given name and value: every way of finding it gives the same
/// index.
struct Encoder::Index {
    /// One dynamic entry's keys and its links to the next older entry of
    /// each of its chains (low 32 bits of ids).
    struct Entry {
        std::uint64_t name_hash;  // 0: not in a name chain
        std::uint64_t full_hash;
        std::uint32_t next_name;
        std::uint32_t next_full;
    };

    /// What the encoder learned of one field before choosing its
    /// representation, found by lookup() or just before the field is encoded.
    struct Probe {
        std::uint64_t name_hash;    // hash_bytes(name), when `hashed`
        std::uint64_t full_hash;    // hash_bytes(value, name_hash), the full-match key, when `hashed`
        std::uint64_t id;           // the dynamic entry holding name and value, when `dynamic`
        std::uint8_t name_index;    // the first static entry with this name, 0 if none
        std::uint8_t static_index;  // the static entry holding name and value, 0 if none
        bool dynamic;               // `id` matched (it may have been evicted since)
        bool hashed;                // name_hash and full_hash are set
    };

    explicit Index(std::pmr::memory_resource* mr) : entries(mr), heads(mr), probes(mr) {}

    /// Doubles the ring of entries (from 8) and the buckets (2 per entry of
    /// each key) when the table holds more entries than the ring has room
    /// for, and re-adds the live entries. They grow with the entries the table
    /// really holds, up to what its maximum allows (max_size / 32 entries):
    /// nothing is allocated before the first insertion, and nothing once they
    /// have grown to what the fields need.
    void grow(const detail::DynamicTable& table) {
        const std::size_t size = std::max<std::size_t>(8, entries.size() * 2);
        std::pmr::vector<Entry> old(std::move(entries));
        entries = std::pmr::vector<Entry>(size, Entry{}, old.get_allocator());
        heads.assign(4 * size, static_cast<std::uint32_t>(table.first_id() - 1));  // ids never live
        bucket_mask = 2 * size - 1;
        entry_mask = size - 1;
        if (old.empty()) return;
        for (std::uint64_t id = table.first_id(); id + 1 < table.next_id(); ++id) {
            const Entry& e = old[id & (old.size() - 1)];
            link(e.name_hash, e.full_hash, id);
        }
    }

    /// Adds entry `id` (already in `table`, the newest) under both keys; a
    /// name hash of 0 keeps it out of the name chains.
    void add(std::uint64_t name_hash, std::uint64_t full_hash, std::uint64_t id, const detail::DynamicTable& table) {
        if (entries.empty() || table.count() > entry_mask + 1) grow(table);
        link(name_hash, full_hash, id);
    }

    void link(std::uint64_t name_hash, std::uint64_t full_hash, std::uint64_t id) noexcept {
        const auto id32 = static_cast<std::uint32_t>(id);
        std::uint32_t* const full_head = &heads[full_hash & bucket_mask];
        Entry& e = entries[id & entry_mask];
        e.name_hash = name_hash;
        e.full_hash = full_hash;
        e.next_full = *full_head;
        *full_head = id32;
        if (name_hash != 0) {
            std::uint32_t* const name_head = &heads[bucket_mask + 1 + (name_hash & bucket_mask)];
            e.next_name = *name_head;
            *name_head = id32;
        }
    }

    /// Walks the chain from `head` (a bucket of `heads`) through the live
    /// entries from id `first` on, newest first, for one whose key is `h` and
    /// for which `match(id)` holds. `Full`: the full-match chains, else the
    /// name chains.
    template <bool Full, class Match>
    bool find(std::uint32_t head, std::uint64_t h, std::uint64_t first, const detail::DynamicTable& table,
              Match&& match, std::uint64_t& id) const noexcept {
        const auto first32 = static_cast<std::uint32_t>(first);
        const Entry* const ring = entries.data();
        const std::size_t mask = entry_mask;
        auto limit = static_cast<std::uint32_t>(table.next_id() - first);  // at most max_size / 32
        for (std::uint32_t v = head;;) {
            const std::uint32_t age = v - first32;  // its distance from the oldest entry
            if (age >= limit) return false;         // evicted, or not younger than the last one
            limit = age;
            const Entry& e = ring[(first + age) & mask];
            if ((Full ? e.full_hash : e.name_hash) == h && match(first + age)) {
                id = first + age;
                return true;
            }
            v = Full ? e.next_full : e.next_name;
        }
    }
    /// The table must not be empty (then neither is `entries`).
    /// Only entries from id `first` (at least table.first_id()) on.
    bool find_full(std::uint64_t h, const detail::DynamicTable& table, const Field& f, std::uint64_t first,
                   std::uint64_t& id) const noexcept {
        const auto holds = [&](std::uint64_t c) { return table.holds(c, f.name, f.value); };
        return find<true>(heads[h & bucket_mask], h, first, table, holds, id);
    }
    /// The table must not be empty (then neither is `entries`).
    bool find_name(std::uint64_t h, const detail::DynamicTable& table, const Field& f,
                   std::uint64_t& id) const noexcept {
        h |= 1;  // as add() keys name chains
        const auto named = [&](std::uint64_t c) { return detail::same(table.name_of(c), f.name); };
        return find<false>(heads[bucket_mask + 1 + (h & bucket_mask)], h, table.first_id(), table, named, id);
    }

    /// Sets `p`'s hashes, if not yet done.
    static void hash(const Field& f, Probe& p) noexcept {
        if (p.hashed) return;
        p.name_hash = p.name_index != 0 ? detail::kStaticNameHash[p.name_index] : detail::hash_bytes(f.name);
        p.full_hash = detail::hash_bytes(f.value, p.name_hash);
        p.hashed = true;
    }

    /// Looks for a dynamic entry holding `f`'s name and value (`f` not
    /// sensitive, `p.name_index` set). Fields whose names are never indexed
    /// (kNamePolicy: `:path`, `content-length`, secrets, ...) cannot be in the
    /// table, which holds only what this encoder inserted, and need no lookup.
    /// Only entries from id `since` on, if that is later than the oldest.
    bool find_dynamic(const detail::DynamicTable& table, const Field& f, Probe& p,
                      std::uint64_t since = 0) const noexcept {
        if (table.count() == 0 || (kNamePolicy[p.name_index] & (kUnique | kSecret)) != 0) return false;
        hash(f, p);
        return find_full(p.full_hash, table, f, std::max(since, table.first_id()), p.id);
    }

    /// Looks `f` up: its name in the static table, then its full match, first
    /// in the static table, then in the dynamic one. Returns the memo byte of
    /// the full match, 0 if none. A sensitive field never matches: a field
    /// marked so is not looked up, and those sensitive by default
    /// (kNamePolicy) are neither full matches in the static table
    /// (kStaticValues) nor ever inserted.
    ///
    /// `p` holds what the previous block found at this position (or
    /// no match): header blocks of a connection tend to repeat their fields in
    /// the same order, so that match is tried first, compared byte for byte.
    /// If it is still a full match, the rest of `p` still describes `f` (it
    /// was worked out for the same name and value) and stays as it is. If
    /// there was no match, under a static name that is never indexed, and
    /// `f` has that name, only the static values are looked at again.
    /// Anything else goes to probe_fresh(). encode() without a lookup()
    /// probes the same way, just before encoding each field.
    [[gnu::always_inline]] std::uint8_t probe(detail::DynamicTable& table, const Field& f, Probe& p) const noexcept {
        if (!f.sensitive) {
            if (p.static_index != 0) {
                const detail::StaticEntry& e = detail::kStaticTable[p.static_index - 1];
                if (detail::same(e.value, f.value) && detail::same(e.name, f.name))
                    return static_memo[p.static_index - 1];
            } else if (p.dynamic) {
                // Ids only grow, and `p.id` was below next_id() when set: it
                // is live unless it was evicted.
                if (p.id >= table.first_id() && table.holds(p.id, f.name, f.value)) return table.memo_of(p.id);
            } else if ((kNamePolicy[p.name_index] & (kUnique | kSecret)) != 0 &&
                       detail::same(detail::kStaticTable[p.name_index - 1].name, f.name)) {
                // No match here last time, under a static name whose fields
                // are never inserted (a `:path`, say): the same name needs no
                // name lookup and no dynamic one, only its static values.
                p.hashed = false;
                p.static_index = static_cast<std::uint8_t>(detail::static_value_lookup(p.name_index, f.value));
                return p.static_index != 0 ? static_memo[p.static_index - 1] : 0;
            }
        }
        return probe_fresh(table, f, p);
    }

    /// probe() without a hint: looks `f` up from scratch and sets all of `p`.
    std::uint8_t probe_fresh(detail::DynamicTable& table, const Field& f, Probe& p) const noexcept {
        p.name_index = static_cast<std::uint8_t>(detail::static_name_index(f.name));
        p.static_index = 0;
        p.dynamic = false;
        p.hashed = false;
        if (f.sensitive) return 0;
        if (p.name_index != 0) {
            p.static_index = static_cast<std::uint8_t>(detail::static_value_lookup(p.name_index, f.value));
            if (p.static_index != 0) return static_memo[p.static_index - 1];
        }
        p.dynamic = find_dynamic(table, f, p);
        return p.dynamic ? table.memo_of(p.id) : 0;
    }

    /// Writes `f`'s representation (RFC 7541 §6) given its probe, and indexes
    /// it when worth it. `recheck`: the probe came from lookup(), and earlier
    /// fields of this block may have changed the table since. The indexed
    /// cases, nearly every field once the table is warm, are inline.
    std::uint8_t* encode_field(detail::DynamicTable& table, const Field& f, Probe& p, bool recheck,
                               std::uint8_t* out, std::uint8_t memo, bool huffman) {
        // §6.1: a field in the static table goes out as its index (1..61: one byte).
        if (p.static_index != 0) {
            static_memo[p.static_index - 1] |= memo;
            *out = static_cast<std::uint8_t>(0x80 | p.static_index);
            return out + 1;
        }
        if (recheck && !f.sensitive) {
            // The match may have been evicted, or a field inserted where there
            // was none. Only the entries inserted since lookup() can hold it:
            // lookup() found none of the older ones (or the one it found was
            // the only one, as the encoder never inserts a field it has a
            // full match for).
            if (p.dynamic ? p.id < table.first_id() : table.next_id() != probed_next_id)
                p.dynamic = find_dynamic(table, f, p, probed_next_id);
        }
        if (p.dynamic) {  // §6.1, a dynamic entry
            table.memo_of(p.id) |= memo;
            const std::uint64_t index = detail::kStaticTableSize + table.next_id() - p.id;
            return put_integer(out, static_cast<std::uint32_t>(index), 7, 0x80);
        }
        return encode_literal(table, f, p, out, memo, huffman);
    }

    /// §6.2: a field with no full match, as a literal.
    std::uint8_t* encode_literal(detail::DynamicTable& table, const Field& f, Probe& p, std::uint8_t* out,
                                 std::uint8_t memo, bool huffman) {
        const bool secret = sensitive(f, p.name_index);
        std::uint32_t name_index = p.name_index;
        std::uint64_t id = 0;
        if (name_index == 0 && table.count() != 0) {
            hash(f, p);
            if (find_name(p.name_hash, table, f, id))
                name_index = static_cast<std::uint32_t>(detail::kStaticTableSize + table.next_id() - id);
        }

        const std::uint64_t entry_size = f.name.size() + f.value.size() + 32;
        const bool index_it = !secret && table.max_size() != 0 && entry_size <= table.max_size() / 4 * 3 &&
                              (kNamePolicy[p.name_index] & kUnique) == 0;
        if (secret) out = put_integer(out, name_index, 4, 0x10);  // §6.2.3 never indexed
        else if (index_it) out = put_integer(out, name_index, 6, 0x40);  // §6.2.1 incremental indexing
        else out = put_integer(out, name_index, 4, 0x00);  // §6.2.2 without indexing
        if (name_index == 0) out = write_string(out, f.name, huffman);
        out = put_string(out, f.value, huffman);

        if (index_it) {
            hash(f, p);
            // insert() evicts what the entry needs; the index forgets lazily.
            const std::uint64_t new_id = table.next_id();
            table.insert(f.name, f.value, memo);
            if (table.next_id() != new_id + 1) return out;  // not inserted (cannot happen: it fits)
            add(p.name_index == 0 ? p.name_hash | 1 : 0, p.full_hash, new_id, table);
            p.dynamic = true;  // for the next block's probe at this position
            p.id = new_id;
        }
        return out;
    }

    std::pmr::vector<Entry> entries;        // ring by id, as many as the table can hold
    std::pmr::vector<std::uint32_t> heads;  // the full-match buckets, then the name buckets
    std::size_t bucket_mask = 0;            // buckets per key - 1
    std::size_t entry_mask = 0;             // entries.size() - 1

    // What lookup() found, for the encode() of the same span that follows;
    // after that encode(), what the block's fields were found or inserted as,
    // the hints of the next block's probes.
    std::pmr::vector<Probe> probes;  // grows to the longest block, never shrinks
    const Field* probed_data = nullptr;
    std::size_t probed_size = 0;
    std::uint64_t probed_next_id = 0;  // the table's next_id() when they were found
    bool probed = false;               // false: nothing to reuse

    std::array<std::uint8_t, detail::kStaticTableSize> static_memo{};  // memos of the static entries
};

namespace {
// The index is made at the first lookup() or encode(): an encoder that has
// not encoded a block (an idle connection's) holds only its table's header.
// Its maps grow with the table's entries.
template <class Index>
Index* make_index(const detail::DynamicTable& table) {
    return std::pmr::polymorphic_allocator<>(table.resource()).new_object<Index>(table.resource());
}
}  // namespace

Encoder::Encoder(const EncoderOptions& options, std::pmr::memory_resource* mr) : options_(options), index_(nullptr) {
    const std::uint32_t initial = std::min<std::uint32_t>(4096, options_.max_table_size);
    table_ = std::pmr::polymorphic_allocator<>(mr).new_object<detail::DynamicTable>(initial, mr);
    // RFC 9113 §6.5.2: the peer's table starts at 4096; announce a smaller cap.
    min_since_block_ = initial;
    update_pending_ = initial != announced_;
}

Encoder::~Encoder() {
    if (table_ == nullptr) return;
    std::pmr::polymorphic_allocator<> alloc(table_->resource());
    if (index_ != nullptr) alloc.delete_object(index_);
    alloc.delete_object(table_);
}

Encoder::Encoder(Encoder&& o) noexcept
    : options_(o.options_),
      table_(std::exchange(o.table_, nullptr)),
      index_(std::exchange(o.index_, nullptr)),
      peer_max_(o.peer_max_),
      announced_(o.announced_),
      min_since_block_(o.min_since_block_),
      update_pending_(o.update_pending_) {}

Encoder& Encoder::operator=(Encoder&& o) noexcept {
    if (this != &o) {
        this->~Encoder();
        new (this) Encoder(std::move(o));
    }
    return *this;
}

std::uint32_t Encoder::table_size() const noexcept { return table_->size(); }
std::uint32_t Encoder::table_max_size() const noexcept { return table_->max_size(); }
std::size_t Encoder::table_entries() const noexcept { return table_->count(); }

void Encoder::set_peer_max_table_size(std::uint32_t size) {
    peer_max_ = size;
    const std::uint32_t effective = std::min(size, options_.max_table_size);
    min_since_block_ = update_pending_ ? std::min(min_since_block_, effective) : effective;
    update_pending_ = true;  // encode_pending_updates() works out what, if anything, to send
    if (index_ != nullptr) index_->probed = false;
}

std::size_t Encoder::max_encoded_size(std::span<const Field> fields) noexcept {
    // Two size updates; per field a representation byte, then the name and the
    // value, each at most one length integer longer than itself.
    std::size_t n = 2 * kMaxIntegerBytes + fields.size() * (1 + 2 * kMaxIntegerBytes);
    // Two sums, so that the additions of consecutive fields do not wait on
    // each other.
    std::size_t m = 0;
    const Field* f = fields.data();
    const Field* const end = f + fields.size();
    for (; end - f >= 2; f += 2) {
        n += f[0].name.size() + f[0].value.size();
        m += f[1].name.size() + f[1].value.size();
    }
    if (f != end) n += f->name.size() + f->value.size();
    return n + m;
}

std::uint8_t* Encoder::encode_pending_updates(std::uint8_t* out) {
    const std::uint32_t final_size = std::min(peer_max_, options_.max_table_size);
    const auto resize = [&](std::uint32_t max) {
        while (table_->size() > max) table_->evict_oldest();  // the index forgets lazily
        table_->set_max_size(max);
        out = put_integer(out, max, 5, 0x20);  // §6.3
    };
    // RFC 7541 §4.2: signal the smallest maximum since the last block when it
    // is below the final one (the peer's decoder needs it to stay in step),
    // then the final one if the peer's decoder does not know it yet.
    const bool dip = min_since_block_ < final_size;
    if (dip) resize(min_since_block_);
    if (dip || final_size != announced_) resize(final_size);
    announced_ = final_size;
    update_pending_ = false;
    return out;
}

void Encoder::lookup(std::span<const Field> fields, std::uint8_t* memos) {
    if (index_ == nullptr) [[unlikely]] {
        // No block looked up or encoded yet: an empty lookup (a caller
        // forgetting an earlier one) has nothing to do and allocates nothing.
        if (fields.empty()) return;
        index_ = make_index<Index>(*table_);
    }
    Index& ix = *index_;
    detail::DynamicTable& table = *table_;
    const std::size_t n = fields.size();
    if (ix.probes.size() < n) ix.probes.resize(n);
    Index::Probe* const probes = ix.probes.data();
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t memo = ix.probe(table, fields[i], probes[i]);
        if (memos != nullptr) memos[i] = memo;
    }
    ix.probed_data = fields.data();
    ix.probed_size = fields.size();
    ix.probed_next_id = table.next_id();
    ix.probed = true;
}

std::size_t Encoder::encode(std::span<const Field> fields, std::uint8_t* out, const std::uint8_t* memos) {
    std::uint8_t* const start = out;
    if (index_ == nullptr) [[unlikely]]
        index_ = make_index<Index>(*table_);
    Index& ix = *index_;
    const bool reuse = ix.probed && ix.probed_data == fields.data() && ix.probed_size == fields.size();
    ix.probed = false;
    if (update_pending_) out = encode_pending_updates(out);
    const bool huffman = options_.huffman;
    detail::DynamicTable& table = *table_;
    const std::size_t n = fields.size();
    if (reuse && memos != nullptr) {
        for (std::size_t i = 0; i < n; ++i) out = ix.encode_field(table, fields[i], ix.probes[i], true, out, memos[i], huffman);
    } else if (reuse) {
        for (std::size_t i = 0; i < n; ++i) out = ix.encode_field(table, fields[i], ix.probes[i], true, out, 0, huffman);
    } else {
        // The previous block's probe at each position is the hint, as in
        // lookup(): the probe is checked against the table as it is now.
        if (ix.probes.size() < n) ix.probes.resize(n);
        Index::Probe* const probes = ix.probes.data();
        for (std::size_t i = 0; i < n; ++i) {
            ix.probe(table, fields[i], probes[i]);
            out = ix.encode_field(table, fields[i], probes[i], false, out, memos != nullptr ? memos[i] : 0, huffman);
        }
    }
    return static_cast<std::size_t>(out - start);
}

}  // namespace h2wire::hpack
