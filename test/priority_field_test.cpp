// RFC 9218 §4, §5: the Priority field value, parse_priority() and
// format_priority().
//
// parse_priority() must accept exactly the Dictionaries of RFC 8941 §4.2 and
// take from them only what RFC 9218 §4 gives a meaning: the last `u` when it
// is an Integer 0..7, the last `i` when it is a Boolean. The cases below go
// through each rule of RFC 8941's parsing algorithms with values just inside
// and just outside it; the generated test builds random valid Dictionaries
// whose result is known, and random bytes that must never upset the parser.
//
// Python's http_sfv module would be an independent oracle, but Debian does
// not package it (no python3-http-sfv), so it is not used here.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "h2wire/priority.hpp"

namespace doctest {
template <>
struct StringMaker<h2wire::Priority> {
    static String convert(const h2wire::Priority& p) {
        const std::string s = "{u=" + std::to_string(p.urgency) + (p.incremental ? ", i}" : ", not i}");
        return String(s.c_str());
    }
};
template <>
struct StringMaker<std::optional<h2wire::Priority>> {
    static String convert(const std::optional<h2wire::Priority>& p) {
        return p ? StringMaker<h2wire::Priority>::convert(*p) : String("nullopt");
    }
};
}  // namespace doctest

using namespace h2wire;
using namespace std::string_literals;

namespace {

// Bases that no value sets by accident: a parameter that a value does not
// set comes back as it was in the base.
constexpr Priority base_a{6, true};
constexpr Priority base_b{1, false};

std::optional<Priority> parse(std::string_view v, Priority base = {}) {
    return parse_priority(v, base);
}

bool invalid(std::string_view v) {
    return !parse_priority(v).has_value();
}

// A valid Dictionary that sets neither parameter.
bool sets_nothing(std::string_view v) {
    return parse(v, base_a) == base_a && parse(v, base_b) == base_b;
}

// A valid Dictionary that sets the urgency only.
std::optional<int> urgency_only(std::string_view v) {
    const auto a = parse(v, base_a);
    const auto b = parse(v, base_b);
    if (!a || !b || a->incremental != base_a.incremental || b->incremental != base_b.incremental) return std::nullopt;
    if (a->urgency != b->urgency) return std::nullopt;
    return a->urgency;
}

// A valid Dictionary that sets incremental only.
std::optional<bool> incremental_only(std::string_view v) {
    const auto a = parse(v, base_a);
    const auto b = parse(v, base_b);
    if (!a || !b || a->urgency != base_a.urgency || b->urgency != base_b.urgency) return std::nullopt;
    if (a->incremental != b->incremental) return std::nullopt;
    return a->incremental;
}

}  // namespace

TEST_CASE("priority field: the examples of RFC 9218") {
    CHECK(parse("u=0") == Priority{0, false});         // §4.1
    CHECK(parse("u=5, i") == Priority{5, true});       // §4.2
    CHECK(parse("i") == Priority{3, true});            // §4.2: a bare key is true
    CHECK(parse("u=7") == Priority{7, false});         // §4.1: background
    CHECK(parse("u=0", base_a) == Priority{0, true});  // i keeps the base's
}

TEST_CASE("priority field: absent parameters keep the base's values") {
    CHECK(parse("") == Priority{});
    CHECK(parse("") == Priority{default_urgency, false});
    CHECK(parse("", base_a) == base_a);
    CHECK(parse(" ", base_b) == base_b);  // leading SP removed, then empty
    CHECK(parse("   ", base_a) == base_a);
    CHECK(parse("i", base_a) == Priority{6, true});
    CHECK(parse("u=2", base_a) == Priority{2, true});
    CHECK(parse("u=2", base_b) == Priority{2, false});
}

