// RFC 7541 §5.2 and Appendix B: the Huffman coder.
//
// The oracle is a bit-by-bit coder built from the code table printed in the
// RFC text itself (support/hpack_test_util.hpp), so these tests do not share
// the library's generated table.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#if defined(__unix__)
#include <unistd.h>
#endif

#include "../lib/hpack/huffman.hpp"
#include "h2wire/hpack.hpp"
#include "support/hpack_test_util.hpp"

using namespace h2wire;
using namespace h2wire::test;
using hpack::Error;

namespace {

struct LibDecoded {
    Error error = Error::none;
    std::string out;
};

/// huffman_decode into a heap buffer of exactly the documented size
/// (huffman_decoded_capacity), so that AddressSanitizer sees any write past it.
LibDecoded lib_decode(std::span<const std::uint8_t> in) {
    std::vector<std::uint8_t> buf(hpack::wire::huffman_decoded_capacity(in.size()));
    LibDecoded r;
    const std::size_t n = hpack::wire::huffman_decode(in, buf.data(), r.error);
    if (r.error == Error::none) {
        REQUIRE(n <= buf.size());
        r.out.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    }
    return r;
}

/// huffman_encode into a heap buffer of exactly huffman_encoded_size bytes.
Bytes lib_encode(std::string_view s) {
    Bytes buf(hpack::wire::huffman_encoded_size(s));
    std::uint8_t* end = hpack::wire::huffman_encode(buf.data(), s);
    CHECK(end == buf.data() + buf.size());
    return buf;
}

/// Encodes with the library and checks it against the reference coder, then
/// decodes with the library.
void check_round_trip(std::string_view s) {
    CHECK(hpack::wire::huffman_encoded_size(s) == ref_huffman_size(s));
    const Bytes got = lib_encode(s);
    const Bytes want = ref_huffman_encode(s);
    if (got != want) CHECK(to_hex(got) == to_hex(want));
    const LibDecoded d = lib_decode(want);
    CHECK(d.error == Error::none);
    CHECK(d.out == s);
}

std::string random_string(Prng& rng, std::size_t max_len, bool printable) {
    std::string s(rng.below(max_len + 1), '\0');
    for (char& c : s) c = static_cast<char>(printable ? 0x20 + rng.below(0x5f) : rng.below(256));
    return s;
}

/// Bits of the Huffman code of `s` followed by arbitrary `tail` bits, padded
/// with `pad` bits to a byte.
Bytes build(std::string_view s, std::initializer_list<int> extra_symbols, const std::string& tail_bits,
            std::uint32_t pad = 1) {
    BitWriter w;
    for (const char c : s) w.put_symbol(static_cast<unsigned char>(c));
    for (const int sym : extra_symbols) w.put_symbol(sym);
    for (const char b : tail_bits) w.put_bit(b == '1' ? 1u : 0u);
    return w.finish(pad);
}

}  // namespace

TEST_CASE("hpack huffman: the reference code read from the RFC is complete") {
    const auto& t = rfc_huffman();
    // Kraft sum of a complete prefix code is exactly 1: sum 2^(30 - len) = 2^30.
    std::uint64_t kraft = 0;
    for (const HuffmanCode& c : t) {
        CHECK(c.bits >= 5);
        CHECK(c.bits <= 30);
        kraft += 1ULL << (30 - c.bits);
    }
    CHECK(kraft == (1ULL << 30));
    CHECK(t[256].bits == 30);
    CHECK(t[256].code == 0x3fffffffu);
    CHECK(t['a'].bits == 5);
    CHECK(t['a'].code == 0x3u);
}

TEST_CASE("hpack huffman: every single byte value round-trips") {
    for (int b = 0; b < 256; ++b) {
        CAPTURE(b);
        check_round_trip(std::string(1, static_cast<char>(b)));
        // And twice, so that codes are also checked at other bit offsets.
        check_round_trip(std::string(2, static_cast<char>(b)));
    }
}

