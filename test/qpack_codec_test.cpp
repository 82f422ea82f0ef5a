// QPACK (RFC 9204) decoder and encoder on their own: every error with its
// HTTP/3 code, fed whole, byte by byte and at random splits; blocked sections
// and their limits; the decoder stream both ways; and a randomized model of a
// connection (reordering, delayed and missing acknowledgments, cancelled
// streams) that checks the encoder's promises: it never blocks more streams
// than allowed, never evicts what the decoder may still need, and every
// section decodes to exactly what was encoded.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "h2wire/qpack.hpp"
#include "support/hpack_test_util.hpp"

using namespace h2wire;
using namespace h2wire::test;
using qpack::Error;

namespace {

/// What decoding one section gave.
struct SectionResult {
    qpack::Status status = qpack::Status::done;
    Error error = Error::none;
    Headers headers;
};

/// Feeds `section` to `d` in the pieces `split` makes.
SectionResult feed_section(qpack::Decoder& d, qpack::Section& s, const Bytes& section, Split split,
                           std::uint64_t seed = 7) {
    Prng rng(seed);
    SectionResult r;
    auto sink = [&](const Field& f) { r.headers.push_back({std::string(f.name), std::string(f.value), f.sensitive}); };
    const auto pieces = split_block(section, split, rng);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        const qpack::Decoded x = d.decode(s, pieces[i], i + 1 == pieces.size(), sink);
        r.status = x.status;
        r.error = x.error;
        if (x.error != Error::none) break;
    }
    return r;
}

/// Feeds encoder-stream bytes to `d` in the pieces `split` makes; the first error.
Error feed_encoder_stream(qpack::Decoder& d, const Bytes& bytes, Split split, std::uint64_t seed = 9) {
    Prng rng(seed);
    for (const auto piece : split_block(bytes, split, rng))
        if (const Error e = d.read_encoder_stream(piece); e != Error::none) return e;
    return Error::none;
}

Error feed_decoder_stream(qpack::Encoder& e, const Bytes& bytes, Split split, std::uint64_t seed = 11) {
    Prng rng(seed);
    for (const auto piece : split_block(bytes, split, rng))
        if (const Error err = e.read_decoder_stream(piece); err != Error::none) return err;
    return Error::none;
}

Bytes output_of(qpack::Decoder& d) {
    const auto out = d.decoder_stream_output();
    Bytes b(out.begin(), out.end());
    d.consume_decoder_stream_output(out.size());
    return b;
}

qpack::DecoderLimits limits_with(std::uint32_t capacity, std::uint32_t blocked = 100) {
    qpack::DecoderLimits l;
    l.max_table_capacity = capacity;
    l.max_blocked_streams = blocked;
    return l;
}

// Encoder-stream bytes: Set Dynamic Table Capacity 220, then Insert with
// Name Reference (static 0 ":authority") "www.example.com", then Insert with
// Literal Name "custom-key: custom-value" (RFC 9204 Appendix B.2, B.3).
const Bytes kInserts = hex("3fbd01 c00f7777772e6578616d706c652e636f6d 4a637573746f6d2d6b65790c637573746f6d2d76616c7565");

}  // namespace

TEST_CASE("qpack: error codes follow the stream the error came from") {
    CHECK(qpack::error_code(Error::none) == 0);
    CHECK(qpack::error_code(Error::truncated) == 0x200);
    CHECK(qpack::error_code(Error::section_too_large) == 0x200);
    CHECK(qpack::error_code(Error::entry_too_large) == 0x201);
    CHECK(qpack::error_code(Error::instruction_too_large) == 0x201);
    CHECK(qpack::error_code(Error::ack_without_section) == 0x202);
    CHECK(qpack::error_code(Error::increment_invalid) == 0x202);
    CHECK_FALSE(qpack::is_fatal(Error::section_too_large));
    CHECK_FALSE(qpack::is_fatal(Error::field_too_large));
    CHECK(qpack::is_fatal(Error::dynamic_index_invalid));
    for (int v = 0; v < 96; ++v) CHECK_FALSE(qpack::to_string(static_cast<Error>(v)).empty());
}

TEST_CASE("qpack: integers of RFC 9204 §4.1.1 up to 2^62 - 1") {
    const std::uint64_t values[] = {0, 1, 30, 31, 32, 126, 127, 128, 255, 16383, 1u << 20, (1ull << 62) - 1};
    for (const int prefix : {3, 4, 5, 6, 7, 8}) {
        for (const std::uint64_t v : values) {
            std::uint8_t buf[10];
            std::uint8_t* end = qpack::wire::encode_integer(buf, v, prefix, 0);
            std::uint64_t got = 0;
            CHECK(qpack::wire::decode_integer(buf, end, prefix, got) == end - buf);
            CHECK(got == v);
            // Every shorter input is incomplete, never an error.
            for (std::uint8_t* cut = buf; cut != end; ++cut) CHECK(qpack::wire::decode_integer(buf, cut, prefix, got) == 0);
        }
    }
    // 2^62 and longer continuations fail.
    std::uint64_t got = 0;
    const Bytes big = hex("ff c0 ff ff ff ff ff ff ff 3f");  // 255 + (2^62 - 64 ...) past the limit
    CHECK(qpack::wire::decode_integer(big.data(), big.data() + big.size(), 8, got) == -1);
    const Bytes eleven = hex("ff 80 80 80 80 80 80 80 80 80 00");
    CHECK(qpack::wire::decode_integer(eleven.data(), eleven.data() + eleven.size(), 8, got) == -1);
}

