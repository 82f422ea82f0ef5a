// A client and a server Connection wired together in memory exchange
// hundreds of concurrent requests with bodies (random sizes up to ~1 MiB),
// 1xx responses and trailers, with every transfer cut at random points and,
// in manual flow control, consume() called at random times. Everything must
// arrive byte-exact, with no stream error.
#include <doctest/doctest.h>

#include <memory_resource>

#include "support/connection_harness.hpp"
#include "support/counting_resource.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

struct Message {
    Hdrs headers;
    Bytes body;
    Hdrs trailers;               // empty: none
    bool informational = false;  // responses: a 103 first
};

std::size_t body_size(Rng& rng) {
    switch (rng.below(10)) {
        case 0:
        case 1:
        case 2:
            return 0;
        case 3:
        case 4:
        case 5:
            return rng.between(1, 1000);
        case 6:
        case 7:
            return rng.between(1001, 64 * 1024);
        case 8:
            return rng.between(64 * 1024, 256 * 1024);
        default:
            return rng.one_in(3) ? rng.between(256 * 1024, 1024 * 1024) : rng.between(1, 100);
    }
}

Hdrs random_fields(Rng& rng, const std::string& prefix) {
    Hdrs h;
    const std::size_t n = rng.below(6);
    for (std::size_t i = 0; i < n; ++i)
        h.push_back({prefix + std::to_string(rng.below(20)), rng.letters(rng.between(1, 60))});
    if (rng.one_in(8))
        h.push_back({prefix + "big", rng.letters(rng.between(1000, 20000))});  // CONTINUATION now and then
    return h;
}

Message make_request(std::size_t i, Rng& rng) {
    Message m;
    m.body = rng.bytes(body_size(rng));
    m.headers = request(rng.one_in(2) ? "POST" : "PUT", "/item/" + std::to_string(i));
    m.headers.push_back({"x-id", std::to_string(i)});
    if (rng.one_in(2)) m.headers.push_back({"content-length", std::to_string(m.body.size())});
    m.headers = m.headers + random_fields(rng, "x-req-");
    if (rng.one_in(3)) m.trailers = Hdrs{{"x-req-trailer", rng.letters(10)}} + random_fields(rng, "x-rt-");
    return m;
}

Message make_response(Rng& rng) {
    Message m;
    m.body = rng.bytes(body_size(rng));
    m.headers = response(200);
    if (rng.one_in(2)) m.headers.push_back({"content-length", std::to_string(m.body.size())});
    m.headers = m.headers + random_fields(rng, "x-resp-");
    if (rng.one_in(3)) m.trailers = Hdrs{{"x-resp-trailer", rng.letters(10)}};
    m.informational = rng.one_in(10);
    return m;
}

/// What one side is sending on one stream.
struct Outgoing {
    const Message* msg = nullptr;
    std::size_t offset = 0;
    bool done = false;
};

/// What one side received on one stream.
struct Incoming {
    Hdrs headers;
    Bytes body;
    Hdrs trailers;
    int informational = 0;
    bool ended = false;
    bool reset = false;
};

struct Options {
    FlowControl flow = FlowControl::automatic;
    std::uint32_t window = 1024 * 1024;
    std::uint32_t connection_window = 16 * 1024 * 1024;
    bool chunked = true;
    std::size_t requests = 300;
    std::uint64_t seed = 1;
};

class Exchange {
public:
    explicit Exchange(const Options& o)
        : opt_(o), rng_(o.seed * 1000003), pair_(config(o), config(o), o.seed, o.chunked) {
        for (std::size_t i = 0; i < o.requests; ++i) {
            requests_.push_back(make_request(i, rng_));
            responses_.push_back(make_response(rng_));
        }
        pair_.on_server = [this](Connection& c, const Event& e) { on_event(c, e, server_in_, /*server=*/true); };
        pair_.on_client = [this](Connection& c, const Event& e) { on_event(c, e, client_in_, /*server=*/false); };
    }

