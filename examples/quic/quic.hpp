// A QUIC transport for the example programs, on ngtcp2 (0.12) and GnuTLS:
// UDP sockets, the TLS 1.3 handshake with ALPN, loss recovery timers and
// connection close. It knows nothing of HTTP/3. An HTTP/3 layer plugs in
// as a QuicStreamHandler, one per QUIC connection: the transport hands it
// the peer's stream bytes as they arrive and, when it builds packets, pulls
// the bytes to send from it (next_write), without copying them.
//
// Examples only: the h2wire library never links ngtcp2 or GnuTLS.
//
// Lifetimes of outgoing bytes: ngtcp2 keeps pointers to the stream data it
// has put into packets, to send them again if a packet is lost. Bytes that
// next_write() offered and wrote() reported as taken must stay where they
// are until on_stream_acked() covers them or on_stream_closed() ends the
// stream.
//
// Everything runs on one thread: EventLoop polls the sockets and fires the
// timers; the handler's methods are called from inside it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace example::quic {

/// Nanoseconds on CLOCK_MONOTONIC (ngtcp2's clock).
using Timestamp = std::uint64_t;
inline constexpr Timestamp no_expiry = UINT64_MAX;
Timestamp now();

/// What the handler offers to send: a prefix of `data` on `stream`, and a
/// FIN when `fin` and all of `data` is taken. The views must stay valid
/// until the transport calls wrote() or blocked() for this offer (it does
/// before it asks again).
struct StreamWrite {
    std::int64_t stream = -1;
    std::span<const std::span<const std::uint8_t>> data;  ///< scatter-gather, at most 16 pieces are used
    bool fin = false;
};

/// How a connection ended.
struct CloseInfo {
    enum class Kind : std::uint8_t {
        application,  ///< CONNECTION_CLOSE 0x1d (an application error code)
        transport,    ///< CONNECTION_CLOSE 0x1c (a QUIC transport error code)
        idle,         ///< idle timeout (no frame sent)
        handshake_timeout,
        dropped,  ///< a local failure, or a stateless reset: no CONNECTION_CLOSE
    };
    Kind kind = Kind::dropped;
    bool by_peer = false;  ///< the peer sent the CONNECTION_CLOSE
    std::uint64_t code = 0;
    std::string reason;
};

/// What a handler may ask of its connection. The methods may be called from
/// the handler's on_* callbacks and from outside (then call the endpoint's
/// flush()), but not from next_write(), wrote() or blocked(): while a
/// packet is being filled ngtcp2 takes no other call, so there they fail
/// (nullopt, false, or nothing done), except close(), which always waits
/// for the next write.
class QuicConnection {
public:
    /// A new locally initiated stream, or nothing while the peer's stream
    /// limit is reached (on_streams_available() says when to try again).
    virtual std::optional<std::int64_t> open_bidi_stream() = 0;
    virtual std::optional<std::int64_t> open_uni_stream() = 0;
    /// RESET_STREAM: abandons the stream's sending side. The handler must
    /// not offer this stream in next_write() any more.
    virtual bool reset_stream(std::int64_t stream, std::uint64_t app_error) = 0;
    /// STOP_SENDING: asks the peer to stop sending on the stream; data that
    /// still arrives is discarded by ngtcp2.
    virtual bool stop_sending(std::int64_t stream, std::uint64_t app_error) = 0;
    /// Flow control: the handler has consumed (freed) `n` octets that the
    /// peer sent on `stream`; the peer may send that many more on the
    /// stream and on the connection. Nothing is extended automatically, so
    /// a handler that holds bytes bounds its own buffering.
    virtual void consumed(std::int64_t stream, std::uint64_t n) = 0;
    /// The same for the connection only (octets of a stream that is gone).
    virtual void consumed_connection(std::uint64_t n) = 0;
    /// Closes the connection with an application error code
    /// (CONNECTION_CLOSE 0x1d), e.g. H3_NO_ERROR 0x100.
    virtual void close(std::uint64_t app_error, std::string_view reason = {}) = 0;
    virtual bool is_server() const = 0;
    /// The protocol TLS agreed on (after on_handshake_completed()).
    virtual std::string_view alpn() const = 0;
    /// Bidirectional streams the peer still allows us to open.
    virtual std::uint64_t streams_bidi_left() const = 0;

protected:
    ~QuicConnection() = default;
};

