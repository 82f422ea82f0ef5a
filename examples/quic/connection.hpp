// Internals of the QUIC transport: a UDP socket that holds at most one
// datagram the kernel refused, and one QUIC connection (ngtcp2_conn plus its
// GnuTLS session) with the pull loop that fills packets from the handler.
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "quic/quic.hpp"

namespace example::quic::detail {

/// Length of the connection IDs we choose; the server reads the
/// destination connection ID of short-header packets with it.
inline constexpr std::size_t cid_len = 16;

/// A non-blocking UDP socket. When the kernel refuses a datagram (EAGAIN),
/// the socket keeps that one and nothing more: writers stop until it is
/// sent (the loop waits for POLLOUT), so no queue grows.
class UdpSocket {
public:
    UdpSocket() = default;
    ~UdpSocket();
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;

    /// Binds to host:port (port 0: any); false with `err` set.
    bool bind(const std::string& host, std::uint16_t port, std::string& err);
    /// Creates an unbound socket for talking to host:port, connects it (so
    /// only that peer's datagrams arrive) and fills `remote`.
    bool connect(const std::string& host, std::uint16_t port, std::string& err);

    int fd() const { return fd_; }
    const sockaddr* local() const { return reinterpret_cast<const sockaddr*>(&local_); }
    socklen_t local_len() const { return local_len_; }
    const sockaddr* remote() const { return reinterpret_cast<const sockaddr*>(&remote_); }
    socklen_t remote_len() const { return remote_len_; }
    std::uint16_t local_port() const;

    enum class Send : std::uint8_t { sent, held, failed };
    /// Sends one datagram; `held` when the kernel had no room (the socket
    /// keeps it), `failed` on another error (the datagram is dropped, as a
    /// lost packet would be).
    Send send(const std::uint8_t* data, std::size_t len, const sockaddr* to, socklen_t to_len);
    /// Retries the held datagram; true when nothing is held any more.
    bool flush_held();
    bool holding() const { return held_len_ != 0; }
    /// Tests: drops this share of outgoing datagrams, as a lossy path would.
    void set_tx_loss(double ratio) { tx_loss_ = ratio; }
    /// Tests: every `n`th send fails with EAGAIN (0: never).
    void set_hold_every(unsigned n) { hold_every_ = n; }

    /// One datagram, or -1 when none is there (or on error).
    ssize_t receive(std::uint8_t* buf, std::size_t len, sockaddr_storage& from, socklen_t& from_len);

private:
    int fd_ = -1;
    sockaddr_storage local_{};
    socklen_t local_len_ = 0;
    sockaddr_storage remote_{};
    socklen_t remote_len_ = 0;
    bool connected_ = false;
    double tx_loss_ = 0;
    unsigned hold_every_ = 0;
    std::uint64_t sends_ = 0;
    std::minstd_rand loss_rng_{20260407};
    std::array<std::uint8_t, NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE> held_{};
    std::size_t held_len_ = 0;
    sockaddr_storage held_to_{};
    socklen_t held_to_len_ = 0;
};

class Connection;

/// Calls from a connection to its owner (the server keeps its map of
/// connection IDs up to date through these).
class ConnectionOwner {
public:
    virtual void cid_added(Connection& conn, const ngtcp2_cid& cid) = 0;
    virtual void cid_removed(Connection& conn, const ngtcp2_cid& cid) = 0;

protected:
    ~ConnectionOwner() = default;
};

/// What a new connection needs to know.
struct ConnectionSetup {
    bool server = false;
    Limits limits;
    std::string alpn;
    gnutls_certificate_credentials_t credentials = nullptr;  ///< borrowed
    // Client only:
    std::string server_name;
    bool verify_peer = true;
    // Server only:
    const std::uint8_t* reset_secret = nullptr;  ///< for stateless reset tokens
    std::size_t reset_secret_len = 0;
};

class Connection final : public QuicConnection {
public:
    enum class State : std::uint8_t {
        open,      ///< handshake or established
        closing,   ///< we sent CONNECTION_CLOSE; answering with it for 3 PTO
        draining,  ///< the peer sent CONNECTION_CLOSE; silent for 3 PTO
        finished,  ///< may be deleted
    };

    /// Client: a connection to `socket`'s peer.
    static std::unique_ptr<Connection> connect(const ConnectionSetup& setup, UdpSocket& socket, ConnectionOwner* owner,
                                               std::string& err);
    /// Server: a connection for the client whose first Initial had header
    /// `hd`, arriving from `from`.
    static std::unique_ptr<Connection> accept(const ConnectionSetup& setup, UdpSocket& socket, ConnectionOwner* owner,
                                              const ngtcp2_pkt_hd& hd, const sockaddr* from, socklen_t from_len,
                                              std::string& err);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// The handler (borrowed on the client, owned on the server).
    void set_handler(QuicStreamHandler* handler) { handler_ = handler; }
    void own_handler(std::unique_ptr<QuicStreamHandler> handler) {
        owned_handler_ = std::move(handler);
        handler_ = owned_handler_.get();
    }

