// h2c upgrade (RFC 7540 §3.2): the HTTP2-Settings codec (h2c.hpp) and the
// two ways a connection starts after "HTTP/1.1 101 Switching Protocols".
//
//   server: the HTTP/1.1 request becomes stream 1, half-closed (remote); its
//           HTTP2-Settings are the client's settings; the client preface is
//           expected next and our SETTINGS go out first (RFC 7540 §3.2, §3.5).
//   client: the request it sent becomes stream 1, half-closed (local); the
//           101 acknowledges the settings it put in HTTP2-Settings
//           (RFC 7540 §3.2.1); its preface goes out next.
#include <algorithm>
#include <cstring>

#include "connection/connection_impl.hpp"
#include "h2wire/h2c.hpp"

namespace h2wire {

using detail::Stream;
using detail::StreamState;
namespace sf = detail::stream_flag;

// --- HTTP2-Settings codec --------------------------------------------------------

namespace h2c {

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// RFC 4648 §5: the base64url alphabet; -1 for anything else.
constexpr int sextet(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

// Decodes base64url, handing each octet to `put` (which returns false to
// stop). False on bad input.
template <class Put>
bool decode(std::string_view in, Put&& put) noexcept {
    // Padding is omitted in HTTP2-Settings (RFC 7540 §3.2.1); tolerate it
    // only when it is exactly what completes the last quantum.
    if (in.size() % 4 == 0 && !in.empty()) {
        if (in.back() == '=') in.remove_suffix(1);
        if (in.back() == '=') in.remove_suffix(1);
    }
    if (in.size() % 4 == 1) return false;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : in) {
        const int v = sextet(c);
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (!put(static_cast<std::uint8_t>(acc >> bits))) return false;
            acc &= (1u << bits) - 1;
        }
    }
    // RFC 4648 §3.5: the bits left over must be zero (canonical encoding).
    return acc == 0;
}

}  // namespace

std::size_t encode_base64url(std::span<const std::uint8_t> in, std::span<char> out) noexcept {
    if (out.size() < base64url_size(in.size())) return 0;
    std::size_t o = 0;
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (const std::size_t left = in.size() - i; left > 0) {
        const std::uint32_t v = std::uint32_t{in[i]} << 16 | (left == 2 ? std::uint32_t{in[i + 1]} << 8 : 0);
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        if (left == 2) out[o++] = alphabet[(v >> 6) & 63];
    }
    return o;
}

std::optional<std::size_t> decode_base64url(std::string_view in, std::span<std::uint8_t> out) noexcept {
    std::size_t n = 0;
    const bool ok = decode(in, [&](std::uint8_t b) {
        if (n == out.size()) return false;
        out[n++] = b;
        return true;
    });
    if (!ok) return std::nullopt;
    return n;
}

ErrorCode parse_settings_header(std::string_view value, Settings& settings, std::string_view* reason) noexcept {
    // Decoded octet by octet: each 6-octet entry (RFC 9113 §6.5.1) is checked
    // and applied as it completes, so no buffer is needed whatever the size.
    std::uint8_t entry[6];
    std::size_t have = 0;
    ErrorCode err = ErrorCode::no_error;
    const bool ok = decode(value, [&](std::uint8_t b) {
        entry[have++] = b;
        if (have < 6) return true;
        have = 0;
        const Setting s{static_cast<SettingId>(entry[0] << 8 | entry[1]), std::uint32_t{entry[2]} << 24 |
                                                                              std::uint32_t{entry[3]} << 16 |
                                                                              std::uint32_t{entry[4]} << 8 | entry[5]};
        err = check_setting(s, reason);
        if (err != ErrorCode::no_error) return false;
        settings.apply(s);  // unknown identifiers are ignored (RFC 9113 §6.5.2)
        return true;
    });
    if (err != ErrorCode::no_error) return err;
    if (!ok) {
        if (reason) *reason = "HTTP2-Settings is not base64url";
        return ErrorCode::protocol_error;
    }
    if (have != 0) {
        // RFC 9113 §6.5: a SETTINGS payload that is not a multiple of 6
        // octets is a FRAME_SIZE_ERROR.
        if (reason) *reason = "HTTP2-Settings payload is not a multiple of 6 octets";
        return ErrorCode::frame_size_error;
    }
    return ErrorCode::no_error;
}

}  // namespace h2c

