// A page load under a narrow connection window, server side: how well the
// server's RFC 9218 scheduler puts what the page needs first (issue 16 §6).
// h2wire and nghttp2 serve the same page to the same client driver.
//
//   build/bench/h2wire-bench --benchmark_filter=page_load
//
//   page_load/<impl>/signal:<how>
//       25 requests arrive at once, in one read (the client preface, its
//       SETTINGS and the 25 HEADERS): one HTML document (u=0, 100 KiB), two
//       style sheets (u=1, 30 KiB each), two scripts (u=2, incremental,
//       80 KiB each) and twenty images (u=5, incremental, 40 KiB each),
//       requested in the order a parser finds them in the document (the
//       document, a style sheet, 5 images, a script, 5 images, the second
//       style sheet, 5 images, the second script, 5 images). The
//       priorities reach the server as
//         header           a `priority` header field in each request (RFC 9218 §5)
//         priority_update  a PRIORITY_UPDATE frame right before each HEADERS
//                          (§7.1: the initial priority of an idle stream)
//         none             no signal: everything at the default u=3, the
//                          baseline a server without priorities gives
//       Then round trips: the server writes everything it can, the driver
//       reads all of it, counts the DATA octets of each stream and answers
//       with one WINDOW_UPDATE for the connection of exactly the DATA octets
//       it received. The connection window starts at 65,535 (RFC 9113
//       §6.9.2) and is never raised past it, so each round trip lets 65,535
//       octets of DATA through; the stream windows are 2^31-1
//       (SETTINGS_INITIAL_WINDOW_SIZE), so only the connection window
//       limits. The driver also sends SETTINGS_NO_RFC7540_PRIORITIES = 1
//       and acknowledges the server's SETTINGS.
//
// h2wire: a server Connection, the request's priority taken by the library
// (RequestReceived carries it; the benchmark does not call set_priority()),
// each body pulled through one BodyReader (memcpy into the DATA frame).
// nghttp2: a server session that submits SETTINGS_NO_RFC7540_PRIORITIES = 1,
// which turns on its RFC 9218 scheduler: it parses the `priority` header
// field itself, and takes PRIORITY_UPDATE once told to
// (nghttp2_option_set_builtin_recv_extension_type); each body through a
// data provider whose read callback memcpy's.
//
// Counters (from one untimed load, the same every time; the driver checks
// that every response arrived whole, and aborts the program otherwise):
//   doc_trips            round trips until the document's last octet arrived
//   doc_css_trips        until the document and both style sheets are whole
//   doc_css_min_trips    the fewest the window allows for them:
//                        ceil((100 + 2 x 30 KiB) / 65,535) = 3
//   low_before_doc_css   DATA octets of urgency > 1 (scripts, images) that
//                        arrived before the last octet of the document and
//                        style sheets (goal: 0)
//   all_trips            until every response is whole
//   all_min_trips        the fewest the window allows for everything
// The time is one whole page load: a fresh server connection, 25 responses,
// 1,146,880 octets of body, and the driver's work (the same for both).
#include <benchmark/benchmark.h>
#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "h2wire/connection.hpp"
#include "h2wire/events.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "priority_bench: %s\n", what.c_str());
    std::exit(1);
}

// ---------------------------------------------------------------------------
// The page

/// How the client tells the server its priorities.
enum class Signal : std::uint8_t { header, priority_update, none };

const char* signal_name(Signal s) {
    return s == Signal::header ? "header" : s == Signal::priority_update ? "priority_update" : "none";
}

struct Resource {
    std::string path;
    std::string_view type;
    std::size_t size = 0;
    std::uint8_t urgency = 3;
    std::string_view priority;  // the Priority field value the client sends
    std::string length;         // content-length
};

constexpr std::uint32_t window_per_trip = 65535;
constexpr std::size_t resource_count = 25;

