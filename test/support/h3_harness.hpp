// A simulated QUIC layer for testing h3::Connection: a client and a server
// connection whose stream output is carried to the other side in memory.
// Like QUIC, it keeps the order of bytes within a stream only: deliveries
// may be split anywhere and interleaved across streams in any order (seeded
// random), and a stream's RESET_STREAM drops what of it is still in flight.
// Events are recorded as owning copies (the connection's views last only
// until its next call), and a hook lets a test act on each event as an
// application would, from inside the event loop.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "h2wire/h3connection.hpp"

namespace h2wire::test_support {

/// An event with everything copied out.
struct H3Record {
    std::string type;  // "request", "response", "interim", "trailers", "data", "ended", "reset",
                       // "closed", "consumed", "settings", "goaway", "terminated"
    std::uint64_t stream = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string data;
    int status = 0;
    h3::ErrorCode code = h3::ErrorCode::h3_no_error;
    Initiator by = Initiator::local;
    bool end_stream = false;
    bool safe_to_retry = false;
    std::uint64_t value = 0;  // goaway id, consumed octets
    std::string method, path, protocol;
    HeaderError header_error = HeaderError::none;
    void* user = nullptr;
    h3::ConnectionSettings settings{};
};

inline std::vector<std::pair<std::string, std::string>> copy_fields(std::span<const Field> fields) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Field& f : fields) out.emplace_back(std::string(f.name), std::string(f.value));
    return out;
}

inline H3Record record(const h3::Event& e) {
    H3Record r;
    std::visit(
        [&](const auto& ev) {
            using T = std::decay_t<decltype(ev)>;
            if constexpr (std::is_same_v<T, h3::RequestReceived>) {
                r.type = "request";
                r.stream = ev.stream;
                r.headers = copy_fields(ev.headers);
                r.end_stream = ev.end_stream;
                r.method = ev.method;
                r.path = ev.path;
                r.protocol = ev.protocol;
            } else if constexpr (std::is_same_v<T, h3::ResponseReceived>) {
                r.type = "response";
                r.stream = ev.stream;
                r.status = ev.status;
                r.headers = copy_fields(ev.headers);
                r.end_stream = ev.end_stream;
                r.user = ev.user_data;
            } else if constexpr (std::is_same_v<T, h3::InformationalResponseReceived>) {
                r.type = "interim";
                r.stream = ev.stream;
                r.status = ev.status;
                r.headers = copy_fields(ev.headers);
            } else if constexpr (std::is_same_v<T, h3::TrailersReceived>) {
                r.type = "trailers";
                r.stream = ev.stream;
                r.headers = copy_fields(ev.headers);
            } else if constexpr (std::is_same_v<T, h3::DataReceived>) {
                r.type = "data";
                r.stream = ev.stream;
                r.data.assign(reinterpret_cast<const char*>(ev.data.data()), ev.data.size());
                r.end_stream = ev.end_stream;
                r.user = ev.user_data;
            } else if constexpr (std::is_same_v<T, h3::StreamEnded>) {
                r.type = "ended";
                r.stream = ev.stream;
            } else if constexpr (std::is_same_v<T, h3::StreamReset>) {
                r.type = "reset";
                r.stream = ev.stream;
                r.code = ev.code;
                r.by = ev.by;
                r.safe_to_retry = ev.safe_to_retry;
                r.header_error = ev.invalid_header.error;
                r.user = ev.user_data;
            } else if constexpr (std::is_same_v<T, h3::StreamClosed>) {
                r.type = "closed";
                r.stream = ev.stream;
                r.code = ev.code;
                r.by = ev.by;
                r.user = ev.user_data;
            } else if constexpr (std::is_same_v<T, h3::InputConsumed>) {
                r.type = "consumed";
                r.stream = ev.stream;
                r.value = ev.octets;
            } else if constexpr (std::is_same_v<T, h3::SettingsReceived>) {
                r.type = "settings";
                r.settings = ev.settings;
            } else if constexpr (std::is_same_v<T, h3::GoawayReceived>) {
                r.type = "goaway";
                r.value = ev.id;
            } else if constexpr (std::is_same_v<T, h3::ConnectionTerminated>) {
                r.type = "terminated";
                r.code = ev.code;
                r.by = ev.by;
            }
        },
        e);
    return r;
}

/// One side of the simulated connection.
struct H3Side {
    explicit H3Side(const h3::ConnectionConfig& c) : conn(c) {}
    h3::Connection conn;
    std::vector<H3Record> events;
    /// Called with each event as it is reported (from inside the loop over
    /// the span receive() returned), before it is recorded.
    std::function<void(const h3::Event&)> on_event;
    std::map<std::uint64_t, std::string> body;  // DATA per stream, concatenated
    /// Octets taken by QUIC per stream, and whether FIN went.
    std::map<std::uint64_t, std::size_t> written;

    void take(std::span<const h3::Event> evs) {
        for (const h3::Event& e : evs) {
            if (on_event) on_event(e);
            H3Record r = record(e);
            if (r.type == "data") body[r.stream] += r.data;
            events.push_back(std::move(r));
        }
    }
    std::vector<H3Record> of(std::string_view type, std::uint64_t stream = ~std::uint64_t{0}) const {
        std::vector<H3Record> out;
        for (const H3Record& r : events)
            if (r.type == type && (stream == ~std::uint64_t{0} || r.stream == stream)) out.push_back(r);
        return out;
    }
    bool terminated() const { return !of("terminated").empty(); }
};

/// Client and server joined by simulated QUIC streams.
struct H3Pair {
    struct Flight {
        std::string bytes;
        bool fin = false;
        bool fin_sent = false;
    };
    struct Direction {
        std::map<std::uint64_t, Flight> streams;  // in flight towards the receiver
        std::map<std::uint64_t, std::string> log;  // every octet ever written, per stream
        std::deque<std::pair<std::uint64_t, std::pair<h3::CommandKind, std::uint64_t>>> commands;
    };

