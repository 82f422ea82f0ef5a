// Connection::Impl: the state of one HTTP/2 connection. Its member functions
// are spread over files by topic:
//   connection.cpp         construction, public API glue, settings, PING, GOAWAY, shutdown
//   receive.cpp            receive(): preface, frame dispatch, control frames, DATA
//   receive_headers.cpp    header blocks in: CONTINUATION, HPACK, §8 checks, events
//   send.cpp               submit_* / send_* / reset_stream / push_promise, stream lifecycle
//   flow_control.cpp       windows both ways, WINDOW_UPDATE in and out, consume()
//   output/scheduler.cpp   building output: control, header blocks, DATA round robin
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "connection/buffers.hpp"
#include "connection/flow_control.hpp"
#include "connection/memory_account.hpp"
#include "connection/message_validation.hpp"
#include "connection/output/ready_set.hpp"
#include "connection/output/scheduler.hpp"
#include "connection/stream.hpp"
#include "connection/stream_table.hpp"
#include "connection/upgrade_store.hpp"
#include "h2wire/connection.hpp"
#include "h2wire/frame.hpp"
#include "h2wire/hpack.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire {

namespace detail {

/// A FIFO of (stream, id) entries. Entries are dropped lazily: a stream that
/// was released (and maybe reused under another id) no longer matches its id
/// and is skipped. `live` counts the entries still valid; forget() is called
/// when a stream leaves without being popped.
class StreamFifo {
public:
    explicit StreamFifo(std::pmr::memory_resource* mr) : items_(mr) {}
    void push(Stream* s) {
        items_.push_back(Entry{s, s->id});
        ++live_;
    }
    /// The first entry still valid for `flag` (which the stream must carry),
    /// or null. Invalid entries in front are dropped.
    Stream* front(std::uint32_t flag) {
        while (head_ < items_.size()) {
            const Entry& e = items_[head_];
            if (e.s->id == e.id && e.s->has(flag)) return e.s;
            ++head_;
        }
        items_.clear();
        head_ = 0;
        return nullptr;
    }
    /// Removes the entry front() returned.
    void pop() {
        --live_;
        if (++head_ == items_.size()) {
            items_.clear();
            head_ = 0;
        } else if (head_ >= 1024 && head_ * 2 >= items_.size()) {
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }
    /// A stream with an entry went away; its entry is now stale.
    void forget() noexcept { --live_; }
    bool empty() const noexcept { return live_ == 0; }
    /// Drops every entry front() would skip (so no entry names a stream
    /// object that is no longer in use) and gives back spare capacity.
    void compact_and_shrink() {
        std::size_t kept = 0;
        for (std::size_t i = head_; i < items_.size(); ++i) {
            const Entry& e = items_[i];
            if (e.s->id == e.id && e.id != 0) items_[kept++] = e;
        }
        items_.resize(kept);
        items_.shrink_to_fit();
        head_ = 0;
    }

private:
    struct Entry {
        Stream* s;
        std::uint32_t id;
    };
    std::pmr::vector<Entry> items_;
    std::size_t head_ = 0;
    std::size_t live_ = 0;
};

/// Up to N trivially copyable values, oldest first, in a block taken from the
/// connection's memory resource when the first one arrives: state that is
/// needed now and then (SETTINGS awaiting their ACK, PINGs awaiting theirs)
/// costs an idle connection a pointer and a count. The owner gives the block
/// back (release()) when it sees fit and before it goes.
template <class T, std::size_t N>
class SmallQueue {
    static_assert(std::is_trivially_copyable_v<T> && N <= 255);

public:
    SmallQueue() = default;
    SmallQueue(const SmallQueue&) = delete;
    SmallQueue& operator=(const SmallQueue&) = delete;
    ~SmallQueue() { assert(items_ == nullptr); }

    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return count_ == 0; }
    bool full() const noexcept { return count_ == N; }
    const T& operator[](std::size_t i) const noexcept { return items_[i]; }
    /// Appends `v`; the queue must not be full.
    void push_back(std::pmr::memory_resource* mr, const T& v) {
        if (items_ == nullptr) items_ = static_cast<T*>(mr->allocate(N * sizeof(T), alignof(T)));
        items_[count_++] = v;
    }
    /// Removes entry `i`, keeping the order of the others.
    void erase(std::size_t i) noexcept {
        std::memmove(items_ + i, items_ + i + 1, (count_ - i - 1) * sizeof(T));
        --count_;
    }
    /// Gives the block back (entries included).
    void release(std::pmr::memory_resource* mr) noexcept {
        if (items_ != nullptr) mr->deallocate(items_, N * sizeof(T), alignof(T));
        items_ = nullptr;
        count_ = 0;
    }
    /// Gives the block back when it holds nothing.
    void release_if_empty(std::pmr::memory_resource* mr) noexcept {
        if (count_ == 0) release(mr);
    }

private:
    T* items_ = nullptr;
    std::uint8_t count_ = 0;
};

/// What a FrameTrace needs beyond the pointer to it, allocated when the first
/// tracer is attached (trace.cpp): an untraced connection holds none of it.
struct TraceState {
    explicit TraceState(std::pmr::memory_resource* mr) : store(mr), lengths(mr), fields(mr) {}
    TracedFrame in{};                         // the received frame being traced
    hpack::Decoder* decoder = nullptr;        // sent header blocks, decoded for the tracer
    ByteBuffer store;                         // names and values of the sent block being decoded
    std::pmr::vector<std::uint32_t> lengths;  // name, value lengths in `store`
    std::pmr::vector<Field> fields;
    bool block_broken = false;  // the sent block could not be decoded
};

/// What happens to the header block being received.
enum class BlockFate : std::uint8_t {
    deliver,  ///< decode, check, report
    discard,  ///< decode only (refused, reset, ignored stream); RST_STREAM, if any, is already queued
};

/// The header block being received (HEADERS or PUSH_PROMISE and its
/// CONTINUATIONs, RFC 9113 §4.3).
struct InboundBlock {
    bool active = false;
    bool push = false;        ///< PUSH_PROMISE
    bool end_stream = false;  ///< END_STREAM on the HEADERS
    bool self_dependent = false;  ///< HEADERS priority names its own stream (RFC 9113 §5.3.1)
    bool opens = false;           ///< the HEADERS opens a new peer stream
    BlockFate fate = BlockFate::deliver;
    std::uint32_t stream_id = 0;
    std::uint32_t promised_id = 0;
    Stream* target = nullptr;  ///< the stream the block is for (promised stream for a push)
    std::uint32_t bytes = 0;   ///< field block octets so far
    std::uint32_t continuations = 0;
    Arena::Mark fields_from;   ///< where the block's fields start in the arena

