// The h2wire side of the interop tests (issue 4 §9): a small HTTP/2 client
// or server over a TCP socket on 127.0.0.1, driven by the Python scripts next
// to this file, which play the other side with the independent `h2` library.
//
//   h2wire-peer client <port>   connect to a server on 127.0.0.1:<port> and
//                               run the client scenario
//   h2wire-peer server          listen on 127.0.0.1 (port chosen by the
//                               kernel), print "PORT <n>", serve one
//                               connection
//
// Results go to stdout as lines "RESULT <name> key=value ..." that the
// script checks; diagnostics go to stderr. Exit 0 when the scenario ran to
// its end, 1 on a failure, 2 on a timeout (the whole run is bounded).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "h2wire/connection.hpp"

namespace {

using namespace h2wire;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

constexpr auto kDeadline = std::chrono::seconds(60);

[[noreturn]] void die(const std::string& why, int code = 1) {
    std::fprintf(stderr, "h2wire-peer: %s\n", why.c_str());
    std::fflush(stdout);
    std::exit(code);
}

/// The body pattern both sides generate: octet i of a body of `tag`.
std::uint8_t pattern(std::size_t i, unsigned tag) {
    return static_cast<std::uint8_t>((i * 7 + (i >> 8) + tag * 13) & 0xff);
}
Bytes make_body(std::size_t n, unsigned tag) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = pattern(i, tag);
    return b;
}
/// A header value of lowercase letters that Huffman coding cannot shrink much.
std::string make_value(std::size_t n, unsigned tag) {
    std::string s(n, 'a');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 3 + tag) % 26);
    return s;
}

/// A message being received.
struct Incoming {
    std::vector<std::pair<std::string, std::string>> headers;
    Bytes body;
    std::vector<std::pair<std::string, std::string>> trailers;
    int status = 0;
    bool ended = false;
    bool reset = false;
    ErrorCode reset_code = ErrorCode::no_error;
    Initiator reset_by = Initiator::peer;

    std::string get(std::string_view name) const {
        for (const auto& [n, v] : headers)
            if (n == name) return v;
        return {};
    }
    std::string trailer(std::string_view name) const {
        for (const auto& [n, v] : trailers)
            if (n == name) return v;
        return {};
    }
};

std::vector<std::pair<std::string, std::string>> copy(std::span<const Field> h) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Field& f : h) out.emplace_back(std::string(f.name), std::string(f.value));
    return out;
}

/// A body being sent: data (owned), then optional trailers.
struct Outgoing {
    Bytes body;
    std::size_t offset = 0;
    std::vector<std::pair<std::string, std::string>> trailers;
    bool done = false;
};

std::vector<Field> fields_of(const std::vector<std::pair<std::string, std::string>>& h) {
    std::vector<Field> f;
    for (const auto& [n, v] : h) f.push_back(Field{n, v});
    return f;
}

/// A Connection on a socket: writes what it has, reads what comes, hands
/// events to a handler, feeds bodies as send capacity allows.
class Driver {
public:
    Driver(int fd, const Config& config) : fd_(fd), conn_(config), start_(Clock::now()) {
        const int flags = ::fcntl(fd_, F_GETFL, 0);
        ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    }
    ~Driver() { ::close(fd_); }

    Connection& conn() { return conn_; }
    std::map<std::uint32_t, Incoming>& in() { return in_; }

    /// True once the body given to send_body() was handed to the connection.
    bool body_done(std::uint32_t stream) const {
        const auto it = out_.find(stream);
        return it == out_.end() || it->second.done;
    }

    void send_body(std::uint32_t stream, Bytes body, std::vector<std::pair<std::string, std::string>> trailers) {
        out_[stream] = Outgoing{std::move(body), 0, std::move(trailers), false};
    }