TEST_CASE("qpack: the static table is RFC 9204 Appendix A") {
    CHECK(qpack::wire::static_entry(0) == Field{":authority", ""});
    CHECK(qpack::wire::static_entry(17) == Field{":method", "GET"});
    CHECK(qpack::wire::static_entry(25) == Field{":status", "200"});
    CHECK(qpack::wire::static_entry(62) == Field{"x-xss-protection", "1; mode=block"});
    CHECK(qpack::wire::static_entry(98) == Field{"x-frame-options", "sameorigin"});
}

TEST_CASE("qpack: field-section errors, whole and split, are fatal and sticky") {
    struct Case {
        const char* section;
        Error error;
        std::size_t fields_before;
    };
    // Sections decoded after kInserts (2 inserts, capacity 220 of a 4096 maximum).
    const Case cases[] = {
        {"", Error::truncated, 0},
        {"00", Error::truncated, 0},                       // qifs err2: no Base
        {"ff", Error::truncated, 0},                       // qifs err1
        {"00ff", Error::truncated, 0},                     // qifs err3
        {"0081", Error::base_negative, 0},                 // qifs err4
        {"000041", Error::dynamic_index_invalid, 0},       // qifs err5: dynamic name with RIC 0
        {"000027", Error::truncated, 0},                   // qifs err6
        {"000051ff", Error::truncated, 0},                 // qifs err7
        {"0000bf", Error::truncated, 0},                   // qifs err8
        {"0000ff24", Error::static_index_invalid, 0},      // static index 99
        {"0000d1 ff80ffffffffffffffff7f", Error::integer_overflow, 1},
        {"0300 82", Error::dynamic_index_invalid, 0},      // RIC 2, Base 2: relative 2 is below id 0
        {"ff01 00", Error::required_insert_count_invalid, 0},  // encoded 256: RIC 255 > 2 + 128, not wrappable
        {"ff02 00", Error::required_insert_count_invalid, 0},  // encoded 257 > 2 * MaxEntries
        {"0000 5f1d 84ffffffff", Error::huffman_eos, 0},
        {"0000 5f1d 81fe", Error::huffman_padding, 0},
        {"0300 81", Error::required_insert_count_unused, 1},  // RIC 2, but only id 0 referenced
        {"0300 10", Error::dynamic_index_invalid, 0},      // post-base index 0 at Base = RIC
        {"0381 10 12", Error::dynamic_index_invalid, 1},   // Base 0: post-base 0 is id 0, post-base 2 is past RIC
        {"0200 5f1d 0161", Error::required_insert_count_unused, 1},  // RIC 1 with no dynamic reference
    };
    for (const Case& c : cases) {
        const Bytes section = hex(c.section);
        CAPTURE(c.section);
        for (const Split split : kAllSplits) {
            CAPTURE(to_string(split));
            qpack::Decoder d(limits_with(4096));
            REQUIRE(feed_encoder_stream(d, kInserts, Split::whole) == Error::none);
            qpack::Section s(4);
            const SectionResult r = feed_section(d, s, section, split);
            CHECK(r.error == c.error);
            CHECK(r.headers.size() == c.fields_before);
            CHECK(qpack::error_code(r.error) == 0x200);
            // Sticky.
            qpack::Section t(8);
            CHECK(feed_section(d, t, hex("0000d1"), Split::whole).error == c.error);
            CHECK(d.read_encoder_stream(hex("00")) == c.error);
        }
    }
}

