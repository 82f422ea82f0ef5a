// h3::Connection (RFC 9114) between a client and a server over the simulated
// QUIC streams of support/h3_harness.hpp: setup, exchanges whole and split
// anywhere with streams interleaved, QPACK blocking, interim responses,
// trailers, resets both ways, GOAWAY, extended CONNECT (RFC 9220), and what
// the peer may not do (critical streams, frame rules, malformed messages).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "h2wire/h3connection.hpp"
#include "h2wire/h3frame.hpp"
#include "h2wire/qpack.hpp"
#include "support/counting_resource.hpp"
#include "support/h3_harness.hpp"

using namespace h2wire;
using h2wire::test_support::H3Pair;
using h2wire::test_support::H3Record;
using h2wire::test_support::as_bytes;
using H3Code = h3::ErrorCode;

namespace {

const std::vector<Field> kGet = {
    {":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/index.html"},
    {"user-agent", "h2wire-test"}, {"accept", "*/*"}};

std::vector<Field> get(const std::string& path) {
    static std::vector<std::string> paths;  // keeps the views alive
    paths.push_back(path);
    std::vector<Field> f = kGet;
    f[3].value = paths.back();
    return f;
}

const std::vector<Field> kOk = {{":status", "200"}, {"content-type", "text/plain"}};

/// A server that answers every request with `body` (and echoes request
/// bodies when the path is /echo).
void serve(H3Pair& p, std::string body) {
    p.server.on_event = [&p, body](const h3::Event& e) {
        if (const auto* r = std::get_if<h3::RequestReceived>(&e)) {
            if (r->path == "/echo") {
                REQUIRE(p.server.conn.submit_response(r->stream, kOk, false) == ApiError::none);
                return;
            }
            REQUIRE(p.server.conn.submit_response(r->stream, kOk, body.empty()) == ApiError::none);
            if (!body.empty()) REQUIRE(p.server.conn.send_data(r->stream, as_bytes(body), true) == ApiError::none);
        }
        if (const auto* d = std::get_if<h3::DataReceived>(&e)) {
            REQUIRE(p.server.conn.send_data(d->stream, d->data, false) == ApiError::none);
        }
        if (const auto* d = std::get_if<h3::StreamEnded>(&e)) (void)p.server.conn.send_data(d->stream, {}, true);
    };
}

std::vector<std::string> types(const std::vector<H3Record>& events, std::uint64_t stream) {
    std::vector<std::string> out;
    for (const H3Record& r : events)
        if (r.stream == stream && r.type != "consumed" && r.type != "settings" && r.type != "goaway" &&
            r.type != "terminated")
            out.push_back(r.type);
    return out;
}

std::string h3f(h3::FrameType t, std::string_view payload) {
    std::vector<std::uint8_t> out(payload.size() + 20);
    const std::size_t n = h3::write_raw(out, static_cast<std::uint64_t>(t), payload.size(), as_bytes(payload));
    return std::string(reinterpret_cast<const char*>(out.data()), n);
}

std::string varint(std::uint64_t v) {
    std::uint8_t b[8];
    const std::size_t n = h3::write_varint(b, v);
    return std::string(reinterpret_cast<const char*>(b), n);
}

/// A client's control stream prefix and an empty SETTINGS.
std::string control_prefix() { return varint(0) + h3f(h3::FrameType::settings, ""); }

/// A field section with only static references and literals (Required
/// Insert Count 0), for raw requests.
std::string literal_section(const std::vector<Field>& fields) {
    qpack::Encoder enc;  // never given peer settings: no dynamic table
    std::vector<std::uint8_t> out(qpack::Encoder::max_encoded_size(fields));
    const std::size_t n = enc.encode(0, fields, out.data());
    return std::string(reinterpret_cast<const char*>(out.data()), n);
}

}  // namespace

TEST_CASE("h3 connection: SETTINGS both ways, with grease, before any request") {
    h3::ConnectionConfig sc;
    sc.settings.enable_connect_protocol = true;
    sc.settings.qpack_max_table_capacity = 1234;
    H3Pair p({}, sc);
    p.bind();
    p.pump();
    REQUIRE(p.client.of("settings").size() == 1);
    REQUIRE(p.server.of("settings").size() == 1);
    CHECK(p.client.of("settings")[0].settings.enable_connect_protocol);
    CHECK(p.client.of("settings")[0].settings.qpack_max_table_capacity == 1234);
    CHECK(p.server.of("settings")[0].settings.max_field_section_size == 64 * 1024);
    CHECK(p.client.conn.peer_settings_received());
    CHECK_FALSE(p.client.terminated());
    CHECK_FALSE(p.server.terminated());
    CHECK(p.client.conn.bind_local_streams(2, 6, 10) == ApiError::too_late);
}

