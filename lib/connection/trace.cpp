// Observability: the frame trace (FrameTrace) and what only it needs, off
// the hot paths. The counters are kept in place where frames are read and
// built (receive.cpp, output/scheduler.cpp); the frames built in bulk (the
// committed control frames and header blocks, and what body sources build)
// are counted here by walking their headers.
#include <cstring>
#include <new>

#include "connection/connection_impl.hpp"
#include "frame/parse.hpp"

namespace h2wire {

namespace {

// The fields of TracedFrame that a payload carries (RFC 9113 §6.4, §6.6,
// §6.8, §6.9), read from the payload of a frame we built. Our own frames
// are well formed; the lengths are checked all the same.
void read_details(TracedFrame& t, const std::uint8_t* payload) noexcept {
    switch (t.frame_type()) {
        case frame::Type::rst_stream:
            if (t.length >= 4) t.error_code = static_cast<ErrorCode>(detail::read_u32(payload));
            break;
        case frame::Type::goaway:
            if (t.length >= 8) {
                t.related_stream = detail::read_u31(payload);
                t.error_code = static_cast<ErrorCode>(detail::read_u32(payload + 4));
            }
            break;
        case frame::Type::window_update:
            if (t.length >= 4) t.window_increment = detail::read_u31(payload);
            break;
        case frame::Type::push_promise: {
            const std::size_t pad = t.has(frame::flags::padded) ? 1 : 0;
            if (t.length >= pad + 4) t.related_stream = detail::read_u31(payload + pad);
            break;
        }
        default:
            break;
    }
}

TracedFrame from_header(const frame::FrameHeader& h, Direction d) noexcept {
    TracedFrame t;
    t.direction = d;
    t.type = static_cast<std::uint8_t>(h.type);
    t.flags = h.flags;
    t.stream = h.stream_id;
    t.length = h.length;
    return t;
}

bool ends_header_block(std::uint8_t type, std::uint8_t flags) noexcept {
    const auto t = static_cast<frame::Type>(type);
    return (t == frame::Type::headers || t == frame::Type::push_promise || t == frame::Type::continuation) &&
           (flags & frame::flags::end_headers) != 0;
}

}  // namespace

std::string_view to_string(Direction d) noexcept {
    return d == Direction::sent ? "send" : "recv";
}

std::string_view to_string(Limit l) noexcept {
    switch (l) {
        case Limit::max_header_list_size:
            return "max_header_list_size";
        case Limit::max_header_block_size:
            return "max_header_block_size";
        case Limit::max_continuation_frames:
            return "max_continuation_frames";
        case Limit::max_concurrent_streams:
            return "max_concurrent_streams";
        case Limit::max_field_size:
            return "max_field_size";
        case Limit::max_queued_control_frames:
            return "max_queued_control_frames";
        case Limit::max_reset_streams:
            return "max_reset_streams";
        case Limit::max_rapid_resets:
            return "max_rapid_resets";
        case Limit::max_buffered_per_stream:
            return "max_buffered_per_stream";
        case Limit::max_queued_requests:
            return "max_queued_requests";
        case Limit::max_empty_frames:
            return "max_empty_frames";
        case Limit::max_informational_responses:
            return "max_informational_responses";
        case Limit::max_connection_memory:
            return "max_connection_memory";
        case Limit::stream_walk_budget:
            return "stream_walk_budget";
        case Limit::max_reserved_streams:
            return "max_reserved_streams";
    }
    return "unknown limit";
}

// --- attaching -------------------------------------------------------------------

void Connection::Impl::set_trace(FrameTrace* t) {
    // Detached: what the trace needed goes back (on_frame() may not detach
    // it, so nothing of it is in use).
    if (!t) drop_trace_state();
    if (t && !t->wants_headers()) drop_trace_decoder();
    if (t && !trace_state) {
        void* at = mr->allocate(sizeof(detail::TraceState), alignof(detail::TraceState));
        trace_state = ::new (at) detail::TraceState(mr);
    }
    // Sent header lists need a decoder in step with our encoder: one that
    // has seen every block, so only before the first one goes out.
    const bool fresh = !block_committed && counters.sent.frames[frame_type_bucket(0x1)] == 0 &&
                       counters.sent.frames[frame_type_bucket(0x5)] == 0;
    if (t && t->wants_headers() && !trace_state->decoder && fresh) {
        hpack::DecoderLimits limits;
        limits.max_table_size = cfg.encoder_table_size;
        limits.max_header_list_size = UINT32_MAX;
        limits.max_field_size = UINT32_MAX;
        void* at = mr->allocate(sizeof(hpack::Decoder), alignof(hpack::Decoder));
        try {
            trace_state->decoder = ::new (at) hpack::Decoder(limits, mr);
        } catch (...) {
            mr->deallocate(at, sizeof(hpack::Decoder), alignof(hpack::Decoder));
            throw;
        }
        trace_state->block_broken = false;
    }
    tracer = t;
    reader_idle = false;  // the fast paths skip the trace (receive.cpp, read_frame())
    trace_headers_in = t && t->wants_headers();
    trace_owed = false;
}

void Connection::Impl::drop_trace_decoder() noexcept {
    if (!trace_state || !trace_state->decoder) return;
    detail::TraceState& ts = *trace_state;
    ts.decoder->~Decoder();
    mr->deallocate(ts.decoder, sizeof(hpack::Decoder), alignof(hpack::Decoder));
    ts.decoder = nullptr;
    ts.store.release();
    ts.lengths = std::pmr::vector<std::uint32_t>(mr);
    ts.fields = std::pmr::vector<Field>(mr);
}

void Connection::Impl::drop_trace_state() noexcept {
    if (!trace_state) return;
    drop_trace_decoder();
    trace_state->~TraceState();
    mr->deallocate(trace_state, sizeof(detail::TraceState), alignof(detail::TraceState));
    trace_state = nullptr;
}

// --- received frames ----------------------------------------------------------------

void Connection::Impl::trace_received(const frame::FrameHeader& h, const frame::Frame* f) {
    TracedFrame& trace_in = trace_state->in;
    trace_in = from_header(h, Direction::received);
    if (f) {
        std::visit(
            [&](const auto& x) {
                using F = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<F, frame::RstStream>) {
                    trace_in.error_code = x.error_code;
                } else if constexpr (std::is_same_v<F, frame::Goaway>) {
                    trace_in.error_code = x.error_code;
                    trace_in.related_stream = x.last_stream_id;
                } else if constexpr (std::is_same_v<F, frame::WindowUpdate>) {
                    trace_in.window_increment = x.increment;
                } else if constexpr (std::is_same_v<F, frame::PushPromise>) {
                    trace_in.related_stream = x.promised_stream_id;
                }
            },
            *f);
    }
    if (trace_headers_in && ends_header_block(trace_in.type, trace_in.flags)) {
        trace_owed = true;  // decode_fragment() or the dispatcher finishes it
        return;
    }
    tracer->on_frame(trace_in);
}

