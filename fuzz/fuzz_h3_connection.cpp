// Fuzz target: an HTTP/3 server and client (h3::Connection) driven by random
// stream events and bytes. The two connections are also wired to each other
// through an in-memory stream transport (what one writes on stream S is the
// other's input on stream S), so one input can mix a well-behaved exchange
// (requests submitted by the client, answered by the server, the transport
// pumped with fuzzer-chosen splits and stream orders) with raw bytes, resets
// and API calls thrown at either side.
//
// Input layout (bytes past the end read as zero):
//   u8 setup   bit 0: retain_until_acked; bit 1: small limits (and a small
//              QPACK table); bit 2: message validation off; bit 3: grease
//              off; bit 4: QPACK dynamic table 0; bit 5: "clean": no raw
//              input is injected (ops 0-3, 9, 10 become pumps), so that any
//              connection error either side detects is a bug of the other
//              side's output (or of the detecting side), unless small
//              limits (bit 1) may legitimately refuse it; bit 6: the
//              connections are not bound before the first op; bit 7:
//              extended CONNECT enabled
//   then ops until the input ends; each op is one byte, its low bit (for
//   ops that target one connection) choosing the server (0) or client (1),
//   the rest (op >> 1) % 16 choosing:
//     0   feed (u8 + 1) input octets on a stream (u8: see pick_stream()),
//         FIN by a bit of that octet
//     1   the same with (u16 + 1) octets
//     2   stream_reset(stream, code)
//     3   stop_sending(stream, code)
//     4   an API call (see api())
//     5   pull output: next_output() and consume_output() of all or part
//         (u8), delivered to the peer (or dropped, by a bit)
//     6   block_stream / unblock_stream
//     7   acknowledged(stream, u8 * 7)
//     8   pump both ways until quiet (up to a bound), chunks split at u8
//     9   canned peer input: a control stream with SETTINGS, a QPACK
//         encoder / decoder stream type, a GET / a 200 HEADERS frame, DATA
//     10  transport_closed(code) (then the connection is over)
//     11  consume_output() past what is pending: must be refused
//     12  take_events()
//     13  client: submit a request on the next free stream id
//     14  next_command() delivered to the peer (RESET_STREAM / STOP_SENDING)
//     15  bind_local_streams() (again, or for the first time)
//
// Checked after every step: no crash (sanitizers); memory through
// ConnectionConfig::memory within a bound derived from the limits and what
// the input and the application handed over (and memory_used() at most
// what that resource counts); the peak during one receive() within
// max_connection_memory plus what its documentation allows;
// held_input() <= limits.max_held_input; no
// event after ConnectionTerminated, and at most one ConnectionTerminated;
// StreamClosed at most once per stream, and no event of a stream after its
// StreamClosed; consume_output() past what is pending refused
// (invalid_argument for a stream that exists); output offered only on
// streams the connection may write; in clean runs, no connection error but
// H3_NO_ERROR from a graceful end or close(); nothing held once the
// connections are gone.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory_resource>
#include <set>
#include <span>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "h2wire/h3connection.hpp"
#include "h2wire/h3frame.hpp"

namespace {

using namespace h2wire;
using h3::ErrorCode;

constexpr std::array<std::uint64_t, 3> kClientUni = {2, 6, 10};
constexpr std::array<std::uint64_t, 3> kServerUni = {3, 7, 11};

constexpr bool is_bidi(std::uint64_t id) { return (id & 2) == 0; }

/// One side: its connection and what the checks remember about it.
struct Side {
    Side(const h3::ConnectionConfig& config, CountingResource* mr)
        : memory(mr), conn(config), limits(config.limits), settings(config.settings) {}
    CountingResource* memory;
    h3::Connection conn;
    h3::ConnectionLimits limits;
    h3::ConnectionSettings settings;
    bool terminated = false;       // ConnectionTerminated seen
    bool app_closed = false;       // close() or transport_closed() called
    bool peer_told = false;        // the peer got transport_closed() for our end
    ErrorCode end_code = ErrorCode::h3_no_error;
    std::set<std::uint64_t> closed;  // streams whose StreamClosed came
    std::array<std::uint64_t, 8> streams{};  // stream ids from events, for the API calls
    std::size_t next_slot = 0;
    std::uint64_t last_stream = 0;
    std::size_t input_octets = 0;   // octets given to receive()
    std::size_t app_octets = 0;     // octets the application handed over (fields, copied data)
    std::size_t submissions = 0;    // API calls that may queue output
    std::set<std::uint64_t> reset_out;  // streams whose RESET_STREAM the peer got: their bytes are dropped
};

class Driver {
public:
    Driver(const std::uint8_t* data, std::size_t size) : in_(std::span<const std::uint8_t>(data, size)) {}

