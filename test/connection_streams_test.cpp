// Stream lifecycle (RFC 9113 §5.1): every frame type in every stream state
// with the RFC's outcome, stream identifier rules (§5.1.1), late frames
// after our RST_STREAM and the bounded ledger of reset streams, and
// SETTINGS_MAX_CONCURRENT_STREAMS on receive and on send (§5.1.2).
// The RFC 9113 §5.1 diagram:
/*
                          +--------+
                  send PP |        | recv PP
                 ,--------+  idle  +--------.
                /         |        |         \
               v          +--------+          v
        +----------+          |           +----------+
        |          |          | send H /  |          |
 ,------+ reserved |          | recv H    | reserved +------.
 |      | (local)  |          |           | (remote) |      |
 |      +---+------+          v           +------+---+      |
 |          |             +--------+             |          |
 |          |     recv ES |        | send ES     |          |
 |   send H |     ,-------+  open  +-------.     | recv H   |
 |          |    /        |        |        \    |          |
 |          v   v         +---+----+         v   v          |
 |      +----------+          |           +----------+      |
 |      |   half-  |          |           |   half-  |      |
 |      |  closed  |          | send R /  |  closed  |      |
 |      | (remote) |          | recv R    | (local)  |      |
 |      +----+-----+          |           +-----+----+      |
 |           |                |                 |           |
 |           | send ES /      |       recv ES / |           |
 |           | send R /       v        send R / |           |
 |           | recv R     +--------+   recv R   |           |
 | send R /  `----------->|        |<-----------'  send R / |
 | recv R                 | closed |               recv R   |
 `----------------------->|        |<-----------------------'
                          +--------+
*/
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

enum class State {
    idle,
    reserved_local,
    reserved_remote,
    open,
    half_closed_local,
    half_closed_remote,
    closed,           // both END_STREAMs
    closed_peer_rst,  // the peer reset it
    closed_our_rst,   // we reset it (in the ledger)
};

const char* name(State s) {
    switch (s) {
        case State::idle:
            return "idle";
        case State::reserved_local:
            return "reserved (local)";
        case State::reserved_remote:
            return "reserved (remote)";
        case State::open:
            return "open";
        case State::half_closed_local:
            return "half-closed (local)";
        case State::half_closed_remote:
            return "half-closed (remote)";
        case State::closed:
            return "closed";
        case State::closed_peer_rst:
            return "closed (RST_STREAM received)";
        case State::closed_our_rst:
            return "closed (RST_STREAM sent)";
    }
    return "?";
}

enum class Input { data, headers, priority, rst_stream, window_update, push_promise, continuation };
constexpr Input kInputs[] = {Input::data,          Input::headers,      Input::priority,    Input::rst_stream,
                             Input::window_update, Input::push_promise, Input::continuation};

const char* name(Input i) {
    switch (i) {
        case Input::data:
            return "DATA";
        case Input::headers:
            return "HEADERS";
        case Input::priority:
            return "PRIORITY";
        case Input::rst_stream:
            return "RST_STREAM";
        case Input::window_update:
            return "WINDOW_UPDATE";
        case Input::push_promise:
            return "PUSH_PROMISE";
        case Input::continuation:
            return "CONTINUATION";
    }
    return "?";
}

enum class Outcome {
    accept,           // processed: no RST_STREAM, no GOAWAY, the matching event
    ignore,           // dropped silently: no RST_STREAM, no GOAWAY, no event for the stream
    stream_closed,    // stream error STREAM_CLOSED (RFC 9113 §5.1 half-closed (remote))
    protocol,         // connection error PROTOCOL_ERROR
    closed_data,      // DATA on a closed stream: stream error STREAM_CLOSED (§6.1), or
                      // connection error STREAM_CLOSED (§5.1 "closed" allows it)
    closed_other,     // another frame on a closed stream: stream error STREAM_CLOSED or
                      // connection error STREAM_CLOSED / PROTOCOL_ERROR (§5.1)
    quiet_or_closed,  // ignored, or stream error STREAM_CLOSED
    skip,
};