/// The page, in request order (stream 1, 3, 5, ...): the order a parser
/// finds the resources in the document, so that a style sheet and the
/// scripts come after some of the images. Serving in request order (what a
/// server without priorities does) then puts images ahead of the second
/// style sheet; a server that follows the urgencies does not.
const std::vector<Resource>& page() {
    static const std::vector<Resource> resources = [] {
        std::vector<Resource> r;
        const auto style = [&r](int i) {
            r.push_back({"/css/site-" + std::to_string(i) + ".css", "text/css", 30 * 1024, 1, "u=1", {}});
        };
        const auto script = [&r](int i) {
            r.push_back({"/js/app-" + std::to_string(i) + ".js", "text/javascript", 80 * 1024, 2, "u=2, i", {}});
        };
        const auto images = [&r](int first) {
            for (int i = first; i < first + 5; ++i)
                r.push_back({"/img/photo-" + std::to_string(i) + ".jpg", "image/jpeg", 40 * 1024, 5, "u=5, i", {}});
        };
        r.push_back({"/index.html", "text/html", 100 * 1024, 0, "u=0", {}});
        style(1);
        images(1);
        script(1);
        images(6);
        style(2);
        images(11);
        script(2);
        images(16);
        for (Resource& x : r) x.length = std::to_string(x.size);
        if (r.size() != resource_count) die("the page is not 25 resources");
        return r;
    }();
    return resources;
}

/// The body octets: one pattern, each response a prefix of it.
const Bytes& body_octets() {
    static const Bytes body = [] {
        Bytes b(100 * 1024);
        std::uint32_t v = 0x2468ace1;
        for (std::uint8_t& x : b) {
            v = v * 1664525u + 1013904223u;
            x = static_cast<std::uint8_t>(v >> 24);
        }
        return b;
    }();
    return body;
}

/// The resource a request path names; null for none.
const Resource* find_resource(std::string_view path) {
    for (const Resource& r : page())
        if (r.path == path) return &r;
    return nullptr;
}

constexpr std::size_t ceil_div(std::size_t a, std::size_t b) {
    return (a + b - 1) / b;
}

// ---------------------------------------------------------------------------
// Frames, by hand: the driver is the same for both servers and needs no
// HTTP/2 library of its own.

namespace wire {

constexpr std::uint8_t data = 0x0, headers = 0x1, rst_stream = 0x3, settings = 0x4, ping = 0x6, goaway = 0x7,
                       window_update = 0x8, priority_update = 0x10;
constexpr std::uint8_t end_stream = 0x1, ack = 0x1, end_headers = 0x4, padded = 0x8;

void frame(Bytes& out, std::uint8_t type, std::uint8_t flags, std::uint32_t stream, std::span<const std::uint8_t> p) {
    const std::size_t n = p.size();
    const std::uint8_t h[9] = {static_cast<std::uint8_t>(n >> 16),
                               static_cast<std::uint8_t>(n >> 8),
                               static_cast<std::uint8_t>(n),
                               type,
                               flags,
                               static_cast<std::uint8_t>(stream >> 24),
                               static_cast<std::uint8_t>(stream >> 16),
                               static_cast<std::uint8_t>(stream >> 8),
                               static_cast<std::uint8_t>(stream)};
    out.insert(out.end(), h, h + 9);
    out.insert(out.end(), p.begin(), p.end());
}

void u32(Bytes& p, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) p.push_back(static_cast<std::uint8_t>(v >> s));
}

/// An HPACK integer with an n-bit prefix (RFC 7541 §5.1); `first` holds the
/// bits above the prefix.
void hpack_int(Bytes& out, std::uint8_t first, int prefix, std::size_t v) {
    const std::size_t max = (std::size_t{1} << prefix) - 1;
    if (v < max) {
        out.push_back(static_cast<std::uint8_t>(first | v));
        return;
    }
    out.push_back(static_cast<std::uint8_t>(first | max));
    for (v -= max; v >= 128; v >>= 7) out.push_back(static_cast<std::uint8_t>(0x80 | (v & 0x7f)));
    out.push_back(static_cast<std::uint8_t>(v));
}

