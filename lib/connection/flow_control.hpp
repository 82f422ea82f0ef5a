// Flow-control arithmetic (RFC 9113 §5.2, §6.9): window bounds, the
// coalescing rule for WINDOW_UPDATE, and settings deltas. The connection
// applies these to its own window and to each stream's.
#pragma once

#include <algorithm>
#include <cstdint>

#include "h2wire/settings.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::detail {

/// RFC 9113 §6.9.1: "A sender MUST NOT allow a flow-control window to exceed
/// 2^31-1 octets." Adds a received WINDOW_UPDATE increment to a send window;
/// false (window unchanged) when the result would pass 2^31-1.
template <class Window>
bool add_increment(Window& window, std::uint32_t increment) noexcept {
    const std::int64_t next = static_cast<std::int64_t>(window) + increment;
    if (next > static_cast<std::int64_t>(max_window_size)) return false;
    window = static_cast<Window>(next);
    return true;
}

/// RFC 9113 §6.9.2: a change of SETTINGS_INITIAL_WINDOW_SIZE moves every
/// stream window by the difference; the result may be negative, but a window
/// past 2^31-1 is a connection FLOW_CONTROL_ERROR. False when `window + delta`
/// would pass the maximum (window unchanged).
template <class Window>
bool apply_delta(Window& window, std::int64_t delta) noexcept {
    const std::int64_t next = static_cast<std::int64_t>(window) + delta;
    if (next > static_cast<std::int64_t>(max_window_size)) return false;
    // Never below -(2^31-1): a window only falls by what was sent within it.
    window = static_cast<Window>(std::max<std::int64_t>(next, -static_cast<std::int64_t>(max_window_size)));
    return true;
}

/// Coalescing rule for the receive side: give consumed octets back with one
/// WINDOW_UPDATE once they reach half of the window we want the peer to have
/// (never one per DATA frame).
inline bool update_due(std::uint64_t credit, std::uint64_t target) noexcept {
    return credit > 0 && credit >= std::max<std::uint64_t>(1, target / 2);
}

/// The largest increment one WINDOW_UPDATE may carry such that the window we
/// advertise stays within 2^31-1 (it is `credit` except when the application
/// consumed more than it was sent, which consume() forbids).
inline std::uint32_t clamp_increment(std::int64_t window, std::uint64_t credit) noexcept {
    const std::int64_t room = static_cast<std::int64_t>(max_window_size) - window;
    if (room <= 0) return 0;
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(credit, static_cast<std::uint64_t>(room)));
}

/// A send window as the application sees it: never negative.
inline std::uint64_t usable(std::int64_t window) noexcept {
    return window > 0 ? static_cast<std::uint64_t>(window) : 0;
}

}  // namespace h2wire::detail

#pragma GCC visibility pop
