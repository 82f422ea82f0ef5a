// Huffman coding of string literals (RFC 7541 §5.2, Appendix B): the
// generated tables and the inline coder behind wire::huffman_encode and
// wire::huffman_decode, which the encoder and decoder use directly.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "h2wire/hpack.hpp"

namespace h2wire::hpack::detail {
#include "hpack/huffman_table.inc"

inline constexpr int kPeek = kHuffmanPeekBits;
static_assert(std::size(kHuffmanDecodeBits) == std::size_t{1} << kPeek);
static_assert(std::size(kHuffmanDecodeSymbols) == std::size_t{1} << kPeek);
// A complemented bit buffer below this begins with a code longer than kPeek
// bits (input bits of kHuffmanLongFrom or more).
inline constexpr std::uint64_t kLongBelow = std::uint64_t{(1u << kPeek) - kHuffmanLongFrom} << (64 - kPeek);
// Lookups per refill: a refill leaves at least 56 bits, each lookup uses at most kPeek.
inline constexpr int kGroup = 56 / kPeek;

inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    return w;
}

inline void store_be32(std::uint8_t* p, std::uint32_t w) noexcept {
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap32(w);
    std::memcpy(p, &w, 4);
}

inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap32(w);
    return w;
}

inline std::uint16_t load_be16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

/// The `left` (1..7) bytes at `p`, first at the top of the word, zeros below;
/// reads only those bytes (two overlapping loads).
inline std::uint64_t load_short(const std::uint8_t* p, std::size_t left) noexcept {
    const auto tail_shift = static_cast<int>(64 - 8 * left);
    if (left >= 4) return std::uint64_t{load_be32(p)} << 32 | std::uint64_t{load_be32(p + left - 4)} << tail_shift;
    if (left >= 2) return std::uint64_t{load_be16(p)} << 48 | std::uint64_t{load_be16(p + left - 2)} << tail_shift;
    return std::uint64_t{p[0]} << 56;
}

/// The code (from kHuffmanLong) that begins the 32-bit window `v`.
inline const HuffmanLongCode& long_code(std::uint32_t v) noexcept {
    std::size_t lo = 0, hi = std::size(kHuffmanLong);  // kHuffmanLong[lo].code <= v always
    while (hi - lo > 1) {
        const std::size_t mid = (lo + hi) / 2;
        if (kHuffmanLong[mid].code <= v)
            lo = mid;
        else
            hi = mid;
    }
    return kHuffmanLong[lo];
}

/// Unread input bits, complemented (see huffman_table.inc), first at the top
/// of `acc`; the `n` (0..63) at the top are counted; below them, either zeros
/// or the complement of the input that follows them.
struct BitBuffer {
    std::uint64_t acc = 0;
    unsigned n = 0;
};

/// One lookup: stores both symbol bytes (the output has slack for the
/// second) and advances past the symbols the peeked bits hold; returns the
/// bits used. An entry for a long code uses nothing.
inline unsigned decode_step(BitBuffer& b, std::uint8_t*& o) noexcept {
    const std::size_t i = b.acc >> (64 - kPeek);
    const unsigned bits = kHuffmanDecodeBits[i];
    std::memcpy(o, kHuffmanDecodeSymbols[i], 2);
    o += kHuffmanDecodeSymbols[i][2];
    b.acc <<= bits;
    b.n -= bits;
    return bits;
}