/// A literal field without indexing, new name, no Huffman (RFC 7541 §6.2.2):
/// any decoder takes it, and the dynamic table stays empty.
void literal(Bytes& out, std::string_view name, std::string_view value) {
    out.push_back(0x00);
    hpack_int(out, 0x00, 7, name.size());
    out.insert(out.end(), name.begin(), name.end());
    hpack_int(out, 0x00, 7, value.size());
    out.insert(out.end(), value.begin(), value.end());
}

std::uint32_t read24(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 16 | std::uint32_t{p[1]} << 8 | p[2];
}
std::uint32_t read31(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3]) & 0x7fffffffu;
}

}  // namespace wire

// ---------------------------------------------------------------------------
// The client driver

struct Figures {
    std::uint32_t doc_trips = 0;
    std::uint32_t doc_css_trips = 0;
    std::uint32_t all_trips = 0;
    std::uint64_t low_before_doc_css = 0;  // octets of urgency > 1
};

class PageDriver {
public:
    explicit PageDriver(Signal signal) : signal_(signal) {}

    /// The client's first flight: preface, SETTINGS, every request.
    void start(Bytes& out) {
        const std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        out.insert(out.end(), preface.begin(), preface.end());
        Bytes s;
        const auto setting = [&s](std::uint16_t id, std::uint32_t v) {
            s.push_back(static_cast<std::uint8_t>(id >> 8));
            s.push_back(static_cast<std::uint8_t>(id));
            wire::u32(s, v);
        };
        setting(0x2, 0);           // SETTINGS_ENABLE_PUSH
        setting(0x4, 0x7fffffff);  // SETTINGS_INITIAL_WINDOW_SIZE: only the connection window limits
        setting(0x9, 1);           // SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218 §2.1)
        wire::frame(out, wire::settings, 0, 0, s);
        const std::vector<Resource>& resources = page();
        Bytes block;
        for (std::size_t i = 0; i < resources.size(); ++i) {
            const Resource& r = resources[i];
            const auto id = static_cast<std::uint32_t>(2 * i + 1);
            if (signal_ == Signal::priority_update) {
                Bytes p;
                wire::u32(p, id);
                p.insert(p.end(), r.priority.begin(), r.priority.end());
                wire::frame(out, wire::priority_update, 0, 0, p);
            }
            block.clear();
            wire::literal(block, ":method", "GET");
            wire::literal(block, ":scheme", "https");
            wire::literal(block, ":authority", "www.example.com");
            wire::literal(block, ":path", r.path);
            wire::literal(block, "accept", "*/*");
            wire::literal(block, "user-agent", "page-load-bench/1.0");
            if (signal_ == Signal::header) wire::literal(block, "priority", r.priority);
            wire::frame(out, wire::headers, wire::end_headers | wire::end_stream, id, block);
            streams_[i] = StreamState{};
        }
    }

    /// One round trip: everything the server wrote (whole frames), then what
    /// the client sends back (a SETTINGS ACK the first time, one
    /// WINDOW_UPDATE for the DATA octets received).
    void on_flight(std::span<const std::uint8_t> in, Bytes& reply) {
        ++trip_;
        std::uint32_t received = 0;  // flow-controlled DATA octets
        std::size_t at = 0;
        while (at < in.size()) {
            if (in.size() - at < 9) die("driver: a frame split across flights");
            const std::uint8_t* h = in.data() + at;
            const std::uint32_t length = wire::read24(h);
            const std::uint8_t type = h[3], flags = h[4];
            const std::uint32_t stream = wire::read31(h + 5);
            if (in.size() - at - 9 < length) die("driver: a frame split across flights");
            const std::uint8_t* payload = h + 9;
            at += 9 + length;
            switch (type) {
                case wire::data: {
                    received += length;
                    std::uint32_t body = length;
                    if ((flags & wire::padded) != 0) {
                        if (length == 0 || payload[0] >= length) die("driver: bad padding");
                        body = length - 1 - payload[0];
                    }
                    on_data(stream, body, (flags & wire::end_stream) != 0);
                    break;
                }
                case wire::headers:
                    if ((flags & wire::end_stream) != 0) die("driver: a response without a body");
                    break;
                case wire::settings:
                    if ((flags & wire::ack) == 0) wire::frame(reply, wire::settings, wire::ack, 0, {});
                    break;
                case wire::rst_stream:
                    die("driver: RST_STREAM on stream " + std::to_string(stream));
                case wire::goaway:
                    die("driver: GOAWAY");
                case wire::ping:
                    if ((flags & wire::ack) == 0) wire::frame(reply, wire::ping, wire::ack, 0, {payload, length});
                    break;
                default:  // WINDOW_UPDATE, CONTINUATION (no HPACK state kept), others
                    break;
            }
        }
        // The window is whole at the start of every flight: the last one's
        // DATA came back with the WINDOW_UPDATE below.
        if (received > window_per_trip) die("driver: the server sent more DATA than the connection window");
        if (received > 0) {
            Bytes p;
            wire::u32(p, received);
            wire::frame(reply, wire::window_update, 0, 0, p);
        }
        if (done() && figures_.all_trips == 0) figures_.all_trips = trip_;
    }

