// What a flood costs per octet received, next to what ordinary requests
// cost. A server connection with 100 open streams (the work some frames
// cause grows with them) takes a batch of one kind of frame; the figure that
// matters is instructions per octet, counted by callgrind over feed() alone:
//
//   bash tools/flood_cost.sh          (build/bench/h2wire-bench, every flood)
//
// The timings Google Benchmark prints include setting up the connection and
// its streams for each batch; use them only to compare floods.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "h2wire/connection.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

void frame(Bytes& out, std::uint8_t type, std::uint8_t flags, std::uint32_t stream, std::span<const std::uint8_t> p) {
    const std::size_t n = p.size();
    const std::uint8_t h[9] = {static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                               static_cast<std::uint8_t>(n),       type,
                               flags,                               static_cast<std::uint8_t>(stream >> 24),
                               static_cast<std::uint8_t>(stream >> 16), static_cast<std::uint8_t>(stream >> 8),
                               static_cast<std::uint8_t>(stream)};
    out.insert(out.end(), h, h + 9);
    out.insert(out.end(), p.begin(), p.end());
}

void u32(Bytes& p, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) p.push_back(static_cast<std::uint8_t>(v >> s));
}

void setting(Bytes& p, std::uint16_t id, std::uint32_t v) {
    p.push_back(static_cast<std::uint8_t>(id >> 8));
    p.push_back(static_cast<std::uint8_t>(id));
    u32(p, v);
}

/// A GET of a browser's usual shape (10 fields), its first occurrence
/// literal with indexing, then indexed from the dynamic table: HPACK by hand.
Bytes request_block(bool first) {
    Bytes b = {0x82, 0x87, 0x84};  // :method GET, :scheme https, :path /
    const std::pair<const char*, const char*> fields[] = {
        {":authority", "example.com"}, {"user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench"},
        {"accept", "text/html,application/xhtml+xml"}, {"accept-language", "en-US,en;q=0.9"},
        {"accept-encoding", "gzip, deflate, br"}, {"sec-fetch-mode", "navigate"}, {"cookie", "session=0123456789abcdef0123"}};
    std::uint8_t index = 62 + 6;
    for (const auto& [n, v] : fields) {
        if (first) {
            b.push_back(0x40);
            const std::string name(n), value(v);
            b.push_back(static_cast<std::uint8_t>(name.size()));
            b.insert(b.end(), name.begin(), name.end());
            b.push_back(static_cast<std::uint8_t>(value.size()));
            b.insert(b.end(), value.begin(), value.end());
        } else {
            b.push_back(static_cast<std::uint8_t>(0x80 | index--));
        }
    }
    return b;
}

struct Flood {
    const char* name;
    Bytes (*make)();
};

Bytes flood_settings_many() {
    // 2,729 SETTINGS_INITIAL_WINDOW_SIZE entries per frame (16,374 octets),
    // flipping between 0 and 65,535.
    Bytes out;
    for (int f = 0; f < 4; ++f) {
        Bytes p;
        for (int i = 0; i < 2729; ++i) setting(p, 4, i % 2 ? 65535 : 0);
        frame(out, 4, 0, 0, p);
    }
    return out;
}
Bytes flood_settings_one() {
    // One entry per frame: each frame reaches all 100 streams.
    Bytes out;
    for (int f = 0; f < 700; ++f) {
        Bytes p;
        setting(p, 4, f % 2 ? 65535 : 0);
        frame(out, 4, 0, 0, p);
    }
    return out;
}
/// `count` frames of one type, the i-th with the payload and stream that
/// `make(i, payload)` gives.
template <class Make>
Bytes repeat(int count, std::uint8_t type, Make make) {
    Bytes out;
    for (int i = 0; i < count; ++i) {
        Bytes p;
        const std::uint32_t stream = make(i, p);
        frame(out, type, 0, stream, p);
    }
    return out;
}
Bytes flood_window_update_connection() {
    return repeat(5000, 8, [](int, Bytes& p) { return u32(p, 1), 0u; });
}
Bytes flood_window_update_streams() {
    return repeat(5000, 8, [](int i, Bytes& p) { return u32(p, 1), 1 + 2 * static_cast<std::uint32_t>(i % 100); });
}
Bytes flood_priority_update() {
    // RFC 9218 §7.1 on stream 0, naming the open streams in turn.
    return repeat(3000, 0x10, [](int i, Bytes& p) {
        u32(p, 1 + 2 * static_cast<std::uint32_t>(i % 100));
        const std::string_view v = "u=1, i";
        p.insert(p.end(), v.begin(), v.end());
        return 0u;
    });
}
Bytes flood_ping() {
    return repeat(3000, 6, [](int i, Bytes& p) { return p.assign(8, static_cast<std::uint8_t>(i)), 0u; });
}
Bytes normal_requests() {
    // Header-only GETs on new streams (the 100 open ones stay).
    Bytes out;
    for (int r = 0; r < 90; ++r) frame(out, 1, 0x5, 201 + 2 * static_cast<std::uint32_t>(r), request_block(r == 0));
    return out;
}

const Flood floods[] = {
    {"settings_2729_entries", flood_settings_many}, {"settings_1_entry", flood_settings_one},
    {"window_update_connection", flood_window_update_connection},
    {"window_update_streams", flood_window_update_streams}, {"priority_update", flood_priority_update},
    {"ping", flood_ping}, {"requests", normal_requests},
};

/// A server connection past its handshake with 100 open streams.
h2wire::Connection ready_server() {
    h2wire::Config c;
    c.role = h2wire::Role::server;
    c.limits.max_concurrent_streams = 200;
    h2wire::Connection conn(c);
    static constexpr std::string_view magic = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    Bytes in(magic.begin(), magic.end());
    frame(in, 4, 0, 0, {});
    frame(in, 4, 1, 0, {});
    for (std::uint32_t id = 1; id <= 199; id += 2) frame(in, 1, 0x4, id, Bytes{0x82, 0x87, 0x84, 0x41, 1, 'a'});
    (void)conn.receive(in);
    conn.consume_output(conn.pending_output().size());
    return conn;
}

// Not inlined: `valgrind --tool=callgrind --toggle-collect='*feed_flood*'`
// counts this alone (tools/flood_cost.sh).
[[gnu::noinline]] std::size_t feed_flood(h2wire::Connection& conn, std::span<const std::uint8_t> in) {
    return conn.receive(in).size();
}

void flood_bench(benchmark::State& state, const Flood& f) {
    const Bytes in = f.make();
    bool closed = false;
    for (auto _ : state) {
        state.PauseTiming();
        h2wire::Connection conn = ready_server();
        state.ResumeTiming();
        benchmark::DoNotOptimize(feed_flood(conn, in));
        closed = conn.is_closed();
        state.PauseTiming();
        conn.consume_output(conn.pending_output().size());
        state.ResumeTiming();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(in.size()));
    state.counters["octets"] = static_cast<double>(in.size());
    state.counters["closed"] = closed ? 1 : 0;  // the flood tripped a limit within the batch
}

[[maybe_unused]] const bool registered = [] {
    // H2WIRE_BENCH_ITERATIONS=n: exactly n batches each (for callgrind).
    const char* n = std::getenv("H2WIRE_BENCH_ITERATIONS");
    for (const Flood& f : floods) {
        auto* b = benchmark::RegisterBenchmark((std::string("flood/") + f.name).c_str(),
                                               [&f](benchmark::State& s) { flood_bench(s, f); });
        if (n != nullptr && std::atoi(n) > 0) b->Iterations(std::atoi(n));
    }
    return true;
}();

}  // namespace
