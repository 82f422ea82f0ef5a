// Header blocks and CONTINUATION atomicity (RFC 9113 §4.3, §6.2, §6.10):
// nothing may come between the pieces of a block on receive; blocks split
// anywhere decode the same; block size and CONTINUATION count are capped;
// blocks of refused and reset streams are still decoded so HPACK stays in
// step; on send, a block over the peer's max frame size goes out as HEADERS
// + CONTINUATION back to back even while other streams have DATA waiting.
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

Hdrs sample_request() {
    return request("POST", "/resource/with/a/longer/path?query=1") +
           Hdrs{{"user-agent", "h2wire-test/1.0"},
                {"accept", "*/*"},
                {"x-custom-one", "first value"},
                {"cookie", "session=0123456789abcdef0123456789abcdef"},
                {"x-custom-two", "second value, a bit longer than the first one"}};
}

/// Cuts `block` at the given points into HEADERS + CONTINUATIONs.
Bytes split_block(Peer& p, std::uint32_t stream, std::span<const std::uint8_t> block, std::vector<std::size_t> cuts,
                  bool end_stream) {
    cuts.push_back(block.size());
    Bytes out;
    std::size_t pos = 0;
    for (std::size_t i = 0; i < cuts.size(); ++i) {
        const auto piece = block.subspan(pos, cuts[i] - pos);
        const bool last = i + 1 == cuts.size();
        if (i == 0)
            append(out, p.headers_frame(stream, piece, end_stream, last));
        else
            append(out, p.continuation(stream, piece, last));
        pos = cuts[i];
    }
    return out;
}

}  // namespace

TEST_CASE("connection continuation: any other frame inside a header block is a connection PROTOCOL_ERROR") {
    struct Intruder {
        const char* name;
        std::function<Bytes(Peer&)> make;
    };
    const std::vector<Intruder> intruders{
        {"DATA same stream", [](Peer& p) { return p.data(1, "x", false); }},
        {"DATA other stream", [](Peer& p) { return p.data(3, "x", false); }},
        {"HEADERS same stream",
         [](Peer& p) {
             return p.headers_frame(1, p.encode({{"a", "b"}}), false, true);
         }},
        {"HEADERS other stream", [](Peer& p) { return p.headers_frame(3, p.encode(get()), true, true); }},
        {"PRIORITY same stream", [](Peer& p) { return p.priority(1, 0); }},
        {"PRIORITY other stream", [](Peer& p) { return p.priority(3, 0); }},
        {"RST_STREAM", [](Peer& p) { return p.rst(1, ErrorCode::cancel); }},
        {"SETTINGS", [](Peer& p) { return p.settings({}); }},
        {"SETTINGS ACK", [](Peer& p) { return p.settings_ack(); }},
        {"PING", [](Peer& p) { return p.ping(opaque("pingpong")); }},
        {"GOAWAY", [](Peer& p) { return p.goaway(0, ErrorCode::no_error); }},
        {"WINDOW_UPDATE stream 0", [](Peer& p) { return p.window_update(0, 1); }},
        {"WINDOW_UPDATE same stream", [](Peer& p) { return p.window_update(1, 1); }},
        {"CONTINUATION of another stream", [](Peer& p) { return p.continuation(3, Bytes{0x82}, true); }},
        {"unknown type on stream 0",
         [](Peer& p) {
             return p.raw(0x42, 0, 0, Bytes{1, 2, 3});
         }},
        {"unknown type same stream", [](Peer& p) { return p.raw(0x42, 0, 1, Bytes{}); }},
        {"PRIORITY_UPDATE", [](Peer& p) { return p.priority_update(1, "u=1"); }},
        {"ORIGIN", [](Peer& p) { return p.origin({"https://example.com"}); }},
        {"ALTSVC", [](Peer& p) { return p.altsvc(0, "example.com", "h2=\":443\""); }},
    };
    SUBCASE("frames of every type") for (const Intruder& x : intruders) {
        INFO(x.name);
        for (const Split split : {Split::whole(), Split::bytewise()}) {
            CAPTURE(split.name());
            Session s(Role::server);
            s.handshake();
            const Bytes block = s.peer.encode(sample_request());
            Bytes in = s.peer.headers_frame(1, std::span(block).first(10), false, false);
            append(in, x.make(s.peer));
            append(in, s.peer.continuation(1, std::span(block).subspan(10), true));
            s.feed(in, split);
            expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
            CHECK(s.events.count<ev::Request>() == 0);
        }
    }
    SUBCASE("inside a PUSH_PROMISE block, on the client") {
        Config c;
        c.settings.enable_push = true;
        Session s(Role::client, c);
        s.handshake();
        s.request(get(), true);
        HeadersOptions o;
        o.leave_open = true;
        Bytes in = s.peer.push_promise(1, 2, get("/pushed"), o);
        append(in, s.peer.headers(1, response(), true));
        s.feed(in);
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
        CHECK(s.events.count<ev::PushPromise>() == 0);
        CHECK(s.events.count<ev::Response>() == 0);
    }
    SUBCASE("a CONTINUATION with no block open") {
        Session s(Role::server);
        s.handshake();
        s.open(1, get(), true);
        s.feed(s.peer.continuation(1, Bytes{0x82}, true));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
    }
}