    bool done() const { return complete_ == resource_count; }
    const Figures& figures() const { return figures_; }
    std::uint32_t trips() const { return trip_; }

private:
    struct StreamState {
        std::size_t received = 0;
        bool ended = false;
    };

    void on_data(std::uint32_t stream, std::uint32_t n, bool end) {
        const std::size_t i = (stream - 1) / 2;
        if (stream % 2 == 0 || i >= resource_count) die("driver: DATA on stream " + std::to_string(stream));
        const Resource& r = page()[i];
        StreamState& s = streams_[i];
        if (s.ended) die("driver: DATA after END_STREAM");
        s.received += n;
        if (s.received > r.size) die("driver: more body than content-length on " + r.path);
        if (r.urgency > 1 && !doc_css_done()) figures_.low_before_doc_css += n;
        if (!end) return;
        if (s.received != r.size) die("driver: " + r.path + " ended short");
        s.ended = true;
        ++complete_;
        if (r.urgency <= 1 && ++critical_complete_ == 3) figures_.doc_css_trips = trip_;
        if (i == 0) figures_.doc_trips = trip_;
    }
    bool doc_css_done() const { return critical_complete_ == 3; }

    Signal signal_;
    std::array<StreamState, resource_count> streams_{};
    std::uint32_t trip_ = 0;
    std::size_t complete_ = 0;
    std::size_t critical_complete_ = 0;  // of the document and the style sheets
    Figures figures_{};
};

// ---------------------------------------------------------------------------
// The servers. Each takes the client's bytes and writes everything it can.

class H2wireServer {
public:
    H2wireServer() : conn_(config()) {}

    void receive(std::span<const std::uint8_t> in) {
        for (const h2wire::Event& ev : conn_.receive(in)) {
            if (const auto* r = std::get_if<h2wire::RequestReceived>(&ev)) {
                answer(r->stream, r->path);
            } else if (const auto* s = std::get_if<h2wire::StreamReset>(&ev)) {
                die("h2wire: stream " + std::to_string(s->stream) + " reset: " + std::string(s->reason));
            } else if (const auto* t = std::get_if<h2wire::ConnectionTerminated>(&ev)) {
                die("h2wire: connection terminated: " + std::string(t->reason));
            }
        }
    }

    void write_all(Bytes& out) {
        for (;;) {
            const std::span<const std::uint8_t> o = conn_.pending_output();
            if (o.empty()) return;
            out.insert(out.end(), o.begin(), o.end());
            conn_.consume_output(o.size());
        }
    }

private:
    static h2wire::Config config() {
        h2wire::Config c;
        c.role = h2wire::Role::server;
        return c;
    }

