// Internal Huffman helpers (the public ones are in h2wire/hpack.hpp, namespace wire).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace h2wire::hpack::detail {

/// Huffman-codes `s` into `out` if the result is shorter than `limit` bytes
/// and returns its end; otherwise returns nullptr, having written at most
/// limit + 3 bytes. One pass: no separate size computation.
std::uint8_t* huffman_encode_shorter(std::uint8_t* out, std::string_view s, std::size_t limit) noexcept;

}  // namespace h2wire::hpack::detail
