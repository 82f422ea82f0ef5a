// The HPACK static table (RFC 7541 Appendix A) and lookups into it.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
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

struct StaticMatch {
    std::uint32_t name_index = 0;  ///< first index with this name, 0 if none
    std::uint32_t full_index = 0;  ///< index with this name and value, 0 if none
};

/// Finds `name` (whose hash_bytes is `name_hash`) and `value` in the static table.

// Lookup by name: an open-addressing table of 512 slots built at compile time
// from kStaticTable, keyed by hash_bytes(name). A slot holds the name's hash,
// the first static index with that name (entries of one name are adjacent in
// Appendix A) and how many entries share it, so a miss usually costs one
// comparison of two integers and a hit one memcmp of the name.
struct NameSlot {
    std::uint64_t hash = 0;
    std::uint8_t index = 0;  // 0: empty
    std::uint8_t count = 0;  // entries with this name
};
constexpr std::size_t kNameSlots = 512;  // sparse: a miss usually ends at the first slot

constexpr std::array<NameSlot, kNameSlots> build_name_index() noexcept {
    std::array<NameSlot, kNameSlots> slots{};
    for (std::uint32_t i = 0; i < kStaticTableSize; ++i) {
        if (i > 0 && kStaticTable[i].name == kStaticTable[i - 1].name) continue;
        std::uint8_t count = 1;
        while (i + count < kStaticTableSize && kStaticTable[i + count].name == kStaticTable[i].name) ++count;
        const std::uint64_t h = hash_bytes(kStaticTable[i].name);
        std::size_t s = h & (kNameSlots - 1);
        while (slots[s].index != 0) s = (s + 1) & (kNameSlots - 1);
        slots[s] = {h, static_cast<std::uint8_t>(i + 1), count};
    }
    return slots;
}
inline constexpr std::array<NameSlot, kNameSlots> kNameIndex = build_name_index();

inline bool same(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}


inline StaticMatch static_lookup(std::string_view name, std::string_view value, std::uint64_t name_hash) noexcept {
    StaticMatch m;
    for (std::size_t s = name_hash & (kNameSlots - 1); kNameIndex[s].index != 0; s = (s + 1) & (kNameSlots - 1)) {
        const NameSlot& slot = kNameIndex[s];
        if (slot.hash != name_hash || !same(kStaticTable[slot.index - 1].name, name)) continue;
        m.name_index = slot.index;
        for (std::uint32_t i = slot.index; i < slot.index + slot.count; ++i) {
            if (same(kStaticTable[i - 1].value, value)) {
                m.full_index = i;
                break;
            }
        }
        break;
    }
    return m;
}


}  // namespace h2wire::hpack::detail
