// The HTTP/3 connection (RFC 9114): streams the caller's QUIC stack carries,
// QPACK (RFC 9204) on the encoder and decoder streams, and the message
// checks shared with HTTP/2 (connection/message_validation.hpp).
//
// Data flow. Input comes per stream: a request stream's bytes go through
// its h3::Reader (frames), HEADERS through the QPACK decoder, and out as
// events; a section that waits for inserts (RFC 9204 §2.1.2) parks its
// stream, whose later bytes are copied aside until the encoder stream brings
// the inserts. Output is per stream too: each stream has a queue of segments
// (frames in pooled blocks, DATA payload lent as is) that next_output()
// hands out and consume_output() / acknowledged() release.
#include "h2wire/h3connection.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <unordered_map>
#include <vector>

#include "connection/buffers.hpp"
#include "connection/memory_account.hpp"
#include "connection/message_validation.hpp"
#include "h2wire/qpack.hpp"

namespace h2wire::h3 {

namespace {

constexpr bool is_bidi(std::uint64_t id) noexcept { return (id & 2) == 0; }
constexpr bool client_initiated(std::uint64_t id) noexcept { return (id & 1) == 0; }
// The largest GOAWAY id a server can send: the last client-initiated
// bidirectional stream id below 2^62 (RFC 9114 §5.2).
constexpr std::uint64_t kMaxClientBidi = max_varint - 3;
// Our encoder's own bounds on the peer's table (RFC 9204 §3.2.3).
constexpr std::uint32_t kEncoderCapacity = 4096;
constexpr std::uint32_t kEncoderBlocked = 100;
// Output chunks handed out per next_output().
constexpr std::size_t kMaxChunks = 16;
// Smallest pooled output block: a HEADERS frame and a DATA header fit.
constexpr std::size_t kMinBlock = 256;

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

/// One piece of a stream's output.
struct Segment {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    std::uint8_t* block = nullptr;  // the pooled block holding `data`; null when lent
    std::size_t cap = 0;            // the block's size
};

/// A stream's output: segments from the oldest octet not yet released to
/// the newest queued. Octets go through three marks: written (taken by the
/// QUIC stack), then released (acknowledged, or written when nothing is
/// retained).
class OutQueue {
public:
    explicit OutQueue(std::pmr::memory_resource* mr) : segs_(mr) {}

    /// Room for `n` octets at the end, in a pooled block.
    std::uint8_t* append(std::size_t n, detail::BufferPool& pool) {
        if (segs_.size() > first_) {
            Segment& last = segs_.back();
            std::uint8_t* end = const_cast<std::uint8_t*>(last.data) + last.size;
            if (last.block != nullptr && end + n <= last.block + last.cap) {
                if (wseg_ == segs_.size()) {  // it was all written: write on from its end
                    wseg_ = segs_.size() - 1;
                    woff_ = last.size;
                }
                last.size += n;
                pending_ += n;
                return end;
            }
        }
        std::size_t cap = 0;
        std::uint8_t* block = pool.take(std::max(n, kMinBlock), cap);
        segs_.push_back({block, n, block, cap});
        pending_ += n;
        return block;
    }
    /// `n` octets lent by the application.
    void lend(const std::uint8_t* p, std::size_t n) {
        if (n == 0) return;
        segs_.push_back({p, n, nullptr, 0});
        pending_ += n;
    }
    /// Drops the last `n` octets appended (a frame that was not finished).
    void unappend(std::size_t n) noexcept {
        segs_.back().size -= n;
        pending_ -= n;
    }

    std::size_t pending() const noexcept { return pending_; }
    std::size_t retained() const noexcept { return retained_; }

    /// Up to `max` chunks of unwritten octets.
    std::size_t chunks(OutputChunk* out, std::size_t max, std::size_t& total) const noexcept {
        std::size_t k = 0;
        total = 0;
        std::size_t off = woff_;
        for (std::size_t i = wseg_; i < segs_.size() && k < max; ++i, off = 0) {
            const Segment& s = segs_[i];
            if (s.size == off) continue;
            out[k++] = {s.data + off, s.size - off};
            total += s.size - off;
        }
        return k;
    }

    /// The first `n` unwritten octets were written.
    void written(std::size_t n, bool retain, detail::BufferPool& pool) {
        pending_ -= n;
        retained_ += n;
        while (n > 0) {
            const Segment& s = segs_[wseg_];
            const std::size_t step = std::min(n, s.size - woff_);
            woff_ += step;
            n -= step;
            if (woff_ == s.size) {
                ++wseg_;
                woff_ = 0;
            }
        }
        if (!retain) release(retained_, pool);
    }

    /// The first `n` written octets not yet released are released.
    void release(std::size_t n, detail::BufferPool& pool) {
        n = std::min(n, retained_);
        retained_ -= n;
        while (n > 0) {
            Segment& s = segs_[first_];
            const std::size_t step = std::min(n, s.size - foff_);
            foff_ += step;
            n -= step;
            if (foff_ == s.size && (first_ + 1 < segs_.size() || wseg_ > first_)) drop_first(pool);
        }
        // A last segment that is wholly released goes too (it is not extended
        // once released: append() only extends segments at or after first_).
        if (first_ < segs_.size() && retained_ == 0 && pending_ == 0 && foff_ == segs_[first_].size)
            drop_first(pool);
        if (first_ == segs_.size()) {
            segs_.clear();
            first_ = wseg_ = 0;
            foff_ = woff_ = 0;
        }
    }

    /// Everything goes (the stream was reset, or the connection ends).
    void clear(detail::BufferPool& pool) {
        for (std::size_t i = first_; i < segs_.size(); ++i)
            if (segs_[i].block != nullptr) pool.give(segs_[i].block, segs_[i].cap);
        segs_.clear();
        first_ = wseg_ = 0;
        foff_ = woff_ = 0;
        pending_ = retained_ = 0;
    }

private:
    void drop_first(detail::BufferPool& pool) {
        Segment& s = segs_[first_];
        if (s.block != nullptr) pool.give(s.block, s.cap);
        s = {};
        ++first_;
        foff_ = 0;
        if (wseg_ < first_) {
            wseg_ = first_;
            woff_ = 0;
        }
    }

    std::pmr::vector<Segment> segs_;
    std::size_t first_ = 0;  // oldest segment holding unreleased octets
    std::size_t foff_ = 0;   // octets of segs_[first_] released
    std::size_t wseg_ = 0;   // segment of the next unwritten octet
    std::size_t woff_ = 0;
    std::size_t pending_ = 0;   // queued, not written
    std::size_t retained_ = 0;  // written, not released
};

enum class Kind : std::uint8_t {
    request,        // a bidirectional request stream
    local_control,  // our unidirectional streams
    local_encoder,
    local_decoder,
    local_grease,  // a stream of reserved type (RFC 9114 §6.2.3), written once and ended
    peer_new,  // a peer's unidirectional stream whose type is not read yet
    peer_control,
    peer_encoder,
    peer_decoder,
};

}  // namespace

struct Connection::Impl {
    struct Stream {
        Stream(std::uint64_t stream_id, Kind k, std::pmr::memory_resource* mr)
            : id(stream_id), kind(k), out(mr), section(stream_id, this), held(mr) {}
        std::uint64_t id;
        Kind kind;
        void* user = nullptr;
        OutQueue out;
        std::optional<Reader> reader;  // request streams and the peer's control stream
        StreamHeaderReader type_reader;
        qpack::Section section;       // the header section being decoded
        std::pmr::vector<std::uint8_t> held;  // input after a blocked section
        std::uint64_t held_consumed = 0;  // octets of held the reader has had
        std::int64_t content_left = -1;   // content-length still due, or -1
        ErrorCode close_code = ErrorCode::h3_no_error;
        Initiator close_by = Initiator::local;
        bool fin_queued = false;     // our FIN is queued after the output
        bool send_done = false;      // our side ended (FIN written, or reset)
        bool recv_done = false;      // the peer's side ended (FIN read, reset, or we stopped reading)
        bool held_fin = false;       // the peer's FIN came while input was held
        bool blocked = false;        // the header section waits for inserts
        bool flow_blocked = false;   // the QUIC stack is out of credit for it
        bool seen = false;           // the application knows the stream
        bool final_in = false;       // final response (client) or request (server) header section read
        bool final_out = false;      // final response sent (server)
        bool head = false;           // our request was HEAD: the response has no content (client)
        bool tunnel = false;         // a CONNECT that got a 2xx: content-length does not apply
        bool ready = false;          // in ready_
        bool closing = false;        // StreamClosed is being reported
    };

