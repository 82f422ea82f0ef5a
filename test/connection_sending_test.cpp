// The sending API: submit_request, submit_response, send_data,
// send_data_borrowed, send_trailers, reset_stream, ping, update_settings,
// push_promise; their ApiErrors on misuse (the connection stays usable);
// how a body ends; round robin across ready streams; the two output forms
// giving the same bytes; partial consume_output.
#include <doctest/doctest.h>

#include <set>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

/// A server session with the Peer's windows wide open.
Session open_server(Config c = {}) {
    Session s(Role::server, c);
    s.handshake({{SettingId::initial_window_size, 1 << 24}});
    s.feed(s.peer.window_update(0, 1 << 24));
    return s;
}

/// Applies the same script to a connection: responses and bodies on three
/// streams, some borrowed.
struct Script {
    Bytes a = Bytes(70000, 'a');
    Bytes b = Bytes(30000, 'b');
    Bytes c = Bytes(5000, 'c');
    void run(Session& s) {
        for (std::uint32_t id : {1u, 3u, 5u}) s.open(id, get("/" + std::to_string(id)), true);
        REQUIRE(s.conn.submit_response(1, fields(response(200, {{"x-s", "1"}})), false) == ApiError::none);
        REQUIRE(s.conn.send_data(1, a, true) == ApiError::none);
        REQUIRE(s.conn.submit_response(3, fields(response(200, {{"x-s", "3"}})), false) == ApiError::none);
        REQUIRE(s.conn.send_data_borrowed(3, b, false) == ApiError::none);
        REQUIRE(s.conn.send_trailers(3, fields(Hdrs{{"x-t", "3"}})) == ApiError::none);
        REQUIRE(s.conn.submit_response(5, fields(response(204)), true) == ApiError::none);
        REQUIRE(s.conn.ping(opaque("12345678")) == ApiError::none);
        REQUIRE(s.conn.send_data_borrowed(1, c, false) != ApiError::none);  // 1 already ended
    }
};

}  // namespace

TEST_CASE("connection sending: a request with a body and trailers, and its response, on the wire") {
    Session client(Role::client);
    client.handshake();
    const Hdrs req = request("PUT", "/doc") + Hdrs{{"content-type", "application/octet-stream"}};
    const auto rf = fields(req);
    const Submitted sub = client.conn.submit_request(rf, false);
    REQUIRE(sub);
    CHECK(sub.stream == 1);
    CHECK(client.conn.send_data(1, bytes_of("part one, "), false) == ApiError::none);
    CHECK(client.conn.send_data(1, bytes_of("part two"), false) == ApiError::none);
    CHECK(client.conn.send_trailers(1, fields(Hdrs{{"x-md5", "abc"}})) == ApiError::none);
    const auto out = client.drain();
    INFO(str(out));
    const auto hs = only(out, Type::headers, 1);
    REQUIRE(hs.size() == 2);
    CHECK(plain(hs[0].headers) == req);
    CHECK(!hs[0].end_stream());
    CHECK(string_of(data_of(out, 1)) == "part one, part two");
    for (const WireFrame& d : only(out, Type::data, 1)) CHECK(!d.end_stream());
    CHECK(plain(hs[1].headers) == Hdrs{{"x-md5", "abc"}});
    CHECK(hs[1].end_stream());
    CHECK(client.conn.open_streams() == 1);  // half-closed (local)

    Session server = open_server();
    server.open(1, get(), true);
    CHECK(server.conn.submit_response(1, fields(response(200, {{"server", "h2wire"}})), false) == ApiError::none);
    CHECK(server.conn.send_data(1, bytes_of("hello"), true) == ApiError::none);
    const auto sout = server.drain();
    INFO(str(sout));
    const auto sh = only(sout, Type::headers, 1);
    REQUIRE(sh.size() == 1);
    CHECK(plain(sh[0].headers) == response(200, {{"server", "h2wire"}}));
    const auto sd = only(sout, Type::data, 1);
    REQUIRE(sd.size() == 1);
    CHECK(string_of(sd[0].data) == "hello");
    CHECK(sd[0].end_stream());
    CHECK(server.conn.open_streams() == 0);
}

