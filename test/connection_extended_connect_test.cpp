// CONNECT (RFC 9113 §8.5) and extended CONNECT (RFC 8441): the
// SETTINGS_ENABLE_CONNECT_PROTOCOL negotiation in both orders, every
// malformed (extended) CONNECT on both sides, tunnels opened by a 2xx
// (opaque DATA both ways, no content-length rules, half-close, reset with
// its code), non-2xx as ordinary responses, 50 MiB each way through a
// tunnel with random chunking and manual flow control, many tunnels beside
// ordinary requests, and a tunnel whose peer stops reading.
#include <doctest/doctest.h>

#include <set>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

/// An extended CONNECT request (RFC 8441 §4, §5).
Hdrs ext_connect(std::string protocol = "websocket", std::string path = "/chat") {
    return {{":method", "CONNECT"},
            {":protocol", std::move(protocol)},
            {":scheme", "https"},
            {":path", std::move(path)},
            {":authority", "server.example.com"}};
}
/// A classic CONNECT (RFC 9113 §8.5): :method and :authority only.
Hdrs classic_connect(std::string authority = "origin.example:443") {
    return {{":method", "CONNECT"}, {":authority", std::move(authority)}};
}

Config server_config(bool connect_protocol = true, FlowControl flow = FlowControl::automatic) {
    Config c;
    c.settings.enable_connect_protocol = connect_protocol;
    c.flow_control = flow;
    return c;
}
Config client_config(FlowControl flow = FlowControl::automatic) {
    Config c;
    c.flow_control = flow;
    return c;
}

const std::vector<Setting> enable = {{SettingId::enable_connect_protocol, 1}};

struct Case {
    std::string name;
    Hdrs headers;
};

/// Requests that are not a well-formed (extended) CONNECT.
std::vector<Case> malformed_connects() {
    const Hdrs ws = ext_connect();
    auto without = [](Hdrs h, std::string_view name) {
        std::erase_if(h, [&](const Hdr& x) { return x.name == name; });
        return h;
    };
    auto with = [](Hdrs h, std::string_view name, std::string value) {
        for (Hdr& x : h)
            if (x.name == name) x.value = value;
        return h;
    };
    return {
        {"extended CONNECT without :scheme", without(ws, ":scheme")},
        {"extended CONNECT without :path", without(ws, ":path")},
        {"extended CONNECT without :authority", without(ws, ":authority")},
        {"extended CONNECT with an empty :path", with(ws, ":path", "")},
        {"extended CONNECT with an empty :scheme", with(ws, ":scheme", "")},
        {"extended CONNECT with an empty :authority", with(ws, ":authority", "")},
        {"extended CONNECT with an empty :protocol", with(ws, ":protocol", "")},
        {"extended CONNECT with two :protocol", ws + Hdrs{{":protocol", "websocket"}}},
        {"extended CONNECT with :protocol after a regular field",
         Hdrs{{":method", "CONNECT"}, {":scheme", "https"}, {":path", "/chat"}, {":authority", "a.example"}} +
             Hdrs{{"origin", "https://a.example"}, {":protocol", "websocket"}}},
        {"extended CONNECT with connection: upgrade (RFC 8441 §5)", ws + Hdrs{{"connection", "upgrade"}}},
        {"extended CONNECT with upgrade: websocket (RFC 8441 §5)", ws + Hdrs{{"upgrade", "websocket"}}},
        {":protocol on GET", get("/chat") + Hdrs{{":protocol", "websocket"}}},
        {":protocol on POST", request("POST", "/chat") + Hdrs{{":protocol", "websocket"}}},
        {":protocol without :method", without(ws, ":method")},
        {"classic CONNECT with :path", classic_connect() + Hdrs{{":path", "/"}}},
        {"classic CONNECT with :scheme", classic_connect() + Hdrs{{":scheme", "https"}}},
        {"classic CONNECT with :scheme and :path", classic_connect() + Hdrs{{":scheme", "https"}, {":path", "/"}}},
        {"classic CONNECT without :authority", Hdrs{{":method", "CONNECT"}}},
        {"classic CONNECT with an empty :authority", classic_connect("")},
        {"lowercase connect with :protocol", with(ws, ":method", "connect")},
    };
}

/// FNV-1a over a byte stream, fed in pieces.
struct Hash {
    std::uint64_t h = 0xcbf29ce484222325ull;
    std::uint64_t n = 0;
    void add(std::span<const std::uint8_t> b) {
        for (const std::uint8_t c : b) h = (h ^ c) * 0x100000001b3ull;
        n += b.size();
    }
};

/// A deterministic byte stream: what one side sends into one tunnel.
class Source {
public:
    explicit Source(std::uint64_t seed, std::uint64_t total) : rng_(seed), total_(total) {}
    std::uint64_t left() const { return total_ - produced_; }
    /// The next n octets (n <= left()).
    std::span<const std::uint8_t> next(std::size_t n) {
        buf_.resize(n);
        for (std::size_t i = 0; i < n; i += 8) {
            const std::uint64_t v = rng_.next();
            std::memcpy(buf_.data() + i, &v, std::min<std::size_t>(8, n - i));
        }
        produced_ += n;
        hash.add(buf_);
        return buf_;
    }
    Hash hash;  ///< of everything produced so far

private:
    Rng rng_;
    std::uint64_t total_;
    std::uint64_t produced_ = 0;
    Bytes buf_;
};

/// One direction of one tunnel, from the sender's side.
struct Direction {
    std::unique_ptr<Source> source;
    bool ended = false;     ///< END_STREAM submitted
    Hash received;          ///< what the other side got
    bool end_seen = false;  ///< the other side saw END_STREAM
};

/// Sends what the stream can take now (a random piece, at most its
/// capacity); END_STREAM with the last octet.
void pump(Connection& c, std::uint32_t stream, Direction& d, Rng& rng) {
    if (d.ended) return;
    const std::size_t cap = c.send_capacity(stream);
    const std::uint64_t left = d.source->left();
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>({left, cap, rng.between(1, 96 * 1024)}));
    if (n == 0 && left > 0) return;
    const bool end = n == left;
    const ApiError e = c.send_data(stream, d.source->next(n), end);
    REQUIRE_MESSAGE(e == ApiError::none, "send_data on " << stream << ": " << to_string(e));
    d.ended = end;
}

/// Octets delivered and not yet consume()d, per stream, for one side in
/// manual flow control.
struct Unconsumed {
    std::map<std::uint32_t, std::size_t> owed;
    void add(std::uint32_t stream, std::size_t n) { owed[stream] += n; }
    /// Hands back a random part of what is owed (everything when `all`).
    void give_back(Connection& c, Rng& rng, bool all) {
        for (auto& [stream, n] : owed) {
            if (n == 0 || (!all && !rng.one_in(2))) continue;
            const std::size_t k = all ? n : rng.between(1, n);
            const ApiError e = c.consume(stream, k);
            CHECK_MESSAGE((e == ApiError::none || e == ApiError::invalid_stream || e == ApiError::stream_closed),
                          to_string(e));
            n -= k;
        }
    }
};

}  // namespace