    /// Runs until `done()` or the connection ends; returns false on EOF
    /// before done().
    bool run(const std::function<void(const Event&)>& on_event, const std::function<bool()>& done) {
        Bytes buf(64 * 1024);
        for (;;) {
            if (Clock::now() - start_ > kDeadline) die("timeout", 2);
            feed_bodies();
            flush();
            if (done()) return true;
            if (eof_) return false;
            pollfd p{fd_, static_cast<short>(POLLIN | (conn_.wants_write() ? POLLOUT : 0)), 0};
            const int r = ::poll(&p, 1, 200);
            if (r < 0 && errno != EINTR) die(std::string("poll: ") + std::strerror(errno));
            if (r <= 0) {
                // Nothing arrived: collect events caused by API calls.
                dispatch(conn_.receive({}), on_event);
                continue;
            }
            if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
                if (n == 0) {
                    eof_ = true;
                    dispatch(conn_.receive({}), on_event);
                    continue;
                }
                if (n < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue;
                    if (errno == ECONNRESET) {
                        eof_ = true;
                        continue;
                    }
                    die(std::string("recv: ") + std::strerror(errno));
                }
                dispatch(conn_.receive(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n))),
                         on_event);
            }
        }
    }

    /// Writes all pending output (blocking with poll).
    void flush() {
        while (conn_.wants_write()) {
            if (Clock::now() - start_ > kDeadline) die("timeout writing", 2);
            const auto out = conn_.pending_output();
            if (out.empty()) break;
            const ssize_t n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    pollfd p{fd_, POLLOUT, 0};
                    ::poll(&p, 1, 200);
                    continue;
                }
                if (errno == EPIPE || errno == ECONNRESET) {
                    eof_ = true;
                    return;
                }
                die(std::string("send: ") + std::strerror(errno));
            }
            conn_.consume_output(static_cast<std::size_t>(n));
        }
    }

private:
    void dispatch(std::span<const Event> events, const std::function<void(const Event&)>& on_event) {
        for (const Event& e : events) {
            std::visit(
                [&](const auto& x) {
                    using T = std::decay_t<decltype(x)>;
                    if constexpr (std::is_same_v<T, RequestReceived>) {
                        in_[x.stream].headers = copy(x.headers);
                    } else if constexpr (std::is_same_v<T, ResponseReceived>) {
                        in_[x.stream].headers = copy(x.headers);
                        in_[x.stream].status = x.status;
                    } else if constexpr (std::is_same_v<T, DataReceived>) {
                        in_[x.stream].body.insert(in_[x.stream].body.end(), x.data.begin(), x.data.end());
                    } else if constexpr (std::is_same_v<T, TrailersReceived>) {
                        in_[x.stream].trailers = copy(x.headers);
                    } else if constexpr (std::is_same_v<T, StreamEnded>) {
                        in_[x.stream].ended = true;
                    } else if constexpr (std::is_same_v<T, StreamReset>) {
                        in_[x.stream].reset = true;
                        in_[x.stream].reset_code = x.code;
                        in_[x.stream].reset_by = x.by;
                        out_.erase(x.stream);
                    }
                },
                e);
            on_event(e);
        }
    }

    void feed_bodies() {
        for (auto& [stream, o] : out_) {
            if (o.done) continue;
            if (o.offset < o.body.size()) {
                const std::size_t cap = conn_.send_capacity(stream);
                if (cap == 0) continue;
                const std::size_t n = std::min(cap, o.body.size() - o.offset);
                const bool end = o.offset + n == o.body.size() && o.trailers.empty();
                const ApiError e =
                    conn_.send_data(stream, std::span<const std::uint8_t>(o.body.data() + o.offset, n), end);
                if (e == ApiError::buffer_full) continue;
                if (e != ApiError::none) die("send_data: " + std::string(to_string(e)));
                o.offset += n;
                if (end) o.done = true;
                continue;
            }
            if (!o.trailers.empty()) {
                const auto f = fields_of(o.trailers);
                const ApiError e = conn_.send_trailers(stream, f);
                if (e != ApiError::none) die("send_trailers: " + std::string(to_string(e)));
            }
            o.done = true;
        }
    }

    int fd_;
    Connection conn_;
    Clock::time_point start_;
    bool eof_ = false;
    std::map<std::uint32_t, Incoming> in_;
    std::map<std::uint32_t, Outgoing> out_;
};

// ---------------------------------------------------------------------------
// Client scenario (the other side is a Python h2 server, h2_server_peer.py)

