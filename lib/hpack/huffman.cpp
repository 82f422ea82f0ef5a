// Huffman coding of string literals (RFC 7541 §5.2, Appendix B).
#include "hpack/huffman.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "h2wire/hpack.hpp"
#include "hpack/huffman_decode.hpp"

namespace h2wire::hpack {
using namespace detail;

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
    return detail::huffman_decode_in(in.data(), in.size(), in.data(), in.data() + in.size(), out, error);
}

}  // namespace wire
}  // namespace h2wire::hpack