TEST_CASE("connection sending: a body ends with END_STREAM on the last DATA, on trailers, or on an empty DATA") {
    Session s = open_server();
    for (std::uint32_t id : {1u, 3u, 5u, 7u}) s.open(id, get(), true);
    for (std::uint32_t id : {1u, 3u, 5u, 7u})
        REQUIRE(s.conn.submit_response(id, fields(response()), id == 7) == ApiError::none);
    REQUIRE(s.conn.send_data(1, bytes_of("last"), true) == ApiError::none);
    REQUIRE(s.conn.send_data(3, bytes_of("body"), false) == ApiError::none);
    REQUIRE(s.conn.send_trailers(3, fields(Hdrs{{"x-t", "1"}})) == ApiError::none);
    REQUIRE(s.conn.send_data(5, bytes_of("body"), false) == ApiError::none);
    auto out = s.drain();
    // Once the body went out, the end needs an empty DATA frame.
    REQUIRE(s.conn.send_data(5, Bytes{}, true) == ApiError::none);
    const auto more = s.drain();
    out.insert(out.end(), more.begin(), more.end());
    INFO(str(out));
    // 1: the last DATA carries END_STREAM.
    auto d1 = only(out, Type::data, 1);
    REQUIRE(!d1.empty());
    CHECK(d1.back().end_stream());
    CHECK(string_of(d1.back().data) == "last");
    // 3: trailers carry it, DATA does not.
    for (const WireFrame& d : only(out, Type::data, 3)) CHECK(!d.end_stream());
    const auto h3 = only(out, Type::headers, 3);
    REQUIRE(h3.size() == 2);
    CHECK(h3[1].end_stream());
    // 5: an empty DATA frame carries it.
    const auto d5 = only(out, Type::data, 5);
    REQUIRE(d5.size() == 2);
    CHECK(string_of(d5[0].data) == "body");
    CHECK(!d5[0].end_stream());
    CHECK(d5[1].data.empty());
    CHECK(d5[1].end_stream());
    // 7: the HEADERS carries it; no DATA.
    CHECK(count(out, Type::data, 7) == 0);
    REQUIRE(count(out, Type::headers, 7) == 1);
    CHECK(first(out, Type::headers, 7)->end_stream());
    CHECK(s.conn.open_streams() == 0);
}

