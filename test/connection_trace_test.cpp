// Observability: the frame trace (FrameTrace) and the counters
// (Connection::counters()). Every expectation is computed independently of
// the library's own accounting: sent frames from what the Peer parses of
// the output, received frames from the bytes fed.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

/// One traced frame, owned.
struct Seen {
    Direction dir = Direction::received;
    std::uint8_t type = 0;
    std::uint8_t flags = 0;
    std::uint32_t stream = 0;
    std::uint32_t length = 0;
    ErrorCode code = ErrorCode::no_error;
    std::uint32_t related = 0;
    std::uint32_t increment = 0;
    bool has_headers = false;
    Hdrs headers;

    std::string describe() const {
        return std::string(to_string(dir)) + " " + std::string(frame::to_string(static_cast<frame::Type>(type))) + "(" +
               num(type) + ") f=" + num(flags) + " s=" + num(stream) + " len=" + num(length) +
               (has_headers ? " " + conn_test::describe(headers) : "");
    }
};

class Recorder : public FrameTrace {
public:
    explicit Recorder(bool headers) : FrameTrace(headers) {}
    void on_frame(const TracedFrame& f) override {
        Seen s{f.direction,        f.type,        f.flags,         f.stream, f.length, f.error_code, f.related_stream,
               f.window_increment, f.has_headers, owned(f.headers)};
        if (!f.has_headers) CHECK(f.headers.empty());
        seen.push_back(std::move(s));
    }
    std::vector<Seen> of(Direction d) const {
        std::vector<Seen> out;
        for (const Seen& s : seen)
            if (s.dir == d) out.push_back(s);
        return out;
    }
    std::vector<Seen> seen;
};

/// The frames in `bytes` (whole frames, after any preface), walked by their
/// headers: type, flags, stream, length.
std::vector<Seen> frames_in(const Bytes& bytes, std::size_t skip = 0) {
    std::vector<Seen> out;
    std::size_t p = skip;
    while (p + 9 <= bytes.size()) {
        Seen s;
        s.length = std::uint32_t{bytes[p]} << 16 | std::uint32_t{bytes[p + 1]} << 8 | bytes[p + 2];
        s.type = bytes[p + 3];
        s.flags = bytes[p + 4];
        s.stream = (std::uint32_t{bytes[p + 5]} << 24 | std::uint32_t{bytes[p + 6]} << 16 |
                    std::uint32_t{bytes[p + 7]} << 8 | bytes[p + 8]) &
                   0x7fffffffu;
        out.push_back(s);
        p += 9 + s.length;
    }
    REQUIRE(p == bytes.size());
    return out;
}

/// What the Peer parsed of the output, as traced frames would show it.
std::vector<Seen> wire_frames(const Session& s) {
    std::vector<Seen> out;
    for (const WireFrame& w : s.peer.frames()) {
        Seen x;
        x.dir = Direction::sent;
        x.type = static_cast<std::uint8_t>(w.header.type);
        x.flags = w.header.flags;
        x.stream = w.header.stream_id;
        x.length = w.header.length;
        out.push_back(x);
    }
    return out;
}

/// Type, flags, stream and length of each frame, one line each.
std::string shape(const std::vector<Seen>& frames) {
    std::string s;
    for (const Seen& f : frames)
        s += std::string(frame::to_string(static_cast<frame::Type>(f.type))) + "(" + num(f.type) +
             ") f=" + num(f.flags) + " s=" + num(f.stream) + " len=" + num(f.length) + "\n";
    return s;
}

FrameCounts count(const std::vector<Seen>& frames) {
    FrameCounts c;
    for (const Seen& f : frames) {
        ++c.frames[frame_type_bucket(f.type)];
        c.octets[frame_type_bucket(f.type)] += 9 + std::uint64_t{f.length};
    }
    return c;
}

void check_counts(const FrameCounts& got, const FrameCounts& want) {
    for (std::size_t i = 0; i < frame_type_buckets; ++i) {
        INFO("bucket " << i);
        CHECK(got.frames[i] == want.frames[i]);
        CHECK(got.octets[i] == want.octets[i]);
    }
}

/// The first frame of type `t` on `stream`, copied (the list may be a
/// temporary).
std::optional<Seen> find_seen(const std::vector<Seen>& frames, Type t, std::uint32_t stream) {
    for (const Seen& f : frames)
        if (f.type == static_cast<std::uint8_t>(t) && f.stream == stream) return f;
    return std::nullopt;
}

}  // namespace

