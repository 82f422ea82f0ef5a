// Memory a connection holds (issue 4 §8): trim() gives back what is kept for
// reuse, in every state a connection can be in between two calls, without
// changing what goes on the wire; and a stream that goes away in the middle
// of its header block neither receives the rest nor lends its recycled
// object to another stream.
#include <doctest/doctest.h>

#include <cstring>
#include <memory_resource>

#include "support/connection_harness.hpp"
#include "support/counting_resource.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

using LiveResource = test_support::CountingResource;

Hdrs big_request(std::uint32_t i) {
    return get("/asset/" + num(i)) + Hdrs{{"user-agent", "h2wire-test/1.0"},
                                          {"cookie", "session=" + std::string(60, static_cast<char>('a' + i % 26))},
                                          {"x-request", std::string(40, 'r') + num(i)}};
}

}  // namespace

TEST_CASE("connection memory: trim() after a burst gives back what the burst left, and the connection goes on") {
    LiveResource client_mem, server_mem;
    Config cc, sc;
    cc.memory = &client_mem;
    sc.memory = &server_mem;
    sc.limits.max_concurrent_streams = 1000;
    Pair pair(cc, sc, 7, false);
    std::size_t responses = 0;
    std::vector<std::uint32_t> requests;
    pair.on_server = [&](Connection&, const Event& e) {
        if (const auto* r = std::get_if<RequestReceived>(&e)) requests.push_back(r->stream);
    };
    pair.on_client = [&](Connection&, const Event& e) {
        if (std::holds_alternative<StreamEnded>(e)) ++responses;
    };
    REQUIRE(pair.run(100));
    // One request first, so that the HPACK tables have their storage (it is
    // allocated at the first insertion and stays).
    {
        const auto f = fields(big_request(1000));
        REQUIRE(pair.client.submit_request(f, true));
        REQUIRE(pair.run(100));
        REQUIRE(requests.size() == 1);
        const auto resp = fields(response(200, {{"content-type", "text/plain"}}));
        REQUIRE(pair.server.submit_response(requests[0], resp, true) == ApiError::none);
        REQUIRE(pair.run(100));
        requests.clear();
        responses = 0;
    }
    pair.client.trim();
    pair.server.trim();
    const std::size_t client_idle = client_mem.live, server_idle = server_mem.live;

    // 500 streams opened and left open: the server holds their events and
    // stream objects; the client its output and streams.
    for (std::uint32_t i = 0; i < 500; ++i) {
        const auto f = fields(big_request(i));
        REQUIRE(pair.client.submit_request(f, false));
    }
    REQUIRE(pair.run(1000));
    REQUIRE(requests.size() == 500);
    const std::size_t server_open = server_mem.live;
    pair.server.trim();
    const std::size_t server_open_trimmed = server_mem.live;
    CHECK(server_open_trimmed < server_open);
    // What is left per open stream is the stream itself and its map slot.
    CHECK((server_open_trimmed - server_idle) / 500 < 256);

    // The streams end: every object and buffer they used is spare now.
    const auto resp = fields(response(200, {{"content-type", "text/plain"}}));
    for (const std::uint32_t id : requests) {
        REQUIRE(pair.server.submit_response(id, resp, false) == ApiError::none);
        REQUIRE(pair.server.send_data(id, span_of("done"), true) == ApiError::none);
        REQUIRE(pair.client.send_data(id, {}, true) == ApiError::none);
    }
    REQUIRE(pair.run(10000));
    CHECK(responses == 500);
    CHECK(pair.client.open_streams() == 0);
    CHECK(pair.server.open_streams() == 0);
    const std::size_t client_warm = client_mem.live, server_warm = server_mem.live;
    pair.client.trim();
    pair.server.trim();
    CHECK(client_mem.live < client_warm);
    CHECK(server_mem.live < server_warm);
    // Back to where the idle connection was, give or take the HPACK tables'
    // rings of entry descriptors and the encoder's lookup index (80 octets
    // per entry), which grow with the number of entries (up to what the
    // 4096-octet tables can hold: 128) and stay.
    CHECK(client_mem.live <= client_idle + 8192 + 128 * 80);
    CHECK(server_mem.live <= server_idle + 8192 + 128 * 80);

    // Trimming twice, or with nothing to trim, changes nothing.
    const std::size_t c1 = client_mem.live, s1 = server_mem.live;
    pair.client.trim();
    pair.server.trim();
    CHECK(client_mem.live == c1);
    CHECK(server_mem.live == s1);

    // And the connection still works: another round, byte-exact.
    requests.clear();
    responses = 0;
    for (std::uint32_t i = 0; i < 50; ++i) {
        const auto f = fields(big_request(i));
        REQUIRE(pair.client.submit_request(f, true));
    }
    std::vector<std::string> bodies;
    pair.on_server = [&](Connection& c, const Event& e) {
        if (const auto* r = std::get_if<RequestReceived>(&e)) {
            REQUIRE(c.submit_response(r->stream, resp, false) == ApiError::none);
            REQUIRE(c.send_data(r->stream, span_of(std::string(r->path)), true) == ApiError::none);
        }
    };
    pair.on_client = [&](Connection&, const Event& e) {
        if (const auto* d = std::get_if<DataReceived>(&e)) bodies.push_back(string_of(d->data));
        if (std::holds_alternative<StreamEnded>(e)) ++responses;
    };
    REQUIRE(pair.run(10000));
    CHECK(responses == 50);
    REQUIRE(bodies.size() == 50);
    for (std::uint32_t i = 0; i < 50; ++i) CHECK(bodies[i] == "/asset/" + num(i));
}

