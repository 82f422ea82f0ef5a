// h3::Connection against hostile peers: floods of streams, frames and
// partial input, with memory measured through a counting resource; and the
// same exchange delivered whole, byte by byte and at random splits gives the
// same events.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "h2wire/h3connection.hpp"
#include "h2wire/h3frame.hpp"
#include "h2wire/qpack.hpp"
#include "support/counting_resource.hpp"
#include "support/h3_harness.hpp"

using namespace h2wire;
using h2wire::test_support::as_bytes;
using h2wire::test_support::CountingResource;
using h2wire::test_support::H3Pair;
using h2wire::test_support::H3Record;
using H3Code = h3::ErrorCode;

namespace {

bool is_request(std::uint64_t s) { return (s & 3) == 0; }

std::string vi(std::uint64_t v) {
    std::uint8_t b[8];
    const std::size_t n = h3::write_varint(b, v);
    return std::string(reinterpret_cast<const char*>(b), n);
}
std::string raw(std::uint64_t type, std::string_view payload, std::uint64_t declared = ~std::uint64_t{0}) {
    std::vector<std::uint8_t> out(payload.size() + 20);
    const std::size_t n = h3::write_raw(out, type, declared == ~std::uint64_t{0} ? payload.size() : declared,
                                        as_bytes(payload));
    return std::string(reinterpret_cast<const char*>(out.data()), n);
}
std::string settings_frame(std::string_view entries = "") { return raw(0x4, entries); }

const std::vector<Field> kGet = {{":method", "GET"}, {":scheme", "https"}, {":authority", "a.example"},
                                 {":path", "/"}};
std::string literal_section(const std::vector<Field>& fields) {
    qpack::Encoder enc;
    std::vector<std::uint8_t> out(qpack::Encoder::max_encoded_size(fields));
    const std::size_t n = enc.encode(0, fields, out.data());
    return std::string(reinterpret_cast<const char*>(out.data()), n);
}

/// A server fed raw bytes, its memory counted.
struct Target {
    CountingResource mem;
    h3::Connection conn;
    std::vector<H3Record> events;
    explicit Target(h3::ConnectionConfig c = {}) : conn((c.role = Role::server, c.memory = &mem, c)) {
        REQUIRE(conn.bind_local_streams(3, 7, 11) == ApiError::none);
        feed(2, vi(0) + settings_frame());
    }
    void feed(std::uint64_t stream, std::string_view bytes, bool fin = false) {
        for (const h3::Event& e : conn.receive(stream, as_bytes(bytes), fin)) events.push_back(test_support::record(e));
        while (conn.next_command()) {
        }
        while (auto o = conn.next_output()) REQUIRE(conn.consume_output(o->stream, o->size) == ApiError::none);
    }
    bool terminated(H3Code code) const {
        for (const H3Record& r : events)
            if (r.type == "terminated") return r.code == code;
        return false;
    }
    bool terminated() const {
        for (const H3Record& r : events)
            if (r.type == "terminated") return true;
        return false;
    }
};

}  // namespace

TEST_CASE("h3 attack: HEADERS frames left unfinished on many streams: memory follows the input, up to the limit") {
    h3::ConnectionConfig c;
    c.limits.max_connection_memory = 2 * 1024 * 1024;
    Target t(c);
    const std::size_t base = t.mem.live;
    // Each stream declares a 200 KB section and sends 2 octets of it: the
    // frame buffers grow with what arrives, not with what is declared.
    for (std::uint64_t s = 0; s < 4 * 100; s += 4) t.feed(s, vi(0x1) + vi(200000) + std::string(2, '\0'));
    CHECK_FALSE(t.terminated());
    MESSAGE("100 streams x 2 octets: " << t.mem.live - base << " octets held");
    CHECK(t.mem.live - base <= 100 * 8 * 1024);
    // Then they send more: past max_connection_memory the connection ends.
    std::size_t sent = 0;
    for (int round = 0; round < 50 && !t.terminated(); ++round)
        for (std::uint64_t s = 0; s < 4 * 100 && !t.terminated(); s += 4) {
            t.feed(s, std::string(4000, 'q'));
            sent += 4000;
        }
    MESSAGE("terminated after " << sent << " octets; peak " << t.mem.peak);
    CHECK(t.terminated(H3Code::h3_excessive_load));
    CHECK(t.mem.peak <= base + c.limits.max_connection_memory + 2 * 200000);
}

