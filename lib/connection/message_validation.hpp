// HTTP message checks of RFC 9113 §8 (with RFC 9110 and RFC 8441 §4): what
// makes a request, response or trailer section well formed. Fields are
// checked one at a time as they come (MessageScan), so the receive path
// checks each field once while it is at hand, and a field whose HPACK table
// entry already passed is skipped; the message then either yields what the
// connection needs (method, status, content-length...) or says why it is
// malformed (a HeaderError). Which field was at fault is found again only
// when a check failed (locate_invalid()), so the scan of a valid message
// counts nothing. Usable on their own: they know nothing of streams or
// frames.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "h2wire/error.hpp"
#include "h2wire/header.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::detail {

/// What a request's pseudo-header fields and framing fields say.
struct RequestInfo {
    std::string_view method;
    std::string_view scheme;
    std::string_view authority;
    std::string_view path;
    std::string_view protocol;  ///< RFC 8441 §4 :protocol, empty if absent
    /// content-length, or -1 when absent.
    std::int64_t content_length = -1;
    bool is_connect = false;  ///< :method CONNECT (classic or extended)
    bool is_head = false;     ///< :method HEAD
};

/// What a response's fields say.
struct ResponseInfo {
    int status = 0;  ///< :status, 0 if absent (only without validation)
    std::int64_t content_length = -1;
};

struct RequestRules {
    /// We announced SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (RFC 8441 §3): a
    /// request may carry :protocol. Off: :protocol makes the request malformed.
    bool connect_protocol = false;
    /// A pushed request (RFC 9113 §8.4): it must be safe and cacheable
    /// (GET or HEAD here) and carry no content.
    bool promised = false;
};

/// Bits a field's HPACK table entry carries (hpack::FieldSink memo on
/// receive, hpack::Encoder memos on send) about what the checks found. They
/// look at the field alone, so what they found holds whenever the peer (or
/// the application) uses the entry again.
/// memo_valid_field: a regular field passed check_regular_field(); a
/// pseudo-header's value passed the value checks (its name is checked for
/// the message each time).
inline constexpr std::uint8_t memo_valid_field = 1;
/// memo_plain_field: valid, and the message checks need nothing from it (it
/// is not content-length): MessageScan skips it entirely.
inline constexpr std::uint8_t memo_plain_field = 2;
/// Bits 2-4 of a pseudo-header's memo: which one it is (Pseudo + 1), set
/// with memo_valid_field once its value passed.
inline constexpr int memo_pseudo_shift = 2;
inline constexpr std::uint8_t memo_pseudo_mask = 7 << memo_pseudo_shift;

/// The pseudo-header fields (RFC 9113 §8.3), and none.
enum Pseudo : std::uint8_t { p_method, p_scheme, p_authority, p_path, p_protocol, p_status, p_unknown };

/// Checks one regular field (not a pseudo-header) per RFC 9113 §8.2.1 and
/// §8.2.2: name not empty, no octet in 0x00-0x20, 'A'-'Z', 0x7f-0xff or ':';
/// value without NUL, CR, LF and without leading or trailing SP/HTAB; not a
/// connection-specific field; TE only "trailers". Returns HeaderError::none
/// when fine, else the rule broken.
HeaderError check_regular_field(std::string_view name, std::string_view value) noexcept;

enum class MessageKind : std::uint8_t { request, response, trailers };

/// The message checks, one field at a time, in the order the fields come
/// (as the HPACK decoder produces them, or as the application submitted
/// them): RFC 9113 §8.1 (no pseudo-headers in trailers), §8.2 (each regular
/// field), §8.3 (pseudo-headers first, each once, only the defined ones),
/// and content-length (RFC 9110 §8.6). The first problem is kept; the
/// finish_*() call for the kind adds the whole-message checks (required
/// pseudo-headers, CONNECT, :protocol) and fills the info. Views of the
/// fields are kept: they must outlive the finish call.
class MessageScan {
public:
    MessageScan() noexcept = default;
    explicit MessageScan(MessageKind kind) noexcept : kind_(kind) {}
    /// Starts over for a new message.
    void reset(MessageKind kind) noexcept {
        error_ = HeaderError::none;
        content_length_ = -1;
        kind_ = kind;
        seen_ = 0;
        regular_seen_ = false;
    }

