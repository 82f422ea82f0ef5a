// Helpers for the frame tests: a frame builder that lays out bytes by hand
// (independent of the library's writers), a reader driver that feeds input
// whole, byte by byte or at random splits and records a normalized
// transcript, and a describe() that prints any frame as one line.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory_resource>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "h2wire/frame.hpp"
#include "support/counting_resource.hpp"

namespace h2wire::frame_test {

using ByteVec = std::vector<std::uint8_t>;

inline std::string hex(std::span<const std::uint8_t> b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(b.size() * 2);
    for (const std::uint8_t c : b) {
        s += digits[c >> 4];
        s += digits[c & 15];
    }
    return s;
}

inline ByteVec unhex(std::string_view h) {
    ByteVec out;
    auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
        if (h[i] == ' ') {
            --i;
            continue;
        }
        out.push_back(static_cast<std::uint8_t>(nib(h[i]) << 4 | nib(h[i + 1])));
    }
    return out;
}

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Builds frames octet by octet, the way RFC 9113 §4.1 draws them. The
/// length is the payload size unless set with length().
class FrameBuilder {
public:
    FrameBuilder(std::uint8_t type, std::uint8_t flags, std::uint32_t stream, bool reserved = false)
        : type_(type), flags_(flags), stream_(stream), reserved_(reserved) {}
    FrameBuilder(frame::Type type, std::uint8_t flags, std::uint32_t stream, bool reserved = false)
        : FrameBuilder(static_cast<std::uint8_t>(type), flags, stream, reserved) {}

    FrameBuilder& u8(std::uint32_t v) {
        payload_.push_back(static_cast<std::uint8_t>(v));
        return *this;
    }
    FrameBuilder& u16(std::uint32_t v) { return u8(v >> 8).u8(v); }
    FrameBuilder& u32(std::uint32_t v) { return u8(v >> 24).u8(v >> 16).u8(v >> 8).u8(v); }
    FrameBuilder& bytes(std::span<const std::uint8_t> b) {
        payload_.insert(payload_.end(), b.begin(), b.end());
        return *this;
    }
    FrameBuilder& str(std::string_view s) { return bytes(as_bytes(s)); }
    FrameBuilder& zeros(std::size_t n) {
        payload_.insert(payload_.end(), n, 0);
        return *this;
    }
    FrameBuilder& setting(std::uint16_t id, std::uint32_t value) { return u16(id).u32(value); }
    /// Declares a length other than the payload's.
    FrameBuilder& length(std::uint32_t n) {
        length_ = n;
        has_length_ = true;
        return *this;
    }

    ByteVec build() const {
        const std::uint32_t len = has_length_ ? length_ : static_cast<std::uint32_t>(payload_.size());
        ByteVec out(header_size_ + payload_.size());
        out[0] = static_cast<std::uint8_t>(len >> 16);
        out[1] = static_cast<std::uint8_t>(len >> 8);
        out[2] = static_cast<std::uint8_t>(len);
        out[3] = type_;
        out[4] = flags_;
        out[5] = static_cast<std::uint8_t>((stream_ >> 24 & 0x7f) | (reserved_ ? 0x80 : 0));
        out[6] = static_cast<std::uint8_t>(stream_ >> 16);
        out[7] = static_cast<std::uint8_t>(stream_ >> 8);
        out[8] = static_cast<std::uint8_t>(stream_);
        std::copy(payload_.begin(), payload_.end(), out.begin() + header_size_);
        return out;
    }
    operator ByteVec() const { return build(); }  // NOLINT(google-explicit-constructor)

private:
    static constexpr std::ptrdiff_t header_size_ = 9;
    std::uint8_t type_, flags_;
    std::uint32_t stream_;
    bool reserved_;
    std::uint32_t length_ = 0;
    bool has_length_ = false;
    ByteVec payload_;
};

