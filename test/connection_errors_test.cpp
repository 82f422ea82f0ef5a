// Protocol violations (RFC 9113 §5.4, §6): each yields the right GOAWAY
// (with the last processed stream id) or RST_STREAM plus an event; after a
// connection error nothing more is accepted. The Limits: queued control
// frames (PING and SETTINGS floods), rapid reset, header list and field
// size, empty-frame floods.
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

constexpr auto PROTOCOL = ErrorCode::protocol_error;
constexpr auto FRAME_SIZE = ErrorCode::frame_size_error;
constexpr auto COMPRESSION = ErrorCode::compression_error;

struct Violation {
    const char* name;
    std::function<Bytes(Peer&)> input;
    ErrorCode code;
};

/// Connection errors a server must detect; each is fed after streams 1
/// (open) and 3 (half-closed remote) were processed, so GOAWAY must say 3.
std::vector<Violation> server_violations() {
    return {
        {"DATA over the max frame size", [](Peer& p) { return p.raw(Type::data, 0, 1, Bytes(16385, 0)); }, FRAME_SIZE},
        {"HEADERS over the max frame size",
         [](Peer& p) { return p.raw(Type::headers, fl::end_headers, 5, Bytes(16385, 0x82)); }, FRAME_SIZE},
        {"unknown frame over the max frame size", [](Peer& p) { return p.raw(0x42, 0, 0, Bytes(16385, 0)); },
         FRAME_SIZE},
        {"DATA on stream 0", [](Peer& p) { return p.raw(Type::data, 0, 0, bytes_of("x")); }, PROTOCOL},
        {"HEADERS on stream 0", [](Peer& p) { return p.raw(Type::headers, fl::end_headers, 0, Bytes{0x82}); },
         PROTOCOL},
        {"DATA padding as long as the payload",
         [](Peer& p) {
             return p.raw(Type::data, fl::padded, 1, Bytes{3, 0, 0});
         },
         PROTOCOL},
        {"HEADERS padding past the payload",
         [](Peer& p) {
             return p.raw(Type::headers, fl::padded | fl::end_headers, 5, Bytes{9, 0x82, 0x87});
         },
         PROTOCOL},
        {"RST_STREAM on stream 0",
         [](Peer& p) {
             return p.raw(Type::rst_stream, 0, 0, Bytes{0, 0, 0, 8});
         },
         PROTOCOL},
        {"RST_STREAM of 3 octets",
         [](Peer& p) {
             return p.raw(Type::rst_stream, 0, 1, Bytes{0, 0, 8});
         },
         FRAME_SIZE},
        {"RST_STREAM on an idle stream", [](Peer& p) { return p.rst(9, ErrorCode::cancel); }, PROTOCOL},
        {"SETTINGS on a stream", [](Peer& p) { return p.raw(Type::settings, 0, 1, Bytes{}); }, PROTOCOL},
        {"SETTINGS of 7 octets", [](Peer& p) { return p.raw(Type::settings, 0, 0, Bytes(7, 0)); }, FRAME_SIZE},
        {"SETTINGS ACK with a payload", [](Peer& p) { return p.raw(Type::settings, fl::ack, 0, Bytes(6, 0)); },
         FRAME_SIZE},
        {"PING of 7 octets", [](Peer& p) { return p.raw(Type::ping, 0, 0, Bytes(7, 0)); }, FRAME_SIZE},
        {"PING of 9 octets", [](Peer& p) { return p.raw(Type::ping, 0, 0, Bytes(9, 0)); }, FRAME_SIZE},
        {"PING on a stream", [](Peer& p) { return p.raw(Type::ping, 0, 1, Bytes(8, 0)); }, PROTOCOL},
        {"GOAWAY on a stream", [](Peer& p) { return p.raw(Type::goaway, 0, 1, Bytes(8, 0)); }, PROTOCOL},
        {"GOAWAY of 7 octets", [](Peer& p) { return p.raw(Type::goaway, 0, 0, Bytes(7, 0)); }, FRAME_SIZE},
        {"WINDOW_UPDATE of 3 octets",
         [](Peer& p) {
             return p.raw(Type::window_update, 0, 0, Bytes{0, 0, 1});
         },
         FRAME_SIZE},
        {"WINDOW_UPDATE 0 on stream 0",
         [](Peer& p) {
             return p.raw(Type::window_update, 0, 0, Bytes{0, 0, 0, 0});
         },
         PROTOCOL},
        {"WINDOW_UPDATE on an idle stream", [](Peer& p) { return p.window_update(9, 1); }, PROTOCOL},
        {"PUSH_PROMISE to a server", [](Peer& p) { return p.push_promise(1, 2, get()); }, PROTOCOL},
        {"CONTINUATION without a block", [](Peer& p) { return p.continuation(1, Bytes{0x82}, true); }, PROTOCOL},
        {"DATA on an idle stream", [](Peer& p) { return p.data(9, "x", false); }, PROTOCOL},
        {"HEADERS on an even stream", [](Peer& p) { return p.headers(4, get(), true); }, PROTOCOL},
        {"HPACK: indexed field 0", [](Peer& p) { return p.headers_block(5, Bytes{0x80}, true); }, COMPRESSION},
        {"HPACK: index past the tables",
         [](Peer& p) {
             return p.headers_block(5, Bytes{0xff, 0x7f}, true);
         },
         COMPRESSION},
        {"HPACK: block ends inside a string",
         [](Peer& p) {
             return p.headers_block(5, Bytes{0x82, 0x87, 0x84, 0x41, 0x0a, 'e', 'x'}, true);
         },
         COMPRESSION},
        {"HPACK: size update after a field",
         [](Peer& p) {
             return p.headers_block(5, Bytes{0x82, 0x87, 0x84, 0x20}, true);
         },
         COMPRESSION},
        {"HPACK: size update above our limit",
         [](Peer& p) {
             return p.headers_block(5, Bytes{0x3f, 0xe2, 0x1f, 0x82, 0x87, 0x84}, true);
         },
         COMPRESSION},
        {"HPACK: Huffman string with EOS",
         [](Peer& p) {
             return p.headers_block(5, Bytes{0x82, 0x87, 0x84, 0x40, 0x84, 0xff, 0xff, 0xff, 0xff, 0x01, 'v'}, true);
         },
         COMPRESSION},
    };
}

}  // namespace

