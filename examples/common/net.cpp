// Plain TCP transport and socket set-up (see net.hpp).
#include "common/net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace example {

Transport::~Transport() {
    if (fd_ >= 0) ::close(fd_);
}

IoResult Transport::read(std::span<std::uint8_t> buf) {
    for (;;) {
        const ssize_t n = ::read(fd_, buf.data(), buf.size());
        if (n > 0) return {IoResult::ok, static_cast<std::size_t>(n)};
        if (n == 0) return {IoResult::closed, 0};
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoResult::again, 0};
        return {IoResult::error, 0};
    }
}

IoResult Transport::write(std::span<const h2wire::OutputChunk> pieces) {
    // One writev for the connection's frame buffer and the DATA payloads it
    // points at (file buffers, send blocks): nothing is copied to write.
    iovec iov[256];
    std::size_t count = 0, total = 0;
    const std::size_t limit = max_write_ ? max_write_ : SIZE_MAX;
    for (; count < pieces.size() && count < std::size(iov) && total < limit; ++count) {
        const std::size_t n = std::min(pieces[count].size, limit - total);
        iov[count] = iovec{const_cast<std::uint8_t*>(pieces[count].data), n};
        total += n;
    }
    for (;;) {
        const ssize_t n = ::writev(fd_, iov, static_cast<int>(count));
        if (n >= 0) return {IoResult::ok, static_cast<std::size_t>(n)};
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoResult::again, 0};
        return {IoResult::error, 0};
    }
}

void Transport::close_write() {
    ::shutdown(fd_, SHUT_WR);
}

IoResult write_bytes(Transport& io, std::string_view bytes) {
    const h2wire::OutputChunk c{reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
    return io.write(std::span(&c, 1));
}

void set_nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static addrinfo* resolve(const std::string& host, std::uint16_t port, bool passive, std::string& err) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (passive) hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
        err = host + ": " + ::gai_strerror(rc);
        return nullptr;
    }
    return res;
}

int listen_tcp(const std::string& host, std::uint16_t& port, std::string& err, bool reuse_port) {
    addrinfo* res = resolve(host, port, true, err);
    if (!res) return -1;
    int fd = -1;
    for (addrinfo* a = res; a; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        const int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef SO_REUSEPORT
        if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#endif
        if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) break;
        err = std::string("bind/listen: ") + std::strerror(errno);
        ::close(fd);
        fd = -1;
    }
    ::freeaddrinfo(res);
    if (fd < 0) return -1;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    set_nonblocking(fd);
    return fd;
}

int listen_server(const std::string& host, std::uint16_t& port, bool tls, const std::string& cert,
                  const std::string& key, const char* program, std::shared_ptr<TlsContext>& context, bool reuse_port) {
    std::string err;
#ifdef H2WIRE_EXAMPLES_TLS
    if (tls && !(context = tls_server_context(cert, key, err))) {
        std::fprintf(stderr, "%s: %s\n", program, err.c_str());
        return -1;
    }
#else
    (void)cert, (void)key, (void)context;
    if (tls) {
        std::fprintf(stderr, "%s: built without TLS (meson -Dtls=enabled needs libssl-dev)\n", program);
        return -1;
    }
#endif
    const int fd = listen_tcp(host, port, err, reuse_port);
    if (fd < 0) std::fprintf(stderr, "%s: %s\n", program, err.c_str());
    return fd;
}

int connect_tcp(const std::string& host, std::uint16_t port, std::string& err) {
    addrinfo* res = resolve(host, port, false, err);
    if (!res) return -1;
    int fd = -1;
    for (addrinfo* a = res; a; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        err = "connect " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
        ::close(fd);
        fd = -1;
    }
    ::freeaddrinfo(res);
    if (fd < 0) return -1;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_nonblocking(fd);
    return fd;
}

}  // namespace example
