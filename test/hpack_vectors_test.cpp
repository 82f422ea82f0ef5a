// The hpack-test-case vectors (../shared/testdata/hpack-test-case, see its
// README): every story of every encoder's folder decodes to exactly the
// expected ordered header list, fed whole, byte by byte and at random splits;
// and every raw-data story encoded by h2wire (several table sizes, and with
// the peer's table size changing mid-story) decodes back to its input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "h2wire/hpack.hpp"
#include "support/hpack_test_util.hpp"

using namespace h2wire;
using namespace h2wire::test;
using hpack::Error;

namespace {

namespace fs = std::filesystem;

struct Case {
    int seqno = 0;
    std::optional<std::uint32_t> table_size;  // header_table_size, when present and not null
    Bytes wire;
    bool has_wire = false;
    Headers headers;
};

struct Story {
    std::string name;  // folder/story_NN.json
    std::vector<Case> cases;
};

std::vector<Story> load_folder(const std::string& folder) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(vectors_dir() + "/" + folder))
        if (entry.path().extension() == ".json") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::vector<Story> stories;
    for (const fs::path& file : files) {
        const json::Value doc = json::parse_file(file.string());
        Story s;
        s.name = folder + "/" + file.filename().string();
        for (const json::Value& c : doc.find("cases")->arr()) {
            Case k;
            // raw-data has no seqno: the position is the same thing.
            const json::Value* seqno = c.find("seqno");
            k.seqno = seqno ? static_cast<int>(seqno->num()) : static_cast<int>(s.cases.size());
            if (const json::Value* t = c.find("header_table_size"); t && !t->is_null())
                k.table_size = static_cast<std::uint32_t>(t->num());
            if (const json::Value* w = c.find("wire")) {
                auto bytes = json::from_hex(w->str());
                REQUIRE_MESSAGE(bytes.has_value(), s.name << " seqno " << k.seqno << ": bad hex");
                k.wire = std::move(*bytes);
                k.has_wire = true;
            }
            k.headers = headers_from_json(*c.find("headers"));
            s.cases.push_back(std::move(k));
        }
        stories.push_back(std::move(s));
    }
    return stories;
}

std::vector<std::string> wire_folders() {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(vectors_dir()))
        if (entry.is_directory() && entry.path().filename() != "raw-data")
            out.push_back(entry.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

/// The never-indexed policy of the Encoder (RFC 7541 §7.1.3 and its docs).
bool sensitive_by_policy(const Header& h) {
    return h.name == "authorization" || h.name == "proxy-authorization" || (h.name == "cookie" && h.value.size() < 20);
}

}  // namespace

TEST_CASE("hpack vectors: every story of every wire folder decodes exactly") {
    const std::vector<std::string> folders = wire_folders();
    // The README lists seven encoder folders.
    CHECK(folders.size() == 7);
    const std::map<std::string, std::size_t> expected_cases = {
        {"go-hpack", 3384},
        {"haskell-http2-static", 3384},
        {"nghttp2-16384-4096", 3267},
        {"nghttp2-change-table-size", 3267},
        {"node-http2-hpack", 3384},
        {"python-hpack", 3384},
        {"swift-nio-hpack-plain-text", 3384},
    };
    std::size_t total_cases = 0, total_passed = 0;
    for (const std::string& folder : folders) {
        CAPTURE(folder);
        const std::vector<Story> stories = load_folder(folder);
        std::size_t cases = 0;
        std::map<Split, std::size_t> passed;
        int reported = 0;
        for (const Split split : kAllSplits) {
            Feeder feed(split, 51);
            for (const Story& story : stories) {
                hpack::Decoder d;  // fresh per story
                bool dead = false;
                for (const Case& c : story.cases) {
                    REQUIRE(c.has_wire);
                    if (split == Split::whole) ++cases;
                    if (c.table_size) d.set_max_table_size(*c.table_size);
                    const DecodeResult r = feed.decode(d, c.wire);
                    const bool ok = !dead && r.error == Error::none && r.headers == c.headers && !r.in_block_wrong;
                    if (ok) {
                        ++passed[split];
                    } else if (reported < 5) {
                        ++reported;
                        FAIL_CHECK(story.name << " seqno " << c.seqno << " (" << to_string(split) << "): wire "
                                              << to_hex(c.wire) << "\n  got " << r << "\n  expected " << c.headers);
                    }
                    if (hpack::is_fatal(r.error)) dead = true;
                }
            }
        }
        MESSAGE(folder << ": " << stories.size() << " stories, " << cases << " cases; passed whole "
                       << passed[Split::whole] << ", byte by byte " << passed[Split::byte_by_byte] << ", random splits "
                       << passed[Split::random]);
        CHECK(cases == expected_cases.at(folder));
        for (const Split split : kAllSplits) {
            CAPTURE(to_string(split));
            CHECK(passed[split] == cases);
        }
        total_cases += cases;
        total_passed += passed[Split::whole];
    }
    MESSAGE("all wire folders: " << total_passed << " / " << total_cases << " cases decode exactly");
    CHECK(total_cases == 23454);
}

