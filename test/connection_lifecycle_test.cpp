// The application side of a stream's life: StreamClosed (once per stream the
// application saw, with the final code and who ended it, once nothing of the
// caller's is referred to), per-stream user data carried in every event,
// memory lent with send_data_borrowed() freed at StreamClosed (run under
// AddressSanitizer in CI), and the window of a stream that ends going back
// to the connection whatever the way it ended, in both flow-control modes.
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

/// A distinct non-null user data value per stream (never dereferenced).
void* tag(std::uintptr_t n) {
    return reinterpret_cast<void*>(0x1000 + n * 16);
}

/// One side's events, checked as they come: every event of a stream
/// carries the stream's user data; StreamClosed is its last event, once;
/// nothing follows ConnectionTerminated.
struct Watch {
    std::map<std::uint32_t, void*> data;  // what each stream's events must carry
    std::map<std::uint32_t, std::vector<StreamClosed>> closed;
    std::vector<std::string> problems;
    std::vector<std::uint32_t> requests;  // RequestReceived, in order
    std::vector<std::uint32_t> promised;  // PushPromiseReceived::promised_stream
    std::vector<std::uint32_t> resets;    // StreamReset
    bool terminated = false;

    void on(const Event& e) {
        const std::string line = describe(own(e));
        if (terminated) problems.push_back(line + ": after ConnectionTerminated");
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, ConnectionTerminated>) terminated = true;
                if constexpr (std::is_same_v<T, RequestReceived>) requests.push_back(x.stream);
                if constexpr (std::is_same_v<T, PushPromiseReceived>) promised.push_back(x.promised_stream);
                if constexpr (std::is_same_v<T, StreamReset>) resets.push_back(x.stream);
                if constexpr (requires { x.stream; x.user_data; }) {
                    if (x.stream == 0) return;
                    if (closed.count(x.stream)) problems.push_back(line + ": after its StreamClosed");
                    const auto it = data.find(x.stream);
                    void* const want = it == data.end() ? nullptr : it->second;
                    if (x.user_data != want) problems.push_back(line + ": wrong user data");
                    if constexpr (std::is_same_v<T, StreamClosed>) closed[x.stream].push_back(x);
                }
            },
            e);
    }
    /// Attaches user data to `stream` and expects it from now on.
    void attach(Connection& c, std::uint32_t stream, void* p) {
        CHECK(c.set_stream_user_data(stream, p) == ApiError::none);
        CHECK(c.stream_user_data(stream) == p);
        data[stream] = p;
    }
    /// "stream:CODE:by" for every StreamClosed, in stream order ("xN" when
    /// one came N times).
    std::string ends() const {
        std::string s;
        for (const auto& [id, list] : closed) {
            if (!s.empty()) s += ", ";
            s += num(id) + ":" + std::string(to_string(list.front().code)) + ":" + by_name(list.front().by);
            if (list.size() != 1) s += " x" + num(list.size());
        }
        return s;
    }
};

/// A client and a server wired together (Pair), both watched; the server
/// attaches user data to every request it is told of.
struct Ends {
    explicit Ends(Config cc = {}, Config sc = {}, std::uint64_t seed = 1) : pair(cc, sc, seed, true) {
        pair.on_client = [this](Connection& c, const Event& e) {
            client.on(e);
            if (on_client) on_client(c, e);
        };
        pair.on_server = [this](Connection& c, const Event& e) {
            server.on(e);
            if (const auto* r = std::get_if<RequestReceived>(&e)) server.attach(c, r->stream, tag(100 + r->stream));
            if (on_server) on_server(c, e);
        };
        REQUIRE(pair.run(100));
    }
    std::uint32_t request(const Hdrs& h, bool end_stream) {
        const auto f = fields(h);
        const std::uint32_t id = static_cast<std::uint32_t>(next++);
        const Submitted sub = pair.client.submit_request(f, end_stream, tag(id));
        REQUIRE(sub);
        client.data[sub.stream] = tag(id);
        CHECK(pair.client.stream_user_data(sub.stream) == tag(id));
        return sub.stream;
    }
    void run() {
        REQUIRE(pair.run(10000));
        pair.collect();
    }
    void check_clean() {
        INFO("client problems: " << join(client.problems));
        INFO("server problems: " << join(server.problems));
        CHECK(client.problems.empty());
        CHECK(server.problems.empty());
    }

    Pair pair;
    Watch client, server;
    std::function<void(Connection&, const Event&)> on_client, on_server;
    std::uintptr_t next = 1;
};

const Hdrs kResponse = response(200);

/// The StreamClosed of `stream` among `events` (required).
StreamClosed closed_on(const Events& events, std::uint32_t stream) {
    const auto x = events.on<StreamClosed>(stream);
    REQUIRE_MESSAGE(x.has_value(), "no StreamClosed for stream " << stream << " in:\n" << events.str());
    return *x;
}

}  // namespace