TEST_CASE("connection sending: misuse returns an ApiError and leaves the connection usable") {
    SUBCASE("wrong role") {
        Session server = open_server();
        server.open(1, get(), true);
        const auto rf = fields(get());
        CHECK(server.conn.submit_request(rf, true).error == ApiError::wrong_role);
        Session client(Role::client);
        client.handshake();
        CHECK(client.conn.submit_response(1, fields(response()), true) == ApiError::wrong_role);
        CHECK(client.conn.push_promise(1, fields(get("/p"))).error == ApiError::wrong_role);
        CHECK(!client.conn.wants_write());
        // Both still work.
        CHECK(server.conn.submit_response(1, fields(response()), true) == ApiError::none);
        CHECK(count(server.drain(), Type::headers, 1) == 1);
        CHECK(client.conn.submit_request(rf, true));
        CHECK(count(client.drain(), Type::headers, 1) == 1);
    }
    SUBCASE("unknown and idle streams") {
        Session s = open_server();
        CHECK(s.conn.submit_response(1, fields(response()), true) == ApiError::invalid_stream);
        CHECK(s.conn.send_data(1, bytes_of("x"), true) == ApiError::invalid_stream);
        CHECK(s.conn.send_data_borrowed(3, bytes_of("x"), true) == ApiError::invalid_stream);
        CHECK(s.conn.send_trailers(5, fields(Hdrs{{"x", "1"}})) == ApiError::invalid_stream);
        CHECK(s.conn.reset_stream(7) == ApiError::invalid_stream);
        CHECK(s.conn.push_promise(9, fields(get("/p"))).error == ApiError::invalid_stream);
        CHECK(s.conn.submit_response(0, fields(response()), true) == ApiError::invalid_stream);
        CHECK(!s.conn.wants_write());
        s.open(1, get(), true);
        CHECK(s.conn.submit_response(1, fields(response()), true) == ApiError::none);
        const auto out = s.drain();
        CHECK(count(out, Type::headers, 1) == 1);
        CHECK(count(out, Type::rst_stream) == 0);
    }
    SUBCASE("after our side of the stream ended") {
        Session s = open_server();
        s.open(1, request(), false);
        REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
        REQUIRE(s.conn.send_data(1, bytes_of("done"), true) == ApiError::none);
        CHECK(s.conn.send_data(1, bytes_of("more"), false) == ApiError::stream_closed);
        CHECK(s.conn.send_data_borrowed(1, bytes_of("more"), true) == ApiError::stream_closed);
        CHECK(s.conn.send_trailers(1, fields(Hdrs{{"x", "1"}})) == ApiError::stream_closed);
        CHECK(s.conn.submit_response(1, fields(response()), true) != ApiError::none);
        CHECK(s.conn.push_promise(1, fields(get("/p"))).error != ApiError::none);  // §6.6: not open
        const auto out = s.drain();
        CHECK(string_of(data_of(out, 1)) == "done");
        CHECK(count(out, Type::headers, 1) == 1);
        CHECK(count(out, Type::push_promise) == 0);
        // The peer can still finish its side.
        s.feed(s.peer.data(1, "upload", true));
        expect_no_error(s, s.drain());
        CHECK(string_of(s.events.data_of(1)) == "upload");
    }
    SUBCASE("DATA before the response's HEADERS") {
        Session s = open_server();
        s.open(1, get(), true);
        CHECK(s.conn.send_data(1, bytes_of("x"), true) != ApiError::none);
        CHECK(s.conn.send_trailers(1, fields(Hdrs{{"x", "1"}})) != ApiError::none);
        CHECK(!s.conn.wants_write());
    }
    SUBCASE("a closed stream") {
        Session s = open_server();
        s.open(1, get(), true);
        REQUIRE(s.conn.submit_response(1, fields(response()), true) == ApiError::none);
        s.drain();
        CHECK(s.conn.reset_stream(1) != ApiError::none);
        CHECK(s.conn.send_data(1, bytes_of("x"), true) != ApiError::none);
        CHECK(s.drain().empty());  // nothing but PRIORITY may be sent on a closed stream
    }
    SUBCASE("push") {
        Session s(Role::server);
        s.handshake({{SettingId::enable_push, 0}});
        s.open(1, get(), true);
        CHECK(s.conn.push_promise(1, fields(get("/p"))).error == ApiError::push_disabled);
        CHECK(s.conn.push_promise(1, fields(response())).error != ApiError::none);
        CHECK(!s.conn.wants_write());
        Session t(Role::server);
        t.handshake();
        t.open(1, get(), true);
        CHECK(t.conn.push_promise(1, fields(Hdrs{{":status", "200"}})).error == ApiError::invalid_header);
        CHECK(t.conn.push_promise(1, fields(get() + Hdrs{{"Bad", "x"}})).error == ApiError::invalid_header);
        CHECK(t.conn.push_promise(1, fields(get("/ok"))));
        CHECK(count(t.drain(), Type::push_promise) == 1);
    }
    SUBCASE("settings out of range") {
        Session s = open_server();
        Settings bad = s.conn.local_settings();
        bad.max_frame_size = 100;
        CHECK(s.conn.update_settings(bad) == ApiError::invalid_argument);
        bad = s.conn.local_settings();
        bad.initial_window_size = 1u << 31;
        CHECK(s.conn.update_settings(bad) == ApiError::invalid_argument);
        bad = s.conn.local_settings();
        bad.max_frame_size = 1u << 24;
        CHECK(s.conn.update_settings(bad) == ApiError::invalid_argument);
        CHECK(!s.conn.wants_write());
        CHECK(!s.conn.settings_ack_pending());
        Settings good = s.conn.local_settings();
        good.max_frame_size = 1u << 20;
        CHECK(s.conn.update_settings(good) == ApiError::none);
        const auto out = s.drain();
        REQUIRE(count(out, Type::settings) == 1);
        Settings applied = s.conn.local_settings();
        const WireFrame sf = *first(out, Type::settings);
        for (const Setting& x : sf.settings) applied.apply(x);
        CHECK(applied.max_frame_size == 1u << 20);
    }
    SUBCASE("after goaway()") {
        Session s(Role::client);
        s.handshake();
        CHECK(s.conn.goaway(ErrorCode::no_error, "bye") == ApiError::none);
        s.drain();
        const auto rf = fields(get());
        CHECK(s.conn.submit_request(rf, true).error == ApiError::connection_closed);
        CHECK(count(s.drain(), Type::headers) == 0);
    }
}

TEST_CASE("connection sending: ping and its acknowledgement") {
    Session s(Role::client);
    s.handshake();
    const auto data = opaque("h2wire!!");
    REQUIRE(s.conn.ping(data) == ApiError::none);
    const auto out = s.drain();
    REQUIRE(count(out, Type::ping) == 1);
    const WireFrame p = *first(out, Type::ping);
    CHECK(!p.ack);
    CHECK(p.opaque == data);
    CHECK(p.stream() == 0);
    const Events got = s.feed(s.peer.ping(data, true));
    const auto ack = got.first<PingAcknowledged>();
    REQUIRE(ack.has_value());
    CHECK(ack->data == data);
    CHECK(s.drain().empty());  // an ACK is not answered
}

