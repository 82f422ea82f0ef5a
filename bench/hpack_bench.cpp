// HPACK throughput of h2wire against nghttp2 on the hpack-test-case vectors.
//
//   hpack_decode/<impl>/<folder>   every story of one wire folder, a fresh
//                                  decoder per story, header_table_size honoured
//   hpack_encode/<impl>/raw-data   every raw-data story, a fresh encoder per
//                                  story, table size 4096
//   hpack_encode/h2wire-lookup/raw-data
//                                  the same with Encoder::lookup() before each
//                                  encode() (the memo bytes a Connection uses);
//                                  the output is the same
//
// items/s counts header fields. Both sides do the same work: the vectors are
// loaded and hex-decoded once, outside the timed loops; every decoded field's
// name and value lengths are summed into a DoNotOptimize; each encoder asks
// for its output bound before each block, as a caller must. `encoded_bytes` is
// the total size of one pass's output.
//
// H2WIRE_BENCH_ITERATIONS=n runs each of them exactly n times, so that
// callgrind instruction counts (--toggle-collect='*decode_bench*' or
// '*encode_bench*', the timed loops) divide into per-pass figures.
//
// At start-up both decoders must produce the expected fields for every case,
// both encoders' output must decode back to the input, and nghttp2's deflater
// gets NGHTTP2_NV_FLAG_NO_COPY_NAME|VALUE only if that leaves its output as is.
#include <benchmark/benchmark.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "h2wire/hpack.hpp"
#include "support/json.hpp"

#ifndef H2WIRE_SHARED_DIR
#define H2WIRE_SHARED_DIR "../shared"
#endif

namespace {

namespace hpack = h2wire::hpack;
namespace json = h2wire::json;
namespace fs = std::filesystem;

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Block {
    std::vector<std::uint8_t> wire;
    std::optional<std::uint32_t> table_size;  // header_table_size, when present and not null
    Pairs expected;
};
struct Story {
    std::vector<Block> blocks;
};
struct WireFolder {
    std::string name;
    std::vector<Story> stories;
    std::size_t fields = 0;  // per pass
};

// A raw-data story in the two encoders' input forms, built once.
struct RawStory {
    std::deque<std::string> strings;  // storage for both views below
    std::vector<std::vector<h2wire::Field>> h2wire_blocks;
    std::vector<std::vector<nghttp2_nv>> nghttp2_blocks;
};

struct Data {
    std::vector<WireFolder> folders;
    std::deque<RawStory> raw;
    std::size_t raw_fields = 0;
    std::size_t max_bound = 0;  // a buffer this big holds any encoded block
    std::uint8_t nghttp2_nv_flags = NGHTTP2_NV_FLAG_NONE;
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "hpack_bench: %s\n", what.c_str());
    std::exit(1);
}

fs::path vectors_dir() {
    if (const char* env = std::getenv("H2WIRE_HPACK_TEST_CASE")) return env;
    return fs::path(H2WIRE_SHARED_DIR) / "testdata" / "hpack-test-case";
}

std::vector<fs::path> story_files(const fs::path& folder) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(folder))
        if (e.path().extension() == ".json") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

Pairs headers_of(const json::Value& c) {
    Pairs out;
    if (const json::Value* h = c.find("headers"))
        for (const json::Value& one : h->arr()) out.emplace_back(one.obj()[0].first, one.obj()[0].second.str());
    return out;
}

std::uint8_t* as_bytes(const std::string& s) {
    return reinterpret_cast<std::uint8_t*>(const_cast<char*>(s.data()));
}

