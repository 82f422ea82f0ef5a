// Frame validation and payload parsing, shared by the reader and tests.
// Everything here looks at one frame alone; the reader adds the buffering.
#pragma once

#include <cstdint>
#include <string_view>

#include "h2wire/error.hpp"
#include "h2wire/frame.hpp"

namespace h2wire::detail {

/// Outcome of a check: fine, or an error of one of the two RFC 9113 §5.4 kinds.
struct FrameCheck {
    enum class Kind : std::uint8_t { ok, stream_error, connection_error };
    Kind kind = Kind::ok;
    ErrorCode code = ErrorCode::no_error;
    std::string_view reason;

    static FrameCheck pass() noexcept { return {}; }
    static FrameCheck connection(ErrorCode c, std::string_view why) noexcept {
        return {Kind::connection_error, c, why};
    }
    static FrameCheck stream(ErrorCode c, std::string_view why) noexcept { return {Kind::stream_error, c, why}; }
    bool ok() const noexcept { return kind == Kind::ok; }
};

/// The rules of a frame header that the receive fast paths also apply
/// (connection/receive.cpp): RFC 9113 §4.2, a frame over our
/// SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR, rejected before any of its
/// payload is held; §6.1, §6.2: DATA or HEADERS on stream 0 is a connection
/// PROTOCOL_ERROR. check_header() starts with it. Inline, for the fast paths.
inline FrameCheck check_size_and_stream(const frame::FrameHeader& h, std::uint32_t max_frame_size) noexcept {
    if (h.length > max_frame_size)
        return FrameCheck::connection(ErrorCode::frame_size_error, "frame larger than SETTINGS_MAX_FRAME_SIZE");
    if (h.stream_id == 0 && h.type == frame::Type::data)
        return FrameCheck::connection(ErrorCode::protocol_error, "DATA on stream 0");
    if (h.stream_id == 0 && h.type == frame::Type::headers)
        return FrameCheck::connection(ErrorCode::protocol_error, "HEADERS on stream 0");
    return FrameCheck::pass();
}

/// Checks what the 9-octet header alone decides (length limits, stream 0
/// rules, fixed lengths, minimum lengths, the CONTINUATION sequence given the
/// stream of the open header block or 0, role rules), before any payload is
/// buffered.
FrameCheck check_header(const frame::FrameHeader& h, const frame::ReaderOptions& options,
                        std::uint32_t block_stream) noexcept;

/// Parses the complete payload of a non-DATA frame whose header passed
/// check_header(), into `out`.
FrameCheck parse_payload(const frame::FrameHeader& h, frame::Bytes payload, const frame::ReaderOptions& options,
                         frame::Frame& out) noexcept;

inline std::uint32_t read_u32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
inline std::uint32_t read_u31(const std::uint8_t* p) noexcept {
    return read_u32(p) & 0x7fffffffu;
}
inline std::uint16_t read_u16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

}  // namespace h2wire::detail