TEST_CASE("connection sending: reset_stream sends RST_STREAM and drops the stream's queued output") {
    SUBCASE("server, body partly sent") {
        Session s(Role::server);
        s.handshake();
        s.feed(s.peer.window_update(0, 1 << 20));
        s.open(1, get(), true);
        REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
        REQUIRE(s.conn.send_data(1, Bytes(100000, 'x'), true) == ApiError::none);
        s.drain();
        CHECK(data_of(s.peer.frames(), 1).size() == 65535);
        REQUIRE(s.conn.reset_stream(1, ErrorCode::internal_error) == ApiError::none);
        CHECK(s.conn.buffered(1) == 0);
        auto out = s.drain();
        REQUIRE(count(out, Type::rst_stream, 1) == 1);
        CHECK(first(out, Type::rst_stream, 1)->code == ErrorCode::internal_error);
        s.feed(s.peer.window_update(1, 1 << 20));
        out = s.drain();
        CHECK(count(out, Type::data) == 0);
        CHECK(s.conn.open_streams() == 0);
    }
    SUBCASE("server, nothing sent yet") {
        Session s = open_server();
        s.open(1, get(), true);
        REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
        REQUIRE(s.conn.send_data(1, Bytes(1000, 'x'), true) == ApiError::none);
        REQUIRE(s.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
        const auto out = s.drain();
        INFO(str(out));
        CHECK(count(out, Type::data) == 0);
        REQUIRE(count(out, Type::rst_stream, 1) == 1);
        CHECK(out.back().is(Type::rst_stream, 1));
    }
    SUBCASE("client, a request still queued behind MAX_CONCURRENT_STREAMS never appears on the wire") {
        Session s(Role::client);
        s.handshake({{SettingId::max_concurrent_streams, 1}});
        const auto rf = fields(get());
        const Submitted a = s.conn.submit_request(rf, true);
        const Submitted b = s.conn.submit_request(rf, true);
        const Submitted c = s.conn.submit_request(rf, true);
        REQUIRE((a && b && c));
        s.drain();
        REQUIRE(s.conn.reset_stream(b.stream, ErrorCode::cancel) == ApiError::none);
        s.feed(s.peer.headers(a.stream, response(), true));
        const auto out = s.drain();
        INFO(str(s.peer.frames()));
        // RST_STREAM on an idle stream would be a PROTOCOL_ERROR (§5.1): neither it nor the HEADERS goes out.
        CHECK(count(s.peer.frames(), Type::headers, b.stream) == 0);
        CHECK(count(s.peer.frames(), Type::rst_stream, b.stream) == 0);
        CHECK(count(s.peer.frames(), Type::headers, c.stream) == 1);
    }
}

TEST_CASE("connection sending: server push") {
    Session s = open_server();
    s.open(1, get("/index.html"), true);
    const Hdrs promised = get("/style.css");
    const Submitted p = s.conn.push_promise(1, fields(promised));
    REQUIRE(p);
    CHECK(p.stream == 2);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    REQUIRE(s.conn.send_data(1, bytes_of("<html>"), true) == ApiError::none);
    REQUIRE(s.conn.submit_response(2, fields(response(200, {{"content-type", "text/css"}})), false) == ApiError::none);
    REQUIRE(s.conn.send_data(2, bytes_of("body{}"), true) == ApiError::none);
    const auto out = s.drain();
    INFO(str(out));
    REQUIRE(count(out, Type::push_promise, 1) == 1);
    const WireFrame pp = *first(out, Type::push_promise, 1);
    CHECK(pp.promised == 2);
    CHECK(plain(pp.headers) == promised);
    // RFC 9113 §8.4: the promise goes before any frame of the promised stream.
    std::size_t pp_at = 0, h2_at = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i].type() == Type::push_promise) pp_at = i;
        if (out[i].is(Type::headers, 2)) h2_at = i;
    }
    CHECK(pp_at < h2_at);
    CHECK(string_of(data_of(out, 2)) == "body{}");
    CHECK(only(out, Type::data, 2).back().end_stream());
    CHECK(string_of(data_of(out, 1)) == "<html>");
}

