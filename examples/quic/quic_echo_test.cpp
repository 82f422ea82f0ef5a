// Tests the QUIC transport before any HTTP/3 exists: a server whose handler
// echoes every stream back, and clients that send known bytes and check
// what comes back. Run by examples/quic/quic_test.py, which makes the
// certificate.
//
//   quic-echo-test --cert C --key K      echo, limits, close codes
//   quic-echo-test --handshake HOST PORT handshake only against another
//                                        server (ALPN h3), then close
//                                        with H3_NO_ERROR
//   quic-echo-test --serve --cert C --key K
//                                        an echo server for another
//                                        client: prints its port, reports
//                                        the first connection's handshake
//                                        and close, exits when it is gone
//                                        (or after 15 s)
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "quic/quic.hpp"

using namespace example::quic;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t h3_no_error = 0x100;  // RFC 9114 §8.1
constexpr std::uint64_t echo_test_reset = 0x10f;

int failures = 0;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            std::fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                             \
        }                                                                           \
    } while (0)

// ---- server side: echo every stream ----

// Holds what a stream received until the echo of it is acknowledged, and
// grants the peer new credit only then: the buffer of a stream never
// exceeds the stream window it was given.
class EchoHandler final : public QuicStreamHandler {
public:
    /// What the handlers of one server saw (they die with their connections).
    struct Record {
        std::vector<CloseInfo> closes;
        std::uint64_t max_buffered = 0;  // octets one stream held at most
        std::size_t handshakes = 0;
        std::string alpn;
    };
    EchoHandler(QuicConnection& conn, Record& record) : conn_(conn), record_(record) {}

    void on_handshake_completed() override {
        ++record_.handshakes;
        record_.alpn = conn_.alpn();
    }

    void on_stream_data(std::int64_t id, std::span<const std::uint8_t> data, bool fin) override {
        Stream& s = streams_[id];
        if (!data.empty()) s.chunks.emplace_back(data.begin(), data.end());
        s.received += data.size();
        s.fin_received |= fin;
        record_.max_buffered = std::max(record_.max_buffered, s.received - s.acked);
    }
    void on_stream_reset(std::int64_t id, std::uint64_t app_error) override {
        conn_.reset_stream(id, app_error);  // echo the reset too
        streams_[id].dead = true;
    }
    void on_stop_sending(std::int64_t id, std::uint64_t) override { streams_[id].dead = true; }
    void on_stream_acked(std::int64_t id, std::uint64_t octets) override {
        const auto it = streams_.find(id);
        if (it == streams_.end()) return;
        Stream& s = it->second;
        s.acked += octets;
        while (!s.chunks.empty() && s.base + s.chunks.front().size() <= s.acked) {
            s.base += s.chunks.front().size();
            s.chunks.pop_front();
        }
        conn_.consumed(id, octets);  // freed: the peer may send as much again
    }
    void on_stream_closed(std::int64_t id, std::uint64_t) override {
        const auto it = streams_.find(id);
        if (it == streams_.end()) return;
        // A reset stream leaves unechoed octets: free them for the connection.
        conn_.consumed_connection(it->second.received - std::min(it->second.acked, it->second.received));
        streams_.erase(it);
    }
    void on_stream_writable(std::int64_t id) override {
        if (const auto it = streams_.find(id); it != streams_.end()) it->second.blocked = false;
    }
    void on_connection_closed(const CloseInfo& info) override { record_.closes.push_back(info); }

