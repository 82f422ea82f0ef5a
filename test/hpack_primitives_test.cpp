// RFC 7541 §5: integer and string primitives.
//
// Integers are encoded with wire::encode_integer and compared with the RFC's
// pseudo-code (§5.1) and the Appendix C.1 examples; they are decoded through
// the Decoder (size updates, indices and string lengths are integers).
// Strings have no public encoder of their own, so they are checked through
// the Decoder (hand-built literals) and the Encoder's output.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "h2wire/hpack.hpp"
#include "support/hpack_test_util.hpp"

using namespace h2wire;
using namespace h2wire::test;
using hpack::Error;

namespace {

/// encode_integer into a buffer with canaries on both sides; checks that only
/// the returned range was written.
Bytes lib_integer(std::uint32_t value, int prefix_bits, std::uint8_t first) {
    std::array<std::uint8_t, 16> buf;
    buf.fill(0xa5);
    std::uint8_t* const begin = buf.data() + 4;
    std::uint8_t* const end = hpack::wire::encode_integer(begin, value, prefix_bits, first);
    REQUIRE(end > begin);
    REQUIRE(end - begin <= 6);
    CHECK(buf[3] == 0xa5);
    for (std::uint8_t* p = end; p < buf.data() + buf.size(); ++p) CHECK(*p == 0xa5);
    return Bytes(begin, end);
}

}  // namespace

TEST_CASE("hpack primitives: integer examples of RFC 7541 C.1") {
    // C.1.1: 10 with a 5-bit prefix.
    CHECK(to_hex(lib_integer(10, 5, 0x00)) == "0a");
    // The flag bits above the prefix are kept ("XXX" in the RFC's figure).
    CHECK(to_hex(lib_integer(10, 5, 0xe0)) == "ea");
    // C.1.2: 1337 with a 5-bit prefix: 31, then 154, then 10.
    CHECK(to_hex(lib_integer(1337, 5, 0x00)) == "1f9a0a");
    CHECK(to_hex(lib_integer(1337, 5, 0x20)) == "3f9a0a");
    // C.1.3: 42 on an octet boundary (8-bit prefix).
    CHECK(to_hex(lib_integer(42, 8, 0x00)) == "2a");
}

TEST_CASE("hpack primitives: encode_integer edge cases") {
    // Just below, at and above the prefix maximum: at 2^N-1 the prefix is
    // full and a zero continuation byte follows.
    CHECK(to_hex(lib_integer(30, 5, 0)) == "1e");
    CHECK(to_hex(lib_integer(31, 5, 0)) == "1f00");
    CHECK(to_hex(lib_integer(32, 5, 0)) == "1f01");
    CHECK(to_hex(lib_integer(126, 7, 0x80)) == "fe");
    CHECK(to_hex(lib_integer(127, 7, 0x80)) == "ff00");
    CHECK(to_hex(lib_integer(128, 7, 0x80)) == "ff01");
    CHECK(to_hex(lib_integer(254, 8, 0)) == "fe");
    CHECK(to_hex(lib_integer(255, 8, 0)) == "ff00");
    // One continuation byte holds 0..127; 128 above the prefix needs two.
    CHECK(to_hex(lib_integer(31 + 127, 5, 0)) == "1f7f");
    CHECK(to_hex(lib_integer(31 + 128, 5, 0)) == "1f8001");
    // Prefix of one bit (the smallest) and zero.
    CHECK(to_hex(lib_integer(0, 1, 0xfe)) == "fe");
    CHECK(to_hex(lib_integer(1, 1, 0xfe)) == "ff00");
    CHECK(to_hex(lib_integer(0, 8, 0)) == "00");
    // The largest 32-bit value takes 6 bytes with any prefix up to 4 bits...
    CHECK(to_hex(lib_integer(0xffffffffu, 1, 0)) == "01feffffff0f");
    CHECK(to_hex(lib_integer(0xffffffffu, 4, 0x10)) == "1ff0ffffff0f");
    // ... and with 8 bits: 2^32-1-255 = 0xffffff00.
    CHECK(to_hex(lib_integer(0xffffffffu, 8, 0)) == "ff80feffff0f");
    CHECK(to_hex(lib_integer(0xffffffffu, 5, 0)) == "1fe0ffffff0f");
}