TEST_CASE("priority field: urgency is an Integer from 0 to 7") {
    for (int u = 0; u <= 7; ++u) CHECK(urgency_only("u=" + std::to_string(u)) == u);
    CHECK(sets_nothing("u=8"));
    CHECK(sets_nothing("u=-1"));  // a valid Integer, out of range
    CHECK(sets_nothing("u=100"));
    CHECK(urgency_only("u=-0") == 0);  // RFC 8941 §4.2.4: the Integer 0
    CHECK(urgency_only("u=007") == 7);
    CHECK(urgency_only("u=000000000000001") == 1);  // 15 digits
    CHECK(sets_nothing("u=999999999999999"));
    CHECK(sets_nothing("u=-999999999999999"));
    CHECK(invalid("u=0000000000000001"));  // 16 digits
    CHECK(invalid("u=1000000000000000"));
    CHECK(invalid("u=-1000000000000000"));
    CHECK(invalid("u=99999999999999999999999999999"));
    CHECK(invalid("u=-"));
    CHECK(invalid("u=--1"));
    CHECK(invalid("u=+1"));
    CHECK(invalid("u=1-"));
    CHECK(invalid("u=- 1"));
    CHECK(invalid("u="));
    CHECK(invalid("u=1a"));  // a number then a token without a separator
}

TEST_CASE("priority field: Decimals are valid and ignored") {
    CHECK(sets_nothing("u=1.5"));
    CHECK(sets_nothing("u=1.0"));  // a Decimal, not the Integer 1
    CHECK(sets_nothing("u=-1.5"));
    CHECK(sets_nothing("u=1.123"));
    CHECK(sets_nothing("u=123456789012.123"));  // 12 digits, 3 fractional
    CHECK(sets_nothing("u=0.0"));
    CHECK(invalid("u=1234567890123.1"));  // 13 integer digits
    CHECK(invalid("u=1.1234"));           // 4 fractional digits
    CHECK(invalid("u=1."));
    CHECK(invalid("u=1.a"));
    CHECK(invalid("u=.5"));
    CHECK(invalid("u=-.5"));
    CHECK(invalid("u=1.2.3"));
    CHECK(invalid("u=1..2"));
    CHECK(urgency_only("u=1.5, u=4") == 4);
}

TEST_CASE("priority field: incremental is a Boolean") {
    CHECK(incremental_only("i=?1") == true);
    CHECK(incremental_only("i=?0") == false);
    CHECK(incremental_only("i") == true);
    CHECK(parse("i=?0", base_a) == Priority{6, false});
    CHECK(parse("u=5, i=?0") == Priority{5, false});
    CHECK(sets_nothing("i=1"));  // an Integer
    CHECK(sets_nothing("i=0"));
    CHECK(sets_nothing("i=true"));    // a Token
    CHECK(sets_nothing("i=\"?1\""));  // a String
    CHECK(sets_nothing("i=1.0"));
    CHECK(sets_nothing("i=:AA==:"));
    CHECK(sets_nothing("i=(?1)"));  // an Inner List
    CHECK(invalid("i=?"));
    CHECK(invalid("i=?2"));
    CHECK(invalid("i=?01"));
    CHECK(invalid("i=?true"));
    CHECK(invalid("i=? 1"));
    CHECK(invalid("i=?-1"));
}

TEST_CASE("priority field: values of the wrong type are ignored") {
    CHECK(sets_nothing("u"));  // Boolean true
    CHECK(sets_nothing("u=?1"));
    CHECK(sets_nothing("u=?0"));
    CHECK(sets_nothing("u=\"1\""));
    CHECK(sets_nothing("u=a"));
    CHECK(sets_nothing("u=:AQ==:"));
    CHECK(sets_nothing("u=(1)"));
    CHECK(sets_nothing("u=(1 2)"));
    CHECK(incremental_only("u=\"1\", i") == true);
    CHECK(urgency_only("i=5, u=5") == 5);
}

TEST_CASE("priority field: unknown keys are ignored") {
    CHECK(sets_nothing("a=1"));
    CHECK(sets_nothing("urgency=1"));
    CHECK(sets_nothing("iu"));
    CHECK(sets_nothing("ui=1"));
    CHECK(sets_nothing("u_=1, i-=?1, u.=2, i*"));
    CHECK(sets_nothing("a=1, b, c=?0, d=(1 2), e=\"x\""));
    CHECK(parse("x=1, u=2, y, i, z=3") == Priority{2, true});
}