struct Row {
    Role role;  // of the connection under test
    State state;
    Outcome out[7];  // in kInputs order
};

constexpr auto A = Outcome::accept;
constexpr auto I = Outcome::ignore;
constexpr auto SC = Outcome::stream_closed;
constexpr auto P = Outcome::protocol;
constexpr auto CD = Outcome::closed_data;
constexpr auto CO = Outcome::closed_other;
constexpr auto Q = Outcome::quiet_or_closed;
constexpr auto X = Outcome::skip;

// RFC 9113 §5.1 (and §6.x for each frame type; §8.4: a client never pushes,
// so a server treats every PUSH_PROMISE as a connection PROTOCOL_ERROR; a
// CONTINUATION that follows no open header block is a PROTOCOL_ERROR, §6.10).
// clang-format off
//                                       DATA HEADERS PRIORITY RST  WU  PP  CONT
constexpr Row kTable[] = {
    {Role::server, State::idle,               {P,  A,  A, P, P, P, P}},
    {Role::server, State::reserved_local,     {P,  P,  A, A, A, P, P}},
    {Role::server, State::open,               {A,  A,  A, A, A, P, P}},
    {Role::server, State::half_closed_local,  {A,  A,  A, A, A, P, P}},
    {Role::server, State::half_closed_remote, {SC, SC, A, A, A, P, P}},
    {Role::server, State::closed,             {CD, CO, A, I, I, P, P}},
    {Role::server, State::closed_peer_rst,    {CD, CO, A, I, Q, P, P}},
    {Role::server, State::closed_our_rst,     {I,  I,  A, I, I, P, P}},
    // The client's idle stream is 2: a server-initiated stream that was
    // never promised, so HEADERS on it is a PROTOCOL_ERROR too (§5.1 idle).
    {Role::client, State::idle,               {P,  P,  A, P, P, P, P}},
    {Role::client, State::reserved_remote,    {P,  A,  A, A, P, P, P}},
    {Role::client, State::open,               {A,  A,  A, A, A, A, P}},
    {Role::client, State::half_closed_local,  {A,  A,  A, A, A, A, P}},
    {Role::client, State::half_closed_remote, {SC, SC, A, A, A, P, P}},
    {Role::client, State::closed,             {CD, CO, A, I, I, CO, P}},
    {Role::client, State::closed_peer_rst,    {CD, CO, A, I, Q, X, P}},
    // §5.1 closed: after our RST_STREAM, a PUSH_PROMISE still has to be
    // handled (checked separately below).
    {Role::client, State::closed_our_rst,     {I,  I,  A, I, I, X, P}},
};
// clang-format on

Config config_for(Role role) {
    Config c;
    c.settings.enable_push = role == Role::client;  // the client accepts pushes
    return c;
}

