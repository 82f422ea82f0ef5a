// The HTTP/3 connection (RFC 9114): streams the caller's QUIC stack carries,
// QPACK (RFC 9204) on the encoder and decoder streams, and the message
// checks shared with HTTP/2 (connection/message_validation.hpp).
//
// Data flow. Input comes per stream: a request stream's bytes go through
// its h3::Reader (frames), HEADERS through the QPACK decoder, and out as
// events; a section that waits for inserts (RFC 9204 §2.1.2) parks its
// stream, whose later bytes are copied aside until the encoder stream brings
// the inserts (connection_input.cpp). Output is per stream too: each stream
// has a queue of segments (frames in pooled blocks, DATA payload lent as is)
// that next_output() hands out and consume_output() / acknowledged() release
// (connection_output.cpp).
//
// This file: construction, the stream table and the end of streams and of
// the connection, the API calls that are neither input nor output, getters.
#include <algorithm>
#include <array>
#include <new>

#include "h3/connection_impl.hpp"

namespace h2wire::h3 {

// -- Construction -----------------------------------------------------------

Connection::Impl::Impl(const ConnectionConfig& c)
    : config(c),
      account(c.memory, c.limits.max_connection_memory),
      mr(&account),
      stream_mem(mr),
      pool(mr),
      arena(mr),
      events(mr),
      api_events(mr),
      streams(&stream_mem),
      ready(mr),
      commands(mr),
      scratch_fields(mr),
      spare(&stream_mem),
      peer_bidi(0, mr),
      peer_uni(c.role == Role::server ? 2 : 3, mr),
      decoder(qpack::DecoderLimits{c.settings.qpack_max_table_capacity, c.settings.qpack_blocked_streams,
                                   static_cast<std::uint32_t>(std::min<std::uint64_t>(
                                       c.settings.max_field_section_size, 0xffffffffu)),
                                   c.limits.max_field_size, static_cast<std::uint32_t>(std::min<std::size_t>(
                                                                 c.limits.max_held_input, 0xffffffffu)),
                                   64 * 1024},
              mr),
      encoder(qpack::EncoderOptions{kEncoderCapacity, kEncoderBlocked, true, 1024}, mr),
      control(~std::uint64_t{0}, Kind::local_control, mr),
      enc_stream(~std::uint64_t{0}, Kind::local_encoder, mr),
      dec_stream(~std::uint64_t{0}, Kind::local_decoder, mr),
      grease_stream(~std::uint64_t{0}, Kind::local_grease, mr) {
    account.add_external(sizeof(Impl));
    peer_settings.max_field_section_size = max_varint;  // RFC 9114 §7.2.4.1: unlimited by default
    peer_settings.qpack_max_table_capacity = 0;         // RFC 9204 §5
    peer_settings.qpack_blocked_streams = 0;
    peer_settings.enable_connect_protocol = false;
    // Queued now, so that they come first on their streams whatever
    // happens before bind_local_streams() names them.
    queue_settings();
}

Connection::Impl::~Impl() {
    for (auto& [id, s] : streams) destroy(s);
    for (Stream* s : spare) {
        std::pmr::polymorphic_allocator<Stream> alloc(&stream_mem);
        alloc.delete_object(s);
    }
    for (Stream* l : locals()) l->out.clear(pool);
}

// -- Streams ----------------------------------------------------------------

Connection::Impl::Stream* Connection::Impl::find_in_map(std::uint64_t id) const noexcept {
    auto it = streams.find(id);
    if (it == streams.end()) return nullptr;
    last_id = id;
    last = it->second;
    return last;
}

void Connection::Impl::destroy(Stream* s) {
    s->out.clear(pool);
    if (spare.size() < kMaxSpareStreams && !closed) {
        s->section.~Section();  // unblocks; nothing of the stream stays in the decoder
        ::new (&s->section) qpack::Section(0, s);
        s->reader.reset();
        s->type_reader = StreamHeaderReader();
        if (s->held.capacity() > 4096) s->held = std::pmr::vector<std::uint8_t>(&stream_mem);  // a blocked burst's
        s->held.clear();
        s->held_consumed = 0;
        s->user = nullptr;
        s->content_left = -1;
        s->close_code = ErrorCode::h3_no_error;
        s->close_by = Initiator::local;
        s->fin_queued = s->send_done = s->recv_done = s->held_fin = s->blocked = s->flow_blocked = false;
        s->seen = s->final_in = s->final_out = s->head = s->tunnel = s->ready = s->closing = false;
        spare.push_back(s);
        return;
    }
    std::pmr::polymorphic_allocator<Stream> alloc(&stream_mem);
    alloc.delete_object(s);
}

void Connection::Impl::forget(Stream* s) {
    if (s->kind == Kind::peer_new) --pending_uni;
    if (s->kind == Kind::request) --request_streams;
    held_total -= s->held.size() - std::min<std::size_t>(s->held.size(), s->held_consumed);
    if (s->ready) {
        auto it = std::find(ready.begin(), ready.end(), s);
        if (it != ready.end()) {
            const auto at = static_cast<std::size_t>(it - ready.begin());
            ready.erase(it);
            if (ready_next > at) --ready_next;
        }
    }
    streams.erase(s->id);
    if (last == s) last = nullptr;
    destroy(s);
}

void Connection::Impl::abort(Stream* s, ErrorCode code, Initiator by, bool send_commands, bool stop) {
    if (s->blocked) {
        decoder.cancel(s->section);
        s->blocked = false;
        decoder_dirty = true;
    } else if (!s->recv_done) {
        decoder.cancel(s->section);  // a Stream Cancellation, when the encoder may hold references (§4.4.2)
        decoder_dirty = true;
    }
    held_total -= s->held.size() - std::min<std::size_t>(s->held.size(), s->held_consumed);
    s->held = std::pmr::vector<std::uint8_t>(&stream_mem);
    s->held_consumed = 0;
    if (send_commands) {
        if (!s->send_done) command(CommandKind::reset_stream, s->id, code);
        if (!s->recv_done && stop) command(CommandKind::stop_sending, s->id, code);
    }
    s->out.clear(pool);
    s->send_done = s->recv_done = true;
    s->close_code = code;
    s->close_by = by;
    encoder.forget_stream(s->id);
    maybe_close(s);
}

void Connection::Impl::reset_for_peer(Stream* s, ErrorCode code, std::string_view reason, InvalidHeader invalid) {
    if (s->seen) {
        StreamReset r;
        r.stream = s->id;
        r.code = code;
        r.by = Initiator::local;
        r.reason = reason;
        r.invalid_header = invalid;
        r.user_data = s->user;
        emit(r);
    }
    abort(s, code, Initiator::local, true);
}

// -- Connection end ---------------------------------------------------------

void Connection::Impl::terminate(ErrorCode code, Initiator by, std::string_view reason) {
    if (closed) return;
    closed = true;
    // Every stream still held ends with the connection.
    std::pmr::vector<Stream*> all(mr);
    all.reserve(streams.size());
    for (auto& [id, s] : streams) all.push_back(s);
    std::sort(all.begin(), all.end(), [](const Stream* a, const Stream* b) { return a->id < b->id; });
    for (Stream* s : all) {
        if (s->kind == Kind::request && s->seen)
            emit(StreamClosed{s->id, code == ErrorCode::h3_no_error ? ErrorCode::h3_request_cancelled : code, by,
                              s->user});
        if (s->blocked) {
            decoder.cancel(s->section);
            decoder_dirty = true;
        }
        s->kind = Kind::peer_new;  // no more bookkeeping for it
        streams.erase(s->id);
        destroy(s);
        last = nullptr;
    }
    ready.clear();
    ready_next = 0;
    peer_control = peer_encoder = peer_decoder = nullptr;
    request_streams = pending_uni = 0;
    held_total = 0;
    emit(ConnectionTerminated{code, by, reason});
}

// ---------------------------------------------------------------------------

Connection::Connection(const ConnectionConfig& config) : impl_(nullptr) {
    std::pmr::polymorphic_allocator<Impl> alloc(config.memory);
    impl_ = alloc.new_object<Impl>(config);
}

Connection::~Connection() {
    if (impl_ == nullptr) return;
    std::pmr::polymorphic_allocator<Impl> alloc(impl_->config.memory);
    alloc.delete_object(impl_);
}

Connection::Connection(Connection&& o) noexcept : impl_(std::exchange(o.impl_, nullptr)) {}

Connection& Connection::operator=(Connection&& o) noexcept {
    if (this != &o) {
        this->~Connection();
        impl_ = std::exchange(o.impl_, nullptr);
    }
    return *this;
}

ApiError Connection::bind_local_streams(std::uint64_t control, std::uint64_t qpack_encoder,
                                        std::uint64_t qpack_decoder) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    if (c.bound) return ApiError::too_late;
    const bool ours_client = c.config.role == Role::client;
    for (const std::uint64_t id : {control, qpack_encoder, qpack_decoder})
        if (id > max_varint || is_bidi(id) || client_initiated(id) != ours_client) return ApiError::invalid_stream;
    if (control == qpack_encoder || control == qpack_decoder || qpack_encoder == qpack_decoder)
        return ApiError::invalid_stream;
    c.control.id = control;
    c.enc_stream.id = qpack_encoder;
    c.dec_stream.id = qpack_decoder;
    c.bound = true;
    return ApiError::none;
}