// ---------------------------------------------------------------------------
// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)

TEST_CASE("extended connect: a client submitting :protocol before the server's SETTINGS gets an API error") {
    Session s(Role::client);
    s.drain();  // preface, SETTINGS, WINDOW_UPDATE
    const auto before = s.peer.frames().size();
    {
        const auto f = fields(ext_connect());
        const Submitted sub = s.conn.submit_request(f, false);
        CHECK(sub.error == ApiError::connect_protocol_disabled);
        CHECK(sub.stream == 0);
    }
    CHECK(!s.conn.wants_write());
    CHECK(s.peer.frames().size() == before);  // nothing was sent
    // A classic CONNECT needs no setting.
    const std::uint32_t classic = s.request(classic_connect(), false);
    CHECK(classic == 1);
    // The server's SETTINGS enables it: now the same request goes out.
    s.feed(cat({s.peer.preface(enable), s.peer.settings_ack()}));
    CHECK(s.conn.peer_settings().enable_connect_protocol);
    const std::uint32_t id = s.request(ext_connect(), false);
    CHECK(id == 3);
    const auto h = first(s.peer.frames(), Type::headers, id);
    REQUIRE(h.has_value());
    CHECK(find_field(h->headers, ":protocol") == "websocket");
    CHECK(!h->end_stream());
}

TEST_CASE("extended connect: a server that did not enable it: the client's submit fails, nothing is sent") {
    Session s(Role::client);
    s.handshake();  // the server's SETTINGS without ENABLE_CONNECT_PROTOCOL
    CHECK(!s.conn.peer_settings().enable_connect_protocol);
    const auto before = s.peer.frames().size();
    const auto f = fields(ext_connect());
    CHECK(s.conn.submit_request(f, false).error == ApiError::connect_protocol_disabled);
    CHECK(s.conn.submit_request(f, true).error == ApiError::connect_protocol_disabled);
    s.drain();
    CHECK(s.peer.frames().size() == before);
    CHECK(s.conn.open_streams() == 0);
    // The server enables it later (a second SETTINGS).
    s.feed(s.peer.settings(enable));
    s.drain();
    CHECK(s.request(ext_connect(), false) == 1);
}

TEST_CASE("extended connect: negotiated in both orders between two connections") {
    SUBCASE("client submits before the server's SETTINGS arrived") {
        Pair p(client_config(), server_config(), 7, true);
        const auto f = fields(ext_connect());
        CHECK(p.client.submit_request(f, false).error == ApiError::connect_protocol_disabled);
        CHECK(p.run(100000));
        CHECK(p.client.peer_settings().enable_connect_protocol);
        CHECK(p.client.submit_request(f, false));
    }
    SUBCASE("client submits after the server's SETTINGS arrived") {
        Pair p(client_config(), server_config(), 8, true);
        std::string protocol;
        p.on_server = [&](Connection&, const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e)) protocol = r->protocol;
        };
        CHECK(p.run(100000));
        const auto f = fields(ext_connect("websocket", "/ws"));
        const Submitted sub = p.client.submit_request(f, false);
        REQUIRE(sub);
        CHECK(p.run(100000));
        CHECK(protocol == "websocket");
    }
    SUBCASE("the setting announced by a client changes nothing for the server") {
        Config cc = client_config();
        cc.settings.enable_connect_protocol = true;
        Pair p(cc, server_config(false), 9, true);
        CHECK(p.run(100000));
        CHECK(p.server.peer_settings().enable_connect_protocol);
        CHECK(!p.client.peer_settings().enable_connect_protocol);
        const auto f = fields(ext_connect());
        CHECK(p.client.submit_request(f, false).error == ApiError::connect_protocol_disabled);
    }
}

TEST_CASE("extended connect: the setting cannot go back to 0 (RFC 8441 §3)") {
    SUBCASE("received: connection PROTOCOL_ERROR") {
        Session s(Role::client);
        s.handshake(enable);
        s.feed(s.peer.settings({{SettingId::enable_connect_protocol, 0}}));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
    }
    SUBCASE("a value above 1: connection PROTOCOL_ERROR") {
        Session s(Role::client);
        s.drain();
        s.feed(s.peer.raw(Type::settings, 0, 0, Bytes{0x00, 0x08, 0x00, 0x00, 0x00, 0x02}));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
    }
    SUBCASE("sent: update_settings refuses it") {
        Session s(Role::server, server_config());
        s.handshake();
        Settings next = s.conn.local_settings();
        next.enable_connect_protocol = false;
        CHECK(s.conn.update_settings(next) == ApiError::invalid_argument);
        next.enable_connect_protocol = true;
        CHECK(s.conn.update_settings(next) == ApiError::none);
    }
    SUBCASE("a server enables it later with update_settings") {
        Session s(Role::server, server_config(false));
        s.handshake();
        Settings next = s.conn.local_settings();
        next.enable_connect_protocol = true;
        CHECK(s.conn.update_settings(next) == ApiError::none);
        const auto out = s.drain();
        const auto st = first(out, Type::settings);
        REQUIRE(st.has_value());
        CHECK(std::find(st->settings.begin(), st->settings.end(), Setting{SettingId::enable_connect_protocol, 1}) !=
              st->settings.end());
        // From the moment it went out, :protocol is accepted.
        const auto ev = s.open(1, ext_connect());
        CHECK(ev.on<ev::Request>(1).has_value());
        expect_no_error(s, s.drain());
    }
}

// ---------------------------------------------------------------------------
// Well-formed and malformed requests

TEST_CASE("extended connect: the server reports :protocol, :scheme, :path and :authority") {
    Session s(Role::server, server_config());
    s.handshake();
    s.open(1, ext_connect() + Hdrs{{"sec-websocket-version", "13"}, {"origin", "https://www.example.com"}});
    const auto r = s.events.on<ev::Request>(1);
    REQUIRE(r.has_value());
    CHECK(r->method == "CONNECT");
    CHECK(r->protocol == "websocket");
    CHECK(r->scheme == "https");
    CHECK(r->path == "/chat");
    CHECK(r->authority == "server.example.com");
    CHECK(!r->end_stream);
    // A classic CONNECT: no :protocol, :scheme or :path.
    s.open(3, classic_connect());
    const auto c = s.events.on<ev::Request>(3);
    REQUIRE(c.has_value());
    CHECK(c->protocol.empty());
    CHECK(c->scheme.empty());
    CHECK(c->path.empty());
    CHECK(c->authority == "origin.example:443");
    // Any protocol token is passed up; the application decides.
    s.open(5, ext_connect("connect-udp", "/.well-known/masque/udp/a/443/"));
    CHECK(s.events.on<ev::Request>(5)->protocol == "connect-udp");
    expect_no_error(s, s.drain());
}