void load(Data& d) {
    const fs::path dir = vectors_dir();
    if (!fs::is_directory(dir / "raw-data")) die("no hpack-test-case vectors at " + dir.string());
    std::vector<fs::path> folders;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory()) folders.push_back(e.path());
    std::sort(folders.begin(), folders.end());

    for (const fs::path& folder : folders) {
        const bool raw = folder.filename() == "raw-data";
        WireFolder wf{folder.filename().string(), {}, 0};
        for (const fs::path& file : story_files(folder)) {
            const json::Value story = json::parse_file(file.string());
            if (raw) {
                RawStory& rs = d.raw.emplace_back();
                for (const json::Value& c : story.find("cases")->arr()) {
                    auto& fields = rs.h2wire_blocks.emplace_back();
                    auto& nva = rs.nghttp2_blocks.emplace_back();
                    for (auto& [name, value] : headers_of(c)) {
                        const std::string& n = rs.strings.emplace_back(std::move(name));
                        const std::string& v = rs.strings.emplace_back(std::move(value));
                        fields.push_back(h2wire::Field{n, v});
                        nva.push_back(nghttp2_nv{as_bytes(n), as_bytes(v), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
                    }
                    d.raw_fields += fields.size();
                    d.max_bound = std::max(d.max_bound, hpack::Encoder::max_encoded_size(fields));
                }
            } else {
                Story& st = wf.stories.emplace_back();
                for (const json::Value& c : story.find("cases")->arr()) {
                    Block b;
                    auto wire = json::from_hex(c.find("wire")->str());
                    if (!wire) die("bad hex in " + file.string());
                    b.wire = std::move(*wire);
                    if (const json::Value* t = c.find("header_table_size"); t != nullptr && t->is_number())
                        b.table_size = static_cast<std::uint32_t>(t->num());
                    b.expected = headers_of(c);
                    wf.fields += b.expected.size();
                    st.blocks.push_back(std::move(b));
                }
            }
        }
        if (!raw) d.folders.push_back(std::move(wf));
    }
}

// ---------------------------------------------------------------------------
// The four workloads. Each returns the sum of name and value lengths (decode)
// or of output bytes (encode), and calls `on_field` / `on_block` only in the
// start-up checks.

constexpr hpack::DecoderLimits decoder_limits{};

struct NoFieldCheck {
    void operator()(std::size_t, std::size_t, std::string_view, std::string_view) const {}
};

template <class Check = NoFieldCheck>
std::size_t decode_h2wire(const WireFolder& f, Check check = {}) {
    std::size_t total = 0;
    for (std::size_t s = 0; s < f.stories.size(); ++s) {
        hpack::Decoder decoder(decoder_limits);
        const auto& blocks = f.stories[s].blocks;
        for (std::size_t b = 0; b < blocks.size(); ++b) {
            if (blocks[b].table_size) decoder.set_max_table_size(*blocks[b].table_size);
            const hpack::Error e = decoder.decode_block(blocks[b].wire, [&](const h2wire::Field& field) {
                total += field.name.size() + field.value.size();
                check(s, b, field.name, field.value);
            });
            if (e != hpack::Error::none) return SIZE_MAX;
        }
    }
    return total;
}

template <class Check = NoFieldCheck>
std::size_t decode_nghttp2(const WireFolder& f, Check check = {}) {
    std::size_t total = 0;
    for (std::size_t s = 0; s < f.stories.size(); ++s) {
        nghttp2_hd_inflater* inflater = nullptr;
        if (nghttp2_hd_inflate_new(&inflater) != 0) return SIZE_MAX;
        const auto& blocks = f.stories[s].blocks;
        for (std::size_t b = 0; b < blocks.size(); ++b) {
            if (blocks[b].table_size) nghttp2_hd_inflate_change_table_size(inflater, *blocks[b].table_size);
            const std::uint8_t* in = blocks[b].wire.data();
            std::size_t left = blocks[b].wire.size();
            for (;;) {
                nghttp2_nv nv;
                int flags = 0;
                const ssize_t rv = nghttp2_hd_inflate_hd2(inflater, &nv, &flags, in, left, 1);
                if (rv < 0) {
                    nghttp2_hd_inflate_del(inflater);
                    return SIZE_MAX;
                }
                in += rv;
                left -= static_cast<std::size_t>(rv);
                if (flags & NGHTTP2_HD_INFLATE_EMIT) {
                    total += nv.namelen + nv.valuelen;
                    check(s, b, std::string_view(reinterpret_cast<const char*>(nv.name), nv.namelen),
                          std::string_view(reinterpret_cast<const char*>(nv.value), nv.valuelen));
                }
                if (flags & NGHTTP2_HD_INFLATE_FINAL) {
                    nghttp2_hd_inflate_end_headers(inflater);
                    break;
                }
                if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && left == 0) break;
            }
        }
        nghttp2_hd_inflate_del(inflater);
    }
    return total;
}

