// One QUIC connection: ngtcp2 does the protocol, GnuTLS the handshake (wired
// together by ngtcp2's crypto helper), and this file the plumbing between
// them, the socket and the stream handler.
#include "quic/connection.hpp"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace example::quic {

Timestamp now() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<Timestamp>(ts.tv_sec) * NGTCP2_SECONDS + static_cast<Timestamp>(ts.tv_nsec);
}

namespace detail {

namespace {

// TLS 1.3 only, with the AEADs QUIC packet protection supports, and no
// middlebox-compatibility ChangeCipherSpec (RFC 9001 §8.4).
constexpr const char* tls_priority =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
    "%DISABLE_TLS13_COMPAT_MODE";

constexpr int max_refusals = 64;  // blocked offers per write() before we stop asking the handler
constexpr std::uint64_t tls_no_application_protocol = 120;  // RFC 8446 §6.2 alert

bool random_bytes(std::uint8_t* dest, std::size_t len) {
    return gnutls_rnd(GNUTLS_RND_RANDOM, dest, len) == 0;
}

bool random_cid(ngtcp2_cid& cid, std::size_t len) {
    cid.datalen = len;
    return random_bytes(cid.data, len);
}

CloseInfo close_info_from(const ngtcp2_connection_close_error& ccerr, bool by_peer) {
    CloseInfo info;
    info.by_peer = by_peer;
    info.code = ccerr.error_code;
    switch (ccerr.type) {
        case NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION:
            info.kind = CloseInfo::Kind::application;
            break;
        case NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT_IDLE_CLOSE:
            info.kind = CloseInfo::Kind::idle;
            break;
        default:
            info.kind = CloseInfo::Kind::transport;
            break;
    }
    if (ccerr.reason && ccerr.reasonlen)
        info.reason.assign(reinterpret_cast<const char*>(ccerr.reason), ccerr.reasonlen);
    return info;
}

ngtcp2_duration to_duration(std::chrono::milliseconds ms) {
    return static_cast<ngtcp2_duration>(ms.count()) * NGTCP2_MILLISECONDS;
}

// Whether the peer opened `stream` (bit 0 of a stream ID: 0 client, 1 server).
bool remote_stream(std::int64_t stream, bool server) {
    return ((stream & 1) == 0) == server;
}

}  // namespace

std::string cid_key(const std::uint8_t* data, std::size_t len) {
    return {reinterpret_cast<const char*>(data), len};
}

Connection::Connection(const ConnectionSetup& setup, UdpSocket& socket, ConnectionOwner* owner)
    : server_(setup.server),
      socket_(socket),
      owner_(owner),
      wanted_alpn_(setup.alpn),
      reset_secret_(setup.reset_secret),
      reset_secret_len_(setup.reset_secret_len) {}

Connection::~Connection() {
    handler_ = nullptr;  // ngtcp2_conn_del must not reach a handler being destroyed
    if (conn_) ngtcp2_conn_del(conn_);
    if (tls_) gnutls_deinit(tls_);
}

ngtcp2_callbacks Connection::callbacks(bool server) {
    ngtcp2_callbacks cb{};
    if (server) {
        cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    } else {
        cb.client_initial = ngtcp2_crypto_client_initial_cb;
        cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
    cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb.encrypt = ngtcp2_crypto_encrypt_cb;
    cb.decrypt = ngtcp2_crypto_decrypt_cb;
    cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb.update_key = ngtcp2_crypto_update_key_cb;
    cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb.rand = on_rand;
    cb.get_new_connection_id = on_new_connection_id;
    cb.remove_connection_id = on_remove_connection_id;
    cb.handshake_completed = on_handshake_completed;
    cb.recv_stream_data = on_recv_stream_data;
    cb.acked_stream_data_offset = on_acked_stream_data;
    cb.stream_close = on_stream_close;
    cb.stream_reset = on_stream_reset;
    cb.stream_stop_sending = on_stop_sending;
    cb.extend_max_stream_data = on_extend_max_stream_data;
    cb.extend_max_local_streams_bidi = on_extend_max_streams;
    cb.extend_max_local_streams_uni = on_extend_max_streams;
    return cb;
}

namespace {

void fill_settings(ngtcp2_settings& settings, ngtcp2_transport_params& params, const Limits& limits) {
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now();
    settings.handshake_timeout = to_duration(limits.handshake_timeout);
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = limits.stream_window;
    params.initial_max_stream_data_bidi_remote = limits.stream_window;
    params.initial_max_stream_data_uni = limits.stream_window;
    params.initial_max_data = limits.connection_window;
    params.initial_max_streams_bidi = limits.max_streams_bidi;
    params.initial_max_streams_uni = limits.max_streams_uni;
    params.max_idle_timeout = to_duration(limits.idle_timeout);
}

}  // namespace

std::unique_ptr<Connection> Connection::connect(const ConnectionSetup& setup, UdpSocket& socket, ConnectionOwner* owner,
                                                std::string& err) {
    std::unique_ptr<Connection> c(new Connection(setup, socket, owner));
    ngtcp2_cid dcid{}, scid{};
    if (!random_cid(dcid, cid_len) || !random_cid(scid, cid_len)) {
        err = "gnutls_rnd failed";
        return nullptr;
    }
    ngtcp2_settings settings;
    ngtcp2_transport_params params;
    fill_settings(settings, params, setup.limits);
    ngtcp2_path path{{const_cast<sockaddr*>(socket.local()), socket.local_len()},
                     {const_cast<sockaddr*>(socket.remote()), socket.remote_len()},
                     nullptr};
    const ngtcp2_callbacks cb = callbacks(false);
    const int rv = ngtcp2_conn_client_new(&c->conn_, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb, &settings, &params,
                                          nullptr, c.get());
    if (rv != 0) {
        err = std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rv);
        return nullptr;
    }
    if (!c->init_tls(setup, err)) return nullptr;
    return c;
}

std::unique_ptr<Connection> Connection::accept(const ConnectionSetup& setup, UdpSocket& socket, ConnectionOwner* owner,
                                               const ngtcp2_pkt_hd& hd, const sockaddr* from, socklen_t from_len,
                                               std::string& err) {
    std::unique_ptr<Connection> c(new Connection(setup, socket, owner));
    ngtcp2_cid scid{};
    if (!random_cid(scid, cid_len)) {
        err = "gnutls_rnd failed";
        return nullptr;
    }
    ngtcp2_settings settings;
    ngtcp2_transport_params params;
    fill_settings(settings, params, setup.limits);
    params.original_dcid = hd.dcid;  // RFC 9000 §7.3: the server echoes the client's first DCID
    if (setup.reset_secret &&
        ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token, setup.reset_secret,
                                                     setup.reset_secret_len, &scid) == 0) {
        params.stateless_reset_token_present = 1;
    }
    ngtcp2_path path{
        {const_cast<sockaddr*>(socket.local()), socket.local_len()}, {const_cast<sockaddr*>(from), from_len}, nullptr};
    const ngtcp2_callbacks cb = callbacks(true);
    const int rv = ngtcp2_conn_server_new(&c->conn_, &hd.scid, &scid, &path, hd.version, &cb, &settings, &params,
                                          nullptr, c.get());
    if (rv != 0) {
        err = std::string("ngtcp2_conn_server_new: ") + ngtcp2_strerror(rv);
        return nullptr;
    }
    if (!c->init_tls(setup, err)) return nullptr;
    // The client keeps using its chosen DCID until it learns ours.
    c->add_cid(hd.dcid);
    c->add_cid(scid);
    return c;
}