TEST_CASE("extended connect: malformed (extended) CONNECT is a stream PROTOCOL_ERROR at the server") {
    for (const Case& c : malformed_connects()) {
        CAPTURE(c.name);
        Session s(Role::server, server_config());
        s.handshake();
        const auto before = s.events.size();
        s.open(1, c.headers);
        CHECK(!s.events.on<ev::Request>(1).has_value());
        expect_stream_error(s, s.drain(), 1, ErrorCode::protocol_error, before);
        // The connection goes on.
        s.open(3, get(), true);
        CHECK(s.events.on<ev::Request>(3).has_value());
    }
}

TEST_CASE("extended connect: a server that did not enable it resets :protocol requests with PROTOCOL_ERROR") {
    for (const bool end_stream : {false, true}) {
        Session s(Role::server, server_config(false));
        s.handshake();
        const auto before = s.events.size();
        s.open(1, ext_connect(), end_stream);
        CHECK(!s.events.on<ev::Request>(1).has_value());
        expect_stream_error(s, s.drain(), 1, ErrorCode::protocol_error, before);
        // DATA the client sent optimistically is dropped with the stream.
        s.feed(s.peer.data(1, "early", false));
        expect_no_error(s, s.drain(), s.events.size());
        // Classic CONNECT still works.
        s.open(3, classic_connect());
        CHECK(s.events.on<ev::Request>(3).has_value());
    }
}

TEST_CASE("extended connect: the client API refuses malformed CONNECT requests; nothing is sent") {
    Session s(Role::client);
    s.handshake(enable);
    const auto before = s.peer.frames().size();
    for (const Case& c : malformed_connects()) {
        CAPTURE(c.name);
        const auto f = fields(c.headers);
        const Submitted sub = s.conn.submit_request(f, false);
        CHECK(sub.error == ApiError::invalid_header);
    }
    s.drain();
    CHECK(s.peer.frames().size() == before);
    CHECK(s.conn.open_streams() == 0);
    CHECK(s.request(ext_connect(), false) == 1);
    CHECK(s.request(classic_connect(), false) == 3);
}

// ---------------------------------------------------------------------------
// Tunnels (RFC 9113 §8.5)

TEST_CASE("extended connect: a 2xx opens a tunnel; the server sends DATA right after its HEADERS") {
    Session s(Role::server, server_config());
    s.handshake();
    s.open(1, ext_connect());
    // Response and first tunnel octets go out together, without waiting for
    // anything more from the client.
    CHECK(s.conn.submit_response(1, fields(response(200, {{"sec-websocket-protocol", "chat"}})), false) ==
          ApiError::none);
    CHECK(s.conn.send_data(1, span_of("\x81\x05hello"), false) == ApiError::none);
    const auto out = s.drain();
    REQUIRE(out.size() == 2);
    CHECK(out[0].is(Type::headers, 1));
    CHECK(!out[0].end_stream());
    CHECK(out[1].is(Type::data, 1));
    CHECK(string_of(out[1].data) == "\x81\x05hello");
    // Client tunnel octets, any amount, no content-length involved.
    s.feed(cat({s.peer.data(1, "abc", false), s.peer.data(1, "", false), s.peer.data(1, "defg", false)}));
    CHECK(string_of(s.events.data_of(1)) == "abcdefg");
    // HEADERS on the tunnel is a stream error (§8.5: only DATA and stream
    // management frames).
    const auto before = s.events.size();
    s.feed(s.peer.headers(1, {{"x-trailer", "1"}}, true));
    expect_stream_error(s, s.drain(), 1, ErrorCode::protocol_error, before);
}

TEST_CASE("extended connect: content-length does not apply to a tunnel") {
    SUBCASE("the client's CONNECT announces a content-length; the tunnel carries more, and less") {
        Session s(Role::server, server_config());
        s.handshake();
        s.open(1, ext_connect() + Hdrs{{"content-length", "3"}});
        s.open(3, classic_connect() + Hdrs{{"content-length", "100"}});
        s.feed(cat({s.peer.data(1, "much more than three", true), s.peer.data(3, "short", true)}));
        expect_no_error(s, s.drain());
        CHECK(string_of(s.events.data_of(1)) == "much more than three");
        CHECK(s.events.count_on<StreamEnded>(3) == 1);
    }
    SUBCASE("the server's 2xx carries a content-length: ignored (RFC 9110 §9.3.6)") {
        Session s(Role::client);
        s.handshake(enable);
        const std::uint32_t id = s.request(ext_connect(), false);
        s.feed(cat({s.peer.headers(id, response(200, {{"content-length", "2"}}), false),
                    s.peer.data(id, "more than two", false), s.peer.data(id, "", true)}));
        expect_no_error(s, s.drain());
        CHECK(string_of(s.events.data_of(id)) == "more than two");
        CHECK(s.events.count_on<StreamEnded>(id) == 1);
    }
    SUBCASE("a server may not send one in a 2xx to CONNECT") {
        Session s(Role::server, server_config());
        s.handshake();
        s.open(1, ext_connect());
        CHECK(s.conn.submit_response(1, fields(response(200, {{"content-length", "0"}})), false) ==
              ApiError::invalid_header);
        CHECK(s.conn.submit_response(1, fields(response(200)), false) == ApiError::none);
    }
}

TEST_CASE("extended connect: nothing but DATA on a tunnel from the API (RFC 9113 §8.5)") {
    SUBCASE("client: no trailers on a CONNECT request") {
        Session s(Role::client);
        s.handshake(enable);
        const std::uint32_t id = s.request(ext_connect(), false);
        const std::uint32_t classic = s.request(classic_connect(), false);
        CHECK(s.conn.send_trailers(id, fields({{"x-t", "1"}})) == ApiError::invalid_stream);
        CHECK(s.conn.send_trailers(classic, fields({{"x-t", "1"}})) == ApiError::invalid_stream);
        CHECK(s.conn.send_data(id, span_of("x"), true) == ApiError::none);
    }
    SUBCASE("server: no trailers after a 2xx, trailers fine after a non-2xx") {
        Session s(Role::server, server_config());
        s.handshake();
        s.open(1, ext_connect());
        s.open(3, ext_connect());
        CHECK(s.conn.submit_response(1, fields(response(200)), false) == ApiError::none);
        CHECK(s.conn.send_trailers(1, fields({{"x-t", "1"}})) == ApiError::invalid_stream);
        CHECK(s.conn.submit_response(3, fields(response(404)), false) == ApiError::none);
        CHECK(s.conn.send_data(3, span_of("not found"), false) == ApiError::none);
        CHECK(s.conn.send_trailers(3, fields({{"x-t", "1"}})) == ApiError::none);
        expect_no_error(s, s.drain());
    }
    SUBCASE("server: no PUSH_PROMISE on a CONNECT stream") {
        Session s(Role::server, server_config());
        s.handshake({{SettingId::enable_push, 1}});
        s.open(1, ext_connect());
        CHECK(s.conn.push_promise(1, fields(get("/pushed"))).error == ApiError::invalid_stream);
    }
    SUBCASE("client: a PUSH_PROMISE on a CONNECT stream is a stream error") {
        Config c = client_config();
        c.settings.enable_push = true;
        Session s(Role::client, c);
        s.handshake(enable);
        const std::uint32_t id = s.request(ext_connect(), false);
        s.feed(s.peer.headers(id, response(200), false));
        const auto before = s.events.size();
        s.feed(s.peer.push_promise(id, 2, get("/pushed")));
        const auto out = s.drain();
        INFO(str(out));
        const auto promised = first(out, Type::rst_stream, 2);
        const auto tunnel = first(out, Type::rst_stream, id);
        REQUIRE(promised.has_value());
        REQUIRE(tunnel.has_value());
        CHECK(promised->code == ErrorCode::protocol_error);
        CHECK(tunnel->code == ErrorCode::protocol_error);
        CHECK(count(out, Type::goaway) == 0);
        CHECK(s.events.count<ev::PushPromise>() == 0);
        CHECK(s.events.size() > before);
    }
}

