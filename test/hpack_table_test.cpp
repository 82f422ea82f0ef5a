// The dynamic table (RFC 7541 §2.3.2, §4) against a reference model, through
// the public decoder and encoder: random insertions of every size (empty,
// small, near the maximum, over it), references to every live entry, size
// updates that shrink and grow the table; and its storage, which follows what
// the table holds (a few small entries cost a few hundred octets, never more
// than twice the maximum plus the descriptor ring).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "h2wire/hpack.hpp"
#include "support/counting_resource.hpp"
#include "support/hpack_test_util.hpp"

using namespace h2wire;
using namespace h2wire::test;
using h2wire::test_support::CountingResource;

namespace {

void append(Bytes& to, const Bytes& more) { to.insert(to.end(), more.begin(), more.end()); }

/// RFC 7541 §4: entries newest first, evicted from the back.
struct ModelTable {
    std::deque<Header> entries;
    std::size_t size = 0;
    std::size_t max = 4096;

    static std::size_t cost(const Header& h) { return h.name.size() + h.value.size() + 32; }
    void evict_to(std::size_t limit) {
        while (size > limit) {
            size -= cost(entries.back());
            entries.pop_back();
        }
    }
    void insert(const Header& h) {
        if (cost(h) > max) {  // §4.4: empties the table
            entries.clear();
            size = 0;
            return;
        }
        evict_to(max - cost(h));
        entries.push_front(h);
        size += cost(h);
    }
    void set_max(std::size_t m) {
        max = m;
        evict_to(m);
    }
};

std::string random_text(Prng& rng, std::size_t n, char base) {
    std::string s(n, base);
    for (char& c : s) c = static_cast<char>(base + rng.below(26));
    return s;
}

/// A length skewed to the small ones, sometimes near or over the maximum.
std::size_t random_length(Prng& rng, std::size_t max) {
    switch (rng.below(8)) {
    case 0: return 0;
    case 1: return rng.below(max + 64);
    case 2: return max > 64 ? max - 32 - rng.below(32) : 0;
    default: return rng.below(40);
    }
}

}  // namespace

TEST_CASE("hpack table: random insertions, references and size updates agree with the model") {
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        CAPTURE(seed);
        Prng rng(seed);
        CountingResource mem;
        hpack::Decoder d({}, &mem);
        ModelTable model;
        for (int block = 0; block < 150; ++block) {
            Bytes in;
            Headers want;
            if (rng.below(10) == 0) {
                // §6.3: a size update to anything up to the limit (4096).
                const std::size_t m = rng.below(4) == 0 ? rng.below(200) : rng.below(4097);
                append(in, size_update(m));
                model.set_max(m);
            }
            for (int i = 0, n = 1 + static_cast<int>(rng.below(6)); i < n; ++i) {
                if (!model.entries.empty() && rng.below(3) == 0) {
                    // §6.1: an indexed reference to any live entry.
                    const std::size_t k = rng.below(model.entries.size());
                    append(in, ref_integer(62 + k, 7, 0x80));
                    want.push_back(model.entries[k]);
                    continue;
                }
                const std::size_t len = random_length(rng, model.max);
                const std::size_t nn = len == 0 ? 0 : 1 + rng.below(std::min<std::size_t>(len, 30));
                Header h{random_text(rng, nn, 'a'), random_text(rng, len - std::min(len, nn), 'A'), false};
                if (!model.entries.empty() && rng.below(3) == 0) {
                    // §6.2.1 with an indexed name: the name may be the very
                    // entry this insertion evicts.
                    const std::size_t k = rng.below(model.entries.size());
                    h.name = model.entries[k].name;
                    append(in, concat({ref_integer(62 + k, 6, 0x40), str_literal(h.value)}));
                } else {
                    append(in, literal_new_name(h.name, h.value, 0x40));
                }
                want.push_back(h);
                model.insert(h);
            }
            const DecodeResult r = decode_whole(d, in);
            REQUIRE(r.error == hpack::Error::none);
            CHECK(r.headers == want);
            CHECK(d.table_entries() == model.entries.size());
            CHECK(d.table_size() == model.size);
            // Storage: the buffer never passes twice the maximum (4096), and
            // the ring holds at most one descriptor per 32 octets of it.
            CHECK(mem.live <= 2 * 4096 + 16 * 256 + 512);
        }
    }
}