    std::optional<StreamWrite> next_write() override {
        for (auto& [id, s] : streams_) {
            if (s.dead || s.blocked || s.fin_written) continue;
            if (s.written == s.received && !s.fin_received) continue;
            // The pieces from offset `written` on, straight from the chunks.
            pieces_.clear();
            std::uint64_t at = s.base;
            for (const auto& chunk : s.chunks) {
                const std::uint64_t end = at + chunk.size();
                if (end > s.written) {
                    const std::size_t skip = static_cast<std::size_t>(s.written > at ? s.written - at : 0);
                    pieces_.emplace_back(chunk.data() + skip, chunk.size() - skip);
                    if (pieces_.size() == 16) break;
                }
                at = end;
            }
            const bool all = at == s.received;
            return StreamWrite{id, pieces_, s.fin_received && all};
        }
        return std::nullopt;
    }
    void wrote(std::int64_t id, std::size_t octets, bool fin) override {
        Stream& s = streams_[id];
        s.written += octets;
        s.fin_written |= fin;
    }
    void blocked(std::int64_t id) override { streams_[id].blocked = true; }

private:
    struct Stream {
        std::deque<std::vector<std::uint8_t>> chunks;  // [base, received)
        std::uint64_t base = 0;
        std::uint64_t received = 0, written = 0, acked = 0;
        bool fin_received = false, fin_written = false, blocked = false, dead = false;
    };
    QuicConnection& conn_;
    Record& record_;
    std::map<std::int64_t, Stream> streams_;
    std::vector<std::span<const std::uint8_t>> pieces_;
};

// ---- client side: send known bytes, check the echo ----

std::uint8_t pattern(std::size_t stream_index, std::size_t i) {
    return static_cast<std::uint8_t>((i * 131 + stream_index * 17 + (i >> 10)) & 0xff);
}

class EchoClient final : public QuicStreamHandler {
public:
    /// Sends one stream per size; closes with H3_NO_ERROR once all are back
    /// (unless `stay_open`). The stream at `reset_index` is abandoned once
    /// its first kilobyte is acknowledged (RESET_STREAM and STOP_SENDING):
    /// the echo server must answer with a reset of its own.
    explicit EchoClient(std::vector<std::size_t> sizes, bool stay_open = false,
                        std::optional<std::size_t> reset_index = std::nullopt)
        : stay_open_(stay_open), reset_index_(reset_index) {
        for (std::size_t k = 0; k < sizes.size(); ++k) {
            Stream s;
            s.index = k;
            s.payload.resize(sizes[k]);
            for (std::size_t i = 0; i < sizes[k]; ++i) s.payload[i] = pattern(k, i);
            pending_.push_back(std::move(s));
        }
    }
    void attach(QuicConnection& conn) { conn_ = &conn; }

    void on_handshake_completed() override {
        handshake = true;
        handshake_at = std::chrono::steady_clock::now();
        open_streams();
    }
    void on_streams_available() override {
        if (handshake) open_streams();
    }
    void on_stream_data(std::int64_t id, std::span<const std::uint8_t> data, bool fin) override {
        const auto it = streams_.find(id);
        if (it == streams_.end()) {
            ++errors;
            return;
        }
        Stream& s = it->second;
        for (std::size_t i = 0; i < data.size(); ++i) {
            if (s.echoed + i >= s.payload.size() || data[i] != s.payload[s.echoed + i]) {
                ++errors;
                break;
            }
        }
        s.echoed += data.size();
        bytes_echoed += data.size();
        conn_->consumed(id, data.size());  // checked and dropped
        if (fin) {
            if (s.echoed != s.payload.size() || s.reset) ++errors;
            stream_done();
        }
    }
    void on_stream_reset(std::int64_t id, std::uint64_t app_error) override {
        const auto it = streams_.find(id);
        if (it == streams_.end() || !it->second.reset || app_error != echo_test_reset) {
            ++errors;
            return;
        }
        ++resets_echoed;
        stream_done();
    }
    void on_stop_sending(std::int64_t id, std::uint64_t) override {
        // Allowed only on the stream we reset (the peer may answer with both frames).
        const auto it = streams_.find(id);
        if (it == streams_.end() || !it->second.reset) ++errors;
    }
    void on_stream_acked(std::int64_t id, std::uint64_t octets) override {
        bytes_acked += octets;
        const auto it = streams_.find(id);
        if (it == streams_.end()) return;
        Stream& s = it->second;
        s.acked += octets;
        if (reset_index_ == s.index && s.acked >= 1000 && !s.fin_sent && !s.reset) {
            s.reset = true;
            if (!conn_->reset_stream(id, echo_test_reset) || !conn_->stop_sending(id, echo_test_reset)) ++errors;
        }
    }
    void on_stream_closed(std::int64_t, std::uint64_t) override { ++streams_closed; }
    void on_stream_writable(std::int64_t id) override {
        if (const auto it = streams_.find(id); it != streams_.end()) it->second.blocked = false;
    }
    void on_connection_closed(const CloseInfo& info) override {
        closed = info;
        closed_at = std::chrono::steady_clock::now();
    }

