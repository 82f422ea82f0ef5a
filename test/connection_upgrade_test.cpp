// h2c upgrade (RFC 7540 §3.2): the HTTP2-Settings codec, Connection::
// upgrade_server / upgrade_client, and client <-> server exchanges that start
// with an HTTP/1.1 request as stream 1 and go on with stream 3.
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "h2wire/connection.hpp"
#include "h2wire/h2c.hpp"

namespace {

using namespace h2wire;
using Bytes = std::vector<std::uint8_t>;

std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string encode(const Bytes& in) {
    std::string out(h2c::base64url_size(in.size()), '\0');
    CHECK(h2c::encode_base64url(in, out) == out.size());
    return out;
}

std::optional<Bytes> decode(std::string_view in) {
    Bytes out(in.size());
    const auto n = h2c::decode_base64url(in, out);
    if (!n) return std::nullopt;
    out.resize(*n);
    return out;
}

// What a test looks at, copied out of the events.
struct Seen {
    struct Message {
        std::uint32_t stream = 0;
        int status = 0;
        std::string method, path, authority;
        std::vector<std::pair<std::string, std::string>> fields;
        bool end_stream = false;
    };
    std::vector<Message> requests, responses;
    std::map<std::uint32_t, std::string> bodies;
    std::map<std::uint32_t, std::uint32_t> flow_controlled;
    std::vector<std::uint32_t> ended;
    std::vector<StreamReset> resets;
    std::optional<ConnectionTerminated> terminated;

    void add(const Event& e) {
        std::visit(
            [&](const auto& ev) {
                using E = std::decay_t<decltype(ev)>;
                if constexpr (std::is_same_v<E, RequestReceived>) {
                    Message m{
                        ev.stream,    0, std::string(ev.method), std::string(ev.path), std::string(ev.authority), {},
                        ev.end_stream};
                    for (const Field& f : ev.headers) m.fields.emplace_back(f.name, f.value);
                    requests.push_back(m);
                } else if constexpr (std::is_same_v<E, ResponseReceived>) {
                    Message m{ev.stream, ev.status, {}, {}, {}, {}, ev.end_stream};
                    for (const Field& f : ev.headers) m.fields.emplace_back(f.name, f.value);
                    responses.push_back(m);
                } else if constexpr (std::is_same_v<E, DataReceived>) {
                    bodies[ev.stream].append(reinterpret_cast<const char*>(ev.data.data()), ev.data.size());
                    flow_controlled[ev.stream] += ev.flow_controlled_length;
                } else if constexpr (std::is_same_v<E, StreamEnded>) {
                    ended.push_back(ev.stream);
                } else if constexpr (std::is_same_v<E, StreamReset>) {
                    resets.push_back(ev);
                } else if constexpr (std::is_same_v<E, ConnectionTerminated>) {
                    terminated = ev;
                }
            },
            e);
    }
};

// A client and a server after an upgrade, wired together in memory.
struct Upgraded {
    Connection client{Config{.role = Role::client}};
    Connection server{Config{.role = Role::server}};
    Seen at_client, at_server;
    std::vector<Bytes> alive;  // input stays valid until the next receive()

    void move(Connection& from, Connection& to, Seen& seen) {
        const auto out = from.pending_output();
        Bytes piece(out.begin(), out.end());
        from.consume_output(piece.size());
        alive.push_back(std::move(piece));
        for (const Event& e : to.receive(alive.back())) seen.add(e);
        if (alive.size() > 4) alive.erase(alive.begin());
    }
    void run() {
        for (int i = 0; i < 64 && (client.wants_write() || server.wants_write() || i == 0); ++i) {
            move(client, server, at_server);
            move(server, client, at_client);
        }
    }
};

const Field get_request[] = {{":method", "GET"},
                             {":scheme", "http"},
                             {":authority", "example.org"},
                             {":path", "/index.html"},
                             {"user-agent", "test"}};

}  // namespace