TEST_CASE("extended connect: a non-2xx ends the attempt as an ordinary response") {
    Session s(Role::client);
    s.handshake(enable);
    const std::uint32_t id = s.request(ext_connect(), false);
    SUBCASE("with a body whose content-length is checked") {
        s.feed(
            cat({s.peer.headers(id, response(403, {{"content-length", "5"}}), false), s.peer.data(id, "nope!", true)}));
        const auto r = s.events.on<ev::Response>(id);
        REQUIRE(r.has_value());
        CHECK(r->status == 403);
        CHECK(string_of(s.events.data_of(id)) == "nope!");
        CHECK(s.events.count_on<StreamEnded>(id) == 1);
        // The client gives up its side.
        CHECK(s.conn.reset_stream(id, ErrorCode::no_error) == ApiError::none);
        CHECK(s.conn.open_streams() == 0);
    }
    SUBCASE("DATA past its content-length is malformed, as for any response") {
        const auto before = s.events.size();
        s.feed(cat(
            {s.peer.headers(id, response(404, {{"content-length", "2"}}), false), s.peer.data(id, "too long", false)}));
        expect_stream_error(s, s.drain(), id, ErrorCode::protocol_error, before);
    }
    SUBCASE("trailers are fine") {
        s.feed(cat({s.peer.headers(id, response(500), false), s.peer.data(id, "x", false),
                    s.peer.headers(id, {{"x-why", "down"}}, true)}));
        CHECK(s.events.on<ev::Trailers>(id).has_value());
        expect_no_error(s, s.drain());
    }
    SUBCASE("without a body") {
        s.feed(s.peer.headers(id, response(501), true));
        CHECK(s.events.on<ev::Response>(id)->end_stream);
        CHECK(s.conn.send_data(id, {}, true) == ApiError::none);
        s.drain();
        CHECK(s.conn.open_streams() == 0);
    }
    SUBCASE("after an informational response, a 2xx still opens the tunnel") {
        s.feed(cat({s.peer.headers(id, response(103, {{"link", "</a>; rel=preload"}}), false),
                    s.peer.headers(id, response(200, {{"content-length", "1"}}), false),
                    s.peer.data(id, "tunnel bytes", false)}));
        expect_no_error(s, s.drain());
        CHECK(string_of(s.events.data_of(id)) == "tunnel bytes");
    }
}

// ---------------------------------------------------------------------------
// Two connections: half-close, reset, bulk transfer, many tunnels

namespace {

/// A client and a server with one tunnel open between them.
struct TunnelPair {
    explicit TunnelPair(std::uint64_t seed, FlowControl flow = FlowControl::automatic, bool classic = false)
        : p(client_config(flow), server_config(true, flow), seed, true) {
        p.on_server = [this](Connection&, const Event& e) { server_ev.push_back(own(e)); };
        p.on_client = [this](Connection&, const Event& e) { client_ev.push_back(own(e)); };
        REQUIRE(p.run(100000));
        const auto f = fields(classic ? classic_connect() : ext_connect());
        const Submitted sub = p.client.submit_request(f, false);
        REQUIRE(sub);
        id = sub.stream;
        REQUIRE(p.run(100000));
        REQUIRE(server_ev.on<ev::Request>(id).has_value());
        REQUIRE(p.server.submit_response(id, fields(response(200)), false) == ApiError::none);
        REQUIRE(p.run(100000));
        REQUIRE(client_ev.on<ev::Response>(id).has_value());
    }
    Pair p;
    Events server_ev, client_ev;
    std::uint32_t id = 0;
};

}  // namespace

TEST_CASE("extended connect: half-close in each order") {
    for (const bool classic : {false, true}) {
        CAPTURE(classic);
        SUBCASE("client ends first, the server keeps sending, then ends") {
            TunnelPair t(11, FlowControl::automatic, classic);
            CHECK(t.p.client.send_data(t.id, span_of("bye"), true) == ApiError::none);
            REQUIRE(t.p.run(100000));
            CHECK(t.server_ev.count_on<StreamEnded>(t.id) == 1);
            CHECK(t.p.client.send_data(t.id, span_of("more"), false) == ApiError::stream_closed);
            for (int i = 0; i < 5; ++i)
                CHECK(t.p.server.send_data(t.id, span_of("still here "), false) == ApiError::none);
            REQUIRE(t.p.run(100000));
            CHECK(string_of(t.client_ev.data_of(t.id)).size() == 55);
            CHECK(t.p.server.send_data(t.id, {}, true) == ApiError::none);
            REQUIRE(t.p.run(100000));
            CHECK(t.client_ev.count_on<StreamEnded>(t.id) == 1);
            CHECK(t.p.client.open_streams() == 0);
            CHECK(t.p.server.open_streams() == 0);
            CHECK(t.client_ev.count<ev::Reset>() + t.server_ev.count<ev::Reset>() == 0);
        }
        SUBCASE("server ends first, the client keeps sending, then ends") {
            TunnelPair t(12, FlowControl::automatic, classic);
            CHECK(t.p.server.send_data(t.id, span_of("closing"), true) == ApiError::none);
            REQUIRE(t.p.run(100000));
            CHECK(t.client_ev.count_on<StreamEnded>(t.id) == 1);
            CHECK(t.p.server.send_data(t.id, span_of("x"), false) == ApiError::stream_closed);
            CHECK(t.p.client.send_data(t.id, span_of("last words"), false) == ApiError::none);
            REQUIRE(t.p.run(100000));
            CHECK(string_of(t.server_ev.data_of(t.id)) == "last words");
            CHECK(t.p.client.send_data(t.id, span_of("!"), true) == ApiError::none);
            REQUIRE(t.p.run(100000));
            CHECK(t.server_ev.count_on<StreamEnded>(t.id) == 1);
            CHECK(t.p.client.open_streams() == 0);
            CHECK(t.p.server.open_streams() == 0);
            CHECK(t.client_ev.count<ev::Reset>() + t.server_ev.count<ev::Reset>() == 0);
        }
        SUBCASE("the server's 2xx itself ends its side") {
            Pair p(client_config(), server_config(), 13, true);
            Events server_ev, client_ev;
            p.on_server = [&](Connection&, const Event& e) { server_ev.push_back(own(e)); };
            p.on_client = [&](Connection&, const Event& e) { client_ev.push_back(own(e)); };
            REQUIRE(p.run(100000));
            const Submitted sub = p.client.submit_request(fields(classic ? classic_connect() : ext_connect()), false);
            REQUIRE(sub);
            REQUIRE(p.run(100000));
            CHECK(p.server.submit_response(sub.stream, fields(response(200)), true) == ApiError::none);
            REQUIRE(p.run(100000));
            CHECK(client_ev.on<ev::Response>(sub.stream)->end_stream);
            CHECK(p.client.send_data(sub.stream, span_of("upload only"), true) == ApiError::none);
            REQUIRE(p.run(100000));
            CHECK(string_of(server_ev.data_of(sub.stream)) == "upload only");
            CHECK(p.server.open_streams() == 0);
        }
    }
}

