// QPACK offline-interop files (../shared/testdata/qifs, see its README):
// readers and writers for QIF text and the encoded block format, the
// parameters in an encoded file's name, and a driver that runs an encoded
// file through h2wire's qpack::Decoder with its input split whole, byte by
// byte or at random points.
//
// Header-only and free of doctest, so that the unit tests, the h2wire-qpack
// tool, the benchmark and the fuzz targets share it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "h2wire/qpack.hpp"

namespace h2wire::qifs {

using Bytes = std::vector<std::uint8_t>;

/// One field line of a QIF file.
struct QifField {
    std::string name;
    std::string value;
    bool operator==(const QifField&) const = default;
};
/// One header list: compared as an ordered list (names repeat).
using HeaderList = std::vector<QifField>;

/// The whole of a file, or nullopt if it cannot be read.
inline std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return std::nullopt;
    return out;
}

// ---------------------------------------------------------------------------
// QIF text

/// Parses QIF text: one `name TAB value` per line (split at the first TAB; a
/// line without a TAB is a name with an empty value), `#` lines are comments,
/// an empty line ends a list. A last list without its empty line still
/// counts. Lines may end in CRLF.
inline std::vector<HeaderList> parse_qif(std::string_view text) {
    std::vector<HeaderList> lists;
    HeaderList current;
    bool open = false;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) {
            if (open) lists.push_back(std::move(current));
            current.clear();
            open = false;
            continue;
        }
        if (line.front() == '#') continue;
        const std::size_t tab = line.find('\t');
        if (tab == std::string_view::npos)
            current.push_back({std::string(line), std::string()});
        else
            current.push_back({std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))});
        open = true;
    }
    if (open) lists.push_back(std::move(current));
    return lists;
}

inline std::optional<std::vector<HeaderList>> read_qif(const std::string& path) {
    const std::optional<std::string> text = read_file(path);
    if (!text) return std::nullopt;
    return parse_qif(*text);
}

/// QIF text for `lists`, each preceded by a `# stream N` comment (as the
/// upstream interop decoders write) when `stream_ids` is given.
inline std::string write_qif(const std::vector<HeaderList>& lists,
                             const std::vector<std::uint64_t>* stream_ids = nullptr) {
    std::string out;
    for (std::size_t i = 0; i < lists.size(); ++i) {
        if (stream_ids != nullptr) out += "# stream " + std::to_string((*stream_ids)[i]) + "\n";
        for (const QifField& f : lists[i]) {
            out += f.name;
            out += '\t';
            out += f.value;
            out += '\n';
        }
        out += '\n';
    }
    return out;
}

// ---------------------------------------------------------------------------
// Encoded files: blocks of (u64 stream id, u32 length, data), big-endian.

struct Block {
    std::uint64_t stream_id = 0;  ///< 0: the encoder stream
    Bytes data;
};

/// The blocks of an encoded file, or nullopt when it ends inside a block.
inline std::optional<std::vector<Block>> parse_encoded(std::span<const std::uint8_t> in) {
    std::vector<Block> blocks;
    std::size_t pos = 0;
    while (pos < in.size()) {
        if (in.size() - pos < 12) return std::nullopt;
        std::uint64_t id = 0;
        for (int i = 0; i < 8; ++i) id = id << 8 | in[pos + static_cast<std::size_t>(i)];
        std::uint32_t len = 0;
        for (int i = 8; i < 12; ++i) len = len << 8 | in[pos + static_cast<std::size_t>(i)];
        pos += 12;
        if (in.size() - pos < len) return std::nullopt;
        blocks.push_back({id, Bytes(in.begin() + static_cast<std::ptrdiff_t>(pos),
                                    in.begin() + static_cast<std::ptrdiff_t>(pos + len))});
        pos += len;
    }
    return blocks;
}

inline std::optional<std::vector<Block>> read_encoded(const std::string& path) {
    const std::optional<std::string> text = read_file(path);
    if (!text) return std::nullopt;
    return parse_encoded({reinterpret_cast<const std::uint8_t*>(text->data()), text->size()});
}

