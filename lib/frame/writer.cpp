// Checked frame writers (what RFC 9113 §4 and §6 require of a sender) and
// the unchecked raw writer.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "h2wire/frame.hpp"

namespace h2wire::frame {

namespace {

// Appends big-endian fields and byte strings at a cursor whose room has
// already been checked.
struct Cursor {
    std::uint8_t* p;
    void u8(std::uint8_t v) noexcept { *p++ = v; }
    void u16(std::uint32_t v) noexcept {
        p[0] = static_cast<std::uint8_t>(v >> 8);
        p[1] = static_cast<std::uint8_t>(v);
        p += 2;
    }
    void u32(std::uint32_t v) noexcept {
        p[0] = static_cast<std::uint8_t>(v >> 24);
        p[1] = static_cast<std::uint8_t>(v >> 16);
        p[2] = static_cast<std::uint8_t>(v >> 8);
        p[3] = static_cast<std::uint8_t>(v);
        p += 4;
    }
    void bytes(const void* s, std::size_t n) noexcept {
        if (n) std::memcpy(p, s, n);
        p += n;
    }
    void bytes(Bytes b) noexcept { bytes(b.data(), b.size()); }
    void bytes(std::string_view s) noexcept { bytes(s.data(), s.size()); }
    void zeros(std::size_t n) noexcept {
        if (n) std::memset(p, 0, n);
        p += n;
    }
    void header(std::size_t length, Type type, std::uint8_t flags, std::uint32_t stream) noexcept {
        write_header(p, FrameHeader{static_cast<std::uint32_t>(length), type, flags, stream, false});
        p += header_size;
    }
    // Pad Length is written by the caller where the layout puts it; this
    // writes the padding octets at the end.
    void padding(const std::optional<Padding>& pad) noexcept {
        if (!pad) return;
        if (pad->content.empty())
            zeros(pad->length);
        else
            bytes(pad->content);
    }
};

constexpr WriteResult fail(WriteError e) noexcept {
    return WriteResult{0, e};
}

std::size_t pad_size(const std::optional<Padding>& pad) noexcept {
    return pad ? 1u + pad->length : 0u;
}

// RFC 9113 §6.1: padding octets are zeros unless the caller supplies exactly
// Pad Length octets of its own.
bool padding_ok(const std::optional<Padding>& pad) noexcept {
    return !pad || pad->content.empty() || pad->content.size() == pad->length;
}

// Checks shared by every type: stream id range and stream 0 rule, payload
// against the peer's SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2), room in `out`.
enum class Stream : std::uint8_t { required, forbidden, any };
WriteError check(std::span<std::uint8_t> out, std::uint32_t stream_id, Stream rule, std::size_t payload,
                 std::uint32_t max_frame_size, std::size_t room = SIZE_MAX) noexcept {
    if (stream_id > max_stream_id) return WriteError::invalid_stream_id;
    if (rule == Stream::required && stream_id == 0) return WriteError::stream_id_required;
    if (rule == Stream::forbidden && stream_id != 0) return WriteError::stream_id_forbidden;
    if (payload > std::min(max_frame_size, max_max_frame_size)) return WriteError::frame_too_large;
    if (out.size() < std::min(room, header_size + payload)) return WriteError::buffer_too_small;
    return WriteError::none;
}

std::size_t origins_payload(const OriginList& l) noexcept {
    std::size_t n = 0;
    for (const std::string_view o : l) n += 2 + o.size();
    return n;
}

bool priority_ok(const PriorityFields& pf, std::uint32_t stream_id) noexcept {
    // RFC 7540 §5.3.1: a stream cannot depend on itself.
    return pf.dependency <= max_stream_id && pf.dependency != stream_id;
}

// Payload sizes, header excluded.
std::size_t payload_size(const Data& f) noexcept {
    return pad_size(f.padding) + f.data.size();
}
std::size_t payload_size(const Headers& f) noexcept {
    return pad_size(f.padding) + (f.priority ? 5u : 0u) + f.fragment.size();
}
std::size_t payload_size(const PushPromise& f) noexcept {
    return pad_size(f.padding) + 4 + f.fragment.size();
}

}  // namespace

// --- sizes -----------------------------------------------------------------

std::size_t encoded_size(const Data& f) noexcept {
    return header_size + payload_size(f);
}
std::size_t encoded_size(const Headers& f) noexcept {
    return header_size + payload_size(f);
}
std::size_t encoded_size(const Priority&) noexcept {
    return header_size + 5;
}
std::size_t encoded_size(const RstStream&) noexcept {
    return header_size + 4;
}
std::size_t encoded_size(const Settings& f) noexcept {
    return header_size + 6 * f.entries.size();
}
std::size_t encoded_size(const PushPromise& f) noexcept {
    return header_size + payload_size(f);
}
std::size_t encoded_size(const Ping&) noexcept {
    return header_size + 8;
}
std::size_t encoded_size(const Goaway& f) noexcept {
    return header_size + 8 + f.debug_data.size();
}
std::size_t encoded_size(const WindowUpdate&) noexcept {
    return header_size + 4;
}
std::size_t encoded_size(const Continuation& f) noexcept {
    return header_size + f.fragment.size();
}
std::size_t encoded_size(const Altsvc& f) noexcept {
    return header_size + 2 + f.origin.size() + f.field_value.size();
}
std::size_t encoded_size(const Origin& f) noexcept {
    return header_size + origins_payload(f.origins);
}
std::size_t encoded_size(const PriorityUpdate& f) noexcept {
    return header_size + 4 + f.field_value.size();
}
std::size_t encoded_size(const Unknown& f) noexcept {
    return header_size + f.payload.size();
}
std::size_t encoded_size(const Ignored& f) noexcept {
    return header_size + f.payload.size();
}
std::size_t encoded_size(const Frame& f) noexcept {
    return std::visit([](const auto& x) { return encoded_size(x); }, f);
}

// --- checked writers -------------------------------------------------------

WriteResult write(std::span<std::uint8_t> out, const Data& f, std::uint32_t max_frame_size) noexcept {
    if (out.size() < encoded_size(f)) {
        // Report a protocol error first, should there be one, rather than the room.
        std::uint8_t scratch[header_size + 1];
        const WriteResult probe = write_data_header(scratch, f, max_frame_size);
        return fail(probe ? WriteError::buffer_too_small : probe.error);
    }
    const WriteResult h = write_data_header(out, f, max_frame_size);
    if (!h) return h;
    Cursor c{out.data() + h.size};
    c.bytes(f.data);
    c.padding(f.padding);
    return {encoded_size(f), WriteError::none};
}

WriteResult write_data_header(std::span<std::uint8_t> out, const Data& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t len = payload_size(f);
    // RFC 9113 §6.1: DATA needs a stream. Room is needed for the header only.
    if (const WriteError e = check(out, f.stream_id, Stream::required, len, max_frame_size, data_header_size(f));
        e != WriteError::none)
        return fail(e);
    if (!padding_ok(f.padding)) return fail(WriteError::invalid_padding);
    const auto fl = static_cast<std::uint8_t>((f.end_stream ? flags::end_stream : 0) | (f.padding ? flags::padded : 0));
    Cursor c{out.data()};
    c.header(len, Type::data, fl, f.stream_id);
    if (f.padding) c.u8(f.padding->length);
    return {data_header_size(f), WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const Headers& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t len = payload_size(f);
    // RFC 9113 §6.2: HEADERS needs a stream.
    if (const WriteError e = check(out, f.stream_id, Stream::required, len, max_frame_size); e != WriteError::none)
        return fail(e);
    if (!padding_ok(f.padding)) return fail(WriteError::invalid_padding);
    if (f.priority && !priority_ok(*f.priority, f.stream_id)) return fail(WriteError::invalid_priority);
    const auto fl =
        static_cast<std::uint8_t>((f.end_stream ? flags::end_stream : 0) | (f.end_headers ? flags::end_headers : 0) |
                                  (f.padding ? flags::padded : 0) | (f.priority ? flags::priority : 0));
    Cursor c{out.data()};
    c.header(len, Type::headers, fl, f.stream_id);
    if (f.padding) c.u8(f.padding->length);
    if (f.priority) {
        c.u32(f.priority->dependency | (f.priority->exclusive ? 0x80000000u : 0));
        c.u8(f.priority->weight);
    }
    c.bytes(f.fragment);
    c.padding(f.padding);
    return {header_size + len, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const Priority& f, std::uint32_t max_frame_size) noexcept {
    // RFC 9113 §6.3: PRIORITY needs a stream.
    if (const WriteError e = check(out, f.stream_id, Stream::required, 5, max_frame_size); e != WriteError::none)
        return fail(e);
    if (!priority_ok(f.fields, f.stream_id)) return fail(WriteError::invalid_priority);
    Cursor c{out.data()};
    c.header(5, Type::priority, 0, f.stream_id);
    c.u32(f.fields.dependency | (f.fields.exclusive ? 0x80000000u : 0));
    c.u8(f.fields.weight);
    return {header_size + 5, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const RstStream& f, std::uint32_t max_frame_size) noexcept {
    // RFC 9113 §6.4: RST_STREAM needs a stream.
    if (const WriteError e = check(out, f.stream_id, Stream::required, 4, max_frame_size); e != WriteError::none)
        return fail(e);
    Cursor c{out.data()};
    c.header(4, Type::rst_stream, 0, f.stream_id);
    c.u32(static_cast<std::uint32_t>(f.error_code));
    return {header_size + 4, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const Settings& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t len = 6 * f.entries.size();
    if (const WriteError e = check(out, 0, Stream::forbidden, len, max_frame_size); e != WriteError::none)
        return fail(e);
    // RFC 9113 §6.5: an ACK is empty.
    if (f.ack && len) return fail(WriteError::settings_ack_not_empty);
    for (const Setting s : f.entries)
        if (check_setting(s) != ErrorCode::no_error) return fail(WriteError::invalid_setting);
    Cursor c{out.data()};
    c.header(len, Type::settings, f.ack ? flags::ack : 0, 0);
    for (const Setting s : f.entries) {
        c.u16(static_cast<std::uint16_t>(s.id));
        c.u32(s.value);
    }
    return {header_size + len, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const PushPromise& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t len = payload_size(f);
    // RFC 9113 §6.6: PUSH_PROMISE needs a stream.
    if (const WriteError e = check(out, f.stream_id, Stream::required, len, max_frame_size); e != WriteError::none)
        return fail(e);
    if (!padding_ok(f.padding)) return fail(WriteError::invalid_padding);
    // RFC 9113 §6.6: the promised id is a valid new stream id, never 0.
    if (f.promised_stream_id == 0 || f.promised_stream_id > max_stream_id)
        return fail(WriteError::invalid_promised_stream);
    const auto fl =
        static_cast<std::uint8_t>((f.end_headers ? flags::end_headers : 0) | (f.padding ? flags::padded : 0));
    Cursor c{out.data()};
    c.header(len, Type::push_promise, fl, f.stream_id);
    if (f.padding) c.u8(f.padding->length);
    c.u32(f.promised_stream_id);
    c.bytes(f.fragment);
    c.padding(f.padding);
    return {header_size + len, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const Ping& f, std::uint32_t max_frame_size) noexcept {
    if (const WriteError e = check(out, 0, Stream::forbidden, 8, max_frame_size); e != WriteError::none) return fail(e);
    Cursor c{out.data()};
    c.header(8, Type::ping, f.ack ? flags::ack : 0, 0);
    c.bytes(f.opaque_data.data(), 8);
    return {header_size + 8, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const Goaway& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t len = 8 + f.debug_data.size();
    if (const WriteError e = check(out, 0, Stream::forbidden, len, max_frame_size); e != WriteError::none)
        return fail(e);
    if (f.last_stream_id > max_stream_id) return fail(WriteError::invalid_last_stream);
    Cursor c{out.data()};
    c.header(len, Type::goaway, 0, 0);
    c.u32(f.last_stream_id);
    c.u32(static_cast<std::uint32_t>(f.error_code));
    c.bytes(f.debug_data);
    return {header_size + len, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const WindowUpdate& f, std::uint32_t max_frame_size) noexcept {
    if (const WriteError e = check(out, f.stream_id, Stream::any, 4, max_frame_size); e != WriteError::none)
        return fail(e);
    // RFC 9113 §6.9: the increment is 1..2^31-1.
    if (f.increment == 0 || f.increment > max_window_size) return fail(WriteError::invalid_increment);
    Cursor c{out.data()};
    c.header(4, Type::window_update, 0, f.stream_id);
    c.u32(f.increment);
    return {header_size + 4, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const Continuation& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t len = f.fragment.size();
    // RFC 9113 §6.10: CONTINUATION needs a stream.
    if (const WriteError e = check(out, f.stream_id, Stream::required, len, max_frame_size); e != WriteError::none)
        return fail(e);
    Cursor c{out.data()};
    c.header(len, Type::continuation, f.end_headers ? flags::end_headers : 0, f.stream_id);
    c.bytes(f.fragment);
    return {header_size + len, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const Altsvc& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t len = 2 + f.origin.size() + f.field_value.size();
    if (const WriteError e = check(out, f.stream_id, Stream::any, len, max_frame_size); e != WriteError::none)
        return fail(e);
    // RFC 7838 §4: an origin on stream 0 and only there.
    if (f.origin.size() > 0xffff || (f.stream_id == 0) == f.origin.empty()) return fail(WriteError::invalid_origin);
    Cursor c{out.data()};
    c.header(len, Type::altsvc, 0, f.stream_id);
    c.u16(static_cast<std::uint32_t>(f.origin.size()));
    c.bytes(f.origin);
    c.bytes(f.field_value);
    return {header_size + len, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const Origin& f, std::uint32_t max_frame_size) noexcept {
    for (const std::string_view o : f.origins)
        if (o.size() > 0xffff) return fail(WriteError::invalid_origin);
    const std::size_t len = origins_payload(f.origins);
    // RFC 8336 §2.1: ORIGIN is sent on stream 0.
    if (const WriteError e = check(out, 0, Stream::forbidden, len, max_frame_size); e != WriteError::none)
        return fail(e);
    Cursor c{out.data()};
    c.header(len, Type::origin, 0, 0);
    for (const std::string_view o : f.origins) {
        c.u16(static_cast<std::uint32_t>(o.size()));
        c.bytes(o);
    }
    return {header_size + len, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const PriorityUpdate& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t len = 4 + f.field_value.size();
    // RFC 9218 §7.1: sent on stream 0.
    if (const WriteError e = check(out, 0, Stream::forbidden, len, max_frame_size); e != WriteError::none)
        return fail(e);
    // RFC 9218 §7.1: the prioritized stream is never 0.
    if (f.prioritized_stream_id == 0 || f.prioritized_stream_id > max_stream_id)
        return fail(WriteError::invalid_stream_id);
    Cursor c{out.data()};
    c.header(len, Type::priority_update, 0, 0);
    c.u32(f.prioritized_stream_id);
    c.bytes(f.field_value);
    return {header_size + len, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const Unknown& f, std::uint32_t max_frame_size) noexcept {
    if (is_known(static_cast<Type>(f.type))) return fail(WriteError::known_type);
    const std::size_t len = f.payload.size();
    if (const WriteError e = check(out, f.stream_id, Stream::any, len, max_frame_size); e != WriteError::none)
        return fail(e);
    Cursor c{out.data()};
    c.header(len, static_cast<Type>(f.type), f.flags, f.stream_id);
    c.bytes(f.payload);
    return {header_size + len, WriteError::none};
}

WriteResult write(std::span<std::uint8_t>, const Ignored&, std::uint32_t) noexcept {
    return fail(WriteError::not_writable);
}

WriteResult write(std::span<std::uint8_t> out, const Frame& f, std::uint32_t max_frame_size) noexcept {
    return std::visit([&](const auto& x) { return write(out, x, max_frame_size); }, f);
}

// --- field blocks split over CONTINUATION ------------------------------------

namespace {

// The first frame's fixed overhead (padding, priority, promised id) and the
// share of the block that fits with it.
template <class F>
std::size_t first_room(const F& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t fixed = payload_size(f) - f.fragment.size();
    const std::size_t max = std::min(max_frame_size, max_max_frame_size);
    return fixed >= max ? 0 : max - fixed;
}

template <class F>
std::size_t split_size(const F& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t room = first_room(f, max_frame_size);
    const std::size_t first = std::min(room, f.fragment.size());
    const std::size_t rest = f.fragment.size() - first;
    const std::size_t max = std::min(max_frame_size, max_max_frame_size);
    const std::size_t continuations = (rest + max - 1) / max;
    return header_size + payload_size(f) + continuations * header_size;
}

template <class F>
WriteResult write_split_impl(std::span<std::uint8_t> out, const F& f, std::uint32_t max_frame_size) noexcept {
    const std::size_t total = split_size(f, max_frame_size);
    if (out.size() < total) {
        // Report a protocol error first, should there be one, rather than the room.
        F probe = f;
        probe.fragment = {};
        std::uint8_t scratch[header_size + 1 + 5 + 255];
        const WriteResult r = write(std::span<std::uint8_t>(scratch), probe, max_frame_size);
        return fail(r ? WriteError::buffer_too_small : r.error);
    }
    const std::size_t room = first_room(f, max_frame_size);
    const std::size_t max = std::min(max_frame_size, max_max_frame_size);
    F first = f;
    first.fragment = f.fragment.first(std::min(room, f.fragment.size()));
    Bytes rest = f.fragment.subspan(first.fragment.size());
    first.end_headers = rest.empty();
    WriteResult r = write(out, first, max_frame_size);
    if (!r) return r;
    std::size_t at = r.size;
    while (!rest.empty()) {
        const std::size_t n = std::min(rest.size(), max);
        const Continuation c{f.stream_id, n == rest.size(), rest.first(n)};
        r = write(out.subspan(at), c, max_frame_size);
        if (!r) return r;  // cannot happen once the first frame passed
        at += r.size;
        rest = rest.subspan(n);
    }
    return {at, WriteError::none};
}

}  // namespace

std::size_t encoded_size_split(const Headers& f, std::uint32_t max_frame_size) noexcept {
    return split_size(f, max_frame_size);
}
std::size_t encoded_size_split(const PushPromise& f, std::uint32_t max_frame_size) noexcept {
    return split_size(f, max_frame_size);
}
WriteResult write_split(std::span<std::uint8_t> out, const Headers& f, std::uint32_t max_frame_size) noexcept {
    return write_split_impl(out, f, max_frame_size);
}
WriteResult write_split(std::span<std::uint8_t> out, const PushPromise& f, std::uint32_t max_frame_size) noexcept {
    return write_split_impl(out, f, max_frame_size);
}

// --- unchecked ---------------------------------------------------------------

std::size_t write_raw(std::span<std::uint8_t> out, const RawFrame& f) noexcept {
    const std::size_t n = encoded_size(f);
    if (out.size() < n) return 0;
    write_header(out.data(), f.header);
    if (!f.payload.empty()) std::memcpy(out.data() + header_size, f.payload.data(), f.payload.size());
    return n;
}

}  // namespace h2wire::frame
