// Errors that explain (issue 14): a refused header section says which rule
// (HeaderError, with its to_string) and which field (its index, in the
// order the fields were given or arrived). For what the peer sends, the
// StreamReset (or, when the reset ends the connection, the
// ConnectionTerminated) carries it; for the application's own submissions,
// Connection::last_invalid_header() right after the call.
#include <doctest/doctest.h>

#include <set>

#include "support/connection_harness.hpp"

namespace h2wire {
inline doctest::String toString(HeaderError e) {
    return doctest::String(std::string(to_string(e)).c_str());
}
}  // namespace h2wire

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

constexpr std::uint32_t none = InvalidHeader::no_field;

struct Case {
    const char* name;
    Hdrs headers;
    HeaderError error;
    std::uint32_t field;
};

/// Requests a server refuses, with the rule and the field at fault.
std::vector<Case> bad_requests() {
    const Hdrs ok = get();  // :method :scheme :authority :path
    return {
        // The four of the issue: four rules, four answers.
        {"uppercase field name", ok + Hdrs{{"accept", "*/*"}, {"User-Agent", "x"}}, HeaderError::uppercase_name, 5},
        {"CR in a value", ok + Hdrs{{"x-v", "a\rb"}}, HeaderError::invalid_value_octet, 4},
        {"connection-specific field", ok + Hdrs{{"connection", "close"}}, HeaderError::connection_specific_field, 4},
        {"pseudo-header after a regular field",
         {{":method", "GET"}, {":scheme", "https"}, {"accept", "*/*"}, {":authority", "example.com"}, {":path", "/"}},
         HeaderError::pseudo_header_after_regular,
         3},
        // RFC 9113 §8.2.1, RFC 9110 §5.1, §5.5
        {"empty field name", ok + Hdrs{{"", "1"}}, HeaderError::empty_name, 4},
        {"space in a field name", ok + Hdrs{{"x field", "1"}}, HeaderError::invalid_name_octet, 4},
        {"colon inside a field name", ok + Hdrs{{"x:y", "1"}}, HeaderError::invalid_name_octet, 4},
        {"non-ASCII field name", ok + Hdrs{{"x-caf\xc3\xa9", "1"}}, HeaderError::invalid_name_octet, 4},
        {"LF in a value", ok + Hdrs{{"a", "1"}, {"x-v", "a\nb"}}, HeaderError::invalid_value_octet, 5},
        {"NUL in a value", ok + Hdrs{{"x-v", std::string("a\0b", 3)}}, HeaderError::invalid_value_octet, 4},
        {"NUL in a pseudo-header value",
         {{":method", "GET"}, {":scheme", "https"}, {":path", std::string("/\0", 2)}},
         HeaderError::invalid_value_octet,
         2},
        {"leading space in a value", ok + Hdrs{{"x-v", " a"}}, HeaderError::value_whitespace, 4},
        {"trailing tab in a value", ok + Hdrs{{"x-v", "a\t"}}, HeaderError::value_whitespace, 4},
        // RFC 9113 §8.2.2
        {"transfer-encoding", ok + Hdrs{{"transfer-encoding", "chunked"}}, HeaderError::connection_specific_field, 4},
        {"te: gzip", ok + Hdrs{{"te", "gzip"}}, HeaderError::te_not_trailers, 4},
        // RFC 9113 §8.3, §8.3.1
        {"unknown pseudo-header", ok + Hdrs{{":foo", "bar"}}, HeaderError::unknown_pseudo_header, 4},
        {":status in a request", ok + Hdrs{{":status", "200"}}, HeaderError::misplaced_pseudo_header, 4},
        {"duplicate :method", ok + Hdrs{{":method", "POST"}}, HeaderError::duplicate_pseudo_header, 4},
        {"missing :method",
         {{":scheme", "https"}, {":authority", "example.com"}, {":path", "/"}},
         HeaderError::missing_method,
         none},
        {"empty :method",
         {{":method", ""}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/"}},
         HeaderError::missing_method,
         0},
        {"missing :scheme", {{":method", "GET"}, {":path", "/"}}, HeaderError::missing_scheme, none},
        {"missing :path", {{":method", "GET"}, {":scheme", "https"}}, HeaderError::missing_path, none},
        {"empty :path", {{":method", "GET"}, {":scheme", "https"}, {":path", ""}}, HeaderError::empty_path, 2},
        // RFC 9113 §8.5, RFC 8441 §4
        {"CONNECT with :path",
         {{":method", "CONNECT"}, {":authority", "example.com:443"}, {":path", "/"}},
         HeaderError::connect_with_scheme_or_path,
         2},
        {"CONNECT without :authority", {{":method", "CONNECT"}}, HeaderError::missing_authority, none},
        {":protocol on GET", ok + Hdrs{{":protocol", "websocket"}}, HeaderError::protocol_without_connect, 4},
        // RFC 9110 §8.6
        {"content-length not a number", ok + Hdrs{{"content-length", "ten"}}, HeaderError::invalid_content_length, 4},
        {"two differing content-lengths", ok + Hdrs{{"content-length", "0"}, {"x", "y"}, {"content-length", "1"}},
         HeaderError::invalid_content_length, 6},
        {"content-length with a leading space", ok + Hdrs{{"content-length", " 0"}}, HeaderError::value_whitespace, 4},
    };
}

/// Responses a client refuses.
std::vector<Case> bad_responses() {
    return {
        {"missing :status", {{"content-type", "text/plain"}}, HeaderError::missing_status, none},
        {":status not a number", {{":status", "abc"}}, HeaderError::invalid_status, 0},
        {":status 101", {{":status", "101"}}, HeaderError::status_101, 0},
        {"duplicate :status", {{":status", "200"}, {":status", "204"}}, HeaderError::duplicate_pseudo_header, 1},
        {":path in a response", {{":status", "200"}, {":path", "/"}}, HeaderError::misplaced_pseudo_header, 1},
        {"unknown pseudo-header", {{":status", "200"}, {":bar", "1"}}, HeaderError::unknown_pseudo_header, 1},
        {"uppercase field name", {{":status", "200"}, {"server", "x"}, {"Date", "y"}}, HeaderError::uppercase_name, 2},
        {"upgrade", {{":status", "200"}, {"upgrade", "h2c"}}, HeaderError::connection_specific_field, 1},
        {"LF in a value", {{":status", "200"}, {"x-v", "a\nb"}}, HeaderError::invalid_value_octet, 1},
    };
}

/// What one receive() call reported, copied (the reasons of our own resets
/// and terminations are static text).
struct Reported {
    std::vector<StreamReset> resets;
    std::vector<ConnectionTerminated> terminations;
    std::size_t events = 0;
    std::vector<Bytes> input;  // kept alive, as receive() asks
};

/// Feeds `bytes` straight to the connection (not through Session::feed,
/// whose owned events leave InvalidHeader out), cut as `split` says.
Reported feed_raw(Session& s, const Bytes& bytes, Split split = Split::whole()) {
    Reported r;
    std::size_t pos = 0;
    for (const std::size_t n : cut(bytes.size(), split)) {
        const Bytes& piece = r.input.emplace_back(bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                                                  bytes.begin() + static_cast<std::ptrdiff_t>(pos + n));
        pos += n;
        for (const Event& e : s.conn.receive(piece)) {
            ++r.events;
            if (const auto* x = std::get_if<StreamReset>(&e)) r.resets.push_back(*x);
            if (const auto* x = std::get_if<ConnectionTerminated>(&e)) r.terminations.push_back(*x);
        }
    }
    return r;
}

/// The one reset on `stream`, by us, PROTOCOL_ERROR, RST_STREAM on the wire.
StreamReset expect_reset(Session& s, const Reported& r, std::uint32_t stream) {
    REQUIRE(r.resets.size() == 1);
    const StreamReset& x = r.resets[0];
    CHECK(x.stream == stream);
    CHECK(x.code == ErrorCode::protocol_error);
    CHECK(x.by == Initiator::local);
    CHECK(r.terminations.empty());
    const auto out = s.drain();
    const auto rsts = only(out, Type::rst_stream, stream);
    REQUIRE(rsts.size() == 1);
    CHECK(rsts[0].code == ErrorCode::protocol_error);
    CHECK(count(out, Type::goaway) == 0);
    return x;
}

Session client_with_request() {
    Session s(Role::client);
    s.handshake();
    s.request(get(), true);
    return s;
}

}  // namespace

