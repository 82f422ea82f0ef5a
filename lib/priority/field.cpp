// The Priority field value (RFC 9218 §4, §5): a Structured Field Dictionary
// (RFC 8941 §3.2), parsed strictly as RFC 8941 §4.2 says.
//
// The parser follows the RFC's algorithms step by step, one function each
// (§4.2.2 dictionary, §4.2.1.2 inner list, §4.2.3 item, §4.2.3.2 parameters,
// §4.2.3.1 bare item and the bare item types of §4.2.4 to §4.2.8). None calls
// itself, so the depth is fixed: dictionary, inner list, item, parameters,
// bare item. It reads each byte once, keeps no copy of anything, and checks
// the whole value before it changes any priority parameter: a value that is
// not a Dictionary changes nothing.
//
// Of the members, only the last `u` and the last `i` count (RFC 8941 §4.2.2:
// a repeated key overwrites the earlier value). When that last value is out
// of range or of the wrong type, RFC 9218 §4 ignores it, so the parameter
// keeps its value in `base`, even if an earlier member of the same key was
// valid: "u=1, u=9" leaves the urgency at base's.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "h2wire/priority.hpp"

namespace h2wire {
namespace {

// What peek() returns past the last character.
constexpr int end_of_input = -1;

constexpr bool is_digit(int c) {
    return c >= '0' && c <= '9';
}
constexpr bool is_lcalpha(int c) {
    return c >= 'a' && c <= 'z';
}
constexpr bool is_alpha(int c) {
    return is_lcalpha(c) || (c >= 'A' && c <= 'Z');
}

// RFC 8941 §3.1.2: key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
constexpr bool is_key_char(int c) {
    return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '*';
}

// RFC 9110 §5.6.2: tchar, plus the ":" and "/" that RFC 8941 §3.3.4 allows
// in a token after its first character.
constexpr bool is_token_char(int c) {
    constexpr std::string_view symbols = "!#$%&'*+-.^_`|~:/";
    return is_alpha(c) || is_digit(c) || (c >= 0 && symbols.find(static_cast<char>(c)) != std::string_view::npos);
}

// RFC 4648 §4: the base64 alphabet, without the pad "=".
constexpr bool is_base64_char(int c) {
    return is_alpha(c) || is_digit(c) || c == '+' || c == '/';
}

// The types of RFC 8941 §3.3, and an Inner List (§3.1.1) as a member's value.
enum class ValueType : std::uint8_t { integer, decimal, string, token, byte_sequence, boolean, inner_list };

// What the parser keeps of a member's value: its type, and the value itself
// for the two types that priority parameters use.
struct Value {
    ValueType type = ValueType::boolean;
    std::int64_t integer = 0;  // for ValueType::integer
    bool boolean = true;       // for ValueType::boolean
};

// The value of `u` when it counts (RFC 9218 §4.1: an Integer 0..7).
std::optional<std::uint8_t> urgency_of(const Value& v) {
    if (v.type != ValueType::integer || v.integer < 0 || v.integer > max_urgency) return std::nullopt;
    return static_cast<std::uint8_t>(v.integer);
}

// The value of `i` when it counts (RFC 9218 §4.2: a Boolean).
std::optional<bool> incremental_of(const Value& v) {
    if (v.type != ValueType::boolean) return std::nullopt;
    return v.boolean;
}

// A cursor over the field value. Each parsing function starts at the current
// position, advances past what it accepts and returns false on a syntax error
// (the whole value is then invalid; the position no longer matters).
class Parser {
public:
    explicit Parser(std::string_view in) : in_(in) {}

    // RFC 8941 §4.2 with §4.2.2 for a Dictionary: the parameters that `u`
    // and `i` set over `base`, or nullopt.
    std::optional<Priority> field_value(Priority base);

private:
    std::string_view in_;
    std::size_t pos_ = 0;

