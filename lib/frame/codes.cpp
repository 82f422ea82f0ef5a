// Names and checks of the protocol's code points: error codes (RFC 9113 §7),
// settings (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1), frame types and
// flags, and the frame header (RFC 9113 §4.1).
#include <algorithm>
#include <cstdio>

#include "h2wire/error.hpp"
#include "h2wire/frame.hpp"
#include "h2wire/settings.hpp"

namespace h2wire {

std::string_view to_string(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::no_error:
            return "NO_ERROR";
        case ErrorCode::protocol_error:
            return "PROTOCOL_ERROR";
        case ErrorCode::internal_error:
            return "INTERNAL_ERROR";
        case ErrorCode::flow_control_error:
            return "FLOW_CONTROL_ERROR";
        case ErrorCode::settings_timeout:
            return "SETTINGS_TIMEOUT";
        case ErrorCode::stream_closed:
            return "STREAM_CLOSED";
        case ErrorCode::frame_size_error:
            return "FRAME_SIZE_ERROR";
        case ErrorCode::refused_stream:
            return "REFUSED_STREAM";
        case ErrorCode::cancel:
            return "CANCEL";
        case ErrorCode::compression_error:
            return "COMPRESSION_ERROR";
        case ErrorCode::connect_error:
            return "CONNECT_ERROR";
        case ErrorCode::enhance_your_calm:
            return "ENHANCE_YOUR_CALM";
        case ErrorCode::inadequate_security:
            return "INADEQUATE_SECURITY";
        case ErrorCode::http_1_1_required:
            return "HTTP_1_1_REQUIRED";
    }
    return "UNKNOWN";
}

std::string_view to_string(SettingId id) noexcept {
    switch (id) {
        case SettingId::header_table_size:
            return "SETTINGS_HEADER_TABLE_SIZE";
        case SettingId::enable_push:
            return "SETTINGS_ENABLE_PUSH";
        case SettingId::max_concurrent_streams:
            return "SETTINGS_MAX_CONCURRENT_STREAMS";
        case SettingId::initial_window_size:
            return "SETTINGS_INITIAL_WINDOW_SIZE";
        case SettingId::max_frame_size:
            return "SETTINGS_MAX_FRAME_SIZE";
        case SettingId::max_header_list_size:
            return "SETTINGS_MAX_HEADER_LIST_SIZE";
        case SettingId::enable_connect_protocol:
            return "SETTINGS_ENABLE_CONNECT_PROTOCOL";
        case SettingId::no_rfc7540_priorities:
            return "SETTINGS_NO_RFC7540_PRIORITIES";
    }
    return "UNKNOWN";
}

ErrorCode check_setting(Setting s, std::string_view* reason) noexcept {
    auto bad = [reason](ErrorCode code, std::string_view why) {
        if (reason) *reason = why;
        return code;
    };
    switch (s.id) {
        case SettingId::enable_push:
            // RFC 9113 §6.5.2: any value other than 0 or 1 is a PROTOCOL_ERROR.
            if (s.value > 1) return bad(ErrorCode::protocol_error, "SETTINGS_ENABLE_PUSH above 1");
            break;
        case SettingId::initial_window_size:
            // RFC 9113 §6.5.2: above 2^31-1 is a FLOW_CONTROL_ERROR.
            if (s.value > max_window_size)
                return bad(ErrorCode::flow_control_error, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
            break;
        case SettingId::max_frame_size:
            // RFC 9113 §6.5.2: outside 2^14..2^24-1 is a PROTOCOL_ERROR.
            if (s.value < min_max_frame_size || s.value > max_max_frame_size)
                return bad(ErrorCode::protocol_error, "SETTINGS_MAX_FRAME_SIZE outside 2^14..2^24-1");
            break;
        case SettingId::enable_connect_protocol:
            // RFC 8441 §3: the value MUST be 0 or 1.
            if (s.value > 1) return bad(ErrorCode::protocol_error, "SETTINGS_ENABLE_CONNECT_PROTOCOL above 1");
            break;
        case SettingId::no_rfc7540_priorities:
            // RFC 9218 §2.1: any value other than 0 or 1 is a PROTOCOL_ERROR.
            if (s.value > 1) return bad(ErrorCode::protocol_error, "SETTINGS_NO_RFC7540_PRIORITIES above 1");
            break;
        default:
            break;
    }
    return ErrorCode::no_error;
}

void Settings::apply(Setting s) noexcept {
    switch (s.id) {
        case SettingId::header_table_size:
            header_table_size = s.value;
            break;
        case SettingId::enable_push:
            enable_push = s.value != 0;
            break;
        case SettingId::max_concurrent_streams:
            max_concurrent_streams = s.value;
            break;
        case SettingId::initial_window_size:
            initial_window_size = std::min(s.value, max_window_size);
            break;
        case SettingId::max_frame_size:
            max_frame_size = std::clamp(s.value, min_max_frame_size, max_max_frame_size);
            break;
        case SettingId::max_header_list_size:
            max_header_list_size = s.value;
            break;
        case SettingId::enable_connect_protocol:
            enable_connect_protocol = s.value != 0;
            break;
        case SettingId::no_rfc7540_priorities:
            no_rfc7540_priorities = s.value != 0;
            break;
    }
    // RFC 9113 §6.5.2: unknown identifiers are ignored.
}

}  // namespace h2wire

