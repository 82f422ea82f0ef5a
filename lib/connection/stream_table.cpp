// The RFC 9113 §5.1 transition table, the stream map and the reset ledger.
#include "connection/stream_table.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "connection/stream.hpp"

namespace h2wire::detail {

namespace {

using S = StreamState;
constexpr ErrorCode protocol = ErrorCode::protocol_error;
constexpr ErrorCode closed = ErrorCode::stream_closed;

constexpr Transition ok(S next) { return {Outcome::accept, next, ErrorCode::no_error}; }
constexpr Transition conn(ErrorCode c) { return {Outcome::connection_error, S::closed, c}; }
constexpr Transition strm(ErrorCode c) { return {Outcome::stream_error, S::closed, c}; }
constexpr Transition no() { return {Outcome::invalid, S::closed, ErrorCode::no_error}; }

// One row per state, one column per StreamInput, in declaration order:
//   recv: H, DATA, ES, PRIORITY, RST, WINDOW_UPDATE, PP (associated), PP (promised)
//   send: H, DATA, ES, RST, PP (associated), PP (promised)
// Missing pairs do not exist: every cell is spelled out.
constexpr std::array<std::array<Transition, stream_input_count>, stream_state_count> table = {{
    // idle. §5.1: "Receiving any frame other than HEADERS or PRIORITY on a
    // stream in this state MUST be treated as a connection error of type
    // PROTOCOL_ERROR." RST_STREAM "MUST NOT be sent for a stream in the idle
    // state" (§6.4).
    {{ok(S::open), conn(protocol), conn(protocol), ok(S::idle), conn(protocol), conn(protocol), conn(protocol),
      ok(S::reserved_remote),
      ok(S::open), no(), no(), no(), no(), ok(S::reserved_local)}},
    // reserved (local). §5.1: "Receiving any type of frame other than
    // RST_STREAM, PRIORITY, or WINDOW_UPDATE on a stream in this state MUST be
    // treated as a connection error of type PROTOCOL_ERROR." We may send
    // HEADERS (-> half-closed (remote)) or RST_STREAM.
    {{conn(protocol), conn(protocol), conn(protocol), ok(S::reserved_local), ok(S::closed),
      ok(S::reserved_local), conn(protocol), conn(protocol),
      ok(S::half_closed_remote), no(), no(), ok(S::closed), no(), no()}},
    // reserved (remote). §5.1: "Receiving any type of frame other than
    // HEADERS, RST_STREAM, or PRIORITY on a stream in this state MUST be
    // treated as a connection error of type PROTOCOL_ERROR." HEADERS moves it
    // to half-closed (local); we may send RST_STREAM (and WINDOW_UPDATE).
    {{ok(S::half_closed_local), conn(protocol), conn(protocol), ok(S::reserved_remote), ok(S::closed),
      conn(protocol), conn(protocol), conn(protocol),
      no(), no(), no(), ok(S::closed), no(), no()}},
    // open. §5.1: "frames of any type" in both directions; END_STREAM
    // half-closes, RST_STREAM closes. §6.6: PUSH_PROMISE on an open stream.
    {{ok(S::open), ok(S::open), ok(S::half_closed_remote), ok(S::open), ok(S::closed), ok(S::open), ok(S::open),
      conn(protocol),
      ok(S::open), ok(S::open), ok(S::half_closed_local), ok(S::closed), ok(S::open), no()}},
    // half-closed (local). §5.1: we sent END_STREAM; the peer may send
    // anything; its END_STREAM or a RST_STREAM closes. §6.6: a PUSH_PROMISE
    // on a stream that is "half-closed (local)" is fine for the receiver.
    {{ok(S::half_closed_local), ok(S::half_closed_local), ok(S::closed), ok(S::half_closed_local), ok(S::closed),
      ok(S::half_closed_local), ok(S::half_closed_local), conn(protocol),
      no(), no(), no(), ok(S::closed), no(), no()}},
    // half-closed (remote). §5.1: "If an endpoint receives additional frames,
    // other than WINDOW_UPDATE, PRIORITY, or RST_STREAM, for a stream that is
    // in this state, it MUST respond with a stream error of type
    // STREAM_CLOSED." §6.6: PUSH_PROMISE on a stream that is neither "open"
    // nor "half-closed (local)" is a connection PROTOCOL_ERROR.
    {{strm(closed), strm(closed), strm(closed), ok(S::half_closed_remote), ok(S::closed),
      ok(S::half_closed_remote), conn(protocol), conn(protocol),
      ok(S::half_closed_remote), ok(S::half_closed_remote), ok(S::closed), ok(S::closed), ok(S::half_closed_remote),
      no()}},
    // closed. §5.1: "An endpoint that receives any frame other than PRIORITY
    // after receiving a RST_STREAM MUST treat that as a stream error of type
    // STREAM_CLOSED"; WINDOW_UPDATE and RST_STREAM may arrive "for a short
    // period" after END_STREAM and are ignored. (Frames on streams we reset
    // are ignored before this table is consulted, see ResetLedger.)
    {{strm(closed), strm(closed), strm(closed), ok(S::closed), ok(S::closed), ok(S::closed), conn(protocol),
      conn(protocol),
      no(), no(), no(), no(), no(), no()}},
}};

}  // namespace

Transition transition(StreamState state, StreamInput input) noexcept {
    return table[static_cast<std::size_t>(state)][static_cast<std::size_t>(input)];
}

// --- StreamMap ---------------------------------------------------------------

StreamMap::~StreamMap() {
    if (slots_) mr_->deallocate(slots_, cap_ * sizeof(Stream*), alignof(Stream*));
}

Stream* StreamMap::find(std::uint32_t id) const noexcept {
    if (size_ == 0) return nullptr;
    for (std::size_t i = home(id);; i = (i + 1) & (cap_ - 1)) {
        Stream* s = slots_[i];
        if (!s) return nullptr;
        if (s->id == id) return s;
    }
}

void StreamMap::insert(Stream* s) {
    if ((size_ + 1) * 2 > cap_) grow();
    std::size_t i = home(s->id);
    while (slots_[i]) i = (i + 1) & (cap_ - 1);
    slots_[i] = s;
    ++size_;
}

void StreamMap::erase(std::uint32_t id) noexcept {
    if (size_ == 0) return;
    std::size_t i = home(id);
    for (;; i = (i + 1) & (cap_ - 1)) {
        if (!slots_[i]) return;
        if (slots_[i]->id == id) break;
    }
    // Backward-shift deletion: move later members of the probe run into the
    // hole when their home slot does not lie cyclically in (hole, j].
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & (cap_ - 1); slots_[j]; j = (j + 1) & (cap_ - 1)) {
        const std::size_t h = home(slots_[j]->id);
        const bool stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (stays) continue;
        slots_[hole] = slots_[j];
        hole = j;
    }
    slots_[hole] = nullptr;
    --size_;
}