    void run() {
        const std::uint8_t setup = in_.u8();
        clean_ = (setup & 32) != 0;
        small_limits_ = (setup & 2) != 0;
        {
            Side server(config(Role::server, setup, &server_memory_), &server_memory_);
            Side client(config(Role::client, setup, &client_memory_), &client_memory_);
            server_ = &server;
            client_ = &client;
            if ((setup & 64) == 0) {
                bind(server);
                bind(client);
            }
            while (!in_.empty()) {
                step();
                check(server);
                check(client);
            }
            // Drain what is left, as a caller closing down would.
            pump(0);
            check(server);
            check(client);
            server_ = client_ = nullptr;
        }
        H2W_CHECK(server_memory_.in_use() == 0);
        H2W_CHECK(client_memory_.in_use() == 0);
    }

private:
    static h3::ConnectionConfig config(Role role, std::uint8_t setup, std::pmr::memory_resource* mr) {
        h3::ConnectionConfig c;
        c.role = role;
        c.memory = mr;
        c.retain_until_acked = (setup & 1) != 0;
        c.validate_messages = (setup & 4) == 0;
        c.grease = (setup & 8) == 0;
        c.settings.enable_connect_protocol = (setup & 128) != 0;
        if (setup & 2) {
            c.settings.max_field_section_size = 2048;
            c.settings.qpack_max_table_capacity = 256;
            c.settings.qpack_blocked_streams = 2;
            c.limits.max_peer_requests = 4;
            c.limits.max_unknown_streams = 2;
            c.limits.max_control_frame = 256;
            c.limits.max_held_input = 4096;
            c.limits.max_buffered_per_stream = 2000;
            c.limits.max_field_size = 1024;
            c.limits.max_connection_memory = 128 * 1024;
        }
        if (setup & 16) c.settings.qpack_max_table_capacity = 0;
        return c;
    }

    Side& target(std::uint8_t op) { return (op & 1) ? *client_ : *server_; }
    Side& peer_of(const Side& s) { return &s == server_ ? *client_ : *server_; }
    bool is_client(const Side& s) const { return &s == client_; }

    void bind(Side& s) {
        const auto& ids = is_client(s) ? kClientUni : kServerUni;
        (void)s.conn.bind_local_streams(ids[0], ids[1], ids[2]);
    }

    // -- Checks ---------------------------------------------------------------

    /// The memory a connection may hold: fixed structures (QPACK tables,
    /// pools, the per-call arena), what the limits let the peer make it hold,
    /// and a multiple of what the input and the application handed over.
    std::size_t bound(const Side& s) const {
        const h3::ConnectionLimits& l = s.limits;
        return (std::size_t{512} << 10) + 3 * l.max_held_input + 4 * l.max_control_frame +
               (l.max_peer_requests + l.max_unknown_streams + s.submissions + 16) * 4096 + 8 * s.app_octets +
               64 * s.input_octets;
    }

    void check(Side& s) {
        // memory_used() leaves out the connection object itself.
        H2W_CHECK(s.conn.memory_used() <= s.memory->in_use());
        if (s.memory->in_use() > bound(s)) {
            std::fprintf(stderr, "memory bound exceeded: %zu > %zu\n", s.memory->in_use(), bound(s));
            std::abort();
        }
        H2W_CHECK(s.conn.held_input() <= s.limits.max_held_input);
    }

    void on_events(Side& s, std::span<const h3::Event> events) {
        for (const h3::Event& e : events) on_event(s, e);
    }

