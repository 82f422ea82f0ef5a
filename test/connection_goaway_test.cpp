// GOAWAY (RFC 9113 §6.8): received (streams above last_stream_id refused
// and safe to retry, queued requests too, no new requests), graceful
// shutdown() (GOAWAY 2^31-1, a PING round trip, the final GOAWAY, open
// streams finish, then ConnectionTerminated), and immediate goaway().
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

constexpr std::uint32_t kMaxStream = 0x7fffffff;

}  // namespace

TEST_CASE("connection goaway: received — streams above last_stream_id are refused and safe to retry") {
    Session s(Role::client);
    s.handshake({{SettingId::max_concurrent_streams, 3}});
    std::vector<std::uint32_t> ids;
    for (int i = 0; i < 5; ++i) {
        const auto f = fields(get("/" + std::to_string(i)));
        const Submitted sub = s.conn.submit_request(f, i != 0);  // stream 1 keeps its body open
        REQUIRE(sub);
        ids.push_back(sub.stream);
    }
    s.drain();
    CHECK(count(s.peer.frames(), Type::headers) == 3);  // 7 and 9 wait for a slot
    const std::size_t before = s.events.size();
    const Events got = s.feed(s.peer.goaway(1, ErrorCode::no_error, "restart"));
    INFO(got.str());
    const auto ga = got.first<ev::Goaway>();
    REQUIRE(ga.has_value());
    CHECK(ga->last_stream_id == 1);
    CHECK(ga->code == ErrorCode::no_error);
    CHECK(string_of(ga->debug) == "restart");
    // 3 and 5 were sent, 7 and 9 were queued: all refused, all retryable.
    for (std::uint32_t id : {3u, 5u, 7u, 9u}) {
        CAPTURE(id);
        const auto r = got.on<ev::Reset>(id);
        REQUIRE(r.has_value());
        CHECK(r->code == ErrorCode::refused_stream);
        CHECK(r->safe_to_retry);
    }
    CHECK(got.count<ev::Reset>() == 4);
    CHECK(got.count_on<ev::Reset>(1) == 0);
    CHECK(got.count<ev::Terminated>() == 0);  // stream 1 goes on
    // No new request.
    const auto f = fields(get("/new"));
    CHECK(s.conn.submit_request(f, true).error == ApiError::connection_closed);
    auto out = s.drain();
    CHECK(count(out, Type::headers) == 0);
    // Stream 1 finishes normally.
    CHECK(s.conn.send_data(1, bytes_of("upload"), true) == ApiError::none);
    out = s.drain();
    CHECK(string_of(data_of(out, 1)) == "upload");
    s.feed(s.peer.headers(1, response(), false));
    s.feed(s.peer.data(1, "response", true));
    const auto r = s.events.on<ev::Response>(1);
    REQUIRE(r.has_value());
    CHECK(string_of(s.events.data_of(1)) == "response");
    CHECK(s.events.count_on<StreamEnded>(1) == 1);
    for (std::size_t i = before; i < s.events.size(); ++i)
        if (const auto* t = std::get_if<ev::Terminated>(&s.events[i])) CHECK(t->code == ErrorCode::no_error);
    CHECK(count(s.drain(), Type::goaway) <= 1);
}

TEST_CASE("connection goaway: a second GOAWAY lowers last_stream_id") {
    Session s(Role::client);
    s.handshake();
    for (int i = 0; i < 3; ++i) s.request(get(), true);  // 1, 3, 5
    Events got = s.feed(s.peer.goaway(kMaxStream, ErrorCode::no_error));
    CHECK(got.count<ev::Reset>() == 0);
    CHECK(s.conn.submit_request(fields(get()), true).error == ApiError::connection_closed);
    got = s.feed(s.peer.goaway(3, ErrorCode::no_error));
    INFO(got.str());
    CHECK(got.count<ev::Reset>() == 1);
    const auto r = got.on<ev::Reset>(5);
    REQUIRE(r.has_value());
    CHECK(r->code == ErrorCode::refused_stream);
    CHECK(r->safe_to_retry);
    // 1 and 3 still complete.
    s.feed(cat({s.peer.headers(1, response(), true), s.peer.headers(3, response(), true)}));
    CHECK(s.events.on<ev::Response>(1).has_value());
    CHECK(s.events.on<ev::Response>(3).has_value());
}

