// h2wire-hpack: decodes or encodes one hpack-test-case story (JSON on stdin,
// JSON on stdout), like nghttp2's inflatehd and deflatehd.
//
//   h2wire-hpack decode                  fills `headers` from each case's `wire`
//   h2wire-hpack encode [--table-size N] fills `wire` and `header_table_size`
//
// A story is a run of header blocks sharing one compression context; see
// ../shared/testdata/hpack-test-case/README.md for the format.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "h2wire/hpack.hpp"
#include "h2wire/version.hpp"
#include "support/json.hpp"

namespace {

namespace json = h2wire::json;
namespace hpack = h2wire::hpack;

constexpr std::string_view usage_text =
    "usage: h2wire-hpack decode\n"
    "       h2wire-hpack encode [--table-size N]\n"
    "       h2wire-hpack --help | --version\n"
    "\n"
    "Reads one hpack-test-case story (JSON) on stdin and writes it on stdout.\n"
    "\n"
    "decode   decodes each case's `wire` (hex) with one decoder for the whole\n"
    "         story and writes the story with `headers` filled in. A case's\n"
    "         `header_table_size`, when present and not null, becomes the\n"
    "         decoder's SETTINGS_HEADER_TABLE_SIZE from that case on.\n"
    "encode   encodes each case's `headers` with one encoder for the whole\n"
    "         story and writes the story with `seqno`, `wire` (lower-case hex)\n"
    "         and `header_table_size` filled in.\n"
    "         --table-size N  the decoder's SETTINGS_HEADER_TABLE_SIZE and the\n"
    "                         encoder's own cap (default 4096)\n"
    "\n"
    "Malformed JSON, bad hex or an HPACK error: one message on stderr naming the\n"
    "case's seqno, and exit status 1. Usage errors exit with status 2.\n";

// The failure of one story: the message already names the case.
struct Failure {
    std::string message;
};

// ---------------------------------------------------------------------------
// JSON output. The vectors are written with two-space indentation and one-key
// objects for headers; we write the same shape.

void write_number(std::string& out, double d) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    out.append(buf, r.ptr);
}

void write_value(std::string& out, const json::Value& v, int indent);

void newline(std::string& out, int indent) {
    out += '\n';
    out.append(static_cast<std::size_t>(indent) * 2, ' ');
}

void write_value(std::string& out, const json::Value& v, int indent) {
    if (v.is_null()) {
        out += "null";
    } else if (v.kind == json::Value::Kind::boolean) {
        out += v.boolean() ? "true" : "false";
    } else if (v.is_number()) {
        write_number(out, v.num());
    } else if (v.is_string()) {
        out += json::quote(v.str());
    } else if (v.is_array()) {
        if (v.arr().empty()) {
            out += "[]";
            return;
        }
        out += '[';
        bool first = true;
        for (const auto& e : v.arr()) {
            if (!first) out += ',';
            first = false;
            newline(out, indent + 1);
            write_value(out, e, indent + 1);
        }
        newline(out, indent);
        out += ']';
    } else {
        if (v.obj().empty()) {
            out += "{}";
            return;
        }
        out += '{';
        bool first = true;
        for (const auto& [k, e] : v.obj()) {
            if (!first) out += ',';
            first = false;
            newline(out, indent + 1);
            out += json::quote(k);
            out += ": ";
            write_value(out, e, indent + 1);
        }
        newline(out, indent);
        out += '}';
    }
}

// ---------------------------------------------------------------------------
// Reading a story.

// Sets `key` of object `o` to `v`, appending the member when it is missing.
void set_member(json::Object& o, std::string_view key, json::Value v) {
    for (auto& [k, e] : o)
        if (k == key) {
            e = std::move(v);
            return;
        }
    o.emplace_back(std::string(key), std::move(v));
}

// The case's seqno as written in the story, or its position when absent.
std::string seqno_of(const json::Value& c, std::size_t position) {
    const json::Value* s = c.find("seqno");
    if (s != nullptr && s->is_number()) {
        std::string out;
        write_number(out, s->num());
        return out;
    }
    return std::to_string(position) + " (position; the case has no seqno)";
}

[[noreturn]] void fail_case(const std::string& seqno, const std::string& what) {
    throw Failure{"case seqno " + seqno + ": " + what};
}

// A non-negative integer that fits in 32 bits, or nullopt.
std::optional<std::uint32_t> to_u32(double d) {
    if (!(d >= 0) || d > static_cast<double>(std::numeric_limits<std::uint32_t>::max()) || std::floor(d) != d)
        return std::nullopt;
    return static_cast<std::uint32_t>(d);
}

json::Value read_story(std::string_view text) {
    json::Value story;
    try {
        story = json::parse(text);
    } catch (const json::ParseError& e) {
        throw Failure{std::string("malformed JSON on stdin (before any case): ") + e.what()};
    }
    const json::Value* cases = story.find("cases");
    if (cases == nullptr || !cases->is_array()) throw Failure{"the story has no \"cases\" array (before any case)"};
    for (std::size_t i = 0; i < cases->arr().size(); ++i)
        if (!cases->arr()[i].is_object())
            throw Failure{"case at position " + std::to_string(i) + " is not a JSON object"};
    return story;
}

json::Array& cases_of(json::Value& story) {
    for (auto& [k, v] : story.obj())
        if (k == "cases") return v.a;
    throw Failure{"the story has no \"cases\" array"};  // read_story checked it
}

// ---------------------------------------------------------------------------
// decode

// Large enough for any vector; the tool is for inspection, not for defence.
constexpr hpack::DecoderLimits tool_limits{
    .max_table_size = 4096,
    .max_header_list_size = 1u << 28,
    .max_field_size = 1u << 28,
};

