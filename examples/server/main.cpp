// h2wire-server: an HTTP/2 file and echo server on POSIX poll().
//
//     h2wire-server [--root DIR] [--host ADDR] [--port N] [--tls --cert FILE --key FILE] [--log]
//                   [timeouts and budgets: --help, server/guard.cpp, docs/hardening.md]
//
// h2c with prior knowledge (RFC 9113 §3.3) or via an HTTP/1.1 upgrade
// (RFC 7540 §3.2), or h2 over TLS with ALPN when built with OpenSSL. Binds
// 127.0.0.1:8080 by default; --port 0 lets the kernel choose, and the first
// line on stdout says where it listens. SIGINT/SIGTERM: graceful shutdown
// (GOAWAY on every connection, open streams finish, the rest closed after
// --shutdown-timeout), then exit; a second signal exits at once. SIGUSR1:
// one line of memory figures on stderr. What it serves is in server/app.hpp.
//
// The loop, per connection, is the whole of embedding h2wire:
//     bytes = read(fd)            -> session.receive(bytes)
//     pieces = session.output()   -> n = writev(fd, pieces) -> session.written(n)
// and around it the loop's own defences (server/guard.hpp): at most
// --read-budget octets per connection per turn, timers checked every tick,
// a bounded drain after GOAWAY, and process-wide caps (server/budget.hpp).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "common/net.hpp"
#include "server/app.hpp"
#include "server/guard.hpp"
#include "server/prelude.hpp"

namespace {

using example::Clock;
using example::IoResult;

int signal_pipe[2] = {-1, -1};

void on_signal(int signo) {
    const char c = signo == SIGUSR1 ? 'u' : 's';
    [[maybe_unused]] const ssize_t n = ::write(signal_pipe[1], &c, 1);
}

// One accepted connection. Before HTTP/2 starts it may be an HTTP/1.1
// request asking for an h2c upgrade (RFC 7540 §3.2).
struct Client {
    enum class Mode : std::uint8_t { handshake, detect, h2 } mode = Mode::detect;
    std::unique_ptr<example::Transport> io;
    example::ServerSession session;
    example::ConnectionGuard guard;
    example::MemoryShare share;  // this connection in ProcessBudget::memory
    example::Prelude prelude;    // before HTTP/2: the preface so far, or an HTTP/1.1 request
    bool fin_sent = false;
    bool write_blocked = false;  // the last write would have blocked: wait for POLLOUT
    bool more_input = false;     // the read budget ran out before the socket did
    bool dead = false;

    Client(std::unique_ptr<example::Transport> t, const example::ServerOptions& opt, example::ProcessBudget& budget,
           Clock::time_point now)
        : io(std::move(t)), session(opt.app), guard(opt.guard, now), share(&budget), prelude(opt.guard, budget) {}

    void update_share() { share.set(session.memory_used() + prelude.memory() + sizeof(Client)); }
};

// The SETTINGS timeout ran out before HTTP/2 started.
void handshake_timeout(Client& c, Clock::time_point now) {
    if (c.mode == Client::Mode::handshake) {  // TLS never finished
        c.dead = true;
        return;
    }
    c.prelude.timeout(c.session, c.guard, now);
    if (c.prelude.done()) c.mode = Client::Mode::h2;
}

void on_readable(Client& c, std::vector<std::uint8_t>& buf, const example::ServerOptions& opt, Clock::time_point now) {
    // At most read_budget octets per turn: a connection that floods us
    // cannot keep the loop from the others. What is left is read next turn
    // (more_input: the TLS layer may hold it, where poll() cannot see it).
    std::size_t got = 0;
    c.more_input = false;
    while (!c.dead) {
        if (got >= opt.guard.read_budget) {
            c.more_input = true;
            return;
        }
        const std::size_t want = std::min(buf.size(), opt.guard.read_budget - got);
        const IoResult r = c.io->read(std::span(buf).first(want));
        if (r.status == IoResult::again) return;
        if (r.status != IoResult::ok) {
            c.dead = true;  // the peer closed or the socket failed
            return;
        }
        got += r.n;
        c.guard.traffic(now);
        const std::span<const std::uint8_t> bytes(buf.data(), r.n);
        if (c.guard.draining()) {
            // After GOAWAY (or an HTTP/1.1 refusal) input is not processed:
            // a bounded amount is read so that our last words can arrive.
            if (!c.guard.discard(r.n)) c.dead = true;
            continue;
        }
        if (c.mode == Client::Mode::h2) {
            c.session.receive(bytes);
            if (c.session.connection().is_closed()) c.guard.start_drain(now);
        } else {
            c.prelude.receive(bytes, c.session, c.guard, now);
            if (c.prelude.done()) c.mode = Client::Mode::h2;
        }
    }
}

// Everything is written (an HTTP/1.1 refusal, or the output up to our last
// GOAWAY): FIN, then read (and discard, within the drain budget) until the
// peer closes or the drain deadline. Closing with its input unread would make
// the kernel answer with RST, and the peer could lose the end of our output.
void send_fin(Client& c) {
    if (c.fin_sent) return;
    c.fin_sent = true;
    c.io->close_write();
}

void on_writable(Client& c, Clock::time_point now) {
    c.write_blocked = true;
    while (!c.prelude.text().empty()) {  // HTTP/1.1 first: 100 Continue, 101, or a refusal
        const IoResult r = example::write_bytes(*c.io, c.prelude.text());
        if (r.status == IoResult::again) return;
        if (r.status != IoResult::ok) {
            c.dead = true;
            return;
        }
        c.prelude.text_written(r.n);
        c.guard.traffic(now);
    }
    c.write_blocked = false;
    if (c.prelude.refused()) {
        send_fin(c);
        return;
    }
    if (c.mode != Client::Mode::h2 || c.fin_sent) return;
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
        c.guard.traffic(now);
    }
    c.write_blocked = false;
    if (c.session.connection().is_closed()) c.guard.start_drain(now);
    if (c.session.finished()) send_fin(c);
}