    std::optional<StreamWrite> next_write() override {
        for (auto& [id, s] : streams_) {
            if (s.blocked || s.fin_sent || s.reset) continue;
            piece_ = std::span<const std::uint8_t>(s.payload).subspan(s.sent);
            return StreamWrite{id, {&piece_, 1}, true};
        }
        return std::nullopt;
    }
    void wrote(std::int64_t id, std::size_t octets, bool fin) override {
        Stream& s = streams_.at(id);
        s.sent += octets;
        s.fin_sent |= fin;
        if (s.sent > s.payload.size()) ++errors;
    }
    void blocked(std::int64_t id) override {
        streams_.at(id).blocked = true;
        ++blocked_count;
    }

    std::size_t total_streams() const { return streams_.size() + pending_.size(); }

    bool handshake = false;
    std::size_t streams_done = 0, streams_closed = 0, blocked_count = 0, resets_echoed = 0;
    std::uint64_t bytes_echoed = 0, bytes_acked = 0;
    int errors = 0;
    std::optional<CloseInfo> closed;
    std::chrono::steady_clock::time_point handshake_at, closed_at;

private:
    struct Stream {
        std::size_t index = 0;
        std::vector<std::uint8_t> payload;
        std::size_t sent = 0, echoed = 0;
        std::uint64_t acked = 0;
        bool fin_sent = false, blocked = false, reset = false;
    };
    void stream_done() {
        ++streams_done;
        if (streams_done == total_streams() && !stay_open_) conn_->close(h3_no_error, "done");
    }
    void open_streams() {
        while (!pending_.empty()) {
            const auto id = conn_->open_bidi_stream();
            if (!id) return;  // wait for MAX_STREAMS
            streams_.emplace(*id, std::move(pending_.front()));
            pending_.pop_front();
        }
    }
    QuicConnection* conn_ = nullptr;
    bool stay_open_;
    std::optional<std::size_t> reset_index_;
    std::deque<Stream> pending_;
    std::map<std::int64_t, Stream> streams_;
    std::span<const std::uint8_t> piece_;
};

std::string describe(const std::optional<CloseInfo>& info) {
    if (!info) return "open";
    static const char* const kinds[] = {"application", "transport", "idle", "handshake timeout", "dropped"};
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s %s code 0x%llx%s%s", info->by_peer ? "peer" : "local",
                  kinds[static_cast<int>(info->kind)], static_cast<unsigned long long>(info->code),
                  info->reason.empty() ? "" : " ", info->reason.c_str());
    return buf;
}

std::unique_ptr<QuicClient> connect(std::uint16_t port, EchoClient& handler, ClientConfig config) {
    config.port = port;
    std::string err;
    auto client = QuicClient::create(config, handler, err);
    if (!client) {
        std::fprintf(stderr, "client: %s\n", err.c_str());
        return nullptr;
    }
    handler.attach(client->connection());
    return client;
}

std::chrono::steady_clock::time_point in(std::chrono::milliseconds d) {
    return std::chrono::steady_clock::now() + d;
}

