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

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "h2wire/connection.hpp"
#include "server/budget.hpp"

namespace example {

class FileCache;  // server/file_cache.hpp
struct ServedFile;

namespace ws {
class Tunnel;  // websocket/h2_tunnel.hpp
}

struct ServerConfig {
    std::string root = ".";  ///< directory served
    /// File octets are read only as the stream can send them now (its send
    /// window), in chunks of at most file_chunk, at most
    /// file_chunks_in_flight per stream, and at most file_connection_buffer
    /// per connection: a client that does not open its window, or does not
    /// read, costs no file data.
    std::size_t file_chunk = 32 * 1024;
    std::size_t file_chunks_in_flight = 2;
    std::size_t file_connection_buffer = 256 * 1024;
    /// Our receive window per stream and for the connection. In manual flow
    /// control they bound what a client can make us hold without our
    /// consent: the connection window bounds all echo streams together.
    std::uint32_t stream_window = 256 * 1024;
    std::uint32_t connection_window = 1024 * 1024;
    /// h2wire Limits::max_connection_memory: the library's hard budget for
    /// one connection. The application puts echo octets into the
    /// connection's send buffers only while it holds less than half of it,
    /// so that input always has room.
    std::size_t connection_memory = 2 * 1024 * 1024;
    /// Echo body octets a stream may hold beyond what its window bounds
    /// before the window stops coming back. 0 is strict backpressure (the
    /// window returns only as the echo is written). Some clients (curl 7.88)
    /// read the response slowly until their upload is done; slack helps
    /// them. No stream gets slack while its connection holds more than
    /// echo_connection_buffer echo octets, or all connections more than
    /// ProcessBudget::echo_cap.
    std::uint64_t echo_buffer = 256 * 1024;
    std::size_t echo_connection_buffer = 512 * 1024;
    /// Process-wide counters shared by every session of the loop (echo
    /// octets); null: no process-wide echo cap.
    ProcessBudget* budget = nullptr;
    /// The loop's cache of small files (server/file_cache.hpp); null: every
    /// request opens its file.
    FileCache* file_cache = nullptr;
    /// One line per request on stderr, and one per response as its stream
    /// closes: the priority it was sent by (RFC 9218) and the order in which
    /// the connection's responses finished.
    bool log = false;
    bool verbose = false;  ///< -v: every frame, through h2wire::FrameTrace (common/trace.hpp)
    /// --alt-svc: an Alt-Svc field value (RFC 7838 §3) added to every
    /// response, e.g. h3=":4433" to point clients at the HTTP/3 server.
    std::string alt_svc;
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
    /// Immediate GOAWAY (e.g. SETTINGS_TIMEOUT, ENHANCE_YOUR_CALM when the
    /// process is over its memory cap); the connection is over.
    void goaway(h2wire::ErrorCode code, std::string_view debug);
    /// Resets (RST_STREAM CANCEL) every stream that moved no octet in either
    /// direction since `now - timeout`. The session reads no clock: the loop
    /// passes its time. Returns how many were reset.
    std::size_t cancel_stalled(std::chrono::steady_clock::time_point now, std::chrono::milliseconds timeout);
    /// Octets held for this connection: the library's (memory_used()) plus
    /// the application's own buffers (file chunks lent, echo octets waiting).
    std::size_t memory_used() const;

    h2wire::Connection& connection() { return conn_; }
    const h2wire::Connection& connection() const { return conn_; }

