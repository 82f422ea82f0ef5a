// The receive side: every event kind of events.hpp with its fields; DATA as
// views of the input (zero copy); PING answered automatically; PRIORITY
// validated and otherwise ignored; unknown and extension frames; and split
// invariance: the same peer byte stream fed whole, byte by byte and at
// random splits gives the same events and the same output.
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

/// Events as lines, DATA of one stream joined across adjacent events (how
/// DATA is cut into events depends on how the input was cut).
std::vector<std::string> normalized(const Events& evs) {
    std::vector<std::string> out;
    std::optional<ev::Data> pending;
    auto flush = [&] {
        if (pending) out.push_back(describe(Ev{*pending}) + " data=" + hex(pending->data));
        pending.reset();
    };
    for (const Ev& e : evs) {
        if (const auto* d = std::get_if<ev::Data>(&e)) {
            if (pending && pending->stream == d->stream && !pending->end_stream) {
                append(pending->data, d->data);
                pending->flow_controlled_length += d->flow_controlled_length;
                pending->end_stream = d->end_stream;
                continue;
            }
            flush();
            pending = *d;
            continue;
        }
        flush();
        out.push_back(describe(e));
    }
    flush();
    return out;
}

struct Transcript {
    std::vector<std::string> events;
    std::vector<std::string> wire;
    bool closed = false;
};

/// The client's script: the Peer is a server answering three requests.
Bytes client_script(Peer& p) {
    Bytes in = p.preface({{SettingId::max_concurrent_streams, 100}, {SettingId::initial_window_size, 1 << 20}});
    append(in, p.settings_ack());
    append(in, p.headers(1, response(200, {{"content-type", "text/html"}}), false));
    HeadersOptions split;
    split.max_fragment = 4;
    append(in, p.push_promise(1, 2, get("/style.css") + Hdrs{{"accept", "text/css"}}, split));
    append(in, p.headers(3, response(103, {{"link", "</style.css>; rel=preload"}}), false));
    append(in, p.headers(2, response(200, {{"content-type", "text/css"}}), false));
    append(in, p.data(2, "body { color: red }", true, 3));
    append(in, p.data(1, Bytes(1000, 'h'), false));
    append(in, p.altsvc(0, "https://example.com", "h2=\"alt.example.com:443\""));
    append(in, p.altsvc(1, "", "h2=\":8443\""));
    append(in, p.origin({"https://example.com", "https://cdn.example.com"}));
    append(in, p.raw(0x42, 0x5, 1, bytes_of("ext")));
    append(in, p.headers(3, response(204), true));
    append(in, p.ping(opaque("client!!")));
    append(in, p.data(1, Bytes(2000, 't'), false, 100));
    append(in, p.headers(1, {{"x-trailer", "done"}}, true));
    append(in, p.rst(5, ErrorCode::refused_stream));
    append(in, p.goaway(7, ErrorCode::no_error, "maintenance"));
    return in;
}

/// The server's script: the Peer is a client.
Bytes server_script(Peer& p) {
    Bytes in = p.preface({{SettingId::initial_window_size, 70000}, {SettingId::max_frame_size, 20000}});
    HeadersOptions prio;
    prio.pad = 7;
    prio.priority = frame::PriorityFields{true, 0, 200};
    append(in, p.headers(1, request("POST", "/a"), false, prio));
    append(in, p.data(1, "hello", false, 4));
    append(in, p.ping(opaque("ping0001")));
    HeadersOptions split;
    split.max_fragment = 5;
    append(in, p.headers(3, get("/b") + Hdrs{{"accept-language", "en"}}, true, split));
    Rng rng(31);
    append(in, p.data(1, rng.bytes(3000), false));
    append(in, p.priority(5, 0, 10));
    append(in, p.raw(0x42, 0, 0, bytes_of("xyz")));
    append(in, p.priority_update(1, "u=2, i"));
    append(in, p.window_update(0, 1000));
    append(in, p.window_update(1, 500));
    append(in, p.headers(5, request("POST", "/c"), false));
    append(in, p.data(5, "abc", false));
    append(in, p.rst(5, ErrorCode::cancel));
    append(in, p.headers(1, {{"x-checksum", "1234"}}, true));
    append(in, p.ping(opaque("ping0002")));
    append(in, p.headers(7, request("POST", "/d"), false));
    append(in, p.priority(7, 7));                                         // depends on itself: stream error
    append(in, p.headers(9, get("/e") + Hdrs{{"Bad-Name", "x"}}, true));  // malformed: stream error
    append(in, p.settings({{SettingId::header_table_size, 2048}}));
    append(in, p.headers(11, get("/f"), true));
    append(in, p.data(7, "late", true));  // after our reset: ignored
    append(in, p.ping(opaque("ping0003")));
    return in;
}

