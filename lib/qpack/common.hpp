// QPACK pieces shared by the encoder and the decoder: prefixed integers
// (RFC 9204 §4.1.1), string literals (§4.1.2) and the static table
// (Appendix A) with its lookups.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "h2wire/qpack.hpp"
#include "hpack/hash.hpp"
#include "hpack/huffman.hpp"

namespace h2wire::qpack::detail {

using hpack::detail::equal_bytes;
using hpack::detail::hash_bytes;

/// RFC 9204 §4.1.1: integers are HPACK's (RFC 7541 §5.1); we take values up
/// to 2^62 - 1, the largest any QPACK field can carry (stream ids, counts).
inline constexpr std::uint64_t kMaxInteger = (std::uint64_t{1} << 62) - 1;

inline std::uint8_t* put_integer(std::uint8_t* out, std::uint64_t value, int prefix_bits,
                                 std::uint8_t first) noexcept {
    const std::uint64_t mask = (std::uint64_t{1} << prefix_bits) - 1;
    if (value < mask) {
        *out++ = static_cast<std::uint8_t>(first | value);
        return out;
    }
    *out++ = static_cast<std::uint8_t>(first | mask);
    value -= mask;
    while (value >= 128) {
        *out++ = static_cast<std::uint8_t>(0x80 | (value & 0x7f));
        value >>= 7;
    }
    *out++ = static_cast<std::uint8_t>(value);
    return out;
}

/// Reads an integer with an N-bit prefix from [p, end): the octets used, 0
/// if the input ends inside it, -1 if it passes kMaxInteger or 10 octets.
inline int get_integer(const std::uint8_t* p, const std::uint8_t* end, int prefix_bits,
                       std::uint64_t& value) noexcept {
    if (p == end) return 0;
    const std::uint64_t mask = (std::uint64_t{1} << prefix_bits) - 1;
    value = p[0] & mask;
    if (value < mask) [[likely]]
        return 1;
    // At most 9 continuation octets: 9 * 7 = 63 bits, checked against 2^62.
    for (int i = 1; i < 10; ++i) {
        if (p + i == end) return 0;
        const std::uint64_t b = p[i];
        const int shift = 7 * (i - 1);
        const std::uint64_t part = (b & 0x7f) << shift;
        if (shift > 56 && (b & 0x7f) >> (63 - shift) != 0) return -1;
        value += part;
        if (value > kMaxInteger) return -1;
        if ((b & 0x80) == 0) return i + 1;
    }
    return -1;
}

/// Room a string literal of `n` octets takes at most, length prefix included.
constexpr std::size_t string_room(std::size_t n) noexcept { return 10 + n; }

/// Octets put_integer() takes for `value` with an N-bit prefix.
inline std::size_t integer_size(std::uint64_t value, int prefix_bits) noexcept {
    const std::uint64_t mask = (std::uint64_t{1} << prefix_bits) - 1;
    if (value < mask) return 1;
    std::size_t n = 2;
    for (value -= mask; value >= 128; value >>= 7) ++n;
    return n;
}

/// A string literal whose length has an N-bit prefix (§4.1.2): the Huffman
/// flag is the bit just above the prefix, `first` holds the bits above that.
/// Huffman-coded when `huffman` and shorter. Room: string_room(s.size()).
inline std::uint8_t* put_string(std::uint8_t* out, std::string_view s, int prefix_bits, std::uint8_t first,
                                bool huffman) noexcept {
    const auto h = static_cast<std::uint8_t>(1u << prefix_bits);
    if (huffman && s.size() > 1) {
        if (s.size() < (std::size_t{1} << 20)) {
            // One pass: code after room for the plain length (the coded one
            // is shorter, so its length takes no more room), giving up once
            // it is not shorter; that writes at most 3 octets past s.size()
            // from there, within string_room() as the room is at most 4.
            const std::size_t room = integer_size(s.size(), prefix_bits);
            if (std::uint8_t* end = hpack::detail::huffman_encode_shorter(out + room, s, s.size())) {
                const auto len = static_cast<std::size_t>(end - out - room);
                const std::size_t lp = integer_size(len, prefix_bits);
                if (lp != room) std::memmove(out + lp, out + room, len);
                put_integer(out, len, prefix_bits, static_cast<std::uint8_t>(first | h));
                return out + lp + len;
            }
        } else if (const std::size_t coded = hpack::wire::huffman_encoded_size(s); coded < s.size()) {
            out = put_integer(out, coded, prefix_bits, static_cast<std::uint8_t>(first | h));
            return hpack::wire::huffman_encode(out, s);
        }
    }
    out = put_integer(out, s.size(), prefix_bits, first);
    if (!s.empty()) std::memcpy(out, s.data(), s.size());
    return out + s.size();
}

struct StaticEntry {
    std::string_view name;
    std::string_view value;
};

// RFC 9204 Appendix A.
inline constexpr StaticEntry kStaticTable[wire::kStaticTableSize] = {
    {":authority", ""},  // 0
    {":path", "/"},  // 1
    {"age", "0"},  // 2
    {"content-disposition", ""},  // 3
    {"content-length", "0"},  // 4
    {"cookie", ""},  // 5
    {"date", ""},  // 6
    {"etag", ""},  // 7
    {"if-modified-since", ""},  // 8
    {"if-none-match", ""},  // 9
    {"last-modified", ""},  // 10
    {"link", ""},  // 11
    {"location", ""},  // 12
    {"referer", ""},  // 13
    {"set-cookie", ""},  // 14
    {":method", "CONNECT"},  // 15
    {":method", "DELETE"},  // 16
    {":method", "GET"},  // 17
    {":method", "HEAD"},  // 18
    {":method", "OPTIONS"},  // 19
    {":method", "POST"},  // 20
    {":method", "PUT"},  // 21
    {":scheme", "http"},  // 22
    {":scheme", "https"},  // 23
    {":status", "103"},  // 24
    {":status", "200"},  // 25
    {":status", "304"},  // 26
    {":status", "404"},  // 27
    {":status", "503"},  // 28
    {"accept", "*/*"},  // 29
    {"accept", "application/dns-message"},  // 30
    {"accept-encoding", "gzip, deflate, br"},  // 31
    {"accept-ranges", "bytes"},  // 32
    {"access-control-allow-headers", "cache-control"},  // 33
    {"access-control-allow-headers", "content-type"},  // 34
    {"access-control-allow-origin", "*"},  // 35
    {"cache-control", "max-age=0"},  // 36
    {"cache-control", "max-age=2592000"},  // 37
    {"cache-control", "max-age=604800"},  // 38
    {"cache-control", "no-cache"},  // 39
    {"cache-control", "no-store"},  // 40
    {"cache-control", "public, max-age=31536000"},  // 41
    {"content-encoding", "br"},  // 42
    {"content-encoding", "gzip"},  // 43
    {"content-type", "application/dns-message"},  // 44
    {"content-type", "application/javascript"},  // 45
    {"content-type", "application/json"},  // 46
    {"content-type", "application/x-www-form-urlencoded"},  // 47
    {"content-type", "image/gif"},  // 48
    {"content-type", "image/jpeg"},  // 49
    {"content-type", "image/png"},  // 50
    {"content-type", "text/css"},  // 51
    {"content-type", "text/html; charset=utf-8"},  // 52
    {"content-type", "text/plain"},  // 53
    {"content-type", "text/plain;charset=utf-8"},  // 54
    {"range", "bytes=0-"},  // 55
    {"strict-transport-security", "max-age=31536000"},  // 56
    {"strict-transport-security", "max-age=31536000; includesubdomains"},  // 57
    {"strict-transport-security", "max-age=31536000; includesubdomains; preload"},  // 58
    {"vary", "accept-encoding"},  // 59
    {"vary", "origin"},  // 60
    {"x-content-type-options", "nosniff"},  // 61
    {"x-xss-protection", "1; mode=block"},  // 62
    {":status", "100"},  // 63
    {":status", "204"},  // 64
    {":status", "206"},  // 65
    {":status", "302"},  // 66
    {":status", "400"},  // 67
    {":status", "403"},  // 68
    {":status", "421"},  // 69
    {":status", "425"},  // 70
    {":status", "500"},  // 71
    {"accept-language", ""},  // 72
    {"access-control-allow-credentials", "FALSE"},  // 73
    {"access-control-allow-credentials", "TRUE"},  // 74
    {"access-control-allow-headers", "*"},  // 75
    {"access-control-allow-methods", "get"},  // 76
    {"access-control-allow-methods", "get, post, options"},  // 77
    {"access-control-allow-methods", "options"},  // 78
    {"access-control-expose-headers", "content-length"},  // 79
    {"access-control-request-headers", "content-type"},  // 80
    {"access-control-request-method", "get"},  // 81
    {"access-control-request-method", "post"},  // 82
    {"alt-svc", "clear"},  // 83
    {"authorization", ""},  // 84
    {"content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"},  // 85
    {"early-data", "1"},  // 86
    {"expect-ct", ""},  // 87
    {"forwarded", ""},  // 88
    {"if-range", ""},  // 89
    {"origin", ""},  // 90
    {"purpose", "prefetch"},  // 91
    {"server", ""},  // 92
    {"timing-allow-origin", "*"},  // 93
    {"upgrade-insecure-requests", "1"},  // 94
    {"user-agent", ""},  // 95
    {"x-forwarded-for", ""},  // 96
    {"x-frame-options", "deny"},  // 97
    {"x-frame-options", "sameorigin"},  // 98
};

/// Static lookups for the encoder: open-addressed tables built at compile
/// time, keyed by the same hashes the encoder takes of every field (name,
/// then value seeded with the name's hash). A slot holds index + 1, 0 when
/// empty; the first index with a name wins the name table.
inline constexpr std::size_t kStaticSlots = 512;

struct StaticIndex {
    std::array<std::uint8_t, kStaticSlots> full{};
    std::array<std::uint8_t, kStaticSlots> name{};
};

constexpr StaticIndex build_static_index() noexcept {
    StaticIndex t;
    for (std::size_t i = 0; i < wire::kStaticTableSize; ++i) {
        const std::uint64_t nh = hash_bytes(kStaticTable[i].name);
        const std::uint64_t fh = hash_bytes(kStaticTable[i].value, nh);
        std::size_t s = fh & (kStaticSlots - 1);
        while (t.full[s] != 0) s = (s + 1) & (kStaticSlots - 1);
        t.full[s] = static_cast<std::uint8_t>(i + 1);
        bool seen = false;
        for (std::size_t j = 0; j < i; ++j) seen = seen || kStaticTable[j].name == kStaticTable[i].name;
        if (seen) continue;
        s = nh & (kStaticSlots - 1);
        while (t.name[s] != 0) s = (s + 1) & (kStaticSlots - 1);
        t.name[s] = static_cast<std::uint8_t>(i + 1);
    }
    return t;
}
inline constexpr StaticIndex kStaticIndex = build_static_index();

inline bool same(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && equal_bytes(a.data(), b.data(), a.size());
}

/// Static index + 1 of the entry `name`: `value` (with `nh` = hash of name,
/// `fh` = hash of value seeded with nh), or 0.
inline std::uint32_t static_full(std::string_view name, std::string_view value, std::uint64_t fh) noexcept {
    for (std::size_t s = fh & (kStaticSlots - 1);; s = (s + 1) & (kStaticSlots - 1)) {
        const std::uint32_t i = kStaticIndex.full[s];
        if (i == 0) return 0;
        const StaticEntry& e = kStaticTable[i - 1];
        if (same(e.value, value) && same(e.name, name)) return i;
    }
}

/// Static index + 1 of the first entry named `name` (hash `nh`), or 0.
inline std::uint32_t static_name(std::string_view name, std::uint64_t nh) noexcept {
    for (std::size_t s = nh & (kStaticSlots - 1);; s = (s + 1) & (kStaticSlots - 1)) {
        const std::uint32_t i = kStaticIndex.name[s];
        if (i == 0) return 0;
        if (same(kStaticTable[i - 1].name, name)) return i;
    }
}

}  // namespace h2wire::qpack::detail
