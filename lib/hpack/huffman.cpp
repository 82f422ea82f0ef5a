// Huffman coding of string literals (RFC 7541 §5.2, Appendix B).
#include "hpack/huffman.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "h2wire/hpack.hpp"

namespace h2wire::hpack {
namespace {
#include "hpack/huffman_table.inc"

constexpr int kPeek = kHuffmanPeekBits;
static_assert(std::size(kHuffmanDecodeBits) == std::size_t{1} << kPeek);
static_assert(std::size(kHuffmanDecodeSymbols) == std::size_t{1} << kPeek);
// A bit buffer at or above this begins with a code longer than kPeek bits.
constexpr std::uint64_t kLongFrom = std::uint64_t{kHuffmanLongFrom} << (64 - kPeek);
// Lookups per refill: a refill leaves at least 56 bits, each lookup uses at most kPeek.
constexpr int kGroup = 56 / kPeek;

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

/// The `left` (1..7) bytes at `p`, first at the top of the word, zeros below;
/// reads only those bytes.
inline std::uint64_t load_short(const std::uint8_t* p, std::size_t left) noexcept {
    const auto be = [](const std::uint8_t* q, int n) {
        std::uint64_t w = 0;
        for (int i = 0; i < n; ++i) w = (w << 8) | q[i];
        return w;
    };
    const int tail_shift = static_cast<int>(64 - 8 * left);
    if (left >= 4) return (be(p, 4) << 32) | (be(p + left - 4, 4) << tail_shift);
    if (left >= 2) return (be(p, 2) << 48) | (be(p + left - 2, 2) << tail_shift);
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

/// Unread input bits, first at the top of `acc`; the `n` (0..63) at the top
/// are counted; below them, either zeros or the input that follows them.
struct BitBuffer {
    std::uint64_t acc = 0;
    unsigned n = 0;

    void consume(unsigned bits) noexcept {
        acc <<= bits;
        n -= bits;
    }
};

/// One lookup: stores both symbol bytes (the output has slack for the
/// second) and advances past the symbols the peeked bits hold. An entry for a
/// long code uses nothing. `b.n` is left right modulo 64 only (the symbol
/// count, above bit 5 of the entry, is subtracted too): the caller masks it.
inline void decode_step(BitBuffer& b, std::uint8_t*& o) noexcept {
    const std::size_t i = b.acc >> (64 - kPeek);
    const unsigned e = kHuffmanDecodeBits[i];
    std::memcpy(o, kHuffmanDecodeSymbols[i], 2);
    o += e >> 6;
    b.acc <<= e & 63;
    b.n -= e;
}

enum class LongResult { decoded, incomplete, eos };

/// Decodes the code longer than kPeek bits that begins the buffer, if it lies
/// within the counted bits (all of it is, unless the input ends sooner).
inline LongResult decode_long(BitBuffer& b, std::uint8_t*& o) noexcept {
    const HuffmanLongCode& c = long_code(static_cast<std::uint32_t>(b.acc >> 32));
    if (c.bits > b.n) return LongResult::incomplete;
    if (c.symbol == 256) return LongResult::eos;  // §5.2: EOS in a string is a decoding error
    *o++ = static_cast<std::uint8_t>(c.symbol);
    b.consume(c.bits);
    return LongResult::decoded;
}
}  // namespace

namespace wire {

std::size_t huffman_encoded_size(std::string_view s) noexcept {
    std::size_t bits = 0;
    for (const char c : s) bits += kHuffmanBits[static_cast<std::uint8_t>(c)];
    return (bits + 7) / 8;
}

}  // namespace wire

namespace {
/// The encoder behind huffman_encode (`bounded` false: `out` has room for the
/// exact result) and huffman_encode_shorter (`bounded`: gives up once the
/// result reaches `limit` bytes; may write up to limit + 3 bytes).
template <bool bounded>
inline std::uint8_t* encode(std::uint8_t* out, std::string_view s, std::size_t limit) noexcept {
    // Bytes that may still go out before the result is no longer shorter.
    // Each 4-byte store below starts under `limit`, so ends by limit + 3.
    auto budget = static_cast<std::ptrdiff_t>(std::min<std::size_t>(limit, PTRDIFF_MAX));
    if (bounded && budget == 0) return nullptr;
    std::uint64_t acc = 0;  // pending bits in the low `n` (0..31 between symbols)
    unsigned n = 0;
    // Appends one code; every 32 bits go out in one store. False: over `limit`.
    const auto put = [&](char c) {
        const auto sym = static_cast<std::uint8_t>(c);
        acc = (acc << kHuffmanBits[sym]) | kHuffmanCode[sym];
        n += kHuffmanBits[sym];
        if (n >= 32) {
            n -= 32;
            store_be32(out, static_cast<std::uint32_t>(acc >> n));
            out += 4;
            budget -= 4;
            if (bounded && budget <= 0) return false;
        }
        return true;
    };
    const char* p = s.data();
    const char* const end = p + s.size();
    for (; end - p >= 4; p += 4)
        if (!put(p[0]) || !put(p[1]) || !put(p[2]) || !put(p[3])) return nullptr;
    for (; p != end; ++p)
        if (!put(*p)) return nullptr;
    // §5.2: pad to an octet boundary with the most significant bits of EOS (all ones).
    const unsigned pad = (0u - n) & 7;
    acc = (acc << pad) | ((1u << pad) - 1);
    n += pad;  // 0, 8, 16, 24 or 32
    if (bounded) {
        if (static_cast<std::ptrdiff_t>(n / 8) >= budget) return nullptr;
        // One store of all four bytes: at most limit + 3 from the start.
        store_be32(out, static_cast<std::uint32_t>(acc << (32 - n)));
        return out + n / 8;
    }
    for (; n > 0; n -= 8) *out++ = static_cast<std::uint8_t>(acc >> (n - 8));
    return out;
}
}  // namespace

namespace detail {
std::uint8_t* huffman_encode_shorter(std::uint8_t* out, std::string_view s, std::size_t limit) noexcept {
    return encode<true>(out, s, limit);
}
}  // namespace detail

namespace wire {
std::uint8_t* huffman_encode(std::uint8_t* out, std::string_view s) noexcept {
    return encode<false>(out, s, 0);
}

std::size_t huffman_decode(std::span<const std::uint8_t> in, std::uint8_t* out, Error& error) noexcept {
    const std::uint8_t* p = in.data();
    const std::uint8_t* const end = p + in.size();
    std::uint8_t* o = out;
    BitBuffer b;
    error = Error::none;

    for (;;) {
        if (end - p >= 8) {
            // Branch-free refill to 56..63 bits; the bytes past the counted
            // ones are loaded again, to the same place, next time.
            b.acc |= load_be64(p) >> b.n;
            p += (63 - b.n) >> 3;
            b.n |= 56;
        } else if (p != end) {
            // Under 8 bytes left: as many of them as fit.
            const auto left = static_cast<std::size_t>(end - p);
            const std::size_t take = std::min<std::size_t>(left, (63 - b.n) >> 3);
            const std::uint64_t w = in.size() >= 8 ? load_be64(end - 8) << (8 * (8 - left)) : load_short(p, left);
            b.acc |= (w & ~(~std::uint64_t{0} >> (8 * take))) >> b.n;
            p += take;
            b.n += static_cast<unsigned>(8 * take);
        }
        if (b.n < kGroup * kPeek) break;  // the input is all in the buffer (p == end)
        for (int i = 0; i < kGroup; ++i) decode_step(b, o);
        b.n &= 63;
        if (b.acc < kLongFrom) [[likely]]
            continue;
        // A long code (the steps above stopped at it): decode it once all of
        // it is buffered.
        if (b.n < 30 && p != end) continue;
        switch (decode_long(b, o)) {
            case LongResult::decoded:
                continue;
            case LongResult::eos:
                error = Error::huffman_eos;
                return 0;
            case LongResult::incomplete:
                break;  // p == end: padding, checked below
        }
        break;
    }
    // The last bits, all in the buffer: whole lookups while they last...
    while (b.n >= kPeek) {
        if (b.acc < kLongFrom) {
            decode_step(b, o);
            b.n &= 63;
            continue;
        }
        const LongResult r = decode_long(b, o);
        if (r == LongResult::eos) {
            error = Error::huffman_eos;
            return 0;
        }
        if (r == LongResult::incomplete) break;
    }
    // ...then the codes that end within the last (under kPeek) bits, if any.
    if (b.n < kPeek && b.acc < kLongFrom) {
        const std::size_t i = b.acc >> (64 - kPeek);
        const std::uint8_t* const symbols = kHuffmanDecodeSymbols[i];
        const unsigned first_bits = kHuffmanBits[symbols[0]];
        const unsigned e = kHuffmanDecodeBits[i];
        if (first_bits <= b.n) {
            *o++ = symbols[0];
            if ((e >> 6) == 2 && (e & 63) <= b.n) {
                *o++ = symbols[1];
                b.consume(e & 63);
            } else {
                b.consume(first_bits);
            }
        }
    }
    // §5.2: padding longer than 7 bits, or not the most significant bits of
    // EOS (all ones), is a decoding error.
    if (b.n > 7 || (~b.acc & ~(~std::uint64_t{0} >> b.n)) != 0) {
        error = Error::huffman_padding;
        return 0;
    }
    return static_cast<std::size_t>(o - out);
}

}  // namespace wire
}  // namespace h2wire::hpack