TEST_CASE("h3 connection: bind_local_streams refuses ids that are not our unidirectional streams") {
    h3::Connection c(h3::ConnectionConfig{});
    CHECK(c.bind_local_streams(0, 6, 10) == ApiError::invalid_stream);   // bidirectional
    CHECK(c.bind_local_streams(3, 6, 10) == ApiError::invalid_stream);   // the server's
    CHECK(c.bind_local_streams(2, 2, 10) == ApiError::invalid_stream);   // twice
    CHECK(c.bind_local_streams(2, 6, 10) == ApiError::none);
}

TEST_CASE("h3 connection: GET exchanges, whole and split anywhere with streams interleaved") {
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        CAPTURE(seed);
        H3Pair p({}, {}, seed);
        p.shuffle = seed > 1;
        p.partial_writes = seed % 2 == 0;
        serve(p, std::string(3000 + seed * 100, 'x'));
        p.bind();
        for (std::uint64_t i = 0; i < 10; ++i)
            REQUIRE(p.client.conn.submit_request(4 * i, get("/f" + std::to_string(i)), true,
                                                 reinterpret_cast<void*>(i + 1)));
        p.pump();
        for (std::uint64_t i = 0; i < 10; ++i) {
            CAPTURE(i);
            const auto t = types(p.client.events, 4 * i);
            REQUIRE(t.size() >= 4);
            CHECK(t.front() == "response");
            CHECK(t[t.size() - 2] == "ended");
            CHECK(t.back() == "closed");
            CHECK(p.client.body[4 * i] == std::string(3000 + seed * 100, 'x'));
            CHECK(p.client.of("closed", 4 * i)[0].code == H3Code::h3_no_error);
            CHECK(p.client.of("closed", 4 * i)[0].user == reinterpret_cast<void*>(i + 1));
            const auto st = types(p.server.events, 4 * i);
            REQUIRE(st.size() >= 3);
            CHECK(st.front() == "request");
            CHECK(st.back() == "closed");
        }
        CHECK(p.client.conn.open_streams() == 0);
        CHECK(p.server.conn.open_streams() == 0);
        CHECK(p.client.conn.held_input() == 0);
        CHECK(p.server.conn.held_input() == 0);
        CHECK_FALSE(p.client.terminated());
        CHECK_FALSE(p.server.terminated());
    }
}

