// Helpers for the Connection tests.
//
//  - Owned copies of events (Ev) and of header lists (Hdrs): events hold
//    views valid only until the next receive(), so everything is copied out
//    right after each call.
//  - Peer: plays the other side with frames it builds itself (checked
//    writers, frame::write_raw for invalid ones, an hpack::Encoder of its
//    own) and parses every byte the Connection writes (frame::Reader with
//    CONTINUATION checks + hpack::Decoder) into a list of WireFrames. It
//    keeps its own account of both directions' flow-control windows and
//    records any DATA the Connection sends past a window.
//  - Session: one Connection under test plus its Peer; feeds input whole,
//    byte by byte or at random splits, drains output, and runs the SETTINGS
//    handshake.
//  - Pair: a client and a server Connection wired together in memory, with
//    optional random chunking of every transfer.
//
// Nothing here reads the Connection's internals; every check is on the
// wire or in events.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "h2wire/connection.hpp"
#include "h2wire/events.hpp"
#include "h2wire/frame.hpp"
#include "h2wire/hpack.hpp"

// Enums print by name in assertion messages (doctest finds these by ADL).
namespace h2wire {
inline doctest::String toString(ErrorCode c) {
    std::string s(to_string(c));
    if (!is_known(c)) s += "(" + std::to_string(static_cast<std::uint32_t>(c)) + ")";
    return doctest::String(s.c_str());
}
inline doctest::String toString(ApiError e) {
    return doctest::String(std::string(to_string(e)).c_str());
}
inline doctest::String toString(Initiator i) {
    return i == Initiator::local ? "local" : "peer";
}
}  // namespace h2wire
namespace h2wire::frame {
inline doctest::String toString(Type t) {
    return doctest::String(std::string(to_string(t)).c_str());
}
}  // namespace h2wire::frame

namespace h2wire::conn_test {

using Bytes = std::vector<std::uint8_t>;
using frame::Type;
namespace fl = frame::flags;

// ---------------------------------------------------------------------------
// Small things

/// splitmix64: the same sequence with every standard library.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    /// In [0, n); n > 0.
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    /// In [lo, hi].
    std::size_t between(std::size_t lo, std::size_t hi) { return lo + below(hi - lo + 1); }
    bool one_in(std::size_t n) { return below(n) == 0; }
    std::uint8_t byte() { return static_cast<std::uint8_t>(next() & 0xff); }
    Bytes bytes(std::size_t n) {
        Bytes b(n);
        for (auto& c : b) c = byte();
        return b;
    }
    std::string letters(std::size_t n) {
        std::string s(n, 'a');
        for (auto& c : s) c = static_cast<char>('a' + below(26));
        return s;
    }

private:
    std::uint64_t state_;
};

inline Bytes bytes_of(std::string_view s) {
    return Bytes(s.begin(), s.end());
}
inline std::string string_of(std::span<const std::uint8_t> b) {
    return std::string(b.begin(), b.end());
}
inline std::span<const std::uint8_t> span_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string hex(std::span<const std::uint8_t> b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (const std::uint8_t c : b) {
        s += digits[c >> 4];
        s += digits[c & 15];
    }
    return s;
}
inline std::string num(std::uint64_t v) {
    return std::to_string(v);
}
inline Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
inline void append(Bytes& out, std::span<const std::uint8_t> b) {
    out.insert(out.end(), b.begin(), b.end());
}
inline std::string join(const std::vector<std::string>& lines, std::string_view sep = "\n") {
    std::string s;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i) s += sep;
        s += lines[i];
    }
    return s;
}
inline std::array<std::uint8_t, 8> opaque(std::string_view eight) {
    std::array<std::uint8_t, 8> a{};
    for (std::size_t i = 0; i < 8 && i < eight.size(); ++i) a[i] = static_cast<std::uint8_t>(eight[i]);
    return a;
}

// ---------------------------------------------------------------------------
// Owned header lists

struct Hdr {
    std::string name;
    std::string value;
    bool sensitive = false;
    friend bool operator==(const Hdr& a, const Hdr& b) {
        return a.name == b.name && a.value == b.value && a.sensitive == b.sensitive;
    }
};
using Hdrs = std::vector<Hdr>;

inline Hdrs owned(std::span<const Field> fields) {
    Hdrs h;
    h.reserve(fields.size());
    for (const Field& f : fields) h.push_back({std::string(f.name), std::string(f.value), f.sensitive});
    return h;
}
/// Library fields that own what they view: a copy of the header list and
/// Fields pointing into it (moving keeps the views valid: the vectors' buffers
/// move with them), so `const auto f = fields(get());` is safe.
class FieldList {
public:
    explicit FieldList(Hdrs h) : owner_(std::move(h)) {
        list_.reserve(owner_.size());
        for (const Hdr& x : owner_) list_.push_back(Field{x.name, x.value, x.sensitive});
    }
    FieldList(FieldList&&) noexcept = default;
    FieldList& operator=(FieldList&&) noexcept = default;
    FieldList(const FieldList&) = delete;
    FieldList& operator=(const FieldList&) = delete;