// --- the connection side ------------------------------------------------------------

namespace {

// Copies `fields` and `body` into one block: the Field array first, then
// the names and values, then the body.
struct CopiedRequest {
    std::span<const Field> fields;
    std::span<const std::uint8_t> body;
};

CopiedRequest copy_request(detail::UpgradeStore& store, std::pmr::memory_resource* mr, std::span<const Field> fields,
                           std::span<const std::uint8_t> body) {
    std::size_t text = 0;
    for (const Field& f : fields) text += f.name.size() + f.value.size();
    const std::size_t array = fields.size() * sizeof(Field);
    auto* base = static_cast<std::uint8_t*>(store.allocate(mr, array + text + body.size()));
    auto* out = reinterpret_cast<Field*>(base);
    char* p = reinterpret_cast<char*>(base + array);
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const Field& f = fields[i];
        std::memcpy(p, f.name.data(), f.name.size());
        const std::string_view name(p, f.name.size());
        p += f.name.size();
        std::memcpy(p, f.value.data(), f.value.size());
        const std::string_view value(p, f.value.size());
        p += f.value.size();
        new (&out[i]) Field{name, value, f.sensitive};
    }
    auto* b = reinterpret_cast<std::uint8_t*>(p);
    if (!body.empty()) std::memcpy(b, body.data(), body.size());
    return {std::span<const Field>(out, fields.size()), std::span<const std::uint8_t>(b, body.size())};
}

}  // namespace

// Settings a client announces in HTTP2-Settings: the same as its first
// SETTINGS frame (those differing from the RFC's initial values).
static std::size_t settings_payload(const Settings& s, bool client, std::span<std::uint8_t, 48> out) {
    const Settings base{};
    std::size_t n = 0;
    auto add = [&](SettingId id, std::uint32_t v, std::uint32_t initial, bool always = false) {
        if (v == initial && !always) return;
        const auto i = static_cast<std::uint16_t>(id);
        const std::uint8_t e[6] = {static_cast<std::uint8_t>(i >> 8),  static_cast<std::uint8_t>(i),
                                   static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                                   static_cast<std::uint8_t>(v >> 8),  static_cast<std::uint8_t>(v)};
        std::memcpy(out.data() + n, e, 6);
        n += 6;
    };
    add(SettingId::header_table_size, s.header_table_size, base.header_table_size);
    add(SettingId::enable_push, s.enable_push ? 1 : 0, 1, client);
    add(SettingId::max_concurrent_streams, s.max_concurrent_streams, base.max_concurrent_streams);
    add(SettingId::initial_window_size, s.initial_window_size, base.initial_window_size);
    add(SettingId::max_frame_size, s.max_frame_size, base.max_frame_size);
    add(SettingId::max_header_list_size, s.max_header_list_size, base.max_header_list_size);
    add(SettingId::enable_connect_protocol, s.enable_connect_protocol ? 1 : 0, 0);
    add(SettingId::no_rfc7540_priorities, s.no_rfc7540_priorities ? 1 : 0, 0);
    return n;
}

std::string_view Connection::upgrade_settings_header() {
    Impl& c = *impl_;
    if (!c.is_client()) return {};
    std::array<std::uint8_t, 48> payload{};
    const std::size_t n = settings_payload(c.initial_local_settings(), true, payload);
    const std::size_t size = h2c::base64url_size(n);
    char* text = static_cast<char*>(c.upgrade.allocate(c.mr, size));
    h2c::encode_base64url(std::span(payload.data(), n), std::span(text, size));
    return {text, size};
}

