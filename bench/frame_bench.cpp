// Frame reading throughput of h2wire against nghttp2, on two client->server
// byte streams built once at start-up:
//
//   data_heavy     32 uploads: HEADERS, seven 16 KiB DATA frames and a 5000
//                  octet DATA with END_STREAM each, plus PING and connection
//                  WINDOW_UPDATE now and then (~96% of octets are DATA payload)
//   control_heavy  2000 requests: HEADERS, PRIORITY, WINDOW_UPDATE and
//                  RST_STREAM each, a 200-octet DATA for every other one,
//                  PING every 10th, connection WINDOW_UPDATE every 50th
//
// Benchmarks (items/s = frames, bytes/s = octets of the stream):
//
//   frame_read/h2wire/<mix>          frame::Reader alone: every frame parsed
//                                    and validated, DATA chunks and frames
//                                    counted. One reader, reused (warm).
//   frame_read/h2wire_hpack/<mix>    the same plus hpack::Decoder on every
//                                    header block (fields counted), a fresh
//                                    decoder per pass.
//   frame_read/nghttp2_session/<mix> nghttp2 has no public frame parser, so
//                                    this is nghttp2_session_mem_recv on a
//                                    fresh server session per pass, with
//                                    minimal callbacks (count frames, DATA
//                                    octets and header fields). It does more
//                                    than a frame reader: stream states, HTTP
//                                    message checks, flow control with queued
//                                    WINDOW_UPDATEs, and HPACK. Compare it with
//                                    h2wire_hpack, and read the ratio as an
//                                    upper bound of the frame layer's share.
//
// At start-up all three must count the same frames, DATA octets and fields.
#include <benchmark/benchmark.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

#include "h2wire/frame.hpp"
#include "h2wire/hpack.hpp"

namespace {

namespace frame = h2wire::frame;
namespace hpack = h2wire::hpack;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "frame_bench: %s\n", what);
    std::exit(1);
}

struct Workload {
    std::vector<std::uint8_t> bytes;  // client preface included
    std::size_t frames = 0;           // frames after the preface
    std::size_t data_octets = 0;      // DATA payload, padding excluded
    std::size_t fields = 0;           // header fields in all blocks
};