TEST_CASE("header errors: every HeaderError has its own text") {
    std::set<std::string_view> texts;
    const auto last = static_cast<int>(HeaderError::header_list_too_large);
    for (int i = 0; i <= last; ++i) {
        const std::string_view t = to_string(static_cast<HeaderError>(i));
        CHECK(!t.empty());
        CHECK(t != "unknown header error");
        texts.insert(t);
    }
    CHECK(texts.size() == static_cast<std::size_t>(last + 1));
    CHECK(to_string(static_cast<HeaderError>(last + 1)) == "unknown header error");
    const InvalidHeader empty{};
    CHECK(!empty);
    CHECK(empty.field == InvalidHeader::no_field);
    CHECK(InvalidHeader{HeaderError::empty_path, 3});
}

TEST_CASE("header errors: the four bad fields of the issue give four reasons, with the field") {
    // The same request with one field broken four ways, on both sides.
    const std::vector<Case> all = bad_requests();
    const std::vector<Case> four(all.begin(), all.begin() + 4);
    std::set<HeaderError> seen;
    for (const Case& c : four) {
        INFO(c.name);
        seen.insert(c.error);
        {
            Session s(Role::server);
            s.handshake();
            const StreamReset r = expect_reset(s, feed_raw(s, s.peer.headers(1, c.headers, true)), 1);
            CHECK(r.invalid_header.error == c.error);
            CHECK(r.invalid_header.field == c.field);
            CHECK(r.reason == to_string(c.error));
        }
        {
            Session s(Role::client);
            s.handshake();
            const auto f = fields(c.headers);
            const Submitted sub = s.conn.submit_request(f, true);
            CHECK(sub.error == ApiError::invalid_header);
            CHECK(s.conn.last_invalid_header().error == c.error);
            CHECK(s.conn.last_invalid_header().field == c.field);
            CHECK(!s.conn.wants_write());
        }
    }
    CHECK(seen.size() == 4);
}