/// Appends one block to an encoded file.
inline void append_block(Bytes& out, std::uint64_t stream_id, std::span<const std::uint8_t> data) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(stream_id >> shift));
    const auto len = static_cast<std::uint32_t>(data.size());
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(len >> shift));
    out.insert(out.end(), data.begin(), data.end());
}

/// What an encoded file's name says: `<qif>.out.<capacity>.<blocked>.<ack>`.
struct FileParams {
    std::string qif;  ///< the input's base name, e.g. "fb-req-hq"
    std::uint32_t capacity = 0;
    std::uint32_t blocked = 0;
    int ack = 0;
};

/// The parameters of `name` (a file name, no directory), taken from its last
/// three dot-separated parts; nullopt when they are not numbers or the name
/// has no `.out.` before them.
inline std::optional<FileParams> parse_file_name(std::string_view name) {
    std::vector<std::string_view> parts;
    for (std::size_t i = 0; i < 3; ++i) {
        const std::size_t dot = name.rfind('.');
        if (dot == std::string_view::npos) return std::nullopt;
        parts.push_back(name.substr(dot + 1));
        name = name.substr(0, dot);
    }
    if (!name.ends_with(".out")) return std::nullopt;
    name.remove_suffix(4);
    std::uint64_t v[3] = {};
    for (std::size_t i = 0; i < 3; ++i) {
        if (parts[i].empty() || parts[i].size() > 9) return std::nullopt;
        for (const char c : parts[i]) {
            if (c < '0' || c > '9') return std::nullopt;
            v[i] = v[i] * 10 + static_cast<std::uint64_t>(c - '0');
        }
    }
    FileParams p;
    p.qif = std::string(name);
    p.capacity = static_cast<std::uint32_t>(v[2]);
    p.blocked = static_cast<std::uint32_t>(v[1]);
    p.ack = static_cast<int>(v[0]);
    return p;
}

// ---------------------------------------------------------------------------
// Running an encoded file through h2wire's decoder.

/// How each block's data is cut before it reaches the decoder.
enum class Split : std::uint8_t { whole, byte_by_byte, random };

