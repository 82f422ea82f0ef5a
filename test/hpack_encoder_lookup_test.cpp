// hpack::Encoder::lookup() and the memo bytes of encode(fields, out, memos):
// memos stored with static and dynamic entries, lookup results reused by the
// encode() that follows and thrown away when they may be stale (another span,
// a size update, an entry evicted by an earlier field of the same block),
// sensitive fields, and lookup() + encode() writing exactly what encode()
// alone writes on every hpack-test-case raw-data story.
//
// Each check that lookup() changes nothing the peer sees compares against a
// twin encoder that is given the same blocks without lookup().
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "h2wire/hpack.hpp"
#include "support/hpack_test_util.hpp"

using namespace h2wire;
using namespace h2wire::test;
using hpack::Error;

namespace {

namespace fs = std::filesystem;

hpack::EncoderOptions cap(std::uint32_t max_table_size) {
    hpack::EncoderOptions o;
    o.max_table_size = max_table_size;
    return o;
}

Bytes encode_with(hpack::Encoder& e, std::span<const Field> fields, const std::uint8_t* memos = nullptr) {
    Bytes out(hpack::Encoder::max_encoded_size(fields));
    out.resize(e.encode(fields, out.data(), memos));
    return out;
}

std::vector<std::uint8_t> lookup_memos(hpack::Encoder& e, std::span<const Field> fields) {
    std::vector<std::uint8_t> memos(fields.size(), 0xee);
    e.lookup(fields, memos.data());
    return memos;
}

/// An encoder that uses lookup(), a twin that does not, and a decoder for the
/// first one's output: each block must come out the same from both encoders
/// and decode back.
struct Twins {
    hpack::Encoder with;
    hpack::Encoder without;
    hpack::Decoder dec;

    explicit Twins(const hpack::EncoderOptions& o = {}) : with(o), without(o) {}

    void peer_settings(std::uint32_t size) {
        with.set_peer_max_table_size(size);
        without.set_peer_max_table_size(size);
        dec.set_max_table_size(size);
    }

    /// encode() on both (after lookup() on `with` if asked); checks and
    /// returns the block.
    Bytes encode(std::span<const Field> fields, const std::uint8_t* memos = nullptr) {
        const Bytes a = encode_with(with, fields, memos);
        const Bytes b = encode_with(without, fields);
        CHECK(to_hex(a) == to_hex(b));
        const DecodeResult r = decode_whole(dec, a);
        CHECK(r.error == Error::none);
        REQUIRE(r.headers.size() == fields.size());
        for (std::size_t i = 0; i < fields.size(); ++i) {
            CHECK(r.headers[i].name == fields[i].name);
            CHECK(r.headers[i].value == fields[i].value);
        }
        CHECK(with.table_size() == dec.table_size());
        CHECK(with.table_entries() == dec.table_entries());
        return a;
    }
};

std::vector<Rep::Kind> kinds(const Bytes& block) {
    std::vector<Rep::Kind> out;
    for (const Rep& r : inspect(block)) out.push_back(r.kind);
    return out;
}

}  // namespace

TEST_CASE("hpack encoder lookup: a static entry keeps its memo, per encoder") {
    hpack::Encoder e;
    hpack::Encoder other;
    const std::vector<Field> fields = {{":method", "GET"}, {":status", "200"}, {"x-new", "1"}};
    CHECK(lookup_memos(e, fields) == std::vector<std::uint8_t>{0, 0, 0});

    const std::uint8_t set[] = {0x05, 0x40, 0x07};
    const Bytes block = encode_with(e, fields, set);
    CHECK(kinds(block) == std::vector<Rep::Kind>{Rep::indexed, Rep::indexed, Rep::incremental});
    // x-new went into the dynamic table with its memo.
    CHECK(lookup_memos(e, fields) == std::vector<std::uint8_t>{0x05, 0x40, 0x07});
    // OR-ed in, never cleared.
    const std::uint8_t more[] = {0x02, 0x00, 0x10};
    encode_with(e, fields, more);
    CHECK(lookup_memos(e, fields) == std::vector<std::uint8_t>{0x07, 0x40, 0x17});
    // Another encoder's static memos are its own.
    CHECK(lookup_memos(other, fields) == std::vector<std::uint8_t>{0, 0, 0});
    // Only a full match counts: same name, other value.
    const std::vector<Field> near = {{":method", "PUT"}, {":status", "201"}, {"x-new", "2"}};
    CHECK(lookup_memos(e, near) == std::vector<std::uint8_t>{0, 0, 0});
}

