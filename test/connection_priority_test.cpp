// Extensible priorities (RFC 9218) in the connection: the order of DATA on
// the wire under constrained windows (urgency first; non-incremental streams
// one by one in id order; incremental ones interleaved; the two kinds
// alternating), reprioritisation in the middle of a body, PRIORITY_UPDATE
// for open, idle, closed and push streams, the server's override, the
// client's side (the priority header, PRIORITY_UPDATE after SETTINGS), the
// setting, and floods.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

/// A server whose client gives every stream a window of 2^24 and the
/// connection only its initial 65,535: the connection window is what
/// constrains, as on a page load.
Session page_server(Config c = {}) {
    Session s(Role::server, c);
    s.handshake({{SettingId::initial_window_size, 1 << 24}, {SettingId::no_rfc7540_priorities, 1}});
    return s;
}

struct Resource {
    std::uint32_t stream;
    std::string priority;  // the request's priority field; empty: none
    std::size_t size;
};

/// Opens every resource's request, then answers them in `answer_order`
/// (all bodies queued before anything is written).
void request_and_answer(Session& s, const std::vector<Resource>& rs, const std::vector<std::size_t>& answer_order) {
    for (const Resource& r : rs) {
        Hdrs h = get("/" + std::to_string(r.stream));
        if (!r.priority.empty()) h.push_back({"priority", r.priority});
        s.open(r.stream, h, true);
    }
    for (const std::size_t i : answer_order) {
        const Resource& r = rs[i];
        REQUIRE(s.conn.submit_response(r.stream, fields(response()), false) == ApiError::none);
        REQUIRE(s.conn.send_data(r.stream, Bytes(r.size, static_cast<std::uint8_t>('a' + i % 26)), true) ==
                ApiError::none);
    }
}

/// The DATA frames of round trips that each return to the connection window
/// what the last one took (`per_trip` at most), until nothing moves.
/// `between(trip)` runs before each trip after the first.
template <class Between>
std::vector<WireFrame> round_trips(Session& s, Between&& between, std::uint32_t per_trip = 65535) {
    std::vector<WireFrame> data;
    for (int trip = 0; trip < 10000; ++trip) {
        if (trip > 0) between(trip);
        std::uint64_t got = 0;
        for (const WireFrame& f : s.drain())
            if (f.type() == Type::data) {
                got += f.data.size();
                data.push_back(f);
            }
        if (got == 0) break;
        s.feed(s.peer.window_update(0, static_cast<std::uint32_t>(std::min<std::uint64_t>(got, per_trip))));
    }
    return data;
}
std::vector<WireFrame> round_trips(Session& s) {
    return round_trips(s, [](int) {});
}

/// Index of the first / last DATA frame of `stream` (SIZE_MAX if none).
std::size_t first_of(const std::vector<WireFrame>& data, std::uint32_t stream) {
    for (std::size_t i = 0; i < data.size(); ++i)
        if (data[i].stream() == stream) return i;
    return SIZE_MAX;
}
std::size_t last_of(const std::vector<WireFrame>& data, std::uint32_t stream) {
    for (std::size_t i = data.size(); i-- > 0;)
        if (data[i].stream() == stream) return i;
    return SIZE_MAX;
}
std::string order_of(const std::vector<WireFrame>& data) {
    std::string o;
    for (const WireFrame& f : data) o += std::to_string(f.stream()) + (f.end_stream() ? "$ " : " ");
    return o;
}

}  // namespace

