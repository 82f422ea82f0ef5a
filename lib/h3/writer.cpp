// HTTP/3 frame writers (RFC 9114 §7.1: Type, Length, Payload, the first two
// as variable-length integers). Each checks, then sizes, then writes, so
// nothing is written on error.
#include <algorithm>
#include <cstring>

#include "h2wire/h3frame.hpp"

namespace h2wire::h3 {

namespace {

constexpr auto ft(FrameType t) noexcept {
    return static_cast<std::uint64_t>(t);
}

// Sum of sizes, 0 when any part cannot be encoded (varint_size() == 0).
struct Size {
    std::size_t n = 0;
    bool ok = true;
    void varint(std::uint64_t v) noexcept {
        const std::size_t s = varint_size(v);
        ok = ok && s != 0;
        n += s;
    }
    std::size_t total() const noexcept { return ok ? n : 0; }
};

// A cursor into the output whose room was checked beforehand.
struct Out {
    std::span<std::uint8_t> out;
    std::size_t pos = 0;
    void varint(std::uint64_t v) noexcept { pos += write_varint(out.subspan(pos), v); }
    void bytes(Bytes b) noexcept {
        if (!b.empty()) std::memcpy(out.data() + pos, b.data(), b.size());
        pos += b.size();
    }
};

std::uint64_t settings_payload(const Settings& f, bool& ok) noexcept {
    Size s;
    for (const Setting& e : f.entries) s.varint(e.id), s.varint(e.value);
    if (f.grease) s.varint(f.grease->id), s.varint(f.grease->value);
    ok = s.ok;
    return s.n;
}

std::size_t frame_size(std::uint64_t type, std::uint64_t payload) noexcept {
    Size s;
    s.varint(type);
    s.varint(payload);
    s.n += static_cast<std::size_t>(payload);
    return s.total();
}

// Writes a frame whose payload is `prefix` (a varint, or none) then `body`.
WriteResult put(std::span<std::uint8_t> out, std::uint64_t type, std::optional<std::uint64_t> prefix,
                Bytes body) noexcept {
    std::uint64_t payload = body.size();
    if (prefix) {
        const std::size_t p = varint_size(*prefix);
        if (p == 0) return {0, WriteError::value_too_large};
        payload += p;
    }
    const std::size_t n = frame_size(type, payload);
    if (n == 0) return {0, WriteError::value_too_large};
    if (out.size() < n) return {0, WriteError::buffer_too_small};
    Out o{out};
    o.varint(type);
    o.varint(payload);
    if (prefix) o.varint(*prefix);
    o.bytes(body);
    return {o.pos, WriteError::none};
}

}  // namespace

std::size_t encoded_size(const Data& f) noexcept {
    return frame_size(ft(FrameType::data), f.payload.size());
}
std::size_t encoded_size(const Headers& f) noexcept {
    return frame_size(ft(FrameType::headers), f.field_section.size());
}
std::size_t encoded_size(const CancelPush& f) noexcept {
    return varint_size(f.push_id) == 0 ? 0 : frame_size(ft(FrameType::cancel_push), varint_size(f.push_id));
}
std::size_t encoded_size(const Settings& f) noexcept {
    bool ok = true;
    const std::uint64_t p = settings_payload(f, ok);
    return ok ? frame_size(ft(FrameType::settings), p) : 0;
}
std::size_t encoded_size(const PushPromise& f) noexcept {
    const std::size_t p = varint_size(f.push_id);
    return p == 0 ? 0 : frame_size(ft(FrameType::push_promise), p + f.field_section.size());
}
std::size_t encoded_size(const Goaway& f) noexcept {
    return varint_size(f.id) == 0 ? 0 : frame_size(ft(FrameType::goaway), varint_size(f.id));
}
std::size_t encoded_size(const MaxPushId& f) noexcept {
    return varint_size(f.push_id) == 0 ? 0 : frame_size(ft(FrameType::max_push_id), varint_size(f.push_id));
}
std::size_t encoded_size(const Unknown& f) noexcept {
    return frame_size(f.type, f.payload.size());
}

WriteResult write(std::span<std::uint8_t> out, const Data& f) noexcept {
    return put(out, ft(FrameType::data), std::nullopt, f.payload);
}
WriteResult write(std::span<std::uint8_t> out, const Headers& f) noexcept {
    return put(out, ft(FrameType::headers), std::nullopt, f.field_section);
}
WriteResult write(std::span<std::uint8_t> out, const CancelPush& f) noexcept {
    return put(out, ft(FrameType::cancel_push), f.push_id, {});
}
WriteResult write(std::span<std::uint8_t> out, const PushPromise& f) noexcept {
    return put(out, ft(FrameType::push_promise), f.push_id, f.field_section);
}
WriteResult write(std::span<std::uint8_t> out, const Goaway& f) noexcept {
    return put(out, ft(FrameType::goaway), f.id, {});
}
WriteResult write(std::span<std::uint8_t> out, const MaxPushId& f) noexcept {
    return put(out, ft(FrameType::max_push_id), f.push_id, {});
}

WriteResult write(std::span<std::uint8_t> out, const Settings& f) noexcept {
    // RFC 9114 §7.2.4.1: no HTTP/2 identifier, none twice. Quadratic in the
    // caller's own list, which is short.
    for (std::size_t i = 0; i < f.entries.size(); ++i) {
        if (is_http2_setting(f.entries[i].id) || !is_valid_setting_value(f.entries[i].id, f.entries[i].value))
            return {0, WriteError::invalid_setting};
        for (std::size_t j = 0; j < i; ++j)
            if (f.entries[j].id == f.entries[i].id) return {0, WriteError::invalid_setting};
    }
    if (f.grease) {
        if (!is_grease(f.grease->id)) return {0, WriteError::invalid_setting};
        for (const Setting& e : f.entries)
            if (e.id == f.grease->id) return {0, WriteError::invalid_setting};
    }
    bool ok = true;
    const std::uint64_t payload = settings_payload(f, ok);
    const std::size_t n = ok ? frame_size(ft(FrameType::settings), payload) : 0;
    if (n == 0) return {0, WriteError::value_too_large};
    if (out.size() < n) return {0, WriteError::buffer_too_small};
    Out o{out};
    o.varint(ft(FrameType::settings));
    o.varint(payload);
    for (const Setting& e : f.entries) o.varint(e.id), o.varint(e.value);
    if (f.grease) o.varint(f.grease->id), o.varint(f.grease->value);
    return {o.pos, WriteError::none};
}

WriteResult write(std::span<std::uint8_t> out, const Unknown& f) noexcept {
    if (is_known(static_cast<FrameType>(f.type)) || is_http2_frame_type(f.type)) return {0, WriteError::known_type};
    return put(out, f.type, std::nullopt, f.payload);
}

WriteResult write_data_header(std::span<std::uint8_t> out, std::uint64_t payload_length) noexcept {
    const std::size_t n = data_header_size(payload_length);
    if (n == 0) return {0, WriteError::value_too_large};
    if (out.size() < n) return {0, WriteError::buffer_too_small};
    Out o{out};
    o.varint(ft(FrameType::data));
    o.varint(payload_length);
    return {o.pos, WriteError::none};
}

WriteResult write_stream_header(std::span<std::uint8_t> out, std::uint64_t stream_type,
                                std::uint64_t push_id) noexcept {
    const bool push = stream_type == static_cast<std::uint64_t>(StreamType::push);
    Size s;
    s.varint(stream_type);
    if (push) s.varint(push_id);
    if (!s.ok) return {0, WriteError::value_too_large};
    if (out.size() < s.n) return {0, WriteError::buffer_too_small};
    Out o{out};
    o.varint(stream_type);
    if (push) o.varint(push_id);
    return {o.pos, WriteError::none};
}

std::size_t write_raw(std::span<std::uint8_t> out, std::uint64_t type, std::uint64_t declared_length,
                      Bytes payload) noexcept {
    const std::size_t a = varint_size(type);
    const std::size_t b = varint_size(declared_length);
    if (a == 0 || b == 0 || out.size() < a + b + payload.size()) return 0;
    Out o{out};
    o.varint(type);
    o.varint(declared_length);
    o.bytes(payload);
    return o.pos;
}

}  // namespace h2wire::h3