TEST_CASE("hpack encoder lookup: memos round-trip through dynamic entries and match the decoder's") {
    Twins t;
    std::vector<std::uint8_t> decoder_memos;
    const std::vector<Field> fields = {
        {":authority", "www.example.com"}, {"user-agent", "test/1.0"}, {"accept", "*/*"}, {":path", "/a"}};
    std::vector<std::uint8_t> memos = lookup_memos(t.with, fields);
    CHECK(memos == std::vector<std::uint8_t>{0, 0, 0, 0});
    for (std::size_t i = 0; i < memos.size(); ++i) memos[i] = static_cast<std::uint8_t>(1u << i);
    t.encode(fields, memos.data());
    // :path is sent without indexing, so it has no entry to keep a memo.
    CHECK(lookup_memos(t.with, fields) == std::vector<std::uint8_t>{1, 2, 4, 0});
    CHECK(t.with.table_entries() == 3);

    // Looked up, then encoded from the same span: the same bytes as the twin.
    memos = lookup_memos(t.with, fields);
    const Bytes block = t.encode(fields, memos.data());
    CHECK(kinds(block) == std::vector<Rep::Kind>{Rep::indexed, Rep::indexed, Rep::indexed, Rep::without_indexing});
}

TEST_CASE("hpack encoder lookup: sensitive fields get no memo and stay out of the tables") {
    Twins t;
    const std::vector<Field> fields = {
        {"x-secret", "s3cr3t", true},
        {"authorization", ""},  // a static entry, but §7.1.3 says never indexed
        {"cookie", "a=1"},      // short cookie: sensitive by default
        {"cookie", ""},         // static entry 32, short
        {"proxy-authorization", "basic x"},
        {":method", "GET", true},  // in the static table, but marked sensitive
    };
    const std::vector<std::uint8_t> ones(fields.size(), 1);
    for (int round = 0; round < 3; ++round) {
        CHECK(lookup_memos(t.with, fields) == std::vector<std::uint8_t>(fields.size(), 0));
        const Bytes block = t.encode(fields, ones.data());
        CHECK(kinds(block) == std::vector<Rep::Kind>(fields.size(), Rep::never_indexed));
    }
    CHECK(t.with.table_entries() == 0);
}

TEST_CASE("hpack encoder lookup: a match evicted by an earlier field of the block is not used") {
    // Entries of 32 + 10 + 30 = 72 bytes; the table holds one (the encoder
    // indexes entries up to 3/4 of 100).
    Twins t(cap(100));
    const std::string v1(30, 'a');
    const std::string v2(30, 'b');
    const std::vector<Field> first = {{"x-field-01", v1}};
    t.encode(first);
    REQUIRE(t.with.table_entries() == 1);

    // x-field-01 is in the table when looked up; x-field-02, encoded first,
    // evicts it.
    const std::vector<Field> block = {{"x-field-02", v2}, {"x-field-01", v1}};
    std::vector<std::uint8_t> memos = lookup_memos(t.with, block);
    CHECK(memos == std::vector<std::uint8_t>{0, 0});
    memos = {3, 4};
    const Bytes out = t.encode(block, memos.data());
    CHECK(kinds(out) == std::vector<Rep::Kind>{Rep::incremental, Rep::incremental});
    CHECK(lookup_memos(t.with, std::vector<Field>{{"x-field-01", v1}}) == std::vector<std::uint8_t>{4});
}

TEST_CASE("hpack encoder lookup: a field looked up as new but inserted earlier in the block is indexed") {
    Twins t;
    const std::vector<Field> block = {{"x-twice", "same"}, {"x-twice", "same"}};
    CHECK(lookup_memos(t.with, block) == std::vector<std::uint8_t>{0, 0});
    const std::uint8_t memos[] = {1, 2};
    const Bytes out = t.encode(block, memos);
    CHECK(kinds(out) == std::vector<Rep::Kind>{Rep::incremental, Rep::indexed});
    CHECK(lookup_memos(t.with, block) == std::vector<std::uint8_t>{3, 3});
}

TEST_CASE("hpack encoder lookup: a miss under a never-indexed static name, then other fields at that position") {
    // Position 0 runs through :path values (static entries and misses), the
    // same name marked sensitive, other never-indexed names (one a secret), a
    // name of the same length outside the static table and a name that gets
    // indexed; position 1 keeps a dynamic entry. Each block goes through
    // lookup() and must come out as encode() alone writes it; lookup() gives
    // the memo of each full match.
    struct Step {
        Field field;
        std::uint8_t found;  // lookup()'s memo for it
        std::uint8_t set;    // the memo encode() is given for it
    };
    Twins t;
    const std::vector<Step> steps = {
        {{":path", "/a"}, 0, 0},
        {{":path", "/b"}, 0, 0},
        {{":path", "/"}, 0, 0x01},  // static 4
        {{":path", "/c"}, 0, 0},
        {{":path", "/index.html"}, 0, 0},  // static 5
        {{":path", "/"}, 0x01, 0x01},
        {{":path", "/d", true}, 0, 0},
        {{":path", "/d"}, 0, 0},
        {{"content-length", "0"}, 0, 0},
        {{"content-length", "12"}, 0, 0},
        {{"authorization", "Bearer x"}, 0, 0},
        {{"authorization", "Bearer y"}, 0, 0},
        {{":patj", "/a"}, 0, 0},
        {{":path", "/a"}, 0, 0},
        {{"x-other", "/a"}, 0, 0x02},  // indexed: a dynamic entry
        {{"x-other", "/a"}, 0x02, 0},
        {{":path", "/"}, 0x01, 0},
        {{":path", "/e"}, 0, 0},
    };
    for (const Step& step : steps) {
        CAPTURE(step.field.name);
        CAPTURE(step.field.value);
        const std::vector<Field> block = {step.field, {"x-kept", "v"}};
        const std::vector<std::uint8_t> memos = lookup_memos(t.with, block);
        CHECK(memos[0] == step.found);
        const std::uint8_t set[] = {step.set, 0};
        t.encode(block, set);
    }
}