    /// Gives back memory kept for reuse (Connection::trim() and the
    /// session's own lists); the loop calls it when the connection is quiet.
    void trim();

private:
    struct Stream;
    struct HeldBody;
    class HeldReader;
    class HeldLender;
    /// Files up to this size held in memory are copied into the connection's
    /// send buffer rather than lent.
    static constexpr std::size_t small_file = 16 * 1024;
    /// Octets of a held file lent to the connection ahead, per stream.
    static constexpr std::size_t held_ahead = 64 * 1024;
    // What a stream moved so far, for the stalled-stream timer.
    struct Progress {
        std::uint64_t in = 0, out = 0;  // octets received; octets queued to send
        // What cancel_stalled() saw last (in, out, buffered), and since when.
        std::uint64_t seen_in = 0, seen_out = 0;
        std::size_t seen_buffered = 0;
        std::chrono::steady_clock::time_point since{};
        /// Records the stream's state; true when it has not changed for `timeout`.
        bool stalled(std::chrono::steady_clock::time_point now, std::chrono::milliseconds timeout,
                     std::size_t buffered);
    };
    void drop(std::map<std::uint32_t, std::unique_ptr<Stream>>::iterator it);
    // Bodies of files held in memory (FileCache), pulled by the connection
    // through held_reader_ (small ones: copied into the DATA frame) or
    // held_lender_ (lent: zero copy).
    HeldBody* find_held(std::uint32_t id);
    void serve_held(std::uint32_t id, std::span<const h2wire::Field> headers, std::shared_ptr<const ServedFile> file);
    void finish_held(std::uint32_t id);
    void handle(std::span<const h2wire::Event> events);
    void on_request(std::uint32_t id, std::span<const h2wire::Field> headers, std::string_view method,
                    std::string_view path, bool end_stream);
    void on_data(std::uint32_t id, std::span<const std::uint8_t> data, std::uint32_t flow_controlled);
    Stream& add_stream(std::uint32_t id, bool input_done);
    void respond_simple(std::uint32_t id, bool end_stream, int status, std::string_view body, bool head);
    /// `fields` with the Alt-Svc field added when configured (views into
    /// alt_fields_, valid until the next call).
    std::span<const h2wire::Field> with_alt_svc(std::span<const h2wire::Field> fields);
    std::array<h2wire::Field, 8> alt_fields_{};
    void pump();
    bool pump_file(std::uint32_t id, Stream& s);
    bool pump_echo(std::uint32_t id, Stream& s, std::uint64_t& connection_slack);
    std::uint64_t echo_slack(std::uint32_t id, const Stream& s) const;
    std::size_t send_room() const;
    void end_response(std::uint32_t id, Stream& s);
    // WebSocket over HTTP/2 (issue 6): the /ws echo, one tunnel per stream.
    void on_connect(const h2wire::RequestReceived& r);
    std::map<std::uint32_t, std::unique_ptr<ws::Tunnel>> websockets_;
    std::map<std::uint32_t, Progress> ws_progress_;

    // --log: what the line at the end of each response says. One entry per
    // stream the connection reported, gone at its StreamClosed (which comes
    // exactly once for each), so the streams the library admits bound it.
    struct Logged {
        std::string path;  // at most 256 octets of it
        h2wire::Priority priority;
    };
    void log_closed(const h2wire::StreamClosed& c);
    std::map<std::uint32_t, Logged> logged_;
    unsigned log_connection_ = 0;      // this connection's number in the log
    unsigned log_finished_ = 0;        // responses finished so far
    bool upgrade_unreported_ = false;  // upgrade()'s request comes with the first receive()

    ServerConfig cfg_;
    // Declared before conn_: the connection may still refer to borrowed file
    // buffers (and body sources) while it is destroyed, so they outlive it.
    std::map<std::uint32_t, std::unique_ptr<Stream>> streams_;
    std::vector<std::pair<unsigned, std::uint32_t>> file_order_;  // (urgency, id) of file streams, each pump()
    std::vector<HeldBody> held_;  // by stream id, ascending
    std::unique_ptr<HeldReader> held_reader_;
    std::unique_ptr<HeldLender> held_lender_;
    std::unique_ptr<h2wire::FrameTrace> trace_;  // -v; before conn_, which refers to it
    h2wire::Connection conn_;
    std::size_t file_lent_ = 0;  // file octets lent to the connection, all streams
    Holding echo_held_;          // echo octets held, all streams (in ProcessBudget::echo)
    bool closed_ = false;
};

}  // namespace example