/// Brings stream S into `state`; returns S.
std::uint32_t enter(Session& s, State state) {
    Connection& c = s.conn;
    if (c.role() == Role::server) {
        switch (state) {
            case State::idle:
                return 1;
            case State::reserved_local: {
                s.open(1, get(), true);
                const Submitted p = c.push_promise(1, fields(get("/pushed")));
                REQUIRE_MESSAGE(p, to_string(p.error));
                s.drain();
                return p.stream;
            }
            case State::open:
                s.open(1, request(), false);
                return 1;
            case State::half_closed_local:
                s.open(1, request(), false);
                REQUIRE(c.submit_response(1, fields(response()), true) == ApiError::none);
                s.drain();
                return 1;
            case State::half_closed_remote:
                s.open(1, get(), true);
                return 1;
            case State::closed:
                s.open(1, get(), true);
                REQUIRE(c.submit_response(1, fields(response()), true) == ApiError::none);
                s.drain();
                return 1;
            case State::closed_peer_rst:
                s.open(1, request(), false);
                s.feed(s.peer.rst(1, ErrorCode::cancel));
                return 1;
            case State::closed_our_rst:
                s.open(1, request(), false);
                REQUIRE(c.reset_stream(1, ErrorCode::cancel) == ApiError::none);
                s.drain();
                return 1;
            case State::reserved_remote:
                break;
        }
    } else {
        switch (state) {
            case State::idle:
                return 2;
            case State::reserved_remote:
                s.request(get(), true);
                s.feed(s.peer.push_promise(1, 2, get("/pushed")));
                return 2;
            case State::open:
                s.request(request(), false);
                s.feed(s.peer.headers(1, response(), false));
                return 1;
            case State::half_closed_local:
                s.request(get(), true);
                s.feed(s.peer.headers(1, response(), false));
                return 1;
            case State::half_closed_remote:
                s.request(request(), false);
                s.feed(s.peer.headers(1, response(), true));
                return 1;
            case State::closed:
                s.request(get(), true);
                s.feed(s.peer.headers(1, response(), true));
                return 1;
            case State::closed_peer_rst:
                s.request(request(), false);
                s.feed(s.peer.headers(1, response(), false));
                s.feed(s.peer.rst(1, ErrorCode::cancel));
                return 1;
            case State::closed_our_rst:
                s.request(request(), false);
                s.feed(s.peer.headers(1, response(), false));
                REQUIRE(c.reset_stream(1, ErrorCode::cancel) == ApiError::none);
                s.drain();
                return 1;
            case State::reserved_local:
                break;
        }
    }
    FAIL("no such state for this role");
    return 0;
}

/// True when the state has seen the message's header block already (a
/// HEADERS frame then carries trailers).
bool headers_seen(Role role, State state) {
    if (state == State::idle) return false;
    if (state == State::reserved_local || state == State::reserved_remote) return false;
    (void)role;
    return true;
}

Bytes input_frame(Session& s, Input in, std::uint32_t stream, State state) {
    Peer& p = s.peer;
    const bool server = s.conn.role() == Role::server;
    switch (in) {
        case Input::data:
            return p.data(stream, "data", false);
        case Input::headers:
            if (headers_seen(s.conn.role(), state)) return p.headers(stream, {{"x-trailer", "1"}}, true);
            return p.headers(stream, server ? get("/new") : response(200), true);
        case Input::priority:
            return p.priority(stream, 0, 200);
        case Input::rst_stream:
            return p.rst(stream, ErrorCode::cancel);
        case Input::window_update:
            return p.window_update(stream, 100);
        case Input::push_promise:
            return p.push_promise(stream, stream == 2 ? 4 : 2, get("/promised"));
        case Input::continuation:
            return p.continuation(stream, p.encode({{"x-lonely", "1"}}), true);
    }
    return {};
}

/// Events about `stream` among those from `before` on.
std::vector<std::string> stream_events(const Session& s, std::uint32_t stream, std::size_t before) {
    Events later;
    later.insert(later.end(), s.events.begin() + static_cast<std::ptrdiff_t>(before), s.events.end());
    return later.lines_on(stream);
}