// POLLOUT only while a write is blocked: output that can be written is
// written at once after every event (see the loop).
bool wants_write(const Client& c) {
    return c.write_blocked || c.io->wants_write();
}

// The timers of one connection, on every tick.
void check_timers(Client& c, Clock::time_point now) {
    if (c.guard.draining()) {
        if (c.guard.drain_expired(now)) c.dead = true;  // flushed or not: the peer had its chance
        return;
    }
    if (c.mode != Client::Mode::h2) {
        if (c.guard.handshake_expired(now)) handshake_timeout(c, now);
        return;
    }
    if (!c.guard.check(c.session, now)) c.dead = true;
}

// Over the process memory cap: GOAWAY ENHANCE_YOUR_CALM (or an HTTP/1.1 503)
// for a connection that shed_largest() chose.
void shed(Client& c, Clock::time_point now) {
    if (c.mode == Client::Mode::h2) {
        c.session.goaway(h2wire::ErrorCode::enhance_your_calm, "server memory cap");
        c.guard.start_drain(now);
    } else if (c.mode == Client::Mode::detect && !c.prelude.refused()) {
        c.prelude.shed(c.guard, now);
    } else {
        c.dead = true;
    }
}

void print_stats(const std::list<Client>& clients, const example::ProcessBudget& budget) {
    std::size_t library = 0;
    for (const Client& c : clients) library += c.session.connection().memory_used();
    std::fprintf(stderr, "memory: connections=%zu total=%zu library=%zu echo=%zu upgrade=%zu\n", clients.size(),
                 budget.memory, library, budget.echo, budget.upgrade);
}

}  // namespace

