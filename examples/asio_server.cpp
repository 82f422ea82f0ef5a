// h2wire-asio-server: the example file server (examples/server/app.hpp) on
// standalone Asio instead of poll(). The application and the h2wire
// connection are the same; only the loop that moves bytes differs, which is
// the point: h2wire does not care whose loop it runs in.
//
//     h2wire-asio-server [--root DIR] [--host 127.0.0.1] [--port 8080] [--log]
//
// With --port 0 the kernel picks a port; the first line on stdout is always
// "listening on ADDRESS:PORT". SIGINT/SIGTERM: graceful shutdown (GOAWAY,
// open streams finish, then exit 0); a second signal stops at once.
//
// Reads are Asio's async_read_some. Writes go out at once, as much as the
// socket takes (write_some on a non-blocking socket), and only when it is
// full do we wait for it to drain (async_wait). That keeps the rule
// h2wire's output has: the pieces from ServerSession::output() are views
// into the connection, valid until the next call on the session, so they
// must not be lent to an async_write that outlives this call.
#include <asio.hpp>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "server/app.hpp"

namespace {

using asio::ip::tcp;

class Server;

/// One accepted connection: a socket and the application's session.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, const example::ServerConfig& config, Server& server);
    ~Session();

    void start() {
        asio::error_code ignored;
        socket_.non_blocking(true, ignored);
        read();
        flush();
    }
    /// Graceful shutdown (RFC 9113 §6.8): GOAWAY; open streams finish.
    void shutdown() {
        if (closed_) return;
        app_.shutdown();
        flush();
    }

private:
    void read();
    void on_read(const asio::error_code& ec, std::size_t n);
    void flush();
    void close();

    tcp::socket socket_;
    example::ServerSession app_;
    Server& server_;
    std::array<std::uint8_t, 64 * 1024> in_{};
    std::vector<asio::const_buffer> out_;
    bool waiting_write_ = false;  // the socket was full: async_wait for it to drain
    bool fin_sent_ = false, closed_ = false;
};

/// The listening socket, the live sessions and the signals.
class Server {
public:
    Server(asio::io_context& io, const tcp::endpoint& at, example::ServerConfig config)
        : io_(io), acceptor_(io, at), signals_(io, SIGINT, SIGTERM), config_(std::move(config)) {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    void start() {
        accept();
        wait_signal();
    }
    void add(Session* s) { live_.insert(s); }
    void remove(Session* s) {
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
                std::make_shared<Session>(std::move(socket), config_, *this)->start();
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
            for (Session* s : live_) s->shutdown();
            if (live_.empty()) return;
            wait_signal();
        });
    }

    asio::io_context& io_;
    tcp::acceptor acceptor_;
    asio::signal_set signals_;
    example::ServerConfig config_;
    std::unordered_set<Session*> live_;
    bool stopping_ = false;
};

Session::Session(tcp::socket socket, const example::ServerConfig& config, Server& server)
    : socket_(std::move(socket)), app_(config), server_(server) {
    server_.add(this);
}

Session::~Session() { server_.remove(this); }

void Session::read() {
    socket_.async_read_some(asio::buffer(in_), [self = shared_from_this()](const asio::error_code& ec,
                                                                            std::size_t n) { self->on_read(ec, n); });
}

void Session::on_read(const asio::error_code& ec, std::size_t n) {
    if (closed_) return;
    if (ec) {  // end of stream or an error: the peer is gone
        close();
        return;
    }
    app_.receive(std::span<const std::uint8_t>(in_.data(), n));
    flush();
    read();
}

void Session::flush() {
    if (waiting_write_ || closed_) return;
    for (;;) {
        const std::span<const h2wire::OutputChunk> chunks = app_.output();
        if (chunks.empty()) break;
        out_.clear();
        for (const h2wire::OutputChunk& c : chunks) out_.emplace_back(c.data, c.size);
        asio::error_code ec;
        const std::size_t n = socket_.write_some(out_, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            waiting_write_ = true;
            socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const asio::error_code& wec) {
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
    if (app_.finished() && !fin_sent_) {
        // Everything up to our last GOAWAY is out: send FIN and read on
        // until the peer closes (closing with its input unread would make
        // the kernel answer with RST, which can destroy our last bytes).
        fin_sent_ = true;
        asio::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
    }
}

void Session::close() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

int usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s [--root DIR] [--host ADDR] [--port N] [--log]\n", argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    example::ServerConfig config;
    std::string address = "127.0.0.1";
    unsigned port = 8080;
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
        } else {
            return usage(argv[0]);
        }
    }
    while (config.root.size() > 1 && config.root.back() == '/') config.root.pop_back();

    try {
        asio::io_context io{1};  // one thread: sessions need no locks
        Server server(io, tcp::endpoint(asio::ip::make_address(address), static_cast<std::uint16_t>(port)), config);
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
