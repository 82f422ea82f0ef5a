// Header blocks in: HEADERS / PUSH_PROMISE and their CONTINUATIONs (RFC 9113
// §4.3, §6.2, §6.6, §6.10), decoded frame by frame, then checked as HTTP
// messages (§8) and reported.
//
// Every block is decoded, whatever becomes of its stream (refused, reset,
// closed, malformed): the HPACK context is shared by the connection and
// skipping a block would break every later one (RFC 9113 §4.3).
#include <algorithm>
#include <cstring>

#include "connection/connection_impl.hpp"

namespace h2wire {

using detail::Stream;
using detail::StreamState;
namespace sf = detail::stream_flag;

namespace {

constexpr std::string_view idle_headers = "HEADERS on a stream we have not opened";

}  // namespace

void Connection::Impl::on_headers(const frame::Headers& f) {
    const std::uint32_t id = f.stream_id;
    block = detail::InboundBlock{};
    block.active = true;
    block.fields_from = arena.mark();
    block.stream_id = id;
    block.end_stream = f.end_stream;
    block.bytes = static_cast<std::uint32_t>(f.fragment.size());
    // RFC 9113 §5.3.1 (RFC 7540): a stream cannot depend on itself; checked
    // after the block is decoded, to keep HPACK in sync.
    block.self_dependent = f.priority && f.priority->dependency == id;
    block_fields.clear();
    if (block.bytes > cfg.limits.max_header_block_size) {
        trip(Limit::max_header_block_size);
        connection_error(ErrorCode::enhance_your_calm, "header block larger than the limit");
        return;
    }
    block.fate = detail::BlockFate::discard;

    if (Stream* s = find(id)) {
        if (s->state == StreamState::idle) {
            // Our own queued request or unsent promise: the peer cannot know it.
            connection_error(ErrorCode::protocol_error, idle_headers);
            return;
        }
        const detail::Transition t = detail::transition(s->state, detail::StreamInput::recv_headers);
        if (t.outcome == detail::Outcome::connection_error) {
            connection_error(t.code, "HEADERS on a reserved (local) stream");
            return;
        }
        if (t.outcome == detail::Outcome::stream_error) {
            stream_error(id, s, t.code, "HEADERS after END_STREAM");
        } else {
            set_state(s, t.next);
            block.target = s;
            block.fate = detail::BlockFate::deliver;
            // What finish_block() will make of it (it looks at the same phase).
            const bool first = s->recv_phase == detail::RecvPhase::headers;
            block_scan.reset(!first        ? detail::MessageKind::trailers
                             : is_client() ? detail::MessageKind::response
                                           : detail::MessageKind::request);
        }
    } else if (is_local_id(id) || id <= highest_peer_id) {
        // Not in the map: closed below the highest id of its initiator, idle above.
        if (implied_state(id) == StreamState::idle) {
            connection_error(ErrorCode::protocol_error, idle_headers);
            return;
        }
        // After our RST_STREAM: ignored (§5.1). Otherwise we cannot tell a
        // stream that ended (HEADERS after END_STREAM: connection error
        // STREAM_CLOSED, §5.1) from an id skipped when a higher one opened
        // (§5.1.1: an unexpected identifier, PROTOCOL_ERROR); both end the
        // connection.
        if (!ledger.contains(id)) {
            if (is_local_id(id)) connection_error(ErrorCode::stream_closed, "HEADERS on a closed stream");
            else connection_error(ErrorCode::protocol_error, "HEADERS on a stream id below one already opened");
            return;
        }
    } else if (is_client()) {
        // RFC 9113 §8.4: a server opens streams only with PUSH_PROMISE.
        connection_error(ErrorCode::protocol_error, "HEADERS opening a stream from the server");
        return;
    } else {
        // A new stream of the peer. RFC 9113 §5.1.1: its id is above every id
        // it used before (checked: id > highest_peer_id), and opening it
        // closes the idle ones below.
        highest_peer_id = id;
        note_peer_open(id);
        if (goaway_sent && id > goaway_last_sent) {
            // RFC 9113 §6.8: streams above our GOAWAY are ignored.
        } else if (active_peer >= local_max_concurrent() || crowded()) {
            // RFC 9113 §5.1.2: over SETTINGS_MAX_CONCURRENT_STREAMS, refused;
            // so is a request when this call's events already hold a share
            // of the memory budget (a burst of huge header lists). §8.7:
            // REFUSED_STREAM tells the client it may retry.
            const bool over = active_peer >= local_max_concurrent();
            trip(over ? Limit::max_concurrent_streams : Limit::max_connection_memory);
            queue_rst(id, ErrorCode::refused_stream);
            ledger.add(id);
            report(StreamReset{id, ErrorCode::refused_stream, Initiator::local, true,
                               over ? "over SETTINGS_MAX_CONCURRENT_STREAMS"
                                    : "the requests of this read already hold an eighth of the memory budget"});
            note_peer_abort(id, false);
            if (!closed) control_budget_ok();
        } else {
            block.target = new_stream(id, StreamState::open, false);
            block.opens = true;
            block.fate = detail::BlockFate::deliver;
            block_scan.reset(detail::MessageKind::request);
        }
    }
    if (closed) return;
    decode_fragment(f.fragment, f.end_headers);
}

void Connection::Impl::on_push_promise(const frame::PushPromise& f) {
    block = detail::InboundBlock{};
    block.active = true;
    block.fields_from = arena.mark();
    block.push = true;
    block.stream_id = f.stream_id;
    block.promised_id = f.promised_stream_id;
    block.bytes = static_cast<std::uint32_t>(f.fragment.size());
    block.fate = detail::BlockFate::discard;
    block_fields.clear();
    if (block.bytes > cfg.limits.max_header_block_size) {
        trip(Limit::max_header_block_size);
        connection_error(ErrorCode::enhance_your_calm, "header block larger than the limit");
        return;
    }
    // RFC 9113 §6.6: with SETTINGS_ENABLE_PUSH=0 acknowledged, PUSH_PROMISE is
    // a connection PROTOCOL_ERROR.
    if (!local.enable_push) {
        connection_error(ErrorCode::protocol_error, "PUSH_PROMISE while push is disabled");
        return;
    }
    // RFC 9113 §5.1.1: the promised stream is a new server stream.
    if (f.promised_stream_id <= highest_peer_id) {
        connection_error(ErrorCode::protocol_error, "PUSH_PROMISE promises a stream id already used");
        return;
    }
    highest_peer_id = f.promised_stream_id;
    note_peer_open(f.promised_stream_id);
    bool accept = true;
    if (Stream* s = find(f.stream_id)) {
        const detail::Transition t = detail::transition(s->state, detail::StreamInput::recv_push_promise);
        if (t.outcome != detail::Outcome::accept || !s->has(sf::local)) {
            // RFC 9113 §6.6: only on a stream that is open or half-closed
            // (local) for us.
            connection_error(ErrorCode::protocol_error, "PUSH_PROMISE on a stream that is not open");
            return;
        }
    } else if (is_local_id(f.stream_id) && implied_state(f.stream_id) == StreamState::closed &&
               ledger.contains(f.stream_id)) {
        // RFC 9113 §5.1: a PUSH_PROMISE may trail our RST_STREAM; the promised
        // stream is reserved all the same and must be reset.
        accept = false;
    } else {
        connection_error(ErrorCode::protocol_error, "PUSH_PROMISE on a closed or idle stream");
        return;
    }
    if (accept && goaway_sent && f.promised_stream_id > goaway_last_sent) accept = false;
    // Limits::max_reserved_streams: refused, as §8.4.2 lets a client refuse
    // any push.
    if (accept && reserved_remote >= cfg.limits.max_reserved_streams) {
        accept = false;
        trip(Limit::max_reserved_streams);
    }
    if (accept) {
        Stream* p = new_stream(f.promised_stream_id, StreamState::reserved_remote, false);
        p->set(sf::pushed);
        block.target = p;
        block.fate = detail::BlockFate::deliver;
        block_scan.reset(detail::MessageKind::request);
    } else {
        queue_rst(f.promised_stream_id, accept ? ErrorCode::cancel : ErrorCode::refused_stream);
        ledger.add(f.promised_stream_id);
        if (!control_budget_ok()) return;
    }
    decode_fragment(f.fragment, f.end_headers);
}

void Connection::Impl::on_continuation(const frame::Continuation& f) {
    // The reader already enforces RFC 9113 §6.10: a CONTINUATION only follows
    // HEADERS/PUSH_PROMISE/CONTINUATION of the same stream without END_HEADERS,
    // and nothing else may come in between (connection PROTOCOL_ERROR).
    if (!block.active) {
        connection_error(ErrorCode::protocol_error, "CONTINUATION outside a header block");
        return;
    }
    ++block.continuations;
    block.bytes += static_cast<std::uint32_t>(f.fragment.size());
    // Limits: CONTINUATION floods (many frames, or a block that never ends).
    if (block.continuations > cfg.limits.max_continuation_frames) {
        trip(Limit::max_continuation_frames);
        connection_error(ErrorCode::enhance_your_calm, "too many CONTINUATION frames in one header block");
        return;
    }
    if (block.bytes > cfg.limits.max_header_block_size) {
        trip(Limit::max_header_block_size);
        connection_error(ErrorCode::enhance_your_calm, "header block larger than the limit");
        return;
    }
    if (f.fragment.empty() && !f.end_headers) count_empty_frame();
    if (closed) return;
    decode_fragment(f.fragment, f.end_headers);
}

bool Connection::Impl::decode_fragment(std::span<const std::uint8_t> fragment, bool end) {
    block.drop_gone_target();
    // A trace that wants headers sees those of discarded blocks too.
    const bool deliver = block.fate == detail::BlockFate::deliver;
    const bool keep_fields = deliver || trace_headers_in;
    const bool validate = cfg.validate_messages && deliver;
    const hpack::Error e = decoder.decode(fragment, end, [&](const Field& f, std::uint8_t& memo) {
        if (!keep_fields) return;
        // Copied into the arena: the decoder's views last only for this call.
        // A dynamic table entry keeps its name and value side by side: one
        // copy then.
        const std::size_t nn = f.name.size(), nv = f.value.size();
        char* p = static_cast<char*>(arena.allocate(nn + nv, 1));
        if (f.value.data() == f.name.data() + nn) {
            detail::copy_bytes(p, f.name.data(), nn + nv);
        } else {
            detail::copy_bytes(p, f.name.data(), nn);
            detail::copy_bytes(p + nn, f.value.data(), nv);
        }
        // Built in place: a Field assembled elsewhere and copied in costs a
        // store-forwarding stall per field (8-octet stores read back 16 at a
        // time).
        const std::string_view name(p, nn), value(p + nn, nv);
        Field& kept = block_fields.emplace_back();  // (clang 14 lacks C++20 aggregate emplace)
        kept.name = name;
        kept.value = value;
        kept.sensitive = f.sensitive;
        // Checked as it comes, from the copy (the scan keeps views of the
        // pseudo-headers). What a check found stays with the field's HPACK
        // table entry (`memo`): when the peer indexes the field again, it
        // is not checked again.
        if (validate) block_scan.add(name, value, memo);
    });
    if (hpack::is_fatal(e)) {
        if (e == hpack::Error::field_too_large) trip(Limit::max_field_size);
        // RFC 9113 §4.3: a decoding error is a connection COMPRESSION_ERROR.
        connection_error(ErrorCode::compression_error, hpack::to_string(e));
        return false;
    }
    if (!end) return true;
    if (trace_owed) [[unlikely]]
        finish_received_trace(block_fields, e != hpack::Error::header_list_too_large);
    block.active = false;
    ++useful_frames;
    // A new stream counts as processed (for GOAWAY) once its block decoded.
    if (block.opens) last_peer_processed = std::max(last_peer_processed, block.stream_id);
    if (e == hpack::Error::header_list_too_large && block.fate == detail::BlockFate::deliver) {
        trip(Limit::max_header_list_size);
        // RFC 9113 §6.5.2, §8.2.2 (the block was decoded to the end).
        const std::uint32_t id = block.push ? block.promised_id : block.stream_id;
        stream_error(id, block.target, ErrorCode::protocol_error, to_string(HeaderError::header_list_too_large),
                     InvalidHeader{HeaderError::header_list_too_large, InvalidHeader::no_field});
        forget_block_fields();
        return true;
    }
    finish_block();
    return true;
}

void Connection::Impl::finish_block() {
    Stream* s = block.target;
    if (block.fate != detail::BlockFate::deliver || !s) return;
    // The fields move into the arena as one array the event can point at.
    const std::size_t n = block_fields.size();
    Field* arr = arena.allocate_array<Field>(n ? n : 1);
    std::copy(block_fields.begin(), block_fields.end(), arr);
    const std::span<const Field> fields(arr, n);
    bool reported;
    if (block.push) {
        reported = deliver_push(fields);
    } else if (block.self_dependent) {
        stream_error(s->id, s, ErrorCode::protocol_error, "stream depends on itself");
        reported = false;
    } else if (s->recv_phase == detail::RecvPhase::headers) {
        reported = is_client() ? deliver_response(s, fields) : deliver_request(s, fields);
    } else {
        reported = deliver_trailers(s, fields);
    }
    if (!reported) forget_block_fields();
}

// Only on the failure path: which field broke the rule is found again from
// the block's fields (detail::locate_invalid), so valid blocks count nothing.
// (A field that breaks a rule of its own is named before a rule on the whole
// section, such as trailers without END_STREAM.)
void Connection::Impl::reject_block(Stream* s, std::span<const Field> fields, HeaderError e) {
    const InvalidHeader bad = detail::locate_invalid(fields, block_scan.kind(), e);
    stream_error(s->id, s, ErrorCode::protocol_error, to_string(bad.error), bad);
}

// A block that was refused after its fields were kept: nothing points at
// them (reasons are static text), so the arena goes back to where the block
// began. A stream of malformed requests then costs no more than one.
void Connection::Impl::forget_block_fields() noexcept { arena.rewind(block.fields_from); }

bool Connection::Impl::deliver_request(Stream* s, std::span<const Field> fields) {
    detail::RequestInfo info;
    if (cfg.validate_messages) {
        detail::RequestRules rules;
        // RFC 8441 §3: :protocol is fine once we announced the setting.
        rules.connect_protocol = local_sent.enable_connect_protocol || local.enable_connect_protocol;
        if (const HeaderError e = block_scan.finish_request(rules, info); e != HeaderError::none) {
            reject_block(s, fields, e);
            return false;
        }
        // RFC 9113 §8.1.1: END_STREAM with a non-zero content-length.
        if (block.end_stream && info.content_length > 0 && !info.is_connect) {
            stream_error(s->id, s, ErrorCode::protocol_error, "content-length without DATA");
            return false;
        }
    } else {
        detail::extract_request(fields, info);
    }
    s->recv_phase = detail::RecvPhase::body;
    s->content_length = info.content_length;
    if (info.is_head) s->set(sf::head_request);
    if (info.is_connect) s->set(sf::connect | sf::tunnel | sf::no_length_check);
    s->set(sf::announced);  // the application knows it now: StreamClosed follows, once
    s->announced_at = static_cast<std::uint32_t>(events.size());
    const Priority priority = opening_priority(s, fields);
    report(RequestReceived{s->id, fields, info.method, info.scheme, info.authority, info.path, info.protocol,
                           block.end_stream, s->user_data, priority});
    if (block.end_stream) peer_end_stream(s);
    return true;
}

bool Connection::Impl::deliver_response(Stream* s, std::span<const Field> fields) {
    detail::ResponseInfo info;
    if (cfg.validate_messages) {
        if (const HeaderError e = block_scan.finish_response(info); e != HeaderError::none) {
            reject_block(s, fields, e);
            return false;
        }
    } else {
        detail::extract_response(fields, info);
    }
    if (info.status >= 100 && info.status < 200) {
        // RFC 9113 §8.1: interim responses never end the stream.
        if (block.end_stream && cfg.validate_messages) {
            reject_block(s, fields, HeaderError::informational_end_stream);
            return false;
        }
        const std::uint32_t seen = s->flags >> sf::informational_shift;
        if (seen >= std::min<std::uint32_t>(cfg.limits.max_informational_responses, 255)) {
            trip(Limit::max_informational_responses);
            stream_error(s->id, s, ErrorCode::enhance_your_calm, "too many informational responses");
            return false;
        }
        s->flags += sf::informational_one;
        report(InformationalResponseReceived{s->id, info.status, fields, s->user_data});
        if (block.end_stream) peer_end_stream(s);
        return true;
    }
    s->recv_phase = detail::RecvPhase::body;
    s->content_length = info.content_length;
    // RFC 9113 §8.1.1: no content to check after HEAD, 204 or 304; a 2xx to
    // CONNECT makes the stream a tunnel (§8.5).
    if (s->has(sf::head_request) || info.status == 204 || info.status == 304) s->set(sf::no_length_check);
    if (s->has(sf::connect) && info.status / 100 == 2) s->set(sf::tunnel | sf::no_length_check);
    if (cfg.validate_messages && block.end_stream && info.content_length > 0 && !s->has(sf::no_length_check)) {
        stream_error(s->id, s, ErrorCode::protocol_error, "content-length without DATA");
        return false;
    }
    report(ResponseReceived{s->id, info.status, fields, block.end_stream, s->user_data});
    if (block.end_stream) peer_end_stream(s);
    return true;
}

bool Connection::Impl::deliver_trailers(Stream* s, std::span<const Field> fields) {
    if (cfg.validate_messages) {
        // RFC 9113 §8.1: a HEADERS frame after the final header section
        // carries trailers and ends the stream; §8.5: none on a tunnel.
        HeaderError e = HeaderError::none;
        std::string_view why;
        if (!block.end_stream) e = HeaderError::trailers_without_end_stream;
        else if (s->has(sf::tunnel)) why = "HEADERS on a CONNECT tunnel";
        else e = block_scan.finish_trailers();
        if (e != HeaderError::none) {
            reject_block(s, fields, e);
            return false;
        }
        if (why.empty() && s->content_length >= 0 && !s->has(sf::no_length_check) &&
            s->data_received != static_cast<std::uint64_t>(s->content_length))
            why = "DATA shorter than content-length";
        if (!why.empty()) {
            stream_error(s->id, s, ErrorCode::protocol_error, why);
            return false;
        }
    }
    s->recv_phase = detail::RecvPhase::trailers;
    report(TrailersReceived{s->id, fields, s->user_data});
    if (block.end_stream) peer_end_stream(s);
    return true;
}

bool Connection::Impl::deliver_push(std::span<const Field> fields) {
    Stream* p = block.target;
    detail::RequestInfo info;
    Stream* parent = find(block.stream_id);
    if (parent && parent->has(sf::connect) && cfg.validate_messages) {
        // RFC 9113 §8.5: a frame other than DATA or stream management on a
        // CONNECT stream is a stream error; the promise is refused with it.
        stream_error(p->id, p, ErrorCode::protocol_error, "PUSH_PROMISE on a CONNECT stream");
        if (!closed) stream_error(parent->id, parent, ErrorCode::protocol_error, "PUSH_PROMISE on a CONNECT stream");
        return false;
    }
    if (cfg.validate_messages) {
        detail::RequestRules rules;
        rules.promised = true;
        // RFC 9113 §8.4: a malformed or unsafe promise is a stream error on
        // the promised stream.
        if (const HeaderError e = block_scan.finish_request(rules, info); e != HeaderError::none) {
            reject_block(p, fields, e);
            return false;
        }
    } else {
        detail::extract_request(fields, info);
    }
    if (info.is_head) p->set(sf::head_request);
    p->set(sf::announced);  // the application knows it now: StreamClosed follows, once
    p->announced_at = static_cast<std::uint32_t>(events.size());
    report(PushPromiseReceived{block.stream_id, p->id, fields, parent ? parent->user_data : nullptr});
    return true;
}

}  // namespace h2wire
