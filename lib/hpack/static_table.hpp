// The HPACK static table (RFC 7541 Appendix A) and lookups into it.
#pragma once

#include <array>
#include <cstdint>
#include <cstddef>
#include <string_view>

#include "hpack/hash.hpp"

namespace h2wire::hpack::detail {

struct StaticEntry {
    std::string_view name;
    std::string_view value;
};

/// kStaticTable[i - 1] is static index i, 1..61.
// RFC 7541 Appendix A.
inline constexpr StaticEntry kStaticTable[61] = {
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
};

constexpr std::uint32_t kStaticTableSize = 61;

// Lookup by name and value: an open-addressing table of 256 slots built at
// compile time from kStaticTable, keyed by the field's full hash,
// hash_bytes(value, hash_bytes(name)), the key the encoder's dynamic index
// uses too. A slot is one 64-bit word: the hash with its low byte replaced by
// the static index (0: empty). The home slot comes from bits 8..15 of the
// hash, so with 61 entries in 256 slots a miss (nearly every field that is
// not `:method GET` and the like) usually costs one load and one compare.
constexpr std::size_t kFullSlots = 256;

constexpr std::uint64_t full_hash(std::string_view name, std::string_view value) noexcept {
    return hash_bytes(value, hash_bytes(name));
}

constexpr std::array<std::uint64_t, kFullSlots> build_full_index() noexcept {
    std::array<std::uint64_t, kFullSlots> slots{};
    for (std::uint32_t i = 0; i < kStaticTableSize; ++i) {
        // RFC 7541 §7.1.3: these go out as never-indexed literals whatever
        // their value (the encoder's sensitive_by_default), so they must not
        // be found as full matches.
        const std::string_view name = kStaticTable[i].name;
        if (name == "authorization" || name == "proxy-authorization" || name == "cookie") continue;
        const std::uint64_t h = full_hash(name, kStaticTable[i].value);
        std::size_t s = (h >> 8) & (kFullSlots - 1);
        while (slots[s] != 0) s = (s + 1) & (kFullSlots - 1);
        slots[s] = (h & ~std::uint64_t{0xff}) | (i + 1);
    }
    return slots;
}
inline constexpr std::array<std::uint64_t, kFullSlots> kFullIndex = build_full_index();

/// The longest value in the static table ("gzip, deflate"): a longer one
/// cannot be a static full match, so its lookup is skipped.
constexpr std::size_t kMaxStaticValue = [] {
    std::size_t n = 0;
    for (const StaticEntry& e : kStaticTable) n = e.value.size() > n ? e.value.size() : n;
    return n;
}();

/// The static index of `name` and `value` (whose full_hash is `hash`), 0 if
/// the static table does not hold them.
inline std::uint32_t static_full_lookup(std::string_view name, std::string_view value, std::uint64_t hash) noexcept {
    if (value.size() > kMaxStaticValue) return 0;
    const std::uint64_t want = hash & ~std::uint64_t{0xff};
    for (std::size_t s = (hash >> 8) & (kFullSlots - 1); kFullIndex[s] != 0; s = (s + 1) & (kFullSlots - 1)) {
        if ((kFullIndex[s] & ~std::uint64_t{0xff}) != want) continue;
        const auto index = static_cast<std::uint32_t>(kFullIndex[s] & 0xff);
        if (same(kStaticTable[index - 1].name, name) && same(kStaticTable[index - 1].value, value)) return index;
    }
    return 0;
}

// Lookup by name: an open-addressing table of 512 slots built at compile time
// from kStaticTable, keyed by hash_bytes(name). A slot holds the name's hash
// and the first static index with that name (entries of one name are adjacent
// in Appendix A), so a miss usually costs one comparison of two integers and a
// hit one comparison of the name.
struct NameSlot {
    std::uint64_t hash = 0;
    std::uint32_t index = 0;  // 0: empty
};
constexpr std::size_t kNameSlots = 512;  // sparse: a miss usually ends at the first slot

constexpr std::array<NameSlot, kNameSlots> build_name_index() noexcept {
    std::array<NameSlot, kNameSlots> slots{};
    for (std::uint32_t i = 0; i < kStaticTableSize; ++i) {
        if (i > 0 && kStaticTable[i].name == kStaticTable[i - 1].name) continue;
        const std::uint64_t h = hash_bytes(kStaticTable[i].name);
        std::size_t s = h & (kNameSlots - 1);
        while (slots[s].index != 0) s = (s + 1) & (kNameSlots - 1);
        slots[s] = {h, i + 1};
    }
    return slots;
}
inline constexpr std::array<NameSlot, kNameSlots> kNameIndex = build_name_index();

/// The first static index named `name` (whose hash_bytes is `name_hash`), 0
/// if none.
inline std::uint32_t static_name_lookup(std::string_view name, std::uint64_t name_hash) noexcept {
    for (std::size_t s = name_hash & (kNameSlots - 1); kNameIndex[s].index != 0; s = (s + 1) & (kNameSlots - 1)) {
        const NameSlot& slot = kNameIndex[s];
        if (slot.hash == name_hash && same(kStaticTable[slot.index - 1].name, name)) return slot.index;
    }
    return 0;
}

}  // namespace h2wire::hpack::detail