TEST_CASE("connection continuation: a block split at every point decodes the same") {
    const Hdrs want = sample_request();
    Bytes block;
    {
        Peer p(Role::server);
        block = p.encode(want);
    }
    REQUIRE(block.size() > 40);
    auto check_request = [&](Session& s, const char* how) {
        CAPTURE(how);
        const auto out = s.drain();
        expect_no_error(s, out);
        const auto req = s.events.on<ev::Request>(1);
        REQUIRE(req.has_value());
        CHECK(plain(req->headers) == want);
        CHECK(req->method == "POST");
        CHECK(req->path == "/resource/with/a/longer/path?query=1");
        CHECK(req->end_stream);
        CHECK(s.events.count<ev::Request>() == 1);
        CHECK(s.events.count_on<StreamEnded>(1) == 1);
    };
    SUBCASE("two pieces, every split point") {
        for (std::size_t k = 0; k <= block.size(); ++k) {
            CAPTURE(k);
            Session s(Role::server);
            s.handshake();
            // A fresh Peer encoder produces the same block as `block`.
            REQUIRE(s.peer.encode(want) == block);
            s.feed(split_block(s.peer, 1, block, {k}, true));
            check_request(s, "two pieces");
        }
    }
    SUBCASE("three pieces, many split pairs, fed byte by byte or whole") {
        Rng rng(7);
        for (int i = 0; i < 60; ++i) {
            std::size_t a = rng.below(block.size() + 1), b = rng.below(block.size() + 1);
            if (a > b) std::swap(a, b);
            CAPTURE(a);
            CAPTURE(b);
            Session s(Role::server);
            s.handshake();
            REQUIRE(s.peer.encode(want) == block);
            s.feed(split_block(s.peer, 1, block, {a, b}, true), i % 2 ? Split::bytewise() : Split::whole());
            check_request(s, "three pieces");
        }
    }
    SUBCASE("one octet per frame, with empty CONTINUATIONs between") {
        Config c;
        c.limits.max_continuation_frames = 1000;
        Session s(Role::server, c);
        s.handshake();
        REQUIRE(s.peer.encode(want) == block);
        Bytes in = s.peer.headers_frame(1, {}, true, false);  // empty first fragment
        for (std::size_t i = 0; i < block.size(); ++i) {
            append(in, s.peer.continuation(1, std::span(block).subspan(i, 1), false));
            if (i % 7 == 0) append(in, s.peer.continuation(1, {}, false));
        }
        append(in, s.peer.continuation(1, {}, true));  // an empty last piece ends the block
        s.feed(in, Split::random(11));
        check_request(s, "one octet per frame");
    }
    SUBCASE("no event before END_HEADERS") {
        Session s(Role::server);
        s.handshake();
        REQUIRE(s.peer.encode(want) == block);
        const Bytes in = split_block(s.peer, 1, block, {5, 20}, true);
        const std::size_t end_of_headers_frame = frame::header_size + 5;
        CHECK(s.feed(std::span(in).first(end_of_headers_frame + frame::header_size + 15)).empty());
        s.feed(std::span(in).subspan(end_of_headers_frame + frame::header_size + 15));
        check_request(s, "event at the end");
    }
    SUBCASE("trailers and a padded, prioritised HEADERS split over CONTINUATIONs") {
        Session s(Role::server);
        s.handshake();
        HeadersOptions o;
        o.max_fragment = 7;
        o.pad = 10;
        o.priority = frame::PriorityFields{false, 0, 100};
        const Hdrs trailers{{"x-checksum", "0123456789abcdef"}, {"x-status", "done"}};
        Bytes in = s.peer.headers(1, want, false, o);
        append(in, s.peer.data(1, "body", false));
        append(in, s.peer.headers(1, trailers, true, o));
        s.feed(in, Split::random(5));
        const auto out = s.drain();
        expect_no_error(s, out);
        const auto req = s.events.on<ev::Request>(1);
        REQUIRE(req.has_value());
        CHECK(plain(req->headers) == want);
        CHECK(!req->end_stream);
        const auto t = s.events.on<ev::Trailers>(1);
        REQUIRE(t.has_value());
        CHECK(plain(t->headers) == trailers);
        CHECK(s.events.data_of(1) == bytes_of("body"));
    }
    SUBCASE("a PUSH_PROMISE block split over CONTINUATIONs") {
        Config c;
        c.settings.enable_push = true;
        Session s(Role::client, c);
        s.handshake();
        s.request(get(), true);
        HeadersOptions o;
        o.max_fragment = 3;
        const Hdrs promised = get("/style.css") + Hdrs{{"accept", "text/css"}};
        s.feed(s.peer.push_promise(1, 2, promised, o), Split::bytewise());
        const auto out = s.drain();
        expect_no_error(s, out);
        const auto pp = s.events.on<ev::PushPromise>(1);
        REQUIRE(pp.has_value());
        CHECK(pp->promised_stream == 2);
        CHECK(plain(pp->headers) == promised);
    }
}