TEST_CASE("connection sending: DATA of incremental streams is shared round robin") {
    Session s = open_server();
    for (std::uint32_t id : {1u, 3u, 5u}) {
        // RFC 9218 §4.2: incremental responses of one urgency share the
        // bandwidth (non-incremental ones go one by one: priority_test.cpp).
        s.open(id, get() + Hdrs{{"priority", "i"}}, true);
        REQUIRE(s.conn.submit_response(id, fields(response()), false) == ApiError::none);
        REQUIRE(s.conn.send_data(id, Bytes(100000, static_cast<std::uint8_t>('0' + id)), true) == ApiError::none);
    }
    const auto out = s.drain();
    std::vector<std::uint32_t> order;
    for (const WireFrame& f : only(out, Type::data)) order.push_back(f.stream());
    INFO(str(out));
    REQUIRE(order.size() >= 6);
    // All three streams have sent before any has sent three frames.
    std::map<std::uint32_t, int> seen;
    for (std::size_t i = 0; i < order.size(); ++i) {
        ++seen[order[i]];
        if (seen.size() == 3) break;
        for (const auto& e : seen) CHECK_MESSAGE(e.second < 3, "stream " << e.first << " sent 3 frames before all started");
    }
    for (std::uint32_t id : {1u, 3u, 5u}) CHECK(data_of(out, id).size() == 100000);
}

TEST_CASE("connection sending: pending_output and pending_output_vectors give the same bytes") {
    Script script;
    Session plain_out = open_server();
    Session vectors_out = open_server();
    script.run(plain_out);
    script.run(vectors_out);
    // Zero copy: the borrowed body is handed out where it lies.
    bool borrowed_seen = false;
    {
        const auto chunks = vectors_out.conn.pending_output_vectors();
        for (const OutputChunk& c : chunks)
            if (c.data >= script.b.data() && c.data < script.b.data() + script.b.size()) borrowed_seen = true;
    }
    plain_out.drain();
    vectors_out.drain_vectors();
    CHECK(borrowed_seen);
    CHECK(plain_out.peer.raw_output().size() == vectors_out.peer.raw_output().size());
    CHECK(plain_out.peer.raw_output() == vectors_out.peer.raw_output());
    CHECK(data_of(vectors_out.peer.frames(), 3) == script.b);
    CHECK(data_of(vectors_out.peer.frames(), 1) == script.a);
    CHECK(vectors_out.conn.buffered(3) == 0);
}

TEST_CASE("connection sending: consume_output in partial amounts gives the same bytes") {
    Script script;
    Session whole = open_server();
    script.run(whole);
    whole.drain();
    for (const std::size_t chunk : {1u, 7u, 100u, 16393u}) {
        CAPTURE(chunk);
        Session s = open_server();
        script.run(s);
        s.drain(chunk);
        CHECK(s.peer.raw_output() == whole.peer.raw_output());
    }
    SUBCASE("random amounts, switching output forms, with new work submitted midway") {
        Session s = open_server();
        script.run(s);
        Rng rng(5);
        bool submitted = false;
        for (int guard = 0; s.conn.wants_write() && guard < 100000; ++guard) {
            if (rng.one_in(2)) {
                const auto o = s.conn.pending_output();
                const std::size_t n = rng.between(1, o.size());
                s.peer.read(o.first(n));
                s.conn.consume_output(n);
            } else {
                const auto v = s.conn.pending_output_vectors();
                REQUIRE(!v.empty());
                std::size_t total = 0;
                for (const OutputChunk& c : v) total += c.size;
                const std::size_t n = rng.between(1, total);
                std::size_t left = n;
                for (const OutputChunk& c : v) {
                    const std::size_t k = std::min(left, c.size);
                    s.peer.read(std::span<const std::uint8_t>(c.data, k));
                    left -= k;
                    if (left == 0) break;
                }
                s.conn.consume_output(n);
            }
            if (!submitted && s.peer.raw_output().size() > 40000) {
                submitted = true;
                s.open(7, get("/late"), true);
                REQUIRE(s.conn.submit_response(7, fields(response()), false) == ApiError::none);
                REQUIRE(s.conn.send_data(7, Bytes(20000, 'z'), true) == ApiError::none);
                REQUIRE(s.conn.ping(opaque("midway!!")) == ApiError::none);
            }
        }
        s.check_output();
        CHECK(submitted);
        CHECK(data_of(s.peer.frames(), 1) == script.a);
        CHECK(data_of(s.peer.frames(), 3) == script.b);
        CHECK(data_of(s.peer.frames(), 7) == Bytes(20000, 'z'));
        CHECK(count(s.peer.frames(), Type::ping) == 2);
    }
}