TEST_CASE("hpack encoder lookup: results are not reused for another span") {
    Twins t;
    std::vector<Field> fields = {{":method", "GET"}, {"x-a", "1"}, {"x-b", "2"}};
    t.encode(fields);  // x-a and x-b are now entries

    SUBCASE("another pointer, same size") {
        t.with.lookup(fields, nullptr);
        const std::vector<Field> other = {{":method", "POST"}, {"x-c", "3"}, {"x-b", "9"}};
        t.encode(other);
    }
    SUBCASE("same pointer, other size, other contents") {
        t.with.lookup(fields, nullptr);
        // Changed in place: a reuse would send GET and x-a.
        fields[0] = {":method", "PUT"};
        fields[1] = {"x-d", "4"};
        const Bytes out = t.encode(std::span<const Field>(fields.data(), 2));
        CHECK(kinds(out) == std::vector<Rep::Kind>{Rep::incremental, Rep::incremental});
    }
    SUBCASE("an encode() in between uses up the results") {
        t.with.lookup(fields, nullptr);
        t.encode(std::vector<Field>{{"x-e", "5"}});
        // A second encode() of the looked-up span probes afresh: the fields
        // changed in place, which a reuse would not see.
        fields[1] = {"x-f", "6"};
        const Bytes out = t.encode(fields);
        CHECK(kinds(out) == std::vector<Rep::Kind>{Rep::indexed, Rep::incremental, Rep::indexed});
    }
}

TEST_CASE("hpack encoder lookup: a table size update between lookup() and encode()") {
    Twins t;
    const std::vector<Field> fields = {{"x-a", "1"}, {"x-b", "2"}, {":scheme", "https"}};
    t.encode(fields);
    REQUIRE(t.with.table_entries() == 2);

    SUBCASE("table emptied") {
        CHECK(lookup_memos(t.with, fields) == std::vector<std::uint8_t>{0, 0, 0});
        t.peer_settings(0);
        const Bytes out = t.encode(fields);
        CHECK(kinds(out) ==
              std::vector<Rep::Kind>{Rep::size_update, Rep::without_indexing, Rep::without_indexing, Rep::indexed});
        CHECK(t.with.table_entries() == 0);
    }
    SUBCASE("table shrunk to one entry, then grown") {
        t.with.lookup(fields, nullptr);
        t.peer_settings(40);
        t.encode(fields);
        t.with.lookup(fields, nullptr);
        t.peer_settings(4096);
        t.encode(fields);
    }
}

TEST_CASE("hpack encoder lookup: lookup() + encode() writes what encode() alone writes on the raw-data stories") {
    const std::vector<fs::path> files = story_files("raw-data");
    REQUIRE(files.size() == 32);

    // 4096 keeps most fields; 256 and 1000 evict all the time, so lookup()
    // results go stale within blocks.
    for (const std::uint32_t table : {4096u, 1000u, 256u, 0u}) {
        CAPTURE(table);
        std::size_t blocks = 0, same = 0, fields_seen = 0, remembered = 0;
        for (const fs::path& file : files) {
            CAPTURE(file.filename().string());
            const json::Value doc = json::parse_file(file.string());
            Twins t(cap(table));
            for (const json::Value& c : doc.find("cases")->arr()) {
                const Headers hs = headers_from_json(*c.find("headers"));
                const std::vector<Field> fields = to_fields(hs);
                std::vector<std::uint8_t> memos = lookup_memos(t.with, fields);
                // Every entry ever matched or inserted got memo 1 below.
                for (const std::uint8_t m : memos) {
                    CHECK(m <= 1);
                    remembered += m;
                }
                std::fill(memos.begin(), memos.end(), std::uint8_t{1});
                const Bytes a = encode_with(t.with, fields, memos.data());
                const Bytes b = encode_with(t.without, fields);
                ++blocks;
                fields_seen += fields.size();
                if (a == b)
                    ++same;
                else
                    FAIL_CHECK(file.filename().string() << ": lookup()+encode() " << to_hex(a) << " vs " << to_hex(b));
                const DecodeResult r = decode_whole(t.dec, a);
                CHECK(r.error == Error::none);
                CHECK(without_flags(r.headers) == hs);
            }
        }
        MESSAGE("table " << table << ": " << same << " / " << blocks << " blocks identical; " << remembered << " of "
                         << fields_seen << " fields had a memo");
        CHECK(same == blocks);
        if (table != 0) CHECK(remembered > 0);
    }
}