    explicit Impl(const ConnectionConfig& c)
        : config(c),
          account(c.memory, c.limits.max_connection_memory),
          mr(&account),
          stream_mem(mr),
          pool(mr),
          arena(mr),
          events(mr),
          api_events(mr),
          streams(&stream_mem),
          ready(mr),
          commands(mr),
          scratch_fields(mr),
          spare(&stream_mem),
          peer_bidi(0, mr),
          peer_uni(c.role == Role::server ? 2 : 3, mr),
          decoder(qpack::DecoderLimits{c.settings.qpack_max_table_capacity, c.settings.qpack_blocked_streams,
                                       static_cast<std::uint32_t>(std::min<std::uint64_t>(
                                           c.settings.max_field_section_size, 0xffffffffu)),
                                       c.limits.max_field_size, static_cast<std::uint32_t>(std::min<std::size_t>(
                                                                     c.limits.max_held_input, 0xffffffffu)),
                                       64 * 1024},
                  mr),
          encoder(qpack::EncoderOptions{kEncoderCapacity, kEncoderBlocked, true, 1024}, mr),
          control(~std::uint64_t{0}, Kind::local_control, mr),
          enc_stream(~std::uint64_t{0}, Kind::local_encoder, mr),
          dec_stream(~std::uint64_t{0}, Kind::local_decoder, mr),
          grease_stream(~std::uint64_t{0}, Kind::local_grease, mr) {
        account.add_external(sizeof(Impl));
        peer_settings.max_field_section_size = max_varint;  // RFC 9114 §7.2.4.1: unlimited by default
        peer_settings.qpack_max_table_capacity = 0;         // RFC 9204 §5
        peer_settings.qpack_blocked_streams = 0;
        peer_settings.enable_connect_protocol = false;
        // Queued now, so that they come first on their streams whatever
        // happens before bind_local_streams() names them.
        queue_settings();
    }
    ~Impl() {
        for (auto& [id, s] : streams) destroy(s);
        for (Stream* s : spare) {
            std::pmr::polymorphic_allocator<Stream> alloc(&stream_mem);
            alloc.delete_object(s);
        }
        for (Stream* l : locals()) l->out.clear(pool);
    }

    ConnectionConfig config;
    detail::MemoryAccount account;  // memory_used(), Limits::max_connection_memory
    std::pmr::memory_resource* mr;  // &account
    /// Streams, their map nodes and their buffers: recycled, so that a warm
    /// connection allocates nothing per request; it keeps what the most
    /// streams open at once used.
    std::pmr::unsynchronized_pool_resource stream_mem;
    detail::BufferPool pool;
    detail::Arena arena;  // fields and texts of this call's events
    std::pmr::vector<Event> events;      // handed out by the last call that returns events
    std::pmr::vector<Event> api_events;  // caused by API calls since
    bool in_input = false;
    std::pmr::unordered_map<std::uint64_t, Stream*> streams;  // request streams and the peer's uni streams
    std::pmr::vector<Stream*> ready;                          // request streams with output, in turn
    std::size_t ready_next = 0;
    std::pmr::vector<StreamCommand> commands;
    std::size_t commands_next = 0;
    std::pmr::vector<Field> scratch_fields;
    std::pmr::vector<Stream*> spare;  // stream objects kept for reuse (destroy())
    IdWindow peer_bidi;
    IdWindow peer_uni;
    qpack::Decoder decoder;
    qpack::Encoder encoder;
    Stream control;
    Stream enc_stream;
    Stream dec_stream;
    Stream grease_stream;
    bool grease_bound = false;
    /// Our unidirectional stream `id`, once bound, or null.
    Stream* local(std::uint64_t id) noexcept {
        if (!bound) return nullptr;
        if (id == control.id) return &control;
        if (id == enc_stream.id) return &enc_stream;
        if (id == dec_stream.id) return &dec_stream;
        if (grease_bound && id == grease_stream.id) return &grease_stream;
        return nullptr;
    }
    /// Our unidirectional streams, in the order their output goes.
    std::array<Stream*, 4> locals() noexcept { return {&control, &enc_stream, &dec_stream, &grease_stream}; }
    Stream* peer_control = nullptr;
    Stream* peer_encoder = nullptr;
    Stream* peer_decoder = nullptr;
    ConnectionSettings peer_settings;
    std::array<OutputChunk, kMaxChunks> chunk_out{};
    std::uint64_t next_local_bidi = 0;     // client: the lowest request stream id not yet used
    std::uint64_t goaway_sent = kMaxClientBidi + 4;  // server: requests at or above are refused
    std::uint64_t goaway_received = ~std::uint64_t{0};
    std::uint64_t peer_bidi_next = 0;  // server: one past the highest request stream taken up
    std::size_t pending_uni = 0;    // peer unidirectional streams whose type is not read yet
    std::size_t held_total = 0;
    std::size_t request_streams = 0;  // on a server, all of them the peer's
    InvalidHeader last_invalid{};
    bool bound = false;
    bool settings_in = false;
    bool shutting_down = false;
    bool closed = false;
    bool decoder_dirty = false;  // decoder_stream_output() may have something

    bool server() const noexcept { return config.role == Role::server; }
    /// Events one receive() may report: a quarter of the memory limit's worth
    /// (the list may grow to twice its size as it doubles).
    const std::size_t max_events = std::max<std::size_t>(config.limits.max_connection_memory / (4 * sizeof(Event)), 64);

    // -- Events ------------------------------------------------------------

    /// Starts a call that returns events: the last call's events (and the
    /// memory their views use) are dropped, and events that API calls caused
    /// since come first.
    void begin_call() {
        events.clear();
        arena.reset();
        events.swap(api_events);
        in_input = true;
    }
    /// Ends it: events from here on (API calls) wait for the next one, so
    /// that the list handed out does not change while the caller walks it.
    std::span<const Event> end_call() {
        in_input = false;
        return events;
    }
    template <class E>
    void emit(E&& e) {
        (in_input ? events : api_events).emplace_back(std::forward<E>(e));
    }

    // -- Streams -----------------------------------------------------------

    Stream* find(std::uint64_t id) const noexcept {
        // The stream of the last lookup first: a packet's input, its
        // output and its acknowledgment usually name the same one.
        if (id == last_id && last != nullptr) [[likely]]
            return last;
        return find_in_map(id);
    }
    [[gnu::noinline]] Stream* find_in_map(std::uint64_t id) const noexcept {
        auto it = streams.find(id);
        if (it == streams.end()) return nullptr;
        last_id = id;
        last = it->second;
        return last;
    }
    mutable std::uint64_t last_id = ~std::uint64_t{0};
    mutable Stream* last = nullptr;
    Stream* make(std::uint64_t id, Kind kind) {
        Stream* s = nullptr;
        if (!spare.empty()) {  // a stream object of an earlier stream, cleared
            s = spare.back();
            spare.pop_back();
            s->id = id;
            s->kind = kind;
            s->section.~Section();
            ::new (&s->section) qpack::Section(id, s);
        } else {
            std::pmr::polymorphic_allocator<Stream> alloc(&stream_mem);
            s = alloc.new_object<Stream>(id, kind, &stream_mem);
        }
        streams.emplace(id, s);
        if (kind == Kind::request) ++request_streams;
        return s;
    }
    /// Gives a stream object back: kept for the next stream (up to
    /// kMaxSpareStreams, its buffers' capacity with it), or freed.
    void destroy(Stream* s) {
        s->out.clear(pool);
        if (spare.size() < kMaxSpareStreams && !closed) {
            s->section.~Section();  // unblocks; nothing of the stream stays in the decoder
            ::new (&s->section) qpack::Section(0, s);
            s->reader.reset();
            s->type_reader = StreamHeaderReader();
            if (s->held.capacity() > 4096) s->held = std::pmr::vector<std::uint8_t>(&stream_mem);  // a blocked burst's
            s->held.clear();
            s->held_consumed = 0;
            s->user = nullptr;
            s->content_left = -1;
            s->close_code = ErrorCode::h3_no_error;
            s->close_by = Initiator::local;
            s->fin_queued = s->send_done = s->recv_done = s->held_fin = s->blocked = s->flow_blocked = false;
            s->seen = s->final_in = s->final_out = s->head = s->tunnel = s->ready = s->closing = false;
            spare.push_back(s);
            return;
        }
        std::pmr::polymorphic_allocator<Stream> alloc(&stream_mem);
        alloc.delete_object(s);
    }
    static constexpr std::size_t kMaxSpareStreams = 128;
    void forget(Stream* s) {
        if (s->kind == Kind::peer_new) --pending_uni;
        if (s->kind == Kind::request) --request_streams;
        held_total -= s->held.size() - std::min<std::size_t>(s->held.size(), s->held_consumed);
        if (s->ready) {
            auto it = std::find(ready.begin(), ready.end(), s);
            if (it != ready.end()) {
                const auto at = static_cast<std::size_t>(it - ready.begin());
                ready.erase(it);
                if (ready_next > at) --ready_next;
            }
        }
        streams.erase(s->id);
        if (last == s) last = nullptr;
        destroy(s);
    }

