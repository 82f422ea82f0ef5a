// frame::Reader: every validation rule with its code and its classification
// (RFC 9113 §5.4), what is accepted and ignored, the DATA streaming contract,
// buffering, allocation, and split invariance.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "h2wire/frame.hpp"
#include "support/frame_builder.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::frame_test;
using frame::Type;
namespace fl = frame::flags;

constexpr auto conn = false;
constexpr auto strm = true;

struct Rule {
    const char* name;
    ByteVec wire;
    ErrorCode code;
    bool stream_error;
    frame::ReaderOptions options{};
};

frame::ReaderOptions peer(frame::PeerRole r) {
    frame::ReaderOptions o;
    o.peer = r;
    return o;
}
frame::ReaderOptions lone() {
    frame::ReaderOptions o;
    o.check_continuation = false;
    return o;
}

constexpr ErrorCode PROTOCOL = ErrorCode::protocol_error;
constexpr ErrorCode FRAME_SIZE = ErrorCode::frame_size_error;
constexpr ErrorCode FLOW = ErrorCode::flow_control_error;

std::vector<Rule> rules() {
    const ByteVec headers_open = FrameBuilder(Type::headers, 0, 1).str("ab");  // no END_HEADERS
    return {
        // RFC 9113 §4.2: over SETTINGS_MAX_FRAME_SIZE, any type; the header alone decides.
        {"DATA over max frame size", FrameBuilder(Type::data, 0, 1).length(16385), FRAME_SIZE, conn},
        {"HEADERS over max frame size", FrameBuilder(Type::headers, fl::end_headers, 1).length(16385), FRAME_SIZE,
         conn},
        {"SETTINGS over max frame size", FrameBuilder(Type::settings, 0, 0).length(16386), FRAME_SIZE, conn},
        {"unknown type over max frame size", FrameBuilder(0x42, 0, 3).length(1 << 20), FRAME_SIZE, conn},
        {"PRIORITY over max frame size", FrameBuilder(Type::priority, 0, 3).length(16385), FRAME_SIZE, conn},
        // RFC 9113 §6.1
        {"DATA on stream 0", FrameBuilder(Type::data, 0, 0).str("x"), PROTOCOL, conn},
        {"DATA padded without Pad Length", FrameBuilder(Type::data, fl::padded, 1), FRAME_SIZE, conn},
        {"DATA padding equal to payload", FrameBuilder(Type::data, fl::padded, 1).u8(3).zeros(2), PROTOCOL, conn},
        {"DATA padding over payload", FrameBuilder(Type::data, fl::padded, 1).u8(200).zeros(9), PROTOCOL, conn},
        // RFC 9113 §6.2
        {"HEADERS on stream 0", FrameBuilder(Type::headers, fl::end_headers, 0).str("x"), PROTOCOL, conn},
        {"HEADERS padded without Pad Length", FrameBuilder(Type::headers, fl::padded | fl::end_headers, 1), FRAME_SIZE,
         conn},
        {"HEADERS priority too short", FrameBuilder(Type::headers, fl::priority | fl::end_headers, 1).u32(3),
         FRAME_SIZE, conn},
        {"HEADERS padded+priority too short",
         FrameBuilder(Type::headers, fl::priority | fl::padded | fl::end_headers, 1).u8(0).u32(3), FRAME_SIZE, conn},
        {"HEADERS padding equal to payload",
         FrameBuilder(Type::headers, fl::padded | fl::end_headers, 1).u8(4).zeros(3), PROTOCOL, conn},
        {"HEADERS padding past priority fields",
         FrameBuilder(Type::headers, fl::padded | fl::priority | fl::end_headers, 1).u8(2).u32(3).u8(7).u8(0), PROTOCOL,
         conn},
        // RFC 9113 §6.3
        {"PRIORITY on stream 0", FrameBuilder(Type::priority, 0, 0).u32(1).u8(0), PROTOCOL, conn},
        {"PRIORITY length 4", FrameBuilder(Type::priority, 0, 3).u32(1), FRAME_SIZE, strm},
        {"PRIORITY length 6", FrameBuilder(Type::priority, 0, 3).u32(1).u8(0).u8(0), FRAME_SIZE, strm},
        {"PRIORITY length 0", FrameBuilder(Type::priority, 0, 3), FRAME_SIZE, strm},
        // RFC 7540 §5.3.1
        {"PRIORITY depends on itself", FrameBuilder(Type::priority, 0, 5).u32(5).u8(16), PROTOCOL, strm},
        {"PRIORITY depends on itself, exclusive", FrameBuilder(Type::priority, 0, 5).u32(0x80000005).u8(16), PROTOCOL,
         strm},
        // RFC 9113 §6.4
        {"RST_STREAM on stream 0", FrameBuilder(Type::rst_stream, 0, 0).u32(8), PROTOCOL, conn},
        {"RST_STREAM length 3", FrameBuilder(Type::rst_stream, 0, 1).u8(0).u16(8), FRAME_SIZE, conn},
        {"RST_STREAM length 5", FrameBuilder(Type::rst_stream, 0, 1).u32(8).u8(0), FRAME_SIZE, conn},
        // RFC 9113 §6.5
        {"SETTINGS on stream 1", FrameBuilder(Type::settings, 0, 1), PROTOCOL, conn},
        {"SETTINGS ACK with payload", FrameBuilder(Type::settings, fl::ack, 0).setting(1, 0), FRAME_SIZE, conn},
        {"SETTINGS length 7", FrameBuilder(Type::settings, 0, 0).setting(1, 0).u8(0), FRAME_SIZE, conn},
        {"SETTINGS length 5", FrameBuilder(Type::settings, 0, 0).u8(0).u32(0), FRAME_SIZE, conn},
        // RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1
        {"ENABLE_PUSH 2", FrameBuilder(Type::settings, 0, 0).setting(2, 2), PROTOCOL, conn},
        {"INITIAL_WINDOW_SIZE 2^31", FrameBuilder(Type::settings, 0, 0).setting(4, 0x80000000u), FLOW, conn},
        {"INITIAL_WINDOW_SIZE 2^32-1", FrameBuilder(Type::settings, 0, 0).setting(4, 0xffffffffu), FLOW, conn},
        {"MAX_FRAME_SIZE 2^14-1", FrameBuilder(Type::settings, 0, 0).setting(5, 16383), PROTOCOL, conn},
        {"MAX_FRAME_SIZE 2^24", FrameBuilder(Type::settings, 0, 0).setting(5, 1u << 24), PROTOCOL, conn},
        {"MAX_FRAME_SIZE 0", FrameBuilder(Type::settings, 0, 0).setting(5, 0), PROTOCOL, conn},
        {"ENABLE_CONNECT_PROTOCOL 2", FrameBuilder(Type::settings, 0, 0).setting(8, 2), PROTOCOL, conn},
        {"NO_RFC7540_PRIORITIES 2", FrameBuilder(Type::settings, 0, 0).setting(9, 2), PROTOCOL, conn},
        {"bad value after good ones", FrameBuilder(Type::settings, 0, 0).setting(1, 0).setting(3, 100).setting(2, 7),
         PROTOCOL, conn},
        {"ENABLE_PUSH 1 from a server", FrameBuilder(Type::settings, 0, 0).setting(2, 1), PROTOCOL, conn,
         peer(frame::PeerRole::server)},
        // RFC 9113 §6.6, §5.1.1, §8.4
        {"PUSH_PROMISE on stream 0", FrameBuilder(Type::push_promise, fl::end_headers, 0).u32(2), PROTOCOL, conn},
        {"PUSH_PROMISE length 3", FrameBuilder(Type::push_promise, fl::end_headers, 1).u8(0).u16(2), FRAME_SIZE, conn},
        {"PUSH_PROMISE padded length 4",
         FrameBuilder(Type::push_promise, fl::padded | fl::end_headers, 1).u8(0).u16(0).u8(2), FRAME_SIZE, conn},
        {"PUSH_PROMISE padding too long",
         FrameBuilder(Type::push_promise, fl::padded | fl::end_headers, 1).u8(2).u32(2).u8(0), PROTOCOL, conn},
        {"PUSH_PROMISE promises stream 0", FrameBuilder(Type::push_promise, fl::end_headers, 1).u32(0), PROTOCOL, conn},
        {"PUSH_PROMISE promises 0 with reserved bit",
         FrameBuilder(Type::push_promise, fl::end_headers, 1).u32(0x80000000u), PROTOCOL, conn},
        {"PUSH_PROMISE odd id from a server", FrameBuilder(Type::push_promise, fl::end_headers, 1).u32(3), PROTOCOL,
         conn, peer(frame::PeerRole::server)},
        {"PUSH_PROMISE from a client", FrameBuilder(Type::push_promise, fl::end_headers, 1).u32(2), PROTOCOL, conn,
         peer(frame::PeerRole::client)},
        // RFC 9113 §6.7
        {"PING on stream 1", FrameBuilder(Type::ping, 0, 1).zeros(8), PROTOCOL, conn},
        {"PING length 7", FrameBuilder(Type::ping, 0, 0).zeros(7), FRAME_SIZE, conn},
        {"PING length 9", FrameBuilder(Type::ping, fl::ack, 0).zeros(9), FRAME_SIZE, conn},
        // RFC 9113 §6.8
        {"GOAWAY on stream 1", FrameBuilder(Type::goaway, 0, 1).u32(0).u32(0), PROTOCOL, conn},
        {"GOAWAY length 7", FrameBuilder(Type::goaway, 0, 0).u32(0).u16(0).u8(0), FRAME_SIZE, conn},
        {"GOAWAY length 0", FrameBuilder(Type::goaway, 0, 0), FRAME_SIZE, conn},
        // RFC 9113 §6.9
        {"WINDOW_UPDATE length 3 on stream", FrameBuilder(Type::window_update, 0, 1).u16(0).u8(1), FRAME_SIZE, conn},
        {"WINDOW_UPDATE length 5 on stream 0", FrameBuilder(Type::window_update, 0, 0).u32(1).u8(0), FRAME_SIZE, conn},
        {"WINDOW_UPDATE increment 0 on stream 0", FrameBuilder(Type::window_update, 0, 0).u32(0), PROTOCOL, conn},
        {"WINDOW_UPDATE increment 0 on a stream", FrameBuilder(Type::window_update, 0, 7).u32(0), PROTOCOL, strm},
        {"WINDOW_UPDATE increment 0 with reserved bit", FrameBuilder(Type::window_update, 0, 7).u32(0x80000000u),
         PROTOCOL, strm},
        // RFC 9113 §6.10
        {"CONTINUATION on stream 0", FrameBuilder(Type::continuation, fl::end_headers, 0), PROTOCOL, conn, lone()},
        {"CONTINUATION without a header block", FrameBuilder(Type::continuation, fl::end_headers, 1).str("x"), PROTOCOL,
         conn},
        {"PING inside a header block", concat({headers_open, FrameBuilder(Type::ping, 0, 0).zeros(8)}), PROTOCOL, conn},
        {"DATA inside a header block", concat({headers_open, FrameBuilder(Type::data, 0, 1).str("x")}), PROTOCOL, conn},
        {"HEADERS inside a header block", concat({headers_open, FrameBuilder(Type::headers, fl::end_headers, 3)}),
         PROTOCOL, conn},
        {"unknown type inside a header block", concat({headers_open, FrameBuilder(0x42, 0, 1)}), PROTOCOL, conn},
        {"CONTINUATION of another stream",
         concat({headers_open, FrameBuilder(Type::continuation, fl::end_headers, 3).str("x")}), PROTOCOL, conn},
        {"CONTINUATION after END_HEADERS",
         concat({FrameBuilder(Type::headers, fl::end_headers, 1).str("x"),
                 FrameBuilder(Type::continuation, fl::end_headers, 1).str("x")}),
         PROTOCOL, conn},
        {"PUSH_PROMISE block interrupted",
         concat({FrameBuilder(Type::push_promise, 0, 1).u32(2), FrameBuilder(Type::priority, 0, 3).u32(1).u8(0)}),
         PROTOCOL, conn},
        // RFC 9218 §7.1
        {"PRIORITY_UPDATE on stream 1", FrameBuilder(Type::priority_update, 0, 1).u32(1).str("u=1"), PROTOCOL, conn},
        {"PRIORITY_UPDATE length 3", FrameBuilder(Type::priority_update, 0, 0).u16(0).u8(1), FRAME_SIZE, conn},
        {"PRIORITY_UPDATE for stream 0", FrameBuilder(Type::priority_update, 0, 0).u32(0).str("u=1"), PROTOCOL, conn},
        {"PRIORITY_UPDATE from a server", FrameBuilder(Type::priority_update, 0, 0).u32(1).str("u=1"), PROTOCOL, conn,
         peer(frame::PeerRole::server)},
    };
}