TEST_CASE("h2c: base64url encodes without padding and decodes strictly") {
    CHECK(encode({}) == "");
    CHECK(encode({'f'}) == "Zg");
    CHECK(encode({'f', 'o'}) == "Zm8");
    CHECK(encode({'f', 'o', 'o'}) == "Zm9v");
    CHECK(encode({0xfb, 0xff, 0xfe}) == "-__-");  // the two URL-safe characters
    for (std::size_t n = 0; n < 40; ++n) {
        Bytes b(n);
        for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 37 + 11);
        const auto back = decode(encode(b));
        REQUIRE(back);
        CHECK(*back == b);
    }
    CHECK(decode("Zm9v") == Bytes{'f', 'o', 'o'});
    CHECK(decode("Zg==") == Bytes{'f'});  // padding where it belongs is tolerated
    CHECK(decode("Zm8=") == Bytes{'f', 'o'});
    CHECK_FALSE(decode("Zm9v+A"));  // '+' and '/' are base64, not base64url
    CHECK_FALSE(decode("Zm9/"));
    CHECK_FALSE(decode("Zm9vZ"));  // 4k+1 characters
    CHECK_FALSE(decode("Zh"));     // bits left over in the last character
    CHECK_FALSE(decode("Zg="));    // padding that does not complete a quantum
    CHECK_FALSE(decode("Z=g="));
    CHECK_FALSE(decode("Zm 9v"));
    CHECK_FALSE(decode(std::string_view("Zm\0v", 4)));
    Bytes small(2);
    CHECK_FALSE(h2c::decode_base64url("Zm9v", small));  // does not fit
}

TEST_CASE("h2c: HTTP2-Settings values are checked like a SETTINGS frame") {
    auto header = [](std::initializer_list<std::pair<std::uint16_t, std::uint32_t>> list) {
        Bytes payload;
        for (const auto& [id, v] : list) {
            for (int s : {8, 0}) payload.push_back(static_cast<std::uint8_t>(id >> s));
            for (int s : {24, 16, 8, 0}) payload.push_back(static_cast<std::uint8_t>(v >> s));
        }
        return encode(payload);
    };
    Settings s;
    CHECK(h2c::parse_settings_header("", s) == ErrorCode::no_error);  // an empty SETTINGS is fine
    CHECK(s == Settings{});
    CHECK(h2c::parse_settings_header(header({{0x3, 100}, {0x4, 1 << 20}, {0x5, 1 << 15}, {0xff, 7}}), s) ==
          ErrorCode::no_error);
    CHECK(s.max_concurrent_streams == 100);
    CHECK(s.initial_window_size == 1u << 20);
    CHECK(s.max_frame_size == 1u << 15);

    std::string_view reason;
    Settings t;
    CHECK(h2c::parse_settings_header(header({{0x2, 2}}), t, &reason) == ErrorCode::protocol_error);
    CHECK(!reason.empty());
    CHECK(h2c::parse_settings_header(header({{0x4, 0x80000000u}}), t) == ErrorCode::flow_control_error);
    CHECK(h2c::parse_settings_header(header({{0x5, 100}}), t) == ErrorCode::protocol_error);
    // RFC 9113 §6.5: a payload length that is not a multiple of 6.
    CHECK(h2c::parse_settings_header(encode({0, 3, 0, 0, 0}), t) == ErrorCode::frame_size_error);
    CHECK(h2c::parse_settings_header(encode({0, 3, 0, 0, 0, 1, 0}), t) == ErrorCode::frame_size_error);
    CHECK(h2c::parse_settings_header("AAMAAABk!", t) == ErrorCode::protocol_error);
}