    void command(CommandKind kind, std::uint64_t id, ErrorCode code) { commands.push_back({kind, id, code}); }

    void mark_ready(Stream* s) {
        if (s->kind != Kind::request || s->ready) return;
        s->ready = true;
        ready.push_back(s);
    }

    /// Closes the stream once both sides are over and no retained output
    /// refers to the caller's memory.
    void maybe_close(Stream* s) {
        if (s->kind != Kind::request || s->closing) return;
        if (!s->send_done || !s->recv_done || s->out.retained() != 0 || s->out.pending() != 0) return;
        s->closing = true;
        if (s->blocked) {
            decoder.cancel(s->section);
            decoder_dirty = true;
        }
        if (s->seen) emit(StreamClosed{s->id, s->close_code, s->close_by, s->user});
        forget(s);
        flush_decoder();
        maybe_finish_shutdown();
    }

    /// Abandons a request stream both ways.
    void abort(Stream* s, ErrorCode code, Initiator by, bool send_commands, bool stop = true) {
        if (s->blocked) {
            decoder.cancel(s->section);
            s->blocked = false;
            decoder_dirty = true;
        } else if (!s->recv_done) {
            decoder.cancel(s->section);  // a Stream Cancellation, when the encoder may hold references (§4.4.2)
            decoder_dirty = true;
        }
        held_total -= s->held.size() - std::min<std::size_t>(s->held.size(), s->held_consumed);
        s->held = std::pmr::vector<std::uint8_t>(&stream_mem);
        s->held_consumed = 0;
        if (send_commands) {
            if (!s->send_done) command(CommandKind::reset_stream, s->id, code);
            if (!s->recv_done && stop) command(CommandKind::stop_sending, s->id, code);
        }
        s->out.clear(pool);
        s->send_done = s->recv_done = true;
        s->close_code = code;
        s->close_by = by;
        encoder.forget_stream(s->id);
        maybe_close(s);
    }

    /// Our reset of a stream for what the peer sent on it (a stream error).
    void reset_for_peer(Stream* s, ErrorCode code, std::string_view reason, InvalidHeader invalid = {}) {
        if (s->seen) {
            StreamReset r;
            r.stream = s->id;
            r.code = code;
            r.by = Initiator::local;
            r.reason = reason;
            r.invalid_header = invalid;
            r.user_data = s->user;
            emit(r);
        }
        abort(s, code, Initiator::local, true);
    }

    // -- Connection end ----------------------------------------------------

    void terminate(ErrorCode code, Initiator by, std::string_view reason) {
        if (closed) return;
        closed = true;
        // Every stream still held ends with the connection.
        std::pmr::vector<Stream*> all(mr);
        all.reserve(streams.size());
        for (auto& [id, s] : streams) all.push_back(s);
        std::sort(all.begin(), all.end(), [](const Stream* a, const Stream* b) { return a->id < b->id; });
        for (Stream* s : all) {
            if (s->kind == Kind::request && s->seen)
                emit(StreamClosed{s->id, code == ErrorCode::h3_no_error ? ErrorCode::h3_request_cancelled : code, by,
                                  s->user});
            if (s->blocked) {
                decoder.cancel(s->section);
                decoder_dirty = true;
            }
            s->kind = Kind::peer_new;  // no more bookkeeping for it
            streams.erase(s->id);
            destroy(s);
            last = nullptr;
        }
        ready.clear();
        ready_next = 0;
        peer_control = peer_encoder = peer_decoder = nullptr;
        request_streams = pending_uni = 0;
        held_total = 0;
        emit(ConnectionTerminated{code, by, reason});
    }
    void fail(ErrorCode code, std::string_view reason) { terminate(code, Initiator::local, reason); }
    void fail(const Error& e) { fail(e.code, e.reason); }

    void maybe_finish_shutdown() {
        if (!shutting_down || closed || request_streams != 0) return;
        // A server waits for the requests below its GOAWAY id that have not
        // arrived yet (QUIC may deliver a later stream first).
        if (server() && !peer_bidi.all_taken_below(goaway_sent)) return;
        terminate(ErrorCode::h3_no_error, Initiator::local, "graceful shutdown completed");
    }

    // -- Output of our unidirectional streams ------------------------------

    void put(Stream& s, std::span<const std::uint8_t> bytes) {
        if (bytes.empty()) return;
        std::memcpy(s.out.append(bytes.size(), pool), bytes.data(), bytes.size());
    }
    void flush_encoder() {
        const auto out = encoder.encoder_stream_output();
        if (out.empty()) return;
        put(enc_stream, out);
        encoder.consume_encoder_stream_output(out.size());
    }
    void flush_decoder() {
        // Only after something that may have queued decoder instructions
        // (a section decoded or cancelled, inserts read): DATA alone does not.
        if (decoder_dirty && !closed) [[unlikely]]
            flush_decoder_now();
    }
    [[gnu::noinline]] void flush_decoder_now() {
        decoder_dirty = false;
        const auto out = decoder.decoder_stream_output();
        if (out.empty()) return;
        put(dec_stream, out);
        decoder.consume_decoder_stream_output(out.size());
    }

    void queue_settings() {
        std::array<std::uint8_t, 8> prefix{};
        const auto stream_prefix = [&](Stream& s, StreamType t) {
            const WriteResult r = write_stream_header(prefix, static_cast<std::uint64_t>(t));
            put(s, std::span(prefix.data(), r.size));
        };
        stream_prefix(control, StreamType::control);
        stream_prefix(enc_stream, StreamType::qpack_encoder);
        stream_prefix(dec_stream, StreamType::qpack_decoder);
        // RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220 §3.
        std::array<Setting, 4> entries{};
        std::size_t n = 0;
        const ConnectionSettings& ours = config.settings;
        entries[n++] = {static_cast<std::uint64_t>(SettingId::max_field_section_size), ours.max_field_section_size};
        if (ours.qpack_max_table_capacity != 0)
            entries[n++] = {static_cast<std::uint64_t>(SettingId::qpack_max_table_capacity),
                            ours.qpack_max_table_capacity};
        if (ours.qpack_blocked_streams != 0)
            entries[n++] = {static_cast<std::uint64_t>(SettingId::qpack_blocked_streams), ours.qpack_blocked_streams};
        if (ours.enable_connect_protocol)
            entries[n++] = {static_cast<std::uint64_t>(SettingId::enable_connect_protocol), 1};
        h3::Settings frame{std::span<const Setting>(entries.data(), n), std::nullopt};
        // Grease (RFC 9114 §7.2.4.1, §7.2.8): a reserved setting, then a
        // reserved frame type with a short payload.
        if (config.grease) frame.grease = Setting{grease_value(reinterpret_cast<std::uintptr_t>(this) % 1000), 0};
        std::array<std::uint8_t, 128> buf{};
        WriteResult r = write(buf, frame);
        put(control, std::span(buf.data(), r.size));
        if (config.grease) {
            static constexpr std::uint8_t payload[] = {'h', '2', 'w'};
            r = write(buf, Unknown{grease_value(reinterpret_cast<std::uintptr_t>(this) % 997 + 1), payload});
            put(control, std::span(buf.data(), r.size));
        }
    }

