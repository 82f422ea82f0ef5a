// Every hpack::Error the decoder reports, each fed whole, byte by byte and at
// random splits: the error, the fields reported before it, and what the
// decoder does afterwards (fatal errors are sticky; header_list_too_large is
// not and keeps the table in sync).
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "h2wire/hpack.hpp"
#include "support/hpack_test_util.hpp"

using namespace h2wire;
using namespace h2wire::test;
using hpack::Error;

namespace {

using Setup = std::function<void(hpack::Decoder&)>;

void no_setup(hpack::Decoder&) {}

/// Runs `setup` on a fresh decoder, then feeds `block` split every way; the
/// block must fail with `error` after reporting exactly `before`. Then checks
/// that the error is sticky.
void check_fatal(const Bytes& block, Error error, const Headers& before, const Setup& setup = no_setup,
                 const hpack::DecoderLimits& limits = {}) {
    REQUIRE(hpack::is_fatal(error));
    CAPTURE(to_hex(block));
    for (const Split split : kAllSplits) {
        CAPTURE(to_string(split));
        Feeder feed(split, 41);
        hpack::Decoder d(limits);
        setup(d);
        const DecodeResult r = feed.decode(d, block);
        CHECK(r.error == error);
        CHECK(r.headers == before);
        CHECK_FALSE(r.nonfatal_error_before_end);

        // Sticky: any later call returns the same error and reports nothing.
        int calls = 0;
        auto count = [&](const Field&) { ++calls; };
        CHECK(d.decode(hex("82"), true, count) == error);
        CHECK(d.decode(hex("82"), false, count) == error);
        CHECK(d.decode({}, true, count) == error);
        CHECK(calls == 0);
    }
}

/// Feeds `block` split every way to a decoder prepared by `setup`, which must
/// decode it without error to `want`.
void check_ok(const Bytes& block, const Headers& want, const Setup& setup = no_setup,
              const hpack::DecoderLimits& limits = {},
              const std::function<void(const hpack::Decoder&)>& after = nullptr) {
    CAPTURE(to_hex(block));
    for (const Split split : kAllSplits) {
        CAPTURE(to_string(split));
        Feeder feed(split, 42);
        hpack::Decoder d(limits);
        setup(d);
        const DecodeResult r = feed.decode(d, block);
        CHECK(r.error == Error::none);
        CHECK_FALSE(r.in_block_wrong);
        CHECK(r.headers == want);
        if (after) after(d);
    }
}

/// Setup: decode `block` whole (it must succeed).
Setup after_block(const Bytes& block) {
    return [block](hpack::Decoder& d) { REQUIRE(decode_whole(d, block).error == Error::none); };
}

/// Setup: the calls to set_max_table_size the peer's SETTINGS would cause.
Setup limits_set_to(std::vector<std::uint32_t> sizes, Bytes first_block = {}) {
    return [sizes, first_block](hpack::Decoder& d) {
        if (!first_block.empty()) REQUIRE(decode_whole(d, first_block).error == Error::none);
        for (const std::uint32_t s : sizes) d.set_max_table_size(s);
    };
}

hpack::DecoderLimits field_limit(std::uint32_t n) {
    hpack::DecoderLimits l;
    l.max_field_size = n;
    return l;
}

hpack::DecoderLimits list_limit(std::uint32_t n) {
    hpack::DecoderLimits l;
    l.max_header_list_size = n;
    return l;
}

const Headers kGet = {{":method", "GET"}};

}  // namespace

TEST_CASE("hpack decoder errors: every Error has a distinct description, only two are not fatal") {
    std::set<std::string> seen;
    for (int v = 0; v <= static_cast<int>(Error::header_list_too_large); ++v) {
        const auto e = static_cast<Error>(v);
        const std::string s(hpack::to_string(e));
        CHECK_FALSE(s.empty());
        seen.insert(s);
        CHECK(hpack::is_fatal(e) == (e != Error::none && e != Error::header_list_too_large));
    }
    CHECK(seen.size() == static_cast<std::size_t>(Error::header_list_too_large) + 1);
}

TEST_CASE("hpack decoder error index_zero: indexed field with index 0 (§6.1)") {
    check_fatal(hex("80"), Error::index_zero, {});
    check_fatal(hex("82 80 82"), Error::index_zero, kGet);
}