TEST_CASE("connection sending: wants_write and an empty pending_output when idle") {
    Session s = open_server();
    CHECK(!s.conn.wants_write());
    CHECK(s.conn.pending_output().empty());
    CHECK(s.conn.pending_output_vectors().empty());
    REQUIRE(s.conn.ping(opaque("abcdefgh")) == ApiError::none);
    CHECK(s.conn.wants_write());
    const auto out = s.conn.pending_output();
    CHECK(out.size() == frame::header_size + 8);
    s.conn.consume_output(0);
    CHECK(s.conn.wants_write());
    CHECK(s.conn.pending_output().size() == frame::header_size + 8);
    s.drain();
    CHECK(!s.conn.wants_write());
}

TEST_CASE("connection sending: sensitive fields go out as never-indexed literals") {
    Session s(Role::client);
    s.handshake();
    const Hdrs h = get() + Hdrs{{"authorization", "Bearer secret-token-1234567890"},
                                {"x-api-key", "k-0123456789", true},
                                {"x-plain", "visible"}};
    const auto f = fields(h);
    REQUIRE(s.conn.submit_request(f, true));
    REQUIRE(s.conn.submit_request(f, true));
    const auto out = s.drain();
    const auto hs = only(out, Type::headers);
    REQUIRE(hs.size() == 2);
    for (const WireFrame& w : hs) {
        // The Peer's decoder marks fields that arrived as never-indexed literals (RFC 7541 §6.2.3).
        CHECK(plain(w.headers) == plain(h));
        for (const Hdr& x : w.headers) {
            if (x.name == "authorization" || x.name == "x-api-key") CHECK_MESSAGE(x.sensitive, x.name);
            if (x.name == "x-plain") CHECK(!x.sensitive);
        }
    }
    // The secret is in neither block's table: the second block repeats it in full.
    CHECK(hs[1].block.size() > 30);
}

TEST_CASE("connection sending: 1xx responses before the final one") {
    Session s = open_server();
    s.open(1, request(), false);
    CHECK(s.conn.submit_response(1, fields(response(100)), false) == ApiError::none);
    CHECK(s.conn.submit_response(1, fields(response(103, {{"link", "</a.css>; rel=preload"}})), false) ==
          ApiError::none);
    // A 1xx can not end the stream (RFC 9113 §8.1).
    CHECK(s.conn.submit_response(1, fields(response(103)), true) != ApiError::none);
    CHECK(s.conn.submit_response(1, fields(response(200)), false) == ApiError::none);
    // After the final response, another one is not a response (trailers go through send_trailers).
    CHECK(s.conn.submit_response(1, fields(response(200)), true) != ApiError::none);
    CHECK(s.conn.send_data(1, bytes_of("done"), true) == ApiError::none);
    const auto out = s.drain();
    INFO(str(out));
    const auto hs = only(out, Type::headers, 1);
    REQUIRE(hs.size() == 3);
    CHECK(find_field(hs[0].headers, ":status") == "100");
    CHECK(find_field(hs[1].headers, ":status") == "103");
    CHECK(find_field(hs[2].headers, ":status") == "200");
    for (const WireFrame& w : hs) CHECK(!w.end_stream());
    CHECK(string_of(data_of(out, 1)) == "done");
}

TEST_CASE("connection sending: the application's PINGs are bounded like any queued control frame") {
    Config c;
    c.limits.max_queued_control_frames = 16;
    Session s = open_server(c);
    ApiError last = ApiError::none;
    int accepted = 0;
    for (int i = 0; i < 100 && last == ApiError::none; ++i) {
        last = s.conn.ping(opaque("ping" + std::to_string(1000 + i)));
        if (last == ApiError::none) ++accepted;
    }
    CHECK(last == ApiError::too_many_queued);
    CHECK(accepted >= 1);
    CHECK(accepted <= 16);
    CHECK(!s.conn.is_closed());
    const auto out = s.drain();
    CHECK(count(out, Type::ping) == static_cast<std::size_t>(accepted));
    CHECK(count(out, Type::goaway) == 0);
    // Room again once the PINGs went out and came back.
    Bytes acks;
    for (const WireFrame& p : only(out, Type::ping)) append(acks, s.peer.ping(p.opaque, true));
    const Events got = s.feed(acks);
    CHECK(got.count<PingAcknowledged>() == static_cast<std::size_t>(accepted));
    CHECK(s.conn.ping(opaque("again!!!")) == ApiError::none);
    CHECK(count(s.drain(), Type::ping) == 1);
}