TEST_CASE("connection errors: every connection-level violation gives GOAWAY with the last processed stream") {
    for (const Violation& v : server_violations()) {
        INFO(v.name);
        for (const Split split : {Split::whole(), Split::bytewise()}) {
            CAPTURE(split.name());
            Session s(Role::server);
            s.handshake();
            s.open(1, request(), false);
            s.open(3, get(), true);
            s.drain();
            const std::size_t before = s.events.size();
            s.feed(v.input(s.peer), split);
            const auto out = s.drain();
            expect_connection_error(s, out, v.code);
            // The last stream processed is 3; a server may count stream 5,
            // whose HEADERS it was decoding, as one it acted on.
            const auto ga = first(out, Type::goaway);
            REQUIRE(ga.has_value());
            const bool on_new_stream =
                std::string_view(v.name).substr(0, 5) == "HPACK" || std::string_view(v.name).rfind("HEADERS", 0) == 0;
            if (on_new_stream)
                CHECK((ga->last_stream_id == 3 || ga->last_stream_id == 5));
            else
                CHECK(ga->last_stream_id == 3);
            // Only the termination is reported, with the end of the streams
            // it cuts off (and, for some, a reset before).
            for (std::size_t i = before; i < s.events.size(); ++i) {
                INFO(describe(s.events[i]));
                CHECK((std::holds_alternative<ev::Terminated>(s.events[i]) ||
                       std::holds_alternative<ev::Reset>(s.events[i]) ||
                       std::holds_alternative<StreamClosed>(s.events[i])));
            }
            CHECK(std::holds_alternative<ev::Terminated>(s.events.back()));
            CHECK(s.events.count_on<StreamClosed>(1) == 1);
            CHECK(s.events.count_on<StreamClosed>(3) == 1);
            const auto t = s.events.last<ev::Terminated>();
            REQUIRE(t.has_value());
            CHECK(!t->reason.empty());
            // Nothing more is accepted or answered.
            CHECK(s.feed(cat({s.peer.ping(opaque("after!!!")), s.peer.headers(11, get(), true)})).empty());
            CHECK(s.drain().empty());
            CHECK(s.conn.submit_response(1, fields(response()), true) == ApiError::connection_closed);
            CHECK(!s.conn.wants_write());
        }
    }
}

