// RFC 9113 §8 message checks; see message_validation.hpp.
#include "connection/message_validation.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace h2wire {

std::string_view to_string(HeaderError e) noexcept {
    switch (e) {
    case HeaderError::none: return "no error";
    case HeaderError::empty_name: return "empty field name";
    case HeaderError::uppercase_name: return "uppercase letter in a field name";
    case HeaderError::invalid_name_octet: return "invalid octet in a field name";
    case HeaderError::invalid_value_octet: return "NUL, CR or LF in a field value";
    case HeaderError::value_whitespace: return "field value with leading or trailing whitespace";
    case HeaderError::connection_specific_field: return "connection-specific field";
    case HeaderError::te_not_trailers: return "TE other than \"trailers\"";
    case HeaderError::unknown_pseudo_header: return "unknown pseudo-header field";
    case HeaderError::misplaced_pseudo_header: return "pseudo-header field not defined for this message";
    case HeaderError::pseudo_header_after_regular: return "pseudo-header field after a regular field";
    case HeaderError::pseudo_header_in_trailers: return "pseudo-header field in trailers";
    case HeaderError::duplicate_pseudo_header: return "duplicate pseudo-header field";
    case HeaderError::missing_method: return "missing or empty :method";
    case HeaderError::missing_scheme: return "missing or empty :scheme";
    case HeaderError::missing_path: return "missing :path";
    case HeaderError::empty_path: return "empty :path";
    case HeaderError::missing_authority: return "CONNECT without :authority";
    case HeaderError::connect_with_scheme_or_path: return "CONNECT with :scheme or :path";
    case HeaderError::protocol_without_connect: return ":protocol on a request other than CONNECT";
    case HeaderError::protocol_not_enabled: return ":protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL";
    case HeaderError::empty_protocol: return "empty :protocol";
    case HeaderError::promise_not_safe: return "promised request neither GET nor HEAD";
    case HeaderError::promise_with_content: return "promised request with content";
    case HeaderError::missing_status: return "response without :status";
    case HeaderError::invalid_status: return "invalid :status";
    case HeaderError::status_101: return ":status 101 in HTTP/2";
    case HeaderError::informational_end_stream: return "informational response with END_STREAM";
    case HeaderError::invalid_content_length: return "invalid content-length";
    case HeaderError::connect_content_length: return "content-length in a 2xx response to CONNECT";
    case HeaderError::trailers_without_end_stream: return "trailers without END_STREAM";
    case HeaderError::header_list_too_large: return "header list larger than SETTINGS_MAX_HEADER_LIST_SIZE";
    }
    return "unknown header error";
}

}  // namespace h2wire

