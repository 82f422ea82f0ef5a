// Connection setup (RFC 9113 §3.4, §6.5): the preface, the SETTINGS exchange
// and its ACKs, when each side's settings take effect, and what the peer's
// settings change on our side (HPACK table size, frame size, stream windows).
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

/// The settings a SETTINGS frame establishes over the RFC's initial values.
Settings applied(const std::vector<Setting>& entries, Settings base = {}) {
    for (const Setting& s : entries) base.apply(s);
    return base;
}

bool has_setting(const WireFrame& f, SettingId id) {
    for (const Setting& s : f.settings)
        if (s.id == id) return true;
    return false;
}

/// What the default Config announces: Config::settings with
/// max_concurrent_streams and max_header_list_size from Limits.
Settings default_local() {
    Settings s;
    s.header_table_size = 4096;
    s.enable_push = false;
    s.max_concurrent_streams = 100;
    s.initial_window_size = 1024 * 1024;
    s.max_frame_size = 16384;
    s.max_header_list_size = 64 * 1024;
    s.no_rfc7540_priorities = true;  // RFC 9218 §2.1: we never use RFC 7540 priorities
    return s;
}

constexpr std::uint32_t default_connection_window = 16 * 1024 * 1024;

}  // namespace

TEST_CASE("connection setup: a client writes the preface, SETTINGS with its configuration, then WINDOW_UPDATE") {
    Session s(Role::client);
    CHECK(s.conn.role() == Role::client);
    CHECK(s.conn.wants_write());
    const auto out = s.drain();
    CHECK(s.peer.saw_magic());
    CHECK(s.peer.raw_output().size() >= 24);
    CHECK(string_of(std::span(s.peer.raw_output()).first(24)) == "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    INFO(str(out));
    REQUIRE(out.size() == 2);
    CHECK(out[0].type() == Type::settings);
    CHECK(!out[0].ack);
    CHECK(describe(applied(out[0].settings)) == describe(default_local()));
    // A client that does not want pushes says so (RFC 9113 §6.5.2).
    CHECK(has_setting(out[0], SettingId::enable_push));
    CHECK(out[1].is(Type::window_update, 0));
    CHECK(out[1].increment == default_connection_window - 65535);
    CHECK(s.conn.settings_ack_pending());
    CHECK(s.events.empty());
}

TEST_CASE("connection setup: SETTINGS announces the configured values and limits") {
    Config c;
    c.settings.header_table_size = 1000;
    c.settings.initial_window_size = 100000;
    c.settings.max_frame_size = 65536;
    c.settings.enable_push = true;
    c.limits.max_concurrent_streams = 7;
    c.limits.max_header_list_size = 9999;
    c.connection_window_size = 65535;  // no WINDOW_UPDATE needed
    Session s(Role::client, c);
    const auto out = s.drain();
    INFO(str(out));
    REQUIRE(out.size() == 1);
    REQUIRE(out[0].type() == Type::settings);
    Settings want;
    want.header_table_size = 1000;
    want.enable_push = true;
    want.max_concurrent_streams = 7;
    want.initial_window_size = 100000;
    want.max_frame_size = 65536;
    want.max_header_list_size = 9999;
    want.no_rfc7540_priorities = true;
    CHECK(describe(applied(out[0].settings)) == describe(want));
}

TEST_CASE("connection setup: a server's SETTINGS never enables push and comes first") {
    for (const Split split : all_splits()) {
        CAPTURE(split.name());
        Session s(Role::server);
        const Events got = s.feed(s.peer.preface({{SettingId::initial_window_size, 5000}}), split);
        INFO(got.str());
        REQUIRE(got.size() == 1);
        const auto rec = got.first<SettingsReceived>();
        REQUIRE(rec.has_value());
        CHECK(rec->settings.initial_window_size == 5000);
        const auto out = s.drain();
        INFO(str(out));
        // RFC 9113 §3.4: the server preface is a SETTINGS frame, its first frame.
        REQUIRE(out.size() == 3);
        CHECK(out[0].type() == Type::settings);
        CHECK(!out[0].ack);
        // A server may leave SETTINGS_ENABLE_PUSH out; if it sends it, it is 0.
        Settings announced = applied(out[0].settings);
        if (has_setting(out[0], SettingId::enable_push)) CHECK(!announced.enable_push);
        announced.enable_push = false;
        CHECK(describe(announced) == describe(default_local()));
        const auto wu = first(out, Type::window_update, 0);
        REQUIRE(wu.has_value());
        CHECK(wu->increment == default_connection_window - 65535);
        const auto settings = only(out, Type::settings);
        REQUIRE(settings.size() == 2);
        CHECK(settings[1].ack);
        CHECK(s.conn.peer_settings().initial_window_size == 5000);
        CHECK(!s.conn.is_closed());
    }
}

TEST_CASE("connection setup: the preface is checked byte by byte") {
    SUBCASE("each prefix of the preface is accepted and waits for more") {
        Session s(Role::server);
        const std::string_view magic = frame::client_preface;
        for (std::size_t i = 0; i < magic.size(); ++i) {
            CAPTURE(i);
            CHECK(s.receive_piece(span_of(magic.substr(i, 1))).empty());
            CHECK(!s.conn.is_closed());
        }
        s.drain();
        CHECK(count(s.peer.frames(), Type::goaway) == 0);
        const Events got = s.feed(s.peer.settings({}));
        CHECK(got.count<SettingsReceived>() == 1);
    }
    SUBCASE("a wrong octet anywhere in the preface is a connection PROTOCOL_ERROR") {
        const std::string_view magic = frame::client_preface;
        for (std::size_t i = 0; i < magic.size(); ++i) {
            CAPTURE(i);
            std::string wrong(magic);
            wrong[i] = static_cast<char>(wrong[i] ^ 0x20);
            Session s(Role::server);
            Bytes input = bytes_of(wrong);
            append(input, s.peer.settings({}));
            const Events got = s.feed(input, Split::bytewise());
            CHECK(got.count<SettingsReceived>() == 0);
            CHECK(got.count<ev::Terminated>() == 1);
            const auto out = s.drain();
            expect_connection_error(s, out, ErrorCode::protocol_error, 0u);
        }
    }
    SUBCASE("an HTTP/1.1 request instead of the preface") {
        for (const Split split : all_splits()) {
            CAPTURE(split.name());
            Session s(Role::server);
            s.feed(bytes_of("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n"),
                   split);
            expect_connection_error(s, s.drain(), ErrorCode::protocol_error, 0u);
        }
    }
    SUBCASE("after the error, input is ignored") {
        Session s(Role::server);
        s.feed(bytes_of("XRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        s.drain();
        CHECK(s.conn.is_closed());
        CHECK(s.feed(s.peer.settings({})).empty());
        CHECK(s.feed(s.peer.ping(opaque("abcdefgh"))).empty());
        CHECK(s.drain().empty());
    }
}

TEST_CASE("connection setup: the first frame after the preface must be SETTINGS") {
    SUBCASE("server: PING first") {
        Session s(Role::server);
        s.feed(cat({bytes_of(frame::client_preface), s.peer.ping(opaque("12345678"))}));
        const auto out = s.drain();
        CHECK(count(out, Type::ping) == 0);  // not answered
        expect_connection_error(s, out, ErrorCode::protocol_error, 0u);
    }
    SUBCASE("server: HEADERS first") {
        Session s(Role::server);
        s.feed(cat({bytes_of(frame::client_preface), s.peer.headers(1, get(), true)}));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
        CHECK(s.events.count<ev::Request>() == 0);
    }
    SUBCASE("client: the server's first frame is WINDOW_UPDATE") {
        Session s(Role::client);
        s.drain();
        s.feed(s.peer.window_update(0, 1000));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error, 0u);
    }
}

TEST_CASE("connection setup: SETTINGS and their ACKs both ways") {
    SUBCASE("server") {
        Session s(Role::server);
        const std::vector<Setting> mine{{SettingId::header_table_size, 1000},
                                        {SettingId::max_concurrent_streams, 50},
                                        {SettingId::initial_window_size, 30000},
                                        {SettingId::max_frame_size, 20000},
                                        {SettingId::max_header_list_size, 8000}};
        const Events got = s.feed(s.peer.preface(mine));
        REQUIRE(got.size() == 1);
        const auto rec = got.first<SettingsReceived>();
        REQUIRE(rec.has_value());
        Settings want = applied(mine);
        CHECK(describe(rec->settings) == describe(want));
        CHECK(describe(s.conn.peer_settings()) == describe(want));
        CHECK(describe(s.conn.local_settings()) == describe(Settings{}));  // not ACKed yet
        CHECK(s.conn.settings_ack_pending());
        const auto out = s.drain();
        CHECK(count(out, Type::settings) == 2);
        CHECK(only(out, Type::settings)[1].ack);
        CHECK(s.peer.local_settings().max_frame_size == 20000);  // the ACK reached the Peer

        const Events acked = s.feed(s.peer.settings_ack());
        REQUIRE(acked.size() == 1);
        const auto ack = acked.first<SettingsAcknowledged>();
        REQUIRE(ack.has_value());
        CHECK(describe(ack->settings) == describe(default_local()));
        CHECK(describe(s.conn.local_settings()) == describe(default_local()));
        CHECK(!s.conn.settings_ack_pending());
        CHECK(s.drain().empty());  // an ACK is not answered
    }
    SUBCASE("client") {
        Session s(Role::client);
        s.drain();
        const Events got =
            s.feed(cat({s.peer.preface({{SettingId::max_concurrent_streams, 3}}), s.peer.settings_ack()}));
        INFO(got.str());
        REQUIRE(got.size() == 2);
        CHECK(std::holds_alternative<SettingsReceived>(got[0]));
        CHECK(std::holds_alternative<SettingsAcknowledged>(got[1]));
        CHECK(s.conn.peer_settings().max_concurrent_streams == 3);
        CHECK(describe(s.conn.local_settings()) == describe(default_local()));
        const auto out = s.drain();
        INFO(str(out));
        REQUIRE(out.size() == 1);
        CHECK(out[0].type() == Type::settings);
        CHECK(out[0].ack);
        CHECK(out[0].header.length == 0);
    }
    SUBCASE("every SETTINGS gets its own ACK, in order; the last value wins") {
        Session s(Role::server);
        s.handshake();
        const Events got =
            s.feed(cat({s.peer.settings({{SettingId::initial_window_size, 1000}}),
                        s.peer.settings({{SettingId::initial_window_size, 2000}}), s.peer.settings({})}));
        CHECK(got.count<SettingsReceived>() == 3);
        const auto recs = got.all<SettingsReceived>();
        REQUIRE(recs.size() == 3);
        CHECK(recs[0].settings.initial_window_size == 1000);
        CHECK(recs[1].settings.initial_window_size == 2000);
        CHECK(recs[2].settings.initial_window_size == 2000);
        const auto out = s.drain();
        CHECK(count(out, Type::settings) == 3);
        for (const WireFrame& f : out) CHECK(f.ack);
        CHECK(s.conn.peer_settings().initial_window_size == 2000);
    }
}

TEST_CASE("connection setup: settings_ack_pending follows our SETTINGS") {
    Session s(Role::server);
    s.feed(s.peer.preface());
    s.drain();
    CHECK(s.conn.settings_ack_pending());
    s.feed(s.peer.settings_ack());
    CHECK(!s.conn.settings_ack_pending());

    Settings next = s.conn.local_settings();
    next.initial_window_size = 70000;
    next.header_table_size = 2048;
    CHECK(s.conn.update_settings(next) == ApiError::none);
    CHECK(s.conn.settings_ack_pending());
    CHECK(s.conn.local_settings().initial_window_size == 1024 * 1024);  // not yet
    const auto out = s.drain();
    REQUIRE(count(out, Type::settings) == 1);
    const WireFrame f = *first(out, Type::settings);
    CHECK(!f.ack);
    CHECK(applied(f.settings, default_local()).initial_window_size == 70000);
    CHECK(applied(f.settings, default_local()).header_table_size == 2048);
    CHECK(s.conn.settings_ack_pending());

    const Events got = s.feed(s.peer.settings_ack());
    const auto ack = got.first<SettingsAcknowledged>();
    REQUIRE(ack.has_value());
    CHECK(ack->settings.initial_window_size == 70000);
    CHECK(ack->settings.header_table_size == 2048);
    CHECK(!s.conn.settings_ack_pending());
    CHECK(s.conn.local_settings().initial_window_size == 70000);
}

TEST_CASE("connection setup: our max frame size applies to the peer's frames only after the ACK") {
    Config c;
    c.settings.max_frame_size = 32768;
    const Bytes big(20000, 'x');
    SUBCASE("before the ACK a 20000-octet frame is too large") {
        Session s(Role::server, c);
        s.feed(s.peer.preface());
        s.drain();
        s.feed(cat({s.peer.headers(1, request(), false), s.peer.data(1, big, false)}));
        expect_connection_error(s, s.drain(), ErrorCode::frame_size_error);
        CHECK(s.events.count<ev::Data>() == 0);
    }
    SUBCASE("after the ACK it is accepted") {
        Session s(Role::server, c);
        s.handshake();
        const std::size_t before = s.events.size();
        s.feed(cat({s.peer.headers(1, request(), false), s.peer.data(1, big, true)}));
        expect_no_error(s, s.drain(), before);
        CHECK(s.events.data_of(1) == big);
        CHECK(s.events.count<StreamEnded>() == 1);
    }
}

TEST_CASE("connection setup: our initial window applies to the peer's DATA only after the ACK") {
    Config c;
    c.settings.initial_window_size = 200000;
    const Bytes chunk(16000, 'y');
    auto send_70000 = [&](Session& s) {
        Bytes in = s.peer.headers(1, request(), false);
        for (int i = 0; i < 4; ++i) append(in, s.peer.data(1, chunk, false));
        append(in, s.peer.data(1, Bytes(6000, 'z'), false));
        s.feed(in);
    };
    SUBCASE("before the ACK the stream window is 65535: 70000 octets overrun it") {
        Session s(Role::server, c);
        s.feed(s.peer.preface());
        s.drain();  // our WINDOW_UPDATE raised the connection window
        send_70000(s);
        expect_stream_error(s, s.drain(), 1, ErrorCode::flow_control_error);
    }
    SUBCASE("after the ACK 70000 octets fit") {
        Session s(Role::server, c);
        s.handshake();
        const std::size_t before = s.events.size();
        send_70000(s);
        expect_no_error(s, s.drain(), before);
        CHECK(s.events.data_of(1).size() == 70000);
    }
}

TEST_CASE("connection setup: our header table size applies to the peer's blocks only after the ACK") {
    // A block that starts with a dynamic table size update to 4096, then
    // :method GET, :scheme https, :path / (static), :authority literal without
    // indexing (so the Peer's own encoder stays in step).
    Bytes block{0x3f, 0xe1, 0x1f, 0x82, 0x87, 0x84, 0x01, 0x0b};
    append(block, span_of("example.com"));
    Config c;
    c.settings.header_table_size = 256;
    SUBCASE("before the ACK the limit is still 4096") {
        Session s(Role::server, c);
        s.feed(s.peer.preface());
        s.drain();
        const std::size_t before = s.events.size();
        s.feed(s.peer.headers_block(1, block, true));
        expect_no_error(s, s.drain(), before);
        const auto req = s.events.on<ev::Request>(1);
        REQUIRE(req.has_value());
        CHECK(req->authority == "example.com");
    }
    SUBCASE("after the ACK an update to 4096 is over the limit: COMPRESSION_ERROR") {
        Session s(Role::server, c);
        s.handshake();
        s.feed(s.peer.headers_block(1, block, true));
        expect_connection_error(s, s.drain(), ErrorCode::compression_error);
    }
}

TEST_CASE("connection setup: the peer's header table size reaches our encoder at once") {
    for (const std::uint32_t size : {0u, 100u}) {
        CAPTURE(size);
        Session s(Role::client);
        s.handshake({{SettingId::header_table_size, size}});
        const Hdrs h = get("/a") + Hdrs{{"user-agent", "h2wire-test"}, {"x-custom", "some value"}};
        const auto f = fields(h);
        REQUIRE(s.conn.submit_request(f, true));
        REQUIRE(s.conn.submit_request(f, true));
        const auto out = s.drain();
        const auto hs = only(out, Type::headers);
        REQUIRE(hs.size() == 2);
        // RFC 7541 §4.2: the first block after the change starts with a
        // dynamic table size update to the new size; the next one does not.
        REQUIRE(!hs[0].block.empty());
        CHECK((hs[0].block[0] & 0xe0) == 0x20);
        CHECK((hs[0].block[0] & 0x1f) == (size == 0 ? 0 : 31));
        CHECK((hs[1].block[0] & 0xe0) != 0x20);
        CHECK(plain(hs[0].headers) == h);
        CHECK(plain(hs[1].headers) == h);
        CHECK(s.peer.decoder().table_max_size() == size);
        CHECK(s.peer.decoder().table_size() <= size);
    }
}

TEST_CASE("connection setup: the peer's max frame size reaches the writers at once") {
    Rng rng(42);
    const std::string big_value = rng.letters(30000);  // Huffman: ~ 18000 octets
    const std::string huge_value = rng.letters(80000);
    SUBCASE("default 16384: a large block is split, DATA frames stay within 16384") {
        Session s(Role::server);
        s.handshake({{SettingId::initial_window_size, 1 << 20}});
        s.feed(s.peer.window_update(0, 1 << 20));
        s.open(1, get(), true);
        const Hdrs h = response(200, {{"x-big", big_value}});
        REQUIRE(s.conn.submit_response(1, fields(h), false) == ApiError::none);
        REQUIRE(s.conn.send_data(1, Bytes(100000, 'd'), true) == ApiError::none);
        const auto out = s.drain();
        const auto hs = only(out, Type::headers, 1);
        REQUIRE(hs.size() == 1);
        CHECK(hs[0].continuations >= 1);
        CHECK(hs[0].header.length <= 16384);
        CHECK(plain(hs[0].headers) == h);
        for (const WireFrame& f : out) CHECK(f.header.length <= 16384);
        CHECK(data_of(out, 1).size() == 100000);
    }
    SUBCASE("raised to 40000: the same block goes in one HEADERS, DATA frames grow") {
        Session s(Role::server);
        s.handshake({{SettingId::initial_window_size, 1 << 20}, {SettingId::max_frame_size, 40000}});
        s.feed(s.peer.window_update(0, 1 << 20));
        s.open(1, get(), true);
        const Hdrs h = response(200, {{"x-big", big_value}});
        REQUIRE(s.conn.submit_response(1, fields(h), false) == ApiError::none);
        REQUIRE(s.conn.send_data(1, Bytes(100000, 'd'), true) == ApiError::none);
        const auto out = s.drain();
        const auto hs = only(out, Type::headers, 1);
        REQUIRE(hs.size() == 1);
        CHECK(hs[0].continuations == 0);
        CHECK(hs[0].header.length > 16384);
        CHECK(plain(hs[0].headers) == h);
        for (const WireFrame& f : out) CHECK(f.header.length <= 40000);
        CHECK(data_of(out, 1).size() == 100000);
    }
    SUBCASE("raised to 40000: a larger block splits at 40000") {
        Session s(Role::server);
        s.handshake({{SettingId::max_frame_size, 40000}});
        s.open(1, get(), true);
        const Hdrs h = response(200, {{"x-huge", huge_value}});
        REQUIRE(s.conn.submit_response(1, fields(h), true) == ApiError::none);
        const auto out = s.drain();
        const auto hs = only(out, Type::headers, 1);
        REQUIRE(hs.size() == 1);
        CHECK(hs[0].continuations >= 1);
        CHECK(hs[0].header.length > 16384);
        CHECK(hs[0].header.length <= 40000);
        for (const WireFrame& f : out) CHECK(f.header.length <= 40000);
        CHECK(plain(hs[0].headers) == h);
    }
}

TEST_CASE("connection setup: the peer's initial window size adjusts open streams, even below zero") {
    // RFC 9113 §6.9.2: a change of SETTINGS_INITIAL_WINDOW_SIZE adjusts every
    // stream window by the difference; a window may become negative, and the
    // sender then waits for WINDOW_UPDATEs to bring it above zero.
    Session s(Role::server);
    s.handshake();
    s.feed(s.peer.window_update(0, 10'000'000));
    s.open(1, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    REQUIRE(s.conn.send_data(1, Bytes(60000, 'a'), false) == ApiError::none);
    auto out = s.drain();
    CHECK(data_of(out, 1).size() == 60000);
    CHECK(s.conn.send_window(1) == 5535);

    // 65535 → 1000: the window is 1000 - 60000 = -59000.
    s.feed(s.peer.settings({{SettingId::initial_window_size, 1000}}));
    REQUIRE(s.conn.send_data(1, Bytes(100000, 'b'), false) == ApiError::none);
    out = s.drain();
    CHECK(count(out, Type::data) == 0);
    CHECK(s.conn.send_window(1) == 0);
    CHECK(s.peer.conn_send_window(1) == -59000);

    s.feed(s.peer.window_update(1, 59000));  // back to 0
    out = s.drain();
    CHECK(count(out, Type::data) == 0);
    CHECK(s.conn.send_window(1) == 0);

    s.feed(s.peer.window_update(1, 1));  // 1
    out = s.drain();
    CHECK(data_of(out, 1).size() == 1);
    CHECK(s.conn.send_window(1) == 0);

    // 1000 → 60000: +59000.
    s.feed(s.peer.settings({{SettingId::initial_window_size, 60000}}));
    out = s.drain();
    CHECK(data_of(out, 1).size() == 59000);
    CHECK(s.peer.conn_send_window(1) == 0);
    CHECK(s.conn.buffered(1) == 100000 - 1 - 59000);

    // A stream opened now starts at the new initial window.
    s.open(3, get(), true);
    REQUIRE(s.conn.submit_response(3, fields(response()), false) == ApiError::none);
    REQUIRE(s.conn.send_data(3, Bytes(70000, 'c'), true) == ApiError::none);
    out = s.drain();
    CHECK(data_of(out, 3).size() == 60000);
    expect_no_error(s, out);
}

TEST_CASE("connection setup: unknown settings are ignored") {
    Session s(Role::server);
    const Bytes unknown = s.peer.raw_settings(Bytes{0x00, 0x99, 0x00, 0x00, 0x00, 0x07,    // id 0x99 = 7
                                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,    // id 0xffff = 2^32-1
                                                    0x00, 0x04, 0x00, 0x00, 0x30, 0x00});  // INITIAL_WINDOW_SIZE 12288
    s.feed(cat({bytes_of(frame::client_preface), unknown}));
    const auto out = s.drain();
    CHECK(count(out, Type::goaway) == 0);
    REQUIRE(count(out, Type::settings) == 2);
    CHECK(only(out, Type::settings)[1].ack);
    const auto rec = s.events.first<SettingsReceived>();
    REQUIRE(rec.has_value());
    Settings want;
    want.initial_window_size = 12288;
    CHECK(describe(rec->settings) == describe(want));
    CHECK(!s.conn.is_closed());
}

TEST_CASE("connection setup: invalid SETTINGS are connection errors") {
    struct Case {
        const char* name;
        Role role;  // of the connection under test
        std::vector<Setting> settings;
        ErrorCode code;
    };
    const Case cases[] = {
        {"ENABLE_PUSH 2", Role::server, {{SettingId::enable_push, 2}}, ErrorCode::protocol_error},
        {"ENABLE_PUSH 1 from a server", Role::client, {{SettingId::enable_push, 1}}, ErrorCode::protocol_error},
        {"INITIAL_WINDOW_SIZE 2^31",
         Role::server,
         {{SettingId::initial_window_size, 1u << 31}},
         ErrorCode::flow_control_error},
        {"MAX_FRAME_SIZE 16383", Role::server, {{SettingId::max_frame_size, 16383}}, ErrorCode::protocol_error},
        {"MAX_FRAME_SIZE 2^24", Role::client, {{SettingId::max_frame_size, 1u << 24}}, ErrorCode::protocol_error},
        {"ENABLE_CONNECT_PROTOCOL 2",
         Role::client,
         {{SettingId::enable_connect_protocol, 2}},
         ErrorCode::protocol_error},
    };
    SUBCASE("values") for (const Case& c : cases) {
        INFO(c.name);
        for (const bool in_preface : {true, false}) {
            CAPTURE(in_preface);
            Session s(c.role);
            if (!in_preface) s.handshake();
            // Through write_raw: the checked writer refuses these values.
            Bytes payload;
            for (const Setting& x : c.settings) {
                const auto id = static_cast<std::uint16_t>(x.id);
                payload.insert(payload.end(),
                               {static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id),
                                static_cast<std::uint8_t>(x.value >> 24), static_cast<std::uint8_t>(x.value >> 16),
                                static_cast<std::uint8_t>(x.value >> 8), static_cast<std::uint8_t>(x.value)});
            }
            Bytes in;
            if (in_preface) {
                if (c.role == Role::server)
                    append(in, span_of(frame::client_preface));
                else
                    s.drain();
            }
            append(in, s.peer.raw(Type::settings, 0, 0, payload));
            s.feed(in);
            expect_connection_error(s, s.drain(), c.code, 0u);
        }
    }
    SUBCASE("framing") {
        struct Raw {
            const char* name;
            std::uint8_t flags;
            std::uint32_t stream;
            Bytes payload;
            ErrorCode code;
        };
        const Raw raws[] = {
            {"length 5", 0, 0, Bytes(5, 0), ErrorCode::frame_size_error},
            {"ACK with a payload", fl::ack, 0, Bytes{0, 4, 0, 0, 0, 1}, ErrorCode::frame_size_error},
            {"on stream 1", 0, 1, Bytes{}, ErrorCode::protocol_error},
        };
        for (const Raw& r : raws) {
            INFO(r.name);
            Session s(Role::server);
            s.handshake();
            s.feed(s.peer.raw(Type::settings, r.flags, r.stream, r.payload));
            expect_connection_error(s, s.drain(), r.code, 0u);
        }
    }
}

TEST_CASE("connection setup: the peer lowering its max frame size takes effect for the next frames") {
    Session s(Role::server);
    s.handshake({{SettingId::max_frame_size, 40000}, {SettingId::initial_window_size, 1 << 20}});
    s.feed(s.peer.window_update(0, 1 << 22));
    s.open(1, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    s.drain();
    s.feed(s.peer.settings({{SettingId::max_frame_size, 16384}}));
    Rng rng(12);
    const Hdrs trailers{{"x-big-trailer", rng.letters(40000)}};
    REQUIRE(s.conn.send_data(1, Bytes(100000, 'm'), false) == ApiError::none);
    REQUIRE(s.conn.send_trailers(1, fields(trailers)) == ApiError::none);
    const auto out = s.drain();
    for (const WireFrame& f : out) CHECK(f.header.length <= 16384);
    CHECK(data_of(out, 1).size() == 100000);
    const auto hs = only(out, Type::headers, 1);
    REQUIRE(hs.size() == 1);
    CHECK(hs[0].continuations >= 1);
    CHECK(plain(hs[0].headers) == trailers);
}

TEST_CASE("connection setup: a client turning push off refuses PUSH_PROMISE once the peer ACKed it") {
    Config c;
    c.settings.enable_push = true;
    Session s(Role::client, c);
    s.handshake();
    s.request(get(), true);
    Settings next = s.conn.local_settings();
    next.enable_push = false;
    REQUIRE(s.conn.update_settings(next) == ApiError::none);
    s.drain();
    // Sent before the server saw our SETTINGS: not an error; the client may
    // take the promise or refuse it with RST_STREAM REFUSED_STREAM (§6.6).
    s.feed(s.peer.push_promise(1, 2, get("/early")));
    auto out = s.drain();
    INFO(str(out));
    CHECK(count(out, Type::goaway) == 0);
    const std::size_t promises = s.events.count<ev::PushPromise>();
    if (promises == 0) {
        REQUIRE(count(out, Type::rst_stream, 2) == 1);
        CHECK(first(out, Type::rst_stream, 2)->code == ErrorCode::refused_stream);
    } else {
        CHECK(promises == 1);
    }
    s.feed(s.peer.settings_ack());
    CHECK(!s.conn.local_settings().enable_push);
    s.feed(s.peer.push_promise(1, 4, get("/late")));
    expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
    CHECK(s.events.count<ev::PushPromise>() == promises);
}

TEST_CASE("connection setup: after we lower our header table size, the peer's next block must start with an update") {
    // RFC 7541 §4.2: once SETTINGS_HEADER_TABLE_SIZE below the table's
    // maximum is acknowledged, the next block starts with a size update.
    Bytes plain_block{0x82, 0x87, 0x84, 0x01, 0x0b};  // no size update
    append(plain_block, span_of("example.com"));
    for (const bool with_update : {true, false}) {
        CAPTURE(with_update);
        Session s(Role::server);
        s.handshake();
        s.open(1, get("/warm") + Hdrs{{"x-fill", "table entry"}}, true);
        Settings lower = s.conn.local_settings();
        lower.header_table_size = 256;
        REQUIRE(s.conn.update_settings(lower) == ApiError::none);
        s.drain();  // the Peer's encoder learns the new size here
        s.feed(s.peer.settings_ack());
        if (with_update) {
            s.open(3, get("/after"), true);  // the Peer's encoder starts with the update
            expect_no_error(s, s.drain());
            CHECK(s.events.on<ev::Request>(3).has_value());
        } else {
            s.feed(s.peer.headers_block(3, plain_block, true));
            expect_connection_error(s, s.drain(), ErrorCode::compression_error);
        }
    }
}
