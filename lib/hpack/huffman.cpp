// Huffman coding of string literals (RFC 7541 §5.2, Appendix B).
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "h2wire/hpack.hpp"
#include "hpack/huffman.hpp"

namespace h2wire::hpack {
namespace {
#include "hpack/huffman_table.inc"

constexpr int kPeekBits = 13;
static_assert(std::size(kHuffmanDecode) == std::size_t{1} << kPeekBits);

// How many bits each kHuffmanDecode entry uses, as its own byte table: the
// decode loop's critical path is load -> shift, and a byte load needs no
// extraction. Derived from kHuffmanDecode at compile time.
constexpr auto kHuffmanDecodeUsed = [] {
    std::array<std::uint8_t, std::size(kHuffmanDecode)> used{};
    for (std::size_t i = 0; i < used.size(); ++i) used[i] = static_cast<std::uint8_t>((kHuffmanDecode[i] >> 24) & 31);
    return used;
}();  // kHuffmanDecode is indexed by this many bits

inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    return w;
}

inline std::uint64_t ones(int n) noexcept { return (std::uint64_t{1} << n) - 1; }

/// Stores the (up to three) symbols of a kHuffmanDecode entry; the output
/// has room for four bytes.
inline void store_symbols(std::uint8_t* o, std::uint32_t e) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(o, &e, 4);  // the symbols are the low bytes
    } else {
        o[0] = static_cast<std::uint8_t>(e);
        o[1] = static_cast<std::uint8_t>(e >> 8);
        o[2] = static_cast<std::uint8_t>(e >> 16);
    }
}

/// The code (from kHuffmanLong) that begins the 32-bit window `v`.
inline const HuffmanLongCode& long_code(std::uint32_t v) noexcept {
    std::size_t lo = 0, hi = std::size(kHuffmanLong);  // kHuffmanLong[lo].code <= v always
    while (hi - lo > 1) {
        const std::size_t mid = (lo + hi) / 2;
        if (kHuffmanLong[mid].code <= v) lo = mid;
        else hi = mid;
    }
    return kHuffmanLong[lo];
}
}  // namespace

namespace wire {

std::size_t huffman_encoded_size(std::string_view s) noexcept {
    std::size_t bits = 0;
    for (const char c : s) bits += kHuffmanBits[static_cast<std::uint8_t>(c)];
    return (bits + 7) / 8;
}

}  // namespace wire

namespace detail {
std::uint8_t* huffman_encode_shorter(std::uint8_t* out, std::string_view s, std::size_t limit) noexcept {
    std::uint8_t* const start = out;
    std::uint64_t acc = 0;  // pending bits in the low `n` bits
    int n = 0;
    for (const char c : s) {
        const auto sym = static_cast<std::uint8_t>(c);
        acc = (acc << kHuffmanBits[sym]) | kHuffmanCode[sym];
        n += kHuffmanBits[sym];
        if (n >= 32) {
            n -= 32;
            const auto w = static_cast<std::uint32_t>(acc >> n);
            out[0] = static_cast<std::uint8_t>(w >> 24);
            out[1] = static_cast<std::uint8_t>(w >> 16);
            out[2] = static_cast<std::uint8_t>(w >> 8);
            out[3] = static_cast<std::uint8_t>(w);
            out += 4;
            if (static_cast<std::size_t>(out - start) >= limit) return nullptr;
        }
    }
    if (n % 8 != 0) {
        // §5.2: pad to an octet boundary with the most significant bits of EOS (all ones).
        const int pad = 8 - n % 8;
        acc = (acc << pad) | ones(pad);
        n += pad;
    }
    if (static_cast<std::size_t>(out - start) + static_cast<std::size_t>(n / 8) >= limit) return nullptr;
    while (n > 0) {
        n -= 8;
        *out++ = static_cast<std::uint8_t>(acc >> n);
    }
    return out;
}
}  // namespace detail

