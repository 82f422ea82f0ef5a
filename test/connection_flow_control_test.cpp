// Flow control (RFC 9113 §5.2, §6.9): receive windows in automatic and
// manual mode with coalesced WINDOW_UPDATEs, overruns, window overflow,
// SETTINGS_INITIAL_WINDOW_SIZE changes, send windows never exceeded (the
// Peer checks every DATA frame against its own account of the windows),
// StreamWritable, and bounded per-stream buffering.
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

constexpr std::uint32_t kMaxWindow = 0x7fffffff;

/// What an upload through the Peer's windows took.
struct Upload {
    std::size_t sent = 0;
    std::size_t data_frames = 0;
    std::size_t window_updates = 0;
    bool stalled = false;
};

/// The Peer sends `total` octets on `stream` in frames of at most
/// `frame_size`, as fast as its windows allow, one receive() per round; the
/// connection drains after each round. `on_round` runs after each receive
/// (manual consume). Stops when done or when the Peer's windows stay shut.
Upload upload(Session& s, std::uint32_t stream, std::size_t total, std::size_t frame_size, bool end_stream,
              const std::function<void(bool blocked)>& on_round = {}) {
    Upload u;
    const std::size_t wu_before = count(s.peer.frames(), Type::window_update);
    int idle_rounds = 0;
    while (u.sent < total && idle_rounds < 3) {
        Bytes in;
        for (;;) {
            const std::int64_t room = std::min(s.peer.peer_send_window(stream), s.peer.peer_send_window());
            const std::size_t n = std::min<std::size_t>(
                {frame_size, total - u.sent, static_cast<std::size_t>(std::max<std::int64_t>(room, 0))});
            if (n == 0) break;
            u.sent += n;
            append(in, s.peer.data(stream, Bytes(n, static_cast<std::uint8_t>('a' + u.data_frames % 26)),
                                   end_stream && u.sent == total));
            ++u.data_frames;
        }
        idle_rounds = in.empty() ? idle_rounds + 1 : 0;
        s.feed(in);
        if (on_round) on_round(in.empty());
        s.drain();
        if (s.conn.is_closed()) break;
    }
    u.stalled = u.sent < total;
    u.window_updates = count(s.peer.frames(), Type::window_update) - wu_before;
    return u;
}

Config small_windows(FlowControl mode = FlowControl::automatic) {
    Config c;
    c.settings.initial_window_size = 65535;
    c.connection_window_size = 65535;
    c.flow_control = mode;
    return c;
}

}  // namespace

TEST_CASE("connection flow control: automatic mode keeps the peer sending with few WINDOW_UPDATEs") {
    Session s(Role::server, small_windows());
    s.handshake();
    CHECK(count(s.peer.frames(), Type::window_update) == 0);  // 65535 needs no raise
    s.open(1, request(), false);
    const std::size_t total = 2 * 1024 * 1024;
    const Upload u = upload(s, 1, total, 1000, true);
    INFO("frames " << u.data_frames << ", WINDOW_UPDATEs " << u.window_updates);
    CHECK(!u.stalled);
    CHECK(s.events.data_of(1).size() == total);
    CHECK(s.events.count_on<StreamEnded>(1) == 1);
    // Coalesced: one WINDOW_UPDATE per stream and per connection for about
    // every half window, never one per DATA frame.
    CHECK(u.window_updates >= 2);
    CHECK(u.window_updates * 10 <= u.data_frames);
    for (const WireFrame& f : only(s.peer.frames(), Type::window_update)) CHECK(f.increment >= 1000);
    expect_no_error(s, s.peer.frames());
}

TEST_CASE("connection flow control: tiny DATA frames, one receive() each, never one WINDOW_UPDATE per frame") {
    Session s(Role::server, small_windows());
    s.handshake();
    s.open(1, request(), false);
    const std::size_t before = count(s.peer.frames(), Type::window_update);
    std::size_t frames = 0;
    for (std::size_t sent = 0; sent < 300000; sent += 100, ++frames) {
        REQUIRE(s.peer.peer_send_window(1) >= 100);
        REQUIRE(s.peer.peer_send_window() >= 100);
        s.feed(s.peer.data(1, Bytes(100, 'x'), false));
        s.drain();
    }
    const std::size_t wus = count(s.peer.frames(), Type::window_update) - before;
    INFO("frames " << frames << ", WINDOW_UPDATEs " << wus);
    CHECK(wus >= 2);
    CHECK(wus * 20 <= frames);
    CHECK(s.events.data_of(1).size() == 300000);
}