TEST_CASE("frame reader: each validation rule gives its code and classification") {
    for (const Rule& rule : rules()) {
        CAPTURE(rule.name);
        // The last item of the transcript is the error, in every split.
        const Transcript t = run_all_splits(rule.wire, rule.options, 3);
        REQUIRE(!t.lines.empty());
        const std::string& last = t.lines.back();
        const std::string kind = rule.stream_error ? "STREAM_ERROR" : "CONNECTION_ERROR";
        CHECK_MESSAGE(last.rfind(kind, 0) == 0, last);
        CHECK_MESSAGE(last.find(std::string(" ") + std::string(to_string(rule.code)) + " ") != std::string::npos, last);
        CHECK(t.failed == !rule.stream_error);

        // And the error item itself, read whole.
        frame::Reader reader(rule.options);
        std::span<const std::uint8_t> in(rule.wire);
        frame::ReadResult r;
        do {
            r = reader.read(in);
            in = in.subspan(r.consumed);
        } while (r.status == frame::ReadStatus::frame);
        if (rule.stream_error) {
            REQUIRE(r.status == frame::ReadStatus::stream_error);
            CHECK(r.stream_error.code == rule.code);
            CHECK(r.stream_error.stream_id == r.header.stream_id);
            CHECK(!r.stream_error.reason.empty());
            CHECK(!reader.failed());
        } else {
            REQUIRE(r.status == frame::ReadStatus::connection_error);
            CHECK(r.connection_error.code == rule.code);
            CHECK(r.connection_error.stream_id == r.header.stream_id);
            CHECK(!r.connection_error.reason.empty());
            CHECK(reader.failed());
        }
    }
}