TEST_CASE("extended connect: a reset in each direction carries its code to the other side") {
    const ErrorCode codes[] = {ErrorCode::cancel, ErrorCode::connect_error, ErrorCode::no_error,
                               static_cast<ErrorCode>(0x1234)};
    for (const ErrorCode code : codes) {
        for (const bool from_client : {true, false}) {
            CAPTURE(code);
            CAPTURE(from_client);
            TunnelPair t(21);
            // Some data in flight both ways when the reset comes.
            CHECK(t.p.client.send_data(t.id, span_of("up"), false) == ApiError::none);
            CHECK(t.p.server.send_data(t.id, span_of("down"), false) == ApiError::none);
            Connection& resetter = from_client ? t.p.client : t.p.server;
            CHECK(resetter.reset_stream(t.id, code) == ApiError::none);
            REQUIRE(t.p.run(100000));
            Events& other = from_client ? t.server_ev : t.client_ev;
            const auto r = other.on<ev::Reset>(t.id);
            REQUIRE(r.has_value());
            CHECK(r->code == code);
            CHECK(r->by == Initiator::peer);
            CHECK(t.p.client.open_streams() == 0);
            CHECK(t.p.server.open_streams() == 0);
            // Both sides refuse more on it; the connection lives on.
            CHECK(t.p.client.send_data(t.id, span_of("x"), false) != ApiError::none);
            CHECK(t.p.server.send_data(t.id, span_of("x"), false) != ApiError::none);
            CHECK(!t.p.client.is_closed());
            CHECK(!t.p.server.is_closed());
        }
    }
}

namespace {

/// `tunnels` tunnels carrying `each_way` octets in each direction (random
/// pieces, random chunking of the wire), beside `requests` ordinary
/// requests; every octet is hashed on both sides.
struct Bulk {
    std::size_t tunnels = 1;
    std::uint64_t each_way = 1 << 20;
    std::size_t requests = 0;
    FlowControl flow = FlowControl::manual;
    std::uint64_t seed = 1;
};

void run_bulk(const Bulk& b) {
    Pair p(client_config(b.flow), server_config(true, b.flow), b.seed, true);
    Rng rng(b.seed * 31 + 5);
    std::map<std::uint32_t, Direction> up, down;  // client→server, server→client
    std::map<std::uint32_t, Hash> request_bodies;
    std::map<std::uint32_t, std::string> responses;  // ordinary requests: body the client got
    std::map<std::uint32_t, bool> ordinary_done;
    Unconsumed client_owed, server_owed;
    std::vector<std::string> errors;
    std::vector<std::uint32_t> to_answer;
    std::set<std::uint32_t> answered;

    p.on_server = [&](Connection& c, const Event& e) {
        std::visit(overloaded{
                       [&](const RequestReceived& r) {
                           if (r.method == "CONNECT") {
                               if (r.protocol != "bulk") errors.push_back("wrong :protocol");
                               to_answer.push_back(r.stream);
                           }
                       },
                       [&](const DataReceived& d) {
                           if (b.flow == FlowControl::manual) server_owed.add(d.stream, d.flow_controlled_length);
                           if (auto it = up.find(d.stream); it != up.end()) {
                               it->second.received.add(d.data);
                               if (d.end_stream) it->second.end_seen = true;
                           } else {
                               request_bodies[d.stream].add(d.data);
                           }
                       },
                       [&](const StreamEnded& x) {
                           if (!up.count(x.stream)) {
                               // An ordinary request ended: answer it.
                               const std::string body = "response to " + std::to_string(x.stream) + " after " +
                                                        std::to_string(request_bodies[x.stream].n);
                               const ApiError e1 = c.submit_response(x.stream, fields(response(200)), false);
                               const ApiError e2 = c.send_data(x.stream, span_of(body), true);
                               if (e1 != ApiError::none || e2 != ApiError::none) errors.push_back("answer failed");
                           }
                       },
                       [&](const StreamReset& r) { errors.push_back("server: reset " + num(r.stream)); },
                       [&](const ConnectionTerminated&) { errors.push_back("server: terminated"); },
                       [](const auto&) {},
                   },
                   e);
    };
    p.on_client = [&](Connection&, const Event& e) {
        std::visit(overloaded{
                       [&](const DataReceived& d) {
                           if (b.flow == FlowControl::manual) client_owed.add(d.stream, d.flow_controlled_length);
                           if (auto it = down.find(d.stream); it != down.end()) {
                               it->second.received.add(d.data);
                               if (d.end_stream) it->second.end_seen = true;
                           } else {
                               responses[d.stream].append(reinterpret_cast<const char*>(d.data.data()), d.data.size());
                               if (d.end_stream) ordinary_done[d.stream] = true;
                           }
                       },
                       [&](const StreamReset& r) { errors.push_back("client: reset " + num(r.stream)); },
                       [&](const ConnectionTerminated&) { errors.push_back("client: terminated"); },
                       [](const auto&) {},
                   },
                   e);
    };
    REQUIRE(p.run(100000));
    REQUIRE(p.client.peer_settings().enable_connect_protocol);

    // Tunnels and ordinary requests interleaved.
    std::vector<std::uint32_t> ordinary;
    for (std::size_t i = 0; i < std::max(b.tunnels, b.requests); ++i) {
        if (i < b.tunnels) {
            const Submitted sub = p.client.submit_request(fields(ext_connect("bulk", "/t/" + num(i))), false);
            REQUIRE(sub);
            up[sub.stream].source = std::make_unique<Source>(b.seed * 1000 + i * 2, b.each_way);
            down[sub.stream].source = std::make_unique<Source>(b.seed * 1000 + i * 2 + 1, b.each_way);
        }
        if (i < b.requests) {
            const bool with_body = rng.one_in(2);
            const Submitted sub = p.client.submit_request(fields(request("POST", "/r/" + num(i))), !with_body);
            REQUIRE(sub);
            ordinary.push_back(sub.stream);
            if (with_body)
                CHECK(p.client.send_data(sub.stream, rng.bytes(rng.between(1, 40000)), true) == ApiError::none);
        }
    }

    auto finished = [&] {
        for (auto& [id, d] : up)
            if (!d.end_seen) return false;
        for (auto& [id, d] : down)
            if (!d.end_seen) return false;
        for (const std::uint32_t id : ordinary)
            if (!ordinary_done[id]) return false;
        return true;
    };
    std::size_t steps = 0, idle = 0;
    for (; steps < 20'000'000 && !finished() && errors.empty(); ++steps) {
        for (const std::uint32_t id : to_answer) {
            const ApiError e = p.server.submit_response(id, fields(response(200)), false);
            if (e != ApiError::none) errors.push_back("submit_response: " + std::string(to_string(e)));
            answered.insert(id);
        }
        to_answer.clear();
        // The client sends from the start (before the 2xx); the server once
        // it answered.
        for (auto& [id, d] : up) pump(p.client, id, d, rng);
        for (auto& [id, d] : down)
            if (answered.count(id)) pump(p.server, id, d, rng);
        if (b.flow == FlowControl::manual && rng.one_in(2)) {
            client_owed.give_back(p.client, rng, false);
            server_owed.give_back(p.server, rng, false);
        }
        if (p.step() == 0) {
            client_owed.give_back(p.client, rng, true);
            server_owed.give_back(p.server, rng, true);
            if (++idle > 100) break;
        } else {
            idle = 0;
        }
    }
    INFO("steps " << steps);
    REQUIRE_MESSAGE(errors.empty(), join(errors));
    REQUIRE(finished());
    for (auto& entry : up) {  // no structured bindings: clang 14 cannot capture them in CAPTURE's lambda
        const auto id = entry.first;
        auto& d = entry.second;
        CAPTURE(id);
        CHECK(d.received.n == b.each_way);
        CHECK(d.received.h == d.source->hash.h);
    }
    for (auto& entry : down) {
        const auto id = entry.first;
        auto& d = entry.second;
        CAPTURE(id);
        CHECK(d.received.n == b.each_way);
        CHECK(d.received.h == d.source->hash.h);
    }
    for (const std::uint32_t id : ordinary)
        CHECK(responses[id] == "response to " + num(id) + " after " + num(request_bodies[id].n));
    CHECK(p.client.open_streams() == 0);
    CHECK(p.server.open_streams() == 0);
    MESSAGE(b.tunnels << " tunnel(s) x " << b.each_way << " octets each way, " << b.requests
                      << " ordinary requests: " << steps << " steps");
}

}  // namespace