    void run() {
        // The SETTINGS exchange first, so that the client knows the server's
        // SETTINGS_MAX_CONCURRENT_STREAMS (before it, the limit is unbounded
        // and the server would refuse streams past its own).
        for (int i = 0; i < 10000 && !client_has_settings_; ++i) pair_.step();
        REQUIRE(client_has_settings_);
        // Every request submitted at once: most wait for a stream slot.
        for (std::size_t i = 0; i < requests_.size(); ++i) {
            const Message& m = requests_[i];
            const auto f = fields(m.headers);
            const bool end = m.body.empty() && m.trailers.empty();
            const Submitted sub = pair_.client.submit_request(f, end);
            REQUIRE_MESSAGE(sub, "request " << i << ": " << to_string(sub.error));
            id_of_[i] = sub.stream;
            client_out_[sub.stream] = Outgoing{&m, 0, end};
        }
        std::size_t idle = 0;
        std::size_t steps = 0;
        while (!finished() && steps < 5'000'000) {
            ++steps;
            feed_bodies(pair_.client, client_out_);
            feed_bodies(pair_.server, server_out_);
            if (opt_.flow == FlowControl::manual && rng_.one_in(3)) consume_some(false);
            const std::size_t moved = pair_.step();
            if (moved == 0) {
                if (opt_.flow == FlowControl::manual) consume_some(true);
                if (++idle > 50) break;
            } else {
                idle = 0;
            }
        }
        INFO("steps " << steps);
        CHECK(finished());
        std::size_t up = 0, down = 0, trailers = 0, big = 0;
        for (std::size_t i = 0; i < requests_.size(); ++i) {
            up += requests_[i].body.size();
            down += responses_[i].body.size();
            trailers += !requests_[i].trailers.empty() + !responses_[i].trailers.empty();
            big += requests_[i].body.size() > 256 * 1024;
        }
        MESSAGE(requests_.size() << " requests, " << up << " octets up, " << down << " octets down, " << trailers
                                 << " trailer blocks, " << steps << " steps");
        // The exchange is not trivial.
        CHECK(up > 4'000'000);
        CHECK(down > 4'000'000);
        CHECK(big >= 3);
    }

    void verify() {
        if (!errors_.empty()) {
            std::vector<std::string> some(
                errors_.begin(),
                errors_.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(errors_.size(), 20)));
            FAIL_CHECK(errors_.size() << " errors, the first ones:\n" << join(some));
        }
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < requests_.size() && wrong < 5; ++i) {
            CAPTURE(i);
            const std::uint32_t id = id_of_[i];
            CAPTURE(id);
            const Incoming& req = server_in_[id];
            const Message& want_req = requests_[i];
            const Incoming& resp = client_in_[id];
            const Message& want_resp = responses_[i];
            Hdrs want_headers = want_resp.headers;
            want_headers.insert(want_headers.begin() + 1, Hdr{"x-id", std::to_string(i)});
            const bool ok = plain(req.headers) == want_req.headers && req.body == want_req.body &&
                            plain(req.trailers) == want_req.trailers && req.ended && !req.reset &&
                            plain(resp.headers) == want_headers && resp.body == want_resp.body &&
                            plain(resp.trailers) == want_resp.trailers &&
                            resp.informational == (want_resp.informational ? 1 : 0) && resp.ended && !resp.reset;
            if (ok) continue;
            ++wrong;
            CHECK(describe(plain(req.headers)) == describe(want_req.headers));
            CHECK(req.body.size() == want_req.body.size());
            CHECK(req.body == want_req.body);
            CHECK(describe(plain(req.trailers)) == describe(want_req.trailers));
            CHECK(req.ended);
            CHECK(!req.reset);
            CHECK(describe(plain(resp.headers)) == describe(want_headers));
            CHECK(resp.body.size() == want_resp.body.size());
            CHECK(resp.body == want_resp.body);
            CHECK(describe(plain(resp.trailers)) == describe(want_resp.trailers));
            CHECK(resp.informational == (want_resp.informational ? 1 : 0));
            CHECK(resp.ended);
            CHECK(!resp.reset);
        }
        CHECK(wrong == 0);
        CHECK(pair_.client.open_streams() == 0);
        CHECK(pair_.server.open_streams() == 0);
        CHECK(!pair_.client.is_closed());
        CHECK(!pair_.server.is_closed());
    }

