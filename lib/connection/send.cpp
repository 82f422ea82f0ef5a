// The sending API (submit_request, submit_response, send_data, send_trailers,
// reset_stream, push_promise) and the stream lifecycle behind it: creation
// from the pool, state changes with their counters, release.
#include <algorithm>
#include <array>
#include <cstring>
#include <new>

#include "connection/connection_impl.hpp"
#include "connection/flow_control.hpp"

namespace h2wire {

using detail::Stream;
using detail::StreamState;
namespace sf = detail::stream_flag;

namespace {

/// What hpack::Encoder::lookup() found is kept for the encode() that follows
/// (see check_outbound). A submit refused after the lookup encodes nothing:
/// this makes sure no later encode() of other fields can take the stale
/// results for its own (an empty lookup replaces them; after an encode()
/// there is nothing left to replace).
struct ForgetLookup {
    explicit ForgetLookup(hpack::Encoder& e) noexcept : encoder(e) {}
    hpack::Encoder& encoder;
    ForgetLookup(const ForgetLookup&) = delete;
    ForgetLookup& operator=(const ForgetLookup&) = delete;
    ~ForgetLookup() { encoder.lookup({}, nullptr); }
};

}  // namespace

// --- lifecycle ---------------------------------------------------------------

Stream* Connection::Impl::new_stream(std::uint32_t id, StreamState state, bool local_initiated) {
    Stream* s = free_streams;
    if (s) {
        free_streams = s->ready_next;
        --free_count;
        s->ready_next = nullptr;
    } else {
        s = new (mr->allocate(sizeof(Stream), alignof(Stream))) Stream;
    }
    s->id = id;
    // Ours are the application's from the start; the peer's once reported.
    s->flags = local_initiated ? sf::local | sf::announced : 0;
    s->send_window = peer.initial_window_size;
    s->recv_window = local.initial_window_size;
    streams.insert(s);
    note_streams_peak();
    set_state(s, state);
    return s;
}

void Connection::Impl::set_state(Stream* s, StreamState next, bool normal) {
    const StreamState prev = s->state;
    if (prev == next) return;
    const bool local_initiated = s->has(sf::local);
    if (prev == StreamState::idle && next != StreamState::closed)
        ++(local_initiated ? counters.streams_opened.local : counters.streams_opened.peer);
    if (detail::is_active(prev)) --(local_initiated ? active_local : active_peer);
    if (prev == StreamState::reserved_local) --reserved_local;
    if (prev == StreamState::reserved_remote) --reserved_remote;
    if (detail::is_active(next)) ++(local_initiated ? active_local : active_peer);
    if (next == StreamState::reserved_local) ++reserved_local;
    if (next == StreamState::reserved_remote) ++reserved_remote;
    s->state = next;
    if (next != StreamState::closed) return;
    // A peer stream that completed: work the application finished
    // (Limits::max_rapid_resets, the allowance for cancellations).
    if (normal && !local_initiated) cancel_allowance = std::min(cancel_allowance + 2, allowance_cap());
    // Manual flow control: DATA handed over and not consumed goes back to
    // the connection window now, however the stream ended; consume() for a
    // closed stream does nothing (flow_control.cpp). Nothing can leak.
    if (s->unconsumed) [[unlikely]] {
        conn_unconsumed -= s->unconsumed;
        credit(nullptr, s->unconsumed);
        s->unconsumed = 0;
    }
    unready(s);
    if (s->inflight == 0) release_stream(s);
    maybe_finish_shutdown();
}

void Connection::Impl::drop_send_queue(Stream* s) {
    for (detail::SendSeg* seg = s->seg_head; seg;) {
        detail::SendSeg* next = seg->next;
        if (seg->block) pool.release(seg->block);
        pool.put_seg(seg);
        seg = next;
    }
    s->seg_head = s->seg_tail = nullptr;
    if (s->open_block) pool.release(s->open_block);
    s->open_block = nullptr;
    s->queued = s->queued_owned = 0;
    // Promises queued on this stream and not yet sent are withdrawn with it.
    while (!s->hdr.empty()) {
        send_fields.clear();
        const detail::QueuedBlock b = s->hdr.pop(send_fields);
        if (b.kind != detail::BlockKind::push_promise) continue;
        if (Stream* p = find(b.promised); p && p->state == StreamState::idle) {
            p->close_code = s->close_code;  // ended with the stream it rode on
            p->close_by = s->close_by;
            set_state(p, StreamState::closed, false);
        }
    }
    s->hdr.recycle(buffers);
    s->leading_blocks = 0;
    s->clear(sf::end_after_data | sf::trailers_queued);
}

void Connection::Impl::release_stream(Stream* s) {
    unready(s);
    if (s->inflight) s->inflight -= std::min(s->inflight, out.detach(s));
    if (s->body()) end_body(s, false);  // reset, refused, or the request never went out
    // Nothing of the application's is referred to any more (the queue goes
    // next, in this call): its lifecycle event, once.
    if (s->has(sf::announced)) report(StreamClosed{s->id, s->close_code, s->close_by, s->user_data});
    drop_send_queue(s);
    streams.erase(s->id);
    if (s->has(sf::in_fifo)) (is_client() ? open_fifo : header_fifo).forget();
    if (s->has(sf::in_wu)) wu_fifo.forget();
    // FIFO entries still naming this stream go stale (recycle() sets id 0),
    // so the object stays valid for them: stream objects are kept for reuse
    // until the connection ends (as many as were ever alive at once).
    s->recycle();
    s->ready_next = free_streams;
    free_streams = s;
    ++free_count;
}

void Connection::Impl::drop_stream(Stream* s, ErrorCode code, Initiator by) {
    s->close_code = code;
    s->close_by = by;
    if (s->inflight) s->inflight -= std::min(s->inflight, out.detach(s));
    if (s->has(sf::in_fifo) && s->state == StreamState::idle && is_client()) {
        // A queued request that never went out.
        s->clear(sf::in_fifo);
        open_fifo.forget();
        --queued_requests;
    }
    set_state(s, StreamState::closed, false);
    if (s->state == StreamState::closed && s->id != 0 && find(s->id) == s) release_stream(s);
}

void Connection::Impl::reset_local(Stream* s, ErrorCode code, bool peer_caused) {
    // RFC 9113 §6.4: no RST_STREAM for a stream that never left idle (a
    // queued request, a promise not yet sent).
    const std::uint32_t id = s->id;
    if (s->state != StreamState::idle) {
        queue_rst(id, code);
        ledger.add(id);
    }
    const bool abort = peer_caused && !s->has(sf::local);
    const bool unanswered = !s->has(sf::final_submitted);
    drop_stream(s, code, Initiator::local);
    if (abort) note_peer_abort(id, unanswered);  // last: it may end the connection
}

void Connection::Impl::note_peer_open(std::uint32_t id) noexcept {
    // Ids only grow (RFC 9113 §5.1.1): the first peer id opened in this call
    // marks the rest.
    if (call_open_stamp != input_calls) {
        call_open_stamp = input_calls;
        call_first_peer_id = id;
    }
}

void Connection::Impl::note_peer_abort(std::uint32_t id, bool unanswered) {
    // Limits::max_rapid_resets (CVE-2023-44487 "rapid reset", CVE-2019-9514,
    // and "MadeYouReset": a stream the peer makes us reset). Two allowances,
    // refilled lazily here from the receive() calls since the last time.
    //
    // Rapid: the stream came and went within the receive() call that opened
    // it, so the application was handed work it could never act on.
    // Completed requests earn nothing back (they are cheap to make), so
    // mixing them in does not help; the allowance grows by one per four
    // calls, each of which costs the peer a round of its own input, and is
    // capped, so quiet calls cannot be banked for a burst.
    //
    // Cancelled before answered: a later reset of a request the application
    // had not answered yet. Long polls, hedged requests, deadlines and
    // navigation do that, so this one grows by one per call (a request and
    // its cancellation take two) and by two per stream that completes: an
    // attacker must complete one request for every two it wastes, or spend
    // a round of input on each.
    const std::uint64_t calls = input_calls - allowance_calls;
    allowance_calls = input_calls;
    rapid_allowance = std::min(rapid_allowance + static_cast<std::int64_t>(calls), 4 * allowance_cap());
    cancel_allowance = std::min(cancel_allowance + static_cast<std::int64_t>(calls), allowance_cap());
    if (call_open_stamp == input_calls && id >= call_first_peer_id) {
        rapid_allowance -= 4;  // in quarters
        if (rapid_allowance < 0) {
            trip(Limit::max_rapid_resets);
            connection_error(ErrorCode::enhance_your_calm,
                             "too many streams reset in the call that opened them (rapid reset)");
        }
        return;
    }
    if (unanswered && --cancel_allowance < 0) {
        trip(Limit::max_rapid_resets);
        connection_error(ErrorCode::enhance_your_calm, "too many streams cancelled before they were answered");
    }
}

bool Connection::Impl::pay_stream_walk(std::size_t visits) {
    // Limits::stream_walk_budget: per received octet the connection does
    // constant work, except where a frame's effect reaches every stream; that
    // work is paid from a budget that grows by one stream visit per octet.
    stream_walks += visits;
    if (stream_walks <= cfg.limits.stream_walk_budget + bytes_received) return true;
    trip(Limit::stream_walk_budget);
    connection_error(ErrorCode::enhance_your_calm, "too much work across all streams (SETTINGS or GOAWAY flood)");
    return false;
}

void Connection::Impl::output_done(Stream* s, std::size_t n) {
    s->inflight -= std::min<std::uint64_t>(s->inflight, n);
    if (s->inflight == 0 && s->state == StreamState::closed) release_stream(s);
}

// --- checks ------------------------------------------------------------------

namespace {
/// The memo bytes check_outbound() filled for `fields`, or null when the
/// block has more fields than SendMemos holds.
const std::uint8_t* memos_of(std::span<const Field> fields, const detail::SendMemos& memos) noexcept {
    return fields.size() <= detail::SendMemos::capacity ? memos.bytes.data() : nullptr;
}
}  // namespace

ApiError Connection::Impl::check_outbound(std::span<const Field> fields, detail::BlockKind kind, Stream* s,
                                          detail::RequestInfo* req, detail::ResponseInfo* resp,
                                          detail::SendMemos* memos) {
    (void)s;
    if (!cfg.validate_messages) {
        if (req) detail::extract_request(fields, *req);
        if (resp) detail::extract_response(fields, *resp);
        if (memos && fields.size() <= detail::SendMemos::capacity) memos->bytes.fill(0);
        return ApiError::none;
    }
    // The send-side memo (the receive side has its own, receive_headers.cpp):
    // when the block is encoded right after this, the encoder looks its
    // fields up first (and keeps what it found for the encoding). What the
    // checks found about a field stays with its table entry as it goes out
    // (detail::memo_valid_field, memo_plain_field), so a field the
    // application sends again is not checked again.
    detail::MessageScan scan(req ? detail::MessageKind::request
                             : resp ? detail::MessageKind::response
                                    : detail::MessageKind::trailers);
    if (memos && fields.size() <= detail::SendMemos::capacity) {
        encoder.lookup(fields, memos->bytes.data());
        for (std::size_t i = 0; i < fields.size(); ++i) scan.add(fields[i], memos->bytes[i]);
    } else {
        for (const Field& f : fields) scan.add(f);
    }
    HeaderError why;
    if (req) {
        detail::RequestRules rules;
        rules.connect_protocol = true;  // whether the peer allows it is checked by the caller
        rules.promised = kind == detail::BlockKind::push_promise;
        why = scan.finish_request(rules, *req);
    } else if (resp) {
        why = scan.finish_response(*resp);
    } else {
        why = scan.finish_trailers();
    }
    if (why == HeaderError::none) [[likely]] return ApiError::none;
    return refuse_fields(fields, scan.kind(), why);
}

// Only on the failure path: the field at fault is found again from the
// application's fields (detail::locate_invalid), so valid blocks count
// nothing.
ApiError Connection::Impl::refuse_fields(std::span<const Field> fields, detail::MessageKind kind, HeaderError e) {
    last_invalid = detail::locate_invalid(fields, kind, e);
    return ApiError::invalid_header;
}

// A stream the application may still send on: exists, our side not ended.
Stream* Connection::Impl::sendable_stream(std::uint32_t id, ApiError& err) {
    if (closed) {
        err = ApiError::connection_closed;
        return nullptr;
    }
    Stream* s = find(id);
    if (!s) {
        const bool seen = id != 0 && (is_local_id(id) ? id < next_local_id : id <= highest_peer_id);
        err = seen ? ApiError::stream_closed : ApiError::invalid_stream;
        return nullptr;
    }
    if (s->state == StreamState::closed || s->state == StreamState::half_closed_local || s->has(sf::end_submitted)) {
        err = ApiError::stream_closed;
        return nullptr;
    }
    if (s->state == StreamState::reserved_remote) {
        err = ApiError::invalid_stream;
        return nullptr;
    }
    err = ApiError::none;
    return s;
}

// --- API ---------------------------------------------------------------------

// The common case of every header block: nothing of its stream waits before
// it, so it is HPACK-encoded at once into the queue of committed frames
// (`ctrl`), behind what was committed before and ahead of what comes later.
// That queue goes out first and in order, so the encoder's table still
// follows the wire order (and a SETTINGS ACK queued later follows the block
// encoded under the old settings). The same holds for the peer's
// SETTINGS_MAX_FRAME_SIZE: a lower value received later only binds frames
// sent after our ACK of it (RFC 9113 §6.5.3), which the queue puts after
// this block.
void Connection::Impl::commit_block(Stream* s, std::span<const Field> fields, bool end_stream,
                                    std::uint32_t promised, const detail::SendMemos* memos) {
    const std::uint8_t* m = memos && fields.size() <= detail::SendMemos::capacity ? memos->bytes.data() : nullptr;
    block_committed = true;  // (set_trace(): too late to decode sent headers)
    if (promised) {
        detail::write_header_block(ctrl, scratch, encoder, fields, s->id, false, true, promised,
                                   peer.max_frame_size, m);
        highest_local_sent = std::max(highest_local_sent, promised);
        if (Stream* p = find(promised)) set_state(p, StreamState::reserved_local);
        return;
    }
    detail::write_header_block(ctrl, scratch, encoder, fields, s->id, end_stream, false, 0, peer.max_frame_size, m);
    after_send_headers(s, end_stream);
}

Submitted Connection::Impl::submit_request(std::span<const Field> headers, bool end_stream, void* user_data) {
    if (!is_client()) return {0, ApiError::wrong_role};
    if (closed || goaway_received || shutdown_phase != Shutdown::none) return {0, ApiError::connection_closed};
    // A slot is free and no request waits: the HEADERS is encoded at once
    // (else it waits in the stream's header store).
    const bool direct = open_fifo.empty() && active_local < peer_max_concurrent();
    detail::RequestInfo info;
    detail::SendMemos memos;
    const ForgetLookup forget(encoder);
    if (const ApiError e =
            check_outbound(headers, detail::BlockKind::headers, nullptr, &info, nullptr, &memos);
        e != ApiError::none)
        return {0, e};
    // RFC 8441 §3: :protocol only once the server enabled extended CONNECT.
    if (!info.protocol.empty() && !peer.enable_connect_protocol) return {0, ApiError::connect_protocol_disabled};
    const std::uint32_t slots =
        peer_max_concurrent() > active_local ? peer_max_concurrent() - active_local : 0;
    if (queued_requests >= static_cast<std::uint64_t>(slots) + cfg.limits.max_queued_requests) {
        trip(Limit::max_queued_requests);
        return {0, ApiError::too_many_queued};
    }
    // RFC 9113 §5.1.1: stream ids cannot be reused; once exhausted, a new
    // connection is needed.
    if (next_local_id > frame::max_stream_id) return {0, ApiError::connection_closed};
    const std::uint32_t id = next_local_id;
    next_local_id += 2;
    Stream* s = new_stream(id, StreamState::idle, true);
    s->user_data = user_data;
    if (info.is_head) s->set(sf::head_request);
    if (info.is_connect) s->set(sf::connect);
    s->set(sf::final_submitted);
    if (end_stream) s->set(sf::end_submitted);
    if (direct) {
        highest_local_sent = id;
        commit_block(s, headers, end_stream, 0, &memos);
        return {id, ApiError::none};
    }
    s->set(sf::in_fifo);
    // The memos go with the fields: what the checks found is not found
    // again, and the encoder gets it when the block goes out.
    s->hdr.push(buffers, detail::BlockKind::headers, end_stream, 0, headers, memos_of(headers, memos));
    s->leading_blocks = 1;
    open_fifo.push(s);
    ++queued_requests;
    return {id, ApiError::none};
}

// --- priorities (RFC 9218) ------------------------------------------------------

namespace {
// A PRIORITY_UPDATE frame (RFC 9218 §7.1), built where the caller copies it
// from: 9 + 4 + at most 8 octets of field value.
struct PriorityUpdateFrame {
    std::array<std::uint8_t, 24> bytes{};
    std::size_t encode(std::uint32_t id, Priority p) noexcept {
        const PriorityText text = format_priority(p);
        const frame::PriorityUpdate f{id, text.view()};
        const std::size_t n = frame::encoded_size(f);
        frame::write(std::span<std::uint8_t>(bytes.data(), n), f);
        return n;
    }
};
}  // namespace

std::span<const Field> Connection::Impl::with_priority(std::span<const Field> headers, Priority p,
                                                      PriorityText& text) {
    // RFC 9218 §4: the defaults need no field.
    if (p == Priority{}) return headers;
    text = format_priority(p);
    send_fields.assign(headers.begin(), headers.end());
    send_fields.push_back(Field{"priority", text.view()});
    return send_fields;
}

ApiError Connection::Impl::set_priority(std::uint32_t id, Priority p) {
    if (p.urgency > max_urgency) return ApiError::invalid_argument;
    Stream* s = find(id);
    if (!s || s->state == StreamState::closed) return ApiError::invalid_stream;
    change_priority(s, p);
    // A server's choice stands against the client's later signals.
    if (!is_client()) s->prio |= detail::prio_pinned;
    return ApiError::none;
}

ApiError Connection::Impl::reprioritize(std::uint32_t id, Priority p) {
    if (!is_client()) return ApiError::wrong_role;  // RFC 9218 §7.1: servers MUST NOT send it
    if (closed) return ApiError::connection_closed;
    if (p.urgency > max_urgency) return ApiError::invalid_argument;
    Stream* s = find(id);
    if (!s || !s->has(sf::local) || s->has(sf::pushed)) return ApiError::invalid_stream;
    // §7.1: for a stream whose response may still come.
    if (s->state == StreamState::closed || s->state == StreamState::half_closed_remote)
        return ApiError::stream_closed;
    const bool frame_now = s->state != StreamState::idle && (!peer_settings_seen || peer.no_rfc7540_priorities);
    // (Refused before anything changes.)
    if (frame_now && ctrl_frames >= cfg.limits.max_queued_control_frames) return ApiError::too_many_queued;
    change_priority(s, p);
    // §2.1.1: once the server's SETTINGS came without
    // SETTINGS_NO_RFC7540_PRIORITIES = 1, it likely ignores the frame.
    if (peer_settings_seen && !peer.no_rfc7540_priorities) return ApiError::unsupported_by_peer;
    if (!frame_now) {
        // Still queued for a stream slot: the update follows its HEADERS.
        s->prio |= detail::prio_update_owed;
        return ApiError::none;
    }
    PriorityUpdateFrame f;
    const std::size_t n = f.encode(id, p);
    std::memcpy(ctrl_room(n), f.bytes.data(), n);
    ++ctrl_frames;
    return ApiError::none;
}

void Connection::Impl::send_owed_priority_update(Stream* s) {
    s->prio &= static_cast<std::uint8_t>(~detail::prio_update_owed);
    PriorityUpdateFrame f;
    const std::size_t n = f.encode(s->id, s->priority());
    const std::size_t from = out.buf.size();
    out.buf.append(f.bytes.data(), n);
    out.note_buf(from);
    account_sent(out.buf.data() + from, n);
}

ApiError Connection::Impl::submit_response(std::uint32_t id, std::span<const Field> headers, bool end_stream) {
    if (is_client()) return ApiError::wrong_role;
    ApiError err;
    Stream* s = sendable_stream(id, err);
    if (!s) return err;
    // Responses go on streams the client opened, or on streams we promised.
    if (s->has(sf::local) && !s->has(sf::pushed)) return ApiError::invalid_stream;
    if (s->has(sf::final_submitted)) return ApiError::invalid_stream;
    const bool direct = s->leading_blocks == 0 && s->state != StreamState::idle;
    detail::ResponseInfo info;
    detail::SendMemos memos;
    const ForgetLookup forget(encoder);
    if (const ApiError e =
            check_outbound(headers, detail::BlockKind::headers, s, nullptr, &info, &memos);
        e != ApiError::none)
        return e;
    const bool informational = info.status >= 100 && info.status < 200;
    // RFC 9113 §8.1: an informational response cannot end the stream.
    if (informational && end_stream && cfg.validate_messages)
        return refuse_fields(headers, detail::MessageKind::response, HeaderError::informational_end_stream);
    if (s->has(sf::connect) && !informational) {
        // RFC 9110 §9.3.6: no Content-Length in a 2xx to CONNECT (it opens a
        // tunnel, RFC 9113 §8.5); any other final status ends the attempt as
        // an ordinary response, which may then carry a body and trailers.
        if (info.status / 100 == 2 && info.content_length >= 0 && cfg.validate_messages)
            return refuse_fields(headers, detail::MessageKind::response, HeaderError::connect_content_length);
        if (info.status / 100 != 2) s->clear(sf::tunnel);
    }
    if (!informational) s->set(sf::final_submitted);
    if (end_stream) s->set(sf::end_submitted);
    if (direct) {
        commit_block(s, headers, end_stream, 0, &memos);
        return ApiError::none;
    }
    // Behind a block still queued (a promise not yet sent): keep the order.
    s->hdr.push(buffers, detail::BlockKind::headers, end_stream, 0, headers, memos_of(headers, memos));
    ++s->leading_blocks;
    if (!s->has(sf::in_fifo)) {
        s->set(sf::in_fifo);
        header_fifo.push(s);
    }
    return ApiError::none;
}

// Limits::max_connection_memory: copying `n` octets into send blocks must
// leave a quarter of the budget for what the peer sends (the open block's
// room and spare blocks cost nothing new).
std::size_t Connection::Impl::copy_capacity(const Stream* s) const noexcept {
    return open_block_room(s) + shared_copy_room();
}

std::size_t Connection::Impl::open_block_room(const Stream* s) const noexcept {
    return s->open_block && !s->has(sf::sourced) ? s->open_block->room() : 0;
}

std::size_t Connection::Impl::shared_copy_room() const noexcept {
    // New blocks, each with its share of segment slabs, in what the budget
    // has left above the quarter kept for the peer.
    // The output buffer's growth counts too: DATA copied in now is copied
    // again into it when pending_output() builds frames.
    const std::size_t limit = account.limit(), used = account.live() + receive_reserve() + output_reserve();
    const std::size_t left = used < limit ? limit - used : 0;
    const std::size_t per_block = detail::Block::footprint(detail::Block::capacity) + 4 * sizeof(detail::SendSeg);
    return pool.spare_octets() + left / per_block * detail::Block::capacity;
}

bool Connection::Impl::copy_fits(const Stream* s, std::size_t n) const noexcept { return n <= copy_capacity(s); }

ApiError Connection::Impl::queue_data(std::uint32_t id, std::span<const std::uint8_t> data, bool end_stream,
                                      bool borrowed, std::size_t* accepted) {
    ApiError err;
    Stream* s = sendable_stream(id, err);
    if (!s) return err;
    // A body follows the final header section (RFC 9113 §8.1).
    if (!s->has(sf::final_submitted)) return ApiError::invalid_stream;
    if (data.empty() && !end_stream) return ApiError::none;
    // Limits::max_buffered_per_stream and the memory budget (capacity_of()).
    if (const std::size_t room = borrowed ? data.size() : capacity_of(s); data.size() > room) {
        // StreamWritable once room is back (body.cpp). Which limit refused:
        // the stream's own, or the memory budget.
        trip(s->queued + data.size() > cfg.limits.max_buffered_per_stream ? Limit::max_buffered_per_stream
                                                                          : Limit::max_connection_memory);
        wait_for_space(s);
        if (!accepted) return ApiError::buffer_full;
        // send_data_partial(): what fits, without END_STREAM.
        data = data.first(room);
        end_stream = false;
        *accepted = room;
        if (data.empty()) return ApiError::none;
    } else if (accepted) {
        *accepted = data.size();
    }
    if (borrowed && !data.empty()) {
        detail::SendSeg* seg = pool.get_seg();
        seg->data = data.data();
        seg->size = static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), UINT32_MAX));
        if (s->seg_tail) s->seg_tail->next = seg;
        else s->seg_head = seg;
        s->seg_tail = seg;
        s->queued += seg->size;
        // Spans past 4 GiB go in several segments.
        for (std::size_t at = seg->size; at < data.size();) {
            detail::SendSeg* more = pool.get_seg();
            more->data = data.data() + at;
            more->size = static_cast<std::uint32_t>(std::min<std::size_t>(data.size() - at, UINT32_MAX));
            s->seg_tail->next = more;
            s->seg_tail = more;
            s->queued += more->size;
            at += more->size;
        }
    } else {
        const std::uint8_t* p = data.data();
        std::size_t left = data.size();
        while (left > 0) {
            detail::Block* b = s->open_block;
            if (!b || b->used == b->cap) {
                if (b) pool.release(b);
                // A body that starts here and fits in less than a full block
                // gets a block of its size; one that goes on, full blocks.
                b = s->open_block = pool.get(s->queued == 0 && !b ? left : detail::Block::capacity);
            }
            const std::uint32_t take = static_cast<std::uint32_t>(std::min<std::size_t>(left, b->room()));
            std::uint8_t* at = b->bytes() + b->used;
            std::memcpy(at, p, take);
            detail::SendSeg* tail = s->seg_tail;
            if (tail && tail->block == b && tail->data + tail->size == at) {
                tail->size += take;
            } else {
                detail::SendSeg* seg = pool.get_seg();
                seg->data = at;
                seg->size = take;
                seg->block = b;
                ++b->refs;
                if (tail) tail->next = seg;
                else s->seg_head = seg;
                s->seg_tail = seg;
            }
            b->used += take;
            p += take;
            left -= take;
            if (b->used == b->cap) {
                // Full: let it go now (its segments hold it), so that an idle
                // stream does not keep a block it cannot add to.
                pool.release(b);
                s->open_block = nullptr;
            }
        }
        s->queued += data.size();
        s->queued_owned += static_cast<std::uint32_t>(data.size());  // <= max_buffered_per_stream
    }
    if (end_stream) s->set(sf::end_after_data | sf::end_submitted);
    make_ready(s);
    return ApiError::none;
}

