// A fast non-cryptographic hash for header names and values. It only spreads
// keys over the encoder's lookup tables; equality is always checked on the
// bytes, so a collision costs time, never correctness.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace h2wire::hpack::detail {

constexpr std::uint64_t kHashMul = 0x9e3779b97f4a7c15ull;

constexpr std::uint64_t hash_mix(std::uint64_t h, std::uint64_t w) noexcept {
    h = (h ^ w) * kHashMul;
    return h ^ (h >> 29);
}

/// Little-endian load of N bytes, the same value at compile time (where the
/// static table's hashes are computed) and at run time.
template <std::size_t N, class Word>
constexpr Word load_le(const char* p) noexcept {
    if (std::is_constant_evaluated() || std::endian::native != std::endian::little) {
        Word w = 0;
        for (std::size_t i = 0; i < N; ++i) w |= static_cast<Word>(static_cast<unsigned char>(p[i])) << (8 * i);
        return w;
    }
    Word w = 0;  // N may be less than sizeof(Word): the high bytes stay zero
    std::memcpy(&w, p, N);
    return w;
}

constexpr std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed = 0) noexcept {
    const char* p = s.data();
    const std::size_t n = s.size();
    std::uint64_t h = seed ^ ((n + 1) * kHashMul);
    if (n >= 8) {
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8) h = hash_mix(h, load_le<8, std::uint64_t>(p + i));
        // The last 1..7 bytes: one overlapping 8-byte load.
        if (i < n) h = hash_mix(h, load_le<8, std::uint64_t>(p + n - 8) >> (8 * (8 - (n - i))));
        return h;
    }
    // Short strings: two overlapping loads of 4 (or 1 + 1 + 1) bytes.
    std::uint64_t w = 0;
    if (n >= 4) {
        w = load_le<4, std::uint64_t>(p) | (load_le<4, std::uint64_t>(p + n - 4) << 32);
    } else if (n > 0) {
        w = std::uint64_t{static_cast<unsigned char>(p[0])} | std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 |
            std::uint64_t{static_cast<unsigned char>(p[n - 1])} << 16;
    }
    return hash_mix(h, w);
}

/// Whether the `n` bytes at `a` and `b` are equal: a few word compares,
/// inline, where memcmp would be a call through the PLT for what is usually a
/// header name or a value of a few dozen bytes.
inline bool equal_bytes(const char* a, const char* b, std::size_t n) noexcept {
    if (n >= 8) {
        for (std::size_t i = 0; i + 8 < n; i += 8)
            if (load_le<8, std::uint64_t>(a + i) != load_le<8, std::uint64_t>(b + i)) return false;
        // The last 1..8 bytes: one overlapping load.
        return load_le<8, std::uint64_t>(a + n - 8) == load_le<8, std::uint64_t>(b + n - 8);
    }
    if (n >= 4) {
        return load_le<4, std::uint32_t>(a) == load_le<4, std::uint32_t>(b) &&
               load_le<4, std::uint32_t>(a + n - 4) == load_le<4, std::uint32_t>(b + n - 4);
    }
    // 0..3 bytes: the first, middle and last cover them all.
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

inline bool same(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && equal_bytes(a.data(), b.data(), a.size());
}

}  // namespace h2wire::hpack::detail
