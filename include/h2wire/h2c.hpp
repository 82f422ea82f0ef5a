/// \file
/// HTTP/2 over cleartext by HTTP/1.1 upgrade ("h2c", RFC 7540 §3.2). RFC 9113
/// §3.1 deprecates it, but clients still use it (curl --http2 on http://), so
/// h2wire supports it: the codec of the HTTP2-Settings header field lives here,
/// and Connection::upgrade_server / upgrade_client start a connection after
/// the 101 (see connection.hpp). The HTTP/1.1 exchange itself is the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "h2wire/export.hpp"
#include "h2wire/error.hpp"
#include "h2wire/settings.hpp"

/// The HTTP2-Settings codec of the h2c upgrade (RFC 7540 §3.2.1).
namespace h2wire::h2c {

/// Characters of the base64url encoding of `n` octets without padding.
constexpr std::size_t base64url_size(std::size_t n) noexcept {
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/// base64url (RFC 4648 §5) without '=' padding, as RFC 7540 §3.2.1 wants for
/// HTTP2-Settings. `out` must hold base64url_size(in.size()) characters;
/// returns the number written.
H2WIRE_API std::size_t encode_base64url(std::span<const std::uint8_t> in, std::span<char> out) noexcept;

/// Decodes base64url. Rejects (nullopt) anything but the 64 alphabet
/// characters, a length that cannot be an encoding (4k+1), non-zero bits
/// left over in the last character (a non-canonical encoding), and an `out`
/// too small. Trailing '=' padding is accepted only where it belongs.
/// Returns the octets written.
H2WIRE_API std::optional<std::size_t> decode_base64url(std::string_view in, std::span<std::uint8_t> out) noexcept;

/// Parses an HTTP2-Settings header value: base64url of a SETTINGS frame
/// payload (RFC 7540 §3.2.1). Each setting is checked as if it came in a
/// SETTINGS frame (check_setting()) and applied to `settings` in order
/// (RFC 9113 §6.5.3). Errors: PROTOCOL_ERROR for bad base64url,
/// FRAME_SIZE_ERROR for a payload that is not a multiple of 6 octets
/// (RFC 9113 §6.5), or the setting's own error code; `reason` receives a
/// static text. `settings` is left partly updated on error.
H2WIRE_API ErrorCode parse_settings_header(std::string_view value, Settings& settings,
                                           std::string_view* reason = nullptr) noexcept;

}  // namespace h2wire::h2c
