// h2wire-uv-server: the example file server (examples/server/app.hpp) on
// libuv. The application, the h2wire connection and the defences
// (server/guard.hpp) are the poll() and Asio servers'; only the loop that
// moves bytes differs.
//
//     h2wire-uv-server [--root DIR] [--host 127.0.0.1] [--port 8080] [--log]
//                      [--tls --cert FILE --key FILE]
//                      [timeouts and budgets: as h2wire-server, server/guard.cpp]
//
// With --port 0 the kernel picks a port; the first line on stdout is always
// "listening on ADDRESS:PORT". SIGINT/SIGTERM (uv_signal): graceful shutdown
// (GOAWAY, open streams finish, the rest closed after --shutdown-timeout,
// then exit 0); a second signal closes everything at once. SIGUSR1: one line
// of memory figures on stderr.
//
// Reads: uv_read_start, into one buffer that all connections share (the
// alloc callback lends it, receive() copies what it keeps): an idle
// connection holds no input buffer. At most --read-budget octets per
// connection per loop turn; past it the connection stops reading until the
// loop's check phase, after every other ready connection had its turn.
//
// Writes: the pieces of ServerSession::output() are views into the
// connection and into file buffers lent to it, valid until the next call on
// the session. They go out scatter-gather, without a copy:
//   uv_try_write first: what the socket takes now is written, and
//     consume_output() (ServerSession::written) follows at once;
//   when the socket is full, uv_write with the rest, and consume_output()
//     only in its callback. Until then the session is frozen: no receive(),
//     no timer that could queue frames, no shutdown() (each would move the
//     pieces libuv still points at), and the connection stops reading.
//     That is the backpressure: a peer that does not read stops being read.
//     A write that moves no octet for --stream-timeout closes the connection
//     (every stream is stalled, and nothing we queue could reach the peer).
// TLS (when built with OpenSSL; ALPN h2 only, RFC 9113 §3.2) runs OpenSSL
// over memory BIOs (common/net.hpp, TlsMemoryTransport): ciphertext from
// the read callback is fed in, up to 64 KiB of output is encrypted (a copy,
// so consumed at once) and written the same way.
//
// Accepting is ours, not uv_listen's: the listening socket is watched with a
// uv_poll_t and accepted with accept4(). That way it can stop being polled
// (--max-connections, --memory-cap: connections wait in the kernel's backlog)
// and back off for 100 ms on EMFILE. uv_listen has no pause, and on EMFILE
// it accepts and closes every waiting connection (its reserve-descriptor
// trick), or calls back again at once.
//
// Cleartext connections start as the poll() server's do (server/prelude.hpp):
// the client preface, or an HTTP/1.1 request with Upgrade: h2c (RFC 7540
// §3.2), bounded; bytes that are neither get SETTINGS and GOAWAY
// PROTOCOL_ERROR.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/net.hpp"
#include "server/app.hpp"
#include "server/file_cache.hpp"
#include "server/guard.hpp"
#include "server/prelude.hpp"

namespace {

using example::Clock;

class Server;

/// One accepted connection: a uv_tcp_t, the application's session and its
/// guard. Made with new, deleted by the close callback of its handle (libuv
/// calls back every write and shutdown request first).
class Session {
public:
    Session(Server& server, int fd);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// Graceful shutdown (RFC 9113 §6.8): GOAWAY; open streams finish.
    void shutdown();
    /// The server's timer: the guard, then the output it queued.
    void tick(Clock::time_point now);
    /// Over the process memory cap: GOAWAY ENHANCE_YOUR_CALM, then drain.
    void shed(Clock::time_point now);
    void close();
    /// Fairness: the loop's check phase lets a connection that used its read
    /// budget read again.
    void resume();

    bool draining() const { return guard_.draining() || closed_; }
    std::size_t memory() const { return share_.held(); }
    std::size_t library_memory() const { return app_.connection().memory_used(); }

private:
    static constexpr std::size_t max_pieces = 64;             // uv_buf_t per write
    static constexpr std::size_t tls_write_size = 64 * 1024;  // encrypted per write