Transcript run(Role role, Split split) {
    Config c;
    c.flow_control = FlowControl::manual;  // no WINDOW_UPDATE timing in the output
    c.settings.enable_push = role == Role::client;
    Session s(role, c);
    if (role == Role::client) {
        s.drain();
        for (const char* path : {"/1", "/3", "/5"}) {
            const auto f = fields(get(path));
            REQUIRE(s.conn.submit_request(f, true));
        }
        s.drain();
    }
    const Bytes script = role == Role::client ? client_script(s.peer) : server_script(s.peer);
    s.feed(script, split);
    s.drain();
    Transcript t;
    t.events = normalized(s.events);
    t.wire = lines(s.peer.frames());
    t.closed = s.conn.is_closed();
    return t;
}

}  // namespace

TEST_CASE("connection receiving: the same bytes fed whole, byte by byte and at random splits") {
    for (const Role role : {Role::server, Role::client}) {
        CAPTURE(role == Role::server ? "server" : "client");
        const Transcript whole = run(role, Split::whole());
        INFO("events:\n" << join(whole.events));
        INFO("wire:\n" << join(whole.wire));
        CHECK(whole.events.size() >= 15);
        std::vector<Split> splits{Split::bytewise()};
        for (std::uint64_t seed = 1; seed <= 12; ++seed) splits.push_back(Split::random(seed));
        for (const Split split : splits) {
            CAPTURE(split.name());
            const Transcript t = run(role, split);
            CHECK(join(t.events) == join(whole.events));
            CHECK(join(t.wire) == join(whole.wire));
            CHECK(t.closed == whole.closed);
        }
    }
}

TEST_CASE("connection receiving: the server's script yields the expected events and answers") {
    Config c;
    c.flow_control = FlowControl::manual;
    Session s(Role::server, c);
    s.feed(server_script(s.peer));
    const auto out = s.drain();
    INFO(s.events.str());
    INFO(str(out));
    const Events& e = s.events;
    // Request 1 with a padded, prioritised HEADERS, a padded DATA, trailers.
    const auto r1 = e.on<ev::Request>(1);
    REQUIRE(r1.has_value());
    CHECK(r1->method == "POST");
    CHECK(r1->path == "/a");
    CHECK(!r1->end_stream);
    CHECK(e.data_of(1).size() == 5 + 3000);
    CHECK(string_of(e.data_of(1)).substr(0, 5) == "hello");
    const auto first_data = e.on<ev::Data>(1);
    REQUIRE(first_data.has_value());
    CHECK(first_data->flow_controlled_length == 5 + 1 + 4);
    CHECK(e.on<ev::Trailers>(1).has_value());
    CHECK(e.count_on<StreamEnded>(1) == 1);
    // Request 3 from a split block.
    const auto r3 = e.on<ev::Request>(3);
    REQUIRE(r3.has_value());
    CHECK(r3->path == "/b");
    CHECK(find_field(r3->headers, "accept-language") == "en");
    CHECK(r3->end_stream);
    // Stream 5 reset by the peer.
    const auto rst5 = e.on<ev::Reset>(5);
    REQUIRE(rst5.has_value());
    CHECK(rst5->code == ErrorCode::cancel);
    CHECK(rst5->by == Initiator::peer);
    CHECK(!rst5->safe_to_retry);
    // Stream 7 depends on itself: reset by us with PROTOCOL_ERROR; its late DATA ignored.
    const auto rst7 = e.on<ev::Reset>(7);
    REQUIRE(rst7.has_value());
    CHECK(rst7->code == ErrorCode::protocol_error);
    CHECK(rst7->by == Initiator::local);
    CHECK(e.count_on<ev::Data>(7) == 0);
    // Stream 9 malformed.
    const auto rst9 = e.on<ev::Reset>(9);
    REQUIRE(rst9.has_value());
    CHECK(rst9->code == ErrorCode::protocol_error);
    CHECK(!rst9->reason.empty());
    // Stream 11 fine, after a header table size change.
    CHECK(e.on<ev::Request>(11).has_value());
    // PINGs reported and answered in order, with their data.
    const auto pings = e.all<PingReceived>();
    REQUIRE(pings.size() == 3);
    CHECK(pings[0].data == opaque("ping0001"));
    CHECK(pings[2].data == opaque("ping0003"));
    const auto acks = only(out, Type::ping);
    REQUIRE(acks.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(acks[i].ack);
        CHECK(acks[i].opaque == pings[i].data);
    }
    // The unknown frame and PRIORITY_UPDATE.
    const auto unk = e.first<ev::Unknown>();
    REQUIRE(unk.has_value());
    CHECK(unk->type == 0x42);
    CHECK(unk->stream == 0);
    CHECK(string_of(unk->payload) == "xyz");
    const auto pu = e.first<ev::PriorityUpdated>();
    REQUIRE(pu.has_value());
    CHECK(pu->stream == 1);
    CHECK(pu->field_value == "u=2, i");
    // On the wire: RST_STREAM for 7 and 9 only, two SETTINGS ACKs, no GOAWAY.
    CHECK(count(out, Type::goaway) == 0);
    CHECK(count(out, Type::rst_stream) == 2);
    CHECK(first(out, Type::rst_stream, 7)->code == ErrorCode::protocol_error);
    CHECK(first(out, Type::rst_stream, 9)->code == ErrorCode::protocol_error);
    std::size_t settings_acks = 0;
    for (const WireFrame& f : only(out, Type::settings)) settings_acks += f.ack ? 1 : 0;
    CHECK(settings_acks == 2);
    CHECK(e.count<SettingsReceived>() == 2);
    CHECK(s.conn.peer_settings().header_table_size == 2048);
    CHECK(s.conn.peer_settings().initial_window_size == 70000);
}

