// Shared helpers for the HPACK tests: owned header lists, a block feeder that
// splits a header block whole / byte by byte / at random points, hex helpers,
// an independent reference Huffman coder read from the RFC text, and a small
// inspector that splits an encoded block into its representations.
//
// Nothing here uses the library's own primitives, so the helpers can serve as
// an oracle for it.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "h2wire/hpack.hpp"
#include "support/json.hpp"

#ifndef H2WIRE_SHARED_DIR
#error "H2WIRE_SHARED_DIR must name the shared directory (set by test/meson.build)"
#endif

namespace h2wire::test {

using Bytes = std::vector<std::uint8_t>;

// ---------------------------------------------------------------------------
// Owned header fields

/// A decoded field copied out of the decoder's views.
struct Header {
    std::string name;
    std::string value;
    bool sensitive = false;

    bool operator==(const Header&) const = default;
};
using Headers = std::vector<Header>;

inline std::ostream& operator<<(std::ostream& os, const Header& h) {
    os << json::quote(h.name) << ": " << json::quote(h.value);
    if (h.sensitive) os << " (sensitive)";
    return os;
}

inline std::ostream& operator<<(std::ostream& os, const Headers& hs) {
    os << "[";
    for (std::size_t i = 0; i < hs.size(); ++i) os << (i ? ", " : "") << hs[i];
    return os << "]";
}

/// Views of `hs` as library fields (valid while `hs` lives unchanged).
inline std::vector<Field> to_fields(const Headers& hs) {
    std::vector<Field> out;
    out.reserve(hs.size());
    for (const Header& h : hs) out.push_back(Field{h.name, h.value, h.sensitive});
    return out;
}

/// The same list with every `sensitive` flag cleared (for comparing names and
/// values only).
inline Headers without_flags(Headers hs) {
    for (Header& h : hs) h.sensitive = false;
    return hs;
}

// ---------------------------------------------------------------------------
// Bytes and hex

/// Hex (spaces allowed, as in the RFC dumps) to bytes; throws when malformed.
inline Bytes hex(std::string_view text) {
    std::string compact;
    for (const char c : text)
        if (c != ' ' && c != '\n' && c != '|') compact += c;
    auto bytes = json::from_hex(compact);
    if (!bytes) throw std::invalid_argument("bad hex in test: " + std::string(text));
    return *bytes;
}

inline std::string to_hex(std::span<const std::uint8_t> b) {
    return json::to_hex(b.data(), b.size());
}

inline Bytes concat(std::initializer_list<std::span<const std::uint8_t>> parts) {
    Bytes out;
    for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

inline Bytes bytes_of(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

// ---------------------------------------------------------------------------
// Deterministic PRNG (splitmix64): the same sequence with every standard
// library, unlike std::uniform_int_distribution.

class Prng {
public:
    explicit Prng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    /// Uniform-enough value in [0, n); n > 0.
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    bool one_in(std::size_t n) { return below(n) == 0; }
    std::uint8_t byte() { return static_cast<std::uint8_t>(next() & 0xff); }

private:
    std::uint64_t state_;
};

// ---------------------------------------------------------------------------
// Feeding a block to the incremental decoder

enum class Split { whole, byte_by_byte, random };
inline constexpr Split kAllSplits[] = {Split::whole, Split::byte_by_byte, Split::random};

inline const char* to_string(Split s) {
    switch (s) {
        case Split::whole:
            return "whole";
        case Split::byte_by_byte:
            return "byte by byte";
        case Split::random:
            return "random splits";
    }
    return "?";
}
inline std::ostream& operator<<(std::ostream& os, Split s) {
    return os << to_string(s);
}

/// The fragments `block` is fed as. Random splits sometimes add empty
/// fragments (an empty CONTINUATION frame is legal), including an empty last
/// one that only carries end_of_block.
inline std::vector<std::span<const std::uint8_t>> split_block(std::span<const std::uint8_t> block, Split mode,
                                                              Prng& rng) {
    std::vector<std::span<const std::uint8_t>> out;
    switch (mode) {
        case Split::whole:
            out.push_back(block);
            break;
        case Split::byte_by_byte:
            for (std::size_t i = 0; i < block.size(); ++i) out.push_back(block.subspan(i, 1));
            if (out.empty()) out.push_back(block);
            break;
        case Split::random: {
            std::size_t pos = 0;
            while (pos < block.size()) {
                if (rng.one_in(8)) out.push_back(block.subspan(pos, 0));
                const std::size_t left = block.size() - pos;
                // Mostly short pieces, sometimes long ones, so that both the
                // "representation straddles fragments" and the "many
                // representations in one fragment" paths run.
                const std::size_t n = rng.one_in(4) ? 1 + rng.below(left) : 1 + rng.below(left < 7 ? left : 7);
                out.push_back(block.subspan(pos, n));
                pos += n;
            }
            if (out.empty() || rng.one_in(8)) out.push_back(block.subspan(block.size(), 0));
            break;
        }
    }
    return out;
}

/// What feeding one block produced.
struct DecodeResult {
    hpack::Error error = hpack::Error::none;
    Headers headers;
    /// header_list_too_large (or none) was not the only thing a non-final
    /// fragment may return: true when a call without end_of_block returned a
    /// non-fatal error (the API promises it only with end_of_block).
    bool nonfatal_error_before_end = false;
    /// in_block() was wrong between fragments or after the last one.
    bool in_block_wrong = false;

    bool operator==(const DecodeResult&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const DecodeResult& r) {
    os << "{error=" << hpack::to_string(r.error) << ", headers=" << r.headers;
    if (r.nonfatal_error_before_end) os << ", NONFATAL ERROR BEFORE END";
    if (r.in_block_wrong) os << ", IN_BLOCK WRONG";
    return os << "}";
}

/// Feeds blocks split one way; owns the PRNG so a run is reproducible.
class Feeder {
public:
    explicit Feeder(Split mode, std::uint64_t seed = 0x5eed) : mode_(mode), rng_(seed) {}

    DecodeResult decode(hpack::Decoder& d, std::span<const std::uint8_t> block) {
        DecodeResult r;
        const auto pieces = split_block(block, mode_, rng_);
        auto sink = [&](const Field& f) {
            r.headers.push_back(Header{std::string(f.name), std::string(f.value), f.sensitive});
        };
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            const bool last = i + 1 == pieces.size();
            const hpack::Error e = d.decode(pieces[i], last, sink);
            if (e != hpack::Error::none && r.error == hpack::Error::none) r.error = e;
            if (e != hpack::Error::none && !last && !hpack::is_fatal(e)) r.nonfatal_error_before_end = true;
            if (hpack::is_fatal(e)) break;
            if (d.in_block() != !last) r.in_block_wrong = true;
        }
        return r;
    }
    DecodeResult decode(hpack::Decoder& d, const Bytes& block) {
        return decode(d, std::span<const std::uint8_t>(block));
    }

    Split mode() const { return mode_; }

private:
    Split mode_;
    Prng rng_;
};

/// Decodes one whole block and copies the fields.
inline DecodeResult decode_whole(hpack::Decoder& d, std::span<const std::uint8_t> block) {
    return Feeder(Split::whole).decode(d, block);
}

// ---------------------------------------------------------------------------
// Encoding

inline Bytes encode(hpack::Encoder& e, const Headers& hs) {
    const std::vector<Field> fields = to_fields(hs);
    Bytes out;
    e.encode(std::span<const Field>(fields), out);
    return out;
}

// ---------------------------------------------------------------------------
// hpack-test-case JSON

inline std::string vectors_dir() {
    return std::string(H2WIRE_SHARED_DIR) + "/testdata/hpack-test-case";
}

/// The story files of one hpack-test-case folder (e.g. "raw-data"), sorted.
inline std::vector<std::filesystem::path> story_files(std::string_view folder) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(vectors_dir()) / folder))
        if (entry.path().extension() == ".json") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

/// `[{"name": "value"}, ...]` to a header list.
inline Headers headers_from_json(const json::Value& list) {
    Headers out;
    for (const json::Value& one : list.arr())
        for (const auto& [k, v] : one.obj()) out.push_back(Header{k, v.str(), false});
    return out;
}

// ---------------------------------------------------------------------------
// Reference Huffman code, read from Appendix B of the RFC text at run time so
// that it is independent of the library's generated table.

struct HuffmanCode {
    std::uint32_t code = 0;  // right-aligned
    int bits = 0;
};

namespace detail {
inline std::array<HuffmanCode, 257> load_rfc_huffman() {
    const std::string path = std::string(H2WIRE_SHARED_DIR) + "/specs/rfc7541-hpack.txt";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::array<HuffmanCode, 257> table{};
    std::array<bool, 257> seen{};
    std::string line;
    bool in_appendix = false;
    while (std::getline(in, line)) {
        if (line.rfind("Appendix B.", 0) == 0) in_appendix = true;
        if (line.rfind("Appendix C.", 0) == 0) break;
        if (!in_appendix) continue;
        // Lines look like:   'a' ( 97)  |00011                 3  [ 5]
        const auto bar = line.find(")  |");
        if (bar == std::string::npos) continue;
        const auto open = line.rfind('(', bar);
        if (open == std::string::npos) continue;
        const int sym = std::stoi(line.substr(open + 1, bar - open - 1));
        std::string bits;
        std::size_t i = bar + 4;
        for (; i < line.size() && (line[i] == '0' || line[i] == '1' || line[i] == '|'); ++i)
            if (line[i] != '|') bits += line[i];
        std::istringstream rest(line.substr(i));
        std::string hex_code, len_field;
        rest >> hex_code;
        std::getline(rest, len_field);
        const auto lb = len_field.find('[');
        const int len = std::stoi(len_field.substr(lb + 1));
        if (sym < 0 || sym > 256 || static_cast<int>(bits.size()) != len)
            throw std::runtime_error("bad Appendix B line: " + line);
        const auto code = static_cast<std::uint32_t>(std::stoul(bits, nullptr, 2));
        if (code != static_cast<std::uint32_t>(std::stoul(hex_code, nullptr, 16)))
            throw std::runtime_error("Appendix B bits and hex disagree: " + line);
        table[static_cast<std::size_t>(sym)] = HuffmanCode{code, len};
        seen[static_cast<std::size_t>(sym)] = true;
    }
    for (bool s : seen)
        if (!s) throw std::runtime_error("Appendix B: symbol missing");
    return table;
}
}  // namespace detail

/// The 257 codes of RFC 7541 Appendix B (index 256 = EOS).
inline const std::array<HuffmanCode, 257>& rfc_huffman() {
    static const std::array<HuffmanCode, 257> table = detail::load_rfc_huffman();
    return table;
}

namespace detail {
/// RFC 7541 Appendix A, read from the RFC text, independent of the library.
inline std::vector<Header> load_rfc_static_table() {
    const std::string path = std::string(H2WIRE_SHARED_DIR) + "/specs/rfc7541-hpack.txt";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    const auto trim = [](std::string t) {
        const auto b = t.find_first_not_of(' ');
        if (b == std::string::npos) return std::string();
        return t.substr(b, t.find_last_not_of(' ') - b + 1);
    };
    std::vector<Header> table;
    std::string line;
    bool in_appendix = false;
    while (std::getline(in, line)) {
        if (line.rfind("Appendix A.", 0) == 0) in_appendix = true;
        if (line.rfind("Appendix B.", 0) == 0) break;
        if (!in_appendix) continue;
        // Lines look like:   | 16    | accept-encoding             | gzip, deflate |
        std::vector<std::string> cells;
        std::istringstream row(line);
        for (std::string cell; std::getline(row, cell, '|');) cells.push_back(cell);
        if (cells.size() < 4 || trim(cells[1]).empty() || !std::isdigit(static_cast<unsigned char>(trim(cells[1])[0])))
            continue;
        if (std::stoul(trim(cells[1])) != table.size() + 1) throw std::runtime_error("Appendix A out of order: " + line);
        table.push_back(Header{trim(cells[2]), trim(cells[3])});
    }
    if (table.size() != 61) throw std::runtime_error("Appendix A: expected 61 entries");
    return table;
}
}  // namespace detail

/// The 61 entries of RFC 7541 Appendix A, index 1 first.
inline const std::vector<Header>& rfc_static_table() {
    static const auto table = detail::load_rfc_static_table();
    return table;
}

/// Appends bits MSB first.
class BitWriter {
public:
    void put(std::uint32_t code, int bits) {
        for (int i = bits - 1; i >= 0; --i) put_bit((code >> i) & 1u);
    }
    void put_symbol(int sym) {
        const HuffmanCode& c = rfc_huffman()[static_cast<std::size_t>(sym)];
        put(c.code, c.bits);
    }
    void put_bit(std::uint32_t bit) {
        if (nbits_ % 8 == 0) out_.push_back(0);
        if (bit) out_.back() = static_cast<std::uint8_t>(out_.back() | (0x80u >> (nbits_ % 8)));
        ++nbits_;
    }
    /// Pads the last byte with `pad` bits (1 = EOS prefix, the valid padding).
    Bytes finish(std::uint32_t pad = 1) {
        while (nbits_ % 8) put_bit(pad);
        return out_;
    }
    std::size_t bits() const { return nbits_; }

private:
    Bytes out_;
    std::size_t nbits_ = 0;
};

inline Bytes ref_huffman_encode(std::string_view s) {
    BitWriter w;
    for (const char c : s) w.put_symbol(static_cast<unsigned char>(c));
    return w.finish();
}

inline std::size_t ref_huffman_size(std::string_view s) {
    std::size_t bits = 0;
    for (const char c : s) bits += static_cast<std::size_t>(rfc_huffman()[static_cast<unsigned char>(c)].bits);
    return (bits + 7) / 8;
}

struct RefHuffmanResult {
    hpack::Error error = hpack::Error::none;
    std::string out;
    /// EOS was found, but only trailing one bits follow it, so a decoder may
    /// fairly call it either EOS or over-long padding.
    bool eos_or_padding = false;
};

/// Bit-by-bit reference decoder (slow and obvious on purpose).
inline RefHuffmanResult ref_huffman_decode(std::span<const std::uint8_t> in) {
    static const auto lookup = [] {
        std::map<std::pair<int, std::uint32_t>, int> m;
        for (int s = 0; s < 257; ++s)
            m[{rfc_huffman()[static_cast<std::size_t>(s)].bits, rfc_huffman()[static_cast<std::size_t>(s)].code}] = s;
        return m;
    }();
    RefHuffmanResult r;
    std::uint32_t acc = 0;
    int n = 0;
    const std::size_t total = in.size() * 8;
    for (std::size_t bit = 0; bit < total; ++bit) {
        acc = (acc << 1) | ((in[bit / 8] >> (7 - bit % 8)) & 1u);
        ++n;
        const auto it = lookup.find({n, acc});
        if (it == lookup.end()) continue;
        if (it->second == 256) {
            r.error = hpack::Error::huffman_eos;
            bool rest_ones = true;
            for (std::size_t b = bit + 1; b < total; ++b)
                if (!((in[b / 8] >> (7 - b % 8)) & 1u)) rest_ones = false;
            r.eos_or_padding = rest_ones;
            return r;
        }
        r.out += static_cast<char>(it->second);
        acc = 0;
        n = 0;
    }
    if (n > 7 || acc != (1u << n) - 1u) r.error = hpack::Error::huffman_padding;
    return r;
}

// ---------------------------------------------------------------------------
// Integers (RFC 7541 §5.1), the RFC's pseudo-code, for building test input

inline Bytes ref_integer(std::uint64_t value, int prefix_bits, std::uint8_t first) {
    Bytes out;
    const std::uint64_t max_prefix = (1u << prefix_bits) - 1u;
    if (value < max_prefix) {
        out.push_back(static_cast<std::uint8_t>(first | value));
        return out;
    }
    out.push_back(static_cast<std::uint8_t>(first | max_prefix));
    value -= max_prefix;
    while (value >= 128) {
        out.push_back(static_cast<std::uint8_t>(value % 128 + 128));
        value /= 128;
    }
    out.push_back(static_cast<std::uint8_t>(value));
    return out;
}

/// A dynamic table size update (§6.3) to `size`.
inline Bytes size_update(std::uint64_t size) {
    return ref_integer(size, 5, 0x20);
}

/// A string literal (§5.2), plain or Huffman-coded with the reference coder.
inline Bytes str_literal(std::string_view s, bool huffman = false) {
    const Bytes body = huffman ? ref_huffman_encode(s) : bytes_of(s);
    return concat({ref_integer(body.size(), 7, huffman ? 0x80 : 0x00), body});
}

/// Literal header field without indexing, new name (§6.2.2).
inline Bytes literal_new_name(std::string_view name, std::string_view value, std::uint8_t first = 0x00,
                              bool huffman = false) {
    return concat({Bytes{first}, str_literal(name, huffman), str_literal(value, huffman)});
}

// ---------------------------------------------------------------------------
// Inspector: splits an encoded block into representations without using the
// library (integers and Huffman by the reference code above; no tables).

struct Rep {
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wshadow"  // Kind::size_update beside size_update() above
#endif
    enum Kind { indexed, incremental, without_indexing, never_indexed, size_update } kind = indexed;
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
    std::uint32_t index = 0;  // the index, the name index (0 = literal name), or the new size
    std::string name;         // literal name, if any (Huffman decoded)
    std::string value;        // literal value (Huffman decoded)
    bool name_huffman = false;
    bool value_huffman = false;
    std::size_t value_wire_len = 0;  // value string length on the wire
};

inline const char* to_string(Rep::Kind k) {
    switch (k) {
        case Rep::indexed:
            return "indexed";
        case Rep::incremental:
            return "incremental";
        case Rep::without_indexing:
            return "without_indexing";
        case Rep::never_indexed:
            return "never_indexed";
        case Rep::size_update:
            return "size_update";
    }
    return "?";
}

/// Splits `block`; throws std::runtime_error when it is malformed.
inline std::vector<Rep> inspect(std::span<const std::uint8_t> block) {
    std::size_t p = 0;
    auto integer = [&](int prefix_bits) -> std::uint32_t {
        if (p >= block.size()) throw std::runtime_error("inspect: truncated integer");
        const std::uint32_t max_prefix = (1u << prefix_bits) - 1u;
        std::uint64_t v = block[p++] & max_prefix;
        if (v < max_prefix) return static_cast<std::uint32_t>(v);
        for (int shift = 0;; shift += 7) {
            if (p >= block.size() || shift > 28) throw std::runtime_error("inspect: bad integer");
            const std::uint8_t b = block[p++];
            v += static_cast<std::uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) break;
        }
        if (v > 0xffffffffu) throw std::runtime_error("inspect: integer overflow");
        return static_cast<std::uint32_t>(v);
    };
    auto string = [&](bool& huffman, std::size_t* wire_len = nullptr) -> std::string {
        if (p >= block.size()) throw std::runtime_error("inspect: truncated string");
        huffman = (block[p] & 0x80) != 0;
        const std::uint32_t len = integer(7);
        if (block.size() - p < len) throw std::runtime_error("inspect: string past the end");
        const auto body = block.subspan(p, len);
        p += len;
        if (wire_len) *wire_len = len;
        if (!huffman) return std::string(body.begin(), body.end());
        const RefHuffmanResult r = ref_huffman_decode(body);
        if (r.error != hpack::Error::none) throw std::runtime_error("inspect: bad Huffman string");
        return r.out;
    };
    std::vector<Rep> reps;
    while (p < block.size()) {
        Rep r;
        const std::uint8_t b = block[p];
        int prefix = 4;
        if (b & 0x80) {
            r.kind = Rep::indexed;
            r.index = integer(7);
            reps.push_back(r);
            continue;
        }
        if ((b & 0xe0) == 0x20) {
            r.kind = Rep::size_update;
            r.index = integer(5);
            reps.push_back(r);
            continue;
        }
        if (b & 0x40) {
            r.kind = Rep::incremental;
            prefix = 6;
        } else {
            r.kind = (b & 0x10) ? Rep::never_indexed : Rep::without_indexing;
        }
        r.index = integer(prefix);
        if (r.index == 0) r.name = string(r.name_huffman);
        r.value = string(r.value_huffman, &r.value_wire_len);
        reps.push_back(r);
    }
    return reps;
}

}  // namespace h2wire::test

// Errors print by name in assertion messages (doctest finds this by ADL; it
// prints other enums as numbers).
namespace h2wire::hpack {
inline doctest::String toString(Error e) {
    return doctest::String(std::string(to_string(e)).c_str());
}
}  // namespace h2wire::hpack
