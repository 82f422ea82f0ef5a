// h2wire-asio-server: the example file server (examples/server/app.hpp) on
// standalone Asio instead of poll(). The application and the h2wire
// connection are the same; only the loop that moves bytes differs, which is
// the point: h2wire does not care whose loop it runs in.
//
//     h2wire-asio-server [--root DIR] [--host 127.0.0.1] [--port 8080] [--log]
//                        [--tls --cert FILE --key FILE] [--threads N] [--file-cache SIZE ...]
//                        [timeouts and budgets: as h2wire-server, server/guard.cpp]
//
// With --port 0 the kernel picks a port; the first line on stdout is always
// "listening on ADDRESS:PORT". SIGINT/SIGTERM: graceful shutdown (GOAWAY,
// open streams finish, the rest closed after --shutdown-timeout, then exit
// 0); a second signal closes everything at once. SIGUSR1: one line of memory
// figures on stderr.
//
// Reads: plain TCP waits for readability (async_wait) and then reads, without
// blocking, into one buffer that all sessions share: an idle session holds no
// input buffer. TLS reads with async_read_some into a 16 KiB buffer (one TLS
// record) of its own, made when the handshake is done. The pieces from
// ServerSession::output() are views into the connection, valid until the next
// call on the session, so they are never lent to an operation that outlives
// the call:
//   plain TCP: they go out at once, as much as the socket takes (write_some
//     on a non-blocking socket); only when it is full do we wait for it to
//     drain (async_wait), then ask for the output again;
//   TLS (asio::ssl, when built with OpenSSL; ALPN h2 only, RFC 9113 §3.2):
//     encryption copies anyway, so up to 64 KiB of output is copied, handed
//     back with written(), and sent with async_write.
// The defences are the poll server's (server/guard.hpp, server/budget.hpp):
// one timer for the whole server ticks every session's ConnectionGuard, a
// bounded drain after GOAWAY, accept backs off on EMFILE, and a process
// memory cap sheds the largest session. h2c upgrade (HTTP/1.1 Upgrade: h2c)
// is left to the poll() server.
#include <asio.hpp>
#ifdef H2WIRE_ASIO_TLS
#include <openssl/ssl.h>

#include <asio/ssl.hpp>
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "server/app.hpp"
#include "server/file_cache.hpp"
#include "server/guard.hpp"

namespace {

using asio::ip::tcp;
using example::Clock;

class Server;

#ifdef H2WIRE_ASIO_TLS
using TlsStream = asio::ssl::stream<tcp::socket>;
#endif

/// What the server needs of a session, plain or TLS.
class SessionBase {
public:
    virtual ~SessionBase() = default;
    /// Graceful shutdown (RFC 9113 §6.8): GOAWAY; open streams finish.
    virtual void shutdown() = 0;
    /// The server's timer: the session's ConnectionGuard, then its output.
    virtual void tick(Clock::time_point now) = 0;
    /// Over the process memory cap: GOAWAY ENHANCE_YOUR_CALM.
    virtual void shed(Clock::time_point now) = 0;
    virtual void close() = 0;
    virtual bool draining() const = 0;
    virtual std::size_t memory() const = 0;
    virtual std::size_t library_memory() const = 0;
    /// Until when tick() has nothing to do if nothing happens meanwhile
    /// (ConnectionGuard::quiet_until()); a time already past: tick it on
    /// every tick.
    virtual Clock::time_point quiet_until() const = 0;

    // The server's bookkeeping: a quiet session sleeps out of the ticks.
    bool asleep = false;
    std::multimap<Clock::time_point, SessionBase*>::iterator wake_at;
};

/// One accepted connection: a stream (a socket, or TLS over one) and the
/// application's session.
template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
    static constexpr bool tls = !std::is_same_v<Stream, tcp::socket>;
    static constexpr std::size_t tls_read_size = 16 * 1024;   // one TLS record
    static constexpr std::size_t tls_write_size = 64 * 1024;  // copied per async_write

public:
    Session(Stream stream, Server& server);
    ~Session() override;