// Echo: one client with a 1 MiB stream and a spread of small ones (an
// empty one among them), verifying the server's certificate; another at
// the same time with 40 streams, more than the server lets it open at once.
bool echo_test(const std::string& cert, const std::string& key) {
    EchoHandler::Record record;
    ServerConfig sc;
    sc.cert_file = cert;
    sc.key_file = key;
    sc.limits.max_streams_bidi = 16;
    std::string err;
    auto server = QuicServer::create(
        sc, [&](QuicConnection& c) { return std::make_unique<EchoHandler>(c, record); }, err);
    if (!server) {
        std::fprintf(stderr, "server: %s\n", err.c_str());
        return false;
    }
    EventLoop loop;
    loop.add(*server);

    EchoClient big({1 << 20, 0, 1, 100, 1200, 5000, 65536, 100'000, 300'000});
    ClientConfig verified;
    verified.ca_file = cert;  // self-signed: it is its own CA
    std::vector<std::size_t> small_sizes(40);
    for (std::size_t i = 0; i < small_sizes.size(); ++i) small_sizes[i] = 1000 + 997 * i;
    EchoClient many(small_sizes);
    EchoClient resetting({50'000, 200'000, 50'000}, false, 1);
    ClientConfig insecure;
    insecure.insecure = true;
    const auto start = std::chrono::steady_clock::now();
    auto c1 = connect(server->port(), big, verified);
    auto c2 = connect(server->port(), many, insecure);
    auto c3 = connect(server->port(), resetting, insecure);
    if (!c1 || !c2 || !c3) return false;
    loop.add(*c1);
    loop.add(*c2);
    loop.add(*c3);
    const bool done = loop.run_until(
        [&] { return c1->finished() && c2->finished() && c3->finished() && server->connection_count() == 0; }, in(15s));
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    CHECK(done);
    for (EchoClient* c : {&big, &many, &resetting}) {
        if (c->errors || !c->closed || c->closed->kind != CloseInfo::Kind::application) {
            std::fprintf(stderr, "client: %s, %d errors\n", describe(c->closed).c_str(), c->errors);
        }
        CHECK(c->handshake);
        CHECK(c->errors == 0);
        CHECK(c->streams_done == c->total_streams());
        CHECK(c->closed && c->closed->kind == CloseInfo::Kind::application && !c->closed->by_peer &&
              c->closed->code == h3_no_error);
    }
    CHECK(big.bytes_acked == big.bytes_echoed);
    CHECK(resetting.resets_echoed == 1);
    CHECK(record.closes.size() == 3);
    for (const CloseInfo& info : record.closes) {
        CHECK(info.by_peer && info.kind == CloseInfo::Kind::application && info.code == h3_no_error);
    }
    CHECK(record.max_buffered <= sc.limits.stream_window);
    std::printf(
        "echo: %llu + %llu octets on %zu + %zu streams, one reset stream, in %lld ms (server buffered at most %llu per "
        "stream)\n",
        static_cast<unsigned long long>(big.bytes_echoed), static_cast<unsigned long long>(many.bytes_echoed),
        big.total_streams(), many.total_streams(), static_cast<long long>(ms.count()),
        static_cast<unsigned long long>(record.max_buffered));
    loop.remove(*c1);
    loop.remove(*c2);
    loop.remove(*c3);
    return done;
}

// Loss: 5% of the datagrams of both sides dropped, so that retransmission
// (the PTO and loss timers, ngtcp2_conn_handle_expiry) carries the echo;
// and every 5th send of the server refused with EAGAIN, so that its socket
// holds a datagram and the loop waits for POLLOUT.
bool loss_test(const std::string& cert, const std::string& key) {
    EchoHandler::Record record;
    ServerConfig sc;
    sc.cert_file = cert;
    sc.key_file = key;
    sc.test_tx_loss = 0.05;
    sc.test_eagain_every = 5;
    std::string err;
    auto server = QuicServer::create(
        sc, [&](QuicConnection& c) { return std::make_unique<EchoHandler>(c, record); }, err);
    if (!server) {
        std::fprintf(stderr, "server: %s\n", err.c_str());
        return false;
    }
    EventLoop loop;
    loop.add(*server);
    ClientConfig lossy;
    lossy.insecure = true;
    lossy.test_tx_loss = 0.05;
    EchoClient client({300'000, 20'000, 1, 0, 5000});
    const auto start = std::chrono::steady_clock::now();
    auto c = connect(server->port(), client, lossy);
    if (!c) return false;
    loop.add(*c);
    const bool done = loop.run_until([&] { return c->finished() && server->connection_count() == 0; }, in(15s));
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    CHECK(done);
    if (client.errors || !client.closed || client.closed->kind != CloseInfo::Kind::application) {
        std::fprintf(stderr, "lossy client: %s, %d errors\n", describe(client.closed).c_str(), client.errors);
    }
    CHECK(client.errors == 0);
    CHECK(client.streams_done == client.total_streams());
    CHECK(client.closed && client.closed->kind == CloseInfo::Kind::application && client.closed->code == h3_no_error);
    std::printf(
        "loss: %llu octets on %zu streams with 5%% of datagrams dropped each way and EAGAIN on every 5th "
        "server send, in %lld ms\n",
        static_cast<unsigned long long>(client.bytes_echoed), client.total_streams(),
        static_cast<long long>(ms.count()));
    loop.remove(*c);
    return done;
}

// Limits: a server that takes one connection refuses the second with
// CONNECTION_REFUSED; a client that wants h2 gets no_application_protocol;
// an idle connection ends by itself on both sides.
bool limits_test(const std::string& cert, const std::string& key) {
    EchoHandler::Record record;
    ServerConfig sc;
    sc.cert_file = cert;
    sc.key_file = key;
    sc.max_connections = 1;
    std::string err;
    auto server = QuicServer::create(
        sc, [&](QuicConnection& c) { return std::make_unique<EchoHandler>(c, record); }, err);
    if (!server) {
        std::fprintf(stderr, "server: %s\n", err.c_str());
        return false;
    }
    EventLoop loop;
    loop.add(*server);

    ClientConfig idle;
    idle.insecure = true;
    idle.limits.idle_timeout = 1s;
    EchoClient first({}, true);
    auto c1 = connect(server->port(), first, idle);
    if (!c1) return false;
    loop.add(*c1);
    CHECK(loop.run_until([&] { return first.handshake; }, in(5s)));

    ClientConfig plain;
    plain.insecure = true;
    EchoClient second({100});
    auto c2 = connect(server->port(), second, plain);
    if (!c2) return false;
    loop.add(*c2);
    CHECK(loop.run_until([&] { return c2->finished(); }, in(5s)));
    CHECK(!second.handshake);
    CHECK(second.closed && second.closed->by_peer && second.closed->kind == CloseInfo::Kind::transport &&
          second.closed->code == 0x2);  // CONNECTION_REFUSED
    CHECK(server->refused_count() == 1);
    loop.remove(*c2);
    c2.reset();

    // Idle: the first connection, silent since its handshake, times out
    // after about a second on both ends (the smaller idle timeout wins).
    CHECK(loop.run_until([&] { return c1->finished() && server->connection_count() == 0; }, in(5s)));
    const auto idle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(first.closed_at - first.handshake_at);
    CHECK(first.closed && first.closed->kind == CloseInfo::Kind::idle);
    CHECK(record.closes.size() == 1 && record.closes[0].kind == CloseInfo::Kind::idle);
    CHECK(idle_ms >= 500ms && idle_ms <= 4s);
    loop.remove(*c1);
    c1.reset();

    // ALPN: a client that only speaks h2.
    ClientConfig h2;
    h2.insecure = true;
    h2.alpn = "h2";
    EchoClient third({100});
    auto c3 = connect(server->port(), third, h2);
    if (!c3) return false;
    loop.add(*c3);
    CHECK(loop.run_until([&] { return c3->finished(); }, in(5s)));
    CHECK(!third.handshake);
    CHECK(third.closed && third.closed->kind == CloseInfo::Kind::transport && third.closed->by_peer &&
          third.closed->code == 0x178);  // CRYPTO_ERROR + no_application_protocol
    loop.remove(*c3);

    // Certificate: a client that trusts nothing we have (the key file is
    // no certificate, so the system store is what a real client would use;
    // here: verification against the wrong name).
    ClientConfig wrong_name;
    wrong_name.ca_file = cert;
    wrong_name.server_name = "example.com";
    EchoClient fourth({100});
    auto c4 = connect(server->port(), fourth, wrong_name);
    if (!c4) return false;
    loop.add(*c4);
    CHECK(loop.run_until([&] { return c4->finished(); }, in(5s)));
    CHECK(!fourth.handshake);
    CHECK(fourth.closed && !fourth.closed->by_peer && fourth.closed->kind == CloseInfo::Kind::transport &&
          (fourth.closed->code & 0xff00) == 0x100);  // a TLS alert (bad_certificate and kin)
    loop.remove(*c4);
    // Handshake timeout: a port where a socket is open but nobody answers;
    // the client sends its Initial again and again (PTO), then gives up.
    const int silent = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t addr_len = sizeof addr;
    CHECK(silent >= 0 && ::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
          ::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &addr_len) == 0);
    ClientConfig impatient;
    impatient.insecure = true;
    impatient.limits.handshake_timeout = 1500ms;
    EchoClient fifth({100});
    auto c5 = connect(ntohs(addr.sin_port), fifth, impatient);
    if (!c5) return false;
    loop.add(*c5);
    const auto hs_start = std::chrono::steady_clock::now();
    CHECK(loop.run_until([&] { return c5->finished(); }, in(5s)));
    const auto hs_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - hs_start);
    CHECK(fifth.closed && fifth.closed->kind == CloseInfo::Kind::handshake_timeout);
    CHECK(hs_ms >= 1s && hs_ms <= 3s);
    loop.remove(*c5);
    ::close(silent);

    std::printf(
        "limits: refused 1 over the cap, idle close after %lld ms, ALPN and certificate name enforced, "
        "handshake timeout after %lld ms\n",
        static_cast<long long>(idle_ms.count()), static_cast<long long>(hs_ms.count()));
    return true;
}