void check_outcome(Session& s, const std::vector<WireFrame>& out, std::uint32_t stream, Input in, Outcome o,
                   std::size_t before) {
    INFO("wire: " << str(out));
    INFO("events: " << s.events.str());
    const auto goaway = first(out, Type::goaway);
    const auto rst = first(out, Type::rst_stream, stream);
    switch (o) {
        case Outcome::accept: {
            expect_no_error(s, out, before);
            Events later;
            later.insert(later.end(), s.events.begin() + static_cast<std::ptrdiff_t>(before), s.events.end());
            switch (in) {
                case Input::data:
                    CHECK(later.data_of(stream) == bytes_of("data"));
                    break;
                case Input::headers:
                    CHECK(later.count_on<ev::Request>(stream) + later.count_on<ev::Response>(stream) +
                              later.count_on<ev::Trailers>(stream) ==
                          1);
                    CHECK(later.count_on<StreamEnded>(stream) == 1);
                    break;
                case Input::rst_stream: {
                    const auto r = later.on<ev::Reset>(stream);
                    REQUIRE(r.has_value());
                    CHECK(r->code == ErrorCode::cancel);
                    CHECK(r->by == Initiator::peer);
                    break;
                }
                case Input::push_promise: {
                    const auto pp = later.on<ev::PushPromise>(stream);
                    REQUIRE(pp.has_value());
                    CHECK(pp->promised_stream == 2);
                    CHECK(find_field(pp->headers, ":path") == "/promised");
                    break;
                }
                default:
                    break;
            }
            break;
        }
        case Outcome::ignore:
            expect_no_error(s, out, before);
            CHECK(!rst.has_value());
            CHECK(join(stream_events(s, stream, before)) == "");
            break;
        case Outcome::stream_closed:
            expect_stream_error(s, out, stream, ErrorCode::stream_closed, before);
            break;
        case Outcome::protocol:
            expect_connection_error(s, out, ErrorCode::protocol_error);
            break;
        case Outcome::closed_data:
        case Outcome::closed_other:
            if (goaway) {
                if (o == Outcome::closed_data)
                    CHECK(goaway->code == ErrorCode::stream_closed);
                else
                    CHECK((goaway->code == ErrorCode::stream_closed || goaway->code == ErrorCode::protocol_error));
                CHECK(s.conn.is_closed());
            } else {
                REQUIRE(rst.has_value());
                CHECK(rst->code == ErrorCode::stream_closed);
                CHECK(!s.conn.is_closed());
            }
            CHECK(s.events.count_on<ev::Data>(stream) == 0);
            break;
        case Outcome::quiet_or_closed:
            CHECK(!goaway.has_value());
            if (rst) CHECK(rst->code == ErrorCode::stream_closed);
            CHECK(!s.conn.is_closed());
            break;
        case Outcome::skip:
            break;
    }
}

}  // namespace

TEST_CASE("connection streams: every frame type in every stream state (RFC 9113 §5.1)") {
    for (const Row& row : kTable) {
        for (std::size_t i = 0; i < std::size(kInputs); ++i) {
            const Outcome o = row.out[i];
            if (o == Outcome::skip) continue;
            const Input in = kInputs[i];
            CAPTURE(row.role == Role::server ? "server" : "client");
            const std::string state_name = name(row.state), input_name = name(in);
            CAPTURE(state_name);
            CAPTURE(input_name);
            Session s(row.role, config_for(row.role));
            s.handshake();
            const std::uint32_t stream = enter(s, row.state);
            s.drain();
            REQUIRE_MESSAGE(!s.conn.is_closed(), s.events.str());
            s.collect();  // what the setup's API calls caused (StreamClosed)
            const std::size_t before = s.events.size();
            s.feed(input_frame(s, in, stream, row.state));
            const auto out = s.drain();
            check_outcome(s, out, stream, in, o, before);
        }
    }
}

TEST_CASE("connection streams: after our RST_STREAM a PUSH_PROMISE on the stream is still handled") {
    // RFC 9113 §5.1 closed, §6.6: the promise may have left before our reset
    // arrived; it must not break the connection, and its block is decoded.
    Session s(Role::client, config_for(Role::client));
    s.handshake();
    enter(s, State::closed_our_rst);
    const std::size_t before = s.events.size();
    s.feed(s.peer.push_promise(1, 2, get("/promised") + Hdrs{{"x-indexed", "v1"}}));
    auto out = s.drain();
    CHECK(count(out, Type::goaway) == 0);
    CHECK(!s.conn.is_closed());
    // The promised stream may be refused (RST_STREAM on 2), never answered
    // with an error on the connection; the HPACK context stays in step.
    for (const WireFrame& f : only(out, Type::rst_stream)) {
        CHECK(f.stream() == 2);
        CHECK((f.code == ErrorCode::refused_stream || f.code == ErrorCode::cancel));
    }
    s.request(get("/next"), true);
    s.feed(s.peer.headers(3, response(200, {{"x-indexed", "v1"}}), true));
    out = s.drain();
    expect_no_error(s, out, before);
    const auto r = s.events.on<ev::Response>(3);
    REQUIRE(r.has_value());
    CHECK(find_field(r->headers, "x-indexed") == "v1");
}