ApiError Connection::upgrade_client(std::string_view method) {
    Impl& c = *impl_;
    if (!c.is_client()) return ApiError::wrong_role;
    if (c.closed) return ApiError::connection_closed;
    // The HTTP/1.1 request went out before any HTTP/2 byte: nothing may
    // have been received or written, and no request submitted.
    if (c.io_started || c.next_local_id != 1) return ApiError::too_late;
    c.upgrade.release();  // the HTTP2-Settings text is no longer needed
    // RFC 7540 §3.2.1: the 101 acknowledges the settings sent in
    // HTTP2-Settings; the server may use them from its first frame. They are
    // our initial settings, so they are in force now (the SETTINGS frame of
    // our preface carries the same values and is ACKed as usual).
    c.local = c.initial_local_settings();
    c.reader.set_max_frame_size(c.local.max_frame_size);
    c.decoder.set_max_table_size(c.local.header_table_size);
    c.decoder.set_max_header_list_size(std::min(c.local.max_header_list_size, c.cfg.limits.max_header_list_size));
    // RFC 7540 §3.2: "The HTTP/1.1 request that is sent prior to upgrade is
    // assigned a stream identifier of 1"; our side of it is complete.
    Stream* s = c.new_stream(1, StreamState::half_closed_local, true);
    s->set(sf::final_submitted | sf::end_submitted);
    if (method == "HEAD") s->set(sf::head_request);
    c.next_local_id = 3;
    c.highest_local_sent = 1;
    return ApiError::none;
}

ApiError Connection::upgrade_server(std::string_view http2_settings, std::span<const Field> request,
                                    std::span<const std::uint8_t> body) {
    Impl& c = *impl_;
    c.last_invalid = {};
    if (c.is_client()) return ApiError::wrong_role;
    if (c.closed) return ApiError::connection_closed;
    if (c.io_started || c.highest_peer_id != 0) return ApiError::too_late;
    // RFC 7540 §3.2.1: "A server decodes and interprets these values as it
    // would any other SETTINGS frame." Checked before anything changes, so a
    // refused upgrade leaves the connection untouched.
    Settings peer{};
    if (h2c::parse_settings_header(http2_settings, peer) != ErrorCode::no_error) return ApiError::invalid_argument;
    detail::RequestInfo info;
    if (c.cfg.validate_messages) {
        detail::RequestRules rules;
        rules.connect_protocol = false;  // no CONNECT in an HTTP/1.1 upgrade
        if (const HeaderError e = detail::check_request(request, rules, info); e != HeaderError::none)
            return c.refuse_fields(request, detail::MessageKind::request, e);
        // A CONNECT tunnel needs the client's side of its stream, and the
        // upgraded request has ended it (RFC 7540 §3.2: stream 1 is
        // half-closed): not a malformed request, one that cannot be upgraded.
        if (info.is_connect) return ApiError::invalid_argument;
        // RFC 9113 §8.1.1: the body matches content-length.
        if (info.content_length >= 0 && static_cast<std::uint64_t>(info.content_length) != body.size())
            return ApiError::invalid_argument;
    } else {
        detail::extract_request(request, info);
    }
    // The client's settings, as if its SETTINGS frame had arrived (without
    // an ACK: the 101 is the acknowledgement). Its preface still starts with
    // a SETTINGS frame, which is handled as usual.
    c.encoder.set_peer_max_table_size(peer.header_table_size);
    c.apply_peer_initial_window(peer.initial_window_size, peer.initial_window_size);
    c.peer = peer;

    // RFC 7540 §3.2: the request is stream 1, "half-closed" from the client
    // toward the server (it was completed in HTTP/1.1).
    Stream* s = c.new_stream(1, StreamState::half_closed_remote, false);
    s->recv_phase = detail::RecvPhase::body;
    s->set(sf::announced);  // reported below
    if (info.is_head) s->set(sf::head_request);
    c.highest_peer_id = 1;
    c.last_peer_processed = 1;

    // Reported by the next receive() like any request: RequestReceived, the
    // body as one DataReceived (no window to hand back: it did not come
    // through HTTP/2 flow control), StreamEnded. The copies live until the
    // receive() after that one.
    const CopiedRequest copy = copy_request(c.upgrade, c.mr, request, body);
    c.upgrade.expire_after_two_receives();
    detail::extract_request(copy.fields, info);
    const Priority priority = c.opening_priority(s, copy.fields);
    c.report(RequestReceived{1, copy.fields, info.method, info.scheme, info.authority, info.path, info.protocol,
                             copy.body.empty(), nullptr, priority});
    if (!copy.body.empty()) c.report(DataReceived{1, copy.body, 0, true});
    c.report(StreamEnded{1});
    return ApiError::none;
}

}  // namespace h2wire