    // -- Output of request streams -----------------------------------------

    /// HEADERS with `fields` QPACK-encoded, on `s`.
    void queue_headers(Stream* s, std::span<const Field> fields) {
        const std::size_t room = 1 + 8 + qpack::Encoder::max_encoded_size(fields);  // type, the longest length, the section
        std::uint8_t* p = s->out.append(room, pool);
        const std::size_t n = encoder.encode(s->id, fields, p + 9);
        // The frame header goes right before the section; the octets in
        // front of it are dropped by moving the section down (a few octets).
        const std::size_t hsize = 1 + varint_size(n);
        p[0] = static_cast<std::uint8_t>(FrameType::headers);
        write_varint(std::span(p + 1, 8), n);
        std::memmove(p + hsize, p + 9, n);
        s->out.unappend(room - hsize - n);
        flush_encoder();
        mark_ready(s);
    }
    void queue_fin(Stream* s) {
        s->fin_queued = true;
        mark_ready(s);
    }

    /// Checks a submission; records the field at fault.
    ApiError refuse_header(std::span<const Field> fields, detail::MessageKind kind, HeaderError e) {
        last_invalid = detail::locate_invalid(fields, kind, e);
        return ApiError::invalid_header;
    }

    /// send_data() (a copy, `lend` false) and send_data_borrowed().
    ApiError send_body(std::uint64_t stream, std::span<const std::uint8_t> data, bool end_stream, bool lend) {
        if (closed) return ApiError::connection_closed;
        Stream* s = find(stream);
        if (const ApiError e = data_checks(s); e != ApiError::none) return e;
        if (!lend && s->out.pending() + data.size() > config.limits.max_buffered_per_stream)
            return ApiError::buffer_full;
        if (!data.empty()) {
            const std::size_t h = data_header_size(data.size());
            if (lend) {  // the frame header in our block, the payload as lent
                write_data_header(std::span(s->out.append(h, pool), h), data.size());
                s->out.lend(data.data(), data.size());
            } else {  // header and copy in one piece
                std::uint8_t* p = s->out.append(h + data.size(), pool);
                write_data_header(std::span(p, h), data.size());
                std::memcpy(p + h, data.data(), data.size());
            }
            mark_ready(s);
        }
        if (end_stream) queue_fin(s);
        return ApiError::none;
    }

    /// May body or trailers go on `s` now.
    ApiError data_checks(const Stream* s) const noexcept {
        if (s == nullptr || s->kind != Kind::request) return ApiError::invalid_stream;
        if (s->send_done || s->fin_queued) return ApiError::stream_closed;
        if (server() && !s->final_out) return ApiError::invalid_stream;  // the response's header section first
        return ApiError::none;
    }

    // -- Input -------------------------------------------------------------

    /// A request stream's or the control stream's reader.
    /// The options of our readers (the same for every stream of a kind).
    ReaderOptions reader_options(StreamKind kind) const {
        ReaderOptions o;
        o.stream = kind;
        o.peer = server() ? PeerRole::client : PeerRole::server;
        o.max_frame_payload = config.limits.max_control_frame;
        o.max_settings = std::max<std::size_t>(config.limits.max_control_frame / 16, 8);
        // A section within SETTINGS_MAX_FIELD_SECTION_SIZE encodes in at
        // most 4 times it plus a prefix (qpack::DecoderLimits).
        o.max_field_section = std::min<std::uint64_t>(config.settings.max_field_section_size, max_buffer_limit / 4) * 4 + 20;
        o.check_message = true;
        return o;
    }
    const ReaderOptions request_options = reader_options(StreamKind::request);
    /// A fresh reader for a stream of `kind`, built in place.
    void start_reader(Stream* s, StreamKind kind) {
        if (kind == StreamKind::request) s->reader.emplace(request_options, &stream_mem);
        else s->reader.emplace(reader_options(kind), &stream_mem);
    }

    /// A stream the peer opened: takes it up, or says to ignore it.
    Stream* open_peer_stream(std::uint64_t id) {
        const bool peer_side = server() ? client_initiated(id) : !client_initiated(id);
        if (!peer_side) return nullptr;  // one of ours that is gone, or was never opened: nothing to do
        if (is_bidi(id)) {
            if (!server()) {
                // RFC 9114 §6.1: no server-initiated bidirectional streams.
                fail(ErrorCode::h3_stream_creation_error, "server-initiated bidirectional stream");
                return nullptr;
            }
            if (peer_bidi.taken(id)) return nullptr;  // closed already
            if (!peer_bidi.take(id)) {
                fail(ErrorCode::h3_id_error, "request stream id far beyond the open ones");
                return nullptr;
            }
            if (id < goaway_sent) peer_bidi_next = std::max(peer_bidi_next, id + 4);
            if (id >= goaway_sent || request_streams >= config.limits.max_peer_requests) {
                // RFC 9114 §5.2, §4.1.1: not processed, safe to retry.
                command(CommandKind::reset_stream, id, ErrorCode::h3_request_rejected);
                command(CommandKind::stop_sending, id, ErrorCode::h3_request_rejected);
                return nullptr;
            }
            Stream* s = make(id, Kind::request);
            start_reader(s, StreamKind::request);
            return s;
        }
        if (peer_uni.taken(id)) return nullptr;
        if (!peer_uni.take(id)) {
            fail(ErrorCode::h3_id_error, "unidirectional stream id far beyond the open ones");
            return nullptr;
        }
        if (pending_uni >= config.limits.max_unknown_streams) {
            command(CommandKind::stop_sending, id, ErrorCode::h3_stream_creation_error);
            return nullptr;
        }
        Stream* s = make(id, Kind::peer_new);
        ++pending_uni;
        s->type_reader = StreamHeaderReader(server() ? PeerRole::client : PeerRole::server);
        return s;
    }

    void receive(std::uint64_t id, std::span<const std::uint8_t> bytes, bool fin) {
        Stream* s = find(id);
        if (s == nullptr) {
            s = open_peer_stream(id);
            if (s == nullptr || closed) return;
        }
        switch (s->kind) {
        case Kind::request:
            if (s->recv_done) return;
            if (s->blocked || s->held.size() > s->held_consumed) {
                hold(s, bytes, fin);
                return;
            }
            read_request(s, bytes, fin);
            return;
        case Kind::peer_new:
            read_uni_type(s, bytes, fin);
            return;
        case Kind::peer_control:
            read_control(s, bytes, fin);
            return;
        case Kind::peer_encoder:
            read_encoder(s, bytes, fin);
            return;
        case Kind::peer_decoder:
            read_decoder(s, bytes, fin);
            return;
        default:
            return;  // our own streams take no input
        }
    }

    void hold(Stream* s, std::span<const std::uint8_t> bytes, bool fin) {
        if (held_total + bytes.size() > config.limits.max_held_input) {
            fail(ErrorCode::h3_excessive_load, "too much input held for blocked field sections");
            return;
        }
        s->held.insert(s->held.end(), bytes.begin(), bytes.end());
        held_total += bytes.size();
        s->held_fin = s->held_fin || fin;
    }

    void read_uni_type(Stream* s, std::span<const std::uint8_t> bytes, bool fin) {
        const std::size_t used = s->type_reader.read(bytes);
        if (auto e = s->type_reader.error()) {
            fail(*e);
            return;
        }
        if (!s->type_reader.done()) {
            if (fin) forget(s);  // ended before its type: nothing to read (RFC 9114 §6.2)
            return;
        }
        bytes = bytes.subspan(used);
        const std::uint64_t type = s->type_reader.type();
        const auto duplicate = [&](Stream*& slot, Kind kind) {
            if (slot != nullptr) {  // RFC 9114 §6.2.1, RFC 9204 §4.2
                fail(ErrorCode::h3_stream_creation_error, "a second control or QPACK stream");
                return true;
            }
            slot = s;
            s->kind = kind;
            --pending_uni;  // a critical stream now
            return false;
        };
        switch (static_cast<StreamType>(type)) {
        case StreamType::control:
            if (duplicate(peer_control, Kind::peer_control)) return;
            start_reader(s, StreamKind::control);
            read_control(s, bytes, fin);
            return;
        case StreamType::qpack_encoder:
            if (duplicate(peer_encoder, Kind::peer_encoder)) return;
            read_encoder(s, bytes, fin);
            return;
        case StreamType::qpack_decoder:
            if (duplicate(peer_decoder, Kind::peer_decoder)) return;
            read_decoder(s, bytes, fin);
            return;
        case StreamType::push:
            // We never send MAX_PUSH_ID, so no push ID is allowed (RFC 9114
            // §4.6); a client's push stream was refused by the type reader.
            fail(ErrorCode::h3_id_error, "push stream without MAX_PUSH_ID");
            return;
        default:
            // Unknown or reserved type (RFC 9114 §6.2, §6.2.3): stop it and
            // forget it; its later octets find no stream and are dropped.
            if (!fin) command(CommandKind::stop_sending, s->id, ErrorCode::h3_stream_creation_error);
            forget(s);
            return;
        }
    }

