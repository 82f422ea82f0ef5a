/// \file
/// SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1).
#pragma once

#include <cstdint>
#include <string_view>

#include "h2wire/export.hpp"
#include "h2wire/error.hpp"

namespace h2wire {

/// A setting identifier. Open enumeration: unknown identifiers are kept as
/// received, and RFC 9113 §6.5.2 says a receiver "MUST ignore" them.
enum class SettingId : std::uint16_t {
    header_table_size = 0x1,        ///< RFC 9113 §6.5.2
    enable_push = 0x2,              ///< RFC 9113 §6.5.2
    max_concurrent_streams = 0x3,   ///< RFC 9113 §6.5.2
    initial_window_size = 0x4,      ///< RFC 9113 §6.5.2
    max_frame_size = 0x5,           ///< RFC 9113 §6.5.2
    max_header_list_size = 0x6,     ///< RFC 9113 §6.5.2
    enable_connect_protocol = 0x8,  ///< RFC 8441 §3
    no_rfc7540_priorities = 0x9,    ///< RFC 9218 §2.1
};

/// The RFC's name of `id` ("SETTINGS_MAX_FRAME_SIZE", ...), or "UNKNOWN".
H2WIRE_API std::string_view to_string(SettingId id) noexcept;

/// One setting as it travels in a SETTINGS frame.
struct Setting {
    /// Any 16-bit identifier; unknown ones are kept, not rejected.
    SettingId id{};
    /// The value as on the wire, unchecked: check_setting() says whether it
    /// is in range.
    std::uint32_t value = 0;
    friend bool operator==(const Setting&, const Setting&) = default;
};

/// Limits of the protocol that the settings refer to.
inline constexpr std::uint32_t min_max_frame_size = 1u << 14;        ///< 16,384 (RFC 9113 §4.2)
inline constexpr std::uint32_t max_max_frame_size = (1u << 24) - 1;  ///< 16,777,215 (RFC 9113 §4.2)
inline constexpr std::uint32_t max_window_size = (1u << 31) - 1;     ///< 2^31-1 (RFC 9113 §6.9.1)

/// The value of every setting an endpoint announces, starting at the RFC's
/// initial values. The connection keeps one for each side.
struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE: the largest HPACK dynamic table, in
    /// RFC 7541 §4.1 units, that the sender's decoder allows the other side's
    /// encoder to use.
    std::uint32_t header_table_size = 4096;
    /// SETTINGS_ENABLE_PUSH: whether the sender accepts PUSH_PROMISE. Only a
    /// client's value means anything; a server never sends 1 (RFC 9113 §6.5.2).
    bool enable_push = true;
    /// Initially unlimited (RFC 9113 §6.5.2); UINT32_MAX stands for that.
    std::uint32_t max_concurrent_streams = UINT32_MAX;
    /// SETTINGS_INITIAL_WINDOW_SIZE: the flow-control window, in octets, each
    /// stream starts with for the sender's receiving side; at most 2^31-1.
    /// The connection window is not affected (RFC 9113 §6.9.2).
    std::uint32_t initial_window_size = 65535;
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload, in octets, the
    /// sender accepts; 2^14..2^24-1 (RFC 9113 §4.2).
    std::uint32_t max_frame_size = min_max_frame_size;
    /// Initially unlimited (RFC 9113 §6.5.2); UINT32_MAX stands for that.
    std::uint32_t max_header_list_size = UINT32_MAX;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL: the sender accepts extended CONNECT
    /// requests with :protocol (RFC 8441 §3). Once true it cannot go back.
    bool enable_connect_protocol = false;
    /// SETTINGS_NO_RFC7540_PRIORITIES: the sender ignores the RFC 7540
    /// priority signals, PRIORITY frames and the priority fields of HEADERS
    /// (RFC 9218 §2.1).
    bool no_rfc7540_priorities = false;

    /// Applies one setting (unknown ones are ignored, RFC 9113 §6.5.2). The
    /// value must have passed check_setting(); out-of-range values are
    /// clamped, not rejected.
    H2WIRE_API void apply(Setting s) noexcept;

    friend bool operator==(const Settings&, const Settings&) = default;
};

/// Validates one received setting regardless of who sent it. Returns
/// ErrorCode::no_error, or the connection error code the RFCs require:
/// PROTOCOL_ERROR for ENABLE_PUSH, ENABLE_CONNECT_PROTOCOL or
/// NO_RFC7540_PRIORITIES above 1 and for MAX_FRAME_SIZE outside 2^14..2^24-1;
/// FLOW_CONTROL_ERROR for INITIAL_WINDOW_SIZE above 2^31-1. `reason`, when
/// given, receives a static text.
H2WIRE_API ErrorCode check_setting(Setting s, std::string_view* reason = nullptr) noexcept;

}  // namespace h2wire
