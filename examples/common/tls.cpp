// TLS transport on OpenSSL, ALPN "h2" (RFC 9113 §3.2, RFC 7301). Built only
// when meson finds libssl (option `tls`); the library never links it.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/net.hpp"

namespace example {

struct TlsContext {
    SSL_CTX* ctx = nullptr;
    ~TlsContext() { SSL_CTX_free(ctx); }
};

namespace {

constexpr unsigned char alpn_h2[] = {2, 'h', '2'};

std::string ssl_error() {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    return buf;
}

// Server: pick "h2" if the client offers it; otherwise no protocol, and the
// connection is closed after the handshake.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
    unsigned char* sel = nullptr;
    if (SSL_select_next_proto(&sel, outlen, alpn_h2, sizeof alpn_h2, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

// On the socket (fd >= 0: SSL_set_fd), or over two memory BIOs (fd < 0):
// then the loop feeds the ciphertext it read and sends what
// take_ciphertext() hands out.
class TlsTransport final : public TlsMemoryTransport {
public:
    TlsTransport(int fd, std::shared_ptr<TlsContext> ctx, bool server, const std::string& name)
        : TlsMemoryTransport(fd), ctx_(std::move(ctx)), ssl_(SSL_new(ctx_->ctx)) {
        if (fd >= 0) {
            SSL_set_fd(ssl_, fd);
        } else {
            in_ = BIO_new(BIO_s_mem());
            out_ = BIO_new(BIO_s_mem());
            BIO_set_mem_eof_return(in_, -1);  // empty: "want read", not end of stream
            SSL_set_bio(ssl_, in_, out_);     // the SSL object owns them
        }
        SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (server) {
            SSL_set_accept_state(ssl_);
        } else {
            SSL_set_connect_state(ssl_);
            SSL_set_alpn_protos(ssl_, alpn_h2, sizeof alpn_h2);
            if (!name.empty()) {
                SSL_set_tlsext_host_name(ssl_, name.c_str());
                SSL_set1_host(ssl_, name.c_str());
            }
        }
    }
    ~TlsTransport() override { SSL_free(ssl_); }

    IoResult handshake() override {
        const int rc = SSL_do_handshake(ssl_);
        if (rc == 1) {
            want_write_ = false;
            return {IoResult::ok, 0};
        }
        return fail(rc);
    }
    IoResult read(std::span<std::uint8_t> buf) override {
        const int rc = SSL_read(ssl_, buf.data(), static_cast<int>(std::min<std::size_t>(buf.size(), 1 << 30)));
        if (rc > 0) return {IoResult::ok, static_cast<std::size_t>(rc)};
        return fail(rc);
    }
    IoResult write(std::span<const h2wire::OutputChunk> pieces) override {
        // No writev in TLS. The pieces (frame headers, control frames, DATA
        // payloads) are gathered into one buffer so that records come out
        // full: a record per 9-octet frame header would cost a record header,
        // a MAC and often a packet each. After a WANT_WRITE the next call
        // starts with the same octets (nothing was consumed), as OpenSSL
        // requires of a retried SSL_write.
        // One record's worth (16 KiB), made at the first write: an idle
        // connection holds no staging buffer of its own size.
        if (stage_.empty()) stage_.resize(16 * 1024);
        std::size_t n = 0;
        for (const h2wire::OutputChunk& c : pieces) {
            const std::size_t k = std::min(c.size, stage_.size() - n);
            std::memcpy(stage_.data() + n, c.data, k);
            n += k;
            if (n == stage_.size()) break;
        }
        const int rc = SSL_write(ssl_, stage_.data(), static_cast<int>(n));
        if (rc <= 0) return fail(rc);
        want_write_ = false;
        return {IoResult::ok, static_cast<std::size_t>(rc)};
    }
    bool wants_write() const override { return want_write_; }
    void close_write() override {
        SSL_shutdown(ssl_);  // close_notify (RFC 8446 §6.1)
        if (fd_ >= 0) Transport::close_write();
    }
    void feed(std::span<const std::uint8_t> ciphertext) override {
        if (!ciphertext.empty()) BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
    }
    std::size_t pending_ciphertext() const override { return BIO_ctrl_pending(out_); }
    std::size_t take_ciphertext(std::span<std::uint8_t> out) override {
        const int n = BIO_read(out_, out.data(), static_cast<int>(std::min<std::size_t>(out.size(), 1 << 30)));
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    std::string_view alpn() const override {
        const unsigned char* p = nullptr;
        unsigned int n = 0;
        SSL_get0_alpn_selected(ssl_, &p, &n);
        return {reinterpret_cast<const char*>(p), n};
    }

private:
    IoResult fail(int rc) {
        switch (SSL_get_error(ssl_, rc)) {
            case SSL_ERROR_WANT_READ:
                return {IoResult::again, 0};
            case SSL_ERROR_WANT_WRITE:
                want_write_ = true;
                return {IoResult::again, 0};
            case SSL_ERROR_ZERO_RETURN:
                return {IoResult::closed, 0};
            default:
                ERR_clear_error();
                return {IoResult::error, 0};
        }
    }

    std::shared_ptr<TlsContext> ctx_;
    SSL* ssl_;
    BIO* in_ = nullptr;  // memory BIOs (fd < 0), owned by ssl_
    BIO* out_ = nullptr;
    bool want_write_ = false;
    std::vector<std::uint8_t> stage_;
};

}  // namespace

std::shared_ptr<TlsContext> tls_server_context(const std::string& cert, const std::string& key, std::string& err) {
    auto c = std::make_shared<TlsContext>();
    c->ctx = SSL_CTX_new(TLS_server_method());
    // RFC 9113 §9.2: TLS 1.2 or later.
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(c->ctx, cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(c->ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
        err = "TLS certificate/key: " + ssl_error();
        return nullptr;
    }
    SSL_CTX_set_alpn_select_cb(c->ctx, select_alpn, nullptr);
    // An idle connection gives its record buffers back to OpenSSL's
    // allocator (some 40 KiB each): idle TLS connections stay small.
    SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS);
    return c;
}

std::shared_ptr<TlsContext> tls_client_context(bool verify, const std::string& ca_file, std::string& err) {
    auto c = std::make_shared<TlsContext>();
    c->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    if (verify) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, nullptr);
        const int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(c->ctx)
                                       : SSL_CTX_load_verify_locations(c->ctx, ca_file.c_str(), nullptr);
        if (ok != 1) {
            err = "TLS trust store: " + ssl_error();
            return nullptr;
        }
    }
    return c;
}

std::unique_ptr<Transport> tls_transport(int fd, std::shared_ptr<TlsContext> ctx, bool server,
                                         const std::string& server_name) {
    return std::make_unique<TlsTransport>(fd, std::move(ctx), server, server_name);
}

std::unique_ptr<TlsMemoryTransport> tls_memory_transport(std::shared_ptr<TlsContext> ctx, bool server) {
    return std::make_unique<TlsTransport>(-1, std::move(ctx), server, std::string());
}

}  // namespace example