namespace h2wire::detail {

namespace {

// RFC 9113 §8.2.1: a field name MUST NOT contain octets 0x00-0x20, 0x41-0x5a
// ('A'-'Z') or 0x7f-0xff, nor ':' except as the first octet of a pseudo-header.
constexpr std::array<bool, 256> make_name_table() {
    std::array<bool, 256> ok{};
    for (int c = 0x21; c < 0x7f; ++c) ok[c] = !(c >= 'A' && c <= 'Z') && c != ':';
    return ok;
}
constexpr std::array<bool, 256> name_ok = make_name_table();

// RFC 9113 §8.2.1: a field value MUST NOT contain NUL, LF or CR.
constexpr std::array<bool, 256> make_value_table() {
    std::array<bool, 256> bad{};
    bad[0x00] = bad[0x0a] = bad[0x0d] = true;
    return bad;
}
constexpr std::array<bool, 256> value_bad = make_value_table();

// Word-at-a-time screening (8 octets per step): a cheap test that no octet
// of the word can be a problem; only words that fail it are checked octet by
// octet against the tables above.
constexpr std::uint64_t ones = 0x0101010101010101ull;
constexpr std::uint64_t highs = 0x8080808080808080ull;

inline std::uint64_t load8(const char* p) noexcept {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    return x;
}
// Octets below n (n <= 128) or with the high bit set.
inline std::uint64_t below_or_high(std::uint64_t x, std::uint64_t n) noexcept {
    return ((x - ones * n) | x) & highs;
}
// Octets equal to c.
inline std::uint64_t equal(std::uint64_t x, std::uint64_t c) noexcept {
    const std::uint64_t y = x ^ (ones * c);
    return (y - ones) & ~y & highs;
}
// Octets strictly between m and n (m < n <= 128; octets with the high bit
// are not reported, below_or_high() covers them).
inline std::uint64_t between(std::uint64_t x, std::uint64_t m, std::uint64_t n) noexcept {
    const std::uint64_t low7 = x & (ones * 127);
    return (ones * (127 + n) - low7) & ~x & (low7 + ones * (127 - m)) & highs;
}

inline std::uint64_t load4(const char* p) noexcept {
    std::uint32_t x;
    std::memcpy(&x, p, 4);
    return x;
}
inline std::uint64_t load2(const char* p) noexcept {
    std::uint16_t x;
    std::memcpy(&x, p, 2);
    return x;
}

// Calls flagged(word) on words covering every octet of [p, p+n), n > 0,
// without reading outside it: whole words, then one overlapping last word;
// strings under 8 octets are assembled from overlapping 4- or 2-octet loads,
// padded with `fill` (an octet the test accepts). Returns true when no word
// is flagged.
template <class Flagged>
inline bool screen(const char* p, std::size_t n, std::uint64_t fill, Flagged flagged) noexcept {
    if (n >= 8) {
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8)
            if (flagged(load8(p + i))) return false;
        return i == n || !flagged(load8(p + n - 8));
    }
    std::uint64_t x;
    if (n >= 4) x = load4(p) | load4(p + n - 4) << 32;
    else if (n >= 2) x = load2(p) | load2(p + n - 2) << 16 | (ones * fill) << 32;
    else x = static_cast<unsigned char>(p[0]) | ((ones * fill) << 8);
    return !flagged(x);
}

bool slow_name(std::string_view n) noexcept {
    for (const char c : n)
        if (!name_ok[static_cast<unsigned char>(c)]) return false;
    return true;
}

bool valid_name(std::string_view n) noexcept {
    if (n.empty()) return false;
    const bool fast = screen(n.data(), n.size(), 'a', [](std::uint64_t x) {
        return (below_or_high(x, 0x21) | equal(x, 0x7f) | equal(x, ':') | between(x, 'A' - 1, 'Z' + 1)) != 0;
    });
    return fast || slow_name(n);
}

// Which rule a name that failed valid_name() breaks (the failure path only).
[[gnu::cold]] HeaderError name_error(std::string_view n) noexcept {
    if (n.empty()) return HeaderError::empty_name;
    for (const char c : n) {
        const auto u = static_cast<unsigned char>(c);
        if (!name_ok[u]) return u >= 'A' && u <= 'Z' ? HeaderError::uppercase_name : HeaderError::invalid_name_octet;
    }
    return HeaderError::invalid_name_octet;  // not reached: valid_name() failed
}

bool is_ws(char c) noexcept { return c == ' ' || c == '\t'; }

bool valid_value(std::string_view v) noexcept {
    if (v.empty()) return true;
    // RFC 9113 §8.2.1: no leading or trailing SP/HTAB.
    if (is_ws(v.front()) || is_ws(v.back())) return false;
    // Only octets below 0x0e can be NUL, LF or CR.
    const bool fast = screen(v.data(), v.size(), 'a', [](std::uint64_t x) {
        return (((x - ones * 0x0e) & ~x) & highs) != 0;
    });
    if (fast) return true;
    for (const char c : v)
        if (value_bad[static_cast<unsigned char>(c)]) return false;
    return true;
}

// Which rule a value that failed valid_value() breaks: a forbidden octet
// anywhere comes before whitespace at the ends.
[[gnu::cold]] HeaderError value_error(std::string_view v) noexcept {
    for (const char c : v)
        if (value_bad[static_cast<unsigned char>(c)]) return HeaderError::invalid_value_octet;
    return HeaderError::value_whitespace;
}

Pseudo classify(std::string_view n) noexcept {
    switch (n.size()) {
    case 5:
        if (n == ":path") return p_path;
        break;
    case 7:
        if (n == ":method") return p_method;
        if (n == ":scheme") return p_scheme;
        if (n == ":status") return p_status;
        break;
    case 9:
        if (n == ":protocol") return p_protocol;
        break;
    case 10:
        if (n == ":authority") return p_authority;
        break;
    default:
        break;
    }
    return p_unknown;
}

// Merges one content-length field into `cl` (-1: none yet). RFC 9110 §8.6:
// several equal values may be folded into one; differing ones are invalid.
bool merge_content_length(std::string_view v, std::int64_t& cl) noexcept {
    const std::int64_t n = parse_content_length(v);
    if (n < 0) return false;
    if (cl >= 0 && cl != n) return false;
    cl = n;
    return true;
}

bool is_content_length(std::string_view n) noexcept {
    return n.size() == 14 && n[0] == 'c' && n[8] == 'l' && n == "content-length";
}

}  // namespace