int main(int argc, char** argv) {
    example::ServerOptions opt;
    if (!example::parse_server_args(argc, argv, "h2wire-server", opt)) return 2;
    example::ProcessBudget& budget = opt.budget;
    opt.app.budget = &budget;
    std::shared_ptr<example::TlsContext> tls;  // null: plain
    const int listener = example::listen_server(opt.host, opt.port, opt.tls, opt.cert, opt.key, "h2wire-server", tls);
    if (listener < 0) return 1;
    // Signals are handled before anyone learns where we listen.
    if (::pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return 1;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGUSR1, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    std::printf("listening on %s:%u\n", opt.host.c_str(), opt.port);
    std::fflush(stdout);

    std::list<Client> clients;
    std::vector<pollfd> fds;
    std::vector<Client*> polled;
    // One buffer for every connection: what a read brings is handed to
    // receive() at once, and the session copies what it keeps.
    std::vector<std::uint8_t> buf(std::min<std::size_t>(opt.guard.read_budget, 64 * 1024));
    int signals = 0;
    int listen_fd = listener;
    const example::Millis tick = opt.guard.tick();
    Clock::time_point now = Clock::now();
    Clock::time_point next_tick = now + tick;
    Clock::time_point accept_paused_until{};
    Clock::time_point last_accept_error{};
    Clock::time_point shutdown_deadline = Clock::time_point::max();

    while (listen_fd >= 0 || !clients.empty()) {
        fds.clear();
        polled.clear();
        fds.push_back({signal_pipe[0], POLLIN, 0});
        // The listener is polled only while we may accept: under the
        // connection and memory caps, and not backing off after EMFILE.
        const bool accepting = listen_fd >= 0 && budget.may_accept() && now >= accept_paused_until;
        if (accepting) fds.push_back({listen_fd, POLLIN, 0});
        bool more_input = false;
        for (Client& c : clients) {
            fds.push_back({c.io->fd(), static_cast<short>(POLLIN | (wants_write(c) ? POLLOUT : 0)), 0});
            polled.push_back(&c);
            more_input = more_input || c.more_input;
        }
        int timeout = -1;
        if (!clients.empty() || (listen_fd >= 0 && !accepting))
            timeout = static_cast<int>(
                std::max<std::int64_t>(std::chrono::duration_cast<example::Millis>(next_tick - now).count() + 1, 0));
        if (more_input) timeout = 0;
        const int ready = ::poll(fds.data(), fds.size(), timeout);
        if (ready < 0 && errno != EINTR) break;
        now = Clock::now();

        if (ready > 0 && (fds[0].revents & POLLIN)) {
            char drain[16];
            ssize_t n;
            bool stop = false;
            while ((n = ::read(signal_pipe[0], drain, sizeof drain)) > 0) {
                for (ssize_t i = 0; i < n; ++i) {
                    if (drain[i] == 'u')
                        print_stats(clients, budget);
                    else
                        stop = true, ++signals;
                }
            }
            if (signals > 1) break;  // second signal: now
            if (stop) {
                // Graceful shutdown: no new connections; GOAWAY on each (RFC
                // 9113 §6.8); connections close as their last streams finish,
                // or at the shutdown deadline.
                if (listen_fd >= 0) ::close(listen_fd);
                listen_fd = -1;
                shutdown_deadline = now + opt.guard.shutdown_timeout;
                for (Client& c : clients) {
                    if (c.mode == Client::Mode::h2)
                        c.session.shutdown();
                    else if (!c.guard.draining())
                        c.dead = true;
                    if (!c.dead) on_writable(c, now);
                }
            }
        }
        const std::size_t first_client = accepting ? 2 : 1;
        if (accepting && listen_fd >= 0 && (fds[1].revents & POLLIN)) {
            while (budget.may_accept()) {
                const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                    if (errno == EINTR || errno == ECONNABORTED) continue;
                    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        // Out of descriptors (or memory): the pending
                        // connection stays in the backlog and the listener
                        // stays readable. Retrying at once would spin; stop
                        // polling it for a while instead.
                        accept_paused_until = now + opt.guard.accept_backoff;
                        if (now - last_accept_error >= std::chrono::seconds(1)) {
                            std::fprintf(stderr, "accept: %s (backing off)\n", std::strerror(errno));
                            last_accept_error = now;
                        }
                    }
                    break;
                }
                // No Nagle: small writes (TLS sends a record per piece) must
                // not wait for the peer's delayed ACK.
                const int one = 1;
                ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef H2WIRE_EXAMPLES_TLS
                if (tls) {
                    Client& c = clients.emplace_back(example::tls_transport(fd, tls, true, {}), opt, budget, now);
                    c.mode = Client::Mode::handshake;
                    c.update_share();
                    continue;
                }
#endif
                clients.emplace_back(std::make_unique<example::Transport>(fd), opt, budget, now).update_share();
            }
        }
        for (std::size_t i = 0; i < polled.size(); ++i) {
            Client& c = *polled[i];
            if (c.dead) continue;
            const short ev = ready > 0 ? fds[first_client + i].revents : 0;
            if (!ev && !c.more_input) continue;
            if (c.mode == Client::Mode::handshake) {
                const IoResult r = c.io->handshake();
                if (r.status == IoResult::ok) {
                    // RFC 9113 §3.2: over TLS, HTTP/2 only with ALPN "h2".
                    if (c.io->alpn() != "h2") c.dead = true;
                    c.mode = Client::Mode::h2;
                    c.guard.traffic(now);
                } else if (r.status != IoResult::again) {
                    c.dead = true;
                }
                if (c.mode == Client::Mode::handshake || c.dead) continue;
                on_readable(c, buf, opt, now);  // the TLS layer may hold application data already
            } else if ((ev & (POLLIN | POLLHUP | POLLERR)) || c.more_input) {
                on_readable(c, buf, opt, now);
            }
            if (!c.dead) on_writable(c, now);  // flush what reading produced, or what POLLOUT allows
            c.update_share();
        }
        if (now >= next_tick) {
            next_tick = now + tick;
            for (Client& c : clients) {
                if (c.dead) continue;
                check_timers(c, now);
                if (!c.dead && c.mode != Client::Mode::handshake) on_writable(c, now);  // RST_STREAM, GOAWAY
                c.update_share();
            }
            if (now >= shutdown_deadline) {
                std::fprintf(stderr, "shutdown: %zu connection(s) still open after the deadline: closing\n",
                             clients.size());
                break;
            }
        }
        if (budget.over_memory()) {
            // Draining connections are on their way out and do not count.
            example::shed_largest(
                clients, budget.memory_cap,
                [](const Client& c) { return c.guard.draining() || c.dead ? 0 : c.share.held(); },
                [now](Client& c) { shed(c, now); });
            for (Client& c : clients)
                if (!c.dead) on_writable(c, now);
        }
        clients.remove_if([](const Client& c) { return c.dead; });
    }
    return 0;
}
