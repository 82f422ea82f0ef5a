// libFuzzer target for h3::Reader and h3::StreamHeaderReader.
//
// Input layout: octet 0 chooses the stream kind (bits 0-1: request, push,
// control), the peer role (bits 2-3: unknown, client, server), whether the
// message sequence is checked (0x10 off), small limits (0x20), and whether a
// unidirectional stream prefix is read first (0x40; its type then decides
// the kind, and a QPACK or unknown stream ends the run); octet 1 seeds the
// split; the rest is the stream. The stream is read whole and again in
// pieces of pseudo-random sizes, then finished (FIN): the two transcripts
// must be identical (split invariance). Every frame read is written back
// with the checked writer and read again: it must describe the same frame.
// Any difference, a view outside its input, a buffer over its limit, or a
// call that neither consumes nor returns an item traps.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "h2wire/h3frame.hpp"

namespace {

using namespace h2wire;

void put(std::string& s, std::uint64_t v) {
    s += std::to_string(v);
    s += ',';
}
void put(std::string& s, h3::Bytes b) {
    s.append(reinterpret_cast<const char*>(b.data()), b.size());
    s += '|';
}

std::string summary(const h3::Frame& f) {
    std::string s;
    put(s, f.index());
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, h3::Headers>) {
                put(s, x.field_section);
            } else if constexpr (std::is_same_v<T, h3::CancelPush>) {
                put(s, x.push_id);
            } else if constexpr (std::is_same_v<T, h3::Settings>) {
                H2W_CHECK(!x.grease);
                for (const h3::Setting& e : x.entries) put(s, e.id), put(s, e.value);
            } else if constexpr (std::is_same_v<T, h3::PushPromise>) {
                put(s, x.push_id), put(s, x.field_section);
            } else if constexpr (std::is_same_v<T, h3::Goaway>) {
                put(s, x.id);
            } else if constexpr (std::is_same_v<T, h3::MaxPushId>) {
                put(s, x.push_id);
            }
        },
        f);
    return s;
}

// Writes `f` back and reads it with a fresh reader (an empty SETTINGS first
// on the control stream, no message check): the summary of what it reads.
std::string reread(const h3::Frame& f, h3::ReaderOptions o) {
    o.check_message = false;
    std::vector<std::uint8_t> wire;
    if (o.stream == h3::StreamKind::control && !std::holds_alternative<h3::Settings>(f))
        H2W_CHECK(h3::append(wire, h3::Settings{}));
    const std::size_t skip = wire.size();
    H2W_CHECK(std::visit([&](const auto& x) { return bool(h3::append(wire, x)); }, f));
    h3::Reader r(o);
    h3::ReadResult x = r.read(wire);
    if (skip) {
        H2W_CHECK(x.status == h3::ReadStatus::frame && x.consumed == skip);
        x = r.read(std::span<const std::uint8_t>(wire).subspan(skip));
    }
    H2W_CHECK(x.status == h3::ReadStatus::frame);
    H2W_CHECK(x.consumed == wire.size() - skip);
    return summary(x.frame);
}