std::int64_t parse_content_length(std::string_view v) noexcept {
    std::int64_t result = -1;
    std::size_t i = 0;
    for (;;) {
        while (i < v.size() && is_ws(v[i])) ++i;
        std::int64_t n = 0;
        std::size_t digits = 0;
        while (i < v.size() && v[i] >= '0' && v[i] <= '9') {
            if (n > (INT64_MAX - 9) / 10) return -1;
            n = n * 10 + (v[i] - '0');
            ++i;
            ++digits;
        }
        if (digits == 0) return -1;
        if (result >= 0 && result != n) return -1;
        result = n;
        while (i < v.size() && is_ws(v[i])) ++i;
        if (i == v.size()) return result;
        if (v[i] != ',') return -1;
        ++i;
    }
}

int parse_status(std::string_view v) noexcept {
    if (v.size() != 3) return 0;
    int s = 0;
    for (const char c : v) {
        if (c < '0' || c > '9') return 0;
        s = s * 10 + (c - '0');
    }
    return s >= 100 ? s : 0;
}

HeaderError check_regular_field(std::string_view name, std::string_view value) noexcept {
    if (!valid_name(name)) {
        if (!name.empty() && name.front() == ':') return HeaderError::pseudo_header_after_regular;
        return name_error(name);
    }
    if (!valid_value(value)) return value_error(value);
    // RFC 9113 §8.2.2: connection-specific fields make a message malformed;
    // TE may only carry "trailers". (The first octet screens before comparing.)
    const std::string_view n = name;
    switch (n.size()) {
    case 2:
        if (n[0] == 't' && n == "te" && value != "trailers") return HeaderError::te_not_trailers;
        break;
    case 7:
        if (n[0] == 'u' && n == "upgrade") return HeaderError::connection_specific_field;
        break;
    case 10:
        if (n[0] == 'c' && n == "connection") return HeaderError::connection_specific_field;
        if (n[0] == 'k' && n == "keep-alive") return HeaderError::connection_specific_field;
        break;
    case 16:
        if (n[0] == 'p' && n == "proxy-connection") return HeaderError::connection_specific_field;
        break;
    case 17:
        if (n[0] == 't' && n == "transfer-encoding") return HeaderError::connection_specific_field;
        break;
    default:
        break;
    }
    return HeaderError::none;
}

void MessageScan::add_field(std::string_view name, std::string_view value, std::uint8_t& memo) noexcept {
    if (error_ != HeaderError::none) return;  // malformed already: the first reason stands
    if (!name.empty() && name.front() == ':') {
        // RFC 9113 §8.1: trailers carry no pseudo-header field; §8.3: they
        // all come before the regular fields.
        if (kind_ == MessageKind::trailers) fail(HeaderError::pseudo_header_in_trailers);
        else if (regular_seen_) fail(HeaderError::pseudo_header_after_regular);
        else add_pseudo(name, value, memo);
        return;
    }
    regular_seen_ = true;
    const bool length = is_content_length(name);
    if (length && kind_ == MessageKind::trailers) {
        // Not framing in trailers (RFC 9110 §6.5.1: such fields are not
        // merged into the header section): an ordinary field there, checked
        // as one. Never marked plain: the same table entry may come back in
        // a header section, where it must be read.
        if ((memo & memo_valid_field) == 0) {
            if (const HeaderError why = check_regular_field(name, value); why != HeaderError::none) {
                fail(why);
                return;
            }
            memo |= memo_valid_field;
        }
        return;
    }
    if (length && !value.empty() && !is_ws(value.front()) && !is_ws(value.back()) &&
        merge_content_length(value, content_length_)) {
        // A valid content-length is digits, commas and blanks inside: it
        // passes the value checks, and its name is known.
        memo |= memo_valid_field;
        return;
    }
    // (Any other content-length goes through the checks below, which name
    // what is wrong with it.)
    if ((memo & memo_valid_field) == 0) {
        if (const HeaderError why = check_regular_field(name, value); why != HeaderError::none) {
            fail(why);
            return;
        }
        memo |= memo_valid_field;
    }
    if (!length) {
        memo |= memo_plain_field;
        return;
    }
    if (!merge_content_length(value, content_length_)) fail(HeaderError::invalid_content_length);
}

