// receive(): the client preface (RFC 9113 §3.4), then frames from the
// incremental reader, dispatched by type. Header blocks continue in
// receive_headers.cpp, WINDOW_UPDATE in flow_control.cpp.
#include <algorithm>

#include "connection/connection_impl.hpp"
#include "connection/flow_control.hpp"
#include "frame/parse.hpp"

namespace h2wire {

using detail::Stream;
using detail::StreamState;
namespace sf = detail::stream_flag;

namespace {

/// What the DATA fast paths read of a frame header (RFC 9113 §4.1).
struct DataHeader {
    std::uint32_t length;
    std::uint32_t stream;  // the reserved bit ignored
    bool plain;            // type DATA without PADDED
    bool end_stream;
};

inline DataHeader read_data_header(const std::uint8_t* p) noexcept {
    return DataHeader{
        std::uint32_t{p[0]} << 16 | std::uint32_t{p[1]} << 8 | p[2],
        (std::uint32_t{p[5]} << 24 | std::uint32_t{p[6]} << 16 | std::uint32_t{p[7]} << 8 | p[8]) & 0x7fffffffu,
        p[3] == static_cast<std::uint8_t>(frame::Type::data) && (p[4] & frame::flags::padded) == 0,
        (p[4] & frame::flags::end_stream) != 0};
}

/// The reader's own rules for a DATA or HEADERS frame header
/// (detail::check_size_and_stream, which check_header() applies first), for
/// the frames the fast paths take without the reader: one rule, one place.
/// What else check_header() looks at (padding and priority lengths, the
/// CONTINUATION sequence) the fast paths leave to the reader: they take
/// only unpadded frames with the reader between frames and outside a header
/// block (`reader_idle`).
inline bool reader_accepts(const frame::Reader& reader, std::uint32_t length, frame::Type type,
                           std::uint32_t stream) noexcept {
    return detail::check_size_and_stream(frame::FrameHeader{length, type, 0, stream, false}, reader.max_frame_size())
        .ok();
}

inline void begin_fast_data(Connection::Impl::FastData& f, const DataHeader& h) noexcept {
    f.stream = h.stream;
    f.length = h.length;
    f.left = h.length;
    f.end_stream = h.end_stream;
    f.first = true;
    f.active = true;
}

}  // namespace

// receive() comes in two layers. The first one takes, without a call (so
// without a stack frame), the two pieces a writev() peer sends a DATA frame
// in: its 9-octet header alone, or payload of the frame in progress, each in
// the common case (see quick_data_header() and quick_data_payload()). It
// changes nothing unless it takes the call whole; everything else goes to
// receive_general(), which handles any input.
std::span<const Event> Connection::Impl::receive(std::span<const std::uint8_t> bytes) {
    input_calls += !bytes.empty();
    bytes_received += bytes.size();
    // What receive_general() would first do with state to clean up: upgrade
    // store, arena, deferred events, a closed connection, the preface.
    if (arena_dirty || closed || bytes.empty() || !deferred.empty() || !upgrade.empty() ||
        (!is_client() && preface_matched < frame::client_preface.size())) [[unlikely]]
        return receive_general(bytes);
    if (fast_data.active) return receive_data_payload(bytes);
    if (quick_data_header(bytes)) return {events.data(), 0};
    return receive_general(bytes);
}

// Out of line: the header's path above then needs no saved registers.
// Flattened: the payload's path inlines quick_data_payload() and the
// append of its event whole (the compiler's own choice varies with the
// size of the event types, and a call here costs as much as the rest).
[[gnu::noinline, gnu::flatten]] std::span<const Event> Connection::Impl::receive_data_payload(std::span<const std::uint8_t> bytes) {
    if (quick_data_payload(bytes)) return {events.data(), 1};  // its DataReceived
    return receive_general(bytes);
}

// A DATA frame header arriving alone at a frame boundary: what
// fast_data_start() does, for a frame with payload to come.
inline bool Connection::Impl::quick_data_header(std::span<const std::uint8_t> bytes) {
    if (bytes.size() != frame::header_size || !reader_idle) return false;
    const DataHeader h = read_data_header(bytes.data());
    if (!h.plain || h.length == 0 || !reader_accepts(reader, h.length, frame::Type::data, h.stream)) return false;
    io_started = true;
    events.clear();
    begin_fast_data(fast_data, h);
    count_received(0x0, h.length);  // (a trace turns the fast paths off: reader_idle)
    return true;
}

// Payload of the fast-path frame in progress, no more than it has left:
// what fast_data_chunk() does in its common case, when the chunk neither
// ends the stream nor makes a stream owed a WINDOW_UPDATE (both of which
// call out), and this receive()'s event fits in the list as it is.
inline bool Connection::Impl::quick_data_payload(std::span<const std::uint8_t> bytes) {
    FastData& f = fast_data;
    if (bytes.size() > f.left || events.capacity() < 2) return false;
    const auto n = static_cast<std::uint32_t>(bytes.size());
    const bool last = n == f.left;
    if (last && f.end_stream) return false;
    Stream* s = data_stream;
    const std::uint32_t flc = f.first ? f.length : 0;
    if (f.first) {
        if (!s || s->id != f.stream) s = find(f.stream);
        if (!data_frame_fits(s, flc)) return false;
    } else if (!s || s->id != data_stream_id) {
        return false;
    }
    const std::uint64_t received = s->data_received + n;
    if (past_content_length(s, received)) return false;
    const bool automatic = cfg.flow_control != FlowControl::manual;
    std::uint32_t recv_credit = s->recv_credit;
    if (flc > 0 && automatic) {
        // credit(): a stream that would now be owed a WINDOW_UPDATE goes the
        // general way (it joins a list, which may allocate).
        recv_credit += static_cast<std::uint32_t>(std::min<std::uint64_t>(flc, UINT32_MAX - recv_credit));
        const std::uint32_t target = std::min(local.initial_window_size, local_sent.initial_window_size);
        if (!s->has(sf::in_wu) && detail::update_due(recv_credit, target)) return false;
    }
    // Taken: from here on what receive_general() would do.
    io_started = true;
    events.clear();
    f.left -= n;
    f.first = false;
    if (last) f.active = false;
    if (flc > 0) {
        ++useful_frames;
        conn_recv_window -= flc;
        s->recv_window -= static_cast<std::int32_t>(flc);
        data_stream = s;
        data_stream_id = f.stream;
        if (automatic) {
            conn_credit += flc;
            s->recv_credit = recv_credit;
        } else {
            s->unconsumed += flc;
            conn_unconsumed += flc;
        }
    }
    s->data_received = received;
    events.emplace_back(DataReceived{s->id, bytes, flc, false, s->user_data});
    return true;
}

// Views handed out by the previous call die now, except the fields of a
// header block still being received: they were allocated after its mark,
// and no other frame can interleave with the block (RFC 9113 §6.10), so
// everything before the mark is the previous calls' and goes, however the
// peer splits its blocks across calls. Only reader items and the HEADERS
// fast path put anything in the arena (`arena_dirty`).
void Connection::Impl::release_events() noexcept {
    if (block.active) {
        arena.keep_from(block.fields_from);
        return;
    }
    arena.reset();
    arena_dirty = false;
}

[[gnu::noinline]] std::span<const Event> Connection::Impl::receive_general(std::span<const std::uint8_t> bytes) {
    // h2c upgrade (upgrade.cpp): too late once bytes arrived; the upgraded
    // request's copy is freed once its events' views have expired.
    if (!bytes.empty()) io_started = true;
    if (!upgrade.empty()) [[unlikely]] upgrade.on_receive();
    shed_events(events, events_peak);
    release_events();
    if (!bytes.empty()) follow_load();
    live_at_call = account.live();
    // Limits::max_queued_control_frames looks at the answers still unsent
    // from earlier calls: those the caller had the chance to write.
    ctrl_stale = ctrl_frames;
    if (!deferred.empty()) [[unlikely]] {
        events.insert(events.end(), deferred.begin(), deferred.end());
        shed_events(deferred, deferred_peak);
    }
    if (closed) return events;
    in_receive = true;
    if (!is_client() && preface_matched < frame::client_preface.size()) [[unlikely]] {
        bytes = bytes.subspan(consume_preface(bytes));
        if (closed || preface_matched < frame::client_preface.size()) {
            in_receive = false;
            return events;
        }
    }
    while (!closed && memory_budget_ok()) {
        if (fast_data.active) {
            // Like the reader: no empty chunk while payload is still to come.
            if (bytes.empty() && fast_data.left > 0) break;
            const std::size_t n = std::min<std::size_t>(fast_data.left, bytes.size());
            fast_data_chunk(bytes.first(n));
            bytes = bytes.subspan(n);
            continue;
        }
        if (bytes.empty()) break;  // the reader returns items only as input completes them
        if (reader_idle && bytes.size() >= frame::header_size && (fast_data_start(bytes) || fast_headers(bytes)))
            continue;
        const ReadStep step = read_frame(bytes);
        bytes = bytes.subspan(step.consumed);
        if (!step.more) break;
    }
    if (!closed) memory_budget_ok();  // the frame in progress may have taken its buffer
    in_receive = false;
    return events;
}

// One item from the reader (kept out of receive() so the DATA path stays
// small): the octets it took, and false when it needs more input.
[[gnu::noinline]] Connection::Impl::ReadStep Connection::Impl::read_frame(std::span<const std::uint8_t> bytes) {
    arena_dirty = true;
    const frame::ReadResult r = reader.read(bytes);
    const bool more = r.status != frame::ReadStatus::need_input;
    if (more) {
        // A frame counts once: whole, or at its first DATA chunk. One the
        // reader rejects as a connection error does not count.
        if (r.status != frame::ReadStatus::connection_error && (r.status != frame::ReadStatus::data || r.data.first)) {
            count_received(static_cast<std::uint8_t>(r.header.type), r.header.length);
            if (tracer) [[unlikely]]
                trace_received(r.header, r.status == frame::ReadStatus::frame ? &r.frame : nullptr);
        }
        dispatch(r);
        if (trace_owed) [[unlikely]] finish_received_trace({}, false);  // the block did not decode
    }
    // Only reader.read() moves the reader, and the peer's SETTINGS only
    // arrive through it: what fast_data_start() needs is known until the next
    // call.
    // With a trace attached every frame takes this path, where it is traced:
    // the fast paths then need no test of their own.
    reader_idle = peer_settings_seen && reader.at_frame_boundary() && !reader.in_header_block() && !reader.failed() &&
                  !tracer;
    return ReadStep{r.consumed, more};
}

// DATA fast path. The bulk of a connection's input is DATA, and the reader's
// general result type costs more than the frame itself; so an unpadded DATA
// frame whose header arrives whole at a frame boundary (`reader_idle`: the
// reader holds no part of a frame, and the peer's SETTINGS came first) is
// taken here, with the reader's own checks for it (RFC 9113 §4.2 size, §6.1
// stream 0, §6.2 and §6.10 no DATA inside a header block), and its payload
// cut into chunks exactly as the reader would cut it. Anything else
// (padding, a split header, an error) goes to the reader.
inline bool Connection::Impl::fast_data_start(std::span<const std::uint8_t>& bytes) {
    const DataHeader h = read_data_header(bytes.data());
    if (!h.plain || !reader_accepts(reader, h.length, frame::Type::data, h.stream)) return false;
    begin_fast_data(fast_data, h);
    count_received(0x0, h.length);
    bytes = bytes.subspan(frame::header_size);
    return true;
}

// HEADERS fast path: a HEADERS frame that lies whole in the input at a frame
// boundary, ends its header block (END_HEADERS) and has neither padding nor
// priority fields is the field block fragment itself, so it goes straight to
// on_headers() with the reader's checks for it (RFC 9113 §4.2 size, §6.2
// stream 0; `reader_idle` means no header block is open, §6.10). The reader
// stays where it is: between frames, outside a block. Anything else takes
// the reader's path.
inline bool Connection::Impl::fast_headers(std::span<const std::uint8_t>& bytes) {
    const std::uint8_t* p = bytes.data();
    constexpr std::uint8_t shape = frame::flags::padded | frame::flags::priority | frame::flags::end_headers;
    if (p[3] != static_cast<std::uint8_t>(frame::Type::headers) || (p[4] & shape) != frame::flags::end_headers)
        return false;
    const std::uint32_t length = std::uint32_t{p[0]} << 16 | std::uint32_t{p[1]} << 8 | p[2];
    const std::uint32_t stream =
        (std::uint32_t{p[5]} << 24 | std::uint32_t{p[6]} << 16 | std::uint32_t{p[7]} << 8 | p[8]) & 0x7fffffffu;
    if (bytes.size() - frame::header_size < length || !reader_accepts(reader, length, frame::Type::headers, stream))
        return false;
    frame::Headers h;
    h.stream_id = stream;
    h.end_stream = (p[4] & frame::flags::end_stream) != 0;
    h.fragment = bytes.subspan(frame::header_size, length);
    count_received(0x1, length);
    bytes = bytes.subspan(frame::header_size + length);
    arena_dirty = true;  // the block's fields go to the arena
    on_headers(h);
    return true;
}

// One chunk of the fast-path DATA frame: what on_data() does with it, with
// the common case (a flow-controlled frame within both windows on a stream
// that may receive, no content-length trouble) done here without the
// general bookkeeping. Every other case is handed to on_data() untouched, so
// errors and their events are the same whichever path a frame takes.
inline void Connection::Impl::fast_data_chunk(std::span<const std::uint8_t> data) {
    FastData& f = fast_data;
    const bool first = f.first;
    f.first = false;
    f.left -= static_cast<std::uint32_t>(data.size());
    const bool last = f.left == 0;
    if (last) f.active = false;
    const bool end_stream = last && f.end_stream;
    const std::uint32_t flc = first ? f.length : 0;
    Stream* s = data_stream;
    if (first) {
        // RFC 9113 §6.9.1: the frame counts against both windows; §5.1: DATA
        // is allowed in "open" and "half-closed (local)"; §8.1: after the
        // final header section. The cached stream is the last DATA frame's
        // (data_stream): a released stream object is recycled with id 0 and
        // reused only under a new id, and trim() drops the cache before it
        // frees one, so a matching id proves it is the same live stream.
        if (!s || s->id != f.stream) s = find(f.stream);
        if (flc == 0 || !data_frame_fits(s, flc)) [[unlikely]] {
            on_data_chunk(f.stream, data, first, last, end_stream, flc);
            return;
        }
    } else if (!s || s->id != data_stream_id) {
        return;  // the frame is dropped (see on_data)
    }
    // RFC 9113 §8.1.1: content-length trouble goes the general way.
    const std::uint64_t received = s->data_received + data.size();
    if (past_content_length(s, received) || (end_stream && short_of_content_length(s, received))) [[unlikely]] {
        on_data_chunk(f.stream, data, first, last, end_stream, flc);
        return;
    }
    if (first) {
        ++useful_frames;
        conn_recv_window -= flc;
        s->recv_window -= static_cast<std::int32_t>(flc);
        data_stream = s;
        data_stream_id = f.stream;
        // The window the frame took goes with its first event.
        if (cfg.flow_control == FlowControl::manual) {
            s->unconsumed += flc;
            conn_unconsumed += flc;
        } else {
            credit(s, flc);
        }
    }
    s->data_received = received;
    report(DataReceived{s->id, data, flc, end_stream, s->user_data});
    if (end_stream) {
        data_stream = nullptr;
        peer_end_stream(s);
    }
}

std::size_t Connection::Impl::consume_preface(std::span<const std::uint8_t> in) {
    // RFC 9113 §3.4: the server checks the client preface octet by octet; an
    // invalid preface is a connection PROTOCOL_ERROR.
    const std::string_view pf = frame::client_preface;
    std::size_t i = 0;
    while (preface_matched < pf.size() && i < in.size()) {
        if (in[i] != static_cast<std::uint8_t>(pf[preface_matched])) {
            connection_error(ErrorCode::protocol_error, "invalid connection preface");
            return i;
        }
        ++preface_matched;
        ++i;
    }
    return i;
}

detail::StreamState Connection::Impl::implied_state(std::uint32_t id) const noexcept {
    // RFC 9113 §5.1.1: ids only grow, so a stream not in the map is idle
    // above the highest id its initiator used and closed below.
    const std::uint32_t highest = is_local_id(id) ? highest_local_sent : highest_peer_id;
    return id > highest ? StreamState::idle : StreamState::closed;
}

void Connection::Impl::dispatch(const frame::ReadResult& r) {
    if (r.status == frame::ReadStatus::connection_error) {
        connection_error(r.connection_error.code, r.connection_error.reason);
        return;
    }
    // RFC 9113 §3.4: the peer's preface ends with SETTINGS, its first frame.
    if (!peer_settings_seen) {
        const bool settings = r.status == frame::ReadStatus::frame && std::holds_alternative<frame::Settings>(r.frame) &&
                              !std::get<frame::Settings>(r.frame).ack;
        if (!settings) {
            connection_error(ErrorCode::protocol_error, "first frame is not SETTINGS");
            return;
        }
    }
    switch (r.status) {
    case frame::ReadStatus::stream_error: on_frame_stream_error(r.stream_error, r.header.type); return;
    case frame::ReadStatus::data: on_data(r.data); return;
    default: break;
    }
    std::visit(
        [&](const auto& f) {
            using F = std::decay_t<decltype(f)>;
            if constexpr (std::is_same_v<F, frame::Headers>) {
                on_headers(f);
            } else if constexpr (std::is_same_v<F, frame::Continuation>) {
                on_continuation(f);
            } else if constexpr (std::is_same_v<F, frame::PushPromise>) {
                on_push_promise(f);
            } else if constexpr (std::is_same_v<F, frame::Settings>) {
                on_settings(f);
            } else if constexpr (std::is_same_v<F, frame::Ping>) {
                on_ping(f);
            } else if constexpr (std::is_same_v<F, frame::Goaway>) {
                on_goaway(f);
            } else if constexpr (std::is_same_v<F, frame::WindowUpdate>) {
                on_window_update(f);
            } else if constexpr (std::is_same_v<F, frame::RstStream>) {
                on_rst_stream(f);
            } else if constexpr (std::is_same_v<F, frame::Priority>) {
                on_priority(f);
            } else if constexpr (std::is_same_v<F, frame::Altsvc>) {
                ++useful_frames;
                report(AltsvcReceived{f.stream_id, keep(f.origin), keep(f.field_value), user_data_of(f.stream_id)});
            } else if constexpr (std::is_same_v<F, frame::Origin>) {
                ++useful_frames;
                std::size_t n = 0;
                for (auto it = f.origins.begin(); it != f.origins.end(); ++it) ++n;
                auto* list = arena.allocate_array<std::string_view>(n ? n : 1);
                std::size_t i = 0;
                for (const std::string_view o : f.origins) list[i++] = keep(o);
                report(OriginReceived{std::span<const std::string_view>(list, n)});
            } else if constexpr (std::is_same_v<F, frame::PriorityUpdate>) {
                on_priority_update(f);
            } else if constexpr (std::is_same_v<F, frame::Unknown>) {
                // RFC 9113 §5.5: unknown frame types are ignored (and reported).
                count_empty_frame();
                if (!closed)
                    report(UnknownFrameReceived{f.type, f.flags, f.stream_id, keep(f.payload), user_data_of(f.stream_id)});
            } else {
                count_empty_frame();  // frame::Ignored: a malformed ALTSVC/ORIGIN
            }
        },
        r.frame);
}

void Connection::Impl::on_priority_update(const frame::PriorityUpdate& f) {
    // RFC 9218 §7.1, server side (the reader rejects the frame from a server,
    // and on a stream other than 0 or for stream 0). It moves nothing the
    // peer pays for, so a flood of them is an empty-frame flood
    // (Limits::max_empty_frames); each costs one parse, and a find or a scan
    // of the short list of updates for idle streams.
    count_empty_frame();
    if (closed) return;
    const std::uint32_t id = f.prioritized_stream_id;
    const std::optional<Priority> p = parse_priority(f.field_value);
    Stream* s = find(id);
    report(PriorityUpdated{id, keep(f.field_value), s ? s->user_data : nullptr, p});
    // A value that does not parse "MAY be treated as a connection error"
    // (§7): ignoring it is kinder to clients that send extensions we do not
    // read, and costs us nothing.
    if (!p) return;
    if (s) {
        // §7.1: an update for a stream whose response has ended is
        // discarded; one the application overrode stays its choice.
        if (!(s->prio & detail::prio_pinned) && s->state != StreamState::closed &&
            s->state != StreamState::half_closed_local)
            change_priority(s, *p);
        return;
    }
    if (implied_state(id) != StreamState::idle) return;  // closed: discarded
    if (is_local_id(id)) {
        // §7.1: no update for a push stream not promised yet.
        connection_error(ErrorCode::protocol_error, "PRIORITY_UPDATE for an idle push stream");
        return;
    }
    // §7.1: "the most recently received PRIORITY_UPDATE" for a stream not
    // opened yet applies once it opens.
    for (IdlePriority& e : idle_priorities) {
        if (e.id == id) {
            e.priority = *p;
            return;
        }
    }
    // §7.1: idle streams with a priority plus active ones MUST NOT exceed
    // our SETTINGS_MAX_CONCURRENT_STREAMS.
    if (idle_priorities.size() + active_peer >= cfg.limits.max_concurrent_streams) {
        connection_error(ErrorCode::protocol_error, "PRIORITY_UPDATE for more streams than SETTINGS_MAX_CONCURRENT_STREAMS");
        return;
    }
    // Past our own bound (when that setting is large) the update is dropped:
    // §7.1 lets local policy bound what is held.
    if (idle_priorities.size() < max_idle_priorities) idle_priorities.push_back(IdlePriority{id, *p});
}

Priority Connection::Impl::opening_priority(Stream* s, std::span<const Field> fields) {
    // RFC 9218 §5: the request's Priority field (its lines, in order, as one
    // Dictionary; one that does not parse leaves the defaults, §4).
    Priority p{};
    for (const Field& f : fields) {
        if (f.name.size() != 8 || f.name != "priority") continue;
        const std::optional<Priority> q = parse_priority(f.value, p);
        if (!q) {
            p = Priority{};
            break;
        }
        p = *q;
    }
    // §7.1: a PRIORITY_UPDATE received before the request overrides it.
    // Updates for lower ids are for streams now closed (RFC 9113 §5.1.1).
    if (!idle_priorities.empty()) [[unlikely]] {
        std::size_t kept = 0;
        for (const IdlePriority& e : idle_priorities) {
            if (e.id == s->id) p = e.priority;
            else if (e.id > s->id) idle_priorities[kept++] = e;
        }
        idle_priorities.resize(kept);
    }
    s->set_priority(p);
    return p;
}

void Connection::Impl::count_empty_frame() {
    // Limits::max_empty_frames: frames that carry nothing still cost work.
    // "Useful" frames are those that move something: a header block, DATA
    // with payload or END_STREAM, settings, a reset of a live stream, a
    // WINDOW_UPDATE that gives back window we used (flow_control.cpp).
    ++empty_frames;
    const std::uint64_t allowed = cfg.limits.max_empty_frames + useful_frames * cfg.limits.max_empty_frames / 1000;
    if (empty_frames > allowed) {
        trip(Limit::max_empty_frames);
        connection_error(ErrorCode::enhance_your_calm, "too many empty frames");
    }
}

void Connection::Impl::stream_error(std::uint32_t id, Stream* s, ErrorCode code, std::string_view reason,
                                    InvalidHeader bad) {
    // RFC 9113 §5.4.2: RST_STREAM with the code; the stream is closed and its
    // late frames ignored (it enters the ledger). The StreamReset comes
    // before the stream's StreamClosed (reset_local releases it). The reset
    // may end the connection (Limits::max_rapid_resets): its
    // ConnectionTerminated then says which header section was to blame.
    rejecting = bad;
    if (!closed) report(StreamReset{id, code, Initiator::local, false, reason, bad, s ? s->user_data : nullptr});
    if (s) {
        reset_local(s, code, true);
    } else {
        queue_rst(id, code);
        ledger.add(id);
    }
    rejecting = {};
    if (closed) return;
    control_budget_ok();
}

void Connection::Impl::on_frame_stream_error(const StreamError& e, frame::Type type) {
    // The reader found a stream error in the frame itself (PRIORITY length or
    // self-dependency, WINDOW_UPDATE increment 0).
    if (type == frame::Type::priority) count_empty_frame();
    if (closed) return;
    Stream* s = find(e.stream_id);
    if (!s) {
        if (implied_state(e.stream_id) == StreamState::idle) {
            // No RST_STREAM on an idle stream (RFC 9113 §6.4), and §5.1 makes
            // anything but HEADERS/PRIORITY there a connection error.
            connection_error(type == frame::Type::priority ? e.code : ErrorCode::protocol_error, e.reason);
            return;
        }
        if (ledger.contains(e.stream_id)) return;
    } else if (s->state == StreamState::idle) {
        connection_error(ErrorCode::protocol_error, e.reason);
        return;
    }
    stream_error(e.stream_id, s, e.code, e.reason);
}

// --- DATA (RFC 9113 §6.1) ----------------------------------------------------

void Connection::Impl::on_data(const frame::DataChunk& d) {
    const std::uint32_t flc = d.flow_controlled_length;
    if (d.first) {
        if (flc == 0 && !d.end_stream) count_empty_frame();
        else ++useful_frames;
        if (closed) return;
        // RFC 9113 §6.9.1: the whole frame counts against the connection
        // window, whatever becomes of the stream.
        if (!within_connection_window(flc)) {
            connection_error(ErrorCode::flow_control_error, "DATA exceeds the connection window");
            return;
        }
        conn_recv_window -= flc;
        data_stream = nullptr;
        data_stream_id = d.stream_id;
        Stream* s = find(d.stream_id);
        if (!s) {
            credit(nullptr, flc);  // never delivered: the window comes back at once
            if (implied_state(d.stream_id) == StreamState::idle) {
                connection_error(ErrorCode::protocol_error, "DATA on an idle stream");
                return;
            }
            // Closed: ignored after our RST_STREAM (§5.1) or when above our
            // GOAWAY (§6.8); otherwise STREAM_CLOSED.
            if (ledger.contains(d.stream_id) || (!is_local_id(d.stream_id) && d.stream_id > goaway_last_sent)) return;
            stream_error(d.stream_id, nullptr, ErrorCode::stream_closed, "DATA on a closed stream");
            return;
        }
        const detail::Transition t = detail::transition(s->state, detail::StreamInput::recv_data);
        if (t.outcome == detail::Outcome::connection_error) {
            credit(nullptr, flc);
            connection_error(t.code, "DATA on a stream in a state that forbids it");
            return;
        }
        if (t.outcome == detail::Outcome::stream_error) {
            credit(nullptr, flc);
            stream_error(s->id, s, t.code, "DATA after END_STREAM");
            return;
        }
        // RFC 9113 §8.1: DATA comes after the final header section.
        if (!expects_body(s)) {
            credit(nullptr, flc);
            stream_error(s->id, s, ErrorCode::protocol_error,
                         s->recv_phase == detail::RecvPhase::headers ? "DATA before the final header section"
                                                                      : "DATA after trailers");
            return;
        }
        // RFC 9113 §6.9.1: the peer may not send more than the stream window.
        if (!within_stream_window(s, flc)) {
            credit(nullptr, flc);
            stream_error(s->id, s, ErrorCode::flow_control_error, "DATA exceeds the stream window");
            return;
        }
        s->recv_window -= static_cast<std::int32_t>(flc);
        data_stream = s;
    }
    Stream* s = data_stream;
    if (!s || s->id != data_stream_id) return;  // dropped (see above)

    // The window the frame took goes with the first event reported for it.
    auto hand_over = [&](std::uint32_t n) {
        if (n == 0) return;
        if (cfg.flow_control == FlowControl::manual) {
            s->unconsumed += n;
            conn_unconsumed += n;
        } else {
            credit(s, n);
        }
    };
    s->data_received += d.data.size();
    // RFC 9113 §8.1.1: DATA past content-length, or END_STREAM short of it,
    // makes the message malformed.
    const bool over = past_content_length(s, s->data_received);
    const bool short_end = d.end_stream && short_of_content_length(s, s->data_received);
    if (over) {
        credit(nullptr, flc);
        data_stream = nullptr;
        stream_error(s->id, s, ErrorCode::protocol_error, "DATA exceeds content-length");
        return;
    }
    if (!d.data.empty() || flc > 0 || (d.end_stream && !short_end)) {
        hand_over(flc);
        report(DataReceived{s->id, d.data, flc, d.end_stream && !short_end, s->user_data});
    }
    if (short_end) {
        data_stream = nullptr;
        stream_error(s->id, s, ErrorCode::protocol_error, "END_STREAM before content-length octets of DATA");
        return;
    }
    if (d.end_stream) {
        data_stream = nullptr;
        peer_end_stream(s);
    }
}

// on_data() for a chunk of a fast-path frame (out of line: the unusual case).
[[gnu::noinline]] void Connection::Impl::on_data_chunk(std::uint32_t stream, std::span<const std::uint8_t> data,
                                                       bool first, bool last, bool end_stream, std::uint32_t flc) {
    on_data(frame::DataChunk{.stream_id = stream, .data = data, .first = first, .last = last, .end_stream = end_stream,
                             .flow_controlled_length = flc, .pad_length = {}});
}

void Connection::Impl::peer_end_stream(Stream* s) {
    const detail::Transition t = detail::transition(s->state, detail::StreamInput::recv_end_stream);
    report(StreamEnded{s->id, s->user_data});
    s->close_by = Initiator::peer;  // if this closes it, the peer ended it last
    if (t.outcome == detail::Outcome::accept) set_state(s, t.next);
}

// --- SETTINGS (RFC 9113 §6.5) ------------------------------------------------

void Connection::Impl::on_settings(const frame::Settings& f) {
    if (f.ack) {
        ++useful_frames;
        on_settings_ack();
        return;
    }
    if (f.entries.empty()) count_empty_frame();
    else ++useful_frames;
    if (closed) return;
    const bool first = !peer_settings_seen;
    peer_settings_seen = true;
    // RFC 9113 §6.5.3: values are processed in the order they appear. A
    // change of SETTINGS_INITIAL_WINDOW_SIZE reaches every stream, so the
    // frame's entries for it are applied together, once: windows move by the
    // last value, and the check that none passes 2^31-1 (§6.9.2) uses the
    // largest, which is where any of them, in order, would have failed
    // first. The other settings do not depend on it.
    bool window_changed = false;
    std::uint32_t window_last = 0, window_max = 0;
    for (const Setting s : f.entries) {
        switch (s.id) {
        case SettingId::header_table_size:
            encoder.set_peer_max_table_size(s.value);
            peer.header_table_size = s.value;
            break;
        case SettingId::initial_window_size:
            window_max = window_changed ? std::max(window_max, s.value) : s.value;
            window_last = s.value;
            window_changed = true;
            break;
        case SettingId::no_rfc7540_priorities:
            // RFC 9218 §2.1: said in the first SETTINGS or never; a receiver
            // that sees it change MAY treat that as a PROTOCOL_ERROR.
            if (!first && (s.value != 0) != peer.no_rfc7540_priorities) {
                if (window_changed) apply_peer_initial_window(window_last, window_max);
                if (!closed) connection_error(ErrorCode::protocol_error, "SETTINGS_NO_RFC7540_PRIORITIES changed");
                return;
            }
            peer.apply(s);
            break;
        case SettingId::enable_connect_protocol:
            // RFC 8441 §3: once 1, it MUST NOT go back to 0.
            if (peer.enable_connect_protocol && s.value == 0) {
                // An error in a window entry before it comes first (§6.5.3).
                if (window_changed) apply_peer_initial_window(window_last, window_max);
                if (!closed) connection_error(ErrorCode::protocol_error, "SETTINGS_ENABLE_CONNECT_PROTOCOL went back to 0");
                return;
            }
            peer.apply(s);
            break;
        default:
            peer.apply(s);  // unknown identifiers are ignored (§6.5.2)
            break;
        }
    }
    if (window_changed) {
        apply_peer_initial_window(window_last, window_max);
        if (closed) return;
    }
    // RFC 9113 §6.5.3: acknowledge once applied.
    std::uint8_t* p = ctrl_room(frame::header_size);
    frame::write_header(p, frame::FrameHeader{0, frame::Type::settings, frame::flags::ack, 0, false});
    ++ctrl_frames;
    if (!control_budget_ok()) return;
    report(SettingsReceived{peer});
}

// --- PING (RFC 9113 §6.7) ----------------------------------------------------

void Connection::Impl::on_ping(const frame::Ping& f) {
    if (!f.ack) {
        // RFC 9113 §6.7: answer with an identical payload and ACK set.
        queue_ping(true, f.opaque_data);
        if (!control_budget_ok()) return;
        report(PingReceived{f.opaque_data});
        return;
    }
    if (f.opaque_data == shutdown_ping && shutdown_phase == Shutdown::announced) {
        // The round trip is done: every stream the peer opened before seeing
        // our first GOAWAY has arrived. Announce the real last stream.
        shutdown_phase = Shutdown::final;
        queue_goaway(last_peer_processed, ErrorCode::no_error, {});
        maybe_finish_shutdown();
        return;
    }
    for (std::size_t i = 0; i < pings.size(); ++i) {
        if (pings[i] != f.opaque_data) continue;
        pings.erase(i);
        report(PingAcknowledged{f.opaque_data});
        return;
    }
    // An ACK for nothing we sent: ignored.
}

// --- GOAWAY (RFC 9113 §6.8) --------------------------------------------------

void Connection::Impl::on_goaway(const frame::Goaway& f) {
    ++useful_frames;
    // "Endpoints MUST NOT increase the value they send in the last stream
    // identifier": keep the smallest.
    const bool lowered = !goaway_received || f.last_stream_id < goaway_last_received;
    goaway_received = true;
    goaway_last_received = std::min(goaway_last_received, f.last_stream_id);
    const std::span<const std::uint8_t> debug = keep(f.debug_data);
    report(GoawayReceived{f.last_stream_id, f.error_code, debug});
    // Streams we opened above last_stream_id were not processed: they may be
    // retried on another connection (RFC 9113 §8.7). Queued requests too.
    // Only a lower last id can refuse more; the visit of every stream is
    // paid from Limits::stream_walk_budget.
    std::pmr::vector<std::uint32_t> refused(mr);
    if (lowered && std::uint64_t{next_local_id} > std::uint64_t{f.last_stream_id} + 2) {
        if (!pay_stream_walk(streams.size())) return;
        streams.for_each([&](const Stream* s) {
            if (s->has(sf::local) && s->id > goaway_last_received && s->state != StreamState::closed)
                refused.push_back(s->id);
        });
    }
    std::sort(refused.begin(), refused.end());
    for (const std::uint32_t id : refused) {
        // Looked up again: ending one stream may end others (the promises
        // it carried, or all of them with the connection).
        Stream* s = find(id);
        if (!s || s->state == StreamState::closed) continue;
        ++counters.streams_refused.peer;
        report(StreamReset{id, ErrorCode::refused_stream, Initiator::peer, true, "not processed by the peer (GOAWAY)",
                           {}, s->user_data});
        drop_stream(s, ErrorCode::refused_stream, Initiator::peer);
    }
    if (f.error_code != ErrorCode::no_error) {
        const std::string_view reason =
            debug.empty() ? to_string(f.error_code)
                          : std::string_view(reinterpret_cast<const char*>(debug.data()), debug.size());
        terminate(f.error_code, Initiator::peer, f.last_stream_id, reason);
        return;
    }
    maybe_finish_shutdown();
}

// --- RST_STREAM (RFC 9113 §6.4), PRIORITY (§6.3) -------------------------------

void Connection::Impl::on_rst_stream(const frame::RstStream& f) {
    Stream* s = find(f.stream_id);
    if (!s) {
        // RFC 9113 §6.4: RST_STREAM on an idle stream is a connection
        // PROTOCOL_ERROR; on a closed one it is ignored (and changes nothing:
        // Limits::max_empty_frames).
        if (implied_state(f.stream_id) == StreamState::idle)
            connection_error(ErrorCode::protocol_error, "RST_STREAM on an idle stream");
        else count_empty_frame();
        return;
    }
    ++useful_frames;
    const detail::Transition t = detail::transition(s->state, detail::StreamInput::recv_rst_stream);
    if (t.outcome == detail::Outcome::connection_error) {
        connection_error(t.code, "RST_STREAM on an idle stream");
        return;
    }
    if (s->state == StreamState::closed) return;
    ++counters.streams_reset.peer;
    if (f.error_code == ErrorCode::refused_stream) ++counters.streams_refused.peer;
    report(StreamReset{s->id, f.error_code, Initiator::peer, f.error_code == ErrorCode::refused_stream, {},
                       {}, s->user_data});
    const bool abort = !s->has(sf::local);
    const bool unanswered = !s->has(sf::final_submitted);
    drop_stream(s, f.error_code, Initiator::peer);
    if (abort) note_peer_abort(f.stream_id, unanswered);  // last: it may end the connection
}

void Connection::Impl::on_priority(const frame::Priority& f) {
    // RFC 9113 §5.3.2: PRIORITY is parsed (the reader checked its length and
    // self-dependency) and otherwise ignored, in any state, idle included.
    (void)f;
    count_empty_frame();
}

}  // namespace h2wire