TEST_CASE("priority: the most urgent response goes first, whatever order the application answered in") {
    Session s = page_server();
    // An image (u=5, i), the document (u=0), a style sheet (u=1), a script
    // with no priority field (u=3); answered image first.
    const std::vector<Resource> rs{{1, "u=5, i", 120000}, {3, "u=0", 90000}, {5, "u=1", 30000}, {7, "", 20000}};
    request_and_answer(s, rs, {0, 1, 2, 3});
    const auto data = round_trips(s);
    INFO(order_of(data));
    // Nothing of a less urgent stream before the last octet of a more
    // urgent one: 3 (u=0), 5 (u=1), 7 (u=3), 1 (u=5).
    CHECK(last_of(data, 3) < first_of(data, 5));
    CHECK(last_of(data, 5) < first_of(data, 7));
    CHECK(last_of(data, 7) < first_of(data, 1));
    for (const Resource& r : rs) CHECK(data_of(data, r.stream).size() == r.size);
    // The document took the fewest round trips the window allows: its
    // 90,000 octets in the first two trips of 65,535.
    std::uint64_t before = 0;
    for (std::size_t i = 0; i <= last_of(data, 3); ++i) before += data[i].data.size();
    CHECK(before == 90000);
}

TEST_CASE("priority: non-incremental responses of one urgency go one by one, in stream id order") {
    Session s = page_server();
    const std::vector<Resource> rs{{1, "u=2", 70000}, {3, "", 50000}, {5, "u=2", 40000}, {7, "u=2", 30000}};
    request_and_answer(s, rs, {3, 2, 1, 0});  // answered last to first
    const auto data = round_trips(s);
    INFO(order_of(data));
    // Urgency 2: 1, then 5, then 7, each whole; then 3 (u=3).
    CHECK(last_of(data, 1) < first_of(data, 5));
    CHECK(last_of(data, 5) < first_of(data, 7));
    CHECK(last_of(data, 7) < first_of(data, 3));
}

TEST_CASE("priority: incremental responses of one urgency are interleaved, none starves") {
    Session s = page_server();
    const std::vector<Resource> rs{{1, "u=4, i", 100000}, {3, "u=4, i", 100000}, {5, "i, u=4", 100000}};
    request_and_answer(s, rs, {0, 1, 2});
    const auto data = round_trips(s);
    INFO(order_of(data));
    // Frame by frame in turn: within every three consecutive frames while
    // all three are sending, each stream appears once.
    const std::size_t all_sending = std::min({last_of(data, 1), last_of(data, 3), last_of(data, 5)});
    REQUIRE(all_sending >= 6);
    for (std::size_t i = 0; i + 3 <= all_sending; ++i) {
        const std::set<std::uint32_t> three{data[i].stream(), data[i + 1].stream(), data[i + 2].stream()};
        CHECK_MESSAGE(three.size() == 3, "frames " << i << ".." << i + 2);
    }
}

TEST_CASE("priority: at one urgency, non-incremental and incremental streams alternate") {
    Session s = page_server();
    // RFC 9218 §10: neither kind may starve the other. Non-incremental 1
    // and 3 (in id order among themselves), incremental 5 and 7.
    const std::vector<Resource> rs{{1, "", 60000}, {3, "", 60000}, {5, "i", 60000}, {7, "i", 60000}};
    request_and_answer(s, rs, {0, 1, 2, 3});
    const auto data = round_trips(s);
    INFO(order_of(data));
    REQUIRE(data.size() >= 8);
    // Turns alternate between the kinds while both have data: frames 0, 2,
    // 4 ... non-incremental, 1, 3, 5 ... incremental.
    const std::size_t both = std::min(last_of(data, 3), std::min(last_of(data, 5), last_of(data, 7)));
    for (std::size_t i = 0; i < both; ++i) {
        const bool incremental = data[i].stream() == 5 || data[i].stream() == 7;
        CHECK_MESSAGE(incremental == (i % 2 == 1), "frame " << i << " is stream " << data[i].stream());
    }
    // Among the non-incremental: 1 whole, then 3.
    CHECK(last_of(data, 1) < first_of(data, 3));
    // Among the incremental: interleaved.
    CHECK(first_of(data, 7) < last_of(data, 5));
}