TEST_CASE("qpack: encoder-stream errors, whole and split, are fatal and sticky") {
    const auto integer = [](std::uint64_t v, int prefix, std::uint8_t first) {
        std::uint8_t buf[10];
        return Bytes(buf, qpack::wire::encode_integer(buf, v, prefix, first));
    };
    struct Case {
        Bytes bytes;
        Error error;
        std::uint32_t max_field_size = 64 * 1024;
    };
    const Case cases[] = {
        {hex("01"), Error::encoder_dynamic_index_invalid},              // qifs err11: Duplicate, empty table
        {hex("ff80ffffffff01"), Error::encoder_static_index_invalid},   // qifs err12
        {hex("3fe21f"), Error::capacity_over_limit},                    // capacity 4097 > 4096
        {hex("c00161"), Error::entry_too_large},                        // insert before any capacity (§3.2.3)
        {hex("3f15 4a637573746f6d2d6b65790c637573746f6d2d76616c7565"), Error::entry_too_large},  // 54 > 52
        {hex("3fe11f c084ffffffff"), Error::encoder_huffman_eos},
        {hex("3fe11f c081fe"), Error::encoder_huffman_padding},
        {hex("3f ffffffffffffffffff7f"), Error::encoder_integer_overflow},
        {concat({hex("3fe11f"), integer(200, 5, 0x40)}), Error::instruction_too_large, 100},  // name of 200 > 100
        {concat({hex("3fe11f c0"), integer(101, 7, 0)}), Error::instruction_too_large, 100},        // value of 101
        // Capacity 64: the second insert evicts the first, then Duplicate of relative 1.
        {hex("3f21 c00161 c00162 01"), Error::encoder_dynamic_index_invalid},
        {hex("3f21 c00161 c00162 81 0163"), Error::encoder_dynamic_index_invalid},  // name reference to it
    };
    for (const Case& c : cases) {
        CAPTURE(to_hex(c.bytes));
        for (const Split split : kAllSplits) {
            CAPTURE(to_string(split));
            qpack::DecoderLimits l = limits_with(4096);
            l.max_field_size = c.max_field_size;
            qpack::Decoder d(l);
            const Error e = feed_encoder_stream(d, c.bytes, split);
            CHECK(e == c.error);
            CHECK(qpack::error_code(e) == 0x201);
            CHECK(d.read_encoder_stream(hex("3f01")) == c.error);
            qpack::Section s(4);
            CHECK(feed_section(d, s, hex("0000d1"), Split::whole).error == c.error);
        }
    }
}

TEST_CASE("qpack: an instruction held across calls is bounded by the field limit") {
    qpack::DecoderLimits l = limits_with(4096);
    l.max_field_size = 1000;
    qpack::Decoder d(l);
    // A literal name announced as 1000 octets, fed slowly: held, then fine.
    Bytes insert = hex("3fe11f");
    std::uint8_t buf[10];
    insert.insert(insert.end(), buf, qpack::wire::encode_integer(buf, 1000, 5, 0x40));
    insert.resize(insert.size() + 1000, 'a');
    insert.push_back(0x01);
    insert.push_back('b');
    for (std::size_t i = 0; i < insert.size(); i += 7)
        REQUIRE(d.read_encoder_stream(std::span(insert).subspan(i, std::min<std::size_t>(7, insert.size() - i))) ==
                Error::none);
    CHECK(d.insert_count() == 1);
    CHECK(d.table_size() == 1000 + 1 + 32);
}

TEST_CASE("qpack: decoder-stream errors at the encoder") {
    struct Case {
        const char* bytes;
        Error error;
    };
    const Case cases[] = {
        {"84", Error::ack_without_section},
        {"00", Error::increment_invalid},
        {"01", Error::increment_invalid},  // no insert was sent
        {"7fffffffffffffffffff7f", Error::decoder_integer_overflow},
    };
    for (const Case& c : cases) {
        CAPTURE(c.bytes);
        for (const Split split : kAllSplits) {
            qpack::Encoder e;
            e.set_peer_settings(4096, 100);
            CHECK(feed_decoder_stream(e, hex(c.bytes), split) == c.error);
            CHECK(qpack::error_code(c.error) == 0x202);
            CHECK(e.read_decoder_stream(hex("40")) == c.error);
        }
    }
    // A Stream Cancellation for a stream with nothing outstanding is fine.
    qpack::Encoder e;
    e.set_peer_settings(4096, 100);
    CHECK(e.read_decoder_stream(hex("48 7f80ffff01")) == Error::none);
}