TEST_CASE("frame reader: a connection error is final") {
    frame::Reader reader;
    const ByteVec bad = FrameBuilder(Type::ping, 0, 1).zeros(8);
    const ByteVec good = FrameBuilder(Type::ping, 0, 0).zeros(8);
    frame::ReadResult r = reader.read(bad);
    REQUIRE(r.status == frame::ReadStatus::connection_error);
    CHECK(r.connection_error.stream_id == 1);
    CHECK(r.consumed == 9);  // the header decided; the payload was not read
    for (int i = 0; i < 3; ++i) {
        r = reader.read(good);
        CHECK(r.status == frame::ReadStatus::connection_error);
        CHECK(r.connection_error.code == ErrorCode::protocol_error);
        CHECK(r.consumed == 0);
    }
    reader.reset();
    CHECK(!reader.failed());
    CHECK(reader.read(good).status == frame::ReadStatus::frame);
}

TEST_CASE("frame reader: after a stream error the frame is skipped and reading goes on") {
    // PRIORITY of length 8 (stream error, reported at the header, payload
    // skipped as it arrives), WINDOW_UPDATE 0 on a stream and a self-dependent
    // PRIORITY (stream errors after the payload), each followed by a frame.
    const ByteVec input = concat({
        FrameBuilder(Type::priority, 0, 3).u32(1).u32(0xffffffff),
        FrameBuilder(Type::ping, 0, 0).str("12345678"),
        FrameBuilder(Type::window_update, 0, 5).u32(0),
        FrameBuilder(Type::window_update, 0, 5).u32(10),
        FrameBuilder(Type::priority, 0, 7).u32(7).u8(1),
        FrameBuilder(Type::data, fl::end_stream, 7).str("ok"),
    });
    const Transcript t = run_all_splits(input);
    REQUIRE(t.lines.size() == 6);
    CHECK(t.lines[0] == "STREAM_ERROR s=3 FRAME_SIZE_ERROR (PRIORITY length is not 5)");
    CHECK(t.lines[1] == "PING 3132333435363738");
    CHECK(t.lines[2] == "STREAM_ERROR s=5 PROTOCOL_ERROR (WINDOW_UPDATE increment 0)");
    CHECK(t.lines[3] == "WINDOW_UPDATE s=5 inc=10");
    CHECK(t.lines[4] == "STREAM_ERROR s=7 PROTOCOL_ERROR (stream depends on itself)");
    CHECK(t.lines[5] == "DATA s=7 ES data=6f6b");
    CHECK(!t.failed);
    CHECK(t.at_boundary);
}

