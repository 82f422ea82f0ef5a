// A hostile HTTP/2 client for the attack tests: it lays out frames octet by
// octet (RFC 9113 §4.1; independent of the library's writers) and HPACK
// blocks by hand (RFC 7541 §6), so it can send what no well-behaved encoder
// would. Beside it, a server-side driver that answers every request, writes
// all output, and records what the connection held and said.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "h2wire/connection.hpp"
#include "h2wire/frame.hpp"
#include "support/counting_resource.hpp"

namespace h2wire::attack_test {

using Bytes = std::vector<std::uint8_t>;

inline void put_frame(Bytes& out, std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                      std::span<const std::uint8_t> payload) {
    const std::size_t n = payload.size();
    const std::uint8_t h[9] = {static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                               static_cast<std::uint8_t>(n),       type,
                               flags,                               static_cast<std::uint8_t>(stream >> 24 & 0x7f),
                               static_cast<std::uint8_t>(stream >> 16), static_cast<std::uint8_t>(stream >> 8),
                               static_cast<std::uint8_t>(stream)};
    out.insert(out.end(), h, h + 9);
    out.insert(out.end(), payload.begin(), payload.end());
}

namespace type {
inline constexpr std::uint8_t data = 0, headers = 1, priority = 2, rst_stream = 3, settings = 4, ping = 6,
                              goaway = 7, window_update = 8, continuation = 9;
}
namespace flag {
inline constexpr std::uint8_t end_stream = 1, ack = 1, end_headers = 4;
}

/// HPACK integer with an n-bit prefix (RFC 7541 §5.1).
inline void hpack_int(Bytes& out, std::uint8_t first, unsigned prefix, std::uint64_t v) {
    const std::uint64_t max = (1u << prefix) - 1;
    if (v < max) {
        out.push_back(static_cast<std::uint8_t>(first | v));
        return;
    }
    out.push_back(static_cast<std::uint8_t>(first | max));
    v -= max;
    while (v >= 128) {
        out.push_back(static_cast<std::uint8_t>(v % 128 + 128));
        v /= 128;
    }
    out.push_back(static_cast<std::uint8_t>(v));
}

/// Field block pieces (RFC 7541 §6), strings raw (no Huffman).
struct Block {
    Bytes b;
    Block& indexed(std::uint64_t index) {
        hpack_int(b, 0x80, 7, index);
        return *this;
    }
    Block& literal(std::string_view name, std::string_view value, bool index = false) {
        b.push_back(index ? 0x40 : 0x00);
        str(name);
        str(value);
        return *this;
    }
    Block& str(std::string_view s) {
        hpack_int(b, 0x00, 7, s.size());
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    /// :method GET, :scheme https, :path /, :authority a (static indexes).
    Block& get() {
        indexed(2).indexed(7).indexed(4);
        b.push_back(0x01);  // :authority, literal without indexing, name index 1
        str("a");
        return *this;
    }
};

class HostileClient {
public:
    Bytes preface(std::span<const std::pair<std::uint16_t, std::uint32_t>> settings = {}) {
        static constexpr std::string_view magic = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        Bytes out(magic.begin(), magic.end());
        append(out, this->settings(settings));
        append(out, settings_ack());
        return out;
    }
    Bytes settings(std::span<const std::pair<std::uint16_t, std::uint32_t>> entries) {
        Bytes p;
        for (auto [id, v] : entries) {
            p.push_back(static_cast<std::uint8_t>(id >> 8));
            p.push_back(static_cast<std::uint8_t>(id));
            for (int shift = 24; shift >= 0; shift -= 8) p.push_back(static_cast<std::uint8_t>(v >> shift));
        }
        Bytes out;
        put_frame(out, type::settings, 0, 0, p);
        return out;
    }
    Bytes settings_ack() {
        Bytes out;
        put_frame(out, type::settings, flag::ack, 0, {});
        return out;
    }
    /// HEADERS (+ CONTINUATIONs of at most `fragment` octets) carrying `block`.
    Bytes headers(std::uint32_t stream, std::span<const std::uint8_t> block, bool end_stream,
                  std::size_t fragment = 16384) {
        Bytes out;
        std::size_t at = std::min(fragment, block.size());
        put_frame(out, type::headers, static_cast<std::uint8_t>((end_stream ? flag::end_stream : 0) |
                                                                (at == block.size() ? flag::end_headers : 0)),
                  stream, block.first(at));
        while (at < block.size()) {
            const std::size_t n = std::min(fragment, block.size() - at);
            put_frame(out, type::continuation, at + n == block.size() ? flag::end_headers : 0, stream,
                      block.subspan(at, n));
            at += n;
        }
        return out;
    }
    Bytes get(std::uint32_t stream, bool end_stream = true) { return headers(stream, Block{}.get().b, end_stream); }
    Bytes data(std::uint32_t stream, std::span<const std::uint8_t> payload, bool end_stream) {
        Bytes out;
        put_frame(out, type::data, end_stream ? flag::end_stream : 0, stream, payload);
        return out;
    }
    Bytes rst(std::uint32_t stream, std::uint32_t code = 8) {
        Bytes out;
        const std::uint8_t p[4] = {static_cast<std::uint8_t>(code >> 24), static_cast<std::uint8_t>(code >> 16),
                                   static_cast<std::uint8_t>(code >> 8), static_cast<std::uint8_t>(code)};
        put_frame(out, type::rst_stream, 0, stream, p);
        return out;
    }
    Bytes window_update(std::uint32_t stream, std::uint32_t increment) {
        Bytes out;
        const std::uint8_t p[4] = {static_cast<std::uint8_t>(increment >> 24), static_cast<std::uint8_t>(increment >> 16),
                                   static_cast<std::uint8_t>(increment >> 8), static_cast<std::uint8_t>(increment)};
        put_frame(out, type::window_update, 0, stream, p);
        return out;
    }
    Bytes ping(std::uint64_t v, bool ack = false) {
        Bytes out;
        std::uint8_t p[8];
        for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
        put_frame(out, type::ping, ack ? flag::ack : 0, 0, p);
        return out;
    }
    Bytes raw(std::uint8_t t, std::uint8_t flags, std::uint32_t stream, std::span<const std::uint8_t> payload = {}) {
        Bytes out;
        put_frame(out, t, flags, stream, payload);
        return out;
    }
    static void append(Bytes& out, std::span<const std::uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); }
};

/// A server Connection driven the way an application drives it: every
/// request is answered at once (200, no body) unless `answer` is off, all
/// output is written, and what the connection holds is sampled after every
/// receive().
struct ServerUnderAttack {
    explicit ServerUnderAttack(Config c = {}) : config(with_memory(c, &memory)), conn(config) {}