TEST_CASE("trace: a server's exchange, both directions, with headers decoded") {
    Recorder rec(true);
    Config cfg;
    cfg.trace = &rec;
    Session s(Role::server, cfg);
    CHECK(s.conn.trace() == &rec);
    Bytes in;
    const Bytes preface = s.peer.preface();
    append(in, preface);
    s.feed(preface);
    s.drain();
    const Bytes rest = cat({s.peer.settings_ack(), s.peer.headers(1, request("POST", "/up"), false),
                            s.peer.data(1, span_of("hello"), true), s.peer.ping(opaque("pingpong"))});
    append(in, rest);
    s.feed(rest);
    const auto resp = fields(response(200, {{"content-type", "text/plain"}}));
    REQUIRE(s.conn.submit_response(1, resp, false) == ApiError::none);
    REQUIRE(s.conn.send_data(1, span_of("world!"), true) == ApiError::none);
    s.drain();
    REQUIRE(s.peer.problems().empty());

    // Received: exactly the frames fed, in order.
    const std::vector<Seen> want_in = frames_in(in, frame::client_preface.size());
    CHECK(shape(rec.of(Direction::received)) == shape(want_in));
    // Sent: exactly the frames the Peer parsed, in order.
    CHECK(shape(rec.of(Direction::sent)) == shape(wire_frames(s)));

    const std::optional<Seen> req = find_seen(rec.of(Direction::received), Type::headers, 1);
    REQUIRE(req);
    CHECK(req->has_headers);
    CHECK(req->headers == request("POST", "/up"));
    const std::optional<Seen> rsp = find_seen(rec.of(Direction::sent), Type::headers, 1);
    REQUIRE(rsp);
    CHECK(rsp->has_headers);
    CHECK_MESSAGE(plain(rsp->headers) == response(200, {{"content-type", "text/plain"}}), describe(rsp->headers));
    // Frames without a header block carry none.
    for (const Seen& f : rec.seen)
        if (f.type != static_cast<std::uint8_t>(Type::headers)) CHECK_FALSE(f.has_headers);

    // The same counts as the trace, and as the bytes.
    check_counts(s.conn.counters().received, count(want_in));
    check_counts(s.conn.counters().sent, count(wire_frames(s)));
    CHECK(s.conn.counters().received.frames_of(Type::data) == 1);
    CHECK(s.conn.counters().received.octets_of(Type::data) == 9 + 5);
    CHECK(s.conn.counters().sent.frames_of(Type::ping) == 1);  // the ACK
    CHECK(s.conn.counters().sent.total_octets() == s.peer.raw_output().size());
    CHECK(s.conn.counters().received.total_octets() == in.size() - frame::client_preface.size());
    CHECK(s.conn.counters().streams_opened.peer == 1);
    CHECK(s.conn.counters().streams_opened.local == 0);
}

TEST_CASE("trace: a client's exchange, headers not asked for") {
    Recorder rec(false);
    Session s(Role::client);
    s.conn.set_trace(&rec);
    s.handshake();
    const std::uint32_t id = s.request(get("/a"), true);
    const Bytes answer = cat({s.peer.headers(id, response(200), false), s.peer.data(id, span_of("body"), false),
                              s.peer.headers(id, {{"grpc-status", "0"}}, true)});
    s.feed(answer);
    s.drain();
    const std::vector<Seen> sent = rec.of(Direction::sent);
    CHECK(shape(sent) == shape(wire_frames(s)));  // the preface is no frame
    for (const Seen& f : rec.seen) CHECK_FALSE(f.has_headers);
    // The response, its DATA and its trailers as fed.
    const std::vector<Seen> got = rec.of(Direction::received);
    const std::vector<Seen> tail = frames_in(answer);
    REQUIRE(got.size() >= tail.size());
    CHECK(shape(std::vector<Seen>(got.end() - static_cast<std::ptrdiff_t>(tail.size()), got.end())) == shape(tail));
    check_counts(s.conn.counters().sent, count(wire_frames(s)));
    CHECK(s.conn.counters().sent.total_octets() == s.peer.raw_output().size() - frame::client_preface.size());
    CHECK(s.conn.counters().streams_opened.local == 1);
    CHECK(s.conn.counters().streams_opened.peer == 0);
    // Detached: nothing more is seen.
    s.conn.set_trace(nullptr);
    CHECK(s.conn.trace() == nullptr);
    const std::size_t before = rec.seen.size();
    s.feed(s.peer.ping(opaque("12345678")));
    s.drain();
    CHECK(rec.seen.size() == before);
}