TEST_CASE("hpack huffman: all 256 byte values in one string") {
    std::string up, down;
    for (int b = 0; b < 256; ++b) up += static_cast<char>(b);
    for (int b = 255; b >= 0; --b) down += static_cast<char>(b);
    check_round_trip(up);
    check_round_trip(down);
    // Shifted by each bit offset 0..7 of the string start.
    for (int lead = 0; lead < 8; ++lead) check_round_trip(std::string(static_cast<std::size_t>(lead), 'a') + up);
}

TEST_CASE("hpack huffman: strings from RFC 7541 C.4 and C.6") {
    const std::pair<const char*, const char*> cases[] = {
        {"www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"},
        {"no-cache", "a8eb10649cbf"},
        {"custom-key", "25a849e95ba97d7f"},
        {"custom-value", "25a849e95bb8e8b4bf"},
        {"302", "6402"},
        {"307", "640eff"},
        {"private", "aec3771a4b"},
        {"Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"},
        {"Mon, 21 Oct 2013 20:13:22 GMT", "d07abe941054d444a8200595040b8166e084a62d1bff"},
        {"https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"},
        {"gzip", "9bd9ab"},
        {"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
         "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"},
    };
    for (const auto& c : cases) {  // no structured bindings: clang 14 cannot capture them in CAPTURE's lambda
        const auto& text = c.first;
        const auto& wire = c.second;
        CAPTURE(text);
        CHECK(to_hex(lib_encode(text)) == wire);
        const LibDecoded d = lib_decode(hex(wire));
        CHECK(d.error == Error::none);
        CHECK(d.out == text);
    }
}

TEST_CASE("hpack huffman: random strings round-trip") {
    Prng rng(21);
    for (int i = 0; i < 3000; ++i) {
        const std::string s = random_string(rng, i % 10 == 0 ? 2000 : 64, i % 2 == 0);
        CAPTURE(i);
        check_round_trip(s);
    }
}

TEST_CASE("hpack huffman: the empty string") {
    CHECK(hpack::wire::huffman_encoded_size("") == 0);
    const LibDecoded d = lib_decode({});
    CHECK(d.error == Error::none);
    CHECK(d.out.empty());
}

TEST_CASE("hpack huffman: padding and EOS rules of RFC 7541 §5.2") {
    struct Case {
        const char* what;
        Bytes in;
        Error error;
        std::string out;
    };
    const Case cases[] = {
        // 'a' = 00011: padding of three ones is valid.
        {"a + 111", hex("1f"), Error::none, "a"},
        {"a + 000 (padding not ones)", hex("18"), Error::huffman_padding, ""},
        {"a + 101 (padding not all ones)", hex("1d"), Error::huffman_padding, ""},
        {"a + 110 (last padding bit zero)", hex("1e"), Error::huffman_padding, ""},
        // 'a' + 11 one bits: padding longer than 7 bits.
        {"a + 11 ones", hex("1fff"), Error::huffman_padding, ""},
        {"8 one bits only", hex("ff"), Error::huffman_padding, ""},
        {"16 one bits only", hex("ffff"), Error::huffman_padding, ""},
        // 'a' x5 = 25 bits, then 7 ones: exactly the longest valid padding.
        {"aaaaa + 7 ones", build("aaaaa", {}, ""), Error::none, "aaaaa"},
        {"aaaaa + 15 ones", build("aaaaa", {}, "11111111"), Error::huffman_padding, ""},
        // "1111110" is a prefix of the 10-bit codes, not a whole code.
        {"aaaaa + 1111110", build("aaaaa", {}, "1111110"), Error::huffman_padding, ""},
        // No padding at all (a whole number of bytes): '0' x8 = 40 bits.
        {"00000000, no padding", build("00000000", {}, ""), Error::none, "00000000"},
        // A complete EOS symbol inside the string, followed by more symbols.
        {"EOS + 0", hex("fffffffc1f"), Error::huffman_eos, ""},
        {"a + EOS + a", build("a", {256, 'a'}, ""), Error::huffman_eos, ""},
        {"EOS + 8 zero bits", build("", {256}, "00000000", 0), Error::huffman_eos, ""},
        // 'a' then 27 of EOS's 30 one bits (32 bits, no more padding): a
        // prefix of EOS, too long for padding.
        {"a + 27 ones", build("a", {}, std::string(27, '1')), Error::huffman_padding, ""},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        CAPTURE(to_hex(c.in));
        // The reference agrees about the case itself.
        const RefHuffmanResult ref = ref_huffman_decode(c.in);
        REQUIRE(ref.error == c.error);
        if (c.error == Error::none) REQUIRE(ref.out == c.out);

        const LibDecoded d = lib_decode(c.in);
        CHECK(d.error == c.error);
        if (c.error == Error::none) CHECK(d.out == c.out);

        // The same string as a header value and as a header name, through the
        // incremental decoder, whole and split.
        const Bytes as_value = concat({hex("00 0161"), ref_integer(c.in.size(), 7, 0x80), c.in});
        const Bytes as_name = concat({hex("00"), ref_integer(c.in.size(), 7, 0x80), c.in, hex("0162")});
        for (const Split split : kAllSplits) {
            CAPTURE(to_string(split));
            Feeder feed(split, 22);
            hpack::Decoder dv;
            const DecodeResult rv = feed.decode(dv, as_value);
            CHECK(rv.error == c.error);
            hpack::Decoder dn;
            const DecodeResult rn = feed.decode(dn, as_name);
            CHECK(rn.error == c.error);
            if (c.error == Error::none) {
                CHECK(rv.headers == Headers{{"a", c.out}});
                CHECK(rn.headers == Headers{{c.out, "b"}});
            } else {
                CHECK(rv.headers.empty());
                CHECK(rn.headers.empty());
            }
        }
    }
}