TEST_CASE("connection continuation: CONTINUATION count and block size limits → ENHANCE_YOUR_CALM") {
    SUBCASE("max_continuation_frames") {
        Config c;
        c.limits.max_continuation_frames = 4;
        const Hdrs h = sample_request();
        for (const std::size_t conts : {4u, 5u}) {
            CAPTURE(conts);
            Session s(Role::server, c);
            s.handshake();
            const Bytes block = s.peer.encode(h);
            std::vector<std::size_t> cuts;
            for (std::size_t i = 1; i <= conts; ++i) cuts.push_back(i * block.size() / (conts + 1));
            s.feed(split_block(s.peer, 1, block, cuts, true));
            const auto out = s.drain();
            if (conts == 4) {
                expect_no_error(s, out);
                CHECK(s.events.on<ev::Request>(1).has_value());
            } else {
                expect_connection_error(s, out, ErrorCode::enhance_your_calm);
                CHECK(s.events.count<ev::Request>() == 0);
            }
        }
    }
    SUBCASE("a flood of empty CONTINUATIONs that never ends the block") {
        Session s(Role::server);  // default limit
        s.handshake();
        Bytes in = s.peer.headers_frame(1, s.peer.encode(get()), true, false);
        for (int i = 0; i < 10000; ++i) append(in, s.peer.continuation(1, {}, false));
        s.feed(in);
        expect_connection_error(s, s.drain(), ErrorCode::enhance_your_calm);
        CHECK(s.events.count<ev::Request>() == 0);
    }
    SUBCASE("max_header_block_size, over CONTINUATIONs and in one HEADERS") {
        Config c;
        c.limits.max_header_block_size = 1000;
        for (const std::size_t value : {800u, 1200u}) {
            for (const bool split : {true, false}) {
                CAPTURE(value);
                CAPTURE(split);
                Session s(Role::server, c);
                s.handshake();
                Rng rng(value);
                // Characters with 8-bit Huffman codes: the literal takes one
                // octet per character either way.
                std::string blob(value, 'X');
                for (char& ch : blob) ch = "XZ&*,;"[rng.below(6)];
                const Hdrs h = get() + Hdrs{{"x-blob", blob}};
                const Bytes block = s.peer.encode(h);
                REQUIRE(((block.size() < 1000) == (value == 800)));
                s.feed(split ? split_block(s.peer, 1, block, {block.size() / 3, 2 * block.size() / 3}, true)
                             : s.peer.headers_block(1, block, true));
                const auto out = s.drain();
                if (block.size() <= 1000) {
                    expect_no_error(s, out);
                    CHECK(s.events.on<ev::Request>(1).has_value());
                } else {
                    expect_connection_error(s, out, ErrorCode::enhance_your_calm);
                    CHECK(s.events.count<ev::Request>() == 0);
                }
            }
        }
    }
}