// Handshake only, against another implementation's HTTP/3 server.
bool handshake_test(const std::string& host, std::uint16_t port) {
    ClientConfig config;
    config.host = host;
    config.insecure = true;
    EchoClient handler({}, true);
    auto client = connect(port, handler, config);
    if (!client) return false;
    EventLoop loop;
    loop.add(*client);
    CHECK(loop.run_until([&] { return handler.handshake || client->finished(); }, in(10s)));
    CHECK(handler.handshake);
    CHECK(client->connection().alpn() == "h3");
    client->connection().close(h3_no_error, {});
    client->flush(now());
    CHECK(loop.run_until([&] { return client->finished(); }, in(5s)));
    CHECK(handler.closed && !handler.closed->by_peer && handler.closed->kind == CloseInfo::Kind::application &&
          handler.closed->code == h3_no_error);
    std::printf("handshake with %s:%u: ALPN %.*s, closed with H3_NO_ERROR\n", host.c_str(), port,
                static_cast<int>(client->connection().alpn().size()), client->connection().alpn().data());
    loop.remove(*client);
    return failures == 0;
}

// An echo server for one connection of another implementation's client.
bool serve(const std::string& cert, const std::string& key) {
    EchoHandler::Record record;
    ServerConfig sc;
    sc.cert_file = cert;
    sc.key_file = key;
    std::string err;
    auto server = QuicServer::create(
        sc, [&](QuicConnection& c) { return std::make_unique<EchoHandler>(c, record); }, err);
    if (!server) {
        std::fprintf(stderr, "server: %s\n", err.c_str());
        return false;
    }
    std::printf("port %u\n", server->port());
    std::fflush(stdout);
    EventLoop loop;
    loop.add(*server);
    loop.run_until([&] { return !record.closes.empty() && server->connection_count() == 0; }, in(15s));
    std::printf("handshakes %zu alpn %s\n", record.handshakes, record.alpn.c_str());
    for (const CloseInfo& info : record.closes) std::printf("closed: %s\n", describe(info).c_str());
    return record.handshakes == 1 && record.alpn == "h3";
}

}  // namespace

int main(int argc, char** argv) {
    std::string cert, key, host;
    std::uint16_t port = 0;
    bool serving = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--serve") {
            serving = true;
        } else if (a == "--cert" && i + 1 < argc) {
            cert = argv[++i];
        } else if (a == "--key" && i + 1 < argc) {
            key = argv[++i];
        } else if (a == "--handshake" && i + 2 < argc) {
            host = argv[++i];
            port = static_cast<std::uint16_t>(std::stoi(argv[++i]));
        } else {
            std::fprintf(stderr, "usage: %s [--serve] --cert FILE --key FILE | --handshake HOST PORT\n", argv[0]);
            return 2;
        }
    }
    if (!host.empty()) return handshake_test(host, port) && failures == 0 ? 0 : 1;
    if (cert.empty() || key.empty()) {
        std::fprintf(stderr, "%s: --cert and --key are needed\n", argv[0]);
        return 2;
    }
    if (serving) return serve(cert, key) ? 0 : 1;
    echo_test(cert, key);
    loss_test(cert, key);
    limits_test(cert, key);
    if (failures) std::fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