TEST_CASE("lifecycle: StreamClosed once per stream, with the final code, who ended it and the user data") {
    SUBCASE("END_STREAM both ways, the response last") {
        Ends t;
        t.on_server = [](Connection& c, const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e)) {
                REQUIRE(c.submit_response(r->stream, fields(kResponse), false) == ApiError::none);
                REQUIRE(c.send_data(r->stream, span_of("body"), true) == ApiError::none);
            }
        };
        t.request(get(), true);
        t.request(get(), true);
        t.run();
        CHECK(t.client.ends() == "1:NO_ERROR:peer, 3:NO_ERROR:peer");
        CHECK(t.server.ends() == "1:NO_ERROR:local, 3:NO_ERROR:local");
        t.check_clean();
        // Forgotten: nothing more to attach to or consume.
        CHECK(t.pair.client.set_stream_user_data(1, tag(9)) == ApiError::invalid_stream);
        CHECK(t.pair.client.stream_user_data(1) == nullptr);
        CHECK(t.pair.server.stream_user_data(1) == nullptr);
    }
    SUBCASE("END_STREAM both ways, the request body last") {
        Ends t;
        t.on_server = [](Connection& c, const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e))
                REQUIRE(c.submit_response(r->stream, fields(kResponse), true) == ApiError::none);
        };
        const std::uint32_t id = t.request(request(), false);
        t.run();
        CHECK(t.client.closed.empty());
        REQUIRE(t.pair.client.send_data(id, span_of("late body"), true) == ApiError::none);
        t.run();
        CHECK(t.client.ends() == "1:NO_ERROR:local");
        CHECK(t.server.ends() == "1:NO_ERROR:peer");
        t.check_clean();
    }
    SUBCASE("trailers end the response") {
        Ends t;
        t.on_server = [](Connection& c, const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e)) {
                REQUIRE(c.submit_response(r->stream, fields(kResponse), false) == ApiError::none);
                REQUIRE(c.send_data(r->stream, Bytes(50000, 'b'), false) == ApiError::none);
                const auto trailers = fields({{"grpc-status", "0"}});
                REQUIRE(c.send_trailers(r->stream, trailers) == ApiError::none);
            }
        };
        t.request(get(), true);
        t.run();
        CHECK(t.client.ends() == "1:NO_ERROR:peer");
        CHECK(t.server.ends() == "1:NO_ERROR:local");
        t.check_clean();
    }
    SUBCASE("RST_STREAM from the peer") {
        Ends t;
        t.on_server = [](Connection& c, const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e))
                REQUIRE(c.reset_stream(r->stream, ErrorCode::refused_stream) == ApiError::none);
        };
        t.request(request(), false);
        t.run();
        CHECK(t.client.ends() == "1:REFUSED_STREAM:peer");
        CHECK(t.server.ends() == "1:REFUSED_STREAM:local");
        CHECK(t.client.resets == std::vector<std::uint32_t>{1});
        t.check_clean();
    }
    SUBCASE("our reset_stream(), with DATA queued both ways") {
        Ends t;
        t.on_server = [](Connection& c, const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e)) {
                REQUIRE(c.submit_response(r->stream, fields(kResponse), false) == ApiError::none);
                REQUIRE(c.send_data(r->stream, Bytes(200000, 'r'), false) == ApiError::none);
            }
        };
        const std::uint32_t id = t.request(request(), false);
        REQUIRE(t.pair.client.send_data(id, Bytes(100000, 'q'), false) == ApiError::none);
        t.pair.step();
        t.pair.step();
        REQUIRE(t.pair.client.reset_stream(id, ErrorCode::cancel) == ApiError::none);
        t.run();
        CHECK(t.client.ends() == "1:CANCEL:local");
        CHECK(t.server.ends() == "1:CANCEL:peer");
        t.check_clean();
    }
    SUBCASE("a request refused before the server reported it: no StreamClosed there") {
        Config sc;
        sc.limits.max_concurrent_streams = 1;
        Pair pair({}, sc, 3, false);  // no handshake yet: the client does not know the limit
        Watch client, server;
        pair.on_client = [&](Connection&, const Event& e) { client.on(e); };
        pair.on_server = [&](Connection&, const Event& e) { server.on(e); };
        for (std::uintptr_t i = 1; i <= 2; ++i) {
            REQUIRE(pair.client.submit_request(fields(get()), true, tag(i)));
            client.data[static_cast<std::uint32_t>(2 * i - 1)] = tag(i);
        }
        REQUIRE(pair.run(100));
        CHECK(server.requests == std::vector<std::uint32_t>{1});
        CHECK(server.resets == std::vector<std::uint32_t>{3});  // refused: REFUSED_STREAM, by local
        REQUIRE(pair.server.submit_response(1, fields(kResponse), true) == ApiError::none);
        REQUIRE(pair.run(100));
        pair.collect();
        CHECK(client.ends() == "1:NO_ERROR:peer, 3:REFUSED_STREAM:peer");
        CHECK(server.ends() == "1:NO_ERROR:local");
        CHECK(client.problems.empty());
        CHECK(server.problems.empty());
    }
    SUBCASE("pushed streams, answered and refused") {
        Config cc;
        cc.settings.enable_push = true;
        cc.settings.initial_window_size = 16 * 1024;  // no pushed response fits in one read
        Ends t(cc);
        t.on_server = [&t](Connection& c, const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e)) {
                const std::uintptr_t n = t.next++;
                const Submitted p = c.push_promise(r->stream, fields(get("/pushed")), tag(n));
                REQUIRE(p);
                t.server.data[p.stream] = tag(n);
                CHECK(c.stream_user_data(p.stream) == tag(n));
                REQUIRE(c.submit_response(p.stream, fields(kResponse), false) == ApiError::none);
                REQUIRE(c.send_data(p.stream, Bytes(30000, 'p'), true) == ApiError::none);
                REQUIRE(c.submit_response(r->stream, fields(kResponse), true) == ApiError::none);
            }
        };
        bool refuse = false;
        t.on_client = [&](Connection& c, const Event& e) {
            if (const auto* p = std::get_if<PushPromiseReceived>(&e)) {
                if (refuse) REQUIRE(c.reset_stream(p->promised_stream, ErrorCode::cancel) == ApiError::none);
                else t.client.attach(c, p->promised_stream, tag(50 + p->promised_stream));
            }
        };
        t.request(get(), true);
        t.run();
        CHECK(t.client.promised == std::vector<std::uint32_t>{2});
        refuse = true;
        t.request(get(), true);
        t.run();
        CHECK(t.client.promised == std::vector<std::uint32_t>{2, 4});
        CHECK(t.client.ends() == "1:NO_ERROR:peer, 2:NO_ERROR:peer, 3:NO_ERROR:peer, 4:CANCEL:local");
        CHECK(t.server.ends() == "1:NO_ERROR:local, 2:NO_ERROR:local, 3:NO_ERROR:local, 4:CANCEL:peer");
        t.check_clean();
    }
    SUBCASE("the h2c upgrade's stream 1") {
        Pair pair({}, {}, 5, true);
        Watch client, server;
        pair.on_client = [&](Connection&, const Event& e) { client.on(e); };
        pair.on_server = [&](Connection& c, const Event& e) {
            server.on(e);
            if (const auto* r = std::get_if<RequestReceived>(&e)) {
                server.attach(c, r->stream, tag(7));
                REQUIRE(c.submit_response(r->stream, fields(kResponse), false) == ApiError::none);
                REQUIRE(c.send_data(r->stream, span_of("upgraded"), true) == ApiError::none);
            }
        };
        const std::string settings(pair.client.upgrade_settings_header());
        const auto f = fields(request("GET", "/"));
        REQUIRE(pair.server.upgrade_server(settings, f) == ApiError::none);
        REQUIRE(pair.client.upgrade_client("GET") == ApiError::none);
        client.attach(pair.client, 1, tag(8));
        pair.collect();  // the upgraded request, reported without input
        REQUIRE(pair.run(1000));
        pair.collect();
        CHECK(client.ends() == "1:NO_ERROR:peer");
        CHECK(server.ends() == "1:NO_ERROR:local");
        CHECK(client.problems.empty());
        CHECK(server.problems.empty());
    }
    SUBCASE("the connection ends: every stream it held, then ConnectionTerminated") {
        Ends t;
        t.request(request(), false);
        t.request(get(), true);
        t.run();
        REQUIRE(t.server.requests.size() == 2);
        REQUIRE(t.pair.server.goaway(ErrorCode::internal_error, "bye") == ApiError::none);
        t.run();
        CHECK(t.server.ends() == "1:INTERNAL_ERROR:local, 3:INTERNAL_ERROR:local");
        CHECK(t.client.ends() == "1:INTERNAL_ERROR:peer, 3:INTERNAL_ERROR:peer");
        CHECK(t.server.terminated);
        CHECK(t.client.terminated);
        t.check_clean();
    }
}