TEST_CASE("connection errors: client-side violations") {
    struct Case {
        const char* name;
        bool enable_push;
        std::function<Bytes(Peer&)> input;
        ErrorCode code;
    };
    const std::vector<Case> cases{
        {"PUSH_PROMISE with push disabled", false, [](Peer& p) { return p.push_promise(1, 2, get("/p")); }, PROTOCOL},
        {"PUSH_PROMISE promising stream 0", true,
         [](Peer& p) {
             return p.raw(Type::push_promise, fl::end_headers, 1, Bytes{0, 0, 0, 0, 0x82});
         },
         PROTOCOL},
        {"HEADERS on a stream the client never opened", false, [](Peer& p) { return p.headers(3, response(), true); },
         PROTOCOL},
        {"HEADERS on an unpromised even stream", false, [](Peer& p) { return p.headers(2, response(), true); },
         PROTOCOL},
        {"DATA on stream 0", false, [](Peer& p) { return p.raw(Type::data, 0, 0, Bytes{}); }, PROTOCOL},
        {"HPACK garbage", false, [](Peer& p) { return p.headers_block(1, Bytes{0x80}, true); }, COMPRESSION},
    };
    for (const Case& c : cases) {
        INFO(c.name);
        Config cfg;
        cfg.settings.enable_push = c.enable_push;
        Session s(Role::client, cfg);
        s.handshake();
        s.request(get(), true);
        s.feed(c.input(s.peer));
        expect_connection_error(s, s.drain(), c.code);
        CHECK(s.conn.submit_request(fields(get()), true).error == ApiError::connection_closed);
    }
}