TEST_CASE("connection flow control: manual mode returns window only through consume()") {
    Session s(Role::server, small_windows(FlowControl::manual));
    s.handshake();
    s.open(1, request(), false);
    const std::size_t wu0 = count(s.peer.frames(), Type::window_update);
    // The whole window, unconsumed: no WINDOW_UPDATE, the Peer is blocked.
    const Upload first = upload(s, 1, 65535, 16384, false);
    CHECK(first.sent == 65535);
    CHECK(count(s.peer.frames(), Type::window_update) == wu0);
    CHECK(s.peer.peer_send_window(1) == 0);
    CHECK(s.peer.peer_send_window() == 0);
    // More receive() calls change nothing.
    s.feed(Bytes{});
    s.feed(s.peer.ping(opaque("nudge123")));
    CHECK(count(s.drain(), Type::window_update) == 0);

    // A little consumed: still coalesced.
    std::uint32_t fc = 0;
    for (const ev::Data& d : s.events.all<ev::Data>()) fc += d.flow_controlled_length;
    CHECK(fc == 65535);
    CHECK(s.conn.consume(1, 1000) == ApiError::none);
    CHECK(count(s.drain(), Type::window_update) == 0);
    // Most of it consumed: the window comes back, on the stream and the connection.
    CHECK(s.conn.consume(1, 40000) == ApiError::none);
    auto out = s.drain();
    CHECK(count(out, Type::window_update, 1) == 1);
    CHECK(count(out, Type::window_update, 0) == 1);
    CHECK(s.peer.peer_send_window(1) == 41000);
    CHECK(s.peer.peer_send_window() == 41000);
    CHECK(s.conn.consume(1, 24535) == ApiError::none);
    s.drain();
    // Everything consumed: never more than consumed, and at least half back.
    CHECK(s.peer.peer_send_window(1) <= 65535);
    CHECK(s.peer.peer_send_window(1) >= 32768);
    expect_no_error(s, s.peer.frames());
}

TEST_CASE("connection flow control: manual mode with random consume timing moves a large body") {
    Session s(Role::server, small_windows(FlowControl::manual));
    s.handshake();
    s.open(1, request(), false);
    Rng rng(2024);
    std::size_t received = 0, consumed = 0;
    const Upload u = upload(s, 1, 3 * 1000 * 1000, 7000, true, [&](bool blocked) {
        std::size_t fc = 0;
        for (const ev::Data& d : s.events.all<ev::Data>()) fc += d.flow_controlled_length;
        received = fc;
        // Consume a random part of what is outstanding (sometimes nothing);
        // everything once the Peer is blocked.
        const std::size_t outstanding = received - consumed;
        if (outstanding == 0 || (!blocked && rng.one_in(4))) return;
        const std::size_t n = blocked || rng.one_in(3) ? outstanding : rng.between(1, outstanding);
        REQUIRE(s.conn.consume(1, n) == ApiError::none);
        consumed += n;
    });
    INFO("frames " << u.data_frames << ", WINDOW_UPDATEs " << u.window_updates);
    CHECK(!u.stalled);
    CHECK(s.events.data_of(1).size() == 3 * 1000 * 1000);
    CHECK(u.window_updates * 4 <= u.data_frames);
}

