// Non-blocking UDP sockets for the QUIC transport.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "quic/connection.hpp"

namespace example::quic::detail {

namespace {

// One numeric address (no DNS lookups: they would block the loop).
bool parse_address(const std::string& host, std::uint16_t port, sockaddr_storage& out, socklen_t& len,
                   std::string& err) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    const int rv = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
    if (rv != 0 || !res) {
        err = host + ": " + gai_strerror(rv);
        return false;
    }
    std::memcpy(&out, res->ai_addr, res->ai_addrlen);
    len = static_cast<socklen_t>(res->ai_addrlen);
    freeaddrinfo(res);
    return true;
}

int udp_socket(int family, std::string& err) {
    const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) err = std::string("socket: ") + std::strerror(errno);
    return fd;
}

}  // namespace

UdpSocket::~UdpSocket() {
    if (fd_ >= 0) ::close(fd_);
}

bool UdpSocket::bind(const std::string& host, std::uint16_t port, std::string& err) {
    if (!parse_address(host, port, local_, local_len_, err)) return false;
    if ((fd_ = udp_socket(local_.ss_family, err)) < 0) return false;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local_), local_len_) != 0) {
        err = "bind " + host + ": " + std::strerror(errno);
        return false;
    }
    local_len_ = sizeof(local_);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&local_), &local_len_) != 0) {
        err = std::string("getsockname: ") + std::strerror(errno);
        return false;
    }
    return true;
}

bool UdpSocket::connect(const std::string& host, std::uint16_t port, std::string& err) {
    if (!parse_address(host, port, remote_, remote_len_, err)) return false;
    if ((fd_ = udp_socket(remote_.ss_family, err)) < 0) return false;
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&remote_), remote_len_) != 0) {
        err = "connect " + host + ": " + std::strerror(errno);
        return false;
    }
    connected_ = true;
    local_len_ = sizeof(local_);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&local_), &local_len_) != 0) {
        err = std::string("getsockname: ") + std::strerror(errno);
        return false;
    }
    return true;
}

std::uint16_t UdpSocket::local_port() const {
    if (local_.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&local_)->sin_port);
    if (local_.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&local_)->sin6_port);
    return 0;
}

UdpSocket::Send UdpSocket::send(const std::uint8_t* data, std::size_t len, const sockaddr* to, socklen_t to_len) {
    if (holding()) return Send::held;  // keeps the order; the caller stops until flush_held()
    if (tx_loss_ > 0 && std::uniform_real_distribution<double>(0, 1)(loss_rng_) < tx_loss_) return Send::sent;
    ssize_t n = -1;
    if (hold_every_ && data != held_.data() && ++sends_ % hold_every_ == 0) {
        errno = EAGAIN;  // a test: as if the kernel's buffer were full
    } else {
        do {
            n = connected_ ? ::send(fd_, data, len, 0) : ::sendto(fd_, data, len, 0, to, to_len);
        } while (n < 0 && errno == EINTR);
    }
    if (n >= 0) return Send::sent;
    if ((errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) && len <= held_.size()) {
        std::memmove(held_.data(), data, len);  // (flush_held() passes held_ itself)
        held_len_ = len;
        if (to && to_len <= sizeof(held_to_)) {
            std::memmove(&held_to_, to, to_len);
            held_to_len_ = to_len;
        } else {
            held_to_len_ = 0;
        }
        return Send::held;
    }
    return Send::failed;  // e.g. ECONNREFUSED: as if the packet were lost
}

bool UdpSocket::flush_held() {
    if (!holding()) return true;
    const std::size_t len = held_len_;
    held_len_ = 0;
    const Send s = send(held_.data(), len, reinterpret_cast<const sockaddr*>(&held_to_), held_to_len_);
    return s != Send::held;
}

ssize_t UdpSocket::receive(std::uint8_t* buf, std::size_t len, sockaddr_storage& from, socklen_t& from_len) {
    for (;;) {
        from_len = sizeof(from);
        const ssize_t n = ::recvfrom(fd_, buf, len, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        // EAGAIN: drained. ECONNREFUSED (an ICMP error on a connected
        // socket) is reported once; try the next datagram.
        if (errno == ECONNREFUSED) continue;
        return -1;
    }
}

}  // namespace example::quic::detail
