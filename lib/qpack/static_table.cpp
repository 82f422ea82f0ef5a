// QPACK's public primitives (RFC 9204 §4.1) and error names.
#include "qpack/common.hpp"

namespace h2wire::qpack {

std::string_view to_string(Error e) noexcept {
    switch (e) {
    case Error::none: return "no error";
    case Error::truncated: return "field section ends inside its prefix or a field line";
    case Error::integer_overflow: return "integer overflow in a field section";
    case Error::huffman_eos: return "EOS symbol in a Huffman-coded string of a field section";
    case Error::huffman_padding: return "invalid Huffman padding in a field section";
    case Error::required_insert_count_invalid: return "invalid Required Insert Count";
    case Error::required_insert_count_unused: return "Required Insert Count larger than the references need";
    case Error::base_negative: return "negative Base";
    case Error::static_index_invalid: return "static table index out of range in a field section";
    case Error::dynamic_index_invalid: return "invalid dynamic table reference in a field section";
    case Error::field_too_large: return "field too large";
    case Error::too_many_blocked: return "too many blocked streams";
    case Error::blocked_octets_over_limit: return "blocked field sections too large";
    case Error::section_too_large: return "field section too large";
    case Error::encoder_integer_overflow: return "integer overflow on the encoder stream";
    case Error::encoder_huffman_eos: return "EOS symbol in a Huffman-coded string on the encoder stream";
    case Error::encoder_huffman_padding: return "invalid Huffman padding on the encoder stream";
    case Error::capacity_over_limit: return "dynamic table capacity above the maximum";
    case Error::entry_too_large: return "inserted entry larger than the dynamic table capacity";
    case Error::encoder_static_index_invalid: return "static table index out of range on the encoder stream";
    case Error::encoder_dynamic_index_invalid: return "invalid dynamic table reference on the encoder stream";
    case Error::instruction_too_large: return "encoder-stream instruction too large";
    case Error::decoder_integer_overflow: return "integer overflow on the decoder stream";
    case Error::ack_without_section: return "Section Acknowledgment with no section to acknowledge";
    case Error::increment_invalid: return "invalid Insert Count Increment";
    case Error::excessive_copying: return "Duplicates and name references copying too much";
    }
    return "unknown QPACK error";
}

namespace wire {

std::uint8_t* encode_integer(std::uint8_t* out, std::uint64_t value, int prefix_bits, std::uint8_t first) noexcept {
    return detail::put_integer(out, value, prefix_bits, first);
}

int decode_integer(const std::uint8_t* p, const std::uint8_t* end, int prefix_bits, std::uint64_t& value) noexcept {
    return detail::get_integer(p, end, prefix_bits, value);
}

Field static_entry(std::size_t i) noexcept {
    const detail::StaticEntry& e = detail::kStaticTable[i];
    return Field{e.name, e.value};
}

}  // namespace wire
}  // namespace h2wire::qpack