    /// The stream may go away between two fragments of the block (the
    /// application resets it; its object is then recycled, maybe for another
    /// stream, or freed by trim()): the rest of the block is decoded for
    /// HPACK's sake only.
    void drop_gone_target() noexcept {
        if (target && target->id != (push ? promised_id : stream_id)) {
            target = nullptr;
            fate = BlockFate::discard;
        }
    }
};

}  // namespace detail

struct __attribute__((visibility("hidden"))) Connection::Impl {
    explicit Impl(const Config& config);
    ~Impl();
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    using Stream = detail::Stream;

    // ---- configuration and layers -------------------------------------------
    Config cfg;
    detail::MemoryAccount account;  // Limits::max_connection_memory; every allocation goes through it
    std::pmr::memory_resource* mr;  // &account
    frame::Reader reader;
    hpack::Decoder decoder;
    hpack::Encoder encoder;

    // ---- settings (RFC 9113 §6.5) ---------------------------------------------
    Settings local;       // ours, in force (ACKed by the peer)
    Settings local_sent;  // ours, as last sent
    static constexpr std::size_t max_pending_settings = 8;
    // Sent, not ACKed, oldest first; the block goes back once all are ACKed
    // (SETTINGS are rare: an idle connection holds none).
    detail::SmallQueue<Settings, max_pending_settings> pending_settings;
    Settings peer;        // the peer's, in force
    bool peer_settings_seen = false;
    std::uint8_t preface_matched = 0;  // server: octets of the client preface seen

    // ---- streams (RFC 9113 §5.1) ----------------------------------------------
    detail::BufferPool buffers;  // header-store buffers of streams (declared before any stream user)
    detail::StreamMap streams;
    detail::ResetLedger ledger;
    Stream* free_streams = nullptr;
    std::uint32_t free_count = 0;
    std::uint32_t next_local_id;           // next id we hand out
    std::uint32_t highest_local_sent = 0;  // highest of our ids that went on the wire
    std::uint32_t highest_peer_id = 0;     // highest peer-initiated id seen (idle vs closed)
    std::uint32_t last_peer_processed = 0; // for our GOAWAY
    std::uint32_t active_local = 0;        // ours, open or half-closed
    std::uint32_t active_peer = 0;         // the peer's, open or half-closed
    std::uint32_t reserved_local = 0;      // promised by us, not yet answered
    std::uint32_t reserved_remote = 0;     // promised by the peer, not yet answered (Limits::max_reserved_streams)
    std::uint32_t queued_requests = 0;     // client requests waiting for a slot
    // Limits::max_rapid_resets (send.cpp, note_peer_abort). A call "opened"
    // peer ids from call_first_peer_id up when call_open_stamp == input_calls.
    std::uint64_t input_calls = 0;         // receive() calls with input
    std::uint64_t bytes_received = 0;      // octets given to receive() (Limits::stream_walk_budget refill)
    std::uint64_t call_open_stamp = ~std::uint64_t{0};
    std::uint32_t call_first_peer_id = 0;
    std::int64_t allowance_cap() const noexcept { return cfg.limits.max_rapid_resets; }
    std::int64_t rapid_allowance = 4 * std::int64_t{cfg.limits.max_rapid_resets};  // in quarters
    std::int64_t cancel_allowance = cfg.limits.max_rapid_resets;
    std::uint64_t allowance_calls = 0;     // input_calls when the allowances were last refilled
    std::uint64_t stream_walks = 0;        // stream visits paid (Limits::stream_walk_budget)
    std::uint64_t useful_frames = 0;  // Limits::max_empty_frames (receive.cpp, count_empty_frame)
    std::uint64_t empty_frames = 0;