class Builder {
public:
    explicit Builder(Workload& w) : w_(w) {
        const std::string_view preface = frame::client_preface;
        w_.bytes.assign(preface.begin(), preface.end());
    }
    template <class F>
    void add(const F& f) {
        if (!frame::append(w_.bytes, f)) die("a workload frame was refused by the writer");
        ++w_.frames;
    }
    void data(std::uint32_t stream, std::size_t n, bool end_stream) {
        body_.resize(std::max(body_.size(), n), 0x61);
        add(frame::Data{stream, end_stream, std::nullopt, std::span<const std::uint8_t>(body_.data(), n)});
        w_.data_octets += n;
    }
    void request(std::uint32_t stream, const char* method, bool end_stream) {
        const std::string path = "/resource/" + std::to_string(stream) + "?q=benchmark";
        const h2wire::Field fields[] = {
            {":method", method},
            {":scheme", "https"},
            {":authority", "www.example.com"},
            {":path", path},
            {"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
            {"accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
            {"accept-language", "en-US,en;q=0.5"},
            {"accept-encoding", "gzip, deflate, br"},
        };
        block_.clear();
        encoder_.encode(fields, block_);
        add(frame::Headers{stream, end_stream, true, std::nullopt, std::nullopt, block_});
        w_.fields += std::size(fields);
    }

private:
    Workload& w_;
    hpack::Encoder encoder_;
    std::vector<std::uint8_t> block_;
    std::vector<std::uint8_t> body_;
};

Workload make_data_heavy() {
    Workload w;
    Builder b(w);
    const h2wire::Setting settings[] = {{h2wire::SettingId::max_concurrent_streams, 100},
                                        {h2wire::SettingId::initial_window_size, 65535}};
    b.add(frame::Settings{false, settings});
    b.add(frame::Settings{true, {}});  // ACK of the server's SETTINGS (see Nghttp2::pass)
    for (std::uint32_t i = 0; i < 32; ++i) {
        const std::uint32_t stream = 2 * i + 1;
        b.request(stream, "POST", false);
        for (int k = 0; k < 7; ++k) b.data(stream, 16384, false);
        b.data(stream, 5000, true);
        if (i % 4 == 3) {
            b.add(frame::Ping{false, {1, 2, 3, 4, 5, 6, 7, 8}});
            b.add(frame::WindowUpdate{0, 1 << 20});
        }
    }
    return w;
}

Workload make_control_heavy() {
    Workload w;
    Builder b(w);
    const h2wire::Setting settings[] = {{h2wire::SettingId::max_concurrent_streams, 100},
                                        {h2wire::SettingId::initial_window_size, 65535}};
    b.add(frame::Settings{false, settings});
    b.add(frame::Settings{true, {}});  // ACK of the server's SETTINGS (see Nghttp2::pass)
    for (std::uint32_t i = 0; i < 2000; ++i) {
        const std::uint32_t stream = 2 * i + 1;
        const bool post = i % 2 == 1;
        b.request(stream, post ? "POST" : "GET", !post);
        b.add(frame::Priority{stream, {false, 0, 15}});
        if (post) b.data(stream, 200, true);
        b.add(frame::WindowUpdate{stream, 65535});
        if (i % 10 == 9) b.add(frame::Ping{false, {8, 7, 6, 5, 4, 3, 2, 1}});
        if (i % 50 == 49) b.add(frame::WindowUpdate{0, 1 << 16});
        b.add(frame::RstStream{stream, h2wire::ErrorCode::cancel});
    }
    return w;
}

const Workload& workload(int which) {
    static const Workload data_heavy = make_data_heavy();
    static const Workload control_heavy = make_control_heavy();
    return which == 0 ? data_heavy : control_heavy;
}

void ensure_checked();

struct Counts {
    std::size_t frames = 0;
    std::size_t data_octets = 0;
    std::size_t fields = 0;
};

// --- h2wire ------------------------------------------------------------------

Counts h2wire_pass(frame::Reader& reader, std::span<const std::uint8_t> in, hpack::Decoder* decoder) {
    Counts c;
    in = in.subspan(frame::client_preface.size());
    for (;;) {
        const frame::ReadResult r = reader.read(in);
        in = in.subspan(r.consumed);
        switch (r.status) {
            case frame::ReadStatus::need_input:
                return c;
            case frame::ReadStatus::data:
                c.data_octets += r.data.data.size();
                c.frames += r.data.last;
                break;
            case frame::ReadStatus::frame:
                ++c.frames;
                if (decoder) {
                    if (const auto* h = std::get_if<frame::Headers>(&r.frame)) {
                        const hpack::Error e =
                            decoder->decode(h->fragment, h->end_headers, [&](const h2wire::Field&) { ++c.fields; });
                        if (e != hpack::Error::none) die("HPACK error in the workload");
                    }
                }
                break;
            default:
                die("h2wire reader error in the workload");
        }
    }
}

void frame_read_h2wire(benchmark::State& state, int which, bool with_hpack) {
    ensure_checked();
    const Workload& w = workload(which);
    frame::Reader reader;
    Counts c;
    for (auto _ : state) {
        if (with_hpack) {
            hpack::Decoder decoder;
            c = h2wire_pass(reader, w.bytes, &decoder);
        } else {
            c = h2wire_pass(reader, w.bytes, nullptr);
        }
        benchmark::DoNotOptimize(c);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * w.frames));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.bytes.size()));
}

// --- nghttp2 -----------------------------------------------------------------

int on_frame_recv(nghttp2_session*, const nghttp2_frame*, void* user) {
    ++static_cast<Counts*>(user)->frames;
    return 0;
}
int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t, const std::uint8_t*, std::size_t len, void* user) {
    static_cast<Counts*>(user)->data_octets += len;
    return 0;
}
int on_header(nghttp2_session*, const nghttp2_frame*, const std::uint8_t*, std::size_t, const std::uint8_t*,
              std::size_t, std::uint8_t, void* user) {
    ++static_cast<Counts*>(user)->fields;
    return 0;
}

