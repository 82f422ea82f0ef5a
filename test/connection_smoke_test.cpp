// Quick checks written while developing the connection (the full suite is
// test/connection_*_test.cpp).
#include <doctest/doctest.h>

#include <cstdio>

#include "support/connection_harness.hpp"

using namespace h2wire;
using namespace h2wire::conn_test;

TEST_CASE("connection smoke: small windows, big uploads") {
    Config c;
    c.settings.initial_window_size = 16384;
    c.connection_window_size = 100000;
    Pair p(c, c, 7, false);
    const int n = 10;
    std::vector<std::uint32_t> ids;
    std::map<std::uint32_t, std::size_t> sent, got;
    std::map<std::uint32_t, bool> ended;
    const Bytes body(300000, 'q');
    for (int i = 0; i < n; ++i) {
        const auto f = fields(request());
        const Submitted s = p.client.submit_request(f, false);
        REQUIRE(s);
        ids.push_back(s.stream);
    }
    p.on_server = [&](Connection& conn, const Event& e) {
        if (const auto* d = std::get_if<DataReceived>(&e)) got[d->stream] += d->data.size();
        if (const auto* d = std::get_if<StreamEnded>(&e)) {
            ended[d->stream] = true;
            const auto f = fields(response());
            CHECK(conn.submit_response(d->stream, f, true) == ApiError::none);
        }
        if (const auto* r = std::get_if<StreamReset>(&e)) FAIL("reset " << r->stream << " " << r->reason);
    };
    std::size_t steps = 0;
    for (; steps < 100000; ++steps) {
        for (std::uint32_t id : ids) {
            std::size_t& off = sent[id];
            if (off >= body.size()) continue;
            const std::size_t cap = p.client.send_capacity(id);
            const std::size_t k = std::min(cap, body.size() - off);
            if (k == 0) continue;
            CHECK(p.client.send_data(id, std::span(body.data() + off, k), off + k == body.size()) == ApiError::none);
            off += k;
        }
        if (p.step() == 0) break;
    }
    MESSAGE("steps " << steps);
    for (std::uint32_t id : ids) {
        INFO("stream " << id << " got " << got[id] << " buffered " << p.client.buffered(id) << " window "
                       << p.client.send_window(id));
        CHECK(ended[id]);
    }
}