TEST_CASE("connection flow control: a stream that closes gives back what was not consumed; consume() after does nothing") {
    Session s(Role::server, small_windows(FlowControl::manual));
    s.handshake();
    s.open(1, request(), false);
    s.feed(s.peer.data_frames(1, Bytes(60000, 'x'), true));
    CHECK(s.drain().empty());  // nothing consumed: nothing given back
    CHECK(s.peer.peer_send_window() == 5535);
    REQUIRE(s.conn.consume(1, 1000) == ApiError::none);
    // The response closes the stream: the 59,000 octets not consumed go
    // back to the connection window with the 1,000 that were.
    REQUIRE(s.conn.submit_response(1, fields(response()), true) == ApiError::none);
    auto out = s.drain();
    CHECK(s.conn.open_streams() == 0);
    CHECK(count(out, Type::window_update, 1) == 0);  // no credit for a closed stream
    CHECK(count(out, Type::window_update, 0) == 1);
    CHECK(s.peer.peer_send_window() == 65535);
    // The application's late consume() calls are harmless no-ops.
    CHECK(s.conn.consume(1, 59000) == ApiError::none);
    CHECK(s.conn.consume(1, 1u << 30) == ApiError::none);
    CHECK(!s.conn.wants_write());
    CHECK(s.conn.consume(7, 1) == ApiError::invalid_stream);  // never opened
    CHECK(s.conn.consume(0, 1) == ApiError::invalid_stream);
    // Another stream can use it.
    s.open(3, request(), false);
    s.feed(s.peer.data_frames(3, Bytes(30000, 'y'), true));
    expect_no_error(s, s.drain());
    CHECK(s.events.data_of(3).size() == 30000);
}

TEST_CASE("connection flow control: DATA on a stream we reset still returns its connection window") {
    Session s(Role::server, small_windows());
    s.handshake();
    s.open(1, request(), false);
    REQUIRE(s.conn.reset_stream(1) == ApiError::none);
    s.drain();
    s.feed(s.peer.data_frames(1, Bytes(60000, 'x'), false));  // in flight before our reset arrived
    s.feed(Bytes{});
    s.drain();
    CHECK(s.peer.peer_send_window() >= 32768);
    s.open(3, request(), false);
    const Upload u = upload(s, 3, 200000, 16384, true);
    CHECK(!u.stalled);
    CHECK(count(s.peer.frames(), Type::goaway) == 0);
    CHECK(!s.conn.is_closed());
}

TEST_CASE("connection flow control: a peer overrunning a window gets FLOW_CONTROL_ERROR") {
    SUBCASE("stream window: stream error") {
        Config c = small_windows();
        c.connection_window_size = 1 << 20;
        Session s(Role::server, c);
        s.handshake();
        s.open(1, request(), false);
        s.feed(s.peer.data_frames(1, Bytes(65535, 'x'), false));
        const std::size_t before = s.events.size();
        s.feed(s.peer.data(1, Bytes(1, 'y'), false));
        expect_stream_error(s, s.drain(), 1, ErrorCode::flow_control_error, before);
        CHECK(s.events.data_of(1).size() == 65535);
    }
    SUBCASE("connection window: connection error") {
        Config c = small_windows();
        c.settings.initial_window_size = 1 << 20;
        Session s(Role::server, c);
        s.handshake();
        s.open(1, request(), false);
        s.open(3, request(), false);
        s.feed(cat({s.peer.data_frames(1, Bytes(40000, 'x'), false), s.peer.data_frames(3, Bytes(40000, 'y'), false)}));
        expect_connection_error(s, s.drain(), ErrorCode::flow_control_error, 3u);
    }
    SUBCASE("padding counts against the window") {
        Config c = small_windows();
        c.connection_window_size = 1 << 20;
        Session s(Role::server, c);
        s.handshake();
        s.open(1, request(), false);
        // 65400 octets of data fit; with Pad Length and 200 octets of padding the frames are 65601.
        s.feed(s.peer.data_frames(1, Bytes(65400 - 16000, 'x'), false));
        const std::size_t before = s.events.size();
        s.feed(s.peer.data(1, Bytes(16000, 'x'), false, 200));
        expect_stream_error(s, s.drain(), 1, ErrorCode::flow_control_error, before);
    }
    SUBCASE("padding is reported in flow_controlled_length and given back") {
        Session s(Role::server, small_windows(FlowControl::manual));
        s.handshake();
        s.open(1, request(), false);
        s.feed(s.peer.data(1, Bytes(100, 'x'), false, 50));
        const auto d = s.events.last<ev::Data>();
        REQUIRE(d.has_value());
        CHECK(d->data.size() == 100);
        CHECK(d->flow_controlled_length == 151);
        CHECK(s.conn.consume(1, 151) == ApiError::none);
        s.drain();
        CHECK(s.peer.peer_send_window(1) <= 65535);
    }
}