    const Field* data() const { return list_.data(); }
    std::size_t size() const { return list_.size(); }
    const Field* begin() const { return list_.data(); }
    const Field* end() const { return list_.data() + list_.size(); }

private:
    Hdrs owner_;
    std::vector<Field> list_;
};
inline FieldList fields(Hdrs h) {
    return FieldList(std::move(h));
}
inline std::string describe(const Hdrs& h) {
    std::string s = "[";
    for (std::size_t i = 0; i < h.size(); ++i) {
        if (i) s += ", ";
        std::string v =
            h[i].value.size() > 60 ? h[i].value.substr(0, 60) + "...(" + num(h[i].value.size()) + ")" : h[i].value;
        s += h[i].name + ": " + v + (h[i].sensitive ? " (s)" : "");
    }
    return s + "]";
}
/// The list without `sensitive` marks (compare names and values only).
inline Hdrs plain(Hdrs h) {
    for (Hdr& x : h) x.sensitive = false;
    return h;
}
/// The value of the first field named `name`, or nullopt.
inline std::optional<std::string> find_field(const Hdrs& h, std::string_view name) {
    for (const Hdr& x : h)
        if (x.name == name) return x.value;
    return std::nullopt;
}
inline Hdrs operator+(Hdrs a, const Hdrs& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// A GET request.
inline Hdrs get(std::string path = "/", std::string authority = "example.com") {
    return {{":method", "GET"}, {":scheme", "https"}, {":authority", std::move(authority)}, {":path", std::move(path)}};
}
/// A request with `method` (POST unless told).
inline Hdrs request(std::string method = "POST", std::string path = "/upload") {
    return {{":method", std::move(method)},
            {":scheme", "https"},
            {":authority", "example.com"},
            {":path", std::move(path)}};
}
/// A response with :status `code` followed by `extra`.
inline Hdrs response(int code = 200, const Hdrs& extra = {}) {
    return Hdrs{{":status", std::to_string(code)}} + extra;
}

// ---------------------------------------------------------------------------
// Owned events

namespace ev {
struct Request {
    std::uint32_t stream = 0;
    Hdrs headers;
    std::string method, scheme, authority, path, protocol;
    bool end_stream = false;
    Priority priority;
};
struct Response {
    std::uint32_t stream = 0;
    int status = 0;
    Hdrs headers;
    bool end_stream = false;
};
struct Informational {
    std::uint32_t stream = 0;
    int status = 0;
    Hdrs headers;
};
struct Trailers {
    std::uint32_t stream = 0;
    Hdrs headers;
};
struct Data {
    std::uint32_t stream = 0;
    Bytes data;
    std::uint32_t flow_controlled_length = 0;
    bool end_stream = false;
};
struct Reset {
    std::uint32_t stream = 0;
    ErrorCode code = ErrorCode::no_error;
    Initiator by = Initiator::peer;
    bool safe_to_retry = false;
    std::string reason;
};
struct Goaway {
    std::uint32_t last_stream_id = 0;
    ErrorCode code = ErrorCode::no_error;
    Bytes debug;
};
struct PushPromise {
    std::uint32_t stream = 0;
    std::uint32_t promised_stream = 0;
    Hdrs headers;
};
struct PriorityUpdated {
    std::uint32_t stream = 0;
    std::string field_value;
    std::optional<Priority> priority;
};
struct Altsvc {
    std::uint32_t stream = 0;
    std::string origin, field_value;
};
struct Origin {
    std::vector<std::string> origins;
};
struct Unknown {
    std::uint8_t type = 0;
    std::uint8_t flags = 0;
    std::uint32_t stream = 0;
    Bytes payload;
};
struct Terminated {
    ErrorCode code = ErrorCode::no_error;
    Initiator by = Initiator::local;
    std::uint32_t last_stream_id = 0;
    std::string reason;
};
}  // namespace ev

/// An Event with every view copied. Alternatives in the order of Event.
using Ev =
    std::variant<SettingsReceived, SettingsAcknowledged, ev::Request, ev::Response, ev::Informational, ev::Trailers,
                 ev::Data, StreamEnded, ev::Reset, StreamWritable, PingReceived, PingAcknowledged, ev::Goaway,
                 ev::PushPromise, ev::PriorityUpdated, ev::Altsvc, ev::Origin, ev::Unknown, ev::Terminated,
                 StreamClosed>;
static_assert(std::variant_size_v<Ev> == std::variant_size_v<Event>);

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

inline Ev own(const Event& e) {
    return std::visit(
        overloaded{
            [](const SettingsReceived& x) -> Ev { return x; },
            [](const SettingsAcknowledged& x) -> Ev { return x; },
            [](const RequestReceived& x) -> Ev {
                return ev::Request{x.stream,
                                   owned(x.headers),
                                   std::string(x.method),
                                   std::string(x.scheme),
                                   std::string(x.authority),
                                   std::string(x.path),
                                   std::string(x.protocol),
                                   x.end_stream,
                                   x.priority};
            },
            [](const ResponseReceived& x) -> Ev {
                return ev::Response{x.stream, x.status, owned(x.headers), x.end_stream};
            },
            [](const InformationalResponseReceived& x) -> Ev {
                return ev::Informational{x.stream, x.status, owned(x.headers)};
            },
            [](const TrailersReceived& x) -> Ev {
                return ev::Trailers{x.stream, owned(x.headers)};
            },
            [](const DataReceived& x) -> Ev {
                return ev::Data{x.stream, Bytes(x.data.begin(), x.data.end()), x.flow_controlled_length, x.end_stream};
            },
            [](const StreamEnded& x) -> Ev { return x; },
            [](const StreamReset& x) -> Ev {
                return ev::Reset{x.stream, x.code, x.by, x.safe_to_retry, std::string(x.reason)};
            },
            [](const StreamWritable& x) -> Ev { return x; },
            [](const PingReceived& x) -> Ev { return x; },
            [](const PingAcknowledged& x) -> Ev { return x; },
            [](const GoawayReceived& x) -> Ev {
                return ev::Goaway{x.last_stream_id, x.code, Bytes(x.debug_data.begin(), x.debug_data.end())};
            },
            [](const PushPromiseReceived& x) -> Ev {
                return ev::PushPromise{x.stream, x.promised_stream, owned(x.headers)};
            },
            [](const PriorityUpdated& x) -> Ev {
                return ev::PriorityUpdated{x.stream, std::string(x.field_value), x.priority};
            },
            [](const AltsvcReceived& x) -> Ev {
                return ev::Altsvc{x.stream, std::string(x.origin), std::string(x.field_value)};
            },
            [](const OriginReceived& x) -> Ev {
                ev::Origin o;
                for (const std::string_view s : x.origins) o.origins.emplace_back(s);
                return o;
            },
            [](const UnknownFrameReceived& x) -> Ev {
                return ev::Unknown{x.type, x.flags, x.stream, Bytes(x.payload.begin(), x.payload.end())};
            },
            [](const ConnectionTerminated& x) -> Ev {
                return ev::Terminated{x.code, x.by, x.last_stream_id, std::string(x.reason)};
            },
            [](const StreamClosed& x) -> Ev { return x; },
        },
        e);
}

inline std::string describe(const Settings& s) {
    return "{table=" + num(s.header_table_size) + " push=" + num(s.enable_push) +
           " mcs=" + num(s.max_concurrent_streams) + " iws=" + num(s.initial_window_size) +
           " mfs=" + num(s.max_frame_size) + " mhls=" + num(s.max_header_list_size) +
           " connect=" + num(s.enable_connect_protocol) + " nopri=" + num(s.no_rfc7540_priorities) + "}";
}
inline std::string by_name(Initiator i) {
    return i == Initiator::local ? "local" : "peer";
}

/// One line per event; the same event always gives the same line.
inline std::string describe(const Ev& e) {
    return std::visit(
        overloaded{
            [](const SettingsReceived& x) { return "SettingsReceived " + describe(x.settings); },
            [](const SettingsAcknowledged& x) { return "SettingsAcknowledged " + describe(x.settings); },
            [](const ev::Request& x) {
                return "Request s=" + num(x.stream) + (x.end_stream ? " ES " : " ") + describe(x.headers) +
                       " method=" + x.method + " scheme=" + x.scheme + " authority=" + x.authority + " path=" + x.path +
                       (x.protocol.empty() ? "" : " protocol=" + x.protocol);
            },
            [](const ev::Response& x) {
                return "Response s=" + num(x.stream) + " status=" + num(static_cast<std::uint64_t>(x.status)) +
                       (x.end_stream ? " ES " : " ") + describe(x.headers);
            },
            [](const ev::Informational& x) {
                return "Informational s=" + num(x.stream) + " status=" + num(static_cast<std::uint64_t>(x.status)) +
                       " " + describe(x.headers);
            },
            [](const ev::Trailers& x) { return "Trailers s=" + num(x.stream) + " " + describe(x.headers); },
            [](const ev::Data& x) {
                return "Data s=" + num(x.stream) + " len=" + num(x.data.size()) +
                       " fc=" + num(x.flow_controlled_length) + (x.end_stream ? " ES" : "") +
                       (x.data.size() <= 32 ? " " + hex(x.data) : "");
            },
            [](const StreamEnded& x) { return "StreamEnded s=" + num(x.stream); },
            [](const ev::Reset& x) {
                return "StreamReset s=" + num(x.stream) + " " + std::string(to_string(x.code)) +
                       " by=" + by_name(x.by) + (x.safe_to_retry ? " retry" : "") + " (" + x.reason + ")";
            },
            [](const StreamWritable& x) { return "StreamWritable s=" + num(x.stream) + " window=" + num(x.window); },
            [](const PingReceived& x) { return "PingReceived " + hex(x.data); },
            [](const PingAcknowledged& x) { return "PingAcknowledged " + hex(x.data); },
            [](const ev::Goaway& x) {
                return "GoawayReceived last=" + num(x.last_stream_id) + " " + std::string(to_string(x.code)) +
                       " debug=" + string_of(x.debug);
            },
            [](const ev::PushPromise& x) {
                return "PushPromise s=" + num(x.stream) + " promised=" + num(x.promised_stream) + " " +
                       describe(x.headers);
            },
            [](const ev::PriorityUpdated& x) { return "PriorityUpdated s=" + num(x.stream) + " " + x.field_value; },
            [](const ev::Altsvc& x) {
                return "Altsvc s=" + num(x.stream) + " origin=" + x.origin + " value=" + x.field_value;
            },
            [](const ev::Origin& x) {
                std::string s = "Origin";
                for (const auto& o : x.origins) s += " " + o;
                return s;
            },
            [](const ev::Unknown& x) {
                return "Unknown type=" + num(x.type) + " flags=" + num(x.flags) + " s=" + num(x.stream) +
                       " payload=" + hex(x.payload);
            },
            [](const ev::Terminated& x) {
                return "ConnectionTerminated " + std::string(to_string(x.code)) + " by=" + by_name(x.by) +
                       " last=" + num(x.last_stream_id) + " (" + x.reason + ")";
            },
            [](const StreamClosed& x) {
                return "StreamClosed s=" + num(x.stream) + " " + std::string(to_string(x.code)) + " by=" + by_name(x.by);
            },
        },
        e);
}

template <class T>
inline constexpr bool has_stream_v = requires(const T& t) {
    t.stream;
};

/// A list of owned events with lookups.
struct Events : std::vector<Ev> {
    template <class T>
    std::vector<T> all() const {
        std::vector<T> out;
        for (const Ev& e : *this)
            if (const T* p = std::get_if<T>(&e)) out.push_back(*p);
        return out;
    }
    template <class T>
    std::size_t count() const {
        return static_cast<std::size_t>(
            std::count_if(begin(), end(), [](const Ev& e) { return std::holds_alternative<T>(e); }));
    }
    template <class T>
    std::optional<T> first() const {
        for (const Ev& e : *this)
            if (const T* p = std::get_if<T>(&e)) return *p;
        return std::nullopt;
    }
    template <class T>
    std::optional<T> last() const {
        for (auto it = rbegin(); it != rend(); ++it)
            if (const T* p = std::get_if<T>(&*it)) return *p;
        return std::nullopt;
    }
    /// The first event of type T on `stream`.
    template <class T>
    std::optional<T> on(std::uint32_t stream) const {
        for (const Ev& e : *this)
            if (const T* p = std::get_if<T>(&e))
                if (p->stream == stream) return *p;
        return std::nullopt;
    }
    template <class T>
    std::size_t count_on(std::uint32_t stream) const {
        std::size_t n = 0;
        for (const Ev& e : *this)
            if (const T* p = std::get_if<T>(&e))
                if (p->stream == stream) ++n;
        return n;
    }
    /// All DATA of `stream`, joined.
    Bytes data_of(std::uint32_t stream) const {
        Bytes out;
        for (const ev::Data& d : all<ev::Data>())
            if (d.stream == stream) append(out, d.data);
        return out;
    }
    /// Events that concern `stream` (those without a stream are left out).
    std::vector<std::string> lines_on(std::uint32_t stream) const {
        std::vector<std::string> out;
        for (const Ev& e : *this) {
            const bool match = std::visit(
                [&](const auto& x) {
                    if constexpr (has_stream_v<std::decay_t<decltype(x)>>)
                        return x.stream == stream;
                    else
                        return false;
                },
                e);
            if (match) out.push_back(describe(e));
        }
        return out;
    }
    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        for (const Ev& e : *this) out.push_back(describe(e));
        return out;
    }
    std::string str() const { return join(lines()); }
    void add(const Events& more) { insert(end(), more.begin(), more.end()); }
};