TEST_CASE("hpack huffman: random input agrees with the bit-by-bit reference decoder") {
    Prng rng(23);
    int ok = 0, eos = 0, padding = 0;
    for (int i = 0; i < 20000; ++i) {
        Bytes in;
        if (i % 2 == 0) {
            // Random bytes: mostly invalid padding, sometimes valid, sometimes EOS.
            in.resize(rng.below(12));
            for (auto& b : in) b = rng.byte();
            // Bias towards one bits so that long codes, EOS and padding appear.
            if (i % 4 == 0)
                for (auto& b : in) b = static_cast<std::uint8_t>(b | rng.byte());
        } else if (i % 10 == 1) {
            // A valid string with EOS somewhere among its codes.
            const std::string s = random_string(rng, 20, i % 3 == 0);
            const std::size_t at = rng.below(s.size() + 1);
            BitWriter w;
            for (std::size_t k = 0; k <= s.size(); ++k) {
                if (k == at) w.put_symbol(256);
                if (k < s.size()) w.put_symbol(static_cast<unsigned char>(s[k]));
            }
            in = w.finish();
        } else {
            // A valid encoding with one bit flipped or the last byte cut.
            in = ref_huffman_encode(random_string(rng, 20, i % 3 == 0));
            if (!in.empty()) {
                if (rng.one_in(2)) {
                    const std::size_t bit = rng.below(in.size() * 8);
                    in[bit / 8] = static_cast<std::uint8_t>(in[bit / 8] ^ (0x80u >> (bit % 8)));
                } else {
                    in.pop_back();
                }
            }
        }
        CAPTURE(to_hex(in));
        const RefHuffmanResult ref = ref_huffman_decode(in);
        const LibDecoded got = lib_decode(in);
        if (ref.error == Error::none) {
            ++ok;
            CHECK(got.error == Error::none);
            CHECK(got.out == ref.out);
        } else if (ref.eos_or_padding) {
            // EOS followed only by one bits: either name is fair.
            ++eos;
            CHECK((got.error == Error::huffman_eos || got.error == Error::huffman_padding));
        } else {
            ref.error == Error::huffman_eos ? ++eos : ++padding;
            CHECK(got.error == ref.error);
        }
    }
    MESSAGE("reference verdicts: " << ok << " valid, " << eos << " EOS, " << padding << " bad padding");
    CHECK(ok > 300);
    CHECK(eos > 1000);
    CHECK(padding > 1000);
}