TEST_CASE("h3 attack: a flood of unknown unidirectional streams leaves nothing behind") {
    Target t;
    t.feed(6, vi(2));   // encoder
    t.feed(10, vi(3));  // decoder
    const std::size_t before = t.mem.live;
    std::uint64_t id = 14;
    for (int i = 0; i < 20000; ++i, id += 4) t.feed(id, vi(h3::grease_value(static_cast<std::uint64_t>(i))) + "junk", i % 2 == 0);
    CHECK_FALSE(t.terminated());
    MESSAGE("live before " << before << ", after 20,000 unknown streams " << t.mem.live);
    CHECK(t.mem.live <= before + 16 * 1024);
}

TEST_CASE("h3 attack: reserved frames on the control stream cost no memory however long") {
    Target t;
    const std::size_t before = t.mem.live;
    const std::string junk = raw(h3::grease_value(9), std::string(1000, 'g'));
    for (int i = 0; i < 2000; ++i) t.feed(2, junk);
    t.feed(2, raw(h3::grease_value(10), "", 1ull << 40));  // a reserved frame declaring a terabyte
    for (int i = 0; i < 100; ++i) t.feed(2, std::string(10000, 'z'));
    CHECK_FALSE(t.terminated());
    CHECK(t.mem.live <= before + 1024);
}

TEST_CASE("h3 attack: open-and-reset floods are dropped without residue") {
    Target t;
    const std::size_t before = t.mem.live;
    for (std::uint64_t s = 0; s < 4 * 20000; s += 4) {
        t.feed(s, raw(0x1, literal_section(kGet)));
        for (const h3::Event& e : t.conn.stream_reset(s, 0x10c)) t.events.push_back(test_support::record(e));
        while (t.conn.next_command()) {
        }
    }
    CHECK_FALSE(t.terminated());
    CHECK(t.conn.open_streams() == 0);
    MESSAGE("live before " << before << ", after 20,000 reset requests " << t.mem.live);
    CHECK(t.mem.live <= before + 64 * 1024);
}

TEST_CASE("h3 attack: more blocked sections than SETTINGS_QPACK_BLOCKED_STREAMS is QPACK_DECOMPRESSION_FAILED") {
    h3::ConnectionConfig c;
    c.settings.qpack_blocked_streams = 3;
    Target t(c);
    // Required Insert Count 1 (encoded 2 with capacity 4096), base 0: blocks.
    const std::string section = std::string("\x02\x00\x80", 3);
    for (std::uint64_t s = 0; s < 4 * 4 && !t.terminated(); s += 4) t.feed(s, raw(0x1, section));
    CHECK(t.terminated(H3Code::qpack_decompression_failed));
}

