// h2wire-server: an HTTP/2 file and echo server on POSIX poll().
//
//     h2wire-server [--root DIR] [--host ADDR] [--port N] [--tls --cert FILE --key FILE] [--log]
//                   [--echo-buffer OCTETS]
//
// h2c with prior knowledge (RFC 9113 §3.3) or via an HTTP/1.1 upgrade
// (RFC 7540 §3.2), or h2 over TLS with ALPN when built with OpenSSL. Binds
// 127.0.0.1:8080 by default; --port 0 lets the kernel choose, and the first
// line on stdout says where it listens. SIGINT/SIGTERM: graceful shutdown
// (GOAWAY on every connection, open streams finish), then exit; a second
// signal exits at once. What it serves is in server/app.hpp.
//
// The loop, per connection, is the whole of embedding h2wire:
//     bytes = read(fd)            -> session.receive(bytes)
//     pieces = session.output()   -> n = writev(fd, pieces) -> session.written(n)
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "common/http1.hpp"
#include "common/net.hpp"
#include "server/app.hpp"

namespace {

using example::IoResult;

int signal_pipe[2] = {-1, -1};

void on_signal(int) {
    const char c = 's';
    [[maybe_unused]] const ssize_t n = ::write(signal_pipe[1], &c, 1);
}

struct Options {
    example::ServerConfig app;
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    bool tls = false;
    std::string cert, key;
};

// One accepted connection. Before HTTP/2 starts it may be an HTTP/1.1
// request asking for an h2c upgrade (RFC 7540 §3.2).
struct Client {
    // closing: everything is written and our FIN sent; input is discarded
    // until the peer closes too.
    enum class Mode : std::uint8_t { handshake, detect, h2, closing } mode = Mode::detect;
    std::unique_ptr<example::Transport> io;
    example::ServerSession session;
    std::string early;  // bytes before HTTP/2: the preface so far, or an HTTP/1.1 request
    std::string text;   // HTTP/1.1 text to write first (101, or an error)
    std::size_t text_sent = 0;
    bool close_after_text = false;
    bool write_blocked = false;  // the last write would have blocked: wait for POLLOUT
    bool dead = false;
    int quiet_rounds = 0;  // poll() timeouts in a row without traffic (trim() once at 2)