TEST_CASE("connection sending: after the peer resets a stream, its queued data is dropped and sending fails") {
    Session s(Role::server);
    s.handshake();
    s.open(1, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    REQUIRE(s.conn.send_data(1, Bytes(200000, 'q'), false) == ApiError::none);
    s.drain();
    CHECK(data_of(s.peer.frames(), 1).size() == 65535);
    s.feed(s.peer.rst(1, ErrorCode::cancel));
    CHECK(s.conn.buffered(1) == 0);
    CHECK(s.conn.send_data(1, bytes_of("more"), true) != ApiError::none);
    CHECK(s.conn.send_trailers(1, fields(Hdrs{{"x", "1"}})) != ApiError::none);
    s.feed(cat({s.peer.window_update(0, 1 << 20), s.peer.window_update(1, 1 << 20)}));
    const auto out = s.drain();
    CHECK(count(out, Type::data) == 0);
    CHECK(count(out, Type::headers) == 0);
    CHECK(count(out, Type::rst_stream) == 0);  // never RST_STREAM in answer to RST_STREAM (§5.4.2)
    CHECK(s.conn.open_streams() == 0);
}

TEST_CASE("connection sending: a client refuses one pushed stream with RST_STREAM REFUSED_STREAM") {
    Config c;
    c.settings.enable_push = true;
    Session s(Role::client, c);
    s.handshake();
    s.request(get(), true);
    s.feed(cat({s.peer.push_promise(1, 2, get("/unwanted")), s.peer.push_promise(1, 4, get("/wanted"))}));
    REQUIRE(s.events.count<ev::PushPromise>() == 2);
    CHECK(s.conn.reset_stream(2, ErrorCode::refused_stream) == ApiError::none);
    auto out = s.drain();
    REQUIRE(count(out, Type::rst_stream, 2) == 1);
    CHECK(first(out, Type::rst_stream, 2)->code == ErrorCode::refused_stream);
    // The server's frames for 2 that crossed the reset are ignored; 4 is delivered.
    const std::size_t before = s.events.size();
    s.feed(cat({s.peer.headers(2, response(200), false), s.peer.data(2, "unwanted", true),
                s.peer.headers(4, response(200), false), s.peer.data(4, "wanted", true),
                s.peer.headers(1, response(200), true)}));
    out = s.drain();
    expect_no_error(s, out, before);
    CHECK(s.events.count_on<ev::Response>(2) == 0);
    CHECK(s.events.count_on<ev::Data>(2) == 0);
    CHECK(string_of(s.events.data_of(4)) == "wanted");
    CHECK(s.events.on<ev::Response>(1).has_value());
}

TEST_CASE("connection sending: random interleaving of input, API calls and partial output stays well-formed") {
    // The Peer's reader rejects any frame cut by another, any header block
    // interleaved with other frames, any DATA past a window; bodies of
    // streams that were not reset must arrive whole, reset ones as a prefix.
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
        CAPTURE(seed);
        Rng rng(seed * 7717);
        Session s(Role::server);
        s.handshake({{SettingId::initial_window_size, 30000}});
        std::map<std::uint32_t, std::unique_ptr<Bytes>> bodies;  // what the application sent, kept alive
        std::map<std::uint32_t, std::size_t> queued;             // octets handed to the connection
        std::set<std::uint32_t> reset, finished, with_trailers;
        std::uint32_t next = 1;
        for (int step = 0; step < 400; ++step) {
            switch (rng.below(8)) {
                case 0: {  // a new request
                    s.open(next, get("/s" + std::to_string(next)), true);
                    REQUIRE(s.conn.submit_response(
                                next, fields(response(200, {{"x-big", rng.letters(rng.one_in(5) ? 30000 : 10)}})),
                                false) == ApiError::none);
                    bodies[next] = std::make_unique<Bytes>(rng.bytes(rng.between(0, 150000)));
                    queued[next] = 0;
                    next += 2;
                    break;
                }
                case 1:
                case 2: {  // the application sends more of a body
                    for (auto& [id, body] : bodies) {
                        if (reset.count(id) || finished.count(id) || !rng.one_in(2)) continue;
                        const std::size_t left = body->size() - queued[id];
                        const std::size_t n = std::min(left, rng.between(0, 40000));
                        const bool end = n == left && rng.one_in(2);
                        const std::span<const std::uint8_t> piece(body->data() + queued[id], n);
                        ApiError e = rng.one_in(2) ? s.conn.send_data_borrowed(id, piece, end)
                                                   : s.conn.send_data(id, piece, end);
                        if (e == ApiError::buffer_full) continue;
                        REQUIRE_MESSAGE(e == ApiError::none, to_string(e));
                        queued[id] += n;
                        if (end)
                            finished.insert(id);
                        else if (n == left && rng.one_in(2)) {
                            REQUIRE(s.conn.send_trailers(id, fields(Hdrs{{"x-t", std::to_string(id)}})) ==
                                    ApiError::none);
                            finished.insert(id);
                            with_trailers.insert(id);
                        }
                    }
                    break;
                }
                case 3: {  // output taken in a random amount, through either form
                    if (!s.conn.wants_write()) break;
                    if (rng.one_in(2)) {
                        const auto o = s.conn.pending_output();
                        const std::size_t n = rng.between(1, o.size());
                        s.peer.read(o.first(n));
                        s.conn.consume_output(n);
                    } else {
                        const auto v = s.conn.pending_output_vectors();
                        std::size_t total = 0;
                        for (const OutputChunk& c : v) total += c.size;
                        std::size_t n = rng.between(1, total), left = n;
                        for (const OutputChunk& c : v) {
                            const std::size_t k = std::min(left, c.size);
                            s.peer.read(std::span<const std::uint8_t>(c.data, k));
                            left -= k;
                            if (!left) break;
                        }
                        s.conn.consume_output(n);
                    }
                    break;
                }
                case 4: {  // windows open
                    Bytes in = s.peer.window_update(0, static_cast<std::uint32_t>(rng.between(1, 100000)));
                    for (const auto& [id, body] : bodies)
                        if (rng.one_in(2))
                            append(in, s.peer.window_update(id, static_cast<std::uint32_t>(rng.between(1, 60000))));
                    s.feed(in);
                    break;
                }
                case 5:  // control traffic
                    s.feed(rng.one_in(2) ? s.peer.ping(opaque("chaos!!!"))
                                         : s.peer.settings({{SettingId::initial_window_size,
                                                             static_cast<std::uint32_t>(rng.between(0, 80000))}}));
                    break;
                case 6: {  // a reset, by either side
                    if (bodies.empty() || !rng.one_in(3)) break;
                    auto it = bodies.begin();
                    std::advance(it, static_cast<std::ptrdiff_t>(rng.below(bodies.size())));
                    const std::uint32_t id = it->first;
                    if (reset.count(id) || finished.count(id)) break;
                    if (rng.one_in(2)) {
                        s.feed(s.peer.rst(id, ErrorCode::cancel));
                    } else {
                        REQUIRE(s.conn.reset_stream(id, ErrorCode::cancel) == ApiError::none);
                    }
                    reset.insert(id);
                    break;
                }
                default:
                    s.feed(s.peer.priority(next, 0, rng.byte()));
                    break;
            }
            s.check_output();
            REQUIRE(!s.conn.is_closed());
        }
        // Finish: every unfinished body completes, windows open wide.
        for (auto& [id, body] : bodies) {
            if (reset.count(id) || finished.count(id)) continue;
            const std::span<const std::uint8_t> rest(body->data() + queued[id], body->size() - queued[id]);
            REQUIRE(s.conn.send_data_borrowed(id, rest, true) == ApiError::none);
            finished.insert(id);
        }
        Bytes in =
            cat({s.peer.settings({{SettingId::initial_window_size, 1 << 24}}), s.peer.window_update(0, 1 << 30)});
        s.feed(in);
        s.drain(rng.between(1, 10000));
        for (const auto& entry : bodies) {  // no structured bindings: clang 14 cannot capture them
            const auto id = entry.first;
            const auto& body = entry.second;
            CAPTURE(id);
            const Bytes got = data_of(s.peer.frames(), id);
            if (reset.count(id)) {
                CHECK(got.size() <= body->size());
                CHECK(std::equal(got.begin(), got.end(), body->begin()));
                continue;
            }
            CHECK(got.size() == body->size());
            CHECK(got == *body);
            const auto hs = only(s.peer.frames(), Type::headers, id);
            REQUIRE(!hs.empty());
            CHECK(hs.size() == (with_trailers.count(id) ? 2u : 1u));
            const bool ended = hs.back().end_stream() || only(s.peer.frames(), Type::data, id).back().end_stream();
            CHECK(ended);
            CHECK(s.conn.buffered(id) == 0);
        }
        CHECK(s.peer.problems().empty());
        CHECK(!s.conn.is_closed());
    }
}