TEST_CASE("extended connect: 50 MiB each way through one tunnel, random chunking, manual flow control") {
    run_bulk({.tunnels = 1, .each_way = 50ull << 20, .requests = 0, .flow = FlowControl::manual, .seed = 3});
}

TEST_CASE("extended connect: many tunnels beside ordinary requests on one connection") {
    SUBCASE("manual flow control") {
        run_bulk({.tunnels = 40, .each_way = 200 * 1024, .requests = 120, .flow = FlowControl::manual, .seed = 4});
    }
    SUBCASE("automatic flow control") {
        run_bulk({.tunnels = 40, .each_way = 100 * 1024, .requests = 120, .flow = FlowControl::automatic, .seed = 5});
    }
}

TEST_CASE("extended connect: a tunnel whose peer stops reading does not make the sender buffer without bound") {
    SUBCASE("the peer stops consuming (manual flow control): windows close, send_data says buffer_full") {
        Config cc = client_config(FlowControl::manual);
        Config sc = server_config(true, FlowControl::manual);
        sc.limits.max_buffered_per_stream = 64 * 1024;
        Pair p(cc, sc, 31, true);
        std::uint64_t got = 0;
        std::uint32_t owed_stream = 0;
        p.on_client = [&](Connection&, const Event& e) {
            if (const auto* d = std::get_if<DataReceived>(&e)) {
                got += d->flow_controlled_length;
                owed_stream = d->stream;
            }
        };
        std::uint32_t id = 0;
        p.on_server = [&](Connection& c, const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e)) {
                id = r->stream;
                CHECK(c.submit_response(id, fields(response(200)), false) == ApiError::none);
            }
        };
        REQUIRE(p.run(100000));
        REQUIRE(p.client.submit_request(fields(ext_connect()), false));
        REQUIRE(p.run(100000));
        REQUIRE(id != 0);
        const Bytes chunk(16 * 1024, 0x5a);
        std::uint64_t accepted = 0;
        std::size_t full = 0;
        for (int i = 0; i < 2000; ++i) {
            const ApiError e = p.server.send_data(id, chunk, false);
            if (e == ApiError::none)
                accepted += chunk.size();
            else if (e == ApiError::buffer_full)
                ++full;
            else
                FAIL("send_data: " << to_string(e));
            CHECK(p.server.buffered(id) <= sc.limits.max_buffered_per_stream);
            p.step();
        }
        p.run(100000);
        // The client's stream window (its initial 1 MiB) is all it received.
        CHECK(got == cc.settings.initial_window_size);
        CHECK(full > 0);
        CHECK(accepted <= got + sc.limits.max_buffered_per_stream);
        CHECK(p.server.buffered(id) <= sc.limits.max_buffered_per_stream);
        CHECK(p.server.send_window(id) == 0);
        // Reading again lets the rest through.
        CHECK(p.client.consume(owed_stream, static_cast<std::size_t>(got)) == ApiError::none);
        REQUIRE(p.run(100000));
        CHECK(got == accepted);
        CHECK(p.server.buffered(id) == 0);
    }
    SUBCASE("the transport stops (output never drained): send_data stays bounded") {
        Config sc = server_config();
        sc.limits.max_buffered_per_stream = 32 * 1024;
        Session s(Role::server, sc);
        s.handshake();
        s.open(1, ext_connect());
        CHECK(s.conn.submit_response(1, fields(response(200)), false) == ApiError::none);
        const Bytes chunk(4096, 1);
        std::size_t accepted = 0;
        for (int i = 0; i < 1000; ++i)
            if (s.conn.send_data(1, chunk, false) == ApiError::none) accepted += chunk.size();
        CHECK(accepted <= sc.limits.max_buffered_per_stream);
        CHECK(s.conn.buffered(1) <= sc.limits.max_buffered_per_stream);
        CHECK(s.conn.send_capacity(1) < chunk.size());
        // The client's DATA keeps arriving meanwhile (its window is ours to
        // give, not tied to our sending).
        s.feed(s.peer.data(1, "client still talks", false));
        CHECK(string_of(s.events.data_of(1)) == "client still talks");
    }
    SUBCASE("a peer overrunning the tunnel's window is a FLOW_CONTROL_ERROR") {
        Config sc = server_config(true, FlowControl::manual);
        sc.settings.initial_window_size = 65535;
        Session s(Role::server, sc);
        s.handshake();
        s.open(1, ext_connect());
        const auto before = s.events.size();
        s.feed(s.peer.data_frames(1, Bytes(70000, 7), false));
        const auto out = s.drain();
        const auto rst = first(out, Type::rst_stream, 1);
        const auto ga = first(out, Type::goaway);
        CHECK(
            ((rst && rst->code == ErrorCode::flow_control_error) || (ga && ga->code == ErrorCode::flow_control_error)));
        CHECK(s.events.size() > before);
    }
}