TEST_CASE("priority: a stream blocked on its own window never blocks the others") {
    Session s(Role::server);
    s.handshake({{SettingId::initial_window_size, 20000}, {SettingId::no_rfc7540_priorities, 1}});
    s.feed(s.peer.window_update(0, 1 << 20));
    const std::vector<Resource> rs{{1, "u=0", 50000}, {3, "u=6", 10000}};
    request_and_answer(s, rs, {0, 1});
    auto out = s.drain();
    // Stream 1 used its 20,000 and waits; stream 3 went on meanwhile.
    CHECK(data_of(out, 1).size() == 20000);
    CHECK(data_of(out, 3).size() == 10000);
    // Its window back, stream 1 goes on.
    s.feed(s.peer.window_update(1, 40000));
    out = s.drain();
    CHECK(data_of(out, 1).size() == 30000);
}

TEST_CASE("priority: PRIORITY_UPDATE in the middle of a body reorders from the next frame on") {
    Session s = page_server();
    const std::vector<Resource> rs{{1, "", 200000}, {3, "", 200000}};
    request_and_answer(s, rs, {0, 1});
    // The first round trip: stream 1 (the lower id) only.
    const auto first = only(s.drain(), Type::data);
    CHECK(data_of(first, 1).size() == 65535);
    CHECK(data_of(first, 3).empty());
    // Stream 3 becomes urgent: from the next frame on it goes first.
    s.feed(s.peer.priority_update(3, "u=0"));
    s.feed(s.peer.window_update(0, 65535));
    const auto rest = round_trips(s);
    INFO(order_of(rest));
    REQUIRE(!rest.empty());
    CHECK(rest.front().stream() == 3);
    CHECK(last_of(rest, 3) < first_of(rest, 1));
    CHECK(data_of(rest, 3).size() == 200000);
    CHECK(data_of(rest, 1).size() == 200000 - 65535);
    const auto ups = s.events.all<ev::PriorityUpdated>();
    REQUIRE(ups.size() == 1);
    CHECK(ups[0].stream == 3);
    CHECK(ups[0].priority == Priority{0, false});
}

TEST_CASE("priority: an update that comes before its request applies when the request arrives") {
    Session s = page_server();
    s.feed(s.peer.priority_update(5, "u=1, i"));
    s.feed(s.peer.priority_update(5, "u=6"));  // the latest counts (RFC 9218 §7.1)
    s.feed(s.peer.priority_update(9, "u=0"));
    // Overrides the request's own field.
    s.open(5, get() + Hdrs{{"priority", "u=2, i"}}, true);
    s.open(7, get() + Hdrs{{"priority", "u=2, i"}}, true);
    const auto reqs = s.events.all<ev::Request>();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].priority == Priority{6, false});
    CHECK(reqs[1].priority == Priority{2, true});
    CHECK(s.conn.priority(5) == Priority{6, false});
    CHECK(s.conn.priority(7) == Priority{2, true});
    // Stream 9's update still waits; opening 11 closes 9 and drops it.
    s.open(11, get(), true);
    CHECK(s.conn.priority(11) == Priority{});
    s.feed(s.peer.priority_update(9, "u=0"));  // closed now: discarded
    CHECK(!s.conn.is_closed());
}

TEST_CASE("priority: a header field that does not parse leaves the defaults; lines are read in order") {
    Session s = page_server();
    s.open(1, get() + Hdrs{{"priority", "u=1, i=2"}}, true);  // i not a Boolean: ignored
    s.open(3, get() + Hdrs{{"priority", "u=1,"}}, true);      // not a Dictionary
    s.open(5, get() + Hdrs{{"priority", "u=1"}, {"x", "y"}, {"priority", "i"}}, true);
    s.open(7, get() + Hdrs{{"priority", "u=9"}}, true);  // out of range
    CHECK(s.conn.priority(1) == Priority{1, false});
    CHECK(s.conn.priority(3) == Priority{});
    CHECK(s.conn.priority(5) == Priority{1, true});
    CHECK(s.conn.priority(7) == Priority{});
}

