// h2wire-client --websocket; see client.hpp.
#include "websocket/client.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <variant>
#include <vector>

#include "websocket/h2_tunnel.hpp"

namespace example::ws {

namespace {

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;  // clang 14 has no aggregate deduction

}  // namespace

int run_client(Transport& io, const ClientTarget& target) {
    h2wire::Connection conn(h2wire::Config{.role = h2wire::Role::client});
    std::uint32_t stream = 0;
    std::unique_ptr<Tunnel> tunnel;
    bool peer_ended = false, broken = false, stdin_open = true;
    std::string line;
    auto say = [&](const char* what) {
        if (target.verbose) std::fprintf(stderr, "websocket: %s\n", what);
    };

    auto on_event = [&](const h2wire::Event& ev) {
        std::visit(
            overloaded{
                [&](const h2wire::SettingsReceived& s) {
                    if (stream || broken) return;
                    // RFC 8441 §3: only once the server has enabled it.
                    if (!s.settings.enable_connect_protocol) {
                        std::fprintf(stderr, "h2wire-client: the server did not enable extended CONNECT\n");
                        broken = true;
                        return;
                    }
                    const h2wire::Field h[] = {{":method", "CONNECT"},           {":protocol", "websocket"},
                                               {":scheme", target.scheme},       {":path", target.path},
                                               {":authority", target.authority}, {"sec-websocket-version", "13"},
                                               {"user-agent", "h2wire-client"}};
                    const h2wire::Submitted sub = conn.submit_request(h, false);
                    if (!sub) {
                        std::fprintf(stderr, "h2wire-client: CONNECT: %s\n",
                                     std::string(h2wire::to_string(sub.error)).c_str());
                        broken = true;
                        return;
                    }
                    stream = sub.stream;
                    say("extended CONNECT sent");
                },
                [&](const h2wire::ResponseReceived& r) {
                    if (r.stream != stream) return;
                    if (r.status != 200) {
                        std::fprintf(stderr, "h2wire-client: the server answered %d\n", r.status);
                        broken = true;
                        return;
                    }
                    tunnel = std::make_unique<Tunnel>(stream, Tunnel::Config{Role::client, 1 << 20, 256 * 1024, false});
                    say("open");
                },
                [&](const h2wire::DataReceived& d) {
                    if (tunnel && d.stream == stream) tunnel->on_data(d.data, 0);
                },
                [&](const h2wire::StreamEnded& e) {
                    if (e.stream != stream) return;
                    peer_ended = true;
                    if (tunnel) tunnel->on_end();
                },
                [&](const h2wire::StreamReset& r) {
                    if (r.stream != stream) return;
                    std::fprintf(stderr, "h2wire-client: stream reset (%s)\n",
                                 std::string(h2wire::to_string(r.code)).c_str());
                    broken = true;
                },
                [&](const h2wire::ConnectionTerminated&) { broken = true; },
                [](const auto&) {},
            },
            ev);
    };

    std::vector<std::uint8_t> buf(64 * 1024);
    while (!broken) {
        if (tunnel) {
            Endpoint& ep = tunnel->endpoint();
            for (; !ep.messages().empty(); ep.messages().pop_front()) {
                const Message& m = ep.messages().front();
                std::fwrite(m.data.data(), 1, m.data.size(), stdout);
                std::fputc('\n', stdout);
            }
            std::fflush(stdout);
            if (ep.failed()) {
                std::fprintf(stderr, "h2wire-client: %s\n", std::string(ep.failure()).c_str());
                broken = true;
            }
            tunnel->pump(conn, false);
            if (tunnel->done() && peer_ended && conn.buffered(stream) == 0) break;
        }
        // Output first: a TLS or TCP write that is not possible now waits for POLLOUT.
        bool blocked = false;
        while (conn.wants_write() && !blocked) {
            const IoResult w = io.write(conn.pending_output_vectors());
            if (w.status == IoResult::ok)
                conn.consume_output(w.n);
            else if (w.status == IoResult::again)
                blocked = true;
            else
                return 1;
        }
        pollfd p[2] = {{io.fd(), static_cast<short>(POLLIN | (blocked || io.wants_write() ? POLLOUT : 0)), 0},
                       {0, POLLIN, 0}};
        const bool read_stdin = tunnel && stdin_open && !tunnel->endpoint().close_sent();
        if (::poll(p, read_stdin ? 2 : 1, -1) < 0 && errno != EINTR) return 1;
        if (read_stdin && (p[1].revents & (POLLIN | POLLHUP))) {
            char in[4096];
            const ssize_t n = ::read(0, in, sizeof in);
            if (n > 0) line.append(in, static_cast<std::size_t>(n));
            for (std::size_t nl; (nl = line.find('\n')) != std::string::npos; line.erase(0, nl + 1))
                tunnel->endpoint().send_text(line.substr(0, nl));
            if (n <= 0) {
                stdin_open = false;
                if (!line.empty()) tunnel->endpoint().send_text(line);
                // RFC 6455 §7.1.2: start the closing handshake.
                tunnel->endpoint().close(close_code::normal, "end of input");
                say("closing");
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            for (;;) {
                const IoResult r = io.read(buf);
                if (r.status == IoResult::again) break;
                if (r.status != IoResult::ok) {
                    std::fprintf(stderr, "h2wire-client: connection closed by the peer\n");
                    return 1;
                }
                for (const h2wire::Event& ev : conn.receive(std::span(buf.data(), r.n))) on_event(ev);
            }
        }
    }
    // Done with the connection: GOAWAY, flushed as far as the socket takes it.
    conn.goaway(h2wire::ErrorCode::no_error);
    for (int i = 0; i < 100 && conn.wants_write(); ++i) {
        const IoResult w = io.write(conn.pending_output_vectors());
        if (w.status == IoResult::ok)
            conn.consume_output(w.n);
        else if (w.status != IoResult::again)
            break;
        else {
            pollfd p{io.fd(), POLLOUT, 0};
            ::poll(&p, 1, 100);
        }
    }
    if (broken || !tunnel) return 1;
    const std::uint16_t code = tunnel->endpoint().peer_close_code();
    if (target.verbose) std::fprintf(stderr, "websocket: closed with %u\n", code);
    return code == close_code::normal ? 0 : 1;
}

}  // namespace example::ws