    // ---- flow control (RFC 9113 §5.2, §6.9) -------------------------------------
    std::int64_t conn_send_window = 65535;
    std::int64_t conn_recv_window = 65535;  // what the peer may still send
    std::uint64_t conn_recv_target = 65535; // the window we keep offering
    std::uint64_t conn_credit = 0;          // consumed, not yet returned
    std::uint64_t conn_unconsumed = 0;      // manual mode: delivered, not consumed
    bool conn_blocked = false;              // DATA waited for the connection window
    std::int64_t conn_send_high = 65535;    // the largest the connection send window has been
    bool conn_window_raised = false;        // the peer has sent a WINDOW_UPDATE on stream 0

    // ---- receiving --------------------------------------------------------------
    detail::Arena arena;
    std::pmr::vector<Event> events;
    std::pmr::vector<Event> deferred;  // caused by API calls, reported by the next receive()
    std::pmr::vector<Event> taken;     // deferred events handed out by take_events()
    std::pmr::vector<Field> block_fields;
    detail::InboundBlock block;
    /// The message checks (RFC 9113 §8) of the block being received, fed
    /// each field as it is decoded; reset for the kind of message once the
    /// block's stream is known (apart from `block`, which is reset whole).
    detail::MessageScan block_scan;
    struct FastData {               // DATA frame parsed without the reader (receive.cpp)
        std::uint32_t stream = 0;
        std::uint32_t length = 0;
        std::uint32_t left = 0;     // payload octets still to come
        bool active = false;        // a frame is in progress: payload or its first report to come
        bool first = false;         // no chunk of it reported yet
        bool end_stream = false;
    } fast_data;
    bool reader_idle = false;       // the reader is between frames, outside a header block (read_frame())
    bool arena_dirty = false;       // the arena may hold something (a reader item came since its reset)
    Stream* data_stream = nullptr;  // DATA frame in progress: its stream, or null to drop
    std::uint32_t data_stream_id = 0;
    bool in_receive = false;

    // ---- sending ----------------------------------------------------------------
    detail::BlockPool pool;
    detail::Output out;
    std::size_t copy_budget_;       // copy_budget(), from Limits::max_connection_memory
    detail::ByteBuffer ctrl;        // committed frames, in order: control frames and header blocks
    std::uint32_t ctrl_frames = 0;  // control frames among them (Limits::max_queued_control_frames)
    std::uint32_t ctrl_stale = 0;   // of those, queued before this receive() call
    detail::ByteBuffer scratch;     // large header blocks before splitting
    std::pmr::vector<Field> send_fields;
    detail::StreamFifo header_fifo;  // streams with leading header blocks to send
    detail::StreamFifo open_fifo;    // client requests waiting for a stream slot
    detail::StreamFifo wu_fifo;      // streams owed a WINDOW_UPDATE
    detail::ReadySet ready;          // streams with DATA to send, by priority (ready_set.hpp)
    Stream* finishing = nullptr;     // streams with only trailers or an empty END_STREAM to send (circular)
    // RFC 9218 §7.1: the latest PRIORITY_UPDATE for each client stream not
    // opened yet (server), in no order, applied when the request arrives.
    struct IdlePriority {
        std::uint32_t id;
        Priority priority;
    };
    std::pmr::vector<IdlePriority> idle_priorities;
    // Updates held for idle streams, at most (besides the RFC's bound, our
    // SETTINGS_MAX_CONCURRENT_STREAMS less the active streams).
    static constexpr std::size_t max_idle_priorities = 256;

    // ---- bodies pulled on demand, room for push-style bodies (body.cpp) -----------
    detail::Body* free_bodies = nullptr;  // kept for reuse until trim()
    detail::Lend* free_lends = nullptr;
    std::uint32_t bodies_live = 0;        // attached, or waiting for their lends
    bool dying = false;                   // in the destructor: sources are not called
    struct SpaceWaiter {
        Stream* stream;
        std::uint32_t id;  // stale when the stream object's id differs
    };
    std::pmr::vector<SpaceWaiter> space_waiters;  // streams with want_space