TEST_CASE("connection goaway: graceful shutdown() lets open streams finish") {
    Session s(Role::server);
    s.handshake();
    s.open(1, request(), false);
    s.open(3, get(), true);
    REQUIRE(s.conn.shutdown() == ApiError::none);
    auto out = s.drain();
    INFO(str(out));
    // First GOAWAY: 2^31-1, NO_ERROR, with a PING to find out what is in flight.
    const auto ga1 = only(out, Type::goaway);
    REQUIRE(ga1.size() == 1);
    CHECK(ga1[0].last_stream_id == kMaxStream);
    CHECK(ga1[0].code == ErrorCode::no_error);
    const auto ping = first(out, Type::ping);
    REQUIRE(ping.has_value());
    CHECK(!ping->ack);
    CHECK(!s.conn.is_closed());

    // A request that was in flight still counts.
    s.open(5, get("/in-flight"), true);
    CHECK(s.events.on<ev::Request>(5).has_value());
    // The PING comes back: the final GOAWAY names the last stream processed.
    s.feed(s.peer.ping(ping->opaque, true));
    out = s.drain();
    INFO(str(out));
    const auto ga2 = only(out, Type::goaway);
    REQUIRE(ga2.size() == 1);
    CHECK(ga2[0].last_stream_id == 5);
    CHECK(ga2[0].code == ErrorCode::no_error);
    CHECK(s.events.count<ev::Terminated>() == 0);

    // A stream opened after the final GOAWAY is not processed.
    s.open(7, get("/too-late"), true);
    CHECK(s.events.count_on<ev::Request>(7) == 0);
    out = s.drain();
    for (const WireFrame& f : only(out, Type::rst_stream)) {
        CHECK(f.stream() == 7);
        CHECK(f.code == ErrorCode::refused_stream);
    }
    CHECK(count(out, Type::goaway) == 0);

    // The open streams finish; the last one to close ends the connection.
    for (std::uint32_t id : {1u, 3u, 5u})
        REQUIRE(s.conn.submit_response(id, fields(response()), true) == ApiError::none);
    s.drain();
    CHECK(s.events.count<ev::Terminated>() == 0);
    CHECK(!s.conn.is_closed());
    const Events got = s.feed(s.peer.data(1, "last upload", true));
    INFO(got.str());
    CHECK(string_of(s.events.data_of(1)) == "last upload");
    const auto t = got.last<ev::Terminated>();
    REQUIRE(t.has_value());
    CHECK(t->code == ErrorCode::no_error);
    CHECK(t->by == Initiator::local);
    CHECK(t->last_stream_id == 5);
    CHECK(s.conn.is_closed());
    out = s.drain();
    CHECK(count(out, Type::goaway) <= 1);
    for (const WireFrame& f : only(out, Type::goaway)) {
        CHECK(f.last_stream_id == 5);
        CHECK(f.code == ErrorCode::no_error);
    }
}

TEST_CASE("connection goaway: shutdown() with nothing open ends after the PING round trip") {
    Session s(Role::server);
    s.handshake();
    s.open(1, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response()), true) == ApiError::none);
    REQUIRE(s.conn.shutdown() == ApiError::none);
    auto out = s.drain();
    const auto ping = first(out, Type::ping);
    REQUIRE(ping.has_value());
    const Events got = s.feed(s.peer.ping(ping->opaque, true));
    INFO(got.str());
    out = s.drain();
    const auto goaways = only(s.peer.frames(), Type::goaway);
    REQUIRE(goaways.size() == 2);
    CHECK(goaways[1].last_stream_id == 1);
    const auto t = got.last<ev::Terminated>();
    REQUIRE(t.has_value());
    CHECK(t->code == ErrorCode::no_error);
    CHECK(s.conn.is_closed());
}

TEST_CASE("connection goaway: a client's shutdown() stops new requests and lets open ones finish") {
    Session s(Role::client);
    s.handshake();
    const std::uint32_t id = s.request(get(), true);
    REQUIRE(s.conn.shutdown() == ApiError::none);
    auto out = s.drain();
    const auto ga = only(out, Type::goaway);
    REQUIRE(ga.size() == 1);
    CHECK(ga[0].code == ErrorCode::no_error);
    CHECK(s.conn.submit_request(fields(get()), true).error == ApiError::connection_closed);
    const auto ping = first(out, Type::ping);
    if (ping) s.feed(s.peer.ping(ping->opaque, true));
    s.drain();
    CHECK(!s.conn.is_closed());
    const Events got = s.feed(s.peer.headers(id, response(), true));
    INFO(got.str());
    CHECK(got.on<ev::Response>(id).has_value());
    const auto t = got.last<ev::Terminated>();
    REQUIRE(t.has_value());
    CHECK(t->code == ErrorCode::no_error);
    CHECK(s.conn.is_closed());
}

TEST_CASE("connection goaway: goaway(code, debug) is immediate") {
    Session s(Role::server);
    s.handshake();
    s.open(1, request(), false);
    s.open(3, get(), true);
    REQUIRE(s.conn.submit_response(3, fields(response()), false) == ApiError::none);
    REQUIRE(s.conn.goaway(ErrorCode::enhance_your_calm, "too many requests") == ApiError::none);
    const auto out = s.drain();
    INFO(str(out));
    const auto ga = only(out, Type::goaway);
    REQUIRE(ga.size() == 1);
    CHECK(ga[0].last_stream_id == 3);
    CHECK(ga[0].code == ErrorCode::enhance_your_calm);
    CHECK(string_of(ga[0].debug) == "too many requests");
    CHECK(out.back().type() == Type::goaway);
    // Nothing more is processed; ConnectionTerminated is reported (now or at the next receive()).
    const Events got = s.feed(cat({s.peer.ping(opaque("anyone??")), s.peer.headers(5, get(), true)}));
    INFO(got.str());
    // The streams it cut off end first (CANCEL would be the code of a
    // NO_ERROR GOAWAY).
    CHECK(got.lines() == std::vector<std::string>{"StreamClosed s=1 ENHANCE_YOUR_CALM by=local",
                                                  "StreamClosed s=3 ENHANCE_YOUR_CALM by=local",
                                                  "ConnectionTerminated ENHANCE_YOUR_CALM by=local last=3 (GOAWAY sent)"});
    const auto t = s.events.last<ev::Terminated>();
    REQUIRE(t.has_value());
    CHECK(t->code == ErrorCode::enhance_your_calm);
    CHECK(t->by == Initiator::local);
    CHECK(s.conn.is_closed());
    CHECK(s.drain().empty());
    CHECK(s.conn.goaway(ErrorCode::no_error) != ApiError::none);
    CHECK(s.conn.ping(opaque("12345678")) == ApiError::connection_closed);
    CHECK(!s.conn.wants_write());
}