void MessageScan::add_pseudo(std::string_view name, std::string_view value, std::uint8_t& memo) noexcept {
    const Pseudo p = classify(name);
    if (kind_ == MessageKind::response) {
        // RFC 9113 §8.3.2: :status is the only response pseudo-header.
        if (p == p_unknown) fail(HeaderError::unknown_pseudo_header);
        else if (p != p_status) fail(HeaderError::misplaced_pseudo_header);
        else if (seen_ & (1u << p_status)) fail(HeaderError::duplicate_pseudo_header);
        else if (parse_status(value) == 0) fail(HeaderError::invalid_status);
    } else if (p == p_unknown) {
        fail(HeaderError::unknown_pseudo_header);
    } else if (p == p_status) {
        // RFC 9113 §8.3.1: only the defined request pseudo-headers...
        fail(HeaderError::misplaced_pseudo_header);
    } else if (seen_ & (1u << p)) {
        // ...each at most once.
        fail(HeaderError::duplicate_pseudo_header);
    } else if (!valid_value(value)) {
        fail(value_error(value));
    }
    if (error_ != HeaderError::none) return;
    memo |= static_cast<std::uint8_t>(memo_valid_field | (p + 1) << memo_pseudo_shift);
    seen_ |= static_cast<std::uint8_t>(1u << p);
    pseudo_[p] = value;
}

HeaderError MessageScan::finish_request(const RequestRules& rules, RequestInfo& info) const noexcept {
    const auto has = [&](Pseudo p) { return (seen_ & (1u << p)) != 0; };
    const auto value = [&](Pseudo p) { return has(p) ? pseudo_[p] : std::string_view{}; };
    info.method = value(p_method);
    info.scheme = value(p_scheme);
    info.authority = value(p_authority);
    info.path = value(p_path);
    info.protocol = value(p_protocol);
    info.content_length = content_length_;
    info.is_connect = false;
    info.is_head = false;
    if (error_ != HeaderError::none) return error_;
    if (!has(p_method) || info.method.empty()) return HeaderError::missing_method;
    info.is_connect = info.method == "CONNECT";
    info.is_head = info.method == "HEAD";
    if (has(p_protocol)) {
        // RFC 8441 §4: :protocol only on CONNECT, and only once we enabled it
        // (§3); :scheme and :path are then required.
        if (!info.is_connect) return HeaderError::protocol_without_connect;
        if (!rules.connect_protocol) return HeaderError::protocol_not_enabled;
        if (info.protocol.empty()) return HeaderError::empty_protocol;
        // RFC 8441 §5: the host travels in :authority, "required on every
        // HTTP/2 transaction" that bootstraps a protocol this way.
        if (!has(p_authority) || info.authority.empty()) return HeaderError::missing_authority;
    } else if (info.is_connect) {
        // RFC 9113 §8.5: CONNECT carries :method and :authority only.
        if (has(p_scheme) || has(p_path)) return HeaderError::connect_with_scheme_or_path;
        if (!has(p_authority) || info.authority.empty()) return HeaderError::missing_authority;
        return HeaderError::none;
    }
    // RFC 9113 §8.3.1: exactly one :method, :scheme and :path; :path not
    // empty (for http and https, "/" or "*" at least).
    if (!has(p_scheme) || info.scheme.empty()) return HeaderError::missing_scheme;
    if (!has(p_path)) return HeaderError::missing_path;
    if (info.path.empty()) return HeaderError::empty_path;
    if (rules.promised) {
        // RFC 9113 §8.4: promised requests are safe and cacheable and have no
        // content.
        if (info.method != "GET" && info.method != "HEAD") return HeaderError::promise_not_safe;
        if (info.content_length > 0) return HeaderError::promise_with_content;
    }
    return HeaderError::none;
}

