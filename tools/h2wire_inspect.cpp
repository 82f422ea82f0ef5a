// h2wire-inspect: prints the frames of one direction of an HTTP/2 connection.
//
//     h2wire-inspect [--json] [--max-frame-size=N] [--header-table-size=N] [FILE]
//
// Reads FILE (or standard input when FILE is absent or "-"), skips the client
// connection preface if the bytes start with it (RFC 9113 §3.4), and prints
// one line per frame: offset, type, stream, length, flags by name and the
// frame's key fields. Header blocks (HEADERS or PUSH_PROMISE plus
// CONTINUATION) are decoded with HPACK, the dynamic table kept from block to
// block; the fields are printed with the frame that ends the block. --json
// prints one JSON object per frame instead, fields as [[name, value], ...].
//
// The first protocol error (frame or HPACK) is reported with its byte offset
// and the tool exits with status 1 (a stream error is printed and reading
// goes on, but the exit status is still 1). Bad usage exits with 2.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "h2wire/frame.hpp"
#include "h2wire/hpack.hpp"
#include "h2wire/version.hpp"
#include "support/json.hpp"

namespace {

using namespace h2wire;
using Fields = std::vector<std::pair<std::string, std::string>>;

struct Options {
    bool json = false;
    std::uint32_t max_frame_size = frame::default_max_frame_size;
    std::uint32_t header_table_size = 4096;
    std::string file;
};

// One printed record: a frame, the preface or an error. Keys keep their
// order; values are already JSON-encoded.
class Record {
public:
    Record& add(std::string_view key, std::string json_value, std::string text) {
        items_.push_back({std::string(key), std::move(json_value), std::move(text)});
        return *this;
    }
    Record& num(std::string_view key, std::uint64_t v) { return add(key, std::to_string(v), std::to_string(v)); }
    Record& str(std::string_view key, std::string_view v) { return add(key, json::quote(v), json::quote(v)); }
    Record& word(std::string_view key, std::string_view v) { return add(key, json::quote(v), std::string(v)); }

    Fields headers;
    bool has_headers = false;

    void print(bool as_json, std::ostream& out) const {
        if (as_json) {
            out << '{';
            for (std::size_t i = 0; i < items_.size(); ++i)
                out << (i ? "," : "") << json::quote(items_[i].key) << ':' << items_[i].json;
            if (has_headers) {
                out << ",\"headers\":[";
                for (std::size_t i = 0; i < headers.size(); ++i)
                    out << (i ? "," : "") << '[' << json::quote(headers[i].first) << ','
                        << json::quote(headers[i].second) << ']';
                out << ']';
            }
            out << "}\n";
            return;
        }
        // Text: "offset TYPE key=value ...", then the decoded fields indented.
        for (std::size_t i = 0; i < items_.size(); ++i) {
            const Item& it = items_[i];
            if (i == 0) {
                char buf[16];
                std::snprintf(buf, sizeof buf, "%-8s", it.text.c_str());
                out << buf;
            } else if (i == 1) {
                out << it.text;
            } else {
                out << ' ' << it.key << '=' << it.text;
            }
        }
        out << '\n';
        for (const auto& [name, value] : headers) out << "    " << name << ": " << value << '\n';
    }

private:
    struct Item {
        std::string key, json, text;
    };
    std::vector<Item> items_;
};

// Appends `item` to a list in `s`, after `sep` unless `s` is still `empty_as`.
// (Plain appends: GCC 12 warns falsely on "literal" + std::string at -O3.)
void join(std::string& s, std::size_t empty_as, char sep, std::string_view item) {
    if (s.size() > empty_as) s += sep;
    s += item;
}

std::string hex(std::span<const std::uint8_t> b) {
    return json::to_hex(b.data(), b.size());
}
std::string text_of(std::span<const std::uint8_t> b) {
    return {b.begin(), b.end()};
}

class Inspector {
public:
    explicit Inspector(const Options& o)
        : opts_(o), decoder_(hpack::DecoderLimits{o.header_table_size, 1u << 20, 1u << 20}) {}