    static Session& of(void* handle) { return *static_cast<Session*>(static_cast<uv_handle_t*>(handle)->data); }
    static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf);
    static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
    static void on_written(uv_write_t* req, int status);
    static void on_fin(uv_shutdown_t*, int) {}
    static void on_closed(uv_handle_t* h) { delete &of(h); }

    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
    // Plain connections start with the prelude (preface or h2c upgrade), TLS
    // ones with the handshake.
    bool in_prelude() const {
#ifdef H2WIRE_EXAMPLES_TLS
        if (tls_) return false;
#endif
        return !prelude_.done();
    }
    void on_bytes(std::span<const std::uint8_t> bytes, Clock::time_point now);
    void receive_tls(std::span<const std::uint8_t> ciphertext, Clock::time_point now);
    void flush();
    std::span<const uv_buf_t> next_output();
    void wrote(std::size_t n);
    void output_done();
    void written_async(Clock::time_point now);
    void update_reading();
    void update_share();

    Server& server_;
    uv_tcp_t tcp_{};
    uv_write_t write_req_{};
    uv_shutdown_t fin_req_{};
    example::ServerSession app_;
    example::ConnectionGuard guard_;
    example::MemoryShare share_;
    example::Prelude prelude_;
    std::vector<uv_buf_t> bufs_;  // the pieces of the write being made
    std::size_t in_flight_ = 0;   // octets of the uv_write in flight
    std::size_t queue_seen_ = 0;  // libuv's write queue at the last tick, and since when
    Clock::time_point queue_since_{};
    std::size_t turn_read_ = 0;  // octets read this loop turn
#ifdef H2WIRE_EXAMPLES_TLS
    std::unique_ptr<example::TlsMemoryTransport> tls_;
    std::vector<std::uint8_t> cipher_;  // ciphertext being written, from cipher_off_
    std::size_t cipher_off_ = 0;
    bool close_notify_ = false;
#endif
    bool handshake_done_ = true;  // TLS: false until the handshake chose h2
    bool writing_ = false;        // a uv_write is in flight
    bool lent_ = false;           // ... and it points into the connection: the session is frozen
    bool reading_ = false, yielded_ = false;
    bool shutdown_pending_ = false, shed_pending_ = false;  // asked for while frozen
    bool fin_sent_ = false, closed_ = false;
};

/// The listening socket, the live sessions, the signals and the timers.
class Server {
public:
    Server(uv_loop_t* loop, int listen_fd, example::ServerOptions& opt)
        : loop_(loop),
          listen_fd_(listen_fd),
          opt_(opt),
          cache_(opt.file_cache),
          read_buffer_(std::min<std::size_t>(opt.guard.read_budget, 64 * 1024)) {
        opt_.app.budget = &opt_.budget;
        opt_.app.file_cache = &cache_;  // the cache of small files (server/file_cache.hpp)
    }
    /// The loop's file cache reads no clock: input tells it the time.
    example::FileCache& cache() { return cache_; }
#ifdef H2WIRE_EXAMPLES_TLS
    void use_tls(std::shared_ptr<example::TlsContext> tls) {
        tls_ = std::move(tls);
    }
    const std::shared_ptr<example::TlsContext>& tls() const {
        return tls_;
    }
#endif

    uv_loop_t* loop() {
        return loop_;
    }
    const example::ServerOptions& options() const {
        return opt_;
    }
    example::ProcessBudget& budget() {
        return opt_.budget;
    }
    /// Every read goes here (one thread: one read at a time), and receive()
    /// copies what it keeps.
    std::span<std::uint8_t> read_buffer() {
        return read_buffer_;
    }
    /// TLS: plaintext, one record at a time.
    std::span<std::uint8_t> plain_buffer() {
        if (plain_buffer_.empty()) plain_buffer_.resize(16 * 1024);
        return plain_buffer_;
    }

