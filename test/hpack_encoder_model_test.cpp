// hpack::Encoder against a model of its documented policy: every field that
// has a full match (name and value) in the static or dynamic table goes out as
// that entry's index, whatever shortcut the encoder takes to find it; every
// other field is a literal whose name refers to an entry with that name when
// one exists, indexed when the policy says so. The model keeps its own copy
// of the dynamic table and finds entries by linear search, so it shares no
// code with the encoder's lookups. Checked on the hpack-test-case raw-data
// stories and on blocks made to trip lookups that remember earlier blocks:
// fields that change place, names that share a value, static names and look-
// alikes, and entries evicted under the encoder's feet.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "h2wire/hpack.hpp"
#include "support/hpack_test_util.hpp"

using namespace h2wire;
using namespace h2wire::test;
using hpack::Error;

namespace {

namespace fs = std::filesystem;


/// The encoder's documented policy (include/h2wire/hpack.hpp and the
/// comments of lib/hpack/encoder.cpp), written out plainly.
class Model {
public:
    explicit Model(std::uint32_t max_size) : max_(max_size) {}

    /// Checks the representations `reps` that the encoder chose for
    /// `fields`, and updates the model's table.
    void check(std::span<const Field> fields, const std::vector<Rep>& reps) {
        std::size_t r = 0;
        if (first_block_ && max_ != 4096) {
            REQUIRE(r < reps.size());
            CHECK(reps[r].kind == Rep::size_update);
            CHECK(reps[r].index == max_);
            ++r;
        }
        first_block_ = false;
        REQUIRE(reps.size() == r + fields.size());
        for (const Field& f : fields) {
            const Rep& rep = reps[r++];
            CAPTURE(f.name);
            CAPTURE(f.value);
            const bool sensitive = f.sensitive || sensitive_by_default(f);
            const std::uint32_t full = sensitive ? 0 : full_match(f);
            if (full != 0) {
                CHECK(rep.kind == Rep::indexed);
                CHECK(rep.index == full);
                continue;
            }
            const std::uint64_t entry = f.name.size() + f.value.size() + 32;
            const bool index_it = !sensitive && max_ != 0 && entry <= max_ / 4 * 3 && worth_indexing(f.name);
            CHECK(rep.kind == (sensitive ? Rep::never_indexed : index_it ? Rep::incremental : Rep::without_indexing));
            // The name refers to the static table's first entry with it, else
            // to some dynamic entry with it, else is a literal.
            const std::uint32_t static_name = static_name_index(f.name);
            if (static_name != 0) {
                CHECK(rep.index == static_name);
            } else if (has_name(f.name)) {
                REQUIRE(rep.index > 61);
                REQUIRE(rep.index - 62 < entries_.size());
                CHECK(entries_[rep.index - 62].first == f.name);
            } else {
                CHECK(rep.index == 0);
            }
            if (index_it) insert(f);
        }
    }

private:
    static bool sensitive_by_default(const Field& f) {
        return f.name == "authorization" || f.name == "proxy-authorization" ||
               (f.name == "cookie" && f.value.size() < 20);
    }
    static bool worth_indexing(std::string_view name) {
        return name != "age" && name != "etag" && name != ":path" && name != "content-length";
    }
    static std::uint32_t static_name_index(std::string_view name) {
        for (std::uint32_t i = 0; i < 61; ++i)
            if (rfc_static_table()[i].name == name) return i + 1;
        return 0;
    }
    bool has_name(std::string_view name) const {
        return std::any_of(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == name; });
    }
    std::uint32_t full_match(const Field& f) const {
        for (std::uint32_t i = 0; i < 61; ++i)
            if (rfc_static_table()[i].name == f.name && rfc_static_table()[i].value == f.value) return i + 1;
        for (std::size_t i = 0; i < entries_.size(); ++i)
            if (entries_[i].first == f.name && entries_[i].second == f.value) return static_cast<std::uint32_t>(62 + i);
        return 0;
    }
    void insert(const Field& f) {
        const std::uint64_t entry = f.name.size() + f.value.size() + 32;
        while (!entries_.empty() && size_ + entry > max_) {
            size_ -= entries_.back().first.size() + entries_.back().second.size() + 32;
            entries_.pop_back();
        }
        entries_.emplace_front(std::string(f.name), std::string(f.value));
        size_ += entry;
    }

    std::uint32_t max_;
    std::uint64_t size_ = 0;
    bool first_block_ = true;
    std::deque<std::pair<std::string, std::string>> entries_;  // newest first
};

hpack::EncoderOptions cap(std::uint32_t max_table_size) {
    hpack::EncoderOptions o;
    o.max_table_size = max_table_size;
    return o;
}

/// An encoder checked against the model, block by block, with or without
/// lookup() before each encode(); every block also decodes back.
struct Checked {
    hpack::Encoder enc;
    hpack::Decoder dec;
    Model model;
    bool use_lookup;

