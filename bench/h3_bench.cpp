// HTTP/3 connection benchmarks, h2wire (h3::Connection) against libnghttp3 in
// the same binary and run. There is no QUIC: a simulated stream transport
// hands whatever one side has to write on stream S, whole and in order, to
// the other side as input on stream S (and FIN with the last octets), in
// memory, until the exchange is over. What a QUIC stack would do besides is
// done at once: every octet written is acknowledged right after it was
// taken, and a request stream is closed as soon as both of its directions
// ended.
//
//   h3_exchange_headers/<impl>
//       One client and one server connection, set up before timing and kept
//       warm. Each iteration the client submits 100 header-only GETs (10
//       fields: 4 pseudo-headers, user-agent, accept, accept-encoding,
//       accept-language, referer and an 85-octet cookie; the same fields as
//       the HTTP/2 exchange_headers, from support/exchange_fields.hpp), the
//       server answers each with a 200 and 7 more fields and FIN, and the
//       client sees all 100 responses end.
//       items/s = completed requests/s.
//   h3_exchange_data/<impl>/<shape>
//       The same with a body in every response: 1x64MiB (one request) or
//       100x1MiB. bytes/s = body octets delivered to the client. With
//       everything delivered whole the body is one DATA frame handed over
//       as one view, so the cost is per request, not per octet; the
//       /packets:1200 shapes make the transport take at most 1,200 octets
//       per write (next_output() / writev_stream() asked again each time,
//       consume_output() / add_write_offset() of what was taken) and deliver
//       each piece as one input, as a QUIC stack does packet by packet.
//       Zero-copy on both sides:
//         h2wire   send_data_borrowed() with the whole body; next_output()
//                  lends it back as a chunk, which is handed to the peer's
//                  receive() as is;
//         nghttp3  an nghttp3_data_reader whose read_data returns one vector
//                  of the body buffer (all that is left, EOF); the vectors of
//                  nghttp3_conn_writev_stream() are handed to the peer's
//                  nghttp3_conn_read_stream() as is.
//
// Same semantics on both sides: output is retained until acknowledged, and
// acknowledged right after it was written (h2wire: retain_until_acked = true,
// consume_output() then acknowledged(); nghttp3: add_write_offset() then
// add_ack_offset()). Both: QPACK dynamic table 4096 octets and 100 blocked
// streams allowed both ways, message validation on (nghttp3 always checks),
// no limits in the way (nghttp3: max_client_streams_bidi raised so that the
// ever-growing stream ids stay allowed; h2wire: the defaults).
// nghttp3 gets its fields with NGHTTP3_NV_FLAG_NO_COPY_NAME|NO_COPY_VALUE
// and receives them through recv_header (counted, as h2wire's are).
//
// Counters come from separate, untimed runs before the timing, which first
// verify the exchange (every request and response, field count, status, FIN,
// StreamClosed / stream_close, and the body byte for byte) and abort the
// program if anything is off:
//   allocs_per_request     allocations by client and server together per
//                          completed request once warm (h2wire: through
//                          ConnectionConfig::memory; nghttp3: through
//                          nghttp3_mem)
// (The global operator new counter of connection_bench.cpp is private to
// that file; allocations that bypass the configured allocators are not
// counted here.)
//
// H2WIRE_BENCH_ITERATIONS=n runs every benchmark here exactly n times, so that
// `valgrind --tool=callgrind --toggle-collect='*run_h3_exchange*'` counts
// comparable passes.
#include <benchmark/benchmark.h>
#include <nghttp3/nghttp3.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory_resource>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "h2wire/h3connection.hpp"
#include "support/alloc_count.hpp"
#include "support/exchange_fields.hpp"

namespace {

namespace h3 = h2wire::h3;
using bench_support::AllocStats;
using bench_support::CountingResource;
using bench_support::request_field_count;
using bench_support::request_fields;
using bench_support::response_field_count;
using bench_support::response_fields;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "h3_bench: %s\n", what.c_str());
    std::exit(1);
}

// ---------------------------------------------------------------------------
// The workload