TEST_CASE("hpack decoder error index_out_of_range: past the static and dynamic tables (§2.3.3)") {
    // The last static index is fine, the first dynamic one is not (empty table).
    check_ok(hex("bd"), {{"www-authenticate", ""}});
    check_fatal(hex("be"), Error::index_out_of_range, {});
    check_fatal(hex("82 ff00"), Error::index_out_of_range, kGet);    // 127
    check_fatal(hex("ff ffffff0f"), Error::index_out_of_range, {});  // 127 + 2^28 - 1
    // As the name index of each kind of literal (62 on an empty table).
    check_fatal(hex("7e 0161"), Error::index_out_of_range, {});    // with indexing, 6-bit prefix
    check_fatal(hex("0f2f 0161"), Error::index_out_of_range, {});  // without indexing, 4-bit prefix
    check_fatal(hex("1f2f 0161"), Error::index_out_of_range, {});  // never indexed
    // With one dynamic entry, 62 exists and 63 does not.
    const Setup one_entry = after_block(hex("40 0161 0162"));
    check_ok(hex("be"), {{"a", "b"}}, one_entry);
    check_ok(hex("7e 0163"), {{"a", "c"}}, one_entry);
    check_fatal(hex("be bf"), Error::index_out_of_range, {{"a", "b"}}, one_entry);
    check_fatal(hex("7f00 0163"), Error::index_out_of_range, {}, one_entry);
    // After eviction the index is gone again: a size update to 0 empties the table.
    check_fatal(hex("20 be"), Error::index_out_of_range, {}, one_entry);
}

TEST_CASE("hpack decoder error integer_overflow: more than 32 bits or 5 continuation bytes (§5.1)") {
    // 2^32 as a size update, an index, a name index and a string length.
    check_fatal(size_update(0x100000000ULL), Error::integer_overflow, {});
    check_fatal(concat({hex("82"), ref_integer(0x100000000ULL, 7, 0x80)}), Error::integer_overflow, kGet);
    check_fatal(concat({ref_integer(0x100000000ULL, 4, 0x00), hex("0161")}), Error::integer_overflow, {});
    check_fatal(concat({hex("00"), ref_integer(0x100000000ULL, 7, 0x00), hex("61")}), Error::integer_overflow, {});
    check_fatal(concat({hex("0f01"), ref_integer(0x100000005ULL, 7, 0x80)}), Error::integer_overflow, {});
    // Six continuation bytes, even though the value is small.
    check_fatal(hex("3f 80 80 80 80 80 00"), Error::integer_overflow, {});
    check_fatal(hex("ff 81 80 80 80 80 00"), Error::integer_overflow, {});
    // An endless run of continuation bytes is cut off, not waited for.
    check_fatal(concat({hex("ff"), Bytes(100, 0x80)}), Error::integer_overflow, {});
    {
        hpack::Decoder d;
        CHECK(d.decode(concat({hex("ff"), Bytes(6, 0x80)}), false, [](const Field&) {}) == Error::integer_overflow);
    }
    // The largest 32-bit value is no overflow: as a size update it is simply
    // above the limit, as an index simply out of range.
    check_fatal(size_update(0xffffffffULL), Error::table_size_over_limit, {});
    check_fatal(ref_integer(0xffffffffULL, 7, 0x80), Error::index_out_of_range, {});
}

TEST_CASE("hpack decoder error truncated: the block ends inside a representation") {
    check_fatal(hex("ff"), Error::truncated, {});                      // index needs a continuation byte
    check_fatal(hex("82 ff80"), Error::truncated, kGet);               // ... and another
    check_fatal(hex("3f"), Error::truncated, {});                      // size update
    check_fatal(hex("40"), Error::truncated, {});                      // no name length
    check_fatal(hex("00 05 6162"), Error::truncated, {});              // name length past the input
    check_fatal(hex("00 0161"), Error::truncated, {});                 // no value
    check_fatal(hex("00 0161 05 6263"), Error::truncated, {});         // value length past the input
    check_fatal(hex("44 0c 2f"), Error::truncated, {});                // indexed name, short value
    check_fatal(hex("82 00 0161 7f8001 62"), Error::truncated, kGet);  // 255-byte value, 1 byte there
    check_fatal(hex("00 0161 85 f1e3"), Error::truncated, {});         // Huffman value cut short
    // A non-final fragment may end anywhere: no error until end_of_block.
    hpack::Decoder d;
    Headers got;
    auto sink = [&](const Field& f) { got.push_back({std::string(f.name), std::string(f.value), f.sensitive}); };
    CHECK(d.decode(hex("82 00 0161 05 6263"), false, sink) == Error::none);
    CHECK(got == kGet);
    CHECK(d.in_block());
    CHECK(d.decode(hex("646566"), true, sink) == Error::none);
    CHECK(got == Headers{{":method", "GET"}, {"a", "bcdef"}});
    CHECK_FALSE(d.in_block());
}