bool Connection::init_tls(const ConnectionSetup& setup, std::string& err) {
    int rv = gnutls_init(&tls_, server_ ? GNUTLS_SERVER : GNUTLS_CLIENT);
    if (rv != 0) {
        tls_ = nullptr;
        err = std::string("gnutls_init: ") + gnutls_strerror(rv);
        return false;
    }
    rv = server_ ? ngtcp2_crypto_gnutls_configure_server_session(tls_)
                 : ngtcp2_crypto_gnutls_configure_client_session(tls_);
    if (rv != 0) {
        err = "ngtcp2_crypto_gnutls_configure_*_session failed";
        return false;
    }
    if ((rv = gnutls_priority_set_direct(tls_, tls_priority, nullptr)) != 0 ||
        (rv = gnutls_credentials_set(tls_, GNUTLS_CRD_CERTIFICATE, setup.credentials)) != 0) {
        err = std::string("gnutls setup: ") + gnutls_strerror(rv);
        return false;
    }
    gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(wanted_alpn_.data()),
                        static_cast<unsigned>(wanted_alpn_.size())};
    // Both sides insist (RFC 9001 §8.1): no ALPN in common ends the handshake.
    if ((rv = gnutls_alpn_set_protocols(tls_, &alpn, 1, GNUTLS_ALPN_MANDATORY)) != 0) {
        err = std::string("gnutls_alpn_set_protocols: ") + gnutls_strerror(rv);
        return false;
    }
    if (!server_) {
        if ((rv = gnutls_server_name_set(tls_, GNUTLS_NAME_DNS, setup.server_name.data(), setup.server_name.size())) !=
            0) {
            err = std::string("gnutls_server_name_set: ") + gnutls_strerror(rv);
            return false;
        }
        // Checks the chain and that the certificate names server_name
        // (GnuTLS keeps the pointer: the string lives in the connection).
        server_name_ = setup.server_name;
        if (setup.verify_peer) gnutls_session_set_verify_cert(tls_, server_name_.c_str(), 0);
    }
    conn_ref_.get_conn = get_conn;
    conn_ref_.user_data = this;
    gnutls_session_set_ptr(tls_, &conn_ref_);
    ngtcp2_conn_set_tls_native_handle(conn_, tls_);
    return true;
}

