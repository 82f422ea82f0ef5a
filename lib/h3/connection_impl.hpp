// Connection::Impl: the state of one HTTP/3 connection. Its member
// functions are spread over files by topic:
//   connection.cpp         construction, the stream table and stream ends,
//                          connection end, the API calls that are neither
//                          input nor output, getters
//   connection_input.cpp   the receive path: peer streams and their types,
//                          the control and QPACK streams, request-stream
//                          frames, header sections and held input
//   connection_output.cpp  what we write: SETTINGS and QPACK instructions,
//                          submit_* / send_*, next_output() and the calls
//                          that release output, commands
// A member function that one file alone calls is declared inline here and
// defined in that file, as it was inline when the connection was one file
// with every function defined in the class: the compiler inlines it where
// it did then. The hot paths' small functions that several files call are
// defined here.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "connection/buffers.hpp"
#include "connection/memory_account.hpp"
#include "connection/message_validation.hpp"
#include "h2wire/h3connection.hpp"
#include "h2wire/qpack.hpp"
#include "h3/id_window.hpp"
#include "h3/out_queue.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::h3 {

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

    explicit Impl(const ConnectionConfig& c);
    ~Impl();

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

    // -- Streams (connection.cpp) ------------------------------------------

    Stream* find(std::uint64_t id) const noexcept {
        // The stream of the last lookup first: a packet's input, its
        // output and its acknowledgment usually name the same one.
        if (id == last_id && last != nullptr) [[likely]]
            return last;
        return find_in_map(id);
    }
    [[gnu::noinline]] Stream* find_in_map(std::uint64_t id) const noexcept;
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
    inline void destroy(Stream* s);
    static constexpr std::size_t kMaxSpareStreams = 128;
    void forget(Stream* s);

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
    void abort(Stream* s, ErrorCode code, Initiator by, bool send_commands, bool stop = true);
    /// Our reset of a stream for what the peer sent on it (a stream error).
    void reset_for_peer(Stream* s, ErrorCode code, std::string_view reason, InvalidHeader invalid = {});

    // -- Connection end (connection.cpp) -----------------------------------

    void terminate(ErrorCode code, Initiator by, std::string_view reason);
    void fail(ErrorCode code, std::string_view reason) { terminate(code, Initiator::local, reason); }
    void fail(const Error& e) { fail(e.code, e.reason); }
    void maybe_finish_shutdown() {
        if (!shutting_down || closed || request_streams != 0) return;
        // A server waits for the requests below its GOAWAY id that have not
        // arrived yet (QUIC may deliver a later stream first).
        if (server() && !peer_bidi.all_taken_below(goaway_sent)) return;
        terminate(ErrorCode::h3_no_error, Initiator::local, "graceful shutdown completed");
    }

    // -- Output (connection_output.cpp) ------------------------------------

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
    [[gnu::noinline]] void flush_decoder_now();
    void queue_settings();
    /// HEADERS with `fields` QPACK-encoded, on `s`.
    inline void queue_headers(Stream* s, std::span<const Field> fields);
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
    inline ApiError send_body(std::uint64_t stream, std::span<const std::uint8_t> data, bool end_stream, bool lend);
    /// May body or trailers go on `s` now.
    ApiError data_checks(const Stream* s) const noexcept {
        if (s == nullptr || s->kind != Kind::request) return ApiError::invalid_stream;
        if (s->send_done || s->fin_queued) return ApiError::stream_closed;
        if (server() && !s->final_out) return ApiError::invalid_stream;  // the response's header section first
        return ApiError::none;
    }

    // -- Input (connection_input.cpp) --------------------------------------

    /// The options of our readers (the same for every stream of a kind).
    ReaderOptions reader_options(StreamKind kind) const;
    const ReaderOptions request_options = reader_options(StreamKind::request);
    /// A fresh reader for a stream of `kind`, built in place.
    void start_reader(Stream* s, StreamKind kind) {
        if (kind == StreamKind::request) s->reader.emplace(request_options, &stream_mem);
        else s->reader.emplace(reader_options(kind), &stream_mem);
    }
    /// A stream the peer opened: takes it up, or says to ignore it.
    inline Stream* open_peer_stream(std::uint64_t id);
    inline void receive(std::uint64_t id, std::span<const std::uint8_t> bytes, bool fin);
    inline void hold(Stream* s, std::span<const std::uint8_t> bytes, bool fin);
    inline void read_uni_type(Stream* s, std::span<const std::uint8_t> bytes, bool fin);
    inline void critical_closed();
    inline void read_control(Stream* s, std::span<const std::uint8_t> bytes, bool fin);
    inline void apply_settings(const h3::Settings& st);
    inline void on_goaway(std::uint64_t id);
    inline void read_encoder(Stream* s, std::span<const std::uint8_t> bytes, bool fin);
    inline void read_decoder(Stream* s, std::span<const std::uint8_t> bytes, bool fin);
    /// Reads held input of `s` once its section is decoded.
    inline void resume_held(Stream* s);
    /// Decodes the header section of `s`: a whole HEADERS payload, or (after
    /// unblocking) what the section holds. False when the stream went.
    inline bool decode_section(Stream* s, std::span<const std::uint8_t> payload, bool end);
    /// A decoded header section on a request stream.
    inline void on_section(Stream* s, std::span<const Field> fields, const detail::MessageScan& scan);
    /// Reads a request stream's octets: frames, sections, DATA.
    inline void read_request(Stream* s, std::span<const std::uint8_t> bytes, bool fin);
    inline void end_of_input(Stream* s);
};

}  // namespace h2wire::h3

#pragma GCC visibility pop
