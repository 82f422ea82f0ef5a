// Connection benchmarks, h2wire against nghttp2 in the same binary and run.
// A client and a server connection of the same library are wired together in
// memory (no sockets): whatever one side has to send is handed to the other
// side's receive function, and back, until the exchange is over.
//
//   exchange_headers/<impl>/streams:100
//       One long-lived connection (set up before timing). Each iteration the
//       client submits 100 header-only GETs (10 fields, one an 85-octet
//       cookie; support/exchange_fields.hpp), the server answers each with 8
//       fields and END_STREAM, and the client sees all 100 responses end.
//       items/s = completed requests/s.
//   exchange_headers_queued/<impl>/streams:1000/concurrent:100
//       The same with 1,000 requests submitted at once while the server
//       allows 100 streams at a time: 900 wait in the client's queue and go
//       out as streams end. Per request it should cost what exchange_headers
//       does.
//   exchange_data/<impl>/streams:S/body:B
//       The same with a body of B octets in every response (S streams at
//       once). bytes/s = body octets delivered to the client. Zero-copy paths:
//         h2wire   send_data_borrowed() and pending_output_vectors(); each
//                  piece is handed to the client's receive() as is (a real
//                  transport would writev() them).
//         nghttp2  a data provider whose read callback sets
//                  NGHTTP2_DATA_FLAG_NO_COPY, and a send_data_callback that
//                  hands the 9-octet frame header and then the payload, from
//                  the application's buffer, to the client's mem_recv.
//   exchange_data_copy/<impl>/streams:S/body:B
//       The copying paths, both pulled by the library while it builds
//       output, each octet copied once, by the application's callback, into
//       the frame being built (the common case: a body that is not in memory
//       the application can lend for the whole write):
//         h2wire   an h2wire::BodyReader per response (submit_response with
//                  the source) whose read() memcpy's from the body buffer,
//                  and pending_output() (one contiguous buffer) handed to
//                  the client's receive();
//         nghttp2  an nghttp2_data_provider whose read_callback memcpy's
//                  into nghttp2's frame buffer (no NGHTTP2_DATA_FLAG_NO_COPY),
//                  and the send_callback that hands each chunk to the
//                  client's mem_recv.
//       Both are asked for at most one frame (16 KiB here) per call.
//   exchange_data_copy/memcpy/streams:S/body:B
//       The floor under both: the same memcpy's (16 KiB pieces of the body
//       buffer, per stream, into a frame-sized buffer) with no library.
//   exchange_data_push/h2wire/streams:S/body:B
//       h2wire only (nghttp2 has no push-style body): send_data_partial()
//       copies the body into the stream's send buffer (256 KiB at most),
//       topped up as it drains, and pending_output() copies it again into the
//       output: two copies per octet.
//   exchange_data_lend/h2wire/streams:S/body:B
//       h2wire only: the zero-copy pull form, an h2wire::BodyLender per
//       response lending the body buffer as the windows allow, with
//       pending_output_vectors() (compare with exchange_data/h2wire).
//   memory/<impl>/idle_streams:N
//       No timing. Octets the library asked its allocator for and still holds
//       (client and server separately; allocator overhead not counted):
//         *_conn_bytes          after the handshake
//         *_bytes_per_stream    per idle open stream: after one request went
//                               through (HPACK tables hold the fields), N
//                               requests sent without END_STREAM and seen by
//                               the server; live delta / N
//         *_bytes_per_stream_quiet  the same once the connection went on
//                               (2,000 PING round trips, streams still open)
//         *_conn_bytes_warm     idle again after 100 header-only requests
//         *_conn_bytes_quiet    and then after 2,000 PING round trips (the
//                               burst is over, the connection goes on)
//         *_conn_bytes_data     and then after 100 x 1 MiB zero-copy bodies
//       (pools of recycled objects and buffers kept for reuse count as live)
//       and the same after Connection::trim(), which an application calls
//       when a connection goes quiet (nghttp2 has no such call; it frees as
//       streams end, so its figures are the same with and without):
//         *_bytes_per_stream_trimmed  per idle open stream once its events
//                               were handled (trim() ends their lifetime, as
//                               the next receive() would)
//         *_conn_bytes_trimmed  the warm connection after the data round
//       The per-stream baseline is taken after a trim() too.
//
// Both libraries: 16 MiB stream and connection receive windows, 16 KiB frames,
// 4 KiB HPACK tables, MAX_CONCURRENT_STREAMS 100 (1000 for the memory cases),
// message validation on, automatic WINDOW_UPDATEs. nghttp2 gets its header
// fields with NGHTTP2_NV_FLAG_NO_COPY_NAME|NO_COPY_VALUE (its fastest submit
// path), sends with nghttp2_session_send() and a send_callback that hands
// each chunk straight to the peer's nghttp2_session_mem_recv(), and receives
// header fields through on_header_callback (counted, as h2wire's are).
//
// Counters on the exchange cases come from separate, untimed runs before the
// timing, which first verify the exchange (every response, field count, and
// the body byte for byte) and abort the program if anything is off:
//   allocs_per_request     allocations by client and server together per
//                          completed request once warm (h2wire: through
//                          Config::memory; nghttp2: through nghttp2_mem)
//   untracked_new_per_request  calls of the global operator new per request
//                          in the same window (allocations that bypass the
//                          configured allocator; should be 0)
// The timed runs themselves use the default allocators. Rates are per CPU
// second (Google Benchmark's default), which is what to compare on a loaded
// machine; compare the two libraries' rates as a ratio.
//
// The binary replaces the global operator new/delete (malloc/free plus a
// call counter) to see allocations that bypass Config::memory.
#include <benchmark/benchmark.h>
#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory_resource>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "h2wire/connection.hpp"
#include "h2wire/events.hpp"
#include "support/alloc_count.hpp"
#include "support/exchange_fields.hpp"

// ---------------------------------------------------------------------------
// Calls of the global operator new, to catch allocations that bypass the
// allocator a library was given. A relaxed load and store (not an atomic
// increment): the benchmarks are single-threaded and the cost must stay near
// zero for everything else in this binary.