    /// One datagram from the peer.
    void read(const sockaddr* from, socklen_t from_len, const std::uint8_t* data, std::size_t len, Timestamp now);
    /// Sends what there is: a close, handler output, ACKs, retransmissions.
    void write(Timestamp now);
    Timestamp expiry() const;
    void on_timer(Timestamp now);
    State state() const { return state_; }
    const std::optional<CloseInfo>& close_info() const { return close_info_; }
    /// The connection IDs it is known by (server map keys).
    const std::vector<std::string>& cids() const { return cids_; }

    // QuicConnection
    std::optional<std::int64_t> open_bidi_stream() override;
    std::optional<std::int64_t> open_uni_stream() override;
    bool reset_stream(std::int64_t stream, std::uint64_t app_error) override;
    bool stop_sending(std::int64_t stream, std::uint64_t app_error) override;
    void consumed(std::int64_t stream, std::uint64_t n) override;
    void consumed_connection(std::uint64_t n) override;
    void close(std::uint64_t app_error, std::string_view reason) override;
    bool is_server() const override { return server_; }
    std::string_view alpn() const override { return alpn_; }
    std::uint64_t streams_bidi_left() const override;

private:
    Connection(const ConnectionSetup& setup, UdpSocket& socket, ConnectionOwner* owner);
    bool init_tls(const ConnectionSetup& setup, std::string& err);
    static ngtcp2_callbacks callbacks(bool server);
    void add_cid(const ngtcp2_cid& cid);
    void remove_cid(const ngtcp2_cid& cid);

    /// Ends with CONNECTION_CLOSE carrying `ccerr` (closing period).
    void close_with(const ngtcp2_connection_close_error& ccerr, Timestamp now);
    /// Ends without a frame: draining (peer closed) or at once.
    void drain(Timestamp now);
    void finish(CloseInfo info);
    void report_close(CloseInfo info);
    void fail(int liberr, Timestamp now);
    /// Sends one packet from `buf_`; false when the socket is full.
    bool send_packet(const ngtcp2_path& path, std::size_t len);
    void write_streams(Timestamp now);
    void after_events();  // runs what callbacks deferred (handshake done, ALPN check)
    bool usable() const { return state_ == State::open && !writing_; }

    // ngtcp2 callbacks (user_data is the Connection).
    static int on_handshake_completed(ngtcp2_conn*, void* user);
    static int on_recv_stream_data(ngtcp2_conn*, std::uint32_t flags, std::int64_t stream, std::uint64_t offset,
                                   const std::uint8_t* data, std::size_t len, void* user, void*);
    static int on_acked_stream_data(ngtcp2_conn*, std::int64_t stream, std::uint64_t offset, std::uint64_t len,
                                    void* user, void*);
    static int on_stream_close(ngtcp2_conn*, std::uint32_t flags, std::int64_t stream, std::uint64_t app_error,
                               void* user, void*);
    static int on_stream_reset(ngtcp2_conn*, std::int64_t stream, std::uint64_t final_size, std::uint64_t app_error,
                               void* user, void*);
    static int on_stop_sending(ngtcp2_conn*, std::int64_t stream, std::uint64_t app_error, void* user, void*);
    static int on_extend_max_stream_data(ngtcp2_conn*, std::int64_t stream, std::uint64_t max_data, void* user, void*);
    static int on_extend_max_streams(ngtcp2_conn*, std::uint64_t max_streams, void* user);
    static int on_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, std::uint8_t* token, std::size_t cidlen, void* user);
    static int on_remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* user);
    static void on_rand(std::uint8_t* dest, std::size_t len, const ngtcp2_rand_ctx*);
    static ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref);

    bool server_;
    UdpSocket& socket_;
    ConnectionOwner* owner_;
    ngtcp2_conn* conn_ = nullptr;
    gnutls_session_t tls_ = nullptr;
    ngtcp2_crypto_conn_ref conn_ref_{};
    QuicStreamHandler* handler_ = nullptr;
    std::unique_ptr<QuicStreamHandler> owned_handler_;
    State state_ = State::open;
    Timestamp state_deadline_ = no_expiry;  // end of the closing or draining period
    bool paced_ = false;                    // stopped at the send quantum: write again soon
    bool writing_ = false;                  // inside write_streams(): ngtcp2 takes no other call
    Timestamp paced_at_ = 0;
    bool handshake_done_ = false;  // set in the callback, reported after it
    bool handshake_reported_ = false;
    std::string alpn_;
    std::string wanted_alpn_;
    std::string server_name_;  // client: the name the certificate must carry
    const std::uint8_t* reset_secret_ = nullptr;
    std::size_t reset_secret_len_ = 0;
    std::optional<std::uint64_t> close_requested_;
    std::string close_reason_;
    std::optional<CloseInfo> close_info_;
    std::vector<std::uint8_t> close_packet_;  // resent while closing
    std::uint64_t packets_while_closing_ = 0;
    std::vector<std::string> cids_;
    std::array<std::uint8_t, NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE> buf_{};
};

std::string cid_key(const std::uint8_t* data, std::size_t len);
inline std::string cid_key(const ngtcp2_cid& cid) {
    return cid_key(cid.data, cid.datalen);
}

}  // namespace example::quic::detail