TEST_CASE("priority field: keys") {
    // RFC 8941 §3.1.2: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
    CHECK(sets_nothing("*=1"));
    CHECK(sets_nothing("*"));
    CHECK(sets_nothing("*u=1"));
    CHECK(sets_nothing("u*=1"));
    CHECK(sets_nothing("a_b-c.d*9=1"));
    CHECK(sets_nothing("abcdefghijklmnopqrstuvwxyz0123456789=1"));
    CHECK(invalid("U=1"));  // uppercase
    CHECK(invalid("I"));
    CHECK(invalid("uU=1"));
    CHECK(invalid("aB"));
    CHECK(invalid("1u=1"));
    CHECK(invalid("_u=1"));
    CHECK(invalid("-u=1"));
    CHECK(invalid(".u=1"));
    CHECK(invalid("=1"));
    CHECK(invalid("u!=1"));
    CHECK(invalid("\xc3\xbc=1"));  // non-ASCII
    CHECK(invalid("u=1, \xc3\xbc"));
}

TEST_CASE("priority field: whitespace") {
    // RFC 8941 §4.2: leading and trailing SP are removed.
    CHECK(urgency_only(" u=1") == 1);
    CHECK(urgency_only("   u=1   ") == 1);
    CHECK(invalid("\tu=1"));  // a leading HTAB is not removed
    CHECK(invalid("\t"));
    CHECK(invalid(" \t u=1"));
    // §4.2.2: trailing OWS after a member ends the Dictionary.
    CHECK(urgency_only("u=1\t") == 1);
    CHECK(urgency_only("u=1 \t ") == 1);
    // Between members: OWS "," OWS, with SP or HTAB.
    CHECK(parse("u=1,i") == Priority{1, true});
    CHECK(parse("u=1 , i") == Priority{1, true});
    CHECK(parse("u=1\t,\ti") == Priority{1, true});
    CHECK(parse("u=1 \t,\t  i") == Priority{1, true});
    // Around "=": nothing.
    CHECK(invalid("u =1"));
    CHECK(invalid("u= 1"));
    CHECK(invalid("u\t=1"));
    CHECK(invalid("u=\t1"));
    // Other separators and line breaks.
    CHECK(invalid("u=1 i"));
    CHECK(invalid("u=1;i x"));
    CHECK(invalid("u=1\r\n"));
    CHECK(invalid("u=1\n"));
    CHECK(invalid("\n"));
    CHECK(invalid("u=1\v"));
}

TEST_CASE("priority field: commas") {
    CHECK(invalid("u=1,"));  // RFC 8941 §4.2.2: a trailing comma
    CHECK(invalid("u=1, "));
    CHECK(invalid("u=1,\t"));
    CHECK(invalid(",u=1"));
    CHECK(invalid(" ,u=1"));
    CHECK(invalid("u=1,,i"));
    CHECK(invalid("u=1, ,i"));
    CHECK(invalid(","));
    CHECK(invalid(", "));
}

TEST_CASE("priority field: a repeated key: the last one counts") {
    // RFC 8941 §4.2.2 keeps the last value of a key; RFC 9218 §4 then
    // ignores it when it is out of range or of the wrong type, even when an
    // earlier value was valid.
    CHECK(urgency_only("u=1, u=2") == 2);
    CHECK(urgency_only("u=2, u=1") == 1);
    CHECK(sets_nothing("u=1, u=9"));
    CHECK(sets_nothing("u=1, u"));
    CHECK(sets_nothing("u=1, u=1.0"));
    CHECK(sets_nothing("u=1, u=(1)"));
    CHECK(urgency_only("u=9, u=1") == 1);
    CHECK(incremental_only("i, i=?0") == false);
    CHECK(incremental_only("i=?0, i") == true);
    CHECK(sets_nothing("i, i=1"));
    CHECK(parse("u=2, i, u=4") == Priority{4, true});
    CHECK(parse("i, u=2, i=?0, u=4, a=1") == Priority{4, false});
}