private:
    static Config config(const Options& o) {
        Config c;
        c.flow_control = o.flow;
        c.settings.initial_window_size = o.window;
        c.connection_window_size = o.connection_window;
        return c;
    }

    bool finished() const {
        if (client_in_.size() < requests_.size()) return false;
        for (const auto& [id, in] : client_in_)
            if (!in.ended) return false;
        return !pair_.client.wants_write() && !pair_.server.wants_write();
    }

    void on_event(Connection& c, const Event& e, std::map<std::uint32_t, Incoming>& in, bool server) {
        std::visit(overloaded{
                       [&](const SettingsReceived&) {
                           if (!server) client_has_settings_ = true;
                       },
                       [&](const RequestReceived& r) { in[r.stream].headers = owned(r.headers); },
                       [&](const ResponseReceived& r) { in[r.stream].headers = owned(r.headers); },
                       [&](const InformationalResponseReceived& r) {
                           ++in[r.stream].informational;
                           if (r.status != 103) errors_.push_back("1xx status " + std::to_string(r.status));
                       },
                       [&](const TrailersReceived& r) { in[r.stream].trailers = owned(r.headers); },
                       [&](const DataReceived& d) {
                           append(in[d.stream].body, d.data);
                           if (opt_.flow == FlowControl::manual)
                               (server ? server_unconsumed_ : client_unconsumed_)[d.stream] += d.flow_controlled_length;
                       },
                       [&](const StreamEnded& s) {
                           in[s.stream].ended = true;
                           if (server) respond(c, s.stream);
                       },
                       [&](const StreamReset& r) {
                           in[r.stream].reset = true;
                           errors_.push_back((server ? "server: " : "client: ") + describe(own(e)));
                       },
                       [&](const ConnectionTerminated&) {
                           errors_.push_back((server ? "server: " : "client: ") + describe(own(e)));
                       },
                       [&](const auto&) {},
                   },
                   e);
    }

    /// Server: the request ended; answer it (inside the event loop, which the
    /// API allows: the events stay valid until the next receive()).
    void respond(Connection& c, std::uint32_t stream) {
        const auto id = find_field(server_in_[stream].headers, "x-id");
        if (!id) {
            errors_.push_back("request without x-id on " + std::to_string(stream));
            return;
        }
        const Message& m = responses_[std::stoul(*id)];
        if (m.informational) {
            const Hdrs early = response(103, {{"link", "</a.css>; rel=preload"}});
            if (c.submit_response(stream, fields(early), false) != ApiError::none) errors_.push_back("103 refused");
        }
        Hdrs h = m.headers;
        h.insert(h.begin() + 1, Hdr{"x-id", *id});
        const bool end = m.body.empty() && m.trailers.empty();
        const ApiError e = c.submit_response(stream, fields(h), end);
        if (e != ApiError::none) errors_.push_back("submit_response: " + std::string(to_string(e)));
        server_out_[stream] = Outgoing{&m, 0, end};
    }

    /// Hands body octets and trailers to the connection as its buffers allow.
    void feed_bodies(Connection& c, std::map<std::uint32_t, Outgoing>& out) {
        for (auto& [stream, o] : out) {
            if (o.done) continue;
            const Bytes& body = o.msg->body;
            const bool trailers = !o.msg->trailers.empty();
            if (o.offset < body.size()) {
                const std::size_t left = body.size() - o.offset;
                std::size_t n;
                ApiError e;
                const bool borrowed = rng_.one_in(3);
                if (borrowed) {
                    n = std::min(left, rng_.between(1, 300000));
                } else {
                    const std::size_t cap = c.send_capacity(stream);
                    if (cap == 0) continue;
                    n = std::min({left, cap, rng_.between(1, 100000)});
                }
                const bool end = n == left && !trailers;
                const std::span<const std::uint8_t> piece(body.data() + o.offset, n);
                e = borrowed ? c.send_data_borrowed(stream, piece, end) : c.send_data(stream, piece, end);
                if (e != ApiError::none) {
                    errors_.push_back("send_data on " + std::to_string(stream) + ": " + std::string(to_string(e)));
                    o.done = true;
                    continue;
                }
                o.offset += n;
                if (end) o.done = true;
                continue;
            }
            if (trailers) {
                const ApiError e = c.send_trailers(stream, fields(o.msg->trailers));
                if (e != ApiError::none) errors_.push_back("send_trailers: " + std::string(to_string(e)));
            } else if (body.empty()) {
                errors_.push_back("stream left open");
            }
            o.done = true;
        }
    }

    /// Manual flow control: the application processes some of what it got.
    void consume_some(bool everything) {
        for (auto* side : {&client_unconsumed_, &server_unconsumed_}) {
            Connection& c = side == &client_unconsumed_ ? pair_.client : pair_.server;
            for (auto& [stream, n] : *side) {
                if (n == 0 || (!everything && !rng_.one_in(4))) continue;
                const std::size_t k = everything || rng_.one_in(2) ? n : rng_.between(1, n);
                const ApiError e = c.consume(stream, k);
                if (e != ApiError::none) errors_.push_back("consume: " + std::string(to_string(e)));
                n -= k;
            }
        }
    }

    Options opt_;
    Rng rng_;
    Pair pair_;
    std::vector<Message> requests_, responses_;
    std::map<std::size_t, std::uint32_t> id_of_;
    std::map<std::uint32_t, Outgoing> client_out_, server_out_;
    std::map<std::uint32_t, Incoming> client_in_, server_in_;
    std::map<std::uint32_t, std::size_t> client_unconsumed_, server_unconsumed_;
    std::vector<std::string> errors_;
    bool client_has_settings_ = false;
};

}  // namespace

