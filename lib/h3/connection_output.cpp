// What the HTTP/3 connection writes: SETTINGS and the stream types of our
// unidirectional streams, QPACK encoder and decoder instructions, HEADERS
// and DATA frames from submit_* / send_*; then handing it out stream by
// stream (next_output(), our unidirectional streams first, request streams
// in turn) and releasing it (consume_output(), acknowledged()), and the
// RESET_STREAM / STOP_SENDING commands for the QUIC stack.
#include <algorithm>
#include <array>
#include <cstring>

#include "h3/connection_impl.hpp"

namespace h2wire::h3 {

// -- Our unidirectional streams ---------------------------------------------

void Connection::Impl::flush_decoder_now() {
    decoder_dirty = false;
    const auto out = decoder.decoder_stream_output();
    if (out.empty()) return;
    put(dec_stream, out);
    decoder.consume_decoder_stream_output(out.size());
}

void Connection::Impl::queue_settings() {
    std::array<std::uint8_t, 8> prefix{};
    const auto stream_prefix = [&](Stream& s, StreamType t) {
        const WriteResult r = write_stream_header(prefix, static_cast<std::uint64_t>(t));
        put(s, std::span(prefix.data(), r.size));
    };
    stream_prefix(control, StreamType::control);
    stream_prefix(enc_stream, StreamType::qpack_encoder);
    stream_prefix(dec_stream, StreamType::qpack_decoder);
    // RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220 §3.
    std::array<Setting, 4> entries{};
    std::size_t n = 0;
    const ConnectionSettings& ours = config.settings;
    entries[n++] = {static_cast<std::uint64_t>(SettingId::max_field_section_size), ours.max_field_section_size};
    if (ours.qpack_max_table_capacity != 0)
        entries[n++] = {static_cast<std::uint64_t>(SettingId::qpack_max_table_capacity),
                        ours.qpack_max_table_capacity};
    if (ours.qpack_blocked_streams != 0)
        entries[n++] = {static_cast<std::uint64_t>(SettingId::qpack_blocked_streams), ours.qpack_blocked_streams};
    if (ours.enable_connect_protocol)
        entries[n++] = {static_cast<std::uint64_t>(SettingId::enable_connect_protocol), 1};
    h3::Settings frame{std::span<const Setting>(entries.data(), n), std::nullopt};
    // Grease (RFC 9114 §7.2.4.1, §7.2.8): a reserved setting, then a
    // reserved frame type with a short payload.
    if (config.grease) frame.grease = Setting{grease_value(reinterpret_cast<std::uintptr_t>(this) % 1000), 0};
    std::array<std::uint8_t, 128> buf{};
    WriteResult r = write(buf, frame);
    put(control, std::span(buf.data(), r.size));
    if (config.grease) {
        static constexpr std::uint8_t payload[] = {'h', '2', 'w'};
        r = write(buf, Unknown{grease_value(reinterpret_cast<std::uintptr_t>(this) % 997 + 1), payload});
        put(control, std::span(buf.data(), r.size));
    }
}

// -- Request streams --------------------------------------------------------

void Connection::Impl::queue_headers(Stream* s, std::span<const Field> fields) {
    const std::size_t room = 1 + 8 + qpack::Encoder::max_encoded_size(fields);  // type, the longest length, the section
    std::uint8_t* p = s->out.append(room, pool);
    const std::size_t n = encoder.encode(s->id, fields, p + 9);
    // The frame header goes right before the section; the octets in
    // front of it are dropped by moving the section down (a few octets).
    const std::size_t hsize = 1 + varint_size(n);
    p[0] = static_cast<std::uint8_t>(FrameType::headers);
    write_varint(std::span(p + 1, 8), n);
    std::memmove(p + hsize, p + 9, n);
    s->out.unappend(room - hsize - n);
    flush_encoder();
    mark_ready(s);
}

ApiError Connection::Impl::send_body(std::uint64_t stream, std::span<const std::uint8_t> data, bool end_stream,
                                     bool lend) {
    if (closed) return ApiError::connection_closed;
    Stream* s = find(stream);
    if (const ApiError e = data_checks(s); e != ApiError::none) return e;
    if (!lend && s->out.pending() + data.size() > config.limits.max_buffered_per_stream)
        return ApiError::buffer_full;
    if (!data.empty()) {
        const std::size_t h = data_header_size(data.size());
        if (lend) {  // the frame header in our block, the payload as lent
            write_data_header(std::span(s->out.append(h, pool), h), data.size());
            s->out.lend(data.data(), data.size());
        } else {  // header and copy in one piece
            std::uint8_t* p = s->out.append(h + data.size(), pool);
            write_data_header(std::span(p, h), data.size());
            std::memcpy(p + h, data.data(), data.size());
        }
        mark_ready(s);
    }
    if (end_stream) queue_fin(s);
    return ApiError::none;
}

// -- Submissions ------------------------------------------------------------

SubmittedRequest Connection::submit_request(std::uint64_t stream, std::span<const Field> headers, bool end_stream,
                                            void* user_data) {
    Impl& c = *impl_;
    if (c.server()) return {ApiError::wrong_role};
    if (c.closed || c.shutting_down) return {ApiError::connection_closed};
    if (stream > max_varint || !is_bidi(stream) || !client_initiated(stream) || stream < c.next_local_bidi)
        return {ApiError::invalid_stream};
    if (stream >= c.goaway_received) return {ApiError::connection_closed};  // RFC 9114 §5.2
    detail::RequestInfo info;
    if (c.config.validate_messages) {
        detail::RequestRules rules;
        rules.connect_protocol = true;
        if (const HeaderError e = detail::check_request(headers, rules, info); e != HeaderError::none)
            return {c.refuse_header(headers, detail::MessageKind::request, e)};
        if (!info.protocol.empty() && !c.peer_settings.enable_connect_protocol)
            return {ApiError::connect_protocol_disabled};  // RFC 9220 §3
    } else {
        detail::extract_request(headers, info);
    }
    c.next_local_bidi = stream + 4;
    Impl::Stream* s = c.make(stream, Kind::request);
    c.start_reader(s, StreamKind::request);
    s->user = user_data;
    s->seen = true;
    s->head = info.is_head;
    s->tunnel = info.is_connect;
    c.queue_headers(s, headers);
    if (end_stream) c.queue_fin(s);
    return {};
}

ApiError Connection::submit_response(std::uint64_t stream, std::span<const Field> headers, bool end_stream) {
    Impl& c = *impl_;
    if (!c.server()) return ApiError::wrong_role;
    if (c.closed) return ApiError::connection_closed;
    Impl::Stream* s = c.find(stream);
    if (s == nullptr || s->kind != Kind::request || !s->seen) return ApiError::invalid_stream;
    if (s->send_done || s->fin_queued || s->final_out) return ApiError::stream_closed;
    detail::ResponseInfo info;
    if (c.config.validate_messages) {
        if (const HeaderError e = detail::check_response(headers, info); e != HeaderError::none)
            return c.refuse_header(headers, detail::MessageKind::response, e);
        if (info.status == 101) {  // RFC 9114 §4.5: no Upgrade in HTTP/3
            c.last_invalid = {HeaderError::invalid_status, 0};
            return ApiError::invalid_header;
        }
    } else {
        detail::extract_response(headers, info);
    }
    const bool interim = info.status >= 100 && info.status < 200;
    if (interim && end_stream) return ApiError::invalid_argument;
    c.queue_headers(s, headers);
    if (!interim) s->final_out = true;
    if (end_stream) c.queue_fin(s);
    return ApiError::none;
}

ApiError Connection::send_data(std::uint64_t stream, std::span<const std::uint8_t> data, bool end_stream) {
    return impl_->send_body(stream, data, end_stream, false);
}

ApiError Connection::send_data_borrowed(std::uint64_t stream, std::span<const std::uint8_t> data, bool end_stream) {
    return impl_->send_body(stream, data, end_stream, true);
}

ApiError Connection::send_trailers(std::uint64_t stream, std::span<const Field> trailers) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    Impl::Stream* s = c.find(stream);
    if (const ApiError e = c.data_checks(s); e != ApiError::none) return e;
    if (c.config.validate_messages)
        if (const HeaderError e = detail::check_trailers(trailers); e != HeaderError::none)
            return c.refuse_header(trailers, detail::MessageKind::trailers, e);
    c.queue_headers(s, trailers);
    c.queue_fin(s);
    return ApiError::none;
}