// ---------------------------------------------------------------------------
// WebSocket over HTTP/2 (RFC 8441 §5) with the example's RFC 6455 framing,
// between two connections in memory.

#include "websocket/h2_tunnel.hpp"

namespace {

namespace ws = example::ws;

std::span<const std::uint8_t> bytes_view(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// A server with the /ws echo and a client with one WebSocket open.
struct WsPair {
    explicit WsPair(std::uint64_t seed, std::size_t max_message = 1 << 20)
        : p(client_config(), server_config(true, FlowControl::manual), seed, true) {
        p.on_server = [this, max_message](Connection& c, const Event& e) {
            std::visit(overloaded{
                           [&](const RequestReceived& r) {
                               const int code = ws::accept_status(r);
                               const std::string st = std::to_string(code);
                               const Field h[] = {{":status", st}};
                               CHECK(c.submit_response(r.stream, h, code != 200) == ApiError::none);
                               if (code == 200)
                                   server = std::make_unique<ws::Tunnel>(
                                       r.stream, ws::Tunnel::Config{ws::Role::server, max_message, 64 * 1024, true});
                           },
                           [&](const DataReceived& d) {
                               if (server && d.stream == server->stream())
                                   server->on_data(d.data, d.flow_controlled_length);
                               else
                                   c.consume(d.stream, d.flow_controlled_length);
                           },
                           [&](const StreamEnded& x) {
                               if (server && x.stream == server->stream()) server->on_end();
                           },
                           [](const auto&) {},
                       },
                       e);
        };
        p.on_client = [this](Connection&, const Event& e) {
            std::visit(overloaded{
                           [&](const ResponseReceived& r) {
                               status = r.status;
                               if (r.status == 200)
                                   client = std::make_unique<ws::Tunnel>(
                                       r.stream, ws::Tunnel::Config{ws::Role::client, 1 << 20, 64 * 1024, false});
                           },
                           [&](const DataReceived& d) {
                               if (client) client->on_data(d.data, 0);
                               raw_down.insert(raw_down.end(), d.data.begin(), d.data.end());
                           },
                           [&](const StreamEnded&) {
                               client_ended = true;
                               if (client) client->on_end();
                           },
                           [](const auto&) {},
                       },
                       e);
        };
        REQUIRE(p.run(100000));
        const Submitted sub = p.client.submit_request(
            fields(ext_connect("websocket", "/ws") + Hdrs{{"sec-websocket-version", "13"}}), false);
        REQUIRE(sub);
        id = sub.stream;
        run();
        REQUIRE(client);
    }
    void run() {
        for (int i = 0; i < 100000; ++i) {
            if (server) server->pump(p.server, true);
            if (client) client->pump(p.client, false);
            if (p.step() == 0 && !p.client.wants_write() && !p.server.wants_write()) {
                if (server) server->pump(p.server, true);
                if (client) client->pump(p.client, false);
                if (!p.client.wants_write() && !p.server.wants_write()) return;
            }
        }
        FAIL("did not settle");
    }
    /// Raw octets from the client into the tunnel (frames built by hand).
    void client_raw(const Bytes& b) { CHECK(p.client.send_data(id, b, false) == ApiError::none); }

    Pair p;
    std::unique_ptr<ws::Tunnel> server, client;
    int status = 0;
    std::uint32_t id = 0;
    bool client_ended = false;
    Bytes raw_down;
};

Bytes frame_bytes(ws::Opcode op, const std::string& payload, bool fin = true, bool mask = true) {
    std::vector<std::uint8_t> out;
    const std::uint8_t key[4] = {1, 2, 3, 4};
    ws::write_frame(out, op, bytes_view(payload), fin, mask ? key : nullptr);
    return out;
}

}  // namespace

TEST_CASE("extended connect: WebSocket echo over HTTP/2 (text, fragmented binary, ping, close)") {
    WsPair w(41);
    CHECK(w.status == 200);
    ws::Endpoint& ep = w.client->endpoint();
    std::string big(300000, 'x');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 % 251);
    CHECK(ep.send_text("hello"));
    CHECK(ep.send(ws::Opcode::binary, bytes_view(big), 7000));
    CHECK(ep.ping(span_of("are you there")));
    CHECK(ep.send_text("", 1));                               // empty message
    CHECK(ep.send_text("h\xc3\xa9llo \xf0\x9f\x8c\x8d", 1));  // UTF-8 cut everywhere
    w.run();
    REQUIRE(ep.messages().size() == 4);
    CHECK(ep.messages()[0].data == "hello");
    CHECK(ep.messages()[1].opcode == ws::Opcode::binary);
    CHECK(ep.messages()[1].data == big);
    CHECK(ep.messages()[2].data.empty());
    CHECK(ep.messages()[3].data == "h\xc3\xa9llo \xf0\x9f\x8c\x8d");
    CHECK(ep.pongs_received() == 1);
    ep.close(ws::close_code::normal, "bye");
    w.run();
    CHECK(ep.close_received());
    CHECK(ep.peer_close_code() == ws::close_code::normal);
    CHECK(w.client_ended);  // the server ended the stream after its close
    CHECK(w.client->done());
    CHECK(w.p.client.open_streams() == 0);
    CHECK(w.p.server.open_streams() == 0);
}

