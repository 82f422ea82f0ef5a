// The connection's memory budget (Limits::max_connection_memory): a memory
// resource in front of Config::memory that counts what is live. Every
// allocation of a connection goes through it, so memory_used() is exact and
// the budget covers everything, whichever path allocated.
#pragma once

#include <cstddef>
#include <memory_resource>

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::detail {

class MemoryAccount final : public std::pmr::memory_resource {
public:
    MemoryAccount(std::pmr::memory_resource* upstream, std::size_t limit) noexcept
        : upstream_(upstream), limit_(limit) {}

    std::pmr::memory_resource* upstream() const noexcept { return upstream_; }
    std::size_t live() const noexcept { return live_; }
    std::size_t peak() const noexcept { return peak_; }
    std::size_t limit() const noexcept { return limit_; }
    /// Past the budget. Allocations never fail on its account (the input
    /// path has no exceptions); the connection checks this after each frame.
    bool over() const noexcept { return live_ > limit_; }
    /// Room for `n` more octets within the budget.
    bool fits(std::size_t n) const noexcept { return live_ <= limit_ && n <= limit_ - live_; }
    /// Octets held outside the resource that belong to the connection (its
    /// own object, allocated before the account existed).
    void add_external(std::size_t n) noexcept { note(n); }

private:
    void note(std::size_t n) noexcept {
        live_ += n;
        if (live_ > peak_) peak_ = live_;
    }
    void* do_allocate(std::size_t n, std::size_t align) override {
        void* p = upstream_->allocate(n, align);
        note(n);
        return p;
    }
    void do_deallocate(void* p, std::size_t n, std::size_t align) override {
        live_ -= n;
        upstream_->deallocate(p, n, align);
    }
    bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override { return this == &o; }

    std::pmr::memory_resource* upstream_;
    std::size_t limit_;
    std::size_t live_ = 0;
    std::size_t peak_ = 0;
};

}  // namespace h2wire::detail

#pragma GCC visibility pop
