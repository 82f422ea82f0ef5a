// QPACK throughput of h2wire against libnghttp3 on the QPACK offline-interop
// data (../shared/testdata/qifs, see its README).
//
//   qpack_decode/<impl>/<encoder>/<file>
//       one encoded file, a fresh decoder per pass, its table at the file's
//       capacity; blocked sections held and finished as the inserts arrive
//   qpack_encode/<impl>/<qif>
//       every list of one QIF file, a fresh encoder per pass, the peer's
//       capacity 4096 and blocked streams 100, every section acknowledged at
//       once (h2wire: the Section Acknowledgment and Insert Count Increment a
//       decoder would send, fed to read_decoder_stream; nghttp3:
//       nghttp3_qpack_encoder_ack_everything)
//
// items/s counts header fields. Files are read and parsed once, outside the
// timed loops; every decoded field's name and value lengths are summed into a
// DoNotOptimize. `encoded_bytes` is one pass's sections plus encoder stream.
//
// H2WIRE_BENCH_ITERATIONS=n runs each benchmark exactly n times (they are
// deterministic), so that callgrind instruction counts
// (--toggle-collect='*qpack_decode_pass*' or '*qpack_encode_pass*', the
// timed work) divide into per-pass figures. --benchmark_filter=qpack_ picks
// these alone.
//
// At start-up both decoders must decode every file to its QIF, and both
// encoders' output must decode back (by h2wire) to the input.
#include <benchmark/benchmark.h>
#include <nghttp3/nghttp3.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "h2wire/qpack.hpp"
#include "qpack_support.hpp"

#ifndef H2WIRE_SHARED_DIR
#define H2WIRE_SHARED_DIR "../shared"
#endif

namespace {

namespace qpack = h2wire::qpack;
namespace qifs = h2wire::qifs;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "qpack_bench: %s\n", what.c_str());
    std::exit(1);
}

std::string qifs_dir() {
    return std::string(H2WIRE_SHARED_DIR) + "/testdata/qifs";
}

struct EncodedFile {
    std::string name;  // <encoder>/<file>
    qifs::FileParams params;
    std::vector<qifs::Block> blocks;
    std::vector<qifs::HeaderList> expected;  // the QIF
    std::size_t fields = 0;
};

struct QifInput {
    std::string name;
    std::vector<qifs::HeaderList> lists;
    std::vector<std::vector<h2wire::Field>> fields;
    std::vector<std::vector<nghttp3_nv>> nvs;
    std::size_t field_count = 0;
    std::size_t max_bound = 0;
};

// ---------------------------------------------------------------------------
// Decoding one file. `Sink` gets (stream, name, value) of each field.

struct NoSink {
    void operator()(std::uint64_t, std::string_view, std::string_view) const {}
};

template <class Sink>
std::size_t decode_h2wire(const EncodedFile& f, Sink sink) {
    qpack::DecoderLimits limits;
    limits.max_table_capacity = f.params.capacity;
    limits.max_blocked_streams = f.params.blocked;
    qpack::Decoder decoder(limits);
    decoder.assume_capacity(f.params.capacity);
    std::deque<qpack::Section> sections;  // after the decoder: destroyed first; blocked ones stay put
    std::size_t total = 0;
    auto on_field = [&](std::uint64_t stream) {
        return [&total, &sink, stream](const h2wire::Field& field) {
            total += field.name.size() + field.value.size();
            sink(stream, field.name, field.value);
        };
    };
    for (const qifs::Block& b : f.blocks) {
        if (b.stream_id == 0) {
            if (decoder.read_encoder_stream(b.data) != qpack::Error::none) return SIZE_MAX;
            while (qpack::Section* s = decoder.next_unblocked())
                if (decoder.decode(*s, {}, true, on_field(s->stream_id())).status != qpack::Status::done)
                    return SIZE_MAX;
            while (!sections.empty() && !sections.front().blocked()) sections.pop_front();
        } else {
            qpack::Section& s = sections.emplace_back(b.stream_id);
            if (decoder.decode(s, b.data, true, on_field(b.stream_id)).error != qpack::Error::none) return SIZE_MAX;
            while (!sections.empty() && !sections.front().blocked()) sections.pop_front();
        }
        decoder.consume_decoder_stream_output(decoder.decoder_stream_output().size());
    }
    return decoder.blocked_sections() == 0 ? total : SIZE_MAX;
}