TEST_CASE("connection flow control: WINDOW_UPDATE past 2^31-1") {
    SUBCASE("on a stream: stream error FLOW_CONTROL_ERROR") {
        Session s(Role::server);
        s.handshake();
        s.open(1, request(), false);
        s.feed(s.peer.window_update(1, kMaxWindow - 65535));  // exactly the maximum: fine
        auto out = s.drain();
        expect_no_error(s, out);
        const std::size_t before = s.events.size();
        s.feed(s.peer.window_update(1, 1));
        expect_stream_error(s, s.drain(), 1, ErrorCode::flow_control_error, before);
    }
    SUBCASE("on stream 0: connection error FLOW_CONTROL_ERROR") {
        Session s(Role::server);
        s.handshake();
        s.feed(s.peer.window_update(0, kMaxWindow - 65535));
        expect_no_error(s, s.drain());
        s.feed(s.peer.window_update(0, 1));
        expect_connection_error(s, s.drain(), ErrorCode::flow_control_error, 0u);
    }
    SUBCASE("on stream 0 in one step") {
        Session s(Role::client);
        s.handshake();
        s.feed(s.peer.window_update(0, kMaxWindow));
        expect_connection_error(s, s.drain(), ErrorCode::flow_control_error, 0u);
    }
    SUBCASE("through SETTINGS_INITIAL_WINDOW_SIZE: connection error (RFC 9113 §6.9.2)") {
        Session s(Role::server);
        s.handshake();
        s.open(1, request(), false);
        s.feed(s.peer.window_update(1, kMaxWindow - 65535));
        s.drain();
        s.feed(s.peer.settings({{SettingId::initial_window_size, 65536}}));
        expect_connection_error(s, s.drain(), ErrorCode::flow_control_error);
    }
    SUBCASE("increment 0: stream error PROTOCOL_ERROR on a stream, connection error on stream 0") {
        Session s(Role::server);
        s.handshake();
        s.open(1, request(), false);
        const std::size_t before = s.events.size();
        s.feed(s.peer.raw(Type::window_update, 0, 1, Bytes{0, 0, 0, 0}));
        expect_stream_error(s, s.drain(), 1, ErrorCode::protocol_error, before);
        s.feed(s.peer.raw(Type::window_update, 0, 0, Bytes{0, 0, 0, 0}));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
    }
}

TEST_CASE("connection flow control: sending never exceeds a window") {
    // Five streams with bodies; the Peer opens windows by random amounts at
    // random times and changes SETTINGS_INITIAL_WINDOW_SIZE twice. The
    // Peer's account of the windows flags any DATA past them.
    Session s(Role::server);
    s.handshake({{SettingId::initial_window_size, 10000}});
    Rng rng(77);
    std::map<std::uint32_t, Bytes> bodies;
    for (std::uint32_t id = 1; id <= 9; id += 2) {
        s.open(id, get("/" + std::to_string(id)), true);
        bodies[id] = rng.bytes(rng.between(1, 200000));
        REQUIRE(s.conn.submit_response(id, fields(response()), false) == ApiError::none);
        REQUIRE(s.conn.send_data_borrowed(id, bodies[id], true) == ApiError::none);
    }
    for (int round = 0; round < 2000; ++round) {
        s.drain(rng.one_in(2) ? SIZE_MAX : rng.between(1, 5000));
        bool done = true;
        for (const auto& [id, body] : bodies)
            if (data_of(s.peer.frames(), id).size() < body.size()) done = false;
        if (done) break;
        Bytes in;
        if (rng.one_in(3)) append(in, s.peer.window_update(0, static_cast<std::uint32_t>(rng.between(1, 40000))));
        for (const auto& [id, body] : bodies)
            if (rng.one_in(3)) append(in, s.peer.window_update(id, static_cast<std::uint32_t>(rng.between(1, 20000))));
        if (round == 50) append(in, s.peer.settings({{SettingId::initial_window_size, 1000}}));
        if (round == 150) append(in, s.peer.settings({{SettingId::initial_window_size, 30000}}));
        s.feed(in, rng.one_in(4) ? Split::random(round) : Split::whole());
    }
    for (const auto& entry : bodies) {  // no structured bindings: clang 14 cannot capture them in CAPTURE's lambda
        const auto id = entry.first;
        const auto& body = entry.second;
        CAPTURE(id);
        CHECK(data_of(s.peer.frames(), id) == body);
        const auto last = only(s.peer.frames(), Type::data, id).back();
        CHECK(last.end_stream());
        CHECK(s.conn.buffered(id) == 0);
    }
    CHECK(s.peer.problems().empty());
    expect_no_error(s, s.peer.frames());
}

