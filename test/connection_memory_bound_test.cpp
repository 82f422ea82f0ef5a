// Property: whatever a client sends and however its bytes are split across
// receive() calls, a server connection holds no more than the bound
// documented on Limits::max_connection_memory, and split input holds no more
// than whole writes plus a constant. 10^5 requests of random valid and
// invalid traffic, fed write by write, at random splits, with every write
// ending inside the next header block, and byte by byte.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "support/hostile_client.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::attack_test;

/// The documented bound (include/h2wire/connection.hpp, Limits).
std::size_t documented_bound(const Config& c) { return Connection::memory_bound(c); }

/// A client's traffic as a list of writes. Deterministic for a seed; it does
/// not read what the server sends (it keeps within the windows it was given).
struct Script {
    std::vector<Bytes> writes;
    std::size_t requests = 0;
};

Script make_script(std::uint32_t seed, std::size_t requests) {
    std::mt19937 rng(seed);
    auto pick = [&](std::uint32_t n) { return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(rng); };
    HostileClient c;
    Script s;
    s.writes.push_back(c.preface());
    std::uint32_t next = 1;
    std::uint64_t data_left = 12u * 1024 * 1024;  // under the server's 16 MiB connection window
    std::vector<std::uint32_t> open;
    std::uint32_t table_entries = 0;  // entries this client put in the server's dynamic table
    while (s.requests < requests) {
        Bytes w;
        const std::uint32_t roll = pick(100);
        const std::uint32_t id = next;
        if (roll < 40) {  // a small GET
            HostileClient::append(w, c.get(id, true));
            next += 2, ++s.requests;
        } else if (roll < 50) {  // large fields through the dynamic table
            Block b;
            b.get();
            b.literal("x-large", std::string(pick(3000) + 1, static_cast<char>('a' + pick(26))), true);
            ++table_entries;
            for (std::uint32_t i = pick(12); i > 0; --i) b.indexed(62);
            HostileClient::append(w, c.headers(id, b.b, true, b.b.size() / 48 + 1 + pick(8000)));
            next += 2, ++s.requests;
        } else if (roll < 60) {  // POST with a body in several DATA frames
            const std::uint32_t size = pick(4000);
            Block b;
            b.indexed(3).indexed(7).indexed(4).literal("content-length", std::to_string(size));
            b.b.push_back(0x01);
            b.str("a");
            HostileClient::append(w, c.headers(id, b.b, false));
            std::uint32_t left = size;
            if (size <= data_left) {
                data_left -= size;
                while (left > 0) {
                    const std::uint32_t n = std::min(left, 1 + pick(2000));
                    HostileClient::append(w, c.data(id, Bytes(n, 'p'), n == left));
                    left -= n;
                }
                if (size == 0) HostileClient::append(w, c.data(id, {}, true));
            } else {
                HostileClient::append(w, c.rst(id));
            }
            next += 2, ++s.requests;
        } else if (roll < 68) {  // a request split into many CONTINUATIONs, left open
            Block b;
            b.get();
            for (std::uint32_t i = pick(40); i > 0; --i) b.literal("x-h" + std::to_string(i), std::string(pick(200), 'v'));
            HostileClient::append(w, c.headers(id, b.b, false, b.b.size() / 48 + 1 + pick(64)));
            open.push_back(id);
            next += 2, ++s.requests;
        } else if (roll < 71) {  // rapid reset
            HostileClient::append(w, c.get(id, false));
            HostileClient::append(w, c.rst(id));
            next += 2, ++s.requests;
        } else if (roll < 76) {  // cancel an earlier request
            if (!open.empty()) {
                const std::size_t i = pick(static_cast<std::uint32_t>(open.size()));
                HostileClient::append(w, c.rst(open[i]));
                open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));
            } else {
                HostileClient::append(w, c.ping(next));
            }
        } else if (roll < 81) {
            for (std::uint32_t i = 1 + pick(50); i > 0; --i) HostileClient::append(w, c.ping(i));
        } else if (roll < 83) {
            const std::pair<std::uint16_t, std::uint32_t> e[] = {{4, 1 + pick(1u << 20)}, {1, pick(8192)}};
            HostileClient::append(w, c.settings(e));
        } else if (roll < 87) {
            HostileClient::append(w, c.window_update(0, 1 + pick(1000)));
            if (!open.empty()) HostileClient::append(w, c.window_update(open.back(), 1 + pick(1000)));
        } else if (roll < 90) {  // malformed: an upper-case name (RFC 9113 §8.2.1)
            Block b;
            b.get().literal("X-Bad", "1");
            HostileClient::append(w, c.headers(id, b.b, true));
            next += 2, ++s.requests;
        } else if (roll < 92) {  // an HPACK bomb over the header list limit
            if (table_entries > 0) {
                Block b;
                b.get();
                for (int i = 0; i < 4000; ++i) b.indexed(62);
                HostileClient::append(w, c.headers(id, b.b, true, b.b.size() / 48 + 1 + pick(16000)));
                next += 2, ++s.requests;
            }
        } else if (roll < 97) {  // frames that carry nothing
            if (!open.empty()) HostileClient::append(w, c.data(open.back(), {}, false));
            const std::uint8_t p[5] = {0, 0, 0, 1, 7};
            HostileClient::append(w, c.raw(type::priority, 0, id + 2 * pick(10), p));
            HostileClient::append(w, c.raw(0x42, 0, pick(5), Bytes(pick(100), 'u')));
        } else {  // many requests in one write
            for (int i = 0; i < 20; ++i) {
                HostileClient::append(w, c.get(next, true));
                next += 2, ++s.requests;
            }
        }
        if (open.size() > 50) {  // the oldest request left open is cancelled
            HostileClient::append(w, c.rst(open.front()));
            open.erase(open.begin());
        }
        if (!w.empty()) s.writes.push_back(std::move(w));
    }
    return s;
}