TEST_CASE("trace: payload fields of RST_STREAM, GOAWAY, WINDOW_UPDATE both ways") {
    Recorder rec(false);
    Config cfg;
    cfg.trace = &rec;
    Session s(Role::server, cfg);
    s.handshake();
    s.open(1);
    s.open(3);
    s.feed(cat({s.peer.rst(1, ErrorCode::cancel), s.peer.window_update(0, 1000)}));
    REQUIRE(s.conn.reset_stream(3, ErrorCode::internal_error) == ApiError::none);
    REQUIRE(s.conn.goaway(ErrorCode::no_error, "bye") == ApiError::none);
    s.drain();
    const std::vector<Seen> in = rec.of(Direction::received), out = rec.of(Direction::sent);
    const std::optional<Seen> rst_in = find_seen(in, Type::rst_stream, 1);
    REQUIRE(rst_in);
    CHECK(rst_in->code == ErrorCode::cancel);
    const std::optional<Seen> wu_in = find_seen(in, Type::window_update, 0);
    REQUIRE(wu_in);
    CHECK(wu_in->increment == 1000);
    const std::optional<Seen> rst_out = find_seen(out, Type::rst_stream, 3);
    REQUIRE(rst_out);
    CHECK(rst_out->code == ErrorCode::internal_error);
    const std::optional<Seen> go = find_seen(out, Type::goaway, 0);
    REQUIRE(go);
    CHECK(go->code == ErrorCode::no_error);
    CHECK(go->related == 3);
    const std::optional<Seen> wu_out =
        find_seen(out, Type::window_update, 0);  // the connection window, raised at the start
    REQUIRE(wu_out);
    CHECK(wu_out->increment == Config{}.connection_window_size - 65535);
    CHECK(s.conn.counters().streams_reset.peer == 1);
    CHECK(s.conn.counters().streams_reset.local == 1);
    CHECK(s.conn.counters().streams_opened.peer == 2);
}

TEST_CASE("trace: unknown frame types show as they are and count as other") {
    Recorder rec(true);
    Config cfg;
    cfg.trace = &rec;
    Session s(Role::server, cfg);
    s.handshake();
    const Bytes payload = bytes_of("xyz");
    s.feed(s.peer.raw(0xfa, 0x5, 0, payload));
    s.feed(s.peer.raw(0x0b, 0x0, 7, payload));
    const std::vector<Seen> in = rec.of(Direction::received);
    REQUIRE(in.size() >= 2);
    CHECK(in[in.size() - 2].type == 0xfa);
    CHECK(in[in.size() - 2].flags == 0x5);
    CHECK(in[in.size() - 2].length == 3);
    CHECK(in.back().type == 0x0b);
    CHECK(in.back().stream == 7);
    CHECK(s.conn.counters().received.frames[frame_type_bucket(0xfa)] == 2);
    CHECK(frame_type_bucket(0xfa) == 13);
    CHECK(s.conn.counters().received.octets[13] == 2 * (9 + 3));
    CHECK(s.conn.counters().received.frames_of(static_cast<Type>(0xfa)) == 2);
}