namespace {

/// One way to run the raw-data stories through encoder and decoder.
struct EncodeConfig {
    const char* name;
    hpack::EncoderOptions options;
    hpack::DecoderLimits decoder;
    /// Peer SETTINGS_HEADER_TABLE_SIZE values set before the first block
    /// (on the encoder with set_peer_max_table_size, on the decoder with
    /// set_max_table_size).
    std::vector<std::uint32_t> initial_peer;
    /// Changes mid-story: before case i, apply changes[i % changes.size()]
    /// when i % every == every - 1.
    std::vector<std::vector<std::uint32_t>> changes;
    int every = 0;
    Split split = Split::whole;
};

hpack::EncoderOptions enc(std::uint32_t cap, bool huffman = true) {
    hpack::EncoderOptions o;
    o.max_table_size = cap;
    o.huffman = huffman;
    return o;
}

struct EncodeStats {
    std::size_t cases = 0, passed = 0, input_bytes = 0, encoded_bytes = 0, size_updates = 0, never_indexed = 0;
};

EncodeStats run_encode_config(const EncodeConfig& cfg, const std::vector<Story>& stories) {
    EncodeStats st;
    int reported = 0;
    Feeder feed(cfg.split, 52);
    for (const Story& story : stories) {
        hpack::Encoder e(cfg.options);
        hpack::Decoder d(cfg.decoder);
        for (const std::uint32_t s : cfg.initial_peer) {
            e.set_peer_max_table_size(s);
            d.set_max_table_size(s);
        }
        std::size_t change = 0;
        for (std::size_t i = 0; i < story.cases.size(); ++i) {
            const Case& c = story.cases[i];
            if (cfg.every > 0 && static_cast<int>(i % static_cast<std::size_t>(cfg.every)) == cfg.every - 1) {
                for (const std::uint32_t s : cfg.changes[change % cfg.changes.size()]) {
                    e.set_peer_max_table_size(s);
                    d.set_max_table_size(s);
                }
                ++change;
            }
            ++st.cases;
            const std::vector<Field> fields = to_fields(c.headers);
            const std::size_t bound = hpack::Encoder::max_encoded_size(fields);
            Bytes out(bound);
            const std::size_t n = e.encode(std::span<const Field>(fields), out.data());
            bool ok = n <= bound;
            out.resize(std::min(n, bound));
            for (const Header& h : c.headers) st.input_bytes += h.name.size() + h.value.size();
            st.encoded_bytes += out.size();

            const DecodeResult r = feed.decode(d, out);
            ok = ok && r.error == Error::none && without_flags(r.headers) == c.headers;
            // The sensitive fields arrive marked never-indexed, and only those.
            if (ok && r.headers.size() == c.headers.size())
                for (const Header& h : r.headers) {
                    ok = ok && h.sensitive == sensitive_by_policy(h);
                    st.never_indexed += h.sensitive;
                }
            // Both sides' tables agree, and the encoder keeps to its limits.
            ok = ok && e.table_size() == d.table_size() && e.table_entries() == d.table_entries() &&
                 e.table_max_size() == d.table_max_size() && e.table_size() <= e.table_max_size() &&
                 e.table_max_size() <= cfg.options.max_table_size && d.table_max_size() <= d.limits().max_table_size;
            try {
                for (const Rep& rep : inspect(out)) st.size_updates += rep.kind == Rep::size_update;
            } catch (const std::exception&) {
                ok = false;
            }
            if (ok) {
                ++st.passed;
            } else if (reported < 5) {
                ++reported;
                FAIL_CHECK(std::string(cfg.name)
                           << ": " << story.name << " seqno " << c.seqno << ": n=" << n << " bound=" << bound
                           << " wire " << to_hex(out) << "\n  got " << r << "\n  expected " << c.headers
                           << "\n  encoder table " << e.table_size() << "/" << e.table_max_size() << " ("
                           << e.table_entries() << "), decoder " << d.table_size() << "/" << d.table_max_size() << " ("
                           << d.table_entries() << ")");
            }
        }
    }
    return st;
}

hpack::DecoderLimits dec_limit(std::uint32_t table) {
    hpack::DecoderLimits l;
    l.max_table_size = table;
    return l;
}

}  // namespace