TEST_CASE("connection receiving: the client's script yields the expected events") {
    Config c;
    c.settings.enable_push = true;
    Session s(Role::client, c);
    s.drain();
    for (const char* path : {"/1", "/3", "/5"}) {
        const auto f = fields(get(path));
        REQUIRE(s.conn.submit_request(f, true));
    }
    s.drain();
    s.feed(client_script(s.peer));
    const auto out = s.drain();
    INFO(s.events.str());
    const Events& e = s.events;
    const auto r1 = e.on<ev::Response>(1);
    REQUIRE(r1.has_value());
    CHECK(r1->status == 200);
    CHECK(!r1->end_stream);
    const auto pp = e.on<ev::PushPromise>(1);
    REQUIRE(pp.has_value());
    CHECK(pp->promised_stream == 2);
    CHECK(find_field(pp->headers, ":path") == "/style.css");
    CHECK(find_field(pp->headers, "accept") == "text/css");
    const auto r2 = e.on<ev::Response>(2);
    REQUIRE(r2.has_value());
    CHECK(string_of(e.data_of(2)) == "body { color: red }");
    CHECK(e.on<ev::Data>(2)->flow_controlled_length == 19 + 1 + 3);
    CHECK(e.count_on<StreamEnded>(2) == 1);
    const auto info3 = e.on<ev::Informational>(3);
    REQUIRE(info3.has_value());
    CHECK(info3->status == 103);
    const auto r3 = e.on<ev::Response>(3);
    REQUIRE(r3.has_value());
    CHECK(r3->status == 204);
    CHECK(r3->end_stream);
    CHECK(e.data_of(1).size() == 3000);
    CHECK(e.on<ev::Trailers>(1).has_value());
    const auto alts = e.all<ev::Altsvc>();
    REQUIRE(alts.size() == 2);
    CHECK(alts[0].stream == 0);
    CHECK(alts[0].origin == "https://example.com");
    CHECK(alts[0].field_value == "h2=\"alt.example.com:443\"");
    CHECK(alts[1].stream == 1);
    CHECK(alts[1].origin == "");
    CHECK(alts[1].field_value == "h2=\":8443\"");
    const auto origin = e.first<ev::Origin>();
    REQUIRE(origin.has_value());
    CHECK(origin->origins == std::vector<std::string>{"https://example.com", "https://cdn.example.com"});
    const auto unk = e.first<ev::Unknown>();
    REQUIRE(unk.has_value());
    CHECK(unk->type == 0x42);
    CHECK(unk->flags == 0x5);
    CHECK(unk->stream == 1);
    CHECK(string_of(unk->payload) == "ext");
    // REFUSED_STREAM: the request was not processed, it may be retried.
    const auto rst5 = e.on<ev::Reset>(5);
    REQUIRE(rst5.has_value());
    CHECK(rst5->code == ErrorCode::refused_stream);
    CHECK(rst5->by == Initiator::peer);
    CHECK(rst5->safe_to_retry);
    const auto ga = e.first<ev::Goaway>();
    REQUIRE(ga.has_value());
    CHECK(ga->last_stream_id == 7);
    CHECK(ga->code == ErrorCode::no_error);
    CHECK(string_of(ga->debug) == "maintenance");
    // The PING is answered.
    const auto acks = only(out, Type::ping);
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].ack);
    CHECK(acks[0].opaque == opaque("client!!"));
    CHECK(count(out, Type::rst_stream) == 0);
}