ApiError Connection::open_grease_stream(std::uint64_t stream) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    if (!c.bound) return ApiError::invalid_stream;
    if (c.grease_bound) return ApiError::too_late;
    if (stream > max_varint || is_bidi(stream) || client_initiated(stream) != (c.config.role == Role::client) ||
        c.local(stream) != nullptr)
        return ApiError::invalid_stream;
    // RFC 9114 §6.2.3: a reserved type, a few octets, FIN; the peer must
    // ignore it.
    c.grease_stream.id = stream;
    c.grease_bound = true;
    std::array<std::uint8_t, 8> prefix{};
    const WriteResult r = write_stream_header(prefix, grease_value(stream % 1024));
    c.put(c.grease_stream, std::span(prefix.data(), r.size));
    static constexpr std::uint8_t payload[] = {'g', 'r', 'e', 'a', 's', 'e'};
    c.put(c.grease_stream, payload);
    c.grease_stream.fin_queued = true;
    return ApiError::none;
}

ApiError Connection::reset_stream(std::uint64_t stream, ErrorCode code) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    Impl::Stream* s = c.find(stream);
    if (s == nullptr || s->kind != Kind::request) return ApiError::invalid_stream;
    c.abort(s, code, Initiator::local, true);
    c.flush_decoder();
    return ApiError::none;
}