// -- Handing output out -----------------------------------------------------

std::optional<StreamOutput> Connection::next_output() {
    Impl& c = *impl_;
    if (!c.bound) return std::nullopt;
    const auto wants = [](const Impl::Stream& s) {
        return !s.flow_blocked && (s.out.pending() != 0 || (s.fin_queued && !s.send_done));
    };
    const auto offer = [&](Impl::Stream& s) -> std::optional<StreamOutput> {
        std::size_t total = 0;
        const std::size_t k = s.out.chunks(c.chunk_out.data(), c.chunk_out.size(), total);
        const bool fin = s.fin_queued && !s.send_done && total == s.out.pending();
        if (k == 0 && !fin) return std::nullopt;
        return StreamOutput{s.id, std::span<const OutputChunk>(c.chunk_out.data(), k), total, fin};
    };
    // Our unidirectional streams first: QPACK inserts before the sections
    // that need them, SETTINGS before anything.
    for (Impl::Stream* s : {&c.control, &c.enc_stream, &c.dec_stream})
        if (wants(*s))
            if (auto o = offer(*s)) return o;
    if (c.grease_bound && wants(c.grease_stream))
        if (auto o = offer(c.grease_stream)) return o;
    // Request streams in turn (round robin from where the last one left).
    const std::size_t n = c.ready.size();
    std::size_t at = c.ready_next < n ? c.ready_next : 0;
    for (std::size_t i = 0; i < n; ++i) {
        Impl::Stream* s = c.ready[at];
        if (wants(*s))
            if (auto o = offer(*s)) {
                c.ready_next = at;
                return o;
            }
        if (++at == n) at = 0;
    }
    return std::nullopt;
}