int run_client(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
        die(std::string("connect: ") + std::strerror(errno));

    Config config;
    config.role = Role::client;
    config.settings.initial_window_size = 100000;  // smaller than the 3 MiB echo: flow control works for it
    config.connection_window_size = 200000;
    Driver d(fd, config);
    Connection& c = d.conn();

    auto submit = [&](std::vector<std::pair<std::string, std::string>> h, bool end) {
        const auto f = fields_of(h);
        const Submitted s = c.submit_request(f, end);
        if (!s) die("submit_request: " + std::string(to_string(s.error)));
        return s.stream;
    };
    const auto base = [](const std::string& method, const std::string& path) {
        return std::vector<std::pair<std::string, std::string>>{
            {":method", method}, {":scheme", "http"}, {":authority", "127.0.0.1"}, {":path", path}};
    };

    // Concurrently: big headers both ways, a 3 MiB echo with trailers, a
    // request the server resets.
    auto big_req = base("GET", "/big-headers");
    big_req.emplace_back("x-big-request", make_value(40000, 1));
    const std::uint32_t big = submit(big_req, true);

    const std::size_t echo_len = 3 * 1024 * 1024;
    const Bytes echo_body = make_body(echo_len, 2);
    auto echo_req = base("POST", "/echo");
    echo_req.emplace_back("content-length", std::to_string(echo_len));
    const std::uint32_t echo = submit(echo_req, false);
    d.send_body(echo, echo_body, {{"x-client-trailer", "ct-1"}});

    const std::uint32_t reset = submit(base("GET", "/reset"), true);

    // An upload we give up on: 50000 octets, then RST_STREAM CANCEL once they are out.
    const std::uint32_t cancel = submit(base("POST", "/cancel"), false);
    const Bytes cancel_body = make_body(50000, 9);
    if (c.send_data(cancel, cancel_body, false) != ApiError::none) die("send_data /cancel");
    bool cancel_sent = false;

    std::uint32_t goaway_stream = 0;
    bool goaway_seen = false;
    ErrorCode goaway_code = ErrorCode::internal_error;
    std::uint32_t goaway_last = 0;
    bool terminated = false;

    auto first_three_done = [&] {
        auto& in = d.in();
        return in[big].ended && in[echo].ended && (in[reset].reset || in[reset].ended);
    };
    const bool ok = d.run(
        [&](const Event& e) {
            if (const auto* g = std::get_if<GoawayReceived>(&e)) {
                goaway_seen = true;
                goaway_code = g->code;
                goaway_last = g->last_stream_id;
            }
            if (std::holds_alternative<ConnectionTerminated>(e)) terminated = true;
        },
        [&] {
            if (!cancel_sent && c.buffered(cancel) == 0) {
                if (c.reset_stream(cancel, ErrorCode::cancel) != ApiError::none) die("reset_stream /cancel");
                cancel_sent = true;
            }
            if (goaway_stream == 0 && cancel_sent && first_three_done())
                goaway_stream = submit(base("GET", "/goaway"), true);
            return goaway_stream != 0 && d.in()[goaway_stream].ended && goaway_seen;
        });
    (void)ok;
    auto& in = d.in();
    const Incoming& b = in[big];
    std::printf("RESULT big-headers status=%d x-big-len=%zu x-big-ok=%d req-len=%s\n", b.status, b.get("x-big").size(),
                b.get("x-big") == make_value(50000, 3) ? 1 : 0, b.get("x-req-len").c_str());
    const Incoming& e = in[echo];
    std::printf("RESULT echo status=%d body-len=%zu body-ok=%d server-trailer=%s client-trailer-echo=%s\n", e.status,
                e.body.size(), e.body == echo_body ? 1 : 0, e.trailer("x-server-trailer").c_str(),
                e.trailer("x-client-trailer-echo").c_str());
    const Incoming& r = in[reset];
    std::printf("RESULT reset reset=%d code=%u by=%s\n", r.reset ? 1 : 0, static_cast<unsigned>(r.reset_code),
                r.reset_by == Initiator::peer ? "peer" : "local");
    std::printf("RESULT cancel sent=%d stream=%u\n", cancel_sent ? 1 : 0, cancel);
    std::printf("RESULT goaway seen=%d code=%u last=%u stream=%u status=%d\n", goaway_seen ? 1 : 0,
                static_cast<unsigned>(goaway_code), goaway_last, goaway_stream, in[goaway_stream].status);
    (void)terminated;
    std::fflush(stdout);
    return 0;
}

// ---------------------------------------------------------------------------
// Server scenario (the other side is a Python h2 client, h2_client_peer.py)

