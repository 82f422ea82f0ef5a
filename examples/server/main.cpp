// h2wire-server: an HTTP/2 file and echo server on epoll (Linux) or poll().
//
//     h2wire-server [--root DIR] [--host ADDR] [--port N] [--tls --cert FILE --key FILE] [--log]
//                   [--threads N] [--poll] [--file-cache SIZE ...]
//                   [timeouts and budgets: --help, server/guard.cpp, docs/hardening.md]
//
// h2c with prior knowledge (RFC 9113 §3.3) or via an HTTP/1.1 upgrade
// (RFC 7540 §3.2), or h2 over TLS with ALPN when built with OpenSSL. Binds
// 127.0.0.1:8080 by default; --port 0 lets the kernel choose, and the first
// line on stdout says where it listens. SIGINT/SIGTERM: graceful shutdown
// (GOAWAY on every connection, open streams finish, the rest closed after
// --shutdown-timeout), then exit; a second signal exits at once. SIGUSR1:
// one line of memory figures per loop on stderr. What it serves is in
// server/app.hpp.
//
// The loop, per connection, is the whole of embedding h2wire:
//     bytes = read(fd)            -> session.receive(bytes)
//     pieces = session.output()   -> n = writev(fd, pieces) -> session.written(n)
// and around it the loop's own defences (server/guard.hpp): at most
// --read-budget octets per connection per turn, timers checked every tick,
// a bounded drain after GOAWAY, and caps per loop (server/budget.hpp).
//
// Readiness comes from server/poller.hpp: epoll on Linux (only the sockets
// that are ready cost anything per turn), poll() with --poll or elsewhere.
// --threads N runs N such loops, each on its own thread with its own
// listening socket on the same port (SO_REUSEPORT: the kernel spreads new
// connections), its own file cache and its share of the caps; a connection
// stays on the loop that accepted it, so nothing is shared and nothing is
// locked.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/net.hpp"
#include "server/app.hpp"
#ifdef H2WIRE_EXAMPLES_H3
#include "h3/session.hpp"
#include "quic/quic.hpp"
#endif
#include "server/file_cache.hpp"
#include "server/guard.hpp"
#include "server/poller.hpp"
#include "server/prelude.hpp"