// ---------------------------------------------------------------------------
// Frames the Connection wrote, parsed by the Peer

struct WireFrame {
    frame::FrameHeader header{};
    // DATA: payload without padding. UNKNOWN: payload.
    Bytes data;
    std::optional<std::uint8_t> pad_length;
    // HEADERS / PUSH_PROMISE: the whole block decoded (filled in when the
    // block ends), its encoded bytes, and how many CONTINUATIONs it took.
    // CONTINUATION: only `fragment`.
    Bytes fragment;
    Bytes block;
    Hdrs headers;
    bool block_complete = false;
    int continuations = 0;
    std::optional<frame::PriorityFields> priority;
    std::uint32_t promised = 0;
    // RST_STREAM / GOAWAY
    ErrorCode code = ErrorCode::no_error;
    std::uint32_t last_stream_id = 0;
    Bytes debug;
    // SETTINGS / PING
    bool ack = false;
    std::vector<Setting> settings;
    std::array<std::uint8_t, 8> opaque{};
    // WINDOW_UPDATE
    std::uint32_t increment = 0;
    // PRIORITY_UPDATE
    std::uint32_t prioritized = 0;
    std::string priority_value;

    Type type() const { return header.type; }
    std::uint32_t stream() const { return header.stream_id; }
    bool end_stream() const { return (type() == Type::data || type() == Type::headers) && header.has(fl::end_stream); }
    bool end_headers() const { return header.has(fl::end_headers); }
    bool is(Type t, std::uint32_t s) const { return type() == t && stream() == s; }

    std::string describe() const {
        const std::string s = " s=" + num(stream());
        switch (type()) {
            case Type::data:
                return "DATA" + s + " len=" + num(data.size()) + (end_stream() ? " ES" : "") +
                       (pad_length ? " pad=" + num(*pad_length) : "");
            case Type::headers:
                return "HEADERS" + s + (end_stream() ? " ES" : "") + (end_headers() ? " EH" : "") +
                       (continuations ? " +" + num(static_cast<std::uint64_t>(continuations)) + "CONT" : "") + " " +
                       conn_test::describe(headers);
            case Type::continuation:
                return "CONTINUATION" + s + (end_headers() ? " EH" : "");
            case Type::push_promise:
                return "PUSH_PROMISE" + s + " promised=" + num(promised) + " " + conn_test::describe(headers);
            case Type::rst_stream:
                return "RST_STREAM" + s + " " + std::string(to_string(code));
            case Type::goaway:
                return "GOAWAY last=" + num(last_stream_id) + " " + std::string(to_string(code)) +
                       " debug=" + string_of(debug);
            case Type::settings: {
                std::string r = std::string("SETTINGS") + (ack ? " ACK" : "");
                for (const Setting& x : settings) r += " " + std::string(to_string(x.id)) + "=" + num(x.value);
                return r;
            }
            case Type::ping:
                return std::string("PING") + (ack ? " ACK " : " ") + hex(opaque);
            case Type::window_update:
                return "WINDOW_UPDATE" + s + " +" + num(increment);
            case Type::priority:
                return "PRIORITY" + s;
            case Type::priority_update:
                return "PRIORITY_UPDATE s=" + num(prioritized) + " " + priority_value;
            default:
                return std::string(to_string(type())) + s + " len=" + num(header.length);
        }
    }
};

