// The DATA and HEADERS paths against each other. Receiving: a DATA frame whose header
// arrives whole is taken by a fast path, anything else by the frame reader;
// both must give the same events and the same answers, whatever the split
// (every single cut point, the frame header and payload in separate
// receive() calls as a writev() peer delivers them, random cuts), with
// padding, empty frames, content-length, flow-control errors, frames on
// streams in every state, both flow-control modes, and a stream reset by the
// application between two chunks of a frame. HEADERS likewise: a whole
// frame that ends its block without padding or priority fields is taken
// without the reader. Sending: the zero-copy output
// (pending_output_vectors(), consumed whole or at random offsets) carries
// the same frames as the copying one, within the windows, in round robin;
// a stream reset while its borrowed DATA waits in the output still sends
// what was built, from a copy.
#include <doctest/doctest.h>

#include <set>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

/// Events as lines, DATA of one stream joined across adjacent events (how
/// DATA is cut into events depends on how the input was cut). A stream reset
/// for DATA past its content-length has its DATA left out: the octets up to
/// content-length of the frame that goes past it are reported when they
/// arrive in an earlier receive() than the excess, not otherwise (the same
/// on either path).
std::vector<std::string> normalized(const Events& all) {
    std::set<std::uint32_t> over;
    for (const ev::Reset& r : all.all<ev::Reset>())
        if (r.reason == "DATA exceeds content-length") over.insert(r.stream);
    Events evs;
    for (const Ev& e : all)
        if (const auto* d = std::get_if<ev::Data>(&e); !d || !over.contains(d->stream)) evs.push_back(e);
    std::vector<std::string> out;
    std::optional<ev::Data> pending;
    auto flush = [&] {
        if (pending) out.push_back(describe(Ev{*pending}) + " data=" + hex(pending->data));
        pending.reset();
    };
    for (const Ev& e : evs) {
        if (const auto* d = std::get_if<ev::Data>(&e)) {
            if (pending && pending->stream == d->stream && !pending->end_stream && d->flow_controlled_length == 0) {
                append(pending->data, d->data);
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

/// Piece lengths: each frame header alone, then its payload (what a peer
/// that writev()s header and payload separately delivers).
std::vector<std::size_t> frame_pieces(const Bytes& in) {
    std::vector<std::size_t> out;
    std::size_t pos = 0;
    while (pos + frame::header_size <= in.size()) {
        const std::size_t len = std::size_t{in[pos]} << 16 | std::size_t{in[pos + 1]} << 8 | in[pos + 2];
        out.push_back(frame::header_size);
        if (len) out.push_back(len);
        pos += frame::header_size + len;
    }
    REQUIRE(pos == in.size());
    return out;
}

struct Outcome {
    std::vector<std::string> events;
    std::vector<std::string> wire;
    bool closed = false;
};

using Script = std::function<Bytes(Peer&)>;
/// Called between the pieces, with the index of the piece about to be fed.
using Between = std::function<void(Session&, std::size_t)>;

/// A server Session after the handshake receives `script` in `pieces`, then
/// drains its answers.
Outcome run(const Config& config, const Script& script,
            const std::function<std::vector<std::size_t>(const Bytes&)>& pieces, const Between& between = {}) {
    Session s(Role::server, config);
    s.handshake({{SettingId::initial_window_size, 1 << 20}});
    const Bytes in = script(s.peer);
    std::size_t pos = 0;
    std::size_t i = 0;
    for (const std::size_t n : pieces(in)) {
        if (between) between(s, i);
        s.receive_piece(std::span<const std::uint8_t>(in).subspan(pos, n));
        pos += n;
        ++i;
    }
    REQUIRE(pos == in.size());
    s.drain();
    Outcome o;
    o.events = normalized(s.events_since_handshake());
    o.wire = lines(s.frames_since_handshake());
    o.closed = s.conn.is_closed();
    return o;
}

auto bytewise = [](const Bytes& in) { return std::vector<std::size_t>(in.size(), 1); };

/// The script fed byte by byte (the reader sees every frame) is the
/// reference; every other way of cutting it must give the same outcome.
void check_all_cuts(const Config& config, const Script& script, std::size_t random_seeds = 20) {
    const Outcome ref = run(config, script, bytewise);
    INFO("events:\n" << join(ref.events));
    INFO("wire:\n" << join(ref.wire));
    auto same = [&](const Outcome& o) {
        CHECK(join(o.events) == join(ref.events));
        CHECK(join(o.wire) == join(ref.wire));
        CHECK(o.closed == ref.closed);
    };
    {
        CAPTURE("whole");
        same(run(config, script, [](const Bytes& in) { return std::vector<std::size_t>{in.size()}; }));
    }
    {
        CAPTURE("frame headers and payloads apart");
        same(run(config, script, frame_pieces));
    }
    // Every cut point of a short script; of a long one, those near a frame
    // boundary and a sample of the rest.
    Session probe(Role::server, config);
    probe.handshake({{SettingId::initial_window_size, 1 << 20}});
    const Bytes in = script(probe.peer);
    std::vector<bool> near(in.size() + 1, in.size() <= 4000);
    std::size_t at = 0;
    for (const std::size_t n : frame_pieces(in)) {
        for (std::size_t k = at > 12 ? at - 12 : 0; k <= std::min(in.size(), at + 12); ++k) near[k] = true;
        at += n;
    }
    for (std::size_t k = 0; k < in.size(); k += 97) near[k] = true;
    for (std::size_t cut = 1; cut < in.size(); ++cut) {
        if (!near[cut]) continue;
        CAPTURE(cut);
        same(run(config, script, [cut](const Bytes& b) { return std::vector<std::size_t>{cut, b.size() - cut}; }));
    }
    for (std::uint64_t seed = 1; seed <= random_seeds; ++seed) {
        CAPTURE(seed);
        same(run(config, script, [seed](const Bytes& b) { return cut(b.size(), Split::random(seed)); }));
    }
}

Config with_mode(FlowControl mode, std::uint32_t initial_window = 65535) {
    Config c;
    c.flow_control = mode;
    c.settings.initial_window_size = initial_window;
    return c;
}

Hdrs post(std::uint64_t content_length) {
    return request() + Hdrs{{"content-length", num(content_length)}};
}

}  // namespace

TEST_CASE("data path: ordinary DATA (content-length, padding, empty frames, END_STREAM) under every cut") {
    const Script script = [](Peer& p) {
        Rng rng(7);
        Bytes in = p.headers(1, post(300), false);
        append(in, p.data(1, rng.bytes(100), false));
        append(in, p.data(1, Bytes{}, false));            // empty, not the end
        append(in, p.data(1, rng.bytes(50), false, 10));  // padded
        append(in, p.headers(3, request(), false));       // no content-length
        append(in, p.data(3, rng.bytes(70), false));
        append(in, p.data(1, rng.bytes(150), true));  // completes 300
        append(in, p.data(3, Bytes{}, true));         // END_STREAM on an empty frame
        append(in, p.headers(5, post(12), false));
        append(in, p.data(5, rng.bytes(12), true, 0));  // padded with no padding octets
        append(in, p.headers(7, post(0), false));
        append(in, p.data(7, Bytes{}, true));
        return in;
    };
    for (const FlowControl mode : {FlowControl::automatic, FlowControl::manual}) {
        CAPTURE(mode == FlowControl::manual ? "manual" : "automatic");
        check_all_cuts(with_mode(mode), script);
    }
}

TEST_CASE("data path: content-length exceeded or not reached, on the first chunk of a frame or a later one") {
    const Script script = [](Peer& p) {
        Bytes in = p.headers(1, post(100), false);
        append(in, p.data(1, Bytes(60, 'a'), false));
        append(in, p.data(1, Bytes(60, 'b'), false));  // past content-length: PROTOCOL_ERROR
        append(in, p.data(1, Bytes(10, 'c'), false));  // after our reset: ignored
        append(in, p.headers(3, post(100), false));
        append(in, p.data(3, Bytes(50, 'd'), true));  // ends short of content-length
        append(in, p.headers(5, post(20), false));
        append(in, p.data(5, Bytes(20, 'e'), false));
        append(in, p.data(5, Bytes(1, 'f'), false));  // one octet too many
        append(in, p.headers(7, post(30), false));
        append(in, p.data(7, Bytes(30, 'g'), false));
        append(in, p.data(7, Bytes{}, true));  // exactly content-length
        return in;
    };
    for (const FlowControl mode : {FlowControl::automatic, FlowControl::manual}) {
        CAPTURE(mode == FlowControl::manual ? "manual" : "automatic");
        check_all_cuts(with_mode(mode), script);
    }
    // Frame by frame: the frame that goes past content-length is not
    // reported at all.
    Session s(Role::server, with_mode(FlowControl::automatic));
    s.handshake({{SettingId::initial_window_size, 1 << 20}});
    const Bytes in = script(s.peer);
    std::size_t pos = 0;
    for (const std::size_t n : frame_pieces(in)) {
        s.receive_piece(std::span<const std::uint8_t>(in).subspan(pos, n));
        pos += n;
    }
    const auto out = s.drain();
    const Events e = s.events_since_handshake();
    INFO(e.str());
    CHECK(e.data_of(1) == Bytes(60, 'a'));
    CHECK(e.data_of(5) == Bytes(20, 'e'));
    CHECK(e.on<ev::Reset>(1).has_value());
    CHECK(e.on<ev::Reset>(3).has_value());
    CHECK(e.on<ev::Reset>(5).has_value());
    CHECK(e.count_on<StreamEnded>(7) == 1);
    CHECK(count(out, Type::rst_stream) == 3);
    CHECK(!s.conn.is_closed());
}

TEST_CASE("data path: DATA past the stream window is a stream FLOW_CONTROL_ERROR; later frames are ignored") {
    const Script script = [](Peer& p) {
        Bytes in = p.headers(1, request(), false);
        append(in, p.data(1, Bytes(600, 'a'), false));
        append(in, p.data(1, Bytes(300, 'b'), false, 50));  // 351 charged: 951
        append(in, p.data(1, Bytes(100, 'c'), false));      // 1051 > 1000
        append(in, p.data(1, Bytes(10, 'd'), true));        // ignored
        append(in, p.headers(3, request(), false));
        append(in, p.data(3, Bytes(1000, 'e'), true));  // exactly the window
        return in;
    };
    for (const FlowControl mode : {FlowControl::automatic, FlowControl::manual}) {
        CAPTURE(mode == FlowControl::manual ? "manual" : "automatic");
        check_all_cuts(with_mode(mode, 1000), script, 8);
    }
    const Outcome o = run(with_mode(FlowControl::automatic, 1000), script, frame_pieces);
    INFO(join(o.events));
    INFO(join(o.wire));
    CHECK(join(o.wire).find("FLOW_CONTROL_ERROR") != std::string::npos);
    CHECK(!o.closed);
}

TEST_CASE("data path: DATA past the connection window is a connection FLOW_CONTROL_ERROR") {
    // 16 MiB stream windows, the connection's 65,535 octets; no output is
    // drained meanwhile, so no WINDOW_UPDATE gives any back.
    const Script script = [](Peer& p) {
        Bytes in = p.headers(1, request(), false);
        for (int i = 0; i < 4; ++i) append(in, p.data(1, Bytes(16000, static_cast<std::uint8_t>('a' + i)), false));
        append(in, p.data(1, Bytes(1536, 'x'), false));  // 65,536: one octet too many
        append(in, p.data(1, Bytes(10, 'y'), true));     // after the GOAWAY: nothing
        return in;
    };
    for (const FlowControl mode : {FlowControl::automatic, FlowControl::manual}) {
        CAPTURE(mode == FlowControl::manual ? "manual" : "automatic");
        Config c = with_mode(mode, 1 << 24);
        c.connection_window_size = 65535;
        const Outcome ref = run(c, script, bytewise);
        INFO(join(ref.events));
        INFO(join(ref.wire));
        CHECK(ref.closed);
        CHECK(join(ref.wire).find("FLOW_CONTROL_ERROR") != std::string::npos);
        for (const auto& pieces : std::vector<std::function<std::vector<std::size_t>(const Bytes&)>>{
                 frame_pieces, [](const Bytes& in) { return std::vector<std::size_t>{in.size()}; },
                 [](const Bytes& in) { return cut(in.size(), Split::random(5)); }}) {
            const Outcome o = run(c, script, pieces);
            CHECK(join(o.events) == join(ref.events));
            CHECK(join(o.wire) == join(ref.wire));
            CHECK(o.closed);
        }
    }
}

TEST_CASE("data path: DATA on streams in every state") {
    // Half-closed (remote) after END_STREAM: STREAM_CLOSED. Reset by the
    // peer: closed, STREAM_CLOSED. Reset by us: ignored. Before the request
    // is complete (trailers pending): fine. Then an idle stream: connection
    // PROTOCOL_ERROR.
    const Script script = [](Peer& p) {
        Bytes in = p.headers(1, get(), true);
        append(in, p.data(1, "late", false));
        append(in, p.headers(3, request(), false));
        append(in, p.rst(3, ErrorCode::cancel));
        append(in, p.data(3, "after rst", true));
        append(in, p.headers(5, request(), false));
        append(in, p.priority(5, 5));  // depends on itself: we reset it
        append(in, p.data(5, "ignored", true));
        append(in, p.headers(7, request(), false));
        append(in, p.data(7, "body", false));
        append(in, p.headers(7, {{"x-trailer", "1"}}, true));
        append(in, p.data(7, "after trailers", false));
        append(in, p.data(21, "idle", false));
        return in;
    };
    check_all_cuts(with_mode(FlowControl::automatic), script);
    const Outcome o = run(with_mode(FlowControl::automatic), script, frame_pieces);
    INFO(join(o.events));
    INFO(join(o.wire));
    CHECK(o.closed);
}

TEST_CASE("data path: frames the fast path leaves to the reader give the reader's errors") {
    struct Case {
        const char* name;
        Script script;
    };
    const std::vector<Case> cases{
        {"DATA on stream 0", [](Peer& p) { return p.raw(Type::data, 0, 0, bytes_of("zero")); }},
        {"DATA larger than SETTINGS_MAX_FRAME_SIZE",
         [](Peer& p) {
             Bytes in = p.headers(1, request(), false);
             append(in, p.raw(Type::data, 0, 1, Bytes(16385, 'a')));
             return in;
         }},
        {"DATA inside a header block",
         [](Peer& p) {
             Bytes block = p.encode(request());
             Bytes in = p.raw(Type::headers, 0, 1, block);  // no END_HEADERS
             append(in, p.data(1, "x", false));
             return in;
         }},
        {"DATA with the reserved bit set",
         [](Peer& p) {
             Bytes in = p.headers(1, post(5), false);
             Bytes d = p.raw(Type::data, fl::end_stream, 1, bytes_of("hello"));
             d[5] |= 0x80;
             append(in, d);
             return in;
         }},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        check_all_cuts(with_mode(FlowControl::automatic), c.script, 4);
    }
}

// HEADERS: a frame whole in the input, with END_HEADERS and neither padding
// nor priority fields, skips the reader (receive.cpp fast_headers); the
// same frames cut anywhere go through it. Both must agree on everything.
TEST_CASE("headers path: requests, trailers, refusals and malformed messages under every cut") {
    const Script script = [](Peer& p) {
        Bytes in = p.headers(1, get(), true);
        append(in, p.headers(3, post(4), false));
        append(in, p.data(3, "body", false));
        append(in, p.headers(3, {{"x-trailer", "done"}}, true));                  // trailers
        append(in, p.headers(5, request() + Hdrs{{"connection", "close"}}, true));  // malformed: reset
        append(in, p.headers(7, Hdrs{{":method", "GET"}, {":path", "/"}}, true));   // no :scheme
        append(in, p.headers(9, get("/a"), false));                                 // open
        append(in, p.headers(9, {{"x-trailer", "no END_STREAM"}}, false));          // trailers without END_STREAM
        HeadersOptions prio, padded, split;
        prio.priority = frame::PriorityFields{0, 16, false};
        padded.pad = 7;
        split.max_fragment = 40;
        append(in, p.headers(13, get("/c"), true, prio));    // the reader's
        append(in, p.headers(15, get("/d"), true, padded));  // the reader's
        append(in, p.headers(17, get("/e") + Hdrs{{"x-long", std::string(300, 'v')}}, true,
                             split));  // HEADERS + CONTINUATIONs: the reader's
        append(in, p.headers(19, get("/f"), false));
        append(in, p.headers(19, get("/g"), true));  // a second header section that is no trailer section
        return in;
    };
    check_all_cuts(with_mode(FlowControl::automatic), script, 8);
    const Outcome o = run(with_mode(FlowControl::automatic), script, frame_pieces);
    INFO(join(o.events));
    INFO(join(o.wire));
    CHECK(!o.closed);
    CHECK(join(o.events).find("/f") != std::string::npos);

    // Over SETTINGS_MAX_CONCURRENT_STREAMS: refused, and the block still
    // decoded (the next request uses what it indexed).
    const Script refusals = [](Peer& p) {
        Bytes in = p.headers(1, get("/a") + Hdrs{{"x-indexed", "once"}}, false);
        append(in, p.headers(3, get("/b") + Hdrs{{"x-indexed", "twice"}}, false));
        append(in, p.data(1, "end", true));
        append(in, p.headers(5, get("/c") + Hdrs{{"x-indexed", "twice"}}, true));
        return in;
    };
    Config c = with_mode(FlowControl::automatic);
    c.limits.max_concurrent_streams = 1;
    check_all_cuts(c, refusals, 8);
    const Outcome r = run(c, refusals, frame_pieces);
    INFO(join(r.events));
    INFO(join(r.wire));
    CHECK(join(r.wire).find("RST_STREAM s=3 REFUSED_STREAM") != std::string::npos);
    CHECK(join(r.wire).find("RST_STREAM s=5 REFUSED_STREAM") != std::string::npos);
}

TEST_CASE("headers path: HEADERS that end the connection give the same GOAWAY on either path") {
    struct Case {
        const char* name;
        Script script;
    };
    const std::vector<Case> cases{
        {"HEADERS on stream 0",
         [](Peer& p) { return p.raw(Type::headers, fl::end_headers | fl::end_stream, 0, p.encode(get())); }},
        {"HEADERS on a stream id below one already opened",
         [](Peer& p) {
             Bytes in = p.headers(5, get(), true);
             append(in, p.headers(3, get(), true));
             return in;
         }},
        {"HEADERS on an even (server) stream id", [](Peer& p) { return p.headers(2, get(), true); }},
        {"HEADERS after END_STREAM of a closed stream",
         [](Peer& p) {
             Bytes in = p.headers(1, get(), true);
             append(in, p.headers(3, get(), true));
             append(in, p.rst(3, ErrorCode::cancel));
             append(in, p.headers(3, get(), true));
             return in;
         }},
        {"HEADERS larger than SETTINGS_MAX_FRAME_SIZE",
         [](Peer& p) { return p.headers(1, get() + Hdrs{{"x-big", std::string(17000, '~')}}, true); }},
        {"HEADERS with an HPACK index past the tables",
         [](Peer& p) {
             const Bytes block{0xbf, 0x7f};  // indexed field 126 (the dynamic table is empty)
             return p.headers_block(1, block, true);
         }},
        {"HEADERS inside an open header block",
         [](Peer& p) {
             HeadersOptions open;
             open.leave_open = true;
             Bytes in = p.headers(1, get(), true, open);
             append(in, p.headers(3, get(), true));
             return in;
         }},
    };
    for (const Case& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        check_all_cuts(with_mode(FlowControl::automatic), c.script, 4);
        const Outcome o = run(with_mode(FlowControl::automatic), c.script, frame_pieces);
        INFO(join(o.wire));
        CHECK(o.closed);
        CHECK(join(o.wire).find("GOAWAY") != std::string::npos);
    }
}

TEST_CASE("data path: a stream reset by the application between two chunks of a frame gets no more DATA") {
    Rng rng(11);
    const Bytes body = rng.bytes(3000);
    const Script script = [&](Peer& p) {
        Bytes in = p.headers(1, post(3000), false);
        append(in, p.data(1, body, false));
        append(in, p.headers(3, request(), false));
        append(in, p.data(3, "next", true));
        return in;
    };
    for (const FlowControl mode : {FlowControl::automatic, FlowControl::manual}) {
        CAPTURE(mode == FlowControl::manual ? "manual" : "automatic");
        // Header whole with 1000 payload octets, then the reset, then the rest.
        auto pieces = [](const Bytes& in) {
            const std::size_t headers = frame_pieces(in)[0] + frame_pieces(in)[1];
            return std::vector<std::size_t>{headers, frame::header_size + 1000, 1000, in.size() - headers - 2009};
        };
        const Between reset = [](Session& s, std::size_t i) {
            if (i == 2) CHECK(s.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
        };
        const Outcome o = run(with_mode(mode), script, pieces, reset);
        INFO(join(o.events));
        INFO(join(o.wire));
        Session s(Role::server, with_mode(mode));
        s.handshake({{SettingId::initial_window_size, 1 << 20}});
        const Bytes in = script(s.peer);
        std::size_t pos = 0;
        std::size_t i = 0;
        for (const std::size_t n : pieces(in)) {
            if (i++ == 2) REQUIRE(s.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
            s.receive_piece(std::span<const std::uint8_t>(in).subspan(pos, n));
            pos += n;
        }
        s.drain();
        const Events e = s.events_since_handshake();
        CHECK(e.data_of(1) == Bytes(body.begin(), body.begin() + 1000));
        CHECK(string_of(e.data_of(3)) == "next");
        CHECK(e.count_on<StreamEnded>(3) == 1);
        CHECK(!s.conn.is_closed());
        // The same with the reader cutting the frame.
        auto bytewise_reset = [](const Bytes& b) { return std::vector<std::size_t>(b.size(), 1); };
        const std::size_t reset_at = pieces(in)[0] + pieces(in)[1];
        const Outcome r = run(with_mode(mode), script, bytewise_reset, [reset_at](Session& x, std::size_t k) {
            if (k == reset_at) CHECK(x.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
        });
        CHECK(join(o.events) == join(r.events));
        CHECK(join(o.wire) == join(r.wire));
    }
}

TEST_CASE("data path: WINDOW_UPDATEs are the same whichever path the DATA took") {
    // Automatic mode over many frames: the coalesced WINDOW_UPDATEs come out
    // at the same points when the output is drained between the frames.
    auto transcript = [](bool fast) {
        Session s(Role::server, with_mode(FlowControl::automatic, 40000));
        s.handshake({{SettingId::initial_window_size, 1 << 20}});
        s.open(1, request(), false);
        s.open(3, request(), false);
        std::vector<std::string> out;
        Rng rng(3);
        for (int i = 0; i < 60; ++i) {
            const std::uint32_t stream = i % 3 == 2 ? 3 : 1;
            const Bytes frame = s.peer.data(stream, rng.bytes(rng.between(1, 9000)), false,
                                            i % 7 == 0 ? std::optional<std::uint8_t>(5) : std::nullopt);
            if (fast) {
                s.receive_piece(std::span<const std::uint8_t>(frame).first(frame::header_size));
                s.receive_piece(std::span<const std::uint8_t>(frame).subspan(frame::header_size));
            } else {
                s.feed(frame, Split::bytewise());
            }
            for (const WireFrame& f : s.drain()) out.push_back(f.describe());
        }
        return out;
    };
    const auto fast = transcript(true);
    const auto slow = transcript(false);
    INFO(join(slow));
    CHECK(join(fast) == join(slow));
    CHECK(std::count_if(slow.begin(), slow.end(),
                        [](const std::string& l) { return l.find("WINDOW_UPDATE") != std::string::npos; }) >= 4);
}

// --- sending -------------------------------------------------------------------

namespace {

/// Output through pending_output_vectors(), consuming a random number of
/// octets each time (sometimes all).
std::vector<WireFrame> drain_partially(Session& s, Rng& rng) {
    const std::size_t before = s.peer.frames().size();
    for (int guard = 0; s.conn.wants_write() && guard < 1000000; ++guard) {
        const std::span<const OutputChunk> chunks = s.conn.pending_output_vectors();
        std::size_t total = 0;
        for (const OutputChunk& c : chunks) total += c.size;
        REQUIRE(total > 0);
        const std::size_t take = rng.one_in(3) ? total : rng.between(1, total);
        std::size_t left = take;
        for (const OutputChunk& c : chunks) {
            const std::size_t n = std::min(left, c.size);
            s.peer.read(std::span<const std::uint8_t>(c.data, n));
            left -= n;
            if (left == 0) break;
        }
        s.conn.consume_output(take);
    }
    s.check_output();
    return std::vector<WireFrame>(s.peer.frames().begin() + static_cast<std::ptrdiff_t>(before), s.peer.frames().end());
}

enum class Drain { copy, vectors, partial };

struct SendShape {
    std::vector<std::size_t> sizes;  // one body per stream
    std::uint32_t initial_window = 20000;
    std::uint32_t reopen = 9000;  // per stream and round; the connection gets 25,000
};

/// A server sends bodies (borrowed or copied) under windows that the peer
/// keeps reopening; returns every frame it wrote.
std::vector<std::string> send_bodies(Drain how, bool borrowed, std::uint64_t seed,
                                     const SendShape& shape = {{70000, 17, 40000}}) {
    Session s(Role::server);
    s.handshake({{SettingId::initial_window_size, shape.initial_window}, {SettingId::max_frame_size, 16384}});
    std::vector<std::uint32_t> ids;
    for (std::size_t i = 0; i < shape.sizes.size(); ++i) ids.push_back(static_cast<std::uint32_t>(2 * i + 1));
    std::vector<Bytes> bodies;
    Rng rng(seed);
    for (const std::uint32_t id : ids) s.open(id, get(), true);
    for (const std::size_t size : shape.sizes) bodies.push_back(rng.bytes(size));
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto f = fields(response(200));
        REQUIRE(s.conn.submit_response(ids[i], f, false) == ApiError::none);
        // Two calls: the body in two segments.
        const std::span<const std::uint8_t> b(bodies[i]);
        const std::size_t half = b.size() / 3;
        if (borrowed) {
            REQUIRE(s.conn.send_data_borrowed(ids[i], b.first(half), false) == ApiError::none);
            REQUIRE(s.conn.send_data_borrowed(ids[i], b.subspan(half), true) == ApiError::none);
        } else {
            REQUIRE(s.conn.send_data(ids[i], b.first(half), false) == ApiError::none);
            REQUIRE(s.conn.send_data(ids[i], b.subspan(half), true) == ApiError::none);
        }
    }
    std::vector<std::string> out;
    Rng drain_rng(seed * 31 + 1);
    for (int round = 0; round < 100; ++round) {
        const std::vector<WireFrame> frames = how == Drain::copy      ? s.drain()
                                              : how == Drain::vectors ? s.drain_vectors()
                                                                      : drain_partially(s, drain_rng);
        for (const WireFrame& f : frames)
            out.push_back(f.describe() + (f.type() == Type::data ? " " + hex(f.data) : ""));
        if (s.conn.open_streams() == 0) break;
        // Reopen the windows: some to the connection, some to each stream.
        Bytes wu = s.peer.window_update(0, 25000);
        for (const std::uint32_t id : ids) append(wu, s.peer.window_update(id, shape.reopen));
        s.feed(wu);
    }
    CHECK(s.conn.open_streams() == 0);
    for (std::size_t i = 0; i < ids.size(); ++i) CHECK(data_of(s.peer.frames(), ids[i]) == bodies[i]);
    return out;
}

}  // namespace

TEST_CASE("data path: zero-copy output carries the same frames as the copying one, consumed whole or in pieces") {
    for (const bool borrowed : {true, false}) {
        CAPTURE(borrowed);
        for (std::uint64_t seed = 1; seed <= 4; ++seed) {
            CAPTURE(seed);
            const auto ref = send_bodies(Drain::copy, borrowed, seed);
            INFO(join(ref));
            CHECK(join(send_bodies(Drain::vectors, borrowed, seed)) == join(ref));
            CHECK(join(send_bodies(Drain::partial, borrowed, seed)) == join(ref));
        }
    }
}

TEST_CASE("data path: one stream alone sends its frames in a row, the same whichever output is used") {
    // Large windows: the stream's turns follow one another until the
    // connection window or the build budget stops them.
    const SendShape one{{250000}, 1 << 20, 1 << 20};
    const SendShape two{{200000, 5000}, 1 << 20, 1 << 20};
    for (const SendShape& shape : {one, two}) {
        for (const bool borrowed : {true, false}) {
            CAPTURE(borrowed);
            const auto ref = send_bodies(Drain::copy, borrowed, 9, shape);
            INFO(join(ref).substr(0, 2000));
            CHECK(join(send_bodies(Drain::vectors, borrowed, 9, shape)) == join(ref));
            CHECK(join(send_bodies(Drain::partial, borrowed, 9, shape)) == join(ref));
        }
    }
}

TEST_CASE("data path: a stream reset while its borrowed DATA waits in the output sends what was built, from a copy") {
    for (const std::size_t written :
         {std::size_t{0}, std::size_t{5}, std::size_t{9}, std::size_t{100}, std::size_t{16393}}) {
        CAPTURE(written);
        Session s(Role::server);
        s.handshake();
        // Incremental (RFC 9218): the two bodies interleave, so stream 1 is
        // still sending when it is reset.
        s.open(1, get() + Hdrs{{"priority", "i"}}, true);
        s.open(3, get() + Hdrs{{"priority", "i"}}, true);
        const auto f = fields(response(200));
        REQUIRE(s.conn.submit_response(1, f, false) == ApiError::none);
        REQUIRE(s.conn.submit_response(3, f, false) == ApiError::none);
        s.drain();
        Rng rng(written + 1);
        Bytes body1 = rng.bytes(50000);
        const Bytes original = body1;
        const Bytes body3 = rng.bytes(20000);
        REQUIRE(s.conn.send_data_borrowed(1, body1, true) == ApiError::none);
        REQUIRE(s.conn.send_data_borrowed(3, body3, true) == ApiError::none);
        // Build, write part of it, reset stream 1, scribble over its body.
        const std::span<const OutputChunk> chunks = s.conn.pending_output_vectors();
        std::size_t left = written;
        for (const OutputChunk& c : chunks) {
            if (left == 0) break;
            const std::size_t n = std::min(left, c.size);
            s.peer.read(std::span<const std::uint8_t>(c.data, n));
            left -= n;
        }
        s.conn.consume_output(written);
        REQUIRE(s.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
        std::fill(body1.begin(), body1.end(), std::uint8_t{'X'});
        s.drain_vectors();
        const Bytes got1 = data_of(s.peer.frames(), 1);
        CHECK(got1.size() > 0);
        CHECK(got1.size() < original.size());
        CHECK(got1 == Bytes(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(got1.size())));
        CHECK(count(s.peer.frames(), Type::rst_stream) == 1);
        CHECK(s.conn.buffered(1) == 0);
        // Stream 3 goes on (its window: what the connection window leaves).
        Bytes wu = s.peer.window_update(0, 100000);
        append(wu, s.peer.window_update(3, 100000));
        s.feed(wu);
        s.drain_vectors();
        CHECK(data_of(s.peer.frames(), 3) == body3);
    }
}