    void critical_closed() { fail(ErrorCode::h3_closed_critical_stream, "a control or QPACK stream was closed"); }

    void read_control(Stream* s, std::span<const std::uint8_t> bytes, bool fin) {
        while (!closed) {
            const ReadResult r = s->reader->read(bytes);
            bytes = bytes.subspan(r.consumed);
            if (r.status == ReadStatus::need_input) break;
            if (r.status == ReadStatus::error) {
                fail(r.error);
                return;
            }
            if (r.status != ReadStatus::frame) continue;  // unknown and grease frames are ignored
            if (const auto* st = std::get_if<h3::Settings>(&r.frame)) {
                apply_settings(*st);
            } else if (const auto* g = std::get_if<Goaway>(&r.frame)) {
                on_goaway(g->id);
            } else if (std::holds_alternative<CancelPush>(r.frame)) {
                // No push was ever allowed or promised (RFC 9114 §7.2.3).
                fail(ErrorCode::h3_id_error, "CANCEL_PUSH without a push");
                return;
            }
            // MAX_PUSH_ID (server side): noted by nobody, we never push.
        }
        if (fin && !closed) critical_closed();  // RFC 9114 §6.2.1
    }

    void apply_settings(const h3::Settings& st) {
        ConnectionSettings p;
        p.max_field_section_size = max_varint;
        p.qpack_max_table_capacity = 0;
        p.qpack_blocked_streams = 0;
        for (const Setting& e : st.entries) {
            switch (static_cast<SettingId>(e.id)) {
            case SettingId::max_field_section_size:
                p.max_field_section_size = e.value;
                break;
            case SettingId::qpack_max_table_capacity:
                p.qpack_max_table_capacity = static_cast<std::uint32_t>(std::min<std::uint64_t>(e.value, 0xffffffffu));
                break;
            case SettingId::qpack_blocked_streams:
                p.qpack_blocked_streams = static_cast<std::uint32_t>(std::min<std::uint64_t>(e.value, 0xffffffffu));
                break;
            case SettingId::enable_connect_protocol:
                p.enable_connect_protocol = e.value == 1;
                break;
            default:
                break;  // unknown and grease settings are ignored (§7.2.4)
            }
        }
        peer_settings = p;
        settings_in = true;
        encoder.set_peer_settings(p.qpack_max_table_capacity, p.qpack_blocked_streams);
        flush_encoder();
        emit(SettingsReceived{p});
    }

    void on_goaway(std::uint64_t id) {
        emit(GoawayReceived{id});
        if (server()) return;  // a client's GOAWAY carries a push id: we push nothing
        if (id >= goaway_received) return;  // the same again: nothing more refused (ids only go down)
        goaway_received = id;
        // Our requests at or above `id` were not processed (RFC 9114 §5.2).
        std::pmr::vector<Stream*> refused(mr);
        for (auto& [sid, s] : streams)
            if (s->kind == Kind::request && sid >= id) refused.push_back(s);
        std::sort(refused.begin(), refused.end(), [](const Stream* a, const Stream* b) { return a->id < b->id; });
        for (Stream* s : refused) {
            StreamReset r;
            r.stream = s->id;
            r.code = ErrorCode::h3_request_rejected;
            r.by = Initiator::peer;
            r.safe_to_retry = true;
            r.user_data = s->user;
            emit(r);
            abort(s, ErrorCode::h3_request_rejected, Initiator::peer, true);
        }
    }

    void read_encoder(Stream*, std::span<const std::uint8_t> bytes, bool fin) {
        decoder_dirty = true;  // an Insert Count Increment is due
        if (const qpack::Error e = decoder.read_encoder_stream(bytes); e != qpack::Error::none) {
            fail(static_cast<ErrorCode>(qpack::error_code(e)), qpack::to_string(e));
            return;
        }
        if (fin) {
            critical_closed();
            return;
        }
        // Sections the inserts unblocked (RFC 9204 §2.1.2), and the input
        // their streams held since.
        while (!closed) {
            qpack::Section* sec = decoder.next_unblocked();
            if (sec == nullptr) break;
            Stream* s = static_cast<Stream*>(sec->user());
            s->blocked = false;
            if (!decode_section(s, {}, true)) continue;
            resume_held(s);
        }
        flush_decoder();
    }

    void read_decoder(Stream*, std::span<const std::uint8_t> bytes, bool fin) {
        if (const qpack::Error e = encoder.read_decoder_stream(bytes); e != qpack::Error::none) {
            fail(static_cast<ErrorCode>(qpack::error_code(e)), qpack::to_string(e));
            return;
        }
        if (fin) critical_closed();
    }

    /// Reads held input of `s` once its section is decoded.
    void resume_held(Stream* s) {
        if (closed || s->recv_done || s->blocked) return;
        // The held bytes go to the call's arena (kept until the next call,
        // since events point into them), and the stream's buffer is emptied
        // (a stream may end, and be reused, within this call).
        const std::size_t start = s->held_consumed;
        s->held_consumed = 0;
        const bool fin = s->held_fin;
        s->held_fin = false;
        const std::size_t n = s->held.size() - start;
        held_total -= n;
        const std::uint64_t id = s->id;
        const auto* kept = reinterpret_cast<const std::uint8_t*>(arena.copy(s->held.data() + start, n));
        std::span<const std::uint8_t> rest(kept, n);
        s->held.clear();
        if (n != 0) emit(InputConsumed{id, n});
        read_request(s, rest, fin);
    }

    /// Decodes the header section of `s`: a whole HEADERS payload, or (after
    /// unblocking) what the section holds. False when the stream went.
    bool decode_section(Stream* s, std::span<const std::uint8_t> payload, bool end) {
        scratch_fields.clear();
        // The message checks run field by field as the section decodes; a
        // field that is a whole table entry brings the entry's memo, so a
        // field checked once is not checked again (as in HTTP/2).
        const detail::MessageKind kind = s->final_in ? detail::MessageKind::trailers
                                         : server()  ? detail::MessageKind::request
                                                     : detail::MessageKind::response;
        detail::MessageScan scan(kind);
        const bool validate = config.validate_messages;
        auto sink = [&](const Field& f, std::uint8_t& memo) {
            Field copy;
            copy.name = std::string_view(arena.copy(f.name.data(), f.name.size()), f.name.size());
            copy.value = std::string_view(arena.copy(f.value.data(), f.value.size()), f.value.size());
            copy.sensitive = f.sensitive;
            scratch_fields.push_back(copy);
            if (validate) scan.add(copy.name, copy.value, memo);
        };
        const qpack::Decoded d = decoder.decode(s->section, payload, end, sink);
        decoder_dirty = true;
        if (d.status == qpack::Status::blocked) {
            s->blocked = true;
            return false;
        }
        if (d.status == qpack::Status::partial) return true;  // not with whole payloads
        if (d.error == qpack::Error::section_too_large) {
            // Over our SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2): the
            // table stays in sync, only this stream goes.
            reset_for_peer(s, ErrorCode::h3_excessive_load, "field section over SETTINGS_MAX_FIELD_SECTION_SIZE",
                           InvalidHeader{HeaderError::none, InvalidHeader::no_field});
            flush_decoder();
            return false;
        }
        if (d.error != qpack::Error::none) {
            fail(static_cast<ErrorCode>(qpack::error_code(d.error)), qpack::to_string(d.error));
            return false;
        }
        Field* fields = arena.allocate_array<Field>(scratch_fields.size());
        std::copy(scratch_fields.begin(), scratch_fields.end(), fields);
        const std::uint64_t id = s->id;
        on_section(s, std::span<const Field>(fields, scratch_fields.size()), scan);
        const Stream* now = find(id);  // a malformed message may have ended it
        return now != nullptr && !now->recv_done;
    }

