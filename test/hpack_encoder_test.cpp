// The HPACK Encoder: its choice of representation (index, incremental
// indexing, without indexing, never indexed), Huffman only when shorter, the
// §4.2 size updates after the peer's SETTINGS_HEADER_TABLE_SIZE changes, its
// own table cap, max_encoded_size, and its table agreeing with a decoder's.
//
// Blocks are taken apart with the test's own inspector (support/), which
// uses no library code.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "h2wire/hpack.hpp"
#include "support/hpack_test_util.hpp"

using namespace h2wire;
using namespace h2wire::test;
using hpack::Error;

namespace {

hpack::EncoderOptions opts(std::uint32_t cap, bool huffman = true) {
    hpack::EncoderOptions o;
    o.max_table_size = cap;
    o.huffman = huffman;
    return o;
}

/// An encoder and a decoder that see the same peer settings and blocks.
struct Pair {
    hpack::Encoder enc;
    hpack::Decoder dec;

    explicit Pair(const hpack::EncoderOptions& o = {}, const hpack::DecoderLimits& l = {}) : enc(o), dec(l) {}

    void peer_settings(std::uint32_t size) {
        enc.set_peer_max_table_size(size);
        dec.set_max_table_size(size);
    }

    /// Encodes, decodes and checks the round trip and the tables; returns
    /// the block.
    Bytes round_trip(const Headers& hs) {
        const Bytes out = encode(enc, hs);
        CAPTURE(to_hex(out));
        const DecodeResult r = decode_whole(dec, out);
        CHECK(r.error == Error::none);
        CHECK(without_flags(r.headers) == without_flags(hs));
        check_tables();
        return out;
    }