inline std::string to_string(Split s) {
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

/// Cuts byte strings into pieces by a Split (random cuts from a fixed seed).
class Cutter {
public:
    explicit Cutter(Split split, std::uint32_t seed = 1) : split_(split), rng_(seed) {}
    /// The pieces of `data` (at least one, possibly empty).
    std::vector<std::span<const std::uint8_t>> cut(std::span<const std::uint8_t> data) {
        std::vector<std::span<const std::uint8_t>> out;
        if (split_ == Split::whole || data.size() <= 1) {
            out.push_back(data);
            return out;
        }
        std::size_t pos = 0;
        while (pos < data.size()) {
            std::size_t n = 1;
            if (split_ == Split::random) {
                // Mostly short pieces, sometimes an empty one, sometimes long.
                const std::uint32_t r = rng_() % 16;
                n = r == 0 ? 0 : r < 12 ? 1 + rng_() % 4 : 1 + rng_() % 64;
            }
            n = std::min(n, data.size() - pos);
            out.push_back(data.subspan(pos, n));
            pos += n;
        }
        return out;
    }

private:
    Split split_;
    std::mt19937 rng_;
};

/// The outcome of decoding one encoded file.
struct FileDecode {
    /// Stream id and list of every section decoded, in completion order.
    std::vector<std::pair<std::uint64_t, HeaderList>> lists;
    qpack::Error error = qpack::Error::none;
    std::size_t error_block = 0;  ///< index of the block that gave `error`
    std::uint64_t error_stream = 0;
    std::size_t blocked_at_end = 0;     ///< sections still blocked after the last block
    std::size_t pending_at_end = 0;     ///< encoder-stream octets of an unfinished instruction at the end
    std::size_t max_blocked = 0;        ///< most sections blocked at once
    std::size_t sections_blocked = 0;   ///< sections that blocked at some point
    bool partial_after_end = false;     ///< decode() said `partial` after the last piece
    bool blocked_but_reported = false;  ///< fields reported for a section that then said blocked
    bool unblocked_not_done = false;    ///< a section from next_unblocked() did not finish
    Bytes decoder_stream;               ///< every decoder-stream octet the decoder wrote

    /// The lists sorted by stream id (stable).
    std::vector<std::pair<std::uint64_t, HeaderList>> sorted() const {
        auto out = lists;
        std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        return out;
    }
};

/// Decodes `blocks` with a Decoder of `limits` whose table starts at
/// `assumed_capacity` (0: no assume_capacity() call), cutting every block's
/// data with `cutter`. Stops at the first error.
inline FileDecode decode_blocks(const std::vector<Block>& blocks, const qpack::DecoderLimits& limits,
                                std::uint32_t assumed_capacity, Cutter& cutter) {
    FileDecode result;
    qpack::Decoder decoder(limits);
    if (assumed_capacity != 0) decoder.assume_capacity(assumed_capacity);
    struct Pending {
        std::unique_ptr<qpack::Section> section;
        HeaderList fields;
    };
    std::deque<Pending> sections;  // declared after the decoder: destroyed first

    auto take_output = [&] {
        const std::span<const std::uint8_t> out = decoder.decoder_stream_output();
        result.decoder_stream.insert(result.decoder_stream.end(), out.begin(), out.end());
        decoder.consume_decoder_stream_output(out.size());
    };
    auto finish = [&](Pending& p) {
        result.lists.emplace_back(p.section->stream_id(), std::move(p.fields));
        p.fields.clear();
        p.section.reset();
    };
    auto fail = [&](qpack::Error e, std::size_t block, std::uint64_t stream) {
        result.error = e;
        result.error_block = block;
        result.error_stream = stream;
    };

    for (std::size_t b = 0; b < blocks.size() && result.error == qpack::Error::none; ++b) {
        const Block& block = blocks[b];
        if (block.stream_id == 0) {
            for (const std::span<const std::uint8_t> piece : cutter.cut(block.data)) {
                const qpack::Error e = decoder.read_encoder_stream(piece);
                if (e != qpack::Error::none) {
                    fail(e, b, 0);
                    break;
                }
                while (qpack::Section* s = decoder.next_unblocked()) {
                    Pending& p = *static_cast<Pending*>(s->user());
                    const qpack::Decoded d = decoder.decode(*s, {}, true, [&](const Field& f) {
                        p.fields.push_back({std::string(f.name), std::string(f.value)});
                    });
                    if (d.error != qpack::Error::none) {
                        fail(d.error, b, s->stream_id());
                        break;
                    }
                    if (d.status != qpack::Status::done) {
                        result.unblocked_not_done = true;
                        break;
                    }
                    finish(p);
                }
                if (result.error != qpack::Error::none || result.unblocked_not_done) break;
            }
            take_output();
            continue;
        }

        Pending& p = sections.emplace_back();
        p.section = std::make_unique<qpack::Section>(block.stream_id, &p);
        const auto pieces = cutter.cut(block.data);
        qpack::Decoded d;
        bool was_blocked = false;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            d = decoder.decode(*p.section, pieces[i], i + 1 == pieces.size(), [&](const Field& f) {
                p.fields.push_back({std::string(f.name), std::string(f.value)});
            });
            if (d.error != qpack::Error::none) break;
            if (d.status == qpack::Status::blocked) was_blocked = true;
        }
        take_output();
        if (d.error != qpack::Error::none) {
            fail(d.error, b, block.stream_id);
            break;
        }
        if (was_blocked) ++result.sections_blocked;
        if (d.status == qpack::Status::done) {
            finish(p);
        } else if (d.status == qpack::Status::blocked) {
            if (!p.fields.empty()) result.blocked_but_reported = true;
        } else {
            result.partial_after_end = true;
        }
        result.max_blocked = std::max(result.max_blocked, decoder.blocked_sections());
        // Forget finished sections at the front (blocked ones stay put).
        while (!sections.empty() && !sections.front().section) sections.pop_front();
    }
    result.blocked_at_end = decoder.blocked_sections();
    result.pending_at_end = decoder.encoder_stream_pending();
    take_output();
    return result;
}

}  // namespace h2wire::qifs