struct NoBlockCheck {
    void operator()(std::size_t, std::size_t, const std::uint8_t*, std::size_t) const {}
};

template <class Check = NoBlockCheck>
std::size_t encode_h2wire(const Data& d, std::uint8_t* buf, Check check = {}, bool with_lookup = false) {
    std::size_t total = 0;
    std::size_t s = 0;
    std::uint8_t memos[512];
    for (const RawStory& rs : d.raw) {
        hpack::Encoder encoder(hpack::EncoderOptions{.max_table_size = 4096});
        for (std::size_t b = 0; b < rs.h2wire_blocks.size(); ++b) {
            const auto& fields = rs.h2wire_blocks[b];
            if (hpack::Encoder::max_encoded_size(fields) > d.max_bound || fields.size() > sizeof memos) return SIZE_MAX;
            std::size_t n = 0;
            if (with_lookup) {
                encoder.lookup(fields, memos);
                n = encoder.encode(fields, buf, memos);
            } else {
                n = encoder.encode(fields, buf);
            }
            total += n;
            check(s, b, buf, n);
        }
        ++s;
    }
    return total;
}

template <class Check = NoBlockCheck>
std::size_t encode_nghttp2(std::uint8_t* buf, std::size_t buf_size,
                           const std::vector<std::vector<std::vector<nghttp2_nv>>>& nvs, Check check = {}) {
    std::size_t total = 0;
    for (std::size_t s = 0; s < nvs.size(); ++s) {
        nghttp2_hd_deflater* deflater = nullptr;
        if (nghttp2_hd_deflate_new(&deflater, 4096) != 0) return SIZE_MAX;
        for (std::size_t b = 0; b < nvs[s].size(); ++b) {
            const auto& nva = nvs[s][b];
            const std::size_t bound = nghttp2_hd_deflate_bound(deflater, nva.data(), nva.size());
            if (bound > buf_size) return SIZE_MAX;
            const ssize_t n = nghttp2_hd_deflate_hd(deflater, buf, bound, nva.data(), nva.size());
            if (n < 0) {
                nghttp2_hd_deflate_del(deflater);
                return SIZE_MAX;
            }
            total += static_cast<std::size_t>(n);
            check(s, b, buf, static_cast<std::size_t>(n));
        }
        nghttp2_hd_deflate_del(deflater);
    }
    return total;
}

// ---------------------------------------------------------------------------
// Start-up checks.

// Checks every decoded field against the vector.
struct ExpectFields {
    const WireFolder* folder;
    const char* impl;
    mutable std::size_t s = SIZE_MAX, b = SIZE_MAX, i = 0;
    void operator()(std::size_t story, std::size_t block, std::string_view n, std::string_view v) const {
        if (story != s || block != b) s = story, b = block, i = 0;
        const Pairs& want = folder->stories[s].blocks[b].expected;
        if (i >= want.size() || want[i].first != n || want[i].second != v)
            die(std::string(impl) + " decodes " + folder->name + " story " + std::to_string(s) + " seqno " +
                std::to_string(b) + " field " + std::to_string(i) + " wrongly");
        ++i;
    }
};

// Counts the fields each decoder reports, per folder, and checks them.
void check_decoders(const Data& d) {
    for (const WireFolder& f : d.folders) {
        std::size_t count_h2wire = 0, count_nghttp2 = 0;
        auto counting = [](std::size_t& n, ExpectFields e) {
            return [&n, e](std::size_t s, std::size_t b, std::string_view name, std::string_view value) {
                ++n;
                e(s, b, name, value);
            };
        };
        if (decode_h2wire(f, counting(count_h2wire, ExpectFields{&f, "h2wire"})) == SIZE_MAX)
            die("h2wire fails to decode " + f.name);
        if (decode_nghttp2(f, counting(count_nghttp2, ExpectFields{&f, "nghttp2"})) == SIZE_MAX)
            die("nghttp2 fails to decode " + f.name);
        if (count_h2wire != f.fields || count_nghttp2 != f.fields)
            die(f.name + ": h2wire decodes " + std::to_string(count_h2wire) + " fields, nghttp2 " +
                std::to_string(count_nghttp2) + ", the vectors hold " + std::to_string(f.fields));
    }
}