    /// Every body through one reader, which knows each stream's resource.
    struct Bodies final : h2wire::BodyReader {
        struct Body {
            const Resource* resource = nullptr;
            std::size_t sent = 0;
        };
        std::array<Body, 2 * resource_count + 1> by_stream{};  // stream ids 1..49
        h2wire::BodyRead read(std::uint32_t stream, std::span<std::uint8_t> buffer) override {
            Body& b = by_stream[stream];
            const std::size_t n = std::min(buffer.size(), b.resource->size - b.sent);
            std::memcpy(buffer.data(), body_octets().data() + b.sent, n);
            b.sent += n;
            return {n, b.sent == b.resource->size ? h2wire::BodyStatus::end : h2wire::BodyStatus::more, {}};
        }
    };

    void answer(std::uint32_t stream, std::string_view path) {
        const Resource* r = find_resource(path);
        if (r == nullptr || stream >= bodies_.by_stream.size()) die("h2wire: unexpected request " + std::string(path));
        bodies_.by_stream[stream] = {r, 0};
        const h2wire::Field fields[] = {{":status", "200"}, {"content-type", r->type}, {"content-length", r->length}};
        const h2wire::ApiError e = conn_.submit_response(stream, fields, bodies_);
        if (e != h2wire::ApiError::none) die("h2wire: submit_response: " + std::string(h2wire::to_string(e)));
    }

    Bodies bodies_;  // before conn_, which refers to it
    h2wire::Connection conn_;
};

class Nghttp2Server {
public:
    Nghttp2Server() {
        nghttp2_session_callbacks* cb = nullptr;
        if (nghttp2_session_callbacks_new(&cb) != 0) die("nghttp2: callbacks");
        nghttp2_session_callbacks_set_on_header_callback(cb, &Nghttp2Server::on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Nghttp2Server::on_frame_recv);
        nghttp2_option* opt = nullptr;
        if (nghttp2_option_new(&opt) != 0) die("nghttp2: option");
        // PRIORITY_UPDATE is handed to the scheduler only when asked for.
        nghttp2_option_set_builtin_recv_extension_type(opt, NGHTTP2_PRIORITY_UPDATE);
        const int rv = nghttp2_session_server_new2(&session_, cb, this, opt);
        nghttp2_option_del(opt);
        nghttp2_session_callbacks_del(cb);
        if (rv != 0) die("nghttp2: session_server_new2");
        // SETTINGS_NO_RFC7540_PRIORITIES = 1 turns on the RFC 9218 scheduler
        // for every stream opened after it is submitted.
        const nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                             {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1}};
        if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, std::size(iv)) != 0) die("nghttp2: settings");
    }
    ~Nghttp2Server() { nghttp2_session_del(session_); }
    Nghttp2Server(const Nghttp2Server&) = delete;
    Nghttp2Server& operator=(const Nghttp2Server&) = delete;

    void receive(std::span<const std::uint8_t> in) {
        const auto rv = nghttp2_session_mem_recv(session_, in.data(), in.size());
        if (rv < 0 || static_cast<std::size_t>(rv) != in.size())
            die(std::string("nghttp2: mem_recv: ") + nghttp2_strerror(static_cast<int>(rv)));
    }

    void write_all(Bytes& out) {
        for (;;) {
            const std::uint8_t* data = nullptr;
            const auto n = nghttp2_session_mem_send(session_, &data);
            if (n < 0) die(std::string("nghttp2: mem_send: ") + nghttp2_strerror(static_cast<int>(n)));
            if (n == 0) return;
            out.insert(out.end(), data, data + n);
        }
    }