// The same matrix with a scripted peer, for what two well-behaved h2wire
// connections never do to each other.
TEST_CASE("lifecycle: ends caused by the peer's errors, GOAWAY and queued requests") {
    Config small;
    small.limits.max_concurrent_streams = 100;
    SUBCASE("queued requests refused by GOAWAY never go out") {
        Session s(Role::client);
        s.handshake({{SettingId::max_concurrent_streams, 1}});
        for (std::uintptr_t i = 0; i < 3; ++i) REQUIRE(s.conn.submit_request(fields(get()), true, tag(i)));
        s.drain();
        CHECK(count(s.frames_since_handshake(), Type::headers) == 1);
        const Events got = s.feed(s.peer.goaway(1, ErrorCode::no_error));
        CHECK(got.lines_on(3) == std::vector<std::string>{
                                     "StreamReset s=3 REFUSED_STREAM by=peer retry (not processed by the peer (GOAWAY))",
                                     "StreamClosed s=3 REFUSED_STREAM by=peer"});
        CHECK(got.lines_on(5).back() == "StreamClosed s=5 REFUSED_STREAM by=peer");
        CHECK(closed_on(got, 3).user_data == tag(1));
        CHECK(closed_on(got, 5).user_data == tag(2));
        const Events end = s.feed(s.peer.headers(1, response(200), true));
        CHECK(closed_on(end, 1).user_data == tag(0));
        CHECK(count(s.drain(), Type::headers) == 0);  // 3 and 5 never went out
    }
    SUBCASE("a queued request reset by the application") {
        Session s(Role::client);
        s.handshake({{SettingId::max_concurrent_streams, 1}});
        REQUIRE(s.conn.submit_request(fields(get()), true, tag(1)));
        REQUIRE(s.conn.submit_request(fields(get()), true, tag(3)));
        REQUIRE(s.conn.reset_stream(3, ErrorCode::cancel) == ApiError::none);
        const Events got = s.collect();  // caused by the API call: no input needed
        CHECK(got.lines() == std::vector<std::string>{"StreamClosed s=3 CANCEL by=local"});
        CHECK(closed_on(got, 3).user_data == tag(3));
        CHECK(count(s.drain(), Type::rst_stream) == 0);  // never on the wire: nothing to reset
    }
    SUBCASE("the peer's GOAWAY with an error: open and queued requests") {
        Session s(Role::client);
        s.handshake({{SettingId::max_concurrent_streams, 1}});
        REQUIRE(s.conn.submit_request(fields(get()), true, tag(1)));
        REQUIRE(s.conn.submit_request(fields(get()), true, tag(3)));
        s.drain();
        const Events got = s.feed(s.peer.goaway(1, ErrorCode::internal_error, "oops"));
        CHECK(got.lines() == std::vector<std::string>{
                                 "GoawayReceived last=1 INTERNAL_ERROR debug=oops",
                                 "StreamReset s=3 REFUSED_STREAM by=peer retry (not processed by the peer (GOAWAY))",
                                 "StreamClosed s=3 REFUSED_STREAM by=peer", "StreamClosed s=1 INTERNAL_ERROR by=peer",
                                 "ConnectionTerminated INTERNAL_ERROR by=peer last=1 (oops)"});
    }
    SUBCASE("our goaway(): NO_ERROR reads as CANCEL for the streams it cuts off") {
        Session s(Role::client);
        s.handshake({{SettingId::max_concurrent_streams, 1}});
        REQUIRE(s.conn.submit_request(fields(get()), true, tag(1)));
        REQUIRE(s.conn.submit_request(fields(get()), true, tag(3)));
        s.drain();
        REQUIRE(s.conn.goaway(ErrorCode::no_error) == ApiError::none);
        CHECK(s.collect().lines() == std::vector<std::string>{"StreamClosed s=1 CANCEL by=local",
                                                              "StreamClosed s=3 CANCEL by=local",
                                                              "ConnectionTerminated NO_ERROR by=local last=0 (GOAWAY sent)"});
    }
    SUBCASE("a connection error we find") {
        Session s(Role::server, small);
        s.handshake();
        s.open(1, request(), false);
        REQUIRE(s.conn.set_stream_user_data(1, tag(1)) == ApiError::none);
        const Events got = s.feed(s.peer.raw(Type::data, 0, 0, span_of("stream 0")));
        REQUIRE(got.size() == 2);
        CHECK(got.lines().at(0) == "StreamClosed s=1 PROTOCOL_ERROR by=local");
        CHECK(closed_on(got, 1).user_data == tag(1));
        CHECK(std::holds_alternative<ev::Terminated>(got.back()));
    }
    SUBCASE("stream errors we find after the request was reported") {
        Session s(Role::server, small);
        s.handshake();
        // content-length says 10, END_STREAM after 3.
        s.open(1, request() + Hdrs{{"content-length", "10"}}, false);
        REQUIRE(s.conn.set_stream_user_data(1, tag(1)) == ApiError::none);
        Events got = s.feed(s.peer.data(1, "abc", true));
        CHECK(got.lines_on(1) ==
              std::vector<std::string>{"Data s=1 len=3 fc=3 616263",
                                       "StreamReset s=1 PROTOCOL_ERROR by=local (END_STREAM before content-length octets of DATA)",
                                       "StreamClosed s=1 PROTOCOL_ERROR by=local"});
        CHECK(closed_on(got, 1).user_data == tag(1));
        // Trailers with an uppercase name.
        s.open(3, request(), false);
        REQUIRE(s.conn.set_stream_user_data(3, tag(3)) == ApiError::none);
        got = s.feed(s.peer.headers(3, {{"X-Bad", "1"}}, true));
        REQUIRE(got.on<StreamClosed>(3).has_value());
        CHECK(closed_on(got, 3).code == ErrorCode::protocol_error);
        CHECK(closed_on(got, 3).by == Initiator::local);
        CHECK(closed_on(got, 3).user_data == tag(3));
    }
    SUBCASE("never for a stream the application never saw") {
        Config one;
        one.limits.max_concurrent_streams = 1;
        Session s(Role::server, one);
        s.handshake();
        s.open(1, request(), false);
        // A malformed request, and one over SETTINGS_MAX_CONCURRENT_STREAMS:
        // reset (StreamReset says so) before any RequestReceived.
        Events got = s.feed(cat({s.peer.headers(3, request() + Hdrs{{"Upper", "x"}}, false),
                                 s.peer.headers(5, request(), false)}));
        CHECK(got.count<ev::Reset>() == 2);
        CHECK(got.count<ev::Request>() == 0);
        CHECK(got.count<StreamClosed>() == 0);
        CHECK(s.conn.set_stream_user_data(3, tag(3)) == ApiError::invalid_stream);
        REQUIRE(s.conn.submit_response(1, fields(kResponse), false) == ApiError::none);
        got = s.feed(s.peer.rst(1, ErrorCode::cancel));
        CHECK(got.lines() == std::vector<std::string>{"StreamReset s=1 CANCEL by=peer ()",
                                                      "StreamClosed s=1 CANCEL by=peer"});
        s.drain();
        CHECK(s.collect().empty());
    }
    SUBCASE("user data in every event of the stream, including PushPromiseReceived and StreamWritable") {
        Config push;
        push.settings.enable_push = true;
        push.settings.initial_window_size = 65535;
        Session s(Role::client, push);
        s.handshake({{SettingId::initial_window_size, 10}});
        REQUIRE(s.conn.submit_request(fields(request()), false, tag(1)));
        REQUIRE(s.conn.send_data(1, Bytes(100, 'u'), true) == ApiError::none);  // 10 go out
        s.drain();
        std::vector<std::pair<std::string, void*>> seen;
        const auto feed = [&](const Bytes& in) {
            for (const Event& e : s.conn.receive(in))
                std::visit(
                    [&](const auto& x) {
                        if constexpr (requires { x.user_data; }) seen.emplace_back(describe(own(e)), x.user_data);
                    },
                    e);
        };
        feed(s.peer.window_update(1, 200));
        s.drain();  // the rest of the body, and END_STREAM
        feed(s.peer.push_promise(1, 2, get("/p")));
        REQUIRE(s.conn.set_stream_user_data(2, tag(2)) == ApiError::none);
        feed(cat({s.peer.headers(1, response(103), false), s.peer.headers(1, response(200), false),
                  s.peer.data(1, "x", false), s.peer.altsvc(1, "", "h3=\":443\""), s.peer.headers(1, {{"t", "1"}}, true),
                  s.peer.headers(2, response(200), false), s.peer.raw(0xbb, 0, 2, span_of("?")),
                  s.peer.rst(2, ErrorCode::cancel)}));
        std::vector<std::string> lines, wrong;
        for (const auto& [line, p] : seen) {
            const bool on2 = line.find("s=2 ") != std::string::npos && line.rfind("PushPromise", 0) != 0;
            lines.push_back(line);
            if (p != (on2 ? tag(2) : tag(1))) wrong.push_back(line);
        }
        INFO(join(lines));
        CHECK(wrong.empty());
        CHECK(seen.size() == 13);
    }
}