void Connection::Impl::finish_received_trace(std::span<const Field> fields, bool decoded) {
    trace_owed = false;
    if (!tracer) return;
    TracedFrame& trace_in = trace_state->in;
    trace_in.has_headers = decoded;
    trace_in.headers = decoded ? fields : std::span<const Field>{};
    tracer->on_frame(trace_in);
    trace_in.headers = {};
}

// --- frames built into the output ------------------------------------------------------

std::size_t Connection::Impl::account_sent(const std::uint8_t* p, std::size_t n) {
    while (n >= frame::header_size) {
        const std::uint32_t length = std::uint32_t{p[0]} << 16 | std::uint32_t{p[1]} << 8 | p[2];
        count_sent(p[3], length);
        const std::size_t whole = frame::header_size + std::size_t{length};
        const bool contiguous = whole <= n;
        if (tracer) [[unlikely]]
            trace_sent(p, contiguous ? p + frame::header_size : nullptr);
        if (!contiguous) return whole - n;  // its payload lies outside (a DATA frame's, zero copy)
        p += whole;
        n -= whole;
    }
    return 0;
}

Connection::Impl::OutMark Connection::Impl::out_mark() const noexcept {
    if (out.chunks.empty()) return {0, 0};
    const detail::OutChunk& last = out.chunks.back();
    // A last piece with no outside part may grow in place (Output::note_buf).
    if (!last.ptr) return {out.chunks.size() - 1, last.buf_len};
    return {out.chunks.size(), 0};
}