    /// A decoded header section on a request stream.
    void on_section(Stream* s, std::span<const Field> fields, const detail::MessageScan& scan) {
        const bool validate = config.validate_messages;
        if (s->final_in) {  // trailers (RFC 9114 §4.1)
            if (validate) {
                if (const HeaderError e = scan.finish_trailers(); e != HeaderError::none) {
                    reset_for_peer(s, ErrorCode::h3_message_error, "malformed trailers",
                                   detail::locate_invalid(fields, detail::MessageKind::trailers, e));
                    return;
                }
            }
            if (!s->tunnel && s->content_left > 0) {
                reset_for_peer(s, ErrorCode::h3_message_error, "content-length larger than the content");
                return;
            }
            emit(TrailersReceived{s->id, fields, s->user});
            return;
        }
        if (server()) {
            detail::RequestInfo info;
            if (validate) {
                detail::RequestRules rules;
                rules.connect_protocol = config.settings.enable_connect_protocol;
                if (const HeaderError e = scan.finish_request(rules, info); e != HeaderError::none) {
                    // RFC 9114 §4.1.2: malformed, H3_MESSAGE_ERROR. Not
                    // reported: the application never saw the request.
                    last_invalid = detail::locate_invalid(fields, detail::MessageKind::request, e);
                    s->seen = false;
                    abort(s, ErrorCode::h3_message_error, Initiator::local, true);
                    return;
                }
            } else {
                detail::extract_request(fields, info);
            }
            s->final_in = true;
            s->seen = true;
            s->content_left = info.content_length;
            s->tunnel = info.is_connect;
            RequestReceived e;
            e.stream = s->id;
            e.headers = fields;
            e.method = info.method;
            e.scheme = info.scheme;
            e.authority = info.authority;
            e.path = info.path;
            e.protocol = info.protocol;
            emit(e);
            return;
        }
        detail::ResponseInfo info;
        if (validate) {
            if (const HeaderError e = scan.finish_response(info); e != HeaderError::none) {
                reset_for_peer(s, ErrorCode::h3_message_error, "malformed response",
                               detail::locate_invalid(fields, detail::MessageKind::response, e));
                return;
            }
        } else {
            detail::extract_response(fields, info);
        }
        if (info.status >= 100 && info.status < 200) {
            s->reader->interim_response();  // RFC 9114 §4.1: another header section follows
            emit(InformationalResponseReceived{s->id, info.status, fields, s->user});
            return;
        }
        s->final_in = true;
        // No content for HEAD, 204 and 304 (RFC 9110 §6.4.1); a CONNECT's
        // 2xx opens a tunnel.
        const bool no_content = s->head || info.status == 204 || info.status == 304;
        s->content_left = no_content ? 0 : info.content_length;
        if (s->tunnel && (info.status < 200 || info.status >= 300)) s->tunnel = false;
        if (s->tunnel) s->content_left = -1;
        emit(ResponseReceived{s->id, info.status, fields, false, s->user});
    }

    /// Reads a request stream's octets: frames, sections, DATA.
    void read_request(Stream* s, std::span<const std::uint8_t> bytes, bool fin) {
        const std::uint64_t id = s->id;
        // A DATA piece: checked, then reported as a view of the input.
        const auto on_data = [&](const DataChunk& chunk) {
            if (!s->final_in) {  // DATA after interim responses only: the reader lets it by
                reset_for_peer(s, ErrorCode::h3_frame_unexpected, "DATA before the final response");
                return false;
            }
            if (s->content_left >= 0) {
                if (chunk.data.size() > static_cast<std::uint64_t>(s->content_left)) {
                    reset_for_peer(s, ErrorCode::h3_message_error, "more content than content-length");
                    return false;
                }
                s->content_left -= static_cast<std::int64_t>(chunk.data.size());
            }
            if (chunk.data.empty()) return true;  // an empty DATA frame carries nothing
            // One event per DATA piece: a peer that sends tiny frames in one
            // large input is stopped before the list outgrows the memory limit.
            if (events.size() >= max_events) {
                fail(ErrorCode::h3_excessive_load, "too many DATA frames in one receive()");
                return false;
            }
            emit(DataReceived{id, chunk.data, fin && bytes.empty() && chunk.last, s->user});
            return true;
        };
        while (!closed) {
            // Inside a DATA payload (most input of a body): no ReadResult.
            if (DataChunk chunk; s->reader->read_data(bytes, chunk)) {
                if (!on_data(chunk)) return;
                continue;
            }
            if (bytes.empty()) break;  // read() would only say need_input
            const ReadResult r = s->reader->read(bytes);
            bytes = bytes.subspan(r.consumed);
            if (r.status == ReadStatus::need_input) break;
            if (r.status == ReadStatus::error) {
                fail(r.error);
                return;
            }
            if (r.status == ReadStatus::data) {
                if (!on_data(r.data)) return;
                continue;
            }
            if (r.status != ReadStatus::frame) continue;  // unknown and reserved frames are ignored (§9)
            const auto* h = std::get_if<Headers>(&r.frame);
            if (h == nullptr) {
                // PUSH_PROMISE: we never allow a push (no MAX_PUSH_ID), RFC 9114 §7.2.5.
                fail(ErrorCode::h3_id_error, "PUSH_PROMISE without MAX_PUSH_ID");
                return;
            }
            if (!decode_section(s, h->field_section, true)) {
                if (closed || find(id) != s || s->recv_done) return;
                if (s->blocked) {  // the rest waits for the inserts
                    s->held.insert(s->held.end(), bytes.begin(), bytes.end());
                    held_total += bytes.size();
                    s->held_fin = fin;
                    if (held_total > config.limits.max_held_input)
                        fail(ErrorCode::h3_excessive_load, "too much input held for blocked field sections");
                    flush_decoder();
                    return;
                }
                return;
            }
            if (bytes.empty() && fin && !events.empty()) {
                // FIN with the section: no body (set on the event just made).
                if (auto* q = std::get_if<RequestReceived>(&events.back()); q && q->stream == id) q->end_stream = true;
                if (auto* q = std::get_if<ResponseReceived>(&events.back()); q && q->stream == id) q->end_stream = true;
            }
        }
        if (closed || find(id) != s || s->recv_done) return;
        flush_decoder();
        if (fin) end_of_input(s);
    }

    void end_of_input(Stream* s) {
        if (auto e = s->reader->finish()) {
            if (e->scope == ErrorScope::connection) {
                fail(*e);
                return;
            }
            reset_for_peer(s, e->code, e->reason);
            return;
        }
        if (!s->final_in) {  // only interim responses (RFC 9114 §4.1)
            reset_for_peer(s, ErrorCode::h3_message_error, "stream ended before the final response");
            return;
        }
        if (!s->tunnel && s->content_left > 0) {  // RFC 9114 §4.1.2
            reset_for_peer(s, ErrorCode::h3_message_error, "content-length larger than the content");
            return;
        }
        s->recv_done = true;
        s->close_by = s->send_done ? Initiator::peer : Initiator::local;  // whose FIN comes last
        emit(StreamEnded{s->id, s->user});
        maybe_close(s);
    }
};

// ---------------------------------------------------------------------------

Connection::Connection(const ConnectionConfig& config) : impl_(nullptr) {
    std::pmr::polymorphic_allocator<Impl> alloc(config.memory);
    impl_ = alloc.new_object<Impl>(config);
}

Connection::~Connection() {
    if (impl_ == nullptr) return;
    std::pmr::polymorphic_allocator<Impl> alloc(impl_->config.memory);
    alloc.delete_object(impl_);
}

Connection::Connection(Connection&& o) noexcept : impl_(std::exchange(o.impl_, nullptr)) {}

Connection& Connection::operator=(Connection&& o) noexcept {
    if (this != &o) {
        this->~Connection();
        impl_ = std::exchange(o.impl_, nullptr);
    }
    return *this;
}

ApiError Connection::bind_local_streams(std::uint64_t control, std::uint64_t qpack_encoder,
                                        std::uint64_t qpack_decoder) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    if (c.bound) return ApiError::too_late;
    const bool ours_client = c.config.role == Role::client;
    for (const std::uint64_t id : {control, qpack_encoder, qpack_decoder})
        if (id > max_varint || is_bidi(id) || client_initiated(id) != ours_client) return ApiError::invalid_stream;
    if (control == qpack_encoder || control == qpack_decoder || qpack_encoder == qpack_decoder)
        return ApiError::invalid_stream;
    c.control.id = control;
    c.enc_stream.id = qpack_encoder;
    c.dec_stream.id = qpack_decoder;
    c.bound = true;
    return ApiError::none;
}