TEST_CASE("header errors: received requests, each rule and field, the reset says") {
    for (const Case& c : bad_requests()) {
        INFO(c.name);
        Session s(Role::server);
        s.handshake();
        const Reported got = feed_raw(s, s.peer.headers(1, c.headers, true));
        const StreamReset r = expect_reset(s, got, 1);
        CHECK(r.invalid_header.error == c.error);
        CHECK(r.invalid_header.field == c.field);
        CHECK(r.reason == to_string(c.error));
        // The connection goes on.
        const Reported next = feed_raw(s, s.peer.headers(3, get(), true));
        CHECK(next.resets.empty());
        CHECK(!s.conn.is_closed());
    }
}

TEST_CASE("header errors: the same answer whichever way the block is split, and from HPACK table entries") {
    const Case c = bad_requests()[1];  // CR in a value
    for (const Split split : all_splits()) {
        INFO(split.name());
        Session s(Role::server);
        s.handshake();
        // The block over HEADERS + CONTINUATIONs of 3 octets, fed as split.
        HeadersOptions small;
        small.max_fragment = 3;
        const Bytes block = s.peer.headers(1, c.headers, true, small);
        const StreamReset r = expect_reset(s, feed_raw(s, block, split), 1);
        CHECK(r.invalid_header.error == HeaderError::invalid_value_octet);
        CHECK(r.invalid_header.field == 4);
    }
    // Fields the peer sends again from its table (memos say "valid") do not
    // move the index.
    Session s(Role::server);
    s.handshake();
    const Hdrs good = get() + Hdrs{{"accept", "*/*"}, {"x-trace", "1"}};
    CHECK(feed_raw(s, s.peer.headers(1, good, true)).resets.empty());
    const StreamReset r = expect_reset(s, feed_raw(s, s.peer.headers(3, good + Hdrs{{"Bad", "1"}}, true)), 3);
    CHECK(r.invalid_header.error == HeaderError::uppercase_name);
    CHECK(r.invalid_header.field == 6);
}