namespace {
std::atomic<std::uint64_t> global_new_calls{0};
void note_global_new() noexcept {
    global_new_calls.store(global_new_calls.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
}  // namespace

void* operator new(std::size_t n) {
    note_global_new();
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t al) {
    note_global_new();
    const auto a = static_cast<std::size_t>(al);
    if (void* p = std::aligned_alloc(a, (std::max<std::size_t>(n, 1) + a - 1) / a * a)) return p;
    throw std::bad_alloc();
}
// Out of line, so that GCC does not see free() meet operator new after
// inlining (-Wmismatched-new-delete).
namespace {
[[gnu::noinline]] void release(void* p) noexcept { std::free(p); }
}  // namespace
void operator delete(void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }

namespace {

using bench_support::AllocStats;
using bench_support::CountingNghttp2Mem;
using bench_support::CountingResource;
using bench_support::request_field_count;
using bench_support::request_fields;
using bench_support::response_field_count;
using bench_support::response_fields;

/// Memory for the harness's own containers: malloc, not the global operator
/// new, so the untracked-allocation counts see only the libraries.
std::pmr::memory_resource* harness_memory() {
    static AllocStats stats;
    static CountingResource resource(stats);
    return &resource;
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "connection_bench: %s\n", what.c_str());
    std::exit(1);
}

// ---------------------------------------------------------------------------
// The workload

constexpr std::uint32_t window_size = 16u << 20;
constexpr std::uint32_t exchange_max_streams = 100;
constexpr std::uint32_t memory_max_streams = 1000;

enum class Body : std::uint8_t { none, zero_copy, copy, push, lend };

struct Shape {
    std::uint32_t streams = 0;
    std::size_t body = 0;  // octets per response
    Body mode = Body::none;
    /// SETTINGS_MAX_CONCURRENT_STREAMS of both sides: requests past it wait
    /// in the client's queue (exchange_headers_queued).
    std::uint32_t concurrent = exchange_max_streams;
};

/// Header fields (as strings that live for the whole run) in both libraries'
/// forms.
struct Workload {
    std::vector<std::string> paths;  // one per request slot
    std::vector<std::array<h2wire::Field, request_field_count>> requests;
    std::vector<std::array<nghttp2_nv, request_field_count>> ng_requests;
    std::array<h2wire::Field, response_field_count> response_empty{};
    std::array<nghttp2_nv, response_field_count> ng_response_empty{};
    std::map<std::size_t, std::string> lengths;  // content-length values by body size
    std::map<std::size_t, std::array<h2wire::Field, response_field_count>> response_body;
    std::map<std::size_t, std::array<nghttp2_nv, response_field_count>> ng_response_body;
    std::vector<std::uint8_t> body;  // the application's body buffer (largest body)
};

nghttp2_nv to_nv(const h2wire::Field& f) {
    // The views stay alive for the whole run, so nghttp2 need not copy them.
    return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.name.data())),
                      reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(),
                      f.value.size(), NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

template <std::size_t N>
std::array<nghttp2_nv, N> to_nvs(const std::array<h2wire::Field, N>& fields) {
    std::array<nghttp2_nv, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = to_nv(fields[i]);
    return out;
}

Workload& workload() {
    static Workload w = [] {
        Workload x;
        const std::uint32_t slots = memory_max_streams;
        x.paths.reserve(slots);
        for (std::uint32_t i = 0; i < slots; ++i)
            x.paths.push_back("/assets/js/app-" + std::to_string(i) + ".js?v=20240701");
        for (std::uint32_t i = 0; i < slots; ++i) {
            const std::array<h2wire::Field, request_field_count> f = request_fields(x.paths[i]);
            x.requests.push_back(f);
            x.ng_requests.push_back(to_nvs(f));
        }
        x.response_empty = response_fields("application/javascript", "0");
        x.ng_response_empty = to_nvs(x.response_empty);
        for (const std::size_t size : {std::size_t{1} << 20, std::size_t{64} << 20}) {
            x.lengths[size] = std::to_string(size);
            x.response_body[size] = response_fields("application/octet-stream", x.lengths[size]);
            x.ng_response_body[size] = to_nvs(x.response_body[size]);
        }
        x.body.resize(std::size_t{64} << 20);
        std::uint32_t v = 0x12345678;  // any pattern that catches misplaced octets
        for (std::uint8_t& b : x.body) {
            v = v * 1664525u + 1013904223u;
            b = static_cast<std::uint8_t>(v >> 24);
        }
        return x;
    }();
    return w;
}

/// Copies whose destination lies less than 64 octets past their source,
/// modulo 4096, run several times slower on x86 (4K aliasing; `rep movsb`
/// takes its slow path), so where a library puts the payload it lets the
/// application copy into matters as much as anything it does itself. The
/// copying benchmarks count such copies (copies_aliased, per cent of the
/// read callback calls): it should be 0 for both libraries, else that
/// library's figure says more about its buffer's address than about its
/// code.
struct CopyDistance {
    std::uint64_t calls = 0;
    std::uint64_t aliased = 0;
};
CopyDistance copy_distance;
inline void note_copy_distance(const std::uint8_t* dst, const std::uint8_t* src) {
    ++copy_distance.calls;
    if (((reinterpret_cast<std::uintptr_t>(dst) - reinterpret_cast<std::uintptr_t>(src)) & 4095) < 64)
        ++copy_distance.aliased;
}

/// What the client saw in one exchange.
struct Tally {
    std::uint64_t responses = 0;
    std::uint64_t ended = 0;
    std::uint64_t body_bytes = 0;
    std::uint64_t client_fields = 0;  // response fields
    std::uint64_t requests = 0;       // seen by the server
    std::uint64_t server_fields = 0;  // request fields
};

void check_tally(const char* impl, const Shape& shape, const Tally& t) {
    const std::uint64_t n = shape.streams;
    if (t.requests != n || t.responses != n || t.ended != n || t.body_bytes != n * shape.body ||
        t.client_fields != n * response_field_count || t.server_fields != n * request_field_count) {
        char buf[512];
        std::snprintf(buf, sizeof buf,
                      "%s: wrong exchange (%u streams, body %zu): server saw %llu requests with %llu fields; "
                      "client saw %llu responses with %llu fields, %llu ended, %llu body octets",
                      impl, shape.streams, shape.body, static_cast<unsigned long long>(t.requests),
                      static_cast<unsigned long long>(t.server_fields), static_cast<unsigned long long>(t.responses),
                      static_cast<unsigned long long>(t.client_fields), static_cast<unsigned long long>(t.ended),
                      static_cast<unsigned long long>(t.body_bytes));
        die(buf);
    }
}

/// Body checking for the verification run: every stream's octets must be the
/// body buffer's, in order.
class BodyCheck {
public:
    void on_chunk(std::uint32_t stream, const std::uint8_t* data, std::size_t n, const char* impl) {
        const std::vector<std::uint8_t>& body = workload().body;
        std::size_t& offset = offsets_[stream];
        if (offset + n > body.size() || std::memcmp(body.data() + offset, data, n) != 0)
            die(std::string(impl) + ": body octets differ from what the server sent on stream " +
                std::to_string(stream) + " at offset " + std::to_string(offset));
        offset += n;
    }
    void clear() { offsets_.clear(); }

private:
    std::unordered_map<std::uint32_t, std::size_t> offsets_;
};

// ---------------------------------------------------------------------------
// nghttp2

class Nghttp2Pair {
public:
    /// `client_mem` / `server_mem` may be null (nghttp2's default allocator).
    Nghttp2Pair(nghttp2_mem* client_mem, nghttp2_mem* server_mem, std::uint32_t max_streams)
        : requests_(harness_memory()), sources_(harness_memory()) {
        nghttp2_session_callbacks* cb = nullptr;
        if (nghttp2_session_callbacks_new(&cb) != 0) die("nghttp2: callbacks");
        nghttp2_session_callbacks_set_send_callback(cb, &Nghttp2Pair::on_send);
        nghttp2_session_callbacks_set_send_data_callback(cb, &Nghttp2Pair::on_send_data);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Nghttp2Pair::on_frame_recv);
        nghttp2_session_callbacks_set_on_header_callback(cb, &Nghttp2Pair::on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Nghttp2Pair::on_data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Nghttp2Pair::on_stream_close);
        const int rc = nghttp2_session_client_new3(&client_, cb, this, nullptr, client_mem);
        const int rs = nghttp2_session_server_new3(&server_, cb, this, nullptr, server_mem);
        nghttp2_session_callbacks_del(cb);  // the sessions keep copies
        if (rc != 0 || rs != 0) die("nghttp2: session_new3");
        requests_.reserve(max_streams);
        sources_.resize(max_streams);