    // Returns the exit status.
    int run(std::span<const std::uint8_t> input) {
        std::size_t pos = 0;
        frame::ReaderOptions ro;
        ro.max_frame_size = opts_.max_frame_size;
        const std::string_view preface = frame::client_preface;
        if (input.size() >= preface.size() && std::memcmp(input.data(), preface.data(), preface.size()) == 0) {
            // RFC 9113 §3.4: a client's bytes start with the preface.
            Record r;
            r.num("offset", 0).word("type", "PREFACE").num("length", preface.size());
            emit(r);
            pos = preface.size();
            ro.peer = frame::PeerRole::client;
        }
        frame::Reader reader(ro);
        std::size_t frame_start = pos;
        std::size_t block_start = pos;  // the HEADERS or PUSH_PROMISE of the open block
        std::uint64_t data_bytes = 0;
        while (true) {
            if (reader.at_frame_boundary()) frame_start = pos;
            const frame::ReadResult r = reader.read(input.subspan(pos));
            pos += r.consumed;
            switch (r.status) {
                case frame::ReadStatus::need_input:
                    if (!reader.at_frame_boundary())
                        return fail(frame_start, "truncated frame: the input ends inside a frame");
                    if (reader.in_header_block())
                        return fail(block_start, "truncated header block: the input ends before END_HEADERS");
                    return status_;
                case frame::ReadStatus::data:
                    if (r.data.first) data_bytes = 0;
                    data_bytes += r.data.data.size();
                    if (r.data.last) emit(describe_data(frame_start, r.header, data_bytes, r.data));
                    break;
                case frame::ReadStatus::frame: {
                    if (r.header.type == frame::Type::headers || r.header.type == frame::Type::push_promise)
                        block_start = frame_start;
                    Record rec = describe(frame_start, r.header, r.frame);
                    if (const int st = decode_block(r.frame, rec); st) {
                        emit(rec);
                        return fail(frame_start, hpack_error_);
                    }
                    emit(rec);
                    break;
                }
                case frame::ReadStatus::stream_error: {
                    Record rec;
                    rec.num("offset", frame_start)
                        .word("type", "ERROR")
                        .word("error", to_string(r.stream_error.code))
                        .word("scope", "stream")
                        .num("stream", r.stream_error.stream_id)
                        .str("reason", r.stream_error.reason);
                    emit(rec);
                    std::cerr << "h2wire-inspect: stream error at offset " << frame_start << ": "
                              << to_string(r.stream_error.code) << " (" << r.stream_error.reason << ")\n";
                    status_ = 1;
                    break;
                }
                case frame::ReadStatus::connection_error: {
                    Record rec;
                    rec.num("offset", frame_start)
                        .word("type", "ERROR")
                        .word("error", to_string(r.connection_error.code))
                        .word("scope", "connection")
                        .num("stream", r.connection_error.stream_id)
                        .str("reason", r.connection_error.reason);
                    emit(rec);
                    std::cerr << "h2wire-inspect: error at offset " << frame_start << ": "
                              << to_string(r.connection_error.code) << " (" << r.connection_error.reason << ")\n";
                    return 1;
                }
            }
        }
    }

private:
    void emit(const Record& r) { r.print(opts_.json, std::cout); }

    int fail(std::size_t offset, std::string_view why) {
        Record rec;
        rec.num("offset", offset).word("type", "ERROR").word("error", "INVALID").str("reason", why);
        emit(rec);
        std::cerr << "h2wire-inspect: error at offset " << offset << ": " << why << '\n';
        return 1;
    }

    static Record head(std::size_t offset, const frame::FrameHeader& h) {
        Record r;
        char names[64];
        const std::string_view fl = frame::flag_names(h.type, h.flags, names);
        std::string flags_json = "[";
        for (std::size_t i = 0; i < fl.size();) {
            const std::size_t bar = std::min(fl.find('|', i), fl.size());
            join(flags_json, 1, ',', json::quote(fl.substr(i, bar - i)));
            i = bar + 1;
        }
        flags_json += "]";
        std::string type(to_string(h.type));
        if (!frame::is_known(h.type)) {
            char t[16];
            std::snprintf(t, sizeof t, "UNKNOWN(0x%02x)", static_cast<unsigned>(h.type));
            type = t;
        }
        r.num("offset", offset).word("type", type).num("stream", h.stream_id).num("length", h.length);
        r.add("flags", flags_json, fl.empty() ? "-" : std::string(fl));
        if (h.reserved) r.num("reserved", 1);
        return r;
    }

