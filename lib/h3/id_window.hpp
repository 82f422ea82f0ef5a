// Which of the peer's stream ids the HTTP/3 connection has taken up, for
// ids that arrive in any order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <vector>

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::h3 {

/// Which of a role's streams ids have been taken up, for ids that arrive in
/// any order (QUIC orders bytes within a stream only): every id below
/// `base` is taken, and bit i of `bits` says whether base + 4i is. The
/// window slides as the lowest ids are taken; it spans at most `max_span`
/// ids beyond `base`, which the peer's stream limit keeps far below.
class IdWindow {
public:
    explicit IdWindow(std::uint64_t first, std::pmr::memory_resource* mr) : base_(first), bits_(mr) {}
    static constexpr std::uint64_t max_span = 1 << 16;  // ids, i.e. 8 KiB of bits at most

    bool taken(std::uint64_t id) const noexcept {
        if (id < base_) return true;
        const std::uint64_t i = (id - base_) / 4;
        return i / 64 < bits_.size() && (bits_[i / 64] >> (i % 64) & 1) != 0;
    }
    /// Every id below `end` was taken.
    bool all_taken_below(std::uint64_t end) const noexcept {
        for (std::uint64_t id = base_; id < end; id += 4)
            if (!taken(id)) return false;
        return true;
    }
    /// Marks `id` taken; false when it lies past the window.
    bool take(std::uint64_t id) {
        if (id < base_) return true;
        const std::uint64_t i = (id - base_) / 4;
        if (i >= max_span) return false;
        if (i / 64 >= bits_.size()) bits_.resize(i / 64 + 1, 0);
        bits_[i / 64] |= std::uint64_t{1} << (i % 64);
        // Slide past the leading run of taken ids, a whole word at a time.
        std::size_t full = 0;
        while (full < bits_.size() && bits_[full] == ~std::uint64_t{0}) ++full;
        if (full != 0) {
            bits_.erase(bits_.begin(), bits_.begin() + static_cast<std::ptrdiff_t>(full));
            base_ += 4 * 64 * full;
        }
        return true;
    }

private:
    std::uint64_t base_;
    std::pmr::vector<std::uint64_t> bits_;
};

}  // namespace h2wire::h3

#pragma GCC visibility pop