TEST_CASE("priority: the server application's choice holds against the client's later updates") {
    Session s = page_server();
    const std::vector<Resource> rs{{1, "u=1", 100000}, {3, "u=2", 100000}};
    request_and_answer(s, rs, {0, 1});
    REQUIRE(s.conn.set_priority(3, Priority{0, false}) == ApiError::none);
    s.feed(s.peer.priority_update(3, "u=7"));
    CHECK(s.conn.priority(3) == Priority{0, false});
    const auto data = round_trips(s);
    INFO(order_of(data));
    CHECK(last_of(data, 3) < first_of(data, 1));
    // The update was still reported.
    CHECK(s.events.all<ev::PriorityUpdated>().size() == 1);
    CHECK(s.conn.set_priority(3, Priority{8, false}) == ApiError::invalid_argument);
    CHECK(s.conn.set_priority(99, Priority{}) == ApiError::invalid_stream);
    CHECK(s.conn.reprioritize(1, Priority{}) == ApiError::wrong_role);
}

TEST_CASE("priority: PRIORITY_UPDATE errors and discards (RFC 9218 §7.1)") {
    SUBCASE("for an idle push stream: PROTOCOL_ERROR") {
        Session s = page_server();
        s.feed(s.peer.priority_update(2, "u=0"));
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
    }
    SUBCASE("a value that is not a Dictionary is reported and ignored") {
        Session s = page_server();
        s.open(1, get() + Hdrs{{"priority", "u=2"}}, true);
        s.feed(s.peer.priority_update(1, "u=("));
        CHECK(s.conn.priority(1) == Priority{2, false});
        const auto ups = s.events.all<ev::PriorityUpdated>();
        REQUIRE(ups.size() == 1);
        CHECK(ups[0].field_value == "u=(");
        CHECK(!ups[0].priority);
        CHECK(!s.conn.is_closed());
    }
    SUBCASE("idle streams with a priority plus active ones past SETTINGS_MAX_CONCURRENT_STREAMS") {
        Config c;
        c.limits.max_concurrent_streams = 4;
        Session s = page_server(c);
        s.open(1, get(), false);  // active
        for (std::uint32_t id : {3u, 5u, 7u}) s.feed(s.peer.priority_update(id, "u=1"));
        s.feed(s.peer.priority_update(7, "u=2"));  // the same stream again: no more
        CHECK(!s.conn.is_closed());
        s.feed(s.peer.priority_update(9, "u=1"));  // 1 active + 4 idle > 4
        expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
    }
    SUBCASE("for a stream whose response ended: discarded") {
        Session s = page_server();
        s.open(1, get(), true);
        REQUIRE(s.conn.submit_response(1, fields(response()), true) == ApiError::none);
        s.drain();
        s.feed(s.peer.priority_update(1, "u=0"));
        CHECK(!s.conn.is_closed());
        CHECK(s.conn.priority(1) == std::nullopt);
    }
}

TEST_CASE("priority: floods of PRIORITY_UPDATE are bounded like other empty frames") {
    SUBCASE("on an open stream") {
        Session s = page_server();
        s.open(1, get(), false);
        Bytes flood;
        for (int i = 0; i < 12000; ++i) append(flood, s.peer.priority_update(1, i % 2 ? "u=0" : "u=7, i"));
        s.feed(flood);
        // Limits::max_empty_frames (10,000): ENHANCE_YOUR_CALM, memory bounded.
        expect_connection_error(s, s.drain(), ErrorCode::enhance_your_calm);
        CHECK(s.conn.memory_used() < 4 * 1024 * 1024);
    }
    SUBCASE("for idle streams, under a large SETTINGS_MAX_CONCURRENT_STREAMS") {
        Config c;
        c.limits.max_concurrent_streams = 1000000;
        Session s = page_server(c);
        const std::size_t before = s.conn.memory_used();
        Bytes flood;
        for (std::uint32_t i = 0; i < 5000; ++i) append(flood, s.peer.priority_update(1001 + 2 * i, "u=1"));
        s.feed(flood);
        CHECK(!s.conn.is_closed());
        CHECK(s.events.all<ev::PriorityUpdated>().size() == 5000);
        // What stays once the events are gone: at most 256 updates held (8
        // octets each, in a vector that may double).
        s.collect();
        s.conn.trim();
        CHECK(s.conn.memory_used() < before + 8 * 1024);
    }
}