void decode_story(json::Value& story) {
    hpack::Decoder decoder(tool_limits);
    json::Array& cases = cases_of(story);
    std::vector<std::pair<std::string, std::string>> fields;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        json::Value& c = cases[i];
        const std::string seqno = seqno_of(c, i);

        if (const json::Value* t = c.find("header_table_size"); t != nullptr && !t->is_null()) {
            const std::optional<std::uint32_t> size = t->is_number() ? to_u32(t->num()) : std::nullopt;
            if (!size) fail_case(seqno, "header_table_size is not an integer in [0, 2^32)");
            decoder.set_max_table_size(*size);
        }

        const json::Value* wire = c.find("wire");
        if (wire == nullptr || !wire->is_string()) fail_case(seqno, "no \"wire\" string");
        const std::optional<std::vector<std::uint8_t>> block = json::from_hex(wire->str());
        if (!block) fail_case(seqno, "\"wire\" is not valid hex (odd length or a non-hex digit)");

        fields.clear();
        const hpack::Error err = decoder.decode_block(
            *block, [&](const h2wire::Field& f) { fields.emplace_back(std::string(f.name), std::string(f.value)); });
        if (err != hpack::Error::none)
            fail_case(seqno, "HPACK error: " + std::string(hpack::to_string(err)) + " (wire of " +
                                 std::to_string(block->size()) + " bytes)");

        json::Array headers;
        headers.reserve(fields.size());
        for (auto& [name, value] : fields) {
            json::Object one;
            one.emplace_back(std::move(name), json::Value{std::move(value)});
            headers.push_back(json::Value{std::move(one)});
        }
        set_member(c.obj(), "headers", json::Value{std::move(headers)});
    }
}

// ---------------------------------------------------------------------------
// encode

void encode_story(json::Value& story, std::uint32_t table_size) {
    hpack::Encoder encoder(hpack::EncoderOptions{.max_table_size = table_size});
    // The decoder's SETTINGS_HEADER_TABLE_SIZE is table_size from the first
    // block on, so the encoder announces any change from the initial 4096.
    if (table_size != 4096) encoder.set_peer_max_table_size(table_size);

    json::Array& cases = cases_of(story);
    std::vector<h2wire::Field> fields;
    std::vector<std::uint8_t> block;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        json::Value& c = cases[i];
        const std::string seqno = seqno_of(c, i);

        const json::Value* headers = c.find("headers");
        if (headers == nullptr || !headers->is_array()) fail_case(seqno, "no \"headers\" array");
        fields.clear();
        for (const json::Value& h : headers->arr()) {
            if (!h.is_object() || h.obj().size() != 1 || !h.obj()[0].second.is_string())
                fail_case(seqno, "each header must be a one-key object with a string value");
            fields.push_back(h2wire::Field{.name = h.obj()[0].first, .value = h.obj()[0].second.str()});
        }

        block.clear();
        encoder.encode(fields, block);

        // Rebuild the case as seqno, header_table_size, wire, then the rest.
        json::Object out;
        const json::Value* s = c.find("seqno");
        out.emplace_back("seqno", s != nullptr ? *s : json::Value{static_cast<double>(i)});
        out.emplace_back("header_table_size", json::Value{static_cast<double>(table_size)});
        out.emplace_back("wire", json::Value{json::to_hex(block.data(), block.size())});
        for (auto& [k, v] : c.obj())
            if (k != "seqno" && k != "header_table_size" && k != "wire") out.emplace_back(std::move(k), std::move(v));
        c = json::Value{std::move(out)};
    }
    if (story.find("description") == nullptr)
        set_member(story.obj(), "description",
                   json::Value{"Encoded by h2wire-hpack, header table size " + std::to_string(table_size)});
}

// ---------------------------------------------------------------------------

int usage_error(const std::string& what) {
    std::cerr << "h2wire-hpack: " << what << "\n" << usage_text;
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    for (const std::string_view a : args)
        if (a == "--help" || a == "-h") {
            std::cout << usage_text;
            return 0;
        } else if (a == "--version") {
            std::cout << "h2wire-hpack " << h2wire::version() << '\n';
            return 0;
        }
    if (args.empty()) return usage_error("missing command");

    const std::string_view command = args[0];
    std::uint32_t table_size = 4096;
    if (command == "encode") {
        for (std::size_t i = 1; i < args.size(); ++i) {
            std::string_view value;
            if (args[i] == "--table-size" && i + 1 < args.size()) {
                value = args[++i];
            } else if (args[i].starts_with("--table-size=")) {
                value = args[i].substr(13);
            } else {
                return usage_error("unknown argument '" + std::string(args[i]) + "'");
            }
            const auto r = std::from_chars(value.data(), value.data() + value.size(), table_size);
            if (r.ec != std::errc() || r.ptr != value.data() + value.size())
                return usage_error("--table-size needs an integer in [0, 2^32), not '" + std::string(value) + "'");
        }
    } else if (command == "decode") {
        if (args.size() > 1) return usage_error("decode takes no argument");
    } else {
        return usage_error("unknown command '" + std::string(command) + "'");
    }

    const std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad()) {
        std::cerr << "h2wire-hpack: cannot read stdin\n";
        return 1;
    }
    try {
        json::Value story = read_story(input);
        if (command == "decode")
            decode_story(story);
        else
            encode_story(story, table_size);
        std::string out;
        write_value(out, story, 0);
        out += '\n';
        std::fwrite(out.data(), 1, out.size(), stdout);
        if (std::fflush(stdout) != 0) {
            std::cerr << "h2wire-hpack: cannot write stdout\n";
            return 1;
        }
    } catch (const Failure& f) {
        std::cerr << "h2wire-hpack " << command << ": " << f.message << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "h2wire-hpack " << command << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