TEST_CASE("h3 attack: garbage on the QPACK streams") {
    SUBCASE("encoder stream") {
        Target t;
        t.feed(6, vi(2) + std::string("\x3f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11));  // capacity overflow
        CHECK(t.terminated(H3Code::qpack_encoder_stream_error));
    }
    SUBCASE("decoder stream") {
        Target t;
        t.feed(10, vi(3) + std::string("\x81", 1));  // Section Acknowledgment of a stream with none
        CHECK(t.terminated(H3Code::qpack_decoder_stream_error));
    }
    SUBCASE("a second encoder stream") {
        Target t;
        t.feed(6, vi(2));
        t.feed(14, vi(2));
        CHECK(t.terminated(H3Code::h3_stream_creation_error));
    }
}

TEST_CASE("h3 attack: SETTINGS the RFC forbids") {
    SUBCASE("an HTTP/2 setting") {
        H3Pair p;
        p.inject_to_server(2, vi(0) + settings_frame(vi(0x2) + vi(1)));
        REQUIRE(p.server.terminated());
        CHECK(p.server.of("terminated")[0].code == H3Code::h3_settings_error);
    }
    SUBCASE("a second SETTINGS") {
        Target t;
        t.feed(2, settings_frame());
        CHECK(t.terminated(H3Code::h3_frame_unexpected));
    }
    SUBCASE("a request stream id far beyond any stream limit") {
        Target t;
        t.feed(4ull << 40, raw(0x1, literal_section(kGet)));
        CHECK(t.terminated(H3Code::h3_id_error));
    }
}

TEST_CASE("h3 connection: input whole, byte by byte and split anywhere, streams interleaved, gives the same events") {
    // A client's whole output for a few requests (dynamic table in use),
    // captured through the simulated QUIC layer.
    H3Pair p;
    p.bind();
    p.pump();
    const std::vector<Field> post = {{":method", "POST"}, {":scheme", "https"}, {":authority", "a.example"},
                                     {":path", "/up"}, {"content-length", "11"}, {"x-trace", "abc"}};
    for (std::uint64_t s = 0; s < 16; s += 4) {
        REQUIRE(p.client.conn.submit_request(s, post, false));
        REQUIRE(p.client.conn.send_data(s, as_bytes("hello world"), false) == ApiError::none);
        REQUIRE(p.client.conn.send_trailers(s, std::vector<Field>{{"x-checksum", "1"}}) == ApiError::none);
    }
    p.pump();
    const std::map<std::uint64_t, std::string> log = p.to_server.log;
    REQUIRE(log.count(6) == 1);  // the encoder stream was used
    const auto run = [&](int mode, std::uint64_t seed) {
        h3::ConnectionConfig c;
        c.role = Role::server;
        h3::Connection conn(c);
        REQUIRE(conn.bind_local_streams(3, 7, 11) == ApiError::none);
        std::mt19937_64 rng(seed);
        std::map<std::uint64_t, std::vector<std::string>> per_stream;
        std::map<std::uint64_t, std::string> data;
        std::map<std::uint64_t, std::size_t> at;
        const auto take = [&](std::span<const h3::Event> evs) {
            for (const h3::Event& e : evs) {
                H3Record r = test_support::record(e);
                if (r.type == "consumed" || r.type == "settings") continue;
                if (r.type == "data") {
                    data[r.stream] += r.data;
                    continue;
                }
                std::string line = r.type;
                for (auto& [k, v] : r.headers) line += " " + k + "=" + v;
                per_stream[r.stream].push_back(line);
            }
        };
        for (;;) {
            std::vector<std::uint64_t> open;
            for (auto& [s, bytes] : log)
                if (at[s] < bytes.size()) open.push_back(s);
            if (open.empty()) break;
            // mode 0: whole, control/QPACK streams first; 1: byte by byte in
            // stream order; 2: random pieces of random streams.
            const std::uint64_t s = mode == 2 ? open[rng() % open.size()] : open.front();
            const std::string& bytes = log.at(s);
            std::size_t n = bytes.size() - at[s];
            if (mode == 1) n = 1;
            if (mode == 2 && n > 1) n = 1 + rng() % n;
            const bool fin = is_request(s) && at[s] + n == bytes.size();
            take(conn.receive(s, as_bytes(std::string_view(bytes).substr(at[s], n)), fin));
            at[s] += n;
        }
        REQUIRE_FALSE(conn.is_closed());
        for (auto& [s, d] : data) per_stream[s].push_back("data " + d);
        return per_stream;
    };
    const auto whole = run(0, 0);
    REQUIRE(whole.size() == 4);
    CHECK(whole.at(0) == std::vector<std::string>{
                             "request :method=POST :scheme=https :authority=a.example :path=/up content-length=11 "
                             "x-trace=abc",
                             "trailers x-checksum=1", "ended", "data hello world"});
    CHECK(run(1, 0) == whole);
    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
        CAPTURE(seed);
        CHECK(run(2, seed) == whole);
    }
}

TEST_CASE("h3 attack: a receive() full of one-octet DATA frames is stopped before its events outgrow the limit") {
    h3::ConnectionConfig c;
    c.limits.max_connection_memory = 1024 * 1024;
    Target t(c);
    const std::vector<Field> post = {{":method", "POST"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}};
    std::string flood = raw(0x1, literal_section(post));
    for (int i = 0; i < 300000; ++i) flood += raw(0x0, "x");
    t.feed(0, flood);
    CHECK(t.terminated(H3Code::h3_excessive_load));
    MESSAGE("peak " << t.mem.peak << " octets for " << flood.size() << " octets in one receive()");
    CHECK(t.mem.peak <= c.limits.max_connection_memory + 64 * 1024);
    // Empty DATA frames report nothing at all.
    Target u;
    std::string empties = raw(0x1, literal_section(post));
    for (int i = 0; i < 300000; ++i) empties += raw(0x0, "");
    u.feed(0, empties);
    CHECK_FALSE(u.terminated());
    CHECK(u.events.size() < 10);
}