TEST_CASE("hpack table: storage follows what the table holds") {
    CountingResource dmem;
    CountingResource emem;
    hpack::Decoder d({}, &dmem);
    hpack::Encoder e({}, &emem);
    const std::size_t decoder_empty = dmem.live;
    // A typical request's worth of fields, about 300 octets of names and values.
    const Headers fields{{":authority", "www.example.com", false},
                         {"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", false},
                         {"accept-language", "en-US,en;q=0.5", false},
                         {"referer", "https://www.example.com/", false},
                         {"cookie", "sid=7f3a9c2e41b8d05a6c1e9f2b7d4a8e31; theme=dark; lang=en-US", false}};
    for (int i = 0; i < 3; ++i) {
        const DecodeResult r = decode_whole(d, encode(e, fields));
        REQUIRE(r.error == hpack::Error::none);
        CHECK(r.headers == fields);
    }
    CHECK(d.table_entries() == fields.size());
    INFO("decoder table storage: " << dmem.live - decoder_empty);
    CHECK(dmem.live - decoder_empty < 1024);  // not the 8 KiB twice a 4096-octet maximum would take
    // Filling the table grows the storage, up to its bound, and it stays
    // there: no allocation per insertion once grown.
    Prng rng(3);
    for (int i = 0; i < 400; ++i) {
        const Headers one{{random_text(rng, 8, 'a'), random_text(rng, rng.below(300), 'A'), false}};
        REQUIRE(decode_whole(d, encode(e, one)).headers == one);
    }
    const std::size_t grown = dmem.allocations;
    for (int i = 0; i < 400; ++i) {
        const Headers one{{random_text(rng, 8, 'a'), random_text(rng, rng.below(300), 'A'), false}};
        REQUIRE(decode_whole(d, encode(e, one)).headers == one);
    }
    CHECK(dmem.allocations == grown);
    CHECK(dmem.live - decoder_empty <= 2 * 4096 + 16 * 128 + 2048);  // and the Huffman scratch
}

TEST_CASE("hpack table: a literal naming the entry its insertion evicts, names of every copy width") {
    // The name then points into the table, into octets the new entry may
    // overwrite: the copy must read them all before writing (names of 0..40
    // octets take each of the inline copy's widths and memmove). The table
    // holds one entry, so the second insertion evicts the first.
    for (std::size_t name_len = 1; name_len <= 40; ++name_len) {
        for (std::size_t v1 = 0; v1 <= 20; v1 += 5) {
            for (std::size_t v2 = 0; v2 <= 20; v2 += 4) {
                CAPTURE(name_len);
                CAPTURE(v1);
                CAPTURE(v2);
                std::string name(name_len, 'n');
                for (std::size_t i = 0; i < name_len; ++i) name[i] = static_cast<char>('a' + i % 26);
                const std::string value1(v1, 'x'), value2(v2, 'y');
                const auto max = static_cast<std::uint32_t>(32 + name_len + std::max(v1, v2));
                hpack::Decoder d(hpack::DecoderLimits{.max_table_size = max});
                const Bytes update = size_update(max);
                // §6.2.1 with a new name, then with the name of dynamic index 62.
                const Bytes first = concat({update, literal_new_name(name, value1, 0x40)});
                const Bytes second = concat({Bytes{0x40 | 62}, str_literal(value2)});
                const DecodeResult r1 = decode_whole(d, first);
                REQUIRE(r1.error == hpack::Error::none);
                const DecodeResult r2 = decode_whole(d, second);
                REQUIRE(r2.error == hpack::Error::none);
                CHECK(r2.headers == Headers{{name, value2}});
                CHECK(d.table_entries() == 1);
                const DecodeResult r3 = decode_whole(d, Bytes{0x80 | 62});
                CHECK(r3.headers == Headers{{name, value2}});
            }
        }
    }
}