    void start();
    void add(Session* s) {
        live_.insert(s);
    }
    void remove(Session* s);
    /// `s` used its read budget: it reads again in the check phase, after
    /// the others had their turn.
    void yield(Session* s);

private:
    template <class T>
    static Server& of(T* handle) {
        return *static_cast<Server*>(handle->data);
    }
    void accept();
    void update_accepting();
    void on_tick(Clock::time_point now);
    void on_signal(int signo);
    void stop_listening();
    void finish();
    void print_stats() const;

    uv_loop_t* loop_;
    int listen_fd_;
    example::ServerOptions& opt_;
    example::FileCache cache_;
    std::vector<std::uint8_t> read_buffer_, plain_buffer_;
    uv_poll_t listener_{};
    uv_timer_t tick_{}, backoff_{};
    uv_check_t resume_{};
    uv_signal_t signals_[3]{};
    std::unordered_set<Session*> live_;
    std::vector<Session*> yielded_;
    bool polling_ = false, backing_off_ = false, stopping_ = false, finished_ = false;
    Clock::time_point shutdown_deadline_ = Clock::time_point::max();
    Clock::time_point last_accept_error_{};
#ifdef H2WIRE_EXAMPLES_TLS
    std::shared_ptr<example::TlsContext> tls_;
#endif
};

// --- Session ---------------------------------------------------------------------

Session::Session(Server& server, int fd)
    : server_(server),
      app_(server.options().app),
      guard_(server.options().guard, Clock::now()),
      share_(&server.budget()),
      prelude_(server.options().guard, server.budget()) {
    server_.add(this);
    uv_tcp_init(server_.loop(), &tcp_);
    tcp_.data = this;
    if (uv_tcp_open(&tcp_, fd) != 0) {
        ::close(fd);
        close();
        return;
    }
    // No Nagle: small writes (a record per piece with TLS) must not wait
    // for the peer's delayed ACK.
    uv_tcp_nodelay(&tcp_, 1);
#ifdef H2WIRE_EXAMPLES_TLS
    if (server_.tls()) {
        tls_ = example::tls_memory_transport(server_.tls(), true);
        handshake_done_ = false;
    }
#endif
    update_share();
    update_reading();
}

Session::~Session() {
    server_.remove(this);
}

void Session::update_share() {
    std::size_t n = sizeof(*this) + app_.memory_used() + prelude_.memory() + bufs_.capacity() * sizeof(uv_buf_t);
#ifdef H2WIRE_EXAMPLES_TLS
    n += cipher_.capacity();
#endif
    share_.set(n);
}

// Reading stops while a write is frozen (unless draining: then input is only
// counted and dropped) and while the connection waits for its next turn.
void Session::update_reading() {
    const bool want = !closed_ && !yielded_ && (!writing_ || guard_.draining());
    if (want == reading_) return;
    reading_ = want;
    if (want)
        uv_read_start(stream(), on_alloc, on_read);
    else
        uv_read_stop(stream());
}

void Session::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    Session& s = of(h);
    const std::span<std::uint8_t> b = s.server_.read_buffer();
    // Never past the read budget of this turn (on_bytes stops at it).
    const std::size_t n = std::min(b.size(), s.server_.options().guard.read_budget - s.turn_read_);
    *buf = uv_buf_init(reinterpret_cast<char*>(b.data()), static_cast<unsigned>(n));
}

void Session::on_read(uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
    Session& s = of(st);
    if (n == 0) {  // EAGAIN: the socket is empty, the turn is over
        s.turn_read_ = 0;
        return;
    }
    if (s.closed_) return;
    if (n < 0) {  // UV_EOF or an error: the peer is gone
        s.close();
        return;
    }
    const Clock::time_point now = Clock::now();
    s.server_.cache().set_time(now);
    s.turn_read_ += static_cast<std::size_t>(n);
    const bool more = static_cast<std::size_t>(n) == buf->len;  // libuv reads again at once
    s.on_bytes(std::span(reinterpret_cast<const std::uint8_t*>(buf->base), static_cast<std::size_t>(n)), now);
    if (s.closed_) return;
    if (!more) {
        s.turn_read_ = 0;  // the socket is empty for now: the turn is over
    } else if (s.turn_read_ >= s.server_.options().guard.read_budget) {
        s.yielded_ = true;
        s.update_reading();
        s.server_.yield(&s);
    }
}