TEST_CASE("lifecycle: set_stream_user_data() and stream_user_data()") {
    Session s(Role::server);
    s.handshake();
    CHECK(s.conn.set_stream_user_data(1, tag(1)) == ApiError::invalid_stream);  // never opened
    CHECK(s.conn.set_stream_user_data(0, tag(1)) == ApiError::invalid_stream);
    CHECK(s.conn.stream_user_data(1) == nullptr);
    s.open(1, request(), false);
    CHECK(s.conn.stream_user_data(1) == nullptr);
    REQUIRE(s.conn.set_stream_user_data(1, tag(1)) == ApiError::none);
    REQUIRE(s.conn.set_stream_user_data(1, tag(2)) == ApiError::none);  // replaced
    CHECK(s.conn.stream_user_data(1) == tag(2));
    s.feed(s.peer.data(1, "x", true));
    REQUIRE(s.conn.submit_response(1, fields(kResponse), false) == ApiError::none);
    REQUIRE(s.conn.send_data(1, span_of("body"), true) == ApiError::none);
    CHECK(!s.conn.pending_output_vectors().empty());
    CHECK(s.conn.stream_user_data(1) == tag(2));  // held until its DATA is written
    s.drain();
    CHECK(s.conn.stream_user_data(1) == nullptr);  // gone: its StreamClosed waits to be collected
    // Still the application's until it has seen the StreamClosed: a value
    // set now is carried by it.
    REQUIRE(s.conn.set_stream_user_data(1, tag(3)) == ApiError::none);
    const Events end = s.collect();
    CHECK(closed_on(end, 1).user_data == tag(3));
    s.collect();
    CHECK(s.conn.set_stream_user_data(1, tag(4)) == ApiError::invalid_stream);
}