ngtcp2_conn* Connection::get_conn(ngtcp2_crypto_conn_ref* ref) {
    return static_cast<Connection*>(ref->user_data)->conn_;
}

void Connection::add_cid(const ngtcp2_cid& cid) {
    cids_.push_back(cid_key(cid));
    if (owner_) owner_->cid_added(*this, cid);
}

void Connection::remove_cid(const ngtcp2_cid& cid) {
    const auto it = std::find(cids_.begin(), cids_.end(), cid_key(cid));
    if (it != cids_.end()) cids_.erase(it);
    if (owner_) owner_->cid_removed(*this, cid);
}

// ---- input ----

void Connection::read(const sockaddr* from, socklen_t from_len, const std::uint8_t* data, std::size_t len,
                      Timestamp ts) {
    switch (state_) {
        case State::finished:
        case State::draining:  // RFC 9000 §10.2.2: a draining endpoint sends nothing
            return;
        case State::closing:
            // RFC 9000 §10.2.1: answer with the CONNECTION_CLOSE again, less
            // and less often (the 1st, 2nd, 4th, 8th... packet).
            ++packets_while_closing_;
            if ((packets_while_closing_ & (packets_while_closing_ - 1)) == 0 && !close_packet_.empty()) {
                socket_.send(close_packet_.data(), close_packet_.size(), from, from_len);
            }
            return;
        case State::open:
            break;
    }
    ngtcp2_path path{{const_cast<sockaddr*>(socket_.local()), socket_.local_len()},
                     {const_cast<sockaddr*>(from), from_len},
                     nullptr};
    ngtcp2_pkt_info pi{};
    const int rv = ngtcp2_conn_read_pkt(conn_, &path, &pi, data, len, ts);
    if (rv == 0) {
        after_events();
        return;
    }
    switch (rv) {
        case NGTCP2_ERR_DRAINING:  // the peer closed
            drain(ts);
            return;
        case NGTCP2_ERR_DROP_CONN:  // e.g. a stateless reset
        case NGTCP2_ERR_RETRY:      // (we send no Retry, so never expected)
            finish({CloseInfo::Kind::dropped, false, 0, ngtcp2_strerror(rv)});
            return;
        case NGTCP2_ERR_CRYPTO: {
            ngtcp2_connection_close_error ccerr;
            ngtcp2_connection_close_error_default(&ccerr);
            ngtcp2_connection_close_error_set_transport_error_tls_alert(&ccerr, ngtcp2_conn_get_tls_alert(conn_),
                                                                        nullptr, 0);
            close_with(ccerr, ts);
            return;
        }
        default:
            fail(rv, ts);
            return;
    }
}

void Connection::after_events() {
    if (!handshake_done_ || handshake_reported_ || state_ != State::open) return;
    handshake_reported_ = true;
    gnutls_datum_t selected{};
    if (gnutls_alpn_get_selected_protocol(tls_, &selected) == 0) {
        alpn_.assign(reinterpret_cast<const char*>(selected.data), selected.size);
    }
    if (alpn_ != wanted_alpn_) {  // GNUTLS_ALPN_MANDATORY should have seen to it
        ngtcp2_connection_close_error ccerr;
        ngtcp2_connection_close_error_default(&ccerr);
        ngtcp2_connection_close_error_set_transport_error(&ccerr, NGTCP2_CRYPTO_ERROR | tls_no_application_protocol,
                                                          nullptr, 0);
        close_with(ccerr, now());
        return;
    }
    if (handler_) handler_->on_handshake_completed();
}

