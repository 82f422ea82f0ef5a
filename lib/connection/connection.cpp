// Connection: construction, the public API (forwarding to Impl), settings
// exchange (RFC 9113 §6.5), PING (§6.7), GOAWAY and graceful shutdown (§6.8).
#include "h2wire/connection.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

#include "connection/connection_impl.hpp"
#include "connection/flow_control.hpp"

namespace h2wire {

using detail::Stream;
using detail::StreamState;

std::string_view to_string(ApiError e) noexcept {
    switch (e) {
    case ApiError::none: return "no error";
    case ApiError::wrong_role: return "not allowed in this role";
    case ApiError::connection_closed: return "connection closed";
    case ApiError::invalid_stream: return "no such stream, or not in a state that allows this";
    case ApiError::stream_closed: return "our side of the stream already ended";
    case ApiError::invalid_header: return "invalid header field";
    case ApiError::push_disabled: return "the peer disabled server push";
    case ApiError::connect_protocol_disabled: return "the peer did not enable extended CONNECT";
    case ApiError::too_many_queued: return "too many queued";
    case ApiError::buffer_full: return "stream send buffer full";
    case ApiError::invalid_argument: return "invalid argument";
    case ApiError::too_late: return "too late: traffic has started";
    case ApiError::unsupported_by_peer: return "the peer does not take it";
    }
    return "unknown API error";
}

// --- Impl: construction ----------------------------------------------------------

namespace {
// Send blocks the limits let be in use at once: every stream (ours or the
// peer's, whichever bound is larger) holding its max_buffered_per_stream.
std::uint32_t pool_keep(const Limits& l) {
    const std::uint64_t per_stream = (std::uint64_t{l.max_buffered_per_stream} + detail::Block::capacity - 1) /
                                     detail::Block::capacity + 1;
    const std::uint64_t streams = std::max<std::uint64_t>(l.max_concurrent_streams, 100);
    // No more spare blocks than the memory budget lets send data use.
    const std::uint64_t budget = l.max_connection_memory / 4 * 3 / detail::Block::footprint(detail::Block::capacity);
    return static_cast<std::uint32_t>(std::min<std::uint64_t>({per_stream * streams, budget, UINT32_MAX}));
}

hpack::DecoderLimits decoder_limits(const Limits& l) {
    hpack::DecoderLimits d;
    // RFC 9113 §6.5.2: SETTINGS_HEADER_TABLE_SIZE starts at 4096 and ours
    // applies once acknowledged.
    d.max_table_size = 4096;
    d.max_header_list_size = l.max_header_list_size;
    d.max_field_size = l.max_field_size;
    return d;
}
}  // namespace

Connection::Impl::Impl(const Config& config)
    : cfg(config),
      account(config.memory ? config.memory : std::pmr::get_default_resource(),
              std::max(config.limits.max_connection_memory, min_connection_memory)),
      mr(&account),
      reader(frame::ReaderOptions{frame::default_max_frame_size,
                                  config.role == Role::server ? frame::PeerRole::client : frame::PeerRole::server,
                                  true},
             mr),
      decoder(decoder_limits(config.limits), mr),
      encoder(hpack::EncoderOptions{config.encoder_table_size, true}, mr),
      buffers(mr),
      streams(mr),
      ledger(mr, std::min<std::uint32_t>(config.limits.max_reset_streams, 1u << 20)),
      next_local_id(config.role == Role::client ? 1 : 2),
      arena(mr),
      events(mr),
      deferred(mr),
      taken(mr),
      block_fields(mr),
      pool(mr, pool_keep(config.limits)),
      out(mr),
      copy_budget_(copy_budget_for(account.limit())),
      ctrl(mr),
      scratch(mr),
      send_fields(mr),
      header_fifo(mr),
      open_fifo(mr),
      wu_fifo(mr),
      ready(mr),
      idle_priorities(mr),
      space_waiters(mr) {
    cfg.memory = account.upstream();
    account.add_external(sizeof(Impl));
    // What the members hold goes back with them; the blocks of the small
    // queues are given back by hand (see ~Impl).
    try {
        out.pool = &pool;
        pool.on_lend_released(&Impl::lend_hook, this);
        // RFC 9113 §3.4: the client's preface is the magic string then SETTINGS;
        // the server's is SETTINGS. Both go out first.
        if (is_client()) {
            // memcpy, not std::copy from char to uint8_t: in the clang fuzz
            // build that copy, instantiated in another translation unit too,
            // wrote nothing here (not understood; memcpy is plain).
            std::memcpy(ctrl_room(frame::client_preface.size()), frame::client_preface.data(),
                        frame::client_preface.size());
            preface_in_ctrl = true;  // not a frame: the output's count skips it
        }
        queue_settings(initial_local_settings(), nullptr);
        // RFC 9113 §6.9.2: the connection window starts at 65,535 and only a
        // WINDOW_UPDATE on stream 0 raises it.
        conn_recv_target = std::max<std::uint64_t>(cfg.connection_window_size, 65535);
        if (conn_recv_target > 65535) {
            conn_recv_target = std::min<std::uint64_t>(conn_recv_target, max_window_size);
            std::uint8_t* p = ctrl_room(frame::header_size + 4);
            frame::write(std::span<std::uint8_t>(p, frame::header_size + 4),
                         frame::WindowUpdate{0, static_cast<std::uint32_t>(conn_recv_target - 65535)});
            conn_recv_window = static_cast<std::int64_t>(conn_recv_target);
        }
        if (cfg.trace) set_trace(cfg.trace);
    } catch (...) {
        pending_settings.release(mr);
        drop_trace_state();
        throw;
    }
}

Connection::Impl::~Impl() {
    // Body sources are not called from here on (lends come back silently).
    dying = true;
    drop_trace_state();
    // Output chunks and streams hold block references: give them back before
    // the pool goes.
    out.consume(out.pending, [](Stream*, std::size_t) {});
    std::pmr::vector<Stream*> all(mr);
    streams.for_each([&](Stream* s) { all.push_back(s); });
    for (Stream* s : all) {
        for (detail::SendSeg* seg = s->seg_head; seg; seg = seg->next)
            if (seg->block) pool.release(seg->block);
        if (s->body()) end_body(s, false);
        if (s->open_block) pool.release(s->open_block);
        s->hdr.clear();
        s->hdr.recycle(buffers);
        s->~Stream();
        mr->deallocate(s, sizeof(Stream), alignof(Stream));
    }
    while (free_streams) {
        Stream* s = free_streams;
        free_streams = s->ready_next;
        s->~Stream();
        mr->deallocate(s, sizeof(Stream), alignof(Stream));
    }
    free_body_pools();
    pending_settings.release(mr);
    pings.release(mr);
}

Settings Connection::Impl::initial_local_settings() const noexcept {
    Settings s = cfg.settings;
    s.max_concurrent_streams = cfg.limits.max_concurrent_streams;
    s.max_header_list_size = cfg.limits.max_header_list_size;
    // RFC 9113 §6.5.2: a server MUST NOT send SETTINGS_ENABLE_PUSH=1.
    if (!is_client()) s.enable_push = false;
    return s;
}

std::uint32_t Connection::Impl::local_max_concurrent() const noexcept {
    return std::min(local_sent.max_concurrent_streams, cfg.limits.max_concurrent_streams);
}

// --- settings ------------------------------------------------------------------------

void Connection::Impl::queue_settings(const Settings& target, const Settings* previous) {
    // The entries that differ from what the peer assumes: the RFC's initial
    // values for our first SETTINGS, the last values sent afterwards.
    const Settings base = previous ? *previous : Settings{};
    std::array<Setting, 8> list{};
    std::size_t n = 0;
    auto add = [&](SettingId id, std::uint32_t v, std::uint32_t old) {
        if (v != old) list[n++] = Setting{id, v};
    };
    add(SettingId::header_table_size, target.header_table_size, base.header_table_size);
    if (is_client()) {
        // Always said by a client (the default is 1).
        if (!previous || target.enable_push != base.enable_push)
            list[n++] = Setting{SettingId::enable_push, target.enable_push ? 1u : 0u};
    }
    add(SettingId::max_concurrent_streams, target.max_concurrent_streams, base.max_concurrent_streams);
    add(SettingId::initial_window_size, target.initial_window_size, base.initial_window_size);
    add(SettingId::max_frame_size, target.max_frame_size, base.max_frame_size);
    add(SettingId::max_header_list_size, target.max_header_list_size, base.max_header_list_size);
    add(SettingId::enable_connect_protocol, target.enable_connect_protocol ? 1 : 0,
        base.enable_connect_protocol ? 1 : 0);
    add(SettingId::no_rfc7540_priorities, target.no_rfc7540_priorities ? 1 : 0,
        base.no_rfc7540_priorities ? 1 : 0);
    const frame::Settings f{false, std::span<const Setting>(list.data(), n)};
    const std::size_t size = frame::encoded_size(f);
    std::uint8_t* p = ctrl_room(size);
    frame::write(std::span<std::uint8_t>(p, size), f);
    pending_settings.push_back(mr, target);
    local_sent = target;
}

void Connection::Impl::on_settings_ack() {
    // RFC 9113 §6.5.3: our values apply to the peer's frames from now on.
    if (pending_settings.empty()) return;  // unsolicited ACK: nothing to apply
    const Settings old = local;
    local = pending_settings[0];
    pending_settings.erase(0);
    pending_settings.release_if_empty(mr);
    reader.set_max_frame_size(local.max_frame_size);
    decoder.set_max_table_size(local.header_table_size);
    decoder.set_max_header_list_size(std::min(local.max_header_list_size, cfg.limits.max_header_list_size));
    if (old.initial_window_size != local.initial_window_size)
        apply_local_initial_window(old.initial_window_size, local.initial_window_size);
    report(SettingsAcknowledged{local});
}

// --- control frames ----------------------------------------------------------------------

void Connection::Impl::queue_rst(std::uint32_t id, ErrorCode code) {
    ++counters.streams_reset.local;
    if (code == ErrorCode::refused_stream) ++counters.streams_refused.local;
    std::uint8_t* p = ctrl_room(frame::header_size + 4);
    frame::write(std::span<std::uint8_t>(p, frame::header_size + 4), frame::RstStream{id, code});
    ++ctrl_frames;
}

void Connection::Impl::queue_ping(bool ack, const std::array<std::uint8_t, 8>& data) {
    std::uint8_t* p = ctrl_room(frame::header_size + 8);
    frame::write(std::span<std::uint8_t>(p, frame::header_size + 8), frame::Ping{ack, data});
    ++ctrl_frames;
}

void Connection::Impl::queue_goaway(std::uint32_t last, ErrorCode code, std::span<const std::uint8_t> debug) {
    // Debug data is for diagnostics; keep it within one default-size frame.
    debug = debug.first(std::min<std::size_t>(debug.size(), 1024));
    const frame::Goaway f{last, code, debug};
    const std::size_t size = frame::encoded_size(f);
    std::uint8_t* p = ctrl_room(size);
    frame::write(std::span<std::uint8_t>(p, size), f);
    ++ctrl_frames;
    goaway_sent = true;
    goaway_last_sent = std::min(goaway_last_sent, last);
}

// --- Limits::max_connection_memory: the two buffers a flood grows -----------------

std::uint8_t* Connection::Impl::ctrl_room(std::size_t n) {
    // Room for queue_goaway's largest frame stays behind what is queued, so
    // that the GOAWAY after a tripped budget needs no new buffer. Not while
    // the queue is small: a buffer grown then is small too (and an idle
    // connection holds a 256-octet queue, not 1 KiB of room).
    constexpr std::size_t goaway_room = frame::header_size + 8 + 1024;
    constexpr std::size_t small_queue = 1024;
    const std::size_t used = ctrl.size() + n;
    const std::size_t need = used <= small_queue ? used : used + goaway_room;
    if (need > ctrl.capacity()) [[unlikely]] {
        // A drained output buffer takes the frame rather than a second
        // buffer: build() hands it back to the output, and a connection
        // that only answers the odd SETTINGS or PING holds one buffer.
        if (ctrl.empty() && out.pending == 0 && out.buf.empty() && out.buf.capacity() >= need) {
            ctrl.swap(out.buf);
            return ctrl.grow(n);
        }
        const std::size_t want = std::max<std::size_t>({need, ctrl.capacity() * 2, 256});
        if (memory_tripped || !account.fits(want)) {  // the old buffer lives until the copy is done
            memory_tripped = true;
            ctrl.reserve_exact(need);
        } else {
            ctrl.reserve_exact(want);
        }
    }
    return ctrl.grow(n);
}

bool Connection::Impl::grow_events() {
    // Three at first: room for the events of a handshake's receive()
    // (SettingsReceived, SettingsAcknowledged) and the slot report() keeps
    // behind them, which is what an idle connection holds. Then powers of
    // two, as a burst's lists have always grown.
    const std::size_t want = events.capacity() == 0 ? 3 : std::bit_ceil(events.capacity() * 2);
    if (memory_tripped || !account.fits(want * sizeof(Event))) {  // old and new side by side while moving
        memory_tripped = true;
        // One slot for ConnectionTerminated.
        if (events.size() == events.capacity()) events.reserve(events.size() + 1);
        return false;
    }
    events.reserve(want);
    return true;
}

bool Connection::Impl::control_budget_ok() {
    // Limits::max_queued_control_frames: answers the peer makes us queue
    // (PING and SETTINGS ACKs, RST_STREAM) while earlier answers are still
    // unsent. Those queued in this receive() call are not counted: the
    // caller has had no chance to write them, and they take no more memory
    // than the input that asked for them. A peer that does not read its
    // answers leaves them unsent into the next call, and is stopped there.
    if (ctrl_stale <= cfg.limits.max_queued_control_frames) return true;
    trip(Limit::max_queued_control_frames);
    connection_error(ErrorCode::enhance_your_calm, "too many control frames unsent: the peer does not read");
    return false;
}

// --- errors and the end of the connection --------------------------------------------------

void Connection::Impl::terminate(ErrorCode code, Initiator by, std::uint32_t last_stream_id, std::string_view reason) {
    if (closed) return;
    closed = true;
    // Streams cut off did not finish: NO_ERROR (our goaway(), a graceful
    // end with pushes left) reads as CANCEL for them.
    finish_streams(code == ErrorCode::no_error ? ErrorCode::cancel : code, by);
    report(ConnectionTerminated{code, by, last_stream_id, reason, rejecting});
}

void Connection::Impl::finish_streams(ErrorCode code, Initiator by) {
    if (streams.size() == 0) return;
    // In id order, so the StreamClosed events do not depend on the map's
    // layout; by id, as releasing one stream may release another (a promise
    // it carried).
    std::pmr::vector<std::uint32_t> ids(mr);
    ids.reserve(streams.size());
    streams.for_each([&](const Stream* s) { ids.push_back(s->id); });
    std::sort(ids.begin(), ids.end());
    // One StreamClosed per stream, then ConnectionTerminated: room for all at
    // once, even past the memory budget (report()).
    if (in_receive && events.capacity() < events.size() + ids.size() + 2) events.reserve(events.size() + ids.size() + 2);
    for (const std::uint32_t id : ids) {
        Stream* s = find(id);
        if (!s) continue;
        // A stream already closed (its output not yet written) keeps how it
        // ended; drop_stream() copies what the output still needs of the
        // application's memory.
        if (s->state == StreamState::closed) drop_stream(s, s->close_code, s->close_by);
        else drop_stream(s, code, by);
    }
}

void Connection::Impl::connection_error(ErrorCode code, std::string_view reason) {
    // RFC 9113 §5.4.1: GOAWAY with the last stream we processed and the
    // error code, then close. Nothing else is accepted.
    if (closed) return;
    queue_goaway(last_peer_processed, code,
                 std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(reason.data()), reason.size()));
    terminate(code, Initiator::local, last_peer_processed, reason);
}

