// The fuzz targets' invariant check: on failure, says where and aborts, so
// libFuzzer (or the replay runner) reports the input. Active in every build
// type, unlike assert(). Also what several targets share: an input reader,
// a counting memory resource, field names and values.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <array>
#include <limits>
#include <memory_resource>
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

/// Counts what is allocated through it (the octets asked for) and aborts
/// past `limit` octets in use.
class CountingResource : public std::pmr::memory_resource {
public:
    explicit CountingResource(std::size_t limit = std::numeric_limits<std::size_t>::max()) : limit_(limit) {}
    void set_limit(std::size_t limit) { limit_ = limit; }
    std::size_t in_use() const { return in_use_; }
    std::size_t peak() const { return peak_; }
    /// The peak from here on starts at what is in use now.
    void reset_peak() { peak_ = in_use_; }

private:
    void* do_allocate(std::size_t n, std::size_t align) override {
        in_use_ += n;
        peak_ = std::max(peak_, in_use_);
        if (in_use_ > limit_) {
            std::fprintf(stderr, "memory bound exceeded: %zu > %zu\n", in_use_, limit_);
            std::abort();
        }
        return std::pmr::new_delete_resource()->allocate(n, align);
    }
    void do_deallocate(void* p, std::size_t n, std::size_t align) override {
        H2W_CHECK(n <= in_use_);
        in_use_ -= n;
        std::pmr::new_delete_resource()->deallocate(p, n, align);
    }
    bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override { return this == &o; }

    std::size_t limit_;
    std::size_t in_use_ = 0;
    std::size_t peak_ = 0;
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