    Checked(std::uint32_t table, bool lookup)
        : enc(cap(table)), model(std::min<std::uint32_t>(table, 4096)), use_lookup(lookup) {}

    void block(std::span<const Field> fields) {
        if (use_lookup) enc.lookup(fields, nullptr);
        Bytes out(hpack::Encoder::max_encoded_size(fields));
        out.resize(enc.encode(fields, out.data()));
        model.check(fields, inspect(out));
        const DecodeResult r = decode_whole(dec, out);
        REQUIRE(r.error == Error::none);
        REQUIRE(r.headers.size() == fields.size());
        for (std::size_t i = 0; i < fields.size(); ++i) {
            CHECK(r.headers[i].name == fields[i].name);
            CHECK(r.headers[i].value == fields[i].value);
        }
    }
};

}  // namespace

TEST_CASE("hpack encoder model: the raw-data stories") {
    const std::vector<fs::path> files = story_files("raw-data");
    REQUIRE(files.size() == 32);
    for (const std::uint32_t table : {4096u, 1000u, 256u, 0u}) {
        for (const bool lookup : {false, true}) {
            CAPTURE(table);
            CAPTURE(lookup);
            for (const fs::path& file : files) {
                CAPTURE(file.filename().string());
                const json::Value doc = json::parse_file(file.string());
                Checked c(table, lookup);
                for (const json::Value& cs : doc.find("cases")->arr()) {
                    const Headers hs = headers_from_json(*cs.find("headers"));
                    const std::vector<Field> fields = to_fields(hs);
                    c.block(fields);
                }
            }
        }
    }
}

TEST_CASE("hpack encoder model: every static entry, every static name, and names that only look alike") {
    std::vector<std::string> names, values;
    std::vector<std::string> own_values;
    for (const Header& h : rfc_static_table()) {
        names.emplace_back(h.name);
        values.emplace_back(h.value);
        own_values.push_back("v" + std::to_string(names.size()));
    }
    for (const bool lookup : {false, true}) {
        CAPTURE(lookup);
        Checked c(4096, lookup);
        std::vector<Field> fields;
        // Full matches, and each static name with a value of its own.
        for (std::size_t i = 0; i < 61; ++i) fields.push_back({names[i], values[i]});
        for (std::size_t i = 0; i < 61; ++i) fields.push_back({names[i], own_values[i]});
        c.block(fields);
        c.block(fields);
        // Same length, first and last byte as a static name; upper case; one
        // byte more or less.
        std::vector<std::string> alike;
        for (const Header& h : rfc_static_table()) {
            std::string s(h.name);
            if (s.size() > 2) {
                s[s.size() / 2] = s[s.size() / 2] == 'x' ? 'y' : 'x';
                alike.push_back(s);
            }
            std::string upper(h.name);
            for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            alike.push_back(upper);
            alike.push_back(h.name + "s");
            alike.push_back(h.name.substr(0, h.name.size() - 1));
        }
        alike.push_back("");
        fields.clear();
        for (const std::string& s : alike) fields.push_back({s, "GET"});
        for (const std::string& s : alike) fields.push_back({s, ""});
        c.block(fields);
        c.block(fields);
    }
}

TEST_CASE("hpack encoder model: fields that move between blocks, share values and get evicted") {
    // A pool of fields with few names and few values, so that the field at a
    // position often has the name or the value (or both) of the one there in
    // the block before; blocks of random length and order; small tables so
    // that entries are evicted all the time.
    const std::vector<std::string> names = {"user-agent",
                                            "cookie",
                                            "x-a",
                                            "x-b",
                                            "content-type",
                                            ":path",
                                            ":status",
                                            "etag",
                                            "accept",
                                            ":authority",
                                            "x-long-name-of-a-header-field-that-is-not-static"};
    const std::vector<std::string> values = {
        "",  "200",        "GET",       "a",
        "b", "same-value", "text/html", "0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdefghijklmnop"};
    for (const std::uint32_t table : {4096u, 512u, 200u, 100u}) {
        for (const bool lookup : {false, true}) {
            CAPTURE(table);
            CAPTURE(lookup);
            std::mt19937 rng(table * 2 + lookup);
            Checked c(table, lookup);
            std::vector<Field> prev;
            for (int b = 0; b < 400; ++b) {
                std::vector<Field> fields;
                if (!prev.empty() && rng() % 3 == 0) {
                    // The block before with a few fields swapped or changed.
                    fields = prev;
                    for (int k = 0; k < 2; ++k) {
                        const std::size_t i = rng() % fields.size();
                        if (rng() % 2)
                            std::swap(fields[i], fields[rng() % fields.size()]);
                        else
                            fields[i] = {names[rng() % names.size()], values[rng() % values.size()]};
                    }
                } else {
                    const std::size_t n = rng() % 12;
                    for (std::size_t i = 0; i < n; ++i)
                        fields.push_back({names[rng() % names.size()], values[rng() % values.size()], rng() % 17 == 0});
                }
                c.block(fields);
                prev = fields;
            }
        }
    }
}