        const nghttp2_settings_entry client_iv[] = {
            {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams},
            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window_size},
        };
        const nghttp2_settings_entry server_iv[] = {
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams},
            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window_size},
        };
        if (nghttp2_submit_settings(client_, NGHTTP2_FLAG_NONE, client_iv, std::size(client_iv)) != 0 ||
            nghttp2_submit_settings(server_, NGHTTP2_FLAG_NONE, server_iv, std::size(server_iv)) != 0 ||
            nghttp2_session_set_local_window_size(client_, NGHTTP2_FLAG_NONE, 0, window_size) != 0 ||
            nghttp2_session_set_local_window_size(server_, NGHTTP2_FLAG_NONE, 0, window_size) != 0)
            die("nghttp2: settings");
    }
    ~Nghttp2Pair() {
        nghttp2_session_del(client_);
        nghttp2_session_del(server_);
    }
    Nghttp2Pair(const Nghttp2Pair&) = delete;
    Nghttp2Pair& operator=(const Nghttp2Pair&) = delete;

    void handshake() {
        for (int round = 0; round < 10; ++round)
            if (pump() == 0) return;
        die("nghttp2: handshake does not settle");
    }

    /// One iteration: `shape.streams` requests, all answered and seen.
    const Tally& exchange(const Shape& shape) {
        const Workload& w = workload();
        tally_ = {};
        shape_ = shape;
        next_source_ = 0;
        for (std::uint32_t i = 0; i < shape.streams; ++i) {
            const auto& nv = w.ng_requests[i];
            if (nghttp2_submit_request(client_, nullptr, nv.data(), nv.size(), nullptr, nullptr) < 0)
                die("nghttp2: submit_request");
        }
        for (;;) {
            const std::size_t moved = pump();
            if (tally_.ended == shape.streams) break;
            if (moved == 0) die("nghttp2: the exchange stalled");
        }
        return tally_;
    }

    /// Opens `n` requests without END_STREAM; returns once the server has
    /// seen them all (it does not answer).
    /// nghttp2 has no such call: it frees memory as streams end.
    void trim() {}
    /// `n` PING round trips: a connection going on quietly.
    void quiet(std::uint32_t n) {
        for (std::uint32_t i = 0; i < n; ++i) {
            if (nghttp2_submit_ping(client_, NGHTTP2_FLAG_NONE, nullptr) != 0) die("nghttp2: submit_ping");
            while (pump() != 0) {
            }
        }
    }

    void open_idle(std::uint32_t n) {
        const Workload& w = workload();
        tally_ = {};
        shape_ = Shape{};
        respond_ = false;
        for (std::uint32_t i = 0; i < n; ++i) {
            const auto& nv = w.ng_requests[i];
            if (nghttp2_submit_headers(client_, NGHTTP2_FLAG_NONE, -1, nullptr, nv.data(), nv.size(), nullptr) < 0)
                die("nghttp2: submit_headers");
        }
        while (pump() != 0) {
        }
        respond_ = true;
        if (tally_.requests != n) die("nghttp2: the server did not see every idle stream");
    }

    void set_body_check(BodyCheck* check) { check_ = check; }