TEST_CASE("header errors: received responses, trailers and promises") {
    SUBCASE("responses") for (const Case& c : bad_responses()) {
        INFO(c.name);
        Session s = client_with_request();
        const StreamReset r = expect_reset(s, feed_raw(s, s.peer.headers(1, c.headers, true)), 1);
        CHECK(r.invalid_header.error == c.error);
        CHECK(r.invalid_header.field == c.field);
    }
    SUBCASE("a 1xx with END_STREAM names its :status") {
        Session s = client_with_request();
        const StreamReset r =
            expect_reset(s, feed_raw(s, s.peer.headers(1, response(103, {{"link", "</a>"}}), true)), 1);
        CHECK(r.invalid_header.error == HeaderError::informational_end_stream);
        CHECK(r.invalid_header.field == 0);
    }
    SUBCASE("trailers") {
        struct T {
            const char* name;
            Hdrs trailers;
            bool end_stream;
            HeaderError error;
            std::uint32_t field;
        };
        const T cases[] = {
            {"pseudo-header", {{"x-sum", "1"}, {":path", "/"}}, true, HeaderError::pseudo_header_in_trailers, 1},
            {"uppercase name", {{"X-Sum", "1"}}, true, HeaderError::uppercase_name, 0},
            {"without END_STREAM", {{"x-sum", "1"}}, false, HeaderError::trailers_without_end_stream, none},
        };
        for (const T& t : cases) {
            INFO(t.name);
            Session s(Role::server);
            s.handshake();
            CHECK(feed_raw(s, s.peer.headers(1, request(), false)).resets.empty());
            const StreamReset r = expect_reset(s, feed_raw(s, s.peer.headers(1, t.trailers, t.end_stream)), 1);
            CHECK(r.invalid_header.error == t.error);
            CHECK(r.invalid_header.field == t.field);
        }
    }
    SUBCASE("a promise of a POST") {
        Config c;
        c.settings.enable_push = true;
        Session s(Role::client, c);
        s.handshake();
        s.request(get(), true);
        const Reported got = feed_raw(s, s.peer.push_promise(1, 2, request("POST", "/p")));
        const StreamReset r = expect_reset(s, got, 2);
        CHECK(r.invalid_header.error == HeaderError::promise_not_safe);
        CHECK(r.invalid_header.field == 0);
    }
    SUBCASE("a header list past SETTINGS_MAX_HEADER_LIST_SIZE") {
        Config c;
        c.limits.max_header_list_size = 1024;
        Session s(Role::server, c);
        s.handshake();
        const StreamReset r =
            expect_reset(s, feed_raw(s, s.peer.headers(1, get() + Hdrs{{"x-big", std::string(2000, 'a')}}, true)), 1);
        CHECK(r.invalid_header.error == HeaderError::header_list_too_large);
        CHECK(r.invalid_header.field == none);
    }
    SUBCASE("resets for other reasons carry nothing") {
        Session s(Role::server);
        s.handshake();
        CHECK(feed_raw(s, s.peer.headers(1, request("POST") + Hdrs{{"content-length", "3"}}, false)).resets.empty());
        const Reported got = feed_raw(s, s.peer.data(1, "toolong", true));
        REQUIRE(got.resets.size() == 1);
        CHECK(got.resets[0].reason == "DATA exceeds content-length");
        CHECK(!got.resets[0].invalid_header);
    }
}