namespace {

using example::Clock;
using example::IoResult;

// One pipe per loop; the handler writes to each (write(2) is
// async-signal-safe), so every loop hears every signal.
constexpr unsigned max_loops = 256;
int signal_pipes[max_loops] = {};
std::atomic<unsigned> signal_pipe_count{0};

void on_signal(int signo) {
    const char c = signo == SIGUSR1 ? 'u' : 's';
    const unsigned n = signal_pipe_count.load();
    for (unsigned i = 0; i < n; ++i) [[maybe_unused]] const ssize_t w = ::write(signal_pipes[i], &c, 1);
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
    bool plain = true;                 // no TLS: a short read means the socket is drained
    bool polled_out = false;           // the poller watches for writability
    bool reaping = false;              // dead, and on the loop's list to be removed
    bool asleep = false;               // on the sleeping list: its timers need nothing before wake_at
    unsigned turn = 0;                 // the loop turn that served it last
    std::list<Client>::iterator self;  // in the active or the sleeping list
    std::multimap<Clock::time_point, Client*>::iterator wake_at;  // while asleep

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
        const bool drained = c.plain && r.n < want;
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
        // A plain socket that gave less than asked for is empty now: no
        // read just to hear EAGAIN (level-triggered readiness reports the
        // next octets). TLS may hold decrypted input the socket does not show.
        if (drained) return;
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

void print_stats(const std::list<Client>& active, const std::list<Client>& sleeping,
                 const example::ProcessBudget& budget, const example::FileCache& cache, unsigned loop, unsigned loops) {
    std::size_t library = 0;
    for (const Client& c : active) library += c.session.connection().memory_used();
    for (const Client& c : sleeping) library += c.session.connection().memory_used();
    char which[32] = "";
    if (loops > 1) std::snprintf(which, sizeof which, " loop=%u", loop);
    std::fprintf(stderr, "memory: connections=%zu total=%zu library=%zu echo=%zu upgrade=%zu file_cache=%zu%s\n",
                 active.size() + sleeping.size(), budget.memory, library, budget.echo, budget.upgrade, cache.bytes(),
                 which);
}

// One event loop: its listening socket, its connections, its caps and its
// file cache. Runs on its own thread (or the main one).
struct Loop {
    unsigned index = 0, count = 1;
    example::ServerOptions opt;  // this loop's copy: caps divided among the loops
    int listen_fd = -1;
    int signal_fd = -1;  // read end of this loop's signal pipe
    std::shared_ptr<example::TlsContext> tls;
};

class LoopRunner {
public:
    explicit LoopRunner(Loop& l)
        : l_(l),
          opt_(l.opt),
          budget_(opt_.budget),
          cache_(opt_.file_cache),
          poller_(example::make_poller(opt_.use_poll)),
          // One buffer for every connection: what a read brings is handed to
          // receive() at once, and the session copies what it keeps.
          buf_(std::min<std::size_t>(opt_.guard.read_budget, 64 * 1024)),
          listen_fd_(l.listen_fd) {
        opt_.app.budget = &budget_;
        opt_.app.file_cache = &cache_;
    }

    void run();

private:
    void watch_listener(bool accepting);
    void accept_all();
    void on_signal_pipe();
    void serve(Client& c, bool readable);
    void watch(Client& c);
    void flush(Client& c) {  // after a timer or the shutdown queued output
        if (c.dead) return;
        on_writable(c, now_);
        watch(c);
    }
    void reap(Client& c);
    void reap_all_dead();
    // Timers: connections whose timers can have nothing to do before a
    // known time (idle ones: the idle timeout, the trim) sleep until then,
    // so that a tick costs O(active connections), not O(all).
    void sleep(Client& c, Clock::time_point until);
    void wake(Client& c);
    void wake_all();
    bool no_clients() const { return active_.empty() && sleeping_.empty(); }

    Loop& l_;
    example::ServerOptions& opt_;
    example::ProcessBudget& budget_;
    example::FileCache cache_;
    std::unique_ptr<example::Poller> poller_;
    std::vector<std::uint8_t> buf_;
    int listen_fd_;
    std::list<Client> active_, sleeping_;
    std::multimap<Clock::time_point, Client*> wake_;  // the sleeping ones, by when their timers are due
    std::vector<example::Poller::Ready> ready_;
    std::vector<Client*> more_, next_more_;  // input left over after the read budget
    std::vector<Client*> dying_;
    bool listening_ = false;  // the listener is in the poller
    bool reap_everything_ = false;
    bool quit_ = false;
    int signals_ = 0;
    unsigned turn_ = 0;
    Clock::time_point now_ = Clock::now();
    Clock::time_point accept_paused_until_{}, last_accept_error_{};
    Clock::time_point shutdown_deadline_ = Clock::time_point::max();
    // Tags for the two descriptors that are not connections.
    static inline char signal_tag = 0, listen_tag = 0;
};

// The listener is watched only while we may accept: under the connection
// and memory caps, and not backing off after EMFILE.
void LoopRunner::watch_listener(bool accepting) {
    if (accepting == listening_) return;
    if (accepting)
        poller_->add(listen_fd_, &listen_tag, false);
    else
        poller_->remove(listen_fd_);
    listening_ = accepting;
}

void LoopRunner::accept_all() {
    while (budget_.may_accept()) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors (or memory): the pending connection
                // stays in the backlog and the listener stays readable.
                // Retrying at once would spin; stop watching it for a while.
                accept_paused_until_ = now_ + opt_.guard.accept_backoff;
                if (now_ - last_accept_error_ >= std::chrono::seconds(1)) {
                    std::fprintf(stderr, "accept: %s (backing off)\n", std::strerror(errno));
                    last_accept_error_ = now_;
                }
            }
            break;  // EAGAIN: no more waiting (another loop may have taken it)
        }
        // No Nagle: small writes (TLS sends a record per piece) must not
        // wait for the peer's delayed ACK. Our writes are whole batches of
        // frames (one writev per turn), so nothing is lost by it.
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::unique_ptr<example::Transport> io;
        bool tls = false;
#ifdef H2WIRE_EXAMPLES_TLS
        if (l_.tls) {
            io = example::tls_transport(fd, l_.tls, true, {});
            tls = true;
        }
#endif
        if (!io) io = std::make_unique<example::Transport>(fd);
        io->set_max_write(opt_.write_max);
        Client& c = active_.emplace_back(std::move(io), opt_, budget_, now_);
        c.self = std::prev(active_.end());
        c.plain = !tls;
        if (tls) c.mode = Client::Mode::handshake;
        c.update_share();
        c.polled_out = wants_write(c);
        if (!poller_->add(fd, &c, c.polled_out)) {
            active_.erase(c.self);  // closes it
            break;
        }
    }
}