TEST_CASE("connection exchange: hundreds of requests, automatic flow control, random chunking") {
    Options o;
    o.seed = 1;
    Exchange x(o);
    x.run();
    x.verify();
}

TEST_CASE("connection exchange: manual flow control with random consume timing and small windows") {
    Options o;
    o.seed = 2;
    o.flow = FlowControl::manual;
    o.window = 65535;
    o.connection_window = 65535;
    o.requests = 200;
    Exchange x(o);
    x.run();
    x.verify();
}

TEST_CASE("connection exchange: automatic flow control, small windows, whole transfers") {
    Options o;
    o.seed = 3;
    o.window = 16384;
    o.connection_window = 100000;
    o.chunked = false;
    o.requests = 200;
    Exchange x(o);
    x.run();
    x.verify();
}

using test_support::CountingResource;

TEST_CASE("connection exchange: allocations go through Config::memory, none per request once warm") {
    CountingResource client_mem, server_mem, default_guard;
    std::pmr::memory_resource* const old_default = std::pmr::set_default_resource(&default_guard);
    {
        Config cc, sc;
        cc.memory = &client_mem;
        sc.memory = &server_mem;
        Pair pair(cc, sc, 11, false);  // whole transfers: every round has the same shape
        const Hdrs req =
            get("/same") +
            Hdrs{{"user-agent", "h2wire-test"},
                 {"cookie", "session=abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567"}};
        const Hdrs resp =
            response(200, {{"content-type", "text/plain"}, {"server", "h2wire"}, {"cache-control", "no-cache"}});
        const Bytes body(100, 'b');
        std::size_t done = 0;
        pair.on_server = [&](Connection& c, const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e)) {
                if (c.submit_response(r->stream, fields(resp), false) != ApiError::none) FAIL_CHECK("submit_response");
                if (c.send_data(r->stream, body, true) != ApiError::none) FAIL_CHECK("send_data");
            }
        };
        pair.on_client = [&](Connection&, const Event& e) {
            if (std::holds_alternative<StreamEnded>(e)) ++done;
            if (std::holds_alternative<StreamReset>(e) || std::holds_alternative<ConnectionTerminated>(e))
                FAIL_CHECK("unexpected event " << describe(own(e)));
        };
        auto round = [&](std::size_t n) {
            done = 0;
            const auto f = fields(req);
            for (std::size_t i = 0; i < n; ++i) REQUIRE(pair.client.submit_request(f, true));
            for (int i = 0; i < 100000 && done < n; ++i) pair.step();
            REQUIRE(done == n);
        };
        // Warm up: pools grow to what this traffic needs.
        for (int r = 0; r < 5; ++r) round(100);
        // Warm: ten more rounds allocate nothing and hold no more memory.
        const std::size_t client_before = client_mem.allocations, server_before = server_mem.allocations;
        const std::size_t client_live = client_mem.live, server_live = server_mem.live;
        std::string per_round;
        for (int r = 0; r < 10; ++r) {
            const std::size_t c0 = client_mem.allocations, s0 = server_mem.allocations;
            round(100);
            per_round +=
                " " + std::to_string(client_mem.allocations - c0) + "/" + std::to_string(server_mem.allocations - s0);
        }
        INFO("allocations per round of 100 requests (client/server):" << per_round);
        INFO("live octets: client " << client_live << " -> " << client_mem.live << ", server " << server_live << " -> "
                                    << server_mem.live);
        CHECK(client_mem.allocations > 0);
        CHECK(server_mem.allocations > 0);
        CHECK(client_mem.allocations - client_before == 0);
        CHECK(server_mem.allocations - server_before == 0);
        CHECK(client_mem.live <= client_live);
        CHECK(server_mem.live <= server_live);
    }
    std::pmr::set_default_resource(old_default);
    CHECK(default_guard.allocations == 0);
    CHECK(client_mem.live == 0);
    CHECK(server_mem.live == 0);
}