template <class Sink>
std::size_t decode_nghttp3(const EncodedFile& f, Sink sink) {
    const nghttp3_mem* mem = nghttp3_mem_default();
    nghttp3_qpack_decoder* dec = nullptr;
    if (nghttp3_qpack_decoder_new(&dec, f.params.capacity, f.params.blocked, mem) != 0) return SIZE_MAX;
    nghttp3_qpack_decoder_set_max_dtable_capacity(dec, f.params.capacity);
    struct Stream {
        std::uint64_t id;
        nghttp3_qpack_stream_context* ctx;
        const qifs::Block* block;
        std::size_t pos;
    };
    std::vector<Stream> blocked;
    std::size_t total = 0;
    std::vector<std::uint8_t> dbuf;
    // 1 done, 0 blocked, -1 error.
    auto feed = [&](Stream& s) -> int {
        for (;;) {
            nghttp3_qpack_nv nv;
            std::uint8_t flags = 0;
            const auto rv = nghttp3_qpack_decoder_read_request(dec, s.ctx, &nv, &flags, s.block->data.data() + s.pos,
                                                               s.block->data.size() - s.pos, 1);
            if (rv < 0) return -1;
            s.pos += static_cast<std::size_t>(rv);
            if (flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) {
                const nghttp3_vec n = nghttp3_rcbuf_get_buf(nv.name), v = nghttp3_rcbuf_get_buf(nv.value);
                total += n.len + v.len;
                sink(s.id, std::string_view(reinterpret_cast<const char*>(n.base), n.len),
                     std::string_view(reinterpret_cast<const char*>(v.base), v.len));
                nghttp3_rcbuf_decref(nv.name);
                nghttp3_rcbuf_decref(nv.value);
            }
            if (flags & NGHTTP3_QPACK_DECODE_FLAG_FINAL) return 1;
            if (flags & NGHTTP3_QPACK_DECODE_FLAG_BLOCKED) return 0;
            if (!(flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) && s.pos == s.block->data.size()) return -1;
        }
    };
    bool ok = true;
    for (const qifs::Block& b : f.blocks) {
        if (b.stream_id == 0) {
            const auto n = nghttp3_qpack_decoder_read_encoder(dec, b.data.data(), b.data.size());
            if (n < 0 || static_cast<std::size_t>(n) != b.data.size()) {
                ok = false;
                break;
            }
            for (std::size_t i = 0; i < blocked.size();) {
                const int r = feed(blocked[i]);
                if (r < 0) ok = false;
                if (r != 0) {
                    nghttp3_qpack_stream_context_del(blocked[i].ctx);
                    blocked.erase(blocked.begin() + static_cast<std::ptrdiff_t>(i));
                } else {
                    ++i;
                }
            }
        } else {
            Stream s{b.stream_id, nullptr, &b, 0};
            if (nghttp3_qpack_stream_context_new(&s.ctx, static_cast<std::int64_t>(b.stream_id), mem) != 0) {
                ok = false;
                break;
            }
            const int r = feed(s);
            if (r == 0) {
                blocked.push_back(s);
            } else {
                nghttp3_qpack_stream_context_del(s.ctx);
                if (r < 0) ok = false;
            }
        }
        if (!ok) break;
        // Take the decoder stream, as a connection would.
        dbuf.resize(nghttp3_qpack_decoder_get_decoder_streamlen(dec));
        if (!dbuf.empty()) {
            nghttp3_buf buf;
            nghttp3_buf_init(&buf);
            buf.begin = buf.pos = buf.last = dbuf.data();
            buf.end = dbuf.data() + dbuf.size();
            nghttp3_qpack_decoder_write_decoder(dec, &buf);
        }
    }
    for (Stream& s : blocked) nghttp3_qpack_stream_context_del(s.ctx);
    nghttp3_qpack_decoder_del(dec);
    return ok && blocked.empty() ? total : SIZE_MAX;
}

