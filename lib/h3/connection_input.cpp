// The HTTP/3 connection's receive path: receive() and the calls that end
// a stream's input (stream_reset(), stop_sending(), transport_closed()).
// The peer's streams are taken up as they arrive (any order: QUIC orders
// bytes within a stream only); a unidirectional stream's type says what it
// is (RFC 9114 §6.2); the control stream carries SETTINGS and GOAWAY, the
// QPACK streams (RFC 9204 §4.2) the tables' instructions; a request stream
// carries frames through its h3::Reader, header sections through the QPACK
// decoder and the message checks, DATA as views of the input. A section
// that waits for inserts parks its stream, whose later input is held until
// the encoder stream brings them.
#include <algorithm>

#include "h3/connection_impl.hpp"

namespace h2wire::h3 {

// -- Peer streams -----------------------------------------------------------

ReaderOptions Connection::Impl::reader_options(StreamKind kind) const {
    ReaderOptions o;
    o.stream = kind;
    o.peer = server() ? PeerRole::client : PeerRole::server;
    o.max_frame_payload = config.limits.max_control_frame;
    o.max_settings = std::max<std::size_t>(config.limits.max_control_frame / 16, 8);
    // A section within SETTINGS_MAX_FIELD_SECTION_SIZE encodes in at
    // most 4 times it plus a prefix (qpack::DecoderLimits).
    o.max_field_section =
        std::min<std::uint64_t>(config.settings.max_field_section_size, max_buffer_limit / 4) * 4 + 20;
    o.check_message = true;
    return o;
}

Connection::Impl::Stream* Connection::Impl::open_peer_stream(std::uint64_t id) {
    const bool peer_side = server() ? client_initiated(id) : !client_initiated(id);
    if (!peer_side) return nullptr;  // one of ours that is gone, or was never opened: nothing to do
    if (is_bidi(id)) {
        if (!server()) {
            // RFC 9114 §6.1: no server-initiated bidirectional streams.
            fail(ErrorCode::h3_stream_creation_error, "server-initiated bidirectional stream");
            return nullptr;
        }
        if (peer_bidi.taken(id)) return nullptr;  // closed already
        if (!peer_bidi.take(id)) {
            fail(ErrorCode::h3_id_error, "request stream id far beyond the open ones");
            return nullptr;
        }
        if (id < goaway_sent) peer_bidi_next = std::max(peer_bidi_next, id + 4);
        if (id >= goaway_sent || request_streams >= config.limits.max_peer_requests) {
            // RFC 9114 §5.2, §4.1.1: not processed, safe to retry.
            command(CommandKind::reset_stream, id, ErrorCode::h3_request_rejected);
            command(CommandKind::stop_sending, id, ErrorCode::h3_request_rejected);
            return nullptr;
        }
        Stream* s = make(id, Kind::request);
        start_reader(s, StreamKind::request);
        return s;
    }
    if (peer_uni.taken(id)) return nullptr;
    if (!peer_uni.take(id)) {
        fail(ErrorCode::h3_id_error, "unidirectional stream id far beyond the open ones");
        return nullptr;
    }
    if (pending_uni >= config.limits.max_unknown_streams) {
        command(CommandKind::stop_sending, id, ErrorCode::h3_stream_creation_error);
        return nullptr;
    }
    Stream* s = make(id, Kind::peer_new);
    ++pending_uni;
    s->type_reader = StreamHeaderReader(server() ? PeerRole::client : PeerRole::server);
    return s;
}

void Connection::Impl::receive(std::uint64_t id, std::span<const std::uint8_t> bytes, bool fin) {
    Stream* s = find(id);
    if (s == nullptr) {
        s = open_peer_stream(id);
        if (s == nullptr || closed) return;
    }
    switch (s->kind) {
    case Kind::request:
        if (s->recv_done) return;
        if (s->blocked || s->held.size() > s->held_consumed) {
            hold(s, bytes, fin);
            return;
        }
        read_request(s, bytes, fin);
        return;
    case Kind::peer_new:
        read_uni_type(s, bytes, fin);
        return;
    case Kind::peer_control:
        read_control(s, bytes, fin);
        return;
    case Kind::peer_encoder:
        read_encoder(s, bytes, fin);
        return;
    case Kind::peer_decoder:
        read_decoder(s, bytes, fin);
        return;
    default:
        return;  // our own streams take no input
    }
}

void Connection::Impl::hold(Stream* s, std::span<const std::uint8_t> bytes, bool fin) {
    if (held_total + bytes.size() > config.limits.max_held_input) {
        fail(ErrorCode::h3_excessive_load, "too much input held for blocked field sections");
        return;
    }
    s->held.insert(s->held.end(), bytes.begin(), bytes.end());
    held_total += bytes.size();
    s->held_fin = s->held_fin || fin;
}

void Connection::Impl::read_uni_type(Stream* s, std::span<const std::uint8_t> bytes, bool fin) {
    const std::size_t used = s->type_reader.read(bytes);
    if (auto e = s->type_reader.error()) {
        fail(*e);
        return;
    }
    if (!s->type_reader.done()) {
        if (fin) forget(s);  // ended before its type: nothing to read (RFC 9114 §6.2)
        return;
    }
    bytes = bytes.subspan(used);
    const std::uint64_t type = s->type_reader.type();
    const auto duplicate = [&](Stream*& slot, Kind kind) {
        if (slot != nullptr) {  // RFC 9114 §6.2.1, RFC 9204 §4.2
            fail(ErrorCode::h3_stream_creation_error, "a second control or QPACK stream");
            return true;
        }
        slot = s;
        s->kind = kind;
        --pending_uni;  // a critical stream now
        return false;
    };
    switch (static_cast<StreamType>(type)) {
    case StreamType::control:
        if (duplicate(peer_control, Kind::peer_control)) return;
        start_reader(s, StreamKind::control);
        read_control(s, bytes, fin);
        return;
    case StreamType::qpack_encoder:
        if (duplicate(peer_encoder, Kind::peer_encoder)) return;
        read_encoder(s, bytes, fin);
        return;
    case StreamType::qpack_decoder:
        if (duplicate(peer_decoder, Kind::peer_decoder)) return;
        read_decoder(s, bytes, fin);
        return;
    case StreamType::push:
        // We never send MAX_PUSH_ID, so no push ID is allowed (RFC 9114
        // §4.6); a client's push stream was refused by the type reader.
        fail(ErrorCode::h3_id_error, "push stream without MAX_PUSH_ID");
        return;
    default:
        // Unknown or reserved type (RFC 9114 §6.2, §6.2.3): stop it and
        // forget it; its later octets find no stream and are dropped.
        if (!fin) command(CommandKind::stop_sending, s->id, ErrorCode::h3_stream_creation_error);
        forget(s);
        return;
    }
}

void Connection::Impl::critical_closed() {
    fail(ErrorCode::h3_closed_critical_stream, "a control or QPACK stream was closed");
}

// -- Control and QPACK streams ----------------------------------------------

void Connection::Impl::read_control(Stream* s, std::span<const std::uint8_t> bytes, bool fin) {
    while (!closed) {
        const ReadResult r = s->reader->read(bytes);
        bytes = bytes.subspan(r.consumed);
        if (r.status == ReadStatus::need_input) break;
        if (r.status == ReadStatus::error) {
            fail(r.error);
            return;
        }
        if (r.status != ReadStatus::frame) continue;  // unknown and grease frames are ignored
        if (const auto* st = std::get_if<h3::Settings>(&r.frame)) {
            apply_settings(*st);
        } else if (const auto* g = std::get_if<Goaway>(&r.frame)) {
            on_goaway(g->id);
        } else if (std::holds_alternative<CancelPush>(r.frame)) {
            // No push was ever allowed or promised (RFC 9114 §7.2.3).
            fail(ErrorCode::h3_id_error, "CANCEL_PUSH without a push");
            return;
        }
        // MAX_PUSH_ID (server side): noted by nobody, we never push.
    }
    if (fin && !closed) critical_closed();  // RFC 9114 §6.2.1
}

void Connection::Impl::apply_settings(const h3::Settings& st) {
    ConnectionSettings p;
    p.max_field_section_size = max_varint;
    p.qpack_max_table_capacity = 0;
    p.qpack_blocked_streams = 0;
    for (const Setting& e : st.entries) {
        switch (static_cast<SettingId>(e.id)) {
        case SettingId::max_field_section_size:
            p.max_field_section_size = e.value;
            break;
        case SettingId::qpack_max_table_capacity:
            p.qpack_max_table_capacity = static_cast<std::uint32_t>(std::min<std::uint64_t>(e.value, 0xffffffffu));
            break;
        case SettingId::qpack_blocked_streams:
            p.qpack_blocked_streams = static_cast<std::uint32_t>(std::min<std::uint64_t>(e.value, 0xffffffffu));
            break;
        case SettingId::enable_connect_protocol:
            p.enable_connect_protocol = e.value == 1;
            break;
        default:
            break;  // unknown and grease settings are ignored (§7.2.4)
        }
    }
    peer_settings = p;
    settings_in = true;
    encoder.set_peer_settings(p.qpack_max_table_capacity, p.qpack_blocked_streams);
    flush_encoder();
    emit(SettingsReceived{p});
}

void Connection::Impl::on_goaway(std::uint64_t id) {
    emit(GoawayReceived{id});
    if (server()) return;  // a client's GOAWAY carries a push id: we push nothing
    if (id >= goaway_received) return;  // the same again: nothing more refused (ids only go down)
    goaway_received = id;
    // Our requests at or above `id` were not processed (RFC 9114 §5.2).
    std::pmr::vector<Stream*> refused(mr);
    for (auto& [sid, s] : streams)
        if (s->kind == Kind::request && sid >= id) refused.push_back(s);
    std::sort(refused.begin(), refused.end(), [](const Stream* a, const Stream* b) { return a->id < b->id; });
    for (Stream* s : refused) {
        StreamReset r;
        r.stream = s->id;
        r.code = ErrorCode::h3_request_rejected;
        r.by = Initiator::peer;
        r.safe_to_retry = true;
        r.user_data = s->user;
        emit(r);
        abort(s, ErrorCode::h3_request_rejected, Initiator::peer, true);
    }
}

void Connection::Impl::read_encoder(Stream*, std::span<const std::uint8_t> bytes, bool fin) {
    decoder_dirty = true;  // an Insert Count Increment is due
    if (const qpack::Error e = decoder.read_encoder_stream(bytes); e != qpack::Error::none) {
        fail(static_cast<ErrorCode>(qpack::error_code(e)), qpack::to_string(e));
        return;
    }
    if (fin) {
        critical_closed();
        return;
    }
    // Sections the inserts unblocked (RFC 9204 §2.1.2), and the input
    // their streams held since.
    while (!closed) {
        qpack::Section* sec = decoder.next_unblocked();
        if (sec == nullptr) break;
        Stream* s = static_cast<Stream*>(sec->user());
        s->blocked = false;
        if (!decode_section(s, {}, true)) continue;
        resume_held(s);
    }
    flush_decoder();
}

void Connection::Impl::read_decoder(Stream*, std::span<const std::uint8_t> bytes, bool fin) {
    if (const qpack::Error e = encoder.read_decoder_stream(bytes); e != qpack::Error::none) {
        fail(static_cast<ErrorCode>(qpack::error_code(e)), qpack::to_string(e));
        return;
    }
    if (fin) critical_closed();
}

// -- Request streams --------------------------------------------------------

void Connection::Impl::resume_held(Stream* s) {
    if (closed || s->recv_done || s->blocked) return;
    // The held bytes go to the call's arena (kept until the next call,
    // since events point into them), and the stream's buffer is emptied
    // (a stream may end, and be reused, within this call).
    const std::size_t start = s->held_consumed;
    s->held_consumed = 0;
    const bool fin = s->held_fin;
    s->held_fin = false;
    const std::size_t n = s->held.size() - start;
    held_total -= n;
    const std::uint64_t id = s->id;
    const auto* kept = reinterpret_cast<const std::uint8_t*>(arena.copy(s->held.data() + start, n));
    std::span<const std::uint8_t> rest(kept, n);
    s->held.clear();
    if (n != 0) emit(InputConsumed{id, n});
    read_request(s, rest, fin);
}

bool Connection::Impl::decode_section(Stream* s, std::span<const std::uint8_t> payload, bool end) {
    scratch_fields.clear();
    // The message checks run field by field as the section decodes; a
    // field that is a whole table entry brings the entry's memo, so a
    // field checked once is not checked again (as in HTTP/2).
    const detail::MessageKind kind = s->final_in ? detail::MessageKind::trailers
                                     : server()  ? detail::MessageKind::request
                                                 : detail::MessageKind::response;
    detail::MessageScan scan(kind);
    const bool validate = config.validate_messages;
    auto sink = [&](const Field& f, std::uint8_t& memo) {
        Field copy;
        copy.name = std::string_view(arena.copy(f.name.data(), f.name.size()), f.name.size());
        copy.value = std::string_view(arena.copy(f.value.data(), f.value.size()), f.value.size());
        copy.sensitive = f.sensitive;
        scratch_fields.push_back(copy);
        if (validate) scan.add(copy.name, copy.value, memo);
    };
    const qpack::Decoded d = decoder.decode(s->section, payload, end, sink);
    decoder_dirty = true;
    if (d.status == qpack::Status::blocked) {
        s->blocked = true;
        return false;
    }
    if (d.status == qpack::Status::partial) return true;  // not with whole payloads
    if (d.error == qpack::Error::section_too_large) {
        // Over our SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2): the
        // table stays in sync, only this stream goes.
        reset_for_peer(s, ErrorCode::h3_excessive_load, "field section over SETTINGS_MAX_FIELD_SECTION_SIZE",
                       InvalidHeader{HeaderError::none, InvalidHeader::no_field});
        flush_decoder();
        return false;
    }
    if (d.error != qpack::Error::none) {
        fail(static_cast<ErrorCode>(qpack::error_code(d.error)), qpack::to_string(d.error));
        return false;
    }
    Field* fields = arena.allocate_array<Field>(scratch_fields.size());
    std::copy(scratch_fields.begin(), scratch_fields.end(), fields);
    const std::uint64_t id = s->id;
    on_section(s, std::span<const Field>(fields, scratch_fields.size()), scan);
    const Stream* now = find(id);  // a malformed message may have ended it
    return now != nullptr && !now->recv_done;
}

void Connection::Impl::on_section(Stream* s, std::span<const Field> fields, const detail::MessageScan& scan) {
    const bool validate = config.validate_messages;
    if (s->final_in) {  // trailers (RFC 9114 §4.1)
        if (validate) {
            if (const HeaderError e = scan.finish_trailers(); e != HeaderError::none) {
                reset_for_peer(s, ErrorCode::h3_message_error, "malformed trailers",
                               detail::locate_invalid(fields, detail::MessageKind::trailers, e));
                return;
            }
        }
        if (!s->tunnel && s->content_left > 0) {
            reset_for_peer(s, ErrorCode::h3_message_error, "content-length larger than the content");
            return;
        }
        emit(TrailersReceived{s->id, fields, s->user});
        return;
    }
    if (server()) {
        detail::RequestInfo info;
        if (validate) {
            detail::RequestRules rules;
            rules.connect_protocol = config.settings.enable_connect_protocol;
            if (const HeaderError e = scan.finish_request(rules, info); e != HeaderError::none) {
                // RFC 9114 §4.1.2: malformed, H3_MESSAGE_ERROR. Not
                // reported: the application never saw the request.
                last_invalid = detail::locate_invalid(fields, detail::MessageKind::request, e);
                s->seen = false;
                abort(s, ErrorCode::h3_message_error, Initiator::local, true);
                return;
            }
        } else {
            detail::extract_request(fields, info);
        }
        s->final_in = true;
        s->seen = true;
        s->content_left = info.content_length;
        s->tunnel = info.is_connect;
        RequestReceived e;
        e.stream = s->id;
        e.headers = fields;
        e.method = info.method;
        e.scheme = info.scheme;
        e.authority = info.authority;
        e.path = info.path;
        e.protocol = info.protocol;
        emit(e);
        return;
    }
    detail::ResponseInfo info;
    if (validate) {
        if (const HeaderError e = scan.finish_response(info); e != HeaderError::none) {
            reset_for_peer(s, ErrorCode::h3_message_error, "malformed response",
                           detail::locate_invalid(fields, detail::MessageKind::response, e));
            return;
        }
    } else {
        detail::extract_response(fields, info);
    }
    if (info.status >= 100 && info.status < 200) {
        s->reader->interim_response();  // RFC 9114 §4.1: another header section follows
        emit(InformationalResponseReceived{s->id, info.status, fields, s->user});
        return;
    }
    s->final_in = true;
    // No content for HEAD, 204 and 304 (RFC 9110 §6.4.1); a CONNECT's
    // 2xx opens a tunnel.
    const bool no_content = s->head || info.status == 204 || info.status == 304;
    s->content_left = no_content ? 0 : info.content_length;
    if (s->tunnel && (info.status < 200 || info.status >= 300)) s->tunnel = false;
    if (s->tunnel) s->content_left = -1;
    emit(ResponseReceived{s->id, info.status, fields, false, s->user});
}

void Connection::Impl::read_request(Stream* s, std::span<const std::uint8_t> bytes, bool fin) {
    const std::uint64_t id = s->id;
    // A DATA piece: checked, then reported as a view of the input.
    const auto on_data = [&](const DataChunk& chunk) {
        if (!s->final_in) {  // DATA after interim responses only: the reader lets it by
            reset_for_peer(s, ErrorCode::h3_frame_unexpected, "DATA before the final response");
            return false;
        }
        if (s->content_left >= 0) {
            if (chunk.data.size() > static_cast<std::uint64_t>(s->content_left)) {
                reset_for_peer(s, ErrorCode::h3_message_error, "more content than content-length");
                return false;
            }
            s->content_left -= static_cast<std::int64_t>(chunk.data.size());
        }
        if (chunk.data.empty()) return true;  // an empty DATA frame carries nothing
        // One event per DATA piece: a peer that sends tiny frames in one
        // large input is stopped before the list outgrows the memory limit.
        if (events.size() >= max_events) {
            fail(ErrorCode::h3_excessive_load, "too many DATA frames in one receive()");
            return false;
        }
        emit(DataReceived{id, chunk.data, fin && bytes.empty() && chunk.last, s->user});
        return true;
    };
    while (!closed) {
        // Inside a DATA payload (most input of a body): no ReadResult.
        if (DataChunk chunk; s->reader->read_data(bytes, chunk)) {
            if (!on_data(chunk)) return;
            continue;
        }
        if (bytes.empty()) break;  // read() would only say need_input
        const ReadResult r = s->reader->read(bytes);
        bytes = bytes.subspan(r.consumed);
        if (r.status == ReadStatus::need_input) break;
        if (r.status == ReadStatus::error) {
            fail(r.error);
            return;
        }
        if (r.status == ReadStatus::data) {
            if (!on_data(r.data)) return;
            continue;
        }
        if (r.status != ReadStatus::frame) continue;  // unknown and reserved frames are ignored (§9)
        const auto* h = std::get_if<Headers>(&r.frame);
        if (h == nullptr) {
            // PUSH_PROMISE: we never allow a push (no MAX_PUSH_ID), RFC 9114 §7.2.5.
            fail(ErrorCode::h3_id_error, "PUSH_PROMISE without MAX_PUSH_ID");
            return;
        }
        if (!decode_section(s, h->field_section, true)) {
            if (closed || find(id) != s || s->recv_done) return;
            if (s->blocked) {  // the rest waits for the inserts
                s->held.insert(s->held.end(), bytes.begin(), bytes.end());
                held_total += bytes.size();
                s->held_fin = fin;
                if (held_total > config.limits.max_held_input)
                    fail(ErrorCode::h3_excessive_load, "too much input held for blocked field sections");
                flush_decoder();
                return;
            }
            return;
        }
        if (bytes.empty() && fin && !events.empty()) {
            // FIN with the section: no body (set on the event just made).
            if (auto* q = std::get_if<RequestReceived>(&events.back()); q && q->stream == id) q->end_stream = true;
            if (auto* q = std::get_if<ResponseReceived>(&events.back()); q && q->stream == id) q->end_stream = true;
        }
    }
    if (closed || find(id) != s || s->recv_done) return;
    flush_decoder();
    if (fin) end_of_input(s);
}

void Connection::Impl::end_of_input(Stream* s) {
    if (auto e = s->reader->finish()) {
        if (e->scope == ErrorScope::connection) {
            fail(*e);
            return;
        }
        reset_for_peer(s, e->code, e->reason);
        return;
    }
    if (!s->final_in) {  // only interim responses (RFC 9114 §4.1)
        reset_for_peer(s, ErrorCode::h3_message_error, "stream ended before the final response");
        return;
    }
    if (!s->tunnel && s->content_left > 0) {  // RFC 9114 §4.1.2
        reset_for_peer(s, ErrorCode::h3_message_error, "content-length larger than the content");
        return;
    }
    s->recv_done = true;
    s->close_by = s->send_done ? Initiator::peer : Initiator::local;  // whose FIN comes last
    emit(StreamEnded{s->id, s->user});
    maybe_close(s);
}

// ---------------------------------------------------------------------------

std::span<const Event> Connection::receive(std::uint64_t stream, std::span<const std::uint8_t> bytes, bool fin) {
    Impl& c = *impl_;
    c.begin_call();
    if (!c.closed && stream <= max_varint) c.receive(stream, bytes, fin);
    if (!c.closed && c.account.over())
        c.fail(ErrorCode::h3_excessive_load, "connection memory limit reached");
    return c.end_call();
}

std::span<const Event> Connection::stream_reset(std::uint64_t stream, std::uint64_t code) {
    Impl& c = *impl_;
    c.begin_call();
    if (c.closed) return c.end_call();
    Impl::Stream* s = c.find(stream);
    if (s == nullptr) {
        // A reset before any octet: the stream is taken up and dropped.
        if (is_bidi(stream) && c.server() && client_initiated(stream) && !c.peer_bidi.taken(stream)) {
            c.peer_bidi.take(stream);
            c.command(CommandKind::reset_stream, stream, ErrorCode::h3_request_cancelled);
        } else if (!is_bidi(stream)) {
            c.peer_uni.take(stream);
        }
        return c.end_call();
    }
    const auto ecode = static_cast<ErrorCode>(code);
    switch (s->kind) {
    case Kind::request:
        if (s->recv_done) {
            // Its input was over: nothing is lost, but our side goes too.
            s->recv_done = true;
            c.maybe_close(s);
            return c.end_call();
        }
        if (s->seen) {
            StreamReset r;
            r.stream = s->id;
            r.code = ecode;
            r.by = Initiator::peer;
            r.safe_to_retry = ecode == ErrorCode::h3_request_rejected;
            r.user_data = s->user;
            c.emit(r);
        }
        // Our sending side goes with it (H3_REQUEST_CANCELLED), unless it
        // already ended; their side is over, so no STOP_SENDING.
        c.abort(s, ecode, Initiator::peer, true, false);
        break;
    case Kind::peer_new:
        c.forget(s);
        break;
    default:
        c.critical_closed();  // RFC 9114 §6.2.1, RFC 9204 §4.2
        break;
    }
    c.flush_decoder();
    return c.end_call();
}

std::span<const Event> Connection::stop_sending(std::uint64_t stream, std::uint64_t code) {
    Impl& c = *impl_;
    c.begin_call();
    if (c.closed) return c.end_call();
    if (Impl::Stream* l = c.local(stream)) {
        if (l != &c.grease_stream) c.critical_closed();  // RFC 9114 §6.2.1
        return c.end_call();
    }
    Impl::Stream* s = c.find(stream);
    if (s == nullptr || s->kind != Kind::request) return c.end_call();
    const auto ecode = static_cast<ErrorCode>(code);
    if (s->send_done) return c.end_call();
    // RFC 9000 §3.5: our sending side is reset.
    c.command(CommandKind::reset_stream, s->id, ecode);
    s->out.clear(c.pool);
    s->send_done = true;
    if (!c.server() && ecode == ErrorCode::h3_no_error && !s->recv_done) {
        // RFC 9114 §4.1.1: the server needs no more of the request; its
        // response goes on.
        return c.end_call();
    }
    // What we were sending was cut off: the application hears of it
    // (unless it is the request body a complete response made moot).
    const bool moot = !c.server() && ecode == ErrorCode::h3_no_error;
    if (s->seen && !moot) {
        StreamReset r;
        r.stream = s->id;
        r.code = ecode;
        r.by = Initiator::peer;
        r.safe_to_retry = ecode == ErrorCode::h3_request_rejected;
        r.user_data = s->user;
        c.emit(r);
    }
    if (!s->recv_done) {
        c.abort(s, ecode, Initiator::peer, true);
    } else {
        if (!moot) {
            s->close_code = ecode;
            s->close_by = Initiator::peer;
        }
        c.maybe_close(s);
    }
    c.flush_decoder();
    return c.end_call();
}

std::span<const Event> Connection::transport_closed(std::uint64_t code) {
    Impl& c = *impl_;
    c.begin_call();
    c.terminate(static_cast<ErrorCode>(code), Initiator::peer, "the QUIC connection closed");
    return c.end_call();
}

std::span<const Event> Connection::take_events() {
    Impl& c = *impl_;
    c.begin_call();
    return c.end_call();
}

}  // namespace h2wire::h3
