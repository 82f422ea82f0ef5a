// The QUIC server: one UDP socket, connections found by the connection ID
// each packet carries, at most max_connections of them.
#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <unordered_map>

#include "quic/connection.hpp"

namespace example::quic {

namespace detail {

class ServerImpl final : public ConnectionOwner {
public:
    ServerConfig config;
    QuicServer::HandlerFactory factory;
    UdpSocket socket;
    gnutls_certificate_credentials_t credentials = nullptr;
    std::array<std::uint8_t, 32> reset_secret{};
    std::unordered_map<Connection*, std::unique_ptr<Connection>> connections;
    std::unordered_map<std::string, Connection*> by_cid;
    std::uint64_t refused = 0;
    std::array<std::uint8_t, 65536> rx{};
    std::array<std::uint8_t, NGTCP2_MAX_UDP_PAYLOAD_SIZE> tx{};

    ~ServerImpl() {
        connections.clear();
        if (credentials) gnutls_certificate_free_credentials(credentials);
    }

    void cid_added(Connection& conn, const ngtcp2_cid& cid) override { by_cid[cid_key(cid)] = &conn; }
    void cid_removed(Connection&, const ngtcp2_cid& cid) override { by_cid.erase(cid_key(cid)); }

    void datagram(const std::uint8_t* data, std::size_t len, const sockaddr_storage& from, socklen_t from_len,
                  Timestamp ts);
    void refuse(const ngtcp2_pkt_hd& hd, const sockaddr* to, socklen_t to_len);
    void negotiate_version(const ngtcp2_version_cid& vc, const sockaddr* to, socklen_t to_len);
    void write_all(Timestamp ts);
    void sweep();
};

void ServerImpl::datagram(const std::uint8_t* data, std::size_t len, const sockaddr_storage& from_storage,
                          socklen_t from_len, Timestamp ts) {
    const auto* from = reinterpret_cast<const sockaddr*>(&from_storage);
    ngtcp2_version_cid vc{};
    const int rv = ngtcp2_pkt_decode_version_cid(&vc, data, len, cid_len);
    if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
        // RFC 9000 §6.1: only to datagrams as large as an Initial must be
        // (no amplification).
        if (len >= NGTCP2_MAX_UDP_PAYLOAD_SIZE) negotiate_version(vc, from, from_len);
        return;
    }
    if (rv != 0) return;
    if (const auto it = by_cid.find(cid_key(vc.dcid, vc.dcidlen)); it != by_cid.end()) {
        it->second->read(from, from_len, data, len, ts);
        return;
    }
    ngtcp2_pkt_hd hd{};
    if (ngtcp2_accept(&hd, data, len) != 0) return;  // not a client's first Initial: drop
    if (connections.size() >= config.max_connections) {
        refuse(hd, from, from_len);
        return;
    }
    ConnectionSetup setup;
    setup.server = true;
    setup.limits = config.limits;
    setup.alpn = config.alpn;
    setup.credentials = credentials;
    setup.reset_secret = reset_secret.data();
    setup.reset_secret_len = reset_secret.size();
    std::string err;
    auto conn = Connection::accept(setup, socket, this, hd, from, from_len, err);
    if (!conn) return;
    Connection* c = conn.get();
    connections.emplace(c, std::move(conn));
    if (factory) c->own_handler(factory(*c));
    c->read(from, from_len, data, len, ts);
}

// Over the limit: RFC 9000 §5.2.2 lets a server refuse with CONNECTION_CLOSE
// (CONNECTION_REFUSED) in an Initial packet, without keeping any state.
void ServerImpl::refuse(const ngtcp2_pkt_hd& hd, const sockaddr* to, socklen_t to_len) {
    ++refused;
    const ngtcp2_ssize n = ngtcp2_crypto_write_connection_close(tx.data(), tx.size(), hd.version, &hd.scid, &hd.dcid,
                                                                NGTCP2_CONNECTION_REFUSED, nullptr, 0);
    if (n > 0) socket.send(tx.data(), static_cast<std::size_t>(n), to, to_len);
}

// RFC 9000 §6: a client's Initial in a version we do not speak.
void ServerImpl::negotiate_version(const ngtcp2_version_cid& vc, const sockaddr* to, socklen_t to_len) {
    std::uint8_t unused = 0;
    gnutls_rnd(GNUTLS_RND_NONCE, &unused, 1);
    const std::uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
    const ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(tx.data(), tx.size(), unused, vc.scid, vc.scidlen,
                                                                vc.dcid, vc.dcidlen, versions, 1);
    if (n > 0) socket.send(tx.data(), static_cast<std::size_t>(n), to, to_len);
}

void ServerImpl::write_all(Timestamp ts) {
    for (auto& [c, conn] : connections) {
        if (socket.holding()) break;
        conn->write(ts);
    }
    sweep();
}

void ServerImpl::sweep() {
    for (auto it = connections.begin(); it != connections.end();) {
        if (it->second->state() != Connection::State::finished) {
            ++it;
            continue;
        }
        for (const std::string& key : it->second->cids()) by_cid.erase(key);
        it = connections.erase(it);
    }
}

}  // namespace detail

