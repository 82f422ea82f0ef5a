// The files the example server serves, and their cache (see file_cache.hpp).
#include "server/file_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <utility>

namespace example {

ServedFile::~ServedFile() {
    if (fd >= 0) ::close(fd);
}

std::string_view content_type(std::string_view path) {
    static constexpr std::pair<std::string_view, std::string_view> types[] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"},
        {".css", "text/css"},
        {".js", "text/javascript"},
        {".mjs", "text/javascript"},
        {".json", "application/json"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".svg", "image/svg+xml"},
        {".ico", "image/x-icon"},
        {".wasm", "application/wasm"},
        {".pdf", "application/pdf"},
        {".xml", "application/xml"},
    };
    const std::size_t dot = path.rfind('.');
    const std::size_t slash = path.rfind('/');
    if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
        const std::string_view ext = path.substr(dot);
        for (const auto& [e, t] : types)
            if (std::equal(e.begin(), e.end(), ext.begin(), ext.end(),
                           [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? b + 32 : b); }))
                return t;
    }
    return "application/octet-stream";
}

namespace {

std::int64_t nanos(const timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// The identity revalidation compares: a file replaced (rename: another
// inode), rewritten, truncated or touched differs in one of these.
bool same_file(const struct stat& st, const ServedFile& f) {
    return S_ISREG(st.st_mode) && st.st_dev == f.dev && st.st_ino == f.ino &&
           static_cast<std::uint64_t>(st.st_size) == f.size && nanos(st.st_mtim) == f.mtime_ns &&
           nanos(st.st_ctim) == f.ctime_ns;
}

// Opens the file for a request path; reads it whole when it is at most
// `read_whole` octets. `stable`: it did not change while it was read (the
// identity before and after is the same), so it may be cached.
std::shared_ptr<ServedFile> load_file(const std::string& root, std::string_view path, std::size_t read_whole,
                                      bool& stable) {
    stable = false;
    std::string name;
    name.reserve(root.size() + path.size() + 11);
    name.append(root).append(path);
    if (name.back() == '/') name += "index.html";
    int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd);
        name += "/index.html";
        fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) ::close(fd);
        return nullptr;
    }
    auto f = std::make_shared<ServedFile>();
    f->fd = fd;
    f->size = static_cast<std::uint64_t>(st.st_size);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->mtime_ns = nanos(st.st_mtim);
    f->ctime_ns = nanos(st.st_ctim);
    f->type = content_type(name);
    f->length_size =
        static_cast<std::uint8_t>(std::to_chars(f->length, f->length + sizeof f->length, f->size).ptr - f->length);
    f->path = std::move(name);
    if (f->size > read_whole) return f;  // read in chunks as the stream can send
    auto content = std::make_unique_for_overwrite<std::uint8_t[]>(std::max<std::size_t>(f->size, 1));
    std::size_t got = 0;
    while (got < f->size) {
        const ssize_t n = ::pread(fd, content.get() + got, f->size - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return f;  // shrank or failed: served from the descriptor (the stream resets if it is short)
        got += static_cast<std::size_t>(n);
    }
    struct stat after {};
    stable = ::fstat(fd, &after) == 0 && same_file(after, *f);
    f->content = std::move(content);
    ::close(fd);
    f->fd = -1;
    return f;
}

}  // namespace

std::shared_ptr<ServedFile> FileCache::load(const std::string& root, std::string_view path, std::size_t read_whole) {
    bool stable = false;
    return load_file(root, path, read_whole, stable);
}

std::shared_ptr<const ServedFile> FileCache::open(const std::string& root, std::string_view path) {
    constexpr std::size_t read_small = 16 * 1024;  // uncached files this small are read whole at once
    if (limits_.max_bytes == 0) return load(root, path, read_small);
    if (const auto it = index_.find(path); it != index_.end()) {
        Entry& e = *it->second;
        bool fresh = now_ - e.checked < limits_.ttl;
        if (!fresh) {
            struct stat st {};
            fresh = ::stat(e.file->path.c_str(), &st) == 0 && same_file(st, *e.file);
            e.checked = now_;
        }
        if (fresh) {
            lru_.splice(lru_.begin(), lru_, it->second);
            ++hits_;
            return e.file;
        }
        erase(it->second);  // changed or gone: load it again
    }
    ++misses_;
    const std::size_t max_file = std::min(limits_.max_file, limits_.max_bytes);
    bool stable = false;
    std::shared_ptr<ServedFile> f = load_file(root, path, std::max(max_file, read_small), stable);
    if (!f || !f->held() || !stable || f->size > max_file || limits_.max_entries == 0) return f;
    lru_.push_front(Entry{std::string(path), f, now_});
    index_.emplace(lru_.front().key, lru_.begin());
    bytes_ += f->size;
    while ((bytes_ > limits_.max_bytes || index_.size() > limits_.max_entries) && lru_.size() > 1)
        erase(std::prev(lru_.end()));
    return f;
}

void FileCache::erase(std::list<Entry>::iterator it) {
    bytes_ -= it->file->size;
    index_.erase(std::string_view(it->key));
    lru_.erase(it);
}

}  // namespace example