/// The client's bytes with every header block that fits in one HEADERS frame
/// split into HEADERS + CONTINUATION (the fragment is cut in the middle:
/// HPACK decodes across fragments), and the offsets just past each HEADERS
/// frame that leaves its block open, plus a few octets: cut there, every
/// receive() but the first starts inside a header block (issue 12, finding
/// 1).
std::pair<Bytes, std::vector<std::size_t>> straddling_stream(const std::vector<Bytes>& writes) {
    Bytes out;
    std::vector<std::size_t> cuts;
    constexpr std::size_t magic = 24;  // the client preface's fixed octets come first (RFC 9113 §3.4)
    for (const Bytes& w : writes) {
        std::size_t at = 0;
        if (&w == &writes.front()) {
            out.insert(out.end(), w.begin(), w.begin() + magic);
            at = magic;
        }
        while (at + 9 <= w.size()) {
            const std::size_t len = std::size_t{w[at]} << 16 | std::size_t{w[at + 1]} << 8 | w[at + 2];
            const std::uint8_t t = w[at + 3], fl = w[at + 4];
            const std::uint32_t id = std::uint32_t{w[at + 5]} << 24 | std::uint32_t{w[at + 6]} << 16 |
                                     std::uint32_t{w[at + 7]} << 8 | w[at + 8];
            const std::span<const std::uint8_t> payload(w.data() + at + 9, len);
            if (t == type::headers && (fl & flag::end_headers) && len >= 2) {
                put_frame(out, type::headers, static_cast<std::uint8_t>(fl & ~flag::end_headers), id,
                          payload.first(len / 2));
                cuts.push_back(out.size() + 3);
                put_frame(out, type::continuation, flag::end_headers, id, payload.subspan(len / 2));
            } else {
                out.insert(out.end(), w.begin() + static_cast<std::ptrdiff_t>(at),
                           w.begin() + static_cast<std::ptrdiff_t>(at + 9 + len));
                if (t == type::headers && !(fl & flag::end_headers)) cuts.push_back(out.size() + 3);
            }
            at += 9 + len;
        }
    }
    return {out, cuts};
}

enum class Feed { writes, random_splits, straddling, bytewise };

const char* name(Feed f) {
    switch (f) {
    case Feed::writes: return "write by write";
    case Feed::random_splits: return "random splits";
    case Feed::straddling: return "every write ending inside the next header block";
    case Feed::bytewise: return "byte by byte";
    }
    return "";
}

struct Outcome {
    std::size_t peak = 0;
    std::size_t requests = 0;
    bool terminated = false;
    std::string reason;
};