TEST_CASE("trace: a header block over CONTINUATIONs is traced frame by frame, its list once") {
    Recorder rec(true);
    Config cfg;
    cfg.trace = &rec;
    Session s(Role::server, cfg);
    s.handshake();
    Hdrs big = get("/long");
    for (int i = 0; i < 8; ++i)
        big.push_back({"x-field-" + num(static_cast<std::uint64_t>(i)), std::string(3000, 'v')});
    HeadersOptions o;
    o.max_fragment = 10000;
    const Bytes block = s.peer.headers(1, big, true, o);
    const std::vector<Seen> fed = frames_in(block);
    REQUIRE(fed.size() == 3);  // HEADERS + 2 CONTINUATION
    SUBCASE("whole") {
        s.feed(block);
    }
    SUBCASE("byte by byte") {
        s.feed(block, Split::bytewise());
    }
    std::vector<Seen> in = rec.of(Direction::received);
    in.erase(in.begin(), in.end() - 3);
    CHECK(shape(in) == shape(fed));
    CHECK_FALSE(in[0].has_headers);
    CHECK_FALSE(in[1].has_headers);
    CHECK(in[2].has_headers);
    CHECK(in[2].headers == big);
    CHECK(in[2].type == static_cast<std::uint8_t>(Type::continuation));

    // Sent the same way: a response larger than one frame.
    Hdrs rsp = response(200);
    for (int i = 0; i < 8; ++i) rsp.push_back({"x-out-" + num(static_cast<std::uint64_t>(i)), std::string(3000, 'w')});
    const auto f = fields(rsp);
    REQUIRE(s.conn.submit_response(1, f, true) == ApiError::none);
    s.drain();
    std::vector<Seen> out = rec.of(Direction::sent);
    CHECK(shape(out) == shape(wire_frames(s)));
    std::size_t with = 0;
    for (const Seen& x : out) {
        if (!x.has_headers) continue;
        ++with;
        CHECK(x.type == static_cast<std::uint8_t>(Type::continuation));
        CHECK(plain(x.headers) == rsp);
    }
    CHECK(with == 1);
    CHECK(s.conn.counters().sent.frames_of(Type::continuation) >= 1);
    check_counts(s.conn.counters().sent, count(wire_frames(s)));
}

TEST_CASE("trace: attached late, sent headers are not decoded but received ones are") {
    Session s(Role::server);
    s.handshake();
    s.open(1);
    REQUIRE(s.conn.submit_response(1, fields(response(204)), true) == ApiError::none);
    s.drain();
    Recorder rec(true);
    s.conn.set_trace(&rec);
    s.open(3, get("/late"), true);
    REQUIRE(s.conn.submit_response(3, fields(response(200)), true) == ApiError::none);
    s.drain();
    const std::optional<Seen> in = find_seen(rec.of(Direction::received), Type::headers, 3);
    REQUIRE(in);
    CHECK(in->has_headers);
    CHECK(in->headers == get("/late"));
    const std::optional<Seen> out = find_seen(rec.of(Direction::sent), Type::headers, 3);
    REQUIRE(out);
    CHECK_FALSE(out->has_headers);
}

TEST_CASE("trace: headers of a refused stream are still shown") {
    Recorder rec(true);
    Config cfg;
    cfg.trace = &rec;
    cfg.limits.max_concurrent_streams = 1;
    Session s(Role::server, cfg);
    s.handshake();
    s.open(1);
    s.open(3, get("/refused"));
    const std::optional<Seen> in = find_seen(rec.of(Direction::received), Type::headers, 3);
    REQUIRE(in);
    CHECK(in->has_headers);
    CHECK(in->headers == get("/refused"));
    s.drain();
    const std::optional<Seen> rst = find_seen(rec.of(Direction::sent), Type::rst_stream, 3);
    REQUIRE(rst);
    CHECK(rst->code == ErrorCode::refused_stream);
    const ConnectionCounters& c = s.conn.counters();
    CHECK(c.streams_opened.peer == 1);
    CHECK(c.streams_refused.local == 1);
    CHECK(c.streams_reset.local == 1);
    CHECK(c.tripped(Limit::max_concurrent_streams) == 1);
}

TEST_CASE("counters: streams opened, reset and refused by each side") {
    SUBCASE("client") {
        Session s(Role::client);
        s.handshake();
        const std::uint32_t a = s.request(get("/a"), true);
        const std::uint32_t b = s.request(get("/b"), true);
        const std::uint32_t c = s.request(get("/c"), true);
        const std::uint32_t d = s.request(get("/d"), true);
        s.feed(cat({s.peer.rst(a, ErrorCode::refused_stream), s.peer.rst(b, ErrorCode::cancel)}));
        REQUIRE(s.conn.reset_stream(c, ErrorCode::cancel) == ApiError::none);
        s.feed(s.peer.goaway(c, ErrorCode::no_error));  // d was not processed
        s.drain();
        const ConnectionCounters& n = s.conn.counters();
        CHECK(n.streams_opened.local == 4);
        CHECK(n.streams_opened.peer == 0);
        CHECK(n.streams_reset.peer == 2);
        CHECK(n.streams_refused.peer == 2);  // a by RST_STREAM, d by GOAWAY
        CHECK(n.streams_reset.local == 1);
        CHECK(n.streams_refused.local == 0);
        CHECK(n.sent.frames_of(Type::rst_stream) == 1);
        (void)d;
    }
    SUBCASE("server") {
        Session s(Role::server);
        s.handshake();
        for (std::uint32_t id = 1; id <= 7; id += 2) s.open(id);
        s.feed(s.peer.rst(1, ErrorCode::cancel));
        REQUIRE(s.conn.reset_stream(3, ErrorCode::cancel) == ApiError::none);
        s.drain();
        const ConnectionCounters& n = s.conn.counters();
        CHECK(n.streams_opened.peer == 4);
        CHECK(n.streams_reset.peer == 1);
        CHECK(n.streams_reset.local == 1);
        CHECK(n.received.frames_of(Type::headers) == 4);
    }
}

