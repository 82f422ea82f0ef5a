// The example server's application: what it does with requests, written
// against h2wire::Connection only. No socket, no loop, no TLS here: a
// transport (the poll() server, the Asio server, TLS on either) owns one
// ServerSession per connection and only moves bytes.
//
// Hook points, in the order a transport calls them:
//
//     ServerSession s{config};                 // per accepted connection
//     s.upgrade(...)                           // optional: h2c upgrade (RFC 7540 §3.2),
//                                              //   before any receive()
//     loop:
//       s.receive(bytes_read);                 // events handled inside
//       for (auto c : s.output()) writev(...)  // frames; DATA straight from file buffers
//       s.written(n);                          // n octets went out
//       if (s.finished()) close;               // connection over and output flushed
//     on SIGTERM: s.shutdown();                // GOAWAY; open streams finish
//
// What it serves:
//   GET/HEAD /path   a file under config.root (index.html for directories),
//                    content-length, content-type by extension; 404 when
//                    missing, 400 for paths that try to leave the root.
//   POST /echo       the request body back, streamed: bytes are handed back to
//                    the flow-control window (Connection::consume) only once
//                    their echo has been written (beyond a bounded slack,
//                    ServerConfig::echo_buffer), so a client can upload any
//                    size through bounded memory.
//   ?trailers=1      with `te: trailers`: the response ends with trailers
//                    (x-body-length, x-body-fnv1a).
//   CONNECT /ws      :protocol websocket (RFC 8441): a WebSocket echo
//                    (RFC 6455 framing in websocket/); other CONNECTs: 501.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "h2wire/connection.hpp"

namespace example {

namespace ws {
class Tunnel;  // websocket/h2_tunnel.hpp
}

struct ServerConfig {
    std::string root = ".";  ///< directory served
    /// Octets read from a file per DATA chunk, and chunks in flight per
    /// stream: what one file download holds in memory.
    std::size_t file_chunk = 64 * 1024;
    std::size_t file_chunks_in_flight = 2;
    /// Our receive window per stream. In manual flow control it is also the
    /// most an echo stream can hold (the peer cannot send past it).
    std::uint32_t stream_window = 256 * 1024;
    /// Echo body octets a stream may hold beyond what its window bounds
    /// before the window stops coming back. 0 is strict backpressure (the
    /// window returns only as the echo is written). Some clients (curl 7.88)
    /// stop reading the response until their upload is done; with them an
    /// echo larger than their receive window needs this much slack.
    std::uint64_t echo_buffer = 16 * 1024 * 1024;
    bool log = false;  ///< one line per request on stderr
};

/// One HTTP/2 connection's application state.
class ServerSession {
public:
    explicit ServerSession(const ServerConfig& config);
    ~ServerSession();
    ServerSession(const ServerSession&) = delete;
    ServerSession& operator=(const ServerSession&) = delete;

    /// h2c upgrade: the transport parsed an HTTP/1.1 request with
    /// `Upgrade: h2c`; `request` are its fields in HTTP/2 form (pseudo-headers
    /// first), `body` its body. On success the transport writes
    /// "HTTP/1.1 101 Switching Protocols" and then output() as usual.
    h2wire::ApiError upgrade(std::string_view http2_settings, std::span<const h2wire::Field> request,
                             std::span<const std::uint8_t> body);

    /// Bytes from the peer (any split).
    void receive(std::span<const std::uint8_t> bytes);
    /// What to write now, as pieces for writev; valid until the next call.
    std::span<const h2wire::OutputChunk> output();
    /// The first n octets of output() were written.
    void written(std::size_t n);
    /// Graceful shutdown (RFC 9113 §6.8).
    void shutdown();
    /// The connection is over and everything was written: close it.
    bool finished() const;
    bool wants_write() const { return conn_.wants_write(); }

    h2wire::Connection& connection() { return conn_; }

private:
    struct Stream;
    void on_request(std::uint32_t id, std::span<const h2wire::Field> headers, std::string_view method,
                    std::string_view path, bool end_stream);
    void on_data(std::uint32_t id, std::span<const std::uint8_t> data, std::uint32_t flow_controlled);
    void respond_simple(std::uint32_t id, Stream& s, int status, std::string_view body, bool head);
    void pump();
    bool pump_file(std::uint32_t id, Stream& s);
    bool pump_echo(std::uint32_t id, Stream& s);
    void end_response(std::uint32_t id, Stream& s);
    // WebSocket over HTTP/2 (issue 6): the /ws echo, one tunnel per stream.
    void on_connect(const h2wire::RequestReceived& r);
    std::map<std::uint32_t, std::unique_ptr<ws::Tunnel>> websockets_;

    ServerConfig cfg_;
    // Declared before conn_: the connection may still refer to borrowed file
    // buffers while it is destroyed, so the buffers outlive it.
    std::map<std::uint32_t, std::unique_ptr<Stream>> streams_;
    h2wire::Connection conn_;
    bool closed_ = false;
};

}  // namespace example
