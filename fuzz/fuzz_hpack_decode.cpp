// Fuzz target: the HPACK decoder on arbitrary bytes, with limits, block
// boundaries, table size changes and fragment cuts chosen by the input.
//
// Input layout (bytes past the end read as zero):
//   u16 max_table_size         DecoderLimits, big-endian
//   u16 max_header_list_size   0xffff means 1 MiB
//   u16 max_field_size         0xffff means 1 MiB
//   u8  cut     how each block is cut into fragments: 0 whole, 1 byte by
//               byte, n >= 2 pseudo-random pieces of 1..n bytes
//   u8  flags   bit 0: each block record starts with a u16 passed to
//                      set_max_table_size before the block
//               bit 1: an empty fragment between pieces
//               bit 2: end_of_block on a separate empty fragment
//   block records until the input ends:
//     u16 length, [u16 table limit], then up to `length` bytes of block
//
// Every block goes to two decoders: one gets it whole, the other in the
// fragments above. Both must report the same fields and the same error, and
// keep identical tables. Invariants that can be checked from outside abort
// when violated.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "h2wire/hpack.hpp"

#include "fuzz_check.hpp"

namespace {

namespace hpack = h2wire::hpack;


using Reader = FuzzInput;

std::uint32_t limit_from(std::uint16_t v) {
    return v == 0xffff ? 1u << 20 : v;
}

struct Decoded {
    std::string name, value;
    bool sensitive;
    bool operator==(const Decoded&) const = default;
};

// One decoder and what it reported for the current block.
struct Side {
    explicit Side(const hpack::DecoderLimits& l) : decoder(l) {}

    hpack::Decoder decoder;
    std::vector<Decoded> fields;
    std::uint64_t list_size = 0;  // RFC 9113 §6.5.2 size of the reported fields

    // Decodes one fragment, copied into a buffer of exactly its size so that
    // ASan catches a read past it.
    hpack::Error feed(std::span<const std::uint8_t> fragment, bool end) {
        const std::vector<std::uint8_t> copy(fragment.begin(), fragment.end());
        auto on = [this](const h2wire::Field& f) { on_field(f); };
        const hpack::Error e = decoder.decode(copy, end, on);
        // header_list_too_large only ends a block.
        H2W_CHECK(end || e != hpack::Error::header_list_too_large);
        check_table();
        return e;
    }
    void on_field(const h2wire::Field& f) {
        const hpack::DecoderLimits& l = decoder.limits();
        H2W_CHECK(f.name.size() + f.value.size() <= l.max_field_size);
        list_size += f.name.size() + f.value.size() + 32;
        H2W_CHECK(list_size <= l.max_header_list_size);
        fields.push_back({std::string(f.name), std::string(f.value), f.sensitive});
    }
    void check_table() const {
        H2W_CHECK(decoder.table_size() <= decoder.table_max_size());
        H2W_CHECK(decoder.table_entries() * 32 <= decoder.table_size());
    }
};

// Cuts `block` into fragments as the `cut` byte says.
std::vector<std::span<const std::uint8_t>> cut_block(std::span<const std::uint8_t> block, unsigned cut) {
    std::vector<std::span<const std::uint8_t>> out;
    std::uint32_t rng = 0x9e3779b9u ^ static_cast<std::uint32_t>(block.size()) ^ cut;
    std::size_t pos = 0;
    while (pos < block.size()) {
        std::size_t n = block.size() - pos;
        if (cut == 1) {
            n = 1;
        } else if (cut >= 2) {
            rng = rng * 1664525u + 1013904223u;
            n = std::min<std::size_t>(n, 1 + (rng >> 16) % cut);
        }
        out.push_back(block.subspan(pos, n));
        pos += n;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in({data, size});
    hpack::DecoderLimits limits;
    limits.max_table_size = in.u16();
    limits.max_header_list_size = limit_from(in.u16());
    limits.max_field_size = limit_from(in.u16());
    const unsigned cut = in.u8();
    const unsigned flags = in.u8();

    Side whole(limits), pieces(limits);
    std::uint32_t limit = limits.max_table_size;
    std::uint32_t highest_limit = std::max<std::uint32_t>(limit, 4096);

    for (int blocks = 0; !in.empty() && blocks < 64; ++blocks) {
        const std::size_t length = in.u16();
        if (flags & 1) {
            limit = in.u16();
            highest_limit = std::max(highest_limit, limit);
            whole.decoder.set_max_table_size(limit);
            pieces.decoder.set_max_table_size(limit);
            whole.check_table();
            pieces.check_table();
        }
        const std::span<const std::uint8_t> block = in.bytes(length);

        for (Side* s : {&whole, &pieces}) {
            s->fields.clear();
            s->list_size = 0;
        }
        const hpack::Error e_whole = whole.feed(block, true);

        hpack::Error e_pieces = hpack::Error::none;
        const auto fragments = cut_block(block, cut);
        for (std::size_t i = 0; i < fragments.size() && e_pieces == hpack::Error::none; ++i) {
            const bool last = i + 1 == fragments.size();
            e_pieces = pieces.feed(fragments[i], last && !(flags & 4));
            if (e_pieces == hpack::Error::none && !(last && !(flags & 4))) {
                H2W_CHECK(pieces.decoder.in_block());
                if (flags & 2) e_pieces = pieces.feed({}, false);
            }
        }
        if (e_pieces == hpack::Error::none && (fragments.empty() || (flags & 4))) e_pieces = pieces.feed({}, true);

        // Cutting a block into fragments changes nothing a caller can see.
        H2W_CHECK(e_whole == e_pieces);
        H2W_CHECK(whole.fields == pieces.fields);

        if (hpack::is_fatal(e_whole)) {
            // A fatal error sticks.
            auto ignore = [](const h2wire::Field&) { H2W_CHECK(false); };
            H2W_CHECK(whole.decoder.decode({}, true, ignore) == e_whole);
            H2W_CHECK(pieces.decoder.decode({}, false, ignore) == e_pieces);
            break;
        }
        for (const Side* s : {&whole, &pieces}) {
            H2W_CHECK(!s->decoder.in_block());
            // A completed block leaves the table within the current limit
            // (RFC 7541 §4.2: a lowered limit forces a size update).
            H2W_CHECK(s->decoder.table_max_size() <= limit);
            H2W_CHECK(s->decoder.table_max_size() <= highest_limit);
        }
        H2W_CHECK(whole.decoder.table_size() == pieces.decoder.table_size());
        H2W_CHECK(whole.decoder.table_entries() == pieces.decoder.table_entries());
        H2W_CHECK(whole.decoder.table_max_size() == pieces.decoder.table_max_size());
    }
    return 0;
}