    bool at_end() const { return pos_ == in_.size(); }
    int peek() const { return at_end() ? end_of_input : static_cast<unsigned char>(in_[pos_]); }
    // Whether the next character is `c`; if so, consumes it.
    bool take(char c) {
        if (peek() != static_cast<unsigned char>(c)) return false;
        ++pos_;
        return true;
    }
    void skip_sp() {
        while (peek() == ' ') ++pos_;
    }
    // RFC 9110 §5.6.3: OWS = *( SP / HTAB ).
    void skip_ows() {
        while (peek() == ' ' || peek() == '\t') ++pos_;
    }

    std::string_view key();
    bool item_or_inner_list(Value& v);
    bool inner_list();
    bool item(Value& v);
    bool parameters();
    bool bare_item(Value& v);
    bool number(Value& v);
    bool string();
    bool token();
    bool byte_sequence();
    bool boolean(Value& v);
};

std::optional<Priority> Parser::field_value(Priority base) {
    // RFC 8941 §4.2: leading SP is discarded (only SP: a leading HTAB fails).
    skip_sp();
    std::optional<std::uint8_t> urgency;
    std::optional<bool> incremental;
    // RFC 8941 §4.2.2: members until the input ends; an empty value is an
    // empty Dictionary.
    while (!at_end()) {
        const std::string_view name = key();
        if (name.empty()) return std::nullopt;
        Value v;  // a member without "=" is Boolean true, with parameters
        if (take('=')) {
            if (!item_or_inner_list(v)) return std::nullopt;
        } else if (!parameters()) {
            return std::nullopt;
        }
        // The last member of a key replaces the earlier ones, ignored or not.
        if (name == "u") urgency = urgency_of(v);
        if (name == "i") incremental = incremental_of(v);

        // OWS "," OWS between members. Trailing OWS (SP or HTAB) ends the
        // Dictionary, so the trailing-SP step of §4.2 finds nothing left.
        skip_ows();
        if (at_end()) break;
        if (!take(',')) return std::nullopt;
        skip_ows();
        if (at_end()) return std::nullopt;  // RFC 8941 §4.2.2: a trailing comma fails
    }
    if (urgency) base.urgency = *urgency;
    if (incremental) base.incremental = *incremental;
    return base;
}

// RFC 8941 §4.2.3.3: a key, or an empty view when there is none (a key is
// never empty).
std::string_view Parser::key() {
    const std::size_t start = pos_;
    if (!is_lcalpha(peek()) && peek() != '*') return {};
    ++pos_;
    while (is_key_char(peek())) ++pos_;
    return std::string_view(in_.data() + start, pos_ - start);
}

// RFC 8941 §4.2.1.1.
bool Parser::item_or_inner_list(Value& v) {
    if (peek() != '(') return item(v);
    v.type = ValueType::inner_list;
    return inner_list();
}

// RFC 8941 §4.2.1.2: "(" items separated by SP ")" then parameters. Inner
// lists do not nest: an item is a bare item.
bool Parser::inner_list() {
    ++pos_;  // "(", seen by the caller
    while (!at_end()) {
        skip_sp();
        if (take(')')) return parameters();
        Value ignored;
        if (!item(ignored)) return false;
        if (peek() != ' ' && peek() != ')') return false;
    }
    return false;  // no ")"
}

// RFC 8941 §4.2.3.
bool Parser::item(Value& v) {
    return bare_item(v) && parameters();
}

// RFC 8941 §4.2.3.2: *( ";" *SP key [ "=" bare-item ] ). RFC 9218 gives
// parameters no meaning, so they are checked and dropped.
bool Parser::parameters() {
    while (take(';')) {
        skip_sp();
        if (key().empty()) return false;
        Value ignored;
        if (take('=') && !bare_item(ignored)) return false;
    }
    return true;
}

// RFC 8941 §4.2.3.1: the first character tells the type.
bool Parser::bare_item(Value& v) {
    const int c = peek();
    if (c == '-' || is_digit(c)) return number(v);
    if (c == '"') {
        v.type = ValueType::string;
        return string();
    }
    if (c == '*' || is_alpha(c)) {
        v.type = ValueType::token;
        return token();
    }
    if (c == ':') {
        v.type = ValueType::byte_sequence;
        return byte_sequence();
    }
    if (c == '?') return boolean(v);
    return false;
}

// RFC 8941 §4.2.4: an Integer of at most 15 digits, or a Decimal of at most
// 12 digits, ".", and 1 to 3 digits. Failing as soon as a limit is passed is
// the same as the RFC's checks (its length checks and the final "at most 3
// fractional digits" all fail the same way), and keeps the Integer below
// 10^15: no overflow.
bool Parser::number(Value& v) {
    const bool negative = take('-');
    if (!is_digit(peek())) return false;
    std::int64_t integer = 0;
    int integer_digits = 0;
    int fraction_digits = 0;
    bool decimal = false;
    for (;;) {
        const int c = peek();
        if (is_digit(c)) {
            if (decimal) {
                if (++fraction_digits > 3) return false;
            } else {
                if (++integer_digits > 15) return false;
                integer = integer * 10 + (c - '0');
            }
        } else if (c == '.' && !decimal) {
            if (integer_digits > 12) return false;
            decimal = true;
        } else {
            break;  // a second "." or anything else ends the number
        }
        ++pos_;
    }
    if (decimal) {
        v.type = ValueType::decimal;
        return fraction_digits > 0;  // "1." fails
    }
    v.type = ValueType::integer;
    v.integer = negative ? -integer : integer;  // "-0" is 0
    return true;
}

// RFC 8941 §4.2.5: DQUOTE, printable ASCII with only \" and \\ escaped, DQUOTE.
bool Parser::string() {
    ++pos_;  // DQUOTE, seen by the caller
    while (!at_end()) {
        const int c = peek();
        ++pos_;
        if (c == '"') return true;
        if (c == '\\') {
            if (!take('"') && !take('\\')) return false;
        } else if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    return false;  // no closing DQUOTE
}

// RFC 8941 §4.2.6: ( ALPHA / "*" ) *( tchar / ":" / "/" ).
bool Parser::token() {
    ++pos_;  // ALPHA or "*", seen by the caller
    while (is_token_char(peek())) ++pos_;
    return true;
}

// RFC 8941 §4.2.7: ":" base64 ":". Anything but the base64 alphabet and "="
// before the closing ":" fails, as does a closing ":" that never comes: the
// same outcome as the RFC's "no ':' left" and "other characters" checks.
// Content that base64 cannot decode fails: "=" before data, or a length that
// leaves a single character in the last quantum, or padding that does not
// fill it. Missing padding and non-zero pad bits are accepted, as the RFC
// says parsers SHOULD.
bool Parser::byte_sequence() {
    ++pos_;  // ":", seen by the caller
    std::size_t data = 0;
    std::size_t padding = 0;
    for (;; ++pos_) {
        const int c = peek();
        if (c == '=') {
            ++padding;
        } else if (is_base64_char(c)) {
            if (padding) return false;  // data after "="
            ++data;
        } else {
            break;
        }
    }
    if (!take(':')) return false;
    switch (data % 4) {
        case 0:
            return padding == 0;
        case 1:
            return false;  // 6 bits: not even one octet
        case 2:
            return padding == 0 || padding == 2;
        default:
            return padding == 0 || padding == 1;
    }
}

// RFC 8941 §4.2.8: "?0" or "?1".
bool Parser::boolean(Value& v) {
    ++pos_;  // "?", seen by the caller
    v.type = ValueType::boolean;
    if (take('1')) {
        v.boolean = true;
        return true;
    }
    v.boolean = false;
    return take('0');
}

}  // namespace

std::optional<Priority> parse_priority(std::string_view value, Priority base) noexcept {
    return Parser(value).field_value(base);
}

PriorityText format_priority(Priority p) noexcept {
    PriorityText t;
    const unsigned u = p.urgency > max_urgency ? max_urgency : p.urgency;
    auto put = [&](char c) { t.data[t.size++] = c; };
    if (u != default_urgency) {
        put('u');
        put('=');
        put(static_cast<char>('0' + u));
    }
    if (p.incremental) {
        if (t.size) {
            put(',');
            put(' ');
        }
        put('i');
    }
    return t;
}

}  // namespace h2wire