void Connection::Impl::maybe_finish_shutdown() {
    if (closed) return;
    // Our graceful shutdown: the final GOAWAY is out; done when no stream is
    // left in flight. (A GOAWAY received with NO_ERROR only stops new
    // streams; the application closes when it sees fit.)
    if (shutdown_phase != Shutdown::final) return;
    if (active_local + active_peer + reserved_local > 0 || queued_requests > 0) return;
    terminate(ErrorCode::no_error, Initiator::local, last_peer_processed, "graceful shutdown complete");
}

// --- public API ------------------------------------------------------------------------------

Connection::Connection(const Config& config) {
    std::pmr::polymorphic_allocator<Impl> a(config.memory ? config.memory : std::pmr::get_default_resource());
    impl_ = a.new_object<Impl>(config);
}

Connection::~Connection() {
    if (!impl_) return;
    std::pmr::polymorphic_allocator<Impl> a(impl_->account.upstream());
    a.delete_object(impl_);
}

Connection::Connection(Connection&& o) noexcept : impl_(std::exchange(o.impl_, nullptr)) {}

Connection& Connection::operator=(Connection&& o) noexcept {
    if (this != &o) {
        this->~Connection();
        impl_ = std::exchange(o.impl_, nullptr);
    }
    return *this;
}

std::span<const Event> Connection::receive(std::span<const std::uint8_t> bytes) { return impl_->receive(bytes); }