void Session::resume() {
    yielded_ = false;
    turn_read_ = 0;
    update_reading();
}

// Bytes that arrived: to the session, or, once the connection is over,
// discarded within the drain budget.
void Session::on_bytes(std::span<const std::uint8_t> bytes, Clock::time_point now) {
    guard_.traffic(now);
    if (guard_.draining()) {
        if (!guard_.discard(bytes.size())) close();  // the drain budget is spent
        return;
    }
    // Not draining: reading implies no write is frozen (update_reading).
#ifdef H2WIRE_EXAMPLES_TLS
    if (tls_) {
        receive_tls(bytes, now);
        if (closed_) return;
    } else
#endif
        if (in_prelude()) {
        prelude_.receive(bytes, app_, guard_, now);
    } else {
        app_.receive(bytes);
    }
    if (app_.connection().is_closed()) guard_.start_drain(now);
    flush();
    update_reading();
    update_share();
}

#ifdef H2WIRE_EXAMPLES_TLS
void Session::receive_tls(std::span<const std::uint8_t> ciphertext, Clock::time_point now) {
    tls_->feed(ciphertext);
    if (!handshake_done_) {
        const example::IoResult r = tls_->handshake();
        if (r.status == example::IoResult::again) return flush();  // handshake octets to send
        // RFC 9113 §3.2: over TLS, HTTP/2 only if ALPN chose "h2".
        if (r.status != example::IoResult::ok || tls_->alpn() != "h2") return close();
        handshake_done_ = true;
        guard_.traffic(now);
    }
    const std::span<std::uint8_t> plain = server_.plain_buffer();
    for (;;) {
        const example::IoResult r = tls_->read(plain);
        if (r.status == example::IoResult::again) return;
        if (r.status != example::IoResult::ok) return close();  // close_notify or a TLS error
        if (guard_.draining()) continue;                        // GOAWAY sent: the rest is dropped
        app_.receive(plain.first(r.n));
        if (app_.connection().is_closed()) guard_.start_drain(now);
    }
}
#endif

// The next pieces to write: the connection's output (plain), or ciphertext
// of up to tls_write_size octets of it (TLS). Empty when there is nothing.
std::span<const uv_buf_t> Session::next_output() {
    bufs_.clear();
#ifdef H2WIRE_EXAMPLES_TLS
    if (tls_) {
        if (cipher_off_ == cipher_.size()) {
            // Encryption copies: the output is consumed as it is encrypted.
            while (handshake_done_ && tls_->pending_ciphertext() < tls_write_size) {
                const std::span<const h2wire::OutputChunk> chunks = app_.output();
                if (chunks.empty()) break;
                const example::IoResult r = tls_->write(chunks);
                if (r.status != example::IoResult::ok) break;
                app_.written(r.n);
            }
            cipher_.resize(tls_->pending_ciphertext());
            cipher_.resize(tls_->take_ciphertext(cipher_));
            cipher_off_ = 0;
            if (cipher_.empty()) std::vector<std::uint8_t>().swap(cipher_);  // nothing to send: hold no copy
        }
        if (cipher_off_ < cipher_.size())
            bufs_.push_back(uv_buf_init(reinterpret_cast<char*>(cipher_.data() + cipher_off_),
                                        static_cast<unsigned>(cipher_.size() - cipher_off_)));
        return bufs_;
    }
#endif
    if (const std::string_view text = prelude_.text(); !text.empty()) {  // HTTP/1.1 first: 100, 101 or a refusal
        bufs_.push_back(uv_buf_init(const_cast<char*>(text.data()), static_cast<unsigned>(text.size())));
        return bufs_;
    }
    if (!prelude_.done()) return bufs_;
    const std::span<const h2wire::OutputChunk> chunks = app_.output();
    for (const h2wire::OutputChunk& c : chunks.first(std::min(chunks.size(), max_pieces)))
        bufs_.push_back(
            uv_buf_init(reinterpret_cast<char*>(const_cast<std::uint8_t*>(c.data)), static_cast<unsigned>(c.size)));
    return bufs_;
}