    void check_tables() {
        CHECK(enc.table_size() == dec.table_size());
        CHECK(enc.table_entries() == dec.table_entries());
        CHECK(enc.table_max_size() == dec.table_max_size());
        CHECK(enc.table_size() <= enc.table_max_size());
    }
};

std::vector<Rep> reps_of(hpack::Encoder& e, const Headers& hs) {
    return inspect(encode(e, hs));
}

/// The size updates in a block, as "100,2000" (readable in failure messages).
std::string size_updates_in(const std::vector<Rep>& reps) {
    std::string out;
    for (const Rep& r : reps)
        if (r.kind == Rep::size_update) out += (out.empty() ? "" : ",") + std::to_string(r.index);
    return out;
}

std::string join(const std::vector<std::uint32_t>& v) {
    std::string out;
    for (const std::uint32_t x : v) out += (out.empty() ? "" : ",") + std::to_string(x);
    return out;
}

std::string random_bytes(Prng& rng, std::size_t max_len) {
    std::string s(rng.below(max_len + 1), '\0');
    for (char& c : s) c = static_cast<char>(rng.byte());
    return s;
}

/// Random header lists drawn from a small pool (so that fields repeat and the
/// dynamic table is used), with some static-table fields, sensitive ones and
/// occasional big or binary values.
Headers random_list(Prng& rng) {
    static const char* const names[] = {":method",       ":path",  ":authority",
                                        "accept",        "cookie", "user-agent",
                                        "x-a",           "x-b",    "x-long-name-of-a-header",
                                        "authorization", "date",   ""};
    static const char* const values[] = {"GET",           "/", "/index.html",          "a", "b", "text/html",
                                         "gzip, deflate", "",  "0123456789abcdefghij", "x"};
    Headers hs(rng.below(12));
    for (Header& h : hs) {
        h.name = names[rng.below(std::size(names))];
        switch (rng.below(8)) {
            case 0:
                h.value = random_bytes(rng, 40);
                break;
            case 1:
                h.value = std::string(rng.below(3000), static_cast<char>('a' + rng.below(26)));
                break;
            default:
                h.value = values[rng.below(std::size(values))];
        }
        if (rng.one_in(4)) h.name += std::to_string(rng.below(6));
        h.sensitive = rng.one_in(10);
    }
    return hs;
}

/// Runs `f` in a child process, so that a hang or crash becomes a test
/// failure instead of stopping the whole run.
enum class ChildOutcome { passed, failed, crashed, timed_out };

const char* to_string(ChildOutcome o) {
    switch (o) {
        case ChildOutcome::passed:
            return "passed";
        case ChildOutcome::failed:
            return "failed";
        case ChildOutcome::crashed:
            return "crashed";
        case ChildOutcome::timed_out:
            return "did not finish in time (hang)";
    }
    return "?";
}

template <class F>
ChildOutcome run_in_child(F&& f, std::chrono::milliseconds limit) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        bool ok = false;
        try {
            ok = f();
        } catch (...) {
        }
        _exit(ok ? 0 : 1);
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? ChildOutcome::passed : ChildOutcome::failed;
            return ChildOutcome::crashed;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return ChildOutcome::timed_out;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace

TEST_CASE("hpack encoder: static table matches are sent as one index byte") {
    hpack::Encoder e;
    CHECK(to_hex(encode(e, Headers{{":method", "GET"}})) == "82");
    CHECK(to_hex(encode(e, Headers{{":method", "POST"}, {":path", "/index.html"}, {":status", "200"}})) == "838588");
    CHECK(to_hex(encode(e, Headers{{"accept-encoding", "gzip, deflate"}})) == "90");
    CHECK(e.table_entries() == 0);
}

TEST_CASE("hpack encoder: reusable fields are indexed, then sent as an index") {
    Pair p;
    auto reps = inspect(p.round_trip({{"x-custom", "v1"}}));
    REQUIRE(reps.size() == 1);
    CHECK(reps[0].kind == Rep::incremental);
    CHECK(p.enc.table_entries() == 1);
    CHECK(p.enc.table_size() == 8 + 2 + 32);
    CHECK(to_hex(p.round_trip({{"x-custom", "v1"}})) == "be");
    // Same name, new value: the name comes from the dynamic table (62).
    reps = inspect(p.round_trip({{"x-custom", "v2"}}));
    REQUIRE(reps.size() == 1);
    CHECK(reps[0].kind == Rep::incremental);
    CHECK(reps[0].index == 62);
    CHECK(reps[0].value == "v2");
    CHECK(to_hex(p.round_trip({{"x-custom", "v1"}, {"x-custom", "v2"}})) == "bfbe");
}

TEST_CASE("hpack encoder: sensitive fields use the never-indexed representation") {
    struct Case {
        Header h;
        std::uint32_t name_index;  // 0: literal name
    };
    const Case cases[] = {
        {{"authorization", "Basic dXNlcjpwYXNz"}, 23},
        {{"proxy-authorization", "Bearer abc.def"}, 49},
        {{"cookie", "a=b"}, 32},
        {{"cookie", std::string(19, 'c')}, 32},   // under 20 bytes
        {{"user-agent", "secret-ua", true}, 58},  // marked by the caller
        {{"x-token", "t0k3n", true}, 0},
        {{":method", "GET", true}, 2},  // even when the static table has it whole
    };
    for (const Case& c : cases) {
        CAPTURE(c.h);
        for (const bool huffman : {false, true}) {
            Pair p(opts(4096, huffman));
            for (int round = 0; round < 2; ++round) {  // the same the second time: never in the table
                const Bytes out = p.round_trip({c.h});
                REQUIRE(!out.empty());
                CHECK((out[0] & 0xf0) == 0x10);
                const auto reps = inspect(out);
                REQUIRE(reps.size() == 1);
                CHECK(reps[0].kind == Rep::never_indexed);
                CHECK(reps[0].index == c.name_index);
                CHECK(reps[0].value == c.h.value);
                CHECK(p.enc.table_entries() == 0);
                // The decoder reports the mark.
                hpack::Decoder d;
                const DecodeResult r = decode_whole(d, out);
                REQUIRE(r.headers.size() == 1);
                CHECK(r.headers[0].sensitive);
            }
        }
    }
    // Byte-exact for a static name: 0001 1111, 23 - 15 = 8, then the value.
    hpack::Encoder e(opts(4096, false));
    CHECK(to_hex(encode(e, Headers{{"authorization", "abc"}})) == "1f0803616263");
    CHECK(to_hex(encode(e, Headers{{"cookie", "a=b"}})) == "1f1103613d62");
    // A sensitive field is not sent as an index even when an identical
    // non-sensitive one is in the dynamic table.
    Pair p;
    p.round_trip({{"x-k", "v"}});
    const auto reps = inspect(p.round_trip({{"x-k", "v", true}}));
    REQUIRE(reps.size() == 1);
    CHECK(reps[0].kind == Rep::never_indexed);
    CHECK(reps[0].index == 62);  // the name may still come from the table
}

TEST_CASE("hpack encoder: cookies of 20 bytes or more are not forced never-indexed") {
    Pair p;
    const Bytes out = p.round_trip({{"cookie", std::string(20, 'c')}});
    REQUIRE(!out.empty());
    CHECK((out[0] & 0xf0) != 0x10);
    hpack::Decoder d;
    const DecodeResult r = decode_whole(d, out);
    REQUIRE(r.headers.size() == 1);
    CHECK_FALSE(r.headers[0].sensitive);
}

TEST_CASE("hpack encoder: fields too big for the table are not indexed") {
    for (const std::uint32_t cap : {4096u, 256u, 100u}) {
        CAPTURE(cap);
        Pair p(opts(cap));
        p.round_trip({{"x-s", "1"}});  // 3 + 1 + 32 = 36: indexed
        REQUIRE(p.enc.table_entries() == 1);
        // name + value + 32 = cap + 1: cannot fit even in an empty table.
        const std::string big(cap + 1 - 32 - 5, 'v');
        const auto reps = inspect(p.round_trip({{"x-big", big}}));
        REQUIRE(reps.size() == 1);
        CHECK(reps[0].kind == Rep::without_indexing);
        // Adding it would have emptied the table: x-s must still be there.
        CHECK(p.enc.table_entries() == 1);
        CHECK(to_hex(p.round_trip({{"x-s", "1"}})) == "be");
    }
    // Far too big, and with a table of 0 nothing is ever indexed.
    Pair p(opts(0));
    for (const Headers& hs :
         {Headers{{"x-a", "b"}}, Headers{{"x-a", "b"}}, Headers{{"x-huge", std::string(10000, 'h')}}}) {
        for (const Rep& r : inspect(p.round_trip(hs))) CHECK(r.kind != Rep::incremental);
        CHECK(p.enc.table_entries() == 0);
    }
}

TEST_CASE("hpack encoder: Huffman only when shorter") {
    struct Case {
        std::string value;
        bool shorter;
    };
    const Case cases[] = {
        {"www.example.com", true},  // 12 < 15
        {"aaaaaaaa", true},         // 5 < 8
        {"307", false},             // 3 == 3
        {"x-v", false},             // 3 == 3
        {std::string("\x01\x02\x03", 3), false},
        {"", false},
        {std::string(1, '\xff'), false},
    };
    for (const Case& c : cases) {
        CAPTURE(c.value);
        REQUIRE((ref_huffman_size(c.value) < c.value.size()) == c.shorter);
        for (const bool huffman : {false, true}) {
            CAPTURE(huffman);
            hpack::Encoder e(opts(4096, huffman));
            // A literal name equal to the value, so both strings are checked.
            const auto reps = reps_of(e, {{c.value.empty() ? "x-empty" : c.value, c.value}});
            REQUIRE(reps.size() == 1);
            CHECK(reps[0].value_huffman == (huffman && c.shorter));
            CHECK(reps[0].value_wire_len == (huffman && c.shorter ? ref_huffman_size(c.value) : c.value.size()));
            if (!c.value.empty()) CHECK(reps[0].name_huffman == (huffman && c.shorter));
        }
    }
    // Random values: the wire length is always the shorter of the two.
    Prng rng(61);
    hpack::Encoder e(opts(0));
    CHECK(to_hex(encode(e, {})) == "20");  // announces the table of 0 first
    for (int i = 0; i < 2000; ++i) {
        const std::string v = i % 2 ? random_bytes(rng, 30) : std::string(rng.below(30), static_cast<char>(rng.byte()));
        const auto reps = reps_of(e, {{"x-r", v}});
        REQUIRE(reps.size() == 1);
        const std::size_t huff = ref_huffman_size(v);
        CHECK(reps[0].value_wire_len == std::min(huff, v.size()));
        CHECK(reps[0].value_huffman == (huff < v.size()));
        CHECK(reps[0].value == v);
    }
}

TEST_CASE("hpack encoder: size updates after set_peer_max_table_size (§4.2)") {
    const Headers fields = {{"x-a", "1"}, {":method", "GET"}};
    struct Case {
        std::vector<std::uint32_t> settings;  // peer values before the block
        std::vector<std::uint32_t> updates;   // the updates the block must start with
        std::uint32_t final_max;
    };
    const Case cases[] = {
        {{1000}, {1000}, 1000},
        {{0}, {0}, 0},
        {{100, 2000}, {100, 2000}, 2000},  // smallest, then final
        {{0, 4096}, {0, 4096}, 4096},      // clears the table, then restores it
        {{2000, 3000}, {2000, 3000}, 3000},
        {{3000, 2000}, {2000}, 2000},            // the smallest is the final one
        {{1000, 100, 3000}, {100, 3000}, 3000},  // only the smallest and the final
        {{100, 4096, 8192}, {100, 4096}, 4096},  // capped at our 4096
        {{8192}, {}, 4096},                      // above our cap: nothing changes
        {{4096}, {}, 4096},                      // no change
    };
    for (const Case& c : cases) {
        const std::string settings = join(c.settings);
        CAPTURE(settings);
        Pair p;
        // Fill the table first so that shrinking has something to evict.
        for (int i = 0; i < 30; ++i) p.round_trip({{"x-fill", "value " + std::to_string(i)}});
        REQUIRE(p.enc.table_entries() > 20);
        for (const std::uint32_t s : c.settings) p.peer_settings(s);
        const Bytes out = p.round_trip(fields);
        const auto reps = inspect(out);
        CHECK(size_updates_in(reps) == join(c.updates));
        // The updates come first.
        for (std::size_t i = 0; i < c.updates.size() && i < reps.size(); ++i) CHECK(reps[i].kind == Rep::size_update);
        CHECK(p.enc.table_max_size() == c.final_max);
        // The next block carries no update.
        CHECK(size_updates_in(inspect(p.round_trip(fields))).empty());
    }
    // An empty header list still carries a pending update.
    Pair p;
    p.peer_settings(512);
    const Bytes out = p.round_trip({});
    CHECK(to_hex(out) == to_hex(size_update(512)));
}

TEST_CASE("hpack encoder: shrinking the peer's table evicts in step with the decoder") {
    Pair p;
    for (int i = 0; i < 40; ++i) p.round_trip({{"x-fill", "value " + std::to_string(i)}});
    const std::size_t before = p.enc.table_entries();
    p.peer_settings(100);
    p.round_trip({{"x-fill", "value 39"}});
    CHECK(p.enc.table_size() <= 100);
    CHECK(p.enc.table_entries() < before);
    // Back up: the newest entries that survived are still usable.
    p.peer_settings(4096);
    p.round_trip({{"x-fill", "value 39"}, {"x-other", "o"}});
}

TEST_CASE("hpack encoder: a cap below 4096 is announced in the first block") {
    // The peer's decoder starts at 4096 (RFC 9113 §4.3.1); our 256 must be
    // announced or its table would not evict in step with ours.
    SUBCASE("no SETTINGS from the peer") {
        Pair p(opts(256));
        const auto reps = inspect(p.round_trip({{"x-a", "b"}}));
        CHECK(size_updates_in(reps) == "256");
        CHECK(p.dec.table_max_size() == 256);
    }
    SUBCASE("the peer's SETTINGS repeat the default 4096 before the first block") {
        Pair p(opts(256));
        p.peer_settings(4096);
        const auto reps = inspect(p.round_trip({{"x-a", "b"}}));
        CHECK(size_updates_in(reps) == "256");
        CHECK(p.dec.table_max_size() == 256);
        // Otherwise, after enough fields, the decoder keeps entries we evicted.
        for (int i = 0; i < 20; ++i) {
            const Bytes out = encode(p.enc, {{"x-fill", "value " + std::to_string(i)}});
            REQUIRE(decode_whole(p.dec, out).error == Error::none);
        }
        CHECK(p.enc.table_size() <= 256);
        CHECK(p.dec.table_size() == p.enc.table_size());
    }
    SUBCASE("the peer's SETTINGS go above our cap") {
        Pair p(opts(256));
        p.peer_settings(65536);
        CHECK(size_updates_in(inspect(p.round_trip({{"x-a", "b"}}))) == "256");
    }
}

TEST_CASE("hpack encoder: the max_table_size cap is respected") {
    Prng rng(62);
    for (const std::uint32_t cap : {0u, 1u, 64u, 200u, 1000u, 4096u}) {
        CAPTURE(cap);
        Pair p(opts(cap));
        std::uint32_t peer = 4096;
        for (int block = 0; block < 300; ++block) {
            if (rng.one_in(5)) {
                const std::uint32_t settings[] = {0, 1, 50, 100, 199, 200, 201, 1000, 4096, 8192, 65536};
                peer = settings[rng.below(std::size(settings))];
                p.peer_settings(peer);
            }
            p.round_trip(random_list(rng));
            CHECK(p.enc.table_max_size() <= cap);
            CHECK(p.enc.table_max_size() == std::min(cap, peer));
            CHECK(p.enc.table_size() <= p.enc.table_max_size());
        }
    }
}

TEST_CASE("hpack encoder: a cap above 4096 used after the peer raises its limit mid-connection") {
    // Our cap is 65536 and the peer raises its SETTINGS_HEADER_TABLE_SIZE to
    // 65536 while our table already holds entries; then ~1000 small fields
    // are indexed. Run in a child so that a hang fails the test.
    const auto outcome = run_in_child(
        [] {
            hpack::Encoder e(opts(65536));
            hpack::DecoderLimits l;
            l.max_table_size = 65536;
            hpack::Decoder d(l);
            const auto step = [&](const Headers& hs) {
                const Bytes out = encode(e, hs);
                const DecodeResult r = decode_whole(d, out);
                return r.error == Error::none && without_flags(r.headers) == hs && e.table_size() == d.table_size() &&
                       e.table_entries() == d.table_entries();
            };
            bool ok = step({{"x-first", "1"}});
            e.set_peer_max_table_size(65536);
            d.set_max_table_size(65536);
            for (int i = 0; i < 1000 && ok; ++i) ok = step({{"x-k", "v" + std::to_string(i)}});
            // All of them are still in the table and found again by value.
            for (int i = 0; i < 1000 && ok; i += 7) {
                const Bytes out = encode(e, {{"x-k", "v" + std::to_string(i)}});
                ok = out.size() <= 3 && (out[0] & 0x80) && decode_whole(d, out).error == Error::none;
            }
            return ok && e.table_max_size() == 65536 && e.table_entries() == 1001;
        },
        std::chrono::seconds(10));
    INFO("child " << std::string(to_string(outcome)));
    CHECK(outcome == ChildOutcome::passed);
}

TEST_CASE("hpack encoder: max_encoded_size bounds the output of random inputs") {
    Prng rng(63);
    hpack::DecoderLimits big;  // the lists are big; the decoder's limits are not under test here
    big.max_header_list_size = 1u << 30;
    big.max_field_size = 1u << 20;
    Pair p({}, big);
    std::size_t blocks = 0;
    for (int block = 0; block < 3000; ++block) {
        // Pending updates (up to two) count too.
        if (rng.one_in(3)) {
            const std::uint32_t sizes[] = {0, 1, 100, 4096, 65536, 0xffffffffu};
            p.peer_settings(sizes[rng.below(std::size(sizes))]);
            if (rng.one_in(2)) p.peer_settings(sizes[rng.below(std::size(sizes))]);
        }
        Headers hs;
        const std::size_t n = rng.below(6);
        for (std::size_t i = 0; i < n; ++i) {
            Header h;
            h.name = random_bytes(rng, rng.one_in(10) ? 300 : 12);
            h.value = rng.one_in(50) ? std::string(20000 + rng.below(40000), static_cast<char>(rng.byte()))
                                     : random_bytes(rng, rng.one_in(10) ? 500 : 20);
            h.sensitive = rng.one_in(8);
            hs.push_back(std::move(h));
        }
        if (rng.one_in(4) && !hs.empty()) hs.push_back(hs[0]);  // an exact repeat
        const std::vector<Field> fields = to_fields(hs);
        const std::size_t bound = hpack::Encoder::max_encoded_size(fields);
        // Exactly `bound` bytes on the heap, so that AddressSanitizer sees a
        // write past it.
        std::vector<std::uint8_t> buf(bound);
        const std::size_t written = p.enc.encode(std::span<const Field>(fields), buf.data());
        CAPTURE(block);
        REQUIRE(written <= bound);
        buf.resize(written);
        const DecodeResult r = decode_whole(p.dec, buf);
        CHECK(r.error == Error::none);
        CHECK(without_flags(r.headers) == without_flags(hs));
        p.check_tables();
        ++blocks;
    }
    CHECK(blocks == 3000);
}

TEST_CASE("hpack encoder: table_size and table_entries agree with a decoder fed the same blocks") {
    for (const std::uint32_t cap : {4096u, 256u, 0u, 1000u}) {
        for (const bool huffman : {true, false}) {
            CAPTURE(cap);
            CAPTURE(huffman);
            Prng rng(64 + cap);
            Pair p(opts(cap, huffman));
            Feeder feed(Split::random, 65);
            for (int block = 0; block < 500; ++block) {
                if (rng.one_in(20)) {
                    const std::uint32_t sizes[] = {0, 300, 1365, 2730, 4096};
                    p.peer_settings(sizes[rng.below(std::size(sizes))]);
                }
                const Headers hs = random_list(rng);
                const Bytes out = encode(p.enc, hs);
                const DecodeResult r = feed.decode(p.dec, out);
                CHECK(r.error == Error::none);
                CHECK(without_flags(r.headers) == without_flags(hs));
                p.check_tables();
            }
        }
    }
}

TEST_CASE("hpack encoder: a moved-from encoder's state moves with it") {
    Pair p;
    p.round_trip({{"x-a", "1"}, {"x-b", "2"}});
    hpack::Encoder moved(std::move(p.enc));
    CHECK(moved.table_entries() == 2);
    const Bytes out = encode(moved, Headers{{"x-a", "1"}, {"x-b", "2"}});
    CHECK(to_hex(out) == "bfbe");
    hpack::Encoder assigned;
    assigned = std::move(moved);
    CHECK(to_hex(encode(assigned, Headers{{"x-b", "2"}})) == "be");
}

TEST_CASE("hpack encoder: long strings, Huffman-coded in one bounded pass, around every prefix length") {
    // Strings of 127..16510 octets are coded straight after room for their
    // own length prefix and moved up when the coded length's prefix is
    // shorter; longer ones are sized first. Around each boundary, with text
    // that compresses (to under and over 127 octets) and text that does not,
    // the output is the shorter of the two forms, in a buffer of exactly
    // max_encoded_size() (ASan sees any write past it), and decodes back.
    std::vector<std::size_t> lengths;
    for (std::size_t n = 120; n <= 300; ++n) lengths.push_back(n);
    for (std::size_t n = 16500; n <= 16520; ++n) lengths.push_back(n);
    Prng rng(62);
    for (const std::size_t n : lengths) {
        for (int kind = 0; kind < 3; ++kind) {
            std::string v(n, '\0');
            for (char& c : v) {
                c = kind == 0   ? "0123456789"[rng.below(10)]                 // 5-6 bit codes
                    : kind == 1 ? static_cast<char>(0x20 + rng.below(0x5f))   // printable
                                : static_cast<char>(0x80 + rng.below(0x80));  // long codes
            }
            CAPTURE(n);
            CAPTURE(kind);
            const Headers hs{{"x-long", v}};
            const std::vector<Field> fields = to_fields(hs);
            hpack::Encoder e(opts(4096));
            std::vector<std::uint8_t> out(hpack::Encoder::max_encoded_size(fields));
            const std::size_t len = e.encode(fields, out.data());
            REQUIRE(len <= out.size());
            out.resize(len);
            const std::size_t huff = ref_huffman_size(v);
            const Bytes want = huff < v.size() ? concat({ref_integer(huff, 7, 0x80), ref_huffman_encode(v)})
                                               : concat({ref_integer(v.size(), 7, 0x00), bytes_of(v)});
            REQUIRE(out.size() >= want.size());
            CHECK(Bytes(out.end() - static_cast<std::ptrdiff_t>(want.size()), out.end()) == want);
            hpack::Decoder d(hpack::DecoderLimits{
                .max_table_size = 4096, .max_header_list_size = 1u << 20, .max_field_size = 1u << 20});
            const DecodeResult r = decode_whole(d, out);
            CHECK(r.error == Error::none);
            CHECK(r.headers == hs);
        }
    }
}