// ---- output ----

bool Connection::send_packet(const ngtcp2_path& path, std::size_t len) {
    return socket_.send(buf_.data(), len, path.remote.addr, path.remote.addrlen) != UdpSocket::Send::held;
}

void Connection::write(Timestamp ts) {
    if (state_ != State::open || socket_.holding()) return;
    if (close_requested_) {
        ngtcp2_connection_close_error ccerr;
        ngtcp2_connection_close_error_default(&ccerr);
        ngtcp2_connection_close_error_set_application_error(&ccerr, *close_requested_,
                                                            reinterpret_cast<const std::uint8_t*>(close_reason_.data()),
                                                            close_reason_.size());
        close_with(ccerr, ts);
        return;
    }
    write_streams(ts);
}

// The pull loop: each packet is filled with what the handler offers
// (NGTCP2_WRITE_STREAM_FLAG_MORE packs several streams into one packet),
// then ngtcp2 adds ACKs, flow-control updates and retransmissions. At most
// one send quantum goes out per call, so a fast sender paces itself.
void Connection::write_streams(Timestamp ts) {
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    const std::size_t max_payload = std::min(ngtcp2_conn_get_max_tx_udp_payload_size(conn_), buf_.size());
    const std::size_t budget = std::max(ngtcp2_conn_get_send_quantum(conn_), max_payload);
    std::size_t sent = 0;
    int refusals = 0;
    std::array<ngtcp2_vec, 16> vecs{};
    paced_ = false;
    // While a packet is being coalesced (NGTCP2_WRITE_STREAM_FLAG_MORE),
    // ngtcp2 allows no other call on the connection: the handler's calls
    // back into it are refused until the loop ends.
    writing_ = true;
    struct Done {
        bool& flag;
        ~Done() { flag = false; }
    } done{writing_};
    for (;;) {
        if (sent >= budget) {
            paced_ = true;
            paced_at_ = ts;
            break;
        }
        std::optional<StreamWrite> w;
        if (handler_ && refusals < max_refusals) w = handler_->next_write();
        std::size_t nvec = 0;
        std::size_t total = 0;
        bool fin = false;
        if (w) {
            for (const auto& piece : w->data) {
                if (nvec == vecs.size()) break;
                vecs[nvec++] = {const_cast<std::uint8_t*>(piece.data()), piece.size()};
                total += piece.size();
            }
            fin = w->fin && nvec == w->data.size();
        }
        const std::uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE | (fin ? NGTCP2_WRITE_STREAM_FLAG_FIN : 0u);
        ngtcp2_ssize taken = -1;
        const ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn_, &ps.path, &pi, buf_.data(), max_payload, &taken, flags,
                                                         w ? w->stream : -1, nvec ? vecs.data() : nullptr, nvec, ts);
        const auto report = [&] {
            const std::size_t octets = taken > 0 ? static_cast<std::size_t>(taken) : 0;
            const bool fin_sent = fin && taken >= 0 && static_cast<std::size_t>(taken) == total;
            handler_->wrote(w->stream, octets, fin_sent);
            return octets > 0 || fin_sent;
        };
        if (n < 0) {
            switch (n) {
                case NGTCP2_ERR_WRITE_MORE:  // room left in the packet: ask for more
                    if (!report()) ++refusals;
                    continue;
                case NGTCP2_ERR_STREAM_DATA_BLOCKED:
                case NGTCP2_ERR_STREAM_SHUT_WR:
                case NGTCP2_ERR_STREAM_NOT_FOUND:
                    ++refusals;
                    if (w) handler_->blocked(w->stream);
                    continue;
                default:
                    fail(static_cast<int>(n), ts);
                    return;
            }
        }
        if (w) report();
        if (n == 0) break;  // congestion window, amplification limit or nothing to send
        if (!send_packet(ps.path, static_cast<std::size_t>(n))) break;  // the socket holds it: wait for POLLOUT
        sent += static_cast<std::size_t>(n);
    }
    ngtcp2_conn_update_pkt_tx_time(conn_, ts);
}

// ---- timers and closing ----