// n octets of next_output() are written.
void Session::wrote(std::size_t n) {
#ifdef H2WIRE_EXAMPLES_TLS
    if (tls_) {
        cipher_off_ += n;
        return;
    }
#endif
    if (!prelude_.text().empty())
        prelude_.text_written(n);
    else
        app_.written(n);
}

void Session::flush() {
    if (closed_ || writing_ || fin_sent_) return;
    for (;;) {
        const std::span<const uv_buf_t> bufs = next_output();
        if (bufs.empty()) break;
        const int n = uv_try_write(stream(), bufs.data(), static_cast<unsigned>(bufs.size()));
        if (n > 0) {
            wrote(static_cast<std::size_t>(n));
            guard_.traffic(Clock::now());
            continue;
        }
        if (n != UV_EAGAIN && n != 0) return close();  // EPIPE, ECONNRESET: the peer is gone
        // The socket is full: libuv writes these pieces as it drains, and
        // they must stay where they are until on_written.
        if (uv_write(&write_req_, stream(), bufs.data(), static_cast<unsigned>(bufs.size()), on_written) != 0)
            return close();
        in_flight_ = 0;
        for (const uv_buf_t& b : bufs) in_flight_ += b.len;
        writing_ = true;
        lent_ = true;
#ifdef H2WIRE_EXAMPLES_TLS
        lent_ = !tls_;  // TLS writes our ciphertext copy: the session is free
#endif
        queue_seen_ = uv_stream_get_write_queue_size(stream());
        queue_since_ = Clock::now();
        update_reading();
        return;
    }
    output_done();
}

void Session::on_written(uv_write_t* req, int status) {
    Session& s = of(req->handle);
    s.writing_ = false;
    s.lent_ = false;
    if (status < 0 || s.closed_) {  // an error, or UV_ECANCELED: the handle is closing
        s.close();
        return;
    }
    s.written_async(Clock::now());
}

void Session::written_async(Clock::time_point now) {
    wrote(in_flight_);
    in_flight_ = 0;
    guard_.traffic(now);
    // What was asked for while the session was frozen.
    if (shed_pending_) {
        shed_pending_ = false;
        if (in_prelude())
            prelude_.shed(guard_, now);
        else
            app_.goaway(h2wire::ErrorCode::enhance_your_calm, "server memory cap");
    }
    if (shutdown_pending_) {
        shutdown_pending_ = false;
        app_.shutdown();
    }
    flush();
    update_reading();
    update_share();
}

void Session::output_done() {
    if (app_.connection().is_closed()) guard_.start_drain(Clock::now());
    if (!(prelude_.refused() || app_.finished()) || fin_sent_) return;
#ifdef H2WIRE_EXAMPLES_TLS
    if (tls_ && handshake_done_ && !close_notify_) {
        close_notify_ = true;
        tls_->close_write();  // close_notify (RFC 8446 §6.1), written before the FIN
        return flush();
    }
#endif
    // Everything up to our last GOAWAY (or an HTTP/1.1 refusal) is out: FIN, and read (discarding,
    // within the drain budget) until the peer closes or the drain deadline.
    // Closing with input unread would make the kernel answer with RST,
    // which can destroy our last octets before the peer reads them.
    fin_sent_ = true;
    if (uv_shutdown(&fin_req_, stream(), on_fin) != 0) close();
}

