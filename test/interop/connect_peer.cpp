// The h2wire side of the CONNECT / extended CONNECT interop tests (issue 6):
// a small HTTP/2 server or client over TCP on 127.0.0.1, driven by the
// connect_*.js / connect_*.py scripts next to this file, which play the
// other side with Node's http2 module or Python's h2.
//
//   connect-peer server                listen on 127.0.0.1 (kernel-chosen port),
//                                      print "PORT <n>", serve until killed
//   connect-peer client <port> [--no-classic]
//                                      run every client check on one
//                                      connection, print RESULT lines
//   connect-peer ws <port> <path>      WebSocket over HTTP/2 (RFC 8441): each
//                                      stdin line is a text message, each echo
//                                      is printed as "ECHO <text>"; stdin EOF
//                                      closes (1000)
//
// What the server answers (and the client expects from the other servers):
//   CONNECT :protocol websocket /ws    WebSocket echo (RFC 6455 framing)
//   CONNECT :protocol <any> /echo      byte echo; END_STREAM after the client's
//   CONNECT :authority echo.example:443   (classic, RFC 9113 §8.5) byte echo
//   CONNECT ... /deny                  403, body "denied"
//   CONNECT ... /reset                 200, then RST_STREAM CONNECT_ERROR on
//                                      the first DATA
//   CONNECT ... /stream?n=N            200 and N octets right away, END_STREAM
//   CONNECT ... /count                 200; at the client's END_STREAM, the
//                                      body "n=<octets> fnv=<fnv1a-64 hex>"
//   GET /                              200 "hello"
// Streams the client resets are reported on stdout as
//   "RESULT server-saw-reset path=<path> code=<name>".
//
// Exit 0 when everything passed, 1 on a failure, 2 on the deadline.
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
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "h2wire/connection.hpp"
#include "websocket/h2_tunnel.hpp"
#include "websocket/websocket.hpp"

namespace {

using namespace h2wire;
using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;
namespace ws = example::ws;

const auto deadline = Clock::now() + std::chrono::seconds(90);

[[noreturn]] void die(const std::string& why, int code = 1) {
    std::fprintf(stderr, "connect-peer: %s\n", why.c_str());
    std::fflush(stdout);
    std::exit(code);
}

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Octet i of the test pattern `tag` (the scripts generate the same).
std::uint8_t pattern(std::uint64_t i, unsigned tag) {
    return static_cast<std::uint8_t>((i * 7 + (i >> 8) + tag * 13) & 0xff);
}

struct Fnv {
    std::uint64_t h = 0xcbf29ce484222325ull;
    std::uint64_t n = 0;
    void add(std::span<const std::uint8_t> b) {
        for (const std::uint8_t c : b) h = (h ^ c) * 0x100000001b3ull;
        n += b.size();
    }
    std::string hex() const {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
        return buf;
    }
};

void set_nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/// A Connection on a socket.
class Link {
public:
    Link(int fd, const Config& cfg) : fd_(fd), conn(cfg) { set_nonblocking(fd_); }
    ~Link() {
        if (fd_ >= 0) ::close(fd_);
    }
    int fd() const { return fd_; }
    bool eof() const { return eof_; }

    /// Writes what it can without blocking.
    void write_some() {
        while (conn.wants_write()) {
            const auto out = conn.pending_output();
            const ssize_t n = ::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
                eof_ = true;
                return;
            }
            conn.consume_output(static_cast<std::size_t>(n));
        }
    }
    /// Reads what is there and hands each event to `on`.
    void read_some(const std::function<void(const Event&)>& on) {
        std::uint8_t buf[65536];
        for (;;) {
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n == 0) {
                eof_ = true;
                return;
            }
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) eof_ = true;
                return;
            }
            for (const Event& e : conn.receive(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)))) on(e);
        }
    }
    /// One poll round: waits for the socket (and `extra`, if >= 0), reads,
    /// writes. Returns the revents of `extra`.
    short step(const std::function<void(const Event&)>& on, int extra = -1, int timeout_ms = 100) {
        pollfd p[2] = {{fd_, static_cast<short>(POLLIN | (conn.wants_write() ? POLLOUT : 0)), 0}, {extra, POLLIN, 0}};
        const int r = ::poll(p, extra >= 0 ? 2 : 1, timeout_ms);
        if (r < 0 && errno != EINTR) die(std::string("poll: ") + std::strerror(errno));
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) read_some(on);
        write_some();
        return extra >= 0 ? p[1].revents : 0;
    }