struct Nghttp2 {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_option* option = nullptr;
    Nghttp2() {
        if (nghttp2_session_callbacks_new(&callbacks) != 0 || nghttp2_option_new(&option) != 0)
            die("nghttp2 allocation failed");
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
        nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
        if (std::getenv("FRAME_BENCH_DEBUG"))
            nghttp2_session_callbacks_set_error_callback2(
                callbacks, [](nghttp2_session*, int code, const char* msg, std::size_t len, void*) {
                    std::fprintf(stderr, "nghttp2: %d %.*s\n", code, static_cast<int>(len), msg);
                    return 0;
                });
        // The h2wire side produces no output either: no PING ACKs queued.
        nghttp2_option_set_no_auto_ping_ack(option, 1);
    }
    ~Nghttp2() {
        nghttp2_session_callbacks_del(callbacks);
        nghttp2_option_del(option);
    }
    Counts pass(std::span<const std::uint8_t> in) const {
        Counts c;
        nghttp2_session* session = nullptr;
        if (nghttp2_session_server_new2(&session, callbacks, &c, option) != 0) die("nghttp2_session_server_new2");
        // Windows as large as they go, so the canned client never has to
        // wait for WINDOW_UPDATEs: the server's SETTINGS goes out here and
        // the workload's SETTINGS ACK applies it (RFC 9113 §6.9.2).
        const nghttp2_settings_entry big_window{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0x7fffffff};
        if (nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, &big_window, 1) != 0 ||
            nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, 0x7fffffff) != 0)
            die("nghttp2 settings");
        const std::uint8_t* out = nullptr;
        while (nghttp2_session_mem_send(session, &out) > 0) {
        }
        const auto rv = nghttp2_session_mem_recv(session, in.data(), in.size());
        if (rv < 0 || static_cast<std::size_t>(rv) != in.size() || !nghttp2_session_want_read(session))
            die("nghttp2 rejected the workload");
        nghttp2_session_del(session);
        return c;
    }
};

const Nghttp2& nghttp2() {
    static const Nghttp2 n;
    return n;
}

void frame_read_nghttp2(benchmark::State& state, int which) {
    ensure_checked();
    state.SetLabel("full server receive path");
    const Workload& w = workload(which);
    Counts c;
    for (auto _ : state) {
        c = nghttp2().pass(w.bytes);
        benchmark::DoNotOptimize(c);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * w.frames));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.bytes.size()));
}

// All three read the same thing before anything is timed.
bool check_workloads() {
    for (int which = 0; which < 2; ++which) {
        const Workload& w = workload(which);
        frame::Reader reader;
        hpack::Decoder decoder;
        const Counts a = h2wire_pass(reader, w.bytes, &decoder);
        const Counts b = nghttp2().pass(w.bytes);
        if (a.frames != w.frames || a.data_octets != w.data_octets || a.fields != w.fields)
            die("h2wire does not count the workload as built");
        if (b.frames != w.frames || b.data_octets != w.data_octets || b.fields != w.fields) {
            std::fprintf(
                stderr,
                "frame_bench: workload %d: built %zu frames, %zu DATA octets, %zu fields; nghttp2 %zu, %zu, %zu\n",
                which, w.frames, w.data_octets, w.fields, b.frames, b.data_octets, b.fields);
            die("nghttp2 does not count the workload as built");
        }
    }
    return true;
}
void ensure_checked() {
    static const bool checked = check_workloads();
    (void)checked;
}

void register_all() {
    const char* names[] = {"data_heavy", "control_heavy"};
    for (int which = 0; which < 2; ++which) {
        const std::string mix = names[which];
        benchmark::RegisterBenchmark(("frame_read/h2wire/" + mix).c_str(),
                                     [which](benchmark::State& s) { frame_read_h2wire(s, which, false); });
        benchmark::RegisterBenchmark(("frame_read/h2wire_hpack/" + mix).c_str(),
                                     [which](benchmark::State& s) { frame_read_h2wire(s, which, true); });
        benchmark::RegisterBenchmark(("frame_read/nghttp2_session/" + mix).c_str(),
                                     [which](benchmark::State& s) { frame_read_nghttp2(s, which); });
    }
}
const int registered = (register_all(), 0);

}  // namespace
