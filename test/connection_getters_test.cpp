// State for the caller to see (issue 14): send_window(0) is the connection
// send window; receive_window() the windows the peer may still send into;
// queued_requests() and request_capacity() for a client under the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS; stream_state() the RFC 9113 §5.1 state.
// Each is checked against the wire (the Peer's own account) across a
// stream's life.
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace h2wire {
inline doctest::String toString(StreamState st) {
    switch (st) {
        case StreamState::idle:
            return "idle";
        case StreamState::reserved_local:
            return "reserved (local)";
        case StreamState::reserved_remote:
            return "reserved (remote)";
        case StreamState::open:
            return "open";
        case StreamState::half_closed_local:
            return "half-closed (local)";
        case StreamState::half_closed_remote:
            return "half-closed (remote)";
        case StreamState::closed:
            return "closed";
    }
    return "?";
}
}  // namespace h2wire

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

}  // namespace

TEST_CASE("getters: send_window(0) is the connection send window") {
    Session s(Role::server);
    s.handshake();
    CHECK(s.conn.send_window(0) == 65535);
    s.feed(s.peer.window_update(0, 100000));
    CHECK(s.conn.send_window(0) == 165535);
    CHECK(s.conn.send_window(0) == static_cast<std::size_t>(s.peer.conn_send_window()));
    s.open(1, get(), true);
    // Stream 1 is limited by its own window (65,535), the connection by 165,535.
    CHECK(s.conn.send_window(1) == 65535);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    REQUIRE(s.conn.send_data(1, Bytes(50000, 'a'), true) == ApiError::none);
    s.drain();
    CHECK(s.conn.send_window(0) == 115535);
    CHECK(s.conn.send_window(0) == static_cast<std::size_t>(s.peer.conn_send_window()));
    CHECK(s.conn.send_window(1) == 0);  // closed: not held
    CHECK(s.conn.send_window(7) == 0);  // never used
}

TEST_CASE("getters: receive_window() of the connection and of a stream") {
    Config c;
    c.connection_window_size = 1 << 20;
    c.settings.initial_window_size = 100000;
    Session s(Role::server, c);
    // Before anything arrives: the connection window we announced.
    CHECK(s.conn.receive_window(0) == (1u << 20));
    s.handshake();
    CHECK(s.conn.receive_window(0) == static_cast<std::size_t>(s.peer.peer_send_window()));
    s.open(1, request(), false);
    CHECK(s.conn.stream_state(1) == StreamState::open);
    CHECK(s.conn.receive_window(1) == 100000);
    CHECK(s.conn.receive_window(1) == static_cast<std::size_t>(s.peer.peer_send_window(1)));
    const Bytes chunk(30000, 'd');
    s.feed(s.peer.data_frames(1, chunk, false));
    CHECK(s.conn.receive_window(1) == 70000);
    CHECK(s.conn.receive_window(0) == (1u << 20) - 30000);
    // Automatic flow control: the credit goes back with the next output
    // once half the stream window was used.
    s.feed(s.peer.data_frames(1, chunk, false));
    CHECK(s.conn.receive_window(1) == 40000);  // not built into output yet
    s.drain();
    CHECK(s.conn.receive_window(1) == 100000);
    CHECK(s.conn.receive_window(1) == static_cast<std::size_t>(s.peer.peer_send_window(1)));
    CHECK(s.conn.receive_window(0) == static_cast<std::size_t>(s.peer.peer_send_window()));
    // Once the peer ended its side there is nothing more to receive.
    s.feed(s.peer.data(1, "end", true));
    CHECK(s.conn.stream_state(1) == StreamState::half_closed_remote);
    CHECK(s.conn.receive_window(1) == 0);
    CHECK(s.conn.receive_window(9) == 0);
}

TEST_CASE("getters: receive_window() in manual flow control follows consume()") {
    Config c;
    c.flow_control = FlowControl::manual;
    c.settings.initial_window_size = 65535;
    Session s(Role::server, c);
    s.handshake();
    const std::size_t conn0 = s.conn.receive_window(0);
    s.open(1, request(), false);
    const Bytes body(40000, 'm');
    s.feed(s.peer.data_frames(1, body, false));
    s.drain();
    CHECK(s.conn.receive_window(1) == 25535);  // nothing consumed: no WINDOW_UPDATE
    CHECK(s.conn.receive_window(0) == conn0 - 40000);
    REQUIRE(s.conn.consume(1, 40000) == ApiError::none);
    s.drain();
    CHECK(s.conn.receive_window(1) == 65535);
    CHECK(s.conn.receive_window(1) == static_cast<std::size_t>(s.peer.peer_send_window(1)));
}