/// The HTTP/3 side of one QUIC connection. The transport calls these from
/// its event loop, never re-entrantly.
class QuicStreamHandler {
public:
    virtual ~QuicStreamHandler() = default;

    /// TLS is done (ALPN checked); the connection may open streams.
    virtual void on_handshake_completed() = 0;
    /// The peer's bytes on `stream`, in order; `fin` with the last ones.
    /// `data` is valid only during the call. Call consumed() once the bytes
    /// are processed or freed, or the peer runs out of credit.
    virtual void on_stream_data(std::int64_t stream, std::span<const std::uint8_t> data, bool fin) = 0;
    /// The peer reset the stream (RESET_STREAM).
    virtual void on_stream_reset(std::int64_t stream, std::uint64_t app_error) = 0;
    /// The peer asked us to stop sending (STOP_SENDING). ngtcp2 answers
    /// with RESET_STREAM by itself; the handler stops offering the stream.
    virtual void on_stop_sending(std::int64_t stream, std::uint64_t app_error) = 0;
    /// The peer acknowledged the next `octets` of what the handler wrote on
    /// `stream` (acknowledgements arrive in stream order): those may be freed.
    virtual void on_stream_acked(std::int64_t stream, std::uint64_t octets) = 0;
    /// The stream is gone in both directions (`app_error`: 0 if none was
    /// given). Everything written on it may be freed. Received octets the
    /// handler held and never passed to consumed() still count against the
    /// connection's window: give them back with consumed_connection().
    virtual void on_stream_closed(std::int64_t stream, std::uint64_t app_error) = 0;
    /// The peer raised the stream's flow-control limit (MAX_STREAM_DATA)
    /// after blocked(): offer the stream again.
    virtual void on_stream_writable(std::int64_t stream) = 0;
    /// The peer allows more streams (MAX_STREAMS).
    virtual void on_streams_available() {}
    /// The connection is over; no more calls follow except the destructor
    /// (server: the transport owns the handler and destroys it next).
    virtual void on_connection_closed(const CloseInfo& info) = 0;

    /// Output, pulled while the transport builds packets: the next bytes to
    /// send, or nothing. Offer streams in the order they should go out.
    virtual std::optional<StreamWrite> next_write() = 0;
    /// ngtcp2 took the first `octets` of the last offer (maybe 0), and the
    /// FIN with them when `fin`. The rest stays with the handler, to offer
    /// again.
    virtual void wrote(std::int64_t stream, std::size_t octets, bool fin) = 0;
    /// The last offer cannot go now: the stream's flow control is
    /// exhausted, or its sending side is shut. Do not offer the stream
    /// again before on_stream_writable().
    virtual void blocked(std::int64_t stream) = 0;
};