    // ---- connection lifecycle ----------------------------------------------------
    enum class Shutdown : std::uint8_t { none, announced, final };
    Shutdown shutdown_phase = Shutdown::none;
    bool goaway_sent = false;
    std::uint32_t goaway_last_sent = frame::max_stream_id;
    bool goaway_received = false;
    std::uint32_t goaway_last_received = frame::max_stream_id;
    bool closed = false;  // no more input; only control frames go out
    static constexpr std::size_t max_pings = 16;
    // Payloads of our PINGs not ACKed yet; the block is kept while PINGs go
    // out and given back by trim() or at the end of an epoch once empty.
    detail::SmallQueue<std::array<std::uint8_t, 8>, max_pings> pings;
    static constexpr std::array<std::uint8_t, 8> shutdown_ping = {'h', '2', 'w', 'g', 'o', 'a', 'w', 'y'};

    // ---- h2c upgrade (upgrade.cpp, RFC 7540 §3.2) ---------------------------------
    bool io_started = false;      // bytes received or output consumed: too late to upgrade
    detail::UpgradeStore upgrade; // the upgraded request (server) or HTTP2-Settings text (client)

    // ---- observability (trace.cpp; public side in trace.hpp) -----------------------
    ConnectionCounters counters{};
    FrameTrace* tracer = nullptr;
    bool trace_headers_in = false;    // the tracer wants received header lists
    bool trace_owed = false;          // trace_state->in waits for its header block's end (decode_fragment)
    bool preface_in_ctrl = false;     // client: the preface still opens `ctrl` (not a frame)
    bool block_committed = false;     // a header block was encoded into `ctrl` (commit_block)
    detail::TraceState* trace_state = nullptr;  // from the first set_trace() with a tracer on

    void count_received(std::uint8_t type, std::uint32_t length) noexcept {
        const std::size_t b = frame_type_bucket(type);
        ++counters.received.frames[b];
        counters.received.octets[b] += frame::header_size + std::uint64_t{length};
    }
    void count_sent(std::uint8_t type, std::uint32_t length) noexcept {
        const std::size_t b = frame_type_bucket(type);
        ++counters.sent.frames[b];
        counters.sent.octets[b] += frame::header_size + std::uint64_t{length};
    }
    void trip(Limit l) noexcept { ++counters.limits_tripped[static_cast<std::size_t>(l)]; }
    void set_trace(FrameTrace* t);
    void drop_trace_decoder() noexcept;
    void drop_trace_state() noexcept;  // the decoder too
    /// A received frame: its trace, now or (`trace_owed`, the end of a header
    /// block when headers are wanted) once the block is decoded. `f`: the
    /// parsed frame, when there is one, for the fields a log wants.
    void trace_received(const frame::FrameHeader& h, const frame::Frame* f);
    /// The owed trace of a received frame: `fields` when its block decoded.
    void finish_received_trace(std::span<const Field> fields, bool decoded);
    /// Counts (and traces) the whole frames in [p, p + n) built into output.
    /// Returns how many octets of the last frame's payload lie past p + n
    /// (elsewhere: a zero-copy DATA payload), 0 when none do.
    std::size_t account_sent(const std::uint8_t* p, std::size_t n);
    /// One frame built into output: `header` its 9 octets; `payload` its
    /// payload when contiguous after them (null when it lies elsewhere).
    void trace_sent(const std::uint8_t* header, const std::uint8_t* payload);
    void trace_sent_block_fragment(std::span<const std::uint8_t> fragment, bool end);
    /// Where the output ends, to count what a body source builds.
    struct OutMark {
        std::size_t chunk;
        std::uint32_t buf_len;
    };
    OutMark out_mark() const noexcept;
    void account_since(OutMark m);