    Client(std::unique_ptr<example::Transport> t, const example::ServerConfig& cfg) : io(std::move(t)), session(cfg) {}
};

constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// An upgrade request's body arrives in HTTP/1.1 before HTTP/2 starts and is
// held whole (the library reports it as stream 1's DATA): bounded.
constexpr std::size_t max_upgrade_body = 8 * 1024 * 1024;

// The HTTP/1.1 request as HTTP/2 fields (RFC 9113 §8.3.1): pseudo-headers
// from the request line and Host, then the fields minus the connection-specific
// ones (RFC 9113 §8.2.2).
std::vector<h2wire::Field> h2_fields(const example::Http1Head& h) {
    std::vector<h2wire::Field> out;
    const std::string* host = h.one("host");
    out.push_back({":method", h.method});
    out.push_back({":scheme", "http"});
    if (host) out.push_back({":authority", *host});
    out.push_back({":path", h.target});
    for (const auto& [name, value] : h.fields) {
        if (name == "host" || name == "connection" || name == "upgrade" || name == "http2-settings" ||
            name == "expect" || name == "keep-alive" || name == "proxy-connection" || name == "transfer-encoding" ||
            (name == "te" && value != "trailers"))
            continue;
        out.push_back({name, value});
    }
    return out;
}

void refuse(Client& c, std::string_view status, std::string_view why) {
    c.text += "HTTP/1.1 " + std::string(status) +
              "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(why.size()) +
              "\r\nConnection: close\r\n\r\n" + std::string(why);
    c.close_after_text = true;
}

// Bytes that came before HTTP/2: either the start of the client preface
// (prior knowledge) or an HTTP/1.1 request with Upgrade: h2c.
void detect(Client& c, std::span<const std::uint8_t> bytes) {
    c.early.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const std::size_t k = std::min(c.early.size(), preface.size());
    if (std::string_view(c.early).substr(0, k) == preface.substr(0, k)) {
        if (c.early.size() < preface.size()) return;
        c.mode = Client::Mode::h2;
        c.session.receive(std::span(reinterpret_cast<const std::uint8_t*>(c.early.data()), c.early.size()));
        c.early.clear();
        return;
    }
    example::Http1Head head;
    const example::Http1Parse r = example::parse_request_head(c.early, head);
    if (r == example::Http1Parse::incomplete) return;
    if (r == example::Http1Parse::bad) return refuse(c, "400 Bad Request", "bad HTTP/1.1 request\n");
    const std::string* settings = head.one("http2-settings");
    // RFC 7540 §3.2, §3.2.1: Upgrade: h2c, exactly one HTTP2-Settings, both
    // named in Connection.
    if (!head.lists("upgrade", "h2c") || !settings || !head.lists("connection", "upgrade") ||
        !head.lists("connection", "http2-settings"))
        return refuse(c, "505 HTTP Version Not Supported",
                      "this server speaks HTTP/2: prior knowledge or h2c upgrade\n");
    std::size_t body_size = 0;
    if (head.one("transfer-encoding")) return refuse(c, "411 Length Required", "send content-length\n");
    if (const std::string* cl = head.one("content-length")) {
        char* end = nullptr;
        const unsigned long long n = std::strtoull(cl->c_str(), &end, 10);
        if (cl->empty() || *end != '\0') return refuse(c, "400 Bad Request", "bad content-length\n");
        // The body comes with the HTTP/1.1 request and is held whole: bounded.
        if (n > max_upgrade_body) return refuse(c, "413 Content Too Large", "upgrade requests carry at most 8 MiB\n");
        body_size = static_cast<std::size_t>(n);
    }
    if (c.early.size() < head.size + body_size) {  // the body is still coming
        // RFC 9110 §10.1.1: a client that sent Expect: 100-continue waits
        // for this before the body (curl does, for bodies over 1 MiB).
        if (head.lists("expect", "100-continue") && c.text.empty()) c.text = "HTTP/1.1 100 Continue\r\n\r\n";
        return;
    }
    const std::vector<h2wire::Field> fields = h2_fields(head);
    const auto body = std::span(reinterpret_cast<const std::uint8_t*>(c.early.data()) + head.size, body_size);
    if (c.session.upgrade(*settings, fields, body) != h2wire::ApiError::none)
        return refuse(c, "400 Bad Request", "bad h2c upgrade request\n");
    c.text += "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    c.mode = Client::Mode::h2;
    // Whatever followed the request is HTTP/2 already (the client preface).
    // The request itself is reported by the first receive(); until the
    // client's preface arrives only the 101 and our SETTINGS go out. (The
    // response could go at once, but curl 7.88 drops the connection when
    // more than 32 KiB follow the 101 in one read.)
    const std::string rest = c.early.substr(head.size + body_size);
    c.early.clear();
    if (!rest.empty()) c.session.receive(std::span(reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size()));
}

void on_readable(Client& c, std::vector<std::uint8_t>& buf) {
    while (!c.dead) {  // until the socket (and the TLS layer) has nothing more
        const IoResult r = c.io->read(buf);
        if (r.status == IoResult::again) return;
        if (r.status != IoResult::ok) {
            c.dead = true;  // the peer closed or the socket failed
            return;
        }
        const std::span<const std::uint8_t> bytes(buf.data(), r.n);
        if (c.mode == Client::Mode::closing) continue;
        if (c.mode == Client::Mode::h2)
            c.session.receive(bytes);
        else if (!c.close_after_text)
            detect(c, bytes);
    }
}

// Everything is written (an HTTP/1.1 refusal, or the output up to our last
// GOAWAY): FIN, then read until the peer closes. Closing with its input
// unread would make the kernel answer with RST, and the peer could lose the
// end of our output.
void close_gracefully(Client& c) {
    c.io->close_write();
    c.mode = Client::Mode::closing;
    c.close_after_text = false;
}

void on_writable(Client& c) {
    c.write_blocked = true;
    while (c.text_sent < c.text.size()) {
        const IoResult r = example::write_bytes(*c.io, std::string_view(c.text).substr(c.text_sent));
        if (r.status == IoResult::again) return;
        if (r.status != IoResult::ok) {
            c.dead = true;
            return;
        }
        c.text_sent += r.n;
    }
    if (c.close_after_text) {
        close_gracefully(c);
        return;
    }
    c.write_blocked = false;
    if (c.mode != Client::Mode::h2) return;
    c.write_blocked = true;
    for (;;) {
        const std::span<const h2wire::OutputChunk> out = c.session.output();
        if (out.empty()) break;
        const IoResult r = c.io->write(out);
        if (r.status == IoResult::again) return;
        if (r.status != IoResult::ok) {
            c.dead = true;
            return;
        }
        c.session.written(r.n);
    }
    c.write_blocked = false;
    if (c.session.finished()) close_gracefully(c);
}

// POLLOUT only while a write is blocked: output that can be written is
// written at once after every event (see the loop).
bool wants_write(const Client& c) {
    return c.write_blocked || c.io->wants_write();
}

int usage() {
    std::fprintf(stderr,
                 "usage: h2wire-server [--root DIR] [--host ADDR] [--port N] [--log] [--echo-buffer OCTETS]"
#ifdef H2WIRE_EXAMPLES_TLS
                 " [--tls --cert FILE --key FILE]"
#endif
                 "\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) std::exit(usage());
            return argv[++i];
        };
        if (a == "--root")
            opt.app.root = value();
        else if (a == "--host")
            opt.host = value();
        else if (a == "--port")
            opt.port = static_cast<std::uint16_t>(std::stoul(value()));
        else if (a == "--log")
            opt.app.log = true;
        else if (a == "--echo-buffer")
            opt.app.echo_buffer = std::stoull(value());
        else if (a == "--tls")
            opt.tls = true;
        else if (a == "--cert")
            opt.cert = value();
        else if (a == "--key")
            opt.key = value();
        else
            return usage();
    }
#ifdef H2WIRE_EXAMPLES_TLS
    std::shared_ptr<example::TlsContext> tls;
    if (opt.tls) {
        std::string err;
        tls = example::tls_server_context(opt.cert, opt.key, err);
        if (!tls) {
            std::fprintf(stderr, "h2wire-server: %s\n", err.c_str());
            return 1;
        }
    }
#else
    if (opt.tls) {
        std::fprintf(stderr, "h2wire-server: built without TLS (meson -Dtls=enabled needs libssl-dev)\n");
        return 1;
    }
#endif
    std::string err;
    const int listener = example::listen_tcp(opt.host, opt.port, err);
    if (listener < 0) {
        std::fprintf(stderr, "h2wire-server: %s\n", err.c_str());
        return 1;
    }
    std::printf("listening on %s:%u\n", opt.host.c_str(), opt.port);
    std::fflush(stdout);