// ---------------------------------------------------------------------------
// Borrowed bodies, freed at StreamClosed. The body is new[]'d and delete[]'d
// in the event handler; the connection then goes on, so AddressSanitizer
// reports any octet the connection still reads from it.

namespace {

/// A server answering every request with a borrowed body of `size` octets,
/// deleted when the stream's StreamClosed arrives.
struct Lender {
    explicit Lender(std::size_t body_size) : size(body_size) {}
    std::size_t size;
    std::map<std::uint32_t, std::uint8_t*> bodies;  // lent, not yet freed
    std::size_t freed = 0;

    void on(Connection& c, const Event& e) {
        if (const auto* r = std::get_if<RequestReceived>(&e)) {
            auto* body = new std::uint8_t[size];
            for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<std::uint8_t>('a' + (i + r->stream) % 26);
            REQUIRE(c.set_stream_user_data(r->stream, body) == ApiError::none);
            REQUIRE(c.submit_response(r->stream, fields(kResponse), false) == ApiError::none);
            REQUIRE(c.send_data_borrowed(r->stream, std::span<const std::uint8_t>(body, size), true) ==
                    ApiError::none);
            bodies[r->stream] = body;
        } else if (const auto* x = std::get_if<StreamClosed>(&e)) {
            const auto it = bodies.find(x->stream);
            REQUIRE(it != bodies.end());
            CHECK(x->user_data == it->second);
            std::fill(it->second, it->second + size, std::uint8_t{'X'});  // a reused buffer
            delete[] it->second;
            bodies.erase(it);
            ++freed;
        }
    }
    ~Lender() {
        for (auto& [id, body] : bodies) delete[] body;
    }
};

/// What the client got on each stream.
struct Bodies {
    std::map<std::uint32_t, std::string> data;
    std::set<std::uint32_t> ended, reset;
    void on(const Event& e) {
        if (const auto* d = std::get_if<DataReceived>(&e)) data[d->stream].append(string_of(d->data));
        if (const auto* x = std::get_if<StreamEnded>(&e)) ended.insert(x->stream);
        if (const auto* x = std::get_if<StreamReset>(&e)) reset.insert(x->stream);
    }
    bool intact(std::uint32_t stream) const {
        const auto it = data.find(stream);
        if (it == data.end()) return true;
        for (std::size_t i = 0; i < it->second.size(); ++i)
            if (it->second[i] != static_cast<char>('a' + (i + stream) % 26)) return false;
        return true;
    }
};

}  // namespace

TEST_CASE("lifecycle: borrowed bodies are freed at StreamClosed, and the connection goes on") {
    for (const std::uint64_t seed : {1u, 2u, 3u, 4u}) {
        CAPTURE(seed);
        Config cc;
        cc.settings.initial_window_size = 48 * 1024;  // the bodies stay in flight for a while
        cc.connection_window_size = 100 * 1024;
        Pair pair(cc, {}, seed, true);
        Lender lender(150 * 1024);
        Bodies got;
        pair.on_server = [&](Connection& c, const Event& e) { lender.on(c, e); };
        pair.on_client = [&](Connection&, const Event& e) { got.on(e); };
        REQUIRE(pair.run(100));
        // Rounds of requests; in each, some are cancelled by the client
        // mid-body and some by the server, the rest complete.
        std::uint32_t completed = 0, cancelled = 0;
        for (int round = 0; round < 6; ++round) {
            std::vector<std::uint32_t> ids;
            for (int i = 0; i < 6; ++i) ids.push_back(pair.client.submit_request(fields(get()), true).stream);
            for (int i = 0; i < 4; ++i) pair.step();
            for (std::size_t i = 0; i < ids.size(); ++i) {
                if (i % 3 == 1 && pair.client.reset_stream(ids[i], ErrorCode::cancel) == ApiError::none) ++cancelled;
                if (i % 3 == 2 && pair.server.reset_stream(ids[i], ErrorCode::cancel) == ApiError::none) ++cancelled;
            }
            REQUIRE(pair.run(100000));
            pair.collect();
            for (const std::uint32_t id : ids) {
                CHECK(got.intact(id));
                if (got.ended.count(id)) {
                    ++completed;
                    CHECK(got.data[id].size() == lender.size);
                }
            }
        }
        CHECK(lender.bodies.empty());  // every one freed, at its StreamClosed
        CHECK(lender.freed == 36);
        CHECK(completed >= 12);
        CHECK(cancelled >= 6);
    }
}

