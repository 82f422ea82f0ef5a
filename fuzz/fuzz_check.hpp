// The fuzz targets' invariant check: on failure, says where and aborts, so
// libFuzzer (or the replay runner) reports the input. Active in every build
// type, unlike assert().
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <array>
#include <span>
#include <string>
#include <string_view>

#define H2W_CHECK(cond)                                                                   \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)

/// Reads a fuzz input front to back: octets, 16-bit values and runs of
/// octets; past the end, zeros and empty runs.
class FuzzInput {
public:
    explicit FuzzInput(std::span<const std::uint8_t> in) : in_(in) {}
    std::uint8_t u8() { return pos_ < in_.size() ? in_[pos_++] : 0; }
    std::uint16_t u16() {
        const unsigned hi = u8();
        return static_cast<std::uint16_t>(hi << 8 | u8());
    }
    std::span<const std::uint8_t> bytes(std::size_t n) {
        n = std::min(n, in_.size() - pos_);
        const auto out = in_.subspan(pos_, n);
        pos_ += n;
        return out;
    }
    /// The next `n` octets (fewer at the end) as a string.
    std::string text(std::size_t n) {
        const auto b = bytes(n);
        return {reinterpret_cast<const char*>(b.data()), b.size()};
    }
    bool empty() const { return pos_ >= in_.size(); }

private:
    std::span<const std::uint8_t> in_;
    std::size_t pos_ = 0;
};

/// Field names and values the round-trip targets draw from besides random
/// octets: pseudo-headers, secrets by policy, a name that is not lower case.
constexpr std::array<std::string_view, 20> kFuzzNames = {
    ":method",       ":path",        ":authority",   ":scheme",        ":status",
    "accept",        "accept-encoding", "authorization", "proxy-authorization", "cookie",
    "set-cookie",    "content-type", "content-length", "user-agent",   "cache-control",
    "x-request-id",  "Authorization", "www-authenticate", "referer",   "x",
};
constexpr std::array<std::string_view, 12> kFuzzValues = {
    "GET", "/",         "200", "gzip, deflate",      "",         "https", "text/html; charset=utf-8",
    "0",   "max-age=0", "a=b", "Basic dXNlcjpwYXNz", "no-cache",
};