TEST_CASE(
    "header errors: a malformed request that ends the connection (MadeYouReset) says why in ConnectionTerminated") {
    Config c;
    c.limits.max_rapid_resets = 2;
    Session s(Role::server, c);
    s.handshake();
    const Hdrs bad = get() + Hdrs{{"x-v", "a\nb"}};
    Bytes input;
    for (std::uint32_t id = 1; id <= 9; id += 2) append(input, s.peer.headers(id, bad, true));
    const Reported got = feed_raw(s, input);
    INFO(str(s.drain()));
    REQUIRE(got.terminations.size() == 1);
    const ConnectionTerminated& t = got.terminations[0];
    CHECK(t.code == ErrorCode::enhance_your_calm);
    CHECK(t.by == Initiator::local);
    CHECK(t.invalid_header.error == HeaderError::invalid_value_octet);
    CHECK(t.invalid_header.field == 4);
    // The streams reset before it said so too.
    REQUIRE(!got.resets.empty());
    for (const StreamReset& r : got.resets) CHECK(r.invalid_header.error == HeaderError::invalid_value_octet);
    // A malformed section that closes the last stream of a graceful
    // shutdown ends the connection as planned, and says why the stream went.
    {
        Session g(Role::server);
        g.handshake();
        g.open(1, request(), false);
        REQUIRE(g.conn.shutdown() == ApiError::none);
        const auto ping = first(g.drain(), Type::ping);
        REQUIRE(ping.has_value());
        g.feed(g.peer.ping(ping->opaque, true));
        g.drain();
        const Reported end = feed_raw(g, g.peer.headers(1, {{":path", "/"}}, true));
        REQUIRE(end.terminations.size() == 1);
        CHECK(end.terminations[0].code == ErrorCode::no_error);
        CHECK(end.terminations[0].invalid_header.error == HeaderError::pseudo_header_in_trailers);
        CHECK(end.terminations[0].invalid_header.field == 0);
    }
    // Other connection errors carry nothing.
    Session other(Role::server);
    other.handshake();
    const Reported ping = feed_raw(other, other.peer.raw(Type::ping, 0, 1, Bytes(8, 0)));
    REQUIRE(ping.terminations.size() == 1);
    CHECK(!ping.terminations[0].invalid_header);
}