    void on_event(Side& s, const h3::Event& e) {
        H2W_CHECK(!s.terminated);  // nothing after ConnectionTerminated
        std::visit(
            [&](const auto& ev) {
                using T = std::decay_t<decltype(ev)>;
                if constexpr (requires { ev.stream; }) {
                    if constexpr (!std::is_same_v<T, h3::InputConsumed>) {
                        // No event of a stream after its StreamClosed.
                        H2W_CHECK(s.closed.count(ev.stream) == 0);
                        remember(s, ev.stream);
                    }
                }
                if constexpr (std::is_same_v<T, h3::StreamClosed>) {
                    s.closed.insert(ev.stream);
                } else if constexpr (std::is_same_v<T, h3::ConnectionTerminated>) {
                    s.terminated = true;
                    s.end_code = ev.code;
                    if (clean_ && !small_limits_ && !s.app_closed && ev.by == Initiator::local && ev.code != ErrorCode::h3_no_error) {
                        std::fprintf(stderr, "clean run: %s detected a connection error %llu (%.*s)\n",
                                     is_client(s) ? "client" : "server", static_cast<unsigned long long>(ev.code),
                                     static_cast<int>(ev.reason.size()), ev.reason.data());
                        std::abort();
                    }
                } else if constexpr (std::is_same_v<T, h3::RequestReceived>) {
                    H2W_CHECK(!is_client(s));
                    H2W_CHECK(is_bidi(ev.stream) && (ev.stream & 1) == 0);
                } else if constexpr (std::is_same_v<T, h3::ResponseReceived>) {
                    H2W_CHECK(is_client(s));
                } else if constexpr (std::is_same_v<T, h3::DataReceived>) {
                    H2W_CHECK(ev.data.data() != nullptr || ev.data.empty());
                }
            },
            e);
    }

    void remember(Side& s, std::uint64_t id) {
        s.streams[s.next_slot++ % s.streams.size()] = id;
        s.last_stream = id;
    }

    // -- Stream ids -----------------------------------------------------------

    /// A stream id for input to `s` or a call on it: request streams, the
    /// peer's and our own unidirectional streams, unknown ones, ids from
    /// events, any id.
    std::uint64_t pick_stream(const Side& s, std::uint8_t b) {
        const std::uint64_t peer_uni = is_client(s) ? 3 : 2;
        switch (b % 16) {
        case 0: case 1: case 2: case 3: case 4: case 5: return 4 * std::uint64_t(b % 16);  // client bidi
        case 6: return peer_uni;       // the peer's control stream
        case 7: return peer_uni + 4;   // the peer's QPACK encoder stream
        case 8: return peer_uni + 8;   // the peer's QPACK decoder stream
        case 9: return peer_uni + 12 + 4 * std::uint64_t(b >> 6);  // unknown uni
        case 10: return is_client(s) ? 2 : 3;  // our own control stream
        case 11: return 1 + 4 * std::uint64_t(b >> 6);  // server-initiated bidi
        case 12: case 13: return s.last_stream;
        case 14: return s.streams[b >> 4 & 7];
        default: return std::uint64_t(b) << (b & 0x3e);  // anything (past 2^62 too)
        }
    }

    // -- Ops ------------------------------------------------------------------

    void feed(Side& s, std::uint64_t stream, std::span<const std::uint8_t> bytes, bool fin) {
        // A private copy that dies after the call: the API's contract, and
        // ASan sees any view kept longer.
        std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
        s.input_octets += copy.size();
        const std::size_t before = s.memory->in_use();
        s.memory->reset_peak();
        on_events(s, s.conn.receive(stream, copy, fin));
        // ConnectionLimits::max_connection_memory: one receive() adds at most
        // one frame buffer (max_field_section_size x 4) beyond what it was
        // given, and events (up to a quarter of the limit, the list growing
        // to twice that), before the check that ends the connection.
        const std::size_t mfss = static_cast<std::size_t>(std::min<std::uint64_t>(s.settings.max_field_section_size, 1u << 30));
        const std::size_t allowed = std::max(before, s.limits.max_connection_memory) + 4 * mfss + 2 * copy.size() +
                                    s.limits.max_connection_memory / 2 + (std::size_t{64} << 10);
        if (s.memory->peak() > allowed) {
            std::fprintf(stderr, "receive() peak %zu over %zu (before %zu, %zu octets in)\n", s.memory->peak(), allowed,
                         before, copy.size());
            std::abort();
        }
    }

    void raw(Side& s, std::size_t n) {
        const std::uint8_t b = in_.u8();
        const std::uint64_t stream = pick_stream(s, b);
        const bool fin = (in_.u8() & 1) != 0;
        feed(s, stream, in_.bytes(n), fin);
    }