private:
    struct Source {
        const std::uint8_t* data = nullptr;
        std::size_t size = 0;
        std::size_t read = 0;  // handed to nghttp2 by the read callback
        std::size_t sent = 0;  // written by the send_data callback
    };

    /// Client output to the server, the server's answers, server output to
    /// the client. Returns the octets moved.
    std::size_t pump() {
        moved_ = 0;
        if (nghttp2_session_send(client_) != 0) die("nghttp2: client session_send");
        respond();
        if (nghttp2_session_send(server_) != 0) die("nghttp2: server session_send");
        return moved_;
    }

    void respond() {
        if (!respond_) return;
        const Workload& w = workload();
        for (const std::int32_t id : requests_) {
            int rv = 0;
            if (shape_.mode == Body::none) {
                rv = nghttp2_submit_response(server_, id, w.ng_response_empty.data(), response_field_count, nullptr);
            } else {
                Source& s = sources_[next_source_++];
                s = Source{w.body.data(), shape_.body, 0, 0};
                nghttp2_data_provider prd{};
                prd.source.ptr = &s;
                prd.read_callback = shape_.mode == Body::zero_copy ? &Nghttp2Pair::read_no_copy : &Nghttp2Pair::read_copy;
                rv = nghttp2_submit_response(server_, id, w.ng_response_body.at(shape_.body).data(),
                                             response_field_count, &prd);
            }
            if (rv != 0) die("nghttp2: submit_response");
        }
        requests_.clear();
    }

    void deliver(nghttp2_session* from, const std::uint8_t* data, std::size_t n) {
        nghttp2_session* to = from == client_ ? server_ : client_;
        const auto rv = nghttp2_session_mem_recv(to, data, n);
        if (rv < 0 || static_cast<std::size_t>(rv) != n)
            die(std::string("nghttp2: mem_recv: ") + nghttp2_strerror(static_cast<int>(rv)));
        moved_ += n;
    }

    static Nghttp2Pair& self(void* user) { return *static_cast<Nghttp2Pair*>(user); }

    static ssize_t on_send(nghttp2_session* session, const std::uint8_t* data, std::size_t n, int,
                                          void* user) {
        self(user).deliver(session, data, n);
        return static_cast<ssize_t>(n);
    }
    static int on_send_data(nghttp2_session* session, nghttp2_frame* frame, const std::uint8_t* framehd,
                            std::size_t length, nghttp2_data_source* source, void* user) {
        if (frame->data.padlen != 0) die("nghttp2: unexpected padding");
        Source& s = *static_cast<Source*>(source->ptr);
        Nghttp2Pair& p = self(user);
        p.deliver(session, framehd, 9);
        p.deliver(session, s.data + s.sent, length);
        s.sent += length;
        return 0;
    }
    static ssize_t read_copy(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                                            std::uint32_t* flags, nghttp2_data_source* source, void*) {
        Source& s = *static_cast<Source*>(source->ptr);
        const std::size_t n = std::min(length, s.size - s.read);
        note_copy_distance(buf, s.data + s.read);
        std::memcpy(buf, s.data + s.read, n);
        s.read += n;
        if (s.read == s.size) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }
    static ssize_t read_no_copy(nghttp2_session*, std::int32_t, std::uint8_t*, std::size_t length,
                                               std::uint32_t* flags, nghttp2_data_source* source, void*) {
        Source& s = *static_cast<Source*>(source->ptr);
        const std::size_t n = std::min(length, s.size - s.read);
        s.read += n;
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        if (s.read == s.size) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }
    static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
        Nghttp2Pair& p = self(user);
        const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        if (session == p.client_) {
            if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) ++p.tally_.responses;
            if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end_stream) ++p.tally_.ended;
        } else if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            ++p.tally_.requests;
            if (p.requests_.size() == p.requests_.capacity()) die("nghttp2: more requests than streams");
            p.requests_.push_back(frame->hd.stream_id);
        }
        if (frame->hd.type == NGHTTP2_GOAWAY || frame->hd.type == NGHTTP2_RST_STREAM)
            die("nghttp2: GOAWAY or RST_STREAM received");
        return 0;
    }
    static int on_header(nghttp2_session* session, const nghttp2_frame*, const std::uint8_t* name, std::size_t namelen,
                         const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* user) {
        Nghttp2Pair& p = self(user);
        if (session == p.client_) {
            ++p.tally_.client_fields;
            if (namelen == 7 && std::memcmp(name, ":status", 7) == 0 &&
                (valuelen != 3 || std::memcmp(value, "200", 3) != 0))
                die("nghttp2: response status is not 200");
        } else {
            ++p.tally_.server_fields;
        }
        return 0;
    }
    static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream, const std::uint8_t* data,
                             std::size_t n, void* user) {
        Nghttp2Pair& p = self(user);
        if (session != p.client_) die("nghttp2: the server got DATA");
        p.tally_.body_bytes += n;
        if (p.check_ != nullptr) p.check_->on_chunk(static_cast<std::uint32_t>(stream), data, n, "nghttp2");
        return 0;
    }
    static int on_stream_close(nghttp2_session*, std::int32_t stream, std::uint32_t code, void*) {
        if (code != NGHTTP2_NO_ERROR)
            die("nghttp2: stream " + std::to_string(stream) + " closed with error " + std::to_string(code));
        return 0;
    }

    nghttp2_session* client_ = nullptr;
    nghttp2_session* server_ = nullptr;
    Shape shape_{};
    Tally tally_{};
    std::size_t moved_ = 0;
    bool respond_ = true;
    std::pmr::vector<std::int32_t> requests_;  // received, not yet answered
    std::pmr::vector<Source> sources_;         // one per response of the current exchange
    std::size_t next_source_ = 0;
    BodyCheck* check_ = nullptr;
};


// ---------------------------------------------------------------------------
// h2wire

h2wire::Config h2wire_config(h2wire::Role role, std::pmr::memory_resource* memory, std::uint32_t max_streams) {
    h2wire::Config c;
    c.role = role;
    c.settings.initial_window_size = window_size;
    c.settings.max_frame_size = 16384;
    c.settings.header_table_size = 4096;
    c.connection_window_size = window_size;
    c.encoder_table_size = 4096;
    c.limits.max_concurrent_streams = max_streams;
    c.memory = memory;
    return c;
}

class H2wirePair {
public:
    H2wirePair(std::pmr::memory_resource* client_memory, std::pmr::memory_resource* server_memory,
               std::uint32_t max_streams)
        : client_(h2wire_config(h2wire::Role::client, client_memory, max_streams)),
          server_(h2wire_config(h2wire::Role::server, server_memory, max_streams)),
          requests_(harness_memory()),
          feeds_(harness_memory()),
          copy_sources_(harness_memory()),
          lend_sources_(harness_memory()) {
        requests_.reserve(max_streams);
        feeds_.reserve(max_streams);
        copy_sources_.resize(max_streams);
        lend_sources_.resize(max_streams);
    }

    void handshake() {
        for (int round = 0; round < 10; ++round) {
            if (pump() == 0) {
                if (client_.settings_ack_pending() || server_.settings_ack_pending())
                    die("h2wire: handshake settled with a SETTINGS ACK outstanding");
                return;
            }
        }
        die("h2wire: handshake does not settle");
    }

    const Tally& exchange(const Shape& shape) {
        const Workload& w = workload();
        tally_ = {};
        shape_ = shape;
        next_source_ = 0;
        feeds_.clear();
        feeding_ = 0;
        for (std::uint32_t i = 0; i < shape.streams; ++i) {
            const h2wire::Submitted s = client_.submit_request(w.requests[i], true);
            if (!s) die(std::string("h2wire: submit_request: ") + std::string(h2wire::to_string(s.error)));
        }
        for (;;) {
            const std::size_t moved = pump();
            if (tally_.ended == shape.streams) break;
            if (moved == 0) die("h2wire: the exchange stalled");
        }
        return tally_;
    }