TEST_CASE("counters: flow-control stalls under a zero window") {
    Session s(Role::client);
    s.handshake({{SettingId::initial_window_size, 0}});
    const auto h = fields(request("POST", "/up"));
    const Submitted sub = s.conn.submit_request(h, false);
    REQUIRE(sub);
    REQUIRE(s.conn.send_data(sub.stream, Bytes(100, 'x'), false) == ApiError::none);
    s.drain();
    CHECK(s.conn.counters().stream_stalls == 1);
    REQUIRE(s.conn.send_data(sub.stream, Bytes(100, 'y'), false) == ApiError::none);
    s.drain();
    CHECK(s.conn.counters().stream_stalls == 1);  // still the same wait
    CHECK(s.conn.counters().connection_stalls == 0);
    // The stream window opens wide; the connection's 65,535 octets run out.
    s.feed(s.peer.window_update(sub.stream, 1 << 20));
    s.drain();
    CHECK(s.conn.counters().sent.octets_of(Type::data) == 9 + 200);
    REQUIRE(s.conn.send_data(sub.stream, Bytes(70000, 'z'), false) == ApiError::none);
    s.drain();
    CHECK(s.conn.counters().connection_stalls == 1);
    CHECK(s.conn.counters().stream_stalls == 1);
    std::uint64_t data_octets = 0;
    for (const WireFrame& w : s.peer.frames())
        if (w.type() == Type::data) data_octets += w.header.length;
    CHECK(data_octets == 65535);
    s.feed(s.peer.window_update(0, 1 << 20));
    s.drain();
    CHECK(s.conn.counters().connection_stalls == 1);
    CHECK(s.conn.counters().sent.frames_of(Type::data) == count(wire_frames(s)).frames[0]);
}