    // ---- connection.cpp ----------------------------------------------------------
    bool is_client() const noexcept { return cfg.role == Role::client; }
    bool is_local_id(std::uint32_t id) const noexcept { return ((id & 1) != 0) == is_client(); }
    Settings initial_local_settings() const noexcept;
    void queue_settings(const Settings& target, const Settings* previous);
    void on_settings_ack();
    void connection_error(ErrorCode code, std::string_view reason);
    void terminate(ErrorCode code, Initiator by, std::uint32_t last_stream_id, std::string_view reason);
    /// The malformed header section whose stream error is being handled
    /// (stream_error()): carried by a ConnectionTerminated it causes.
    InvalidHeader rejecting{};
    /// What last_invalid_header() reports (send.cpp, refuse_fields()).
    InvalidHeader last_invalid{};
    /// The connection ended: every stream it holds ends too (those still
    /// open with `code` and `by`), its pending output copied where it lends
    /// the application's memory, and is released (StreamClosed).
    void finish_streams(ErrorCode code, Initiator by);
    /// An event: into this receive()'s list, or kept for the next one when an
    /// API call caused it. Built in place (no Event temporary).
    ///
    /// Limits::max_connection_memory: the list of this call's events grows
    /// only within the budget. When it may not, the budget has tripped: the
    /// connection ends after the frame in hand, and events other than its
    /// ConnectionTerminated and StreamClosed (one per stream: the
    /// application may be waiting for it to free memory) are dropped (one
    /// slot is always kept for ConnectionTerminated).
    template <class E>
    void report(E&& ev) {
        if (!in_receive) {
            deferred.emplace_back(std::forward<E>(ev));
            return;
        }
        constexpr bool terminal = std::is_same_v<std::decay_t<E>, ConnectionTerminated>;
        constexpr bool kept = terminal || std::is_same_v<std::decay_t<E>, StreamClosed>;
        if (events.size() + 2 > events.capacity() && !grow_events()) [[unlikely]] {
            if constexpr (!kept) return;
            // Past the budget: StreamClosed takes room a few at a time, and
            // leaves the slot of ConnectionTerminated free.
            if constexpr (!terminal) events.reserve(events.size() + 16);
        }
        events.emplace_back(std::forward<E>(ev));
    }
    bool grow_events();
    // ---- memory that follows the load (memory.cpp) ---------------------------
    // What a burst grew (stream objects kept for reuse, spare send blocks,
    // output buffers, event lists, arena chunks, the stream map) goes back
    // without Connection::trim() once the load no longer needs it: at the end
    // of each epoch of epoch_calls receive() calls with input, whatever is
    // past what this epoch and the one before used at most goes (with slack:
    // buffers past four times, stream objects past twice). A steady load
    // keeps what it uses and allocates nothing; rounds of work that span
    // several epochs are covered because the peaks decay by half an epoch.
    static constexpr std::uint32_t epoch_calls = 256;
    /// The most of something used at once in this epoch and the one before.
    detail::RecentPeak<std::size_t> out_peak;       // octets of the output buffer (or its chunk list), at the end of a build
    detail::RecentPeak<std::size_t> deferred_peak;  // events of API calls collected at once
    detail::RecentPeak<std::size_t> events_peak;    // events of one receive()
    std::uint32_t epoch_left = epoch_calls;
    detail::RecentPeak<std::uint32_t> streams_peak;  // live streams
    void note_streams_peak() noexcept {
        streams_peak.note(static_cast<std::uint32_t>(std::min<std::size_t>(streams.size(), UINT32_MAX / 2)));
    }
    void release_idle_output() noexcept;
    // ---- rounds (memory.cpp) ----
    // A round ends when no stream is left and all output was consumed
    // (consume_output()): nothing refers to a stream object, a send block or
    // the output buffers any more, only to the events (the arena, the event
    // lists), which stay. A connection that goes quiet after a burst may
    // never call receive() again, so the epochs would never give back what
    // the burst grew: a round that needed more than twice the stream objects
    // of any round before it gives back its spares at once. A steady load
    // regrows them in its second round and from then on keeps them (its
    // rounds are alike).
    std::uint32_t round_streams = 0;  // the largest round's stream objects (its peak)
    void end_round() noexcept;
    void end_epoch() noexcept;
    /// Frees stream objects kept for reuse past `keep`. Amortized: what the
    /// lists it cleans hold is paid for by the releases that made them stale.
    void shed_streams(std::uint32_t keep) noexcept;
    /// At the start of receive() with input, when nothing of the last call
    /// is live any more.
    void follow_load() noexcept {
        if (--epoch_left == 0) [[unlikely]] {
            epoch_left = epoch_calls;
            end_epoch();
        }
        const std::uint32_t keep = std::max(16u, streams_peak.recent());
        if (free_count > 2 * keep) [[unlikely]] shed_streams(keep);
    }
    /// Empties an event list, noting how many it held (end_epoch() gives
    /// the memory of a list a burst grew back).
    void shed_events(std::pmr::vector<Event>& v, detail::RecentPeak<std::size_t>& peak) noexcept {
        peak.note(v.size());
        v.clear();
    }
    /// Room for a control frame of `n` octets at the end of `ctrl`, keeping
    /// room for a GOAWAY behind it. Past the budget it trips it (see
    /// memory_budget_ok) and grows only by what the frame and the GOAWAY need.
    std::uint8_t* ctrl_room(std::size_t n);
    bool memory_tripped = false;  // a buffer could not grow within the budget
    std::size_t live_at_call = 0;  // memory_used() when this receive() call began
    /// This call's events hold an eighth of Limits::max_connection_memory:
    /// new requests are refused rather than let the budget end the
    /// connection (receive_headers.cpp).
    bool crowded() const noexcept { return account.live() > live_at_call + account.limit() / 8; }
    void queue_goaway(std::uint32_t last, ErrorCode code, std::span<const std::uint8_t> debug);
    void queue_ping(bool ack, const std::array<std::uint8_t, 8>& data);
    void queue_rst(std::uint32_t id, ErrorCode code);
    bool control_budget_ok();  // false after ENHANCE_YOUR_CALM
    /// Limits::max_connection_memory, checked after each frame received:
    /// false (and ENHANCE_YOUR_CALM) once the connection holds more.
    bool memory_budget_ok() {
        if (!account.over() && !memory_tripped) [[likely]] return true;
        trip(Limit::max_connection_memory);
        connection_error(ErrorCode::enhance_your_calm, "connection memory budget exceeded");
        return false;
    }
    void maybe_finish_shutdown();
    std::uint32_t local_max_concurrent() const noexcept;
    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS; until its SETTINGS arrive,
    /// 100 (the RFC's initial value is unlimited, but RFC 9113 §6.5.2 advises
    /// no less than 100, and opening more before knowing invites refusals).
    std::uint32_t peer_max_concurrent() const noexcept {
        return peer_settings_seen ? peer.max_concurrent_streams : std::min<std::uint32_t>(peer.max_concurrent_streams, 100);
    }