void LoopRunner::on_signal_pipe() {
    char drain[16];
    ssize_t n;
    bool stop = false;
    while ((n = ::read(l_.signal_fd, drain, sizeof drain)) > 0) {
        for (ssize_t i = 0; i < n; ++i) {
            if (drain[i] == 'u')
                print_stats(active_, sleeping_, budget_, cache_, l_.index, l_.count);
            else
                stop = true, ++signals_;
        }
    }
    if (signals_ > 1) {  // second signal: now
        quit_ = true;
        return;
    }
    if (!stop) return;
    // Graceful shutdown: no new connections; GOAWAY on each (RFC 9113
    // §6.8); connections close as their last streams finish, or at the
    // shutdown deadline.
    if (listen_fd_ >= 0) {
        watch_listener(false);
        ::close(listen_fd_);
        listen_fd_ = -1;
    }
    shutdown_deadline_ = now_ + opt_.guard.shutdown_timeout;
    wake_all();
    for (Client& c : active_) {
        if (c.mode == Client::Mode::h2)
            c.session.shutdown();
        else if (!c.guard.draining())
            c.dead = true;
        flush(c);
    }
    reap_everything_ = true;  // at the end of the turn: `ready_` may still name them
}

// What the poller reported for one connection (or its input left over).
void LoopRunner::serve(Client& c, bool readable) {
    c.turn = turn_;
    wake(c);  // something happened: its timers are checked again from the next tick
    if (c.mode == Client::Mode::handshake) {
        const IoResult r = c.io->handshake();
        if (r.status == IoResult::ok) {
            // RFC 9113 §3.2: over TLS, HTTP/2 only with ALPN "h2".
            if (c.io->alpn() != "h2") c.dead = true;
            c.mode = Client::Mode::h2;
            c.guard.traffic(now_);
        } else if (r.status != IoResult::again) {
            c.dead = true;
        }
        if (c.mode == Client::Mode::handshake || c.dead) {
            if (!c.dead) watch(c);
            return;
        }
        readable = true;  // the TLS layer may hold application data already
    }
    if (readable || c.more_input) {
        on_readable(c, buf_, opt_, now_);
        if (c.more_input && !c.dead) next_more_.push_back(&c);
    }
    if (!c.dead) on_writable(c, now_);  // flush what reading produced, or what POLLOUT allows
    c.update_share();
    watch(c);
}

// POLLOUT only while a write is blocked: output that can be written is
// written at once after every event.
void LoopRunner::watch(Client& c) {
    if (c.dead) {
        if (!c.reaping) dying_.push_back(&c);
        c.reaping = true;
        return;
    }
    const bool out = wants_write(c);
    if (out != c.polled_out) {
        poller_->set_out(c.io->fd(), &c, out);
        c.polled_out = out;
    }
}

void LoopRunner::reap(Client& c) {
    poller_->remove(c.io->fd());
    if (c.asleep) {
        wake_.erase(c.wake_at);
        sleeping_.erase(c.self);
    } else {
        active_.erase(c.self);  // the transport closes the socket
    }
}

void LoopRunner::reap_all_dead() {
    dying_.clear();
    for (std::list<Client>* list : {&active_, &sleeping_}) {
        for (auto it = list->begin(); it != list->end();) {
            Client& c = *it++;
            if (c.dead) reap(c);
        }
    }
}

void LoopRunner::sleep(Client& c, Clock::time_point until) {
    sleeping_.splice(sleeping_.end(), active_, c.self);  // iterators stay valid
    c.wake_at = wake_.emplace(until, &c);
    c.asleep = true;
}

void LoopRunner::wake(Client& c) {
    if (!c.asleep) return;
    wake_.erase(c.wake_at);
    active_.splice(active_.end(), sleeping_, c.self);
    c.asleep = false;
}

void LoopRunner::wake_all() {
    for (Client& c : sleeping_) c.asleep = false;
    active_.splice(active_.end(), sleeping_);
    wake_.clear();
}