inline std::vector<std::string> lines(const std::vector<WireFrame>& frames) {
    std::vector<std::string> out;
    for (const WireFrame& f : frames) out.push_back(f.describe());
    return out;
}
inline std::string str(const std::vector<WireFrame>& frames) {
    return join(lines(frames));
}
/// Frames of type `t` (on `stream`, when given).
inline std::vector<WireFrame> only(const std::vector<WireFrame>& frames, Type t,
                                   std::optional<std::uint32_t> stream = std::nullopt) {
    std::vector<WireFrame> out;
    for (const WireFrame& f : frames)
        if (f.type() == t && (!stream || f.stream() == *stream)) out.push_back(f);
    return out;
}
inline std::size_t count(const std::vector<WireFrame>& frames, Type t,
                         std::optional<std::uint32_t> stream = std::nullopt) {
    return only(frames, t, stream).size();
}
inline std::optional<WireFrame> first(const std::vector<WireFrame>& frames, Type t,
                                      std::optional<std::uint32_t> stream = std::nullopt) {
    for (const WireFrame& f : frames)
        if (f.type() == t && (!stream || f.stream() == *stream)) return f;
    return std::nullopt;
}
/// DATA payload of `stream`, joined.
inline Bytes data_of(const std::vector<WireFrame>& frames, std::uint32_t stream) {
    Bytes out;
    for (const WireFrame& f : frames)
        if (f.is(Type::data, stream)) append(out, f.data);
    return out;
}

// ---------------------------------------------------------------------------
// Peer

struct HeadersOptions {
    /// Split the block into HEADERS + CONTINUATIONs of at most this much.
    std::size_t max_fragment = SIZE_MAX;
    std::optional<frame::PriorityFields> priority;
    std::optional<std::uint8_t> pad;
    /// Leave END_HEADERS off the last frame (the block stays open).
    bool leave_open = false;
};

/// The other side of the connection under test.
class Peer {
public:
    /// `connection_role` is the role of the Connection under test; the Peer
    /// plays the other one.
    explicit Peer(Role connection_role)
        : conn_role_(connection_role),
          reader_(reader_options(connection_role)),
          decoder_(hpack::DecoderLimits{4096, UINT32_MAX, 1u << 24}),
          encoder_(hpack::EncoderOptions{4096, true}) {
        expect_magic_ = connection_role == Role::client;
    }

    Role role() const { return conn_role_ == Role::client ? Role::server : Role::client; }

    // ---- building frames ------------------------------------------------

    /// The connection preface: the client magic (when the Peer is the
    /// client) and a SETTINGS frame with `settings`.
    Bytes preface(const std::vector<Setting>& settings = {}) {
        Bytes out;
        if (role() == Role::client) append(out, span_of(frame::client_preface));
        append(out, this->settings(settings));
        return out;
    }
    Bytes settings(const std::vector<Setting>& s) {
        Bytes out;
        CHECK(frame::append(out, frame::Settings{false, frame::SettingsList(s)}));
        Settings next = pending_settings_.empty() ? local_ : pending_settings_.back();
        for (const Setting& x : s) {
            next.apply(x);
            // The connection may use a larger frame as soon as it has read this.
            if (x.id == SettingId::max_frame_size)
                reader_.set_max_frame_size(std::max(reader_.max_frame_size(), x.value));
        }
        pending_settings_.push_back(next);
        return out;
    }
    /// A SETTINGS frame with exactly `payload` (any length, any values),
    /// registered like settings() when it is a whole number of entries.
    Bytes raw_settings(std::span<const std::uint8_t> payload) {
        if (payload.size() % 6 == 0) {
            std::vector<Setting> list;
            for (const Setting x : frame::SettingsList::from_wire(payload)) list.push_back(x);
            settings(list);  // for the bookkeeping only
        }
        return raw(Type::settings, 0, 0, payload);
    }
    Bytes settings_ack() {
        Bytes out;
        CHECK(frame::append(out, frame::Settings{true, {}}));
        return out;
    }
    /// The HPACK block for `h` (advances the Peer's encoder).
    Bytes encode(const Hdrs& h) {
        Bytes out;
        const auto f = fields(h);
        encoder_.encode(std::span<const Field>(f), out);
        return out;
    }
    Bytes headers(std::uint32_t stream, const Hdrs& h, bool end_stream, const HeadersOptions& o = {}) {
        return headers_block(stream, encode(h), end_stream, o);
    }
    /// HEADERS (+ CONTINUATIONs) carrying an already encoded block.
    Bytes headers_block(std::uint32_t stream, std::span<const std::uint8_t> block, bool end_stream,
                        const HeadersOptions& o = {}) {
        Bytes out;
        const std::size_t first = std::min(block.size(), o.max_fragment);
        frame::Headers f{stream,     end_stream,     !o.leave_open && first == block.size(),
                         o.priority, padding(o.pad), block.first(first)};
        CHECK(frame::append(out, f, max_max_frame_size));
        append_continuations(out, stream, block.subspan(first), o);
        return out;
    }
    Bytes headers_frame(std::uint32_t stream, std::span<const std::uint8_t> fragment, bool end_stream, bool end_headers,
                        std::optional<frame::PriorityFields> priority = std::nullopt) {
        Bytes out;
        CHECK(frame::append(out, frame::Headers{stream, end_stream, end_headers, priority, std::nullopt, fragment},
                            max_max_frame_size));
        return out;
    }
    Bytes continuation(std::uint32_t stream, std::span<const std::uint8_t> fragment, bool end_headers) {
        Bytes out;
        CHECK(frame::append(out, frame::Continuation{stream, end_headers, fragment}, max_max_frame_size));
        return out;
    }
    Bytes push_promise(std::uint32_t stream, std::uint32_t promised, const Hdrs& h, const HeadersOptions& o = {}) {
        const Bytes block = encode(h);
        Bytes out;
        const std::size_t first = std::min(block.size(), o.max_fragment);
        frame::PushPromise f{stream, !o.leave_open && first == block.size(), promised, padding(o.pad),
                             std::span<const std::uint8_t>(block).first(first)};
        CHECK(frame::append(out, f, max_max_frame_size));
        append_continuations(out, stream, std::span<const std::uint8_t>(block).subspan(first), o);
        return out;
    }
    /// DATA; charges the Peer's send windows (the frame is sent whatever
    /// they say: tests of overruns need that).
    Bytes data(std::uint32_t stream, std::span<const std::uint8_t> payload, bool end_stream,
               std::optional<std::uint8_t> pad = std::nullopt) {
        Bytes out;
        frame::Data f{stream, end_stream, padding(pad), payload};
        CHECK(frame::append(out, f, max_max_frame_size));
        const std::uint32_t charged = static_cast<std::uint32_t>(out.size() - frame::header_size);
        peer_sent_[stream] += charged;
        peer_conn_sent_ += charged;
        return out;
    }
    /// DATA frames of at most `max_frame` octets carrying `payload`.
    Bytes data_frames(std::uint32_t stream, std::span<const std::uint8_t> payload, bool end_stream,
                      std::size_t max_frame = 16384) {
        Bytes out;
        do {
            const std::size_t n = std::min(payload.size(), max_frame);
            append(out, data(stream, payload.first(n), end_stream && n == payload.size()));
            payload = payload.subspan(n);
        } while (!payload.empty());
        return out;
    }
    Bytes data(std::uint32_t stream, std::string_view payload, bool end_stream,
               std::optional<std::uint8_t> pad = std::nullopt) {
        return data(stream, span_of(payload), end_stream, pad);
    }
    Bytes rst(std::uint32_t stream, ErrorCode code) {
        Bytes out;
        CHECK(frame::append(out, frame::RstStream{stream, code}));
        return out;
    }
    Bytes ping(std::array<std::uint8_t, 8> data, bool ack = false) {
        Bytes out;
        CHECK(frame::append(out, frame::Ping{ack, data}));
        return out;
    }
    Bytes goaway(std::uint32_t last, ErrorCode code, std::string_view debug = {}) {
        Bytes out;
        CHECK(frame::append(out, frame::Goaway{last, code, span_of(debug)}));
        return out;
    }
    /// WINDOW_UPDATE; credits what the connection may send.
    Bytes window_update(std::uint32_t stream, std::uint32_t increment) {
        Bytes out;
        CHECK(frame::append(out, frame::WindowUpdate{stream, increment}));
        if (stream == 0)
            conn_send_conn_credit_ += increment;
        else
            conn_send_credit_[stream] += increment;
        return out;
    }
    Bytes priority(std::uint32_t stream, std::uint32_t dependency, std::uint8_t weight = 15, bool exclusive = false) {
        // Through write_raw: the checked writer refuses a self-dependency.
        Bytes payload{static_cast<std::uint8_t>((dependency >> 24 & 0x7f) | (exclusive ? 0x80 : 0)),
                      static_cast<std::uint8_t>(dependency >> 16), static_cast<std::uint8_t>(dependency >> 8),
                      static_cast<std::uint8_t>(dependency), weight};
        return raw(Type::priority, 0, stream, payload);
    }
    Bytes priority_update(std::uint32_t prioritized, std::string_view value) {
        Bytes out;
        CHECK(frame::append(out, frame::PriorityUpdate{prioritized, value}));
        return out;
    }
    Bytes altsvc(std::uint32_t stream, std::string_view origin, std::string_view value) {
        Bytes out;
        CHECK(frame::append(out, frame::Altsvc{stream, origin, value}));
        return out;
    }
    Bytes origin(const std::vector<std::string_view>& origins) {
        Bytes out;
        CHECK(frame::append(out, frame::Origin{frame::OriginList(origins)}));
        return out;
    }
    /// Any frame, unchecked, with the payload's length.
    Bytes raw(std::uint8_t type, std::uint8_t flags, std::uint32_t stream, std::span<const std::uint8_t> payload) {
        return raw_declaring(type, flags, stream, payload, static_cast<std::uint32_t>(payload.size()));
    }
    Bytes raw(Type type, std::uint8_t flags, std::uint32_t stream, std::span<const std::uint8_t> payload) {
        return raw(static_cast<std::uint8_t>(type), flags, stream, payload);
    }
    /// Any frame, unchecked, declaring `length` whatever the payload.
    Bytes raw_declaring(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                        std::span<const std::uint8_t> payload, std::uint32_t length) {
        frame::RawFrame f{frame::FrameHeader{length, static_cast<Type>(type), flags, stream, false}, payload};
        Bytes out(frame::encoded_size(f));
        CHECK(frame::write_raw(out, f) == out.size());
        return out;
    }