TEST_CASE("hpack huffman: decoding Huffman strings split across fragments") {
    // Names and values long enough that every split point falls inside a
    // Huffman string, its length prefix, or between codes of various lengths.
    Prng rng(24);
    std::vector<Headers> lists;
    std::string all;
    for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
    lists.push_back({{"custom-key", "custom-value"}, {"x-all", all}});
    for (int i = 0; i < 20; ++i) lists.push_back({{random_string(rng, 40, true), random_string(rng, 300, i % 2 == 0)}});
    for (const Headers& hs : lists) {
        Bytes block;
        for (const Header& h : hs) block = concat({block, literal_new_name(h.name, h.value, 0x40, true)});
        CAPTURE(to_hex(block));
        hpack::Decoder whole_d;
        const DecodeResult whole = decode_whole(whole_d, block);
        REQUIRE(whole.error == Error::none);
        REQUIRE(whole.headers == hs);
        // Two fragments, cut at every position.
        for (std::size_t cut = 0; cut <= block.size(); ++cut) {
            CAPTURE(cut);
            hpack::Decoder d;
            DecodeResult r;
            auto sink = [&](const Field& f) {
                r.headers.push_back({std::string(f.name), std::string(f.value), f.sensitive});
            };
            const std::span<const std::uint8_t> all_bytes(block);
            CHECK(d.decode(all_bytes.first(cut), false, sink) == Error::none);
            CHECK(d.decode(all_bytes.subspan(cut), true, sink) == Error::none);
            CHECK(r.headers == hs);
            CHECK(d.table_size() == whole_d.table_size());
        }
        // Byte by byte and random.
        for (const Split split : {Split::byte_by_byte, Split::random}) {
            CAPTURE(to_string(split));
            Feeder feed(split, 25);
            hpack::Decoder d;
            CHECK(feed.decode(d, block) == whole);
        }
    }
}

// ---------------------------------------------------------------------------
// Edge cases of the table-driven coder: the decoder looks up several bits at
// a time, refills 8 bytes at a time while it can, then finishes the last
// bytes and the last bits with care; the encoder flushes 32 bits at a time
// and gives up early once the result is no shorter than the limit.

namespace {

/// What huffman_decode must answer for `in`, per the bit-by-bit reference.
void check_against_reference(std::span<const std::uint8_t> in) {
    const RefHuffmanResult ref = ref_huffman_decode(in);
    const LibDecoded got = lib_decode(in);
    if (ref.error == Error::none) {
        CHECK(got.error == Error::none);
        CHECK(got.out == ref.out);
    } else if (ref.eos_or_padding) {
        CHECK((got.error == Error::huffman_eos || got.error == Error::huffman_padding));
    } else {
        CHECK(got.error == ref.error);
    }
}

/// A string of `len` symbols drawn from one of several alphabets: short codes
/// only, printable text, or any byte (long codes too).
std::string random_of_length(Prng& rng, std::size_t len, int alphabet) {
    static constexpr std::string_view shortest = "012aceiost";  // the 5-bit codes
    std::string s(len, '\0');
    for (char& c : s) {
        switch (alphabet % 3) {
            case 0:
                c = shortest[rng.below(shortest.size())];
                break;
            case 1:
                c = static_cast<char>(0x20 + rng.below(0x5f));
                break;
            default:
                c = static_cast<char>(rng.below(256));
                break;
        }
    }
    return s;
}

}  // namespace

TEST_CASE("hpack huffman: every symbol at every bit offset and after every input length") {
    for (int b = 0; b < 256; ++b) {
        CAPTURE(b);
        for (std::size_t lead = 0; lead < 24; ++lead) {
            // 'a' is 5 bits, so `lead` of them shift the symbol through every
            // bit offset and through the decoder's refill boundaries.
            check_round_trip(std::string(lead, 'a') + static_cast<char>(b));
            check_round_trip(std::string(lead, 'a') + static_cast<char>(b) + "xyz");
        }
    }
}

