// The HPACK static table (RFC 7541 Appendix A) and lookups into it.
#pragma once

#include <cstdint>
#include <string_view>

namespace h2wire::hpack::detail {

struct StaticEntry {
    std::string_view name;
    std::string_view value;
};

/// kStaticTable[i - 1] is static index i, 1..61.
// RFC 7541 Appendix A.
inline constexpr StaticEntry kStaticTable[61] = {
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
};

constexpr std::uint32_t kStaticTableSize = 61;

struct StaticMatch {
    std::uint32_t name_index = 0;  ///< first index with this name, 0 if none
    std::uint32_t full_index = 0;  ///< index with this name and value, 0 if none
};

/// Finds `name` (whose hash_bytes is `name_hash`) and `value` in the static table.
StaticMatch static_lookup(std::string_view name, std::string_view value, std::uint64_t name_hash) noexcept;

}  // namespace h2wire::hpack::detail