// Both encoders' output decodes to the input; picks nghttp2's copy flags.
void check_encoders(Data& d, std::vector<std::vector<std::vector<nghttp2_nv>>>& nvs) {
    std::vector<std::uint8_t> buf(std::max<std::size_t>(d.max_bound, 1) * 4 + 4096);

    // h2wire's output, decoded by nghttp2.
    std::vector<nghttp2_hd_inflater*> inflaters(d.raw.size());
    for (auto*& inf : inflaters)
        if (nghttp2_hd_inflate_new(&inf) != 0) die("nghttp2_hd_inflate_new failed");
    auto decode_with_nghttp2 = [&](std::size_t s, std::size_t b, const std::uint8_t* p, std::size_t n) {
        const auto& want = d.raw[s].h2wire_blocks[b];
        std::size_t i = 0;
        for (;;) {
            nghttp2_nv nv;
            int flags = 0;
            const ssize_t rv = nghttp2_hd_inflate_hd2(inflaters[s], &nv, &flags, p, n, 1);
            if (rv < 0) die("nghttp2 cannot decode h2wire's encoding of raw-data story " + std::to_string(s));
            p += rv;
            n -= static_cast<std::size_t>(rv);
            if (flags & NGHTTP2_HD_INFLATE_EMIT) {
                if (i >= want.size() ||
                    std::string_view(reinterpret_cast<const char*>(nv.name), nv.namelen) != want[i].name ||
                    std::string_view(reinterpret_cast<const char*>(nv.value), nv.valuelen) != want[i].value)
                    die("h2wire's encoding of raw-data story " + std::to_string(s) + " seqno " + std::to_string(b) +
                        " decodes wrongly");
                ++i;
            }
            if (flags & NGHTTP2_HD_INFLATE_FINAL) {
                nghttp2_hd_inflate_end_headers(inflaters[s]);
                break;
            }
            if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && n == 0) break;
        }
        if (i != want.size()) die("h2wire's encoding lost fields");
    };
    if (encode_h2wire(d, buf.data(), decode_with_nghttp2) == SIZE_MAX) die("h2wire's encoder failed");
    for (auto* inf : inflaters) nghttp2_hd_inflate_del(inf);

    // lookup() before encode() changes no byte of the output.
    std::vector<std::uint8_t> encoded, looked_up;
    const auto keep_in = [](std::vector<std::uint8_t>& v) {
        return [&v](std::size_t, std::size_t, const std::uint8_t* p, std::size_t n) { v.insert(v.end(), p, p + n); };
    };
    if (encode_h2wire(d, buf.data(), keep_in(encoded)) == SIZE_MAX ||
        encode_h2wire(d, buf.data(), keep_in(looked_up), true) == SIZE_MAX || encoded != looked_up)
        die("h2wire's encoder writes other bytes after lookup()");

    // nghttp2's output, with and without the no-copy flags, decoded by h2wire.
    auto run = [&](std::uint8_t flags, std::vector<std::uint8_t>& out) {
        for (auto& story : nvs)
            for (auto& block : story)
                for (auto& nv : block) nv.flags = flags;
        std::vector<hpack::Decoder> decoders(d.raw.size());
        auto keep = [&](std::size_t s, std::size_t b, const std::uint8_t* p, std::size_t n) {
            out.insert(out.end(), p, p + n);
            const auto& want = d.raw[s].h2wire_blocks[b];
            std::size_t i = 0;
            const hpack::Error e = decoders[s].decode_block({p, n}, [&](const h2wire::Field& f) {
                if (i >= want.size() || f.name != want[i].name || f.value != want[i].value)
                    die("h2wire decodes nghttp2's encoding of raw-data story " + std::to_string(s) + " wrongly");
                ++i;
            });
            if (e != hpack::Error::none || i != want.size())
                die("h2wire cannot decode nghttp2's encoding of raw-data story " + std::to_string(s) + ": " +
                    std::string(hpack::to_string(e)));
        };
        if (encode_nghttp2(buf.data(), buf.size(), nvs, keep) == SIZE_MAX) die("nghttp2's deflater failed");
    };
    std::vector<std::uint8_t> plain, no_copy;
    run(NGHTTP2_NV_FLAG_NONE, plain);
    run(NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE, no_copy);
    d.nghttp2_nv_flags =
        plain == no_copy ? NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE : NGHTTP2_NV_FLAG_NONE;
    for (auto& story : nvs)
        for (auto& block : story)
            for (auto& nv : block) nv.flags = d.nghttp2_nv_flags;
    benchmark::AddCustomContext("hpack_nghttp2_nv_flags", plain == no_copy
                                                              ? "NO_COPY_NAME|NO_COPY_VALUE (output unchanged)"
                                                              : "NONE (NO_COPY changes the output)");
}