TEST_CASE("priority field: several field lines, joined or one by one") {
    // RFC 9110 §5.3: the lines form one value joined by ", ". Parsing the
    // lines one by one, each over the previous result, agrees with the joined
    // value when each key's last member counts...
    const auto by_lines = [](std::string_view first, std::string_view second) {
        const auto p = parse(first);
        return p ? parse(second, *p) : std::nullopt;
    };
    CHECK(by_lines("u=1", "i") == parse("u=1, i"));
    CHECK(by_lines("u=1, i", "u=2") == parse("u=1, i, u=2"));
    CHECK(by_lines("i", "i=?0") == parse("i, i=?0"));
    // ... but not when a later line's member is ignored: in the joined value
    // it still replaces the earlier one (RFC 8941 §4.2.2), and is then
    // ignored (RFC 9218 §4), so the base's value comes back.
    CHECK(parse("u=1, u=9") == Priority{});
    CHECK(by_lines("u=1", "u=9") == Priority{1, false});
    // Lines that are invalid alone can form a valid value when joined.
    CHECK(invalid("a=\"x"));
    CHECK(invalid("y\""));
    CHECK(sets_nothing("a=\"x, y\""));
}

TEST_CASE("priority field: parameters of members") {
    // RFC 8941 §4.2.3.2; RFC 9218 gives them no meaning, the member counts.
    CHECK(parse("u=1;a=2, i;x") == Priority{1, true});
    CHECK(parse("u=1; a=2") == Priority{1, false});  // SP after ";"
    CHECK(parse("u=1;   a") == Priority{1, false});
    CHECK(parse("i=?0;a") == Priority{3, false});
    CHECK(parse("u=1;u=5") == Priority{1, false});  // a parameter is not a member
    CHECK(parse("i;u=5", base_b) == Priority{1, true});
    CHECK(parse("i;i=?0") == Priority{3, true});
    CHECK(parse("u=1;a;a;a=?0") == Priority{1, false});
    CHECK(parse("u=1;a=2;b=?1;c;d=\"x;y\";e=:AA==:;f=*tok;g=1.5;h=-7;*") == Priority{1, false});
    CHECK(sets_nothing("a;b=1;c, d=2;e"));
    CHECK(invalid("u=1 ;a"));
    CHECK(invalid("u=1;\ta"));
    CHECK(invalid("u=1;A"));
    CHECK(invalid("u=1;"));
    CHECK(invalid("u=1; "));
    CHECK(invalid("u=1;a="));
    CHECK(invalid("u=1;a= 1"));
    CHECK(invalid("u=1;a =1"));
    CHECK(invalid("u=1;a=(1)"));  // a parameter's value is a bare item
    CHECK(invalid("u=1;a=b=c"));
    CHECK(invalid("i;"));
    CHECK(invalid("u=1;;a"));
    CHECK(invalid("u=1;1"));
}

TEST_CASE("priority field: inner lists") {
    // RFC 8941 §4.2.1.2.
    CHECK(parse("u=(1 2), i") == Priority{3, true});
    CHECK(sets_nothing("u=()"));
    CHECK(sets_nothing("u=( 1  2 )"));
    CHECK(sets_nothing("u=(1 2);a=1;b"));
    CHECK(sets_nothing("u=(1;a 2;b=?0 \"x\" tok :AA==: ?1 1.5);c"));
    CHECK(sets_nothing("a=(), b=(x)"));
    CHECK(parse("a=(1 2), u=1") == Priority{1, false});
    CHECK(invalid("u=(1,2)"));
    CHECK(invalid("u=(1\t2)"));  // SP only inside
    CHECK(invalid("u=(\t1)"));
    CHECK(invalid("u=((1))"));  // inner lists do not nest
    CHECK(invalid("u=(1 (2))"));
    CHECK(invalid("u=(1"));
    CHECK(invalid("u=(1 "));
    CHECK(invalid("u=("));
    CHECK(invalid("u=(1 2)(3)"));
    CHECK(invalid("u=(1 2) ;a"));
    CHECK(invalid("u=(1)2"));
    CHECK(invalid("u=(1 2;)"));
    CHECK(sets_nothing("u=(1 2; a)"));  // SP after ";" is allowed
    CHECK(invalid("u=)"));
    CHECK(invalid("(1)"));  // a list is not a Dictionary
    CHECK(invalid("u=(1)=2"));
}

