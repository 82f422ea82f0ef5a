// h2wire-asio-server: the example file server (examples/server/app.hpp) on
// standalone Asio instead of poll(). The application and the h2wire
// connection are the same; only the loop that moves bytes differs, which is
// the point: h2wire does not care whose loop it runs in.
//
//     h2wire-asio-server [--root DIR] [--host 127.0.0.1] [--port 8080] [--log]
//                        [--tls --cert FILE --key FILE]
//
// With --port 0 the kernel picks a port; the first line on stdout is always
// "listening on ADDRESS:PORT". SIGINT/SIGTERM: graceful shutdown (GOAWAY,
// open streams finish, then exit 0); a second signal stops at once.
//
// Reads are Asio's async_read_some. The pieces from ServerSession::output()
// are views into the connection, valid until the next call on the session,
// so they are never lent to an operation that outlives the call:
//   plain TCP: they go out at once, as much as the socket takes (write_some
//     on a non-blocking socket); only when it is full do we wait for it to
//     drain (async_wait), then ask for the output again;
//   TLS (asio::ssl, when built with OpenSSL; ALPN h2 only, RFC 9113 §3.2):
//     encryption copies anyway, so up to 256 KiB of output is copied,
//     handed back with written(), and sent with async_write.
// h2c upgrade (HTTP/1.1 Upgrade: h2c) is left to the poll() server.
#include <asio.hpp>
#ifdef H2WIRE_ASIO_TLS
#include <openssl/ssl.h>

#include <asio/ssl.hpp>
#endif

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "server/app.hpp"

namespace {

using asio::ip::tcp;

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
};

/// One accepted connection: a stream (a socket, or TLS over one) and the
/// application's session.
template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
    static constexpr bool tls = !std::is_same_v<Stream, tcp::socket>;

public:
    Session(Stream stream, const example::ServerConfig& config, Server& server);
    ~Session() override;

    void start();
    void shutdown() override {
        if (closed_) return;
        app_.shutdown();
        flush();
    }

private:
    tcp::socket& socket() {
        if constexpr (tls)
            return stream_.next_layer();
        else
            return stream_;
    }
    void read();
    void on_read(const asio::error_code& ec, std::size_t n);
    void flush();
    void flush_plain();
    void flush_tls();
    void output_done();
    void close();

    Stream stream_;
    example::ServerSession app_;
    Server& server_;
    std::array<std::uint8_t, 64 * 1024> in_{};
    std::vector<asio::const_buffer> out_;  // plain: the output pieces for write_some
    std::vector<std::uint8_t> copy_;       // TLS: output copied for async_write
    bool waiting_write_ = false;           // socket full (plain) or async_write in flight (TLS)
    bool fin_sent_ = false, closed_ = false;
};

/// The listening socket, the live sessions and the signals.
class Server {
public:
    Server(asio::io_context& io, const tcp::endpoint& at, example::ServerConfig config)
        : io_(io), acceptor_(io, at), signals_(io, SIGINT, SIGTERM), config_(std::move(config)) {}
#ifdef H2WIRE_ASIO_TLS
    void use_tls(asio::ssl::context* tls) { tls_ = tls; }
#endif

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void start() {
        accept();
        wait_signal();
    }
    void add(SessionBase* s) { live_.insert(s); }
    void remove(SessionBase* s) {
        live_.erase(s);
        if (stopping_ && live_.empty()) signals_.cancel();  // nothing left: let run() return
    }

private:
    void accept() {
        acceptor_.async_accept([this](const asio::error_code& ec, tcp::socket socket) {
            if (ec) {
                if (ec == asio::error::operation_aborted || stopping_) return;
                std::fprintf(stderr, "accept: %s\n", ec.message().c_str());
            } else {
                asio::error_code ignored;
                socket.set_option(tcp::no_delay(true), ignored);
#ifdef H2WIRE_ASIO_TLS
                if (tls_) {
                    std::make_shared<Session<TlsStream>>(TlsStream(std::move(socket), *tls_), config_, *this)->start();
                    accept();
                    return;
                }
#endif
                std::make_shared<Session<tcp::socket>>(std::move(socket), config_, *this)->start();
            }
            accept();
        });
    }

    void wait_signal() {
        signals_.async_wait([this](const asio::error_code& ec, int signo) {
            if (ec) return;  // cancelled: the last session is gone
            if (stopping_) {
                std::fprintf(stderr, "signal %d again: stopping now\n", signo);
                io_.stop();
                return;
            }
            std::fprintf(stderr, "signal %d: shutting down (%zu connection(s) open)\n", signo, live_.size());
            stopping_ = true;
            asio::error_code ignored;
            acceptor_.close(ignored);
            // A session leaves live_ only when destroyed, after its pending
            // handlers ran, so none goes away during this loop.
            for (SessionBase* s : live_) s->shutdown();
            if (live_.empty()) return;
            wait_signal();
        });
    }