    /// Connection::trim() on both sides: memory kept for reuse goes back.
    void trim() {
        client_.trim();
        server_.trim();
    }
    /// `n` PING round trips: a connection going on quietly.
    void quiet(std::uint32_t n) {
        for (std::uint32_t i = 0; i < n; ++i) {
            const std::array<std::uint8_t, 8> data{static_cast<std::uint8_t>(i)};
            if (client_.ping(data) != h2wire::ApiError::none) die("h2wire: ping");
            while (pump() != 0) {
            }
        }
    }

    void open_idle(std::uint32_t n) {
        const Workload& w = workload();
        tally_ = {};
        shape_ = Shape{};
        respond_ = false;
        for (std::uint32_t i = 0; i < n; ++i) {
            const h2wire::Submitted s = client_.submit_request(w.requests[i], false);
            if (!s) die(std::string("h2wire: submit_request: ") + std::string(h2wire::to_string(s.error)));
        }
        while (pump() != 0) {
        }
        respond_ = true;
        if (tally_.requests != n) die("h2wire: the server did not see every idle stream");
    }

    void set_body_check(BodyCheck* check) { check_ = check; }

private:
    struct Feed {  // push mode: a body being fed to send_data_partial()
        std::uint32_t stream;
        std::size_t offset;
    };
    /// Copy mode: the body copied into the frame being built.
    struct CopySource final : h2wire::BodyReader {
        const std::uint8_t* data = nullptr;
        std::size_t size = 0;
        std::size_t read_so_far = 0;
        h2wire::BodyRead read(std::uint32_t, std::span<std::uint8_t> buffer) override {
            const std::size_t n = std::min(buffer.size(), size - read_so_far);
            note_copy_distance(buffer.data(), data + read_so_far);
            std::memcpy(buffer.data(), data + read_so_far, n);
            read_so_far += n;
            return {n, read_so_far == size ? h2wire::BodyStatus::end : h2wire::BodyStatus::more, {}};
        }
    };
    /// Lend mode: the body buffer lent as the windows allow.
    struct LendSource final : h2wire::BodyLender {
        const std::uint8_t* data = nullptr;
        std::size_t size = 0;
        std::size_t lent = 0;
        h2wire::BodyLend lend(std::uint32_t, std::size_t max) override {
            const std::size_t n = std::min(max, size - lent);
            const std::span<const std::uint8_t> piece(data + lent, n);
            lent += n;
            return {piece, lent == size ? h2wire::BodyStatus::end : h2wire::BodyStatus::more, {}};
        }
        void release(std::uint32_t, std::span<const std::uint8_t>) override {}
    };

    std::size_t pump() {
        std::size_t moved = 0;
        // Client to server.
        const std::span<const std::uint8_t> up = client_.pending_output();
        if (!up.empty()) {
            for (const h2wire::Event& ev : server_.receive(up)) on_server_event(ev);
            client_.consume_output(up.size());
            moved += up.size();
        }
        respond();
        // Server to client.
        if (shape_.mode == Body::zero_copy || shape_.mode == Body::lend) {
            const std::span<const h2wire::OutputChunk> chunks = server_.pending_output_vectors();
            std::size_t total = 0;
            for (const h2wire::OutputChunk& c : chunks) {
                for (const h2wire::Event& ev : client_.receive({c.data, c.size})) on_client_event(ev);
                total += c.size;
            }
            if (total != 0) server_.consume_output(total);
            moved += total;
        } else {
            const std::span<const std::uint8_t> down = server_.pending_output();
            if (!down.empty()) {
                for (const h2wire::Event& ev : client_.receive(down)) on_client_event(ev);
                server_.consume_output(down.size());
                moved += down.size();
            }
        }
        // Push mode: the StreamWritable events that building output caused
        // (events of API calls come with the next receive(), which may have
        // no bytes).
        if (feeding_ > 0)
            for (const h2wire::Event& ev : server_.receive({})) on_server_event(ev);
        return moved;
    }

    void respond() {
        const Workload& w = workload();
        if (respond_) {
            for (const std::uint32_t id : requests_) {
                h2wire::ApiError e = h2wire::ApiError::none;
                if (shape_.mode == Body::none) {
                    e = server_.submit_response(id, w.response_empty, true);
                } else {
                    const auto& fields = w.response_body.at(shape_.body);
                    if (shape_.mode == Body::copy) {
                        CopySource& c = copy_sources_[next_source_++];
                        c = CopySource{};
                        c.data = w.body.data();
                        c.size = shape_.body;
                        e = server_.submit_response(id, fields, c);
                    } else if (shape_.mode == Body::lend) {
                        LendSource& l = lend_sources_[next_source_++];
                        l = LendSource{};
                        l.data = w.body.data();
                        l.size = shape_.body;
                        e = server_.submit_response(id, fields, l);
                    } else {
                        e = server_.submit_response(id, fields, false);
                        if (e == h2wire::ApiError::none) {
                            if (shape_.mode == Body::zero_copy) {
                                e = server_.send_data_borrowed(id, {w.body.data(), shape_.body}, true);
                            } else {
                                feeds_.push_back(Feed{id, 0});
                                ++feeding_;
                                feed(feeds_.back());
                                if (feeds_.back().offset == shape_.body) --feeding_;
                            }
                        }
                    }
                }
                if (e != h2wire::ApiError::none)
                    die(std::string("h2wire: answering a request: ") + std::string(h2wire::to_string(e)));
            }
            requests_.clear();
        }
    }

    /// Push mode: as much of the rest of the body as the stream takes now;
    /// a StreamWritable says when to come back.
    void feed(Feed& f) {
        const Workload& w = workload();
        const h2wire::DataAccepted a =
            server_.send_data_partial(f.stream, {w.body.data() + f.offset, shape_.body - f.offset}, true);
        if (!a) die(std::string("h2wire: send_data_partial: ") + std::string(h2wire::to_string(a.error)));
        f.offset += a.accepted;
    }