TEST_CASE("connection receiving: DataReceived points into the input span (zero copy)") {
    Session s(Role::server);
    s.handshake();
    const Bytes input = cat({s.peer.headers(1, request(), false), s.peer.data(1, "first", false),
                             s.peer.data(1, "second", false, 9), s.peer.data(1, "third", true)});
    const std::span<const Event> evs = s.conn.receive(input);
    std::string joined;
    int datas = 0;
    for (const Event& e : evs) {
        if (const auto* d = std::get_if<DataReceived>(&e)) {
            ++datas;
            CHECK(d->data.data() >= input.data());
            CHECK(d->data.data() + d->data.size() <= input.data() + input.size());
            joined.append(reinterpret_cast<const char*>(d->data.data()), d->data.size());
        }
    }
    CHECK(datas == 3);
    CHECK(joined == "firstsecondthird");
}

TEST_CASE("connection receiving: PRIORITY is validated and otherwise ignored") {
    SUBCASE("on idle, open and closed streams: nothing happens") {
        Session s(Role::server);
        s.handshake();
        s.open(1, get(), true);
        REQUIRE(s.conn.submit_response(1, fields(response()), true) == ApiError::none);
        s.drain();
        s.collect();  // StreamClosed of stream 1
        const std::size_t before = s.events.size();
        s.feed(cat({s.peer.priority(1, 0), s.peer.priority(3, 1, 255, true), s.peer.priority(101, 3)}));
        expect_no_error(s, s.drain(), before);
        CHECK(s.events.size() == before);
        // A stream named only by PRIORITY stays idle: the client may open it later.
        s.open(3, get(), true);
        CHECK(s.events.on<ev::Request>(3).has_value());
    }
    SUBCASE("a stream depending on itself: stream error PROTOCOL_ERROR") {
        Session s(Role::server);
        s.handshake();
        s.open(1, request(), false);
        const std::size_t before = s.events.size();
        s.feed(s.peer.priority(1, 1));
        expect_stream_error(s, s.drain(), 1, ErrorCode::protocol_error, before);
    }
    SUBCASE("HEADERS depending on its own stream: stream error, block still decoded") {
        Session s(Role::server);
        s.handshake();
        // Priority fields naming stream 1 itself (the checked writer refuses them).
        Bytes payload{0, 0, 0, 1, 16};
        append(payload, s.peer.encode(get() + Hdrs{{"x-indexed", "remember me"}}));
        const std::size_t before = s.events.size();
        s.feed(s.peer.raw(Type::headers, fl::end_headers | fl::end_stream | fl::priority, 1, payload));
        expect_stream_error(s, s.drain(), 1, ErrorCode::protocol_error, before);
        CHECK(s.events.count<ev::Request>() == 0);
        s.open(3, get() + Hdrs{{"x-indexed", "remember me"}}, true);
        const auto r = s.events.on<ev::Request>(3);
        REQUIRE(r.has_value());
        CHECK(find_field(r->headers, "x-indexed") == "remember me");
    }
    SUBCASE("wrong length: stream error FRAME_SIZE_ERROR") {
        Session s(Role::server);
        s.handshake();
        s.open(1, request(), false);
        const std::size_t before = s.events.size();
        s.feed(s.peer.raw(Type::priority, 0, 1, Bytes{0, 0, 0, 0}));
        expect_stream_error(s, s.drain(), 1, ErrorCode::frame_size_error, before);
    }
}