ApiError Connection::open_grease_stream(std::uint64_t stream) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    if (!c.bound) return ApiError::invalid_stream;
    if (c.grease_bound) return ApiError::too_late;
    if (stream > max_varint || is_bidi(stream) || client_initiated(stream) != (c.config.role == Role::client) ||
        c.local(stream) != nullptr)
        return ApiError::invalid_stream;
    // RFC 9114 §6.2.3: a reserved type, a few octets, FIN; the peer must
    // ignore it.
    c.grease_stream.id = stream;
    c.grease_bound = true;
    std::array<std::uint8_t, 8> prefix{};
    const WriteResult r = write_stream_header(prefix, grease_value(stream % 1024));
    c.put(c.grease_stream, std::span(prefix.data(), r.size));
    static constexpr std::uint8_t payload[] = {'g', 'r', 'e', 'a', 's', 'e'};
    c.put(c.grease_stream, payload);
    c.grease_stream.fin_queued = true;
    return ApiError::none;
}

std::span<const Event> Connection::receive(std::uint64_t stream, std::span<const std::uint8_t> bytes, bool fin) {
    Impl& c = *impl_;
    c.begin_call();
    if (!c.closed && stream <= max_varint) c.receive(stream, bytes, fin);
    if (!c.closed && c.account.over())
        c.fail(ErrorCode::h3_excessive_load, "connection memory limit reached");
    return c.end_call();
}

std::span<const Event> Connection::stream_reset(std::uint64_t stream, std::uint64_t code) {
    Impl& c = *impl_;
    c.begin_call();
    if (c.closed) return c.end_call();
    Impl::Stream* s = c.find(stream);
    if (s == nullptr) {
        // A reset before any octet: the stream is taken up and dropped.
        if (is_bidi(stream) && c.server() && client_initiated(stream) && !c.peer_bidi.taken(stream)) {
            c.peer_bidi.take(stream);
            c.command(CommandKind::reset_stream, stream, ErrorCode::h3_request_cancelled);
        } else if (!is_bidi(stream)) {
            c.peer_uni.take(stream);
        }
        return c.end_call();
    }
    const auto ecode = static_cast<ErrorCode>(code);
    switch (s->kind) {
    case Kind::request:
        if (s->recv_done) {
            // Its input was over: nothing is lost, but our side goes too.
            s->recv_done = true;
            c.maybe_close(s);
            return c.end_call();
        }
        if (s->seen) {
            StreamReset r;
            r.stream = s->id;
            r.code = ecode;
            r.by = Initiator::peer;
            r.safe_to_retry = ecode == ErrorCode::h3_request_rejected;
            r.user_data = s->user;
            c.emit(r);
        }
        // Our sending side goes with it (H3_REQUEST_CANCELLED), unless it
        // already ended; their side is over, so no STOP_SENDING.
        c.abort(s, ecode, Initiator::peer, true, false);
        break;
    case Kind::peer_new:
        c.forget(s);
        break;
    default:
        c.critical_closed();  // RFC 9114 §6.2.1, RFC 9204 §4.2
        break;
    }
    c.flush_decoder();
    return c.end_call();
}

std::span<const Event> Connection::stop_sending(std::uint64_t stream, std::uint64_t code) {
    Impl& c = *impl_;
    c.begin_call();
    if (c.closed) return c.end_call();
    if (Impl::Stream* l = c.local(stream)) {
        if (l != &c.grease_stream) c.critical_closed();  // RFC 9114 §6.2.1
        return c.end_call();
    }
    Impl::Stream* s = c.find(stream);
    if (s == nullptr || s->kind != Kind::request) return c.end_call();
    const auto ecode = static_cast<ErrorCode>(code);
    if (s->send_done) return c.end_call();
    // RFC 9000 §3.5: our sending side is reset.
    c.command(CommandKind::reset_stream, s->id, ecode);
    s->out.clear(c.pool);
    s->send_done = true;
    if (!c.server() && ecode == ErrorCode::h3_no_error && !s->recv_done) {
        // RFC 9114 §4.1.1: the server needs no more of the request; its
        // response goes on.
        return c.end_call();
    }
    // What we were sending was cut off: the application hears of it
    // (unless it is the request body a complete response made moot).
    const bool moot = !c.server() && ecode == ErrorCode::h3_no_error;
    if (s->seen && !moot) {
        StreamReset r;
        r.stream = s->id;
        r.code = ecode;
        r.by = Initiator::peer;
        r.safe_to_retry = ecode == ErrorCode::h3_request_rejected;
        r.user_data = s->user;
        c.emit(r);
    }
    if (!s->recv_done) {
        c.abort(s, ecode, Initiator::peer, true);
    } else {
        if (!moot) {
            s->close_code = ecode;
            s->close_by = Initiator::peer;
        }
        c.maybe_close(s);
    }
    c.flush_decoder();
    return c.end_call();
}

std::span<const Event> Connection::transport_closed(std::uint64_t code) {
    Impl& c = *impl_;
    c.begin_call();
    c.terminate(static_cast<ErrorCode>(code), Initiator::peer, "the QUIC connection closed");
    return c.end_call();
}

std::span<const Event> Connection::take_events() {
    Impl& c = *impl_;
    c.begin_call();
    return c.end_call();
}

std::optional<StreamOutput> Connection::next_output() {
    Impl& c = *impl_;
    if (!c.bound) return std::nullopt;
    const auto wants = [](const Impl::Stream& s) {
        return !s.flow_blocked && (s.out.pending() != 0 || (s.fin_queued && !s.send_done));
    };
    const auto offer = [&](Impl::Stream& s) -> std::optional<StreamOutput> {
        std::size_t total = 0;
        const std::size_t k = s.out.chunks(c.chunk_out.data(), c.chunk_out.size(), total);
        const bool fin = s.fin_queued && !s.send_done && total == s.out.pending();
        if (k == 0 && !fin) return std::nullopt;
        return StreamOutput{s.id, std::span<const OutputChunk>(c.chunk_out.data(), k), total, fin};
    };
    // Our unidirectional streams first: QPACK inserts before the sections
    // that need them, SETTINGS before anything.
    for (Impl::Stream* s : {&c.control, &c.enc_stream, &c.dec_stream})
        if (wants(*s))
            if (auto o = offer(*s)) return o;
    if (c.grease_bound && wants(c.grease_stream))
        if (auto o = offer(c.grease_stream)) return o;
    // Request streams in turn (round robin from where the last one left).
    const std::size_t n = c.ready.size();
    std::size_t at = c.ready_next < n ? c.ready_next : 0;
    for (std::size_t i = 0; i < n; ++i) {
        Impl::Stream* s = c.ready[at];
        if (wants(*s))
            if (auto o = offer(*s)) {
                c.ready_next = at;
                return o;
            }
        if (++at == n) at = 0;
    }
    return std::nullopt;
}

ApiError Connection::consume_output(std::uint64_t stream, std::size_t n) {
    Impl& c = *impl_;
    Impl::Stream* s = c.local(stream);
    if (s == nullptr) s = c.find(stream);
    if (s == nullptr) return n == 0 ? ApiError::none : ApiError::invalid_stream;
    if (n > s->out.pending()) return ApiError::invalid_argument;
    const bool all = n == s->out.pending();
    s->out.written(n, c.config.retain_until_acked, c.pool);
    if (all && s->fin_queued && !s->send_done) s->send_done = true;
    if (s->kind != Kind::request) return ApiError::none;
    if (s->out.pending() == 0 && s->ready && (s->send_done || !s->fin_queued)) {
        // Leaves the turn; comes back with its next output.
        auto it = std::find(c.ready.begin(), c.ready.end(), s);
        const auto at = static_cast<std::size_t>(it - c.ready.begin());
        c.ready.erase(it);
        if (c.ready_next > at) --c.ready_next;
        if (c.ready_next >= c.ready.size()) c.ready_next = 0;
        s->ready = false;
    } else if (s->ready) {
        if (++c.ready_next >= c.ready.size()) c.ready_next = 0;
    }
    c.maybe_close(s);
    return ApiError::none;
}