std::span<const Event> Connection::take_events() {
    // The events go to storage of their own: the span of the last receive()
    // stays as it is, and the events are no longer the next receive()'s.
    Impl& c = *impl_;
    c.shed_events(c.taken, c.deferred_peak);
    c.deferred_peak.note(c.deferred.size());
    c.taken.swap(c.deferred);
    return c.taken;
}

std::span<const std::uint8_t> Connection::pending_output() {
    impl_->build(true);
    return impl_->out.contiguous([this](Stream* s, std::size_t n) { impl_->output_done(s, n); });
}

std::span<const OutputChunk> Connection::pending_output_vectors() {
    impl_->build(false);
    return impl_->out.vectors();
}

ApiError Connection::consume_output(std::size_t n) {
    // Pending is what pending_output*() returned, less what was consumed
    // (only those calls build output). More than that was never handed
    // out: a caller's bug, such as write()'s -1 converted to size_t, which
    // must not silently drop what the peer still needs.
    if (n > impl_->out.pending) [[unlikely]] return ApiError::invalid_argument;
    if (n == 0) return ApiError::none;
    impl_->io_started = true;  // h2c upgrade (upgrade.cpp): too late from now on
    // Send blocks that the written output held go back here; a send_data()
    // refused for want of memory may be waiting for them.
    const bool waiting = !impl_->space_waiters.empty();
    const std::size_t live = waiting ? impl_->account.live() : 0;
    const std::size_t spare = waiting ? impl_->pool.spare_octets() : 0;
    impl_->out.consume(n, [this](Stream* s, std::size_t k) {
        // Most DATA chunks leave more of their stream in flight: nothing
        // else to do (output_done() handles the last one).
        if (k < s->inflight) s->inflight -= k;
        else impl_->output_done(s, k);
    });
    if (waiting && (impl_->account.live() < live || impl_->pool.spare_octets() > spare)) [[unlikely]]
        impl_->wake_space_waiters();
    if (impl_->out.pending == 0 && impl_->streams.size() == 0 && !impl_->in_receive) impl_->end_round();
    return ApiError::none;
}