namespace wire {
std::uint8_t* huffman_encode(std::uint8_t* out, std::string_view s) noexcept {
    return detail::huffman_encode_shorter(out, s, SIZE_MAX);
}

std::size_t huffman_decode(std::span<const std::uint8_t> in, std::uint8_t* out, Error& error) noexcept {
    const std::uint8_t* p = in.data();
    const std::uint8_t* const end = p + in.size();
    std::uint8_t* o = out;
    // Unread bits sit at the top of `acc`, `nbits` of them; the bits below are zero.
    std::uint64_t acc = 0;
    int nbits = 0;
    error = Error::none;

    for (;;) {
        if (nbits < 30 && p != end) {
            if (end - p >= 8) {
                const int take = (63 - nbits) >> 3;  // 4..7 bytes
                acc |= (load_be64(p) >> (64 - take * 8)) << (64 - nbits - take * 8);
                p += take;
                nbits += take * 8;
            } else if (end - in.data() >= 8) {
                // Under 8 bytes left of a longer string: one load of the last
                // 8 bytes, shifted so the unread ones come first.
                const int left = static_cast<int>(end - p);
                const int take = std::min(left, (63 - nbits) >> 3);
                const std::uint64_t w = load_be64(end - 8) << (8 * (8 - left));
                acc |= (w >> (64 - take * 8)) << (64 - nbits - take * 8);
                p += take;
                nbits += take * 8;
            } else {
                while (nbits <= 56 && p != end) {
                    acc |= std::uint64_t{*p++} << (56 - nbits);
                    nbits += 8;
                }
            }
        }
        if (nbits >= 30) [[likely]] {
            // At least one whole code of any length is buffered: up to three
            // symbols per lookup, stored as one 4-byte write (the output has
            // slack for it).
            const std::size_t i = acc >> (64 - kPeekBits);
            const int used = kHuffmanDecodeUsed[i];
            if (used != 0) [[likely]] {
                const std::uint32_t e = kHuffmanDecode[i];
                store_symbols(o, e);
                o += e >> 29;
                acc <<= used;
                nbits -= used;
                continue;
            }
            const HuffmanLongCode& c = long_code(static_cast<std::uint32_t>(acc >> 32));
            if (c.symbol == 256) {  // §5.2: EOS in a string is a decoding error
                error = Error::huffman_eos;
                return 0;
            }
            *o++ = static_cast<std::uint8_t>(c.symbol);
            acc <<= c.bits;
            nbits -= c.bits;
            continue;
        }
        // The last bits of the string, with no more input: look them up with
        // the missing bits taken as ones and keep only codes that end within
        // the real bits. Whatever is left is padding.
        if (nbits == 0) break;
        // Up to 7 one-bits are padding: no code is that short and all ones.
        if (nbits <= 7 && (acc >> (64 - nbits)) == ones(nbits)) break;
        const std::uint64_t window = acc | (~std::uint64_t{0} >> nbits);
        const std::uint32_t e = kHuffmanDecode[window >> (64 - kPeekBits)];
        if ((e >> 29) != 0 && static_cast<int>((e >> 24) & 31) <= nbits) {
            store_symbols(o, e);
            o += e >> 29;
            const int used = static_cast<int>((e >> 24) & 31);
            acc <<= used;
            nbits -= used;
            continue;
        }
        int len;
        std::uint8_t sym;
        if (e >> 29) {
            sym = static_cast<std::uint8_t>(e);
            len = kHuffmanBits[sym];
        } else {
            const HuffmanLongCode& c = long_code(static_cast<std::uint32_t>(window >> 32));
            sym = static_cast<std::uint8_t>(c.symbol);  // never EOS: EOS is 30 bits, more than we have
            len = c.bits;
        }
        if (len > nbits) break;  // an incomplete code: padding
        *o++ = sym;
        acc <<= len;
        nbits -= len;
    }
    // §5.2: padding longer than 7 bits, or not the most significant bits of
    // EOS (all ones), is a decoding error.
    if (nbits > 7 || (nbits > 0 && (acc >> (64 - nbits)) != ones(nbits))) {
        error = Error::huffman_padding;
        return 0;
    }
    return static_cast<std::size_t>(o - out);
}

}  // namespace wire
}  // namespace h2wire::hpack