TEST_CASE("lifecycle: a borrowed body waits for consume_output(), whether built into vectors or copied") {
    for (const bool vectors : {true, false}) {
        CAPTURE(vectors);
        Session s(Role::server);
        s.handshake();
        s.open(1, get(), true);
        auto* body = new std::uint8_t[40000];
        std::fill(body, body + 40000, std::uint8_t{'b'});
        REQUIRE(s.conn.set_stream_user_data(1, body) == ApiError::none);
        REQUIRE(s.conn.submit_response(1, fields(kResponse), false) == ApiError::none);
        REQUIRE(s.conn.send_data_borrowed(1, std::span<const std::uint8_t>(body, 40000), true) == ApiError::none);
        std::size_t total = 0;
        Bytes wire;
        if (vectors) {
            for (const OutputChunk& c : s.conn.pending_output_vectors()) {
                wire.insert(wire.end(), c.data, c.data + c.size);
                total += c.size;
            }
        } else {
            const auto out = s.conn.pending_output();
            wire.assign(out.begin(), out.end());
            total = out.size();
        }
        // The END_STREAM is built, not written: the stream is over for the
        // protocol, but (with vectors) the output still points at the body.
        Events got = s.collect();
        if (vectors) {
            CHECK(got.count<StreamClosed>() == 0);
            s.conn.consume_output(total / 2);
            CHECK(s.collect().count<StreamClosed>() == 0);
            s.conn.consume_output(total - total / 2);
            got = s.collect();
        } else {
            // pending_output() copied it: the body is free already.
            s.conn.consume_output(total);
        }
        REQUIRE(got.count<StreamClosed>() == 1);
        CHECK(closed_on(got, 1).user_data == body);
        delete[] body;
        s.peer.read(wire);
        CHECK(data_of(s.peer.frames(), 1) == Bytes(40000, 'b'));
        // And the connection goes on.
        s.open(3, get(), true);
        REQUIRE(s.conn.submit_response(3, fields(kResponse), true) == ApiError::none);
        s.drain();
        CHECK(s.collect().count<StreamClosed>() == 1);
    }
}