TEST_CASE("frame reader: a long bad PRIORITY is skipped without buffering") {
    frame::Reader reader;
    const ByteVec bad = FrameBuilder(Type::priority, 0, 3).zeros(16000);
    frame::ReadResult r = reader.read(std::span<const std::uint8_t>(bad).first(9));
    CHECK(r.status == frame::ReadStatus::stream_error);
    CHECK(r.consumed == 9);
    r = reader.read(std::span<const std::uint8_t>(bad).subspan(9));
    CHECK(r.status == frame::ReadStatus::need_input);
    CHECK(r.consumed == 16000);
    CHECK(reader.at_frame_boundary());
    CHECK(reader.buffer_capacity() == 0);
}

TEST_CASE("frame reader: accepted frames and ignored fields") {
    frame::ReaderOptions srv = peer(frame::PeerRole::server);
    frame::ReaderOptions cli = peer(frame::PeerRole::client);
    struct Case {
        const char* name;
        ByteVec wire;
        std::string expect;
        frame::ReaderOptions options{};
    };
    const std::vector<Case> cases = {
        // RFC 9113 §4.1: the reserved bit is ignored on receipt.
        {"reserved bit on HEADERS", FrameBuilder(Type::headers, fl::end_headers, 0x7fffffff, true).str("ab"),
         "HEADERS s=2147483647 EH block=6162"},
        {"reserved bit on stream 0 frame", FrameBuilder(Type::ping, 0, 0, true).zeros(8), "PING 0000000000000000"},
        {"reserved bit in WINDOW_UPDATE increment", FrameBuilder(Type::window_update, 0, 0).u32(0x80000001u),
         "WINDOW_UPDATE s=0 inc=1"},
        {"reserved bit in GOAWAY last stream", FrameBuilder(Type::goaway, 0, 0).u32(0x80000009u).u32(2),
         "GOAWAY last=9 code=2 debug="},
        {"reserved bit in promised id", FrameBuilder(Type::push_promise, fl::end_headers, 1).u32(0x80000002u),
         "PUSH_PROMISE s=1 promised=2 EH block="},
        {"reserved bit in PRIORITY_UPDATE id", FrameBuilder(Type::priority_update, 0, 0).u32(0x80000005u).str("u=0"),
         "PRIORITY_UPDATE id=5 value=753d30"},
        // RFC 9113 §4.1: unused flags are ignored.
        {"unused flags on PING", FrameBuilder(Type::ping, 0xfe, 0).zeros(8), "PING 0000000000000000"},
        {"unused flags on SETTINGS", FrameBuilder(Type::settings, 0xfe, 0), "SETTINGS"},
        {"unused flags on DATA", FrameBuilder(Type::data, 0xf6, 1).str("a"), "DATA s=1 data=61"},
        {"unused flags on HEADERS", FrameBuilder(Type::headers, 0xd2 | fl::end_headers, 1), "HEADERS s=1 EH block="},
        {"unused flags on RST_STREAM", FrameBuilder(Type::rst_stream, 0xff, 1).u32(8), "RST_STREAM s=1 code=8"},
        {"unused flags on CONTINUATION", FrameBuilder(Type::continuation, 0xfb, 1).str("z"),
         "CONTINUATION s=1 block=7a", lone()},
        // Values at the edges of their ranges.
        {"settings at their limits",
         FrameBuilder(Type::settings, 0, 0)
             .setting(2, 0)
             .setting(2, 1)
             .setting(4, 0x7fffffff)
             .setting(5, 16384)
             .setting(5, 0xffffff)
             .setting(8, 1)
             .setting(9, 1)
             .setting(3, 0xffffffff),
         "SETTINGS 2=0 2=1 4=2147483647 5=16384 5=16777215 8=1 9=1 3=4294967295"},
        // RFC 9113 §6.5.2: unknown settings are kept (the receiver ignores them).
        {"unknown setting", FrameBuilder(Type::settings, 0, 0).setting(0x99, 0xffffffff).setting(0, 7),
         "SETTINGS 153=4294967295 0=7"},
        {"ENABLE_PUSH 1 from a client", FrameBuilder(Type::settings, 0, 0).setting(2, 1), "SETTINGS 2=1", cli},
        {"ENABLE_PUSH 0 from a server", FrameBuilder(Type::settings, 0, 0).setting(2, 0), "SETTINGS 2=0", srv},
        {"even promised id from a server", FrameBuilder(Type::push_promise, fl::end_headers, 1).u32(2),
         "PUSH_PROMISE s=1 promised=2 EH block=", srv},
        {"odd promised id, role unknown", FrameBuilder(Type::push_promise, fl::end_headers, 1).u32(3),
         "PUSH_PROMISE s=1 promised=3 EH block="},
        {"WINDOW_UPDATE maximum", FrameBuilder(Type::window_update, 0, 3).u32(0x7fffffff),
         "WINDOW_UPDATE s=3 inc=2147483647"},
        {"padded DATA, only padding", FrameBuilder(Type::data, fl::padded | fl::end_stream, 1).u8(3).zeros(3),
         "DATA s=1 ES padlen=3 data="},
        {"padded DATA, no padding", FrameBuilder(Type::data, fl::padded, 1).u8(0).str("hi"),
         "DATA s=1 padlen=0 data=6869"},
        {"empty DATA with END_STREAM", FrameBuilder(Type::data, fl::end_stream, 1), "DATA s=1 ES data="},
        {"HEADERS padding filling the rest",
         FrameBuilder(Type::headers, fl::padded | fl::end_headers, 1).u8(2).zeros(2),
         "HEADERS s=1 EH pad=2:0000 block="},
        {"HEADERS priority, no block",
         FrameBuilder(Type::headers, fl::priority | fl::end_headers | fl::end_stream, 1).u32(0x80000003u).u8(255),
         "HEADERS s=1 ES EH dep=3! w=255 block="},
        {"PRIORITY on stream depending on 0", FrameBuilder(Type::priority, 0, 1).u32(0).u8(0),
         "PRIORITY s=1 dep=0 w=0"},
        {"GOAWAY with debug data", FrameBuilder(Type::goaway, 0, 0).u32(0).u32(0xdeadbeef).str("bye"),
         "GOAWAY last=0 code=3735928559 debug=627965"},
        {"RST_STREAM unknown code", FrameBuilder(Type::rst_stream, 0, 9).u32(0x1234), "RST_STREAM s=9 code=4660"},
        // RFC 9113 §5.5: unknown types are kept with their flags and stream.
        {"unknown type", FrameBuilder(0x0b, 0xa5, 9).str("ext"), "UNKNOWN type=11 flags=165 s=9 payload=657874"},
        {"unknown type 0xff, empty", FrameBuilder(0xff, 0, 0), "UNKNOWN type=255 flags=0 s=0 payload="},
        {"unknown type 0x0d", FrameBuilder(0x0d, 1, 0).u8(1), "UNKNOWN type=13 flags=1 s=0 payload=01"},
        // RFC 7838 §4: ALTSVC.
        {"ALTSVC on stream 0", FrameBuilder(Type::altsvc, 0, 0).u16(11).str("example.com").str("h2=\":8000\""),
         "ALTSVC s=0 origin=6578616d706c652e636f6d value=68323d223a3830303022"},
        {"ALTSVC on a stream", FrameBuilder(Type::altsvc, 0, 3).u16(0).str("clear"),
         "ALTSVC s=3 origin= value=636c656172"},
        {"ALTSVC on stream 0 without origin", FrameBuilder(Type::altsvc, 0, 0).u16(0).str("clear"),
         "IGNORED type=10 s=0 payload=0000636c656172 (ALTSVC on stream 0 without origin)"},
        {"ALTSVC on a stream with origin", FrameBuilder(Type::altsvc, 0, 1).u16(1).str("a"),
         "IGNORED type=10 s=1 payload=000161 (ALTSVC on a stream with an origin)"},
        {"ALTSVC too short", FrameBuilder(Type::altsvc, 0, 0).u8(0),
         "IGNORED type=10 s=0 payload=00 (ALTSVC too short for Origin-Len)"},
        {"ALTSVC origin past the payload", FrameBuilder(Type::altsvc, 0, 0).u16(5).str("abc"),
         "IGNORED type=10 s=0 payload=0005616263 (ALTSVC Origin-Len past the payload)"},
        {"ALTSVC received by a server", FrameBuilder(Type::altsvc, 0, 3).u16(0).str("clear"),
         "IGNORED type=10 s=3 payload=0000636c656172 (ALTSVC sent by a client)", cli},
        // RFC 8336 §2: ORIGIN.
        {"ORIGIN with two origins", FrameBuilder(Type::origin, 0, 0).u16(3).str("a:b").u16(0).u16(1).str("c"),
         "ORIGIN [613a62] [] [63]"},
        {"ORIGIN empty", FrameBuilder(Type::origin, 0, 0), "ORIGIN"},
        {"ORIGIN with a compatible flag", FrameBuilder(Type::origin, 0x10, 0).u16(1).str("x"), "ORIGIN [78]"},
        {"ORIGIN on a stream", FrameBuilder(Type::origin, 0, 1).u16(1).str("x"),
         "IGNORED type=12 s=1 payload=000178 (ORIGIN on a stream other than 0)"},
        {"ORIGIN with flag 0x1", FrameBuilder(Type::origin, 0x1, 0).u16(1).str("x"),
         "IGNORED type=12 s=0 payload=000178 (ORIGIN with a reserved incompatible flag)"},
        {"ORIGIN truncated entry", FrameBuilder(Type::origin, 0, 0).u16(1).str("x").u16(4).str("ab"),
         "IGNORED type=12 s=0 payload=00017800046162 (ORIGIN entry truncated)"},
        {"ORIGIN odd octet", FrameBuilder(Type::origin, 0, 0).u8(0),
         "IGNORED type=12 s=0 payload=00 (ORIGIN entry truncated)"},
        // RFC 9218 §7.1
        {"PRIORITY_UPDATE", FrameBuilder(Type::priority_update, 0, 0).u32(7).str("u=2, i"),
         "PRIORITY_UPDATE id=7 value=753d322c2069"},
        {"PRIORITY_UPDATE empty value", FrameBuilder(Type::priority_update, 0, 0).u32(1),
         "PRIORITY_UPDATE id=1 value=", cli},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        const Transcript t = run_all_splits(c.wire, c.options, 3);
        REQUIRE(t.lines.size() == 1);
        CHECK(t.lines[0] == c.expect);
        CHECK(!t.failed);
    }
}