void Connection::acknowledged(std::uint64_t stream, std::size_t n) {
    Impl& c = *impl_;
    if (!c.config.retain_until_acked) return;
    Impl::Stream* s = c.local(stream);
    if (s == nullptr) s = c.find(stream);
    if (s == nullptr) return;
    s->out.release(n, c.pool);
    c.maybe_close(s);
}

void Connection::block_stream(std::uint64_t stream) noexcept {
    Impl& c = *impl_;
    if (Impl::Stream* s = c.local(stream)) s->flow_blocked = true;
    if (Impl::Stream* s = c.find(stream)) s->flow_blocked = true;
}

void Connection::unblock_stream(std::uint64_t stream) noexcept {
    Impl& c = *impl_;
    if (Impl::Stream* s = c.local(stream)) s->flow_blocked = false;
    if (Impl::Stream* s = c.find(stream)) s->flow_blocked = false;
}

std::optional<StreamCommand> Connection::next_command() {
    Impl& c = *impl_;
    if (c.commands_next == c.commands.size()) {
        c.commands.clear();
        c.commands_next = 0;
        return std::nullopt;
    }
    return c.commands[c.commands_next++];
}

bool Connection::wants_write() const noexcept {
    Impl& c = *impl_;
    if (c.commands_next < c.commands.size()) return true;
    if (!c.bound) return false;
    for (const Impl::Stream* s : c.locals())
        if (s->out.pending() != 0 || (s->fin_queued && !s->send_done)) return true;
    for (const Impl::Stream* s : c.ready)
        if (s->out.pending() != 0 || (s->fin_queued && !s->send_done)) return true;
    return false;
}

SubmittedRequest Connection::submit_request(std::uint64_t stream, std::span<const Field> headers, bool end_stream,
                                            void* user_data) {
    Impl& c = *impl_;
    if (c.server()) return {ApiError::wrong_role};
    if (c.closed || c.shutting_down) return {ApiError::connection_closed};
    if (stream > max_varint || !is_bidi(stream) || !client_initiated(stream) || stream < c.next_local_bidi)
        return {ApiError::invalid_stream};
    if (stream >= c.goaway_received) return {ApiError::connection_closed};  // RFC 9114 §5.2
    detail::RequestInfo info;
    if (c.config.validate_messages) {
        detail::RequestRules rules;
        rules.connect_protocol = true;
        if (const HeaderError e = detail::check_request(headers, rules, info); e != HeaderError::none)
            return {c.refuse_header(headers, detail::MessageKind::request, e)};
        if (!info.protocol.empty() && !c.peer_settings.enable_connect_protocol)
            return {ApiError::connect_protocol_disabled};  // RFC 9220 §3
    } else {
        detail::extract_request(headers, info);
    }
    c.next_local_bidi = stream + 4;
    Impl::Stream* s = c.make(stream, Kind::request);
    c.start_reader(s, StreamKind::request);
    s->user = user_data;
    s->seen = true;
    s->head = info.is_head;
    s->tunnel = info.is_connect;
    c.queue_headers(s, headers);
    if (end_stream) c.queue_fin(s);
    return {};
}

ApiError Connection::submit_response(std::uint64_t stream, std::span<const Field> headers, bool end_stream) {
    Impl& c = *impl_;
    if (!c.server()) return ApiError::wrong_role;
    if (c.closed) return ApiError::connection_closed;
    Impl::Stream* s = c.find(stream);
    if (s == nullptr || s->kind != Kind::request || !s->seen) return ApiError::invalid_stream;
    if (s->send_done || s->fin_queued || s->final_out) return ApiError::stream_closed;
    detail::ResponseInfo info;
    if (c.config.validate_messages) {
        if (const HeaderError e = detail::check_response(headers, info); e != HeaderError::none)
            return c.refuse_header(headers, detail::MessageKind::response, e);
        if (info.status == 101) {  // RFC 9114 §4.5: no Upgrade in HTTP/3
            c.last_invalid = {HeaderError::invalid_status, 0};
            return ApiError::invalid_header;
        }
    } else {
        detail::extract_response(headers, info);
    }
    const bool interim = info.status >= 100 && info.status < 200;
    if (interim && end_stream) return ApiError::invalid_argument;
    c.queue_headers(s, headers);
    if (!interim) s->final_out = true;
    if (end_stream) c.queue_fin(s);
    return ApiError::none;
}


ApiError Connection::send_data(std::uint64_t stream, std::span<const std::uint8_t> data, bool end_stream) {
    return impl_->send_body(stream, data, end_stream, false);
}

ApiError Connection::send_data_borrowed(std::uint64_t stream, std::span<const std::uint8_t> data, bool end_stream) {
    return impl_->send_body(stream, data, end_stream, true);
}

ApiError Connection::send_trailers(std::uint64_t stream, std::span<const Field> trailers) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    Impl::Stream* s = c.find(stream);
    if (const ApiError e = c.data_checks(s); e != ApiError::none) return e;
    if (c.config.validate_messages)
        if (const HeaderError e = detail::check_trailers(trailers); e != HeaderError::none)
            return c.refuse_header(trailers, detail::MessageKind::trailers, e);
    c.queue_headers(s, trailers);
    c.queue_fin(s);
    return ApiError::none;
}

ApiError Connection::reset_stream(std::uint64_t stream, ErrorCode code) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    Impl::Stream* s = c.find(stream);
    if (s == nullptr || s->kind != Kind::request) return ApiError::invalid_stream;
    c.abort(s, code, Initiator::local, true);
    c.flush_decoder();
    return ApiError::none;
}

ApiError Connection::shutdown() {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    if (c.shutting_down) return ApiError::none;
    c.shutting_down = true;
    // RFC 9114 §5.2: a server names the first request it will not process;
    // a client, which allows no push, names push id 0.
    std::uint64_t id = 0;
    if (c.server()) {
        id = c.peer_bidi_next;  // one past the highest request stream that arrived
        c.goaway_sent = id;
    }
    std::array<std::uint8_t, 16> buf{};
    const WriteResult r = write(buf, Goaway{id});
    c.put(c.control, std::span(buf.data(), r.size));
    c.maybe_finish_shutdown();
    return ApiError::none;
}

ApiError Connection::close(ErrorCode code) {
    Impl& c = *impl_;
    if (c.closed) return ApiError::connection_closed;
    c.terminate(code, Initiator::local, "closed by the application");
    return ApiError::none;
}

ApiError Connection::set_stream_user_data(std::uint64_t stream, void* user_data) noexcept {
    Impl::Stream* s = impl_->find(stream);
    if (s == nullptr || s->kind != Kind::request) return ApiError::invalid_stream;
    s->user = user_data;
    return ApiError::none;
}

void* Connection::stream_user_data(std::uint64_t stream) const noexcept {
    const Impl::Stream* s = impl_->find(stream);
    return s == nullptr ? nullptr : s->user;
}

Role Connection::role() const noexcept { return impl_->config.role; }
bool Connection::is_closed() const noexcept { return impl_->closed; }
bool Connection::peer_settings_received() const noexcept { return impl_->settings_in; }
const ConnectionSettings& Connection::peer_settings() const noexcept { return impl_->peer_settings; }
const ConnectionSettings& Connection::local_settings() const noexcept { return impl_->config.settings; }
std::size_t Connection::open_streams() const noexcept { return impl_->request_streams; }
std::size_t Connection::buffered(std::uint64_t stream) const noexcept {
    const Impl::Stream* s = impl_->find(stream);
    return s == nullptr ? 0 : s->out.pending();
}
std::size_t Connection::held_input() const noexcept { return impl_->held_total; }
std::size_t Connection::memory_used() const noexcept { return impl_->account.live(); }
InvalidHeader Connection::last_invalid_header() const noexcept { return impl_->last_invalid; }

}  // namespace h2wire::h3