    /// Pulls one output of `s`; delivers it to the peer unless `drop`.
    /// `how`: 255 all of it, else a part. Returns the octets taken.
    std::size_t pull(Side& s, std::uint8_t how, bool drop, bool ack) {
        const std::optional<h3::StreamOutput> out = s.conn.next_output();
        if (!out) return 0;
        const std::uint64_t stream = out->stream;
        // Only streams we may write: bidi, or our own uni streams.
        const auto& own = is_client(s) ? kClientUni : kServerUni;
        H2W_CHECK(is_bidi(stream) || std::find(own.begin(), own.end(), stream) != own.end());
        std::size_t total = 0;
        for (const OutputChunk& c : out->chunks) {
            H2W_CHECK(c.data != nullptr && c.size > 0);
            total += c.size;
        }
        H2W_CHECK(total == out->size);
        H2W_CHECK(out->size > 0 || out->fin);
        // buffered() answers for request streams only (0 for our control
        // and QPACK streams, whatever they hold).
        if (is_bidi(stream)) H2W_CHECK(s.conn.buffered(stream) >= out->size);
        const std::size_t take = how == 255 ? out->size : std::min<std::size_t>(out->size, std::size_t{how} * 61);
        const bool fin = out->fin && take == out->size;
        // The octets taken, copied before the next call on `s`.
        std::vector<std::uint8_t> bytes;
        bytes.reserve(take);
        for (const OutputChunk& c : out->chunks) {
            const std::size_t n = std::min(c.size, take - bytes.size());
            bytes.insert(bytes.end(), c.data, c.data + n);
            if (bytes.size() == take) break;
        }
        if (take == 0 && !fin) return 0;
        H2W_CHECK(s.conn.consume_output(stream, take) == ApiError::none);
        if (ack) s.conn.acknowledged(stream, take);
        Side& peer = peer_of(s);
        if (!drop && !peer.terminated && s.reset_out.count(stream) == 0) feed(peer, stream, bytes, fin);
        return take + (fin ? 1 : 0);
    }

    /// Pumps both ways until nothing moves (or a bound), delivering
    /// commands and connection ends too. `split`: 0 whole outputs, else
    /// parts of up to split * 61 octets.
    void pump(std::uint8_t split) {
        for (int round = 0; round < 256; ++round) {
            std::size_t moved = 0;
            for (Side* s : {client_, server_}) {
                for (int i = 0; i < 64; ++i) {
                    const std::size_t n = pull(*s, split == 0 ? 255 : split, false, true);
                    if (n == 0) break;
                    moved += n;
                }
                while (command(*s)) ++moved;
                on_events(*s, s->conn.take_events());
                if (s->terminated && !s->peer_told) {
                    s->peer_told = true;
                    Side& peer = peer_of(*s);
                    if (!peer.terminated) {
                        peer.app_closed = true;
                        on_events(peer, peer.conn.transport_closed(static_cast<std::uint64_t>(s->end_code)));
                    }
                    ++moved;
                }
            }
            if (moved == 0) return;
        }
    }

    /// One next_command() of `s`, delivered to the peer as the QUIC stack
    /// would (RESET_STREAM: the peer's stream_reset(); STOP_SENDING: its
    /// stop_sending()).
    bool command(Side& s) {
        const std::optional<h3::StreamCommand> cmd = s.conn.next_command();
        if (!cmd) return false;
        Side& peer = peer_of(s);
        if (peer.terminated) return true;
        if (cmd->kind == h3::CommandKind::reset_stream) {
            if (s.reset_out.insert(cmd->stream).second)
                on_events(peer, peer.conn.stream_reset(cmd->stream, static_cast<std::uint64_t>(cmd->code)));
        } else {
            on_events(peer, peer.conn.stop_sending(cmd->stream, static_cast<std::uint64_t>(cmd->code)));
        }
        return true;
    }