constexpr std::uint32_t max_requests = 100;
constexpr std::size_t table_capacity = 4096;
constexpr std::size_t blocked_streams = 100;
/// The STREAM frame payload of a full-size QUIC packet, roughly.
constexpr std::size_t packet = 1200;

struct Shape {
    std::uint32_t streams = 0;
    std::size_t body = 0;   // octets per response; 0: header-only
    std::size_t piece = 0;  // octets the transport takes per write (a packet's worth); 0: all there is
};

nghttp3_nv to_nv(const h2wire::Field& f) {
    // The views live for the whole run, so nghttp3 need not copy them.
    return nghttp3_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.name.data())),
                      reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(),
                      f.value.size(), NGHTTP3_NV_FLAG_NO_COPY_NAME | NGHTTP3_NV_FLAG_NO_COPY_VALUE};
}

template <std::size_t N>
std::array<nghttp3_nv, N> to_nvs(const std::array<h2wire::Field, N>& fields) {
    std::array<nghttp3_nv, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = to_nv(fields[i]);
    return out;
}

/// Header fields (as strings that live for the whole run) in both
/// libraries' forms, and the body buffer.
struct Workload {
    std::vector<std::string> paths;  // one per request slot
    std::vector<std::array<h2wire::Field, request_field_count>> requests;
    std::vector<std::array<nghttp3_nv, request_field_count>> ng_requests;
    std::map<std::size_t, std::string> lengths;  // content-length values by body size
    std::map<std::size_t, std::array<h2wire::Field, response_field_count>> responses;
    std::map<std::size_t, std::array<nghttp3_nv, response_field_count>> ng_responses;
    std::vector<std::uint8_t> body;  // the application's body buffer (largest body)
};