TEST_CASE("priority field: strings") {
    // RFC 8941 §4.2.5: printable ASCII, only \" and \\ escaped.
    CHECK(sets_nothing("u=\"1\""));
    CHECK(sets_nothing("u=\"\""));
    CHECK(sets_nothing("a=\"hello world\""));
    CHECK(sets_nothing("a=\"a\\\"b\""));  // a\"b
    CHECK(sets_nothing("a=\"a\\\\b\""));  // a\\b
    CHECK(sets_nothing("a=\"\\\\\""));    // "\\"
    CHECK(sets_nothing("a=\" !#~[]{}';=,()\""));
    CHECK(parse("a=\"x, u=1\", i") == Priority{3, true});  // a comma inside a String
    CHECK(invalid("a=\"a\\nb\""));                         // \n is no escape
    CHECK(invalid("a=\"a\\'b\""));
    CHECK(invalid("a=\"abc"));
    CHECK(invalid("a=\""));
    CHECK(invalid("a=\"\\"));
    CHECK(invalid("a=\"\\\""));  // the escaped DQUOTE does not close it
    CHECK(invalid("a=\"a\tb\""));
    CHECK(invalid("a=\"a\x7f\""));
    CHECK(invalid("a=\"a\x1f\""));
    CHECK(invalid("a=\"\xc3\xa9\""));  // non-ASCII
    CHECK(invalid("a=\"a\"b"));
    CHECK(invalid("a=\"a\"\"b\""));
    CHECK(invalid("a=\"a\0b\""s));
}

TEST_CASE("priority field: tokens") {
    // RFC 8941 §4.2.6: ( ALPHA / "*" ) *( tchar / ":" / "/" ).
    CHECK(sets_nothing("u=a"));
    CHECK(sets_nothing("u=A"));
    CHECK(sets_nothing("u=*"));
    CHECK(sets_nothing("u=*a:b/c"));
    CHECK(sets_nothing("u=abc!#$%&'*+-.^_`|~:/XYZ09"));
    CHECK(sets_nothing("u=text/html;q=1"));
    CHECK(invalid("u=a@"));
    CHECK(invalid("u=a\"b\""));
    CHECK(invalid("u=a(b)"));
    CHECK(invalid("u=_a"));
    CHECK(invalid("u=!"));
    CHECK(invalid("u=a b"));
}

TEST_CASE("priority field: byte sequences") {
    // RFC 8941 §4.2.7.
    CHECK(sets_nothing("u=:aGVsbG8=:"));
    CHECK(sets_nothing("u=::"));
    CHECK(sets_nothing("u=:/+Ah:"));
    CHECK(sets_nothing("u=:AA==:"));
    CHECK(sets_nothing("u=:AAA=:"));
    CHECK(sets_nothing("u=:AAAA:"));
    CHECK(sets_nothing("u=:aGVsbG8:"));  // missing padding: SHOULD NOT fail
    CHECK(sets_nothing("u=:iZ==:"));     // non-zero pad bits: SHOULD NOT fail
    CHECK(parse("u=:aGVsbG8=:, i") == Priority{3, true});
    CHECK(invalid("u=:aGVsbG8="));  // no closing ":"
    CHECK(invalid("u=:"));
    CHECK(invalid("u=:aGVs bG8=:"));
    CHECK(invalid("u=:=aGVsbG8=:"));  // padding first
    CHECK(invalid("u=:a=GVsbG8=:"));  // padding in the middle
    CHECK(invalid("u=:aGVsbG8=!:"));
    CHECK(invalid("u=:aGVsbG!8=:"));
    CHECK(invalid("u=:_-Ah:"));  // base64url
    CHECK(invalid("u=:a:"));     // one character: no octet
    CHECK(invalid("u=:aGVsb:"));
    CHECK(invalid("u=:aGVsbG8==:"));  // more padding than the quantum needs
    CHECK(invalid("u=:AAAA=:"));
    CHECK(invalid("u=:=:"));
    CHECK(invalid("u=:AA=:"));
    CHECK(invalid("u=:aGVsbG8=:x"));
}

TEST_CASE("priority field: bytes that never appear in a Dictionary") {
    CHECK(invalid("u=1\0"s));
    CHECK(invalid("u=1\0, i"s));
    CHECK(invalid("\0"s));
    CHECK(invalid("u=1\x80"));
    CHECK(invalid("u=1\xff"));
    CHECK(invalid("u=@1"));      // RFC 9651 Dates are not RFC 8941
    CHECK(invalid("u=%\"a\""));  // nor Display Strings
    CHECK(invalid("u=1, i)"));
}