void StreamMap::grow() {
    const std::size_t old_cap = cap_;
    Stream** old = slots_;
    cap_ = old_cap ? old_cap * 2 : 16;
    slots_ = static_cast<Stream**>(mr_->allocate(cap_ * sizeof(Stream*), alignof(Stream*)));
    std::memset(slots_, 0, cap_ * sizeof(Stream*));
    size_ = 0;
    for (std::size_t i = 0; i < old_cap; ++i)
        if (old[i]) {
            std::size_t j = home(old[i]->id);
            while (slots_[j]) j = (j + 1) & (cap_ - 1);
            slots_[j] = old[i];
            ++size_;
        }
    if (old) mr_->deallocate(old, old_cap * sizeof(Stream*), alignof(Stream*));
}

// --- ResetLedger -------------------------------------------------------------

ResetLedger::~ResetLedger() {
    if (ids_) mr_->deallocate(ids_, cap_ * sizeof(std::uint32_t), alignof(std::uint32_t));
}

void ResetLedger::add(std::uint32_t id) {
    if (max_ == 0) return;
    if (size_ == cap_ && cap_ < max_) {
        const std::uint32_t want = std::min<std::uint32_t>(max_, cap_ ? cap_ * 2 : 16);
        auto* n = static_cast<std::uint32_t*>(mr_->allocate(want * sizeof(std::uint32_t), alignof(std::uint32_t)));
        if (size_) std::memcpy(n, ids_, size_ * sizeof(std::uint32_t));
        if (ids_) mr_->deallocate(ids_, cap_ * sizeof(std::uint32_t), alignof(std::uint32_t));
        ids_ = n;
        cap_ = want;
    }
    if (size_ < cap_) {
        ids_[size_++] = id;
        return;
    }
    // Full at the maximum: overwrite the oldest.
    ids_[next_] = id;
    next_ = (next_ + 1) % cap_;
}

bool ResetLedger::contains(std::uint32_t id) const noexcept {
    for (std::uint32_t i = 0; i < size_; ++i)
        if (ids_[i] == id) return true;
    return false;
}

}  // namespace h2wire::detail
