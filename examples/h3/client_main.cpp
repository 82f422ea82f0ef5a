// h2wire-h3-client: fetches URLs over HTTP/3 (RFC 9114) with the example
// QUIC transport (ngtcp2 + GnuTLS), all on one connection, at once.
//
//   h2wire-h3-client [--insecure] [--ca FILE] [--sni NAME] [-X METHOD]
//                    [--data TEXT | --data-file FILE] [--ws MESSAGE]...
//                    [-v] [--timeout S] https://HOST:PORT/PATH...
//
// Bodies go to stdout in the order of the URLs; -v writes each response's
// status and fields (and trailers) to stderr. --ws makes the (single) URL an
// extended CONNECT with :protocol websocket (RFC 9220) that sends the
// messages and prints their echoes, one per line. Exit status 0 when every
// request got a response and none was reset.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "h3/session.hpp"
#include "quic/quic.hpp"

namespace {

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: h2wire-h3-client [--insecure] [--ca FILE] [--sni NAME] [-X METHOD] [--data TEXT |\n"
                 "                        --data-file FILE] [--ws MESSAGE]... [-v] [--timeout S] URL...\n");
    std::exit(2);
}

struct Url {
    std::string host, port, path;
};

bool parse_url(const std::string& u, Url& out) {
    const std::string scheme = "https://";
    if (u.rfind(scheme, 0) != 0) return false;
    const std::size_t slash = u.find('/', scheme.size());
    const std::string authority = u.substr(scheme.size(), slash - scheme.size());
    out.path = slash == std::string::npos ? "/" : u.substr(slash);
    const std::size_t colon = authority.rfind(':');
    if (colon == std::string::npos) {
        out.host = authority;
        out.port = "443";
    } else {
        out.host = authority.substr(0, colon);
        out.port = authority.substr(colon + 1);
    }
    return !out.host.empty();
}

}  // namespace

int main(int argc, char** argv) {
    example::quic::ClientConfig qc;
    std::string method, data, sni;
    std::vector<std::string> urls, ws_messages;
    bool verbose = false;
    int timeout = 20;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--insecure") qc.insecure = true;
        else if (a == "--ca") qc.ca_file = value();
        else if (a == "--sni") sni = value();
        else if (a == "-X") method = value();
        else if (a == "--data") data = value();
        else if (a == "--data-file") {
            std::ifstream f(value(), std::ios::binary);
            data.assign(std::istreambuf_iterator<char>(f), {});
        } else if (a == "--ws") ws_messages.push_back(value());
        else if (a == "-v") verbose = true;
        else if (a == "--timeout") timeout = std::atoi(value().c_str());
        else if (!a.empty() && a[0] == '-') usage();
        else urls.push_back(a);
    }
    if (urls.empty()) usage();
    Url first;
    if (!parse_url(urls[0], first)) usage();
    qc.host = first.host == "localhost" ? "127.0.0.1" : first.host;
    qc.port = static_cast<std::uint16_t>(std::atoi(first.port.c_str()));
    qc.server_name = sni.empty() ? first.host : sni;

    std::vector<example::h3ex::H3Request> requests;
    for (const std::string& u : urls) {
        Url url;
        if (!parse_url(u, url)) usage();
        example::h3ex::H3Request r;
        r.path = url.path;
        r.body = data;
        r.method = !method.empty() ? method : data.empty() ? "GET" : "POST";
        if (!ws_messages.empty()) {
            r.method = "CONNECT";
            r.protocol = "websocket";
        }
        requests.push_back(std::move(r));
    }

    // The handler is made once the transport exists (it needs its
    // connection); the transport gets a forwarding handler meanwhile.
    struct Forward final : example::quic::QuicStreamHandler {
        example::quic::QuicStreamHandler* to = nullptr;
        void on_handshake_completed() override { to->on_handshake_completed(); }
        void on_stream_data(std::int64_t s, std::span<const std::uint8_t> d, bool fin) override {
            to->on_stream_data(s, d, fin);
        }
        void on_stream_reset(std::int64_t s, std::uint64_t e) override { to->on_stream_reset(s, e); }
        void on_stop_sending(std::int64_t s, std::uint64_t e) override { to->on_stop_sending(s, e); }
        void on_stream_acked(std::int64_t s, std::uint64_t n) override { to->on_stream_acked(s, n); }
        void on_stream_closed(std::int64_t s, std::uint64_t e) override { to->on_stream_closed(s, e); }
        void on_stream_writable(std::int64_t s) override { to->on_stream_writable(s); }
        void on_streams_available() override { to->on_streams_available(); }
        void on_connection_closed(const example::quic::CloseInfo& i) override { to->on_connection_closed(i); }
        // (create() sends the first Initial before the session exists.)
        std::optional<example::quic::StreamWrite> next_write() override {
            return to != nullptr ? to->next_write() : std::nullopt;
        }
        void wrote(std::int64_t s, std::size_t n, bool fin) override { to->wrote(s, n, fin); }
        void blocked(std::int64_t s) override { to->blocked(s); }
    } forward;
    std::string err;
    auto client = example::quic::QuicClient::create(qc, forward, err);
    if (!client) {
        std::fprintf(stderr, "h2wire-h3-client: %s\n", err.c_str());
        return 1;
    }
    example::h3ex::H3ClientSession session(client->connection(), first.host + ":" + first.port, requests, ws_messages);
    forward.to = &session;

    example::quic::EventLoop loop;
    loop.add(*client);
    client->flush(example::quic::now());
    const bool done = loop.run_until([&] { return client->finished() || session.finished(); },
                                     std::chrono::steady_clock::now() + std::chrono::seconds(timeout));
    loop.remove(*client);

    int status = done ? 0 : 1;
    if (!done) std::fprintf(stderr, "h2wire-h3-client: timed out\n");
    for (const auto& r : requests) {
        if (verbose) {
            std::fprintf(stderr, ":status %d%s\n", r.status, r.reset ? " (reset)" : "");
            for (const auto& [k, v] : r.headers) std::fprintf(stderr, "%s: %s\n", k.c_str(), v.c_str());
            for (const auto& [k, v] : r.trailers) std::fprintf(stderr, "(trailer) %s: %s\n", k.c_str(), v.c_str());
        }
        std::fwrite(r.response.data(), 1, r.response.size(), stdout);
        if (!r.done || r.reset || r.status == 0) status = 1;
    }
    return status;
}
