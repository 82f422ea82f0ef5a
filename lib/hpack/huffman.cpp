// Huffman coding of string literals (RFC 7541 §5.2, Appendix B).
#include <bit>
#include <cstdint>
#include <cstring>

#include "h2wire/hpack.hpp"

namespace h2wire::hpack {
namespace {
#include "hpack/huffman_table.inc"

constexpr int kPeekBits = 12;  // kHuffmanDecode is indexed by this many bits

inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    return w;
}

inline std::uint64_t ones(int n) noexcept { return (std::uint64_t{1} << n) - 1; }

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

std::uint8_t* huffman_encode(std::uint8_t* out, std::string_view s) noexcept {
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
        }
    }
    if (n % 8 != 0) {
        // §5.2: pad to an octet boundary with the most significant bits of EOS (all ones).
        const int pad = 8 - n % 8;
        acc = (acc << pad) | ones(pad);
        n += pad;
    }
    while (n > 0) {
        n -= 8;
        *out++ = static_cast<std::uint8_t>(acc >> n);
    }
    return out;
}

std::size_t huffman_decode(std::span<const std::uint8_t> in, std::uint8_t* out, Error& error) noexcept {
    const std::uint8_t* p = in.data();
    const std::uint8_t* const end = p + in.size();
    std::uint8_t* o = out;
    std::uint64_t acc = 0;  // unread bits are the low `nbits` bits; higher bits are stale
    int nbits = 0;
    error = Error::none;

    // Fast path: while at least 30 bits (the longest code) are buffered, every
    // step decodes a whole code. kHuffmanDecode yields up to two symbols per
    // 12-bit lookup; both are stored and `o` advances by the count (the output
    // has a byte of slack for that).
    for (;;) {
        if (nbits < 30) {
            if (end - p >= 8) {
                const int take = (63 - nbits) >> 3;  // 4..7 bytes
                acc = (acc << (take * 8)) | (load_be64(p) >> (64 - take * 8));
                p += take;
                nbits += take * 8;
            } else {
                while (nbits <= 56 && p < end) {
                    acc = (acc << 8) | *p++;
                    nbits += 8;
                }
                if (nbits < 30) break;
            }
        }
        const std::uint32_t e = kHuffmanDecode[(acc >> (nbits - kPeekBits)) & ones(kPeekBits)];
        if (e >> 26) [[likely]] {
            o[0] = static_cast<std::uint8_t>(e);
            o[1] = static_cast<std::uint8_t>(e >> 8);
            o += e >> 26;
            nbits -= static_cast<int>((e >> 21) & 31);
            continue;
        }
        const HuffmanLongCode& c = long_code(static_cast<std::uint32_t>(((acc >> (nbits - 30)) & ones(30)) << 2));
        if (c.symbol == 256) {  // §5.2: EOS in a string is a decoding error
            error = Error::huffman_eos;
            return 0;
        }
        *o++ = static_cast<std::uint8_t>(c.symbol);
        nbits -= c.bits;
    }

    // Tail: fewer than 30 bits left and no more input. Codes that end within
    // them are decoded; what remains must be padding (§5.2).
    acc &= ones(nbits);
    while (nbits > 0) {
        if (nbits >= kPeekBits) {
            const std::uint32_t e = kHuffmanDecode[(acc >> (nbits - kPeekBits)) & ones(kPeekBits)];
            if (e >> 26) {
                o[0] = static_cast<std::uint8_t>(e);
                o[1] = static_cast<std::uint8_t>(e >> 8);
                o += e >> 26;
                nbits -= static_cast<int>((e >> 21) & 31);
                acc &= ones(nbits);
                continue;
            }
            // A long code: pad the window with ones and see whether it ends in the input.
            const auto v = static_cast<std::uint32_t>((acc << (32 - nbits)) | ones(32 - nbits));
            const HuffmanLongCode& c = long_code(v);
            if (c.bits > nbits) break;  // an incomplete code: padding of nbits >= 12, rejected below
            *o++ = static_cast<std::uint8_t>(c.symbol);  // not EOS: EOS is 30 bits, more than we have
            nbits -= c.bits;
            acc &= ones(nbits);
            continue;
        }
        const std::uint32_t e = kHuffmanDecode[((acc << (kPeekBits - nbits)) | ones(kPeekBits - nbits))];
        const int len1 = static_cast<int>((e >> 16) & 31);
        if ((e >> 26) == 0 || len1 > nbits) break;  // the rest is an incomplete code
        *o++ = static_cast<std::uint8_t>(e);
        const int total = static_cast<int>((e >> 21) & 31);
        if ((e >> 26) == 2 && total <= nbits) {
            *o++ = static_cast<std::uint8_t>(e >> 8);
            nbits -= total;
        } else {
            nbits -= len1;
        }
        acc &= ones(nbits);
    }
    // §5.2: padding longer than 7 bits, or not the most significant bits of
    // EOS (all ones), is a decoding error.
    if (nbits > 7 || acc != ones(nbits)) {
        error = Error::huffman_padding;
        return 0;
    }
    return static_cast<std::size_t>(o - out);
}

}  // namespace wire
}  // namespace h2wire::hpack