ApiError Connection::Impl::send_trailers(std::uint32_t id, std::span<const Field> trailers) {
    ApiError err;
    Stream* s = sendable_stream(id, err);
    if (!s) return err;
    if (!s->has(sf::final_submitted)) return ApiError::invalid_stream;
    // RFC 9113 §8.5: only DATA and stream management frames on a CONNECT
    // tunnel (our CONNECT request, or our 2xx to one).
    if (s->has(sf::tunnel) || (s->has(sf::connect) && s->has(sf::local))) return ApiError::invalid_stream;
    // No DATA waits before them: the trailers are encoded at once.
    const bool direct =
        s->queued == 0 && !s->has(sf::end_after_data) && s->leading_blocks == 0 && detail::can_send(s->state);
    detail::SendMemos memos;
    const ForgetLookup forget(encoder);
    if (const ApiError e =
            check_outbound(trailers, detail::BlockKind::trailers, s, nullptr, nullptr, &memos);
        e != ApiError::none)
        return e;
    s->set(sf::end_submitted);
    if (direct) {
        commit_block(s, trailers, true, 0, &memos);
        return ApiError::none;
    }
    s->hdr.push(buffers, detail::BlockKind::trailers, true, 0, trailers, memos_of(trailers, memos));
    s->set(sf::trailers_queued);
    make_ready(s);
    return ApiError::none;
}