std::unique_ptr<QuicServer> QuicServer::create(const ServerConfig& config, HandlerFactory factory, std::string& err) {
    auto impl = std::make_unique<detail::ServerImpl>();
    impl->config = config;
    impl->factory = std::move(factory);
    if (gnutls_rnd(GNUTLS_RND_KEY, impl->reset_secret.data(), impl->reset_secret.size()) != 0) {
        err = "gnutls_rnd failed";
        return nullptr;
    }
    int rv = gnutls_certificate_allocate_credentials(&impl->credentials);
    if (rv == 0) {
        rv = gnutls_certificate_set_x509_key_file(impl->credentials, config.cert_file.c_str(), config.key_file.c_str(),
                                                  GNUTLS_X509_FMT_PEM);
    }
    if (rv != 0) {
        err = config.cert_file + ", " + config.key_file + ": " + gnutls_strerror(rv);
        return nullptr;
    }
    if (!impl->socket.bind(config.host, config.port, err)) return nullptr;
    impl->socket.set_tx_loss(config.test_tx_loss);
    impl->socket.set_hold_every(config.test_eagain_every);
    return std::unique_ptr<QuicServer>(new QuicServer(std::move(impl)));
}

QuicServer::QuicServer(std::unique_ptr<detail::ServerImpl> impl) : impl_(std::move(impl)) {}
QuicServer::~QuicServer() = default;

std::uint16_t QuicServer::port() const {
    return impl_->socket.local_port();
}
std::size_t QuicServer::connection_count() const {
    return impl_->connections.size();
}
std::uint64_t QuicServer::refused_count() const {
    return impl_->refused;
}
int QuicServer::fd() const {
    return impl_->socket.fd();
}
bool QuicServer::wants_writable() const {
    return impl_->socket.holding();
}

void QuicServer::close_all(std::uint64_t app_error) {
    for (auto& [c, conn] : impl_->connections) conn->close(app_error, {});
    impl_->write_all(now());
}

void QuicServer::on_readable(Timestamp ts) {
    // At most 64 datagrams per turn, so that one busy socket cannot starve
    // the timers; poll reports the rest on the next turn.
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage from{};
        socklen_t from_len = 0;
        const ssize_t n = impl_->socket.receive(impl_->rx.data(), impl_->rx.size(), from, from_len);
        if (n < 0) break;
        impl_->datagram(impl_->rx.data(), static_cast<std::size_t>(n), from, from_len, ts);
    }
    impl_->write_all(ts);
}

void QuicServer::on_writable(Timestamp ts) {
    if (impl_->socket.flush_held()) impl_->write_all(ts);
}

Timestamp QuicServer::expiry() const {
    Timestamp t = no_expiry;
    for (const auto& [c, conn] : impl_->connections) t = std::min(t, conn->expiry());
    return t;
}

void QuicServer::on_timer(Timestamp ts) {
    for (auto& [c, conn] : impl_->connections) {
        if (conn->expiry() <= ts) conn->on_timer(ts);
    }
    impl_->write_all(ts);
}

void QuicServer::flush(Timestamp ts) {
    impl_->write_all(ts);
}

}  // namespace example::quic