namespace h2wire::frame {

bool is_known(Type t) noexcept {
    const auto v = static_cast<std::uint8_t>(t);
    return v <= 0xa || v == 0xc || v == 0x10;
}

std::string_view to_string(Type t) noexcept {
    switch (t) {
        case Type::data:
            return "DATA";
        case Type::headers:
            return "HEADERS";
        case Type::priority:
            return "PRIORITY";
        case Type::rst_stream:
            return "RST_STREAM";
        case Type::settings:
            return "SETTINGS";
        case Type::push_promise:
            return "PUSH_PROMISE";
        case Type::ping:
            return "PING";
        case Type::goaway:
            return "GOAWAY";
        case Type::window_update:
            return "WINDOW_UPDATE";
        case Type::continuation:
            return "CONTINUATION";
        case Type::altsvc:
            return "ALTSVC";
        case Type::origin:
            return "ORIGIN";
        case Type::priority_update:
            return "PRIORITY_UPDATE";
    }
    return "UNKNOWN";
}

std::string_view flag_names(Type type, std::uint8_t bits, std::span<char, 64> out) noexcept {
    struct Name {
        std::uint8_t bit;
        const char* name;
    };
    static constexpr Name data_flags[] = {{flags::end_stream, "END_STREAM"}, {flags::padded, "PADDED"}};
    static constexpr Name headers_flags[] = {{flags::end_stream, "END_STREAM"},
                                             {flags::end_headers, "END_HEADERS"},
                                             {flags::padded, "PADDED"},
                                             {flags::priority, "PRIORITY"}};
    static constexpr Name ack_flags[] = {{flags::ack, "ACK"}};
    static constexpr Name push_flags[] = {{flags::end_headers, "END_HEADERS"}, {flags::padded, "PADDED"}};
    static constexpr Name cont_flags[] = {{flags::end_headers, "END_HEADERS"}};
    std::span<const Name> names;
    switch (type) {
        case Type::data:
            names = data_flags;
            break;
        case Type::headers:
            names = headers_flags;
            break;
        case Type::settings:
        case Type::ping:
            names = ack_flags;
            break;
        case Type::push_promise:
            names = push_flags;
            break;
        case Type::continuation:
            names = cont_flags;
            break;
        default:
            break;
    }
    std::size_t n = 0;
    auto put = [&](std::string_view s) {
        if (n) out[n++] = '|';
        for (const char c : s) out[n++] = c;
    };
    std::uint8_t left = bits;
    for (const Name& nm : names) {
        if (bits & nm.bit) {
            put(nm.name);
            left = static_cast<std::uint8_t>(left & ~nm.bit);
        }
    }
    // Unused bits, one by one. Worst case: HEADERS with all eight bits set,
    // 38 octets of names plus four "|0x.." = 58 octets, within the 64.
    for (int b = 0; b < 8; ++b) {
        const auto bit = static_cast<std::uint8_t>(1u << b);
        if (left & bit) {
            char hex[5];
            std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(bit));
            put(std::string_view(hex, 4));
        }
    }
    return {out.data(), n};
}

std::string_view to_string(WriteError e) noexcept {
    switch (e) {
        case WriteError::none:
            return "no error";
        case WriteError::buffer_too_small:
            return "output buffer too small";
        case WriteError::frame_too_large:
            return "payload over the maximum frame size";
        case WriteError::invalid_stream_id:
            return "stream id over 2^31-1";
        case WriteError::stream_id_required:
            return "frame type needs a stream id other than 0";
        case WriteError::stream_id_forbidden:
            return "frame type needs stream id 0";
        case WriteError::invalid_padding:
            return "padding content is not Pad Length octets";
        case WriteError::invalid_priority:
            return "invalid stream dependency";
        case WriteError::invalid_setting:
            return "setting value out of range";
        case WriteError::settings_ack_not_empty:
            return "SETTINGS ACK with settings";
        case WriteError::invalid_promised_stream:
            return "invalid promised stream id";
        case WriteError::invalid_increment:
            return "window increment not in 1..2^31-1";
        case WriteError::invalid_last_stream:
            return "last stream id over 2^31-1";
        case WriteError::invalid_origin:
            return "invalid origin";
        case WriteError::known_type:
            return "type is a known frame type";
        case WriteError::not_writable:
            return "ignored frames are not written";
    }
    return "unknown write error";
}

FrameHeader parse_header(const std::uint8_t* p) noexcept {
    // RFC 9113 §4.1: Length (24), Type (8), Flags (8), Reserved (1), Stream Identifier (31).
    FrameHeader h;
    h.length = std::uint32_t{p[0]} << 16 | std::uint32_t{p[1]} << 8 | p[2];
    h.type = static_cast<Type>(p[3]);
    h.flags = p[4];
    h.reserved = (p[5] & 0x80) != 0;
    h.stream_id = std::uint32_t{p[5] & 0x7fu} << 24 | std::uint32_t{p[6]} << 16 | std::uint32_t{p[7]} << 8 | p[8];
    return h;
}

void write_header(std::uint8_t* p, const FrameHeader& h) noexcept {
    p[0] = static_cast<std::uint8_t>(h.length >> 16);
    p[1] = static_cast<std::uint8_t>(h.length >> 8);
    p[2] = static_cast<std::uint8_t>(h.length);
    p[3] = static_cast<std::uint8_t>(h.type);
    p[4] = h.flags;
    p[5] = static_cast<std::uint8_t>(((h.stream_id >> 24) & 0x7f) | (h.reserved ? 0x80 : 0));
    p[6] = static_cast<std::uint8_t>(h.stream_id >> 16);
    p[7] = static_cast<std::uint8_t>(h.stream_id >> 8);
    p[8] = static_cast<std::uint8_t>(h.stream_id);
}

}  // namespace h2wire::frame