    void start();
    void shutdown() override {
        if (closed_) return;
        app_.shutdown();
        flush();
    }
    void tick(Clock::time_point now) override;
    void shed(Clock::time_point now) override {
        if (closed_) return;
        app_.goaway(h2wire::ErrorCode::enhance_your_calm, "server memory cap");
        guard_.start_drain(now);
        flush();
    }
    void close() override;
    bool draining() const override { return guard_.draining() || closed_; }
    std::size_t memory() const override { return share_.held(); }
    std::size_t library_memory() const override { return app_.connection().memory_used(); }
    Clock::time_point quiet_until() const override {
        if (closed_ || !handshake_done_ || waiting_write_ || app_.wants_write()) return {};
        return guard_.quiet_until(app_);
    }

private:
    tcp::socket& socket() {
        if constexpr (tls)
            return stream_.next_layer();
        else
            return stream_;
    }
    void read();
    void on_readable(const asio::error_code& ec);
    void on_read(const asio::error_code& ec, std::size_t n);
    bool take(std::span<const std::uint8_t> bytes, Clock::time_point now);
    void flush();
    void flush_plain();
    void flush_tls();
    void output_done();
    void update_share();

    Stream stream_;
    Server& server_;
    example::ServerSession app_;
    example::ConnectionGuard guard_;
    example::MemoryShare share_;
    std::vector<asio::const_buffer> out_;     // plain: the output pieces for write_some
    std::vector<std::uint8_t> copy_;          // TLS: output copied for async_write
    std::unique_ptr<std::uint8_t[]> tls_in_;  // TLS: what async_read_some fills
    bool handshake_done_ = !tls;
    bool reading_ = false;        // a read (or a wait for readability) is in flight
    bool waiting_write_ = false;  // socket full (plain) or async_write in flight (TLS)
    bool fin_sent_ = false, closed_ = false;
};

/// The listening socket, the live sessions, the signals and the timers.
class Server {
public:
    /// `reuse_port`: SO_REUSEPORT, for one Server per thread on one port.
    Server(asio::io_context& io, const tcp::endpoint& at, const example::ServerOptions& opt, bool reuse_port,
           unsigned index, unsigned count)
        : io_(io),
          acceptor_(io),
          signals_(io, SIGINT, SIGTERM, SIGUSR1),
          tick_timer_(io),
          accept_timer_(io),
          opt_(opt),
          cache_(opt.file_cache),
          read_buffer_(std::min<std::size_t>(opt.guard.read_budget, 64 * 1024)),
          index_(index),
          count_(count) {
        opt_.app.budget = &opt_.budget;
        opt_.app.file_cache = &cache_;
        acceptor_.open(at.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        if (reuse_port) {
            const int one = 1;
            ::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        }
        acceptor_.bind(at);
        acceptor_.listen(1024);
    }
#ifdef H2WIRE_ASIO_TLS
    void use_tls(asio::ssl::context* tls) {
        tls_ = tls;
    }
#endif

    std::uint16_t port() const {
        return acceptor_.local_endpoint().port();
    }
    asio::io_context& io() {
        return io_;
    }
    const example::ServerOptions& options() const {
        return opt_;
    }
    example::ProcessBudget& budget() {
        return opt_.budget;
    }
    /// Plain sessions read into this, one at a time (one thread), and
    /// receive() copies what it keeps.
    std::span<std::uint8_t> read_buffer() {
        return read_buffer_;
    }
    /// This loop's cache of small files; reads no clock, so the sessions
    /// tell it the time as input arrives.
    example::FileCache& cache() {
        return cache_;
    }

    void start() {
        accept();
        wait_signal();
        arm_tick();
    }
    void add(SessionBase* s) {
        live_.insert(s);
        ticking_.insert(s);
    }
    void remove(SessionBase* s) {
        live_.erase(s);
        if (s->asleep)
            asleep_.erase(s->wake_at);
        else
            ticking_.erase(s);
        if (stopping_ && live_.empty()) stop_waiting();  // nothing left: let run() return
    }

private:
    void accept() {
        if (stopping_) return;
        // Under the connection and memory caps only; otherwise the
        // connection waits in the backlog and we look again shortly.
        if (!opt_.budget.may_accept()) return accept_later();
        acceptor_.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
            if (ec) {
                if (ec == asio::error::operation_aborted || stopping_) return;
                const int e = ec.value();
                if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                    // Out of descriptors: the connection stays in the
                    // backlog and the listener stays readable. Accepting
                    // again at once would spin; back off instead.
                    const Clock::time_point now = Clock::now();
                    if (now - last_accept_error_ >= std::chrono::seconds(1)) {
                        std::fprintf(stderr, "accept: %s (backing off)\n", ec.message().c_str());
                        last_accept_error_ = now;
                    }
                    return accept_later();
                }
                std::fprintf(stderr, "accept: %s\n", ec.message().c_str());
                return accept();
            }
            asio::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
#ifdef H2WIRE_ASIO_TLS
            if (tls_) {
                std::make_shared<Session<TlsStream>>(TlsStream(std::move(socket), *tls_), *this)->start();
                return accept();
            }
#endif
            std::make_shared<Session<tcp::socket>>(std::move(socket), *this)->start();
            accept();
        });
    }
    void accept_later() {
        accept_timer_.expires_after(opt_.guard.accept_backoff);
        accept_timer_.async_wait([this](const asio::error_code& ec) {
            if (!ec) accept();
        });
    }

    void arm_tick() {
        tick_timer_.expires_after(opt_.guard.tick());
        tick_timer_.async_wait([this](const asio::error_code& ec) {
            if (ec) return;
            on_tick(Clock::now());
            arm_tick();
        });
    }

