// A fast non-cryptographic hash for header names and values, and an inline
// byte comparison. The hash only spreads keys over the encoder's lookup
// tables; equality is always checked on the bytes, so a collision costs time,
// never correctness.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace h2wire::hpack::detail {

// Odd constants with well-mixed bits (the first is 2^64 / golden ratio).
constexpr std::uint64_t kHashK0 = 0x9e3779b97f4a7c15ull;
constexpr std::uint64_t kHashK1 = 0xd6e8feb86659fd93ull;
constexpr std::uint64_t kHashK2 = 0xa0761d6478bd642full;

/// The 128-bit product of `a` and `b`, folded to 64 bits (high half XOR low
/// half): every input bit reaches most output bits in one multiplication.
constexpr std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) noexcept {
#if defined(__SIZEOF_INT128__)
    __extension__ typedef unsigned __int128 Wide;
    const Wide r = static_cast<Wide>(a) * b;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
#else
    const std::uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    const std::uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    const std::uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    const std::uint64_t lo = (ll & 0xffffffffu) | (mid << 32);
    const std::uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
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

/// Hash of `s`, chained from `seed` (the encoder hashes a value with its
/// name's hash as the seed). 16 bytes per multiplication: the last 16 bytes
/// (or the whole string, if shorter) are read as two overlapping words, the
/// bytes before them 16 at a time.
constexpr std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed = 0) noexcept {
    const char* p = s.data();
    const std::size_t n = s.size();
    // The length goes in first: short strings are read as overlapping words,
    // so "aaaaaaaa" and "aaaaaaaaa" give the same two words.
    std::uint64_t h = (seed ^ kHashK0) + n * kHashK2;
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    if (n > 16) {
        for (std::size_t left = n; left > 16; left -= 16, p += 16)
            h = fold_mul(load_le<8, std::uint64_t>(p) ^ kHashK1, load_le<8, std::uint64_t>(p + 8) ^ h);
        a = load_le<8, std::uint64_t>(s.data() + n - 16);
        b = load_le<8, std::uint64_t>(s.data() + n - 8);
    } else if (n >= 8) {
        a = load_le<8, std::uint64_t>(p);
        b = load_le<8, std::uint64_t>(p + n - 8);
    } else if (n >= 4) {
        a = load_le<4, std::uint64_t>(p);
        b = load_le<4, std::uint64_t>(p + n - 4);
    } else if (n > 0) {
        a = std::uint64_t{static_cast<unsigned char>(p[0])} << 16 |
            std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 | static_cast<unsigned char>(p[n - 1]);
    }
    return fold_mul(a ^ kHashK1, b ^ h);
}

/// Whether the `n` bytes at `a` and `b` are equal: a few word compares,
/// inline, where memcmp would be a call through the PLT for what is usually a
/// header name or a value of a few dozen bytes.
inline bool equal_bytes(const char* a, const char* b, std::size_t n) noexcept {
    const auto w8 = [](const char* x, const char* y) {
        return load_le<8, std::uint64_t>(x) ^ load_le<8, std::uint64_t>(y);
    };
    if (n >= 16) {
        for (std::size_t i = 0; i + 16 < n; i += 16)
            if ((w8(a + i, b + i) | w8(a + i + 8, b + i + 8)) != 0) return false;
        // The last 1..16 bytes: two loads that may overlap what was compared.
        return (w8(a + n - 16, b + n - 16) | w8(a + n - 8, b + n - 8)) == 0;
    }
    if (n >= 8) return (w8(a, b) | w8(a + n - 8, b + n - 8)) == 0;
    if (n >= 4) {
        return ((load_le<4, std::uint32_t>(a) ^ load_le<4, std::uint32_t>(b)) |
                (load_le<4, std::uint32_t>(a + n - 4) ^ load_le<4, std::uint32_t>(b + n - 4))) == 0;
    }
    // 0..3 bytes: the first, middle and last cover them all.
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

/// Copies `n` bytes from `src` to `dst`, which may overlap: short copies
/// (most names and values) inline, reading and writing exactly those bytes
/// (all loads before the stores), longer ones through memmove.
inline void move_bytes(char* dst, const char* src, std::size_t n) noexcept {
    if (n > 16) {
        std::memmove(dst, src, n);
    } else if (n >= 8) {
        const auto a = load_le<8, std::uint64_t>(src);
        const auto b = load_le<8, std::uint64_t>(src + n - 8);
        std::memcpy(dst, &a, 8);
        std::memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        const auto a = load_le<4, std::uint32_t>(src);
        const auto b = load_le<4, std::uint32_t>(src + n - 4);
        std::memcpy(dst, &a, 4);
        std::memcpy(dst + n - 4, &b, 4);
    } else if (n > 0) {
        // 1..3 bytes: the first, middle and last cover them all.
        const char a = src[0], b = src[n / 2], c = src[n - 1];
        dst[0] = a;
        dst[n / 2] = b;
        dst[n - 1] = c;
    }
}

inline bool same(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && equal_bytes(a.data(), b.data(), a.size());
}

}  // namespace h2wire::hpack::detail