bool Connection::wants_write() const noexcept { return impl_->wants_write(); }

// The calls that take fields start with an empty last_invalid_header().
Submitted Connection::submit_request(std::span<const Field> headers, bool end_stream) {
    impl_->last_invalid = {};
    return impl_->submit_request(headers, end_stream, nullptr);
}

Submitted Connection::submit_request(std::span<const Field> headers, bool end_stream, void* user_data) {
    impl_->last_invalid = {};
    return impl_->submit_request(headers, end_stream, user_data);
}

ApiError Connection::submit_response(std::uint32_t stream, std::span<const Field> headers, bool end_stream) {
    impl_->last_invalid = {};
    return impl_->submit_response(stream, headers, end_stream);
}

ApiError Connection::send_data(std::uint32_t stream, std::span<const std::uint8_t> data, bool end_stream) {
    return impl_->queue_data(stream, data, end_stream, false);
}

ApiError Connection::send_data_borrowed(std::uint32_t stream, std::span<const std::uint8_t> data, bool end_stream) {
    return impl_->queue_data(stream, data, end_stream, true);
}

Submitted Connection::submit_request(std::span<const Field> headers, BodySource& body) {
    impl_->last_invalid = {};
    return impl_->submit_request(headers, body, nullptr);
}

Submitted Connection::submit_request(std::span<const Field> headers, BodySource& body, void* user_data) {
    impl_->last_invalid = {};
    return impl_->submit_request(headers, body, user_data);
}