TEST_CASE("h3 connection: request and response bodies with trailers, lent and copied") {
    H3Pair p;
    static const std::string big(200000, 'b');
    const std::vector<Field> post = {{":method", "POST"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/echo"}};
    const std::vector<Field> trailers = {{"grpc-status", "0"}};
    p.server.on_event = [&](const h3::Event& e) {
        if (const auto* r = std::get_if<h3::RequestReceived>(&e)) {
            CHECK_FALSE(r->end_stream);
            REQUIRE(p.server.conn.submit_response(r->stream, kOk, false) == ApiError::none);
            REQUIRE(p.server.conn.send_data_borrowed(r->stream, as_bytes(big), false) == ApiError::none);
        }
        if (const auto* t = std::get_if<h3::TrailersReceived>(&e))
            REQUIRE(p.server.conn.send_trailers(t->stream, trailers) == ApiError::none);
    };
    p.bind();
    REQUIRE(p.client.conn.submit_request(0, post, false));
    REQUIRE(p.client.conn.send_data(0, as_bytes(std::string_view(big).substr(0, 50000)), false) == ApiError::none);
    REQUIRE(p.client.conn.send_trailers(0, trailers) == ApiError::none);
    CHECK(p.client.conn.send_data(0, as_bytes("late"), false) == ApiError::stream_closed);
    p.shuffle = true;
    p.pump();
    CHECK(p.server.body[0] == big.substr(0, 50000));
    CHECK(p.client.body[0] == big);
    const auto st = types(p.server.events, 0);
    REQUIRE(st.size() >= 5);
    CHECK(st.front() == "request");
    CHECK(std::vector<std::string>(st.end() - 3, st.end()) == std::vector<std::string>{"trailers", "ended", "closed"});
    REQUIRE(p.server.of("trailers").size() == 1);
    REQUIRE(p.client.of("trailers").size() == 1);
    CHECK(p.client.of("trailers")[0].headers[0].first == "grpc-status");
    CHECK(p.client.of("closed", 0).size() == 1);
    CHECK(p.server.of("closed", 0).size() == 1);
}

TEST_CASE("h3 connection: a section that references inserts not yet arrived waits, and the stream's input with it") {
    // First request: inserts go out on the encoder stream. Hold the
    // encoder stream back so that the second request's section blocks.
    H3Pair p;
    serve(p, "hello");
    p.bind();
    p.pump();  // SETTINGS: the client's encoder may now use the table
    p.held_back = {6};  // the client's encoder stream
    const std::vector<Field> post = {{":method", "POST"}, {":scheme", "https"}, {":authority", "blocked.example"},
                                     {":path", "/echo"}, {"x-custom", "a value worth indexing"}};
    REQUIRE(p.client.conn.submit_request(0, post, false));
    REQUIRE(p.client.conn.send_data(0, as_bytes("body bytes"), true) == ApiError::none);
    p.pump();
    CHECK(p.server.of("request").empty());
    CHECK(p.server.conn.held_input() > 0);
    p.held_back.clear();
    p.pump();
    REQUIRE(p.server.of("request").size() == 1);
    CHECK(p.server.body[0] == "body bytes");
    REQUIRE(p.server.of("consumed").size() == 1);
    CHECK(p.server.of("consumed")[0].value > 0);
    CHECK(p.server.conn.held_input() == 0);
    CHECK(p.client.body[0] == "body bytes");
    CHECK(p.client.of("closed", 0).size() == 1);
}

TEST_CASE("h3 connection: interim responses come before the final one") {
    H3Pair p;
    const std::vector<Field> early = {{":status", "103"}, {"link", "</s.css>; rel=preload"}};
    p.server.on_event = [&](const h3::Event& e) {
        if (const auto* r = std::get_if<h3::RequestReceived>(&e)) {
            REQUIRE(p.server.conn.submit_response(r->stream, early, false) == ApiError::none);
            CHECK(p.server.conn.send_data(r->stream, as_bytes("x"), false) == ApiError::invalid_stream);
            REQUIRE(p.server.conn.submit_response(r->stream, kOk, true) == ApiError::none);
        }
    };
    p.bind();
    REQUIRE(p.client.conn.submit_request(0, kGet, true));
    p.pump();
    CHECK(types(p.client.events, 0) == std::vector<std::string>{"interim", "response", "ended", "closed"});
    CHECK(p.client.of("interim")[0].status == 103);
}

TEST_CASE("h3 connection: the client cancels a request; the server sees a reset by the peer") {
    H3Pair p;
    p.bind();
    REQUIRE(p.client.conn.submit_request(0, kGet, false));
    p.pump();
    REQUIRE(p.server.of("request").size() == 1);
    REQUIRE(p.client.conn.reset_stream(0) == ApiError::none);
    p.pump();
    CHECK(types(p.client.events, 0) == std::vector<std::string>{"closed"});
    CHECK(p.client.of("closed", 0)[0].code == H3Code::h3_request_cancelled);
    CHECK(p.client.of("closed", 0)[0].by == Initiator::local);
    CHECK(types(p.server.events, 0) == std::vector<std::string>{"request", "reset", "closed"});
    CHECK(p.server.of("reset", 0)[0].code == H3Code::h3_request_cancelled);
    CHECK(p.server.of("reset", 0)[0].by == Initiator::peer);
    CHECK(p.server.conn.open_streams() == 0);
    CHECK(p.client.conn.open_streams() == 0);
}

TEST_CASE("h3 connection: the server answers before the request body ends and stops it with H3_NO_ERROR") {
    H3Pair p;
    p.server.on_event = [&](const h3::Event& e) {
        if (const auto* r = std::get_if<h3::RequestReceived>(&e)) {
            REQUIRE(p.server.conn.submit_response(r->stream, kOk, true) == ApiError::none);
        }
    };
    p.bind();
    const std::vector<Field> post = {{":method", "POST"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/u"}};
    REQUIRE(p.client.conn.submit_request(0, post, false));
    REQUIRE(p.client.conn.send_data(0, as_bytes("part one"), false) == ApiError::none);
    p.pump();
    // The server has answered; it needs no more of the request (RFC 9114 §4.1.1).
    REQUIRE(p.server.conn.reset_stream(0, H3Code::h3_no_error) == ApiError::none);
    p.pump();
    CHECK(p.client.of("response").size() == 1);
    CHECK(p.client.of("ended", 0).size() == 1);
    CHECK(p.client.of("reset", 0).empty());
    CHECK(p.client.of("closed", 0).size() == 1);
    CHECK(p.client.conn.open_streams() == 0);
}

TEST_CASE("h3 connection: GOAWAY from the server refuses later requests, which are safe to retry") {
    H3Pair p;
    serve(p, "ok");
    p.bind();
    REQUIRE(p.client.conn.submit_request(0, kGet, true));
    p.pump();
    REQUIRE(p.client.of("closed", 0).size() == 1);
    // Two requests in flight when the GOAWAY goes: stream 4 reached the
    // server, stream 8 did not.
    REQUIRE(p.client.conn.submit_request(4, kGet, false));
    p.pump();
    REQUIRE(p.server.conn.shutdown() == ApiError::none);
    p.held_back = {8};
    REQUIRE(p.client.conn.submit_request(8, kGet, true));
    p.pump();
    REQUIRE(p.client.of("goaway").size() == 1);
    CHECK(p.client.of("goaway")[0].value == 8);
    REQUIRE(p.client.of("reset", 8).size() == 1);
    CHECK(p.client.of("reset", 8)[0].safe_to_retry);
    CHECK(p.client.of("reset", 8)[0].code == H3Code::h3_request_rejected);
    CHECK(p.client.conn.submit_request(12, kGet, true).error == ApiError::connection_closed);
    // Stream 4 finishes; then the server is done.
    CHECK_FALSE(p.server.terminated());
    REQUIRE(p.client.conn.send_data(4, {}, true) == ApiError::none);
    p.held_back.clear();
    p.pump();
    CHECK(p.client.of("closed", 4).size() == 1);
    CHECK(p.client.of("closed", 4)[0].code == H3Code::h3_no_error);
    REQUIRE(p.server.terminated());
    CHECK(p.server.of("terminated")[0].code == H3Code::h3_no_error);
}

TEST_CASE("h3 connection: extended CONNECT (RFC 9220) needs the server's SETTINGS_ENABLE_CONNECT_PROTOCOL") {
    const std::vector<Field> ws = {{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"},
                                   {":authority", "a"}, {":path", "/chat"}, {"sec-websocket-version", "13"}};
    {
        H3Pair p;
        p.bind();
        p.pump();
        CHECK(p.client.conn.submit_request(0, ws, false).error == ApiError::connect_protocol_disabled);
    }
    h3::ConnectionConfig sc;
    sc.settings.enable_connect_protocol = true;
    H3Pair p({}, sc);
    p.server.on_event = [&](const h3::Event& e) {
        if (const auto* r = std::get_if<h3::RequestReceived>(&e)) {
            CHECK(r->protocol == "websocket");
            REQUIRE(p.server.conn.submit_response(r->stream, std::vector<Field>{{":status", "200"}}, false) ==
                    ApiError::none);
        }
        if (const auto* d = std::get_if<h3::DataReceived>(&e))
            REQUIRE(p.server.conn.send_data(d->stream, d->data, false) == ApiError::none);
    };
    p.bind();
    p.pump();
    REQUIRE(p.client.conn.submit_request(0, ws, false));
    REQUIRE(p.client.conn.send_data(0, as_bytes("frame one"), false) == ApiError::none);
    p.pump();
    CHECK(p.client.of("response").size() == 1);
    CHECK(p.client.body[0] == "frame one");
    REQUIRE(p.client.conn.send_data(0, as_bytes("+two"), false) == ApiError::none);
    p.pump();
    CHECK(p.client.body[0] == "frame one+two");
}

TEST_CASE("h3 connection: closing a critical stream is H3_CLOSED_CRITICAL_STREAM") {
    SUBCASE("FIN on the control stream") {
        H3Pair p;
        p.bind();
        p.pump();
        p.inject_to_server(2, "", true);
        REQUIRE(p.server.terminated());
        CHECK(p.server.of("terminated")[0].code == H3Code::h3_closed_critical_stream);
    }
    SUBCASE("RESET_STREAM of the encoder stream") {
        H3Pair p;
        p.bind();
        p.pump();
        p.server.take(p.server.conn.stream_reset(6, 0x100));
        REQUIRE(p.server.terminated());
        CHECK(p.server.of("terminated")[0].code == H3Code::h3_closed_critical_stream);
    }
    SUBCASE("STOP_SENDING on our control stream") {
        H3Pair p;
        p.bind();
        p.server.take(p.server.conn.stop_sending(3, 0x100));
        REQUIRE(p.server.terminated());
        CHECK(p.server.of("terminated")[0].code == H3Code::h3_closed_critical_stream);
    }
}

TEST_CASE("h3 connection: control stream rules") {
    SUBCASE("SETTINGS must come first") {
        H3Pair p;
        p.inject_to_server(2, varint(0) + h3f(h3::FrameType::goaway, varint(0)));
        REQUIRE(p.server.terminated());
        CHECK(p.server.of("terminated")[0].code == H3Code::h3_missing_settings);
    }
    SUBCASE("a second control stream") {
        H3Pair p;
        p.inject_to_server(2, control_prefix());
        p.inject_to_server(14, control_prefix());
        REQUIRE(p.server.terminated());
        CHECK(p.server.of("terminated")[0].code == H3Code::h3_stream_creation_error);
    }
    SUBCASE("an HTTP/2 frame type") {
        H3Pair p;
        std::vector<std::uint8_t> b2(16);
        const std::size_t m = h3::write_raw(b2, 0x6, 0, {});  // HTTP/2 PING: reserved (RFC 9114 §11.2.1)
        p.inject_to_server(2, control_prefix() + std::string(reinterpret_cast<const char*>(b2.data()), m));
        REQUIRE(p.server.terminated());
        CHECK(p.server.of("terminated")[0].code == H3Code::h3_frame_unexpected);
    }
    SUBCASE("CANCEL_PUSH without any push") {
        H3Pair p;
        p.inject_to_server(2, control_prefix() + h3f(h3::FrameType::cancel_push, varint(0)));
        REQUIRE(p.server.terminated());
        CHECK(p.server.of("terminated")[0].code == H3Code::h3_id_error);
    }
    SUBCASE("unknown and reserved unidirectional streams are stopped, not fatal") {
        H3Pair p;
        p.bind();
        p.inject_to_server(14, varint(h3::grease_value(3)) + "whatever follows");
        p.inject_to_server(14, "more of it");
        CHECK_FALSE(p.server.terminated());
        bool stopped = false;
        while (auto c = p.server.conn.next_command())
            stopped = stopped || (c->kind == h3::CommandKind::stop_sending && c->stream == 14 &&
                                  c->code == H3Code::h3_stream_creation_error);
        CHECK(stopped);
    }
    SUBCASE("a push stream without MAX_PUSH_ID (client side)") {
        H3Pair p;
        p.inject_to_client(3, varint(1) + varint(0));
        REQUIRE(p.client.terminated());
        CHECK(p.client.of("terminated")[0].code == H3Code::h3_id_error);
    }
    SUBCASE("a server-initiated bidirectional stream") {
        H3Pair p;
        p.inject_to_client(1, h3f(h3::FrameType::headers, ""));
        REQUIRE(p.client.terminated());
        CHECK(p.client.of("terminated")[0].code == H3Code::h3_stream_creation_error);
    }
}

TEST_CASE("h3 connection: malformed requests are reset with H3_MESSAGE_ERROR and never reported") {
    const std::vector<std::vector<Field>> bad = {
        {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"Upper", "x"}},
        {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"connection", "close"}},
        {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}},
        {{":method", "GET"}, {"x", "y"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}},
        {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {":protocol", "websocket"}},
    };
    for (std::size_t i = 0; i < bad.size(); ++i) {
        CAPTURE(i);
        H3Pair p;
        p.bind();
        p.inject_to_server(2, control_prefix());
        p.inject_to_server(0, h3f(h3::FrameType::headers, literal_section(bad[i])), true);
        CHECK(p.server.of("request").empty());
        CHECK_FALSE(p.server.terminated());
        bool reset = false;
        while (auto c = p.server.conn.next_command())
            reset = reset || (c->kind == h3::CommandKind::reset_stream && c->stream == 0 &&
                              c->code == H3Code::h3_message_error);
        CHECK(reset);
        CHECK(p.server.conn.last_invalid_header().error != HeaderError::none);
        CHECK(p.server.conn.open_streams() == 0);
    }
}

TEST_CASE("h3 connection: content-length must match the DATA") {
    const std::vector<Field> post = {{":method", "POST"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"},
                                     {"content-length", "5"}};
    SUBCASE("more") {
        H3Pair p;
        p.inject_to_server(0, h3f(h3::FrameType::headers, literal_section(post)) + h3f(h3::FrameType::data, "123456"));
        REQUIRE(p.server.of("request").size() == 1);
        REQUIRE(p.server.of("reset", 0).size() == 1);
        CHECK(p.server.of("reset", 0)[0].code == H3Code::h3_message_error);
        CHECK(p.server.of("closed", 0).size() == 1);
    }
    SUBCASE("fewer") {
        H3Pair p;
        p.inject_to_server(0, h3f(h3::FrameType::headers, literal_section(post)) + h3f(h3::FrameType::data, "123"), true);
        REQUIRE(p.server.of("reset", 0).size() == 1);
        CHECK(p.server.of("reset", 0)[0].code == H3Code::h3_message_error);
    }
    SUBCASE("exact") {
        H3Pair p;
        p.inject_to_server(0, h3f(h3::FrameType::headers, literal_section(post)) + h3f(h3::FrameType::data, "12345"), true);
        CHECK(p.server.of("reset", 0).empty());
        CHECK(p.server.of("ended", 0).size() == 1);
    }
}

TEST_CASE("h3 connection: frames out of order on a request stream") {
    SUBCASE("DATA first") {
        H3Pair p;
        p.inject_to_server(0, h3f(h3::FrameType::data, "x"));
        REQUIRE(p.server.terminated());
        CHECK(p.server.of("terminated")[0].code == H3Code::h3_frame_unexpected);
    }
    SUBCASE("a stream that ends before its HEADERS") {
        H3Pair p;
        p.inject_to_server(0, "", true);
        CHECK_FALSE(p.server.terminated());
        bool reset = false;
        while (auto c = p.server.conn.next_command())
            reset = reset || (c->kind == h3::CommandKind::reset_stream && c->code == H3Code::h3_request_incomplete);
        CHECK(reset);
    }
    SUBCASE("PUSH_PROMISE to a client that allowed no push") {
        H3Pair p;
        p.bind();
        REQUIRE(p.client.conn.submit_request(0, kGet, true));
        p.inject_to_client(0, h3f(h3::FrameType::push_promise, varint(0) + literal_section(kGet)));
        REQUIRE(p.client.terminated());
        CHECK(p.client.of("terminated")[0].code == H3Code::h3_id_error);
        CHECK(p.client.of("closed", 0).size() == 1);
    }
}

TEST_CASE("h3 connection: requests past max_peer_requests are rejected unseen") {
    h3::ConnectionConfig sc;
    sc.limits.max_peer_requests = 2;
    H3Pair p({}, sc);
    p.bind();
    for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(p.client.conn.submit_request(4 * i, kGet, false));
    p.pump();
    CHECK(p.server.of("request").size() == 2);
    REQUIRE(p.client.of("reset", 8).size() == 1);
    CHECK(p.client.of("reset", 8)[0].code == H3Code::h3_request_rejected);
    CHECK(p.client.of("reset", 8)[0].safe_to_retry);
}

TEST_CASE("h3 connection: held input past max_held_input is H3_EXCESSIVE_LOAD") {
    h3::ConnectionConfig sc;
    sc.limits.max_held_input = 4096;
    H3Pair p({}, sc);
    // A section whose Required Insert Count is 2 while no insert came:
    // blocked; then body octets pile up behind it.
    p.inject_to_server(2, control_prefix());
    const std::string section = std::string("\x03\x00", 2) + "\x80";  // RIC 2 (encoded 3 with capacity 4096), base 0
    p.inject_to_server(0, h3f(h3::FrameType::headers, section));
    CHECK_FALSE(p.server.terminated());
    for (int i = 0; i < 10 && !p.server.terminated(); ++i)
        p.inject_to_server(0, h3f(h3::FrameType::data, std::string(1000, 'd')));
    REQUIRE(p.server.terminated());
    CHECK(p.server.of("terminated")[0].code == H3Code::h3_excessive_load);
}

TEST_CASE("h3 connection: retained output is released when acknowledged; lent bodies until StreamClosed") {
    h3::ConnectionConfig sc;
    sc.retain_until_acked = true;
    H3Pair p({}, sc);
    p.acknowledge = false;
    static const std::string body(5000, 'z');
    p.server.on_event = [&](const h3::Event& e) {
        if (const auto* r = std::get_if<h3::RequestReceived>(&e)) {
            REQUIRE(p.server.conn.submit_response(r->stream, kOk, false) == ApiError::none);
            REQUIRE(p.server.conn.send_data_borrowed(r->stream, as_bytes(body), true) == ApiError::none);
        }
    };
    p.bind();
    REQUIRE(p.client.conn.submit_request(0, kGet, true));
    p.pump();
    CHECK(p.client.body[0] == body);
    CHECK(p.server.of("closed", 0).empty());  // not acknowledged yet
    p.server.conn.acknowledged(0, p.server.written[0]);
    p.server.take(p.server.conn.take_events());
    CHECK(p.server.of("closed", 0).size() == 1);
}

TEST_CASE("h3 connection: the connection ends under it; every stream is closed, then terminated") {
    H3Pair p;
    p.bind();
    REQUIRE(p.client.conn.submit_request(0, kGet, false, reinterpret_cast<void*>(7)));
    REQUIRE(p.client.conn.submit_request(4, kGet, false));
    p.client.take(p.client.conn.transport_closed(0x102));
    const auto t = types(p.client.events, 0);
    CHECK(t == std::vector<std::string>{"closed"});
    CHECK(p.client.of("closed", 0)[0].user == reinterpret_cast<void*>(7));
    REQUIRE(p.client.terminated());
    CHECK(p.client.events.back().type == "terminated");
    CHECK(p.client.of("terminated")[0].by == Initiator::peer);
    CHECK(p.client.conn.is_closed());
    CHECK(p.client.conn.submit_request(8, kGet, true).error == ApiError::connection_closed);
}

TEST_CASE("h3 connection: submissions are checked like HTTP/2's and say which field") {
    H3Pair p;
    p.bind();
    const std::vector<Field> bad = {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"},
                                    {"te", "gzip"}};
    CHECK(p.client.conn.submit_request(0, bad, true).error == ApiError::invalid_header);
    CHECK(p.client.conn.last_invalid_header().field == 4);
    CHECK(p.client.conn.submit_request(1, kGet, true).error == ApiError::invalid_stream);
    CHECK(p.client.conn.submit_request(2, kGet, true).error == ApiError::invalid_stream);
    REQUIRE(p.client.conn.submit_request(0, kGet, true));
    CHECK(p.client.conn.submit_request(0, kGet, true).error == ApiError::invalid_stream);
    CHECK(p.server.conn.submit_request(0, kGet, true).error == ApiError::wrong_role);
    CHECK(p.client.conn.submit_response(0, kOk, true) == ApiError::wrong_role);
    CHECK(p.client.conn.consume_output(0, 1u << 30) == ApiError::invalid_argument);
}

TEST_CASE("h3 connection: a warm exchange allocates nothing per request, and memory comes back") {
    test_support::CountingResource cm, sm;
    h3::ConnectionConfig cc, sc;
    cc.memory = &cm;
    sc.memory = &sm;
    H3Pair p(cc, sc);
    serve(p, "small body");
    p.bind();
    std::uint64_t next = 0;
    const auto round = [&] {
        for (int i = 0; i < 20; ++i) {
            REQUIRE(p.client.conn.submit_request(next, get("/r"), true));
            next += 4;
        }
        p.pump();
    };
    for (int i = 0; i < 5; ++i) round();
    const std::size_t ca = cm.allocations, sa = sm.allocations;
    round();
    round();
    MESSAGE("allocations over 40 warm requests: client " << cm.allocations - ca << ", server " << sm.allocations - sa
                                                         << "; live " << cm.live << " / " << sm.live);
    CHECK(cm.allocations == ca);
    CHECK(sm.allocations == sa);
    CHECK(p.client.conn.open_streams() == 0);
    CHECK(p.server.conn.open_streams() == 0);
    CHECK(p.client.conn.memory_used() == cm.live);
    CHECK(p.server.conn.memory_used() == sm.live);
}