TEST_CASE("h2c upgrade: GET as stream 1, then a request on stream 3") {
    Upgraded u;
    const std::string settings(u.client.upgrade_settings_header());
    CHECK(!settings.empty());
    CHECK(u.server.upgrade_settings_header().empty());
    REQUIRE(u.server.upgrade_server(settings, get_request) == ApiError::none);
    REQUIRE(u.client.upgrade_client("GET") == ApiError::none);
    // The client's settings apply at once (the 101 acknowledged them).
    CHECK(u.server.peer_settings().enable_push == false);
    CHECK(u.server.peer_settings().initial_window_size == u.client.local_settings().initial_window_size);
    CHECK(u.client.open_streams() == 1);
    CHECK(u.server.open_streams() == 1);

    // The server's first bytes are its SETTINGS (RFC 7540 §3.5).
    const auto first = u.server.pending_output();
    REQUIRE(first.size() >= 9);
    CHECK(first[3] == 0x4);

    // The request is reported by the server's next receive() (here: with the
    // client preface).
    u.move(u.client, u.server, u.at_server);
    REQUIRE(u.at_server.requests.size() == 1);
    const Seen::Message& req = u.at_server.requests[0];
    CHECK(req.stream == 1);
    CHECK(req.method == "GET");
    CHECK(req.path == "/index.html");
    CHECK(req.authority == "example.org");
    CHECK(req.end_stream);
    CHECK(req.fields.back() == std::pair<std::string, std::string>{"user-agent", "test"});
    CHECK(u.at_server.ended == std::vector<std::uint32_t>{1});

    const Field resp[] = {{":status", "200"}, {"content-length", "5"}};
    REQUIRE(u.server.submit_response(1, resp, false) == ApiError::none);
    REQUIRE(u.server.send_data(1, bytes_of("hello"), true) == ApiError::none);
    u.run();
    REQUIRE(u.at_client.responses.size() == 1);
    CHECK(u.at_client.responses[0].stream == 1);
    CHECK(u.at_client.responses[0].status == 200);
    CHECK(u.at_client.bodies[1] == "hello");
    CHECK(u.client.open_streams() == 0);
    CHECK(u.server.open_streams() == 0);

    // The connection goes on: the next request is stream 3.
    const Field next[] = {{":method", "POST"}, {":scheme", "http"}, {":authority", "example.org"}, {":path", "/echo"}};
    const Submitted sub = u.client.submit_request(next, false);
    REQUIRE(sub);
    CHECK(sub.stream == 3);
    REQUIRE(u.client.send_data(3, bytes_of("ping"), true) == ApiError::none);
    u.run();
    REQUIRE(u.at_server.requests.size() == 2);
    CHECK(u.at_server.requests[1].stream == 3);
    CHECK(u.at_server.bodies[3] == "ping");
    const Field ok[] = {{":status", "204"}};
    REQUIRE(u.server.submit_response(3, ok, true) == ApiError::none);
    u.run();
    REQUIRE(u.at_client.responses.size() == 2);
    CHECK(u.at_client.responses[1].stream == 3);
    CHECK(u.at_client.responses[1].status == 204);
    CHECK(u.at_client.resets.empty());
    CHECK(u.at_server.resets.empty());
    CHECK(!u.at_client.terminated);
    CHECK(!u.at_server.terminated);
}

TEST_CASE("h2c upgrade: a request with a body") {
    Upgraded u;
    const Field post[] = {{":method", "POST"},
                          {":scheme", "http"},
                          {":authority", "example.org"},
                          {":path", "/echo"},
                          {"content-length", "11"}};
    const std::string settings(u.client.upgrade_settings_header());
    // content-length must match the body.
    CHECK(u.server.upgrade_server(settings, post, bytes_of("hello")) == ApiError::invalid_argument);
    REQUIRE(u.server.upgrade_server(settings, post, bytes_of("hello world")) == ApiError::none);
    REQUIRE(u.client.upgrade_client("POST") == ApiError::none);
    u.move(u.client, u.server, u.at_server);
    REQUIRE(u.at_server.requests.size() == 1);
    CHECK_FALSE(u.at_server.requests[0].end_stream);
    CHECK(u.at_server.bodies[1] == "hello world");
    CHECK(u.at_server.flow_controlled[1] == 0);  // it never went through HTTP/2 flow control
    CHECK(u.at_server.ended == std::vector<std::uint32_t>{1});
    // Views stay valid until the next receive(); the one after frees the copy.
    const Field resp[] = {{":status", "200"}};
    REQUIRE(u.server.submit_response(1, resp, false) == ApiError::none);
    REQUIRE(u.server.send_data(1, bytes_of("hello world"), true) == ApiError::none);
    u.run();
    CHECK(u.at_client.bodies[1] == "hello world");
    CHECK(u.at_client.resets.empty());
}

