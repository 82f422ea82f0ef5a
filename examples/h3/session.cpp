// HTTP/3 sessions of the example programs (see session.hpp).
#include "h3/session.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <variant>

#include "server/file_cache.hpp"
#include "server/route.hpp"
#include "websocket/websocket.hpp"

namespace example::h3ex {

namespace h3 = h2wire::h3;

namespace {

std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

// ---------------------------------------------------------------------------
// Bridge
// ---------------------------------------------------------------------------

Bridge::Bridge(quic::QuicConnection& quic, const h3::ConnectionConfig& config) : quic_(quic), conn_(config) {}

Bridge::~Bridge() = default;

void Bridge::on_handshake_completed() {
    // RFC 9114 §6.2.1, RFC 9204 §4.2: each side opens its control stream and
    // its two QPACK streams right away.
    const auto control = quic_.open_uni_stream();
    const auto encoder = quic_.open_uni_stream();
    const auto decoder = quic_.open_uni_stream();
    if (!control || !encoder || !decoder ||
        conn_.bind_local_streams(static_cast<std::uint64_t>(*control), static_cast<std::uint64_t>(*encoder),
                                 static_cast<std::uint64_t>(*decoder)) != h2wire::ApiError::none) {
        quic_.close(static_cast<std::uint64_t>(h3::ErrorCode::h3_stream_creation_error), "no unidirectional streams");
        finished_ = true;
        return;
    }
    ready();
    pump();
    commands();
}

void Bridge::dispatch(std::span<const h3::Event> events) {
    // The events of the call, then those the application's own calls
    // caused (a StreamClosed once a response is written...), until none.
    for (int round = 0; round < 64; ++round) {
        process(events);
        events = conn_.take_events();
        if (events.empty()) break;
    }
}

void Bridge::process(std::span<const h3::Event> events) {
    // Flow control: what the connection took from this input, and the held
    // octets it processed now, go back to the peer after the application
    // had its say (hold_credit()).
    for (const h3::Event& e : events)
        if (const auto* c = std::get_if<h3::InputConsumed>(&e)) {
            const auto s = static_cast<std::int64_t>(c->stream);
            if (s == credit_stream_) credit_owed_ += c->octets;
            else quic_.consumed(s, c->octets);
        }
    handle(events);
    for (const h3::Event& e : events) {
        if (const auto* t = std::get_if<h3::ConnectionTerminated>(&e)) {
            if (!finished_) quic_.close(static_cast<std::uint64_t>(t->code));
            finished_ = true;
        }
        if (const auto* c = std::get_if<h3::StreamClosed>(&e)) release_credit(static_cast<std::int64_t>(c->stream));
    }
    if (credit_stream_ >= 0 && credit_owed_ > 0) quic_.consumed(credit_stream_, credit_owed_);
    credit_stream_ = -1;
    credit_owed_ = 0;
    pump();
    commands();
}

void Bridge::hold_credit(std::int64_t stream, std::uint64_t n) {
    if (stream != credit_stream_) return;
    const std::uint64_t m = std::min(n, credit_owed_);
    credit_owed_ -= m;
    withheld_[stream] += m;
}

void Bridge::release_credit(std::int64_t stream) {
    if (writing_) return;  // the transport takes no call while it fills a packet: later
    const auto it = withheld_.find(stream);
    if (it == withheld_.end()) return;
    quic_.consumed(stream, it->second);
    withheld_.erase(it);
}

void Bridge::commands() {
    if (writing_) return;  // as above: the next callback sends them
    while (auto c = conn_.next_command()) {
        const auto s = static_cast<std::int64_t>(c->stream);
        const auto code = static_cast<std::uint64_t>(c->code);
        if (c->kind == h3::CommandKind::reset_stream) quic_.reset_stream(s, code);
        else quic_.stop_sending(s, code);
    }
}

void Bridge::on_stream_data(std::int64_t stream, std::span<const std::uint8_t> data, bool fin) {
    const std::size_t held_before = conn_.held_input();
    const auto events = conn_.receive(static_cast<std::uint64_t>(stream), data, fin);
    std::uint64_t released = 0;
    for (const h3::Event& e : events)
        if (const auto* c = std::get_if<h3::InputConsumed>(&e)) released += c->octets;
    // Octets of this input the connection holds (behind a blocked section)
    // come back later, with an InputConsumed.
    const std::uint64_t added = conn_.held_input() + released - held_before;
    credit_stream_ = stream;
    credit_owed_ = data.size() - std::min<std::uint64_t>(added, data.size());
    dispatch(events);
}

void Bridge::on_stream_reset(std::int64_t stream, std::uint64_t app_error) {
    dispatch(conn_.stream_reset(static_cast<std::uint64_t>(stream), app_error));
}

void Bridge::on_stop_sending(std::int64_t stream, std::uint64_t app_error) {
    dispatch(conn_.stop_sending(static_cast<std::uint64_t>(stream), app_error));
}

void Bridge::on_stream_acked(std::int64_t stream, std::uint64_t octets) {
    conn_.acknowledged(static_cast<std::uint64_t>(stream), static_cast<std::size_t>(octets));
    dispatch(conn_.take_events());
}

void Bridge::on_stream_closed(std::int64_t, std::uint64_t) {}

void Bridge::on_stream_writable(std::int64_t stream) { conn_.unblock_stream(static_cast<std::uint64_t>(stream)); }

void Bridge::on_connection_closed(const quic::CloseInfo& info) {
    if (!conn_.is_closed()) {
        finished_ = true;  // no CONNECTION_CLOSE of ours: the transport is gone
        dispatch(conn_.transport_closed(info.code));
    }
    finished_ = true;
}

std::optional<quic::StreamWrite> Bridge::next_write() {
    const auto out = conn_.next_output();
    if (!out) return std::nullopt;
    spans_.clear();
    for (const h2wire::OutputChunk& c : out->chunks) spans_.emplace_back(c.data, c.size);
    return quic::StreamWrite{static_cast<std::int64_t>(out->stream), spans_, out->fin};
}

void Bridge::wrote(std::int64_t stream, std::size_t octets, bool) {
    // Inside the transport's packet building: only the HTTP/3 connection is
    // touched (more body may be queued); events and commands wait for the
    // next callback (with retain_until_acked a stream closes on an
    // acknowledgment, which is one).
    conn_.consume_output(static_cast<std::uint64_t>(stream), octets);
    writing_ = true;
    pump();
    writing_ = false;
}

void Bridge::blocked(std::int64_t stream) { conn_.block_stream(static_cast<std::uint64_t>(stream)); }

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

struct H3ServerSession::Stream {
    enum class Kind : std::uint8_t { answered, echo, file, websocket } kind = Kind::answered;
    std::shared_ptr<const ServedFile> file;  // lent (held files) or read from (others)
    std::uint64_t offset = 0;                // file octets queued so far
    bool trailers = false;
    bool request_done = false;
    bool response_done = false;
    std::uint64_t length = 0;  // echo octets
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    std::unique_ptr<ws::Endpoint> ws;
};

namespace {
h3::ConnectionConfig server_h3_config(const H3ServerConfig& c) {
    h3::ConnectionConfig h = c.h3;
    h.role = h2wire::Role::server;
    h.retain_until_acked = true;  // ngtcp2 retransmits from our buffers
    h.settings.enable_connect_protocol = true;  // RFC 9220: WebSocket at /ws
    // An echo holds at most echo_buffer plus one QUIC stream window (what
    // the client may send after its credit stops coming back).
    h.limits.max_buffered_per_stream = std::max<std::size_t>(h.limits.max_buffered_per_stream, c.echo_buffer + 1024 * 1024);
    return h;
}
}  // namespace

H3ServerSession::H3ServerSession(quic::QuicConnection& quic, const H3ServerConfig& config)
    : Bridge(quic, server_h3_config(config)), cfg_(config) {}

H3ServerSession::~H3ServerSession() = default;

void H3ServerSession::shutdown() {
    conn_.shutdown();
    dispatch(conn_.take_events());
}

void H3ServerSession::respond_simple(std::uint64_t id, int status, std::string_view text, bool head) {
    const std::string st = std::to_string(status);
    const std::string length = std::to_string(text.size());
    const h2wire::Field resp[] = {
        {":status", st}, {"content-type", "text/plain; charset=utf-8"}, {"content-length", length}};
    conn_.submit_response(id, resp, head);
    if (!head) conn_.send_data_borrowed(id, bytes_of(text), true);  // static text: lent
}

void H3ServerSession::on_request(const h3::RequestReceived& r) {
    if (r.method == "CONNECT") {
        on_connect(r);
        return;
    }
    const Route route = route_request(r.headers, r.method, r.path, cfg_.root, cfg_.file_cache, 16 * 1024);
    if (cfg_.log)
        std::fprintf(stderr, "h3 stream %llu %.*s %.*s -> %d\n", static_cast<unsigned long long>(r.stream),
                     static_cast<int>(r.method.size()), r.method.data(), static_cast<int>(r.path.size()),
                     r.path.data(), route.status);
    auto s = std::make_unique<Stream>();
    s->request_done = r.end_stream;
    s->trailers = route.trailers;
    switch (route.kind) {
    case Route::Kind::simple:
        respond_simple(r.stream, route.status, route.text, route.head);
        s->response_done = true;
        break;
    case Route::Kind::echo: {
        const h2wire::Field resp[] = {{":status", "200"}, {"content-type", route.content_type}};
        conn_.submit_response(r.stream, resp, false);
        s->kind = Stream::Kind::echo;
        break;
    }
    case Route::Kind::file: {
        const ServedFile& f = *route.file;
        const h2wire::Field resp[] = {{":status", "200"}, {"content-type", f.type}, {"content-length", f.content_length()}};
        const bool empty = route.head || (f.size == 0 && !route.trailers);
        conn_.submit_response(r.stream, resp, empty);
        s->kind = Stream::Kind::file;
        s->file = route.file;
        s->response_done = empty;
        if (!empty && f.held() && !route.trailers) {
            // Held in memory: lent whole, zero copy; the file stays alive
            // in the stream until its StreamClosed.
            conn_.send_data_borrowed(r.stream, {f.content.get(), static_cast<std::size_t>(f.size)}, true);
            s->response_done = true;
        }
        break;
    }
    }
    streams_[r.stream] = std::move(s);
}

// RFC 9220: extended CONNECT with :protocol websocket at /ws opens a
// WebSocket echo; other CONNECTs get 501.
void H3ServerSession::on_connect(const h3::RequestReceived& r) {
    auto s = std::make_unique<Stream>();
    s->request_done = r.end_stream;
    std::string_view version;
    for (const h2wire::Field& f : r.headers)
        if (f.name == "sec-websocket-version") version = f.value;
    if (r.protocol != "websocket" || r.path != "/ws") {
        respond_simple(r.stream, 501, "only extended CONNECT for websocket at /ws\n", false);
        s->response_done = true;
    } else if (version != "13") {
        respond_simple(r.stream, 426, "sec-websocket-version 13 only\n", false);
        s->response_done = true;
    } else {
        const h2wire::Field resp[] = {{":status", "200"}};
        conn_.submit_response(r.stream, resp, false);
        s->kind = Stream::Kind::websocket;
        s->ws = std::make_unique<ws::Endpoint>(ws::Options{ws::Role::server, 1 << 20, 0, false});
    }
    if (cfg_.log)
        std::fprintf(stderr, "h3 stream %llu CONNECT %.*s :protocol %.*s\n", static_cast<unsigned long long>(r.stream),
                     static_cast<int>(r.path.size()), r.path.data(), static_cast<int>(r.protocol.size()),
                     r.protocol.data());
    streams_[r.stream] = std::move(s);
}

void H3ServerSession::finish(std::uint64_t id, Stream& s) {
    if (s.response_done) return;
    s.response_done = true;
    if (s.trailers) {
        const std::string length = std::to_string(s.kind == Stream::Kind::echo ? s.length : s.offset);
        char hash[17];
        std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(s.hash));
        const h2wire::Field trailers[] = {{"x-body-length", length}, {"x-body-fnv1a", hash}};
        conn_.send_trailers(id, trailers);
    } else {
        conn_.send_data(id, {}, true);
    }
}

void H3ServerSession::handle(std::span<const h3::Event> events) {
    for (const h3::Event& e : events) {
        if (const auto* r = std::get_if<h3::RequestReceived>(&e)) {
            on_request(*r);
        } else if (const auto* d = std::get_if<h3::DataReceived>(&e)) {
            auto it = streams_.find(d->stream);
            if (it == streams_.end()) continue;
            Stream& s = *it->second;
            if (s.kind == Stream::Kind::echo) {
                // The copy goes out as the client reads; until the queue
                // drains, the client's credit for these octets is held back.
                if (conn_.send_data(d->stream, d->data, false) != h2wire::ApiError::none) {
                    conn_.reset_stream(d->stream, h3::ErrorCode::h3_excessive_load);
                    continue;
                }
                s.length += d->data.size();
                if (s.trailers) s.hash = fnv1a(s.hash, d->data);
                if (conn_.buffered(d->stream) > cfg_.echo_buffer)
                    hold_credit(static_cast<std::int64_t>(d->stream), d->data.size());
            } else if (s.kind == Stream::Kind::websocket) {
                s.ws->receive(d->data);
                while (!s.ws->messages().empty()) {  // echo
                    auto& m = s.ws->messages().front();
                    s.ws->send(m.opcode, bytes_of(m.data));
                    s.ws->messages().pop_front();
                }
                s.ws->reply_close();  // after the messages that came before the close
            }
        } else if (const auto* end = std::get_if<h3::StreamEnded>(&e)) {
            auto it = streams_.find(end->stream);
            if (it == streams_.end()) continue;
            Stream& s = *it->second;
            s.request_done = true;
            if (s.kind == Stream::Kind::echo) finish(end->stream, s);
            if (s.kind == Stream::Kind::websocket) {  // like TCP FIN under RFC 6455
                s.ws->reply_close();
                if (!s.response_done) {
                    const auto out = std::span<const std::uint8_t>(s.ws->output());
                    conn_.send_data(end->stream, out, true);
                    s.ws->output().clear();
                    s.response_done = true;
                }
            }
        } else if (const auto* c = std::get_if<h3::StreamClosed>(&e)) {
            streams_.erase(c->stream);  // lent file bodies may go now
        }
    }
}

void H3ServerSession::pump() {
    for (auto& [id, sp] : streams_) {
        Stream& s = *sp;
        if (s.kind == Stream::Kind::echo && conn_.buffered(id) <= cfg_.echo_buffer)
            release_credit(static_cast<std::int64_t>(id));
        if (s.kind == Stream::Kind::websocket && !s.response_done) {
            // RFC 9220 §3 (as RFC 8441 §5): once both close frames went, our
            // side of the stream ends (FIN).
            const bool end = s.ws->closed();
            if ((!s.ws->output().empty() || end) &&
                conn_.send_data(id, s.ws->output(), end) == h2wire::ApiError::none) {
                s.ws->output().clear();
                s.response_done = end;
            }
        }
        if (s.kind != Stream::Kind::file || s.response_done || !s.file) continue;
        // A file read from disk: a chunk at a time, while the stream's queue
        // is short (the client's reading paces the reads).
        const ServedFile& f = *s.file;
        std::vector<std::uint8_t> chunk;
        while (s.offset < f.size && conn_.buffered(id) < cfg_.file_chunk) {
            chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(cfg_.file_chunk, f.size - s.offset)));
            const ssize_t n = f.held() ? static_cast<ssize_t>(chunk.size())
                                       : ::pread(f.fd, chunk.data(), chunk.size(), static_cast<off_t>(s.offset));
            if (n <= 0) {
                conn_.reset_stream(id, h3::ErrorCode::h3_internal_error);
                s.response_done = true;
                break;
            }
            if (f.held()) std::copy_n(f.content.get() + s.offset, chunk.size(), chunk.begin());
            chunk.resize(static_cast<std::size_t>(n));
            if (s.trailers) s.hash = fnv1a(s.hash, chunk);
            if (conn_.send_data(id, chunk, false) != h2wire::ApiError::none) break;
            s.offset += static_cast<std::uint64_t>(n);
        }
        if (s.offset == f.size) finish(id, s);
    }
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