TEST_CASE("hpack huffman: random strings of every length 0..300 agree with the reference coder") {
    Prng rng(31);
    for (std::size_t len = 0; len <= 300; ++len) {
        for (int alphabet = 0; alphabet < 6; ++alphabet) {
            CAPTURE(len);
            CAPTURE(alphabet);
            check_round_trip(random_of_length(rng, len, alphabet));
        }
    }
}

TEST_CASE("hpack huffman: the most symbols per byte fit the documented output room") {
    // 5-bit codes only: 8 symbols per 5 bytes, the densest input there is.
    for (std::size_t len = 0; len <= 300; ++len) {
        CAPTURE(len);
        check_round_trip(std::string(len, '0'));
        check_round_trip(std::string(len, 'e'));
    }
}

TEST_CASE("hpack huffman: every truncation of a valid string agrees with the reference") {
    Prng rng(32);
    for (int i = 0; i < 300; ++i) {
        const Bytes whole = ref_huffman_encode(random_of_length(rng, rng.below(40), i));
        CAPTURE(to_hex(whole));
        for (std::size_t cut = 0; cut <= whole.size(); ++cut) {
            CAPTURE(cut);
            check_against_reference(std::span<const std::uint8_t>(whole).first(cut));
        }
    }
}

TEST_CASE("hpack huffman: padding of every length and with a zero bit anywhere") {
    Prng rng(33);
    for (std::size_t len = 0; len <= 40; ++len) {
        const std::string s = random_of_length(rng, len, static_cast<int>(len));
        std::size_t bits = 0;
        for (const char c : s) bits += static_cast<std::size_t>(rfc_huffman()[static_cast<unsigned char>(c)].bits);
        for (std::size_t pad = 0; pad <= 17; ++pad) {
            if ((bits + pad) % 8 != 0) continue;
            CAPTURE(len);
            CAPTURE(pad);
            // All ones: valid up to 7 bits, an error from 8.
            const Bytes ones = build(s, {}, std::string(pad, '1'), 0);
            const LibDecoded d = lib_decode(ones);
            if (pad <= 7) {
                CHECK(d.error == Error::none);
                CHECK(d.out == s);
            } else {
                CHECK(d.error == Error::huffman_padding);
            }
            // One zero bit at each place of the padding.
            for (std::size_t zero = 0; zero < pad; ++zero) {
                std::string tail(pad, '1');
                tail[zero] = '0';
                const Bytes in = build(s, {}, tail, 0);
                CAPTURE(zero);
                check_against_reference(in);
                // Never `s` with valid padding: either an error or the bits
                // with the zero make one more code.
                const LibDecoded z = lib_decode(in);
                CHECK((z.error != Error::none || z.out.size() > s.size()));
            }
        }
    }
}

TEST_CASE("hpack huffman: EOS at every position is an error") {
    Prng rng(34);
    for (int i = 0; i < 60; ++i) {
        const std::string s = random_of_length(rng, 1 + rng.below(40), i);
        for (std::size_t at = 0; at <= s.size(); ++at) {
            BitWriter w;
            for (std::size_t k = 0; k <= s.size(); ++k) {
                if (k == at) w.put_symbol(256);
                if (k < s.size()) w.put_symbol(static_cast<unsigned char>(s[k]));
            }
            const Bytes in = w.finish();
            CAPTURE(to_hex(in));
            const LibDecoded d = lib_decode(in);
            if (at < s.size())
                CHECK(d.error == Error::huffman_eos);
            else
                CHECK((d.error == Error::huffman_eos || d.error == Error::huffman_padding));
            check_against_reference(in);
        }
    }
}

TEST_CASE("hpack huffman: random bytes of every length agree with the reference") {
    Prng rng(35);
    for (std::size_t len = 0; len <= 64; ++len) {
        for (int i = 0; i < 200; ++i) {
            Bytes in(len);
            for (auto& b : in) b = rng.byte();
            // Mostly one bits in some, so that long codes and EOS turn up.
            if (i % 2 == 0)
                for (auto& b : in) b = static_cast<std::uint8_t>(b | rng.byte() | rng.byte());
            CAPTURE(to_hex(in));
            check_against_reference(in);
        }
    }
}