TEST_CASE("qpack: RFC 9204 Appendix B, with the decoder's instructions") {
    qpack::Decoder d(limits_with(220));
    // B.1: a literal with a static name reference; nothing to acknowledge.
    qpack::Section s0(0);
    SectionResult r = feed_section(d, s0, hex("0000 510b2f696e6465782e68746d6c"), Split::whole);
    CHECK(r.error == Error::none);
    CHECK(r.headers == Headers{{":path", "/index.html"}});
    CHECK(output_of(d).empty());

    // B.2: two inserts, then a section with a post-base and a relative
    // reference; the section arrives first and blocks.
    qpack::Section s4(4);
    r = feed_section(d, s4, hex("0381 10 11"), Split::byte_by_byte);
    CHECK(r.status == qpack::Status::blocked);
    CHECK(d.blocked_sections() == 1);
    CHECK(d.next_unblocked() == nullptr);
    REQUIRE(feed_encoder_stream(d, hex("3fbd01 c00f7777772e6578616d706c652e636f6d c10c2f73616d706c652f70617468"),
                                Split::random) == Error::none);
    CHECK(d.table_size() == 106);
    REQUIRE(d.next_unblocked() == &s4);
    r = feed_section(d, s4, {}, Split::whole);
    CHECK(r.status == qpack::Status::done);
    CHECK(r.headers == Headers{{":authority", "www.example.com"}, {":path", "/sample/path"}});
    CHECK(d.blocked_sections() == 0);
    CHECK(to_hex(output_of(d)) == "84");  // Section Acknowledgment, stream 4

    // B.3: a speculative insert; the decoder reports it with an increment.
    REQUIRE(d.read_encoder_stream(hex("4a637573746f6d2d6b65790c637573746f6d2d76616c7565")) == Error::none);
    CHECK(to_hex(output_of(d)) == "01");  // Insert Count Increment 1

    // B.4: Duplicate, then a section on stream 8 referencing all three.
    REQUIRE(d.read_encoder_stream(hex("02")) == Error::none);
    qpack::Section s8(8);
    r = feed_section(d, s8, hex("0500 80 c1 81"), Split::random);
    CHECK(r.headers == Headers{{":authority", "www.example.com"}, {":path", "/"}, {"custom-key", "custom-value"}});
    CHECK(d.table_size() == 217);
    // The stream is reset after the section: Stream Cancellation, stream 8.
    CHECK(to_hex(output_of(d)) == "88");  // its acknowledgment first
    d.cancel(s8);
    CHECK(to_hex(output_of(d)) == "48");

    // B.5: an insert that evicts the oldest entry.
    REQUIRE(d.read_encoder_stream(hex("810d637573746f6d2d76616c756532")) == Error::none);
    CHECK(d.table_size() == 215);
    CHECK(d.table_entries() == 4);
    CHECK(to_hex(output_of(d)) == "01");  // the section acknowledged the Duplicate; this insert
}

TEST_CASE("qpack: blocked sections: limits, cancellation, destruction") {
    SUBCASE("more blocked streams than allowed is QPACK_DECOMPRESSION_FAILED") {
        qpack::Decoder d(limits_with(4096, 1));
        REQUIRE(d.read_encoder_stream(hex("3fe11f")) == Error::none);
        qpack::Section a(0), b(4);
        CHECK(feed_section(d, a, hex("0200 80"), Split::whole).status == qpack::Status::blocked);
        CHECK(feed_section(d, b, hex("0200 80"), Split::whole).error == Error::too_many_blocked);
    }
    SUBCASE("no blocking allowed at all") {
        qpack::Decoder d(limits_with(4096, 0));
        qpack::Section a(0);
        CHECK(feed_section(d, a, hex("0200 80"), Split::random).error == Error::too_many_blocked);
    }
    SUBCASE("blocked octets over the limit") {
        qpack::DecoderLimits l = limits_with(4096);
        l.max_blocked_octets = 40;
        qpack::Decoder d(l);
        qpack::Section a(0), b(4);
        const Bytes section = concat({hex("0200 80 5f1d 0c"), bytes_of("text/plainxx")});  // 18 octets
        CHECK(feed_section(d, a, section, Split::whole).status == qpack::Status::blocked);
        CHECK(feed_section(d, b, section, Split::byte_by_byte).status == qpack::Status::blocked);
        CHECK(d.blocked_octets() == 36);
        qpack::Section c(8);
        CHECK(feed_section(d, c, section, Split::whole).error == Error::blocked_octets_over_limit);
    }
    SUBCASE("cancelling or destroying a blocked section unblocks it") {
        qpack::Decoder d(limits_with(4096, 2));
        qpack::Section a(0);
        CHECK(feed_section(d, a, hex("0200 80"), Split::whole).status == qpack::Status::blocked);
        {
            qpack::Section b(4);
            CHECK(feed_section(d, b, hex("0300 81 80"), Split::whole).status == qpack::Status::blocked);
            CHECK(d.blocked_sections() == 2);
        }
        CHECK(d.blocked_sections() == 1);
        d.cancel(a);
        CHECK(d.blocked_sections() == 0);
        CHECK(d.blocked_octets() == 0);
        CHECK(to_hex(output_of(d)) == "40");  // Stream Cancellation, stream 0
        // The inserts arrive later: nothing is waiting for them.
        REQUIRE(d.read_encoder_stream(hex("3fe11f c00161 c00162")) == Error::none);
        CHECK(d.next_unblocked() == nullptr);
        // The Section is reusable for the stream's next section.
        CHECK(feed_section(d, a, hex("0200 80"), Split::whole).headers == Headers{{":authority", "a"}});
    }
    SUBCASE("two sections unblock in any order, each when its inserts arrive") {
        qpack::Decoder d(limits_with(4096));
        REQUIRE(d.read_encoder_stream(hex("3fe11f")) == Error::none);
        qpack::Section a(0), b(4);
        CHECK(feed_section(d, a, hex("0300 80"), Split::whole).status == qpack::Status::blocked);  // needs 2
        CHECK(feed_section(d, b, hex("0200 80"), Split::whole).status == qpack::Status::blocked);  // needs 1
        REQUIRE(d.read_encoder_stream(hex("c00161")) == Error::none);
        CHECK(d.next_unblocked() == &b);
        CHECK(feed_section(d, b, {}, Split::whole).headers == Headers{{":authority", "a"}});
        CHECK(d.next_unblocked() == nullptr);
        REQUIRE(d.read_encoder_stream(hex("c00162")) == Error::none);
        CHECK(d.next_unblocked() == &a);
        CHECK(feed_section(d, a, {}, Split::whole).headers == Headers{{":authority", "b"}});
        CHECK(to_hex(output_of(d)) == "8480");
    }
}