TEST_CASE("connection receiving: unknown frame types are reported and ignored anywhere") {
    Session s(Role::server);
    s.handshake();
    s.open(1, request(), false);
    const std::size_t before = s.events.size();
    s.feed(cat({s.peer.raw(0xfa, 0xff, 0, bytes_of("zero")), s.peer.raw(0x20, 0, 1, Bytes{}),
                s.peer.raw(0x21, 1, 99, bytes_of("idle")), s.peer.data(1, "after", true)}));
    expect_no_error(s, s.drain(), before);
    const auto unk = s.events.all<ev::Unknown>();
    REQUIRE(unk.size() == 3);
    CHECK(unk[0].type == 0xfa);
    CHECK(unk[0].flags == 0xff);
    CHECK(unk[0].stream == 0);
    CHECK(string_of(unk[0].payload) == "zero");
    CHECK(unk[1].type == 0x20);
    CHECK(unk[1].stream == 1);
    CHECK(unk[1].payload.empty());
    CHECK(unk[2].stream == 99);
    CHECK(string_of(s.events.data_of(1)) == "after");
    // Stream 99 is still idle.
    s.open(99, get(), true);
    CHECK(s.events.on<ev::Request>(99).has_value());
}

TEST_CASE("connection receiving: PING is answered, PING ACK reported") {
    Session s(Role::server);
    s.handshake();
    const auto data = opaque("\x01\x02\x03\x04\x05\x06\x07\x08");
    const Events got = s.feed(s.peer.ping(data));
    REQUIRE(got.size() == 1);
    CHECK(std::get<PingReceived>(got[0]).data == data);
    const auto out = s.drain();
    REQUIRE(out.size() == 1);
    CHECK(out[0].type() == Type::ping);
    CHECK(out[0].ack);
    CHECK(out[0].opaque == data);
    // An unsolicited PING ACK is reported (or ignored) but never answered.
    s.feed(s.peer.ping(opaque("unasked!"), true));
    CHECK(s.drain().empty());
    CHECK(!s.conn.is_closed());
}

TEST_CASE("connection receiving: GOAWAY with an error from the peer terminates the connection") {
    Session s(Role::client);
    s.handshake();
    s.request(get(), true);
    const Events got = s.feed(s.peer.goaway(1, ErrorCode::enhance_your_calm, "slow down"));
    INFO(got.str());
    const auto ga = got.first<ev::Goaway>();
    REQUIRE(ga.has_value());
    CHECK(ga->code == ErrorCode::enhance_your_calm);
    CHECK(ga->last_stream_id == 1);
    CHECK(string_of(ga->debug) == "slow down");
    const auto t = got.first<ev::Terminated>();
    REQUIRE(t.has_value());
    CHECK(t->code == ErrorCode::enhance_your_calm);
    CHECK(t->by == Initiator::peer);
    CHECK(t->reason == "slow down");
    CHECK(s.conn.is_closed());
    // Nothing more is accepted.
    CHECK(s.feed(s.peer.headers(1, response(), true)).empty());
    CHECK(count(s.drain(), Type::goaway) == 0);
}

TEST_CASE("connection receiving: an unknown error code is kept as received") {
    Session s(Role::server);
    s.handshake();
    s.open(1, request(), false);
    s.feed(s.peer.rst(1, static_cast<ErrorCode>(0xdeadbeef)));
    const auto r = s.events.on<ev::Reset>(1);
    REQUIRE(r.has_value());
    CHECK(static_cast<std::uint32_t>(r->code) == 0xdeadbeef);
    CHECK(r->by == Initiator::peer);
    expect_no_error(s, s.drain(), s.events.size());
}

TEST_CASE("connection receiving: never-indexed fields arrive marked sensitive") {
    Session s(Role::server);
    s.handshake();
    const Hdrs h = get() + Hdrs{{"x-secret", "do-not-index", true}, {"x-open", "fine"}};
    s.open(1, h, true);
    const auto r = s.events.on<ev::Request>(1);
    REQUIRE(r.has_value());
    CHECK(r->headers == h);  // sensitive marks included
}