TEST_CASE("frame reader: header blocks with CONTINUATION") {
    const ByteVec input = concat({
        FrameBuilder(Type::headers, fl::end_stream, 1).str("a"),
        FrameBuilder(Type::continuation, 0, 1).str("b"),
        FrameBuilder(Type::continuation, fl::end_headers, 1).str("c"),
        FrameBuilder(Type::push_promise, fl::padded, 1).u8(1).u32(2).str("d").u8(0),
        FrameBuilder(Type::continuation, fl::end_headers, 1),
        FrameBuilder(Type::headers, fl::end_headers, 3).str("e"),
    });
    const Transcript t = run_all_splits(input);
    const std::vector<std::string> expect = {
        "HEADERS s=1 ES block=61",      "CONTINUATION s=1 block=62",
        "CONTINUATION s=1 EH block=63", "PUSH_PROMISE s=1 promised=2 pad=1:00 block=64",
        "CONTINUATION s=1 EH block=",   "HEADERS s=3 EH block=65",
    };
    CHECK(t.lines == expect);

    frame::Reader reader;
    std::span<const std::uint8_t> in(input);
    std::vector<bool> open;
    for (;;) {
        const frame::ReadResult r = reader.read(in);
        in = in.subspan(r.consumed);
        if (r.status == frame::ReadStatus::need_input) break;
        open.push_back(reader.in_header_block());
    }
    CHECK(open == std::vector<bool>{true, true, false, true, false, false});
}