TEST_CASE("hpack decoder error huffman_eos: EOS inside a Huffman string (§5.2)") {
    // EOS (30 one bits), then '0' (00000), then 5 bits of padding.
    const Bytes eos = hex("fffffffc1f");
    REQUIRE(ref_huffman_decode(eos).error == Error::huffman_eos);
    check_fatal(concat({hex("00 0161 85"), eos}), Error::huffman_eos, {});               // value
    check_fatal(concat({hex("82 00 85"), eos, hex("0162")}), Error::huffman_eos, kGet);  // name
    check_fatal(concat({hex("44 85"), eos}), Error::huffman_eos, {});                    // value, indexed name
    check_fatal(concat({hex("40 0161 85"), eos}), Error::huffman_eos, {});               // with indexing
}

TEST_CASE("hpack decoder error huffman_padding: longer than 7 bits (§5.2)") {
    // 'a' (00011) then 11 one bits; and 8 one bits alone.
    check_fatal(hex("00 0161 82 1fff"), Error::huffman_padding, {});
    check_fatal(hex("00 81 ff 0162"), Error::huffman_padding, {});
    check_fatal(hex("82 44 82 1fff"), Error::huffman_padding, kGet);
}

TEST_CASE("hpack decoder error huffman_padding: padding not all ones (§5.2)") {
    // 'a' then 000, 'a' then 110.
    check_fatal(hex("00 0161 81 18"), Error::huffman_padding, {});
    check_fatal(hex("00 81 1e 0162"), Error::huffman_padding, {});
    // The valid padding for comparison.
    check_ok(hex("00 0161 81 1f"), {{"a", "a"}});
}

TEST_CASE("hpack decoder error table_size_over_limit: size update above SETTINGS_HEADER_TABLE_SIZE (§6.3)") {
    check_ok(hex("3fe11f 82"), kGet, no_setup, {}, [](const hpack::Decoder& d) { CHECK(d.table_max_size() == 4096); });
    check_fatal(hex("3fe21f"), Error::table_size_over_limit, {});  // 4097
    check_fatal(hex("3fe21f 82"), Error::table_size_over_limit, {});
    hpack::DecoderLimits small;
    small.max_table_size = 256;
    check_ok(hex("3fe101"), {}, no_setup, small);                                   // 256
    check_fatal(hex("3fe201"), Error::table_size_over_limit, {}, no_setup, small);  // 257
    // After our limit drops to 100 (and the peer was told), 101 is over it.
    check_fatal(size_update(101), Error::table_size_over_limit, {}, limits_set_to({100}));
    check_fatal(concat({size_update(100), size_update(101)}), Error::table_size_over_limit, {}, limits_set_to({100}));
    // Raising the limit allows larger updates.
    check_ok(size_update(8192), {}, limits_set_to({8192}), {},
             [](const hpack::Decoder& d) { CHECK(d.table_max_size() == 8192); });
}

TEST_CASE("hpack decoder error table_size_update_misplaced: size update after a field (§4.2)") {
    check_fatal(hex("82 20"), Error::table_size_update_misplaced, kGet);
    check_fatal(hex("82 3fe11f"), Error::table_size_update_misplaced, kGet);
    check_fatal(hex("20 82 20"), Error::table_size_update_misplaced, kGet);
    check_fatal(hex("40 0161 0162 20"), Error::table_size_update_misplaced, {{"a", "b"}});
    // Size updates at the start of a later block are fine, several of them too.
    check_ok(hex("20 3fe11f 82"), kGet, after_block(hex("82 40 0161 0162")), {}, [](const hpack::Decoder& d) {
        CHECK(d.table_max_size() == 4096);
        CHECK(d.table_entries() == 0);  // emptied by the update to 0
    });
}