    // ---- receive.cpp ---------------------------------------------------------------
    std::span<const Event> receive(std::span<const std::uint8_t> bytes);
    std::span<const Event> receive_general(std::span<const std::uint8_t> bytes);
    void release_events() noexcept;  // the previous call's event storage
    bool quick_data_header(std::span<const std::uint8_t> bytes);
    bool quick_data_payload(std::span<const std::uint8_t> bytes);
    std::span<const Event> receive_data_payload(std::span<const std::uint8_t> bytes);
    std::size_t consume_preface(std::span<const std::uint8_t> in);
    bool fast_data_start(std::span<const std::uint8_t>& bytes);
    bool fast_headers(std::span<const std::uint8_t>& bytes);
    void fast_data_chunk(std::span<const std::uint8_t> data);
    void on_data_chunk(std::uint32_t stream, std::span<const std::uint8_t> data, bool first, bool last, bool end_stream,
                       std::uint32_t flc);
    struct ReadStep {
        std::size_t consumed;
        bool more;  // false: the reader needs more input
    };
    ReadStep read_frame(std::span<const std::uint8_t> bytes);
    void dispatch(const frame::ReadResult& r);
    void on_frame_stream_error(const StreamError& e, frame::Type type);
    void on_data(const frame::DataChunk& d);
    void on_settings(const frame::Settings& f);
    void on_ping(const frame::Ping& f);
    void on_goaway(const frame::Goaway& f);
    void on_rst_stream(const frame::RstStream& f);
    void on_priority(const frame::Priority& f);
    void on_priority_update(const frame::PriorityUpdate& f);
    /// A new request's priority (RFC 9218 §5, §7.1), set on its stream.
    Priority opening_priority(Stream* s, std::span<const Field> fields);
    void count_empty_frame();
    // The rules a DATA frame must meet, each written once and called by every
    // path that takes DATA (on_data() and the fast paths in receive.cpp).
    // RFC 9113 §6.9.1: within the connection and the stream windows.
    bool within_connection_window(std::uint32_t flc) const noexcept { return flc <= conn_recv_window; }
    static bool within_stream_window(const Stream* s, std::uint32_t flc) noexcept {
        return static_cast<std::int64_t>(flc) <= s->recv_window;
    }
    // RFC 9113 §8.1: DATA only after the final header section.
    bool expects_body(const Stream* s) const noexcept {
        return !cfg.validate_messages || s->recv_phase == detail::RecvPhase::body;
    }
    // RFC 9113 §8.1.1: the declared content-length, when checked.
    bool checks_length(const Stream* s) const noexcept {
        return cfg.validate_messages && s->content_length >= 0 && !s->has(detail::stream_flag::no_length_check);
    }
    bool past_content_length(const Stream* s, std::uint64_t received) const noexcept {
        return checks_length(s) && received > static_cast<std::uint64_t>(s->content_length);
    }
    bool short_of_content_length(const Stream* s, std::uint64_t received) const noexcept {
        return checks_length(s) && received != static_cast<std::uint64_t>(s->content_length);
    }
    /// All the rules for the start of a DATA frame on `s` at once (§5.1: a
    /// state that may receive; the windows; the message phase): true when the
    /// frame may be taken without a second look.
    bool data_frame_fits(const Stream* s, std::uint32_t flc) const noexcept {
        return s && within_connection_window(flc) && detail::can_receive(s->state) && expects_body(s) &&
               within_stream_window(s, flc);
    }
    std::string_view keep(std::string_view s) { return {arena.copy(s.data(), s.size()), s.size()}; }
    std::span<const std::uint8_t> keep(std::span<const std::uint8_t> b) {
        return {reinterpret_cast<const std::uint8_t*>(arena.copy(b.data(), b.size())), b.size()};
    }
    /// State of a stream not in the map: idle above the highest id of its
    /// initiator, closed below.
    detail::StreamState implied_state(std::uint32_t id) const noexcept;
    /// Stream error detected on input: RST_STREAM + StreamReset event
    /// (carrying `bad` when a malformed header section caused it).
    void stream_error(std::uint32_t id, Stream* s, ErrorCode code, std::string_view reason, InvalidHeader bad = {});