namespace {
h3::ConnectionConfig client_h3_config() {
    h3::ConnectionConfig h;
    h.role = h2wire::Role::client;
    h.retain_until_acked = true;
    return h;
}
}  // namespace

H3ClientSession::H3ClientSession(quic::QuicConnection& quic, std::string authority, std::vector<H3Request>& requests,
                                 std::vector<std::string> websocket_messages)
    : Bridge(quic, client_h3_config()),
      authority_(std::move(authority)),
      requests_(requests),
      ws_messages_(std::move(websocket_messages)) {}

H3ClientSession::~H3ClientSession() = default;

bool H3ClientSession::all_done() const {
    return std::all_of(requests_.begin(), requests_.end(), [](const H3Request& r) { return r.done; });
}

void H3ClientSession::ready() {
    const bool needs_settings = std::any_of(requests_.begin(), requests_.end(),
                                            [](const H3Request& r) { return !r.protocol.empty(); });
    if (!needs_settings) start();
}

void H3ClientSession::start() {
    while (started_ < requests_.size()) {
        H3Request& r = requests_[started_];
        const auto stream = quic_.open_bidi_stream();
        if (!stream) return;  // the peer's stream limit: more once some finish
        const auto id = static_cast<std::uint64_t>(*stream);
        const std::string length = std::to_string(r.body.size());
        std::vector<h2wire::Field> fields = {{":method", r.method}};
        if (!r.protocol.empty()) fields.push_back({":protocol", r.protocol});
        fields.push_back({":scheme", "https"});
        fields.push_back({":authority", authority_});
        fields.push_back({":path", r.path});
        fields.push_back({"user-agent", "h2wire-example-h3-client"});
        if (r.protocol == "websocket") fields.push_back({"sec-websocket-version", "13"});
        if (!r.body.empty()) fields.push_back({"content-length", length});
        const bool end = r.body.empty() && r.protocol.empty();
        if (!conn_.submit_request(id, fields, end)) {
            r.done = r.reset = true;
            ++started_;
            continue;
        }
        if (!r.body.empty()) conn_.send_data_borrowed(id, bytes_of(r.body), true);
        if (r.protocol == "websocket") {
            ws_ = std::make_unique<ws::Endpoint>(ws::Options{ws::Role::client, 1 << 20, 1, true});
            ws_stream_ = id;
        }
        by_stream_[id] = started_++;
    }
}