    // ---- reading what the connection writes -------------------------------

    /// Parses more output of the connection. Problems (bad preface, a frame
    /// the reader rejects, an HPACK error, DATA past a window) are recorded
    /// in problems().
    void read(std::span<const std::uint8_t> bytes) {
        raw_output_.insert(raw_output_.end(), bytes.begin(), bytes.end());
        if (expect_magic_) {
            const std::size_t want = frame::client_preface.size() - magic_.size();
            const std::size_t n = std::min(want, bytes.size());
            magic_.append(reinterpret_cast<const char*>(bytes.data()), n);
            bytes = bytes.subspan(n);
            if (magic_.size() < frame::client_preface.size()) return;
            if (magic_ != frame::client_preface) problem("client preface is wrong: " + hex(span_of(magic_)));
            expect_magic_ = false;
        }
        while (!reader_.failed()) {
            const frame::ReadResult r = reader_.read(bytes);
            bytes = bytes.subspan(r.consumed);
            if (r.status == frame::ReadStatus::need_input) break;
            on_item(r);
        }
    }

    /// Everything the connection wrote, parsed, in order.
    const std::vector<WireFrame>& frames() const { return frames_; }
    /// The raw output bytes seen so far.
    const Bytes& raw_output() const { return raw_output_; }
    /// Problems with the connection's output (empty when it was all valid).
    const std::vector<std::string>& problems() const { return problems_; }
    bool saw_magic() const { return !expect_magic_ && magic_ == frame::client_preface; }
    /// True while the connection's output ends inside a frame or header block.
    bool mid_frame() const { return !reader_.at_frame_boundary() || reader_.in_header_block(); }

    // ---- windows ----------------------------------------------------------

    /// What the connection may still send on `stream` / on the connection,
    /// by the Peer's own account (may be negative after a SETTINGS change).
    std::int64_t conn_send_window(std::uint32_t stream) const {
        return std::int64_t{conn_send_initial()} + get(conn_send_credit_, stream) - get(conn_sent_, stream);
    }
    /// The initial window the connection may be using for its DATA: ours in
    /// force (ACKed), or a larger one we sent and it may have applied
    /// already (its ACK follows; DATA it built before reading our SETTINGS
    /// may use the old value until that ACK, RFC 9113 §6.5.3, §6.9.2).
    std::uint32_t conn_send_initial() const {
        std::uint32_t v = local_.initial_window_size;
        for (const Settings& p : pending_settings_) v = std::max(v, p.initial_window_size);
        return v;
    }
    std::int64_t conn_send_window() const {
        return 65535 + std::int64_t(conn_send_conn_credit_) - std::int64_t(conn_conn_sent_);
    }
    /// What the Peer may still send on `stream` / on the connection.
    std::int64_t peer_send_window(std::uint32_t stream) const {
        return std::int64_t{peer_send_initial_} + get(peer_credit_, stream) - get(peer_sent_, stream);
    }
    std::int64_t peer_send_window() const {
        return 65535 + std::int64_t(peer_conn_credit_) - std::int64_t(peer_conn_sent_);
    }
    /// The settings the Peer has in force for itself (after the connection's ACK).
    const Settings& local_settings() const { return local_; }
    /// The connection's settings as the Peer has read them.
    const Settings& connection_settings() const { return conn_settings_; }
    hpack::Encoder& encoder() { return encoder_; }
    hpack::Decoder& decoder() { return decoder_; }

private:
    static frame::ReaderOptions reader_options(Role connection_role) {
        frame::ReaderOptions o;
        o.max_frame_size = frame::default_max_frame_size;
        o.peer = connection_role == Role::client ? frame::PeerRole::client : frame::PeerRole::server;
        o.check_continuation = true;
        return o;
    }
    static std::int64_t get(const std::map<std::uint32_t, std::uint64_t>& m, std::uint32_t k) {
        const auto it = m.find(k);
        return it == m.end() ? 0 : std::int64_t(it->second);
    }
    std::optional<frame::Padding> padding(std::optional<std::uint8_t> pad) {
        if (!pad) return std::nullopt;
        return frame::Padding{*pad, {}};
    }
    void append_continuations(Bytes& out, std::uint32_t stream, std::span<const std::uint8_t> rest,
                              const HeadersOptions& o) {
        while (!rest.empty()) {
            const std::size_t n = std::min(rest.size(), o.max_fragment);
            const bool last = n == rest.size();
            CHECK(frame::append(out, frame::Continuation{stream, last && !o.leave_open, rest.first(n)},
                                max_max_frame_size));
            rest = rest.subspan(n);
        }
    }
    void problem(std::string s) { problems_.push_back(std::move(s)); }