// ---------------------------------------------------------------------------

Data& data() {
    static Data d;
    return d;
}
std::vector<std::vector<std::vector<nghttp2_nv>>>& nghttp2_input() {
    static std::vector<std::vector<std::vector<nghttp2_nv>>> nvs;
    return nvs;
}

void decode_bench(benchmark::State& state, const WireFolder* f, bool nghttp2) {
    for (auto _ : state) {
        const std::size_t total = nghttp2 ? decode_nghttp2(*f) : decode_h2wire(*f);
        if (total == SIZE_MAX) {
            state.SkipWithError("decoding failed");
            break;
        }
        benchmark::DoNotOptimize(total);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(f->fields));
}

void encode_bench(benchmark::State& state, bool nghttp2, bool with_lookup = false) {
    const Data& d = data();
    std::vector<std::uint8_t> buf(std::max<std::size_t>(d.max_bound, 1) * 4 + 4096);
    std::size_t bytes = 0;
    for (auto _ : state) {
        bytes = nghttp2 ? encode_nghttp2(buf.data(), buf.size(), nghttp2_input())
                        : encode_h2wire(d, buf.data(), NoBlockCheck{}, with_lookup);
        if (bytes == SIZE_MAX) {
            state.SkipWithError("encoding failed");
            break;
        }
        benchmark::DoNotOptimize(bytes);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(d.raw_fields));
    state.counters["encoded_bytes"] = static_cast<double>(bytes);
}

benchmark::internal::Benchmark* fixed_iterations(benchmark::internal::Benchmark* b) {
    if (const char* n = std::getenv("H2WIRE_BENCH_ITERATIONS"); n != nullptr && std::atoi(n) > 0)
        b->Iterations(std::atoi(n));
    return b;
}

const int registered = [] {
    Data& d = data();
    try {
        load(d);
    } catch (const std::exception& e) {
        die(std::string("loading the vectors: ") + e.what());
    }
    auto& nvs = nghttp2_input();
    for (const RawStory& rs : d.raw) nvs.push_back(rs.nghttp2_blocks);
    check_decoders(d);
    check_encoders(d, nvs);

    for (const WireFolder& f : d.folders)
        for (const bool ng : {false, true})
            fixed_iterations(benchmark::RegisterBenchmark(
                ("hpack_decode/" + std::string(ng ? "nghttp2/" : "h2wire/") + f.name).c_str(),
                [&f, ng](benchmark::State& st) { decode_bench(st, &f, ng); }));
    for (const bool ng : {false, true})
        fixed_iterations(benchmark::RegisterBenchmark(
            (std::string("hpack_encode/") + (ng ? "nghttp2" : "h2wire") + "/raw-data").c_str(),
            [ng](benchmark::State& st) { encode_bench(st, ng); }));
    fixed_iterations(benchmark::RegisterBenchmark("hpack_encode/h2wire-lookup/raw-data",
                                                  [](benchmark::State& st) { encode_bench(st, false, true); }));
    return 0;
}();

}  // namespace