ApiError Connection::submit_response(std::uint32_t stream, std::span<const Field> headers, BodySource& body) {
    impl_->last_invalid = {};
    return impl_->submit_response(stream, headers, body);
}

ApiError Connection::set_body_source(std::uint32_t stream, BodySource& body) {
    return impl_->set_body_source(stream, body);
}

ApiError Connection::resume_body(std::uint32_t stream) { return impl_->resume_body(stream); }

DataAccepted Connection::send_data_partial(std::uint32_t stream, std::span<const std::uint8_t> data,
                                           bool end_stream) {
    return impl_->send_data_partial(stream, data, end_stream);
}

ApiError Connection::send_trailers(std::uint32_t stream, std::span<const Field> trailers) {
    impl_->last_invalid = {};
    return impl_->send_trailers(stream, trailers);
}

ApiError Connection::reset_stream(std::uint32_t stream, ErrorCode code) { return impl_->reset_stream(stream, code); }

Submitted Connection::push_promise(std::uint32_t stream, std::span<const Field> headers) {
    impl_->last_invalid = {};
    return impl_->push_promise(stream, headers, nullptr);
}

Submitted Connection::push_promise(std::uint32_t stream, std::span<const Field> headers, void* user_data) {
    return impl_->push_promise(stream, headers, user_data);
}