Outcome run(const Script& script, const Config& cfg, Feed feed, std::uint32_t seed) {
    ServerUnderAttack s(cfg);
    std::mt19937 rng(seed);
    const std::size_t bound = documented_bound(s.config);
    auto check = [&] {
        // After every receive() (ServerUnderAttack::peak is sampled there).
        if (s.memory.live > bound) FAIL("live " << s.memory.live << " past the documented bound " << bound);
    };
    for (std::size_t i = 0; feed != Feed::straddling && i < script.writes.size() && !s.terminated; ++i) {
        const Bytes& w = script.writes[i];
        switch (feed) {
        case Feed::writes: s.feed(w); break;
        case Feed::bytewise:
            for (std::size_t k = 0; k < w.size() && !s.terminated; ++k) s.feed(std::span(w).subspan(k, 1));
            break;
        case Feed::random_splits: {
            std::size_t at = 0;
            while (at < w.size()) {
                const std::size_t n = std::min<std::size_t>(w.size() - at, 1 + rng() % 300);
                s.feed(std::span(w).subspan(at, n));
                at += n;
            }
            break;
        }
        case Feed::straddling: break;  // below, over the whole stream
        }
        check();
    }
    if (feed == Feed::straddling) {
        const auto [stream, cuts] = straddling_stream(script.writes);
        std::size_t at = 0;
        for (std::size_t cut : cuts) {
            if (s.terminated) break;
            if (cut <= at || cut >= stream.size()) continue;
            s.feed(std::span(stream).subspan(at, cut - at));
            at = cut;
            check();
        }
        if (!s.terminated) s.feed(std::span(stream).subspan(at));
    }
    check();
    return Outcome{s.peak, s.requests, s.terminated, s.reason};
}

}  // namespace

TEST_CASE("memory bound: 10^5 requests of random traffic, however split, stay under the documented bound") {
    // A small budget and header limit make the bound tight enough to mean
    // something; the defaults are checked by the same code with larger
    // numbers.
    Config cfg;
    cfg.limits.max_connection_memory = 2 * 1024 * 1024;
    cfg.limits.max_header_list_size = 16 * 1024;
    cfg.limits.max_field_size = 16 * 1024;
    struct Run {
        Feed feed;
        std::size_t requests;
    };
    const Run runs[] = {{Feed::writes, 40000}, {Feed::random_splits, 25000}, {Feed::straddling, 25000},
                        {Feed::bytewise, 10000}};
    std::size_t total = 0;
    for (std::uint32_t seed = 1; seed <= 2; ++seed) {
        for (const Run& r : runs) {
            CAPTURE(seed);
            const std::string feed_name = name(r.feed);
            CAPTURE(feed_name);
            const Script script = make_script(seed, r.requests / 2);
            const Outcome whole = run(script, cfg, Feed::writes, seed);
            const Outcome split = r.feed == Feed::writes ? whole : run(script, cfg, r.feed, seed);
            total += script.requests;
            // Split input holds no more than whole writes plus what one
            // block in progress and its arena chunk need.
            CHECK(split.peak <= whole.peak + 2 * cfg.limits.max_header_list_size + 32 * 1024);
            CHECK_MESSAGE(!whole.terminated, whole.reason);
            CHECK_MESSAGE(!split.terminated, split.reason);
            MESSAGE(std::string(name(r.feed)) << ", seed " << seed << ": " << script.requests << " requests, "
                                 << script.writes.size() << " writes; peak " << split.peak << " octets (whole writes "
                                 << whole.peak << "), " << split.requests << " reported"
                                 << (split.terminated ? ", ended: " + split.reason : std::string()));
        }
    }
    CHECK(total >= 100000);
}

TEST_CASE("memory bound: requests that would fill a small budget stay within the bound") {
    // Requests whose header lists would fill the budget quickly, in one
    // write: they are refused, or the connection ends, and it never holds
    // more than the bound.
    for (std::size_t budget : {std::size_t{256 * 1024}, std::size_t{1024 * 1024}, std::size_t{4 * 1024 * 1024}}) {
        CAPTURE(budget);
        Config cfg;
        cfg.limits.max_connection_memory = budget;
        HostileClient c;
        Script script;
        script.writes.push_back(c.preface());
        Bytes w;
        Block first;
        first.get().literal("x-big", std::string(4000, 'a'), true);
        HostileClient::append(w, c.headers(1, first.b, true));
        for (std::uint32_t k = 1; k < 400; ++k) {
            Block b;
            b.get();
            for (int i = 0; i < 15; ++i) b.indexed(62);
            HostileClient::append(w, c.headers(1 + 2 * k, b.b, true));
            HostileClient::append(w, c.ping(k));
        }
        script.writes.push_back(w);
        ServerUnderAttack s(cfg);
        s.answer = false;
        for (const Bytes& x : script.writes) s.feed(x);
        // Refused past an eighth of the budget in one call, or ended by it:
        // either way within the bound.
        CHECK(s.conn.memory_peak() <= documented_bound(s.config));
        MESSAGE("budget " << budget << ": peak " << s.conn.memory_peak() << " (bound " << documented_bound(s.config)
                          << ")");
    }
}