TEST_CASE("frame reader: DATA payload is handed out as it arrives, never copied") {
    // A 16 KiB DATA frame in four reads: four chunks, each a view of its read.
    ByteVec payload(16384);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
    const ByteVec wire = FrameBuilder(Type::data, fl::end_stream, 1).bytes(payload);
    frame::Reader reader;
    const std::size_t cuts[] = {0, 9 + 1000, 9 + 5000, 9 + 12000, wire.size()};
    std::size_t got = 0;
    for (int i = 0; i < 4; ++i) {
        const std::span<const std::uint8_t> in(wire.data() + cuts[i], cuts[i + 1] - cuts[i]);
        const frame::ReadResult r = reader.read(in);
        REQUIRE(r.status == frame::ReadStatus::data);
        CHECK(r.consumed == in.size());
        CHECK(r.data.first == (i == 0));
        CHECK(r.data.last == (i == 3));
        CHECK(r.data.end_stream == (i == 3));
        CHECK(r.data.flow_controlled_length == (i == 0 ? 16384u : 0u));
        // Zero copy: the chunk is the input itself (after the header).
        CHECK(r.data.data.data() == wire.data() + std::max<std::size_t>(cuts[i], 9));
        got += r.data.data.size();
    }
    CHECK(got == 16384);
    CHECK(reader.at_frame_boundary());
    CHECK(reader.buffer_capacity() == 0);  // nothing was buffered
}

TEST_CASE("frame reader: padded DATA, padding stripped and charged") {
    const ByteVec wire = FrameBuilder(Type::data, fl::padded | fl::end_stream, 3).u8(4).str("hello").zeros(4);
    // Data and padding in separate reads: the data chunk, then an empty last
    // chunk once the padding is through.
    frame::Reader reader;
    frame::ReadResult r = reader.read(std::span<const std::uint8_t>(wire).first(9 + 1 + 5 + 2));
    REQUIRE(r.status == frame::ReadStatus::data);
    CHECK(hex(r.data.data) == "68656c6c6f");
    CHECK(r.data.first);
    CHECK(!r.data.last);
    CHECK(!r.data.end_stream);
    CHECK(r.data.flow_controlled_length == 10);  // 1 + 5 + 4
    CHECK(r.data.pad_length == std::optional<std::uint8_t>(4));
    CHECK(r.consumed == 17);
    r = reader.read(std::span<const std::uint8_t>(wire).subspan(17));
    REQUIRE(r.status == frame::ReadStatus::data);
    CHECK(r.data.data.empty());
    CHECK(!r.data.first);
    CHECK(r.data.last);
    CHECK(r.data.end_stream);
    CHECK(r.data.flow_controlled_length == 0);
    CHECK(reader.at_frame_boundary());

    // Whole: one chunk with everything.
    frame::Reader whole;
    r = whole.read(wire);
    CHECK(r.status == frame::ReadStatus::data);
    CHECK(r.data.first);
    CHECK(r.data.last);
    CHECK(r.data.end_stream);
    CHECK(r.consumed == wire.size());
}

TEST_CASE("frame reader: a DATA header alone yields nothing until data arrives") {
    const ByteVec wire = FrameBuilder(Type::data, 0, 1).str("xyz");
    frame::Reader reader;
    frame::ReadResult r = reader.read(std::span<const std::uint8_t>(wire).first(9));
    CHECK(r.status == frame::ReadStatus::need_input);
    CHECK(r.consumed == 9);
    CHECK(!reader.at_frame_boundary());
    r = reader.read({});
    CHECK(r.status == frame::ReadStatus::need_input);
    r = reader.read(std::span<const std::uint8_t>(wire).subspan(9, 1));
    REQUIRE(r.status == frame::ReadStatus::data);
    CHECK(r.data.first);
    CHECK(r.data.flow_controlled_length == 3);
}