    void on_server_event(const h2wire::Event& ev) {
        if (const auto* r = std::get_if<h2wire::RequestReceived>(&ev)) {
            ++tally_.requests;
            tally_.server_fields += r->headers.size();
            if (requests_.size() == requests_.capacity()) die("h2wire: more requests than streams");
            requests_.push_back(r->stream);
        } else if (const auto* wr = std::get_if<h2wire::StreamWritable>(&ev)) {
            // The feeds are in stream order, one per odd id from the first.
            if (!feeds_.empty() && wr->stream >= feeds_[0].stream) {
                const std::size_t i = (wr->stream - feeds_[0].stream) / 2;
                if (i < feeds_.size() && feeds_[i].stream == wr->stream && feeds_[i].offset < shape_.body) {
                    feed(feeds_[i]);
                    if (feeds_[i].offset == shape_.body) --feeding_;
                }
            }
        } else if (const auto* c = std::get_if<h2wire::StreamClosed>(&ev)) {
            // As nghttp2's on_stream_close_callback here: every stream ends cleanly.
            if (c->code != h2wire::ErrorCode::no_error) on_trouble(ev, "server");
        } else {
            on_trouble(ev, "server");
        }
    }

    void on_client_event(const h2wire::Event& ev) {
        if (const auto* d = std::get_if<h2wire::DataReceived>(&ev)) {
            tally_.body_bytes += d->data.size();
            if (check_ != nullptr) check_->on_chunk(d->stream, d->data.data(), d->data.size(), "h2wire");
        } else if (const auto* r = std::get_if<h2wire::ResponseReceived>(&ev)) {
            ++tally_.responses;
            tally_.client_fields += r->headers.size();
            if (r->status != 200) die("h2wire: response status is not 200");
        } else if (std::holds_alternative<h2wire::StreamEnded>(ev)) {
            ++tally_.ended;
        } else if (const auto* c = std::get_if<h2wire::StreamClosed>(&ev)) {
            // As nghttp2's on_stream_close_callback here: every stream ends cleanly.
            if (c->code != h2wire::ErrorCode::no_error) on_trouble(ev, "client");
        } else {
            on_trouble(ev, "client");
        }
    }

    static void on_trouble(const h2wire::Event& ev, const char* side) {
        if (const auto* c = std::get_if<h2wire::StreamClosed>(&ev))
            die(std::string("h2wire ") + side + ": stream " + std::to_string(c->stream) + " closed with error " +
                std::to_string(static_cast<unsigned>(c->code)));
        if (const auto* r = std::get_if<h2wire::StreamReset>(&ev))
            die(std::string("h2wire ") + side + ": stream " + std::to_string(r->stream) + " reset (code " +
                std::to_string(static_cast<unsigned>(r->code)) + "): " + std::string(r->reason));
        if (const auto* t = std::get_if<h2wire::ConnectionTerminated>(&ev))
            die(std::string("h2wire ") + side + ": connection terminated (code " +
                std::to_string(static_cast<unsigned>(t->code)) + "): " + std::string(t->reason));
        if (std::holds_alternative<h2wire::GoawayReceived>(ev)) die(std::string("h2wire ") + side + ": GOAWAY");
    }

    h2wire::Connection client_;
    h2wire::Connection server_;
    Shape shape_{};
    Tally tally_{};
    bool respond_ = true;
    std::pmr::vector<std::uint32_t> requests_;
    std::pmr::vector<Feed> feeds_;  // push mode: the bodies of this exchange, in stream order
    std::size_t feeding_ = 0;       // of those, not yet given whole
    std::pmr::vector<CopySource> copy_sources_;  // one per response of the current exchange
    std::pmr::vector<LendSource> lend_sources_;
    std::size_t next_source_ = 0;
    BodyCheck* check_ = nullptr;
};


// ---------------------------------------------------------------------------
// Cases

enum class Impl : std::uint8_t { h2wire, nghttp2 };

const char* impl_name(Impl impl) { return impl == Impl::h2wire ? "h2wire" : "nghttp2"; }

/// Figures from the untimed runs, computed once per case.
struct Prepared {
    double allocs_per_request = 0;
    double untracked_new_per_request = 0;
};

template <class Pair>
Prepared prepare_with(Pair& pair, AllocStats& client, AllocStats& server, Impl impl, const Shape& shape) {
    pair.handshake();
    // Verify: two exchanges (the second on a warm connection), bodies checked
    // byte for byte.
    BodyCheck check;
    pair.set_body_check(&check);
    for (int i = 0; i < 2; ++i) {
        check.clear();
        check_tally(impl_name(impl), shape, pair.exchange(shape));
    }
    pair.set_body_check(nullptr);
    // Warm up, then count.
    const int rounds = shape.body >= (std::size_t{16} << 20) ? 3 : shape.body > 0 ? 10 : 50;
    for (int i = 0; i < rounds; ++i) check_tally(impl_name(impl), shape, pair.exchange(shape));
    const std::uint64_t allocs0 = client.allocs + server.allocs;
    const std::uint64_t news0 = global_new_calls.load(std::memory_order_relaxed);
    for (int i = 0; i < rounds; ++i) check_tally(impl_name(impl), shape, pair.exchange(shape));
    const std::uint64_t allocs1 = client.allocs + server.allocs;
    const std::uint64_t news1 = global_new_calls.load(std::memory_order_relaxed);
    const double requests = static_cast<double>(rounds) * shape.streams;
    return Prepared{static_cast<double>(allocs1 - allocs0) / requests, static_cast<double>(news1 - news0) / requests};
}

/// Runs fn(pair, client_stats, server_stats) on a pair of `impl` whose
/// allocations are counted.
template <class Fn>
void with_counted_pair(Impl impl, std::uint32_t max_streams, Fn&& fn) {
    AllocStats client, server;
    if (impl == Impl::nghttp2) {
        CountingNghttp2Mem client_mem(client), server_mem(server);
        Nghttp2Pair pair(client_mem.get(), server_mem.get(), max_streams);
        fn(pair, client, server);
        return;
    }
    CountingResource client_memory(client), server_memory(server);
    H2wirePair pair(&client_memory, &server_memory, max_streams);
    fn(pair, client, server);
}

Prepared prepare(Impl impl, const Shape& shape) {
    Prepared p;
    (void)workload();
    with_counted_pair(impl, shape.concurrent, [&](auto& pair, AllocStats& client, AllocStats& server) {
        p = prepare_with(pair, client, server, impl, shape);
    });
    return p;
}

const Prepared& prepared(const std::string& name, Impl impl, const Shape& shape) {
    static std::map<std::string, Prepared> cache;
    auto it = cache.find(name);
    if (it == cache.end()) it = cache.emplace(name, prepare(impl, shape)).first;
    return it->second;
}