TEST_CASE("hpack decoder error table_size_update_missing: limit lowered, no update (§4.2)") {
    const Bytes one_entry = hex("40 0161 0162");  // a: b, 34 bytes
    // Our SETTINGS_HEADER_TABLE_SIZE drops to 100 (below the table's 4096).
    const Setup lowered = limits_set_to({100}, one_entry);
    check_fatal(hex("82"), Error::table_size_update_missing, {}, lowered);
    check_fatal(hex("be"), Error::table_size_update_missing, {}, lowered);
    check_fatal(hex("40 0163 0164"), Error::table_size_update_missing, {}, lowered);
    // An empty block, or one with only a larger update, lacks it too.
    check_fatal({}, Error::table_size_update_missing, {}, lowered);

    // Accepted: the update to the new limit or below, before the fields.
    check_ok(concat({size_update(100), hex("82 be")}), {{":method", "GET"}, {"a", "b"}}, lowered, {},
             [](const hpack::Decoder& d) {
                 CHECK(d.table_max_size() == 100);
                 CHECK(d.table_entries() == 1);
             });
    check_ok(concat({size_update(0), hex("82")}), kGet, lowered, {}, [](const hpack::Decoder& d) {
        CHECK(d.table_max_size() == 0);
        CHECK(d.table_entries() == 0);
    });
    check_ok(size_update(50), {}, lowered);  // a block with only the update

    // Lowered to 100, then raised to 2000 before the next block: the block must
    // signal the smallest (<= 100) and may then signal the final size.
    const Setup down_up = limits_set_to({100, 2000}, one_entry);
    check_ok(concat({size_update(100), size_update(2000), hex("82")}), kGet, down_up, {},
             [](const hpack::Decoder& d) { CHECK(d.table_max_size() == 2000); });
    check_fatal(concat({size_update(2000), hex("82")}), Error::table_size_update_missing, {}, down_up);
    // Lowered to 100 and raised back to 4096 (the table's size): still needed.
    const Setup down_back = limits_set_to({100, 4096}, one_entry);
    check_fatal(hex("82"), Error::table_size_update_missing, {}, down_back);
    check_ok(concat({size_update(100), size_update(4096), hex("82")}), kGet, down_back);
    // Two decreases: the smaller one counts.
    const Setup down_down = limits_set_to({1000, 100, 3000}, one_entry);
    check_fatal(concat({size_update(1000), hex("82")}), Error::table_size_update_missing, {}, down_down);
    check_ok(concat({size_update(100), size_update(3000), hex("82")}), kGet, down_down);

    // No update is needed when the limit rises, or drops but stays at or above
    // the table's current maximum.
    check_ok(hex("82"), kGet, limits_set_to({8192}, one_entry));
    check_ok(hex("82"), kGet, limits_set_to({4096}, one_entry));
    check_ok(hex("82"), kGet, limits_set_to({2000}, concat({size_update(1000), one_entry})));

    // RFC 9113 §4.3.1: the table starts at 4096 whatever our limit, and only
    // the peer's size updates change it. So with a limit of 16384 from the
    // start (never used by the peer), lowering it to 8192 is still above the
    // table's 4096 and needs no update.
    {
        hpack::DecoderLimits big;
        big.max_table_size = 16384;
        hpack::Decoder d(big);
        CHECK(d.table_max_size() == 4096);
        d.set_max_table_size(8192);
        const DecodeResult r = decode_whole(d, hex("82"));
        CHECK(r.error == Error::none);
        CHECK(r.headers == kGet);
    }

    // Once signalled, the next block needs nothing more.
    {
        hpack::Decoder d;
        lowered(d);
        CHECK(decode_whole(d, concat({size_update(100), hex("82")})).error == Error::none);
        CHECK(decode_whole(d, hex("82 be")).headers == Headers{{":method", "GET"}, {"a", "b"}});
    }
}

TEST_CASE("hpack decoder error field_too_large: name + value over max_field_size") {
    const auto limit10 = field_limit(10);
    check_ok(hex("00 05 6162636465 05 6768696a6b"), {{"abcde", "ghijk"}}, no_setup, limit10);  // exactly 10
    check_fatal(hex("00 06 616263646566 05 6768696a6b"), Error::field_too_large, {}, no_setup, limit10);
    check_fatal(hex("82 40 06 616263646566 05 6768696a6b"), Error::field_too_large, kGet, no_setup, limit10);
    // Indexed name: ":path" (5) + 6 bytes.
    check_fatal(hex("04 06 2f6162636465"), Error::field_too_large, {}, no_setup, limit10);
    // Huffman-coded: 8 bytes on the wire, 11 decoded.
    const Bytes huff = literal_new_name("aaaaaa", "aaaaa", 0x00, true);
    REQUIRE(huff.size() < 12);
    check_fatal(huff, Error::field_too_large, {}, no_setup, limit10);
    // A string announced longer than the limit is refused before its bytes
    // arrive, so the decoder never buffers it.
    hpack::Decoder d(limit10);
    CHECK(d.decode(hex("00 7f8001"), false, [](const Field&) {}) == Error::field_too_large);
}

