// A fast non-cryptographic hash for header names and values. It only spreads
// keys over the encoder's lookup tables; equality is always checked on the
// bytes, so a collision costs time, never correctness.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace h2wire::hpack::detail {

constexpr std::uint64_t kHashMul = 0x9e3779b97f4a7c15ull;

constexpr std::uint64_t hash_mix(std::uint64_t h, std::uint64_t w) noexcept {
    h = (h ^ w) * kHashMul;
    return h ^ (h >> 29);
}

/// Little-endian load of `n` (1..8) bytes, the same value at compile time and
/// at run time so that the static table's precomputed hashes match.
constexpr std::uint64_t load_le(const char* p, std::size_t n) noexcept {
    if (std::is_constant_evaluated() || std::endian::native != std::endian::little || n != 8) {
        std::uint64_t w = 0;
        for (std::size_t i = 0; i < n; ++i) w |= std::uint64_t(static_cast<unsigned char>(p[i])) << (8 * i);
        return w;
    }
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
}

constexpr std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed = 0) noexcept {
    std::uint64_t h = seed ^ ((s.size() + 1) * kHashMul);
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) h = hash_mix(h, load_le(s.data() + i, 8));
    if (i < s.size()) h = hash_mix(h, load_le(s.data() + i, s.size() - i));
    return h;
}

}  // namespace h2wire::hpack::detail