private:
    int fd_;
    bool eof_ = false;

public:
    Connection conn;
};

// ---------------------------------------------------------------------------
// Server

struct ServerStream {
    enum class Kind { echo, websocket, reset, stream, count, discard } kind = Kind::discard;
    std::string path;
    ws::StreamWriter out;
    std::unique_ptr<ws::Tunnel> tunnel;
    std::size_t owed = 0;
    Fnv fnv;
};

class ServerApp {
public:
    explicit ServerApp(Link& link) : link_(link) {}

    void on_event(const Event& e) {
        Connection& c = link_.conn;
        if (std::getenv("CONNECT_PEER_TRACE")) std::fprintf(stderr, "server event %zu\n", e.index());
        std::visit(overloaded{
                       [&](const RequestReceived& r) { on_request(r); },
                       [&](const DataReceived& d) {
                           auto it = streams_.find(d.stream);
                           if (it == streams_.end()) {
                               c.consume(d.stream, d.flow_controlled_length);
                               return;
                           }
                           ServerStream& s = it->second;
                           switch (s.kind) {
                               case ServerStream::Kind::echo:
                                   s.out.append(d.data);
                                   s.owed += d.flow_controlled_length;
                                   break;
                               case ServerStream::Kind::websocket:
                                   s.tunnel->on_data(d.data, d.flow_controlled_length);
                                   break;
                               case ServerStream::Kind::reset:
                                   c.consume(d.stream, d.flow_controlled_length);
                                   c.reset_stream(d.stream, ErrorCode::connect_error);
                                   streams_.erase(it);
                                   break;
                               case ServerStream::Kind::count:
                                   s.fnv.add(d.data);
                                   [[fallthrough]];
                               default:
                                   c.consume(d.stream, d.flow_controlled_length);
                                   break;
                           }
                       },
                       [&](const StreamEnded& x) {
                           auto it = streams_.find(x.stream);
                           if (it == streams_.end()) return;
                           ServerStream& s = it->second;
                           if (s.kind == ServerStream::Kind::echo) s.out.end();
                           if (s.kind == ServerStream::Kind::websocket) s.tunnel->on_end();
                           if (s.kind == ServerStream::Kind::count) {
                               const std::string body = "n=" + std::to_string(s.fnv.n) + " fnv=" + s.fnv.hex();
                               s.out.append(bytes_of(body));
                               s.out.end();
                           }
                       },
                       [&](const StreamReset& r) {
                           auto it = streams_.find(r.stream);
                           if (r.by == Initiator::peer) {
                               std::printf("RESULT server-saw-reset path=%s code=%s\n",
                                           it == streams_.end() ? "?" : it->second.path.c_str(),
                                           std::string(to_string(r.code)).c_str());
                               std::fflush(stdout);
                           }
                           if (it != streams_.end()) streams_.erase(it);
                       },
                       [](const auto&) {},
                   },
                   e);
    }

    /// After each batch of events: moves queued output into the streams.
    void pump() {
        Connection& c = link_.conn;
        // RFC 9113 §8.1: a response complete before its request ends is
        // followed by RST_STREAM NO_ERROR, once it is all out (a reset drops
        // what is still queued).
        std::erase_if(early_, [&](std::uint32_t id) {
            if (c.buffered(id) > 0) return false;
            c.reset_stream(id, ErrorCode::no_error);
            return true;
        });
        for (auto it = streams_.begin(); it != streams_.end();) {
            ServerStream& s = it->second;
            const std::uint32_t id = it->first;
            bool done = false;
            if (s.tunnel) {
                s.tunnel->pump(c, true);
                done = s.tunnel->done();
            } else {
                s.out.flush(c, id);
                // Backpressure: window back only while the echo backlog is small.
                if (s.owed > 0 && s.out.pending() < 256 * 1024) {
                    c.consume(id, s.owed);
                    s.owed = 0;
                }
                done = s.out.ended();
            }
            // Kept until the peer's side ends too (its DATA still needs
            // consuming); the connection forgets closed streams by itself.
            if (done && c.buffered(id) == 0 && s.kind != ServerStream::Kind::discard &&
                s.kind != ServerStream::Kind::count && s.kind != ServerStream::Kind::echo)
                it = streams_.erase(it);
            else
                ++it;
        }
    }

private:
    void respond(std::uint32_t id, int status, std::string_view body) {
        Connection& c = link_.conn;
        const std::string st = std::to_string(status);
        const Field h[] = {{":status", st}, {"content-type", "text/plain"}};
        c.submit_response(id, h, body.empty());
        if (!body.empty()) c.send_data(id, bytes_of(body), true);
    }