TEST_CASE("extended connect: WebSocket violations close with the RFC 6455 code") {
    struct Bad {
        std::string name;
        Bytes frames;
        std::uint16_t code;
    };
    std::vector<std::uint8_t> non_minimal = {0x82, 0x80 | 126, 0x00, 0x05, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'};
    std::vector<std::uint8_t> huge = {0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    const std::vector<Bad> cases = {
        {"unmasked client frame", frame_bytes(ws::Opcode::text, "x", true, false), ws::close_code::protocol_error},
        {"RSV1 set", cat({Bytes{0xc1, 0x81, 1, 2, 3, 4, 'x' ^ 1}}), ws::close_code::protocol_error},
        {"reserved opcode 0x3", cat({Bytes{0x83, 0x80, 1, 2, 3, 4}}), ws::close_code::protocol_error},
        {"reserved opcode 0xb", cat({Bytes{0x8b, 0x80, 1, 2, 3, 4}}), ws::close_code::protocol_error},
        {"fragmented ping", frame_bytes(ws::Opcode::ping, "p", false), ws::close_code::protocol_error},
        {"ping of 126 octets", frame_bytes(ws::Opcode::ping, std::string(126, 'p')), ws::close_code::protocol_error},
        {"continuation without a message", frame_bytes(ws::Opcode::continuation, "x"), ws::close_code::protocol_error},
        {"new message inside a fragmented one",
         cat({frame_bytes(ws::Opcode::text, "a", false), frame_bytes(ws::Opcode::text, "b")}),
         ws::close_code::protocol_error},
        {"length not minimal", non_minimal, ws::close_code::protocol_error},
        {"64-bit length with the top bit", huge, ws::close_code::protocol_error},
        {"invalid UTF-8", frame_bytes(ws::Opcode::text, "\xc3\x28"), ws::close_code::invalid_data},
        {"UTF-8 surrogate", frame_bytes(ws::Opcode::text, "\xed\xa0\x80"), ws::close_code::invalid_data},
        {"overlong UTF-8", frame_bytes(ws::Opcode::text, "\xc0\xaf"), ws::close_code::invalid_data},
        {"close of 1 octet", frame_bytes(ws::Opcode::close, "\x03"), ws::close_code::protocol_error},
        {"close code 1005", frame_bytes(ws::Opcode::close, "\x03\xed"), ws::close_code::protocol_error},
        {"close code 999", frame_bytes(ws::Opcode::close, "\x03\xe7"), ws::close_code::protocol_error},
        {"close reason not UTF-8", frame_bytes(ws::Opcode::close, "\x03\xe8\xff"), ws::close_code::invalid_data},
        {"message over the limit", frame_bytes(ws::Opcode::binary, std::string(5000, 'b')), ws::close_code::too_big},
        {"fragments over the limit",
         cat({frame_bytes(ws::Opcode::binary, std::string(3000, 'b'), false),
              frame_bytes(ws::Opcode::continuation, std::string(3000, 'b'))}),
         ws::close_code::too_big},
    };
    for (const Bad& b : cases) {
        CAPTURE(b.name);
        WsPair w(43, 4096);
        w.client_raw(b.frames);
        w.run();
        REQUIRE(w.server);
        CHECK(w.server->endpoint().failed());
        // The server's close frame (unmasked) with the code, then END_STREAM.
        REQUIRE(w.raw_down.size() >= 4);
        CHECK(w.raw_down[0] == 0x88);
        CHECK(((w.raw_down[2] << 8) | w.raw_down[3]) == b.code);
        CHECK(w.client_ended);
        // Nothing echoed after the failure.
        CHECK(w.client->endpoint().messages().empty());
    }
}

TEST_CASE("extended connect: WebSocket frames cut at every octet parse the same") {
    ws::Endpoint server({ws::Role::server, 1 << 20, 1});
    ws::Endpoint client({ws::Role::client, 1 << 20, 2});
    client.send_text("first");
    client.send(ws::Opcode::binary, bytes_view(std::string(70000, 'z')), 30000);  // 16-bit and 7-bit lengths
    client.ping(span_of("pi"));
    client.send(ws::Opcode::binary, bytes_view(std::string(66000, 'q')));  // the 64-bit length form
    client.close(ws::close_code::going_away, "later");
    const std::vector<std::uint8_t> wire = client.output();
    for (const std::uint8_t b : wire) server.receive(std::span(&b, 1));
    REQUIRE(server.messages().size() == 3);
    CHECK(server.messages()[0].data == "first");
    CHECK(server.messages()[1].data == std::string(70000, 'z'));
    CHECK(server.messages()[2].data == std::string(66000, 'q'));
    CHECK(server.close_received());
    CHECK(server.peer_close_code() == ws::close_code::going_away);
    CHECK(server.peer_close_reason() == "later");
    // The server answered the ping and the close, unmasked.
    ws::Endpoint back({ws::Role::client, 1 << 20, 3});
    back.receive(server.output());
    CHECK(back.pongs_received() == 1);
    CHECK(back.close_received());
    CHECK(back.peer_close_code() == ws::close_code::going_away);
    CHECK(!back.failed());
}

TEST_CASE("extended connect: the WebSocket parser on hostile octets stays within its limits") {
    // Valid frames with random octets flipped, and plain noise, fed in random
    // pieces: no crash (the sanitizer builds watch), no message past the
    // limit, nothing accepted after a failure.
    Rng rng(77);
    constexpr std::size_t limit = 2048;
    std::size_t failures = 0, messages = 0;
    for (int round = 0; round < 3000; ++round) {
        const ws::Role role = rng.one_in(2) ? ws::Role::server : ws::Role::client;
        ws::Endpoint peer({role == ws::Role::server ? ws::Role::client : ws::Role::server, 1 << 20, rng.next() | 1});
        for (int k = 0, n = static_cast<int>(rng.between(1, 6)); k < n; ++k) {
            const std::string payload = rng.letters(rng.one_in(4) ? rng.between(100, 3000) : rng.below(130));
            switch (rng.below(4)) {
                case 0:
                    peer.send_text(payload, rng.between(1, 200));
                    break;
                case 1:
                    peer.send(ws::Opcode::binary, bytes_view(payload));
                    break;
                case 2:
                    peer.ping(bytes_view(payload.substr(0, 125)));
                    break;
                default:
                    peer.close(1000, payload.substr(0, 50));
                    break;
            }
        }
        Bytes wire = peer.output();
        if (rng.one_in(3)) wire = rng.bytes(rng.between(1, 400));
        for (int flips = static_cast<int>(rng.below(4)); flips > 0 && !wire.empty(); --flips)
            wire[rng.below(wire.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8));
        ws::Endpoint ep({role, limit, 5});
        std::size_t at = 0, seen = 0;
        bool failed_before = false;
        while (at < wire.size()) {
            const std::size_t k = std::min(wire.size() - at, rng.between(1, 64));
            ep.receive(std::span<const std::uint8_t>(wire).subspan(at, k));
            at += k;
            if (failed_before) CHECK(ep.messages().size() == seen);
            seen = ep.messages().size();
            failed_before = ep.failed();
        }
        for (const ws::Message& m : ep.messages()) {
            CHECK(m.data.size() <= limit);
            if (m.opcode == ws::Opcode::text) CHECK(ws::valid_utf8(m.data));
        }
        messages += ep.messages().size();
        failures += ep.failed();
    }
    MESSAGE(messages << " messages accepted, " << failures << " inputs refused");
    CHECK(messages > 0);
    CHECK(failures > 0);
}