TEST_CASE("frame reader: non-DATA frames are zero copy when whole, buffered otherwise") {
    const ByteVec wire = FrameBuilder(Type::headers, fl::end_headers, 1).str("fragment");
    {
        frame::Reader reader;
        const frame::ReadResult r = reader.read(wire);
        REQUIRE(r.status == frame::ReadStatus::frame);
        const auto& h = std::get<frame::Headers>(r.frame);
        CHECK(h.fragment.data() == wire.data() + 9);
        CHECK(reader.buffer_capacity() == 0);
    }
    {
        frame::Reader reader;
        const ByteVec first(wire.begin(), wire.begin() + 12);
        const ByteVec second(wire.begin() + 12, wire.end());
        CHECK(reader.read(first).status == frame::ReadStatus::need_input);
        const frame::ReadResult r = reader.read(second);
        REQUIRE(r.status == frame::ReadStatus::frame);
        const auto& h = std::get<frame::Headers>(r.frame);
        CHECK(std::string(h.fragment.begin(), h.fragment.end()) == "fragment");
        CHECK(reader.buffer_capacity() >= 8);
    }
}

TEST_CASE("frame reader: the frame size limit is checked before buffering and can change") {
    const ByteVec big = FrameBuilder(Type::headers, fl::end_headers, 1).zeros(20000);
    {
        frame::Reader reader;
        const frame::ReadResult r = reader.read(std::span<const std::uint8_t>(big).first(9));
        CHECK(r.status == frame::ReadStatus::connection_error);
        CHECK(r.connection_error.code == ErrorCode::frame_size_error);
        CHECK(reader.buffer_capacity() == 0);
    }
    {
        frame::Reader reader;
        reader.set_max_frame_size(20000);
        CHECK(reader.max_frame_size() == 20000);
        const Transcript t = run_reader(big, Split::random(5), reader.options());
        REQUIRE(t.lines.size() == 1);
        CHECK(t.lines[0].rfind("HEADERS s=1 EH block=0000", 0) == 0);
        frame::ReaderOptions o;
        o.max_frame_size = 19999;
        CHECK(run_reader(big, Split::whole(), o).failed);
    }
    {
        // SETTINGS_MAX_FRAME_SIZE is 2^14..2^24-1 (RFC 9113 §4.2).
        frame::Reader reader;
        reader.set_max_frame_size(100);
        CHECK(reader.max_frame_size() == 16384);
        reader.set_max_frame_size(0xffffffff);
        CHECK(reader.max_frame_size() == 0xffffff);
        frame::ReaderOptions o;
        o.max_frame_size = 1;
        CHECK(frame::Reader(o).max_frame_size() == 16384);
    }
    {
        // A change applies from the next header: a frame whose header was
        // read keeps going.
        frame::Reader reader;
        reader.set_max_frame_size(20000);
        CHECK(reader.read(std::span<const std::uint8_t>(big).first(100)).status == frame::ReadStatus::need_input);
        reader.set_max_frame_size(16384);
        CHECK(reader.read(std::span<const std::uint8_t>(big).subspan(100)).status == frame::ReadStatus::frame);
        CHECK(reader.read(big).status == frame::ReadStatus::connection_error);
    }
}

TEST_CASE("frame reader: no allocation per frame once warm") {
    CountingResource mr;
    frame::Reader reader({}, &mr);
    // Warm up with the largest frame, split so it must be buffered.
    const ByteVec big = FrameBuilder(Type::headers, fl::end_headers, 1).zeros(16384);
    CHECK(reader.read(std::span<const std::uint8_t>(big).first(5000)).status == frame::ReadStatus::need_input);
    CHECK(reader.read(std::span<const std::uint8_t>(big).subspan(5000)).status == frame::ReadStatus::frame);
    const std::size_t warm = mr.allocations;
    CHECK(warm >= 1);
    CHECK(reader.buffer_capacity() <= 2 * 16384);

    const ByteVec mix = concat({
        FrameBuilder(Type::settings, 0, 0).setting(1, 0).setting(4, 100),
        FrameBuilder(Type::headers, fl::end_headers | fl::padded, 3).u8(10).zeros(3000).zeros(10),
        FrameBuilder(Type::data, fl::end_stream, 3).zeros(16384), FrameBuilder(Type::window_update, 0, 0).u32(100),
        FrameBuilder(Type::goaway, 0, 0).u32(3).u32(0).zeros(9000), FrameBuilder(0x77, 0, 0).zeros(16384),
        FrameBuilder(Type::priority, 0, 3).zeros(8),  // stream error, skipped
    });
    for (int round = 0; round < 20; ++round) {
        const Transcript t = run_reader(mix, Split::random(static_cast<std::uint32_t>(round)));
        CHECK(t.lines.size() == 7);
        std::span<const std::uint8_t> in(mix);
        for (std::size_t cut = 1 + static_cast<std::size_t>(round) * 997 % 5000; !in.empty();) {
            const auto piece = in.first(std::min(cut, in.size()));
            std::span<const std::uint8_t> p = piece;
            for (;;) {
                const frame::ReadResult r = reader.read(p);
                p = p.subspan(r.consumed);
                if (r.status == frame::ReadStatus::need_input) break;
                REQUIRE(r.status != frame::ReadStatus::connection_error);
            }
            in = in.subspan(piece.size());
        }
    }
    CHECK(mr.allocations == warm);
}