Timestamp Connection::expiry() const {
    switch (state_) {
        case State::open: {
            Timestamp t = ngtcp2_conn_get_expiry(conn_);
            if (paced_) t = std::min(t, paced_at_ + NGTCP2_MILLISECONDS);
            return t;
        }
        case State::closing:
        case State::draining:
            return state_deadline_;
        case State::finished:
            return no_expiry;
    }
    return no_expiry;
}

void Connection::on_timer(Timestamp ts) {
    if (state_ == State::closing || state_ == State::draining) {
        if (ts >= state_deadline_) state_ = State::finished;
        return;
    }
    if (state_ != State::open) return;
    if (paced_ && ts >= paced_at_ + NGTCP2_MILLISECONDS) paced_ = false;
    const int rv = ngtcp2_conn_handle_expiry(conn_, ts);
    switch (rv) {
        case 0:
            after_events();
            return;
        case NGTCP2_ERR_IDLE_CLOSE:  // RFC 9000 §10.1: silently
            finish({CloseInfo::Kind::idle, false, 0, {}});
            return;
        case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
            finish({CloseInfo::Kind::handshake_timeout, false, 0, {}});
            return;
        default:
            fail(rv, ts);
            return;
    }
}

void Connection::close_with(const ngtcp2_connection_close_error& ccerr, Timestamp ts) {
    report_close(close_info_from(ccerr, false));
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    ngtcp2_pkt_info pi{};
    const ngtcp2_ssize n =
        ngtcp2_conn_write_connection_close(conn_, &ps.path, &pi, buf_.data(), buf_.size(), &ccerr, ts);
    if (n <= 0) {  // nothing can be said (no keys yet, or already closing)
        state_ = State::finished;
        return;
    }
    close_packet_.assign(buf_.data(), buf_.data() + n);
    socket_.send(close_packet_.data(), close_packet_.size(), ps.path.remote.addr, ps.path.remote.addrlen);
    state_ = State::closing;
    state_deadline_ = ts + 3 * ngtcp2_conn_get_pto(conn_);  // RFC 9000 §10.2
}

void Connection::drain(Timestamp ts) {
    ngtcp2_connection_close_error ccerr;
    ngtcp2_conn_get_connection_close_error(conn_, &ccerr);
    report_close(close_info_from(ccerr, true));
    state_ = State::draining;
    state_deadline_ = ts + 3 * ngtcp2_conn_get_pto(conn_);
}

void Connection::finish(CloseInfo info) {
    report_close(std::move(info));
    state_ = State::finished;
}

void Connection::fail(int liberr, Timestamp ts) {
    if (ngtcp2_err_is_fatal(liberr)) {  // out of memory, a callback failed: no packet can be made
        finish({CloseInfo::Kind::dropped, false, 0, ngtcp2_strerror(liberr)});
        return;
    }
    ngtcp2_connection_close_error ccerr;
    ngtcp2_connection_close_error_default(&ccerr);
    ngtcp2_connection_close_error_set_transport_error_liberr(&ccerr, liberr, nullptr, 0);
    close_with(ccerr, ts);
}

void Connection::report_close(CloseInfo info) {
    if (close_info_) return;
    close_info_ = std::move(info);
    if (handler_) handler_->on_connection_closed(*close_info_);
}

// ---- QuicConnection ----

std::optional<std::int64_t> Connection::open_bidi_stream() {
    std::int64_t id = -1;
    if (!usable() || ngtcp2_conn_open_bidi_stream(conn_, &id, nullptr) != 0) return std::nullopt;
    return id;
}

std::optional<std::int64_t> Connection::open_uni_stream() {
    std::int64_t id = -1;
    if (!usable() || ngtcp2_conn_open_uni_stream(conn_, &id, nullptr) != 0) return std::nullopt;
    return id;
}

bool Connection::reset_stream(std::int64_t stream, std::uint64_t app_error) {
    return usable() && ngtcp2_conn_shutdown_stream_write(conn_, stream, app_error) == 0;
}

bool Connection::stop_sending(std::int64_t stream, std::uint64_t app_error) {
    return usable() && ngtcp2_conn_shutdown_stream_read(conn_, stream, app_error) == 0;
}

void Connection::consumed(std::int64_t stream, std::uint64_t n) {
    if (!usable() || n == 0) return;
    ngtcp2_conn_extend_max_stream_offset(conn_, stream, n);  // fails harmlessly once the stream is gone
    ngtcp2_conn_extend_max_offset(conn_, n);
}