public:
    /// Something happened on `s` (input): its timers are checked on every
    /// tick again.
    void wake(SessionBase* s) {
        if (!s->asleep) return;
        asleep_.erase(s->wake_at);
        s->asleep = false;
        ticking_.insert(s);
    }

private:
    void wake_all() {
        while (!asleep_.empty()) wake(asleep_.begin()->second);
    }

    // The timers of the sessions that are not asleep (a quiet one sleeps
    // until its idle timeout or trim, so 10,000 idle sessions cost nothing
    // per tick); the shutdown deadline; the memory cap. A session leaves
    // live_ only when destroyed, after its pending handlers ran, so none
    // goes away during these loops.
    void on_tick(Clock::time_point now) {
        while (!asleep_.empty() && asleep_.begin()->first <= now) wake(asleep_.begin()->second);
        for (auto it = ticking_.begin(); it != ticking_.end();) {
            SessionBase* s = *it;
            s->tick(now);
            if (const Clock::time_point until = s->quiet_until(); until > now) {
                it = ticking_.erase(it);
                s->wake_at = asleep_.emplace(until, s);
                s->asleep = true;
            } else {
                ++it;
            }
        }
        if (stopping_ && now >= shutdown_deadline_) {
            std::fprintf(stderr, "shutdown: %zu connection(s) still open after the deadline: closing\n", live_.size());
            for (SessionBase* s : live_) s->close();
        }
        if (opt_.budget.over_memory()) wake_all();
        if (opt_.budget.over_memory())
            example::shed_largest(
                live_, opt_.budget.memory_cap, [](const SessionBase* s) { return s->draining() ? 0 : s->memory(); },
                [now](SessionBase* s) { s->shed(now); });
    }

    void wait_signal() {
        signals_.async_wait([this](const asio::error_code& ec, int signo) {
            if (ec) return;  // cancelled: the last session is gone
            if (signo == SIGUSR1) {
                print_stats();
                return wait_signal();
            }
            if (stopping_) {
                std::fprintf(stderr, "signal %d again: closing every connection now\n", signo);
                for (SessionBase* s : live_) s->close();
                return;
            }
            std::fprintf(stderr, "signal %d: shutting down (%zu connection(s) open)\n", signo, live_.size());
            stopping_ = true;
            shutdown_deadline_ = Clock::now() + opt_.guard.shutdown_timeout;
            asio::error_code ignored;
            acceptor_.close(ignored);
            accept_timer_.cancel();
            wake_all();
            for (SessionBase* s : live_) s->shutdown();
            if (live_.empty()) return stop_waiting();
            wait_signal();
        });
    }

    void stop_waiting() {
        signals_.cancel();
        tick_timer_.cancel();
        accept_timer_.cancel();
    }

    void print_stats() const {
        std::size_t library = 0;
        for (const SessionBase* s : live_) library += s->library_memory();
        char which[32] = "";
        if (count_ > 1) std::snprintf(which, sizeof which, " loop=%u", index_);
        std::fprintf(stderr, "memory: connections=%zu total=%zu library=%zu echo=%zu upgrade=%zu file_cache=%zu%s\n",
                     live_.size(), opt_.budget.memory, library, opt_.budget.echo, opt_.budget.upgrade, cache_.bytes(),
                     which);
    }

    asio::io_context& io_;
    tcp::acceptor acceptor_;
    asio::signal_set signals_;
    asio::steady_timer tick_timer_, accept_timer_;
    example::ServerOptions opt_;  // this loop's copy: its share of the caps
    example::FileCache cache_;
    std::vector<std::uint8_t> read_buffer_;
    unsigned index_, count_;
    std::unordered_set<SessionBase*> live_;
    std::unordered_set<SessionBase*> ticking_;               // live_ less the sleeping ones
    std::multimap<Clock::time_point, SessionBase*> asleep_;  // by when their timers are due
    bool stopping_ = false;
    Clock::time_point shutdown_deadline_ = Clock::time_point::max();
    Clock::time_point last_accept_error_{};
