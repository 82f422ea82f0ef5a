// What the example server answers, decided once for HTTP/2 and HTTP/3 alike:
// the session of each protocol asks route_request() what a request gets, then
// moves the bytes its own way (HTTP/2: windows and body sources; HTTP/3: the
// QUIC stack's flow control). The routing knows nothing of either.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "h2wire/header.hpp"

namespace example {

class FileCache;
struct ServedFile;

/// What a request gets.
struct Route {
    enum class Kind : std::uint8_t {
        simple,  ///< a short text (`text`, static storage) with `status`
        echo,    ///< POST /echo: 200, then the request body back
        file,    ///< 200 and `file`
    };
    Kind kind = Kind::simple;
    int status = 200;
    std::string_view text;                   ///< Kind::simple: the body
    std::string_view content_type;           ///< Kind::echo: the request's content-type
    std::shared_ptr<const ServedFile> file;  ///< Kind::file
    bool trailers = false;                   ///< ?trailers=1 with `te: trailers`: end with trailers
    bool head = false;                       ///< HEAD: headers only
};

/// The route of a GET, HEAD or POST (CONNECT is the sessions' own):
///   GET/HEAD /path   a file under `root` (index.html for directories) from
///                    `cache` (or read when it is null: files up to
///                    `read_whole` octets whole); 404, or 400 for paths that
///                    try to leave the root;
///   POST /echo       the body back;
///   other methods    405.
Route route_request(std::span<const h2wire::Field> headers, std::string_view method, std::string_view target,
                    const std::string& root, FileCache* cache, std::size_t read_whole);

/// The request path (without query) percent-decoded, or empty if it is not
/// a safe path below the root: must start with '/', no NUL, no ".." segment.
std::string safe_path(std::string_view target);
/// `flag` is one of the query's &-separated parts.
bool has_query_flag(std::string_view target, std::string_view flag);
/// FNV-1a, 64 bits: the body checksum of the trailers (x-body-fnv1a).
std::uint64_t fnv1a(std::uint64_t h, std::span<const std::uint8_t> data);

}  // namespace example