/// Transport parameters and limits shared by both sides.
struct Limits {
    std::chrono::milliseconds idle_timeout{30'000};
    std::chrono::milliseconds handshake_timeout{10'000};
    std::uint64_t stream_window = 256 * 1024;   ///< initial MAX_STREAM_DATA we grant per stream
    std::uint64_t connection_window = 1 << 20;  ///< initial MAX_DATA we grant
    std::uint64_t max_streams_bidi = 100;       ///< streams the peer may open at once
    std::uint64_t max_streams_uni = 3;          ///< HTTP/3: control + two QPACK streams
};

struct ServerConfig {
    std::string host = "127.0.0.1";  ///< a concrete address (the path's local address)
    std::uint16_t port = 0;          ///< 0: the kernel picks (see QuicServer::port())
    std::string cert_file, key_file;
    std::string alpn = "h3";
    std::size_t max_connections = 64;  ///< beyond: CONNECTION_CLOSE(CONNECTION_REFUSED) to new clients
    Limits limits;
    double test_tx_loss = 0;         ///< tests only: share of outgoing datagrams dropped on purpose
    unsigned test_eagain_every = 0;  ///< tests only: every nth send fails with EAGAIN (0: never)
};

struct ClientConfig {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string server_name = "localhost";  ///< SNI and certificate name
    std::string alpn = "h3";
    std::string ca_file;    ///< trusted CAs (PEM); empty: the system store
    bool insecure = false;  ///< skip certificate verification (tests)
    Limits limits;
    double test_tx_loss = 0;  ///< tests only: share of outgoing datagrams dropped on purpose
};

/// Something EventLoop drives: one UDP socket and its connections.
class Endpoint {
public:
    virtual ~Endpoint() = default;
    virtual int fd() const = 0;
    /// Reads what the socket has (bounded per call), then writes.
    virtual void on_readable(Timestamp now) = 0;
    /// Sends what waits for the socket, then writes.
    virtual void on_writable(Timestamp now) = 0;
    virtual bool wants_writable() const = 0;
    /// The earliest timer (no_expiry: none).
    virtual Timestamp expiry() const = 0;
    /// Handles expired timers, then writes.
    virtual void on_timer(Timestamp now) = 0;
    /// Pulls output from the handlers (after the application queued some
    /// outside a callback).
    virtual void flush(Timestamp now) = 0;
};

namespace detail {
class ServerImpl;
class ClientImpl;
}  // namespace detail

/// Accepts QUIC connections on one UDP socket, at most max_connections at
/// once, each with its own handler from the factory.
class QuicServer final : public Endpoint {
public:
    using HandlerFactory = std::function<std::unique_ptr<QuicStreamHandler>(QuicConnection&)>;
    /// Binds the socket and loads the certificate; null with `err` set on
    /// failure.
    static std::unique_ptr<QuicServer> create(const ServerConfig& config, HandlerFactory factory, std::string& err);
    ~QuicServer() override;

    std::uint16_t port() const;
    std::size_t connection_count() const;
    /// Connections refused because max_connections were open.
    std::uint64_t refused_count() const;
    /// Closes every connection with `app_error`.
    void close_all(std::uint64_t app_error);

    int fd() const override;
    void on_readable(Timestamp now) override;
    void on_writable(Timestamp now) override;
    bool wants_writable() const override;
    Timestamp expiry() const override;
    void on_timer(Timestamp now) override;
    void flush(Timestamp now) override;

private:
    explicit QuicServer(std::unique_ptr<detail::ServerImpl> impl);
    std::unique_ptr<detail::ServerImpl> impl_;
};

/// One QUIC connection to a server. The handler must outlive the client.
class QuicClient final : public Endpoint {
public:
    /// Creates the socket and sends the first Initial at the next write.
    static std::unique_ptr<QuicClient> create(const ClientConfig& config, QuicStreamHandler& handler, std::string& err);
    ~QuicClient() override;

    QuicConnection& connection();
    /// The connection is over (closed, drained or dropped) and its
    /// closing period has passed.
    bool finished() const;
    /// How it ended (valid once the handler got on_connection_closed()).
    const std::optional<CloseInfo>& close_info() const;

    int fd() const override;
    void on_readable(Timestamp now) override;
    void on_writable(Timestamp now) override;
    bool wants_writable() const override;
    Timestamp expiry() const override;
    void on_timer(Timestamp now) override;
    void flush(Timestamp now) override;

private:
    explicit QuicClient(std::unique_ptr<detail::ClientImpl> impl);
    std::unique_ptr<detail::ClientImpl> impl_;
};

/// poll(2) over a few endpoints on one thread.
class EventLoop {
public:
    /// The endpoint must stay alive until remove(), which must not be
    /// called from inside run_once().
    void add(Endpoint& endpoint);
    void remove(Endpoint& endpoint);
    /// One turn: waits for I/O or the earliest timer, at most `max_wait`,
    /// and dispatches. False if poll failed.
    bool run_once(std::chrono::milliseconds max_wait);
    /// Turns until `done()` or `deadline` (steady clock); true if done.
    bool run_until(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline);

private:
    std::vector<Endpoint*> endpoints_;
};

}  // namespace example::quic
