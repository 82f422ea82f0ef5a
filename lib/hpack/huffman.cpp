// Huffman coding of string literals (RFC 7541 §5.2, Appendix B).
#include "hpack/huffman.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "h2wire/hpack.hpp"

namespace h2wire::hpack {
using namespace detail;

namespace wire {

std::size_t huffman_encoded_size(std::string_view s) noexcept {
    std::size_t bits = 0;
    for (const char c : s) bits += kHuffmanBits[static_cast<std::uint8_t>(c)];
    return (bits + 7) / 8;
}

std::uint8_t* huffman_encode(std::uint8_t* out, std::string_view s) noexcept {
    return huffman_encode_impl<false>(out, s, 0);
}

std::size_t huffman_decode(std::span<const std::uint8_t> in, std::uint8_t* out, Error& error) noexcept {
    return detail::huffman_decode_in(in.data(), in.size(), in.data(), in.data() + in.size(), out, error);
}

}  // namespace wire
}  // namespace h2wire::hpack