void LoopRunner::run() {
    poller_->add(l_.signal_fd, &signal_tag, false);
    const example::Millis tick = opt_.guard.tick();
    Clock::time_point next_tick = now_ + tick;

    while (!quit_ && (listen_fd_ >= 0 || !no_clients())) {
        const bool accepting = listen_fd_ >= 0 && budget_.may_accept() && now_ >= accept_paused_until_;
        watch_listener(accepting);
        int timeout = -1;
        if (!no_clients() || (listen_fd_ >= 0 && !accepting))
            timeout = static_cast<int>(
                std::max<std::int64_t>(std::chrono::duration_cast<example::Millis>(next_tick - now_).count() + 1, 0));
        more_.swap(next_more_);
        next_more_.clear();
        if (!more_.empty()) timeout = 0;
        const int n = poller_->wait(timeout, ready_);
        if (n < 0 && errno != EINTR) break;
        now_ = Clock::now();
        cache_.set_time(now_);
        ++turn_;

        for (const example::Poller::Ready& r : ready_) {
            if (r.tag == &signal_tag) {
                on_signal_pipe();
                if (quit_) return;
            } else if (r.tag == &listen_tag) {
                if (listening_) accept_all();
            } else {
                Client& c = *static_cast<Client*>(r.tag);
                if (!c.dead) serve(c, r.in);
            }
        }
        for (Client* c : more_)  // the rest of what the read budget left, unless served above
            if (!c->dead && c->turn != turn_) serve(*c, false);
        // Connections that died this turn go now; nothing refers to them
        // after this (the leftover-input list forgets them first).
        std::erase_if(next_more_, [](const Client* c) { return c->dead; });
        if (reap_everything_) {
            reap_all_dead();
            reap_everything_ = false;
        }
        for (Client* c : dying_) reap(*c);
        dying_.clear();

        if (now_ >= next_tick) {
            next_tick = now_ + tick;
            while (!wake_.empty() && wake_.begin()->first <= now_) wake(*wake_.begin()->second);
            for (auto it = active_.begin(); it != active_.end();) {
                Client& c = *it++;  // before sleep() moves it
                if (c.dead) {
                    watch(c);  // on dying_, if it is not yet
                    continue;
                }
                check_timers(c, now_);  // may end it
                // Only a connection with something to write is written to
                // (RST_STREAM, GOAWAY, a refusal): an idle one costs a timer
                // check, no system call.
                if (!c.dead && !c.write_blocked &&
                    (c.mode == Client::Mode::detect ||
                     (c.mode == Client::Mode::h2 && (c.session.wants_write() || c.session.finished()))))
                    on_writable(c, now_);
                c.update_share();
                watch(c);  // a dead one goes on dying_
                if (c.dead) continue;
                // An HTTP/2 connection with no stream, nothing to write and no
                // SETTINGS in flight needs its timers only at its idle
                // timeout or trim: until then it sleeps.
                if (c.mode == Client::Mode::h2 && !c.write_blocked && !c.more_input && !c.session.wants_write())
                    if (const auto until = c.guard.quiet_until(c.session); until > now_) sleep(c, until);
            }
            // The leftover-input list forgets the dead before they go.
            std::erase_if(next_more_, [](const Client* c) { return c->dead; });
            for (Client* c : dying_) reap(*c);
            dying_.clear();
            if (now_ >= shutdown_deadline_) {
                std::fprintf(stderr, "shutdown: %zu connection(s) still open after the deadline: closing\n",
                             active_.size() + sleeping_.size());
                return;
            }
        }
        if (budget_.over_memory()) {
            // Draining connections are on their way out and do not count.
            const Clock::time_point now = now_;
            wake_all();
            example::shed_largest(
                active_, budget_.memory_cap,
                [](const Client& c) { return c.guard.draining() || c.dead ? 0 : c.share.held(); },
                [now](Client& c) { shed(c, now); });
            for (Client& c : active_) flush(c);
            dying_.clear();
            std::erase_if(next_more_, [](const Client* c) { return c->dead; });
            reap_all_dead();
        }
    }
}

}  // namespace

#ifdef H2WIRE_EXAMPLES_H3
// --h3-port: HTTP/3 on its own thread, with its own QUIC event loop and file
// cache, answering with the same routing (server/route.cpp) as the HTTP/2
// loops; it stops when they do.
struct Http3Side {
    std::unique_ptr<example::quic::QuicServer> server;
    std::unique_ptr<example::FileCache> cache;
    example::h3ex::H3ServerConfig config;
    std::atomic<bool> stop{false};
    std::thread thread;