    H3Pair(h3::ConnectionConfig client_config = {}, h3::ConnectionConfig server_config = {}, std::uint64_t seed = 1)
        : client(with_role(client_config, Role::client)),
          server(with_role(server_config, Role::server)),
          rng(seed) {}

    static h3::ConnectionConfig with_role(h3::ConnectionConfig c, Role r) {
        c.role = r;
        return c;
    }

    H3Side client;
    H3Side server;
    std::mt19937_64 rng;
    /// Deliveries: whole flights in stream order (false) or random pieces
    /// of random streams (true).
    bool shuffle = false;
    /// The QUIC stack takes a random part of what is offered, and marks the
    /// stream blocked until the next round.
    bool partial_writes = false;
    /// With retain_until_acked: acknowledge what was written, each round.
    bool acknowledge = true;
    /// Streams whose deliveries wait (to force QPACK blocking, say).
    std::vector<std::uint64_t> held_back;
    Direction to_server, to_client;

    void bind() {
        REQUIRE_BIND(client.conn.bind_local_streams(2, 6, 10));
        REQUIRE_BIND(server.conn.bind_local_streams(3, 7, 11));
    }
    static void REQUIRE_BIND(ApiError e) {
        if (e != ApiError::none) throw std::runtime_error("bind_local_streams failed");
    }

    /// Moves one side's output and commands into flight.
    void collect(H3Side& from, Direction& dir) {
        std::vector<std::pair<std::uint64_t, std::size_t>> blocked;
        for (int guard = 0; guard < 100000; ++guard) {
            auto out = from.conn.next_output();
            if (!out) break;
            std::size_t n = out->size;
            if (partial_writes && n > 1 && rng() % 3 == 0) n = rng() % n;
            Flight& f = dir.streams[out->stream];
            std::size_t left = n;
            for (const OutputChunk& c : out->chunks) {
                const std::size_t k = std::min(left, c.size);
                f.bytes.append(reinterpret_cast<const char*>(c.data), k);
                dir.log[out->stream].append(reinterpret_cast<const char*>(c.data), k);
                left -= k;
                if (left == 0) break;
            }
            const bool fin = out->fin && n == out->size;
            if (fin) f.fin = true;
            if (from.conn.consume_output(out->stream, n) != ApiError::none)
                throw std::runtime_error("consume_output refused what next_output offered");
            from.written[out->stream] += n;
            if (acknowledge) from.conn.acknowledged(out->stream, n);
            if (n < out->size) {
                from.conn.block_stream(out->stream);
                blocked.emplace_back(out->stream, n);
            }
        }
        for (auto& [s, n] : blocked) from.conn.unblock_stream(s);
        while (auto c = from.conn.next_command()) {
            dir.commands.push_back({c->stream, {c->kind, static_cast<std::uint64_t>(c->code)}});
            if (c->kind == h3::CommandKind::reset_stream) {
                // RESET_STREAM: what was not delivered is lost (RFC 9000 §3.2).
                auto it = dir.streams.find(c->stream);
                if (it != dir.streams.end()) dir.streams.erase(it);
            }
        }
        from.take(from.conn.take_events());
    }

    bool held(std::uint64_t s) const {
        return std::find(held_back.begin(), held_back.end(), s) != held_back.end();
    }

    /// Delivers what is in flight towards `to`; true if anything moved.
    bool deliver(Direction& dir, H3Side& to) {
        bool moved = false;
        while (!dir.commands.empty()) {
            auto [stream, cmd] = dir.commands.front();
            dir.commands.pop_front();
            if (cmd.first == h3::CommandKind::reset_stream)
                to.take(to.conn.stream_reset(stream, cmd.second));
            else
                to.take(to.conn.stop_sending(stream, cmd.second));
            moved = true;
        }
        for (int guard = 0; guard < 1000000; ++guard) {
            std::vector<std::uint64_t> ready;
            for (auto& [s, f] : dir.streams)
                if (!held(s) && (!f.bytes.empty() || (f.fin && !f.fin_sent))) ready.push_back(s);
            if (ready.empty()) break;
            const std::uint64_t s = shuffle ? ready[rng() % ready.size()] : ready.front();
            Flight& f = dir.streams[s];
            std::size_t n = f.bytes.size();
            if (shuffle && n > 1) n = 1 + rng() % n;
            const std::string piece = f.bytes.substr(0, n);
            f.bytes.erase(0, n);
            const bool fin = f.fin && f.bytes.empty() && !f.fin_sent;
            if (fin) f.fin_sent = true;
            to.take(to.conn.receive(
                s, std::span(reinterpret_cast<const std::uint8_t*>(piece.data()), piece.size()), fin));
            moved = true;
        }
        return moved;
    }

    /// Runs both ways until nothing moves.
    void pump(int max_rounds = 1000) {
        for (int i = 0; i < max_rounds; ++i) {
            collect(client, to_server);
            collect(server, to_client);
            const bool a = deliver(to_server, server);
            const bool b = deliver(to_client, client);
            if (!a && !b && !client.conn.wants_write() && !server.conn.wants_write()) return;
        }
    }

    /// Raw bytes on a stream towards the server (a hostile client).
    void inject_to_server(std::uint64_t stream, std::string_view bytes, bool fin = false) {
        server.take(server.conn.receive(
            stream, std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), fin));
    }
    void inject_to_client(std::uint64_t stream, std::string_view bytes, bool fin = false) {
        client.take(client.conn.receive(
            stream, std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), fin));
    }
};

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace h2wire::test_support