TEST_CASE("priority field: format_priority() parses back to its input") {
    for (unsigned u = 0; u <= max_urgency; ++u) {
        for (const bool incremental : {false, true}) {
            const Priority p{static_cast<std::uint8_t>(u), incremental};
            const PriorityText text = format_priority(p);
            CAPTURE(text.view());
            CHECK(parse(text.view()) == p);
            CHECK(parse(text.view(), base_b).has_value());
        }
    }
    CHECK(format_priority(Priority{}).view() == "");
    CHECK(format_priority(Priority{5, true}).view() == "u=5, i");
    CHECK(format_priority(Priority{3, true}).view() == "i");
    CHECK(format_priority(Priority{0, false}).view() == "u=0");
    CHECK(format_priority(Priority{200, false}).view() == "u=7");
}

namespace {

// Builds random valid Dictionaries (RFC 8941 §3.2, serialized with every
// freedom §4.2 allows on input: SP and HTAB around commas, SP inside inner
// lists and after ";", leading and trailing SP, a repeated key) and the
// Priority they must give.
class DictionaryMaker {
public:
    explicit DictionaryMaker(std::uint32_t seed) : rng_(seed) {}

    std::string value;
    std::optional<int> urgency;       // the last `u` when it counts
    std::optional<bool> incremental;  // the last `i` when it counts

    void make() {
        value.assign(pick(3), ' ');
        urgency.reset();
        incremental.reset();
        const int members = pick(6);
        for (int m = 0; m < members; ++m) {
            if (m) {
                ows();
                value += ',';
                ows();
            }
            member();
        }
        if (members) ows();
        value.append(pick(2), ' ');
    }

private:
    std::mt19937 rng_;

    int pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }
    void ows() {
        for (int n = pick(3); n > 0; --n) value += pick(2) ? ' ' : '\t';
    }

    void key() {
        static constexpr std::string_view first = "abcxyz*";
        static constexpr std::string_view rest = "abiuz09_-.*";
        value += first[static_cast<std::size_t>(pick(static_cast<int>(first.size())))];
        for (int n = pick(3); n > 0; --n) value += rest[static_cast<std::size_t>(pick(static_cast<int>(rest.size())))];
    }

    void member() {
        const int which = pick(3);  // 0: u, 1: i, 2: another key
        if (which == 0) {
            value += 'u';
        } else if (which == 1) {
            value += 'i';
        } else {
            key();
        }
        std::optional<int> as_urgency;
        std::optional<bool> as_incremental;
        if (pick(4) == 0) {
            as_incremental = true;  // no "=": Boolean true
            parameters();
        } else {
            value += '=';
            if (pick(6) == 0) {
                inner_list();
            } else {
                bare_item(as_urgency, as_incremental);
                parameters();
            }
        }
        if (which == 0) urgency = as_urgency;
        if (which == 1) incremental = as_incremental;
    }

    void inner_list() {
        value += '(';
        value.append(pick(2), ' ');
        const int items = pick(4);
        for (int n = 0; n < items; ++n) {
            if (n) value.append(1 + pick(2), ' ');
            std::optional<int> u;
            std::optional<bool> i;
            bare_item(u, i);
            parameters();
        }
        value.append(pick(2), ' ');
        value += ')';
        parameters();
    }

    void parameters() {
        for (int n = pick(4) == 0 ? 1 + pick(3) : 0; n > 0; --n) {
            value += ';';
            value.append(pick(2), ' ');
            if (pick(3) == 0) {
                value += pick(2) ? 'u' : 'i';
            } else {
                key();
            }
            if (pick(2)) {
                value += '=';
                std::optional<int> u;
                std::optional<bool> i;
                bare_item(u, i);
            }
        }
    }