ApiError Connection::set_stream_user_data(std::uint32_t stream, void* user_data) noexcept {
    Impl& c = *impl_;
    if (Stream* s = c.find(stream)) {
        // Only streams the application was told of: the others end unreported.
        if (!s->has(detail::stream_flag::announced)) return ApiError::invalid_stream;
        s->user_data = user_data;
        c.patch_user_data(stream, user_data, s->announced_at);
        return ApiError::none;
    }
    // Gone already, its StreamClosed among the events not yet handled (the
    // request and its reset in one read): that one carries it too.
    const auto ends_here = [&](const Event& e) {
        const auto* x = std::get_if<StreamClosed>(&e);
        return x && x->stream == stream;
    };
    if (stream == 0 || (std::none_of(c.events.begin(), c.events.end(), ends_here) &&
                        std::none_of(c.deferred.begin(), c.deferred.end(), ends_here)))
        return ApiError::invalid_stream;
    c.patch_user_data(stream, user_data, 0);
    return ApiError::none;
}

void Connection::Impl::patch_user_data(std::uint32_t id, void* user_data, std::size_t from) noexcept {
    const auto patch = [&](Event& e) {
        std::visit(
            [&](auto& x) {
                if constexpr (requires { x.stream; x.user_data; })
                    if (x.stream == id) x.user_data = user_data;
            },
            e);
    };
    for (std::size_t i = std::min(from, events.size()); i < events.size(); ++i) patch(events[i]);
    for (Event& e : deferred) patch(e);
}

void* Connection::stream_user_data(std::uint32_t stream) const noexcept { return impl_->user_data_of(stream); }

namespace {
// A request with priority `p`: its field added to `headers` for `submit`,
// the new stream scheduled by it.
template <class Submit>
Submitted submit_prioritized(Connection::Impl& c, std::span<const Field> headers, Priority p, Submit&& submit) {
    c.last_invalid = {};
    if (p.urgency > max_urgency) return {0, ApiError::invalid_argument};
    PriorityText text;
    const Submitted r = submit(c.with_priority(headers, p, text));
    if (r) c.set_priority(r.stream, p);
    return r;
}
}  // namespace

Submitted Connection::submit_request(std::span<const Field> headers, bool end_stream, Priority p, void* user_data) {
    return submit_prioritized(*impl_, headers, p, [&](std::span<const Field> h) {
        return impl_->submit_request(h, end_stream, user_data);
    });
}

Submitted Connection::submit_request(std::span<const Field> headers, BodySource& body, Priority p, void* user_data) {
    return submit_prioritized(*impl_, headers, p,
                              [&](std::span<const Field> h) { return impl_->submit_request(h, body, user_data); });
}