void H3ClientSession::handle(std::span<const h3::Event> events) {
    for (const h3::Event& e : events) {
        if (std::holds_alternative<h3::SettingsReceived>(e) && !settings_) {
            settings_ = true;
            start();
            continue;
        }
        const auto request = [&](std::uint64_t stream) -> H3Request* {
            auto it = by_stream_.find(stream);
            return it == by_stream_.end() ? nullptr : &requests_[it->second];
        };
        if (const auto* r = std::get_if<h3::ResponseReceived>(&e)) {
            if (H3Request* q = request(r->stream)) {
                q->status = r->status;
                for (const h2wire::Field& f : r->headers) q->headers.emplace_back(f.name, f.value);
                if (r->stream == ws_stream_ && r->status == 200) {
                    for (const std::string& m : ws_messages_) ws_->send_text(m);
                    ws_->close();
                    conn_.send_data(r->stream, ws_->output(), false);
                    ws_->output().clear();
                }
            }
        } else if (const auto* d = std::get_if<h3::DataReceived>(&e)) {
            H3Request* q = request(d->stream);
            if (q == nullptr) continue;
            if (d->stream == ws_stream_ && q->status == 200) {
                ws_->receive(d->data);
                while (!ws_->messages().empty()) {
                    q->response += ws_->messages().front().data + "\n";
                    ws_->messages().pop_front();
                }
                if (ws_->closed()) conn_.send_data(d->stream, {}, true);  // the closing handshake is done
            } else {
                q->response.append(reinterpret_cast<const char*>(d->data.data()), d->data.size());
            }
        } else if (const auto* t = std::get_if<h3::TrailersReceived>(&e)) {
            if (H3Request* q = request(t->stream))
                for (const h2wire::Field& f : t->headers) q->trailers.emplace_back(f.name, f.value);
        } else if (const auto* rs = std::get_if<h3::StreamReset>(&e)) {
            if (H3Request* q = request(rs->stream)) {
                q->reset = true;
                q->reset_code = static_cast<std::uint64_t>(rs->code);
            }
        } else if (const auto* c = std::get_if<h3::StreamClosed>(&e)) {
            if (H3Request* q = request(c->stream)) q->done = true;
            by_stream_.erase(c->stream);
            if (started_ < requests_.size()) start();
        }
    }
    if (all_done() && !conn_.is_closed()) conn_.close(h3::ErrorCode::h3_no_error);
}

}  // namespace example::h3ex
