// -v output through the library's frame trace (h2wire::FrameTrace): one line
// per frame in the style of `nghttp -v`, with the decoded header fields
// below HEADERS and PUSH_PROMISE, and the payload fields a reader wants
// (settings are shown by the SettingsReceived event instead).
//
//     [c1] recv HEADERS frame <length=31, flags=0x05, stream_id=1> END_STREAM|END_HEADERS
//               :method: GET
//     [c1] send DATA frame <length=512, flags=0x01, stream_id=1> END_STREAM
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "h2wire/frame.hpp"
#include "h2wire/trace.hpp"

namespace example {

class FrameLog : public h2wire::FrameTrace {
public:
    /// `prefix` starts each line (a connection label; may be empty).
    explicit FrameLog(std::string prefix = {}, std::FILE* out = stderr)
        : FrameTrace(/*headers=*/true), prefix_(std::move(prefix)), out_(out) {}
    void on_frame(const h2wire::TracedFrame& f) override;

private:
    std::string prefix_;
    std::FILE* out_;
};

namespace trace_detail = h2wire::frame;

inline void FrameLog::on_frame(const h2wire::TracedFrame& f) {
    const std::string_view dir = h2wire::to_string(f.direction);
    char flag_text[64];
    const std::string_view flags = trace_detail::flag_names(f.frame_type(), f.flags, flag_text);
    std::string type(trace_detail::to_string(f.frame_type()));
    if (!trace_detail::is_known(f.frame_type())) type += "(0x" + std::to_string(f.type) + ")";
    std::fprintf(out_, "%s%s%.*s %s frame <length=%u, flags=0x%02x, stream_id=%u>", prefix_.c_str(),
                 prefix_.empty() ? "" : " ", static_cast<int>(dir.size()), dir.data(), type.c_str(), f.length, f.flags,
                 f.stream);
    if (!flags.empty()) std::fprintf(out_, " %.*s", static_cast<int>(flags.size()), flags.data());
    switch (f.frame_type()) {
        case trace_detail::Type::rst_stream:
        case trace_detail::Type::goaway: {
            const std::string_view c = h2wire::to_string(f.error_code);
            if (f.frame_type() == trace_detail::Type::goaway)
                std::fprintf(out_, " last_stream_id=%u", f.related_stream);
            std::fprintf(out_, " error_code=%.*s", static_cast<int>(c.size()), c.data());
            break;
        }
        case trace_detail::Type::window_update:
            std::fprintf(out_, " window_size_increment=%u", f.window_increment);
            break;
        case trace_detail::Type::push_promise:
            std::fprintf(out_, " promised_stream_id=%u", f.related_stream);
            break;
        default:
            break;
    }
    std::fputc('\n', out_);
    for (const h2wire::Field& h : f.headers)
        std::fprintf(out_, "          %.*s: %.*s\n", static_cast<int>(h.name.size()), h.name.data(),
                     static_cast<int>(h.value.size()), h.value.data());
}

}  // namespace example