    /// One field. `memo` is its HPACK entry's byte (0 for a field without
    /// one); the bits above are added as the field earns them. A field
    /// marked plain costs one test.
    void add(const Field& f, std::uint8_t& memo) noexcept { add(f.name, f.value, memo); }
    void add(const Field& f) noexcept {
        std::uint8_t memo = 0;
        add_field(f.name, f.value, memo);
    }
    /// The same with the name and value apart (kept in registers by the
    /// caller: a Field read back right after it was written stalls).
    void add(std::string_view name, std::string_view value, std::uint8_t& memo) noexcept {
        if (memo & memo_plain_field) {
            regular_seen_ = true;
            return;
        }
        if (const unsigned m = memo & memo_pseudo_mask; m != 0) {
            // A pseudo-header known by name and valid by value: what is left
            // is where it stands in the message.
            const unsigned p = (m >> memo_pseudo_shift) - 1;
            const bool fits = kind_ == MessageKind::response ? p == p_status
                                                             : kind_ == MessageKind::request && p != p_status;
            if (fits && error_ == HeaderError::none && !regular_seen_ && (seen_ & (1u << p)) == 0) {
                seen_ |= static_cast<std::uint8_t>(1u << p);
                pseudo_[p] = value;
                return;
            }
        }
        add_field(name, value, memo);
    }

    /// RFC 9113 §8.3.1, §8.5, RFC 8441 §4 (and §8.4 for a promise). Fills
    /// `info`; returns HeaderError::none when the request is well formed,
    /// else the rule broken.
    HeaderError finish_request(const RequestRules& rules, RequestInfo& info) const noexcept;
    /// RFC 9113 §8.3.2, §8.6, for informational and final responses.
    HeaderError finish_response(ResponseInfo& info) const noexcept;
    /// RFC 9113 §8.1.
    HeaderError finish_trailers() const noexcept { return error_; }

    /// The first problem a field had so far (none while there is none).
    HeaderError field_error() const noexcept { return error_; }
    MessageKind kind() const noexcept { return kind_; }

private:
    void add_field(std::string_view name, std::string_view value, std::uint8_t& memo) noexcept;
    void add_pseudo(std::string_view name, std::string_view value, std::uint8_t& memo) noexcept;
    void fail(HeaderError why) noexcept {
        if (error_ == HeaderError::none) error_ = why;
    }

    HeaderError error_ = HeaderError::none;  // the first problem
    // The pseudo-headers' values, by Pseudo; each set when its seen_ bit is
    // (reset() leaves them).
    std::string_view pseudo_[p_unknown];
    std::int64_t content_length_ = -1;
    MessageKind kind_ = MessageKind::request;
    std::uint8_t seen_ = 0;  // pseudo-headers seen, one bit each
    bool regular_seen_ = false;
};

/// The whole-list forms (each field scanned in turn, without memos).
HeaderError check_request(std::span<const Field> fields, const RequestRules& rules, RequestInfo& info) noexcept;
HeaderError check_response(std::span<const Field> fields, ResponseInfo& info) noexcept;
HeaderError check_trailers(std::span<const Field> fields) noexcept;

/// After a check of `fields` (a message of `kind`) failed with `error`:
/// the field at fault. The fields are scanned again, without memos (what a
/// memo skips is valid, so the first field that fails is the same), and a
/// rule on the whole message names the field it concerns, when there is one
/// (the empty :path, the :protocol of a request other than CONNECT, the
/// :status 101...). Only ever called on the failure path.
InvalidHeader locate_invalid(std::span<const Field> fields, MessageKind kind, HeaderError error) noexcept;

/// Without validation: takes the pseudo-headers and content-length as they
/// come (first of each), never fails.
void extract_request(std::span<const Field> fields, RequestInfo& info) noexcept;
void extract_response(std::span<const Field> fields, ResponseInfo& info) noexcept;

/// Parses a content-length value (RFC 9110 §8.6): digits, or a list of equal
/// values separated by commas. Returns -1 when invalid.
std::int64_t parse_content_length(std::string_view v) noexcept;

/// Parses a 3-digit :status; returns 0 when it is not one.
int parse_status(std::string_view v) noexcept;

}  // namespace h2wire::detail

#pragma GCC visibility pop