inline ByteVec concat(std::initializer_list<ByteVec> parts) {
    ByteVec out;
    for (const ByteVec& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// ---------------------------------------------------------------------------
// describe(): one line per frame, the same for a frame read and for the
// frame that was written (padding without content is printed as zeros).

inline std::string num(std::uint64_t v) {
    return std::to_string(v);
}

inline std::string describe(const std::optional<frame::Padding>& p) {
    if (!p) return "";
    const ByteVec zeros(p->length, 0);
    return " pad=" + num(p->length) + ":" + hex(p->content.empty() ? std::span<const std::uint8_t>(zeros) : p->content);
}

inline std::string describe(const std::optional<frame::PriorityFields>& p) {
    if (!p) return "";
    return " dep=" + num(p->dependency) + (p->exclusive ? "!" : "") + " w=" + num(p->weight);
}

inline std::string describe(const frame::Headers& f) {
    return "HEADERS s=" + num(f.stream_id) + (f.end_stream ? " ES" : "") + (f.end_headers ? " EH" : "") +
           describe(f.priority) + describe(f.padding) + " block=" + hex(f.fragment);
}
inline std::string describe(const frame::Priority& f) {
    return "PRIORITY s=" + num(f.stream_id) + describe(std::optional<frame::PriorityFields>(f.fields));
}
inline std::string describe(const frame::RstStream& f) {
    return "RST_STREAM s=" + num(f.stream_id) + " code=" + num(static_cast<std::uint32_t>(f.error_code));
}
inline std::string describe(const frame::Settings& f) {
    std::string s = std::string("SETTINGS") + (f.ack ? " ACK" : "");
    for (const Setting e : f.entries) {
        s += ' ';
        s += num(static_cast<std::uint16_t>(e.id));
        s += '=';
        s += num(e.value);
    }
    return s;
}
inline std::string describe(const frame::PushPromise& f) {
    return "PUSH_PROMISE s=" + num(f.stream_id) + " promised=" + num(f.promised_stream_id) +
           (f.end_headers ? " EH" : "") + describe(f.padding) + " block=" + hex(f.fragment);
}
inline std::string describe(const frame::Ping& f) {
    return std::string("PING") + (f.ack ? " ACK " : " ") + hex(f.opaque_data);
}
inline std::string describe(const frame::Goaway& f) {
    return "GOAWAY last=" + num(f.last_stream_id) + " code=" + num(static_cast<std::uint32_t>(f.error_code)) +
           " debug=" + hex(f.debug_data);
}
inline std::string describe(const frame::WindowUpdate& f) {
    return "WINDOW_UPDATE s=" + num(f.stream_id) + " inc=" + num(f.increment);
}
inline std::string describe(const frame::Continuation& f) {
    return "CONTINUATION s=" + num(f.stream_id) + (f.end_headers ? " EH" : "") + " block=" + hex(f.fragment);
}
inline std::string describe(const frame::Altsvc& f) {
    return "ALTSVC s=" + num(f.stream_id) + " origin=" + hex(as_bytes(f.origin)) +
           " value=" + hex(as_bytes(f.field_value));
}
inline std::string describe(const frame::Origin& f) {
    std::string s = "ORIGIN";
    for (const std::string_view o : f.origins) s += " [" + hex(as_bytes(o)) + "]";
    return s;
}
inline std::string describe(const frame::PriorityUpdate& f) {
    return "PRIORITY_UPDATE id=" + num(f.prioritized_stream_id) + " value=" + hex(as_bytes(f.field_value));
}
inline std::string describe(const frame::Unknown& f) {
    return "UNKNOWN type=" + num(f.type) + " flags=" + num(f.flags) + " s=" + num(f.stream_id) +
           " payload=" + hex(f.payload);
}
inline std::string describe(const frame::Ignored& f) {
    return "IGNORED type=" + num(static_cast<std::uint8_t>(f.type)) + " s=" + num(f.stream_id) +
           " payload=" + hex(f.payload) + " (" + std::string(f.reason) + ")";
}
inline std::string describe(const frame::Frame& f) {
    return std::visit([](const auto& x) { return describe(x); }, f);
}
inline std::string describe(const frame::Data& f) {
    return "DATA s=" + num(f.stream_id) + (f.end_stream ? " ES" : "") + describe(f.padding) + " data=" + hex(f.data);
}

// ---------------------------------------------------------------------------
// Reader driver

/// How to cut the input into reads.
struct Split {
    enum class Kind { whole, bytewise, random } kind = Kind::whole;
    std::uint32_t seed = 0;
    static Split whole() { return {}; }
    static Split bytewise() { return {Kind::bytewise, 0}; }
    static Split random(std::uint32_t seed) { return {Kind::random, seed}; }
};

/// A normalized transcript of what a reader produced: one line per frame,
/// per stream error and for a connection error. DATA chunks are joined into
/// one "DATA" line per frame after checking the chunk invariants (first on
/// the first chunk, last on the last, flow control charged once with the
/// frame length, data views inside the read's input).
struct Transcript {
    std::vector<std::string> lines;
    bool failed = false;
    bool at_boundary = true;
    std::size_t reads = 0;
};

inline Transcript run_reader(std::span<const std::uint8_t> input, Split split,
                             const frame::ReaderOptions& options = {}) {
    Transcript t;
    frame::Reader reader(options);
    std::mt19937 rng(split.seed);
    // DATA assembly for the frame in progress.
    std::string data;
    std::uint64_t charged = 0;
    bool in_data = false;
    std::size_t pos = 0;
    while (pos < input.size() && !t.failed) {
        std::size_t n = input.size() - pos;
        if (split.kind == Split::Kind::bytewise) n = 1;
        if (split.kind == Split::Kind::random)
            n = std::min<std::size_t>(n, rng() % 40 == 0 ? rng() % 5000 : rng() % 24);
        // A heap copy of exactly this piece, freed after the read, so ASan
        // sees any view that outlives its input.
        const ByteVec piece(input.begin() + static_cast<std::ptrdiff_t>(pos),
                            input.begin() + static_cast<std::ptrdiff_t>(pos + n));
        pos += n;
        std::span<const std::uint8_t> in(piece);
        for (;;) {
            const frame::ReadResult r = reader.read(in);
            ++t.reads;
            REQUIRE(r.consumed <= in.size());
            in = in.subspan(r.consumed);
            if (r.status == frame::ReadStatus::need_input) {
                REQUIRE(in.empty());
                break;
            }
            switch (r.status) {
                case frame::ReadStatus::data: {
                    const frame::DataChunk& d = r.data;
                    CHECK(d.first == !in_data);
                    CHECK(d.stream_id == r.header.stream_id);
                    if (!d.data.empty()) {
                        CHECK(d.data.data() >= piece.data());
                        CHECK(d.data.data() + d.data.size() <= piece.data() + piece.size());
                    }
                    if (d.first) {
                        data.clear();
                        charged = 0;
                    }
                    in_data = true;
                    charged += d.flow_controlled_length;
                    data += hex(d.data);
                    if (!d.last) CHECK(!d.end_stream);
                    if (d.last) {
                        CHECK(charged == r.header.length);
                        std::string line = "DATA s=" + num(d.stream_id) + (d.end_stream ? " ES" : "");
                        if (d.pad_length) line += " padlen=" + num(*d.pad_length);
                        t.lines.push_back(line + " data=" + data);
                        in_data = false;
                    }
                    break;
                }
                case frame::ReadStatus::frame:
                    t.lines.push_back(describe(r.frame));
                    break;
                case frame::ReadStatus::stream_error:
                    t.lines.push_back("STREAM_ERROR s=" + num(r.stream_error.stream_id) + " " +
                                      std::string(to_string(r.stream_error.code)) + " (" +
                                      std::string(r.stream_error.reason) + ")");
                    break;
                case frame::ReadStatus::connection_error:
                    t.lines.push_back("CONNECTION_ERROR s=" + num(r.connection_error.stream_id) + " " +
                                      std::string(to_string(r.connection_error.code)) + " (" +
                                      std::string(r.connection_error.reason) + ")");
                    t.failed = true;
                    break;
                case frame::ReadStatus::need_input:
                    break;
            }
            if (t.failed) break;
        }
    }
    t.at_boundary = reader.at_frame_boundary();
    return t;
}

/// Runs `input` whole, byte by byte and at several random splits, checks that
/// all transcripts are identical, and returns the whole one.
inline Transcript run_all_splits(std::span<const std::uint8_t> input, const frame::ReaderOptions& options = {},
                                 int random_runs = 8) {
    const Transcript whole = run_reader(input, Split::whole(), options);
    const Transcript bytewise = run_reader(input, Split::bytewise(), options);
    CHECK(bytewise.lines == whole.lines);
    CHECK(bytewise.failed == whole.failed);
    CHECK(bytewise.at_boundary == whole.at_boundary);
    for (int i = 0; i < random_runs; ++i) {
        const Transcript r = run_reader(input, Split::random(static_cast<std::uint32_t>(1000 + i)), options);
        CHECK(r.lines == whole.lines);
        CHECK(r.failed == whole.failed);
    }
    return whole;
}

/// The one item a reader returns for a complete frame (whole input).
inline frame::ReadResult read_one(frame::Reader& reader, std::span<const std::uint8_t> input) {
    return reader.read(input);
}

/// Counts allocations, to check the no-allocation-when-warm rule.
using CountingResource = test_support::CountingResource;

}  // namespace h2wire::frame_test