    /// Well-formed pieces a peer would send, so that the fuzzer reaches
    /// request handling without building them.
    void canned(Side& s) {
        const std::uint8_t which = in_.u8();
        const std::uint8_t b = in_.u8();
        // Control stream: type 0x00, SETTINGS (QPACK capacity 4096, blocked 16).
        static constexpr std::array<std::uint8_t, 9> control{0x00, 0x04, 0x06, 0x01, 0x50, 0x00, 0x07, 0x10, 0x00};
        static constexpr std::array<std::uint8_t, 1> encoder{0x02};
        static constexpr std::array<std::uint8_t, 1> decoder{0x03};
        // HEADERS: :method GET, :scheme https, :path /, :authority example.com
        // (static table, RFC 9204 Appendix A).
        static constexpr std::array<std::uint8_t, 20> get{0x01, 0x12, 0x00, 0x00, 0xd1, 0xd7, 0xc1, 0x50, 0x0b, 'e',
                                                          'x',  'a',  'm',  'p',  'l',  'e',  '.',  'c',  'o',  'm'};
        // HEADERS: :status 200.
        static constexpr std::array<std::uint8_t, 5> ok{0x01, 0x03, 0x00, 0x00, 0xd9};
        // DATA "hello".
        static constexpr std::array<std::uint8_t, 7> data{0x00, 0x05, 'h', 'e', 'l', 'l', 'o'};
        const std::uint64_t peer_uni = is_client(s) ? 3 : 2;
        const bool fin = (b & 0x80) != 0;
        switch (which % 6) {
        case 0: feed(s, peer_uni, control, false); break;
        case 1: feed(s, peer_uni + 4, encoder, false); break;
        case 2: feed(s, peer_uni + 8, decoder, false); break;
        case 3: feed(s, pick_stream(s, b), get, fin); break;
        case 4: feed(s, pick_stream(s, b), ok, fin); break;
        default: feed(s, pick_stream(s, b), data, fin); break;
        }
    }

    void api(Side& s) {
        const std::uint8_t which = in_.u8();
        const std::uint64_t id = pick_stream(s, in_.u8());
        const std::uint8_t arg = in_.u8();
        static constexpr std::array<Field, 3> response{Field{":status", "200"}, Field{"content-type", "text/plain"},
                                                       Field{"x-a", "b"}};
        static constexpr std::array<Field, 2> informational{Field{":status", "103"}, Field{"link", "</a>"}};
        static constexpr std::array<Field, 1> trailers{Field{"x-checksum", "abc"}};
        static constexpr std::array<Field, 2> bad{Field{":status", "200"}, Field{"Connection", "close"}};
        const std::array<Field, 2> big{Field{":status", "200"}, Field{"x-big", big_value()}};
        const auto body = std::span<const std::uint8_t>(body_.data(), std::size_t{arg} * 257 % body_.size());
        ++s.submissions;
        switch (which % 14) {
        case 0: s.app_octets += 64; (void)s.conn.submit_response(id, response, arg & 1); break;
        case 1: s.app_octets += 64; (void)s.conn.submit_response(id, informational, false); break;
        case 2: s.app_octets += body.size(); (void)s.conn.send_data(id, body, arg & 1); break;
        case 3: (void)s.conn.send_data_borrowed(id, body, arg & 1); break;
        case 4: s.app_octets += 32; (void)s.conn.send_trailers(id, trailers); break;
        case 5: (void)s.conn.reset_stream(id, static_cast<ErrorCode>(0x100 + arg % 0x11)); break;
        case 6: (void)s.conn.shutdown(); break;
        case 7:
            if (s.conn.close(arg & 1 ? ErrorCode::h3_no_error : ErrorCode::h3_internal_error) == ApiError::none)
                s.app_closed = true;
            break;
        case 8: s.app_octets += 64; (void)s.conn.submit_response(id, bad, arg & 1); break;
        case 9: s.app_octets += big_value().size() + 64; (void)s.conn.submit_response(id, big, arg & 1); break;
        case 10:
            // In clean runs, only ids a QUIC stack would let the client open
            // (the peer's MAX_STREAMS): a far one ends the connection with
            // H3_ID_ERROR at the server, rightly.
            submit(s, clean_ && id > next_request_ + 4096 ? next_request_ : id, arg);
            break;
        case 11:
            (void)s.conn.set_stream_user_data(id, &body_);
            (void)s.conn.stream_user_data(id);
            break;
        case 12:
            (void)s.conn.open_streams();
            (void)s.conn.buffered(id);
            (void)s.conn.wants_write();
            (void)s.conn.is_closed();
            (void)s.conn.peer_settings_received();
            (void)s.conn.peer_settings();
            (void)s.conn.last_invalid_header();
            break;
        default: on_events(s, s.conn.take_events()); break;
        }
    }