std::vector<std::string> run(std::span<const std::uint8_t> input, h3::ReaderOptions o, bool prefix, std::uint32_t seed,
                             bool split) {
    std::vector<std::string> items;
    std::optional<h3::Reader> reader;
    if (!prefix) reader.emplace(o);
    h3::StreamHeaderReader head(o.peer);
    bool in_prefix = prefix;
    bool failed = false;
    std::string data;
    std::uint64_t data_length = 0;
    std::uint32_t rng = seed;
    std::size_t pos = 0;
    const std::uint64_t limit = std::max(o.max_frame_payload, o.max_field_section + 8);
    while (pos < input.size() && !failed) {
        std::size_t n = input.size() - pos;
        if (split) {
            rng = rng * 1103515245u + 12345u;
            const std::uint32_t r = rng >> 16;
            n = std::min<std::size_t>(n, r % 8 == 0 ? r % 4096 : r % 23);
        }
        // A private copy of the piece, so ASan catches views that outlive it.
        const std::vector<std::uint8_t> piece(input.begin() + static_cast<std::ptrdiff_t>(pos),
                                              input.begin() + static_cast<std::ptrdiff_t>(pos + n));
        pos += n;
        std::span<const std::uint8_t> in(piece);
        if (in_prefix) {
            const std::size_t used = head.read(in);
            H2W_CHECK(used <= in.size());
            in = in.subspan(used);
            if (head.error()) {
                items.push_back("prefix error " + std::to_string(static_cast<std::uint64_t>(head.error()->code)));
                failed = true;
                break;
            }
            if (!head.done()) {
                H2W_CHECK(in.empty());
                continue;
            }
            std::string item = "prefix ";
            put(item, head.type());
            if (head.push_id()) put(item, *head.push_id());
            items.push_back(item);
            in_prefix = false;
            // RFC 9114 §6.2: the type says what follows.
            if (head.type() == static_cast<std::uint64_t>(h3::StreamType::control)) {
                o.stream = h3::StreamKind::control;
            } else if (head.type() == static_cast<std::uint64_t>(h3::StreamType::push)) {
                o.stream = h3::StreamKind::push;
            } else {
                return items;
            }
            reader.emplace(o);
        }
        // Each call consumes octets or returns an item; an empty DATA frame
        // is the only item of no octets, and it needs its header first.
        for (std::size_t calls = 0;; ++calls) {
            H2W_CHECK(calls <= 2 * piece.size() + 2);
            const h3::ReadResult r = reader->read(in);
            H2W_CHECK(r.consumed <= in.size());
            const auto* const base = in.data();
            in = in.subspan(r.consumed);
            if (r.status == h3::ReadStatus::need_input) {
                H2W_CHECK(in.empty());
                break;
            }
            H2W_CHECK(reader->buffer_capacity() <= limit);
            std::string item;
            put(item, static_cast<std::uint64_t>(r.status));
            switch (r.status) {
                case h3::ReadStatus::data:
                    H2W_CHECK(r.header.type == 0);
                    H2W_CHECK(r.data.data.empty() || (r.data.data.data() >= base &&
                                                      r.data.data.data() + r.data.data.size() <= base + r.consumed));
                    if (r.data.first) data.clear(), data_length = 0;
                    data.append(reinterpret_cast<const char*>(r.data.data.data()), r.data.data.size());
                    data_length += r.data.data.size();
                    if (!r.data.last) continue;
                    H2W_CHECK(data_length == r.header.length);
                    item += data;
                    break;
                case h3::ReadStatus::frame:
                    item += summary(r.frame);
                    H2W_CHECK(reread(r.frame, o) == summary(r.frame));
                    break;
                case h3::ReadStatus::unknown_frame:
                    H2W_CHECK(!h3::is_known(static_cast<h3::FrameType>(r.header.type)));
                    put(item, r.header.type), put(item, r.header.length);
                    break;
                case h3::ReadStatus::error:
                    H2W_CHECK(!r.error.reason.empty());
                    H2W_CHECK(reader->failed());
                    put(item, static_cast<std::uint64_t>(r.error.code));
                    failed = true;
                    break;
                case h3::ReadStatus::need_input:
                    break;
            }
            items.push_back(std::move(item));
            if (failed) break;
        }
    }
    if (!failed && !in_prefix) {
        const std::optional<h3::Error> e = reader->finish();
        items.push_back(e ? "fin " + std::to_string(static_cast<std::uint64_t>(e->code)) : "fin ok");
        if (e && e->scope == h3::ErrorScope::connection) H2W_CHECK(reader->failed());
    }
    return items;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    h3::ReaderOptions o;
    o.stream = static_cast<h3::StreamKind>((data[0] & 3) % 3);
    o.peer = static_cast<h3::PeerRole>((data[0] >> 2 & 3) % 3);
    o.check_message = (data[0] & 0x10) == 0;
    if (data[0] & 0x20) {
        // Small limits, so H3_EXCESSIVE_LOAD stays easy to reach.
        o.max_frame_payload = 64;
        o.max_field_section = 64;
        o.max_settings = 4;
    }
    const bool prefix = (data[0] & 0x40) != 0;
    const std::span<const std::uint8_t> input(data + 2, size - 2);

    const auto whole = run(input, o, prefix, 0, false);
    const auto pieces = run(input, o, prefix, data[1], true);
    H2W_CHECK(whole == pieces);
    return 0;
}
