// The hpack-test-case vectors (../shared/testdata/hpack-test-case, see its
// README): every story of every encoder's folder decodes to exactly the
// expected ordered header list, fed whole, byte by byte and at random splits;
// and every raw-data story encoded by h2wire (several table sizes, and with
// the peer's table size changing mid-story) decodes back to its input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
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