TEST_CASE("h2c upgrade: HEAD on stream 1 gets a response without body") {
    Upgraded u;
    const Field head[] = {{":method", "HEAD"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}};
    REQUIRE(u.server.upgrade_server(u.client.upgrade_settings_header(), head) == ApiError::none);
    REQUIRE(u.client.upgrade_client("HEAD") == ApiError::none);
    u.move(u.client, u.server, u.at_server);
    const Field resp[] = {{":status", "200"}, {"content-length", "1000"}};
    REQUIRE(u.server.submit_response(1, resp, true) == ApiError::none);
    u.run();
    REQUIRE(u.at_client.responses.size() == 1);
    CHECK(u.at_client.responses[0].end_stream);
    CHECK(u.at_client.resets.empty());  // content-length is not checked after HEAD
}

TEST_CASE("h2c upgrade: bad HTTP2-Settings or request leaves the connection unused") {
    Connection server{Config{.role = Role::server}};
    CHECK(server.upgrade_server("AAMAAABk!", get_request) == ApiError::invalid_argument);  // not base64url
    CHECK(server.upgrade_server("AAMAAAB", get_request) == ApiError::invalid_argument);    // 5 octets
    CHECK(server.upgrade_server("AAIAAAAC", get_request) == ApiError::invalid_argument);   // ENABLE_PUSH=2
    CHECK(server.upgrade_server("AAUAAAAA", get_request) == ApiError::invalid_argument);   // MAX_FRAME_SIZE=0
    const Field no_path[] = {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}};
    CHECK(server.upgrade_server("", no_path) == ApiError::invalid_header);
    const Field conn_specific[] = {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"connection", "x"}};
    CHECK(server.upgrade_server("", conn_specific) == ApiError::invalid_header);
    CHECK(server.open_streams() == 0);
    // Still able to upgrade properly, with no settings at all.
    CHECK(server.upgrade_server("", get_request) == ApiError::none);
    CHECK(server.open_streams() == 1);
    // Only once.
    CHECK(server.upgrade_server("", get_request) == ApiError::too_late);
}

TEST_CASE("h2c upgrade: misuse") {
    Connection client{Config{.role = Role::client}};
    Connection server{Config{.role = Role::server}};
    CHECK(client.upgrade_server("", get_request) == ApiError::wrong_role);
    CHECK(server.upgrade_client() == ApiError::wrong_role);

    SUBCASE("server after bytes arrived") {
        const auto out = client.pending_output();
        const Bytes wire(out.begin(), out.end());
        server.receive(wire);
        CHECK(server.upgrade_server("", get_request) == ApiError::too_late);
    }
    SUBCASE("server after output was written") {
        server.consume_output(server.pending_output().size());
        CHECK(server.upgrade_server("", get_request) == ApiError::too_late);
    }
    SUBCASE("client after a request") {
        CHECK(client.submit_request(get_request, true));
        CHECK(client.upgrade_client() == ApiError::too_late);
    }
    SUBCASE("client after output was written") {
        REQUIRE(!client.pending_output().empty());
        client.consume_output(1);
        CHECK(client.upgrade_client() == ApiError::too_late);
    }
    SUBCASE("client twice") {
        CHECK(client.upgrade_client() == ApiError::none);
        CHECK(client.upgrade_client() == ApiError::too_late);
        // Stream 1 is taken: the next request is 3.
        const Submitted s = client.submit_request(get_request, true);
        CHECK(s.stream == 3);
    }
    SUBCASE("after the connection ended") {
        CHECK(server.goaway(ErrorCode::no_error) == ApiError::none);
        CHECK(server.upgrade_server("", get_request) == ApiError::connection_closed);
    }
}

TEST_CASE("h2c upgrade: client settings from HTTP2-Settings bind the server from the start") {
    Config cc{.role = Role::client};
    cc.settings.initial_window_size = 100000;
    cc.settings.max_frame_size = 1 << 20;
    Connection client{cc};
    Connection server{Config{.role = Role::server}};
    const std::string header(client.upgrade_settings_header());
    Settings parsed;
    REQUIRE(h2c::parse_settings_header(header, parsed) == ErrorCode::no_error);
    CHECK(parsed.initial_window_size == 100000);
    CHECK(parsed.max_frame_size == 1u << 20);
    CHECK(parsed.enable_push == false);
    REQUIRE(server.upgrade_server(header, get_request) == ApiError::none);
    CHECK(server.peer_settings().max_frame_size == 1u << 20);
    REQUIRE(client.upgrade_client() == ApiError::none);
    CHECK(client.local_settings().initial_window_size == 100000);
}