TEST_CASE("priority: SETTINGS_NO_RFC7540_PRIORITIES is sent, and may not change (RFC 9218 §2.1)") {
    Session s(Role::server);
    const auto out = s.drain();
    REQUIRE(!out.empty());
    REQUIRE(out[0].type() == Type::settings);
    bool said = false;
    for (const Setting& x : out[0].settings) said |= x.id == SettingId::no_rfc7540_priorities && x.value == 1;
    CHECK(said);
    s.feed(s.peer.preface({{SettingId::no_rfc7540_priorities, 1}}));
    s.feed(s.peer.settings({{SettingId::no_rfc7540_priorities, 1}}));  // the same: fine
    CHECK(!s.conn.is_closed());
    s.feed(s.peer.settings({{SettingId::no_rfc7540_priorities, 0}}));
    expect_connection_error(s, s.drain(), ErrorCode::protocol_error);
}

TEST_CASE("priority: RFC 7540 PRIORITY frames and HEADERS priority fields change nothing") {
    Session s = page_server();
    HeadersOptions o;
    o.priority = frame::PriorityFields{false, 0, 255};
    s.feed(s.peer.headers(1, get() + Hdrs{{"priority", "u=4"}}, true, o));
    s.feed(s.peer.raw(Type::priority, 0, 1, Bytes{0, 0, 0, 3, 200}));
    CHECK(s.conn.priority(1) == Priority{4, false});
    CHECK(!s.conn.is_closed());
}

TEST_CASE("priority: client: submit_request with a priority sends the field; reprioritize sends PRIORITY_UPDATE") {
    SUBCASE("the server takes RFC 9218 (its SETTINGS said so)") {
        Session s(Role::client);
        s.handshake({{SettingId::no_rfc7540_priorities, 1}});
        const auto f = fields(get("/a.css"));
        const Submitted a = s.conn.submit_request(f, true, Priority{1, false});
        const Submitted b = s.conn.submit_request(f, true, Priority{});
        const Submitted c = s.conn.submit_request(f, true, Priority{5, true});
        REQUIRE((a && b && c));
        auto out = s.drain();
        INFO(str(out));
        CHECK(find_field(first(out, Type::headers, a.stream)->headers, "priority") == "u=1");
        CHECK(!find_field(first(out, Type::headers, b.stream)->headers, "priority"));
        CHECK(find_field(first(out, Type::headers, c.stream)->headers, "priority") == "u=5, i");
        CHECK(s.conn.priority(c.stream) == Priority{5, true});
        REQUIRE(s.conn.reprioritize(c.stream, Priority{0, true}) == ApiError::none);
        out = s.drain();
        const auto ups = only(out, Type::priority_update);
        REQUIRE(ups.size() == 1);
        CHECK(ups[0].prioritized == c.stream);
        CHECK(ups[0].priority_value == "u=0, i");
        CHECK(s.conn.priority(c.stream) == Priority{0, true});
        CHECK(s.conn.reprioritize(c.stream, Priority{9, false}) == ApiError::invalid_argument);
        CHECK(s.conn.reprioritize(1001, Priority{}) == ApiError::invalid_stream);
    }
    SUBCASE("the server's SETTINGS did not say it: no frame, the local priority changes") {
        Session s(Role::client);
        s.handshake();
        const Submitted a = s.conn.submit_request(fields(get()), true, Priority{2, false});
        REQUIRE(a);
        s.drain();
        CHECK(s.conn.reprioritize(a.stream, Priority{0, false}) == ApiError::unsupported_by_peer);
        CHECK(count(s.drain(), Type::priority_update) == 0);
        CHECK(s.conn.priority(a.stream) == Priority{0, false});
    }
    SUBCASE("a request waiting for a stream slot: the update follows its HEADERS") {
        Session s(Role::client);
        s.handshake({{SettingId::max_concurrent_streams, 1}, {SettingId::no_rfc7540_priorities, 1}});
        const Submitted a = s.conn.submit_request(fields(get()), true);
        const Submitted b = s.conn.submit_request(fields(get()), true, Priority{4, false});
        REQUIRE((a && b));
        s.drain();
        REQUIRE(s.conn.reprioritize(b.stream, Priority{1, false}) == ApiError::none);
        auto out = s.drain();
        CHECK(count(out, Type::priority_update) == 0);  // b still waits
        s.feed(s.peer.headers(a.stream, response(), true));
        out = s.drain();
        INFO(str(out));
        std::size_t h = SIZE_MAX, u = SIZE_MAX;
        for (std::size_t i = 0; i < out.size(); ++i) {
            if (out[i].is(Type::headers, b.stream)) h = i;
            if (out[i].type() == Type::priority_update) u = i;
        }
        REQUIRE(h != SIZE_MAX);
        REQUIRE(u != SIZE_MAX);
        CHECK(h < u);
        CHECK(out[u].prioritized == b.stream);
        CHECK(out[u].priority_value == "u=1");
    }
}