    // ---- receive_headers.cpp --------------------------------------------------------
    void on_headers(const frame::Headers& f);
    void on_push_promise(const frame::PushPromise& f);
    void on_continuation(const frame::Continuation& f);
    bool decode_fragment(std::span<const std::uint8_t> fragment, bool end);
    void finish_block();
    void forget_block_fields() noexcept;
    bool deliver_request(Stream* s, std::span<const Field> fields);
    bool deliver_response(Stream* s, std::span<const Field> fields);
    bool deliver_trailers(Stream* s, std::span<const Field> fields);
    bool deliver_push(std::span<const Field> fields);
    /// The block's header section on `s` breaks `e`: stream error
    /// PROTOCOL_ERROR naming the rule and the field (RFC 9113 §8.1.1).
    void reject_block(Stream* s, std::span<const Field> fields, HeaderError e);
    void peer_end_stream(Stream* s);

    // ---- send.cpp ---------------------------------------------------------------------
    Stream* new_stream(std::uint32_t id, detail::StreamState state, bool local);
    /// `normal`: both sides ended it (not a reset, a refusal or a withdrawn
    /// promise).
    void set_state(Stream* s, detail::StreamState next, bool normal = true);
    void release_stream(Stream* s);
    void drop_send_queue(Stream* s);
    void reset_local(Stream* s, ErrorCode code, bool peer_caused);  // RST_STREAM sent by us, stream gone
    /// Gone without RST_STREAM of ours (reset by the peer, refused by
    /// GOAWAY, never sent, the end of the connection), or after it
    /// (reset_local). `code` and `by` say how, for StreamClosed.
    void drop_stream(Stream* s, ErrorCode code, Initiator by);
    void note_peer_open(std::uint32_t id) noexcept;  // a peer stream opened (or refused) in this call
    /// Limits::max_rapid_resets. `unanswered`: a stream the application had
    /// been handed and not answered (false for a refusal). It may end the
    /// connection (and so release every stream): call it last.
    void note_peer_abort(std::uint32_t id, bool unanswered);
    /// Limits::stream_walk_budget: pays for visiting `visits` streams; false
    /// (and ENHANCE_YOUR_CALM) when the budget is spent.
    bool pay_stream_walk(std::size_t visits);
    void output_done(Stream* s, std::size_t n);
    Stream* find(std::uint32_t id) const noexcept { return streams.find(id); }
    Stream* sendable_stream(std::uint32_t id, ApiError& err);
    /// `memos`, when not null: the block is encoded right after (commit_block
    /// with the same memos), so its fields are looked up in the encoder first
    /// and the checks skip fields known valid (see send.cpp).
    ApiError check_outbound(std::span<const Field> fields, detail::BlockKind kind, Stream* s,
                            detail::RequestInfo* req, detail::ResponseInfo* resp, detail::SendMemos* memos = nullptr);
    /// The application's fields break `e`: last_invalid says which one;
    /// returns ApiError::invalid_header.
    ApiError refuse_fields(std::span<const Field> fields, detail::MessageKind kind, HeaderError e);
    void commit_block(Stream* s, std::span<const Field> fields, bool end_stream, std::uint32_t promised,
                      const detail::SendMemos* memos = nullptr);
    /// Limits::max_connection_memory: octets send_data() may copy into the
    /// stream's send blocks now (the open block's room, spare blocks, and
    /// new blocks within the budget less the quarter kept for the peer).
    std::size_t copy_capacity(const Stream* s) const noexcept;
    std::size_t open_block_room(const Stream* s) const noexcept;  // part of copy_capacity() that is the stream's
    std::size_t shared_copy_room() const noexcept;                // the rest, shared by all streams
    bool copy_fits(const Stream* s, std::size_t n) const noexcept;
    std::size_t receive_reserve() const noexcept { return cfg.limits.max_connection_memory / 4; }
    /// `accepted` not null: send_data_partial(), which takes what fits and says
    /// how much there.
    ApiError queue_data(std::uint32_t id, std::span<const std::uint8_t> data, bool end_stream, bool borrowed,
                        std::size_t* accepted = nullptr);
    Submitted submit_request(std::span<const Field> headers, bool end_stream, void* user_data);
    // ---- priorities (RFC 9218; send.cpp) ----
    /// `headers` and a `priority` field for `p` (none for the defaults), in
    /// send_fields.
    std::span<const Field> with_priority(std::span<const Field> headers, Priority p, PriorityText& text);
    ApiError set_priority(std::uint32_t id, Priority p);
    ApiError reprioritize(std::uint32_t id, Priority p);
    /// PRIORITY_UPDATE for stream `s` right behind its HEADERS, just built
    /// into the output (a queued request that reprioritize() changed).
    void send_owed_priority_update(Stream* s);
    ApiError submit_response(std::uint32_t id, std::span<const Field> headers, bool end_stream);
    ApiError send_trailers(std::uint32_t id, std::span<const Field> trailers);
    ApiError reset_stream(std::uint32_t id, ErrorCode code);
    Submitted push_promise(std::uint32_t id, std::span<const Field> headers, void* user_data);
    /// Connection::set_stream_user_data(): the stream's events already
    /// reported and not yet collected, or returned by the last receive(),
    /// carry `user_data` too (the application attaches it while handling
    /// RequestReceived, and the rest of that receive()'s events follow).
    /// `from`: where in `events` the stream's events may start.
    void patch_user_data(std::uint32_t id, void* user_data, std::size_t from) noexcept;
    /// The user data of stream `id` when the connection holds it, else null.
    void* user_data_of(std::uint32_t id) const noexcept {
        const Stream* s = find(id);
        return s ? s->user_data : nullptr;
    }

