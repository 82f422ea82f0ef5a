// The header fields of the exchange benchmarks, HTTP/2 (connection_bench.cpp)
// and HTTP/3 (h3_bench.cpp) alike, so that the two protocols' figures
// compare: a browser's GET for a script and a server's 200 for it.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include "h2wire/header.hpp"

namespace bench_support {

constexpr std::string_view cookie_value =
    "sid=7f3a9c2e41b8d05a6c1e9f2b7d4a8e31; theme=dark; lang=en-US; csrftoken=Zx81Qp4LmN72Wc";
static_assert(cookie_value.size() >= 80 && cookie_value.size() <= 90);

constexpr std::size_t request_field_count = 10;
constexpr std::size_t response_field_count = 8;

/// A GET of `path` (which must outlive the fields): 4 pseudo-headers,
/// user-agent, accept, accept-encoding, accept-language, referer and an
/// 85-octet cookie.
inline std::array<h2wire::Field, request_field_count> request_fields(std::string_view path) {
    return {{
        {":method", "GET"},
        {":scheme", "https"},
        {":authority", "www.example.com"},
        {":path", path},
        {"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
        {"accept", "*/*"},
        {"accept-encoding", "gzip, deflate, br"},
        {"accept-language", "en-US,en;q=0.5"},
        {"referer", "https://www.example.com/"},
        {"cookie", cookie_value},
    }};
}

/// A 200 with `content_type` and content-length `length` (both must outlive
/// the fields), and date, server, cache-control, etag and vary.
inline std::array<h2wire::Field, response_field_count> response_fields(std::string_view content_type,
                                                                         std::string_view length) {
    return {{{":status", "200"},
             {"content-type", content_type},
             {"content-length", length},
             {"date", "Mon, 01 Jul 2024 12:00:00 GMT"},
             {"server", "bench/1.0"},
             {"cache-control", "public, max-age=3600"},
             {"etag", "\"5d8c72a5edda8-1f4\""},
             {"vary", "accept-encoding"}}};
}

}  // namespace bench_support
