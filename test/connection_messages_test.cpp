// HTTP messages over HTTP/2 (RFC 9113 §8): requests, responses, 1xx,
// trailers; pseudo-header rules; field validity (§8.2.1, §8.2.2); CONNECT
// (§8.5); content-length (§8.1.1). Each malformed message is a stream error
// PROTOCOL_ERROR with an event that says why; validate_messages=false lets
// fields through; the application's own invalid fields are refused with
// ApiError::invalid_header and nothing is sent.
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

struct Malformed {
    const char* name;
    Hdrs headers;
};

/// Requests a server must refuse (RFC 9113 §8.2, §8.3.1, §8.5, RFC 9110).
std::vector<Malformed> malformed_requests() {
    const Hdrs ok = get();
    return {
        {"unknown pseudo-header", ok + Hdrs{{":foo", "bar"}}},
        {"pseudo-header after a regular field",
         {{":method", "GET"}, {":scheme", "https"}, {"accept", "*/*"}, {":authority", "example.com"}, {":path", "/"}}},
        {"duplicate :method", ok + Hdrs{{":method", "POST"}}},
        {"duplicate :path", {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {":path", "/x"}}},
        {"missing :method", {{":scheme", "https"}, {":authority", "example.com"}, {":path", "/"}}},
        {"missing :scheme", {{":method", "GET"}, {":authority", "example.com"}, {":path", "/"}}},
        {"missing :path", {{":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}}},
        {"empty :path", {{":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", ""}}},
        {"response pseudo-header :status in a request", ok + Hdrs{{":status", "200"}}},
        {":protocol without extended CONNECT", ok + Hdrs{{":protocol", "websocket"}}},
        {"CONNECT with :path", {{":method", "CONNECT"}, {":authority", "example.com:443"}, {":path", "/"}}},
        {"CONNECT with :scheme", {{":method", "CONNECT"}, {":scheme", "https"}, {":authority", "example.com:443"}}},
        {"CONNECT without :authority", {{":method", "CONNECT"}}},
        {"uppercase field name", ok + Hdrs{{"Accept", "*/*"}}},
        {"field name with a space", ok + Hdrs{{"x field", "1"}}},
        {"field name with a colon inside", ok + Hdrs{{"x:y", "1"}}},
        {"empty field name", ok + Hdrs{{"", "1"}}},
        {"field name with DEL", ok + Hdrs{{"x-a\x7f", "1"}}},
        {"field name with a non-ASCII octet", ok + Hdrs{{"x-caf\xc3\xa9", "1"}}},
        {"field name with a control character", ok + Hdrs{{"x-a\x01", "1"}}},
        {"connection", ok + Hdrs{{"connection", "keep-alive"}}},
        {"keep-alive", ok + Hdrs{{"keep-alive", "timeout=5"}}},
        {"proxy-connection", ok + Hdrs{{"proxy-connection", "keep-alive"}}},
        {"transfer-encoding", ok + Hdrs{{"transfer-encoding", "chunked"}}},
        {"upgrade", ok + Hdrs{{"upgrade", "h2c"}}},
        {"te: gzip", ok + Hdrs{{"te", "gzip"}}},
        {"te: trailers, gzip", ok + Hdrs{{"te", "trailers, gzip"}}},
        {"NUL in a value", ok + Hdrs{{"x-v", std::string("a\0b", 3)}}},
        {"CR in a value", ok + Hdrs{{"x-v", "a\rb"}}},
        {"LF in a value", ok + Hdrs{{"x-v", "a\nb"}}},
        {"leading space in a value", ok + Hdrs{{"x-v", " a"}}},
        {"trailing space in a value", ok + Hdrs{{"x-v", "a "}}},
        {"leading tab in a value", ok + Hdrs{{"x-v", "\ta"}}},
        {"trailing tab in a value", ok + Hdrs{{"x-v", "a\t"}}},
        {"NUL in a pseudo-header value", {{":method", "GET"}, {":scheme", "https"}, {":path", std::string("/\0", 2)}}},
        {"content-length not a number", get() + Hdrs{{"content-length", "ten"}}},
        {"content-length with a leading space", get() + Hdrs{{"content-length", " 0"}}},
        {"content-length with a trailing tab", get() + Hdrs{{"content-length", "0\t"}}},
        {"content-length empty", get() + Hdrs{{"content-length", ""}}},
        {"content-length with a NUL", get() + Hdrs{{"content-length", std::string("0\0", 2)}}},
        {"two differing content-lengths", get() + Hdrs{{"content-length", "0"}, {"content-length", "1"}}},
        {"a content-length list of differing values", get() + Hdrs{{"content-length", "0, 1"}}},
    };
}

/// Responses a client must refuse.
std::vector<Malformed> malformed_responses() {
    return {
        {"missing :status", {{"content-type", "text/plain"}}},
        {":status not a number", {{":status", "abc"}}},
        {":status of two digits", {{":status", "20"}}},
        {":status of four digits", {{":status", "2000"}}},
        {"duplicate :status", {{":status", "200"}, {":status", "204"}}},
        {"request pseudo-header :method in a response", {{":status", "200"}, {":method", "GET"}}},
        {"request pseudo-header :path in a response", {{":status", "200"}, {":path", "/"}}},
        {"unknown pseudo-header", {{":status", "200"}, {":bar", "1"}}},
        {"pseudo-header after a regular field", {{"server", "x"}, {":status", "200"}}},
        {"uppercase field name", {{":status", "200"}, {"Server", "x"}}},
        {"connection-specific field", {{":status", "200"}, {"transfer-encoding", "chunked"}}},
        {"LF in a value", {{":status", "200"}, {"x-v", "a\nb"}}},
        {"trailing space in a value", {{":status", "200"}, {"x-v", "a "}}},
    };
}

void expect_malformed(Session& s, std::uint32_t stream, std::size_t before) {
    const auto out = s.drain();
    expect_stream_error(s, out, stream, ErrorCode::protocol_error, before);
}

}  // namespace

TEST_CASE("connection messages: a request with its fields in order") {
    Session s(Role::server);
    s.handshake();
    const Hdrs h = request("POST", "/upload?x=1") + Hdrs{{"content-type", "text/plain"},
                                                         {"cookie", "a=1"},
                                                         {"cookie", "b=2"},
                                                         {"te", "trailers"},
                                                         {"content-length", "11"}};
    s.feed(cat({s.peer.headers(1, h, false), s.peer.data(1, "hello ", false), s.peer.data(1, "world", false),
                s.peer.headers(1, {{"x-checksum", "abc"}}, true)}));
    expect_no_error(s, s.drain());
    INFO(s.events.str());
    const auto req = s.events.on<ev::Request>(1);
    REQUIRE(req.has_value());
    CHECK(plain(req->headers) == h);
    CHECK(req->method == "POST");
    CHECK(req->scheme == "https");
    CHECK(req->authority == "example.com");
    CHECK(req->path == "/upload?x=1");
    CHECK(req->protocol == "");
    CHECK(!req->end_stream);
    CHECK(string_of(s.events.data_of(1)) == "hello world");
    const auto t = s.events.on<ev::Trailers>(1);
    REQUIRE(t.has_value());
    CHECK(plain(t->headers) == Hdrs{{"x-checksum", "abc"}});
    // Order: Request, Data, Data, Trailers, StreamEnded.
    const auto lines = s.events.lines_on(1);
    REQUIRE(lines.size() == 5);
    CHECK(lines[0].rfind("Request", 0) == 0);
    CHECK(lines[3].rfind("Trailers", 0) == 0);
    CHECK(lines[4] == "StreamEnded s=1");
}

TEST_CASE("connection messages: requests that are well-formed") {
    struct Ok {
        const char* name;
        Hdrs headers;
        std::string method, scheme, authority, path;
    };
    const Ok oks[] = {
        {"without :authority, with host",
         {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {"host", "h.example"}},
         "GET",
         "https",
         "",
         "/"},
        {"CONNECT with :method and :authority only",
         {{":method", "CONNECT"}, {":authority", "proxy.example:443"}},
         "CONNECT",
         "",
         "proxy.example:443",
         ""},
        {"OPTIONS *",
         {{":method", "OPTIONS"}, {":scheme", "https"}, {":authority", "a.example"}, {":path", "*"}},
         "OPTIONS",
         "https",
         "a.example",
         "*"},
        {"every tchar in a name, obs-text and an inner tab in values",
         get() + Hdrs{{"x-!#$%&'*+.^_`|~0", "v"}, {"x-utf8", "caf\xc3\xa9 \xff"}, {"x-tab", "a\tb"}}, "GET", "https",
         "example.com", "/"},
        {"http scheme, empty value, inner space",
         {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/p"}, {"x-e", ""}, {"x-s", "a b"}},
         "GET",
         "http",
         "a",
         "/p"},
    };
    for (const Ok& ok : oks) {
        INFO(ok.name);
        Session s(Role::server);
        s.handshake();
        s.open(1, ok.headers, true);
        expect_no_error(s, s.drain());
        const auto req = s.events.on<ev::Request>(1);
        REQUIRE(req.has_value());
        CHECK(plain(req->headers) == ok.headers);
        CHECK(req->method == ok.method);
        CHECK(req->scheme == ok.scheme);
        CHECK(req->authority == ok.authority);
        CHECK(req->path == ok.path);
        CHECK(req->end_stream);
    }
}

TEST_CASE("connection messages: malformed requests are reset with PROTOCOL_ERROR") {
    for (const Malformed& m : malformed_requests()) {
        INFO(m.name);
        Session s(Role::server);
        s.handshake();
        const std::size_t before = s.events.size();
        s.open(1, m.headers, true);
        expect_malformed(s, 1, before);
        CHECK(s.events.count<ev::Request>() == 0);
        CHECK(s.events.count<StreamEnded>() == 0);
        // The connection carries on.
        s.open(3, get(), true);
        expect_no_error(s, s.drain(), s.events.size());
        CHECK(s.events.on<ev::Request>(3).has_value());
    }
}

// Regular fields found valid once are remembered with their HPACK table
// entry (hpack::FieldSink memo) and not checked again when the peer indexes
// them: a field that failed must fail again when it comes back indexed, and a
// remembered field must not hide a misplaced pseudo-header or a bad
// content-length.
TEST_CASE("connection messages: checks hold when the peer sends a field again from its HPACK table") {
    for (const Malformed& m : malformed_requests()) {
        INFO(m.name);
        Session s(Role::server);
        s.handshake();
        for (const std::uint32_t id : {1u, 3u, 5u}) {  // literal, then indexed (when the peer indexed it)
            const std::size_t before = s.events.size();
            s.open(id, m.headers, true);
            expect_malformed(s, id, before);
        }
        CHECK(s.events.count<ev::Request>() == 0);
    }
    SUBCASE("requests") {
        Session s(Role::server);
        s.handshake();
        const Hdrs fields{{"accept", "*/*"}, {"user-agent", "h2wire-test/1.0"}, {"content-length", "0"}};
        s.open(1, get() + fields, true);
        s.open(3, get() + fields, true);
        expect_no_error(s, s.drain());
        REQUIRE(s.events.count<ev::Request>() == 2);
        // The same, now indexed, around a pseudo-header in the wrong place.
        std::size_t before = s.events.size();
        s.open(5,
               {{":method", "GET"}, {":scheme", "https"}, {"accept", "*/*"}, {":authority", "example.com"}, {":path", "/"}},
               true);
        expect_malformed(s, 5, before);
        // Indexed fields with a content-length that disagrees with the body.
        before = s.events.size();
        s.feed(cat({s.peer.headers(7, request("POST", "/") + fields, false), s.peer.data(7, "xyz", true)}));
        expect_malformed(s, 7, before);
        s.open(9, get() + fields, true);
        expect_no_error(s, s.drain(), s.events.size());
        CHECK(s.events.on<ev::Request>(9).has_value());
    }
    SUBCASE("responses and trailers") {
        Session s(Role::client);
        s.handshake();
        const Hdrs bad{{"x-ok", "1"}, {"Set-Cookie", "a=b"}};
        for (int i = 0; i < 3; ++i) {
            const std::uint32_t id = s.request(get(), true);
            const std::size_t before = s.events.size();
            s.feed(s.peer.headers(id, response(200, bad), true));
            expect_malformed(s, id, before);
        }
        for (int i = 0; i < 3; ++i) {
            const std::uint32_t id = s.request(get(), true);
            s.feed(s.peer.headers(id, response(200, {{"x-ok", "1"}}), false));
            const std::size_t before = s.events.size();
            s.feed(s.peer.headers(id, {{"x-ok", "1"}, {"X-Sum", "9"}}, true));
            expect_malformed(s, id, before);
        }
        const std::uint32_t id = s.request(get(), true);
        s.feed(s.peer.headers(id, response(200, {{"x-ok", "1"}}), false));
        s.feed(s.peer.headers(id, {{"x-ok", "1"}}, true));
        expect_no_error(s, s.drain(), s.events.size());
        CHECK(s.events.on<ev::Trailers>(id).has_value());
    }
}

// Pseudo-headers are remembered too (which one, and that the value passed):
// an indexed one then skips the checks of its name and value, but never
// those of its place in the message. content-length is never skipped, even
// when the peer indexes it.
TEST_CASE("connection messages: remembered pseudo-headers and an indexed content-length are still checked in place") {
    // HPACK blocks written by hand (RFC 7541 §6): 0x82 ":method GET", 0x87
    // ":scheme https", 0x84 ":path /", 0x88 ":status 200" (static indexes);
    // 0x41 + literal value: ":authority" with incremental indexing.
    const Bytes authority_literal = cat({{0x41, 0x0b}, bytes_of("example.com")});
    const Bytes content_length_5 = cat({{0x40, 0x0e}, bytes_of("content-length"), {0x01, '5'}});
    SUBCASE("requests") {
        Session s(Role::server);
        s.handshake();
        // Indexes ":authority example.com" (dynamic 62); the four pseudo-headers
        // are now remembered in the server's decoder.
        s.feed(s.peer.headers_block(1, cat({{0x82, 0x87}, authority_literal, {0x84}}), true));
        expect_no_error(s, s.drain());
        REQUIRE(s.events.on<ev::Request>(1).has_value());
        CHECK(s.events.on<ev::Request>(1)->authority == "example.com");
        struct Case {
            const char* name;
            Bytes block;
        };
        const std::vector<Case> cases{
            {"duplicate :method", {0x82, 0x82, 0x87, 0xbe, 0x84}},
            {"duplicate :authority", {0x82, 0x87, 0xbe, 0xbe, 0x84}},
            // "accept: */*" as a literal without indexing (static name 19).
            {":authority after a regular field", cat({{0x82, 0x87, 0x84}, {0x0f, 0x04, 0x03}, bytes_of("*/*"), {0xbe}})},
            {":status in a request", {0x82, 0x87, 0xbe, 0x84, 0x88}},
        };
        std::uint32_t id = 3;
        for (const Case& c : cases) {
            CAPTURE(c.name);
            const std::size_t before = s.events.size();
            s.feed(s.peer.headers_block(id, c.block, true));
            expect_malformed(s, id, before);
            id += 2;
        }
        // Trailers that repeat an indexed pseudo-header.
        std::size_t before = s.events.size();
        s.feed(s.peer.headers_block(id, Bytes{0x82, 0x87, 0xbe, 0x84}, false));
        s.feed(s.peer.headers_block(id, Bytes{0xbe}, true));
        expect_malformed(s, id, before);
        id += 2;
        // content-length indexed (dynamic 62, :authority now 63), then sent
        // from the table: both times it must match the body.
        for (const bool first : {true, false}) {
            CAPTURE(first);
            const Bytes cl = first ? content_length_5 : Bytes{0xbe};
            const Bytes auth{static_cast<std::uint8_t>(first ? 0xbe : 0xbf)};
            before = s.events.size();
            s.feed(cat({s.peer.headers_block(id, cat({{0x83, 0x87}, auth, {0x84}, cl}), false),
                        s.peer.data(id, "abc", true)}));
            expect_malformed(s, id, before);
            id += 2;
            s.feed(cat({s.peer.headers_block(id, cat({{0x83, 0x87}, Bytes{0xbf}, {0x84}, Bytes{0xbe}}), false),
                        s.peer.data(id, "12345", true)}));
            expect_no_error(s, s.drain(), s.events.size());
            CHECK(s.events.on<ev::Request>(id).has_value());
            CHECK(s.events.count_on<StreamEnded>(id) == 1);
            id += 2;
        }
    }
    SUBCASE("responses") {
        Session s(Role::client);
        s.handshake();
        std::uint32_t id = s.request(get(), true);
        s.feed(s.peer.headers_block(id, Bytes{0x88}, true));  // ":status 200": now remembered
        expect_no_error(s, s.drain());
        REQUIRE(s.events.on<ev::Response>(id).has_value());
        // Duplicate; after "content-type: x" (a literal without indexing).
        for (const Bytes& bad : {Bytes{0x88, 0x88}, cat({{0x0f, 0x10, 0x01}, bytes_of("x"), {0x88}})}) {
            id = s.request(get(), true);
            const std::size_t before = s.events.size();
            s.feed(s.peer.headers_block(id, bad, true));
            expect_malformed(s, id, before);
        }
        id = s.request(get(), true);
        s.feed(s.peer.headers_block(id, Bytes{0x88}, false));
        const std::size_t before = s.events.size();
        s.feed(s.peer.headers_block(id, Bytes{0x88}, true));  // in trailers
        expect_malformed(s, id, before);
    }
}

// RFC 9110 §8.6: a list of equal values, or several equal fields, is one
// content-length.
TEST_CASE("connection messages: equal content-length values fold into one") {
    Session s(Role::server);
    s.handshake();
    s.feed(cat({s.peer.headers(1, request() + Hdrs{{"content-length", "3, 3"}}, false), s.peer.data(1, "abc", true)}));
    s.feed(cat({s.peer.headers(3, request() + Hdrs{{"content-length", "3"}, {"content-length", "3"}}, false),
                s.peer.data(3, "abc", true)}));
    expect_no_error(s, s.drain());
    for (const std::uint32_t id : {1u, 3u}) {
        CHECK(s.events.on<ev::Request>(id).has_value());
        CHECK(s.events.count_on<StreamEnded>(id) == 1);
    }
    // And a short body against it is still caught.
    const std::size_t before = s.events.size();
    s.feed(cat({s.peer.headers(5, request() + Hdrs{{"content-length", "3, 3"}}, false), s.peer.data(5, "ab", true)}));
    expect_malformed(s, 5, before);
}

// A content-length in trailers is not framing (RFC 9110 §6.5.1): it is
// checked as an ordinary field and otherwise ignored, and the same field
// coming back from the HPACK table in a header section is still read there.
TEST_CASE("connection messages: content-length in trailers is an ordinary field, and still framing in headers") {
    Session s(Role::server);
    s.handshake();
    // "content-length: 3" indexed (literal with incremental indexing, new
    // name) in the trailers of stream 1, then sent from the table (index 62)
    // in the header section of stream 3, whose body is too short for it.
    const Bytes indexed = cat({{0x40, 0x0e}, bytes_of("content-length"), {0x01, '3'}});
    s.feed(cat({s.peer.headers(1, request(), false), s.peer.data(1, "abcdef", false),
                s.peer.headers_block(1, indexed, true)}));
    expect_no_error(s, s.drain());
    REQUIRE(s.events.on<ev::Trailers>(1).has_value());
    CHECK(s.events.count_on<StreamEnded>(1) == 1);
    std::size_t before = s.events.size();
    s.feed(cat({s.peer.headers_block(3, cat({{0x83, 0x87, 0x84}, Bytes{0x41, 0x01, 'x'}, Bytes{0xbf}}), false),
                s.peer.data(3, "ab", true)}));
    expect_malformed(s, 3, before);
    // Anything but a number there is fine too; a field that is invalid as a
    // field is not.
    before = s.events.size();
    s.feed(cat({s.peer.headers(5, request(), false), s.peer.headers(5, {{"content-length", "abc"}}, true)}));
    expect_no_error(s, s.drain(), before);
    CHECK(s.events.on<ev::Trailers>(5).has_value());
    before = s.events.size();
    s.feed(cat({s.peer.headers(7, request(), false), s.peer.headers(7, {{"content-length", " 1"}}, true)}));
    expect_malformed(s, 7, before);
}

TEST_CASE("connection messages: malformed trailers") {
    struct Case {
        const char* name;
        Hdrs trailers;
        bool end_stream;
    };
    const Case cases[] = {
        {"pseudo-header in trailers", {{":path", "/"}}, true},
        {":status in trailers", {{":status", "200"}}, true},
        {"uppercase name in trailers", {{"X-Sum", "1"}}, true},
        {"trailers without END_STREAM", {{"x-sum", "1"}}, false},
    };
    for (const Case& c : cases) {
        INFO(c.name);
        {
            Session s(Role::server);
            s.handshake();
            s.feed(cat({s.peer.headers(1, request(), false), s.peer.data(1, "body", false)}));
            const std::size_t before = s.events.size();
            s.feed(s.peer.headers(1, c.trailers, c.end_stream));
            expect_malformed(s, 1, before);
            CHECK(s.events.count<ev::Trailers>() == 0);
        }
        {
            Session s(Role::client);
            s.handshake();
            s.request(get(), true);
            s.feed(cat({s.peer.headers(1, response(), false), s.peer.data(1, "body", false)}));
            const std::size_t before = s.events.size();
            s.feed(s.peer.headers(1, c.trailers, c.end_stream));
            expect_malformed(s, 1, before);
            CHECK(s.events.count<ev::Trailers>() == 0);
        }
    }
}

TEST_CASE("connection messages: responses, 1xx any number of times, then the final one") {
    Session s(Role::client);
    s.handshake();
    const std::uint32_t id = s.request(request(), false);
    s.feed(s.peer.headers(id, response(100), false));
    s.feed(s.peer.headers(id, response(103, {{"link", "</style.css>; rel=preload"}}), false));
    s.feed(s.peer.headers(id, response(103, {{"link", "</app.js>; rel=preload"}}), false));
    s.feed(s.peer.headers(id, response(200, {{"content-type", "text/html"}}), false));
    s.feed(s.peer.data(id, "<html>", false));
    s.feed(s.peer.headers(id, {{"x-trailer", "t"}}, true));
    expect_no_error(s, s.drain());
    INFO(s.events.str());
    const auto infos = s.events.all<ev::Informational>();
    REQUIRE(infos.size() == 3);
    CHECK(infos[0].status == 100);
    CHECK(infos[1].status == 103);
    CHECK(infos[2].status == 103);
    CHECK(find_field(infos[2].headers, "link") == "</app.js>; rel=preload");
    const auto r = s.events.on<ev::Response>(id);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(!r->end_stream);
    CHECK(find_field(r->headers, "content-type") == "text/html");
    CHECK(string_of(s.events.data_of(id)) == "<html>");
    CHECK(s.events.on<ev::Trailers>(id).has_value());
    CHECK(s.events.count_on<StreamEnded>(id) == 1);
    // Order on the stream.
    const auto lines = s.events.lines_on(id);
    REQUIRE(lines.size() == 7);
    CHECK(lines[0].rfind("Informational", 0) == 0);
    CHECK(lines[3].rfind("Response", 0) == 0);
    CHECK(lines[4].rfind("Data", 0) == 0);
    CHECK(lines[5].rfind("Trailers", 0) == 0);
}

TEST_CASE("connection messages: a flood of 1xx responses is cut at Limits::max_informational_responses") {
    Config c;
    c.limits.max_informational_responses = 3;
    Session s(Role::client, c);
    s.handshake();
    const std::uint32_t id = s.request(get(), true);
    for (int i = 0; i < 3; ++i) s.feed(s.peer.headers(id, response(103, {{"link", "</a.css>"}}), false));
    expect_no_error(s, s.drain());
    CHECK(s.events.count<ev::Informational>() == 3);
    // The fourth goes past the limit: ENHANCE_YOUR_CALM on the stream, the
    // connection goes on.
    const std::size_t before = s.events.size();
    s.feed(s.peer.headers(id, response(103), false));
    expect_stream_error(s, s.drain(), id, ErrorCode::enhance_your_calm, before);
    CHECK(s.events.count<ev::Informational>() == 3);
    const std::uint32_t next = s.request(get(), true);
    s.feed(s.peer.headers(next, response(100), false));
    s.feed(s.peer.headers(next, response(200), true));
    expect_no_error(s, s.drain(), s.events.size());
    CHECK(s.events.on<ev::Response>(next).has_value());
}

TEST_CASE("connection messages: malformed responses are reset with PROTOCOL_ERROR") {
    SUBCASE("header blocks") for (const Malformed& m : malformed_responses()) {
        INFO(m.name);
        Session s(Role::client);
        s.handshake();
        s.request(get(), true);
        const std::size_t before = s.events.size();
        s.feed(s.peer.headers(1, m.headers, true));
        expect_malformed(s, 1, before);
        CHECK(s.events.count<ev::Response>() == 0);
        CHECK(s.events.count<StreamEnded>() == 0);
        // The connection carries on.
        s.request(get(), true);
        s.feed(s.peer.headers(3, response(), true));
        expect_no_error(s, s.drain(), s.events.size());
        CHECK(s.events.on<ev::Response>(3).has_value());
    }
    SUBCASE("a 1xx response with END_STREAM") {
        Session s(Role::client);
        s.handshake();
        s.request(get(), true);
        const std::size_t before = s.events.size();
        s.feed(s.peer.headers(1, response(103), true));
        expect_malformed(s, 1, before);
    }
    SUBCASE("a second final response") {
        Session s(Role::client);
        s.handshake();
        s.request(get(), true);
        s.feed(s.peer.headers(1, response(200), false));
        const std::size_t before = s.events.size();
        s.feed(s.peer.headers(1, response(200), false));
        expect_malformed(s, 1, before);
    }
    SUBCASE("DATA before the response's HEADERS") {
        Session s(Role::client);
        s.handshake();
        s.request(get(), true);
        const std::size_t before = s.events.size();
        s.feed(s.peer.data(1, "early", false));
        expect_malformed(s, 1, before);
        CHECK(s.events.count<ev::Data>() == 0);
    }
}

TEST_CASE("connection messages: content-length must match the DATA (RFC 9113 §8.1.1)") {
    const Hdrs cl10 = request() + Hdrs{{"content-length", "10"}};
    SUBCASE("request: more than announced, in one frame") {
        Session s(Role::server);
        s.handshake();
        s.open(1, cl10, false);
        const std::size_t before = s.events.size();
        s.feed(s.peer.data(1, "0123456789X", true));
        expect_malformed(s, 1, before);
        CHECK(s.events.data_of(1).size() <= 10);
        CHECK(s.events.count<StreamEnded>() == 0);
    }
    SUBCASE("request: more than announced, over frames") {
        Session s(Role::server);
        s.handshake();
        s.open(1, cl10, false);
        s.feed(s.peer.data(1, "012345", false));
        const std::size_t before = s.events.size();
        s.feed(s.peer.data(1, "6789X", false));
        expect_malformed(s, 1, before);
        CHECK(s.events.data_of(1).size() <= 10);
    }
    SUBCASE("request: less than announced at END_STREAM") {
        Session s(Role::server);
        s.handshake();
        s.open(1, cl10, false);
        const std::size_t before = s.events.size();
        s.feed(s.peer.data(1, "01234", true));
        expect_malformed(s, 1, before);
        CHECK(s.events.count<StreamEnded>() == 0);
    }
    SUBCASE("request: END_STREAM on the HEADERS with content-length 10") {
        Session s(Role::server);
        s.handshake();
        const std::size_t before = s.events.size();
        s.open(1, cl10, true);
        expect_malformed(s, 1, before);
        CHECK(s.events.count<ev::Request>() == 0);
    }
    SUBCASE("request: less than announced, ended by trailers") {
        Session s(Role::server);
        s.handshake();
        s.open(1, cl10, false);
        s.feed(s.peer.data(1, "01234", false));
        const std::size_t before = s.events.size();
        s.feed(s.peer.headers(1, {{"x-t", "1"}}, true));
        expect_malformed(s, 1, before);
    }
    SUBCASE("request: exact, with padding (padding is not content)") {
        Session s(Role::server);
        s.handshake();
        s.open(1, cl10, false);
        s.feed(cat({s.peer.data(1, "01234", false, 20), s.peer.data(1, "56789", true, 0)}));
        expect_no_error(s, s.drain());
        CHECK(string_of(s.events.data_of(1)) == "0123456789");
        CHECK(s.events.count_on<StreamEnded>(1) == 1);
    }
    SUBCASE("response: more and less than announced") {
        for (const char* body : {"0123456789X", "012"}) {
            CAPTURE(body);
            Session s(Role::client);
            s.handshake();
            s.request(get(), true);
            s.feed(s.peer.headers(1, response(200, {{"content-length", "10"}}), false));
            const std::size_t before = s.events.size();
            s.feed(s.peer.data(1, body, true));
            expect_malformed(s, 1, before);
            CHECK(s.events.count<StreamEnded>() == 0);
        }
    }
    SUBCASE("responses to HEAD and 304 carry content-length without a body") {
        struct Case {
            std::string method;
            int status;
        };
        for (const Case& c : {Case{"HEAD", 200}, Case{"GET", 304}}) {
            CAPTURE(c.method);
            Session s(Role::client);
            s.handshake();
            s.request(request(c.method, "/"), true);
            s.feed(s.peer.headers(1, response(c.status, {{"content-length", "1234"}}), true));
            expect_no_error(s, s.drain());
            const auto r = s.events.on<ev::Response>(1);
            REQUIRE(r.has_value());
            CHECK(r->status == c.status);
            CHECK(r->end_stream);
            CHECK(s.events.count_on<StreamEnded>(1) == 1);
        }
    }
}

TEST_CASE("connection messages: validate_messages=false passes fields through") {
    Config c;
    c.validate_messages = false;
    SUBCASE("server") {
        Session s(Role::server, c);
        s.handshake();
        const Hdrs h{{":method", "GET"}, {":path", "/"},      {"Upper-Case", "v"},    {"connection", "keep-alive"},
                     {"te", "gzip"},     {"x-v", " padded "}, {"content-length", "3"}};
        s.feed(cat({s.peer.headers(1, h, false), s.peer.data(1, "12345", true)}));
        expect_no_error(s, s.drain());
        const auto req = s.events.on<ev::Request>(1);
        REQUIRE(req.has_value());
        CHECK(plain(req->headers) == h);
        CHECK(req->method == "GET");
        CHECK(req->scheme == "");
        CHECK(string_of(s.events.data_of(1)) == "12345");
        CHECK(s.events.count_on<StreamEnded>(1) == 1);
    }
    SUBCASE("client") {
        Session s(Role::client, c);
        s.handshake();
        s.request(get(), true);
        const Hdrs h{{":status", "200"}, {"Server", "x"}, {"transfer-encoding", "chunked"}};
        s.feed(s.peer.headers(1, h, true));
        expect_no_error(s, s.drain());
        const auto r = s.events.on<ev::Response>(1);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(plain(r->headers) == h);
    }
}

TEST_CASE("connection messages: the application's own invalid fields are refused and nothing is sent") {
    SUBCASE("submit_request") {
        const std::vector<Malformed> bad{
            {"uppercase name", get() + Hdrs{{"Accept", "*/*"}}},
            {"connection field", get() + Hdrs{{"connection", "close"}}},
            {"transfer-encoding", get() + Hdrs{{"transfer-encoding", "chunked"}}},
            {"te: gzip", get() + Hdrs{{"te", "gzip"}}},
            {"missing :method", {{":scheme", "https"}, {":authority", "a"}, {":path", "/"}}},
            {"missing :path", {{":method", "GET"}, {":scheme", "https"}, {":authority", "a"}}},
            {"unknown pseudo-header", get() + Hdrs{{":foo", "1"}}},
            {":status in a request", get() + Hdrs{{":status", "200"}}},
            {"pseudo-header after a regular field", Hdrs{{"accept", "*/*"}} + get()},
            {"CR LF in a value", get() + Hdrs{{"x-v", "a\r\nx-injected: 1"}}},
            {"NUL in a value", get() + Hdrs{{"x-v", std::string("a\0", 2)}}},
            {"leading space in a value", get() + Hdrs{{"x-v", " a"}}},
        };
        for (const Malformed& m : bad) {
            INFO(m.name);
            Session s(Role::client);
            s.handshake();
            const auto f = fields(m.headers);
            const Submitted sub = s.conn.submit_request(f, true);
            CHECK(sub.error == ApiError::invalid_header);
            CHECK(!s.conn.wants_write());
            CHECK(s.drain().empty());
            CHECK(s.conn.open_streams() == 0);
            // Still usable.
            const std::uint32_t id = s.request(get(), true);
            CHECK(id % 2 == 1);
            CHECK(count(s.peer.frames(), Type::headers) == 1);
        }
    }
    SUBCASE("submit_response and send_trailers") {
        const std::vector<Malformed> bad{
            {"missing :status", {{"content-type", "text/plain"}}},
            {":status not a number", {{":status", "2x0"}}},
            {":path in a response", {{":status", "200"}, {":path", "/"}}},
            {"uppercase name", {{":status", "200"}, {"Server", "x"}}},
            {"keep-alive", {{":status", "200"}, {"keep-alive", "1"}}},
            {"LF in a value", {{":status", "200"}, {"x-v", "a\nb"}}},
        };
        for (const Malformed& m : bad) {
            INFO(m.name);
            Session s(Role::server);
            s.handshake();
            s.open(1, get(), true);
            s.drain();
            CHECK(s.conn.submit_response(1, fields(m.headers), true) == ApiError::invalid_header);
            CHECK(!s.conn.wants_write());
            CHECK(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
            CHECK(s.conn.send_trailers(1, fields(Hdrs{{":status", "200"}})) == ApiError::invalid_header);
            CHECK(s.conn.send_trailers(1, fields(Hdrs{{"X-Upper", "1"}})) == ApiError::invalid_header);
            CHECK(s.conn.send_trailers(1, fields(Hdrs{{"x-ok", "1"}})) == ApiError::none);
            const auto out = s.drain();
            const auto hs = only(out, Type::headers, 1);
            REQUIRE(hs.size() == 2);
            CHECK(plain(hs[0].headers) == response());
            CHECK(plain(hs[1].headers) == Hdrs{{"x-ok", "1"}});
            CHECK(hs[1].end_stream());
            CHECK(count(out, Type::rst_stream) == 0);
        }
    }
}

TEST_CASE("connection messages: unusual but valid fields are sent and received unchanged") {
    const Hdrs extra{{"x-!#$%&'*+.^_`|~0", "v"}, {"x-utf8", "caf\xc3\xa9 \xff"}, {"x-tab", "a\tb"}, {"x-empty", ""}};
    Session s(Role::client);
    s.handshake();
    const std::uint32_t id = s.request(get() + extra, true);
    const auto hs = only(s.peer.frames(), Type::headers, id);
    REQUIRE(hs.size() == 1);
    CHECK(plain(hs[0].headers) == get() + extra);
    s.feed(s.peer.headers(id, response(200, extra), true));
    expect_no_error(s, s.drain());
    const auto r = s.events.on<ev::Response>(id);
    REQUIRE(r.has_value());
    CHECK(plain(r->headers) == response(200, extra));
}

TEST_CASE("connection messages: the send-side memo never lets an invalid field through") {
    // Fields that passed the checks once are marked in the encoder's table
    // and not checked again when sent again; anything that differs from a
    // marked entry is checked afresh. A refused submit encodes nothing, even
    // when the next block lives in the same memory.
    Session s(Role::client);
    s.handshake({{SettingId::max_concurrent_streams, 1000}});
    const Hdrs good = get("/memo") + Hdrs{{"te", "trailers"},
                                          {"x-token", "abc"},
                                          {"cookie", "session=0123456789abcdef0123456789"},
                                          {"accept-encoding", "gzip, deflate"}};
    const std::vector<Hdrs> bad{
        get("/memo") + Hdrs{{"te", "gzip"}},                      // same name as a marked entry
        get("/memo") + Hdrs{{"x-token", "abc "}},                 // trailing space
        get("/memo") + Hdrs{{"x-token", "abc"}, {"X-Token", "abc"}},  // uppercase twin
        get("/memo") + Hdrs{{"transfer-encoding", ""}},          // a static-table entry, never valid
        get("/memo") + Hdrs{{"connection", "close"}},
        get("/memo") + Hdrs{{"x-token", std::string("a\nb")}},
    };
    std::vector<Field> array;  // one array the application rewrites each time
    auto load = [&](const Hdrs& h) {
        array.clear();
        for (const Hdr& x : h) array.push_back(Field{x.name, x.value, x.sensitive});
    };
    Rng rng(5);
    std::vector<std::uint32_t> sent;
    for (int round = 0; round < 200; ++round) {
        const bool valid = rng.one_in(2);
        const Hdrs& h = valid ? good : bad[rng.below(bad.size())];
        load(h);
        const Submitted sub = s.conn.submit_request(array, true);
        if (valid) {
            REQUIRE(sub);
            sent.push_back(sub.stream);
        } else {
            INFO(describe(h));
            CHECK(sub.error == ApiError::invalid_header);
        }
        if (rng.one_in(3)) s.drain();
    }
    s.drain();
    const auto hs = only(s.frames_since_handshake(), Type::headers);
    REQUIRE(hs.size() == sent.size());
    for (std::size_t i = 0; i < hs.size(); ++i) {
        CHECK(hs[i].stream() == sent[i]);
        CHECK(plain(hs[i].headers) == good);
    }
    CHECK(s.peer.problems().empty());
}