int run_server() {
    const int ls = ::socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) die("socket");
    const int one = 1;
    ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(ls, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("bind");
    if (::listen(ls, 1) != 0) die("listen");
    socklen_t len = sizeof addr;
    ::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len);
    std::printf("PORT %u\n", static_cast<unsigned>(ntohs(addr.sin_port)));
    std::fflush(stdout);
    pollfd p{ls, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) die("no client within 30 s", 2);
    const int fd = ::accept(ls, nullptr, nullptr);
    ::close(ls);
    if (fd < 0) die("accept");

    Config config;
    config.role = Role::server;
    config.settings.initial_window_size = 100000;  // the 1.5 MiB upload is flow controlled
    config.connection_window_size = 300000;
    Driver d(fd, config);
    Connection& c = d.conn();
    bool terminated = false;
    bool shutdown_started = false;
    std::uint32_t shutdown_stream = 0;
    ErrorCode terminated_code = ErrorCode::internal_error;
    std::set<std::uint32_t> responded;

    auto respond = [&](std::uint32_t stream) {
        Incoming& req = d.in()[stream];
        const std::string path = req.get(":path");
        std::vector<std::pair<std::string, std::string>> h{{":status", "200"}};
        if (path == "/big") {
            h.emplace_back("x-req-len", std::to_string(req.get("x-big-request").size()));
            h.emplace_back("x-req-ok", req.get("x-big-request") == make_value(40000, 4) ? "1" : "0");
            h.emplace_back("x-big", make_value(50000, 5));
            const auto f = fields_of(h);
            if (c.submit_response(stream, f, false) != ApiError::none) die("submit_response /big");
            d.send_body(stream, make_body(2 * 1024 * 1024, 6), {});
        } else if (path == "/echo") {
            h.emplace_back("x-body-len", std::to_string(req.body.size()));
            h.emplace_back("x-big", make_value(40000, 7));
            const auto f = fields_of(h);
            if (c.submit_response(stream, f, false) != ApiError::none) die("submit_response /echo");
            d.send_body(stream, req.body,
                        {{"x-server-trailer", "st-1"}, {"x-client-trailer-echo", req.trailer("x-client-trailer")}});
        } else if (path == "/reset") {
            if (c.reset_stream(stream, ErrorCode::enhance_your_calm) != ApiError::none) die("reset_stream");
        } else if (path == "/shutdown") {
            // The graceful shutdown starts once this response is out (see below).
            const auto f = fields_of(h);
            if (c.submit_response(stream, f, false) != ApiError::none) die("submit_response /shutdown");
            shutdown_stream = stream;
            d.send_body(stream, make_body(1000, 8), {});
        } else {
            std::vector<std::pair<std::string, std::string>> nf{{":status", "404"}};
            const auto f = fields_of(nf);
            c.submit_response(stream, f, true);
        }
    };

    d.run(
        [&](const Event& e) {
            if (const auto* r = std::get_if<RequestReceived>(&e)) {
                std::printf("RESULT request stream=%u path=%.*s\n", r->stream, static_cast<int>(r->path.size()),
                            r->path.data());
                // /reset is answered with RST_STREAM at once; the rest once the request ended.
                if (r->path == "/reset" && responded.insert(r->stream).second) respond(r->stream);
            } else if (const auto* s = std::get_if<StreamEnded>(&e)) {
                if (responded.insert(s->stream).second) respond(s->stream);
            } else if (const auto* r2 = std::get_if<StreamReset>(&e)) {
                std::printf("RESULT reset stream=%u code=%u by=%s received=%zu\n", r2->stream,
                            static_cast<unsigned>(r2->code), r2->by == Initiator::peer ? "peer" : "local",
                            d.in()[r2->stream].body.size());
            } else if (const auto* t = std::get_if<ConnectionTerminated>(&e)) {
                terminated = true;
                terminated_code = t->code;
            }
            std::fflush(stdout);
        },
        [&] {
            if (shutdown_stream != 0 && !shutdown_started && d.body_done(shutdown_stream) &&
                c.buffered(shutdown_stream) == 0 && !c.wants_write()) {
                if (c.shutdown() != ApiError::none) die("shutdown");
                shutdown_started = true;
            }
            return terminated;
        });
    d.flush();
    std::printf("RESULT terminated=%d code=%u shutdown=%d shutdown-stream=%u\n", terminated ? 1 : 0,
                static_cast<unsigned>(terminated_code), shutdown_started ? 1 : 0, shutdown_stream);
    std::fflush(stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 3 && std::string_view(argv[1]) == "client") return run_client(std::atoi(argv[2]));
    if (argc >= 2 && std::string_view(argv[1]) == "server") return run_server();
    std::fprintf(stderr, "usage: h2wire-peer client <port> | h2wire-peer server\n");
    return 1;
}
