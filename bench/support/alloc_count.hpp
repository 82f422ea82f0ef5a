// Allocation accounting for the connection benchmarks: a counting
// std::pmr::memory_resource for h2wire (Config::memory) and a counting
// nghttp2_mem for nghttp2 (nghttp2_session_*_new3). Both count calls and the
// octets the library asked for (not the allocator's own overhead), so live
// byte figures of the two libraries compare like with like.
//
// Neither goes through the global operator new: the benchmark counts calls to
// that separately, to catch h2wire allocations that bypass Config::memory.
#pragma once

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory_resource>
#include <new>

namespace bench_support {

struct AllocStats {
    std::uint64_t allocs = 0;  ///< successful allocations (realloc counts as one)
    std::uint64_t frees = 0;
    std::int64_t live = 0;     ///< octets requested and not yet freed
    std::int64_t peak = 0;

    void on_alloc(std::size_t n) noexcept {
        ++allocs;
        live += static_cast<std::int64_t>(n);
        peak = std::max(peak, live);
    }
    void on_free(std::size_t n) noexcept {
        ++frees;
        live -= static_cast<std::int64_t>(n);
    }
};

/// Counts into an AllocStats; memory comes from malloc / aligned_alloc.
class CountingResource final : public std::pmr::memory_resource {
public:
    explicit CountingResource(AllocStats& stats) noexcept : stats_(stats) {}

private:
    static bool over_aligned(std::size_t align) noexcept { return align > alignof(std::max_align_t); }

    void* do_allocate(std::size_t n, std::size_t align) override {
        void* p = nullptr;
        if (over_aligned(align))
            p = std::aligned_alloc(align, (std::max<std::size_t>(n, 1) + align - 1) / align * align);
        else
            p = std::malloc(std::max<std::size_t>(n, 1));
        if (p == nullptr) throw std::bad_alloc();
        stats_.on_alloc(n);
        return p;
    }
    void do_deallocate(void* p, std::size_t n, std::size_t) override {
        std::free(p);
        stats_.on_free(n);
    }
    bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override { return this == &other; }

    AllocStats& stats_;
};

/// An nghttp2_mem or nghttp3_mem (the same five members) counting into
/// `stats`. Each block carries its size in a header in front of it (the
/// libraries' free() does not say the size).
template <class Mem>
class CountingCMem {
public:
    explicit CountingCMem(AllocStats& stats) noexcept
        : mem_{&stats, &CountingCMem::malloc_cb, &CountingCMem::free_cb, &CountingCMem::calloc_cb,
               &CountingCMem::realloc_cb} {}
    Mem* get() noexcept { return &mem_; }

private:
    static constexpr std::size_t header = alignof(std::max_align_t);

    static AllocStats& stats(void* user) noexcept { return *static_cast<AllocStats*>(user); }
    static void* user_ptr(void* base) noexcept { return static_cast<unsigned char*>(base) + header; }
    static void* base_ptr(void* user) noexcept { return static_cast<unsigned char*>(user) - header; }
    static std::size_t size_of(void* user) noexcept {
        std::size_t n;
        std::memcpy(&n, base_ptr(user), sizeof n);
        return n;
    }
    static void* finish(void* base, std::size_t n) noexcept {
        std::memcpy(base, &n, sizeof n);
        return user_ptr(base);
    }

    static void* malloc_cb(std::size_t n, void* user) {
        void* base = std::malloc(n + header);
        if (base == nullptr) return nullptr;
        stats(user).on_alloc(n);
        return finish(base, n);
    }
    static void free_cb(void* p, void* user) {
        if (p == nullptr) return;
        stats(user).on_free(size_of(p));
        std::free(base_ptr(p));
    }
    static void* calloc_cb(std::size_t count, std::size_t size, void* user) {
        const std::size_t n = count * size;
        void* base = std::calloc(1, n + header);
        if (base == nullptr) return nullptr;
        stats(user).on_alloc(n);
        return finish(base, n);
    }
    static void* realloc_cb(void* p, std::size_t n, void* user) {
        if (p == nullptr) return malloc_cb(n, user);
        const std::size_t old = size_of(p);
        void* base = std::realloc(base_ptr(p), n + header);
        if (base == nullptr) return nullptr;
        stats(user).on_free(old);
        stats(user).on_alloc(n);
        return finish(base, n);
    }

    Mem mem_;
};
using CountingNghttp2Mem = CountingCMem<nghttp2_mem>;

}  // namespace bench_support