TEST_CASE("connection receiving: a complete response then RST_STREAM NO_ERROR stops the upload (RFC 9113 §8.1)") {
    Session s(Role::client);
    s.handshake();
    const std::uint32_t id = s.request(request(), false);
    REQUIRE(s.conn.send_data(id, Bytes(200000, 'u'), false) == ApiError::none);
    s.drain();
    const std::size_t sent_before = data_of(s.peer.frames(), id).size();
    CHECK(sent_before == 65535);
    // The server answers early (say 413) and asks the client to stop sending.
    s.feed(cat({s.peer.headers(id, response(413), false), s.peer.data(id, "too large", true),
                s.peer.rst(id, ErrorCode::no_error)}));
    INFO(s.events.str());
    const auto r = s.events.on<ev::Response>(id);
    REQUIRE(r.has_value());
    CHECK(r->status == 413);
    CHECK(string_of(s.events.data_of(id)) == "too large");
    CHECK(s.events.count_on<StreamEnded>(id) == 1);
    const auto reset = s.events.on<ev::Reset>(id);
    REQUIRE(reset.has_value());
    CHECK(reset->code == ErrorCode::no_error);
    CHECK(reset->by == Initiator::peer);
    // The rest of the upload is dropped.
    s.feed(cat({s.peer.window_update(0, 1 << 20), s.peer.window_update(id, 1 << 20)}));
    const auto out = s.drain();
    CHECK(count(out, Type::data) == 0);
    CHECK(count(out, Type::rst_stream) == 0);
    CHECK(s.conn.buffered(id) == 0);
    CHECK(s.conn.open_streams() == 0);
}

namespace {

/// A random but valid script of client frames (fixed seed): streams opened
/// with split, padded or prioritised blocks, DATA of every size (empty,
/// padded, over several frames) within the Peer's windows, trailers, resets,
/// PING, PRIORITY, WINDOW_UPDATE, SETTINGS and unknown frames.
Bytes random_script(Peer& p, std::uint64_t seed) {
    Rng rng(seed);
    Bytes in = p.preface({{SettingId::initial_window_size, static_cast<std::uint32_t>(rng.between(1000, 100000))}});
    std::vector<std::uint32_t> open;  // streams the client may still send on
    std::uint32_t next = 1;
    for (int step = 0; step < 80; ++step) {
        const std::size_t what = rng.below(12);
        if (what <= 2 || open.empty()) {
            HeadersOptions o;
            if (rng.one_in(3)) o.max_fragment = rng.between(8, 30);  // at most ~20 CONTINUATIONs
            if (rng.one_in(4)) o.pad = static_cast<std::uint8_t>(rng.below(40));
            if (rng.one_in(4))
                o.priority = frame::PriorityFields{rng.one_in(2), 0, static_cast<std::uint8_t>(rng.byte())};
            Hdrs h = request(rng.one_in(2) ? "POST" : "GET", "/r" + std::to_string(next));
            for (std::size_t i = rng.below(4); i > 0; --i)
                h.push_back({"x-f" + std::to_string(rng.below(5)), rng.letters(rng.between(1, 40))});
            const bool end = rng.one_in(4);
            append(in, p.headers(next, h, end, o));
            if (!end) open.push_back(next);
            next += 2;
            continue;
        }
        const std::size_t k = rng.below(open.size());
        const std::uint32_t id = open[k];
        switch (what) {
            case 3:
            case 4:
            case 5: {
                const std::int64_t room = std::min(p.peer_send_window(id), p.peer_send_window()) - 300;
                const std::size_t n =
                    room > 0 ? std::min<std::size_t>(static_cast<std::size_t>(room),
                                                     rng.one_in(3) ? rng.between(0, 20000) : rng.between(0, 50))
                             : 0;
                const bool end = rng.one_in(5);
                if (rng.one_in(3) && n <= 16000)
                    append(in, p.data(id, rng.bytes(n), end, static_cast<std::uint8_t>(rng.below(200))));
                else
                    append(in, p.data_frames(id, rng.bytes(n), end, rng.between(1, 16384)));
                if (end) open.erase(open.begin() + static_cast<std::ptrdiff_t>(k));
                break;
            }
            case 6:
                append(in, p.headers(id, {{"x-trailer", rng.letters(8)}}, true));
                open.erase(open.begin() + static_cast<std::ptrdiff_t>(k));
                break;
            case 7:
                append(in, p.rst(id, ErrorCode::cancel));
                open.erase(open.begin() + static_cast<std::ptrdiff_t>(k));
                break;
            case 8:
                append(in, p.ping(opaque("p" + std::to_string(step))));
                break;
            case 9:
                append(in, p.priority(id, 0, rng.byte()));
                break;
            case 10:
                append(in, p.window_update(rng.one_in(2) ? 0 : id, static_cast<std::uint32_t>(rng.between(1, 5000))));
                break;
            default:
                if (rng.one_in(2))
                    append(in, p.raw(static_cast<std::uint8_t>(0x20 + rng.below(16)), rng.byte(),
                                     rng.one_in(2) ? 0 : id, rng.bytes(rng.below(30))));
                else
                    append(in, p.settings({{SettingId::max_frame_size,
                                            static_cast<std::uint32_t>(rng.between(16384, 100000))}}));
                break;
        }
    }
    return in;
}

Transcript run_random(std::uint64_t seed, Split split) {
    Config c;
    c.flow_control = FlowControl::manual;
    Session s(Role::server, c);
    s.feed(random_script(s.peer, seed), split);
    s.drain();
    Transcript t;
    t.events = normalized(s.events);
    t.wire = lines(s.peer.frames());
    t.closed = s.conn.is_closed();
    return t;
}

}  // namespace

