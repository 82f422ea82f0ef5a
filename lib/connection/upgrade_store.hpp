// Memory the h2c upgrade (upgrade.cpp, RFC 7540 §3.2) keeps for a while: on a
// server, the HTTP/1.1 request that becomes stream 1 (its fields and body),
// reported by the next receive() and valid until the one after; on a client,
// the HTTP2-Settings header value. One block from the connection's memory
// resource, freed as soon as it is no longer needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory_resource>

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::detail {

class UpgradeStore {
public:
    UpgradeStore() = default;
    ~UpgradeStore() { release(); }
    UpgradeStore(const UpgradeStore&) = delete;
    UpgradeStore& operator=(const UpgradeStore&) = delete;

    /// A fresh block of n octets (the previous one is freed).
    void* allocate(std::pmr::memory_resource* mr, std::size_t n) {
        release();
        mr_ = mr;
        size_ = n ? n : 1;
        p_ = mr_->allocate(size_, alignof(std::max_align_t));
        return p_;
    }
    void release() noexcept {
        if (p_) mr_->deallocate(p_, size_, alignof(std::max_align_t));
        p_ = nullptr;
        size_ = 0;
        receives_ = 0;
    }
    /// Server: the block holds events' views; free it at the second
    /// receive() from now (the first reports the events, their views live
    /// until the next one).
    void expire_after_two_receives() noexcept { receives_ = 2; }
    /// Called at the start of every receive().
    void on_receive() noexcept {
        if (receives_ > 0 && --receives_ == 0) release();
    }
    bool empty() const noexcept { return p_ == nullptr; }

private:
    std::pmr::memory_resource* mr_ = nullptr;
    void* p_ = nullptr;
    std::size_t size_ = 0;
    std::uint8_t receives_ = 0;
};

}  // namespace h2wire::detail

#pragma GCC visibility pop