// ---------------------------------------------------------------------------
// Encoding one QIF. `Check` gets (list index, encoder-stream bytes, section).

constexpr std::uint32_t kEncodeCapacity = 4096;
constexpr std::uint32_t kEncodeBlocked = 100;

struct NoCheck {
    void operator()(std::size_t, std::span<const std::uint8_t>, std::span<const std::uint8_t>) const {}
};

template <class Check>
std::size_t encode_h2wire(const QifInput& in, std::uint8_t* buf, Check check) {
    qpack::Encoder encoder;
    encoder.set_peer_settings(kEncodeCapacity, kEncodeBlocked);
    std::size_t total = 0;
    std::uint8_t acks[32];
    for (std::size_t k = 0; k < in.fields.size(); ++k) {
        const std::uint64_t stream = 4 * k;
        const std::size_t unacked = encoder.unacknowledged_sections();
        const std::size_t n = encoder.encode(stream, in.fields[k], buf);
        const auto enc = encoder.encoder_stream_output();
        total += n + enc.size();
        check(k, enc, std::span<const std::uint8_t>(buf, n));
        encoder.consume_encoder_stream_output(enc.size());
        // What a decoder sends at once: Section Acknowledgment when the
        // section referenced the table, then Insert Count Increment for the
        // rest of the inserts.
        std::uint8_t* p = acks;
        if (encoder.unacknowledged_sections() > unacked) p = qpack::wire::encode_integer(p, stream, 7, 0x80);
        if (p != acks && encoder.read_decoder_stream({acks, static_cast<std::size_t>(p - acks)}) != qpack::Error::none)
            return SIZE_MAX;
        p = acks;
        if (encoder.insert_count() > encoder.known_received_count())
            p = qpack::wire::encode_integer(p, encoder.insert_count() - encoder.known_received_count(), 6, 0x00);
        if (p != acks && encoder.read_decoder_stream({acks, static_cast<std::size_t>(p - acks)}) != qpack::Error::none)
            return SIZE_MAX;
    }
    return total;
}

template <class Check>
std::size_t encode_nghttp3(const QifInput& in, Check check) {
    const nghttp3_mem* mem = nghttp3_mem_default();
    nghttp3_qpack_encoder* enc = nullptr;
    if (nghttp3_qpack_encoder_new(&enc, kEncodeCapacity, mem) != 0) return SIZE_MAX;
    nghttp3_qpack_encoder_set_max_dtable_capacity(enc, kEncodeCapacity);
    nghttp3_qpack_encoder_set_max_blocked_streams(enc, kEncodeBlocked);
    nghttp3_buf pbuf, rbuf, ebuf;
    nghttp3_buf_init(&pbuf);
    nghttp3_buf_init(&rbuf);
    nghttp3_buf_init(&ebuf);
    std::size_t total = 0;
    std::vector<std::uint8_t> section;
    for (std::size_t k = 0; k < in.nvs.size(); ++k) {
        if (nghttp3_qpack_encoder_encode(enc, &pbuf, &rbuf, &ebuf, static_cast<std::int64_t>(4 * k), in.nvs[k].data(),
                                         in.nvs[k].size()) != 0) {
            total = SIZE_MAX;
            break;
        }
        total += nghttp3_buf_len(&pbuf) + nghttp3_buf_len(&rbuf) + nghttp3_buf_len(&ebuf);
        if constexpr (!std::is_same_v<Check, NoCheck>) {
            section.assign(pbuf.pos, pbuf.last);
            section.insert(section.end(), rbuf.pos, rbuf.last);
            check(k, std::span<const std::uint8_t>(ebuf.pos, ebuf.last), std::span<const std::uint8_t>(section));
        }
        nghttp3_buf_reset(&pbuf);
        nghttp3_buf_reset(&rbuf);
        nghttp3_buf_reset(&ebuf);
        nghttp3_qpack_encoder_ack_everything(enc);
    }
    nghttp3_buf_free(&pbuf, mem);
    nghttp3_buf_free(&rbuf, mem);
    nghttp3_buf_free(&ebuf, mem);
    nghttp3_qpack_encoder_del(enc);
    return total;
}

