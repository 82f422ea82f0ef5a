// Events caused by API calls (issue 14): take_events() collects them right
// after the call, without a receive(); each is reported exactly once, by
// take_events() or by the next receive(), whichever comes first; and
// take_events() leaves the span of the last receive() alone.
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

std::size_t terminations(std::span<const Event> evs) {
    std::size_t n = 0;
    for (const Event& e : evs) n += std::holds_alternative<ConnectionTerminated>(e);
    return n;
}

/// A server in graceful shutdown with stream 1 (a GET) still to answer:
/// both GOAWAYs are out (the PING came back).
Session server_shutting_down() {
    Session s(Role::server);
    s.handshake();
    s.open(1, get(), true);
    REQUIRE(s.conn.shutdown() == ApiError::none);
    const auto out = s.drain();
    const auto ping = first(out, Type::ping);
    REQUIRE(ping.has_value());
    s.feed(s.peer.ping(ping->opaque, true));
    const auto final = s.drain();
    REQUIRE(count(final, Type::goaway) == 1);
    REQUIRE(!s.conn.is_closed());
    REQUIRE(s.conn.take_events().empty());
    return s;
}

}  // namespace

TEST_CASE("take_events: the end of a graceful shutdown, right after the call that ended the last stream") {
    SUBCASE("the last DATA built by pending_output()") {
        Session s = server_shutting_down();
        REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
        REQUIRE(s.conn.send_data(1, span_of("bye"), true) == ApiError::none);
        CHECK(s.conn.take_events().empty());  // END_STREAM not built yet
        CHECK(!s.conn.pending_output().empty());
        // The stream's StreamClosed (pending_output() copied its last
        // octets), then the end of the connection.
        const auto evs = s.conn.take_events();
        REQUIRE(evs.size() == 2);
        const auto* c = std::get_if<StreamClosed>(&evs[0]);
        REQUIRE(c != nullptr);
        CHECK(c->stream == 1);
        CHECK(c->code == ErrorCode::no_error);
        const auto* t = std::get_if<ConnectionTerminated>(&evs[1]);
        REQUIRE(t != nullptr);
        CHECK(t->code == ErrorCode::no_error);
        CHECK(t->by == Initiator::local);
        CHECK(t->last_stream_id == 1);
        CHECK(s.conn.is_closed());
        // Reported once: neither the next take_events() nor receive() has it.
        CHECK(s.conn.take_events().empty());
        CHECK(terminations(s.conn.receive({})) == 0);
        // The output still goes out whole.
        s.drain();
        CHECK(data_of(s.peer.frames(), 1) == bytes_of("bye"));
    }
    SUBCASE("a response with END_STREAM, committed by submit_response()") {
        Session s = server_shutting_down();
        REQUIRE(s.conn.submit_response(1, fields(response()), true) == ApiError::none);
        const auto evs = s.conn.take_events();
        CHECK(terminations(evs) == 1);
        CHECK(s.conn.is_closed());
    }
    SUBCASE("reset_stream()") {
        Session s = server_shutting_down();
        REQUIRE(s.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
        CHECK(terminations(s.conn.take_events()) == 1);
    }
    SUBCASE("collected by receive() instead: once, and take_events() then has nothing") {
        Session s = server_shutting_down();
        REQUIRE(s.conn.submit_response(1, fields(response()), true) == ApiError::none);
        CHECK(terminations(s.conn.receive({})) == 1);
        CHECK(s.conn.take_events().empty());
        CHECK(terminations(s.conn.receive({})) == 0);
    }
}

TEST_CASE("take_events: a client's shutdown() and goaway()") {
    SUBCASE("shutdown() with nothing open ends at once") {
        Session s(Role::client);
        s.handshake();
        REQUIRE(s.conn.shutdown() == ApiError::none);
        const auto evs = s.conn.take_events();
        REQUIRE(evs.size() == 1);
        CHECK(std::get<ConnectionTerminated>(evs[0]).code == ErrorCode::no_error);
        const auto out = s.drain();
        CHECK(count(out, Type::goaway) == 1);
    }
    SUBCASE("goaway()") {
        Session s(Role::client);
        s.handshake();
        REQUIRE(s.conn.goaway(ErrorCode::internal_error, "bye") == ApiError::none);
        const auto evs = s.conn.take_events();
        REQUIRE(evs.size() == 1);
        const auto& t = std::get<ConnectionTerminated>(evs[0]);
        CHECK(t.code == ErrorCode::internal_error);
        CHECK(t.by == Initiator::local);
    }
    SUBCASE("trim() keeps events not yet collected") {
        Session s(Role::client);
        s.handshake();
        REQUIRE(s.conn.shutdown() == ApiError::none);
        s.conn.trim();
        CHECK(terminations(s.conn.take_events()) == 1);
        s.conn.trim();
        CHECK(s.conn.take_events().empty());
    }
}

TEST_CASE("take_events: the span of the last receive() stays valid") {
    Session s(Role::server);
    s.handshake();
    const Bytes input = s.peer.headers(1, get("/kept"), true);
    const std::span<const Event> evs = s.conn.receive(input);
    REQUIRE(evs.size() == 2);  // RequestReceived, StreamEnded
    for (const Event& e : evs) {
        if (const auto* r = std::get_if<RequestReceived>(&e)) {
            // An API call inside the loop that causes an event, collected at once.
            REQUIRE(s.conn.goaway(ErrorCode::no_error) == ApiError::none);
            const auto taken = s.conn.take_events();
            CHECK(terminations(taken) == 1);
            // The request and the span it is in are untouched.
            CHECK(r->path == "/kept");
            CHECK(r->method == "GET");
        }
    }
    CHECK(std::holds_alternative<StreamEnded>(evs[1]));
    CHECK(std::get<RequestReceived>(evs[0]).path == "/kept");
}

TEST_CASE("take_events: the request of an h2c upgrade, then never again") {
    Connection server({.role = Role::server});
    const Field post[] = {{":method", "POST"},
                          {":scheme", "http"},
                          {":authority", "example.org"},
                          {":path", "/echo"},
                          {"content-length", "5"}};
    REQUIRE(server.upgrade_server("", post, bytes_of("hello")) == ApiError::none);
    const auto evs = server.take_events();
    REQUIRE(evs.size() == 3);
    const auto* r = std::get_if<RequestReceived>(&evs[0]);
    REQUIRE(r != nullptr);
    CHECK(r->stream == 1);
    CHECK(r->path == "/echo");
    const auto* d = std::get_if<DataReceived>(&evs[1]);
    REQUIRE(d != nullptr);
    CHECK(string_of(d->data) == "hello");
    CHECK(std::holds_alternative<StreamEnded>(evs[2]));
    // The client's preface and SETTINGS: no second RequestReceived.
    Peer client(Role::server);
    const Bytes preface = client.preface();
    for (const Event& e : server.receive(preface)) {
        CHECK(!std::holds_alternative<RequestReceived>(e));
        CHECK(!std::holds_alternative<DataReceived>(e));
    }
    CHECK(!server.is_closed());
}