TEST_CASE("counters: limits tripped by floods and refusals") {
    SUBCASE("PING flood without reading: max_queued_control_frames") {
        Session s(Role::server);
        s.handshake();
        Bytes w;
        for (int i = 0; i < 1100; ++i) append(w, s.peer.ping(opaque("floodfld")));
        s.feed(w);
        s.feed(s.peer.ping(opaque("onemore!")));
        CHECK(s.conn.is_closed());
        CHECK(s.conn.counters().tripped(Limit::max_queued_control_frames) == 1);
        CHECK(s.conn.counters().received.frames_of(Type::ping) == 1101);
    }
    SUBCASE("a header list over max_header_list_size") {
        Config cfg;
        cfg.limits.max_header_list_size = 1000;
        Session s(Role::server, cfg);
        s.handshake();
        s.open(1, get() + Hdrs{{"x-big", std::string(2000, 'b')}});
        CHECK(s.conn.counters().tripped(Limit::max_header_list_size) == 1);
        CHECK(s.conn.counters().streams_reset.local == 1);
        CHECK(!s.conn.is_closed());
    }
    SUBCASE("too many streams: max_concurrent_streams") {
        Config cfg;
        cfg.limits.max_concurrent_streams = 2;
        Session s(Role::server, cfg);
        s.handshake();
        for (std::uint32_t id = 1; id <= 9; id += 2) s.open(id);
        CHECK(s.conn.counters().tripped(Limit::max_concurrent_streams) == 3);
        CHECK(s.conn.counters().streams_refused.local == 3);
        CHECK(s.conn.counters().streams_opened.peer == 2);
    }
    SUBCASE("CONTINUATION flood: max_continuation_frames") {
        Config cfg;
        cfg.limits.max_continuation_frames = 4;
        Session s(Role::server, cfg);
        s.handshake();
        Bytes w = s.peer.headers_frame(1, {}, false, false);
        for (int i = 0; i < 6; ++i) append(w, s.peer.continuation(1, span_of("\x82"), false));
        s.feed(w);
        CHECK(s.conn.is_closed());
        CHECK(s.conn.counters().tripped(Limit::max_continuation_frames) == 1);
    }
    SUBCASE("empty frames: max_empty_frames") {
        Config cfg;
        cfg.limits.max_empty_frames = 10;
        Session s(Role::server, cfg);
        s.handshake();
        Bytes w;
        for (int i = 0; i < 20; ++i) append(w, s.peer.raw(0xee, 0, 0, {}));
        s.feed(w);
        CHECK(s.conn.is_closed());
        CHECK(s.conn.counters().tripped(Limit::max_empty_frames) == 1);
    }
    SUBCASE("requests over max_queued_requests, data over max_buffered_per_stream") {
        Config cfg;
        cfg.limits.max_queued_requests = 1;
        cfg.limits.max_buffered_per_stream = 1000;
        Session s(Role::client, cfg);
        s.handshake({{SettingId::max_concurrent_streams, 1}, {SettingId::initial_window_size, 0}});
        const auto h = fields(request("POST", "/x"));
        const Submitted first = s.conn.submit_request(h, false);
        REQUIRE(first);
        REQUIRE(s.conn.submit_request(h, false));
        CHECK(s.conn.submit_request(h, false).error == ApiError::too_many_queued);
        CHECK(s.conn.counters().tripped(Limit::max_queued_requests) == 1);
        s.drain();
        CHECK(s.conn.send_data(first.stream, Bytes(2000, 'q'), false) == ApiError::buffer_full);
        CHECK(s.conn.counters().tripped(Limit::max_buffered_per_stream) == 1);
    }
    SUBCASE("resets past max_reset_streams are forgotten") {
        Config cfg;
        cfg.limits.max_reset_streams = 2;
        Session s(Role::server, cfg);
        s.handshake();
        for (std::uint32_t id = 1; id <= 9; id += 2) {
            s.open(id);
            REQUIRE(s.conn.reset_stream(id, ErrorCode::cancel) == ApiError::none);
        }
        CHECK(s.conn.counters().tripped(Limit::max_reset_streams) == 3);
    }
    for (std::size_t i = 0; i < limit_count; ++i) CHECK(!to_string(static_cast<Limit>(i)).empty());
    CHECK(to_string(Limit::stream_walk_budget) == "stream_walk_budget");
}

TEST_CASE("trace: frames a body source builds are traced and counted") {
    struct Source : BodyReader {
        std::size_t left = 40000;
        BodyRead read(std::uint32_t, std::span<std::uint8_t> buffer) override {
            const std::size_t n = std::min(left, buffer.size());
            std::fill_n(buffer.begin(), n, std::uint8_t{'s'});
            left -= n;
            return {n, left == 0 ? BodyStatus::end : BodyStatus::more, trailers};
        }
        std::vector<Field> trailers{{"grpc-status", "0"}};
    } source;
    Recorder rec(true);
    Config cfg;
    cfg.trace = &rec;
    Session s(Role::server, cfg);
    s.handshake();
    s.open(1, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response(200)), source) == ApiError::none);
    SUBCASE("copied") {
        s.drain();
    }
    SUBCASE("vectors") {
        s.drain_vectors();
    }
    CHECK(shape(rec.of(Direction::sent)) == shape(wire_frames(s)));
    check_counts(s.conn.counters().sent, count(wire_frames(s)));
    CHECK(s.conn.counters().sent.octets_of(Type::data) == 40000 + 9 * count(wire_frames(s)).frames[0]);
    const std::vector<Seen> out = rec.of(Direction::sent);
    REQUIRE(!out.empty());
    CHECK(out.back().type == static_cast<std::uint8_t>(Type::headers));
    CHECK(out.back().has_headers);
    CHECK(out.back().headers == Hdrs{{"grpc-status", "0"}});
}

TEST_CASE("counters: a zero-copy burst of DATA counts every frame") {
    Session s(Role::server);
    s.handshake({{SettingId::initial_window_size, 1 << 20}});
    s.feed(s.peer.window_update(0, 1 << 20));
    s.open(1, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response(200)), false) == ApiError::none);
    const Bytes body(200000, 'b');
    REQUIRE(s.conn.send_data_borrowed(1, body, true) == ApiError::none);
    s.drain_vectors();
    check_counts(s.conn.counters().sent, count(wire_frames(s)));
    CHECK(s.conn.counters().sent.octets_of(Type::data) == 200000 + 9 * count(wire_frames(s)).frames[0]);
}
