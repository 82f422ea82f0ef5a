// Frame trace for -v (see trace.hpp).
#include "common/trace.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

namespace example {

namespace fr = h2wire::frame;

FrameTrace::FrameTrace(std::string_view arrow, bool preface, std::FILE* out)
    : arrow_(arrow),
      preface_left_(preface ? fr::client_preface.size() : 0),
      out_(out),
      reader_(fr::ReaderOptions{fr::max_max_frame_size, fr::PeerRole::unknown, true}) {}

void FrameTrace::feed(std::span<const h2wire::OutputChunk> pieces, std::size_t n) {
    for (const h2wire::OutputChunk& c : pieces) {
        if (n == 0) break;
        const std::size_t k = std::min(n, c.size);
        feed(std::span(c.data, k));
        n -= k;
    }
}

void FrameTrace::feed(std::span<const std::uint8_t> bytes) {
    const std::size_t skip = std::min(preface_left_, bytes.size());
    if (skip) std::fprintf(out_, "%.*s connection preface\n", static_cast<int>(arrow_.size()), arrow_.data());
    preface_left_ -= skip;
    bytes = bytes.subspan(skip);
    while (!bytes.empty() && !reader_.failed()) {
        const fr::ReadResult r = reader_.read(bytes);
        bytes = bytes.subspan(r.consumed);
        if (r.status == fr::ReadStatus::need_input) break;
        if (r.status == fr::ReadStatus::data && !r.data.first) continue;  // one line per DATA frame
        char flags[64];
        const std::string_view type = fr::to_string(r.header.type);
        const std::string_view fl = fr::flag_names(r.header.type, r.header.flags, flags);
        std::fprintf(out_, "%.*s %.*s stream=%u length=%u flags=[%.*s]", static_cast<int>(arrow_.size()), arrow_.data(),
                     static_cast<int>(type.size()), type.data(), r.header.stream_id, r.header.length,
                     static_cast<int>(fl.size()), fl.data());
        if (r.status == fr::ReadStatus::frame) {
            std::visit(
                [&](const auto& f) {
                    using F = std::decay_t<decltype(f)>;
                    if constexpr (std::is_same_v<F, fr::Settings>) {
                        for (const h2wire::Setting s : f.entries) {
                            const std::string_view name = h2wire::to_string(s.id);
                            std::fprintf(out_, " %.*s=%u", static_cast<int>(name.size()), name.data(), s.value);
                        }
                    } else if constexpr (std::is_same_v<F, fr::WindowUpdate>) {
                        std::fprintf(out_, " increment=%u", f.increment);
                    } else if constexpr (std::is_same_v<F, fr::RstStream>) {
                        const std::string_view c = h2wire::to_string(f.error_code);
                        std::fprintf(out_, " error=%.*s", static_cast<int>(c.size()), c.data());
                    } else if constexpr (std::is_same_v<F, fr::Goaway>) {
                        const std::string_view c = h2wire::to_string(f.error_code);
                        std::fprintf(out_, " last_stream=%u error=%.*s", f.last_stream_id, static_cast<int>(c.size()),
                                     c.data());
                    }
                },
                r.frame);
        } else if (r.status != fr::ReadStatus::data) {
            std::fprintf(out_, " (error)");
        }
        std::fputc('\n', out_);
    }
}

}  // namespace example