    bool start(const example::ServerOptions& opt) {
        example::quic::ServerConfig qc;
        qc.host = opt.host;
        qc.port = static_cast<std::uint16_t>(opt.h3_port);
        qc.cert_file = opt.cert;
        qc.key_file = opt.key;
        qc.max_connections = std::max<std::size_t>(opt.budget.max_connections, 1);
        qc.limits.idle_timeout = opt.guard.idle_timeout;
        cache = std::make_unique<example::FileCache>(opt.file_cache);
        config.root = opt.app.root;
        config.file_cache = opt.file_cache.max_bytes != 0 ? cache.get() : nullptr;
        config.log = opt.app.log;
        std::string err;
        server = example::quic::QuicServer::create(
            qc,
            [this](example::quic::QuicConnection& q) -> std::unique_ptr<example::quic::QuicStreamHandler> {
                return std::make_unique<example::h3ex::H3ServerSession>(q, config);
            },
            err);
        if (!server) {
            std::fprintf(stderr, "h2wire-server: HTTP/3: %s\n", err.c_str());
            return false;
        }
        return true;
    }
    void run() {
        thread = std::thread([this] {
            example::quic::EventLoop loop;
            loop.add(*server);
            while (!stop.load()) {
                cache->set_time(std::chrono::steady_clock::now());
                if (!loop.run_once(std::chrono::milliseconds(100))) break;
            }
            server->close_all(0x100);  // H3_NO_ERROR (RFC 9114 §8.1)
            server->flush(example::quic::now());
            loop.remove(*server);
        });
    }
    void finish() {
        stop = true;
        if (thread.joinable()) thread.join();
    }
};
#endif

int main(int argc, char** argv) {
    example::ServerOptions opt;
    if (!example::parse_server_args(argc, argv, "h2wire-server", opt)) return 2;
#ifdef H2WIRE_EXAMPLES_H3
    Http3Side h3;
    if (opt.h3_port >= 0) {
        if (!opt.tls) {
            std::fprintf(stderr, "h2wire-server: --h3-port needs --tls --cert FILE --key FILE\n");
            return 2;
        }
        if (!h3.start(opt)) return 1;
        // RFC 7838 §3: the same origin over HTTP/3 on this UDP port.
        if (opt.app.alt_svc.empty()) opt.app.alt_svc = "h3=\":" + std::to_string(h3.server->port()) + "\"";
    }
#else
    if (opt.h3_port >= 0) {
        std::fprintf(stderr, "h2wire-server: built without HTTP/3 (ngtcp2 and GnuTLS were not found)\n");
        return 2;
    }
#endif
    const unsigned loops = std::min(opt.threads, max_loops);
    std::vector<Loop> loop(loops);
    std::shared_ptr<example::TlsContext> tls;  // null: plain
    for (unsigned i = 0; i < loops; ++i) {
        Loop& l = loop[i];
        l.index = i;
        l.count = loops;
        l.opt = opt;
        // The caps are the process's: each loop enforces its share.
        example::ProcessBudget& b = l.opt.budget;
        b.max_connections = std::max<std::size_t>((opt.budget.max_connections + loops - 1) / loops, 1);
        b.memory_cap = opt.budget.memory_cap / loops;
        b.echo_cap = opt.budget.echo_cap / loops;
        b.upgrade_cap = opt.budget.upgrade_cap / loops;
        l.opt.file_cache.max_bytes = opt.file_cache.max_bytes / loops;
        // The first listener picks the port (--port 0), the others share it.
        if (i == 0) {
            l.listen_fd =
                example::listen_server(opt.host, opt.port, opt.tls, opt.cert, opt.key, "h2wire-server", tls, loops > 1);
        } else {
            std::string err;
            l.listen_fd = example::listen_tcp(opt.host, opt.port, err, true);
            if (l.listen_fd < 0) std::fprintf(stderr, "h2wire-server: %s\n", err.c_str());
        }
        if (l.listen_fd < 0) return 1;
        l.tls = tls;
        int p[2];
        if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return 1;
        l.signal_fd = p[0];
        signal_pipes[i] = p[1];
    }
    signal_pipe_count = loops;
    // Signals are handled before anyone learns where we listen.
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGUSR1, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
#ifdef H2WIRE_EXAMPLES_H3
    if (h3.server) {  // (before the "listening on" line that scripts wait for)
        std::printf("http/3 on udp %s:%u\n", opt.host.c_str(), static_cast<unsigned>(h3.server->port()));
        h3.run();
    }
#endif
    std::printf("listening on %s:%u\n", opt.host.c_str(), opt.port);
    std::fflush(stdout);

    // Every loop hears every signal, so a graceful shutdown (and a second
    // signal) ends them all.
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < loops; ++i) threads.emplace_back([&loop, i] { LoopRunner(loop[i]).run(); });
    LoopRunner(loop[0]).run();
    for (std::thread& t : threads) t.join();
#ifdef H2WIRE_EXAMPLES_H3
    h3.finish();
#endif
    return 0;
}