TEST_CASE("connection streams: stream identifiers (RFC 9113 §5.1.1)") {
    SUBCASE("a client opening an even stream: PROTOCOL_ERROR") {
        Session s(Role::server);
        s.handshake();
        s.feed(s.peer.headers(2, get(), true));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error, 0u);
        CHECK(s.events.count<ev::Request>() == 0);
    }
    SUBCASE("a new stream below the highest opened: PROTOCOL_ERROR, GOAWAY names the highest") {
        Session s(Role::server);
        s.handshake();
        s.open(1, get(), true);
        s.open(5, get(), true);
        CHECK(s.conn.last_peer_stream() == 5);
        s.feed(s.peer.headers(3, get(), true));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error, 5u);
        CHECK(s.events.count<ev::Request>() == 2);
    }
    SUBCASE("skipped ids are closed: streams 1 and 3 are implicitly closed by 5") {
        Session s(Role::server);
        s.handshake();
        s.open(5, request(), false);
        s.feed(s.peer.data(3, "late", false));
        const auto out = s.drain();
        // DATA on an idle-turned-closed stream: never accepted.
        CHECK(s.events.count_on<ev::Data>(3) == 0);
        CHECK((first(out, Type::goaway).has_value() || first(out, Type::rst_stream, 3).has_value()));
    }
    SUBCASE("the server opening an odd stream the client never opened: PROTOCOL_ERROR") {
        Session s(Role::client);
        s.handshake();
        s.request(get(), true);  // 1
        s.feed(s.peer.headers(3, response(), true));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
    }
    SUBCASE("the client's ids are odd and increasing") {
        Session s(Role::client);
        s.handshake();
        std::vector<std::uint32_t> ids;
        for (int i = 0; i < 5; ++i) {
            const auto f = fields(get("/" + std::to_string(i)));
            const Submitted sub = s.conn.submit_request(f, true);
            REQUIRE(sub);
            ids.push_back(sub.stream);
        }
        CHECK(ids == std::vector<std::uint32_t>{1, 3, 5, 7, 9});
        const auto out = s.drain();
        std::vector<std::uint32_t> wire;
        for (const WireFrame& f : only(out, Type::headers)) wire.push_back(f.stream());
        CHECK(wire == ids);
    }
    SUBCASE("PUSH_PROMISE promising an odd stream: PROTOCOL_ERROR") {
        Session s(Role::client, config_for(Role::client));
        s.handshake();
        s.request(get(), true);
        s.feed(s.peer.push_promise(1, 3, get("/p")));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
    }
    SUBCASE("PUSH_PROMISE promising a stream already used: PROTOCOL_ERROR") {
        Session s(Role::client, config_for(Role::client));
        s.handshake();
        s.request(get(), true);
        s.feed(s.peer.push_promise(1, 4, get("/p")));
        CHECK(s.events.count<ev::PushPromise>() == 1);
        s.feed(s.peer.push_promise(1, 2, get("/q")));  // 2 < 4: not idle any more
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
    }
    SUBCASE("the server's promised ids are even and increasing") {
        Session s(Role::server);
        s.handshake();
        s.open(1, get(), true);
        std::vector<std::uint32_t> ids;
        for (int i = 0; i < 3; ++i) {
            const Submitted p = s.conn.push_promise(1, fields(get("/p" + std::to_string(i))));
            REQUIRE(p);
            ids.push_back(p.stream);
        }
        CHECK(ids == std::vector<std::uint32_t>{2, 4, 6});
        const auto out = s.drain();
        std::vector<std::uint32_t> wire;
        for (const WireFrame& f : only(out, Type::push_promise)) {
            CHECK(f.stream() == 1);
            wire.push_back(f.promised);
        }
        CHECK(wire == ids);
    }
}