ApiError Connection::set_priority(std::uint32_t stream, Priority p) { return impl_->set_priority(stream, p); }

std::optional<Priority> Connection::priority(std::uint32_t stream) const noexcept {
    const detail::Stream* s = impl_->find(stream);
    if (!s) return std::nullopt;
    return s->priority();
}

ApiError Connection::reprioritize(std::uint32_t stream, Priority p) { return impl_->reprioritize(stream, p); }

ApiError Connection::consume(std::uint32_t stream, std::size_t n) { return impl_->consume(stream, n); }

std::size_t Connection::send_window(std::uint32_t stream) const noexcept {
    if (stream == 0) return static_cast<std::size_t>(detail::usable(impl_->conn_send_window));
    const Stream* s = impl_->find(stream);
    if (!s) return 0;
    return static_cast<std::size_t>(std::min(detail::usable(s->send_window), detail::usable(impl_->conn_send_window)));
}

std::size_t Connection::receive_window(std::uint32_t stream) const noexcept {
    if (stream == 0) return static_cast<std::size_t>(detail::usable(impl_->conn_recv_window));
    const Stream* s = impl_->find(stream);
    if (!s || s->state == StreamState::closed || s->state == StreamState::half_closed_remote) return 0;
    return static_cast<std::size_t>(detail::usable(s->recv_window));
}

std::size_t Connection::send_capacity(std::uint32_t stream) const noexcept {
    const Stream* s = impl_->find(stream);
    return s ? impl_->capacity_of(s) : 0;
}

std::size_t Connection::buffered(std::uint32_t stream) const noexcept {
    const Stream* s = impl_->find(stream);
    return s ? static_cast<std::size_t>(s->queued + s->inflight) : 0;
}

ApiError Connection::ping(std::span<const std::uint8_t, 8> data) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    // Limits::max_queued_control_frames bounds our own PINGs too.
    if (c.ctrl_frames >= c.cfg.limits.max_queued_control_frames) return ApiError::too_many_queued;
    std::array<std::uint8_t, 8> d{};
    std::copy(data.begin(), data.end(), d.begin());
    // The last max_pings payloads are remembered for PingAcknowledged; an
    // ACK of an older one is ignored.
    if (c.pings.full()) c.pings.erase(0);
    c.pings.push_back(c.mr, d);
    c.queue_ping(false, d);
    return ApiError::none;
}

ApiError Connection::shutdown() {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    if (c.shutdown_phase != Impl::Shutdown::none) return ApiError::none;
    if (c.is_client()) {
        // A client has no requests in flight towards it to wait for (pushes
        // aside): one GOAWAY with the last promised stream it accepted.
        c.queue_goaway(c.last_peer_processed, ErrorCode::no_error, {});
        c.shutdown_phase = Impl::Shutdown::final;
        c.maybe_finish_shutdown();
        return ApiError::none;
    }
    // RFC 9113 §6.8: "a server that is attempting to gracefully shut down a
    // connection SHOULD send an initial GOAWAY frame with the last stream
    // identifier set to 2^31-1 and a NO_ERROR code ... After allowing time for
    // any in-flight stream creation (at least one round-trip time), the
    // server MAY send another GOAWAY frame with an updated last stream
    // identifier." The round trip is measured with a PING.
    c.queue_goaway(frame::max_stream_id, ErrorCode::no_error, {});
    c.queue_ping(false, Impl::shutdown_ping);
    c.shutdown_phase = Impl::Shutdown::announced;
    return ApiError::none;
}

ApiError Connection::goaway(ErrorCode code, std::string_view debug) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    c.queue_goaway(c.last_peer_processed, code,
                   std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(debug.data()), debug.size()));
    c.terminate(code, Initiator::local, c.last_peer_processed, "GOAWAY sent");
    return ApiError::none;
}

