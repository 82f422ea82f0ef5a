// The QUIC client (one connection on its own connected UDP socket) and the
// poll(2) loop that drives clients and servers.
#include <gnutls/gnutls.h>
#include <poll.h>

#include <cerrno>

#include "quic/connection.hpp"

namespace example::quic {

namespace detail {

class ClientImpl {
public:
    UdpSocket socket;
    gnutls_certificate_credentials_t credentials = nullptr;
    std::unique_ptr<Connection> conn;
    std::array<std::uint8_t, 65536> rx{};

    ~ClientImpl() {
        conn.reset();
        if (credentials) gnutls_certificate_free_credentials(credentials);
    }
};

}  // namespace detail

std::unique_ptr<QuicClient> QuicClient::create(const ClientConfig& config, QuicStreamHandler& handler,
                                               std::string& err) {
    auto impl = std::make_unique<detail::ClientImpl>();
    int rv = gnutls_certificate_allocate_credentials(&impl->credentials);
    if (rv == 0 && !config.insecure) {
        rv = config.ca_file.empty() ? gnutls_certificate_set_x509_system_trust(impl->credentials)
                                    : gnutls_certificate_set_x509_trust_file(impl->credentials, config.ca_file.c_str(),
                                                                             GNUTLS_X509_FMT_PEM);
        if (rv == 0 && !config.ca_file.empty()) rv = GNUTLS_E_NO_CERTIFICATE_FOUND;  // 0 certificates read
        if (rv > 0) rv = 0;                                                          // the number of certificates read
    }
    if (rv != 0) {
        err = std::string("trust store ") + config.ca_file + ": " + gnutls_strerror(rv);
        return nullptr;
    }
    if (!impl->socket.connect(config.host, config.port, err)) return nullptr;
    impl->socket.set_tx_loss(config.test_tx_loss);
    detail::ConnectionSetup setup;
    setup.server = false;
    setup.limits = config.limits;
    setup.alpn = config.alpn;
    setup.credentials = impl->credentials;
    setup.server_name = config.server_name;
    setup.verify_peer = !config.insecure;
    impl->conn = detail::Connection::connect(setup, impl->socket, nullptr, err);
    if (!impl->conn) return nullptr;
    impl->conn->set_handler(&handler);
    std::unique_ptr<QuicClient> client(new QuicClient(std::move(impl)));
    client->flush(now());  // the first Initial
    return client;
}

QuicClient::QuicClient(std::unique_ptr<detail::ClientImpl> impl) : impl_(std::move(impl)) {}
QuicClient::~QuicClient() = default;

QuicConnection& QuicClient::connection() {
    return *impl_->conn;
}
bool QuicClient::finished() const {
    return impl_->conn->state() == detail::Connection::State::finished;
}
const std::optional<CloseInfo>& QuicClient::close_info() const {
    return impl_->conn->close_info();
}
int QuicClient::fd() const {
    return impl_->socket.fd();
}
bool QuicClient::wants_writable() const {
    return impl_->socket.holding();
}
Timestamp QuicClient::expiry() const {
    return impl_->conn->expiry();
}

void QuicClient::on_readable(Timestamp ts) {
    for (int i = 0; i < 64; ++i) {  // bounded per turn, as on the server
        sockaddr_storage from{};
        socklen_t from_len = 0;
        const ssize_t n = impl_->socket.receive(impl_->rx.data(), impl_->rx.size(), from, from_len);
        if (n < 0) break;
        impl_->conn->read(reinterpret_cast<const sockaddr*>(&from), from_len, impl_->rx.data(),
                          static_cast<std::size_t>(n), ts);
    }
    impl_->conn->write(ts);
}

void QuicClient::on_writable(Timestamp ts) {
    if (impl_->socket.flush_held()) impl_->conn->write(ts);
}

void QuicClient::on_timer(Timestamp ts) {
    impl_->conn->on_timer(ts);
    impl_->conn->write(ts);
}

void QuicClient::flush(Timestamp ts) {
    impl_->conn->write(ts);
}

// ---- EventLoop ----

void EventLoop::add(Endpoint& endpoint) {
    endpoints_.push_back(&endpoint);
}

void EventLoop::remove(Endpoint& endpoint) {
    std::erase(endpoints_, &endpoint);
}

bool EventLoop::run_once(std::chrono::milliseconds max_wait) {
    std::vector<pollfd> fds;
    fds.reserve(endpoints_.size());
    Timestamp next = no_expiry;
    for (Endpoint* e : endpoints_) {
        fds.push_back({e->fd(), static_cast<short>(POLLIN | (e->wants_writable() ? POLLOUT : 0)), 0});
        next = std::min(next, e->expiry());
    }
    const Timestamp start = now();
    const Timestamp cap = start + static_cast<Timestamp>(max_wait.count()) * NGTCP2_MILLISECONDS;
    next = std::min(next, cap);
    // Rounded up, so that the timer has expired when poll returns.
    const int timeout =
        next <= start ? 0 : static_cast<int>((next - start + NGTCP2_MILLISECONDS - 1) / NGTCP2_MILLISECONDS);
    const int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) return false;
    for (std::size_t i = 0; n > 0 && i < fds.size(); ++i) {
        const short ev = fds[i].revents;
        if (ev & POLLOUT) endpoints_[i]->on_writable(now());
        if (ev & (POLLIN | POLLERR | POLLHUP)) endpoints_[i]->on_readable(now());
    }
    const Timestamp t = now();
    for (Endpoint* e : endpoints_) {
        if (e->expiry() <= t) e->on_timer(t);
    }
    return true;
}

bool EventLoop::run_until(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline) {
    while (!done()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        if (!run_once(std::min(left, std::chrono::milliseconds(100)))) return false;
    }
    return true;
}

}  // namespace example::quic
