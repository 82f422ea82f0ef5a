// WebSocket over HTTP/2 (RFC 8441) on top of h2wire::Connection: the glue
// between one extended CONNECT stream and a ws::Endpoint, for the server's
// /ws echo endpoint and the client's --websocket mode. No socket here: the
// caller's loop feeds events and moves the connection's output.
//
// Backpressure: the peer's DATA is handed back to the flow-control window
// (Connection::consume, manual flow control) only while what we have to send
// on the stream stays under `max_pending`; a peer that sends without reading
// fills its window and stops. Memory per stream: one message
// (Options::max_message), the stream window, and max_pending.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "h2wire/connection.hpp"
#include "websocket/websocket.hpp"

namespace example::ws {

/// Octets waiting to become DATA on one stream, pushed as the stream's send
/// buffer frees up (Connection::send_capacity), then END_STREAM if asked.
class StreamWriter {
public:
    void append(std::span<const std::uint8_t> b) { buf_.insert(buf_.end(), b.begin(), b.end()); }
    /// END_STREAM once everything appended went out.
    void end() { end_ = true; }
    std::size_t pending() const { return buf_.size() - at_; }
    bool ended() const { return end_sent_; }
    /// Moves what fits into the connection. Returns the API's error, if any.
    h2wire::ApiError flush(h2wire::Connection& c, std::uint32_t stream) {
        while (pending() > 0) {
            const std::size_t n = std::min(pending(), c.send_capacity(stream));
            if (n == 0) break;
            const bool last = end_ && n == pending();
            const h2wire::ApiError e = c.send_data(stream, std::span(buf_).subspan(at_, n), last);
            if (e == h2wire::ApiError::buffer_full) break;
            if (e != h2wire::ApiError::none) return e;
            at_ += n;
            end_sent_ = last;
        }
        if (at_ == buf_.size()) {
            buf_.clear();
            at_ = 0;
        } else if (at_ > 64 * 1024 && at_ * 2 > buf_.size()) {
            buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(at_));
            at_ = 0;
        }
        if (end_ && !end_sent_ && pending() == 0) {
            const h2wire::ApiError e = c.send_data(stream, {}, true);
            if (e == h2wire::ApiError::none)
                end_sent_ = true;
            else if (e != h2wire::ApiError::buffer_full)
                return e;
        }
        return h2wire::ApiError::none;
    }

private:
    std::vector<std::uint8_t> buf_;
    std::size_t at_ = 0;
    bool end_ = false;
    bool end_sent_ = false;
};

/// The header value of `name` in `headers`, if present.
inline std::optional<std::string_view> header(std::span<const h2wire::Field> headers, std::string_view name) {
    for (const h2wire::Field& f : headers)
        if (f.name == name) return f.value;
    return std::nullopt;
}

/// Server side: whether an extended CONNECT may become a WebSocket (RFC 8441
/// §5, RFC 6455 §4.2.1): :protocol websocket and Sec-WebSocket-Version 13.
/// Returns the status to answer with (200, or 400 / 426 with why).
inline int accept_status(const h2wire::RequestReceived& r, std::string_view* why = nullptr) {
    auto say = [&](int status, std::string_view text) {
        if (why) *why = text;
        return status;
    };
    if (r.method != "CONNECT" || r.protocol != "websocket") return say(400, "not an extended CONNECT for websocket");
    const auto version = header(r.headers, "sec-websocket-version");
    // RFC 6455 §4.2.2: an unsupported version gets 426 with the one we speak.
    if (!version || *version != "13") return say(426, "Sec-WebSocket-Version must be 13");
    return say(200, "");
}

/// One WebSocket on one HTTP/2 stream: the server's echo, or a client.
class Tunnel {
public:
    struct Config {
        Role role = Role::server;
        std::size_t max_message = 1 << 20;
        std::size_t max_pending = 256 * 1024;
        bool echo = false;  ///< server: send every message back
    };
    Tunnel(std::uint32_t stream, const Config& config)
        : stream_(stream), cfg_(config), ep_(Options{config.role, config.max_message, 0, !config.echo}) {}

    std::uint32_t stream() const { return stream_; }
    Endpoint& endpoint() { return ep_; }

    /// DATA of the stream arrived (`credit`: its flow_controlled_length).
    void on_data(std::span<const std::uint8_t> data, std::uint32_t credit) {
        ep_.receive(data);
        owed_ += credit;
        if (cfg_.echo) {
            while (!ep_.messages().empty()) {
                Message& m = ep_.messages().front();
                ep_.send(m.opcode, std::span(reinterpret_cast<const std::uint8_t*>(m.data.data()), m.data.size()));
                ep_.messages().pop_front();
            }
            // The messages that came before the peer's close go back first.
            ep_.reply_close();
        }
    }
    /// The peer ended its side (END_STREAM): like TCP FIN under RFC 6455.
    void on_end() { peer_ended_ = true; }

    /// Moves WebSocket output into the stream and hands window back while
    /// the backlog is small and `grant` (the caller's budget: false holds
    /// the window back whatever the backlog). Call after each batch of
    /// events and API calls.
    h2wire::ApiError pump(h2wire::Connection& c, bool manual_flow_control, bool grant = true) {
        if (!ep_.output().empty()) {
            writer_.append(ep_.output());
            ep_.output().clear();
        }
        // RFC 8441 §5: an orderly close is END_STREAM, once the closing
        // handshake is done (or the peer already ended its side).
        if ((ep_.closed() || peer_ended_) && !writer_.ended()) writer_.end();
        const h2wire::ApiError e = writer_.flush(c, stream_);
        if (manual_flow_control && grant && owed_ > 0 && writer_.pending() < cfg_.max_pending) {
            c.consume(stream_, owed_);
            owed_ = 0;
        }
        return e;
    }
    /// Our END_STREAM went out.
    bool done() const { return writer_.ended(); }
    std::size_t pending() const { return writer_.pending(); }
    /// Octets held for this WebSocket (endpoint buffers and our backlog).
    std::size_t memory() const { return ep_.memory() + writer_.pending(); }

private:
    std::uint32_t stream_;
    Config cfg_;
    Endpoint ep_;
    StreamWriter writer_;
    std::size_t owed_ = 0;
    bool peer_ended_ = false;
};

}  // namespace example::ws