TEST_CASE("connection memory: trim() between any two calls keeps every byte and event") {
    // The same exchange with trim() after every step on both sides and
    // without: the wire and the events are identical.
    auto run = [](bool trim_each_step) {
        Config cc, sc;
        Pair pair(cc, sc, 99, true);
        pair.keep_wire(true);
        std::vector<std::string> log;
        pair.on_server = [&](Connection& c, const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e)) {
                log.push_back("req " + num(r->stream) + " " + std::string(r->path) + " " + num(r->headers.size()));
                const auto resp = fields(response(200, {{"x-path", std::string(r->path)}}));
                REQUIRE(c.submit_response(r->stream, resp, false) == ApiError::none);
                const std::string body(3000 + r->stream * 7, static_cast<char>('a' + r->stream % 26));
                REQUIRE(c.send_data(r->stream, span_of(body), false) == ApiError::none);
                const auto tr = fields({{"x-trailer", num(r->stream)}});
                REQUIRE(c.send_trailers(r->stream, tr) == ApiError::none);
            }
            if (const auto* d = std::get_if<DataReceived>(&e)) log.push_back("s-data " + num(d->data.size()));
        };
        pair.on_client = [&](Connection&, const Event& e) {
            if (const auto* r = std::get_if<ResponseReceived>(&e))
                log.push_back("resp " + num(r->stream) + " " + describe(owned(r->headers)));
            if (const auto* d = std::get_if<DataReceived>(&e))
                log.push_back("c-data " + num(d->stream) + " " + string_of(d->data).substr(0, 3));
            if (const auto* t = std::get_if<TrailersReceived>(&e))
                log.push_back("trailers " + num(t->stream) + " " + describe(owned(t->headers)));
        };
        for (std::uint32_t i = 0; i < 40; ++i) {
            // Big enough that some blocks need CONTINUATION (16 KiB frames).
            Hdrs h = big_request(i);
            if (i % 5 == 0) h.push_back({"x-large", std::string(20000, 'L')});
            const auto f = fields(h);
            REQUIRE(pair.client.submit_request(f, i % 2 == 0));
            if (i % 2 == 1) {
                const std::string body(2000, 'u');
                REQUIRE(pair.client.send_data(i * 2 + 1, span_of(body), true) == ApiError::none);
            }
        }
        for (int i = 0; i < 100000; ++i) {
            const std::size_t moved = pair.step();
            if (trim_each_step) {
                pair.client.trim();
                pair.server.trim();
            }
            if (moved == 0 && !pair.client.wants_write() && !pair.server.wants_write()) break;
        }
        return std::make_tuple(log, pair.client_wire, pair.server_wire);
    };
    const auto plain_run = run(false);
    const auto trimmed_run = run(true);
    CHECK(std::get<0>(plain_run).size() > 100);
    CHECK(std::get<0>(plain_run) == std::get<0>(trimmed_run));
    CHECK(std::get<1>(plain_run) == std::get<1>(trimmed_run));
    CHECK(std::get<2>(plain_run) == std::get<2>(trimmed_run));
}