TEST_CASE("header errors: submissions say the rule and the field right after the call") {
    SUBCASE("requests") for (const Case& c : bad_requests()) {
        INFO(c.name);
        Session s(Role::client);
        s.handshake();
        const auto f = fields(c.headers);
        const Submitted sub = s.conn.submit_request(f, true);
        CHECK(!sub);
        CHECK(sub.error == ApiError::invalid_header);
        const InvalidHeader bad = s.conn.last_invalid_header();
        CHECK(bad.error == c.error);
        CHECK(bad.field == c.field);
        CHECK(!s.conn.wants_write());  // nothing sent
        // The next call that takes fields starts afresh.
        CHECK(s.conn.submit_request(fields(get()), true));
        CHECK(!s.conn.last_invalid_header());
    }
    SUBCASE("responses") for (const Case& c : bad_responses()) {
        INFO(c.name);
        Session s(Role::server);
        s.handshake();
        s.open(1, get(), true);
        s.drain();
        CHECK(s.conn.submit_response(1, fields(c.headers), true) == ApiError::invalid_header);
        CHECK(s.conn.last_invalid_header().error == c.error);
        CHECK(s.conn.last_invalid_header().field == c.field);
        CHECK(!s.conn.wants_write());
    }
    SUBCASE("a 1xx that would end the stream, and a 2xx to CONNECT with content-length") {
        Session s(Role::server);
        s.handshake();
        s.open(1, get(), true);
        CHECK(s.conn.submit_response(1, fields(response(103, {{"link", "</a>"}})), true) == ApiError::invalid_header);
        CHECK(s.conn.last_invalid_header().error == HeaderError::informational_end_stream);
        CHECK(s.conn.last_invalid_header().field == 0);
        s.open(3, {{":method", "CONNECT"}, {":authority", "example.com:443"}}, false);
        CHECK(s.conn.submit_response(3, fields(response(200, {{"server", "x"}, {"content-length", "0"}})), false) ==
              ApiError::invalid_header);
        CHECK(s.conn.last_invalid_header().error == HeaderError::connect_content_length);
        CHECK(s.conn.last_invalid_header().field == 2);
    }
    SUBCASE("trailers") {
        Session s(Role::server);
        s.handshake();
        s.open(1, get(), true);
        REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
        CHECK(s.conn.send_trailers(1, fields({{"x-sum", "1"}, {":status", "200"}})) == ApiError::invalid_header);
        CHECK(s.conn.last_invalid_header().error == HeaderError::pseudo_header_in_trailers);
        CHECK(s.conn.last_invalid_header().field == 1);
        CHECK(s.conn.send_trailers(1, fields({{"grpc-status", "0"}})) == ApiError::none);
        CHECK(!s.conn.last_invalid_header());
    }
    SUBCASE("promises") {
        Session s(Role::server);
        s.handshake({{SettingId::enable_push, 1}});
        s.open(1, get(), true);
        const Submitted p = s.conn.push_promise(1, fields(request("POST", "/p")));
        CHECK(p.error == ApiError::invalid_header);
        CHECK(s.conn.last_invalid_header().error == HeaderError::promise_not_safe);
        CHECK(s.conn.last_invalid_header().field == 0);
        CHECK(s.conn.push_promise(1, fields(get("/p") + Hdrs{{"content-length", "5"}})).error ==
              ApiError::invalid_header);
        CHECK(s.conn.last_invalid_header().error == HeaderError::promise_with_content);
        CHECK(s.conn.last_invalid_header().field == 4);
    }
    SUBCASE("an h2c upgrade request") {
        Connection server({.role = Role::server});
        const auto bad = fields(get() + Hdrs{{"Host", "example.com"}});
        CHECK(server.upgrade_server("", bad) == ApiError::invalid_header);
        CHECK(server.last_invalid_header().error == HeaderError::uppercase_name);
        CHECK(server.last_invalid_header().field == 4);
        // A CONNECT is well formed but cannot be upgraded.
        CHECK(server.upgrade_server("", fields({{":method", "CONNECT"}, {":authority", "a.example:443"}})) ==
              ApiError::invalid_argument);
        CHECK(!server.last_invalid_header());
    }
}

TEST_CASE("header errors: last_invalid_header() describes the last call that took fields") {
    Session s(Role::client);
    s.handshake();
    CHECK(!s.conn.last_invalid_header());
    CHECK(s.conn.submit_request(fields(get() + Hdrs{{"Accept", "*/*"}}), true).error == ApiError::invalid_header);
    CHECK(s.conn.last_invalid_header().error == HeaderError::uppercase_name);
    // Calls that take no fields leave it.
    CHECK(s.conn.ping(opaque("12345678")) == ApiError::none);
    s.drain();
    CHECK(s.conn.last_invalid_header().error == HeaderError::uppercase_name);
    // A call that fails for another reason clears it.
    CHECK(s.conn.send_trailers(99, fields({{"x", "1"}})) == ApiError::invalid_stream);
    CHECK(!s.conn.last_invalid_header());
    // The send-side memos (fields already in the encoder's table) never
    // shift the index: the same fields, valid once, then with a bad one.
    const Hdrs good = get() + Hdrs{{"accept", "*/*"}, {"user-agent", "t"}};
    CHECK(s.conn.submit_request(fields(good), true));
    CHECK(s.conn.submit_request(fields(good + Hdrs{{"x-v", "a\rb"}}), true).error == ApiError::invalid_header);
    CHECK(s.conn.last_invalid_header().error == HeaderError::invalid_value_octet);
    CHECK(s.conn.last_invalid_header().field == 6);
    s.drain();
}