TEST_CASE("hpack decoder error header_list_too_large: reported at the end, table kept in sync") {
    // Each of these fields counts 4 + 4 + 32 = 40 (RFC 9113 §6.5.2).
    const Bytes ab = hex("40 0461616161 0462626262");  // aaaa: bbbb, indexed
    const Bytes cd = hex("40 0463636363 0464646464");
    const Bytes ef = hex("40 0465656565 0466666666");
    const Bytes gh = hex("40 0467676767 0468686868");
    const Header hab{"aaaa", "bbbb"}, hcd{"cccc", "dddd"}, hef{"eeee", "ffff"}, hgh{"gggg", "hhhh"};

    SUBCASE("exactly at the limit is fine") {
        check_ok(concat({ab, cd, ef}), {hab, hcd, hef}, no_setup, list_limit(120));
    }

    SUBCASE("over the limit: fields stop, the block is still decoded, the decoder goes on") {
        // 40 + 40 + 40 = 120 > 100 at ef; gh is inserted after the limit was hit.
        const Bytes block = concat({ab, cd, ef, gh, hex("82")});
        for (const Split split : kAllSplits) {
            CAPTURE(to_string(split));
            Feeder feed(split, 43);
            hpack::Decoder d(list_limit(100));
            const DecodeResult r = feed.decode(d, block);
            CHECK(r.error == Error::header_list_too_large);
            CHECK(r.headers == Headers{hab, hcd});
            CHECK_FALSE(r.nonfatal_error_before_end);  // returned only with end_of_block
            CHECK_FALSE(r.in_block_wrong);
            CHECK(d.table_entries() == 4);
            CHECK(d.table_size() == 160);
            // The table is in sync: gh (newest, 62) and ab (oldest, 65).
            DecodeResult next = feed.decode(d, hex("be c1"));
            CHECK(next.error == Error::none);
            CHECK(next.headers == Headers{hgh, hab});
            next = feed.decode(d, hex("bf c0"));
            CHECK(next.error == Error::none);
            CHECK(next.headers == Headers{hef, hcd});
            // Not fatal: a new literal after it decodes and indexes normally.
            next = feed.decode(d, concat({hex("40 0178 0179"), hex("be")}));
            CHECK(next.error == Error::none);
            CHECK(next.headers == Headers{{"x", "y"}, {"x", "y"}});
        }
    }

    SUBCASE("once over, even small later fields are not reported") {
        // 40, then a 1 + 100 + 32 field (over), then :method GET (42, which
        // alone would still fit).
        const Bytes block = concat({ab, literal_new_name("x", std::string(100, 'v')), hex("82")});
        for (const Split split : kAllSplits) {
            CAPTURE(to_string(split));
            Feeder feed(split, 44);
            hpack::Decoder d(list_limit(100));
            const DecodeResult r = feed.decode(d, block);
            CHECK(r.error == Error::header_list_too_large);
            CHECK(r.headers == Headers{hab});
            CHECK_FALSE(r.nonfatal_error_before_end);
        }
    }

    SUBCASE("only the last fragment returns it") {
        hpack::Decoder d(list_limit(100));
        int calls = 0;
        auto count = [&](const Field&) { ++calls; };
        CHECK(d.decode(concat({ab, cd, ef}), false, count) == Error::none);
        CHECK(calls == 2);
        CHECK(d.in_block());
        CHECK(d.decode(gh, false, count) == Error::none);
        CHECK(d.decode({}, true, count) == Error::header_list_too_large);
        CHECK(calls == 2);
        CHECK_FALSE(d.in_block());
        // The count starts over with the next block.
        CHECK(d.decode(hex("be bf"), true, count) == Error::none);
        CHECK(calls == 4);
    }

    SUBCASE("set_max_header_list_size changes the limit") {
        hpack::Decoder d(list_limit(100));
        CHECK(decode_whole(d, concat({ab, cd, ef})).error == Error::header_list_too_large);
        d.set_max_header_list_size(120);
        CHECK(d.limits().max_header_list_size == 120);
        const DecodeResult r = decode_whole(d, hex("be bf c0"));
        CHECK(r.error == Error::none);
        CHECK(r.headers == Headers{hef, hcd, hab});
    }
}