TEST_CASE("connection memory: trim() in the middle of a header block keeps the fields decoded so far") {
    for (const Split split : all_splits()) {
        CAPTURE(split.name());
        Session s(Role::server);
        s.handshake();
        const Hdrs h = big_request(1) + Hdrs{{"x-one", std::string(3000, 'x')}, {"x-two", "end"}};
        const Bytes block = s.peer.encode(h);
        const std::size_t half = block.size() / 2;
        const Bytes first = s.peer.headers_frame(1, std::span(block).first(half), true, false);
        const Bytes rest = s.peer.continuation(1, std::span(block).subspan(half), true);
        s.feed(first, split);
        s.conn.trim();
        const Events got = s.feed(rest, split);
        const auto req = got.on<ev::Request>(1);
        REQUIRE(req);
        CHECK(req->headers == h);
    }
}

TEST_CASE("connection memory: a stream reset between the fragments of its header block gets none of it") {
    for (const bool trim : {false, true}) {
        CAPTURE(trim);
        Session s(Role::client);
        s.handshake();
        const std::uint32_t first_id = s.request(get("/one"));
        REQUIRE(first_id == 1);
        const Hdrs resp1 = response(200, {{"x-first", "1"}, {"x-pad", std::string(200, 'p')}});
        const Bytes block = s.peer.encode(resp1);
        s.feed(s.peer.headers_frame(1, std::span(block).first(10), false, false));
        REQUIRE(s.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
        s.drain();
        if (trim) s.conn.trim();
        // A new stream may take over the recycled stream object.
        const std::uint32_t second_id = s.request(get("/two"));
        REQUIRE(second_id == 3);
        const Events rest = s.feed(s.peer.continuation(1, std::span(block).subspan(10), true));
        INFO(rest.str());
        CHECK(rest.count<ev::Response>() == 0);
        CHECK(!s.conn.is_closed());
        // HPACK stayed in step: the peer's table has resp1's entries, which
        // the next response uses.
        const Hdrs resp3 = response(200, {{"x-first", "1"}, {"x-third", "3"}});
        const Events third = s.feed(s.peer.headers(3, resp3, true));
        const auto r = third.on<ev::Response>(3);
        REQUIRE(r);
        CHECK(r->headers == resp3);
        CHECK(s.events.count_on<ev::Response>(1) == 0);
    }
}

TEST_CASE("connection memory: trim() with output not yet written keeps it") {
    Session s(Role::server);
    s.handshake();
    s.open(1, get("/x"), true);
    const auto resp = fields(response(200));
    REQUIRE(s.conn.submit_response(1, resp, false) == ApiError::none);
    const std::string body(30000, 'b');  // within the peer's initial window
    REQUIRE(s.conn.send_data(1, span_of(body), true) == ApiError::none);
    // Part of the output is built and partly written, then trim().
    const auto out = s.conn.pending_output();
    REQUIRE(out.size() > 100);
    s.peer.read(out.first(100));
    s.conn.consume_output(100);
    s.conn.trim();
    s.drain();
    s.conn.trim();
    CHECK(s.peer.frames().size() > 0);
    CHECK(data_of(s.frames_since_handshake(), 1) == bytes_of(body));
}

TEST_CASE("connection memory: streams blocked on their window resume in id order, trimmed or not") {
    // A larger SETTINGS_INITIAL_WINDOW_SIZE lets every blocked stream send
    // again (RFC 9113 §6.9.2); they resume in stream id order, whatever the
    // stream map's layout (which trim() may change).
    for (const bool trim : {false, true}) {
        CAPTURE(trim);
        Session s(Role::server);
        s.handshake({{SettingId::initial_window_size, 1000}});
        const std::string body(5000, 'w');
        std::vector<std::uint32_t> ids;
        for (std::uint32_t i = 0; i < 60; ++i) {
            const std::uint32_t id = 1 + 2 * i;
            s.open(id, get("/" + num(id)), true);
            REQUIRE(s.conn.submit_response(id, fields(response()), false) == ApiError::none);
            REQUIRE(s.conn.send_data(id, span_of(body), true) == ApiError::none);
            ids.push_back(id);
        }
        s.drain();
        // The peer resets most of them, so a trim() has a map to shrink.
        Bytes resets;
        std::vector<std::uint32_t> left;
        for (const std::uint32_t id : ids) {
            if (id % 10 == 9) left.push_back(id);
            else append(resets, s.peer.rst(id, ErrorCode::cancel));
        }
        s.feed(resets);
        s.drain();
        if (trim) s.conn.trim();
        const Events got = s.feed(cat({s.peer.window_update(0, 1 << 20),
                                       s.peer.settings({{SettingId::initial_window_size, 100000}})}));
        std::vector<std::uint32_t> resumed;
        for (const StreamWritable& w : got.all<StreamWritable>()) resumed.push_back(w.stream);
        CHECK(resumed == left);
        const auto out = s.drain();
        std::vector<std::uint32_t> first_data;
        for (const WireFrame& f : only(out, Type::data))
            if (std::find(first_data.begin(), first_data.end(), f.stream()) == first_data.end())
                first_data.push_back(f.stream());
        CHECK(first_data == left);
        for (const std::uint32_t id : left) CHECK(data_of(s.frames_since_handshake(), id) == bytes_of(body));
    }
}

// Issue 15: what a burst leaves goes back without trim() as the connection
// goes on, and a small body costs a small block, not a 16 KiB one.
TEST_CASE("connection memory: without trim(), a burst's memory goes back as the connection goes on") {
    LiveResource client_mem, server_mem;
    Config cc, sc;
    cc.memory = &client_mem;
    sc.memory = &server_mem;
    sc.limits.max_concurrent_streams = 1000;
    Pair pair(cc, sc, 11, false);
    std::vector<std::uint32_t> requests;
    std::size_t responses = 0;
    pair.on_server = [&](Connection&, const Event& e) {
        if (const auto* r = std::get_if<RequestReceived>(&e)) requests.push_back(r->stream);
    };
    pair.on_client = [&](Connection&, const Event& e) {
        if (std::holds_alternative<StreamEnded>(e)) ++responses;
    };
    REQUIRE(pair.run(100));
    const auto resp = fields(response(200, {{"content-type", "text/plain"}}));
    const std::string body(16, 'b');
    // A first exchange gives the HPACK tables their storage; then the
    // baseline is the trimmed connection.
    {
        const auto f = fields(big_request(1000));
        REQUIRE(pair.client.submit_request(f, true));
        REQUIRE(pair.run(100));
        REQUIRE(requests.size() == 1);
        REQUIRE(pair.server.submit_response(requests[0], resp, false) == ApiError::none);
        REQUIRE(pair.server.send_data(requests[0], span_of(body), true) == ApiError::none);
        REQUIRE(pair.run(100));
        requests.clear();
        responses = 0;
    }
    pair.client.trim();
    pair.server.trim();
    const std::size_t server_idle = server_mem.live;

    constexpr std::uint32_t burst = 300;
    for (std::uint32_t i = 0; i < burst; ++i) {
        const auto f = fields(big_request(i));
        REQUIRE(pair.client.submit_request(f, true));
    }
    REQUIRE(pair.run(1000));
    REQUIRE(requests.size() == burst);
    // 300 responses of 16 octets queued at once: each holds a block of its
    // size (64 octets), not a full one (16 KiB: 4.8 MB in all).
    const std::size_t before_bodies = server_mem.live;
    for (const std::uint32_t id : requests) {
        REQUIRE(pair.server.submit_response(id, resp, false) == ApiError::none);
        REQUIRE(pair.server.send_data(id, span_of(body), true) == ApiError::none);
    }
    CHECK(server_mem.live - before_bodies < burst * 1024);
    REQUIRE(pair.run(10000));
    CHECK(responses == burst);
    const std::size_t server_after_burst = server_mem.live;

    // The connection goes on quietly (PINGs): within some epochs of 256
    // receive() calls with input, the burst's event lists, arena chunks,
    // spare blocks and segments, output buffers and spare stream objects
    // are given back, without trim(). What stays is 16 stream objects and
    // what a quiet connection holds.
    for (int i = 0; i < 2000; ++i) {
        const std::array<std::uint8_t, 8> data{static_cast<std::uint8_t>(i)};
        REQUIRE(pair.client.ping(data) == ApiError::none);
        REQUIRE(pair.run(100));
    }
    MESSAGE("server live octets: idle (trimmed) " << server_idle << ", after the burst " << server_after_burst
                                                  << ", 2000 quiet calls later " << server_mem.live );
    CHECK(server_mem.live < server_after_burst);
    CHECK(server_mem.live <= server_idle + 16 * 1024);

    // And it still works.
    requests.clear();
    responses = 0;
    for (std::uint32_t i = 0; i < 20; ++i) {
        const auto f = fields(big_request(i));
        REQUIRE(pair.client.submit_request(f, true));
    }
    REQUIRE(pair.run(1000));
    REQUIRE(requests.size() == 20);
    for (const std::uint32_t id : requests) {
        REQUIRE(pair.server.submit_response(id, resp, false) == ApiError::none);
        REQUIRE(pair.server.send_data(id, span_of(body), true) == ApiError::none);
    }
    REQUIRE(pair.run(1000));
    CHECK(responses == 20);
}

TEST_CASE("connection memory: a stream stalled on a zero window with a small body holds a small block") {
    LiveResource server_mem;
    Config cc, sc;
    cc.settings.initial_window_size = 0;  // the server may send no DATA
    sc.memory = &server_mem;
    Pair pair(cc, sc, 12, false);
    std::vector<std::uint32_t> requests;
    pair.on_server = [&](Connection&, const Event& e) {
        if (const auto* r = std::get_if<RequestReceived>(&e)) requests.push_back(r->stream);
    };
    REQUIRE(pair.run(100));
    const auto resp = fields(response(200, {{"content-type", "text/plain"}}));
    for (std::uint32_t i = 0; i < 2; ++i) {
        const auto f = fields(big_request(i));
        REQUIRE(pair.client.submit_request(f, true));
    }
    REQUIRE(pair.run(100));
    REQUIRE(requests.size() == 2);
    // The first stream warms up what any stream uses (segment slab, output
    // buffers); the second shows what one stalled stream costs.
    REQUIRE(pair.server.submit_response(requests[0], resp, false) == ApiError::none);
    REQUIRE(pair.server.send_data(requests[0], span_of(std::string(100, 'x')), true) == ApiError::none);
    REQUIRE(pair.run(100));
    const std::size_t before = server_mem.live;
    REQUIRE(pair.server.submit_response(requests[1], resp, false) == ApiError::none);
    REQUIRE(pair.server.send_data(requests[1], span_of(std::string(100, 'y')), true) == ApiError::none);
    REQUIRE(pair.run(100));
    CHECK(pair.server.stream_state(requests[1]) == StreamState::half_closed_remote);
    MESSAGE("a stalled stream's 100-octet body: " << server_mem.live - before << " octets");
    CHECK(server_mem.live - before <= 256);
}

// Issue 15: an idle, handshaken connection holds at most 4 KiB from its
// memory resource (the connection object included), client and server, with
// the default configuration and with the benchmark's (16 MiB windows, 1,000
// streams). The memory bench reports the same figure.
namespace {

/// Client and server handshake, each side's whole output handed to the
/// other at once, until nothing moves.
void handshake(Connection& client, Connection& server) {
    for (int round = 0; round < 10; ++round) {
        std::size_t moved = 0;
        for (auto [from, to] : {std::pair{&client, &server}, std::pair{&server, &client}}) {
            const auto out = from->pending_output();
            const Bytes piece(out.begin(), out.end());
            from->consume_output(piece.size());
            moved += piece.size();
            if (!piece.empty()) (void)to->receive(piece);
        }
        if (moved == 0) return;
    }
    FAIL("the handshake does not settle");
}

}  // namespace

TEST_CASE("connection memory: an idle handshaken connection holds at most 4 KiB") {
    for (const bool bench_config : {false, true}) {
        CAPTURE(bench_config);
        LiveResource client_mem, server_mem;
        Config cc, sc;
        cc.memory = &client_mem;
        sc.memory = &server_mem;
        if (bench_config) {
            for (Config* c : {&cc, &sc}) {
                c->settings.initial_window_size = 16 << 20;
                c->connection_window_size = 16 << 20;
                c->limits.max_concurrent_streams = 1000;
            }
        }
        Connection client(make_config(Role::client, cc));
        Connection server(make_config(Role::server, sc));
        handshake(client, server);
        REQUIRE_FALSE(client.settings_ack_pending());
        REQUIRE_FALSE(server.settings_ack_pending());
        MESSAGE("idle live octets: client " << client_mem.live << ", server " << server_mem.live);
        CHECK(client_mem.live <= 4096);
        CHECK(server_mem.live <= 4096);
        // What was left out until needed comes when it is needed, and goes
        // again: a PING round trip, a SETTINGS change, a request.
        const std::array<std::uint8_t, 8> data{1, 2, 3, 4, 5, 6, 7, 8};
        REQUIRE(client.ping(data) == ApiError::none);
        Settings s = client.local_settings();
        s.header_table_size = 1024;
        REQUIRE(client.update_settings(s) == ApiError::none);
        REQUIRE(client.settings_ack_pending());
        handshake(client, server);
        CHECK_FALSE(client.settings_ack_pending());
        CHECK(client.local_settings().header_table_size == 1024);
        const auto f = fields(get("/idle"));
        const Submitted sub = client.submit_request(f, true);
        REQUIRE(sub);
        handshake(client, server);
        CHECK(server.counters().received.frames_of(frame::Type::headers) == 1);
        CHECK(client.counters().received.frames_of(frame::Type::ping) == 1);
        client.trim();
        server.trim();
        MESSAGE("after a PING, a SETTINGS change and a request, trimmed: client " << client_mem.live << ", server "
                                                                                  << server_mem.live);
        CHECK(client_mem.live <= 4096 + 1024);  // (the HPACK tables hold the request now)
        CHECK(server_mem.live <= 4096 + 1024);
    }
}

// Issue "Performance, round two": a server that answers a burst of 100 GETs
// (h2load's fields, all in one receive()) and has its output written holds,
// untrimmed, little more than the events of that receive() (which stay valid
// until the next one). The stream objects, send blocks, segments, body
// records and output buffers the burst grew go back as the last of its
// output is consumed; a steady load keeps them from its second round on.
namespace {

struct SixteenOctets final : BodyReader {
    BodyRead read(std::uint32_t, std::span<std::uint8_t> buffer) override {
        std::memset(buffer.data(), 'x', 16);
        return {16, BodyStatus::end, {}};
    }
};

enum class BurstBody { copied, borrowed, reader };

struct BurstResult {
    std::size_t held = 0;         // server octets past the handshaken connection's
    std::size_t allocations = 0;  // the server's allocations in the round
};

/// One round of `n` GETs: requests in one receive(), a response of 16
/// octets each, all output written; the events stay untouched (no
/// receive() after) and are checked still readable.
BurstResult burst_round(Connection& client, Connection& server, LiveResource& mem, std::size_t base, BurstBody how,
                        std::uint32_t n) {
    const std::size_t allocations = mem.allocations;
    for (std::uint32_t i = 0; i < n; ++i) {
        const Field f[] = {{":method", "GET"},
                           {":scheme", "http"},
                           {":authority", "127.0.0.1:40123"},
                           {":path", "/16"},
                           {"user-agent", "h2load nghttp2/1.52.0"}};
        REQUIRE(client.submit_request(f, true));
    }
    Bytes in;
    for (auto out = client.pending_output(); !out.empty(); out = client.pending_output()) {
        in.insert(in.end(), out.begin(), out.end());
        client.consume_output(out.size());
    }
    static constexpr char body[] = "0123456789abcde\n";
    static SixteenOctets reader;
    const Field resp[] = {{":status", "200"}, {"content-type", "text/plain"}, {"content-length", "16"}};
    const auto events = server.receive(in);
    std::uint32_t requests = 0;
    for (const Event& e : events) {
        const auto* r = std::get_if<RequestReceived>(&e);
        if (!r) continue;
        ++requests;
        const std::span data(reinterpret_cast<const std::uint8_t*>(body), 16);
        if (how == BurstBody::reader) {
            REQUIRE(server.submit_response(r->stream, resp, reader) == ApiError::none);
        } else {
            REQUIRE(server.submit_response(r->stream, resp, false) == ApiError::none);
            REQUIRE((how == BurstBody::copied ? server.send_data(r->stream, data, true)
                                              : server.send_data_borrowed(r->stream, data, true)) == ApiError::none);
        }
    }
    REQUIRE(requests == n);
    Bytes back;  // the responses, for the client once the figures are taken
    for (;;) {
        std::size_t pending = 0;
        for (const OutputChunk& c : server.pending_output_vectors()) {
            back.insert(back.end(), c.data, c.data + c.size);
            pending += c.size;
        }
        if (pending == 0) break;
        REQUIRE(server.consume_output(pending) == ApiError::none);
    }
    CHECK(server.open_streams() == 0);
    const auto closed = server.take_events();  // the StreamClosed events: theirs to hold too
    CHECK(closed.size() == n);
    // The events of the receive() are intact.
    for (const Event& e : events)
        if (const auto* r = std::get_if<RequestReceived>(&e)) {
            CHECK(r->path == "/16");
            CHECK(r->headers.size() == 5);
            CHECK(r->headers[4].value == "h2load nghttp2/1.52.0");
        }
    const BurstResult result{mem.live - base, mem.allocations - allocations};
    (void)client.receive(back);
    return result;
}

}  // namespace

TEST_CASE("connection memory: a burst of 100 GETs, written and closed, leaves its events and little else") {
    for (const BurstBody how : {BurstBody::copied, BurstBody::borrowed, BurstBody::reader}) {
        CAPTURE(static_cast<int>(how));
        LiveResource server_mem;
        Config sc;
        sc.memory = &server_mem;
        Connection client(make_config(Role::client));
        Connection server(make_config(Role::server, sc));
        handshake(client, server);
        const std::size_t base = server_mem.live;
        const BurstResult first = burst_round(client, server, server_mem, base, how, 100);
        MESSAGE("after a burst of 100 GETs: " << first.held << " octets past the handshaken connection");
        // What the events need, about 85 KB: the 200 events of the receive()
        // (a list of 256, 34,816 octets), their fields and strings (two arena
        // chunks, 32,800) and the 100 StreamClosed take_events() returned
        // (a list of 128, 17,408). The rest, some 13 KB: 16 spare stream
        // objects (2,304), the output's lists of chunks (up to 9,344), the
        // HPACK tables' storage. Before the rounds gave back what the burst
        // grew, the figure was 121 to 143 KB.
        CHECK(first.held <= 100 * 1024);  // (97,802 and 88,538 measured: a little slack)
        // The client reads the responses; then a steady load: the second
        // round regrows what the first gave back, the third allocates none
        // of it again.
        for (int i = 0; i < 3; ++i) handshake(client, server);
        const BurstResult second = burst_round(client, server, server_mem, base, how, 100);
        for (int i = 0; i < 3; ++i) handshake(client, server);
        const BurstResult third = burst_round(client, server, server_mem, base, how, 100);
        for (int i = 0; i < 3; ++i) handshake(client, server);
        const BurstResult fourth = burst_round(client, server, server_mem, base, how, 100);
        MESSAGE("allocations per round: " << first.allocations << ", " << second.allocations << ", "
                                          << third.allocations << ", " << fourth.allocations << "; held " << first.held
                                          << ", " << second.held << ", " << third.held << ", " << fourth.held);
        CHECK(third.allocations <= 8);
        CHECK(fourth.allocations == 0);
        CHECK(fourth.held == third.held);
    }
}