HeaderError MessageScan::finish_response(ResponseInfo& info) const noexcept {
    info = ResponseInfo{};
    info.content_length = content_length_;
    if (error_ != HeaderError::none) return error_;
    if ((seen_ & (1u << p_status)) == 0) return HeaderError::missing_status;
    info.status = parse_status(pseudo_[p_status]);
    // RFC 9113 §8.6: HTTP/2 has no 101 (Switching Protocols).
    if (info.status == 101) return HeaderError::status_101;
    return HeaderError::none;
}

HeaderError check_request(std::span<const Field> fields, const RequestRules& rules, RequestInfo& info) noexcept {
    MessageScan scan(MessageKind::request);
    for (const Field& f : fields) scan.add(f);
    return scan.finish_request(rules, info);
}

HeaderError check_response(std::span<const Field> fields, ResponseInfo& info) noexcept {
    MessageScan scan(MessageKind::response);
    for (const Field& f : fields) scan.add(f);
    return scan.finish_response(info);
}

HeaderError check_trailers(std::span<const Field> fields) noexcept {
    MessageScan scan(MessageKind::trailers);
    for (const Field& f : fields) scan.add(f);
    return scan.finish_trailers();
}

InvalidHeader locate_invalid(std::span<const Field> fields, MessageKind kind, HeaderError error) noexcept {
    const auto at = [](std::size_t i) {
        return static_cast<std::uint32_t>(std::min<std::size_t>(i, InvalidHeader::no_field));
    };
    MessageScan scan(kind);
    for (std::size_t i = 0; i < fields.size(); ++i) {
        scan.add(fields[i]);
        if (scan.field_error() != HeaderError::none) return InvalidHeader{scan.field_error(), at(i)};
    }
    // A rule on the whole message: the field it is about, when present (a
    // "missing" pseudo-header that is there is empty).
    std::string_view name, other;
    switch (error) {
    case HeaderError::missing_method:
    case HeaderError::promise_not_safe: name = ":method"; break;
    case HeaderError::missing_scheme: name = ":scheme"; break;
    case HeaderError::empty_path: name = ":path"; break;
    case HeaderError::missing_authority: name = ":authority"; break;
    case HeaderError::connect_with_scheme_or_path:
        name = ":scheme";
        other = ":path";
        break;
    case HeaderError::protocol_without_connect:
    case HeaderError::protocol_not_enabled:
    case HeaderError::empty_protocol: name = ":protocol"; break;
    case HeaderError::status_101:
    case HeaderError::informational_end_stream: name = ":status"; break;
    case HeaderError::promise_with_content:
    case HeaderError::connect_content_length: name = "content-length"; break;
    default: break;
    }
    if (!name.empty())
        for (std::size_t i = 0; i < fields.size(); ++i)
            if (fields[i].name == name || (!other.empty() && fields[i].name == other)) return InvalidHeader{error, at(i)};
    return InvalidHeader{error, InvalidHeader::no_field};
}

void extract_request(std::span<const Field> fields, RequestInfo& info) noexcept {
    info = RequestInfo{};
    bool got[p_unknown] = {};
    for (const Field& f : fields) {
        if (!f.name.empty() && f.name.front() == ':') {
            const Pseudo p = classify(f.name);
            if (p == p_unknown || got[p]) continue;
            got[p] = true;
            switch (p) {
            case p_method: info.method = f.value; break;
            case p_scheme: info.scheme = f.value; break;
            case p_authority: info.authority = f.value; break;
            case p_path: info.path = f.value; break;
            case p_protocol: info.protocol = f.value; break;
            default: break;
            }
        } else if (is_content_length(f.name) && info.content_length < 0) {
            info.content_length = parse_content_length(f.value);
        }
    }
    info.is_connect = info.method == "CONNECT";
    info.is_head = info.method == "HEAD";
}

void extract_response(std::span<const Field> fields, ResponseInfo& info) noexcept {
    info = ResponseInfo{};
    for (const Field& f : fields) {
        if (info.status == 0 && f.name == ":status") info.status = parse_status(f.value);
        else if (is_content_length(f.name) && info.content_length < 0)
            info.content_length = parse_content_length(f.value);
    }
}

}  // namespace h2wire::detail
