// Names of the HTTP/3 registries (RFC 9114 §11.2) and of writer errors.
#include "h2wire/h3frame.hpp"

namespace h2wire::h3 {

std::string_view to_string(FrameType t) noexcept {
    switch (t) {
        case FrameType::data:
            return "DATA";
        case FrameType::headers:
            return "HEADERS";
        case FrameType::cancel_push:
            return "CANCEL_PUSH";
        case FrameType::settings:
            return "SETTINGS";
        case FrameType::push_promise:
            return "PUSH_PROMISE";
        case FrameType::goaway:
            return "GOAWAY";
        case FrameType::max_push_id:
            return "MAX_PUSH_ID";
    }
    const auto v = static_cast<std::uint64_t>(t);
    if (is_http2_frame_type(v)) return "RESERVED_H2";
    if (is_grease(v)) return "GREASE";
    return "UNKNOWN";
}

std::string_view to_string(SettingId id) noexcept {
    switch (id) {
        case SettingId::qpack_max_table_capacity:
            return "SETTINGS_QPACK_MAX_TABLE_CAPACITY";
        case SettingId::max_field_section_size:
            return "SETTINGS_MAX_FIELD_SECTION_SIZE";
        case SettingId::qpack_blocked_streams:
            return "SETTINGS_QPACK_BLOCKED_STREAMS";
        case SettingId::enable_connect_protocol:
            return "SETTINGS_ENABLE_CONNECT_PROTOCOL";
        case SettingId::h3_datagram:
            return "SETTINGS_H3_DATAGRAM";
    }
    const auto v = static_cast<std::uint64_t>(id);
    if (is_http2_setting(v)) return "RESERVED_H2";
    if (is_grease(v)) return "GREASE";
    return "UNKNOWN";
}

std::string_view to_string(ErrorCode e) noexcept {
    switch (e) {
        case ErrorCode::h3_no_error:
            return "H3_NO_ERROR";
        case ErrorCode::h3_general_protocol_error:
            return "H3_GENERAL_PROTOCOL_ERROR";
        case ErrorCode::h3_internal_error:
            return "H3_INTERNAL_ERROR";
        case ErrorCode::h3_stream_creation_error:
            return "H3_STREAM_CREATION_ERROR";
        case ErrorCode::h3_closed_critical_stream:
            return "H3_CLOSED_CRITICAL_STREAM";
        case ErrorCode::h3_frame_unexpected:
            return "H3_FRAME_UNEXPECTED";
        case ErrorCode::h3_frame_error:
            return "H3_FRAME_ERROR";
        case ErrorCode::h3_excessive_load:
            return "H3_EXCESSIVE_LOAD";
        case ErrorCode::h3_id_error:
            return "H3_ID_ERROR";
        case ErrorCode::h3_settings_error:
            return "H3_SETTINGS_ERROR";
        case ErrorCode::h3_missing_settings:
            return "H3_MISSING_SETTINGS";
        case ErrorCode::h3_request_rejected:
            return "H3_REQUEST_REJECTED";
        case ErrorCode::h3_request_cancelled:
            return "H3_REQUEST_CANCELLED";
        case ErrorCode::h3_request_incomplete:
            return "H3_REQUEST_INCOMPLETE";
        case ErrorCode::h3_message_error:
            return "H3_MESSAGE_ERROR";
        case ErrorCode::h3_connect_error:
            return "H3_CONNECT_ERROR";
        case ErrorCode::h3_version_fallback:
            return "H3_VERSION_FALLBACK";
        case ErrorCode::qpack_decompression_failed:
            return "QPACK_DECOMPRESSION_FAILED";
        case ErrorCode::qpack_encoder_stream_error:
            return "QPACK_ENCODER_STREAM_ERROR";
        case ErrorCode::qpack_decoder_stream_error:
            return "QPACK_DECODER_STREAM_ERROR";
    }
    // RFC 9114 §8.1: grease codes carry no meaning.
    if (is_grease(static_cast<std::uint64_t>(e))) return "GREASE";
    return "UNKNOWN";
}

std::string_view to_string(StreamType t) noexcept {
    switch (t) {
        case StreamType::control:
            return "CONTROL";
        case StreamType::push:
            return "PUSH";
        case StreamType::qpack_encoder:
            return "QPACK_ENCODER";
        case StreamType::qpack_decoder:
            return "QPACK_DECODER";
    }
    if (is_grease(static_cast<std::uint64_t>(t))) return "GREASE";
    return "UNKNOWN";
}

std::string_view to_string(WriteError e) noexcept {
    switch (e) {
        case WriteError::none:
            return "no error";
        case WriteError::buffer_too_small:
            return "output buffer too small";
        case WriteError::value_too_large:
            return "value over 2^62-1";
        case WriteError::invalid_setting:
            return "HTTP/2 or duplicate setting identifier, or grease setting not grease";
        case WriteError::known_type:
            return "frame type not writable as an unknown frame";
    }
    return "unknown write error";
}

}  // namespace h2wire::h3