    void on_request(const RequestReceived& r) {
        Connection& c = link_.conn;
        const std::uint32_t id = r.stream;
        const std::string path(r.path);
        if (r.method != "CONNECT") {
            respond(id, path == "/" ? 200 : 404, path == "/" ? "hello" : "not found");
            if (!r.end_stream) early_.push_back(id);
            return;
        }
        ServerStream s;
        s.path = r.protocol.empty() ? std::string(r.authority) : path;
        const Field ok[] = {{":status", "200"}};
        if (r.protocol.empty()) {
            // Classic CONNECT: only the one "origin" we pretend to reach.
            if (r.authority != "echo.example:443") {
                respond(id, 502, "no route");
                if (!r.end_stream) early_.push_back(id);
                return;
            }
            s.kind = ServerStream::Kind::echo;
        } else if (path == "/ws") {
            std::string_view why;
            const int status = ws::accept_status(r, &why);
            if (status != 200) {
                respond(id, status, why);
                if (!r.end_stream) early_.push_back(id);
                return;
            }
            s.kind = ServerStream::Kind::websocket;
            s.tunnel =
                std::make_unique<ws::Tunnel>(id, ws::Tunnel::Config{ws::Role::server, 1 << 20, 256 * 1024, true});
        } else if (path == "/echo") {
            s.kind = ServerStream::Kind::echo;
        } else if (path == "/deny") {
            respond(id, 403, "denied");
            if (!r.end_stream) early_.push_back(id);
            return;
        } else if (path == "/reset") {
            s.kind = ServerStream::Kind::reset;
        } else if (path.rfind("/stream?n=", 0) == 0) {
            s.kind = ServerStream::Kind::stream;
            const std::uint64_t n = std::strtoull(path.c_str() + 10, nullptr, 10);
            Bytes b(static_cast<std::size_t>(std::min<std::uint64_t>(n, 64u << 20)));
            for (std::size_t i = 0; i < b.size(); ++i) b[i] = pattern(i, 5);
            s.out.append(b);
            s.out.end();
        } else if (path == "/count") {
            s.kind = ServerStream::Kind::count;
        } else {
            respond(id, 404, "no such tunnel");
            if (!r.end_stream) early_.push_back(id);
            return;
        }
        // RFC 9113 §8.5: the 2xx opens the tunnel; DATA may follow at once.
        if (c.submit_response(id, ok, false) != ApiError::none) die("submit_response failed");
        streams_.emplace(id, std::move(s));
        if (r.end_stream) on_event(StreamEnded{id});
    }

    Link& link_;
    std::map<std::uint32_t, ServerStream> streams_;
    std::vector<std::uint32_t> early_;  // answered before the request ended
};