// Not inlined, so that `valgrind --tool=callgrind --toggle-collect='*run_exchange*'`
// counts the timed loop alone (see register_all for fixed iteration counts).
template <class Pair>
[[gnu::noinline]] void run_exchange(benchmark::State& state, Pair& pair, const Shape& shape, const char* impl) {
    pair.handshake();
    for (auto _ : state) {
        const Tally& t = pair.exchange(shape);
        if (t.ended != shape.streams || t.body_bytes != std::uint64_t{shape.streams} * shape.body)
            check_tally(impl, shape, t);  // dies with the details
        benchmark::DoNotOptimize(t.body_bytes);
    }
}

/// The floor under exchange_data_copy: the one memcpy per octet that both
/// libraries' copying paths do, alone, in the same pieces (one frame, 16 KiB)
/// from the same buffer into a frame-sized buffer, per stream as the
/// exchange reads it. What a library adds to this is its own cost.
[[gnu::noinline]] void run_copy_floor(benchmark::State& state, const Shape& shape) {
    const Workload& w = workload();
    // The destination mid-page, where neither a page-aligned nor a
    // malloc'd source aliases it (see CopyDistance): the best case.
    std::vector<std::uint8_t> space(16384 + 8192);
    const auto base = reinterpret_cast<std::uintptr_t>(space.data());
    std::uint8_t* frame = space.data() + ((2048 - base % 4096) + 4096) % 4096;
    constexpr std::size_t piece = 16384;
    for (auto _ : state) {
        for (std::uint32_t i = 0; i < shape.streams; ++i) {
            for (std::size_t at = 0; at < shape.body; at += piece) {
                const std::size_t n = std::min(piece, shape.body - at);
                note_copy_distance(frame, w.body.data() + at);
                std::memcpy(frame, w.body.data() + at, n);
                benchmark::ClobberMemory();
            }
        }
        benchmark::DoNotOptimize(frame);
    }
}

void copy_floor_bench(benchmark::State& state, Shape shape) {
    copy_distance = {};
    run_copy_floor(state, shape);
    state.counters["copies_aliased_pct"] =
        copy_distance.calls ? 100.0 * static_cast<double>(copy_distance.aliased) / static_cast<double>(copy_distance.calls) : 0.0;
    const auto iterations = static_cast<std::int64_t>(state.iterations());
    state.SetItemsProcessed(iterations * shape.streams);
    state.SetBytesProcessed(iterations * shape.streams * static_cast<std::int64_t>(shape.body));
}

void exchange_bench(benchmark::State& state, const std::string& name, Impl impl, Shape shape) {
    const Prepared& p = prepared(name, impl, shape);
    copy_distance = {};
    if (impl == Impl::nghttp2) {
        Nghttp2Pair pair(nullptr, nullptr, shape.concurrent);
        run_exchange(state, pair, shape, "nghttp2");
    } else {
        H2wirePair pair(std::pmr::get_default_resource(), std::pmr::get_default_resource(), shape.concurrent);
        run_exchange(state, pair, shape, "h2wire");
    }
    const auto iterations = static_cast<std::int64_t>(state.iterations());
    state.SetItemsProcessed(iterations * shape.streams);
    if (shape.body > 0) state.SetBytesProcessed(iterations * shape.streams * static_cast<std::int64_t>(shape.body));
    state.counters["allocs_per_request"] = p.allocs_per_request;
    state.counters["untracked_new_per_request"] = p.untracked_new_per_request;
    if (shape.mode == Body::copy)
        state.counters["copies_aliased_pct"] =
            copy_distance.calls ? 100.0 * static_cast<double>(copy_distance.aliased) / static_cast<double>(copy_distance.calls) : 0.0;
}

// ---------------------------------------------------------------------------
// Memory

/// PING round trips after a burst, for the *_conn_bytes_quiet figures: the
/// connection goes on without trim() (h2wire gives back what the burst grew
/// at the end of epochs of 256 receive() calls with input).
constexpr std::uint32_t quiet_round_trips = 2000;

struct MemoryFigures {
    double client_connection = 0;       // live octets after the handshake
    double server_connection = 0;
    double client_per_stream = 0;       // per idle open stream
    double server_per_stream = 0;
    double client_per_stream_quiet = 0;  // the same after quiet_round_trips PINGs, untrimmed
    double server_per_stream_quiet = 0;
    double client_connection_warm = 0;  // idle again after 100 header-only requests
    double server_connection_warm = 0;
    double client_connection_quiet = 0;  // and then after quiet_round_trips PINGs, untrimmed
    double server_connection_quiet = 0;
    double client_connection_data = 0;  // idle again after 100 x 1 MiB zero-copy responses
    double server_connection_data = 0;
    // After Connection::trim() (h2wire; nghttp2 has no such call, the same
    // figures as without):
    double client_per_stream_trimmed = 0;  // per idle open stream, its events handled
    double server_per_stream_trimmed = 0;
    double client_connection_trimmed = 0;  // the warm connection after the data round
    double server_connection_trimmed = 0;
    double untracked_new = 0;           // global operator new calls meanwhile
};

MemoryFigures memory_figures(Impl impl, std::uint32_t idle) {
    MemoryFigures m;
    (void)workload();  // built before the count starts
    const std::uint64_t news0 = global_new_calls.load(std::memory_order_relaxed);
    // The stats start at zero before the pair is built, so construction
    // counts. One request goes through before the idle streams are opened, so
    // that the HPACK tables hold the request fields already and the stream
    // delta is the streams' own; only one, so that a library's pool of
    // recycled stream objects does not hide their cost.
    with_counted_pair(impl, memory_max_streams, [&](auto& pair, AllocStats& client, AllocStats& server) {
        pair.handshake();
        m.client_connection = static_cast<double>(client.live);
        m.server_connection = static_cast<double>(server.live);
        const Shape one{1, 0, Body::none};
        check_tally(impl_name(impl), one, pair.exchange(one));
        pair.trim();
        const std::int64_t c0 = client.live, s0 = server.live;
        pair.open_idle(idle);
        m.client_per_stream = static_cast<double>(client.live - c0) / idle;
        m.server_per_stream = static_cast<double>(server.live - s0) / idle;
        // The streams stay open and idle while the connection goes on.
        pair.quiet(quiet_round_trips);
        m.client_per_stream_quiet = static_cast<double>(client.live - c0) / idle;
        m.server_per_stream_quiet = static_cast<double>(server.live - s0) / idle;
        pair.trim();
        m.client_per_stream_trimmed = static_cast<double>(client.live - c0) / idle;
        m.server_per_stream_trimmed = static_cast<double>(server.live - s0) / idle;
    });
    with_counted_pair(impl, memory_max_streams, [&](auto& pair, AllocStats& client, AllocStats& server) {
        pair.handshake();
        const Shape headers{exchange_max_streams, 0, Body::none};
        check_tally(impl_name(impl), headers, pair.exchange(headers));
        m.client_connection_warm = static_cast<double>(client.live);
        m.server_connection_warm = static_cast<double>(server.live);
        // The burst is over; the connection goes on quietly, untrimmed.
        pair.quiet(quiet_round_trips);
        m.client_connection_quiet = static_cast<double>(client.live);
        m.server_connection_quiet = static_cast<double>(server.live);
        const Shape data{exchange_max_streams, std::size_t{1} << 20, Body::zero_copy};
        check_tally(impl_name(impl), data, pair.exchange(data));
        m.client_connection_data = static_cast<double>(client.live);
        m.server_connection_data = static_cast<double>(server.live);
        pair.trim();
        m.client_connection_trimmed = static_cast<double>(client.live);
        m.server_connection_trimmed = static_cast<double>(server.live);
    });
    m.untracked_new = static_cast<double>(global_new_calls.load(std::memory_order_relaxed) - news0);
    return m;
}