void Session::tick(Clock::time_point now) {
    if (closed_) return;
    if (writing_) {
        // Only the clock and libuv's write queue here while a write is in
        // flight; the session may be frozen.
        const std::size_t queued = uv_stream_get_write_queue_size(stream());
        if (queued != queue_seen_) {
            queue_seen_ = queued;
            queue_since_ = now;
            guard_.traffic(now);
        } else if (now - queue_since_ >= server_.options().guard.stream_timeout) {
            return close();  // the peer reads nothing: every stream is stalled
        }
        if (guard_.drain_expired(now)) return close();
        if (lent_) return;
    }
    if (!handshake_done_) {
        if (guard_.handshake_expired(now)) close();  // the TLS handshake never finished
        return;
    }
    if (in_prelude()) {
        if (guard_.draining()) {  // a refusal is being written
            if (guard_.drain_expired(now)) close();
            return;
        }
        if (guard_.handshake_expired(now)) prelude_.timeout(app_, guard_, now);  // 408, or GOAWAY
        flush();
        update_reading();
        update_share();
        return;
    }
    if (!guard_.check(app_, now)) return close();  // drain deadline: flushed or not, the peer had its chance
    flush();                                       // RST_STREAM, GOAWAY the timers queued
    update_reading();
    update_share();
}

void Session::shutdown() {
    if (closed_) return;
    if (!handshake_done_ || in_prelude()) {  // before HTTP/2: nothing to finish
        if (!guard_.draining()) close();     // (a refusal being written may end)
        return;
    }
    if (lent_) {
        shutdown_pending_ = true;
        return;
    }
    app_.shutdown();
    flush();
    update_share();
}

void Session::shed(Clock::time_point now) {
    if (closed_) return;
    guard_.start_drain(now);
    if (lent_ || !handshake_done_) {
        shed_pending_ = handshake_done_;
        update_reading();  // draining: input is discarded, frozen or not
        return;
    }
    if (in_prelude())
        prelude_.shed(guard_, now);  // 503
    else
        app_.goaway(h2wire::ErrorCode::enhance_your_calm, "server memory cap");
    flush();
    update_reading();
}

void Session::close() {
    if (closed_) return;
    closed_ = true;
    reading_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_closed);
}

// --- Server ------------------------------------------------------------------------

void Server::start() {
    uv_poll_init(loop_, &listener_, listen_fd_);
    listener_.data = this;
    uv_timer_init(loop_, &tick_);
    tick_.data = this;
    uv_timer_init(loop_, &backoff_);
    backoff_.data = this;
    uv_check_init(loop_, &resume_);
    resume_.data = this;
    const int signos[] = {SIGINT, SIGTERM, SIGUSR1};
    for (int i = 0; i < 3; ++i) {
        uv_signal_init(loop_, &signals_[i]);
        signals_[i].data = this;
        uv_signal_start(
            &signals_[i], [](uv_signal_t* h, int signo) { of(h).on_signal(signo); }, signos[i]);
    }
    const auto tick = static_cast<std::uint64_t>(opt_.guard.tick().count());
    uv_timer_start(
        &tick_, [](uv_timer_t* h) { of(h).on_tick(Clock::now()); }, tick, tick);
    update_accepting();
}

// The listener is polled only while we may accept: under the connection and
// memory caps, and not backing off after EMFILE.
void Server::update_accepting() {
    const bool want = listen_fd_ >= 0 && !stopping_ && !backing_off_ && opt_.budget.may_accept();
    if (want == polling_) return;
    polling_ = want;
    if (want)
        uv_poll_start(&listener_, UV_READABLE, [](uv_poll_t* h, int, int) { of(h).accept(); });
    else
        uv_poll_stop(&listener_);
}

void Server::accept() {
    while (!stopping_ && opt_.budget.may_accept()) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors (or memory): the connection stays in the
                // backlog and the listener stays readable. Polling it again
                // at once would spin; stop for a while instead.
                const Clock::time_point now = Clock::now();
                if (now - last_accept_error_ >= std::chrono::seconds(1)) {
                    std::fprintf(stderr, "accept: %s (backing off)\n", std::strerror(errno));
                    last_accept_error_ = now;
                }
                backing_off_ = true;
                uv_timer_start(
                    &backoff_,
                    [](uv_timer_t* h) {
                        of(h).backing_off_ = false;
                        of(h).update_accepting();
                    },
                    static_cast<std::uint64_t>(opt_.guard.accept_backoff.count()), 0);
            }
            break;
        }
        new Session(*this, fd);  // owned by its handle from now on
    }
    update_accepting();
}