void Connection::Impl::account_since(OutMark m) {
    // Each piece is whole frames in `buf`, the last of which may have its
    // payload outside (Output::add_external); a payload that goes on in the
    // next pieces is skipped there.
    std::uint64_t skip = 0;
    for (std::size_t i = m.chunk; i < out.chunks.size(); ++i) {
        const detail::OutChunk& c = out.chunks[i];
        std::size_t from = i == m.chunk ? m.buf_len : 0;
        std::size_t in_buf = c.buf_len > from ? c.buf_len - from : 0;
        const std::uint64_t s = std::min<std::uint64_t>(skip, in_buf);
        from += s;
        in_buf -= s;
        skip -= s;
        if (const std::size_t over = account_sent(out.buf.data() + c.off + from, in_buf)) skip = over;
        skip -= std::min<std::uint64_t>(skip, c.len);
    }
}

void Connection::Impl::trace_sent(const std::uint8_t* header, const std::uint8_t* payload) {
    TracedFrame t = from_header(frame::parse_header(header), Direction::sent);
    if (payload) read_details(t, payload);
    const auto type = t.frame_type();
    const bool in_block =
        type == frame::Type::headers || type == frame::Type::push_promise || type == frame::Type::continuation;
    detail::TraceState& ts = *trace_state;
    if (in_block && ts.decoder && payload) {
        // The fragment: past Pad Length and the priority fields (HEADERS) or
        // the promised stream (PUSH_PROMISE), before the padding.
        std::size_t skip = 0, pad = 0;
        if (type != frame::Type::continuation && t.has(frame::flags::padded) && t.length > 0) {
            pad = payload[0];
            skip = 1;
        }
        if (type == frame::Type::headers && t.has(frame::flags::priority)) skip += 5;
        if (type == frame::Type::push_promise) skip += 4;
        if (skip + pad <= t.length) {
            const bool end = t.has(frame::flags::end_headers);
            trace_sent_block_fragment({payload + skip, t.length - skip - pad}, end);
            if (end) {
                t.has_headers = !ts.block_broken;
                if (t.has_headers) t.headers = ts.fields;
                ts.block_broken = false;
            }
        }
    } else if (in_block && ts.decoder) {
        ts.block_broken = true;  // (never: header blocks are built whole into `buf`)
    }
    tracer->on_frame(t);
}

void Connection::Impl::trace_sent_block_fragment(std::span<const std::uint8_t> fragment, bool end) {
    detail::TraceState& ts = *trace_state;
    if (ts.lengths.empty()) ts.store.clear();  // a new block
    const hpack::Error e = ts.decoder->decode(fragment, end, [&](const Field& f) {
        ts.store.append(f.name.data(), f.name.size());
        ts.store.append(f.value.data(), f.value.size());
        ts.lengths.push_back(static_cast<std::uint32_t>(f.name.size()));
        ts.lengths.push_back(static_cast<std::uint32_t>(f.value.size()) | (f.sensitive ? 0x80000000u : 0));
    });
    if (e != hpack::Error::none) ts.block_broken = true;
    if (!end) return;
    // The views are made once the block is whole (the store may have moved).
    ts.fields.clear();
    const char* base = reinterpret_cast<const char*>(ts.store.data());
    std::size_t at = 0;
    for (std::size_t i = 0; i + 1 < ts.lengths.size(); i += 2) {
        const std::size_t nn = ts.lengths[i], nv = ts.lengths[i + 1] & 0x7fffffffu;
        Field& f = ts.fields.emplace_back();
        f.name = std::string_view(base + at, nn);
        f.value = std::string_view(base + at + nn, nv);
        f.sensitive = (ts.lengths[i + 1] & 0x80000000u) != 0;
        at += nn + nv;
    }
    ts.lengths.clear();
}

}  // namespace h2wire