    static void padding(Record& r, const std::optional<frame::Padding>& p) {
        if (p) r.num("padding", p->length);
    }

    static Record describe_data(std::size_t offset, const frame::FrameHeader& h, std::uint64_t n,
                                const frame::DataChunk& d) {
        Record r = head(offset, h);
        r.num("data", n);
        if (d.pad_length) r.num("padding", *d.pad_length);
        return r;
    }

    static Record describe(std::size_t offset, const frame::FrameHeader& h, const frame::Frame& f) {
        Record r = head(offset, h);
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, frame::Headers>) {
                    r.num("fragment", x.fragment.size());
                    padding(r, x.padding);
                    if (x.priority) {
                        r.num("dependency", x.priority->dependency)
                            .num("exclusive", x.priority->exclusive)
                            .num("weight", x.priority->weight + 1u);
                    }
                } else if constexpr (std::is_same_v<T, frame::Priority>) {
                    r.num("dependency", x.fields.dependency)
                        .num("exclusive", x.fields.exclusive)
                        .num("weight", x.fields.weight + 1u);
                } else if constexpr (std::is_same_v<T, frame::RstStream>) {
                    r.word("error_code", to_string(x.error_code))
                        .num("error_value", static_cast<std::uint32_t>(x.error_code));
                } else if constexpr (std::is_same_v<T, frame::Settings>) {
                    std::string js = "[", tx;
                    for (const Setting s : x.entries) {
                        const std::string name = is_known_setting(s.id)
                                                     ? std::string(to_string(s.id))
                                                     : "0x" + std::to_string(static_cast<unsigned>(s.id));
                        join(js, 1, ',', "[");
                        js += json::quote(name);
                        js += ',';
                        js += std::to_string(s.value);
                        js += ']';
                        join(tx, 0, ',', name);
                        tx += ':';
                        tx += std::to_string(s.value);
                    }
                    r.add("settings", js + "]", tx.empty() ? "-" : tx);
                } else if constexpr (std::is_same_v<T, frame::PushPromise>) {
                    r.num("promised_stream", x.promised_stream_id).num("fragment", x.fragment.size());
                    padding(r, x.padding);
                } else if constexpr (std::is_same_v<T, frame::Ping>) {
                    r.word("opaque_data", hex(x.opaque_data));
                } else if constexpr (std::is_same_v<T, frame::Goaway>) {
                    r.num("last_stream", x.last_stream_id)
                        .word("error_code", to_string(x.error_code))
                        .num("error_value", static_cast<std::uint32_t>(x.error_code))
                        .str("debug_data", text_of(x.debug_data));
                } else if constexpr (std::is_same_v<T, frame::WindowUpdate>) {
                    r.num("increment", x.increment);
                } else if constexpr (std::is_same_v<T, frame::Continuation>) {
                    r.num("fragment", x.fragment.size());
                } else if constexpr (std::is_same_v<T, frame::Altsvc>) {
                    r.str("origin", x.origin).str("value", x.field_value);
                } else if constexpr (std::is_same_v<T, frame::Origin>) {
                    std::string js = "[", tx;
                    for (const std::string_view o : x.origins) {
                        join(js, 1, ',', json::quote(o));
                        join(tx, 0, ',', json::quote(o));
                    }
                    r.add("origins", js + "]", tx.empty() ? "-" : tx);
                } else if constexpr (std::is_same_v<T, frame::PriorityUpdate>) {
                    r.num("prioritized_stream", x.prioritized_stream_id).str("value", x.field_value);
                } else if constexpr (std::is_same_v<T, frame::Unknown>) {
                    r.word("payload", hex(x.payload));
                } else if constexpr (std::is_same_v<T, frame::Ignored>) {
                    r.str("ignored", x.reason);
                }
            },
            f);
        return r;
    }

    static bool is_known_setting(SettingId id) { return to_string(id) != "UNKNOWN"; }

    // Feeds a field block fragment to HPACK; on the block's last fragment the
    // fields go on `rec`. Returns non-zero on a fatal HPACK error
    // (COMPRESSION_ERROR, RFC 9113 §4.3).
    int decode_block(const frame::Frame& f, Record& rec) {
        frame::Bytes fragment;
        bool end = false;
        if (const auto* h = std::get_if<frame::Headers>(&f)) {
            fragment = h->fragment;
            end = h->end_headers;
        } else if (const auto* p = std::get_if<frame::PushPromise>(&f)) {
            fragment = p->fragment;
            end = p->end_headers;
        } else if (const auto* c = std::get_if<frame::Continuation>(&f)) {
            fragment = c->fragment;
            end = c->end_headers;
        } else {
            return 0;
        }
        const hpack::Error e = decoder_.decode(fragment, end, [&](const Field& field) {
            fields_.emplace_back(std::string(field.name), std::string(field.value));
        });
        if (hpack::is_fatal(e)) {
            hpack_error_ = "COMPRESSION_ERROR: HPACK: " + std::string(hpack::to_string(e));
            return 1;
        }
        if (end) {
            rec.headers = std::move(fields_);
            rec.has_headers = true;
            fields_.clear();
            if (e == hpack::Error::header_list_too_large) rec.word("note", "header_list_too_large");
        }
        return 0;
    }

    Options opts_;
    hpack::Decoder decoder_;
    Fields fields_;  // fields of the block in progress
    std::string hpack_error_;
    int status_ = 0;
};

