// Validation of one frame (RFC 9113 §4.2, §6; RFC 7838 §4; RFC 8336 §2;
// RFC 9218 §7.1) and parsing of non-DATA payloads into frame structs.
//
// Classification follows RFC 9113 §5.4. A frame size error is a connection
// error for any frame that could alter connection state (§4.2): field block
// frames, SETTINGS, anything on stream 0, and here also DATA, which counts
// against the connection window and whose skipped payload would otherwise
// need accounting. The stream errors are the cases the RFC names: PRIORITY of
// the wrong length (§6.3), a zero WINDOW_UPDATE increment on a stream (§6.9),
// and a PRIORITY frame that depends on its own stream (RFC 7540 §5.3.1).
#include "frame/parse.hpp"

#include <algorithm>

namespace h2wire::detail {

using frame::Bytes;
using frame::FrameHeader;
using frame::PeerRole;
using frame::Type;
using Kind = FrameCheck::Kind;

namespace {

constexpr ErrorCode protocol = ErrorCode::protocol_error;
constexpr ErrorCode frame_size = ErrorCode::frame_size_error;

FrameCheck conn(ErrorCode c, std::string_view why) noexcept {
    return FrameCheck::connection(c, why);
}

// Splits off Pad Length and checks it against what is left after the other
// fixed fields (`fixed` octets). RFC 9113 §6.2/§6.6: padding that is not
// smaller than the remaining payload is a connection PROTOCOL_ERROR.
// `rest` is the payload after the Pad Length octet on return.
FrameCheck split_padding(const FrameHeader& h, Bytes& rest, std::size_t fixed, std::optional<frame::Padding>& padding,
                         Bytes& body) noexcept {
    if (!h.has(frame::flags::padded)) {
        body = rest;
        return FrameCheck::pass();
    }
    const std::uint8_t pad = rest[0];
    rest = rest.subspan(1);
    if (pad > rest.size() - fixed) return conn(protocol, "padding exceeds the frame payload");
    body = rest.first(rest.size() - pad);
    padding = frame::Padding{pad, rest.last(pad)};
    return FrameCheck::pass();
}

}  // namespace

FrameCheck check_header(const FrameHeader& h, const frame::ReaderOptions& o, std::uint32_t block_stream) noexcept {
    if (const FrameCheck c = check_size_and_stream(h, o.max_frame_size); !c.ok()) return c;

    if (o.check_continuation) {
        if (block_stream != 0) {
            // RFC 9113 §6.2, §6.10: inside a field block only CONTINUATION of
            // the same stream may come.
            if (h.type != Type::continuation) return conn(protocol, "frame inside a header block");
            if (h.stream_id != block_stream) return conn(protocol, "CONTINUATION on another stream");
        } else if (h.type == Type::continuation) {
            // RFC 9113 §6.10: a CONTINUATION must follow HEADERS, PUSH_PROMISE
            // or CONTINUATION without END_HEADERS.
            return conn(protocol, "CONTINUATION outside a header block");
        }
    }

    const bool padded = h.has(frame::flags::padded);
    switch (h.type) {
        case Type::data:
            // RFC 9113 §4.2: too small to hold Pad Length.
            if (padded && h.length < 1) return conn(frame_size, "padded DATA without Pad Length");
            break;
        case Type::headers: {
            const std::uint32_t min = (padded ? 1u : 0u) + (h.has(frame::flags::priority) ? 5u : 0u);
            // RFC 9113 §4.2: too small for Pad Length and priority fields; a
            // field block frame, hence a connection error.
            if (h.length < min) return conn(frame_size, "HEADERS too short for its padding and priority fields");
            break;
        }
        case Type::priority:
            // RFC 9113 §6.3: PRIORITY on stream 0 is a connection PROTOCOL_ERROR.
            if (h.stream_id == 0) return conn(protocol, "PRIORITY on stream 0");
            // RFC 9113 §6.3: a length other than 5 is a stream FRAME_SIZE_ERROR.
            if (h.length != 5) return FrameCheck::stream(frame_size, "PRIORITY length is not 5");
            break;
        case Type::rst_stream:
            // RFC 9113 §6.4: RST_STREAM on stream 0 is a connection PROTOCOL_ERROR.
            if (h.stream_id == 0) return conn(protocol, "RST_STREAM on stream 0");
            // RFC 9113 §6.4: a length other than 4 is a connection FRAME_SIZE_ERROR.
            if (h.length != 4) return conn(frame_size, "RST_STREAM length is not 4");
            break;
        case Type::settings:
            // RFC 9113 §6.5: SETTINGS on a stream is a connection PROTOCOL_ERROR.
            if (h.stream_id != 0) return conn(protocol, "SETTINGS on a stream other than 0");
            // RFC 9113 §6.5: ACK with a payload is a connection FRAME_SIZE_ERROR.
            if (h.has(frame::flags::ack) && h.length != 0) return conn(frame_size, "SETTINGS ACK with a payload");
            // RFC 9113 §6.5: a length not a multiple of 6 is a connection FRAME_SIZE_ERROR.
            if (h.length % 6 != 0) return conn(frame_size, "SETTINGS length not a multiple of 6");
            break;
        case Type::push_promise:
            // RFC 9113 §8.4: a client cannot push; a server receiving
            // PUSH_PROMISE treats it as a connection PROTOCOL_ERROR.
            if (o.peer == PeerRole::client) return conn(protocol, "PUSH_PROMISE from a client");
            // RFC 9113 §6.6: PUSH_PROMISE on stream 0 is a connection PROTOCOL_ERROR.
            if (h.stream_id == 0) return conn(protocol, "PUSH_PROMISE on stream 0");
            // RFC 9113 §4.2: too small for Pad Length and Promised Stream ID.
            if (h.length < (padded ? 5u : 4u)) return conn(frame_size, "PUSH_PROMISE too short for its fields");
            break;
        case Type::ping:
            // RFC 9113 §6.7: PING on a stream is a connection PROTOCOL_ERROR.
            if (h.stream_id != 0) return conn(protocol, "PING on a stream other than 0");
            // RFC 9113 §6.7: a length other than 8 is a connection FRAME_SIZE_ERROR.
            if (h.length != 8) return conn(frame_size, "PING length is not 8");
            break;
        case Type::goaway:
            // RFC 9113 §6.8: GOAWAY on a stream is a connection PROTOCOL_ERROR.
            if (h.stream_id != 0) return conn(protocol, "GOAWAY on a stream other than 0");
            // RFC 9113 §4.2: too small for Last-Stream-ID and Error Code.
            if (h.length < 8) return conn(frame_size, "GOAWAY shorter than 8 octets");
            break;
        case Type::window_update:
            // RFC 9113 §6.9: a length other than 4 is a connection FRAME_SIZE_ERROR.
            if (h.length != 4) return conn(frame_size, "WINDOW_UPDATE length is not 4");
            break;
        case Type::continuation:
            // RFC 9113 §6.10: CONTINUATION on stream 0 is a connection PROTOCOL_ERROR.
            if (h.stream_id == 0) return conn(protocol, "CONTINUATION on stream 0");
            break;
        case Type::priority_update:
            // RFC 9218 §7.1: servers MUST NOT send PRIORITY_UPDATE; a client
            // receiving one treats it as a connection PROTOCOL_ERROR.
            if (o.peer == PeerRole::server) return conn(protocol, "PRIORITY_UPDATE from a server");
            // RFC 9218 §7.1: a stream id other than 0 is a connection PROTOCOL_ERROR.
            if (h.stream_id != 0) return conn(protocol, "PRIORITY_UPDATE on a stream other than 0");
            // RFC 9113 §4.2: too small for Prioritized Stream ID (stream 0 frame).
            if (h.length < 4) return conn(frame_size, "PRIORITY_UPDATE shorter than 4 octets");
            break;
        default:
            // ALTSVC and ORIGIN are checked on their payload (they are ignored,
            // not rejected, when malformed); unknown types are not checked.
            break;
    }
    return FrameCheck::pass();
}

FrameCheck parse_payload(const FrameHeader& h, Bytes payload, const frame::ReaderOptions& o,
                         frame::Frame& out) noexcept {
    const std::uint8_t* p = payload.data();
    switch (h.type) {
        case Type::headers: {
            frame::Headers f;
            f.stream_id = h.stream_id;
            f.end_stream = h.has(frame::flags::end_stream);
            f.end_headers = h.has(frame::flags::end_headers);
            Bytes rest = payload;
            const bool has_priority = h.has(frame::flags::priority);
            Bytes body;
            if (FrameCheck c = split_padding(h, rest, has_priority ? 5 : 0, f.padding, body); !c.ok()) return c;
            if (has_priority) {
                const std::uint32_t dep = read_u32(body.data());
                f.priority = frame::PriorityFields{(dep & 0x80000000u) != 0, dep & 0x7fffffffu, body[4]};
                body = body.subspan(5);
            }
            f.fragment = body;
            out = f;
            return FrameCheck::pass();
        }
        case Type::priority: {
            frame::Priority f;
            f.stream_id = h.stream_id;
            const std::uint32_t dep = read_u32(p);
            f.fields = frame::PriorityFields{(dep & 0x80000000u) != 0, dep & 0x7fffffffu, p[4]};
            // RFC 7540 §5.3.1 (retained by RFC 9113 §5.3.2): a stream cannot
            // depend on itself; a stream PROTOCOL_ERROR.
            if (f.fields.dependency == h.stream_id) return FrameCheck::stream(protocol, "stream depends on itself");
            out = f;
            return FrameCheck::pass();
        }
        case Type::rst_stream:
            out = frame::RstStream{h.stream_id, static_cast<ErrorCode>(read_u32(p))};
            return FrameCheck::pass();
        case Type::settings: {
            frame::Settings f;
            f.ack = h.has(frame::flags::ack);
            f.entries = frame::SettingsList::from_wire(payload);
            for (const Setting s : f.entries) {
                std::string_view why;
                // RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1: value ranges.
                if (const ErrorCode c = check_setting(s, &why); c != ErrorCode::no_error) return conn(c, why);
                // RFC 9113 §6.5.2: a client MUST treat ENABLE_PUSH=1 from a server
                // as a connection PROTOCOL_ERROR.
                if (o.peer == PeerRole::server && s.id == SettingId::enable_push && s.value == 1)
                    return conn(protocol, "SETTINGS_ENABLE_PUSH=1 from a server");
            }
            out = f;
            return FrameCheck::pass();
        }
        case Type::push_promise: {
            frame::PushPromise f;
            f.stream_id = h.stream_id;
            f.end_headers = h.has(frame::flags::end_headers);
            Bytes rest = payload;
            Bytes body;
            if (FrameCheck c = split_padding(h, rest, 4, f.padding, body); !c.ok()) return c;
            f.promised_stream_id = read_u31(body.data());
            f.fragment = body.subspan(4);
            // RFC 9113 §6.6, §5.1.1: promising stream 0 is an illegal stream
            // identifier, a connection PROTOCOL_ERROR.
            if (f.promised_stream_id == 0) return conn(protocol, "PUSH_PROMISE promises stream 0");
            // RFC 9113 §5.1.1: servers initiate even streams; an odd promised id
            // from a server is illegal (§6.6: connection PROTOCOL_ERROR).
            if (o.peer == PeerRole::server && (f.promised_stream_id & 1) != 0)
                return conn(protocol, "PUSH_PROMISE promises an odd stream");
            out = f;
            return FrameCheck::pass();
        }
        case Type::ping: {
            frame::Ping f;
            f.ack = h.has(frame::flags::ack);
            std::copy_n(p, 8, f.opaque_data.begin());
            out = f;
            return FrameCheck::pass();
        }
        case Type::goaway:
            // RFC 9113 §6.8: the reserved bit of Last-Stream-ID is ignored.
            out = frame::Goaway{read_u31(p), static_cast<ErrorCode>(read_u32(p + 4)), payload.subspan(8)};
            return FrameCheck::pass();
        case Type::window_update: {
            const std::uint32_t inc = read_u31(p);
            // RFC 9113 §6.9: an increment of 0 is a PROTOCOL_ERROR: a stream
            // error on a stream, a connection error on the connection window.
            if (inc == 0) {
                if (h.stream_id == 0) return conn(protocol, "WINDOW_UPDATE increment 0 on the connection");
                return FrameCheck::stream(protocol, "WINDOW_UPDATE increment 0");
            }
            out = frame::WindowUpdate{h.stream_id, inc};
            return FrameCheck::pass();
        }
        case Type::continuation:
            out = frame::Continuation{h.stream_id, h.has(frame::flags::end_headers), payload};
            return FrameCheck::pass();
        case Type::altsvc: {
            auto ignore = [&](std::string_view why) {
                out = frame::Ignored{h.type, h.stream_id, payload, why};
                return FrameCheck::pass();
            };
            // RFC 7838 §4: "A device acting as a server MUST ignore it."
            if (o.peer == PeerRole::client) return ignore("ALTSVC sent by a client");
            if (payload.size() < 2) return ignore("ALTSVC too short for Origin-Len");
            const std::size_t origin_len = read_u16(p);
            if (origin_len > payload.size() - 2) return ignore("ALTSVC Origin-Len past the payload");
            // RFC 7838 §4: on stream 0 the origin must be present, elsewhere it
            // must be absent; otherwise the frame MUST be ignored.
            if (h.stream_id == 0 && origin_len == 0) return ignore("ALTSVC on stream 0 without origin");
            if (h.stream_id != 0 && origin_len != 0) return ignore("ALTSVC on a stream with an origin");
            const auto* text = reinterpret_cast<const char*>(p + 2);
            out = frame::Altsvc{h.stream_id, std::string_view(text, origin_len),
                                std::string_view(text + origin_len, payload.size() - 2 - origin_len)};
            return FrameCheck::pass();
        }
        case Type::origin: {
            auto ignore = [&](std::string_view why) {
                out = frame::Ignored{h.type, h.stream_id, payload, why};
                return FrameCheck::pass();
            };
            // RFC 8336 §2.1: ORIGIN on a stream other than 0 MUST be ignored.
            if (h.stream_id != 0) return ignore("ORIGIN on a stream other than 0");
            // RFC 8336 §2.1: flags 0x1, 0x2, 0x4, 0x8 are reserved for
            // incompatible changes; a frame with any of them MUST be ignored.
            if (h.flags & 0x0f) return ignore("ORIGIN with a reserved incompatible flag");
            // The payload must be a whole number of Origin-Entry fields.
            for (std::size_t i = 0; i < payload.size();) {
                if (payload.size() - i < 2) return ignore("ORIGIN entry truncated");
                const std::size_t len = read_u16(p + i);
                if (len > payload.size() - i - 2) return ignore("ORIGIN entry truncated");
                i += 2 + len;
            }
            out = frame::Origin{frame::OriginList::from_wire(payload)};
            return FrameCheck::pass();
        }
        case Type::priority_update: {
            const std::uint32_t id = read_u31(p);
            // RFC 9218 §7.1: a prioritized stream id of 0 is a connection PROTOCOL_ERROR.
            if (id == 0) return conn(protocol, "PRIORITY_UPDATE for stream 0");
            out = frame::PriorityUpdate{id, std::string_view(reinterpret_cast<const char*>(p + 4), payload.size() - 4)};
            return FrameCheck::pass();
        }
        default:
            // RFC 9113 §4.1, §5.5: unknown types are kept for the caller to ignore.
            out = frame::Unknown{static_cast<std::uint8_t>(h.type), h.flags, h.stream_id, payload};
            return FrameCheck::pass();
    }
}

}  // namespace h2wire::detail
