// HTTP/3 for the example programs: h2wire::h3::Connection on one QUIC
// connection of the example transport (examples/quic, ngtcp2 + GnuTLS).
//
// Bridge (both sides): the transport's stream callbacks go to the h3
// connection (receive, stream_reset, stop_sending, acknowledged,
// unblock_stream), and its packets are filled from next_output(); the h3
// connection's commands become RESET_STREAM / STOP_SENDING, and
// ConnectionTerminated a CONNECTION_CLOSE with its code. Stream data is held
// until the peer acknowledges it (ngtcp2 does not copy), and QUIC flow
// control is handed back as the connection consumes input (InputConsumed for
// octets held behind blocked QPACK sections).
//
// H3ServerSession answers with the HTTP/2 server's routing (server/route.hpp):
// the same files, /echo, ?trailers=1 and errors, and CONNECT /ws with
// :protocol websocket (RFC 9220) as a WebSocket echo.
// H3ClientSession fetches a list of requests and keeps their responses.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "h2wire/h3connection.hpp"
#include "quic/quic.hpp"

namespace example {

class FileCache;
struct ServedFile;

namespace ws {
class Endpoint;
}

namespace h3ex {

/// What the bridge keeps per QUIC connection; the sessions derive from it.
class Bridge : public quic::QuicStreamHandler {
public:
    Bridge(quic::QuicConnection& quic, const h2wire::h3::ConnectionConfig& config);
    ~Bridge() override;

    h2wire::h3::Connection& h3() { return conn_; }

    void on_handshake_completed() override;
    void on_stream_data(std::int64_t stream, std::span<const std::uint8_t> data, bool fin) override;
    void on_stream_reset(std::int64_t stream, std::uint64_t app_error) override;
    void on_stop_sending(std::int64_t stream, std::uint64_t app_error) override;
    void on_stream_acked(std::int64_t stream, std::uint64_t octets) override;
    void on_stream_closed(std::int64_t stream, std::uint64_t app_error) override;
    void on_stream_writable(std::int64_t stream) override;
    void on_connection_closed(const quic::CloseInfo& info) override;
    std::optional<quic::StreamWrite> next_write() override;
    void wrote(std::int64_t stream, std::size_t octets, bool fin) override;
    void blocked(std::int64_t stream) override;

    /// The HTTP/3 connection is over (ConnectionTerminated, or the QUIC
    /// connection closed).
    bool finished() const { return finished_; }

protected:
    /// The application's turn: the events of one call.
    virtual void handle(std::span<const h2wire::h3::Event> events) = 0;
    /// After each batch of events: move more body into the connection.
    virtual void pump() {}
    /// The QUIC handshake is done and the control streams are bound.
    virtual void ready() {}
    /// Runs handle() and then what the events ask of the transport.
    void dispatch(std::span<const h2wire::h3::Event> events);
    /// Withholds QUIC flow-control credit for `n` octets of `stream` until
    /// release_credit(): an echo hands back input only as its copy drains.
    void hold_credit(std::int64_t stream, std::uint64_t n);
    void release_credit(std::int64_t stream);

    quic::QuicConnection& quic_;
    h2wire::h3::Connection conn_;

private:
    void process(std::span<const h2wire::h3::Event> events);
    void commands();
    std::vector<std::span<const std::uint8_t>> spans_;
    std::map<std::int64_t, std::uint64_t> withheld_;  // credit held back per stream
    std::int64_t credit_stream_ = -1;                 // the stream whose input is being handled
    std::uint64_t credit_owed_ = 0;                   // octets of it to hand back after handle()
    bool finished_ = false;
    bool writing_ = false;  // inside wrote(): no calls into the transport
};

struct H3ServerConfig {
    std::string root = ".";
    FileCache* file_cache = nullptr;  ///< null: files are opened per request
    /// File octets read ahead per stream (copied into DATA frames) for
    /// files not held in memory.
    std::size_t file_chunk = 32 * 1024;
    /// Echo octets queued per stream before the request's flow-control
    /// credit stops coming back.
    std::size_t echo_buffer = 128 * 1024;
    bool log = false;
    h2wire::h3::ConnectionConfig h3{};
};

class H3ServerSession final : public Bridge {
public:
    H3ServerSession(quic::QuicConnection& quic, const H3ServerConfig& config);
    ~H3ServerSession() override;
    /// Graceful shutdown: GOAWAY; the connection ends once its requests are done.
    void shutdown();

private:
    struct Stream;
    void handle(std::span<const h2wire::h3::Event> events) override;
    void pump() override;
    void on_request(const h2wire::h3::RequestReceived& r);
    void on_connect(const h2wire::h3::RequestReceived& r);
    void respond_simple(std::uint64_t id, int status, std::string_view text, bool head);
    void finish(std::uint64_t id, Stream& s);

    H3ServerConfig cfg_;
    std::map<std::uint64_t, std::unique_ptr<Stream>> streams_;
};

/// One request of H3ClientSession and, once done, its response.
struct H3Request {
    std::string method = "GET";
    std::string path = "/";
    std::string body;      ///< sent as the request body when not empty
    std::string protocol;  ///< extended CONNECT (e.g. "websocket")
    // The response:
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers, trailers;
    std::string response;
    bool done = false;
    bool reset = false;
    std::uint64_t reset_code = 0;
};

class H3ClientSession final : public Bridge {
public:
    /// Runs `requests` (all at once) against `authority`; `on_done` when all
    /// are done. With `websocket_messages`, a CONNECT :protocol websocket
    /// request sends these text messages and collects the echoes in its
    /// `response` (one per line).
    H3ClientSession(quic::QuicConnection& quic, std::string authority, std::vector<H3Request>& requests,
                    std::vector<std::string> websocket_messages = {});
    ~H3ClientSession() override;
    bool all_done() const;

private:
    void ready() override;
    void handle(std::span<const h2wire::h3::Event> events) override;
    void start();

    std::string authority_;
    std::vector<H3Request>& requests_;
    std::vector<std::string> ws_messages_;
    std::map<std::uint64_t, std::size_t> by_stream_;
    std::unique_ptr<ws::Endpoint> ws_;
    std::uint64_t ws_stream_ = UINT64_MAX;
    std::size_t started_ = 0;
    bool settings_ = false;
};

}  // namespace h3ex
}  // namespace example