/// wire::huffman_decode of the `len` octets at `p`, which lie within
/// [lo, hi): octets there may be read (never used) to load a short string at
/// once.
inline std::size_t huffman_decode_in(const std::uint8_t* p, std::size_t len, const std::uint8_t* lo,
                                     const std::uint8_t* hi, std::uint8_t* out, Error& error) noexcept {
    const std::uint8_t* const end = p + len;
    std::uint8_t* o = out;
    BitBuffer b;
    error = Error::none;
    // A mask of a word's top `bytes` octets (0..8).
    const auto top = [](std::size_t bytes) { return ~(~std::uint64_t{0} >> (8 * bytes)); };

    if (len >= 8) {
        // While input is left to load: refill, then kGroup lookups, which the
        // refill leaves enough bits for.
        for (;;) {
            if (end - p >= 8) {
                // Branch-free refill to 56..63 bits; the bytes past the counted
                // ones are loaded again, to the same place, next time.
                b.acc |= ~load_be64(p) >> b.n;
                p += (63 - b.n) >> 3;
                b.n |= 56;
            } else {
                // 1..7 bytes left, the last 8 of the string loaded at once: as
                // many of them as fit. The bits below them stay zero.
                const auto left = static_cast<std::size_t>(end - p);
                const std::size_t take = std::min<std::size_t>(left, (63 - b.n) >> 3);
                const std::uint64_t w = ~load_be64(end - 8) << (8 * (8 - left));
                b.acc |= (w & top(take)) >> b.n;
                p += take;
                b.n += static_cast<unsigned>(8 * take);
                if (p == end) break;
            }
            for (int i = 0; i < kGroup; ++i) decode_step(b, o);
            if (b.acc >= kLongBelow) [[likely]]
                continue;
            // A code longer than kPeek bits (the steps above stopped at it):
            // decode it once all of it is buffered; input is left, so it is.
            if (b.n < 30) continue;
            const HuffmanLongCode& c = long_code(static_cast<std::uint32_t>(~b.acc >> 32));
            if (c.symbol == 256) {  // §5.2: EOS in a string is a decoding error
                error = Error::huffman_eos;
                return 0;
            }
            *o++ = static_cast<std::uint8_t>(c.symbol);
            b.acc <<= c.bits;
            b.n -= c.bits;
        }
    } else if (len != 0) {
        // Under 8 bytes: one load when the buffer around them allows it.
        if (hi - p >= 8)
            b.acc = ~load_be64(p) & top(len);
        else if (end - lo >= 8)
            b.acc = ~load_be64(end - 8) << (8 * (8 - len));
        else
            b.acc = ~load_short(p, len) & top(len);
        b.n = static_cast<unsigned>(8 * len);
    }

    // All the input is in the buffer: its b.n bits, then zeros, which read
    // as ones: as §5.2 padding (the most significant bits of EOS). No short
    // code is all ones, so the steps stop by themselves at a lookup that holds
    // no whole code: a long code, the padding, or past the end.
    // Bounded: a lookup that holds a code uses 5 bits or more, and one over
    // the ones alone (the buffer's zeros) holds none, so each pass of the
    // loop below ends within (63 + 12) / 5 lookups, and each further pass
    // first takes a long code off.
    int n = static_cast<int>(b.n);
    for (;;) {
        unsigned used = 0;
        unsigned bits = 0;
        do {
            bits = decode_step(b, o);
            used += bits;
        } while (bits != 0);
        n -= static_cast<int>(used);
        // §5.2: a code cut by the end of the input (its bits past the end were
        // taken for ones) is padding that is not all ones; padding of up to 7
        // bits is all ones here (the lookup began with 12 ones); longer
        // padding, or one not all ones, is a decoding error.
        if (n < 0) break;
        if (n <= 7) return static_cast<std::size_t>(o - out);
        const HuffmanLongCode& c = long_code(static_cast<std::uint32_t>(~b.acc >> 32));
        if (c.bits > n) break;
        if (c.symbol == 256) {  // §5.2: EOS in a string is a decoding error
            error = Error::huffman_eos;
            return 0;
        }
        *o++ = static_cast<std::uint8_t>(c.symbol);
        b.acc <<= c.bits;
        n -= c.bits;
    }
    error = Error::huffman_padding;
    return 0;
}

/// The Huffman encoder (RFC 7541 §5.2). `acc` holds the pending code bits
/// under a sentinel 1 bit: the sentinel's position is their number (0..31
/// between symbols), so that a symbol costs a shift, an OR and one compare
/// (is the sentinel at bit 32 or above?); every 32 bits go out in one store.
/// `bounded` false: `out` has room for the exact result. `bounded`: gives up
/// (returns nullptr) once the result is `limit` bytes or more, having then
/// written at most limit + 3 bytes.
template <bool bounded>
inline std::uint8_t* huffman_encode_impl(std::uint8_t* out, std::string_view s, std::size_t limit) noexcept {
    // Each 4-byte store below starts under `stop` (if bounded), so ends by limit + 3.
    std::uint8_t* const stop = out + (bounded ? limit : 0);
    if (bounded && limit == 0) return nullptr;
    std::uint64_t acc = 1;
    constexpr std::uint64_t kFull = std::uint64_t{1} << 32;
    const auto flush = [&]() noexcept {
        const auto k = static_cast<unsigned>(std::bit_width(acc) - 33);  // bits left after the store: 0..29
        const std::uint64_t t = acc >> k;  // the sentinel (bit 32), then the 32 bits that go out
        store_be32(out, static_cast<std::uint32_t>(t));
        out += 4;
        acc -= (t - 1) << k;  // what is left, under a sentinel at bit k
    };
    const auto put = [&](char c) noexcept {
        const auto sym = static_cast<std::uint8_t>(c);
        acc = (acc << kHuffmanBits[sym]) | kHuffmanCode[sym];
        if (acc < kFull) [[likely]]
            return true;
        flush();
        return !bounded || out < stop;
    };
    const char* p = s.data();
    const char* const end = p + s.size();
    if (s.size() >= 4) {
        for (const char* const last4 = end - 4; p <= last4; p += 4)
            if (!put(p[0]) || !put(p[1]) || !put(p[2]) || !put(p[3])) return nullptr;
    }
    for (; p != end; ++p)
        if (!put(*p)) return nullptr;
    // §5.2: pad to an octet boundary with the most significant bits of EOS (all ones).
    auto n = static_cast<unsigned>(std::bit_width(acc) - 1);
    const unsigned pad = (0u - n) & 7;
    acc = (acc << pad) | ((1u << pad) - 1);
    n += pad;  // 0, 8, 16, 24 or 32
    if (bounded && out + n / 8 >= stop) return nullptr;
    // One store of all four bytes (the sentinel is cut off): at most limit + 3
    // from the start if bounded; exact room otherwise, so byte by byte.
    if (bounded) {
        store_be32(out, static_cast<std::uint32_t>(acc << (32 - n)));
        return out + n / 8;
    }
    for (; n > 0; n -= 8) *out++ = static_cast<std::uint8_t>(acc >> (n - 8));
    return out;
}

/// Huffman-codes `s` into `out` if the result is shorter than `limit` bytes
/// and returns its end; otherwise returns nullptr, having written at most
/// limit + 3 bytes. One pass: no separate size computation.
inline std::uint8_t* huffman_encode_shorter(std::uint8_t* out, std::string_view s, std::size_t limit) noexcept {
    return huffman_encode_impl<true>(out, s, limit);
}

}  // namespace h2wire::hpack::detail