    if (::pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return 1;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    std::list<Client> clients;
    std::vector<pollfd> fds;
    std::vector<Client*> polled;
    std::vector<std::uint8_t> buf(256 * 1024);
    int signals = 0;
    int listen_fd = listener;

    while (listen_fd >= 0 || !clients.empty()) {
        fds.clear();
        polled.clear();
        fds.push_back({signal_pipe[0], POLLIN, 0});
        if (listen_fd >= 0) fds.push_back({listen_fd, POLLIN, 0});
        for (Client& c : clients) {
            fds.push_back({c.io->fd(), static_cast<short>(POLLIN | (wants_write(c) ? POLLOUT : 0)), 0});
            polled.push_back(&c);
        }
        // A one-second tick: a connection quiet for two ticks gives back the
        // memory it kept for reuse (Connection::trim()); traffic resets it.
        const int ready = ::poll(fds.data(), fds.size(), clients.empty() ? -1 : 1000);
        if (ready < 0 && errno != EINTR) break;
        if (ready == 0) {
            for (Client& c : clients)
                if (c.mode == Client::Mode::h2 && ++c.quiet_rounds == 2) c.session.connection().trim();
            continue;
        }

        if (fds[0].revents & POLLIN) {
            char drain[16];
            while (::read(signal_pipe[0], drain, sizeof drain) > 0) ++signals;
            if (signals > 1) break;  // second signal: now
            // Graceful shutdown: no new connections; GOAWAY on each (RFC 9113
            // §6.8); connections close as their last streams finish.
            if (listen_fd >= 0) ::close(listen_fd);
            listen_fd = -1;
            for (Client& c : clients) {
                if (c.mode == Client::Mode::h2)
                    c.session.shutdown();
                else if (c.mode != Client::Mode::closing)
                    c.dead = true;
            }
        }
        const std::size_t first_client = listen_fd >= 0 ? 2 : 1;
        if (listen_fd >= 0 && (fds[1].revents & POLLIN)) {
            for (;;) {
                const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                // No Nagle: small writes (TLS sends a record per piece) must
                // not wait for the peer's delayed ACK.
                const int one = 1;
                ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef H2WIRE_EXAMPLES_TLS
                if (tls) {
                    Client& c = clients.emplace_back(example::tls_transport(fd, tls, true, {}), opt.app);
                    c.mode = Client::Mode::handshake;
                    continue;
                }
#endif
                clients.emplace_back(std::make_unique<example::Transport>(fd), opt.app);
            }
        }
        for (std::size_t i = 0; i < polled.size(); ++i) {
            Client& c = *polled[i];
            const short ev = fds[first_client + i].revents;
            if (c.mode == Client::Mode::handshake && ev) {
                const IoResult r = c.io->handshake();
                if (r.status == IoResult::ok) {
                    // RFC 9113 §3.2: over TLS, HTTP/2 only with ALPN "h2".
                    if (c.io->alpn() != "h2") c.dead = true;
                    c.mode = Client::Mode::h2;
                } else if (r.status != IoResult::again) {
                    c.dead = true;
                }
                if (c.mode == Client::Mode::handshake || c.dead) continue;
                on_readable(c, buf);  // the TLS layer may hold application data already
            } else if (ev & (POLLIN | POLLHUP | POLLERR)) {
                on_readable(c, buf);
            }
            if (ev) c.quiet_rounds = 0;
            if (!c.dead) on_writable(c);  // flush what reading produced, or what POLLOUT allows
        }
        clients.remove_if([](const Client& c) { return c.dead; });
    }
    return 0;
}