    asio::io_context& io_;
    tcp::acceptor acceptor_;
    asio::signal_set signals_;
    example::ServerConfig config_;
    std::unordered_set<SessionBase*> live_;
    bool stopping_ = false;
#ifdef H2WIRE_ASIO_TLS
    asio::ssl::context* tls_ = nullptr;
#endif
};

template <class Stream>
Session<Stream>::Session(Stream stream, const example::ServerConfig& config, Server& server)
    : stream_(std::move(stream)), app_(config), server_(server) {
    server_.add(this);
}

template <class Stream>
Session<Stream>::~Session() {
    server_.remove(this);
}

template <class Stream>
void Session<Stream>::start() {
    if constexpr (tls) {
#ifdef H2WIRE_ASIO_TLS
        stream_.async_handshake(asio::ssl::stream_base::server,
                                [self = this->shared_from_this()](const asio::error_code& ec) {
                                    if (ec) {
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
    stream_.async_read_some(asio::buffer(in_), [self = this->shared_from_this()](const asio::error_code& ec,
                                                                                  std::size_t n) { self->on_read(ec, n); });
}

template <class Stream>
void Session<Stream>::on_read(const asio::error_code& ec, std::size_t n) {
    if (closed_) return;
    if (ec) {  // end of stream or an error: the peer is gone
        close();
        return;
    }
    app_.receive(std::span<const std::uint8_t>(in_.data(), n));
    flush();
    read();
}

template <class Stream>
void Session<Stream>::flush() {
    if (waiting_write_ || closed_) return;
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
        out_.clear();
        for (const h2wire::OutputChunk& c : chunks) out_.emplace_back(c.data, c.size);
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
            });
            return;
        }
        if (ec) {
            close();
            return;
        }
        app_.written(n);
    }
    output_done();
}

template <class Stream>
void Session<Stream>::flush_tls() {
    copy_.clear();
    while (copy_.size() < 256 * 1024) {
        const std::span<const h2wire::OutputChunk> chunks = app_.output();
        if (chunks.empty()) break;
        std::size_t n = 0;
        for (const h2wire::OutputChunk& c : chunks) {
            copy_.insert(copy_.end(), c.data, c.data + c.size);
            n += c.size;
        }
        app_.written(n);
    }
    if (copy_.empty()) {
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
                          self->flush();
                      });
}

template <class Stream>
void Session<Stream>::output_done() {
    if (app_.finished() && !fin_sent_) {
        // Everything up to our last GOAWAY is out: send FIN and read on
        // until the peer closes (closing with its input unread would make
        // the kernel answer with RST, which can destroy our last bytes).
        fin_sent_ = true;
        asio::error_code ignored;
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

int usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s [--root DIR] [--host ADDR] [--port N] [--log] [--tls --cert FILE --key FILE]\n",
                 argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    example::ServerConfig config;
    std::string address = "127.0.0.1";
    unsigned port = 8080;
    bool use_tls = false;
    std::string cert, key;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--root" && has_value) {
            config.root = argv[++i];
        } else if (arg == "--host" && has_value) {
            address = argv[++i];
        } else if (arg == "--port" && has_value) {
            const std::string_view v = argv[++i];
            const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), port);
            if (err != std::errc{} || end != v.data() + v.size() || port > 65535) return usage(argv[0]);
        } else if (arg == "--log") {
            config.log = true;
        } else if (arg == "--tls") {
            use_tls = true;
        } else if (arg == "--cert" && has_value) {
            cert = argv[++i];
        } else if (arg == "--key" && has_value) {
            key = argv[++i];
        } else {
            return usage(argv[0]);
        }
    }
    while (config.root.size() > 1 && config.root.back() == '/') config.root.pop_back();

#ifndef H2WIRE_ASIO_TLS
    if (use_tls) {
        std::fprintf(stderr, "h2wire-asio-server: built without TLS (needs libssl-dev)\n");
        return 1;
    }
#endif
    try {
        asio::io_context io{1};  // one thread: sessions need no locks
        Server server(io, tcp::endpoint(asio::ip::make_address(address), static_cast<std::uint16_t>(port)), config);
#ifdef H2WIRE_ASIO_TLS
        asio::ssl::context tls_context(asio::ssl::context::tls_server);
        if (use_tls) {
            // RFC 9113 §9.2: TLS 1.2 or later.
            SSL_CTX_set_min_proto_version(tls_context.native_handle(), TLS1_2_VERSION);
            tls_context.use_certificate_chain_file(cert);
            tls_context.use_private_key_file(key, asio::ssl::context::pem);
            SSL_CTX_set_alpn_select_cb(tls_context.native_handle(), select_h2, nullptr);
            server.use_tls(&tls_context);
        }
#endif
        std::printf("listening on %s:%u\n", address.c_str(), static_cast<unsigned>(server.port()));
        std::fflush(stdout);
        server.start();
        io.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "h2wire-asio-server: %s\n", e.what());
        return 1;
    }
    return 0;
}