const Workload& workload() {
    static const Workload w = [] {
        Workload x;
        x.paths.reserve(max_requests);
        for (std::uint32_t i = 0; i < max_requests; ++i)
            x.paths.push_back("/assets/js/app-" + std::to_string(i) + ".js?v=20240701");
        for (std::uint32_t i = 0; i < max_requests; ++i) {
            const std::array<h2wire::Field, request_field_count> f = request_fields(x.paths[i]);
            x.requests.push_back(f);
            x.ng_requests.push_back(to_nvs(f));
        }
        for (const std::size_t size : {std::size_t{0}, std::size_t{1} << 20, std::size_t{64} << 20})
            x.lengths[size] = std::to_string(size);
        for (const auto& [size, text] : x.lengths) {
            x.responses[size] =
                response_fields(size == 0 ? "application/javascript" : "application/octet-stream", text);
            x.ng_responses[size] = to_nvs(x.responses[size]);
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

/// What both sides saw in one exchange.
struct Tally {
    std::uint64_t requests = 0;        // seen by the server
    std::uint64_t server_fields = 0;   // request fields
    std::uint64_t responses = 0;       // seen by the client
    std::uint64_t client_fields = 0;   // response fields
    std::uint64_t ended = 0;           // responses that ended (FIN) at the client
    std::uint64_t body_bytes = 0;      // body octets at the client
    std::uint64_t client_closed = 0;   // StreamClosed / stream_close at the client
    std::uint64_t server_closed = 0;   // and at the server
};

void check_tally(const char* impl, const Shape& shape, const Tally& t) {
    const std::uint64_t n = shape.streams;
    if (t.requests != n || t.responses != n || t.ended != n || t.body_bytes != n * shape.body ||
        t.client_fields != n * response_field_count || t.server_fields != n * request_field_count ||
        t.client_closed != n || t.server_closed != n) {
        char buf[640];
        std::snprintf(buf, sizeof buf,
                      "%s: wrong exchange (%u streams, body %zu): server saw %llu requests with %llu fields, "
                      "closed %llu; client saw %llu responses with %llu fields, %llu ended, %llu body octets, "
                      "closed %llu",
                      impl, shape.streams, shape.body, static_cast<unsigned long long>(t.requests),
                      static_cast<unsigned long long>(t.server_fields),
                      static_cast<unsigned long long>(t.server_closed), static_cast<unsigned long long>(t.responses),
                      static_cast<unsigned long long>(t.client_fields), static_cast<unsigned long long>(t.ended),
                      static_cast<unsigned long long>(t.body_bytes),
                      static_cast<unsigned long long>(t.client_closed));
        die(buf);
    }
}

/// Body checking for the verification run: every stream's octets must be
/// the body buffer's, in order.
class BodyCheck {
public:
    void on_chunk(std::uint64_t stream, const std::uint8_t* data, std::size_t n, const char* impl) {
        const std::vector<std::uint8_t>& body = workload().body;
        std::size_t& offset = offsets_[stream];
        if (offset + n > body.size() || (n != 0 && std::memcmp(body.data() + offset, data, n) != 0))
            die(std::string(impl) + ": body octets differ from what the server sent on stream " +
                std::to_string(stream) + " at offset " + std::to_string(offset));
        offset += n;
    }

private:
    std::unordered_map<std::uint64_t, std::size_t> offsets_;
};

// Unidirectional streams (RFC 9000 §2.1): client 2, 6, 10; server 3, 7, 11.
constexpr std::array<std::int64_t, 3> client_uni = {2, 6, 10};
constexpr std::array<std::int64_t, 3> server_uni = {3, 7, 11};

constexpr bool is_bidi(std::uint64_t id) { return (id & 2) == 0; }

// ---------------------------------------------------------------------------
// nghttp3

/// nghttp3's allocator hooks, counting (bench/support/alloc_count.hpp).
using CountingNghttp3Mem = bench_support::CountingCMem<nghttp3_mem>;

class Nghttp3Pair {
public:
    /// `client_mem` / `server_mem` may be null (nghttp3's default allocator).
    Nghttp3Pair(const nghttp3_mem* client_mem, const nghttp3_mem* server_mem) {
        nghttp3_callbacks cb{};
        cb.stream_close = &Nghttp3Pair::on_stream_close;
        cb.recv_data = &Nghttp3Pair::on_recv_data;
        cb.recv_header = &Nghttp3Pair::on_recv_header;
        cb.end_headers = &Nghttp3Pair::on_end_headers;
        cb.end_stream = &Nghttp3Pair::on_end_stream;
        cb.stop_sending = &Nghttp3Pair::on_stop_sending;
        cb.reset_stream = &Nghttp3Pair::on_reset_stream;
        nghttp3_settings settings;
        nghttp3_settings_default(&settings);
        settings.qpack_max_dtable_capacity = table_capacity;
        settings.qpack_encoder_max_dtable_capacity = table_capacity;
        settings.qpack_blocked_streams = blocked_streams;
        if (nghttp3_conn_client_new(&client_, &cb, &settings, client_mem, this) != 0 ||
            nghttp3_conn_server_new(&server_, &cb, &settings, server_mem, this) != 0)
            die("nghttp3: conn_new");
        // The stream ids grow for ever (a fresh stream per request).
        nghttp3_conn_set_max_client_streams_bidi(server_, std::uint64_t{1} << 60);
        if (nghttp3_conn_bind_control_stream(client_, client_uni[0]) != 0 ||
            nghttp3_conn_bind_qpack_streams(client_, client_uni[1], client_uni[2]) != 0 ||
            nghttp3_conn_bind_control_stream(server_, server_uni[0]) != 0 ||
            nghttp3_conn_bind_qpack_streams(server_, server_uni[1], server_uni[2]) != 0)
            die("nghttp3: bind streams");
        requests_.reserve(max_requests);
        closing_.reserve(max_requests);
        sources_.resize(max_requests);
    }
    ~Nghttp3Pair() {
        nghttp3_conn_del(client_);
        nghttp3_conn_del(server_);
    }
    Nghttp3Pair(const Nghttp3Pair&) = delete;
    Nghttp3Pair& operator=(const Nghttp3Pair&) = delete;

    void handshake() {
        for (int round = 0; round < 10; ++round)
            if (pump() == 0) return;
        die("nghttp3: handshake does not settle");
    }

    /// One iteration: `shape.streams` requests, all answered and seen.
    const Tally& exchange(const Shape& shape) {
        const Workload& w = workload();
        tally_ = {};
        shape_ = shape;
        next_source_ = 0;
        for (std::uint32_t i = 0; i < shape.streams; ++i) {
            const auto& nv = w.ng_requests[i];
            if (nghttp3_conn_submit_request(client_, static_cast<std::int64_t>(next_stream_), nv.data(), nv.size(),
                                            nullptr, nullptr) != 0)
                die("nghttp3: submit_request");
            next_stream_ += 4;
        }
        for (;;) {
            const std::size_t moved = pump();
            if (tally_.ended == shape.streams && tally_.server_closed == shape.streams) break;
            if (moved == 0) die("nghttp3: the exchange stalled");
        }
        return tally_;
    }

    void set_body_check(BodyCheck* check) { check_ = check; }

private:
    struct Source {
        const std::uint8_t* data = nullptr;
        std::size_t size = 0;
        std::size_t read = 0;
    };

    /// Client output to the server, the server's answers, server output to
    /// the client. Returns the octets moved (FINs count as one).
    std::size_t pump() {
        std::size_t moved = transfer(client_, server_);
        respond();
        moved += transfer(server_, client_);
        return moved;
    }

    std::size_t transfer(nghttp3_conn* from, nghttp3_conn* to) {
        std::size_t moved = 0;
        for (;;) {
            std::int64_t stream = -1;
            int fin = 0;
            std::array<nghttp3_vec, 16> vec;
            const nghttp3_ssize n = nghttp3_conn_writev_stream(from, &stream, &fin, vec.data(), vec.size());
            if (n < 0) die(std::string("nghttp3: writev_stream: ") + nghttp3_strerror(static_cast<int>(n)));
            if (stream < 0) break;
            std::size_t size = 0;
            for (nghttp3_ssize i = 0; i < n; ++i) size += vec[static_cast<std::size_t>(i)].len;
            // A packet's worth (or all of it), FIN only with the last octet.
            const std::size_t take = shape_.piece == 0 ? size : std::min(size, shape_.piece);
            if (take < size) fin = 0;
            std::size_t total = 0;
            for (nghttp3_ssize i = 0; i < n && total < take; ++i) {
                const nghttp3_vec& v = vec[static_cast<std::size_t>(i)];
                const std::size_t part = std::min(v.len, take - total);
                total += part;
                read(to, stream, v.base, part, fin != 0 && total == take);
            }
            if (take == 0 && fin != 0) read(to, stream, nullptr, 0, true);
            if (nghttp3_conn_add_write_offset(from, stream, total) != 0 ||
                nghttp3_conn_add_ack_offset(from, stream, total) != 0)
                die("nghttp3: add_write_offset / add_ack_offset");
            moved += total + (fin != 0 ? 1 : 0);
            // The server's response ended (the request had ended before):
            // both directions are done and acknowledged, so the QUIC stack
            // would report the stream closed.
            if (fin != 0 && from == server_ && is_bidi(static_cast<std::uint64_t>(stream)) &&
                nghttp3_conn_close_stream(server_, stream, NGHTTP3_H3_NO_ERROR) != 0)
                die("nghttp3: server close_stream");
        }
        // The client's request streams whose response ended.
        for (const std::int64_t id : closing_)
            if (nghttp3_conn_close_stream(client_, id, NGHTTP3_H3_NO_ERROR) != 0) die("nghttp3: client close_stream");
        closing_.clear();
        return moved;
    }

    void read(nghttp3_conn* to, std::int64_t stream, const std::uint8_t* data, std::size_t n, bool fin) {
        const nghttp3_ssize rv = nghttp3_conn_read_stream(to, stream, data, n, fin ? 1 : 0);
        if (rv < 0) die(std::string("nghttp3: read_stream: ") + nghttp3_strerror(static_cast<int>(rv)));
    }

    void respond() {
        const Workload& w = workload();
        const auto& nv = w.ng_responses.at(shape_.body);
        for (const std::int64_t id : requests_) {
            int rv = 0;
            if (shape_.body == 0) {
                rv = nghttp3_conn_submit_response(server_, id, nv.data(), nv.size(), nullptr);
            } else {
                Source& s = sources_[next_source_++];
                s = Source{w.body.data(), shape_.body, 0};
                if (nghttp3_conn_set_stream_user_data(server_, id, &s) != 0) die("nghttp3: set_stream_user_data");
                const nghttp3_data_reader dr{&Nghttp3Pair::read_body};
                rv = nghttp3_conn_submit_response(server_, id, nv.data(), nv.size(), &dr);
            }
            if (rv != 0) die("nghttp3: submit_response");
        }
        requests_.clear();
    }

    static Nghttp3Pair& self(void* user) { return *static_cast<Nghttp3Pair*>(user); }

    static nghttp3_ssize read_body(nghttp3_conn*, std::int64_t, nghttp3_vec* vec, std::size_t veccnt,
                                   std::uint32_t* flags, void*, void* stream_user) {
        Source& s = *static_cast<Source*>(stream_user);
        *flags |= NGHTTP3_DATA_FLAG_EOF;
        if (s.read == s.size || veccnt == 0) return 0;
        vec[0].base = const_cast<std::uint8_t*>(s.data + s.read);
        vec[0].len = s.size - s.read;
        s.read = s.size;
        return 1;
    }
    static int on_recv_header(nghttp3_conn* conn, std::int64_t, std::int32_t, nghttp3_rcbuf* name,
                              nghttp3_rcbuf* value, std::uint8_t, void* user, void*) {
        Nghttp3Pair& p = self(user);
        if (conn == p.client_) {
            ++p.tally_.client_fields;
            const nghttp3_vec n = nghttp3_rcbuf_get_buf(name), v = nghttp3_rcbuf_get_buf(value);
            if (n.len == 7 && std::memcmp(n.base, ":status", 7) == 0 && (v.len != 3 || std::memcmp(v.base, "200", 3) != 0))
                die("nghttp3: response status is not 200");
        } else {
            ++p.tally_.server_fields;
        }
        return 0;
    }
    static int on_end_headers(nghttp3_conn* conn, std::int64_t stream, int, void* user, void*) {
        Nghttp3Pair& p = self(user);
        if (conn == p.client_) {
            ++p.tally_.responses;
        } else {
            ++p.tally_.requests;
            if (p.requests_.size() == p.requests_.capacity()) die("nghttp3: more requests than expected");
            p.requests_.push_back(stream);
        }
        return 0;
    }
    static int on_recv_data(nghttp3_conn* conn, std::int64_t stream, const std::uint8_t* data, std::size_t n,
                            void* user, void*) {
        Nghttp3Pair& p = self(user);
        if (conn != p.client_) die("nghttp3: the server got DATA");
        p.tally_.body_bytes += n;
        if (p.check_ != nullptr) p.check_->on_chunk(static_cast<std::uint64_t>(stream), data, n, "nghttp3");
        return 0;
    }
    static int on_end_stream(nghttp3_conn* conn, std::int64_t stream, void* user, void*) {
        Nghttp3Pair& p = self(user);
        if (conn == p.client_) {
            ++p.tally_.ended;
            p.closing_.push_back(stream);
        }
        return 0;
    }
    static int on_stream_close(nghttp3_conn* conn, std::int64_t stream, std::uint64_t code, void* user, void*) {
        Nghttp3Pair& p = self(user);
        if (code != NGHTTP3_H3_NO_ERROR)
            die("nghttp3: stream " + std::to_string(stream) + " closed with error " + std::to_string(code));
        ++(conn == p.client_ ? p.tally_.client_closed : p.tally_.server_closed);
        return 0;
    }
    static int on_stop_sending(nghttp3_conn*, std::int64_t stream, std::uint64_t code, void*, void*) {
        die("nghttp3: STOP_SENDING on stream " + std::to_string(stream) + " code " + std::to_string(code));
    }
    static int on_reset_stream(nghttp3_conn*, std::int64_t stream, std::uint64_t code, void*, void*) {
        die("nghttp3: RESET_STREAM on stream " + std::to_string(stream) + " code " + std::to_string(code));
    }

    nghttp3_conn* client_ = nullptr;
    nghttp3_conn* server_ = nullptr;
    Shape shape_{};
    Tally tally_{};
    std::uint64_t next_stream_ = 0;
    std::vector<std::int64_t> requests_;  // received, not yet answered
    std::vector<std::int64_t> closing_;   // client streams whose response ended
    std::vector<Source> sources_;         // one per response of the current exchange
    std::size_t next_source_ = 0;
    BodyCheck* check_ = nullptr;
};

// ---------------------------------------------------------------------------
// h2wire

h3::ConnectionConfig h2wire_config(h2wire::Role role, std::pmr::memory_resource* memory) {
    h3::ConnectionConfig c;
    c.role = role;
    c.settings.qpack_max_table_capacity = table_capacity;
    c.settings.qpack_blocked_streams = blocked_streams;
    c.retain_until_acked = true;  // released by acknowledged(), as nghttp3 by add_ack_offset()
    c.memory = memory;
    return c;
}

class H2wirePair {
public:
    H2wirePair(std::pmr::memory_resource* client_memory, std::pmr::memory_resource* server_memory)
        : client_(h2wire_config(h2wire::Role::client, client_memory)),
          server_(h2wire_config(h2wire::Role::server, server_memory)) {
        if (client_.bind_local_streams(client_uni[0], client_uni[1], client_uni[2]) != h2wire::ApiError::none ||
            server_.bind_local_streams(server_uni[0], server_uni[1], server_uni[2]) != h2wire::ApiError::none)
            die("h2wire: bind_local_streams");
        requests_.reserve(max_requests);
    }

    void handshake() {
        for (int round = 0; round < 10; ++round) {
            if (pump() == 0) {
                if (!client_.peer_settings_received() || !server_.peer_settings_received())
                    die("h2wire: handshake settled without SETTINGS");
                return;
            }
        }
        die("h2wire: handshake does not settle");
    }

    const Tally& exchange(const Shape& shape) {
        const Workload& w = workload();
        tally_ = {};
        shape_ = shape;
        for (std::uint32_t i = 0; i < shape.streams; ++i) {
            const h3::SubmittedRequest s = client_.submit_request(next_stream_, w.requests[i], true);
            if (!s) die(std::string("h2wire: submit_request: ") + std::string(h2wire::to_string(s.error)));
            next_stream_ += 4;
        }
        for (;;) {
            const std::size_t moved = pump();
            if (tally_.ended == shape.streams && tally_.client_closed == shape.streams &&
                tally_.server_closed == shape.streams)
                break;
            if (moved == 0) die("h2wire: the exchange stalled");
        }
        return tally_;
    }

    void set_body_check(BodyCheck* check) { check_ = check; }

private:
    std::size_t pump() {
        std::size_t moved = transfer(client_, server_);
        respond();
        moved += transfer(server_, client_);
        return moved;
    }

    std::size_t transfer(h3::Connection& from, h3::Connection& to) {
        std::size_t moved = 0;
        while (const std::optional<h3::StreamOutput> out = from.next_output()) {
            const std::uint64_t stream = out->stream;
            // A packet's worth (or all of it), FIN only with the last octet.
            const std::size_t size = shape_.piece == 0 ? out->size : std::min(out->size, shape_.piece);
            const bool fin = out->fin && size == out->size;
            // `out` lives until the next non-const call on `from`: the peer's
            // calls below do not touch it.
            std::size_t total = 0;
            for (std::size_t i = 0; i < out->chunks.size() && total < size; ++i) {
                const h2wire::OutputChunk& c = out->chunks[i];
                const std::size_t part = std::min(c.size, size - total);
                total += part;
                for (const h3::Event& e : to.receive(stream, {c.data, part}, fin && total == size)) on_event(to, e);
            }
            if (size == 0 && fin)
                for (const h3::Event& e : to.receive(stream, {}, true)) on_event(to, e);
            if (from.consume_output(stream, size) != h2wire::ApiError::none) die("h2wire: consume_output");
            from.acknowledged(stream, size);
            moved += size + (fin ? 1 : 0);
        }
        for (const h3::Event& e : from.take_events()) on_event(from, e);
        if (from.next_command()) die("h2wire: a stream command (RESET_STREAM / STOP_SENDING) in a clean exchange");
        return moved;
    }

    void on_event(const h3::Connection& conn, const h3::Event& e) {
        const bool client = &conn == &client_;
        if (const auto* r = std::get_if<h3::RequestReceived>(&e)) {
            ++tally_.requests;
            tally_.server_fields += r->headers.size();
            if (requests_.size() == requests_.capacity()) die("h2wire: more requests than expected");
            requests_.push_back(r->stream);
        } else if (const auto* resp = std::get_if<h3::ResponseReceived>(&e)) {
            ++tally_.responses;
            tally_.client_fields += resp->headers.size();
            if (resp->status != 200) die("h2wire: response status is not 200");
        } else if (const auto* d = std::get_if<h3::DataReceived>(&e)) {
            if (!client) die("h2wire: the server got DATA");
            tally_.body_bytes += d->data.size();
            if (check_ != nullptr) check_->on_chunk(d->stream, d->data.data(), d->data.size(), "h2wire");
        } else if (std::holds_alternative<h3::StreamEnded>(e)) {
            if (client) ++tally_.ended;  // at the server: the request's end
        } else if (const auto* c = std::get_if<h3::StreamClosed>(&e)) {
            if (c->code != h3::ErrorCode::h3_no_error)
                die("h2wire: stream " + std::to_string(c->stream) + " closed with an error");
            ++(client ? tally_.client_closed : tally_.server_closed);
        } else if (std::holds_alternative<h3::StreamReset>(e) || std::holds_alternative<h3::ConnectionTerminated>(e) ||
                   std::holds_alternative<h3::GoawayReceived>(e)) {
            die(std::string("h2wire: unexpected event (index ") + std::to_string(e.index()) + ") at the " +
                (client ? "client" : "server"));
        }
    }

    void respond() {
        const Workload& w = workload();
        const auto& fields = w.responses.at(shape_.body);
        for (const std::uint64_t id : requests_) {
            h2wire::ApiError rv = server_.submit_response(id, fields, shape_.body == 0);
            if (rv == h2wire::ApiError::none && shape_.body != 0)
                rv = server_.send_data_borrowed(id, {w.body.data(), shape_.body}, true);
            if (rv != h2wire::ApiError::none)
                die(std::string("h2wire: submit_response / send_data_borrowed: ") + std::string(h2wire::to_string(rv)));
        }
        requests_.clear();
    }

    h3::Connection client_;
    h3::Connection server_;
    Shape shape_{};
    Tally tally_{};
    std::uint64_t next_stream_ = 0;
    std::vector<std::uint64_t> requests_;  // received, not yet answered
    BodyCheck* check_ = nullptr;
};

// ---------------------------------------------------------------------------
// Running

enum class Impl : std::uint8_t { h2wire, nghttp3 };
const char* impl_name(Impl impl) { return impl == Impl::h2wire ? "h2wire" : "nghttp3"; }

/// Counters from the untimed verification run.
struct Prepared {
    double allocs_per_request = 0;
    double bytes_live_client = 0;  // octets held once warm, after the last round
    double bytes_live_server = 0;
};

/// Rounds to warm up (pools, tables, the QPACK dynamic table reaching its
/// steady state) and rounds counted after them.
constexpr int warm_rounds = 5;
constexpr int counted_rounds = 10;

template <class Pair>
Prepared prepare_with(Pair& pair, AllocStats& client, AllocStats& server, Impl impl, const Shape& shape) {
    pair.handshake();
    {
        BodyCheck check;
        pair.set_body_check(&check);
        check_tally(impl_name(impl), shape, pair.exchange(shape));
        pair.set_body_check(nullptr);
    }
    for (int i = 0; i < warm_rounds; ++i) check_tally(impl_name(impl), shape, pair.exchange(shape));
    const std::uint64_t allocs0 = client.allocs + server.allocs;
    for (int i = 0; i < counted_rounds; ++i) check_tally(impl_name(impl), shape, pair.exchange(shape));
    const std::uint64_t allocs1 = client.allocs + server.allocs;
    const double requests = static_cast<double>(counted_rounds) * shape.streams;
    return Prepared{static_cast<double>(allocs1 - allocs0) / requests, static_cast<double>(client.live),
                    static_cast<double>(server.live)};
}

Prepared prepare(Impl impl, const Shape& shape) {
    (void)workload();
    AllocStats client, server;
    if (impl == Impl::nghttp3) {
        CountingNghttp3Mem client_mem(client), server_mem(server);
        Nghttp3Pair pair(client_mem.get(), server_mem.get());
        return prepare_with(pair, client, server, impl, shape);
    }
    CountingResource client_memory(client), server_memory(server);
    H2wirePair pair(&client_memory, &server_memory);
    return prepare_with(pair, client, server, impl, shape);
}

const Prepared& prepared(const std::string& name, Impl impl, const Shape& shape) {
    static std::map<std::string, Prepared> cache;
    auto it = cache.find(name);
    if (it == cache.end()) it = cache.emplace(name, prepare(impl, shape)).first;
    return it->second;
}

// Not inlined, so that `valgrind --tool=callgrind --toggle-collect='*run_h3_exchange*'`
// counts the timed loop alone (H2WIRE_BENCH_ITERATIONS fixes the count).
template <class Pair>
[[gnu::noinline]] void run_h3_exchange(benchmark::State& state, Pair& pair, const Shape& shape, const char* impl) {
    for (auto _ : state) {
        const Tally& t = pair.exchange(shape);
        if (t.ended != shape.streams || t.body_bytes != std::uint64_t{shape.streams} * shape.body)
            check_tally(impl, shape, t);  // dies with the details
        benchmark::DoNotOptimize(t.body_bytes);
    }
}

void exchange_bench(benchmark::State& state, const std::string& name, Impl impl, Shape shape) {
    const Prepared& p = prepared(name, impl, shape);
    if (impl == Impl::nghttp3) {
        Nghttp3Pair pair(nullptr, nullptr);
        pair.handshake();
        run_h3_exchange(state, pair, shape, "nghttp3");
    } else {
        H2wirePair pair(std::pmr::get_default_resource(), std::pmr::get_default_resource());
        pair.handshake();
        run_h3_exchange(state, pair, shape, "h2wire");
    }
    const auto iterations = static_cast<std::int64_t>(state.iterations());
    state.SetItemsProcessed(iterations * shape.streams);
    if (shape.body > 0) state.SetBytesProcessed(iterations * shape.streams * static_cast<std::int64_t>(shape.body));
    state.counters["allocs_per_request"] = p.allocs_per_request;
    state.counters["client_bytes_live"] = p.bytes_live_client;
    state.counters["server_bytes_live"] = p.bytes_live_server;
}

benchmark::internal::Benchmark* fixed_iterations(benchmark::internal::Benchmark* b) {
    if (const char* n = std::getenv("H2WIRE_BENCH_ITERATIONS"); n != nullptr && std::atoi(n) > 0)
        b->Iterations(std::atoi(n));
    return b;
}

void register_all() {
    const Impl impls[] = {Impl::h2wire, Impl::nghttp3};
    for (const Impl impl : impls) {
        const std::string name = std::string("h3_exchange_headers/") + impl_name(impl);
        const Shape shape{max_requests, 0};
        fixed_iterations(benchmark::RegisterBenchmark(
            name.c_str(), [name, impl, shape](benchmark::State& s) { exchange_bench(s, name, impl, shape); }));
    }
    const std::pair<const char*, Shape> bodies[] = {
        {"1x64MiB", {1, std::size_t{64} << 20, 0}},
        {"100x1MiB", {100, std::size_t{1} << 20, 0}},
        {"1x64MiB/packets:1200", {1, std::size_t{64} << 20, packet}},
        {"100x1MiB/packets:1200", {100, std::size_t{1} << 20, packet}},
    };
    for (const auto& [label, shape] : bodies) {
        for (const Impl impl : impls) {
            const std::string name = std::string("h3_exchange_data/") + impl_name(impl) + "/" + label;
            fixed_iterations(benchmark::RegisterBenchmark(name.c_str(), [name, impl, shape = shape](benchmark::State& s) {
                exchange_bench(s, name, impl, shape);
            }))->Unit(benchmark::kMillisecond);
        }
    }
}
const int registered = (register_all(), 0);

}  // namespace