// A stream of every frame type, with padding, priority, a split header block
// and a stream error in the middle.
ByteVec every_frame_stream() {
    ByteVec body(40000);
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>(i % 251);
    return concat({
        FrameBuilder(Type::settings, 0, 0).setting(1, 4096).setting(3, 100).setting(4, 65535).setting(0x42, 9),
        FrameBuilder(Type::settings, fl::ack, 0),
        FrameBuilder(Type::headers, fl::priority | fl::padded, 1).u8(3).u32(0x80000000).u8(200).str("abc").zeros(3),
        FrameBuilder(Type::continuation, 0, 1).str("def"),
        FrameBuilder(Type::continuation, fl::end_headers, 1).str("ghi"),
        FrameBuilder(Type::data, 0, 1).bytes(std::span<const std::uint8_t>(body).first(16384)),
        FrameBuilder(Type::data, fl::padded, 1)
            .u8(200)
            .bytes(std::span<const std::uint8_t>(body).subspan(100, 15000))
            .zeros(200),
        FrameBuilder(Type::data, fl::end_stream, 1),
        FrameBuilder(Type::priority, 0, 3).u32(1).u8(7),
        FrameBuilder(Type::priority, 0, 5).zeros(100),
        FrameBuilder(Type::rst_stream, 0, 1).u32(8),
        FrameBuilder(Type::push_promise, fl::end_headers | fl::padded, 1).u8(5).u32(2).str("pp").zeros(5),
        FrameBuilder(Type::ping, 0, 0).str("pingpong"),
        FrameBuilder(Type::ping, fl::ack, 0).str("pingpong"),
        FrameBuilder(Type::window_update, 0, 0).u32(1 << 20),
        FrameBuilder(Type::window_update, 0, 1).u32(0),
        FrameBuilder(Type::altsvc, 0, 0).u16(3).str("a.b").str("h3=\":443\""),
        FrameBuilder(Type::origin, 0, 0).u16(19).str("https://example.com"),
        FrameBuilder(Type::priority_update, 0, 0).u32(1).str("u=3"),
        FrameBuilder(0xfa, 0x33, 77).str("extension"),
        FrameBuilder(Type::data, fl::padded | fl::end_stream, 3).u8(0),
        FrameBuilder(Type::goaway, 0, 0).u32(5).u32(0).str("done"),
    });
}

TEST_CASE("frame reader: split invariance on a stream of every frame type") {
    const ByteVec input = every_frame_stream();
    const Transcript t = run_all_splits(input, {}, 40);
    CHECK(t.lines.size() == 22);
    CHECK(!t.failed);
    CHECK(t.at_boundary);
    CHECK(t.lines[9] == "STREAM_ERROR s=5 FRAME_SIZE_ERROR (PRIORITY length is not 5)");
    CHECK(t.lines[15] == "STREAM_ERROR s=1 PROTOCOL_ERROR (WINDOW_UPDATE increment 0)");

    // Cut short anywhere, the reader is inside a frame and has produced a
    // prefix of the transcript.
    for (std::size_t cut : {std::size_t{1}, std::size_t{8}, std::size_t{50}, std::size_t{20000}, input.size() - 1}) {
        const Transcript part = run_reader(std::span<const std::uint8_t>(input).first(cut), Split::random(9));
        CHECK(!part.at_boundary);
        REQUIRE(part.lines.size() <= t.lines.size());
        CHECK(std::equal(part.lines.begin(), part.lines.end(), t.lines.begin()));
    }

    // An error at the end stops it there, in every split.
    const ByteVec bad =
        concat({input, FrameBuilder(Type::data, 0, 0).str("x"), FrameBuilder(Type::ping, 0, 0).zeros(8)});
    const Transcript tb = run_all_splits(bad, {}, 10);
    CHECK(tb.lines.size() == 23);
    CHECK(tb.failed);
}

TEST_CASE("frame reader: empty reads and reads after need_input") {
    frame::Reader reader;
    for (int i = 0; i < 3; ++i) {
        const frame::ReadResult r = reader.read({});
        CHECK(r.status == frame::ReadStatus::need_input);
        CHECK(r.consumed == 0);
    }
    CHECK(reader.at_frame_boundary());
    // Two frames in one input: one item per call.
    const ByteVec two = concat({FrameBuilder(Type::ping, 0, 0).zeros(8), FrameBuilder(Type::settings, fl::ack, 0)});
    frame::ReadResult r = reader.read(two);
    CHECK(r.status == frame::ReadStatus::frame);
    CHECK(r.consumed == 17);
    r = reader.read(std::span<const std::uint8_t>(two).subspan(17));
    CHECK(r.status == frame::ReadStatus::frame);
    CHECK(std::get<frame::Settings>(r.frame).ack);
    CHECK(r.header.type == Type::settings);
}

TEST_CASE("frame reader: settings list and origin list views") {
    const ByteVec wire = FrameBuilder(Type::settings, 0, 0).setting(5, 20000).setting(2, 0);
    frame::Reader reader;
    const frame::ReadResult r = reader.read(wire);
    const auto& s = std::get<frame::Settings>(r.frame);
    REQUIRE(s.entries.size() == 2);
    CHECK(s.entries[0] == Setting{SettingId::max_frame_size, 20000});
    CHECK(s.entries[1] == Setting{SettingId::enable_push, 0});
    h2wire::Settings values;
    for (const Setting e : s.entries) values.apply(e);
    CHECK(values.max_frame_size == 20000);
    CHECK(!values.enable_push);

    const ByteVec ow = FrameBuilder(Type::origin, 0, 0).u16(1).str("a").u16(2).str("bc");
    frame::Reader r2;
    const auto o = std::get<frame::Origin>(r2.read(ow).frame);
    CHECK(o.origins.is_wire());
    CHECK(o.origins.size() == 2);
    std::vector<std::string> got(o.origins.begin(), o.origins.end());
    CHECK(got == std::vector<std::string>{"a", "bc"});
}

}  // namespace