void Server::yield(Session* s) {
    if (yielded_.empty())
        uv_check_start(&resume_, [](uv_check_t* h) {
            Server& server = of(h);
            uv_check_stop(h);
            std::vector<Session*> ready;
            ready.swap(server.yielded_);
            for (Session* x : ready) x->resume();
        });
    yielded_.push_back(s);
}

void Server::remove(Session* s) {
    live_.erase(s);
    std::erase(yielded_, s);
    if (stopping_ && live_.empty()) return finish();  // nothing left: let uv_run return
    update_accepting();
}

// Every session's timers; the shutdown deadline; the memory cap. Sessions are
// deleted only by their close callbacks, after this returns.
void Server::on_tick(Clock::time_point now) {
    for (Session* s : live_) s->tick(now);
    if (stopping_ && now >= shutdown_deadline_) {
        std::fprintf(stderr, "shutdown: %zu connection(s) still open after the deadline: closing\n", live_.size());
        for (Session* s : live_) s->close();
    }
    if (opt_.budget.over_memory())
        example::shed_largest(
            live_, opt_.budget.memory_cap, [](const Session* s) { return s->draining() ? 0 : s->memory(); },
            [now](Session* s) { s->shed(now); });
    update_accepting();
}

void Server::on_signal(int signo) {
    if (signo == SIGUSR1) return print_stats();
    if (stopping_) {
        std::fprintf(stderr, "signal %d again: closing every connection now\n", signo);
        for (Session* s : live_) s->close();
        return;
    }
    std::fprintf(stderr, "signal %d: shutting down (%zu connection(s) open)\n", signo, live_.size());
    stopping_ = true;
    shutdown_deadline_ = Clock::now() + opt_.guard.shutdown_timeout;
    stop_listening();
    for (Session* s : live_) s->shutdown();
    if (live_.empty()) finish();
}

void Server::stop_listening() {
    if (listen_fd_ < 0) return;
    update_accepting();  // stopping_: not polled any more
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), [](uv_handle_t* h) {
        Server& s = *static_cast<Server*>(h->data);
        ::close(s.listen_fd_);
        s.listen_fd_ = -1;
    });
}

// Every connection is gone: close the server's own handles, and uv_run
// returns.
void Server::finish() {
    if (finished_) return;
    finished_ = true;
    auto close = [](auto* h) { uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr); };
    close(&tick_);
    close(&backoff_);
    close(&resume_);
    for (uv_signal_t& s : signals_) close(&s);
}

void Server::print_stats() const {
    std::size_t library = 0;
    for (const Session* s : live_) library += s->library_memory();
    std::fprintf(stderr, "memory: connections=%zu total=%zu library=%zu echo=%zu upgrade=%zu\n", live_.size(),
                 opt_.budget.memory, library, opt_.budget.echo, opt_.budget.upgrade);
}

}  // namespace

int main(int argc, char** argv) {
    example::ServerOptions opt;
    if (!example::parse_server_args(argc, argv, "h2wire-uv-server", opt)) return 2;
    std::shared_ptr<example::TlsContext> tls;  // null: plain
    const int listener =
        example::listen_server(opt.host, opt.port, opt.tls, opt.cert, opt.key, "h2wire-uv-server", tls);
    if (listener < 0) return 1;
    ::signal(SIGPIPE, SIG_IGN);  // a write to a reset connection is an error, not the end
    uv_loop_t loop;
    uv_loop_init(&loop);
    {
        Server server(&loop, listener, opt);
#ifdef H2WIRE_EXAMPLES_TLS
        server.use_tls(tls);
#endif
        server.start();  // signals are handled before anyone learns where we listen
        std::printf("listening on %s:%u\n", opt.host.c_str(), static_cast<unsigned>(opt.port));
        std::fflush(stdout);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    return uv_loop_close(&loop) == 0 ? 0 : 1;
}
