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

// Lookup by name: a perfect hash from a name's length, first and last byte
// (the 52 distinct names of Appendix A differ in that triple) to the first
// static index with that name, in 256 one-byte slots built at compile time.
// The slot's candidate is then compared with the name byte for byte, so a
// name that is not in the table costs a load and usually a zero test. This
// is nghttp2's lookup_token idea without the generated switch: a name that
// resolves needs no hashing, and the encoder seeds its full-match key with
// the name's hash taken from kStaticNameHash.
constexpr std::size_t kMaxStaticName = 27;  // "access-control-allow-origin"
constexpr std::size_t kNameSlots = 256;

constexpr std::size_t name_slot(std::size_t size, unsigned char first, unsigned char last) noexcept {
    return ((std::size_t{last} << 3) + (std::size_t{first} << 4) + size) & (kNameSlots - 1);
}

/// Whether static index `i` (1..61) is the first entry with its name
/// (entries of one name are adjacent in Appendix A).
constexpr bool first_of_name(std::uint32_t i) noexcept {
    return i == 1 || kStaticTable[i - 1].name != kStaticTable[i - 2].name;
}

struct NameSlots {
    std::array<std::uint8_t, kNameSlots> index{};  // 0: no static name here
    bool perfect = true;                           // no two names share a slot
};

constexpr NameSlots build_name_slots() noexcept {
    NameSlots t;
    for (std::uint32_t i = 1; i <= kStaticTableSize; ++i) {
        if (!first_of_name(i)) continue;
        const std::string_view name = kStaticTable[i - 1].name;
        std::uint8_t& slot = t.index[name_slot(name.size(), static_cast<unsigned char>(name.front()),
                                               static_cast<unsigned char>(name.back()))];
        if (slot != 0 || name.size() > kMaxStaticName) t.perfect = false;
        slot = static_cast<std::uint8_t>(i);
    }
    return t;
}
inline constexpr NameSlots kNameSlotTable = build_name_slots();
static_assert(kNameSlotTable.perfect, "two static names share a slot: change name_slot()");

/// The first static index named `name`, 0 if the static table has no such
/// name.
inline std::uint32_t static_name_index(std::string_view name) noexcept {
    const std::size_t n = name.size();
    if (n - 1 >= kMaxStaticName) return 0;  // also n == 0
    const auto first = static_cast<unsigned char>(name[0]);
    const auto last = static_cast<unsigned char>(name[n - 1]);
    const std::uint32_t i = kNameSlotTable.index[name_slot(n, first, last)];
    if (i == 0) return 0;
    const std::string_view s = kStaticTable[i - 1].name;
    return s.size() == n && equal_bytes(s.data(), name.data(), n) ? i : 0;
}

/// kStaticNameHash[i] is hash_bytes() of static entry i's name (index 0
/// unused): the seed of the full-match key of a field with that name.
inline constexpr std::array<std::uint64_t, kStaticTableSize + 1> kStaticNameHash = [] {
    std::array<std::uint64_t, kStaticTableSize + 1> h{};
    for (std::uint32_t i = 1; i <= kStaticTableSize; ++i) h[i] = hash_bytes(kStaticTable[i - 1].name);
    return h;
}();

/// For the first static index i of a name: kStaticValues[i].run entries from
/// i on share that name and may be full matches, and `limit` is one more than
/// the longest of their values, so a longer value needs no comparison. Both
/// are 0 for the names whose fields are sent never-indexed whatever their
/// value (RFC 7541 §7.1.3, the encoder's kNamePolicy): they are
/// never found as full matches.
struct StaticValues {
    std::uint8_t run = 0;
    std::uint8_t limit = 0;
};
inline constexpr std::array<StaticValues, kStaticTableSize + 1> kStaticValues = [] {
    std::array<StaticValues, kStaticTableSize + 1> v{};
    for (std::uint32_t i = kStaticTableSize; i >= 1; --i) {
        const StaticEntry& e = kStaticTable[i - 1];
        if (e.name == "authorization" || e.name == "proxy-authorization" || e.name == "cookie") continue;
        const StaticValues next = i < kStaticTableSize && kStaticTable[i].name == e.name ? v[i + 1] : StaticValues{};
        const auto limit = static_cast<std::uint8_t>(e.value.size() + 1);
        v[i] = {static_cast<std::uint8_t>(next.run + 1), limit > next.limit ? limit : next.limit};
    }
    return v;
}();

/// The static index holding `value` under the name whose first static index
/// is `name_index`, 0 if none.
inline std::uint32_t static_value_lookup(std::uint32_t name_index, std::string_view value) noexcept {
    const StaticValues v = kStaticValues[name_index];
    if (value.size() >= v.limit) return 0;  // nearly every field
    for (std::uint32_t i = name_index; i < name_index + v.run; ++i)
        if (same(kStaticTable[i - 1].value, value)) return i;
    return 0;
}

}  // namespace h2wire::hpack::detail
