// The files the example server serves, and a bounded cache of them.
//
// Without a cache every GET costs open, fstat (twice for a directory), pread
// and close: five system calls for a small file, more than the HTTP/2 work.
// FileCache keeps the whole content of small files in memory, keyed by the
// request path, so that a hit costs no system call at all:
//
//   bounded   at most max_bytes of content and max_entries files, least
//             recently used first out; files larger than max_file are never
//             cached (they are opened and read in chunks as before);
//   fresh     an entry older than `ttl` is revalidated with one stat() of the
//             file: a different inode, device, size, mtime or ctime (a file
//             replaced by rename, rewritten in place, truncated, touched)
//             reloads it, a missing file drops it. Within `ttl` a changed
//             file may still be served as it was (ttl 0: stat() on every
//             hit). A file that changes while it is being loaded is served
//             but not cached;
//   shared    an entry is handed out as a shared_ptr: a response in flight
//             keeps the content it started with, even when the entry is
//             replaced or evicted meanwhile, so a body is never a mix of two
//             versions (something pread() from a file changing underneath
//             cannot promise).
//
// One cache per event loop: it is used from that loop's thread only (no
// lock), and reads no clock: the loop sets the time (set_time()).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace example {

/// One file to serve: its whole content (cached, or small enough to read at
/// once) or an open descriptor to read from.
struct ServedFile {
    ServedFile() = default;
    ~ServedFile();
    ServedFile(const ServedFile&) = delete;
    ServedFile& operator=(const ServedFile&) = delete;

    std::string path;                         ///< the file's name on disk (index.html resolved)
    int fd = -1;                              ///< open when `content` is null
    std::unique_ptr<std::uint8_t[]> content;  ///< the whole file, when held
    std::uint64_t size = 0;
    std::string_view type;  ///< content-type (static storage)
    char length[24] = {};   ///< content-length as text
    std::uint8_t length_size = 0;
    // What revalidation compares (stat()).
    dev_t dev = 0;
    ino_t ino = 0;
    std::int64_t mtime_ns = 0, ctime_ns = 0;

    std::string_view content_length() const { return {length, length_size}; }
    bool held() const { return content != nullptr; }
};

/// The content-type for a file name, by extension.
std::string_view content_type(std::string_view path);

class FileCache {
public:
    struct Limits {
        std::size_t max_bytes = 64u << 20;  ///< content of all entries; 0: no cache
        std::size_t max_file = 1u << 20;    ///< larger files are never held
        std::size_t max_entries = 4096;
        std::chrono::milliseconds ttl{1000};  ///< revalidate entries older than this
    };
    explicit FileCache(const Limits& limits) : limits_(limits) {}

    /// The loop's time, once per turn: entries are revalidated against it.
    void set_time(std::chrono::steady_clock::time_point now) { now_ = now; }

    /// The file for `path` (a safe, percent-decoded request path, '/'
    /// first) below `root`: index.html for a directory. Null when there is no
    /// regular file there (404).
    std::shared_ptr<const ServedFile> open(const std::string& root, std::string_view path);

    /// Octets of content the cache holds.
    std::size_t bytes() const { return bytes_; }
    std::size_t entries() const { return index_.size(); }
    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }

    /// Without a cache: opens the file (small files are read whole when
    /// `read_whole` is at least their size) and returns it, or null.
    static std::shared_ptr<ServedFile> load(const std::string& root, std::string_view path, std::size_t read_whole);

private:
    struct Entry {
        std::string key;
        std::shared_ptr<const ServedFile> file;
        std::chrono::steady_clock::time_point checked;
    };
    void erase(std::list<Entry>::iterator it);

    Limits limits_;
    std::chrono::steady_clock::time_point now_{};
    std::list<Entry> lru_;                                                    // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views into Entry::key
    std::size_t bytes_ = 0;
    std::uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace example