TEST_CASE("getters: queued_requests() and request_capacity() under the peer's SETTINGS_MAX_CONCURRENT_STREAMS") {
    Config c;
    c.limits.max_queued_requests = 3;
    Session s(Role::client, c);
    // Before the server's SETTINGS: 100 slots (connection.hpp) plus the queue.
    CHECK(s.conn.queued_requests() == 0);
    CHECK(s.conn.request_capacity() == 103);
    s.handshake({{SettingId::max_concurrent_streams, 1}});
    CHECK(s.conn.request_capacity() == 4);  // one slot, three places in the queue

    const Submitted a = s.conn.submit_request(fields(get("/a")), true);
    REQUIRE(a);
    CHECK(s.conn.queued_requests() == 0);  // it had the slot
    CHECK(s.conn.stream_state(a.stream) == StreamState::half_closed_local);
    CHECK(s.conn.request_capacity() == 3);
    std::vector<std::uint32_t> waiting;
    for (int i = 0; i < 3; ++i) {
        const Submitted w = s.conn.submit_request(fields(get("/w")), true);
        REQUIRE(w);
        waiting.push_back(w.stream);
        CHECK(s.conn.stream_state(w.stream) == StreamState::idle);
    }
    CHECK(s.conn.queued_requests() == 3);
    CHECK(s.conn.request_capacity() == 0);
    CHECK(s.conn.submit_request(fields(get("/x")), true).error == ApiError::too_many_queued);
    const auto out = s.drain();
    CHECK(count(out, Type::headers) == 1);  // only the first went out

    // The first ends: the next waiting request takes its slot.
    s.feed(s.peer.headers(a.stream, response(), true));
    CHECK(s.conn.stream_state(a.stream) == StreamState::closed);
    s.drain();
    CHECK(s.conn.queued_requests() == 2);
    CHECK(s.conn.stream_state(waiting[0]) == StreamState::half_closed_local);
    CHECK(s.conn.request_capacity() == 1);

    // A waiting request withdrawn before it went out is closed for the
    // application.
    REQUIRE(s.conn.reset_stream(waiting[2]) == ApiError::none);
    CHECK(s.conn.queued_requests() == 1);
    CHECK(s.conn.stream_state(waiting[2]) == StreamState::closed);
    CHECK(s.conn.request_capacity() == 2);

    // After a GOAWAY no request is accepted.
    s.feed(s.peer.goaway(waiting[1], ErrorCode::no_error));
    CHECK(s.conn.request_capacity() == 0);
}

TEST_CASE("getters: queued_requests() and request_capacity() on a server, and after shutdown()") {
    Session server(Role::server);
    server.handshake();
    CHECK(server.conn.queued_requests() == 0);
    CHECK(server.conn.request_capacity() == 0);
    Session client(Role::client);
    CHECK(client.conn.request_capacity() == 100 + Limits{}.max_queued_requests);
    // A server that sets no SETTINGS_MAX_CONCURRENT_STREAMS: the stream ids
    // left are the bound (odd ids from 1 to 2^31-1).
    client.handshake();
    CHECK(client.conn.request_capacity() == (std::size_t{1} << 30));
    REQUIRE(client.conn.shutdown() == ApiError::none);
    CHECK(client.conn.request_capacity() == 0);
}

TEST_CASE("getters: stream_state() across a server stream's life") {
    Session s(Role::server);
    s.handshake({{SettingId::enable_push, 1}});
    CHECK(s.conn.stream_state(0) == StreamState::idle);
    CHECK(s.conn.stream_state(1) == StreamState::idle);
    s.open(1, request(), false);
    CHECK(s.conn.stream_state(1) == StreamState::open);
    // A promise: reserved (local) once the PUSH_PROMISE is committed.
    const Submitted p = s.conn.push_promise(1, fields(get("/style.css")));
    REQUIRE(p);
    CHECK(s.conn.stream_state(p.stream) == StreamState::reserved_local);
    REQUIRE(s.conn.submit_response(p.stream, fields(response()), true) == ApiError::none);
    s.drain();
    CHECK(s.conn.stream_state(p.stream) == StreamState::closed);
    s.feed(s.peer.data(1, "body", true));
    CHECK(s.conn.stream_state(1) == StreamState::half_closed_remote);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    CHECK(s.conn.stream_state(1) == StreamState::half_closed_remote);
    REQUIRE(s.conn.send_data(1, span_of("ok"), true) == ApiError::none);
    CHECK(s.conn.stream_state(1) == StreamState::half_closed_remote);  // END_STREAM not built yet
    s.drain();
    CHECK(s.conn.stream_state(1) == StreamState::closed);
    // Peer ids skipped when a higher one opened are closed; ids above are idle.
    s.open(7, get(), true);
    CHECK(s.conn.stream_state(5) == StreamState::closed);
    CHECK(s.conn.stream_state(7) == StreamState::half_closed_remote);
    CHECK(s.conn.stream_state(9) == StreamState::idle);
    // A reset by the peer closes it.
    s.feed(s.peer.rst(7, ErrorCode::cancel));
    CHECK(s.conn.stream_state(7) == StreamState::closed);
    // Our own ids above the last promise are idle.
    CHECK(s.conn.stream_state(p.stream + 2) == StreamState::idle);
}

TEST_CASE("getters: stream_state() across a client stream's life, with a promise from the server") {
    Config c;
    c.settings.enable_push = true;
    Session s(Role::client, c);
    s.handshake();
    const Submitted r = s.conn.submit_request(fields(request()), false);
    REQUIRE(r);
    CHECK(s.conn.stream_state(r.stream) == StreamState::open);
    REQUIRE(s.conn.send_data(r.stream, span_of("up"), true) == ApiError::none);
    s.drain();
    CHECK(s.conn.stream_state(r.stream) == StreamState::half_closed_local);
    s.feed(s.peer.push_promise(r.stream, 2, get("/pushed")));
    CHECK(s.conn.stream_state(2) == StreamState::reserved_remote);
    CHECK(s.conn.receive_window(2) > 0);
    s.feed(s.peer.headers(2, response(), false));
    CHECK(s.conn.stream_state(2) == StreamState::half_closed_local);
    s.feed(s.peer.headers(r.stream, response(), true));
    CHECK(s.conn.stream_state(r.stream) == StreamState::closed);
    REQUIRE(s.conn.reset_stream(2) == ApiError::none);
    CHECK(s.conn.stream_state(2) == StreamState::closed);
    CHECK(s.conn.stream_state(4) == StreamState::idle);
    CHECK(s.conn.stream_state(r.stream + 2) == StreamState::idle);
}