ApiError Connection::shutdown() {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    if (c.shutting_down) return ApiError::none;
    c.shutting_down = true;
    // RFC 9114 §5.2: a server names the first request it will not process;
    // a client, which allows no push, names push id 0.
    std::uint64_t id = 0;
    if (c.server()) {
        id = c.peer_bidi_next;  // one past the highest request stream that arrived
        c.goaway_sent = id;
    }
    std::array<std::uint8_t, 16> buf{};
    const WriteResult r = write(buf, Goaway{id});
    c.put(c.control, std::span(buf.data(), r.size));
    c.maybe_finish_shutdown();
    return ApiError::none;
}

ApiError Connection::close(ErrorCode code) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    c.terminate(code, Initiator::local, "closed by the application");
    return ApiError::none;
}

ApiError Connection::set_stream_user_data(std::uint64_t stream, void* user_data) noexcept {
    Impl::Stream* s = impl_->find(stream);
    if (s == nullptr || s->kind != Kind::request) return ApiError::invalid_stream;
    s->user = user_data;
    return ApiError::none;
}

void* Connection::stream_user_data(std::uint64_t stream) const noexcept {
    const Impl::Stream* s = impl_->find(stream);
    return s == nullptr ? nullptr : s->user;
}

Role Connection::role() const noexcept { return impl_->config.role; }
bool Connection::is_closed() const noexcept { return impl_->closed; }
bool Connection::peer_settings_received() const noexcept { return impl_->settings_in; }
const ConnectionSettings& Connection::peer_settings() const noexcept { return impl_->peer_settings; }
const ConnectionSettings& Connection::local_settings() const noexcept { return impl_->config.settings; }
std::size_t Connection::open_streams() const noexcept { return impl_->request_streams; }
std::size_t Connection::buffered(std::uint64_t stream) const noexcept {
    const Impl::Stream* s = impl_->find(stream);
    return s == nullptr ? 0 : s->out.pending();
}
std::size_t Connection::held_input() const noexcept { return impl_->held_total; }
std::size_t Connection::memory_used() const noexcept { return impl_->account.live(); }
InvalidHeader Connection::last_invalid_header() const noexcept { return impl_->last_invalid; }

}  // namespace h2wire::h3