// ---------------------------------------------------------------------------
// Loading and start-up checks.

struct Data {
    std::vector<EncodedFile> files;
    std::vector<QifInput> qifs;
};

const char* const kFiles[] = {
    "f5/fb-resp-hq.out.4096.100.0",       // blocked sections
    "proxygen/fb-req-hq.out.4096.100.1",  // blocked sections
    "nghttp3/netbsd-hq.out.4096.0.1",
    "ls-qpack/netbsd-hq.out.0.0.0",  // static table only
};
const char* const kQifs[] = {"fb-req-hq", "fb-resp-hq", "netbsd-hq"};

std::vector<qifs::HeaderList> load_qif(const std::string& name) {
    auto lists = qifs::read_qif(qifs_dir() + "/qifs/" + name + ".qif");
    if (!lists) die("cannot read qifs/" + name + ".qif");
    return std::move(*lists);
}

void load(Data& d) {
    for (const std::string name : kFiles) {
        EncodedFile f;
        f.name = name;
        const auto params = qifs::parse_file_name(name.substr(name.find('/') + 1));
        auto blocks = qifs::read_encoded(qifs_dir() + "/encoded/qpack-05/" + name);
        if (!params || !blocks) die("cannot read encoded/qpack-05/" + name);
        f.params = *params;
        f.blocks = std::move(*blocks);
        f.expected = load_qif(params->qif);
        for (const auto& l : f.expected) f.fields += l.size();
        d.files.push_back(std::move(f));
    }
    for (const std::string name : kQifs) {
        QifInput& q = d.qifs.emplace_back();
        q.name = name;
        q.lists = load_qif(name);
        for (const qifs::HeaderList& l : q.lists) {
            auto& fields = q.fields.emplace_back();
            auto& nva = q.nvs.emplace_back();
            for (const qifs::QifField& f : l) {
                fields.push_back(h2wire::Field{f.name, f.value});
                nghttp3_nv nv{};
                nv.name = reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.name.data()));
                nv.value = reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.value.data()));
                nv.namelen = f.name.size();
                nv.valuelen = f.value.size();
                nv.flags = NGHTTP3_NV_FLAG_NO_COPY_NAME | NGHTTP3_NV_FLAG_NO_COPY_VALUE;
                nva.push_back(nv);
            }
            q.field_count += fields.size();
            q.max_bound = std::max(q.max_bound, qpack::Encoder::max_encoded_size(fields));
        }
    }
}

void check_decoders(const Data& d) {
    for (const EncodedFile& f : d.files)
        for (const bool ng : {false, true}) {
            std::map<std::uint64_t, qifs::HeaderList> got;
            auto sink = [&](std::uint64_t s, std::string_view n, std::string_view v) {
                got[s].push_back({std::string(n), std::string(v)});
            };
            if ((ng ? decode_nghttp3(f, sink) : decode_h2wire(f, sink)) == SIZE_MAX)
                die(std::string(ng ? "nghttp3" : "h2wire") + " fails to decode " + f.name);
            std::vector<qifs::HeaderList> lists;
            for (auto& [s, l] : got) lists.push_back(std::move(l));
            if (lists != f.expected) die(std::string(ng ? "nghttp3" : "h2wire") + " decodes " + f.name + " wrongly");
        }
}

