// h2wire-h3-server: the example file server over HTTP/3 (RFC 9114), on the
// example QUIC transport (ngtcp2 + GnuTLS). It answers with the same routing
// as the HTTP/2 server (server/route.hpp): files under --root, POST /echo,
// ?trailers=1, and CONNECT /ws with :protocol websocket (RFC 9220).
//
//   h2wire-h3-server --cert CERT --key KEY [--host 127.0.0.1] [--port N]
//                    [--root DIR] [--max-connections N] [--idle-timeout S]
//                    [--log]
//
// Prints "listening on HOST:PORT (udp)" once bound (port 0: one the kernel
// picks). SIGTERM or SIGINT: every connection is closed with H3_NO_ERROR,
// then the server exits.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "h3/session.hpp"
#include "quic/quic.hpp"
#include "server/file_cache.hpp"

namespace {

volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: h2wire-h3-server --cert CERT --key KEY [--host ADDR] [--port N] [--root DIR]\n"
                 "                        [--max-connections N] [--idle-timeout SECONDS] [--log]\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    example::quic::ServerConfig qc;
    example::h3ex::H3ServerConfig hc;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--cert") qc.cert_file = value();
        else if (a == "--key") qc.key_file = value();
        else if (a == "--host") qc.host = value();
        else if (a == "--port") qc.port = static_cast<std::uint16_t>(std::atoi(value().c_str()));
        else if (a == "--root") hc.root = value();
        else if (a == "--max-connections") qc.max_connections = static_cast<std::size_t>(std::atoi(value().c_str()));
        else if (a == "--idle-timeout") qc.limits.idle_timeout = std::chrono::seconds(std::atoi(value().c_str()));
        else if (a == "--log") hc.log = true;
        else usage();
    }
    if (qc.cert_file.empty() || qc.key_file.empty()) usage();

    // A bounded cache of small files, as in the HTTP/2 server.
    example::FileCache cache(example::FileCache::Limits{});
    hc.file_cache = &cache;

    std::string err;
    auto server = example::quic::QuicServer::create(
        qc,
        [&](example::quic::QuicConnection& q) -> std::unique_ptr<example::quic::QuicStreamHandler> {
            return std::make_unique<example::h3ex::H3ServerSession>(q, hc);
        },
        err);
    if (!server) {
        std::fprintf(stderr, "h2wire-h3-server: %s\n", err.c_str());
        return 1;
    }
    std::printf("listening on %s:%u (udp)\n", qc.host.c_str(), static_cast<unsigned>(server->port()));
    std::fflush(stdout);

    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    example::quic::EventLoop loop;
    loop.add(*server);
    while (!stop_requested) {
        cache.set_time(std::chrono::steady_clock::now());
        if (!loop.run_once(std::chrono::milliseconds(200))) break;
    }
    server->close_all(0x100);  // H3_NO_ERROR (RFC 9114 §8.1)
    server->flush(example::quic::now());
    loop.remove(*server);
    return 0;
}