TEST_CASE("connection continuation: blocks of refused and reset streams are decoded (HPACK stays in step)") {
    // The Peer's encoder indexes x-session on first use and refers to the
    // table entry afterwards; a connection that skipped a block would
    // decode the later reference wrongly or fail with COMPRESSION_ERROR.
    const Hdrs marked = get("/a") + Hdrs{{"x-session", "s3cr3t-session-token-value"}, {"x-more", "abc"}};
    auto expect_reference_decodes = [&](Session& s, std::uint32_t stream, std::size_t before) {
        const Bytes block = s.peer.encode(get("/b") + Hdrs{{"x-session", "s3cr3t-session-token-value"}});
        // The Peer's encoder did index it: the second use is short.
        CHECK(block.size() < 12);
        s.feed(s.peer.headers_block(stream, block, true));
        const auto out = s.drain();
        expect_no_error(s, out, before);
        const auto req = s.events.on<ev::Request>(stream);
        REQUIRE(req.has_value());
        CHECK(find_field(req->headers, "x-session") == "s3cr3t-session-token-value");
        CHECK(req->path == "/b");
    };
    SUBCASE("refused by MAX_CONCURRENT_STREAMS, block split over CONTINUATIONs") {
        Config c;
        c.limits.max_concurrent_streams = 1;
        Session s(Role::server, c);
        s.handshake();
        s.open(1, request(), false);
        HeadersOptions o;
        o.max_fragment = 5;
        s.feed(s.peer.headers(3, marked, true, o));
        auto out = s.drain();
        REQUIRE(first(out, Type::rst_stream, 3).has_value());
        CHECK(first(out, Type::rst_stream, 3)->code == ErrorCode::refused_stream);
        CHECK(s.events.count_on<ev::Request>(3) == 0);
        // Free the slot, then refer to the entry the refused block added.
        s.feed(s.peer.data(1, "", true));
        REQUIRE(s.conn.submit_response(1, fields(response()), true) == ApiError::none);
        s.drain();
        expect_reference_decodes(s, 5, s.events.size());
    }
    SUBCASE("trailers on a stream we reset") {
        Session s(Role::server);
        s.handshake();
        s.open(1, request(), false);
        REQUIRE(s.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
        s.drain();
        const std::size_t before = s.events.size();
        s.feed(s.peer.headers(1, {{"x-session", "s3cr3t-session-token-value"}}, true));
        CHECK(s.events.count<ev::Trailers>() == 0);
        expect_reference_decodes(s, 3, before);
    }
    SUBCASE("a malformed request (stream error)") {
        Session s(Role::server);
        s.handshake();
        s.feed(s.peer.headers(1, marked + Hdrs{{"Upper-Case", "x"}}, true));
        auto out = s.drain();
        REQUIRE(first(out, Type::rst_stream, 1).has_value());
        CHECK(s.events.count<ev::Request>() == 0);
        expect_reference_decodes(s, 3, s.events.size());
    }
    SUBCASE("a header list over our limit (stream error)") {
        Config c;
        c.limits.max_header_list_size = 500;
        Session s(Role::server, c);
        s.handshake();
        Rng rng(3);
        s.feed(s.peer.headers(1, marked + Hdrs{{"x-big", rng.letters(600)}}, true));
        auto out = s.drain();
        CHECK(first(out, Type::rst_stream, 1).has_value());
        CHECK(count(out, Type::goaway) == 0);
        CHECK(s.events.count<ev::Request>() == 0);
        expect_reference_decodes(s, 3, s.events.size());
    }
}

TEST_CASE("connection continuation: a large block goes out as HEADERS + CONTINUATION back to back") {
    Rng rng(99);
    const std::string big = rng.letters(70000);  // ~ 44000 octets Huffman-coded: 3 frames
    auto check_contiguous = [](const std::vector<WireFrame>& frames, Type type, std::uint32_t stream) {
        INFO(str(frames));
        std::size_t i = 0;
        while (i < frames.size() && !frames[i].is(type, stream)) ++i;
        REQUIRE(i < frames.size());
        CHECK(!frames[i].end_headers());
        std::size_t j = i + 1;
        for (; j < frames.size(); ++j) {
            REQUIRE_MESSAGE(frames[j].is(Type::continuation, stream), "frame " << j << " interleaved in the block");
            if (frames[j].end_headers()) break;
        }
        REQUIRE(j < frames.size());
        CHECK(frames[i].continuations == static_cast<int>(j - i));
        CHECK(frames[i].continuations >= 2);
        for (std::size_t k = i; k <= j; ++k) CHECK(frames[k].header.length <= 16384);
        return frames[i];
    };
    SUBCASE("server response while another stream's DATA is pending") {
        Session s(Role::server);
        s.handshake({{SettingId::initial_window_size, 1 << 20}});
        s.feed(s.peer.window_update(0, 1 << 20));
        s.open(1, get("/big-body"), true);
        s.open(3, get("/big-headers"), true);
        REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
        REQUIRE(s.conn.send_data(1, Bytes(200000, 'b'), true) == ApiError::none);
        // Take a little output so that a DATA frame of stream 1 is cut in the middle.
        auto out = s.conn.pending_output();
        REQUIRE(out.size() > 200);
        s.peer.read(out.first(150));
        s.conn.consume_output(150);
        const Hdrs h = response(200, {{"x-big", big}, {"x-after", "tail"}});
        REQUIRE(s.conn.submit_response(3, fields(h), true) == ApiError::none);
        // Drain in small pieces, alternating both output forms.
        for (int i = 0; s.conn.wants_write(); ++i) {
            if (i % 2) {
                const auto o = s.conn.pending_output();
                const std::size_t n = std::min<std::size_t>(o.size(), 777);
                s.peer.read(o.first(n));
                s.conn.consume_output(n);
            } else {
                const auto v = s.conn.pending_output_vectors();
                REQUIRE(!v.empty());
                const std::size_t n = std::min<std::size_t>(v[0].size, 1000);
                s.peer.read(std::span<const std::uint8_t>(v[0].data, n));
                s.conn.consume_output(n);
            }
        }
        s.check_output();
        const WireFrame hs = check_contiguous(s.peer.frames(), Type::headers, 3);
        CHECK(plain(hs.headers) == h);
        CHECK(hs.end_stream());
        CHECK(data_of(s.peer.frames(), 1).size() == 200000);
    }
    SUBCASE("client request and trailers") {
        Session s(Role::client);
        s.handshake();
        const Hdrs h = request() + Hdrs{{"x-big", big}};
        const auto f = fields(h);
        const Submitted sub = s.conn.submit_request(f, false);
        REQUIRE(sub);
        REQUIRE(s.conn.send_data(sub.stream, bytes_of("body"), false) == ApiError::none);
        const Hdrs t{{"x-trailer-big", big}};
        REQUIRE(s.conn.send_trailers(sub.stream, fields(t)) == ApiError::none);
        s.drain(333);
        const auto hs = only(s.peer.frames(), Type::headers, sub.stream);
        REQUIRE(hs.size() == 2);
        CHECK(plain(hs[0].headers) == h);
        CHECK(plain(hs[1].headers) == t);
        CHECK(hs[1].end_stream());
        check_contiguous(s.peer.frames(), Type::headers, sub.stream);
    }
    SUBCASE("server push promise") {
        Session s(Role::server);
        s.handshake();
        s.open(1, get(), true);
        const Hdrs h = get("/pushed") + Hdrs{{"x-big", big}};
        const Submitted p = s.conn.push_promise(1, fields(h));
        REQUIRE(p);
        s.drain(500);
        const WireFrame pp = check_contiguous(s.peer.frames(), Type::push_promise, 1);
        CHECK(pp.promised == p.stream);
        CHECK(plain(pp.headers) == h);
    }
}