TEST_CASE("qpack: the two limits of one section refuse it without closing") {
    qpack::DecoderLimits l = limits_with(4096);
    l.max_field_section_size = 120;
    l.max_field_size = 60;
    qpack::Decoder d(l);
    REQUIRE(d.read_encoder_stream(hex("3fe11f c00161")) == Error::none);
    qpack::Section s(4);
    // Fields of 56, 56 and 43 octets (§4.2.2 of RFC 9114): the third passes 120.
    const Bytes big = concat({hex("0200 5f1d 0c"), bytes_of("text/plainxy"), hex("5f1d 0c"), bytes_of("text/plainxy"),
                              hex("80")});
    SectionResult r = feed_section(d, s, big, Split::random);
    CHECK(r.error == Error::section_too_large);
    CHECK(r.headers.size() == 2);
    CHECK(to_hex(output_of(d)) == "84");  // still acknowledged: the encoder may let the entry go
    // A piece-by-piece section longer than the limit in encoded octets.
    Bytes longer = hex("0000");
    for (int i = 0; i < 20; ++i) longer.insert(longer.end(), {0xd1, 0xd1, 0xd1, 0xd1, 0xd1, 0xd1});
    qpack::Section t(8);
    CHECK(feed_section(d, t, longer, Split::byte_by_byte).error == Error::section_too_large);
    // One field over 60.
    qpack::Section u(12);
    r = feed_section(d, u, concat({hex("0000 5f1d 32"), Bytes(50, 'x')}), Split::whole);  // 12 + 50 > 60
    CHECK(r.error == Error::field_too_large);
    // And the connection goes on.
    qpack::Section w(16);
    CHECK(feed_section(d, w, hex("0000 d1"), Split::whole).headers == Headers{{":method", "GET"}});
}

TEST_CASE("qpack: sensitive fields go out never-indexed and are never inserted") {
    qpack::Encoder e;
    e.set_peer_settings(4096, 100);
    qpack::Decoder d(limits_with(4096));
    const std::vector<Field> fields = {{"authorization", "Bearer abc"},
                                       {"cookie", "short=1"},
                                       {"x-secret", "s3cr3t", true},
                                       {"proxy-authorization", "Basic xyz"},
                                       {"x-plain", "visible"}};
    for (int round = 0; round < 2; ++round) {
        Bytes section;
        e.encode(0, fields, section);
        const auto es = e.encoder_stream_output();
        REQUIRE(d.read_encoder_stream(es) == Error::none);
        e.consume_encoder_stream_output(es.size());
        qpack::Section s(0);
        const SectionResult r = feed_section(d, s, section, Split::whole);
        REQUIRE(r.error == Error::none);
        CHECK(r.headers == Headers{{"authorization", "Bearer abc", true},
                                   {"cookie", "short=1", true},
                                   {"x-secret", "s3cr3t", true},
                                   {"proxy-authorization", "Basic xyz", true},
                                   {"x-plain", "visible", false}});
        REQUIRE(e.read_decoder_stream(d.decoder_stream_output()) == Error::none);
        d.consume_decoder_stream_output(d.decoder_stream_output().size());
    }
    CHECK(e.table_entries() == 1);  // x-plain only
}

TEST_CASE("qpack: an encoder with the table off writes nothing on the encoder stream") {
    for (const std::uint32_t capacity : {0u, 31u}) {
        qpack::Encoder e;
        e.set_peer_settings(capacity, 100);
        Bytes section;
        e.encode(0, std::vector<Field>{{"x-custom", "v"}, {":method", "GET"}}, section);
        CHECK(e.encoder_stream_output().empty());
        CHECK(to_hex(std::span(section).first(2)) == "0000");
        CHECK(e.capacity() == 0);
    }
}