TEST_CASE("hpack vectors: raw-data encoded by h2wire decodes back exactly") {
    const std::vector<Story> stories = load_folder("raw-data");
    CHECK(stories.size() == 32);
    const std::vector<EncodeConfig> configs = {
        {"table 4096, Huffman", enc(4096), {}, {}, {}, 0, Split::whole},
        {"table 4096, plain", enc(4096, false), {}, {}, {}, 0, Split::whole},
        {"table 4096, decoded at random splits", enc(4096), {}, {}, {}, 0, Split::random},
        // Our own cap below the protocol's initial 4096 (announced by the encoder).
        {"cap 0", enc(0), {}, {}, {}, 0, Split::whole},
        {"cap 256", enc(256), {}, {}, {}, 0, Split::whole},
        {"cap 1365", enc(1365), {}, {}, {}, 0, Split::whole},
        // The peer's SETTINGS_HEADER_TABLE_SIZE set before the first block.
        {"peer 0", enc(4096), {}, {0}, {}, 0, Split::whole},
        {"peer 256", enc(4096), {}, {256}, {}, 0, Split::whole},
        {"peer limit 256 from the start", enc(4096), dec_limit(256), {256}, {}, 0, Split::whole},
        {"peer 16384, cap 16384", enc(16384), {}, {16384}, {}, 0, Split::whole},
        {"peer 16384, cap 4096", enc(4096), {}, {16384}, {}, 0, Split::whole},
        // The peer's size changing mid-story (RFC 7541 §4.2), including the
        // smallest-then-final pairs and changes that need no update.
        {"peer changes every 3 blocks",
         enc(4096),
         {},
         {},
         {{1365}, {2730}, {0, 4096}, {256}, {100, 3000}, {8192}, {4096}, {2048, 1024, 3000}, {3000}, {0}, {4096}},
         3,
         Split::whole},
        {"peer changes every block, random splits",
         enc(4096),
         {},
         {},
         {{100}, {4096}, {50, 4000}, {4000}, {0}, {1}, {64, 5000}, {4096}},
         1,
         Split::random},
        {"cap 1000, peer changes every 2 blocks",
         enc(1000),
         {},
         {},
         {{500}, {4096}, {0, 2000}, {999}, {1000}, {100, 100}},
         2,
         Split::byte_by_byte},
    };
    for (const EncodeConfig& cfg : configs) {
        const std::string cfg_name = cfg.name;
        CAPTURE(cfg_name);
        const EncodeStats st = run_encode_config(cfg, stories);
        MESSAGE("raw-data, " << cfg_name << ": " << st.passed << " / " << st.cases << " cases round-trip; "
                             << st.input_bytes << " bytes of names and values -> " << st.encoded_bytes << " encoded; "
                             << st.size_updates << " size updates, " << st.never_indexed << " never-indexed fields");
        CHECK(st.cases == 3384);
        CHECK(st.passed == st.cases);
        if (cfg.every > 0) CHECK(st.size_updates > 0);
    }
}

// ---------------------------------------------------------------------------
// Generated vectors: random blocks built from a reference model of the tables
// (the static table read from Appendix A of the RFC text, a plain deque for
// the dynamic table), covering what the encoder folders above never send:
// never-indexed literals, entries larger than the table (§4.4: they empty it),
// a new entry named after the entry its insertion evicts, size updates of
// every kind, and limits changed between blocks.

namespace {

/// The decoder's tables as RFC 7541 §2.3 and §4 describe them.
struct ModelTables {
    std::deque<Header> dynamic;  // front: newest (index 62)
    std::uint32_t size = 0;
    std::uint32_t max = 4096;