private:
    struct Body {
        const Resource* resource = nullptr;
        std::size_t sent = 0;
    };

    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                         const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* user) {
        auto* self = static_cast<Nghttp2Server*>(user);
        const std::string_view n(reinterpret_cast<const char*>(name), namelen);
        const auto stream = static_cast<std::size_t>(frame->hd.stream_id);
        if (n == ":path" && stream < self->bodies_.size())
            self->bodies_[stream].resource =
                find_resource(std::string_view(reinterpret_cast<const char*>(value), valuelen));
        return 0;
    }

    static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
        auto* self = static_cast<Nghttp2Server*>(user);
        if (frame->hd.type == NGHTTP2_RST_STREAM) die("nghttp2: RST_STREAM received");
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
        const auto stream = static_cast<std::size_t>(frame->hd.stream_id);
        if (stream >= self->bodies_.size() || self->bodies_[stream].resource == nullptr)
            die("nghttp2: unexpected request on stream " + std::to_string(stream));
        const Resource& r = *self->bodies_[stream].resource;
        const nghttp2_nv nv[] = {nv_of(":status", "200"), nv_of("content-type", r.type),
                                 nv_of("content-length", r.length)};
        nghttp2_data_provider prd{};
        prd.source.ptr = &self->bodies_[stream];
        prd.read_callback = &Nghttp2Server::read_body;
        if (nghttp2_submit_response(session, frame->hd.stream_id, nv, std::size(nv), &prd) != 0)
            die("nghttp2: submit_response");
        return 0;
    }

    static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                             std::uint32_t* flags, nghttp2_data_source* source, void*) {
        Body& b = *static_cast<Body*>(source->ptr);
        const std::size_t n = std::min(length, b.resource->size - b.sent);
        std::memcpy(buf, body_octets().data() + b.sent, n);
        b.sent += n;
        if (b.sent == b.resource->size) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }

    static nghttp2_nv nv_of(std::string_view name, std::string_view value) {
        // The views live as long as the page: nghttp2 need not copy them.
        return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                          NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
    }

    nghttp2_session* session_ = nullptr;
    std::array<Body, 2 * resource_count + 1> bodies_{};  // by stream id, 1..49
};

// ---------------------------------------------------------------------------
// One page load, and the cases

/// Round trips past this mean the load is stuck.
constexpr std::uint32_t max_trips = 1000;

template <class Server>
Figures load_page(Signal signal) {
    Server server;
    PageDriver driver(signal);
    Bytes to_server, to_client;
    driver.start(to_server);
    while (!driver.done()) {
        if (driver.trips() == max_trips) die("the page load does not finish");
        server.receive(to_server);
        to_server.clear();
        to_client.clear();
        server.write_all(to_client);
        if (to_client.empty()) die("the server has nothing to send and the page is not complete");
        driver.on_flight(to_client, to_server);
    }
    return driver.figures();
}

enum class Impl : std::uint8_t { h2wire, nghttp2 };

Figures load(Impl impl, Signal signal) {
    return impl == Impl::h2wire ? load_page<H2wireServer>(signal) : load_page<Nghttp2Server>(signal);
}

void page_load_bench(benchmark::State& state, Impl impl, Signal signal) {
    const Figures f = load(impl, signal);  // untimed: the counters
    for (auto _ : state) benchmark::DoNotOptimize(load(impl, signal));
    std::size_t critical = 0, all = 0;
    for (const Resource& r : page()) {
        if (r.urgency <= 1) critical += r.size;
        all += r.size;
    }
    state.counters["doc_trips"] = f.doc_trips;
    state.counters["doc_css_trips"] = f.doc_css_trips;
    state.counters["doc_css_min_trips"] = static_cast<double>(ceil_div(critical, window_per_trip));
    state.counters["low_before_doc_css"] = static_cast<double>(f.low_before_doc_css);
    state.counters["all_trips"] = f.all_trips;
    state.counters["all_min_trips"] = static_cast<double>(ceil_div(all, window_per_trip));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(all));
}

void register_all() {
    for (const Signal signal : {Signal::header, Signal::priority_update, Signal::none}) {
        for (const Impl impl : {Impl::h2wire, Impl::nghttp2}) {
            const std::string name = std::string("page_load/") + (impl == Impl::h2wire ? "h2wire" : "nghttp2") +
                                     "/signal:" + signal_name(signal);
            benchmark::RegisterBenchmark(name.c_str(), [impl, signal](benchmark::State& s) {
                page_load_bench(s, impl, signal);
            })->Unit(benchmark::kMicrosecond);
        }
    }
}
const int registered = (register_all(), 0);

}  // namespace