#ifdef H2WIRE_ASIO_TLS
    asio::ssl::context* tls_ = nullptr;
#endif
};

template <class Stream>
Session<Stream>::Session(Stream stream, Server& server)
    : stream_(std::move(stream)),
      server_(server),
      app_(server.options().app),
      guard_(server.options().guard, Clock::now()),
      share_(&server.budget()) {
    server_.add(this);
    update_share();
}

template <class Stream>
Session<Stream>::~Session() {
    server_.remove(this);
}

template <class Stream>
void Session<Stream>::update_share() {
    share_.set(sizeof(*this) + app_.memory_used() + copy_.capacity() + (tls_in_ ? tls_read_size : 0));
}

template <class Stream>
void Session<Stream>::start() {
    if constexpr (tls) {
#ifdef H2WIRE_ASIO_TLS
        stream_.async_handshake(asio::ssl::stream_base::server,
                                [self = this->shared_from_this()](const asio::error_code& ec) {
                                    if (ec || self->closed_) {
                                        self->close();
                                        return;
                                    }
                                    // RFC 9113 §3.2: over TLS, HTTP/2 only if ALPN chose "h2".
                                    const unsigned char* p = nullptr;
                                    unsigned int n = 0;
                                    SSL_get0_alpn_selected(self->stream_.native_handle(), &p, &n);
                                    if (n != 2 || p[0] != 'h' || p[1] != '2') {
                                        self->close();
                                        return;
                                    }
                                    self->handshake_done_ = true;
                                    self->tls_in_ = std::make_unique_for_overwrite<std::uint8_t[]>(tls_read_size);
                                    self->guard_.traffic(Clock::now());
                                    self->read();
                                    self->flush();
                                });
#endif
    } else {
        asio::error_code ignored;
        stream_.non_blocking(true, ignored);
        read();
        flush();
    }
}

template <class Stream>
void Session<Stream>::read() {
    if (reading_ || closed_) return;
    reading_ = true;
    if constexpr (tls) {
        stream_.async_read_some(asio::buffer(tls_in_.get(), tls_read_size),
                                [self = this->shared_from_this()](const asio::error_code& ec, std::size_t n) {
                                    self->reading_ = false;
                                    self->on_read(ec, n);
                                });
    } else {
        // Wait for readability, not for a read: no buffer is tied up while
        // the connection is quiet.
        stream_.async_wait(tcp::socket::wait_read, [self = this->shared_from_this()](const asio::error_code& ec) {
            self->reading_ = false;
            self->on_readable(ec);
        });
    }
}

// Bytes that arrived: to the session, or, once the connection is over,
// discarded within the drain budget. False: close now.
template <class Stream>
bool Session<Stream>::take(std::span<const std::uint8_t> bytes, Clock::time_point now) {
    guard_.traffic(now);
    server_.wake(this);
    if (guard_.draining()) return guard_.discard(bytes.size());
    app_.receive(bytes);
    if (app_.connection().is_closed()) guard_.start_drain(now);
    return true;
}