    // ---- output/body.cpp -------------------------------------------------------------------
    /// What one turn of a stream with a body source came to (send_one()).
    enum class PullTurn : std::uint8_t {
        done,    ///< a frame built, the stream parked or ended, or waiting for its window
        stuck,   ///< nothing built: no connection window, or the output is full
        queued,  ///< a lend queued: frame it as queued DATA
    };
    detail::Body* new_body();
    void attach_body(Stream* s, BodySource& source);
    ApiError set_body_source(std::uint32_t id, BodySource& source);
    Submitted submit_request(std::span<const Field> headers, BodySource& body, void* user_data);
    ApiError submit_response(std::uint32_t id, std::span<const Field> headers, BodySource& body);
    ApiError resume_body(std::uint32_t id);
    void park_body(Stream* s);
    bool pull_window(Stream* s, PullTurn& turn);
    void place_first_payload(std::size_t frame_size);
    PullTurn pull_copy(Stream* s);
    PullTurn pull_lend(Stream* s);
    void send_body_trailers(Stream* s, std::span<const Field> trailers);
    void abort_body(Stream* s);
    /// The stream lets go of its source (`complete`: all of the body is in
    /// the output); finished() follows once no lend is out.
    void end_body(Stream* s, bool complete);
    void finish_body(detail::Body* b);
    void lend_released(detail::Lend* l) noexcept;
    static void lend_hook(void* impl, detail::Lend* l) noexcept { static_cast<Impl*>(impl)->lend_released(l); }
    void free_body_pools() noexcept;  // memory.cpp: the spare Body and Lend objects
    void wait_for_space(Stream* s);
    /// Octets send_data() would take on `s` now (Connection::send_capacity()).
    std::size_t capacity_of(const Stream* s) const noexcept;
    void wake_space_waiters();
    DataAccepted send_data_partial(std::uint32_t id, std::span<const std::uint8_t> data, bool end_stream);

    // ---- flow_control.cpp ---------------------------------------------------------------
    void on_window_update(const frame::WindowUpdate& f);
    void credit(Stream* s, std::uint64_t n);  // octets handed back to the windows
    void apply_peer_initial_window(std::uint32_t value, std::uint32_t largest);
    void apply_local_initial_window(std::uint32_t old_value, std::uint32_t new_value);
    void notify_writable(Stream* s);
    ApiError consume(std::uint32_t id, std::size_t n);
    void build_window_updates();

    // ---- output/scheduler.cpp -------------------------------------------------------------
    void build(bool copy_data);
    /// Octets of unconsumed output past which a build copies no more DATA
    /// into the output buffer (pending_output(), and sources that copy).
    std::size_t copy_budget() const noexcept { return copy_budget_; }
    static std::size_t copy_budget_for(std::size_t memory_limit) noexcept;
    /// Octets the output buffer may still grow by within copy_budget()
    /// (Limits::max_connection_memory: send_data() leaves room for them).
    std::size_t output_reserve() const noexcept;
    void build_header_blocks();
    void build_requests();
    bool send_leading_blocks(Stream* s);
    void build_data(bool copy_data);
    bool send_one(Stream* s, bool copy_data);
    bool send_middle_frame(Stream* s, std::uint32_t frame_cap);
    void send_middle_burst(Stream* s, std::uint32_t frame_cap, std::size_t budget);
    void send_trailers_now(Stream* s);
    void make_ready(Stream* s);
    void unready(Stream* s);
    void change_priority(Stream* s, Priority p);
    void after_send_headers(Stream* s, bool end_stream);
    void after_send_end_stream(Stream* s);
    bool wants_write() const noexcept;
};

// Called once per received DATA frame: inline.
inline void Connection::Impl::credit(Stream* s, std::uint64_t n) {
    if (n == 0) return;
    conn_credit += n;
    if (!s) return;
    s->recv_credit += static_cast<std::uint32_t>(std::min<std::uint64_t>(n, UINT32_MAX - s->recv_credit));
    // Coalesce: one WINDOW_UPDATE once half the stream's window is consumed
    // (never one per DATA frame). The window the peer counts from is ours in
    // force or, once it has seen our latest SETTINGS, that one: take the
    // smaller so the peer never waits on credit we hold back.
    if (s->has(detail::stream_flag::in_wu)) return;
    const std::uint32_t target = std::min(local.initial_window_size, local_sent.initial_window_size);
    if (detail::update_due(s->recv_credit, target)) {
        s->set(detail::stream_flag::in_wu);
        wu_fifo.push(s);
    }
}

}  // namespace h2wire

#pragma GCC visibility pop