TEST_CASE("connection streams: late frames after our RST_STREAM are ignored") {
    Session s(Role::server);
    s.handshake();
    s.open(1, request(), false);
    REQUIRE(s.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
    auto out = s.drain();
    REQUIRE(count(out, Type::rst_stream, 1) == 1);
    CHECK(first(out, Type::rst_stream, 1)->code == ErrorCode::cancel);
    CHECK(s.conn.open_streams() == 0);
    CHECK(s.collect().lines() == std::vector<std::string>{"StreamClosed s=1 CANCEL by=local"});
    const std::size_t before = s.events.size();
    for (int i = 0; i < 3; ++i) s.feed(s.peer.data(1, Bytes(1000, 'x'), false));
    s.feed(s.peer.window_update(1, 10));
    s.feed(s.peer.priority(1, 0));
    s.feed(s.peer.headers(1, {{"x-trailer", "t"}}, true));
    s.feed(s.peer.rst(1, ErrorCode::cancel));
    out = s.drain();
    expect_no_error(s, out, before);
    CHECK(count(out, Type::rst_stream) == 0);
    CHECK(join(stream_events(s, 1, before)) == "");
    // The connection goes on.
    s.open(3, get(), true);
    CHECK(s.events.on<ev::Request>(3).has_value());
}

TEST_CASE("connection streams: past the reset ledger, late frames get STREAM_CLOSED") {
    Config c;
    c.limits.max_reset_streams = 2;
    Session s(Role::server, c);
    s.handshake();
    for (std::uint32_t id : {1u, 3u, 5u, 7u}) {
        s.open(id, request(), false);
        REQUIRE(s.conn.reset_stream(id, ErrorCode::cancel) == ApiError::none);
    }
    s.drain();
    const std::size_t before = s.events.size();
    // 5 and 7 are remembered: ignored.
    s.feed(s.peer.data(7, "late", false));
    s.feed(s.peer.data(5, "late", false));
    auto out = s.drain();
    expect_no_error(s, out, before);
    // 1 is forgotten: a closed stream like any other.
    s.feed(s.peer.data(1, "late", false));
    out = s.drain();
    INFO(str(out));
    const auto goaway = first(out, Type::goaway);
    if (goaway) {
        CHECK(goaway->code == ErrorCode::stream_closed);
    } else {
        const auto rst = first(out, Type::rst_stream, 1);
        REQUIRE(rst.has_value());
        CHECK(rst->code == ErrorCode::stream_closed);
    }
    CHECK(s.events.count<ev::Data>() == 0);
}

TEST_CASE("connection streams: MAX_CONCURRENT_STREAMS is enforced on receive") {
    Config c;
    c.limits.max_concurrent_streams = 2;
    Session s(Role::server, c);
    s.handshake();
    CHECK(s.conn.local_settings().max_concurrent_streams == 2);
    s.open(1, request(), false);
    s.open(3, get(), true);  // half-closed (remote) still counts (§5.1.2)
    CHECK(s.conn.open_streams() == 2);
    std::size_t before = s.events.size();
    s.open(5, get(), true);
    auto out = s.drain();
    {
        INFO(str(out));
        INFO(s.events.str());
        const auto rst = first(out, Type::rst_stream, 5);
        REQUIRE(rst.has_value());
        CHECK(rst->code == ErrorCode::refused_stream);
        CHECK(count(out, Type::goaway) == 0);
        CHECK(s.events.count_on<ev::Request>(5) == 0);
        CHECK(s.conn.open_streams() == 2);
        CHECK(s.conn.last_peer_stream() >= 3);
    }
    // Late DATA on the refused stream: it is ours to ignore (we reset it).
    before = s.events.size();
    s.feed(s.peer.data(5, "body", true));
    out = s.drain();
    expect_no_error(s, out, before);
    CHECK(s.events.count_on<ev::Data>(5) == 0);

    // Stream 3 finishes: a slot frees.
    REQUIRE(s.conn.submit_response(3, fields(response()), true) == ApiError::none);
    s.drain();
    CHECK(s.conn.open_streams() == 1);
    before = s.events.size();
    s.open(7, get(), true);
    out = s.drain();
    expect_no_error(s, out, before);
    CHECK(s.events.on<ev::Request>(7).has_value());
    CHECK(s.conn.open_streams() == 2);
}

TEST_CASE("connection streams: MAX_CONCURRENT_STREAMS is respected on send") {
    Session s(Role::client);
    s.handshake({{SettingId::max_concurrent_streams, 2}});
    std::vector<std::uint32_t> ids;
    for (int i = 0; i < 5; ++i) {
        const auto f = fields(get("/" + std::to_string(i)));
        const Submitted sub = s.conn.submit_request(f, true);
        REQUIRE(sub);
        ids.push_back(sub.stream);
    }
    CHECK(ids == std::vector<std::uint32_t>{1, 3, 5, 7, 9});
    auto out = s.drain();
    auto opened = [&] {
        std::vector<std::uint32_t> v;
        for (const WireFrame& f : only(s.peer.frames(), Type::headers)) v.push_back(f.stream());
        return v;
    };
    CHECK(opened() == std::vector<std::uint32_t>{1, 3});
    CHECK(s.conn.open_streams() == 2);

    s.feed(s.peer.headers(1, response(), true));  // 1 closes
    s.drain();
    CHECK(opened() == std::vector<std::uint32_t>{1, 3, 5});
    s.feed(s.peer.rst(3, ErrorCode::cancel));  // a reset frees a slot as well
    s.drain();
    CHECK(opened() == std::vector<std::uint32_t>{1, 3, 5, 7});
    s.feed(cat({s.peer.headers(5, response(), true), s.peer.headers(7, response(), true)}));
    s.drain();
    CHECK(opened() == std::vector<std::uint32_t>{1, 3, 5, 7, 9});
    // Each request went out with its own path, in submission order.
    const auto hs = only(s.peer.frames(), Type::headers);
    for (std::size_t i = 0; i < hs.size(); ++i) CHECK(find_field(hs[i].headers, ":path") == "/" + std::to_string(i));

    SUBCASE("a lower limit from the peer holds new requests back") {
        s.feed(s.peer.headers(9, response(), true));
        s.feed(s.peer.settings({{SettingId::max_concurrent_streams, 0}}));
        s.drain();
        const Submitted sub = s.conn.submit_request(fields(get("/held")), true);
        REQUIRE(sub);
        CHECK(sub.stream == 11);
        s.drain();
        CHECK(opened().back() == 9);
        s.feed(s.peer.settings({{SettingId::max_concurrent_streams, 1}}));
        s.drain();
        CHECK(opened().back() == 11);
    }
}

TEST_CASE("connection streams: queued requests are bounded by max_queued_requests") {
    Config c;
    c.limits.max_queued_requests = 2;
    Session s(Role::client, c);
    s.handshake({{SettingId::max_concurrent_streams, 1}});
    const auto f = fields(get());
    CHECK(s.conn.submit_request(f, true));  // opens
    CHECK(s.conn.submit_request(f, true));  // queued
    CHECK(s.conn.submit_request(f, true));  // queued
    const Submitted over = s.conn.submit_request(f, true);
    CHECK(over.error == ApiError::too_many_queued);
    s.drain();
    CHECK(count(s.peer.frames(), Type::headers) == 1);
    // The connection is still usable: a slot frees, the queue drains.
    s.feed(s.peer.headers(1, response(), true));
    s.drain();
    CHECK(count(s.peer.frames(), Type::headers) == 2);
    CHECK(s.conn.submit_request(f, true));
}

TEST_CASE("connection streams: the largest stream id is usable") {
    Session s(Role::server);
    s.handshake();
    s.open(0x7fffffff, get(), false);
    const auto r = s.events.on<ev::Request>(0x7fffffff);
    REQUIRE(r.has_value());
    CHECK(s.conn.last_peer_stream() == 0x7fffffffu);
    REQUIRE(s.conn.submit_response(0x7fffffff, fields(response()), true) == ApiError::none);
    const auto out = s.drain();
    CHECK(count(out, Type::headers, 0x7fffffff) == 1);
    // Nothing can come after it; a lower id is a PROTOCOL_ERROR naming it.
    s.feed(s.peer.headers(5, get(), true));
    expect_connection_error(s, s.drain(), ErrorCode::protocol_error, 0x7fffffffu);
}