TEST_CASE("hpack huffman: huffman_encode_shorter gives up exactly when the result is not shorter") {
    Prng rng(36);
    for (int i = 0; i < 600; ++i) {
        const std::string s = random_of_length(rng, rng.below(i % 10 == 0 ? 200 : 40), i);
        const Bytes want = ref_huffman_encode(s);
        CAPTURE(s.size());
        CAPTURE(want.size());
        const std::size_t lo = want.size() > 6 ? want.size() - 6 : 0;
        for (std::size_t limit = lo; limit <= want.size() + 6; ++limit) {
            CAPTURE(limit);
            // A heap buffer of exactly the room the contract asks for
            // (limit + 3), so that AddressSanitizer sees any write past it.
            std::vector<std::uint8_t> buf(limit + 3);
            std::uint8_t* end = hpack::detail::huffman_encode_shorter(buf.data(), s, limit);
            if (want.size() >= limit) {
                CHECK(end == nullptr);
            } else {
                REQUIRE(end != nullptr);
                CHECK(Bytes(buf.data(), end) == want);
            }
        }
    }
}

TEST_CASE("hpack huffman: codes of every length, ended or cut at the end of the input, before every padding") {
    // The decoder reads a string as its octets followed by ones, and checks
    // the end only where its lookups stall: these put one code of each
    // length (5..30 bits, EOS included) last, after 0..80 bits of 'a' and
    // '0' (5 bits each, so every alignment against the 8-byte loads and the
    // last word occurs), then 0..17 bits of padding that are all ones or
    // hold one zero, and also cut the last code short.
    std::vector<int> by_length[31];
    for (int sym = 0; sym <= 256; ++sym) by_length[rfc_huffman()[static_cast<std::size_t>(sym)].bits].push_back(sym);
    for (int bits = 5; bits <= 30; ++bits) {
        for (const int sym : by_length[bits]) {
            if (sym % 7 != 0 && sym != 256 && sym != by_length[bits].front()) continue;  // a few of each length
            for (std::size_t lead = 0; lead <= 16; ++lead) {
                const std::string s(lead, lead % 2 ? 'a' : '0');
                for (std::size_t pad = 0; pad <= 17; ++pad) {
                    CAPTURE(sym);
                    CAPTURE(lead);
                    CAPTURE(pad);
                    BitWriter w;
                    for (const char c : s) w.put_symbol(static_cast<unsigned char>(c));
                    w.put_symbol(sym);
                    for (std::size_t i = 0; i < pad; ++i) w.put_bit(1);
                    if (w.bits() % 8 != 0) continue;
                    const Bytes in = w.finish();
                    check_against_reference(in);
                    const LibDecoded d = lib_decode(in);
                    if (sym == 256) {
                        CHECK(d.error != Error::none);
                    } else if (pad <= 7) {
                        CHECK(d.error == Error::none);
                        CHECK(d.out == s + static_cast<char>(sym));
                    } else {
                        CHECK(d.error == Error::huffman_padding);
                    }
                    for (std::size_t zero = 0; zero < pad; ++zero) {
                        Bytes bad = in;
                        const std::size_t bit = bad.size() * 8 - pad + zero;
                        bad[bit / 8] = static_cast<std::uint8_t>(bad[bit / 8] & ~(0x80u >> (bit % 8)));
                        check_against_reference(bad);
                    }
                    // The last code cut short by 1..bits-1 bits, padded with ones.
                    for (int cut = 1; cut < bits; ++cut) {
                        BitWriter t;
                        for (const char c : s) t.put_symbol(static_cast<unsigned char>(c));
                        const auto& code = rfc_huffman()[static_cast<std::size_t>(sym)];
                        t.put(code.code >> cut, bits - cut);
                        check_against_reference(t.finish());
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The coder's internal paths (issue 15): the encoder's sentinel accumulator,
// which flushes 32 bits whenever its sentinel passes bit 32 (so a flush can
// leave 0..29 bits behind); the decoder's complemented buffer, its tail that
// reads the bits past the end as ones, and its one-load path for strings of
// under 8 octets, which may read (never use) octets around them.

TEST_CASE("hpack huffman: runs of long codes leave every remainder in the encoder's accumulator") {
    // 30-bit codes (\n, \r, 0x16) and 28-bit ones after 0..40 bits of 5-bit
    // codes, then short codes again: every flush remainder 0..29 occurs.
    const std::string longs[] = {"\n", "\n\r", "\n\r\x16", "\x01\x02\x03", "\xfe\xff\x0a", "\n\x7f\r\x16\n"};
    for (const std::string& l : longs) {
        for (std::size_t lead = 0; lead <= 8; ++lead) {
            for (std::size_t trail = 0; trail <= 9; ++trail) {
                CAPTURE(to_hex(bytes_of(l)));
                CAPTURE(lead);
                CAPTURE(trail);
                const std::string s = std::string(lead, 'e') + l + std::string(trail, 't') + l + "0";
                check_round_trip(s);
                const Bytes want = ref_huffman_encode(s);
                // Bounded, at and around the exact size, in exactly the room
                // the contract gives (limit + 3) so that ASan sees overruns.
                for (std::size_t limit = want.size(); limit <= want.size() + 1; ++limit) {
                    std::vector<std::uint8_t> buf(limit + 3);
                    std::uint8_t* end = hpack::detail::huffman_encode_shorter(buf.data(), s, limit);
                    if (limit == want.size()) {
                        CHECK(end == nullptr);
                    } else {
                        REQUIRE(end != nullptr);
                        CHECK(Bytes(buf.data(), end) == want);
                    }
                }
            }
        }
    }
}

TEST_CASE("hpack huffman: strings of under 8 octets decode the same wherever they lie in a buffer") {
    // huffman_decode_in may load the 8 octets at or before a short string
    // when [lo, hi) holds them. The result must not depend on the octets
    // around it, nor on where in the buffer it lies.
    Prng rng(41);
    for (int i = 0; i < 400; ++i) {
        Bytes in;
        if (i % 4 == 3) {
            in.resize(rng.below(8));  // arbitrary octets: errors too
            for (auto& b : in) b = rng.byte();
        } else {
            in = ref_huffman_encode(random_of_length(rng, rng.below(12), i));
            if (in.size() >= 8) continue;
        }
        CAPTURE(to_hex(in));
        const LibDecoded want = lib_decode(in);
        for (std::size_t before = 0; before <= 9; ++before) {
            for (std::size_t after = 0; after <= 9; ++after) {
                std::vector<std::uint8_t> buf(before + in.size() + after);
                for (auto& b : buf) b = rng.byte();
                std::copy(in.begin(), in.end(), buf.begin() + static_cast<std::ptrdiff_t>(before));
                std::vector<std::uint8_t> out(hpack::wire::huffman_decoded_capacity(in.size()));
                Error e = Error::none;
                const std::size_t n = hpack::detail::huffman_decode_in(buf.data() + before, in.size(), buf.data(),
                                                                       buf.data() + buf.size(), out.data(), e);
                CHECK(e == want.error);
                if (e == Error::none && want.error == Error::none)
                    CHECK(std::string(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n)) == want.out);
            }
        }
    }
}

TEST_CASE("hpack huffman: short Huffman strings at the edges of fragments, in exactly sized buffers") {
    // A block of literals whose names and values are Huffman strings of 0..9
    // octets, fed so that each lies at the very start or the very end of a
    // fragment held in its own heap buffer (ASan sees any read past it).
    Prng rng(42);
    for (int i = 0; i < 60; ++i) {
        Headers hs;
        Bytes block;
        for (int f = 0; f < 6; ++f) {
            const std::string name = random_of_length(rng, 1 + rng.below(9), 1);
            const std::string value = random_of_length(rng, rng.below(10), f);
            hs.push_back({name, value});
            block = concat({block, literal_new_name(name, value, f % 2 ? 0x40 : 0x00, true)});
        }
        CAPTURE(to_hex(block));
        for (std::size_t cut = 0; cut <= block.size(); ++cut) {
            hpack::Decoder d;
            Headers got;
            const auto sink = [&](const Field& field) {
                got.push_back({std::string(field.name), std::string(field.value)});
            };
            const std::vector<std::uint8_t> first(block.begin(), block.begin() + static_cast<std::ptrdiff_t>(cut));
            const std::vector<std::uint8_t> second(block.begin() + static_cast<std::ptrdiff_t>(cut), block.end());
            CHECK(d.decode(first, false, sink) == Error::none);
            CHECK(d.decode(second, true, sink) == Error::none);
            CHECK(got == hs);
        }
    }
}

#if defined(__unix__)
TEST_CASE("hpack huffman: random strings agree with Python's hpack, both ways") {
    // Python's hpack (if /usr/bin/python3 has it) decodes what the library
    // encodes, and encodes what the library must decode to the same string.
    if (std::system("/usr/bin/python3 -c 'import hpack' >/dev/null 2>&1") != 0) {
        MESSAGE("no Python hpack: skipped");
        return;
    }
    Prng rng(43);
    std::vector<std::string> strings;
    for (int i = 0; i < 300; ++i) strings.push_back(random_of_length(rng, rng.below(i % 5 == 0 ? 300 : 40), i));
    for (int b = 0; b < 256; ++b) strings.push_back(std::string(1 + b % 9, static_cast<char>(b)) + "ab");
    // One line per string: its hex, then the library's Huffman encoding.
    const std::string dir = (std::filesystem::temp_directory_path() /
                             ("h2wire_hpack_python_" + std::to_string(static_cast<long>(getpid())) + "_"))
                                .string();
    const std::string in_path = dir + "in.txt", out_path = dir + "out.txt", script_path = dir + "check.py";
    {
        std::FILE* f = std::fopen(in_path.c_str(), "w");
        REQUIRE(f != nullptr);
        for (const std::string& s : strings) {
            Bytes enc(hpack::wire::huffman_encoded_size(s));
            hpack::wire::huffman_encode(enc.data(), s);
            std::fprintf(f, "%s %s\n", s.empty() ? "-" : to_hex(bytes_of(s)).c_str(),
                         enc.empty() ? "-" : to_hex(enc).c_str());
        }
        std::fclose(f);
    }
    const std::string script =
        "import sys\n"
        "from hpack.huffman import HuffmanEncoder\n"
        "from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH\n"
        "from hpack.huffman_table import decode_huffman\n"
        "enc = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)\n"
        "out = open(sys.argv[2], 'w')\n"
        "for line in open(sys.argv[1]):\n"
        "    s, e = [b'' if x == '-' else bytes.fromhex(x) for x in line.split()]\n"
        "    ok = decode_huffman(e) == s\n"
        "    p = enc.encode(s)\n"
        "    out.write(('ok ' if ok else 'bad ') + (p.hex() if p else '-') + '\\n')\n";
    {
        std::FILE* py = std::fopen(script_path.c_str(), "w");
        REQUIRE(py != nullptr);
        std::fputs(script.c_str(), py);
        std::fclose(py);
    }
    const std::string cmd = "/usr/bin/python3 " + script_path + " " + in_path + " " + out_path;
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::FILE* f = std::fopen(out_path.c_str(), "r");
    REQUIRE(f != nullptr);
    char verdict[8];
    char hexbuf[4096];
    for (const std::string& s : strings) {
        REQUIRE(std::fscanf(f, "%7s %4095s", verdict, hexbuf) == 2);
        CAPTURE(to_hex(bytes_of(s)));
        CHECK(std::string(verdict) == "ok");  // Python decodes ours
        const Bytes theirs = std::string(hexbuf) == "-" ? Bytes{} : hex(hexbuf);
        const LibDecoded d = lib_decode(theirs);  // we decode Python's
        CHECK(d.error == Error::none);
        CHECK(d.out == s);
    }
    std::fclose(f);
    std::remove(in_path.c_str());
    std::remove(out_path.c_str());
    std::remove(script_path.c_str());
}
#endif