TEST_CASE("connection flow control: StreamWritable when a blocked stream may send again") {
    Session s(Role::server);
    s.handshake();
    s.open(1, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    REQUIRE(s.conn.send_data(1, Bytes(100000, 'z'), true) == ApiError::none);
    s.drain();
    CHECK(data_of(s.peer.frames(), 1).size() == 65535);
    CHECK(s.conn.send_window(1) == 0);
    CHECK(s.conn.buffered(1) == 100000 - 65535);

    SUBCASE("stream window") {
        s.feed(s.peer.window_update(0, 1 << 20));  // the connection opens; the stream is still shut
        CHECK(s.conn.send_window(1) == 0);
        s.drain();
        CHECK(data_of(s.peer.frames(), 1).size() == 65535);
        const Events got = s.feed(s.peer.window_update(1, 5000));
        INFO(got.str());
        const auto w = got.on<StreamWritable>(1);
        REQUIRE(w.has_value());
        CHECK(w->window == 5000);
        CHECK(s.conn.send_window(1) == 5000);
        s.drain();
        CHECK(data_of(s.peer.frames(), 1).size() == 70535);
    }
    SUBCASE("connection window") {
        const Events opened =
            s.feed(s.peer.window_update(1, 1 << 20));  // the stream opens; the connection is still shut
        CHECK(s.conn.send_window(1) == 0);
        const Events got = s.feed(s.peer.window_update(0, 3000));
        INFO("after the stream's WINDOW_UPDATE: " << opened.str());
        INFO("after the connection's: " << got.str());
        const bool writable = got.on<StreamWritable>(0).has_value() || got.on<StreamWritable>(1).has_value();
        CHECK(writable);
        // "Can send again" means a window above zero.
        for (const StreamWritable& w : s.events.all<StreamWritable>()) CHECK(w.window > 0);
        CHECK(s.conn.send_window(1) == 3000);
        s.drain();
        CHECK(data_of(s.peer.frames(), 1).size() == 68535);
    }
    SUBCASE("no event for a WINDOW_UPDATE that does not unblock anything") {
        s.feed(s.peer.window_update(0, 1 << 20));
        s.feed(s.peer.window_update(1, 1 << 20));
        s.drain();
        CHECK(data_of(s.peer.frames(), 1).size() == 100000);
        const Events got = s.feed(s.peer.window_update(1, 1000));
        CHECK(got.count<StreamWritable>() == 0);
    }
}

TEST_CASE("connection flow control: send_capacity, buffered and buffer_full") {
    Config c;
    c.limits.max_buffered_per_stream = 100000;
    Session s(Role::server, c);
    s.handshake();
    s.open(1, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    const std::size_t cap = s.conn.send_capacity(1);
    CHECK(cap >= 100000);
    CHECK(s.conn.buffered(1) == 0);
    // Exactly the capacity is taken; one more octet is not, and nothing of it is kept.
    REQUIRE(s.conn.send_data(1, Bytes(cap, 'a'), false) == ApiError::none);
    CHECK(s.conn.buffered(1) == cap);
    CHECK(s.conn.send_capacity(1) == 0);
    CHECK(s.conn.send_data(1, Bytes(1, 'b'), false) == ApiError::buffer_full);
    CHECK(s.conn.buffered(1) == cap);
    // The peer reads 65535: room again.
    s.drain();
    CHECK(data_of(s.peer.frames(), 1).size() == 65535);
    CHECK(s.conn.buffered(1) == cap - 65535);
    const std::size_t cap2 = s.conn.send_capacity(1);
    CHECK(cap2 + s.conn.buffered(1) >= 100000);
    CHECK(s.conn.send_data(1, Bytes(cap2 + 1, 'c'), false) == ApiError::buffer_full);
    CHECK(s.conn.buffered(1) == cap - 65535);
    if (cap2 > 0) CHECK(s.conn.send_data(1, Bytes(cap2, 'c'), false) == ApiError::none);
    // Borrowed data does not count against the buffer.
    const Bytes big(500000, 'd');
    CHECK(s.conn.send_data_borrowed(1, big, true) == ApiError::none);
    CHECK(s.conn.buffered(1) == cap - 65535 + cap2 + big.size());
    // Unknown streams have no capacity.
    CHECK(s.conn.send_capacity(99) == 0);
    CHECK(s.conn.buffered(99) == 0);
    // Everything arrives, in order.
    s.feed(cat({s.peer.window_update(0, 1 << 24), s.peer.window_update(1, 1 << 24)}));
    s.drain();
    Bytes want(cap, 'a');
    want.insert(want.end(), cap2, 'c');
    append(want, big);
    CHECK(data_of(s.peer.frames(), 1) == want);
    CHECK(s.conn.buffered(1) == 0);
}

TEST_CASE(
    "connection flow control: with a zero window, an empty DATA with END_STREAM still goes, trailers wait for the "
    "body") {
    Session s(Role::server);
    s.handshake({{SettingId::initial_window_size, 0}});
    s.open(1, get(), true);
    s.open(3, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    REQUIRE(s.conn.send_data(1, Bytes{}, true) == ApiError::none);
    REQUIRE(s.conn.submit_response(3, fields(response()), false) == ApiError::none);
    REQUIRE(s.conn.send_data(3, bytes_of("body"), false) == ApiError::none);
    REQUIRE(s.conn.send_trailers(3, fields(Hdrs{{"x-t", "1"}})) == ApiError::none);
    auto out = s.drain();
    INFO(str(out));
    const auto d1 = only(out, Type::data, 1);
    REQUIRE(d1.size() == 1);
    CHECK(d1[0].header.length == 0);
    CHECK(d1[0].end_stream());
    CHECK(count(out, Type::data, 3) == 0);
    CHECK(count(out, Type::headers, 3) == 1);  // the response, not the trailers
    s.feed(s.peer.window_update(3, 4));
    out = s.drain();
    INFO(str(out));
    REQUIRE(out.size() == 2);
    CHECK(out[0].is(Type::data, 3));
    CHECK(string_of(out[0].data) == "body");
    CHECK(!out[0].end_stream());
    CHECK(out[1].is(Type::headers, 3));
    CHECK(out[1].end_stream());
    CHECK(plain(out[1].headers) == Hdrs{{"x-t", "1"}});
}

// A caller polls for writability while wants_write(): it must turn false
// when all that waits is DATA blocked on a window, or the loop spins.
TEST_CASE("connection flow control: wants_write() is false while all that waits is DATA blocked on windows") {
    SUBCASE("stream windows") {
        Session s(Role::server);
        s.handshake({{SettingId::initial_window_size, 10}});
        s.open(1, get(), true);
        s.open(3, get(), true);
        for (const std::uint32_t id : {1u, 3u}) {
            REQUIRE(s.conn.submit_response(id, fields(response()), false) == ApiError::none);
            REQUIRE(s.conn.send_data(id, Bytes(100, 'x'), true) == ApiError::none);
        }
        s.drain();
        CHECK(!s.conn.wants_write());
        CHECK(s.conn.pending_output().empty());
        // The peer lowers the initial window below what was sent: windows go
        // negative (RFC 9113 §6.9.2), still nothing to write.
        s.feed(s.peer.settings({{SettingId::initial_window_size, 4}}));
        s.drain();
        CHECK(!s.conn.wants_write());
        s.feed(s.peer.window_update(1, 20));
        CHECK(s.conn.wants_write());
        const auto out = s.drain();
        CHECK(count(out, Type::data, 1) == 1);
        CHECK(!s.conn.wants_write());
    }
    SUBCASE("the connection window") {
        Session s(Role::server);
        s.handshake({{SettingId::initial_window_size, 1 << 20}});
        s.open(1, get(), true);
        REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
        REQUIRE(s.conn.send_data(1, Bytes(100000, 'x'), true) == ApiError::none);  // past 65,535
        s.drain();
        CHECK(!s.conn.wants_write());
        s.feed(s.peer.window_update(0, 1000));
        CHECK(s.conn.wants_write());
        s.drain();
        CHECK(!s.conn.wants_write());
    }
}

TEST_CASE("connection flow control: lowering our initial window mid-transfer applies to the peer after its ACK") {
    // RFC 9113 §6.9.2: the receiver's stream windows change by the
    // difference once the peer acknowledged the new SETTINGS_INITIAL_WINDOW_SIZE;
    // a window may go below zero, and DATA past it is a FLOW_CONTROL_ERROR.
    Config c = small_windows(FlowControl::manual);
    c.connection_window_size = 1 << 20;
    Session s(Role::server, c);
    s.handshake();
    s.open(1, request(), false);
    s.feed(s.peer.data_frames(1, Bytes(30000, 'a'), false));
    CHECK(s.peer.peer_send_window(1) == 35535);
    Settings lower = s.conn.local_settings();
    lower.initial_window_size = 10000;
    REQUIRE(s.conn.update_settings(lower) == ApiError::none);
    s.drain();
    CHECK(s.peer.peer_send_window(1) == -20000);  // the Peer applies it on receipt
    s.feed(s.peer.settings_ack());
    CHECK(s.conn.local_settings().initial_window_size == 10000);
    // Everything consumed: the window must open again (to about the new size).
    REQUIRE(s.conn.consume(1, 30000) == ApiError::none);
    s.drain();
    const std::int64_t room = s.peer.peer_send_window(1);
    CHECK(room >= 5000);
    CHECK(room <= 10000);
    // Exactly the window is accepted; one octet more is not.
    const std::size_t before = s.events.size();
    s.feed(s.peer.data_frames(1, Bytes(static_cast<std::size_t>(room), 'b'), false));
    expect_no_error(s, s.drain(), before);
    s.feed(s.peer.data(1, "x", false));
    expect_stream_error(s, s.drain(), 1, ErrorCode::flow_control_error, before);
}

TEST_CASE("connection flow control: the receive windows we advertise never exceed what we configured") {
    for (const FlowControl mode : {FlowControl::automatic, FlowControl::manual}) {
        CAPTURE(mode == FlowControl::automatic ? "automatic" : "manual");
        Config c;
        c.flow_control = mode;
        c.settings.initial_window_size = 50000;
        c.connection_window_size = 120000;
        Session s(Role::server, c);
        s.handshake();
        Rng rng(4);
        for (std::uint32_t id = 1; id <= 5; id += 2) s.open(id, request(), false);
        std::map<std::uint32_t, std::size_t> unconsumed;
        for (int round = 0; round < 300; ++round) {
            const std::uint32_t id = static_cast<std::uint32_t>(1 + 2 * rng.below(3));
            const std::int64_t room = std::min(s.peer.peer_send_window(id), s.peer.peer_send_window());
            if (room > 0) {
                const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(room), rng.between(1, 20000));
                s.feed(s.peer.data_frames(id, Bytes(n, 'w'), false));
                unconsumed[id] += n;
            }
            if (mode == FlowControl::manual) {
                for (auto& [sid, n] : unconsumed) {
                    if (n == 0 || !rng.one_in(2)) continue;
                    const std::size_t k = rng.between(1, n);
                    REQUIRE(s.conn.consume(sid, k) == ApiError::none);
                    n -= k;
                }
            } else {
                s.feed(Bytes{});
            }
            s.drain(rng.between(1, 3000));
            for (std::uint32_t sid = 1; sid <= 5; sid += 2) CHECK(s.peer.peer_send_window(sid) <= 50000);
            CHECK(s.peer.peer_send_window() <= 120000);
            if (s.conn.is_closed()) break;
        }
        CHECK(!s.conn.is_closed());
        std::size_t total = 0;
        for (std::uint32_t sid = 1; sid <= 5; sid += 2) total += s.events.data_of(sid).size();
        CHECK(total > 500000);  // the windows kept opening
    }
}