    void on_item(const frame::ReadResult& r) {
        switch (r.status) {
            case frame::ReadStatus::data:
                on_data(r);
                break;
            case frame::ReadStatus::frame:
                on_frame(r);
                break;
            case frame::ReadStatus::stream_error:
                problem("reader stream error on " + num(r.stream_error.stream_id) + ": " +
                        std::string(r.stream_error.reason));
                break;
            case frame::ReadStatus::connection_error:
                problem("reader connection error: " + std::string(to_string(r.connection_error.code)) + " " +
                        std::string(r.connection_error.reason) + " after " + num(frames_.size()) +
                        " frames: " + (frames_.empty() ? "" : frames_.back().describe()));
                break;
            case frame::ReadStatus::need_input:
                break;
        }
    }

    void on_data(const frame::ReadResult& r) {
        const frame::DataChunk& d = r.data;
        if (d.first) {
            WireFrame w;
            w.header = r.header;
            w.pad_length = d.pad_length;
            frames_.push_back(std::move(w));
            const std::uint32_t s = d.stream_id;
            // RFC 9113 §6.9.1: the sender must not exceed either window.
            if (std::int64_t{r.header.length} > conn_send_window(s))
                problem("DATA on " + num(s) + " of " + num(r.header.length) + " octets past the stream window " +
                        std::to_string(conn_send_window(s)));
            if (std::int64_t{r.header.length} > conn_send_window())
                problem("DATA on " + num(s) + " of " + num(r.header.length) + " octets past the connection window " +
                        std::to_string(conn_send_window()));
            conn_sent_[s] += r.header.length;
            conn_conn_sent_ += r.header.length;
        }
        WireFrame& w = frames_.back();
        append(w.data, d.data);
        if (d.last) w.pad_length = d.pad_length;
    }

    void on_frame(const frame::ReadResult& r) {
        WireFrame w;
        w.header = r.header;
        std::visit(overloaded{
                       [&](const frame::Headers& f) {
                           w.fragment.assign(f.fragment.begin(), f.fragment.end());
                           w.priority = f.priority;
                           frames_.push_back(std::move(w));
                           begin_block(f.fragment, f.end_headers);
                       },
                       [&](const frame::PushPromise& f) {
                           w.fragment.assign(f.fragment.begin(), f.fragment.end());
                           w.promised = f.promised_stream_id;
                           frames_.push_back(std::move(w));
                           begin_block(f.fragment, f.end_headers);
                       },
                       [&](const frame::Continuation& f) {
                           w.fragment.assign(f.fragment.begin(), f.fragment.end());
                           frames_.push_back(std::move(w));
                           if (block_index_ < frames_.size()) {
                               ++frames_[block_index_].continuations;
                               continue_block(f.fragment, f.end_headers);
                           }
                       },
                       [&](const frame::Priority& f) {
                           w.priority = f.fields;
                           frames_.push_back(std::move(w));
                       },
                       [&](const frame::RstStream& f) {
                           w.code = f.error_code;
                           frames_.push_back(std::move(w));
                       },
                       [&](const frame::Settings& f) {
                           w.ack = f.ack;
                           for (const Setting s : f.entries) w.settings.push_back(s);
                           frames_.push_back(w);
                           if (f.ack)
                               on_settings_ack();
                           else
                               on_settings(w.settings);
                       },
                       [&](const frame::Ping& f) {
                           w.ack = f.ack;
                           w.opaque = f.opaque_data;
                           frames_.push_back(std::move(w));
                       },
                       [&](const frame::Goaway& f) {
                           w.code = f.error_code;
                           w.last_stream_id = f.last_stream_id;
                           w.debug.assign(f.debug_data.begin(), f.debug_data.end());
                           frames_.push_back(std::move(w));
                       },
                       [&](const frame::WindowUpdate& f) {
                           w.increment = f.increment;
                           frames_.push_back(std::move(w));
                           if (f.stream_id == 0)
                               peer_conn_credit_ += f.increment;
                           else
                               peer_credit_[f.stream_id] += f.increment;
                       },
                       [&](const frame::Unknown& f) {
                           w.data.assign(f.payload.begin(), f.payload.end());
                           frames_.push_back(std::move(w));
                       },
                       [&](const frame::PriorityUpdate& f) {
                           w.prioritized = f.prioritized_stream_id;
                           w.priority_value = std::string(f.field_value);
                           frames_.push_back(std::move(w));
                       },
                       [&](const auto&) { frames_.push_back(std::move(w)); },
                   },
                   r.frame);
    }

    void begin_block(std::span<const std::uint8_t> fragment, bool end) {
        block_index_ = frames_.size() - 1;
        decoded_.clear();
        continue_block(fragment, end);
    }
    void continue_block(std::span<const std::uint8_t> fragment, bool end) {
        WireFrame& w = frames_[block_index_];
        append(w.block, fragment);
        const hpack::Error e = decoder_.decode(fragment, end, [&](const Field& f) {
            decoded_.push_back({std::string(f.name), std::string(f.value), f.sensitive});
        });
        if (e != hpack::Error::none)
            problem("HPACK error in the connection's block on stream " + num(w.stream()) + ": " +
                    std::string(hpack::to_string(e)));
        if (end) {
            w.headers = decoded_;
            w.block_complete = true;
            block_index_ = SIZE_MAX;
        }
    }
    void on_settings(const std::vector<Setting>& s) {
        for (const Setting& x : s) {
            if (check_setting(x) != ErrorCode::no_error) problem("connection sent an invalid setting");
            conn_settings_.apply(x);
            if (x.id == SettingId::initial_window_size) peer_send_initial_ = x.value;
            if (x.id == SettingId::header_table_size) encoder_.set_peer_max_table_size(x.value);
            if (x.id == SettingId::enable_push && x.value == 1 && conn_role_ == Role::server)
                problem("server sent SETTINGS_ENABLE_PUSH=1 (RFC 9113 §6.5.2)");
        }
    }
    void on_settings_ack() {
        if (pending_settings_.empty()) {
            problem("SETTINGS ACK without a SETTINGS to acknowledge");
            return;
        }
        local_ = pending_settings_.front();
        pending_settings_.erase(pending_settings_.begin());
        decoder_.set_max_table_size(local_.header_table_size);
    }

    Role conn_role_;
    frame::Reader reader_;
    hpack::Decoder decoder_;
    hpack::Encoder encoder_;
    bool expect_magic_ = false;
    std::string magic_;
    Bytes raw_output_;
    std::vector<WireFrame> frames_;
    std::vector<std::string> problems_;
    std::size_t block_index_ = SIZE_MAX;
    Hdrs decoded_;
    Settings local_{};
    std::vector<Settings> pending_settings_;
    Settings conn_settings_{};
    // The connection's sending: credit from our WINDOW_UPDATEs, octets it
    // sent (the initial window comes from our settings, see conn_send_initial()).
    std::map<std::uint32_t, std::uint64_t> conn_send_credit_, conn_sent_;
    std::uint64_t conn_send_conn_credit_ = 0, conn_conn_sent_ = 0;
    // Our sending.
    std::uint32_t peer_send_initial_ = 65535;
    std::map<std::uint32_t, std::uint64_t> peer_credit_, peer_sent_;
    std::uint64_t peer_conn_credit_ = 0, peer_conn_sent_ = 0;
};

