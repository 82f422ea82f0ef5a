// The example server's routing, shared by the HTTP/2 and HTTP/3 sessions.
#include "server/route.hpp"

#include <algorithm>

#include "server/file_cache.hpp"

namespace example {

namespace {

int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string safe_path(std::string_view target) {
    target = target.substr(0, target.find('?'));
    if (target.empty() || target[0] != '/') return {};
    std::string p;
    for (std::size_t i = 0; i < target.size(); ++i) {
        char c = target[i];
        if (c == '%') {
            if (i + 2 >= target.size() || hex(target[i + 1]) < 0 || hex(target[i + 2]) < 0) return {};
            c = static_cast<char>(hex(target[i + 1]) * 16 + hex(target[i + 2]));
            i += 2;
        }
        if (c == '\0' || c == '\\') return {};
        p += c;
    }
    for (std::size_t at = 0; at < p.size();) {
        const std::size_t end = std::min(p.find('/', at + 1), p.size());
        const std::string_view seg = std::string_view(p).substr(at + 1, end - at - 1);
        if (seg == "..") return {};
        at = end;
    }
    return p;
}

bool has_query_flag(std::string_view target, std::string_view flag) {
    const std::size_t q = target.find('?');
    if (q == std::string_view::npos) return false;
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
        const std::size_t amp = std::min(query.find('&'), query.size());
        if (query.substr(0, amp) == flag) return true;
        query.remove_prefix(std::min(amp + 1, query.size()));
    }
    return false;
}

std::uint64_t fnv1a(std::uint64_t h, std::span<const std::uint8_t> data) {
    for (const std::uint8_t b : data) h = (h ^ b) * 0x100000001b3ULL;
    return h;
}

Route route_request(std::span<const h2wire::Field> headers, std::string_view method, std::string_view target,
                    const std::string& root, FileCache* cache, std::size_t read_whole) {
    Route r;
    bool te_trailers = false;
    r.content_type = "application/octet-stream";
    for (const h2wire::Field& f : headers) {
        if (f.name == "te" && f.value.find("trailers") != std::string_view::npos) te_trailers = true;
        if (f.name == "content-type") r.content_type = f.value;
    }
    r.trailers = te_trailers && has_query_flag(target, "trailers=1");
    r.head = method == "HEAD";
    const std::string path = safe_path(target);
    if (path == "/echo") {
        if (method != "POST") {
            r.status = 405;
            r.text = "POST only\n";
        } else {
            r.kind = Route::Kind::echo;
        }
    } else if (method != "GET" && !r.head) {
        r.status = 405;
        r.text = "GET, HEAD or POST /echo\n";
        r.head = false;
    } else if (path.empty()) {
        r.status = 400;
        r.text = "bad path\n";
    } else if (std::shared_ptr<const ServedFile> file =
                   cache ? cache->open(root, path) : FileCache::load(root, path, read_whole);
               !file) {
        r.status = 404;
        r.text = "not found\n";
    } else {
        r.kind = Route::Kind::file;
        r.file = std::move(file);
    }
    return r;
}

}  // namespace example