TEST_CASE("connection receiving: random valid scripts give the same events and output however they are cut") {
    for (std::uint64_t seed = 1; seed <= 25; ++seed) {
        CAPTURE(seed);
        const Transcript whole = run_random(seed, Split::whole());
        INFO("events:\n" << join(whole.events));
        // A valid script: no error of ours.
        CHECK(!whole.closed);
        for (const std::string& line : whole.events) CHECK(line.find("by=local") == std::string::npos);
        for (const Split split : {Split::bytewise(), Split::random(seed), Split::random(seed + 100)}) {
            CAPTURE(split.name());
            const Transcript t = run_random(seed, split);
            CHECK(join(t.events) == join(whole.events));
            CHECK(join(t.wire) == join(whole.wire));
        }
    }
}

TEST_CASE("attacks: a server that promises without end (Limits::max_reserved_streams)") {
    Config c;
    c.settings.enable_push = true;
    c.limits.max_reserved_streams = 10;
    Session s(Role::client, c);
    s.handshake();
    const Submitted r = s.conn.submit_request(fields(get("/")), true);
    REQUIRE(r);
    s.drain();
    // 25 promises: the first 10 are reported and reserved, the other 15
    // refused on the wire and never reported.
    Bytes in;
    for (std::uint32_t i = 0; i < 25; ++i) append(in, s.peer.push_promise(r.stream, 2 + 2 * i, get("/p" + std::to_string(i))));
    s.feed(in, Split::random(7));
    const std::vector<WireFrame> out = s.drain();
    CHECK(s.events.count<ev::PushPromise>() == 10);
    CHECK(count(out, Type::rst_stream) == 15);
    for (std::uint32_t i = 10; i < 25; ++i) {
        const auto rst = first(out, Type::rst_stream, 2 + 2 * i);
        REQUIRE(rst.has_value());
        CHECK(rst->code == ErrorCode::refused_stream);
        CHECK(s.conn.stream_state(2 + 2 * i) == StreamState::closed);
    }
    CHECK(s.conn.stream_state(2) == StreamState::reserved_remote);
    CHECK(s.conn.counters().tripped(Limit::max_reserved_streams) == 15);
    // The HPACK table stayed in step: a later response decodes.
    // Answering one promise frees its place (reserved -> half-closed).
    s.feed(s.peer.headers(2, response(), false));
    CHECK(s.conn.stream_state(2) == StreamState::half_closed_local);
    s.feed(s.peer.push_promise(r.stream, 52, get("/late")));
    CHECK(s.events.count<ev::PushPromise>() == 11);
    CHECK(count(s.drain(), Type::rst_stream) == 0);
    // Frames for refused promises are ignored, and the connection goes on.
    s.feed(s.peer.headers(24, response(), true));
    s.feed(s.peer.headers(r.stream, response(), true));
    CHECK(s.events.count<ev::Terminated>() == 0);
    CHECK(s.events.count<ev::Response>() == 2);
}