    /// A request on `id` (GET without body, or POST with one), client side
    /// (a server must refuse).
    void submit(Side& s, std::uint64_t id, std::uint8_t arg) {
        static constexpr std::array<Field, 4> get{Field{":method", "GET"}, Field{":scheme", "https"},
                                                  Field{":authority", "example.com"}, Field{":path", "/"}};
        static constexpr std::array<Field, 5> post{Field{":method", "POST"}, Field{":scheme", "https"},
                                                   Field{":authority", "example.com"}, Field{":path", "/upload"},
                                                   Field{"content-length", "100"}};
        static constexpr std::array<Field, 5> connect{Field{":method", "CONNECT"}, Field{":protocol", "websocket"},
                                                      Field{":scheme", "https"}, Field{":authority", "example.com"},
                                                      Field{":path", "/chat"}};
        s.app_octets += 128;
        switch (arg % 3) {
        case 0: (void)s.conn.submit_request(id, get, (arg & 4) == 0); break;
        case 1:
            if (s.conn.submit_request(id, post, false)) {
                s.app_octets += 100;
                (void)s.conn.send_data(id, std::span<const std::uint8_t>(body_.data(), 100), (arg & 4) == 0);
            }
            break;
        default: (void)s.conn.submit_request(id, connect, false); break;
        }
    }

    void step() {
        const std::uint8_t op = in_.u8();
        Side& s = target(op);
        std::uint8_t kind = (op >> 1) % 16;
        if (clean_ && (kind <= 3 || kind == 9 || kind == 10)) kind = 8;  // no raw input
        switch (kind) {
        case 0: raw(s, std::size_t{in_.u8()} + 1); break;
        case 1: raw(s, std::size_t{in_.u16()} + 1); break;
        case 2: {
            const std::uint64_t id = pick_stream(s, in_.u8());
            on_events(s, s.conn.stream_reset(id, 0x100 + in_.u8()));
            break;
        }
        case 3: {
            const std::uint64_t id = pick_stream(s, in_.u8());
            on_events(s, s.conn.stop_sending(id, 0x100 + in_.u8()));
            break;
        }
        case 4: api(s); break;
        case 5: {
            const std::uint8_t how = in_.u8();
            (void)pull(s, how, !clean_ && (how & 1) != 0 && (op & 0x80) != 0, (op & 0x40) != 0);
            break;
        }
        case 6: {
            const std::uint8_t b = in_.u8();
            const std::uint64_t id = pick_stream(s, b);
            if (b & 0x80) s.conn.unblock_stream(id);
            else s.conn.block_stream(id);
            break;
        }
        case 7: {
            const std::uint64_t id = pick_stream(s, in_.u8());
            s.conn.acknowledged(id, std::size_t{in_.u8()} * 7);
            break;
        }
        case 8: {
            // Unblock everything first: a blocked stream would stall the pump.
            for (std::uint8_t b = 0; b < 16; ++b) s.conn.unblock_stream(pick_stream(s, b));
            pump(in_.u8());
            break;
        }
        case 9: canned(s); break;
        case 10:
            s.app_closed = true;
            on_events(s, s.conn.transport_closed(0x100 + in_.u8()));
            break;
        case 11: {
            const std::uint64_t id = pick_stream(s, in_.u8());
            // buffered() is 0 for our control and QPACK streams, whatever
            // they hold: no check there.
            if (!is_bidi(id)) break;
            const std::size_t pending = s.conn.buffered(id);
            const std::size_t extra = std::size_t{in_.u8()} + 1;
            const ApiError e = s.conn.consume_output(id, pending + extra);
            H2W_CHECK(e != ApiError::none);
            if (pending > 0) H2W_CHECK(e == ApiError::invalid_argument);
            break;
        }
        case 12: on_events(s, s.conn.take_events()); break;
        case 13: {
            Side& c = *client_;
            submit(c, next_request_, in_.u8());
            ++c.submissions;
            next_request_ += 4;
            break;
        }
        case 14: (void)command(s); break;
        default: bind(s); break;
        }
    }

    static std::string_view big_value() {
        static const std::vector<char> v(3000, 'v');
        return {v.data(), v.size()};
    }

    FuzzInput in_;
    bool clean_ = false;
    bool small_limits_ = false;  // a local limit may end a clean run (e.g. a field past max_field_size)
    CountingResource server_memory_;
    CountingResource client_memory_;
    Side* server_ = nullptr;
    Side* client_ = nullptr;
    std::uint64_t next_request_ = 0;
    // Body octets for send_data / send_data_borrowed (outlives the connections).
    std::array<std::uint8_t, 70000> body_{};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Driver(data, size).run();
    return 0;
}
