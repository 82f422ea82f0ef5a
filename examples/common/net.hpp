// Socket and transport helpers shared by the example server and client:
// TCP listen/connect on non-blocking sockets, a Transport that moves bytes
// over plain TCP or TLS, and the two loop steps every h2wire program has:
// read what arrived into receive(), write what pending output holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "h2wire/connection.hpp"

namespace example {

/// Outcome of one transport operation.
struct IoResult {
    enum Status : std::uint8_t { ok, again, closed, error } status = ok;
    std::size_t n = 0;  ///< octets moved (ok)
};

/// Bytes over a non-blocking socket, plain or TLS.
class Transport {
public:
    explicit Transport(int fd) : fd_(fd) {}
    virtual ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    int fd() const { return fd_; }
    virtual IoResult read(std::span<std::uint8_t> buf);
    /// Writes a prefix of the pieces (writev on plain TCP), at most
    /// max_write() octets at once.
    virtual IoResult write(std::span<const h2wire::OutputChunk> pieces);
    /// Octets one write() hands the kernel at most (0: no limit). Large
    /// writes of cold memory cost more kernel time per octet than writes
    /// that fit the socket's buffer and the CPU's caches.
    void set_max_write(std::size_t n) { max_write_ = n; }
    std::size_t max_write() const { return max_write_; }
    /// TLS: advances the handshake (ok once done). Plain TCP: ok.
    virtual IoResult handshake() { return {IoResult::ok, 0}; }
    /// The transport needs POLLOUT for its own sake (a TLS handshake step).
    virtual bool wants_write() const { return false; }
    /// Ends our direction (FIN; TLS: close_notify first). A server closes
    /// this way and reads until the peer closes too, so that unread input
    /// does not make the kernel reset the connection and discard what the
    /// peer has not read yet.
    virtual void close_write();
    /// The ALPN protocol agreed on (TLS), else empty.
    virtual std::string_view alpn() const { return {}; }

protected:
    int fd_;
    std::size_t max_write_ = 0;
};

/// A listening socket on host:port (port 0: the kernel picks one); `port` is
/// updated to the real one. Returns -1 with `err` set on failure.
/// `reuse_port`: SO_REUSEPORT, so that several sockets (one per event loop)
/// listen on the same port and the kernel spreads connections among them.
int listen_tcp(const std::string& host, std::uint16_t& port, std::string& err, bool reuse_port = false);
/// A connected, non-blocking socket, or -1 with `err` set.
int connect_tcp(const std::string& host, std::uint16_t port, std::string& err);
void set_nonblocking(int fd);

struct TlsContext;  // OpenSSL's SSL_CTX (only when built with TLS)

/// A server's listening socket on host:port (`port` updated as in
/// listen_tcp()) and, when `tls`, its TLS context from `cert` and `key`
/// (else null). On failure prints why on stderr, after `program`, and
/// returns -1.
int listen_server(const std::string& host, std::uint16_t& port, bool tls, const std::string& cert,
                  const std::string& key, const char* program, std::shared_ptr<TlsContext>& context,
                  bool reuse_port = false);

/// Writes a byte string through the transport (for HTTP/1.1 text around an
/// h2c upgrade); returns octets written.
IoResult write_bytes(Transport& io, std::string_view bytes);

#ifdef H2WIRE_EXAMPLES_TLS
/// TLS (OpenSSL), ALPN "h2" only (RFC 9113 §3.2).
std::shared_ptr<TlsContext> tls_server_context(const std::string& cert, const std::string& key, std::string& err);
/// Client: verify the server against the system trust store, or against
/// `ca_file` when given.
std::shared_ptr<TlsContext> tls_client_context(bool verify, const std::string& ca_file, std::string& err);
std::unique_ptr<Transport> tls_transport(int fd, std::shared_ptr<TlsContext> ctx, bool server,
                                         const std::string& server_name);

/// TLS over memory buffers, for loops that read and write the socket
/// themselves (libuv's uv_read_start and uv_write): feed() the ciphertext
/// that arrived, then handshake(), read() and write() as on a Transport
/// (they never touch a socket: `again` only means "more ciphertext needed"),
/// and send what take_ciphertext() hands out. close_write() queues
/// close_notify; the caller sends it, then ends the TCP stream.
class TlsMemoryTransport : public Transport {
public:
    using Transport::Transport;
    virtual void feed(std::span<const std::uint8_t> ciphertext) = 0;
    /// Ciphertext waiting to be sent, in octets.
    virtual std::size_t pending_ciphertext() const = 0;
    /// Moves up to out.size() octets of it into `out`; returns how many.
    virtual std::size_t take_ciphertext(std::span<std::uint8_t> out) = 0;
};
std::unique_ptr<TlsMemoryTransport> tls_memory_transport(std::shared_ptr<TlsContext> ctx, bool server);
#endif

}  // namespace example