ApiError Connection::update_settings(const Settings& settings) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    if (c.pending_settings.full()) return ApiError::too_many_queued;
    Settings target = settings;
    target.max_concurrent_streams = std::min(target.max_concurrent_streams, c.cfg.limits.max_concurrent_streams);
    target.max_header_list_size = std::min(target.max_header_list_size, c.cfg.limits.max_header_list_size);
    if (!c.is_client() && target.enable_push) return ApiError::invalid_argument;
    // RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL cannot go back to 0.
    if (c.local_sent.enable_connect_protocol && !target.enable_connect_protocol) return ApiError::invalid_argument;
    for (const Setting s : {Setting{SettingId::initial_window_size, target.initial_window_size},
                            Setting{SettingId::max_frame_size, target.max_frame_size}})
        if (check_setting(s) != ErrorCode::no_error) return ApiError::invalid_argument;
    const Settings previous = c.local_sent;
    c.queue_settings(target, &previous);
    return ApiError::none;
}

Role Connection::role() const noexcept { return impl_->cfg.role; }
bool Connection::settings_ack_pending() const noexcept {
    return !impl_->pending_settings.empty();
}
const Settings& Connection::local_settings() const noexcept { return impl_->local; }
const Settings& Connection::peer_settings() const noexcept { return impl_->peer; }
std::size_t Connection::open_streams() const noexcept { return impl_->active_local + impl_->active_peer; }
std::size_t Connection::queued_requests() const noexcept { return impl_->queued_requests; }

std::size_t Connection::request_capacity() const noexcept {
    // What submit_request() checks, in the same order.
    const Impl& c = *impl_;
    if (!c.is_client() || c.closed || c.goaway_received || c.shutdown_phase != Impl::Shutdown::none) return 0;
    if (c.next_local_id > frame::max_stream_id) return 0;
    const std::uint64_t slots = c.peer_max_concurrent() > c.active_local ? c.peer_max_concurrent() - c.active_local : 0;
    const std::uint64_t cap = slots + c.cfg.limits.max_queued_requests;
    const std::uint64_t room = cap > c.queued_requests ? cap - c.queued_requests : 0;
    const std::uint64_t ids = (frame::max_stream_id - c.next_local_id) / 2 + 1;
    return static_cast<std::size_t>(std::min(room, ids));
}

StreamState Connection::stream_state(std::uint32_t stream) const noexcept {
    const Impl& c = *impl_;
    if (const Stream* s = c.find(stream)) return s->state;
    if (stream == 0) return StreamState::idle;
    // Not held: closed once its id was used. Ours count from when the
    // application got them (a request withdrawn before it went out is over
    // for the application, though the peer never saw its id).
    const bool used = c.is_local_id(stream) ? stream < c.next_local_id : stream <= c.highest_peer_id;
    return used ? StreamState::closed : StreamState::idle;
}

InvalidHeader Connection::last_invalid_header() const noexcept { return impl_->last_invalid; }
bool Connection::is_closed() const noexcept { return impl_->closed; }
std::uint32_t Connection::last_peer_stream() const noexcept { return impl_->last_peer_processed; }
std::size_t Connection::memory_used() const noexcept { return impl_->account.live(); }

void Connection::set_trace(FrameTrace* trace) { impl_->set_trace(trace); }
FrameTrace* Connection::trace() const noexcept { return impl_->tracer; }

const ConnectionCounters& Connection::counters() const noexcept {
    Impl& c = *impl_;
    // Kept where it happens, by the ledger (stream_table.cpp).
    c.counters.limits_tripped[static_cast<std::size_t>(Limit::max_reset_streams)] = c.ledger.forgotten();
    return c.counters;
}
std::size_t Connection::memory_peak() const noexcept { return impl_->account.peak(); }

std::size_t Connection::memory_bound(const Config& config) noexcept {
    const Limits& l = config.limits;
    // The budget, and what one frame may allocate before it is checked: the
    // reader's buffer for the frame and its parsed form (an ORIGIN frame of
    // empty entries becomes 16 octets of views per 2 octets, plus copies),
    // a header block's fields (copies, the list being built and the array
    // reported), a field being reassembled, and an arena chunk. Saturating.
    const std::size_t frame = std::max<std::size_t>(config.settings.max_frame_size, frame::default_max_frame_size);
    const std::size_t slack = 10 * frame + 6 * std::size_t{l.max_header_list_size} + l.max_field_size + 64 * 1024;
    const std::size_t budget = std::max(l.max_connection_memory, min_connection_memory);
    return budget > SIZE_MAX - slack ? SIZE_MAX : budget + slack;
}

}  // namespace h2wire