TEST_CASE("lifecycle: a reset or the end of the connection copies what the output still needs, then StreamClosed") {
    enum class End { peer_reset, our_reset, goaway, peer_goaway };
    for (const End end : {End::peer_reset, End::our_reset, End::goaway, End::peer_goaway}) {
        CAPTURE(static_cast<int>(end));
        Session s(Role::server);
        s.handshake();
        s.open(1, get(), true);
        s.open(3, get(), true);
        std::map<std::uint32_t, std::uint8_t*> lent;
        for (const std::uint32_t id : {1u, 3u}) {
            auto* body = new std::uint8_t[50000];
            std::fill(body, body + 50000, static_cast<std::uint8_t>('0' + id));
            lent[id] = body;
            REQUIRE(s.conn.set_stream_user_data(id, body) == ApiError::none);
            REQUIRE(s.conn.submit_response(id, fields(kResponse), false) == ApiError::none);
            REQUIRE(s.conn.send_data_borrowed(id, std::span<const std::uint8_t>(body, 50000), false) == ApiError::none);
        }
        // Built into vectors that point at the bodies (the peer's window
        // lets 65,535 out), part of it written.
        std::size_t total = 0;
        for (const OutputChunk& c : s.conn.pending_output_vectors()) total += c.size;
        Bytes written;
        {
            const auto v = s.conn.pending_output_vectors();
            for (const OutputChunk& c : v) written.insert(written.end(), c.data, c.data + c.size);
            written.resize(total / 3);
        }
        s.conn.consume_output(total / 3);
        Events got;
        switch (end) {
            case End::peer_reset: got = s.feed(cat({s.peer.rst(1, ErrorCode::cancel), s.peer.rst(3, ErrorCode::cancel)})); break;
            case End::our_reset:
                REQUIRE(s.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
                REQUIRE(s.conn.reset_stream(3, ErrorCode::cancel) == ApiError::none);
                got = s.collect();
                break;
            case End::goaway:
                REQUIRE(s.conn.goaway(ErrorCode::internal_error) == ApiError::none);
                got = s.collect();
                break;
            case End::peer_goaway: got = s.feed(s.peer.goaway(0, ErrorCode::internal_error)); break;
        }
        REQUIRE(got.count<StreamClosed>() == 2);
        for (const StreamClosed& x : got.all<StreamClosed>()) {
            CHECK(x.user_data == lent[x.stream]);
            std::fill(lent[x.stream], lent[x.stream] + 50000, std::uint8_t{'X'});
            delete[] lent[x.stream];
            lent.erase(x.stream);
        }
        // The rest of the output that was already built goes out from the
        // copies: original octets, never the 'X' of the reused buffers.
        s.peer.read(written);
        const auto out = s.drain_vectors();
        for (const std::uint32_t id : {1u, 3u}) {
            const Bytes d = data_of(s.peer.frames(), id);
            CHECK(d.size() <= 50000);
            CHECK(std::count(d.begin(), d.end(), static_cast<std::uint8_t>('0' + id)) == static_cast<std::ptrdiff_t>(d.size()));
        }
        CHECK(s.collect().count<StreamClosed>() == 0);
    }
}

// ---------------------------------------------------------------------------
// Flow control that cannot leak: after every way a stream can end, in both
// modes, the connection receive window the peer sees (65,535 plus the
// WINDOW_UPDATEs on the wire, less the DATA it sent) goes back to where it
// started. Coalescing may hold back credit below half the window, so the
// check sends as much as the window allows on a fresh stream (the
// application consumes it): with nothing lost, the credit then reaches the
// whole window exactly, and one WINDOW_UPDATE restores it.

namespace {

constexpr std::uint32_t kWindow = 100'000;

Config windows(FlowControl mode) {
    Config c;
    c.connection_window_size = kWindow;
    c.settings.initial_window_size = 1 << 20;
    c.settings.enable_push = true;  // a client may be pushed to
    c.flow_control = mode;
    return c;
}

/// A Session whose application, in manual mode, consumes half of what each
/// DataReceived hands over, at once (the rest never: the stream's end must
/// give it back).
struct Receiver {
    Receiver(Role role, FlowControl mode, const std::function<void(Config&)>& tweak = {})
        : s(role, tweaked(mode, tweak)), manual(mode == FlowControl::manual) {
        s.handshake();
        REQUIRE(s.peer.peer_send_window() == kWindow);
    }
    static Config tweaked(FlowControl mode, const std::function<void(Config&)>& tweak) {
        Config c = windows(mode);
        if (tweak) tweak(c);
        return c;
    }
    Events feed(const Bytes& in) {
        Events got = s.feed(in);
        for (const ev::Data& d : got.all<ev::Data>()) {
            if (!manual) continue;
            CHECK(s.conn.consume(d.stream, d.flow_controlled_length / 2) == ApiError::none);
            owed[d.stream] += d.flow_controlled_length - d.flow_controlled_length / 2;
        }
        s.drain();
        return got;
    }
    /// Sends what the connection window allows on a new stream (or on
    /// `open`, a stream still open), all of it consumed, and checks that the
    /// window comes back whole.
    void check_window_restored(std::uint32_t open = 0) {
        s.drain();
        s.collect();
        const std::int64_t left = s.peer.peer_send_window();
        INFO("window after the stream ended: " << left);
        REQUIRE(left > 0);
        REQUIRE(left <= kWindow);
        std::uint32_t id = open;
        if (id == 0 && s.conn.role() == Role::server) {
            id = next_peer;
            next_peer += 2;
            s.feed(s.peer.headers(id, request(), false));
        } else if (id == 0) {
            id = s.request(get(), true);
            s.feed(s.peer.headers(id, response(200), false));
        }
        const Events got = s.feed(s.peer.data_frames(id, Bytes(static_cast<std::size_t>(left), 'f'), open == 0));
        CHECK(got.data_of(id).size() == static_cast<std::size_t>(left));
        if (manual) {
            // All of the stream's DATA (the check's and, on a stream still
            // open, what feed() left unconsumed).
            std::uint64_t fc = owed[id];
            for (const ev::Data& d : got.all<ev::Data>())
                if (d.stream == id) fc += d.flow_controlled_length;
            CHECK(s.conn.consume(id, fc) == ApiError::none);
        }
        s.drain();
        CHECK(s.peer.peer_send_window() == kWindow);
        CHECK(!s.conn.is_closed());
    }
    Session s;
    bool manual;
    std::uint32_t next_peer = 101;
    std::map<std::uint32_t, std::uint64_t> owed;  // handed over, not consumed
};

}  // namespace

TEST_CASE("lifecycle: the connection window comes back after every way a stream ends, both modes") {
    for (const FlowControl mode : {FlowControl::automatic, FlowControl::manual}) {
        const std::string mode_name = mode == FlowControl::manual ? "manual" : "automatic";
        CAPTURE(mode_name);
        const Bytes chunk(12'000, 'd');

        SUBCASE("server: END_STREAM both ways") {
            Receiver r(Role::server, mode);
            r.feed(cat({r.s.peer.headers(1, request(), false), r.s.peer.data_frames(1, Bytes(30'000, 'd'), true)}));
            REQUIRE(r.s.conn.submit_response(1, fields(kResponse), true) == ApiError::none);
            r.check_window_restored();
            CHECK(r.s.conn.consume(1, 1) == ApiError::none);  // late: a no-op
        }
        SUBCASE("server: END_STREAM from the peer after our response ended") {
            Receiver r(Role::server, mode);
            r.feed(cat({r.s.peer.headers(1, request(), false), r.s.peer.data(1, chunk, false)}));
            REQUIRE(r.s.conn.submit_response(1, fields(kResponse), true) == ApiError::none);
            r.s.drain();
            r.feed(r.s.peer.data(1, chunk, true));
            r.check_window_restored();
        }
        SUBCASE("server: trailers end the request") {
            Receiver r(Role::server, mode);
            r.feed(cat({r.s.peer.headers(1, request(), false), r.s.peer.data(1, chunk, false),
                        r.s.peer.data(1, chunk, false, 200), r.s.peer.headers(1, {{"x-t", "1"}}, true)}));
            REQUIRE(r.s.conn.submit_response(1, fields(kResponse), true) == ApiError::none);
            r.check_window_restored();
        }
        SUBCASE("server: RST_STREAM from the peer after its DATA, before our response") {
            Receiver r(Role::server, mode);
            r.feed(cat({r.s.peer.headers(1, request(), false), r.s.peer.data(1, chunk, false),
                        r.s.peer.data(1, chunk, false)}));
            r.feed(r.s.peer.rst(1, ErrorCode::cancel));
            r.check_window_restored();
        }
        SUBCASE("server: RST_STREAM from the peer in the same read as its DATA, after our DATA") {
            Receiver r(Role::server, mode);
            r.feed(r.s.peer.headers(1, request(), false));
            REQUIRE(r.s.conn.submit_response(1, fields(kResponse), false) == ApiError::none);
            REQUIRE(r.s.conn.send_data(1, Bytes(5000, 'r'), false) == ApiError::none);
            r.s.drain();
            r.feed(cat({r.s.peer.data(1, chunk, false), r.s.peer.data(1, chunk, false, 7),
                        r.s.peer.rst(1, ErrorCode::cancel)}));
            r.check_window_restored();
        }
        SUBCASE("server: our reset_stream(), with the peer's DATA in flight") {
            Receiver r(Role::server, mode);
            r.feed(cat({r.s.peer.headers(1, request(), false), r.s.peer.data(1, chunk, false)}));
            REQUIRE(r.s.conn.reset_stream(1, ErrorCode::cancel) == ApiError::none);
            r.s.drain();
            // Sent before the peer read our RST_STREAM.
            r.feed(cat({r.s.peer.data(1, chunk, false), r.s.peer.data(1, chunk, true)}));
            r.check_window_restored();
        }
        SUBCASE("server: a stream error we find: malformed trailers") {
            Receiver r(Role::server, mode);
            r.feed(cat({r.s.peer.headers(1, request(), false), r.s.peer.data(1, chunk, false),
                        r.s.peer.headers(1, {{"X-Upper", "1"}}, true)}));
            CHECK(r.s.events.count<ev::Reset>() == 1);
            r.check_window_restored();
        }
        SUBCASE("server: a stream error we find: END_STREAM short of content-length") {
            Receiver r(Role::server, mode);
            r.feed(cat({r.s.peer.headers(1, request() + Hdrs{{"content-length", "50000"}}, false),
                        r.s.peer.data(1, chunk, false), r.s.peer.data(1, chunk, true)}));
            CHECK(r.s.events.count<ev::Reset>() == 1);
            r.check_window_restored();
        }
        SUBCASE("server: a stream error we find: DATA past content-length, more in flight") {
            Receiver r(Role::server, mode);
            r.feed(cat({r.s.peer.headers(1, request() + Hdrs{{"content-length", "15000"}}, false),
                        r.s.peer.data(1, chunk, false), r.s.peer.data(1, chunk, false), r.s.peer.data(1, chunk, true)}));
            CHECK(r.s.events.count<ev::Reset>() == 1);
            r.check_window_restored();
        }
        SUBCASE("server: a stream error we find: DATA past the stream window") {
            Receiver r(Role::server, mode);
            // A smaller stream window first, for the peer to overrun.
            Settings st = r.s.conn.local_settings();
            st.initial_window_size = 10'000;
            REQUIRE(r.s.conn.update_settings(st) == ApiError::none);
            r.s.drain();
            r.feed(r.s.peer.settings_ack());
            r.feed(cat({r.s.peer.headers(1, request(), false), r.s.peer.data(1, Bytes(8000, 'd'), false),
                        r.s.peer.data(1, Bytes(8000, 'd'), false)}));
            CHECK(r.s.events.count<ev::Reset>() == 1);
            // Back to a window the check can use.
            st.initial_window_size = 1 << 20;
            REQUIRE(r.s.conn.update_settings(st) == ApiError::none);
            r.s.drain();
            r.feed(r.s.peer.settings_ack());
            r.check_window_restored();
        }
        SUBCASE("server: a refused stream's DATA") {
            Receiver r(Role::server, mode, [](Config& c) { c.limits.max_concurrent_streams = 1; });
            r.feed(r.s.peer.headers(1, request(), false));
            r.feed(cat({r.s.peer.headers(3, request(), false), r.s.peer.data(3, chunk, false),
                        r.s.peer.data(3, chunk, true)}));
            CHECK(r.s.events.count<ev::Reset>() == 1);
            REQUIRE(r.s.conn.submit_response(1, fields(kResponse), true) == ApiError::none);
            r.feed(r.s.peer.data(1, chunk, true));
            r.check_window_restored();
        }
        SUBCASE("server: DATA on a stream above our GOAWAY") {
            Receiver r(Role::server, mode);
            r.feed(r.s.peer.headers(1, request(), false));
            REQUIRE(r.s.conn.shutdown() == ApiError::none);
            const auto out = r.s.drain();
            const auto ping = first(out, Type::ping);
            REQUIRE(ping.has_value());
            r.feed(r.s.peer.ping(ping->opaque, true));  // the round trip: GOAWAY last=1
            r.feed(cat({r.s.peer.headers(3, request(), false), r.s.peer.data(3, chunk, false),
                        r.s.peer.data(3, chunk, true)}));
            CHECK(r.s.events.count<ev::Request>() == 1);
            // Stream 1 keeps the connection going: the check uses it.
            r.check_window_restored(1);
        }
        SUBCASE("client: response with END_STREAM") {
            Receiver r(Role::client, mode);
            const std::uint32_t id = r.s.request(get(), true);
            r.feed(cat({r.s.peer.headers(id, response(200), false), r.s.peer.data(id, chunk, false),
                        r.s.peer.data(id, chunk, true)}));
            r.check_window_restored();
        }
        SUBCASE("client: RST_STREAM from the peer after its DATA") {
            Receiver r(Role::client, mode);
            const std::uint32_t id = r.s.request(get(), true);
            r.feed(cat({r.s.peer.headers(id, response(200), false), r.s.peer.data(id, chunk, false)}));
            r.feed(cat({r.s.peer.data(id, chunk, false), r.s.peer.rst(id, ErrorCode::internal_error)}));
            r.check_window_restored();
        }
        SUBCASE("client: DATA past content-length") {
            Receiver r(Role::client, mode);
            const std::uint32_t id = r.s.request(get(), true);
            r.feed(cat({r.s.peer.headers(id, response(200, {{"content-length", "100"}}), false),
                        r.s.peer.data(id, chunk, true)}));
            CHECK(r.s.events.count<ev::Reset>() == 1);
            r.check_window_restored();
        }
        SUBCASE("client: a request refused by GOAWAY after DATA arrived on it") {
            Receiver r(Role::client, mode);
            const std::uint32_t a = r.s.request(get(), true);
            const std::uint32_t b = r.s.request(get(), true);
            r.feed(cat({r.s.peer.headers(a, response(200), false), r.s.peer.headers(b, response(200), false),
                        r.s.peer.data(a, chunk, false), r.s.peer.data(b, chunk, false)}));
            r.feed(r.s.peer.goaway(a, ErrorCode::no_error));
            CHECK(r.s.events.count<StreamClosed>() == 1);
            // No new request after GOAWAY: the check uses the one left.
            r.check_window_restored(a);
        }
        SUBCASE("client: pushed streams, completed and refused with DATA in flight") {
            Receiver r(Role::client, mode);
            const std::uint32_t id = r.s.request(get(), false);
            r.feed(cat({r.s.peer.push_promise(id, 2, get("/a")), r.s.peer.push_promise(id, 4, get("/b")),
                        r.s.peer.headers(id, response(200), true), r.s.peer.headers(2, response(200), false),
                        r.s.peer.headers(4, response(200), false), r.s.peer.data(2, chunk, true),
                        r.s.peer.data(4, chunk, false)}));
            REQUIRE(r.s.conn.reset_stream(4, ErrorCode::cancel) == ApiError::none);
            r.s.drain();
            r.feed(r.s.peer.data(4, chunk, true));  // in flight
            REQUIRE(r.s.conn.send_data(id, {}, true) == ApiError::none);
            r.check_window_restored();
        }
    }
}