ApiError Connection::consume_output(std::uint64_t stream, std::size_t n) {
    Impl& c = *impl_;
    Impl::Stream* s = c.local(stream);
    if (s == nullptr) s = c.find(stream);
    if (s == nullptr) return n == 0 ? ApiError::none : ApiError::invalid_stream;
    if (n > s->out.pending()) return ApiError::invalid_argument;
    const bool all = n == s->out.pending();
    s->out.written(n, c.config.retain_until_acked, c.pool);
    if (all && s->fin_queued && !s->send_done) s->send_done = true;
    if (s->kind != Kind::request) return ApiError::none;
    if (s->out.pending() == 0 && s->ready && (s->send_done || !s->fin_queued)) {
        // Leaves the turn; comes back with its next output.
        auto it = std::find(c.ready.begin(), c.ready.end(), s);
        const auto at = static_cast<std::size_t>(it - c.ready.begin());
        c.ready.erase(it);
        if (c.ready_next > at) --c.ready_next;
        if (c.ready_next >= c.ready.size()) c.ready_next = 0;
        s->ready = false;
    } else if (s->ready) {
        if (++c.ready_next >= c.ready.size()) c.ready_next = 0;
    }
    c.maybe_close(s);
    return ApiError::none;
}

void Connection::acknowledged(std::uint64_t stream, std::size_t n) {
    Impl& c = *impl_;
    if (!c.config.retain_until_acked) return;
    Impl::Stream* s = c.local(stream);
    if (s == nullptr) s = c.find(stream);
    if (s == nullptr) return;
    s->out.release(n, c.pool);
    c.maybe_close(s);
}

void Connection::block_stream(std::uint64_t stream) noexcept {
    Impl& c = *impl_;
    if (Impl::Stream* s = c.local(stream)) s->flow_blocked = true;
    if (Impl::Stream* s = c.find(stream)) s->flow_blocked = true;
}

void Connection::unblock_stream(std::uint64_t stream) noexcept {
    Impl& c = *impl_;
    if (Impl::Stream* s = c.local(stream)) s->flow_blocked = false;
    if (Impl::Stream* s = c.find(stream)) s->flow_blocked = false;
}

std::optional<StreamCommand> Connection::next_command() {
    Impl& c = *impl_;
    if (c.commands_next == c.commands.size()) {
        c.commands.clear();
        c.commands_next = 0;
        return std::nullopt;
    }
    return c.commands[c.commands_next++];
}

bool Connection::wants_write() const noexcept {
    Impl& c = *impl_;
    if (c.commands_next < c.commands.size()) return true;
    if (!c.bound) return false;
    for (const Impl::Stream* s : c.locals())
        if (s->out.pending() != 0 || (s->fin_queued && !s->send_done)) return true;
    for (const Impl::Stream* s : c.ready)
        if (s->out.pending() != 0 || (s->fin_queued && !s->send_done)) return true;
    return false;
}

}  // namespace h2wire::h3
