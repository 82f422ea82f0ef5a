// libFuzzer target for frame::Reader.
//
// Input layout: 3 octets choose the max frame size (2^14..2^24-1), 1 octet
// the options (peer role, CONTINUATION check) and the seed of the split, the
// rest is the byte stream. The stream is read whole and again in pieces of
// pseudo-random sizes; the two transcripts must be identical (split
// invariance). Every frame read is written back with the checked writer and,
// when the writer accepts it, read again: it must describe the same frame.
// Any difference traps.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "h2wire/frame.hpp"

namespace {

using namespace h2wire;

void put(std::string& s, std::uint64_t v) {
    s += std::to_string(v);
    s += ',';
}
void put(std::string& s, std::span<const std::uint8_t> b) {
    s.append(reinterpret_cast<const char*>(b.data()), b.size());
    s += '|';
}
void put(std::string& s, std::string_view b) {
    s.append(b);
    s += '|';
}
void put(std::string& s, const std::optional<frame::Padding>& p) {
    if (!p) return put(s, 999);
    put(s, p->length);
    // Received padding always carries its content.
    put(s, p->content);
}
void put(std::string& s, const frame::PriorityFields& p) {
    put(s, p.exclusive);
    put(s, p.dependency);
    put(s, p.weight);
}

// A canonical text of a frame's fields.
std::string summary(const frame::Frame& f) {
    std::string s;
    put(s, f.index());
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, frame::Headers>) {
                put(s, x.stream_id), put(s, x.end_stream), put(s, x.end_headers), put(s, x.padding);
                if (x.priority) put(s, *x.priority);
                put(s, x.fragment);
            } else if constexpr (std::is_same_v<T, frame::Priority>) {
                put(s, x.stream_id), put(s, x.fields);
            } else if constexpr (std::is_same_v<T, frame::RstStream>) {
                put(s, x.stream_id), put(s, static_cast<std::uint32_t>(x.error_code));
            } else if constexpr (std::is_same_v<T, frame::Settings>) {
                put(s, x.ack);
                for (const Setting e : x.entries) put(s, static_cast<std::uint16_t>(e.id)), put(s, e.value);
            } else if constexpr (std::is_same_v<T, frame::PushPromise>) {
                put(s, x.stream_id), put(s, x.end_headers), put(s, x.promised_stream_id), put(s, x.padding);
                put(s, x.fragment);
            } else if constexpr (std::is_same_v<T, frame::Ping>) {
                put(s, x.ack), put(s, x.opaque_data);
            } else if constexpr (std::is_same_v<T, frame::Goaway>) {
                put(s, x.last_stream_id), put(s, static_cast<std::uint32_t>(x.error_code)), put(s, x.debug_data);
            } else if constexpr (std::is_same_v<T, frame::WindowUpdate>) {
                put(s, x.stream_id), put(s, x.increment);
            } else if constexpr (std::is_same_v<T, frame::Continuation>) {
                put(s, x.stream_id), put(s, x.end_headers), put(s, x.fragment);
            } else if constexpr (std::is_same_v<T, frame::Altsvc>) {
                put(s, x.stream_id), put(s, x.origin), put(s, x.field_value);
            } else if constexpr (std::is_same_v<T, frame::Origin>) {
                for (const std::string_view o : x.origins) put(s, o);
            } else if constexpr (std::is_same_v<T, frame::PriorityUpdate>) {
                put(s, x.prioritized_stream_id), put(s, x.field_value);
            } else if constexpr (std::is_same_v<T, frame::Unknown>) {
                put(s, x.type), put(s, x.flags), put(s, x.stream_id), put(s, x.payload);
            } else {
                put(s, static_cast<std::uint8_t>(x.type)), put(s, x.stream_id), put(s, x.payload), put(s, x.reason);
            }
        },
        f);
    return s;
}

void check(bool ok) {
    if (!ok) __builtin_trap();
}

// Reads the frame in `bytes` alone and returns its summary, or "" if it is
// not one frame.
std::string reread(std::span<const std::uint8_t> bytes, frame::ReaderOptions o) {
    o.check_continuation = false;
    frame::Reader r(o);
    const frame::ReadResult res = r.read(bytes);
    if (res.status != frame::ReadStatus::frame || res.consumed != bytes.size()) return {};
    return summary(res.frame);
}

struct Run {
    std::vector<std::string> items;
    bool failed = false;
};

Run run(std::span<const std::uint8_t> input, const frame::ReaderOptions& o, std::uint32_t seed, bool split,
        bool roundtrip) {
    Run out;
    frame::Reader reader(o);
    std::string data;  // DATA frame in progress
    std::uint32_t charged = 0;
    std::vector<std::uint8_t> scratch;
    std::size_t pos = 0;
    std::uint32_t rng = seed * 2654435761u + 1;
    while (pos < input.size() && !out.failed) {
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
        for (;;) {
            const frame::ReadResult r = reader.read(in);
            check(r.consumed <= in.size());
            in = in.subspan(r.consumed);
            if (r.status == frame::ReadStatus::need_input) {
                check(in.empty());
                break;
            }
            std::string item;
            put(item, static_cast<int>(r.status));
            switch (r.status) {
                case frame::ReadStatus::data:
                    if (r.data.first) data.clear(), charged = 0;
                    data.append(reinterpret_cast<const char*>(r.data.data.data()), r.data.data.size());
                    charged += r.data.flow_controlled_length;
                    check(r.data.data.size() <= r.header.length);
                    if (!r.data.last) {
                        check(!r.data.end_stream);
                        continue;
                    }
                    check(charged == r.header.length);
                    put(item, r.data.stream_id), put(item, r.data.end_stream), put(item, data);
                    break;
                case frame::ReadStatus::frame:
                    check(r.header.length <= reader.max_frame_size());
                    item += summary(r.frame);
                    if (roundtrip) {
                        scratch.resize(frame::encoded_size(r.frame));
                        const frame::WriteResult w = frame::write(scratch, r.frame, max_max_frame_size);
                        if (w)
                            check(reread(std::span<const std::uint8_t>(scratch).first(w.size), o) == summary(r.frame));
                    }
                    break;
                case frame::ReadStatus::stream_error:
                    check(!r.stream_error.reason.empty());
                    put(item, static_cast<std::uint32_t>(r.stream_error.code)), put(item, r.stream_error.stream_id);
                    break;
                case frame::ReadStatus::connection_error:
                    check(!r.connection_error.reason.empty());
                    check(reader.failed());
                    put(item, static_cast<std::uint32_t>(r.connection_error.code));
                    out.failed = true;
                    break;
                case frame::ReadStatus::need_input:
                    break;
            }
            out.items.push_back(std::move(item));
            if (out.failed) break;
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    frame::ReaderOptions o;
    const std::uint32_t pick = std::uint32_t{data[0]} << 16 | std::uint32_t{data[1]} << 8 | data[2];
    // 0..2^14 give the default, so FRAME_SIZE_ERROR stays easy to reach.
    o.max_frame_size = std::max<std::uint32_t>(pick, min_max_frame_size);
    o.peer = static_cast<frame::PeerRole>(data[3] % 3);
    o.check_continuation = (data[3] & 4) == 0;
    const std::span<const std::uint8_t> input(data + 4, size - 4);

    const Run whole = run(input, o, 0, false, true);
    const Run pieces = run(input, o, data[3], true, false);
    check(whole.failed == pieces.failed);
    check(whole.items == pieces.items);
    return 0;
}