TEST_CASE("hpack primitives: encode_integer agrees with the RFC pseudo-code") {
    std::vector<std::uint32_t> values = {0,       1,       2,         100,       1000,        16383,       16384,
                                         2097151, 2097152, 268435455, 268435456, 0x7fffffffu, 0xfffffffeu, 0xffffffffu};
    for (int n = 1; n <= 8; ++n) {
        const std::uint32_t m = (1u << n) - 1;
        for (std::uint32_t d : {0u, 1u, 2u, 127u, 128u, 129u, 16383u, 16384u})
            for (std::uint32_t v : {m + d, m > d ? m - d : 0u}) values.push_back(v);
    }
    Prng rng(1);
    for (int i = 0; i < 2000; ++i) values.push_back(static_cast<std::uint32_t>(rng.next() >> rng.below(32)));
    int checked = 0;
    for (int n = 1; n <= 8; ++n) {
        const auto first = static_cast<std::uint8_t>((0xffu << n) & 0xffu);
        for (const std::uint32_t v : values) {
            CAPTURE(n);
            CAPTURE(v);
            const Bytes got = lib_integer(v, n, first);
            const Bytes want = ref_integer(v, n, first);
            if (got != want) CHECK(to_hex(got) == to_hex(want));
            ++checked;
        }
    }
    CHECK(checked == 8 * static_cast<int>(values.size()));
}

TEST_CASE("hpack primitives: integers decoded through size updates, indices and lengths") {
    for (const Split split : kAllSplits) {
        CAPTURE(to_string(split));
        Feeder feed(split, 11);

        // C.1.1 and C.1.2 as dynamic table size updates (5-bit prefix).
        {
            hpack::Decoder d;
            auto r = feed.decode(d, hex("2a"));
            CHECK(r.error == Error::none);
            CHECK(r.headers.empty());
            CHECK(d.table_max_size() == 10);
            r = feed.decode(d, hex("3f9a0a"));
            CHECK(r.error == Error::none);
            CHECK(d.table_max_size() == 1337);
            // Prefix exactly full, then a zero continuation byte: 31.
            r = feed.decode(d, hex("3f00"));
            CHECK(r.error == Error::none);
            CHECK(d.table_max_size() == 31);
            // The limit itself, 4096 = 31 + 0x61 + 0x1f * 128.
            r = feed.decode(d, hex("3fe11f"));
            CHECK(r.error == Error::none);
            CHECK(d.table_max_size() == 4096);
            // Redundant zero continuation bytes are still one integer (five
            // continuation bytes is the documented maximum): 1337 again.
            r = feed.decode(d, hex("3f9a8a808000"));
            CHECK(r.error == Error::none);
            CHECK(d.table_max_size() == 1337);
        }

        // Indices: 2 as the shortest form and with a 7-bit prefix the
        // largest single-byte index 126 (needs 65 dynamic entries) vs. 127.
        {
            hpack::Decoder d;
            Bytes fill;
            for (int i = 0; i < 66; ++i) {
                const std::string v = "v" + std::to_string(i);
                fill = concat({fill, literal_new_name("n", v, 0x40)});
            }
            auto r = feed.decode(d, fill);
            REQUIRE(r.error == Error::none);
            REQUIRE(d.table_entries() == 66);
            // Index 126 = dynamic 65 = the second inserted ("v1"); 127 the first.
            r = feed.decode(d, hex("fe ff00"));
            CHECK(r.error == Error::none);
            CHECK(r.headers == Headers{{"n", "v1"}, {"n", "v0"}});
        }
    }
}