    static std::uint32_t entry_size(const Header& h) {
        return static_cast<std::uint32_t>(h.name.size() + h.value.size() + 32);
    }
    void evict_to(std::uint32_t limit) {
        while (size > limit) {
            size -= entry_size(dynamic.back());
            dynamic.pop_back();
        }
    }
    void set_max(std::uint32_t m) {
        max = m;
        evict_to(max);
    }
    void insert(const Header& h) {
        const std::uint32_t e = entry_size(h);
        if (e > max) {  // §4.4: empties the table, is not added
            dynamic.clear();
            size = 0;
            return;
        }
        evict_to(max - e);
        dynamic.push_front(Header{h.name, h.value, false});
        size += e;
    }
    std::uint32_t count() const { return static_cast<std::uint32_t>(61 + dynamic.size()); }
    const Header& at(std::uint32_t index) const {
        return index <= 61 ? rfc_static_table()[index - 1] : dynamic[index - 62];
    }
};

struct GeneratedBlock {
    std::vector<std::uint32_t> limits_before;  // set_max_table_size calls before the block
    Bytes wire;
    Headers headers;
    std::uint32_t table_size = 0;
    std::size_t table_entries = 0;
    std::uint32_t table_max = 0;
};

std::string random_string(Prng& rng, std::size_t max_len) {
    std::string s(rng.below(max_len + 1), '\0');
    const bool binary = rng.one_in(4);
    for (char& c : s) c = static_cast<char>(binary ? rng.byte() : 'a' + rng.below(26));
    return s;
}

std::vector<GeneratedBlock> generate_story(Prng& rng, std::size_t blocks) {
    ModelTables m;
    std::uint32_t limit = 4096;
    std::vector<GeneratedBlock> out;
    for (std::size_t b = 0; b < blocks; ++b) {
        GeneratedBlock g;
        // Our SETTINGS change (and are acknowledged) between blocks.
        std::uint32_t smallest = UINT32_MAX;
        if (rng.one_in(6)) {
            const std::uint32_t choices[] = {0, 1, 64, 200, 1000, 2048, 4096, 8192};
            for (std::size_t i = 0, n = 1 + rng.below(3); i < n; ++i) {
                limit = choices[rng.below(std::size(choices))];
                smallest = std::min(smallest, limit);
                g.limits_before.push_back(limit);
            }
        }
        // §4.2: a required update (<= the smallest limit), or sometimes one or
        // two optional ones.
        std::vector<std::uint32_t> updates;
        if (smallest < m.max) {
            updates.push_back(static_cast<std::uint32_t>(rng.below(std::size_t{smallest} + 1)));
            if (rng.one_in(2)) updates.push_back(static_cast<std::uint32_t>(rng.below(std::size_t{limit} + 1)));
        } else if (rng.one_in(8)) {
            for (std::size_t i = 0, n = 1 + rng.below(2); i < n; ++i)
                updates.push_back(static_cast<std::uint32_t>(rng.below(std::size_t{limit} + 1)));
        }
        for (const std::uint32_t u : updates) {
            g.wire = concat({g.wire, size_update(u)});
            m.set_max(u);
        }
        for (std::size_t i = 0, n = rng.below(14); i < n; ++i) {
            const std::size_t kind = rng.below(10);
            if (kind < 3) {  // §6.1 indexed
                const std::uint32_t index = 1 + static_cast<std::uint32_t>(rng.below(m.count()));
                g.wire = concat({g.wire, ref_integer(index, 7, 0x80)});
                g.headers.push_back(m.at(index));
                continue;
            }
            // §6.2 literals: with indexing, without, never indexed.
            const bool indexing = kind < 7 || kind == 9;
            const bool never = kind == 8;
            Header h;
            std::uint32_t name_index = 0;
            if (rng.one_in(2)) {
                name_index = 1 + static_cast<std::uint32_t>(rng.below(m.count()));
                h.name = m.at(name_index).name;  // copied before any eviction (§4.4)
            } else {
                h.name = random_string(rng, 20);
            }
            if (kind == 9) {
                // Around the table's size: exactly filling it, or one over (empties it).
                const std::size_t target = m.max + rng.below(2);
                const std::size_t base = h.name.size() + 32;
                h.value = std::string(target > base ? target - base : rng.below(10), 'v');
            } else {
                h.value = random_string(rng, rng.one_in(10) ? 300 : 30);
            }
            h.sensitive = never;
            const std::uint8_t first = indexing ? 0x40 : never ? 0x10 : 0x00;
            g.wire = concat({g.wire, ref_integer(name_index, indexing ? 6 : 4, first)});
            if (name_index == 0) g.wire = concat({g.wire, str_literal(h.name, rng.one_in(2))});
            g.wire = concat({g.wire, str_literal(h.value, rng.one_in(2))});
            g.headers.push_back(h);
            if (indexing) m.insert(h);
        }
        g.table_size = m.size;
        g.table_entries = m.dynamic.size();
        g.table_max = m.max;
        out.push_back(std::move(g));
    }
    return out;
}

}  // namespace