constexpr std::string_view usage_text =
    "usage: h2wire-inspect [--json] [--max-frame-size=N] [--header-table-size=N] [FILE]\n"
    "       h2wire-inspect --help | --version\n"
    "\n"
    "Prints the HTTP/2 frames of one direction of a connection, read from FILE\n"
    "or standard input (FILE absent or \"-\"). A leading client connection\n"
    "preface is skipped. One line per frame: offset, type, stream, length, flags\n"
    "and the frame's fields; header blocks are HPACK-decoded with the dynamic\n"
    "table kept from block to block.\n"
    "\n"
    "  --json                   one JSON object per frame instead of text\n"
    "  --max-frame-size=N       the SETTINGS_MAX_FRAME_SIZE frames are checked\n"
    "                           against (16384..16777215, default 16384)\n"
    "  --header-table-size=N    the decoder's SETTINGS_HEADER_TABLE_SIZE\n"
    "                           (default 4096)\n"
    "\n"
    "Exit status: 0 when every frame is valid, 1 after a protocol error (reported\n"
    "with its byte offset), 2 for bad usage.\n";

int usage(const char* why) {
    std::cerr << "h2wire-inspect: " << why << '\n' << usage_text;
    return 2;
}

bool parse_number(std::string_view s, std::uint32_t& out) {
    if (s.empty() || s.size() > 10) return false;
    std::uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (v > 0xffffffffu) return false;
    out = static_cast<std::uint32_t>(v);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    bool have_file = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--json") {
            o.json = true;
        } else if (a == "-h" || a == "--help") {
            std::cout << usage_text;
            return 0;
        } else if (a == "--version") {
            std::cout << "h2wire-inspect " << h2wire::version() << '\n';
            return 0;
        } else if (a.rfind("--max-frame-size=", 0) == 0) {
            if (!parse_number(a.substr(17), o.max_frame_size) || o.max_frame_size < min_max_frame_size ||
                o.max_frame_size > max_max_frame_size)
                return usage("--max-frame-size wants 16384..16777215");
        } else if (a.rfind("--header-table-size=", 0) == 0) {
            if (!parse_number(a.substr(20), o.header_table_size)) return usage("--header-table-size wants a number");
        } else if (a.size() > 1 && a[0] == '-') {
            return usage("unknown option");
        } else if (!have_file) {
            o.file = a;
            have_file = true;
        } else {
            return usage("more than one file");
        }
    }

    std::vector<std::uint8_t> input;
    if (!have_file || o.file == "-") {
        std::ios::sync_with_stdio(false);
        input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        std::ifstream in(o.file, std::ios::binary);
        if (!in) {
            std::cerr << "h2wire-inspect: cannot open " << o.file << '\n';
            return 2;
        }
        input.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    Inspector inspector(o);
    const int status = inspector.run(input);
    std::cout.flush();
    return status;
}
