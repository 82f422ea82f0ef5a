// QUIC variable-length integers (RFC 9000 §16): the two most significant
// bits of the first octet give the encoded length, 1 << bits octets, and the
// remaining 6, 14, 30 or 62 bits the value, most significant first.
#include "h2wire/h3frame.hpp"

namespace h2wire::h3 {

std::size_t write_varint(std::span<std::uint8_t> out, std::uint64_t v) noexcept {
    return write_varint(out, v, varint_size(v));
}

std::size_t write_varint(std::span<std::uint8_t> out, std::uint64_t v, std::size_t size) noexcept {
    std::uint8_t prefix = 0;
    switch (size) {
        case 1:
            prefix = 0x00;
            break;
        case 2:
            prefix = 0x40;
            break;
        case 4:
            prefix = 0x80;
            break;
        case 8:
            prefix = 0xc0;
            break;
        default:
            return 0;
    }
    // RFC 9000 §16: 8 * size - 2 usable bits.
    if (size < 8 && v >> (8 * size - 2) != 0) return 0;
    if (v > max_varint || out.size() < size) return 0;
    for (std::size_t i = size; i-- > 0;) {
        out[i] = static_cast<std::uint8_t>(v);
        v >>= 8;
    }
    out[0] = static_cast<std::uint8_t>(out[0] | prefix);
    return size;
}

std::size_t read_varint(Bytes in, std::uint64_t& value) noexcept {
    if (in.empty()) return 0;
    const std::size_t n = std::size_t{1} << (in[0] >> 6);
    if (in.size() < n) return 0;
    std::uint64_t v = in[0] & 0x3fu;
    for (std::size_t i = 1; i < n; ++i) v = v << 8 | in[i];
    value = v;
    return n;
}

}  // namespace h2wire::h3