// ---------------------------------------------------------------------------
// Feeding input

/// How to cut input into receive() calls.
struct Split {
    enum class Kind { whole, bytewise, random } kind = Kind::whole;
    std::uint64_t seed = 0;
    static Split whole() { return {}; }
    static Split bytewise() { return {Kind::bytewise, 0}; }
    static Split random(std::uint64_t seed) { return {Kind::random, seed}; }
    std::string name() const {
        switch (kind) {
            case Kind::whole:
                return "whole";
            case Kind::bytewise:
                return "byte by byte";
            case Kind::random:
                return "random splits (seed " + num(seed) + ")";
        }
        return "?";
    }
};
inline std::vector<Split> all_splits() {
    return {Split::whole(), Split::bytewise(), Split::random(1), Split::random(2), Split::random(3)};
}

/// Cuts `n` octets into piece lengths.
inline std::vector<std::size_t> cut(std::size_t n, Split split) {
    std::vector<std::size_t> out;
    Rng rng(split.seed * 7919 + 17);
    std::size_t pos = 0;
    while (pos < n) {
        std::size_t k = n - pos;
        if (split.kind == Split::Kind::bytewise) k = 1;
        if (split.kind == Split::Kind::random)
            k = std::min(k, rng.one_in(16) ? rng.between(1, 4000) : rng.between(1, 20));
        out.push_back(k);
        pos += k;
    }
    return out;
}

// ---------------------------------------------------------------------------
// Session: a Connection under test and its Peer

inline Config make_config(Role role, Config c = {}) {
    c.role = role;
    return c;
}

class Session {
public:
    explicit Session(Role role, Config config = {}) : config_(make_config(role, config)), conn(config_), peer(role) {}

    const Config& config() const { return config_; }

    /// Feeds `bytes` to the connection, cut as `split` says; every piece is a
    /// heap copy kept alive until the next receive() (the API's contract),
    /// then freed, so ASan sees views that outlive it. Returns the events of
    /// this feed; all events so far are in `events`.
    Events feed(std::span<const std::uint8_t> bytes, Split split = Split::whole()) {
        Events got;
        std::size_t pos = 0;
        for (const std::size_t n : cut(bytes.size(), split)) {
            got.add(receive_piece(bytes.subspan(pos, n)));
            pos += n;
        }
        return got;
    }
    Events feed(const Bytes& bytes, Split split = Split::whole()) {
        return feed(std::span<const std::uint8_t>(bytes), split);
    }
    /// Events caused by API calls since the last receive() (such as the
    /// StreamClosed of a stream that submit_response() or output ended):
    /// one receive() call without input.
    Events collect() { return receive_piece({}); }
    /// One receive() call with exactly `bytes` (may be empty).
    Events receive_piece(std::span<const std::uint8_t> bytes) {
        auto piece = std::make_unique<Bytes>(bytes.begin(), bytes.end());
        const std::span<const Event> evs = conn.receive(std::span<const std::uint8_t>(*piece));
        Events got;
        for (const Event& e : evs) {
            // DataReceived is a view of this input (zero copy).
            if (const auto* d = std::get_if<DataReceived>(&e); d && !d->data.empty() && check_zero_copy) {
                const bool inside =
                    d->data.data() >= piece->data() && d->data.data() + d->data.size() <= piece->data() + piece->size();
                if (!inside) FAIL_CHECK("DataReceived on stream " << d->stream << " is not a view of the input");
            }
            got.push_back(own(e));
        }
        // The previous piece may be freed now that a new receive() started.
        alive_ = std::move(piece);
        events.add(got);
        return got;
    }

    /// Pulls all pending output (in chunks of at most `chunk` octets, through
    /// pending_output()), hands it to the Peer and consumes it. Returns the
    /// frames parsed from it. CHECKs that the output is valid.
    std::vector<WireFrame> drain(std::size_t chunk = SIZE_MAX) {
        const std::size_t before = peer.frames().size();
        for (int guard = 0; conn.wants_write() && guard < 1000000; ++guard) {
            const std::span<const std::uint8_t> out = conn.pending_output();
            if (out.empty()) {
                FAIL_CHECK("wants_write() is true but pending_output() is empty");
                break;
            }
            const std::size_t n = std::min(out.size(), chunk);
            peer.read(out.first(n));
            conn.consume_output(n);
        }
        CHECK_MESSAGE(conn.pending_output().empty(), "pending_output() not empty after wants_write() went false");
        check_output();
        return std::vector<WireFrame>(peer.frames().begin() + static_cast<std::ptrdiff_t>(before), peer.frames().end());
    }
    /// Like drain(), through pending_output_vectors().
    std::vector<WireFrame> drain_vectors() {
        const std::size_t before = peer.frames().size();
        for (int guard = 0; conn.wants_write() && guard < 1000000; ++guard) {
            const std::span<const OutputChunk> chunks = conn.pending_output_vectors();
            std::size_t total = 0;
            for (const OutputChunk& c : chunks) {
                peer.read(std::span<const std::uint8_t>(c.data, c.size));
                total += c.size;
            }
            if (total == 0) {
                FAIL_CHECK("wants_write() is true but pending_output_vectors() is empty");
                break;
            }
            conn.consume_output(total);
        }
        check_output();
        return std::vector<WireFrame>(peer.frames().begin() + static_cast<std::ptrdiff_t>(before), peer.frames().end());
    }
    void check_output() {
        if (problems_seen_ < peer.problems().size()) {
            for (std::size_t i = problems_seen_; i < peer.problems().size(); ++i)
                FAIL_CHECK("connection output: " << peer.problems()[i]);
            problems_seen_ = peer.problems().size();
        }
    }

    /// The SETTINGS exchange both ways, with the Peer announcing
    /// `peer_settings`. Afterwards both sides' settings are in force.
    void handshake(const std::vector<Setting>& peer_settings = {}) {
        if (config_.role == Role::server) {
            feed(peer.preface(peer_settings));
            drain();
            feed(peer.settings_ack());
        } else {
            drain();
            CHECK(peer.saw_magic());
            feed(cat({peer.preface(peer_settings), peer.settings_ack()}));
        }
        drain();
        REQUIRE_MESSAGE(!conn.settings_ack_pending(), "handshake: " << events.str());
        REQUIRE(!conn.is_closed());
        handshake_frames_ = peer.frames().size();
        handshake_events_ = events.size();
    }

    /// Frames written and events reported since the handshake.
    std::vector<WireFrame> frames_since_handshake() const {
        return std::vector<WireFrame>(peer.frames().begin() + static_cast<std::ptrdiff_t>(handshake_frames_),
                                      peer.frames().end());
    }
    Events events_since_handshake() const {
        Events e;
        e.insert(e.end(), events.begin() + static_cast<std::ptrdiff_t>(handshake_events_), events.end());
        return e;
    }

    // ---- common steps (server side: the Peer is a client) ----------------

    /// Server: the Peer opens `stream` with a request.
    Events open(std::uint32_t stream, const Hdrs& h = get(), bool end_stream = false) {
        return feed(peer.headers(stream, h, end_stream));
    }
    /// Client: submits a request and drains it; returns its stream id.
    std::uint32_t request(const Hdrs& h = get(), bool end_stream = true) {
        const auto f = fields(h);
        const Submitted sub = conn.submit_request(f, end_stream);
        REQUIRE_MESSAGE(sub, "submit_request: " << to_string(sub.error));
        drain();
        return sub.stream;
    }