// Plain TCP: read what is there into the shared buffer, at most the read
// budget; then yield to the other sessions (post) if there may be more.
template <class Stream>
void Session<Stream>::on_readable(const asio::error_code& ec) {
    if (closed_) return;
    if (ec) {
        close();
        return;
    }
    const Clock::time_point now = Clock::now();
    server_.cache().set_time(now);
    const std::size_t budget = server_.options().guard.read_budget;
    const std::span<std::uint8_t> buf = server_.read_buffer();
    std::size_t got = 0;
    bool more = false;
    for (;;) {
        if (got >= budget) {
            more = true;
            break;
        }
        asio::error_code rec;
        const std::size_t n = socket().read_some(asio::buffer(buf.data(), std::min(buf.size(), budget - got)), rec);
        if (rec == asio::error::would_block || rec == asio::error::try_again) break;
        if (rec) {  // end of stream or an error: the peer is gone
            close();
            return;
        }
        got += n;
        if (!take(std::span<const std::uint8_t>(buf.data(), n), now)) {
            close();
            return;
        }
    }
    flush();
    update_share();
    if (!more) return read();
    reading_ = true;
    asio::post(server_.io(), [self = this->shared_from_this()] {
        self->reading_ = false;
        self->on_readable({});
    });
}

// TLS: one record's worth per completion.
template <class Stream>
void Session<Stream>::on_read(const asio::error_code& ec, std::size_t n) {
    if (closed_) return;
    if (ec) {  // end of stream or an error: the peer is gone
        close();
        return;
    }
    const Clock::time_point now = Clock::now();
    server_.cache().set_time(now);
    if (!take(std::span<const std::uint8_t>(tls_in_.get(), n), now)) {
        close();
        return;
    }
    flush();
    update_share();
    read();
}

template <class Stream>
void Session<Stream>::tick(Clock::time_point now) {
    if (closed_) return;
    if (!handshake_done_) {
        if (guard_.handshake_expired(now)) close();  // the TLS handshake never finished
        return;
    }
    if (!guard_.check(app_, now)) {  // drain deadline: flushed or not, the peer had its chance
        close();
        return;
    }
    // RST_STREAM, GOAWAY the timers queued; an idle session has nothing to
    // write and costs no more than the check.
    if (app_.wants_write() || app_.finished()) flush();
    update_share();
}

template <class Stream>
void Session<Stream>::flush() {
    if (waiting_write_ || closed_ || fin_sent_ || !handshake_done_) return;
    if constexpr (tls)
        flush_tls();
    else
        flush_plain();
}

template <class Stream>
void Session<Stream>::flush_plain() {
    for (;;) {
        const std::span<const h2wire::OutputChunk> chunks = app_.output();
        if (chunks.empty()) break;
        // At most --write-max octets per write_some (see Transport::set_max_write).
        out_.clear();
        const std::size_t limit = server_.options().write_max ? server_.options().write_max : SIZE_MAX;
        std::size_t total = 0;
        for (const h2wire::OutputChunk& c : chunks) {
            if (total >= limit || out_.size() >= 256) break;
            const std::size_t n = std::min(c.size, limit - total);
            out_.emplace_back(c.data, n);
            total += n;
        }
        asio::error_code ec;
        const std::size_t n = stream_.write_some(out_, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            waiting_write_ = true;
            stream_.async_wait(tcp::socket::wait_write, [self = this->shared_from_this()](const asio::error_code& wec) {
                self->waiting_write_ = false;
                if (wec) {
                    self->close();
                    return;
                }
                self->flush();
                self->update_share();
            });
            return;
        }
        if (ec) {
            close();
            return;
        }
        app_.written(n);
        guard_.traffic(Clock::now());
    }
    output_done();
}

template <class Stream>
void Session<Stream>::flush_tls() {
    copy_.clear();
    while (copy_.size() < tls_write_size) {
        const std::span<const h2wire::OutputChunk> chunks = app_.output();
        if (chunks.empty()) break;
        std::size_t n = 0;
        for (const h2wire::OutputChunk& c : chunks) {
            const std::size_t k = std::min(c.size, tls_write_size - copy_.size());
            copy_.insert(copy_.end(), c.data, c.data + k);
            n += k;
            if (copy_.size() == tls_write_size) break;
        }
        app_.written(n);
    }
    if (copy_.empty()) {
        std::vector<std::uint8_t>().swap(copy_);  // nothing to send: hold no copy
        output_done();
        return;
    }
    waiting_write_ = true;
    asio::async_write(stream_, asio::buffer(copy_),
                      [self = this->shared_from_this()](const asio::error_code& ec, std::size_t) {
                          self->waiting_write_ = false;
                          if (ec) {
                              self->close();
                              return;
                          }
                          self->guard_.traffic(Clock::now());
                          self->flush();
                          self->update_share();
                      });
}