namespace {

/// One simulated HTTP/3 connection's QPACK traffic in one direction: the
/// encoder stream, the request streams and the decoder stream each deliver
/// late, in random pieces, and the request streams in any order among
/// themselves (QUIC orders bytes within a stream only). Some streams are
/// reset before their section is read.
struct ModelRun {
    std::uint32_t capacity;
    std::uint32_t blocked;
    std::uint64_t seed;
    int ack_delay;  // decoder-stream bytes reach the encoder after this many steps (-1: never)
};

struct InFlight {
    std::uint64_t stream_id;
    Bytes section;
    Headers want;
    std::unique_ptr<qpack::Section> reader;
    bool started = false;
};

void run_model(const ModelRun& m) {
    CAPTURE(m.capacity);
    CAPTURE(m.blocked);
    CAPTURE(m.seed);
    CAPTURE(m.ack_delay);
    Prng rng(m.seed);
    qpack::Encoder enc;
    enc.set_peer_settings(m.capacity, m.blocked);
    qpack::Decoder dec(limits_with(m.capacity, m.blocked));

    static const char* const names[] = {"x-a", "x-b", "user-agent", "accept", ":path", "cookie", "x-long-name-c",
                                        "content-type", "x-d", "via"};
    static const char* const values[] = {"1", "text/html", "some value", "another, longer value of the field",
                                         "*/*", "gzip", "z", ""};
    Bytes encoder_stream;  // written, not yet delivered
    std::deque<std::pair<int, Bytes>> decoder_stream;  // (step due, bytes)
    std::vector<InFlight> flights;
    std::size_t decoded = 0;

    const auto deliver_encoder_stream = [&](std::size_t n) {
        REQUIRE(dec.read_encoder_stream(std::span(encoder_stream).first(n)) == Error::none);
        encoder_stream.erase(encoder_stream.begin(), encoder_stream.begin() + static_cast<std::ptrdiff_t>(n));
        while (qpack::Section* s = dec.next_unblocked()) {
            auto it = std::find_if(flights.begin(), flights.end(), [&](const InFlight& f) { return f.reader.get() == s; });
            REQUIRE(it != flights.end());
            Headers got;
            const qpack::Decoded r = dec.decode(*s, {}, true, [&](const Field& f) {
                got.push_back({std::string(f.name), std::string(f.value), f.sensitive});
            });
            REQUIRE(r.error == Error::none);
            REQUIRE(r.status == qpack::Status::done);
            CHECK(got == it->want);
            ++decoded;
            flights.erase(it);
        }
    };
    const auto deliver_section = [&](std::size_t i) {
        InFlight& f = flights[i];
        f.started = true;
        const SectionResult r = feed_section(dec, *f.reader, f.section, rng.one_in(2) ? Split::random : Split::whole,
                                             rng.next());
        REQUIRE(r.error == Error::none);
        if (r.status == qpack::Status::blocked) return;
        REQUIRE(r.status == qpack::Status::done);
        CHECK(r.headers == f.want);
        ++decoded;
        flights.erase(flights.begin() + static_cast<std::ptrdiff_t>(i));
    };

    for (int step = 0; step < 300; ++step) {
        // A new section on a new stream.
        std::vector<Field> fields;
        Headers want;
        std::vector<std::string> unique;
        unique.reserve(12);
        const std::size_t count = 1 + rng.below(10);
        for (std::size_t k = 0; k < count; ++k) {
            Field f{names[rng.below(std::size(names))], values[rng.below(std::size(values))]};
            if (rng.one_in(6)) {
                unique.push_back("v" + std::to_string(rng.next() % 100000));
                f.value = unique.back();
            }
            f.sensitive = rng.one_in(15);
            fields.push_back(f);
            const bool secret = f.sensitive || (f.name == "cookie" && f.value.size() < 20);
            want.push_back({std::string(f.name), std::string(f.value), secret});
        }
        const std::uint64_t id = 4 * static_cast<std::uint64_t>(step);
        Bytes section;
        enc.encode(id, fields, section);
        CHECK(enc.blocked_streams() <= m.blocked);
        const auto out = enc.encoder_stream_output();
        encoder_stream.insert(encoder_stream.end(), out.begin(), out.end());
        enc.consume_encoder_stream_output(out.size());
        flights.push_back({id, std::move(section), std::move(want), std::make_unique<qpack::Section>(id)});

        // Deliveries, in random order and amounts.
        if (!encoder_stream.empty() && rng.one_in(2)) deliver_encoder_stream(rng.below(encoder_stream.size() + 1));
        for (int k = 0; k < 2 && !flights.empty(); ++k) {
            const std::size_t i = rng.below(flights.size());
            if (!flights[i].started && rng.one_in(2)) deliver_section(i);
        }
        // Now and then a stream is reset before or while its section waits.
        if (!flights.empty() && rng.one_in(20)) {
            const std::size_t i = rng.below(flights.size());
            dec.cancel(*flights[i].reader);
            flights.erase(flights.begin() + static_cast<std::ptrdiff_t>(i));
        }
        // The decoder stream, late.
        const auto back = dec.decoder_stream_output();
        if (!back.empty()) {
            decoder_stream.emplace_back(step + m.ack_delay, Bytes(back.begin(), back.end()));
            dec.consume_decoder_stream_output(back.size());
        }
        while (m.ack_delay >= 0 && !decoder_stream.empty() && decoder_stream.front().first <= step) {
            REQUIRE(feed_decoder_stream(enc, decoder_stream.front().second, Split::random, rng.next()) == Error::none);
            decoder_stream.pop_front();
        }
    }
    // Everything arrives in the end.
    deliver_encoder_stream(encoder_stream.size());
    while (!flights.empty()) {
        REQUIRE_FALSE(flights.front().started);
        deliver_section(0);
    }
    CHECK(dec.blocked_sections() == 0);
    CHECK(decoded > 200);
    if (m.capacity >= 256 && m.ack_delay >= 0) CHECK(enc.table_entries() > 0);
}

}  // namespace