    Config config_;
    Connection conn;
    Peer peer;
    Events events;
    bool check_zero_copy = true;

private:
    std::unique_ptr<Bytes> alive_;
    std::size_t problems_seen_ = 0;
    std::size_t handshake_frames_ = 0;
    std::size_t handshake_events_ = 0;
};

// ---------------------------------------------------------------------------
// Expectations on the wire and in events

/// The frames contain exactly one GOAWAY, with `code` and `last`, and it is
/// the last frame; the connection reported ConnectionTerminated(code, local)
/// and is closed.
inline void expect_connection_error(Session& s, const std::vector<WireFrame>& frames, ErrorCode code,
                                    std::optional<std::uint32_t> last = std::nullopt) {
    INFO("wire: " << str(frames));
    INFO("events: " << s.events.str());
    const auto goaways = only(frames, Type::goaway);
    REQUIRE(goaways.size() == 1);
    CHECK(goaways[0].code == code);
    if (last) CHECK(goaways[0].last_stream_id == *last);
    CHECK(goaways[0].last_stream_id == s.conn.last_peer_stream());
    CHECK(frames.back().type() == Type::goaway);
    const auto t = s.events.last<ev::Terminated>();
    REQUIRE(t.has_value());
    CHECK(t->code == code);
    CHECK(t->by == Initiator::local);
    if (last) CHECK(t->last_stream_id == *last);
    CHECK(s.conn.is_closed());
}

/// The frames contain a RST_STREAM on `stream` with `code` and no GOAWAY; the
/// connection reported StreamReset(stream, code, local) and stays open.
inline void expect_stream_error(Session& s, const std::vector<WireFrame>& frames, std::uint32_t stream, ErrorCode code,
                                std::size_t events_before = 0) {
    INFO("wire: " << str(frames));
    INFO("events: " << s.events.str());
    CHECK(count(frames, Type::goaway) == 0);
    const auto rsts = only(frames, Type::rst_stream, stream);
    REQUIRE(rsts.size() == 1);
    CHECK(rsts[0].code == code);
    Events later;
    later.insert(later.end(), s.events.begin() + static_cast<std::ptrdiff_t>(events_before), s.events.end());
    const auto r = later.on<ev::Reset>(stream);
    REQUIRE(r.has_value());
    CHECK(r->code == code);
    CHECK(r->by == Initiator::local);
    CHECK(!r->reason.empty());
    CHECK(!s.conn.is_closed());
    CHECK(s.events.count<ev::Terminated>() == 0);
}

/// Neither RST_STREAM nor GOAWAY in `frames`; the connection is open and
/// reported no reset or termination since `events_before` events.
inline void expect_no_error(Session& s, const std::vector<WireFrame>& frames, std::size_t events_before = 0) {
    INFO("wire: " << str(frames));
    INFO("events: " << s.events.str());
    CHECK(count(frames, Type::rst_stream) == 0);
    CHECK(count(frames, Type::goaway) == 0);
    CHECK(!s.conn.is_closed());
    for (std::size_t i = events_before; i < s.events.size(); ++i) {
        // A reset by the peer is its business; one by us is an error we found.
        const auto* r = std::get_if<ev::Reset>(&s.events[i]);
        CHECK_MESSAGE(!(r && r->by == Initiator::local), describe(s.events[i]));
        CHECK_MESSAGE(!std::holds_alternative<ev::Terminated>(s.events[i]), describe(s.events[i]));
    }
}

// ---------------------------------------------------------------------------
// Pair: a client and a server wired together in memory

class Pair {
public:
    using Handler = std::function<void(Connection&, const Event&)>;

    Pair(Config client_config, Config server_config, std::uint64_t seed, bool chunked)
        : client(make_config(Role::client, client_config)),
          server(make_config(Role::server, server_config)),
          rng_(seed),
          chunked_(chunked) {}

    /// Moves at most one chunk of output from `from` to `to` (through
    /// pending_output() or, at random, pending_output_vectors()); events of
    /// `to` go to `handler`. Returns the octets moved.
    std::size_t transfer(Connection& from, Connection& to, const Handler& handler, Bytes& wire_log) {
        if (!from.wants_write()) return 0;
        Bytes piece;
        if (rng_.one_in(2)) {
            const auto out = from.pending_output();
            if (out.empty()) return 0;
            const std::size_t n = chunk_size(out.size());
            piece.assign(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
        } else {
            const auto chunks = from.pending_output_vectors();
            std::size_t total = 0;
            for (const OutputChunk& c : chunks) total += c.size;
            if (total == 0) return 0;
            const std::size_t n = chunk_size(total);
            for (const OutputChunk& c : chunks) {
                const std::size_t k = std::min(c.size, n - piece.size());
                piece.insert(piece.end(), c.data, c.data + k);
                if (piece.size() == n) break;
            }
        }
        from.consume_output(piece.size());
        if (keep_wire_) append(wire_log, piece);
        auto input = std::make_unique<Bytes>(std::move(piece));
        const std::size_t moved = input->size();
        for (const Event& e : to.receive(std::span<const std::uint8_t>(*input))) {
            if (handler) handler(to, e);
        }
        alive_.push_back(std::move(input));
        if (alive_.size() > 2) alive_.erase(alive_.begin());
        return moved;
    }

    /// Hands both sides' events caused by API calls (StreamClosed after
    /// output ended a stream, ...) to the handlers: receive() without input.
    void collect() {
        for (const Event& e : client.receive({}))
            if (on_client) on_client(client, e);
        for (const Event& e : server.receive({}))
            if (on_server) on_server(server, e);
    }

    /// One step in each direction. Returns the octets moved.
    std::size_t step() {
        std::size_t moved = transfer(client, server, on_server, client_wire);
        moved += transfer(server, client, on_client, server_wire);
        return moved;
    }

    /// Steps until nothing moves and `idle()` (if given) has nothing more to
    /// do; returns false when `max_steps` ran out.
    bool run(std::size_t max_steps, const std::function<bool()>& idle = {}) {
        for (std::size_t i = 0; i < max_steps; ++i) {
            std::size_t moved = step();
            if (moved == 0) {
                collect();
                const bool more = idle && idle();
                if (!more && !client.wants_write() && !server.wants_write()) return true;
            }
        }
        return false;
    }

    void keep_wire(bool on) { keep_wire_ = on; }

    Connection client;
    Connection server;
    Handler on_client;
    Handler on_server;
    Bytes client_wire;  ///< what the client wrote (with keep_wire(true))
    Bytes server_wire;
    Rng& rng() { return rng_; }

private:
    std::size_t chunk_size(std::size_t available) {
        if (!chunked_) return available;
        switch (rng_.below(5)) {
            case 0:
                return std::min(available, rng_.between(1, 16));
            case 1:
                return std::min(available, rng_.between(1, 1500));
            case 2:
                return std::min(available, rng_.between(1, 65536));
            case 3:
                return rng_.between(1, std::min<std::size_t>(available, 256 * 1024));
            default:
                return std::min<std::size_t>(available, 256 * 1024);
        }
    }

    Rng rng_;
    bool chunked_;
    bool keep_wire_ = false;
    std::vector<std::unique_ptr<Bytes>> alive_;
};

}  // namespace h2wire::conn_test