TEST_CASE("connection errors: the GOAWAY is the last frame, after output already queued") {
    Session s(Role::server);
    s.handshake();
    s.feed(s.peer.window_update(0, 1 << 20));
    s.open(1, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    REQUIRE(s.conn.send_data(1, Bytes(40000, 'x'), false) == ApiError::none);
    s.feed(s.peer.ping(opaque("before!!")));
    s.feed(s.peer.raw(Type::data, 0, 0, Bytes{}));  // connection error
    const auto out = s.drain();
    INFO(str(out));
    REQUIRE(!out.empty());
    CHECK(out.back().type() == Type::goaway);
    CHECK(count(out, Type::goaway) == 1);
    CHECK(out.back().code == PROTOCOL);
    CHECK(out.back().last_stream_id == 1);
}

TEST_CASE("connection errors: a PING flood without reading output → ENHANCE_YOUR_CALM") {
    Config c;
    c.limits.max_queued_control_frames = 10;
    SUBCASE("10 unanswered PINGs are fine") {
        Session s(Role::server, c);
        s.handshake();
        Bytes in;
        for (int i = 0; i < 10; ++i) append(in, s.peer.ping(opaque("flood" + std::to_string(100 + i))));
        s.feed(in);
        const auto out = s.drain();
        CHECK(count(out, Type::ping) == 10);
        CHECK(count(out, Type::goaway) == 0);
    }
    SUBCASE("more in one receive() are all answered: the caller had no chance to write") {
        Session s(Role::server, c);
        s.handshake();
        Bytes in;
        for (int i = 0; i < 500; ++i) append(in, s.peer.ping(opaque("flood" + std::to_string(100 + i))));
        s.feed(in);
        const auto out = s.drain();
        CHECK(count(out, Type::ping) == 500);
        CHECK(count(out, Type::goaway) == 0);
    }
    SUBCASE("11 left unsent into the next receive() are one too many") {
        Session s(Role::server, c);
        s.handshake();
        Bytes in;
        for (int i = 0; i < 11; ++i) append(in, s.peer.ping(opaque("flood" + std::to_string(100 + i))));
        s.feed(in);
        s.feed(s.peer.ping(opaque("pingpong")));
        expect_connection_error(s, s.drain(), ErrorCode::enhance_your_calm, 0u);
    }
    SUBCASE("one PING per receive(), never draining") {
        Session s(Role::server, c);
        s.handshake();
        for (int i = 0; i < 50 && !s.conn.is_closed(); ++i) s.feed(s.peer.ping(opaque("pingpong")));
        expect_connection_error(s, s.drain(), ErrorCode::enhance_your_calm, 0u);
    }
    SUBCASE("reading output in between: never a problem") {
        Session s(Role::server, c);
        s.handshake();
        for (int i = 0; i < 200; ++i) {
            s.feed(s.peer.ping(opaque("pingpong")));
            s.drain();
        }
        CHECK(!s.conn.is_closed());
        CHECK(count(s.peer.frames(), Type::ping) == 200);
    }
    SUBCASE("a SETTINGS flood") {
        Session s(Role::server, c);
        s.handshake();
        Bytes in;
        for (int i = 0; i < 50; ++i) append(in, s.peer.settings({}));
        s.feed(in);  // answered: the caller could not write in between
        s.feed(s.peer.settings({}));  // the answers to the first 50 are still unsent
        expect_connection_error(s, s.drain(), ErrorCode::enhance_your_calm, 0u);
    }
}

TEST_CASE("connection errors: header list and field size limits") {
    SUBCASE("a header list over max_header_list_size: stream error, the connection goes on") {
        Config c;
        c.limits.max_header_list_size = 1000;
        Session s(Role::server, c);
        s.handshake();
        CHECK(s.conn.local_settings().max_header_list_size == 1000);
        Rng rng(8);
        Hdrs h = get();
        for (int i = 0; i < 10; ++i) h.push_back({"x-field-" + std::to_string(i), rng.letters(80)});
        s.open(1, h, true);
        const auto out = s.drain();
        INFO(str(out));
        CHECK(count(out, Type::goaway) == 0);
        const auto rst = first(out, Type::rst_stream, 1);
        if (rst) {
            CHECK((rst->code == ErrorCode::protocol_error || rst->code == ErrorCode::refused_stream ||
                   rst->code == ErrorCode::enhance_your_calm));
            const auto r = s.events.on<ev::Reset>(1);
            REQUIRE(r.has_value());
            CHECK(r->by == Initiator::local);
        } else {
            // Or a 431 response (RFC 9113 §10.5.1).
            const auto hs = first(out, Type::headers, 1);
            REQUIRE(hs.has_value());
            CHECK(find_field(hs->headers, ":status") == "431");
        }
        CHECK(s.events.count<ev::Request>() == 0);
        s.open(3, get(), true);
        CHECK(s.events.on<ev::Request>(3).has_value());
        CHECK(!s.conn.is_closed());
    }
    SUBCASE("one field over max_field_size: COMPRESSION_ERROR") {
        Config c;
        c.limits.max_field_size = 1000;
        Session s(Role::server, c);
        s.handshake();
        Rng rng(9);
        s.open(1, get() + Hdrs{{"x-big", rng.letters(3000)}}, true);
        expect_connection_error(s, s.drain(), COMPRESSION);
    }
}

TEST_CASE("connection errors: a flood of empty frames → ENHANCE_YOUR_CALM") {
    Config c;
    c.limits.max_empty_frames = 100;
    SUBCASE("empty DATA frames") {
        Session s(Role::server, c);
        s.handshake();
        s.open(1, request(), false);
        Bytes in;
        for (int i = 0; i < 5000; ++i) append(in, s.peer.data(1, "", false));
        s.feed(in);
        expect_connection_error(s, s.drain(), ErrorCode::enhance_your_calm);
    }
    SUBCASE("unknown frames") {
        Session s(Role::server, c);
        s.handshake();
        Bytes in;
        for (int i = 0; i < 5000; ++i) append(in, s.peer.raw(0x42, 0, 0, Bytes{}));
        s.feed(in);
        expect_connection_error(s, s.drain(), ErrorCode::enhance_your_calm);
    }
    SUBCASE("PRIORITY frames") {
        Session s(Role::server, c);
        s.handshake();
        Bytes in;
        for (int i = 0; i < 5000; ++i) append(in, s.peer.priority(1, 0));
        s.feed(in);
        expect_connection_error(s, s.drain(), ErrorCode::enhance_your_calm);
    }
    SUBCASE("a few among useful frames are fine") {
        Session s(Role::server, c);
        s.handshake();
        s.open(1, request(), false);
        for (int i = 0; i < 50; ++i) s.feed(cat({s.peer.data(1, "x", false), s.peer.data(1, "", false)}));
        CHECK(!s.conn.is_closed());
        CHECK(s.events.data_of(1).size() == 50);
    }
}

TEST_CASE("connection errors: PRIORITY_UPDATE sent to a client is a PROTOCOL_ERROR (RFC 9218 §7.1)") {
    Session s(Role::client);
    s.handshake();
    s.request(get(), true);
    s.feed(s.peer.priority_update(1, "u=0"));
    expect_connection_error(s, s.drain(), PROTOCOL);
}