TEST_CASE("qpack: model: reordered streams, late and missing acknowledgments, resets") {
    for (const std::uint32_t capacity : {0u, 64u, 256u, 4096u})
        for (const std::uint32_t blocked : {0u, 1u, 100u})
            for (const int ack_delay : {0, 3, 40, -1})
                for (std::uint64_t seed = 1; seed <= 3; ++seed) run_model({capacity, blocked, seed, ack_delay});
}

TEST_CASE("qpack: the encoder evicts only acknowledged, unreferenced entries (§2.1.1)") {
    // Room for one entry of 32 + 3 + 10 = 45 octets in a capacity of 64.
    qpack::Encoder enc;
    enc.set_peer_settings(64, 0);
    qpack::Decoder dec(limits_with(64, 0));
    REQUIRE(dec.read_encoder_stream(enc.encoder_stream_output()) == Error::none);
    enc.consume_encoder_stream_output(enc.encoder_stream_output().size());
    const auto encode = [&](std::uint64_t stream, std::string_view value) {
        Bytes section;
        const Field f{"x-a", value};
        enc.encode(stream, std::span(&f, 1), section);
        return section;
    };
    encode(0, "0123456789");
    CHECK(enc.insert_count() == 1);
    // Not acknowledged: a second value may not evict it, and goes as a literal.
    encode(4, "abcdefghij");
    CHECK(enc.insert_count() == 1);
    // The decoder receives the insert and says so (Insert Count Increment).
    REQUIRE(dec.read_encoder_stream(enc.encoder_stream_output()) == Error::none);
    enc.consume_encoder_stream_output(enc.encoder_stream_output().size());
    REQUIRE(enc.read_decoder_stream(dec.decoder_stream_output()) == Error::none);
    dec.consume_decoder_stream_output(dec.decoder_stream_output().size());
    CHECK(enc.known_received_count() == 1);
    // Acknowledged now, it is referenced; while that section is unacknowledged,
    // the entry stays.
    const Bytes referencing = encode(8, "0123456789");
    CHECK(enc.unacknowledged_sections() == 1);
    // A new value may not evict it; it goes as a literal naming the entry,
    // which references it too.
    const Bytes naming = encode(12, "klmnopqrst");
    CHECK(enc.insert_count() == 1);
    CHECK(enc.unacknowledged_sections() == 2);
    qpack::Section s(8), t(12);
    SectionResult r = feed_section(dec, s, referencing, Split::whole);
    REQUIRE(r.error == Error::none);
    CHECK(r.headers == Headers{{"x-a", "0123456789"}});
    r = feed_section(dec, t, naming, Split::whole);
    REQUIRE(r.error == Error::none);
    CHECK(r.headers == Headers{{"x-a", "klmnopqrst"}});
    CHECK(to_hex(dec.decoder_stream_output()) == "888c");
    REQUIRE(enc.read_decoder_stream(output_of(dec)) == Error::none);
    CHECK(enc.unacknowledged_sections() == 0);
    // Acknowledged and unreferenced: a new value replaces it, the second
    // time it is seen (a value seen once does not push entries out).
    const Bytes first = encode(16, "uvwxyz0123");
    CHECK(enc.insert_count() == 1);
    qpack::Section u(16);  // it named the entry: acknowledge it, as a peer would
    REQUIRE(feed_section(dec, u, first, Split::whole).error == Error::none);
    REQUIRE(enc.read_decoder_stream(dec.decoder_stream_output()) == Error::none);
    encode(20, "uvwxyz0123");
    CHECK(enc.insert_count() == 2);
    CHECK(enc.table_entries() == 1);
}

// ---------------------------------------------------------------------------
// Hostile encoders: memory stays within what the limits imply, whatever the
// input and however it is split.

#include "support/counting_resource.hpp"

namespace {

qpack::DecoderLimits small_limits() {
    qpack::DecoderLimits l;
    l.max_table_capacity = 4096;
    l.max_blocked_streams = 100;
    l.max_field_section_size = 16 * 1024;
    l.max_field_size = 8 * 1024;
    l.max_blocked_octets = 32 * 1024;
    return l;
}

/// The most a decoder with `l` may hold: the table (at most twice its
/// capacity, plus a descriptor per entry), Huffman scratch for two strings,
/// one incomplete instruction plus a slice of input, blocked sections, and
/// the decoder-stream output of the sections (a few octets each).
std::size_t decoder_bound(const qpack::DecoderLimits& l, std::size_t sections) {
    const std::size_t table = 2 * l.max_table_capacity + 16 * (l.max_table_capacity / 32 + 8) * 2;
    const std::size_t scratch = 2 * (l.max_field_size * 8 / 5 + 4) * 2;
    const std::size_t pending = 2 * (l.max_field_size + 30 + 4096);
    return table + scratch + pending + 2 * l.max_blocked_octets + 16 * sections + 4096;
}

}  // namespace