int run_server() {
    const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd, 16) != 0) die("bind/listen");
    socklen_t len = sizeof a;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
    std::printf("PORT %u\n", ntohs(a.sin_port));
    std::fflush(stdout);
    set_nonblocking(lfd);

    Config cfg{.role = Role::server};
    cfg.settings.enable_connect_protocol = true;  // RFC 8441 §3
    cfg.settings.initial_window_size = 256 * 1024;
    cfg.flow_control = FlowControl::manual;
    struct Served {
        std::unique_ptr<Link> link;
        std::unique_ptr<ServerApp> app;
    };
    std::vector<Served> served;
    while (Clock::now() < deadline) {
        std::vector<pollfd> p{{lfd, POLLIN, 0}};
        for (const Served& s : served)
            p.push_back({s.link->fd(), static_cast<short>(POLLIN | (s.link->conn.wants_write() ? POLLOUT : 0)), 0});
        ::poll(p.data(), p.size(), 200);
        if (p[0].revents & POLLIN) {
            const int fd = ::accept(lfd, nullptr, nullptr);
            if (fd >= 0) {
                Served s{std::make_unique<Link>(fd, cfg), nullptr};
                s.app = std::make_unique<ServerApp>(*s.link);
                served.push_back(std::move(s));
            }
        }
        for (std::size_t i = 0; i < served.size(); ++i) {
            Served& s = served[i];
            if (i + 1 < p.size() && (p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                s.link->read_some([&](const Event& e) { s.app->on_event(e); });
            s.app->pump();
            s.link->write_some();
        }
        std::erase_if(served, [](const Served& s) {
            return s.link->eof() || (s.link->conn.is_closed() && !s.link->conn.wants_write());
        });
    }
    return 2;
}

// ---------------------------------------------------------------------------
// Client

int connect_to(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
    return fd;
}

struct ClientStream {
    enum class Kind { echo, deny, reset, stream, count, websocket, client_reset, get } kind = Kind::get;
    std::string name;
    std::uint32_t id = 0;
    int status = 0;
    bool ended = false;  // the peer's END_STREAM
    bool reset = false;
    ErrorCode reset_code = ErrorCode::no_error;
    Initiator reset_by = Initiator::peer;
    Bytes body;  // small bodies
    Fnv got, want;
    std::uint64_t size = 0;
    bool sent_before_data = false;  // stream: we had sent nothing when its DATA ended
    ws::StreamWriter out;
    std::unique_ptr<ws::Tunnel> tunnel;
    std::vector<std::string> echoes;
    bool closing = false;
    std::string fail;  // empty: passed (once finished)
    bool finished = false;
};

class ClientApp {
public:
    ClientApp(Link& link, bool classic) : link_(link), classic_(classic) {}

    /// RFC 8441 §3: before the server's SETTINGS the client may not use
    /// :protocol; the API says so and sends nothing.
    void before_settings() {
        const Field h[] = {{":method", "CONNECT"},
                           {":protocol", "echo"},
                           {":scheme", "http"},
                           {":path", "/echo"},
                           {":authority", "localhost"}};
        const Submitted sub = link_.conn.submit_request(h, false);
        result("before-settings", sub.error == ApiError::connect_protocol_disabled,
               "submit before SETTINGS: " + std::string(to_string(sub.error)));
    }

    void on_event(const Event& e) {
        std::visit(
            overloaded{
                [&](const SettingsReceived& s) {
                    if (started_) return;
                    started_ = true;
                    result("settings", s.settings.enable_connect_protocol,
                           "SETTINGS_ENABLE_CONNECT_PROTOCOL=" + std::to_string(s.settings.enable_connect_protocol));
                    if (s.settings.enable_connect_protocol) start();
                },
                [&](const ResponseReceived& r) {
                    if (ClientStream* s = find(r.stream)) on_response(*s, r);
                },
                [&](const DataReceived& d) {
                    if (ClientStream* s = find(d.stream)) on_data(*s, d.data);
                },
                [&](const StreamEnded& x) {
                    if (ClientStream* s = find(x.stream)) {
                        s->ended = true;
                        if (s->tunnel) s->tunnel->on_end();
                        if (s->kind == ClientStream::Kind::stream && s->out.pending() == 0 && !s->out.ended())
                            s->sent_before_data = true;
                    }
                },
                [&](const StreamReset& r) {
                    if (ClientStream* s = find(r.stream)) {
                        s->reset = true;
                        s->reset_code = r.code;
                        s->reset_by = r.by;
                    }
                },
                [&](const ConnectionTerminated& t) {
                    terminated_ = true;
                    std::fprintf(stderr, "connection terminated: %s by %s (%.*s)\n",
                                 std::string(to_string(t.code)).c_str(), t.by == Initiator::local ? "us" : "peer",
                                 static_cast<int>(t.reason.size()), t.reason.data());
                },
                [](const auto&) {},
            },
            e);
    }

    void pump() {
        Connection& c = link_.conn;
        for (auto& [id, s] : streams_) {
            if (s.tunnel) {
                ws_progress(s);
                s.tunnel->pump(c, false);
            } else if (s.status == 200 || s.kind == ClientStream::Kind::echo || s.kind == ClientStream::Kind::count) {
                // Tunnel octets may go before the 2xx (the server buffers them).
                s.out.flush(c, id);
            }
            evaluate(s);
        }
    }

    bool done() const {
        if (terminated_) return true;
        if (!started_) return false;
        for (const auto& [id, s] : streams_)
            if (!s.finished) return false;
        return true;
    }

    int report() {
        int failures = failures_;
        for (auto& [id, s] : streams_) {
            evaluate(s);
            if (!s.finished && s.fail.empty()) s.fail = "did not finish";
            result(s.name, s.fail.empty(), s.fail.empty() ? "stream " + std::to_string(id) : s.fail);
            if (!s.fail.empty()) ++failures;
        }
        if (terminated_) {
            result("connection", false, "connection terminated");
            ++failures;
        }
        return failures;
    }

private:
    void result(const std::string& name, bool ok, const std::string& detail) {
        std::printf("RESULT %s %s %s\n", name.c_str(), ok ? "ok" : "FAIL", detail.c_str());
        std::fflush(stdout);
        if (!ok && (name == "before-settings" || name == "settings")) ++failures_;
    }

    ClientStream* find(std::uint32_t id) {
        auto it = streams_.find(id);
        return it == streams_.end() ? nullptr : &it->second;
    }

    void open(ClientStream s, std::vector<Field> headers) {
        const Submitted sub = link_.conn.submit_request(headers, false);
        if (!sub) {
            result(s.name, false, "submit_request: " + std::string(to_string(sub.error)));
            ++failures_;
            return;
        }
        s.id = sub.stream;
        streams_.emplace(sub.stream, std::move(s));
    }
    void open_ext(ClientStream s, std::string_view protocol, std::string_view path) {
        std::vector<Field> h = {{":method", "CONNECT"},
                                {":protocol", protocol},
                                {":scheme", "http"},
                                {":path", path},
                                {":authority", "localhost"}};
        if (protocol == "websocket") h.push_back({"sec-websocket-version", "13"});
        open(std::move(s), h);
    }
    static ClientStream make(ClientStream::Kind k, std::string name, std::uint64_t size = 0, unsigned tag = 0) {
        ClientStream s;
        s.kind = k;
        s.name = std::move(name);
        s.size = size;
        if (size > 0) {
            Bytes b(static_cast<std::size_t>(size));
            for (std::size_t i = 0; i < b.size(); ++i) b[i] = pattern(i, tag);
            s.want.add(b);
            if (k == ClientStream::Kind::echo || k == ClientStream::Kind::count ||
                k == ClientStream::Kind::client_reset) {
                s.out.append(b);
                if (k != ClientStream::Kind::client_reset) s.out.end();
            }
        }
        return s;
    }

    void start() {
        using K = ClientStream::Kind;
        open_ext(make(K::echo, "echo-8MiB", 8u << 20, 1), "echo", "/echo");
        if (classic_) {
            const std::vector<Field> h = {{":method", "CONNECT"}, {":authority", "echo.example:443"}};
            open(make(K::echo, "classic-connect-echo", 1u << 20, 2), h);
        }
        open_ext(make(K::deny, "non-2xx"), "echo", "/deny");
        open_ext(make(K::reset, "server-reset"), "echo", "/reset");
        open_ext(make(K::stream, "server-data-first", 1u << 20, 5), "echo", "/stream?n=1048576");
        open_ext(make(K::count, "upload-count", 3u << 20, 9), "echo", "/count");
        open_ext(make(K::websocket, "websocket"), "websocket", "/ws");
        open_ext(make(K::client_reset, "client-reset", 4096, 3), "echo", "/echo");
        for (unsigned i = 0; i < 8; ++i) {
            open_ext(make(K::echo, "many-echo-" + std::to_string(i), 256 * 1024 + i * 1000, 20 + i), "echo", "/echo");
            const std::vector<Field> g = {
                {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "localhost"}};
            ClientStream s = make(K::get, "many-get-" + std::to_string(i));
            const Submitted sub = link_.conn.submit_request(g, true);
            if (sub) {
                s.id = sub.stream;
                streams_.emplace(sub.stream, std::move(s));
            }
        }
    }

    void on_response(ClientStream& s, const ResponseReceived& r) {
        s.status = r.status;
        if (s.kind == ClientStream::Kind::websocket && r.status == 200) {
            s.tunnel =
                std::make_unique<ws::Tunnel>(s.id, ws::Tunnel::Config{ws::Role::client, 1 << 20, 256 * 1024, false});
            ws::Endpoint& ep = s.tunnel->endpoint();
            ep.send_text("hello h2wire");
            Bytes big(100000);
            for (std::size_t i = 0; i < big.size(); ++i) big[i] = pattern(i, 7);
            ep.send(ws::Opcode::binary, big, 16384);  // fragmented
            const std::uint8_t p[] = {'p', '1'};
            ep.ping(p);
            ep.send_text("h\xc3\xa9llo \xe2\x9c\x93", 3);  // UTF-8 split across fragments
        }
        if (s.kind == ClientStream::Kind::reset && r.status == 200) link_.conn.send_data(s.id, bytes_of("x"), false);
    }

    void on_data(ClientStream& s, std::span<const std::uint8_t> d) {
        if (s.tunnel) {
            s.tunnel->on_data(d, 0);
            return;
        }
        s.got.add(d);
        if (s.body.size() < 4096)
            s.body.insert(s.body.end(), d.begin(),
                          d.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(d.size(), 4096)));
        if (s.kind == ClientStream::Kind::client_reset && !s.reset) {
            link_.conn.reset_stream(s.id, ErrorCode::cancel);
            s.reset = true;
            s.reset_code = ErrorCode::cancel;
            s.reset_by = Initiator::local;
        }
    }

    void ws_progress(ClientStream& s) {
        ws::Endpoint& ep = s.tunnel->endpoint();
        while (!ep.messages().empty()) {
            ws::Message& m = ep.messages().front();
            s.echoes.push_back((m.opcode == ws::Opcode::text ? "T:" : "B:") + m.data);
            ep.messages().pop_front();
        }
        if (!s.closing && s.echoes.size() >= 3 && ep.pongs_received() >= 1) {
            ep.close(ws::close_code::normal, "done");
            s.closing = true;
        }
    }

    void evaluate(ClientStream& s) {
        if (s.finished) return;
        using K = ClientStream::Kind;
        auto finish = [&](std::string why) {
            s.finished = true;
            s.fail = std::move(why);
        };
        const std::string body(s.body.begin(), s.body.end());
        switch (s.kind) {
            case K::echo:
                if (s.reset) return finish("reset " + std::string(to_string(s.reset_code)));
                if (!s.ended) return;
                if (s.status != 200) return finish("status " + std::to_string(s.status));
                if (s.got.n != s.size || s.got.h != s.want.h)
                    return finish("echo differs: " + std::to_string(s.got.n) + " of " + std::to_string(s.size));
                return finish("");
            case K::deny:
                if (!s.ended && !s.reset) return;
                if (s.status != 403) return finish("status " + std::to_string(s.status));
                if (body != "denied") return finish("body '" + body + "'");
                return finish("");
            case K::reset:
                if (!s.reset) return;
                if (s.reset_by != Initiator::peer || s.reset_code != ErrorCode::connect_error)
                    return finish("reset " + std::string(to_string(s.reset_code)));
                return finish("");
            case K::stream:
                if (s.reset) return finish("reset");
                if (!s.ended) return;
                if (!s.out.ended()) {
                    // We send nothing until the server's data is all in.
                    s.out.end();
                    return;
                }
                if (s.got.n != s.size || s.got.h != s.want.h) return finish("data differs");
                if (!s.sent_before_data) return finish("data came after ours");
                return finish("");
            case K::count: {
                if (s.reset) return finish("reset");
                if (!s.ended) return;
                const std::string want = "n=" + std::to_string(s.size) + " fnv=" + s.want.hex();
                return finish(body == want ? "" : "got '" + body + "', want '" + want + "'");
            }
            case K::websocket: {
                if (s.reset) return finish("reset");
                if (s.status != 0 && s.status != 200) return finish("status " + std::to_string(s.status));
                if (!s.tunnel || !s.ended || !s.tunnel->done()) return;
                ws::Endpoint& ep = s.tunnel->endpoint();
                Bytes big(100000);
                for (std::size_t i = 0; i < big.size(); ++i) big[i] = pattern(i, 7);
                const std::vector<std::string> want = {"T:hello h2wire", "B:" + std::string(big.begin(), big.end()),
                                                       "T:h\xc3\xa9llo \xe2\x9c\x93"};
                if (s.echoes != want) return finish("echoes differ (" + std::to_string(s.echoes.size()) + ")");
                if (ep.pongs_received() != 1) return finish("no pong");
                if (ep.peer_close_code() != ws::close_code::normal)
                    return finish("close code " + std::to_string(ep.peer_close_code()));
                return finish("");
            }
            case K::client_reset:
                if (s.reset && s.reset_by == Initiator::local) return finish("");
                if (s.reset) return finish("reset by the peer");
                return;
            case K::get:
                if (!s.ended) return;
                return finish(
                    s.status == 200 && body == "hello" ? "" : "status " + std::to_string(s.status) + " '" + body + "'");
        }
    }

    Link& link_;
    bool classic_;
    bool started_ = false;
    bool terminated_ = false;
    int failures_ = 0;
    std::map<std::uint32_t, ClientStream> streams_;
};