void memory_bench(benchmark::State& state, Impl impl, std::uint32_t idle) {
    const MemoryFigures m = memory_figures(impl, idle);
    for (auto _ : state) benchmark::DoNotOptimize(m);
    state.counters["client_conn_bytes"] = m.client_connection;
    state.counters["server_conn_bytes"] = m.server_connection;
    state.counters["client_conn_bytes_warm"] = m.client_connection_warm;
    state.counters["server_conn_bytes_warm"] = m.server_connection_warm;
    state.counters["client_conn_bytes_quiet"] = m.client_connection_quiet;
    state.counters["server_conn_bytes_quiet"] = m.server_connection_quiet;
    state.counters["client_conn_bytes_data"] = m.client_connection_data;
    state.counters["server_conn_bytes_data"] = m.server_connection_data;
    state.counters["client_bytes_per_stream"] = m.client_per_stream;
    state.counters["server_bytes_per_stream"] = m.server_per_stream;
    state.counters["client_bytes_per_stream_quiet"] = m.client_per_stream_quiet;
    state.counters["server_bytes_per_stream_quiet"] = m.server_per_stream_quiet;
    state.counters["client_bytes_per_stream_trimmed"] = m.client_per_stream_trimmed;
    state.counters["server_bytes_per_stream_trimmed"] = m.server_per_stream_trimmed;
    state.counters["client_conn_bytes_trimmed"] = m.client_connection_trimmed;
    state.counters["server_conn_bytes_trimmed"] = m.server_connection_trimmed;
    state.counters["untracked_new"] = m.untracked_new;
}

// ---------------------------------------------------------------------------

std::string body_label(std::size_t body) {
    return body >= (std::size_t{1} << 20) ? std::to_string(body >> 20) + "MiB" : std::to_string(body);
}

/// H2WIRE_BENCH_ITERATIONS=n runs every exchange benchmark exactly n times:
/// instruction counts under callgrind are then comparable between
/// implementations.
benchmark::internal::Benchmark* fixed_iterations(benchmark::internal::Benchmark* b) {
    if (const char* n = std::getenv("H2WIRE_BENCH_ITERATIONS"); n != nullptr && std::atoi(n) > 0)
        b->Iterations(std::atoi(n));
    return b;
}

void register_all() {
    const Impl impls[] = {Impl::h2wire, Impl::nghttp2};
    for (const Impl impl : impls) {
        const std::string name = std::string("exchange_headers/") + impl_name(impl) + "/streams:100";
        const Shape shape{100, 0, Body::none};
        fixed_iterations(benchmark::RegisterBenchmark(
            name.c_str(), [name, impl, shape](benchmark::State& s) { exchange_bench(s, name, impl, shape); }));
    }
    // 1,000 requests submitted at once against MAX_CONCURRENT_STREAMS 100:
    // 900 wait in the client's queue (compare per request with
    // exchange_headers, where all go out at once).
    for (const Impl impl : impls) {
        const std::string name = std::string("exchange_headers_queued/") + impl_name(impl) + "/streams:1000/concurrent:100";
        const Shape shape{memory_max_streams, 0, Body::none, exchange_max_streams};
        fixed_iterations(benchmark::RegisterBenchmark(
            name.c_str(), [name, impl, shape](benchmark::State& s) { exchange_bench(s, name, impl, shape); }));
    }
    const std::pair<std::uint32_t, std::size_t> bodies[] = {{1, std::size_t{64} << 20}, {100, std::size_t{1} << 20}};
    for (const Body mode : {Body::zero_copy, Body::copy, Body::push, Body::lend}) {
        const char* prefix = mode == Body::copy   ? "exchange_data_copy/"
                             : mode == Body::push ? "exchange_data_push/"
                             : mode == Body::lend ? "exchange_data_lend/"
                                                  : "exchange_data/";
        for (const auto& [streams, body] : bodies) {
            for (const Impl impl : impls) {
                // nghttp2 has no push-style body, and its zero-copy form is exchange_data.
                if (impl == Impl::nghttp2 && (mode == Body::push || mode == Body::lend)) continue;
                const std::string name = std::string(prefix) + impl_name(impl) + "/streams:" + std::to_string(streams) +
                                         "/body:" + body_label(body);
                const Shape shape{streams, body, mode};
                fixed_iterations(benchmark::RegisterBenchmark(name.c_str(), [name, impl, shape](benchmark::State& s) {
                    exchange_bench(s, name, impl, shape);
                }))->Unit(benchmark::kMillisecond);
            }
            if (mode == Body::copy) {
                const std::string name = std::string(prefix) + "memcpy/streams:" + std::to_string(streams) +
                                         "/body:" + body_label(body);
                const Shape shape{streams, body, mode};
                fixed_iterations(benchmark::RegisterBenchmark(
                                     name.c_str(), [shape](benchmark::State& s) { copy_floor_bench(s, shape); }))
                    ->Unit(benchmark::kMillisecond);
            }
        }
    }
    for (const std::uint32_t idle : {100u, 1000u}) {
        for (const Impl impl : impls) {
            const std::string name =
                std::string("memory/") + impl_name(impl) + "/idle_streams:" + std::to_string(idle);
            benchmark::RegisterBenchmark(name.c_str(), [impl, idle](benchmark::State& s) { memory_bench(s, impl, idle); })
                ->Iterations(1);
        }
    }
}
const int registered = (register_all(), 0);

}  // namespace