TEST_CASE("qpack attack: inserts of the largest entries, evicting each other") {
    test_support::CountingResource mr;
    const qpack::DecoderLimits l = small_limits();
    {
        qpack::Decoder d(l, &mr);
        Bytes stream = hex("3fe11f");  // capacity 4096
        std::uint8_t buf[10];
        for (int i = 0; i < 300; ++i) {
            // Insert with Literal Name: 10-octet name, 4000-octet value.
            stream.insert(stream.end(), buf, qpack::wire::encode_integer(buf, 10, 5, 0x40));
            const std::string name = "x-big-" + std::to_string(1000 + i);
            stream.insert(stream.end(), name.begin(), name.end());
            stream.insert(stream.end(), buf, qpack::wire::encode_integer(buf, 4000, 7, 0));
            stream.insert(stream.end(), 4000, static_cast<std::uint8_t>('a' + i % 26));
        }
        REQUIRE(feed_encoder_stream(d, stream, Split::random) == Error::none);
        CHECK(d.insert_count() == 300);
        CHECK(d.table_entries() == 1);
        CHECK(mr.peak <= decoder_bound(l, 0));
    }
    CHECK(mr.live == 0);
}

TEST_CASE("qpack attack: Duplicate flood of the largest entry") {
    test_support::CountingResource mr;
    const qpack::DecoderLimits l = small_limits();
    qpack::Decoder d(l, &mr);
    Bytes stream = hex("3fe11f 5f00");  // capacity 4096; Insert with Literal Name, name length 31
    stream.insert(stream.end(), 31, 'n');
    std::uint8_t buf[10];
    stream.insert(stream.end(), buf, qpack::wire::encode_integer(buf, 4000, 7, 0));
    stream.insert(stream.end(), 4000, 'v');
    REQUIRE(d.read_encoder_stream(stream) == Error::none);
    // Duplicate of the newest entry, 100,000 times: each one octet that
    // copies 4,031. The copies the stream has not paid for end it.
    const Bytes dups(100000, 0x00);
    const Error e = feed_encoder_stream(d, dups, Split::random);
    CHECK(e == Error::excessive_copying);
    CHECK(qpack::error_code(e) == 0x107);  // H3_EXCESSIVE_LOAD
    // About (allowance + octets read) / entry: 64 KiB + 4 KiB over 4,031.
    CHECK(d.insert_count() < 1 + (l.copy_allowance + 4100 + 100) / 4031 + 1);
    CHECK(d.table_entries() == 1);
    CHECK(mr.peak <= decoder_bound(l, 0));
}

TEST_CASE("qpack attack: as many blocked sections as allowed, each as large as allowed") {
    test_support::CountingResource mr;
    const qpack::DecoderLimits l = small_limits();
    qpack::Decoder d(l, &mr);
    REQUIRE(d.read_encoder_stream(hex("3fe11f")) == Error::none);
    // Sections that need inserts that never come, padded with static references.
    Bytes section = hex("6500");  // Required Insert Count 100 (encoded 101): the inserts never come
    section.resize(1000, 0xd1);
    std::deque<qpack::Section> sections;
    Error last = Error::none;
    for (std::uint64_t i = 0; i < 200 && last == Error::none; ++i) {
        sections.emplace_back(4 * i);
        const SectionResult r = feed_section(d, sections.back(), section, i % 2 ? Split::random : Split::whole);
        last = r.error;
        if (last == Error::none) CHECK(r.status == qpack::Status::blocked);
    }
    // 32 sections of 1,000 octets fit the 32 KiB of blocked octets; the 33rd does not.
    CHECK(last == Error::blocked_octets_over_limit);
    CHECK(sections.size() == 33);
    CHECK(mr.peak <= decoder_bound(l, 200));
}

TEST_CASE("qpack attack: sections in pieces on many streams, never ended") {
    test_support::CountingResource mr;
    const qpack::DecoderLimits l = small_limits();
    qpack::Decoder d(l, &mr);
    std::deque<qpack::Section> sections;
    const Bytes piece(1000, 0xd1);
    for (std::uint64_t i = 0; i < 20; ++i) {
        sections.emplace_back(4 * i);
        for (int k = 0; k < 65; ++k) {
            const qpack::Decoded r = d.decode(sections.back(), piece, false, [](const Field&) {});
            CHECK(r.error == Error::none);
            CHECK(r.status == qpack::Status::partial);
        }
        // The 66th piece passes 4 x max_field_section_size + 20 octets, more
        // than any section within the limit encodes to: refused, not fatal.
        CHECK(d.decode(sections.back(), piece, false, [](const Field&) {}).error == Error::section_too_large);
    }
    // What a caller's streams hold is theirs to bound (one section each);
    // once released, nothing stays.
    sections.clear();
    CHECK(mr.live <= decoder_bound(l, 0));
}