int run_client(int port, bool classic) {
    Link link(connect_to(port), Config{.role = Role::client});
    ClientApp app(link, classic);
    app.before_settings();
    while (!app.done() && !link.eof() && Clock::now() < deadline) {
        link.step([&](const Event& e) { app.on_event(e); });
        app.pump();
        link.write_some();
    }
    const int failures = app.report();
    link.conn.goaway(ErrorCode::no_error);
    link.write_some();
    if (Clock::now() >= deadline) return 2;
    return failures == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------
// WebSocket client: stdin lines out, echoes printed

int run_ws(int port, std::string_view path) {
    Link link(connect_to(port), Config{.role = Role::client});
    std::uint32_t id = 0;
    std::unique_ptr<ws::Tunnel> tunnel;
    bool ended = false, failed = false, stdin_open = true;
    std::string line_buf;
    auto on = [&](const Event& e) {
        std::visit(overloaded{
                       [&](const SettingsReceived& s) {
                           if (id) return;
                           if (!s.settings.enable_connect_protocol) die("server did not enable extended CONNECT");
                           const Field h[] = {{":method", "CONNECT"},      {":protocol", "websocket"},
                                              {":scheme", "http"},         {":path", path},
                                              {":authority", "localhost"}, {"sec-websocket-version", "13"}};
                           const Submitted sub = link.conn.submit_request(h, false);
                           if (!sub) die("submit_request: " + std::string(to_string(sub.error)));
                           id = sub.stream;
                       },
                       [&](const ResponseReceived& r) {
                           if (r.stream != id) return;
                           if (r.status != 200) die("status " + std::to_string(r.status));
                           tunnel = std::make_unique<ws::Tunnel>(
                               id, ws::Tunnel::Config{ws::Role::client, 1 << 20, 256 * 1024, false});
                       },
                       [&](const DataReceived& d) {
                           if (tunnel && d.stream == id) tunnel->on_data(d.data, 0);
                       },
                       [&](const StreamEnded& x) {
                           if (x.stream != id) return;
                           ended = true;
                           if (tunnel) tunnel->on_end();
                       },
                       [&](const StreamReset& r) {
                           if (r.stream == id) failed = ended = true;
                       },
                       [&](const ConnectionTerminated&) { failed = ended = true; },
                       [](const auto&) {},
                   },
                   e);
    };
    while (Clock::now() < deadline && !link.eof()) {
        const short rev = link.step(on, tunnel && stdin_open ? 0 : -1);
        if (rev & (POLLIN | POLLHUP)) {
            char buf[4096];
            const ssize_t n = ::read(0, buf, sizeof buf);
            if (n <= 0) {
                stdin_open = false;
            } else {
                line_buf.append(buf, static_cast<std::size_t>(n));
            }
            for (std::size_t nl; (nl = line_buf.find('\n')) != std::string::npos;) {
                tunnel->endpoint().send_text(line_buf.substr(0, nl));
                line_buf.erase(0, nl + 1);
            }
            if (!stdin_open) {
                if (!line_buf.empty()) tunnel->endpoint().send_text(line_buf);
                tunnel->endpoint().close(ws::close_code::normal, "stdin closed");
            }
        }
        if (tunnel) {
            ws::Endpoint& ep = tunnel->endpoint();
            while (!ep.messages().empty()) {
                std::printf("ECHO %s\n", ep.messages().front().data.c_str());
                ep.messages().pop_front();
            }
            std::fflush(stdout);
            tunnel->pump(link.conn, false);
            if (ended && tunnel->done()) break;
        }
        if (ended && !tunnel) break;
        link.write_some();
    }
    link.write_some();
    if (!tunnel || failed) return 1;
    std::printf("CLOSED %u\n", tunnel->endpoint().peer_close_code());
    return tunnel->endpoint().peer_close_code() == ws::close_code::normal ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.size() >= 1 && args[0] == "server") return run_server();
    if (args.size() >= 2 && args[0] == "client")
        return run_client(std::atoi(argv[2]), !(args.size() >= 3 && args[2] == "--no-classic"));
    if (args.size() >= 3 && args[0] == "ws") return run_ws(std::atoi(argv[2]), args[2]);
    std::fprintf(stderr, "usage: connect-peer server | client <port> [--no-classic] | ws <port> <path>\n");
    return 1;
}