TEST_CASE("priority: client request bodies go out by their priority") {
    Session s(Role::client);
    s.handshake({{SettingId::initial_window_size, 1 << 24}, {SettingId::no_rfc7540_priorities, 1}});
    const Submitted a = s.conn.submit_request(fields(request()), false, Priority{6, false});
    const Submitted b = s.conn.submit_request(fields(request()), false, Priority{0, false});
    REQUIRE((a && b));
    REQUIRE(s.conn.send_data(a.stream, Bytes(60000, 'a'), true) == ApiError::none);
    REQUIRE(s.conn.send_data(b.stream, Bytes(60000, 'b'), true) == ApiError::none);
    const auto data = round_trips(s);
    INFO(order_of(data));
    CHECK(last_of(data, b.stream) < first_of(data, a.stream));
}

TEST_CASE("priority: random pages keep urgency order and id order on the wire") {
    Rng rng(9218);
    for (int round = 0; round < 60; ++round) {
        CAPTURE(round);
        Session s = page_server();
        std::vector<Resource> rs;
        std::map<std::uint32_t, Priority> want;
        const int n = static_cast<int>(rng.between(2, 30));
        for (int i = 0; i < n; ++i) {
            const Priority p{static_cast<std::uint8_t>(rng.between(0, 7)), rng.one_in(2)};
            const auto id = static_cast<std::uint32_t>(2 * i + 1);
            const std::string field = std::string(format_priority(p).view());
            rs.push_back({id, field, rng.between(1, 70000)});
            want[id] = p;
        }
        std::vector<std::size_t> answer(rs.size());
        for (std::size_t i = 0; i < answer.size(); ++i) answer[i] = i;
        for (std::size_t i = answer.size(); i > 1; --i) std::swap(answer[i - 1], answer[rng.between(0, i - 1)]);
        request_and_answer(s, rs, answer);
        const auto per_trip = static_cast<std::uint32_t>(rng.between(1000, 70000));
        const auto data = round_trips(s, [](int) {}, per_trip);
        INFO(order_of(data));
        // Urgencies never go back up: every body was queued before the
        // first frame, and only the connection window constrains.
        for (std::size_t i = 1; i < data.size(); ++i)
            CHECK(want[data[i - 1].stream()].urgency <= want[data[i].stream()].urgency);
        // Non-incremental streams of one urgency: each whole before the next
        // starts, in id order.
        std::map<unsigned, std::uint32_t> last_non_incremental;
        std::set<std::uint32_t> finished;
        for (const WireFrame& f : data) {
            const Priority p = want[f.stream()];
            if (p.incremental) continue;
            CHECK(!finished.count(f.stream()));
            auto it = last_non_incremental.find(p.urgency);
            if (it != last_non_incremental.end() && it->second != f.stream()) {
                CHECK(it->second < f.stream());
                finished.insert(it->second);
            }
            last_non_incremental[p.urgency] = f.stream();
        }
        for (const Resource& r : rs) CHECK(data_of(data, r.stream).size() == r.size);
    }
}