    // Appends a bare item; sets `u` when it is an Integer 0..7 and `i` when
    // it is a Boolean.
    void bare_item(std::optional<int>& u, std::optional<bool>& i) {
        switch (pick(9)) {
            case 0: {  // a small Integer, maybe out of range or "-0"
                const int n = pick(12) - 2;
                if (n == -2) {
                    value += "-0";
                    u = 0;
                } else {
                    value += std::to_string(n);
                    if (n >= 0 && n <= 7) u = n;
                }
                break;
            }
            case 1: {  // an Integer with leading zeros, up to 15 digits
                const int n = pick(8);
                const int zeros = pick(15);
                value.append(static_cast<std::size_t>(zeros), '0');
                value += std::to_string(n);
                u = n;
                break;
            }
            case 2: {  // a large Integer
                const bool negative = pick(2);
                if (negative) value += '-';
                value += '1';
                value.append(static_cast<std::size_t>(1 + pick(14)), '9');  // 19, 199, ... (15 digits at most)
                break;
            }
            case 3:  // a Decimal
                value += pick(2) ? "-" : "";
                value += std::to_string(pick(8));
                value += '.';
                value += std::to_string(pick(1000)).substr(0, 1 + static_cast<std::size_t>(pick(3)));
                break;
            case 4:
                value += pick(2) ? "?1" : "?0";
                i = value.back() == '1';
                break;
            case 5: {
                static constexpr std::string_view strings[] = {"\"\"", "\"1\"", "\"a b\"", "\"\\\"\"", "\"\\\\,;\""};
                value += strings[static_cast<std::size_t>(pick(5))];
                break;
            }
            case 6: {
                static constexpr std::string_view tokens[] = {"a", "*", "Text/html", "u", "i", "x:y/z!#"};
                value += tokens[static_cast<std::size_t>(pick(6))];
                break;
            }
            case 7: {
                static constexpr std::string_view bytes[] = {"::", ":AA==:", ":AAA=:", ":AAAA:", ":aGVsbG8:", ":/+Ah:"};
                value += bytes[static_cast<std::size_t>(pick(6))];
                break;
            }
            default:
                value += std::to_string(pick(8));
                u = value.back() - '0';
                break;
        }
    }
};

}  // namespace

TEST_CASE("priority field: random valid Dictionaries give the expected parameters") {
    DictionaryMaker maker(20261207);
    int with_urgency = 0, with_incremental = 0;
    for (int n = 0; n < 50000; ++n) {
        maker.make();
        CAPTURE(maker.value);
        for (const Priority base : {base_a, base_b}) {
            Priority expected = base;
            if (maker.urgency) expected.urgency = static_cast<std::uint8_t>(*maker.urgency);
            if (maker.incremental) expected.incremental = *maker.incremental;
            const auto got = parse(maker.value, base);
            REQUIRE(got == expected);
        }
        with_urgency += maker.urgency.has_value();
        with_incremental += maker.incremental.has_value();
    }
    // The generator reaches both parameters often.
    CHECK(with_urgency > 5000);
    CHECK(with_incremental > 5000);
}

TEST_CASE("priority field: random bytes never upset the parser") {
    static constexpr std::string_view alphabet = "u=0123456789i?,; ()\"\\:*abcXYZ.-_\t";
    std::mt19937 rng(9218);
    int valid = 0;
    std::string v;
    for (int n = 0; n < 200000; ++n) {
        v.clear();
        for (std::size_t size = rng() % 24; size > 0; --size) v += alphabet[rng() % alphabet.size()];
        CAPTURE(v);
        const auto a = parse(v, base_a);
        const auto b = parse(v, base_b);
        // Deterministic, and valid or not whatever the base.
        REQUIRE(parse(v, base_a) == a);
        REQUIRE(a.has_value() == b.has_value());
        // Leading and trailing SP change nothing (RFC 8941 §4.2).
        REQUIRE(parse(" " + v + "  ", base_a) == a);
        if (!a) continue;
        ++valid;
        REQUIRE(a->urgency <= max_urgency);
        REQUIRE(b->urgency <= max_urgency);
        // A parameter is either set by the value (the same from both bases)
        // or left as each base had it.
        CHECK((a->urgency == b->urgency || (a->urgency == base_a.urgency && b->urgency == base_b.urgency)));
        CHECK((a->incremental == b->incremental ||
               (a->incremental == base_a.incremental && b->incremental == base_b.incremental)));
    }
    CHECK(valid > 1000);  // enough valid values to mean something
}