void Connection::consumed_connection(std::uint64_t n) {
    if (usable() && n) ngtcp2_conn_extend_max_offset(conn_, n);
}

void Connection::close(std::uint64_t app_error, std::string_view reason) {
    if (close_requested_ || state_ != State::open) return;
    close_requested_ = app_error;
    close_reason_.assign(reason.substr(0, 256));
}

std::uint64_t Connection::streams_bidi_left() const {
    return usable() ? ngtcp2_conn_get_streams_bidi_left(conn_) : 0;
}

// ---- ngtcp2 callbacks ----

namespace {
Connection& self(void* user) {
    return *static_cast<Connection*>(user);
}
}  // namespace

int Connection::on_handshake_completed(ngtcp2_conn*, void* user) {
    self(user).handshake_done_ = true;  // reported to the handler once ngtcp2 returns
    return 0;
}

int Connection::on_recv_stream_data(ngtcp2_conn* conn, std::uint32_t flags, std::int64_t stream, std::uint64_t,
                                    const std::uint8_t* data, std::size_t len, void* user, void*) {
    Connection& c = self(user);
    if (c.handler_) {
        c.handler_->on_stream_data(stream, {data, len}, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
    } else {  // nobody to hold the bytes: let the peer go on
        ngtcp2_conn_extend_max_stream_offset(conn, stream, len);
        ngtcp2_conn_extend_max_offset(conn, len);
    }
    return 0;
}

int Connection::on_acked_stream_data(ngtcp2_conn*, std::int64_t stream, std::uint64_t, std::uint64_t len, void* user,
                                     void*) {
    Connection& c = self(user);
    if (c.handler_) c.handler_->on_stream_acked(stream, len);
    return 0;
}

int Connection::on_stream_close(ngtcp2_conn* conn, std::uint32_t flags, std::int64_t stream, std::uint64_t app_error,
                                void* user, void*) {
    Connection& c = self(user);
    if (c.handler_) {
        c.handler_->on_stream_closed(stream, (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) ? app_error : 0);
    }
    // The peer may open another one in its place (MAX_STREAMS).
    if (remote_stream(stream, c.server_)) {
        if (stream & 2) {
            ngtcp2_conn_extend_max_streams_uni(conn, 1);
        } else {
            ngtcp2_conn_extend_max_streams_bidi(conn, 1);
        }
    }
    return 0;
}

int Connection::on_stream_reset(ngtcp2_conn*, std::int64_t stream, std::uint64_t, std::uint64_t app_error, void* user,
                                void*) {
    Connection& c = self(user);
    if (c.handler_) c.handler_->on_stream_reset(stream, app_error);
    return 0;
}

int Connection::on_stop_sending(ngtcp2_conn*, std::int64_t stream, std::uint64_t app_error, void* user, void*) {
    Connection& c = self(user);
    if (c.handler_) c.handler_->on_stop_sending(stream, app_error);
    return 0;
}

int Connection::on_extend_max_stream_data(ngtcp2_conn*, std::int64_t stream, std::uint64_t, void* user, void*) {
    Connection& c = self(user);
    if (c.handler_) c.handler_->on_stream_writable(stream);
    return 0;
}

int Connection::on_extend_max_streams(ngtcp2_conn*, std::uint64_t, void* user) {
    Connection& c = self(user);
    if (c.handler_) c.handler_->on_streams_available();
    return 0;
}

int Connection::on_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, std::uint8_t* token, std::size_t cidlen,
                                     void* user) {
    Connection& c = self(user);
    if (!random_cid(*cid, cidlen)) return NGTCP2_ERR_CALLBACK_FAILURE;
    if (c.reset_secret_) {
        if (ngtcp2_crypto_generate_stateless_reset_token(token, c.reset_secret_, c.reset_secret_len_, cid) != 0) {
            return NGTCP2_ERR_CALLBACK_FAILURE;
        }
    } else if (!random_bytes(token, NGTCP2_STATELESS_RESET_TOKENLEN)) {
        return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    c.add_cid(*cid);
    return 0;
}

int Connection::on_remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* user) {
    self(user).remove_cid(*cid);
    return 0;
}

void Connection::on_rand(std::uint8_t* dest, std::size_t len, const ngtcp2_rand_ctx*) {
    if (!random_bytes(dest, len)) std::memset(dest, 0, len);  // ngtcp2 draws no secrets from it
}

}  // namespace detail
}  // namespace example::quic
