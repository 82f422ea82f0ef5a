// Fuzz target: header lists built from the input go through the HPACK
// Encoder, then a Decoder whose limits allow them; the decoded list must be
// the input list exactly, and both ends must hold the same dynamic table.
//
// Input layout (bytes past the end read as zero):
//   u16 encoder table cap (EncoderOptions::max_table_size), big-endian
//   u8  flags   bit 0: no Huffman; bits 1-2: how many fragments (1..4) each
//               block is cut into for the decoder
//   then operations until the input ends, one byte each plus operands:
//     op % 8 == 0   end the block: encode, decode, compare
//     op % 8 == 1   u16: the peer's SETTINGS_HEADER_TABLE_SIZE changes
//     otherwise     add a field:
//                   bits 3-4  name: 0 a common name (u8 picks), 1 literal
//                             (u8 length, then bytes), 2 the previous name,
//                             3 empty
//                   bit 5     value: literal with u16 length (up to 9000
//                             bytes, to exceed small tables) instead of u8
//                   bit 6     Field::sensitive
//                   bit 7     value: a common value (u8 picks) instead of bytes
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "h2wire/hpack.hpp"

#include "fuzz_check.hpp"

namespace {

namespace hpack = h2wire::hpack;


using Reader = FuzzInput;


// What RFC 7541 §7.1.3 and issue 2 ask the encoder to send never-indexed
// even when the caller did not mark it.
bool always_sensitive(std::string_view name, std::string_view value) {
    return name == "authorization" || name == "proxy-authorization" || (name == "cookie" && value.size() < 20);
}

struct Pair {
    std::string_view name, value;
    bool sensitive;
};

// Encodes `fields` and checks that `decoder` gets them back exactly.
void round_trip(hpack::Encoder& encoder, hpack::Decoder& decoder, std::span<const h2wire::Field> fields,
                unsigned fragments) {
    // Exactly max_encoded_size bytes of heap, so ASan catches an overrun.
    std::vector<std::uint8_t> out(hpack::Encoder::max_encoded_size(fields));
    const std::size_t n = encoder.encode(fields, out.data());
    H2W_CHECK(n <= out.size());
    H2W_CHECK(encoder.table_size() <= encoder.table_max_size());

    std::vector<std::string> storage;  // the decoder's views die with the call
    std::vector<Pair> got;
    storage.reserve(2 * fields.size());
    got.reserve(fields.size());
    auto on_field = [&](const h2wire::Field& f) {
        H2W_CHECK(got.size() < fields.size());
        storage.emplace_back(f.name);
        const std::string_view name = storage.back();
        storage.emplace_back(f.value);
        got.push_back({name, storage.back(), f.sensitive});
    };
    const std::span<const std::uint8_t> block(out.data(), n);
    hpack::Error err = hpack::Error::none;
    for (unsigned i = 0; i < fragments && err == hpack::Error::none; ++i) {
        const std::size_t from = n * i / fragments, to = n * (i + 1) / fragments;
        const std::vector<std::uint8_t> piece(block.begin() + static_cast<std::ptrdiff_t>(from),
                                              block.begin() + static_cast<std::ptrdiff_t>(to));
        err = decoder.decode(piece, i + 1 == fragments, on_field);
    }
    if (err != hpack::Error::none) {
        std::fprintf(stderr, "decoder error: %s\n", std::string(hpack::to_string(err)).c_str());
        H2W_CHECK(err == hpack::Error::none);
    }

    H2W_CHECK(got.size() == fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i) {
        H2W_CHECK(got[i].name == fields[i].name);
        H2W_CHECK(got[i].value == fields[i].value);
        // Sensitive in, sensitive out; otherwise only the always-sensitive.
        H2W_CHECK(got[i].sensitive == (fields[i].sensitive || always_sensitive(fields[i].name, fields[i].value)));
    }
    // Both ends hold the same table.
    H2W_CHECK(decoder.table_max_size() == encoder.table_max_size());
    H2W_CHECK(decoder.table_size() == encoder.table_size());
    H2W_CHECK(decoder.table_entries() == encoder.table_entries());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in({data, size});
    hpack::EncoderOptions options;
    options.max_table_size = in.u16();
    const unsigned flags = in.u8();
    options.huffman = !(flags & 1);
    const unsigned fragments = 1 + ((flags >> 1) & 3);

    hpack::Encoder encoder(options);
    hpack::DecoderLimits limits;
    limits.max_table_size = 4096;  // SETTINGS_HEADER_TABLE_SIZE's initial value
    limits.max_header_list_size = 1u << 30;
    limits.max_field_size = 1u << 30;
    hpack::Decoder decoder(limits);

    std::deque<std::string> strings;  // stable storage for the fields' views
    std::vector<h2wire::Field> fields;
    std::uint32_t peer = 4096;
    int blocks = 0;
    while (!in.empty() && blocks < 256) {
        const unsigned op = in.u8();
        if (op % 8 == 0) {
            round_trip(encoder, decoder, fields, fragments);
            H2W_CHECK(encoder.table_max_size() <= std::min(peer, options.max_table_size));
            fields.clear();
            strings.clear();
            ++blocks;
        } else if (op % 8 == 1) {
            peer = in.u16();
            encoder.set_peer_max_table_size(peer);
            decoder.set_max_table_size(peer);  // the peer is the decoder
        } else if (fields.size() < 512) {
            std::string_view name;
            switch ((op >> 3) & 3) {
                case 0:
                    name = kFuzzNames[in.u8() % kFuzzNames.size()];
                    break;
                case 1:
                    name = strings.emplace_back(in.text(in.u8()));
                    break;
                case 2:
                    name = fields.empty() ? std::string_view() : fields.back().name;
                    break;
                default:
                    break;
            }
            std::string_view value;
            if (op & 0x80)
                value = kFuzzValues[in.u8() % kFuzzValues.size()];
            else
                value = strings.emplace_back(in.text(op & 0x20 ? in.u16() % 9001u : in.u8()));
            fields.push_back(h2wire::Field{name, value, (op & 0x40) != 0});
        }
    }
    round_trip(encoder, decoder, fields, fragments);
    return 0;
}