TEST_CASE("hpack primitives: string literals of many lengths, plain and Huffman") {
    // Lengths around the 7-bit prefix boundary and multi-byte lengths.
    const std::size_t lengths[] = {0, 1, 2, 125, 126, 127, 128, 129, 255, 256, 1000, 16383, 16384, 20000};
    for (const Split split : kAllSplits) {
        CAPTURE(to_string(split));
        Feeder feed(split, 12);
        for (const std::size_t len : lengths) {
            for (const bool huffman : {false, true}) {
                CAPTURE(len);
                CAPTURE(huffman);
                std::string value;
                for (std::size_t i = 0; i < len; ++i) value += static_cast<char>('a' + i % 26);
                hpack::Decoder d;
                const Bytes block = literal_new_name("x-len", value, 0x00, huffman);
                // The length prefix really is what we think it is.
                const std::size_t wire_len = huffman ? ref_huffman_size(value) : len;
                const Bytes len_bytes = ref_integer(wire_len, 7, huffman ? 0x80 : 0);
                REQUIRE(block.size() == 1 + str_literal("x-len", huffman).size() + len_bytes.size() + wire_len);
                const auto r = feed.decode(d, block);
                CHECK(r.error == Error::none);
                REQUIRE(r.headers.size() == 1);
                CHECK(r.headers[0].name == "x-len");
                CHECK(r.headers[0].value.size() == len);
                CHECK(r.headers[0].value == value);
                CHECK(d.table_entries() == 0);  // without indexing
            }
        }
    }
}

TEST_CASE("hpack primitives: empty strings and every byte value in a plain literal") {
    for (const Split split : kAllSplits) {
        CAPTURE(to_string(split));
        Feeder feed(split, 13);
        hpack::Decoder d;
        // Empty value; empty name and value; empty Huffman string ("80").
        auto r = feed.decode(d, hex("00 0161 00  00 00 00  00 80 80  40 0162 80"));
        CHECK(r.error == Error::none);
        CHECK(r.headers == Headers{{"a", ""}, {"", ""}, {"", ""}, {"b", ""}});
        CHECK(d.table_entries() == 1);
        CHECK(d.table_size() == 1 + 0 + 32);

        std::string all;
        for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
        r = feed.decode(d, literal_new_name("bin", all));
        CHECK(r.error == Error::none);
        REQUIRE(r.headers.size() == 1);
        CHECK(r.headers[0].value == all);
    }
}

TEST_CASE("hpack primitives: the encoder's string literals") {
    std::string long_value(200, 'z');
    for (const bool huffman : {false, true}) {
        CAPTURE(huffman);
        hpack::EncoderOptions o;
        o.huffman = huffman;
        hpack::Encoder e(o);
        // A name not in the static table goes out as a literal name.
        const Bytes out = encode(e, Headers{{"x-custom", long_value}});
        const auto reps = inspect(out);
        REQUIRE(reps.size() == 1);
        CHECK(reps[0].kind != Rep::indexed);
        CHECK(reps[0].index == 0);
        CHECK(reps[0].name == "x-custom");
        CHECK(reps[0].value == long_value);
        // 200 'z' Huffman-code to 200 * 7 bits = 175 bytes, shorter: used
        // exactly when Huffman is on. Length 175 or 200 needs 2 bytes.
        CHECK(reps[0].value_huffman == huffman);
        CHECK(reps[0].value_wire_len == (huffman ? 175u : 200u));
        // Byte-exact: 1 representation byte, name, then 7f + (len - 127).
        const std::size_t name_len = 1 + (reps[0].name_huffman ? ref_huffman_size("x-custom") : 8);
        REQUIRE(out.size() == 1 + name_len + 2 + (huffman ? 175u : 200u));
        CHECK(out[1 + name_len] == (huffman ? 0xff : 0x7f));
        CHECK(out[1 + name_len + 1] == (huffman ? 175 - 127 : 200 - 127));

        hpack::Decoder d;
        const auto r = decode_whole(d, out);
        CHECK(r.error == Error::none);
        CHECK(without_flags(r.headers) == Headers{{"x-custom", long_value}});
    }
}