template <class Stream>
void Session<Stream>::output_done() {
    if (app_.connection().is_closed()) guard_.start_drain(Clock::now());
    if (app_.finished() && !fin_sent_) {
        // Everything up to our last GOAWAY is out: send FIN and read (and
        // discard, within the drain budget) until the peer closes or the
        // drain deadline (closing with its input unread would make the
        // kernel answer with RST, which can destroy our last bytes).
        fin_sent_ = true;
        asio::error_code ignored;
        if constexpr (tls) {
            // close_notify (RFC 8446 §6.1) would need an async_shutdown in
            // flight beside the read; FIN alone ends the connection too.
        }
        socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
}

template <class Stream>
void Session<Stream>::close() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
}

#ifdef H2WIRE_ASIO_TLS
// ALPN (RFC 7301): "h2" if the client offers it, else the handshake fails.
int select_h2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
              void*) {
    static constexpr unsigned char h2[] = {2, 'h', '2'};
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, outlen, h2, sizeof h2, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}
#endif

}  // namespace

int main(int argc, char** argv) {
    example::ServerOptions opt;
    if (!example::parse_server_args(argc, argv, "h2wire-asio-server", opt)) return 2;
#ifndef H2WIRE_ASIO_TLS
    if (opt.tls) {
        std::fprintf(stderr, "h2wire-asio-server: built without TLS (needs libssl-dev)\n");
        return 1;
    }
#endif
    try {
        // --threads N: N io_contexts, one thread each, each with its own
        // Server (listening socket on the shared port with SO_REUSEPORT,
        // sessions, timers, caps and file cache): a session stays on the
        // thread that accepted it, so sessions need no locks. Every Server
        // waits for the signals itself (Asio tells every signal_set).
        const unsigned loops = opt.threads;
        example::ServerOptions share = opt;
        share.budget.max_connections = std::max<std::size_t>((opt.budget.max_connections + loops - 1) / loops, 1);
        share.budget.memory_cap = opt.budget.memory_cap / loops;
        share.budget.echo_cap = opt.budget.echo_cap / loops;
        share.budget.upgrade_cap = opt.budget.upgrade_cap / loops;
        share.file_cache.max_bytes = opt.file_cache.max_bytes / loops;
        std::vector<std::unique_ptr<asio::io_context>> ios;
        std::vector<std::unique_ptr<Server>> servers;
        tcp::endpoint at(asio::ip::make_address(opt.host), opt.port);
#ifdef H2WIRE_ASIO_TLS
        asio::ssl::context tls_context(asio::ssl::context::tls_server);
        if (opt.tls) {
            // RFC 9113 §9.2: TLS 1.2 or later.
            SSL_CTX_set_min_proto_version(tls_context.native_handle(), TLS1_2_VERSION);
            tls_context.use_certificate_chain_file(opt.cert);
            tls_context.use_private_key_file(opt.key, asio::ssl::context::pem);
            SSL_CTX_set_alpn_select_cb(tls_context.native_handle(), select_h2, nullptr);
            // Idle sessions give OpenSSL's record buffers back.
            SSL_CTX_set_mode(tls_context.native_handle(), SSL_MODE_RELEASE_BUFFERS);
        }
#endif
        for (unsigned i = 0; i < loops; ++i) {
            ios.push_back(std::make_unique<asio::io_context>(1));  // one thread each: sessions need no locks
            servers.push_back(std::make_unique<Server>(*ios.back(), at, share, loops > 1, i, loops));
            at.port(servers.back()->port());  // --port 0: the others share the port the first one got
#ifdef H2WIRE_ASIO_TLS
            if (opt.tls) servers.back()->use_tls(&tls_context);
#endif
        }
        std::printf("listening on %s:%u\n", opt.host.c_str(), static_cast<unsigned>(at.port()));
        std::fflush(stdout);
        for (auto& s : servers) s->start();
        std::vector<std::thread> threads;
        for (unsigned i = 1; i < loops; ++i) threads.emplace_back([&io = *ios[i]] { io.run(); });
        ios[0]->run();
        for (std::thread& t : threads) t.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "h2wire-asio-server: %s\n", e.what());
        return 1;
    }
    return 0;
}