ApiError Connection::Impl::reset_stream(std::uint32_t id, ErrorCode code) {
    if (closed) return ApiError::connection_closed;
    Stream* s = find(id);
    if (!s || s->state == StreamState::closed) return ApiError::invalid_stream;
    reset_local(s, code, false);
    return ApiError::none;
}

Submitted Connection::Impl::push_promise(std::uint32_t id, std::span<const Field> headers, void* user_data) {
    if (is_client()) return {0, ApiError::wrong_role};
    if (closed || goaway_received) return {0, ApiError::connection_closed};
    // RFC 9113 §6.5.2, §8.4: no push once the client disabled it.
    if (!peer.enable_push) return {0, ApiError::push_disabled};
    ApiError err;
    Stream* s = sendable_stream(id, err);
    if (!s) return {0, err};
    // RFC 9113 §8.4: promises ride on a client-initiated stream that is open
    // or half-closed (remote).
    if (s->has(sf::local)) return {0, ApiError::invalid_stream};
    // RFC 9113 §8.5: no PUSH_PROMISE on a CONNECT stream.
    if (s->has(sf::connect)) return {0, ApiError::invalid_stream};
    detail::RequestInfo info;
    if (const ApiError e = check_outbound(headers, detail::BlockKind::push_promise, s, &info, nullptr);
        e != ApiError::none)
        return {0, e};
    if (active_local + reserved_local >= peer_max_concurrent()) return {0, ApiError::too_many_queued};
    if (next_local_id > frame::max_stream_id) return {0, ApiError::connection_closed};
    const std::uint32_t promised = next_local_id;
    next_local_id += 2;
    Stream* p = new_stream(promised, StreamState::idle, true);
    p->user_data = user_data;
    p->set(sf::pushed);
    if (info.is_head) p->set(sf::head_request);
    if (s->leading_blocks == 0) {
        commit_block(s, headers, false, promised);
        return {promised, ApiError::none};
    }
    s->hdr.push(buffers, detail::BlockKind::push_promise, false, promised, headers);
    ++s->leading_blocks;
    if (!s->has(sf::in_fifo)) {
        s->set(sf::in_fifo);
        header_fifo.push(s);
    }
    return {promised, ApiError::none};
}

}  // namespace h2wire