    static Config with_memory(Config c, std::pmr::memory_resource* mr) {
        c.role = Role::server;
        c.memory = mr;
        return c;
    }

    /// Feeds `in` as one receive() and handles its events.
    void feed(std::span<const std::uint8_t> in) {
        ++calls;
        for (const Event& ev : conn.receive(in)) {
            if (const auto* r = std::get_if<RequestReceived>(&ev)) {
                ++requests;
                if (answer) {
                    const Field resp[] = {{":status", "200"}};
                    (void)conn.submit_response(r->stream, resp, true);
                }
            } else if (const auto* t = std::get_if<ConnectionTerminated>(&ev)) {
                terminated = true;
                code = t->code;
                reason = std::string(t->reason);
            } else if (const auto* s = std::get_if<StreamReset>(&ev)) {
                if (s->by == Initiator::peer) ++peer_resets;
                else ++local_resets;
            }
        }
        peak = std::max(peak, memory.live);
        if (drain_output) drain();
    }
    /// Feeds `in` split at `cuts` (offsets, ascending).
    void feed_split(std::span<const std::uint8_t> in, const std::vector<std::size_t>& cuts) {
        std::size_t at = 0;
        for (std::size_t c : cuts) {
            if (c <= at || c >= in.size()) continue;
            feed(in.subspan(at, c - at));
            at = c;
        }
        feed(in.subspan(at));
    }
    /// Feeds `in` the way a server reading `read_size` octets at a time
    /// would, until the connection ends.
    void feed_reads(std::span<const std::uint8_t> in, std::size_t read_size = 16384) {
        for (std::size_t at = 0; at < in.size() && !terminated; at += read_size)
            feed(in.subspan(at, std::min(read_size, in.size() - at)));
    }
    void feed_bytewise(std::span<const std::uint8_t> in) {
        for (std::size_t i = 0; i < in.size(); ++i) feed(in.subspan(i, 1));
    }
    void drain() {
        for (;;) {
            const auto out = conn.pending_output();
            if (out.empty()) break;
            count_frames(out);
            conn.consume_output(out.size());
        }
    }
    /// Frame types seen in the output (frames are written whole by drain()).
    void count_frames(std::span<const std::uint8_t> out) {
        wire.insert(wire.end(), out.begin(), out.end());
        std::size_t at = 0;
        while (wire.size() - at >= 9) {
            const std::size_t len = std::size_t{wire[at]} << 16 | std::size_t{wire[at + 1]} << 8 | wire[at + 2];
            if (wire.size() - at < 9 + len) break;
            const std::uint8_t t = wire[at + 3];
            if (t < frames_out.size()) ++frames_out[t];
            if (t == type::goaway && len >= 8)
                goaway_code = std::uint32_t{wire[at + 13]} << 24 | std::uint32_t{wire[at + 14]} << 16 |
                              std::uint32_t{wire[at + 15]} << 8 | wire[at + 16];
            at += 9 + len;
        }
        wire.erase(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(at));
    }
    std::size_t goaways() const { return frames_out[type::goaway]; }

    test_support::CountingResource memory;
    Config config;
    Connection conn;
    bool answer = true;
    bool drain_output = true;
    bool terminated = false;
    ErrorCode code = ErrorCode::no_error;
    std::string reason;
    std::uint32_t goaway_code = 0;
    std::size_t calls = 0, requests = 0, peer_resets = 0, local_resets = 0;
    std::size_t peak = 0;  ///< most live octets seen after a receive()
    std::array<std::size_t, 16> frames_out{};
    Bytes wire;
};

}  // namespace h2wire::attack_test