TEST_CASE("hpack vectors: the static table agrees with Appendix A of the RFC") {
    hpack::Decoder d;
    Bytes all;
    for (std::uint32_t i = 1; i <= 61; ++i) all.push_back(static_cast<std::uint8_t>(0x80 | i));
    const DecodeResult r = decode_whole(d, all);
    CHECK(r.error == Error::none);
    CHECK(r.headers == rfc_static_table());
}

TEST_CASE("hpack vectors: generated blocks decode as the reference model says") {
    hpack::DecoderLimits limits;
    limits.max_header_list_size = 1u << 30;
    limits.max_field_size = 1u << 20;
    Prng gen(71);
    std::size_t blocks = 0, fields = 0;
    for (int story = 0; story < 60; ++story) {
        const std::vector<GeneratedBlock> generated = generate_story(gen, 40);
        for (const Split split : kAllSplits) {
            Feeder feed(split, 72 + static_cast<std::uint64_t>(story));
            hpack::Decoder d(limits);
            for (std::size_t i = 0; i < generated.size(); ++i) {
                const GeneratedBlock& g = generated[i];
                for (const std::uint32_t l : g.limits_before) d.set_max_table_size(l);
                const DecodeResult r = feed.decode(d, g.wire);
                const bool ok = r.error == Error::none && r.headers == g.headers && !r.in_block_wrong &&
                                d.table_size() == g.table_size && d.table_entries() == g.table_entries &&
                                d.table_max_size() == g.table_max;
                if (!ok) {
                    FAIL_CHECK("story " << story << " block " << i << " (" << to_string(split) << "): wire "
                                        << to_hex(g.wire) << "\n  got " << r << ", table " << d.table_size() << "/"
                                        << d.table_max_size() << " (" << d.table_entries() << ")\n  expected "
                                        << g.headers << ", table " << g.table_size << "/" << g.table_max << " ("
                                        << g.table_entries << ")");
                    break;  // the rest of the story would only repeat it
                }
                if (split == Split::whole) {
                    ++blocks;
                    fields += g.headers.size();
                }
            }
        }
    }
    MESSAGE("generated: " << blocks << " blocks, " << fields << " fields decoded as the model says");
    CHECK(blocks == 60 * 40);
}

TEST_CASE("hpack vectors: a new entry named after the entry its insertion evicts (§4.4)") {
    // Table of 100 bytes. Entry A (name 30 bytes + value v bytes + 32) is
    // followed by a literal with indexing that takes A's name by index 62 and
    // whose insertion evicts A. Every offset in the table's storage is tried
    // by varying the sizes.
    for (std::size_t a_value = 0; a_value <= 38; ++a_value) {
        for (std::size_t b_value = 0; b_value <= 38; b_value += 3) {
            CAPTURE(a_value);
            CAPTURE(b_value);
            const std::string name(30, 'n');
            const std::string a(a_value, 'a'), b(b_value, 'b');
            hpack::DecoderLimits l;
            l.max_table_size = 100;
            for (const Split split : kAllSplits) {
                Feeder feed(split, 73);
                hpack::Decoder d(l);
                // Some filler first so that A lands at various offsets.
                Bytes block = literal_new_name("f", std::string(a_value % 7, 'f'), 0x40);
                block = concat({block, literal_new_name(name, a, 0x40), hex("7e"), str_literal(b)});
                const DecodeResult r = feed.decode(d, block);
                CHECK(r.error == Error::none);
                REQUIRE(r.headers.size() == 3);
                CHECK(r.headers[2] == Header{name, b});
                // A (62 + 32 + a_value) and the new entry (62 + b_value) never
                // fit together in 100 bytes: only the new one is left.
                CHECK(d.table_entries() == 1);
                CHECK(d.table_size() == 30 + b_value + 32);
                const DecodeResult probe = decode_whole(d, hex("be be"));
                CHECK(probe.headers == Headers{{name, b}, {name, b}});
            }
        }
    }
}
