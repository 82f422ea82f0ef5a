// A std::pmr::memory_resource that counts what goes through it, for the
// tests of the allocation rules (no allocation once warm, memory given back).
#pragma once

#include <cstddef>
#include <memory_resource>

namespace h2wire::test_support {

class CountingResource : public std::pmr::memory_resource {
public:
    std::size_t allocations = 0;  ///< calls of allocate()
    std::size_t bytes = 0;        ///< octets ever allocated
    std::size_t live = 0;         ///< octets allocated and not yet given back
    std::size_t peak = 0;         ///< the most `live` has been

private:
    void* do_allocate(std::size_t n, std::size_t align) override {
        ++allocations;
        bytes += n;
        live += n;
        if (live > peak) peak = live;
        return std::pmr::new_delete_resource()->allocate(n, align);
    }
    void do_deallocate(void* p, std::size_t n, std::size_t align) override {
        live -= n;
        std::pmr::new_delete_resource()->deallocate(p, n, align);
    }
    bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override { return this == &o; }
};

}  // namespace h2wire::test_support