void check_encoders(const Data& d) {
    for (const QifInput& q : d.qifs)
        for (const bool ng : {false, true}) {
            qpack::DecoderLimits limits;
            limits.max_table_capacity = kEncodeCapacity;
            limits.max_blocked_streams = kEncodeBlocked;
            qpack::Decoder decoder(limits);
            bool ok = true;
            auto check = [&](std::size_t k, std::span<const std::uint8_t> enc, std::span<const std::uint8_t> section) {
                qifs::HeaderList got;
                qpack::Section s(4 * k);
                ok = ok && decoder.read_encoder_stream(enc) == qpack::Error::none;
                ok = ok && decoder.decode(s, section, true,
                                          [&](const h2wire::Field& f) {
                                              got.push_back({std::string(f.name), std::string(f.value)});
                                          })
                                   .status == qpack::Status::done;
                ok = ok && got == q.lists[k];
            };
            std::vector<std::uint8_t> buf(q.max_bound + 16);
            const std::size_t n = ng ? encode_nghttp3(q, check) : encode_h2wire(q, buf.data(), check);
            if (n == SIZE_MAX || !ok)
                die(std::string(ng ? "nghttp3" : "h2wire") + "'s encoding of " + q.name + " does not decode back");
        }
}

Data& data() {
    static Data d;
    return d;
}

// The timed work, named for callgrind's --toggle-collect.
[[gnu::noinline]] std::size_t qpack_decode_pass(const EncodedFile& f, bool nghttp3) {
    return nghttp3 ? decode_nghttp3(f, NoSink{}) : decode_h2wire(f, NoSink{});
}
[[gnu::noinline]] std::size_t qpack_encode_pass(const QifInput& q, std::uint8_t* buf, bool nghttp3) {
    return nghttp3 ? encode_nghttp3(q, NoCheck{}) : encode_h2wire(q, buf, NoCheck{});
}

void decode_bench(benchmark::State& state, const EncodedFile* f, bool nghttp3) {
    for (auto _ : state) {
        const std::size_t total = qpack_decode_pass(*f, nghttp3);
        if (total == SIZE_MAX) {
            state.SkipWithError("decoding failed");
            break;
        }
        benchmark::DoNotOptimize(total);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(f->fields));
}

void encode_bench(benchmark::State& state, const QifInput* q, bool nghttp3) {
    std::vector<std::uint8_t> buf(q->max_bound + 16);
    std::size_t bytes = 0;
    for (auto _ : state) {
        bytes = qpack_encode_pass(*q, buf.data(), nghttp3);
        if (bytes == SIZE_MAX) {
            state.SkipWithError("encoding failed");
            break;
        }
        benchmark::DoNotOptimize(bytes);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(q->field_count));
    state.counters["encoded_bytes"] = static_cast<double>(bytes);
}

benchmark::internal::Benchmark* fixed_iterations(benchmark::internal::Benchmark* b) {
    if (const char* n = std::getenv("H2WIRE_BENCH_ITERATIONS"); n != nullptr && std::atoi(n) > 0)
        b->Iterations(std::atoi(n));
    return b;
}

const int registered = [] {
    Data& d = data();
    load(d);
    check_decoders(d);
    check_encoders(d);
    for (const EncodedFile& f : d.files)
        for (const bool ng : {false, true})
            fixed_iterations(benchmark::RegisterBenchmark(
                ("qpack_decode/" + std::string(ng ? "nghttp3/" : "h2wire/") + f.name).c_str(),
                [&f, ng](benchmark::State& st) { decode_bench(st, &f, ng); }));
    for (const QifInput& q : d.qifs)
        for (const bool ng : {false, true})
            fixed_iterations(benchmark::RegisterBenchmark(
                ("qpack_encode/" + std::string(ng ? "nghttp3/" : "h2wire/") + q.name).c_str(),
                [&q, ng](benchmark::State& st) { encode_bench(st, &q, ng); }));
    return 0;
}();

}  // namespace
