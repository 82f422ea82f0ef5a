// gRPC over HTTP/2, in memory: a client and a server Connection wired
// together (Pair, random chunking), each driven by a small "application"
// written against the public API only (events, stream user data, body
// sources), the way a gRPC runtime would sit on h2wire.
//
// The gRPC HTTP/2 protocol: a request is HEADERS (:method POST, :scheme,
// :path /package.Service/Method, te: trailers, content-type
// application/grpc..., grpc-timeout) then Length-Prefixed-Messages; a
// response is HEADERS (:status 200, content-type) then messages, then
// trailers with grpc-status (and grpc-message). An immediate error is a
// "trailers-only" response: one HEADERS with END_STREAM carrying :status and
// grpc-status. A Length-Prefixed-Message is a compressed flag (1 octet) and
// a 32-bit big-endian length, then the message. Deadlines travel as
// grpc-timeout and end a call with RST_STREAM(CANCEL).
//
//  1. Unary calls: 1,000, up to 100 in flight, random sizes (0 to past one
//     frame), pushed or pulled bodies on both sides; every answer matches
//     its request, every stream closes once with NO_ERROR, and the
//     connection windows come back to where they started.
//  2. Client streaming: messages produced later by the application, through
//     a BodyReader that says "wait" between them.
//  3. Server streaming with pauses and trailers, to a client in manual flow
//     control that consumes only after "processing": never past a window.
//  4. Bidirectional: ping-pong, and both sides streaming at once.
//  5. Errors: trailers-only, a grpc-status after some messages, a message
//     cut short (seen at END_STREAM) in both directions.
//  6. Deadlines as resets, the client's and the server's; lent memory freed
//     inside the StreamClosed handler (AddressSanitizer sees any later use).
//  7. A body source's finished() across every way its stream can end: once,
//     after its lends came back, before StreamClosed (never, when the
//     connection is destroyed).
//
// A failing case prints its seed; H2WIRE_GRPC_SEED=<n> replays another.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

std::uint64_t seed_or(std::uint64_t fallback) {
    if (const char* s = std::getenv("H2WIRE_GRPC_SEED")) return std::strtoull(s, nullptr, 10);
    return fallback;
}

// ---------------------------------------------------------------------------
// gRPC's wire format, as an application would write it

namespace grpc {

// Status codes (gRPC's statuscodes.md).
constexpr int ok = 0;
constexpr int cancelled = 1;
constexpr int unknown = 2;
constexpr int deadline_exceeded = 4;
constexpr int resource_exhausted = 8;
constexpr int unimplemented = 12;
constexpr int internal = 13;
constexpr int unavailable = 14;

constexpr std::string_view content_type = "application/grpc+proto";

/// A Length-Prefixed-Message: flag 0 (not compressed), length, message.
std::string frame(std::string_view message) {
    const auto n = static_cast<std::uint32_t>(message.size());
    std::string out;
    out.reserve(5 + message.size());
    out += '\0';
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xff);
    out += message;
    return out;
}

/// Splits a body into messages as it arrives, in any pieces.
class Deframer {
public:
    /// Appends body octets; each message completed goes to `out`.
    void feed(std::span<const std::uint8_t> data, std::vector<std::string>& out) {
        buf_.append(reinterpret_cast<const char*>(data.data()), data.size());
        std::size_t pos = 0;
        while (!bad_ && buf_.size() - pos >= 5) {
            const auto flag = static_cast<std::uint8_t>(buf_[pos]);
            std::uint32_t n = 0;
            for (std::size_t k = 1; k <= 4; ++k) n = n << 8 | static_cast<std::uint8_t>(buf_[pos + k]);
            if (flag > 1 || n > max_message) {
                bad_ = true;
                break;
            }
            if (buf_.size() - pos - 5 < n) break;
            out.push_back(buf_.substr(pos + 5, n));
            pos += 5 + n;
        }
        buf_.erase(0, pos);
    }
    /// Octets of a message not complete yet: at END_STREAM, a truncated one.
    std::size_t partial() const { return buf_.size(); }
    bool bad() const { return bad_; }

    static constexpr std::uint32_t max_message = 4 * 1024 * 1024;

private:
    std::string buf_;
    bool bad_ = false;
};

/// grpc-timeout: TimeoutValue (at most 8 digits) and TimeoutUnit.
std::string timeout(std::uint64_t ms) {
    return std::to_string(ms) + "m";
}
std::optional<std::uint64_t> parse_timeout_ms(std::string_view v) {
    if (v.size() < 2 || v.size() > 9) return std::nullopt;
    std::uint64_t n = 0;
    for (const char c : v.substr(0, v.size() - 1)) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    switch (v.back()) {
        case 'H':
            return n * 3'600'000;
        case 'M':
            return n * 60'000;
        case 'S':
            return n * 1000;
        case 'm':
            return n;
        case 'u':
            return n / 1000;
        case 'n':
            return n / 1'000'000;
        default:
            return std::nullopt;
    }
}

Hdrs request_headers(const std::string& path, std::optional<std::uint64_t> timeout_ms) {
    Hdrs h{{":method", "POST"},
           {":scheme", "http"},
           {":authority", "localhost:50051"},
           {":path", path},
           {"te", "trailers"},
           {"content-type", std::string(content_type)},
           {"user-agent", "h2wire-grpc-test/1"}};
    if (timeout_ms) h.push_back({"grpc-timeout", timeout(*timeout_ms)});
    return h;
}
Hdrs response_headers() {
    return {{":status", "200"}, {"content-type", std::string(content_type)}};
}
Hdrs status_fields(int status, const std::string& message = {}) {
    Hdrs h{{"grpc-status", std::to_string(status)}};
    if (!message.empty()) h.push_back({"grpc-message", message});
    return h;
}

}  // namespace grpc

const std::string kUnary = "/h2wire.test.Echo/Unary";
const std::string kCollect = "/h2wire.test.Echo/Collect";
const std::string kStream = "/h2wire.test.Echo/Stream";
const std::string kChat = "/h2wire.test.Echo/Chat";
const std::string kFill = "/h2wire.test.Echo/Fill";
const std::string kTruncate = "/h2wire.test.Echo/Truncate";

/// What the echo service answers to a message: reversed, every octet
/// flipped, so an answer that is the request itself shows.
std::string transform(std::string_view m) {
    std::string r(m.rbegin(), m.rend());
    for (char& c : r) c = static_cast<char>(c ^ 0x5a);
    return r;
}

/// Message `i` of a server stream, `size` octets.
std::string stream_message(std::size_t i, std::size_t size) {
    std::string s(size, 'a');
    for (std::size_t k = 0; k < size; ++k) s[k] = static_cast<char>('a' + (i * 7 + k * 3) % 26);
    return s;
}

/// The aggregate Collect answers: count, octets, and a checksum.
std::string aggregate(const std::vector<std::string>& messages) {
    std::uint64_t octets = 0;
    std::uint32_t sum = 0;
    for (const std::string& m : messages) {
        octets += m.size();
        for (const char c : m) sum = sum * 31 + static_cast<std::uint8_t>(c);
    }
    return "count=" + num(messages.size()) + " octets=" + num(octets) + " sum=" + num(sum);
}

/// What a Stream request asks for: `count` messages of `size` octets, one
/// every `period_ms`; after `fail_after` of them (if set) the stream ends
/// with `fail_status`; `lend`: the body is lent (BodyLender), else copied.
struct StreamPlan {
    std::size_t count = 0;
    std::size_t size = 0;
    std::uint64_t period_ms = 0;
    std::size_t fail_after = SIZE_MAX;
    int fail_status = 0;
    bool lend = false;

    std::string encode() const {
        return num(count) + " " + num(size) + " " + num(period_ms) + " " +
               (fail_after == SIZE_MAX ? std::string("-") : num(fail_after)) + " " + std::to_string(fail_status) + " " +
               (lend ? "1" : "0");
    }
    static StreamPlan decode(const std::string& s) {
        StreamPlan p;
        std::istringstream in(s);
        std::string fail;
        int lent = 0;
        in >> p.count >> p.size >> p.period_ms >> fail >> p.fail_status >> lent;
        if (fail != "-") p.fail_after = std::stoul(fail);
        p.lend = lent != 0;
        return p;
    }
};

// ---------------------------------------------------------------------------
// Body sources the applications use

/// Each call keeps a journal of what its body source heard and of its
/// StreamClosed: "lend", "release", "finished+" (complete) or "finished-",
/// "closed".
using Journal = std::vector<std::string>;

/// Checks a journal: every lend released before finished(), finished()
/// exactly once and before StreamClosed, StreamClosed exactly once.
void check_journal(const Journal& j, std::optional<bool> complete = std::nullopt) {
    INFO("journal: " << join(j, " "));
    int out = 0, finished = 0, closed = 0;
    for (const std::string& e : j) {
        if (e == "lend") {
            CHECK(finished == 0);
            ++out;
        } else if (e == "release") {
            CHECK(out > 0);
            CHECK(finished == 0);
            --out;
        } else if (e == "finished+" || e == "finished-") {
            CHECK(out == 0);
            CHECK(closed == 0);
            ++finished;
            if (complete) CHECK((e == "finished+") == *complete);
        } else if (e == "read" || e == "asked") {
            CHECK(finished == 0);
        } else if (e == "closed") {
            ++closed;
        }
    }
    CHECK(finished == 1);
    CHECK(closed == 1);
}

/// Outgoing messages of one call, copied into DATA frames as the connection
/// asks (BodyReader). The application pushes messages whenever it has them
/// and calls resume_body(); close() ends the body, with trailers on the
/// server's side.
class Outbox final : public BodyReader {
public:
    explicit Outbox(Journal* journal) : journal_(journal) {}

    void push(std::string_view message) { pending_ += grpc::frame(message); }
    /// Octets as they are, framed or not (a message cut short).
    void push_raw(std::string_view bytes) { pending_ += bytes; }
    void close(Hdrs trailers = {}) {
        closed_ = true;
        trailers_.emplace(std::move(trailers));
    }
    bool closed() const { return closed_; }

    BodyRead read(std::uint32_t, std::span<std::uint8_t> buffer) override {
        ++reads;
        const std::size_t n = std::min(buffer.size(), pending_.size() - sent_);
        std::memcpy(buffer.data(), pending_.data() + sent_, n);
        sent_ += n;
        if (sent_ < pending_.size()) return {n, BodyStatus::more, {}};
        pending_.clear();
        sent_ = 0;
        if (!closed_) {
            ++waits;
            return {n, BodyStatus::wait, {}};
        }
        return {n, BodyStatus::end, std::span<const Field>(trailers_->data(), trailers_->size())};
    }
    void finished(std::uint32_t, bool complete) override { journal_->push_back(complete ? "finished+" : "finished-"); }

    std::size_t reads = 0;
    std::size_t waits = 0;

private:
    Journal* journal_;
    std::string pending_;
    std::size_t sent_ = 0;
    bool closed_ = false;
    std::optional<FieldList> trailers_;
};

/// Outgoing messages lent from one buffer the application owns (a
/// BodyLender): messages are written into it as they are produced and lent
/// from there. The application frees the buffer at the stream's
/// StreamClosed.
class LentOutbox final : public BodyLender {
public:
    LentOutbox(std::span<std::uint8_t> buffer, Journal* journal) : buffer_(buffer), journal_(journal) {}

    void push(std::string_view message) {
        const std::string framed = grpc::frame(message);
        REQUIRE(ready_ + framed.size() <= buffer_.size());
        std::memcpy(buffer_.data() + ready_, framed.data(), framed.size());
        ready_ += framed.size();
    }
    void close(Hdrs trailers) {
        closed_ = true;
        trailers_.emplace(std::move(trailers));
    }

    BodyLend lend(std::uint32_t, std::size_t max) override {
        const std::size_t n = std::min(max, ready_ - lent_);
        const std::span<const std::uint8_t> piece(buffer_.data() + lent_, n);
        lent_ += n;
        if (n) {
            ++out_;
            journal_->push_back("lend");
        }
        if (lent_ < ready_) return {piece, BodyStatus::more, {}};
        if (!closed_) return {piece, BodyStatus::wait, {}};
        return {piece, BodyStatus::end, std::span<const Field>(trailers_->data(), trailers_->size())};
    }
    void release(std::uint32_t, std::span<const std::uint8_t> lent) override {
        CHECK(lent.data() >= buffer_.data());
        CHECK(lent.data() + lent.size() <= buffer_.data() + lent_);
        --out_;
        journal_->push_back("release");
    }
    void finished(std::uint32_t, bool complete) override { journal_->push_back(complete ? "finished+" : "finished-"); }
    int outstanding() const { return out_; }
    std::size_t lent() const { return lent_; }

private:
    std::span<std::uint8_t> buffer_;
    Journal* journal_;
    std::size_t ready_ = 0;
    std::size_t lent_ = 0;
    int out_ = 0;
    bool closed_ = false;
    std::optional<FieldList> trailers_;
};

// ---------------------------------------------------------------------------
// The simulated clock the applications' timers read (the library has none)

struct Clock {
    std::uint64_t now = 0;  // milliseconds
};

// ---------------------------------------------------------------------------
// The client application

struct ClientCall {
    std::uint32_t stream = 0;
    std::string path;
    Journal journal;
    Outbox out{&journal};
    std::vector<std::string> sent;
    bool send_closed = false;

    grpc::Deframer in;
    std::vector<std::string> received;
    int http_status = 0;
    bool trailers_only = false;
    bool trailers = false;
    std::optional<int> grpc_status;
    std::string grpc_message;
    bool ended = false;
    std::optional<std::pair<ErrorCode, Initiator>> reset;
    std::vector<StreamClosed> closed;

    std::optional<std::uint64_t> deadline;
    bool deadline_fired = false;
    int status = -1;  // the call's outcome, as the runtime reports it
    std::string status_text;

    std::uint64_t owed = 0;           // manual flow control: handed over, not consumed
    std::size_t most_unanswered = 0;  // bidi: the most messages sent and not answered yet
    std::size_t sent_after_first_answer = 0;
    std::function<void(ClientCall&)> on_message;  // after each message received
};

struct CallOptions {
    std::optional<std::uint64_t> timeout_ms;  // grpc-timeout
    bool enforce_deadline = true;             // the client resets at its deadline
    bool pushed = false;                      // send_data() rather than a body source
    bool close = true;                        // the messages given are all
};

class Client {
public:
    Client(Connection& conn, Clock& clock, Rng& rng) : conn_(conn), clock_(clock), rng_(rng) {}

    ClientCall& start(const std::string& path, const std::vector<std::string>& messages, const CallOptions& o = {}) {
        auto call = std::make_unique<ClientCall>();
        call->path = path;
        if (o.timeout_ms && o.enforce_deadline) call->deadline = clock_.now + *o.timeout_ms;
        const auto h = fields(grpc::request_headers(path, o.timeout_ms));
        if (o.pushed) {
            REQUIRE(o.close);
            std::string body;
            for (const std::string& m : messages) body += grpc::frame(m);
            const Submitted sub = conn_.submit_request(h, false, call.get());
            REQUIRE_MESSAGE(sub, to_string(sub.error));
            call->stream = sub.stream;
            REQUIRE(conn_.send_data(sub.stream, span_of(body), true) == ApiError::none);
            call->journal.push_back("finished+");  // no source: nothing to hear
        } else {
            for (const std::string& m : messages) call->out.push(m);
            if (o.close) call->out.close();
            const Submitted sub = conn_.submit_request(h, call->out, call.get());
            REQUIRE_MESSAGE(sub, to_string(sub.error));
            call->stream = sub.stream;
        }
        call->sent = messages;
        call->send_closed = o.close;
        ++open;
        calls.push_back(std::move(call));
        return *calls.back();
    }
    /// Another message on a call whose body is a source.
    void send(ClientCall& call, std::string message) {
        REQUIRE(!call.send_closed);
        call.out.push(message);
        if (!call.received.empty()) ++call.sent_after_first_answer;
        call.sent.push_back(std::move(message));
        call.most_unanswered = std::max(call.most_unanswered, call.sent.size() - call.received.size());
        const ApiError e = conn_.resume_body(call.stream);
        CHECK_MESSAGE((e == ApiError::none || !call.closed.empty() || call.reset), to_string(e));
    }
    void close_send(ClientCall& call) {
        call.send_closed = true;
        call.out.close();
        (void)conn_.resume_body(call.stream);
    }

    void on(Connection&, const Event& e) {
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, ConnectionTerminated>) {
                    terminated = true;
                } else if constexpr (requires {
                                         x.stream;
                                         x.user_data;
                                     }) {
                    if (x.stream == 0) return;
                    auto* call = static_cast<ClientCall*>(x.user_data);
                    if (!call || call->stream != x.stream) {
                        problems.push_back(describe(own(e)) + ": not the call's user data");
                        return;
                    }
                    if (!call->closed.empty()) problems.push_back(describe(own(e)) + ": after StreamClosed");
                    handle(*call, x);
                }
            },
            e);
    }

    /// The application's timers and its processing of received octets.
    void tick() {
        if (on_tick) on_tick();
        for (const auto& c : calls) {
            ClientCall& call = *c;
            if (!call.closed.empty()) continue;
            if (call.deadline && clock_.now >= *call.deadline && !call.deadline_fired) {
                // The deadline passed: cancel the call (gRPC: DEADLINE_EXCEEDED).
                if (conn_.reset_stream(call.stream, ErrorCode::cancel) == ApiError::none) call.deadline_fired = true;
            }
            if (manual && call.owed > 0 && rng_.one_in(4)) {
                const std::uint64_t n = rng_.between(1, call.owed);
                REQUIRE(conn_.consume(call.stream, n) == ApiError::none);
                call.owed -= n;
                conn_owed -= n;
            }
        }
    }

    std::vector<std::unique_ptr<ClientCall>> calls;
    std::size_t open = 0;
    std::vector<std::string> problems;
    bool terminated = false;
    std::function<void()> on_tick;
    // Manual flow control: consume() only after "processing", at random
    // moments; the windows announced, for the bound checks.
    bool manual = false;
    std::uint64_t stream_window = 0;
    std::uint64_t conn_window = 0;
    std::uint64_t conn_owed = 0;
    std::uint64_t most_owed = 0;

private:
    template <class T>
    void handle(ClientCall&, const T&) {}

    void handle(ClientCall& call, const ResponseReceived& r) {
        call.http_status = r.status;
        const Hdrs h = owned(r.headers);
        if (find_field(h, "content-type").value_or("").rfind("application/grpc", 0) != 0)
            problems.push_back("response without a gRPC content-type on " + num(call.stream));
        if (r.end_stream) {
            // Trailers-only: the status is in the only header block.
            call.trailers_only = true;
            read_status(call, h);
        }
    }
    void handle(ClientCall& call, const DataReceived& d) {
        if (manual) {
            call.owed += d.flow_controlled_length;
            conn_owed += d.flow_controlled_length;
            most_owed = std::max(most_owed, call.owed);
            // The peer never sends past the windows we announced: what we
            // hold unconsumed is within them.
            if (call.owed > stream_window) problems.push_back("stream " + num(call.stream) + " past its window");
            if (conn_owed > conn_window) problems.push_back("DATA past the connection window");
        }
        const std::size_t before = call.received.size();
        call.in.feed(d.data, call.received);
        for (std::size_t i = before; i < call.received.size(); ++i)
            if (call.on_message) call.on_message(call);
    }
    void handle(ClientCall& call, const TrailersReceived& t) {
        call.trailers = true;
        read_status(call, owned(t.headers));
    }
    void handle(ClientCall& call, const StreamEnded&) { call.ended = true; }
    void handle(ClientCall& call, const StreamReset& r) { call.reset = std::make_pair(r.code, r.by); }
    void handle(ClientCall& call, const StreamClosed& c) {
        call.closed.push_back(c);
        call.journal.push_back("closed");
        --open;
        // The call's outcome, as a gRPC runtime derives it.
        if (call.deadline_fired) {
            call.status = grpc::deadline_exceeded;
        } else if (call.reset) {
            call.status = call.reset->first == ErrorCode::cancel           ? grpc::cancelled
                          : call.reset->first == ErrorCode::refused_stream ? grpc::unavailable
                                                                           : grpc::internal;
        } else if (c.code != ErrorCode::no_error) {
            call.status = grpc::unavailable;
        } else if (call.in.bad() || call.in.partial() != 0) {
            call.status = grpc::internal;
            call.status_text = "truncated message";
        } else if (call.http_status != 200 || !call.grpc_status) {
            call.status = grpc::unknown;
        } else {
            call.status = *call.grpc_status;
            call.status_text = call.grpc_message;
        }
    }
    static void read_status(ClientCall& call, const Hdrs& h) {
        if (const auto s = find_field(h, "grpc-status")) call.grpc_status = std::stoi(*s);
        call.grpc_message = find_field(h, "grpc-message").value_or("");
    }

    Connection& conn_;
    Clock& clock_;
    Rng& rng_;
};

// ---------------------------------------------------------------------------
// The server application

struct ServerCall {
    std::uint32_t stream = 0;
    std::string path;
    Journal journal;
    Outbox out{&journal};
    std::unique_ptr<std::uint8_t[]> lent_buffer;
    std::unique_ptr<LentOutbox> lent;
    bool has_source = false;

    grpc::Deframer in;
    std::vector<std::string> received;
    std::optional<std::uint64_t> deadline;
    bool deadline_fired = false;
    bool responded = false;
    std::optional<std::pair<ErrorCode, Initiator>> reset;

    StreamPlan plan;
    bool streaming = false;
    std::size_t produced = 0;
    std::uint64_t next_at = 0;
};

/// What the server keeps of a call after its StreamClosed (the call itself,
/// and any memory it lent, are freed there).
struct ServerOutcome {
    std::string path;
    StreamClosed closed;
    Journal journal;
    std::optional<std::pair<ErrorCode, Initiator>> reset;
    std::size_t messages = 0;
    bool deadline_fired = false;
    int lends_out = 0;  // lends not released at StreamClosed
};

class Server {
public:
    Server(Connection& conn, Clock& clock, Rng& rng) : conn_(conn), clock_(clock), rng_(rng) {}

    void on(Connection&, const Event& e) {
        if (const auto* r = std::get_if<RequestReceived>(&e)) {
            open(*r);
            return;
        }
        std::visit(
            [&](const auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, ConnectionTerminated>) {
                    terminated = true;
                } else if constexpr (requires {
                                         x.stream;
                                         x.user_data;
                                     }) {
                    if (x.stream == 0) return;
                    auto* call = static_cast<ServerCall*>(x.user_data);
                    if (!call || call->stream != x.stream) {
                        problems.push_back(describe(own(e)) + ": not the call's user data");
                        return;
                    }
                    handle(*call, x);
                }
            },
            e);
    }

    /// The server's timers: streams that produce over time, deadlines.
    void tick() {
        for (auto& kv : live) {
            ServerCall& call = *kv.second;
            if (call.reset || call.deadline_fired) continue;
            if (honour_deadlines && call.deadline && clock_.now >= *call.deadline) {
                // grpc-timeout passed: the server gives up on the call
                // (DEADLINE_EXCEEDED) and cancels the stream.
                if (conn_.reset_stream(call.stream, ErrorCode::cancel) == ApiError::none) call.deadline_fired = true;
                continue;
            }
            if (call.streaming) produce(call);
        }
    }

    std::map<std::uint32_t, std::unique_ptr<ServerCall>> live;
    std::map<std::uint32_t, ServerOutcome> done;
    std::vector<std::string> problems;
    bool terminated = false;
    bool pushed_unary = true;      // answer some unary calls with send_data()
    bool honour_deadlines = true;  // cancel calls whose grpc-timeout passed

private:
    void open(const RequestReceived& r) {
        auto owner = std::make_unique<ServerCall>();
        ServerCall& call = *owner;
        call.stream = r.stream;
        call.path = std::string(r.path);
        live[r.stream] = std::move(owner);
        REQUIRE(conn_.set_stream_user_data(r.stream, &call) == ApiError::none);

        const Hdrs h = owned(r.headers);
        if (r.method != "POST" || find_field(h, "te") != "trailers" ||
            find_field(h, "content-type").value_or("").rfind("application/grpc", 0) != 0)
            problems.push_back("not a gRPC request: " + describe(h));
        if (const auto t = find_field(h, "grpc-timeout")) {
            const auto ms = grpc::parse_timeout_ms(*t);
            if (!ms) problems.push_back("bad grpc-timeout " + *t);
            if (ms) call.deadline = clock_.now + *ms;
        }
        if (call.path == kChat) {
            // Bidirectional: headers now, answers as messages come.
            respond(call, call.out);
        } else if (call.path != kUnary && call.path != kCollect && call.path != kStream && call.path != kFill &&
                   call.path != kTruncate) {
            trailers_only(call, grpc::unimplemented, "unknown method " + call.path);
        }
    }

    template <class T>
    void handle(ServerCall&, const T&) {}

    void handle(ServerCall& call, const DataReceived& d) {
        const std::size_t before = call.received.size();
        call.in.feed(d.data, call.received);
        if (call.path == kChat && !call.reset) {
            for (std::size_t i = before; i < call.received.size(); ++i) call.out.push(transform(call.received[i]));
            if (call.received.size() > before) CHECK(conn_.resume_body(call.stream) == ApiError::none);
        }
    }
    void handle(ServerCall& call, const StreamEnded&) {
        if (call.responded && call.path != kChat) return;  // trailers-only already
        if (call.in.bad() || call.in.partial() != 0) {
            // A message cut short by END_STREAM.
            if (call.responded) {
                call.out.close(grpc::status_fields(grpc::internal, "truncated message"));
                (void)conn_.resume_body(call.stream);
            } else {
                trailers_only(call, grpc::internal, "truncated message");
            }
            return;
        }
        if (call.path == kChat) {
            call.out.close(grpc::status_fields(grpc::ok));
            CHECK(conn_.resume_body(call.stream) == ApiError::none);
        } else if (call.path == kUnary) {
            if (call.received.size() != 1) return trailers_only(call, grpc::internal, "one message expected");
            const std::string answer = transform(call.received[0]);
            if (pushed_unary && rng_.one_in(2)) {
                // Pushed: headers, the message, trailers.
                REQUIRE(conn_.submit_response(call.stream, fields(grpc::response_headers()), false) == ApiError::none);
                REQUIRE(conn_.send_data(call.stream, span_of(grpc::frame(answer)), false) == ApiError::none);
                REQUIRE(conn_.send_trailers(call.stream, fields(grpc::status_fields(grpc::ok))) == ApiError::none);
                call.responded = true;
                call.journal.push_back("finished+");  // no source: nothing to hear
            } else {
                call.out.push(answer);
                call.out.close(grpc::status_fields(grpc::ok));
                respond(call, call.out);
            }
        } else if (call.path == kCollect) {
            call.out.push(aggregate(call.received));
            call.out.close(grpc::status_fields(grpc::ok));
            respond(call, call.out);
        } else if (call.path == kFill) {
            // As much as the connection window lets out, in one message.
            call.out.push(std::string(conn_.send_window(0) - 5, 'f'));
            call.out.close(grpc::status_fields(grpc::ok));
            respond(call, call.out);
        } else if (call.path == kTruncate) {
            // A message whose prefix claims 100 octets, 40 of them sent.
            const std::string whole = grpc::frame(std::string(100, 't'));
            call.out.push_raw(std::string_view(whole).substr(0, 5 + 40));
            call.out.close(grpc::status_fields(grpc::ok));
            respond(call, call.out);
        } else if (call.path == kStream) {
            if (call.received.size() != 1) return trailers_only(call, grpc::internal, "one message expected");
            call.plan = StreamPlan::decode(call.received[0]);
            call.streaming = true;
            call.next_at = clock_.now;
            if (call.plan.lend) {
                const std::size_t capacity = call.plan.count * (call.plan.size + 5);
                call.lent_buffer = std::make_unique<std::uint8_t[]>(capacity);
                call.lent = std::make_unique<LentOutbox>(std::span<std::uint8_t>(call.lent_buffer.get(), capacity),
                                                         &call.journal);
                respond(call, *call.lent);
            } else {
                respond(call, call.out);
            }
            produce(call);
        }
    }
    void handle(ServerCall& call, const StreamReset& r) { call.reset = std::make_pair(r.code, r.by); }
    void handle(ServerCall& call, const StreamClosed& c) {
        call.journal.push_back("closed");
        ServerOutcome o{call.path,
                        c,
                        call.journal,
                        call.reset,
                        call.received.size(),
                        call.deadline_fired,
                        call.lent ? call.lent->outstanding() : 0};
        if (done.count(c.stream)) problems.push_back("second StreamClosed on " + num(c.stream));
        done[c.stream] = std::move(o);
        // Nothing of ours is referred to any more: free the lent memory
        // first, then the call (its sources with it).
        call.lent_buffer.reset();
        live.erase(c.stream);
    }

    void respond(ServerCall& call, BodySource& source) {
        REQUIRE(conn_.submit_response(call.stream, fields(grpc::response_headers()), source) == ApiError::none);
        call.responded = true;
        call.has_source = true;
    }
    void trailers_only(ServerCall& call, int status, const std::string& message) {
        const Hdrs h = Hdrs{{":status", "200"}, {"content-type", std::string(grpc::content_type)}} +
                       grpc::status_fields(status, message);
        REQUIRE(conn_.submit_response(call.stream, fields(h), true) == ApiError::none);
        call.responded = true;
        call.journal.push_back("finished+");  // no source: nothing to hear
    }
    /// Messages of a Stream call that are due by now.
    void produce(ServerCall& call) {
        const StreamPlan& p = call.plan;
        const std::size_t limit = std::min(p.count, p.fail_after);
        bool any = false;
        while (call.produced < limit && clock_.now >= call.next_at) {
            const std::string m = stream_message(call.produced, p.size);
            if (call.lent)
                call.lent->push(m);
            else
                call.out.push(m);
            ++call.produced;
            call.next_at += p.period_ms;
            any = true;
        }
        if (call.produced == limit) {
            const Hdrs trailers =
                limit < p.count ? grpc::status_fields(p.fail_status, "quota exhausted") : grpc::status_fields(grpc::ok);
            if (call.lent)
                call.lent->close(trailers);
            else
                call.out.close(trailers);
            call.streaming = false;
            any = true;
        }
        if (any) CHECK(conn_.resume_body(call.stream) == ApiError::none);
    }

    Connection& conn_;
    Clock& clock_;
    Rng& rng_;
};

// ---------------------------------------------------------------------------
// Both applications on one Pair

struct Rig {
    /// `keep_wire`: record both directions from the first octet
    /// (Pair::client_wire, server_wire) for frames_written().
    Rig(std::uint64_t seed, const Config& client_config = {}, const Config& server_config = {}, bool keep_wire = false)
        : pair(client_config, server_config, seed, true),
          client(pair.client, clock, pair.rng()),
          server(pair.server, clock, pair.rng()) {
        pair.keep_wire(keep_wire);
        pair.on_client = [this](Connection& c, const Event& e) { client.on(c, e); };
        pair.on_server = [this](Connection& c, const Event& e) { server.on(c, e); };
        REQUIRE(pair.run(100));
    }

    /// Moves bytes both ways in random pieces and runs both applications'
    /// timers; whenever nothing moves, collects the events API calls caused
    /// and, unless `done()`, lets `tick_ms` pass. False when `max_steps` ran
    /// out first.
    bool run(const std::function<bool()>& done, std::size_t max_steps = 1'000'000, std::uint64_t tick_ms = 5) {
        for (std::size_t i = 0; i < max_steps; ++i) {
            const std::size_t moved = pair.step();
            client.tick();
            server.tick();
            if (moved == 0 && !pair.client.wants_write() && !pair.server.wants_write()) {
                pair.collect();
                if (done()) return true;
                if (!pair.client.wants_write() && !pair.server.wants_write()) clock.now += tick_ms;
            }
        }
        return false;
    }
    bool all_closed() const { return client.open == 0 && server.live.empty(); }

    void check_clean() {
        INFO("client problems: " << join(client.problems));
        INFO("server problems: " << join(server.problems));
        CHECK(client.problems.empty());
        CHECK(server.problems.empty());
        CHECK(!client.terminated);
        CHECK(!server.terminated);
    }

    Clock clock;
    Pair pair;
    Client client;
    Server server;
};

/// The frames a connection wrote (`writer` is its role), parsed.
std::vector<WireFrame> frames_written(Role writer, const Bytes& wire) {
    Peer reader(writer);
    reader.read(wire);
    return reader.frames();
}

}  // namespace

// ---------------------------------------------------------------------------

TEST_CASE("grpc: 1,000 unary calls, 100 in flight, random sizes and chunking; windows come back") {
    const std::uint64_t seed = seed_or(14'001);
    CAPTURE(seed);
    Config small;  // the connection window fits a stream's: see the Fill call below
    small.connection_window_size = 512 * 1024;
    Rig rig(seed, small, small);
    Rng rng(seed * 3 + 1);

    constexpr std::size_t total = 1000;
    constexpr std::size_t in_flight = 100;
    std::size_t started = 0;
    std::size_t most_open = 0;
    rig.client.on_tick = [&] {
        while (started < total && rig.client.open < in_flight) {
            std::size_t size = 0;
            switch (rng.below(6)) {
                case 0:
                    size = 0;
                    break;
                case 1:
                    size = rng.between(1, 64);
                    break;
                case 2:
                    size = rng.between(65, 4096);
                    break;
                case 3:
                    size = rng.between(16384 - 8, 16384 + 8);
                    break;  // around one frame
                case 4:
                    size = rng.between(16385, 70'000);
                    break;  // several frames
                default:
                    size = rng.between(4097, 16384);
                    break;
            }
            const Bytes b = rng.bytes(size);
            CallOptions o;
            o.pushed = rng.one_in(2);
            if (rng.one_in(3)) o.timeout_ms = 60'000;  // never reached
            rig.client.start(kUnary, {std::string(b.begin(), b.end())}, o);
            ++started;
        }
        most_open = std::max(most_open, rig.client.open);
    };
    REQUIRE(rig.run([&] { return started == total && rig.all_closed(); }));
    rig.check_clean();
    CHECK(most_open == in_flight);

    std::size_t spanning = 0, empty = 0;
    for (const auto& c : rig.client.calls) {
        const ClientCall& call = *c;
        INFO("stream " << call.stream << ", " << call.sent[0].size() << " octets");
        REQUIRE(call.closed.size() == 1);
        CHECK(call.closed[0].code == ErrorCode::no_error);
        CHECK(call.status == grpc::ok);
        CHECK(call.http_status == 200);
        CHECK(call.trailers);
        REQUIRE(call.received.size() == 1);
        CHECK(call.received[0] == transform(call.sent[0]));
        check_journal(call.journal, true);
        spanning += call.sent[0].size() > 16384;
        empty += call.sent[0].empty();
    }
    CHECK(spanning > 0);
    CHECK(empty > 0);
    REQUIRE(rig.server.done.size() == total);
    for (const auto& kv : rig.server.done) {
        CAPTURE(kv.first);
        CHECK(kv.second.closed.code == ErrorCode::no_error);
        check_journal(kv.second.journal, true);
    }

    // Both sides agree on the windows: nothing is in flight, nothing leaked.
    Connection& client = rig.pair.client;
    Connection& server = rig.pair.server;
    CHECK(client.send_window(0) == server.receive_window(0));
    CHECK(server.send_window(0) == client.receive_window(0));
    CHECK(client.open_streams() == 0);
    CHECK(server.open_streams() == 0);

    // WINDOW_UPDATEs are coalesced (credit is held back until it reaches
    // half the window), so the windows may stand short of the start by what
    // is held. One more call sends exactly what each window has left and is
    // moved whole, so each receiver holds back the whole window and gives it
    // back in one WINDOW_UPDATE: with nothing lost, both windows are then
    // exactly where they started.
    const std::size_t request_size = client.send_window(0) - 5;
    ClientCall& fill = rig.client.start(kFill, {std::string(request_size, 'q')});
    auto move_all = [](Connection& from, Connection& to, const Pair::Handler& handler) {
        while (from.wants_write()) {
            const auto out = from.pending_output();
            const Bytes copy(out.begin(), out.end());
            from.consume_output(copy.size());
            for (const Event& e : to.receive(copy)) handler(to, e);
        }
    };
    for (int round = 0; round < 4; ++round) {
        move_all(client, server, rig.pair.on_server);
        move_all(server, client, rig.pair.on_client);
    }
    rig.pair.collect();
    REQUIRE(fill.closed.size() == 1);
    CHECK(fill.status == grpc::ok);
    REQUIRE(fill.received.size() == 1);
    CHECK(fill.received[0].size() > 1024);
    CHECK(client.receive_window(0) == 512 * 1024);
    CHECK(server.receive_window(0) == 512 * 1024);
    CHECK(client.send_window(0) == 512 * 1024);
    CHECK(server.send_window(0) == 512 * 1024);
    rig.check_clean();
}

TEST_CASE("grpc: client streaming, messages produced later through a source that waits") {
    const std::uint64_t seed = seed_or(14'002);
    CAPTURE(seed);
    Rig rig(seed);
    Rng rng(seed + 7);

    // 20 calls; each message is produced by the application some time after
    // the one before, handed to the call's Outbox, and resume_body() asks
    // the connection to pull again.
    struct Plan {
        ClientCall* call;
        std::size_t count;
        std::uint64_t next_at;
    };
    std::vector<Plan> plans;
    for (int i = 0; i < 20; ++i) {
        CallOptions o;
        o.close = false;
        o.timeout_ms = 3'600'000;
        ClientCall& call = rig.client.start(kCollect, {}, o);
        plans.push_back(Plan{&call, rng.between(1, 40), rng.between(0, 50)});
    }
    rig.client.on_tick = [&] {
        for (Plan& p : plans) {
            if (p.call->send_closed || rig.clock.now < p.next_at) continue;
            if (p.call->sent.size() == p.count) {
                rig.client.close_send(*p.call);
                continue;
            }
            const Bytes b = rng.bytes(rng.one_in(5) ? rng.between(16385, 40'000) : rng.between(0, 3000));
            rig.client.send(*p.call, std::string(b.begin(), b.end()));
            p.next_at = rig.clock.now + rng.between(1, 30);
        }
    };
    REQUIRE(rig.run([&] { return rig.all_closed(); }));
    rig.check_clean();

    for (const Plan& p : plans) {
        const ClientCall& call = *p.call;
        CAPTURE(call.stream);
        REQUIRE(call.closed.size() == 1);
        CHECK(call.closed[0].code == ErrorCode::no_error);
        CHECK(call.status == grpc::ok);
        REQUIRE(call.received.size() == 1);
        CHECK(call.received[0] == aggregate(call.sent));
        CHECK(call.sent.size() == p.count);
        // The source said "nothing yet" between messages, and the connection
        // did not spin on it: about one read per message and frame.
        CHECK(call.out.waits >= 1);
        CHECK(call.out.reads <= 4 * (p.count + 1) + 40);
        check_journal(call.journal, true);
        const ServerOutcome& s = rig.server.done.at(call.stream);
        CHECK(s.messages == p.count);
        CHECK(s.closed.code == ErrorCode::no_error);
    }
}

TEST_CASE("grpc: server streaming with pauses and trailers, to a client in manual flow control") {
    const std::uint64_t seed = seed_or(14'003);
    CAPTURE(seed);
    Config client_config;
    client_config.flow_control = FlowControl::manual;
    client_config.settings.initial_window_size = 16 * 1024;
    client_config.connection_window_size = 96 * 1024;
    Rig rig(seed, client_config, {}, true);
    rig.client.manual = true;
    rig.client.stream_window = 16 * 1024;
    rig.client.conn_window = 96 * 1024;
    Rng rng(seed + 11);

    std::vector<ClientCall*> calls;
    std::vector<StreamPlan> plans;
    for (int i = 0; i < 8; ++i) {
        StreamPlan p;
        p.count = rng.between(20, 120);
        p.size = rng.one_in(3) ? rng.between(10'000, 20'000) : rng.between(0, 2000);
        p.period_ms = rng.between(0, 20);
        p.lend = i % 2 == 1;
        plans.push_back(p);
        calls.push_back(&rig.client.start(kStream, {p.encode()}));
    }
    REQUIRE(rig.run([&] { return rig.all_closed(); }, 2'000'000));
    rig.check_clean();

    for (std::size_t i = 0; i < calls.size(); ++i) {
        const ClientCall& call = *calls[i];
        const StreamPlan& p = plans[i];
        CAPTURE(call.stream);
        CAPTURE(p.encode());
        REQUIRE(call.closed.size() == 1);
        CHECK(call.closed[0].code == ErrorCode::no_error);
        CHECK(call.status == grpc::ok);
        CHECK(call.trailers);
        REQUIRE(call.received.size() == p.count);
        for (std::size_t k = 0; k < p.count; ++k) CHECK(call.received[k] == stream_message(k, p.size));
        const ServerOutcome& s = rig.server.done.at(call.stream);
        check_journal(s.journal, true);
        CHECK(s.lends_out == 0);
    }
    // The windows held: the server never had more out than the client's
    // windows (checked at every DataReceived), and the client did hold a
    // good part of a window at times (the bound mattered).
    CHECK(rig.client.most_owed > 8 * 1024);

    // On the wire: each stream is HEADERS, DATA, then trailers (HEADERS with
    // END_STREAM) carrying grpc-status 0; no RST_STREAM, no GOAWAY.
    const auto frames = frames_written(Role::server, rig.pair.server_wire);
    CHECK(count(frames, Type::rst_stream) == 0);
    CHECK(count(frames, Type::goaway) == 0);
    for (const ClientCall* c : calls) {
        const auto headers = only(frames, Type::headers, c->stream);
        REQUIRE(headers.size() == 2);
        CHECK(find_field(headers[0].headers, ":status") == "200");
        CHECK(!headers[0].end_stream());
        CHECK(headers[1].end_stream());
        CHECK(plain(headers[1].headers) == plain(grpc::status_fields(grpc::ok)));
        for (const WireFrame& f : only(frames, Type::data, c->stream)) CHECK(!f.end_stream());
    }
    // The application did not consume all it was handed before the streams
    // closed (it owes nothing then: the connection gives the rest back), and
    // both sides agree on the connection window.
    CHECK(rig.client.conn_owed > 0);
    CHECK(rig.pair.server.send_window(0) == rig.pair.client.receive_window(0));
}

TEST_CASE("grpc: bidirectional streaming, ping-pong and both sides at once") {
    const std::uint64_t seed = seed_or(14'004);
    CAPTURE(seed);
    Rig rig(seed);
    Rng rng(seed + 13);

    SUBCASE("ping-pong: each message answered before the next is sent") {
        constexpr std::size_t rounds = 60;
        std::vector<ClientCall*> calls;
        for (int i = 0; i < 5; ++i) {
            CallOptions o;
            o.close = false;
            ClientCall& call = rig.client.start(kChat, {}, o);
            call.on_message = [&](ClientCall& c) {
                if (c.sent.size() < rounds) {
                    const Bytes b = rng.bytes(rng.between(0, 20'000));
                    rig.client.send(c, std::string(b.begin(), b.end()));
                } else if (c.received.size() == rounds) {
                    rig.client.close_send(c);
                }
            };
            rig.client.send(call, "hello " + num(call.stream));
            calls.push_back(&call);
        }
        REQUIRE(rig.run([&] { return rig.all_closed(); }));
        rig.check_clean();
        for (const ClientCall* c : calls) {
            CAPTURE(c->stream);
            REQUIRE(c->closed.size() == 1);
            CHECK(c->closed[0].code == ErrorCode::no_error);
            CHECK(c->status == grpc::ok);
            CHECK(c->most_unanswered == 1);
            REQUIRE(c->received.size() == rounds);
            for (std::size_t k = 0; k < rounds; ++k) CHECK(c->received[k] == transform(c->sent[k]));
            check_journal(c->journal, true);
            check_journal(rig.server.done.at(c->stream).journal, true);
        }
    }
    SUBCASE("both sides stream at once, interleaved") {
        struct Plan {
            ClientCall* call;
            std::size_t count;
        };
        std::vector<Plan> plans;
        for (int i = 0; i < 6; ++i) {
            CallOptions o;
            o.close = false;
            plans.push_back(Plan{&rig.client.start(kChat, {}, o), rng.between(30, 80)});
        }
        rig.client.on_tick = [&] {
            for (Plan& p : plans) {
                if (p.call->send_closed || !rng.one_in(3)) continue;
                if (p.call->sent.size() == p.count) {
                    rig.client.close_send(*p.call);
                    continue;
                }
                const Bytes b = rng.bytes(rng.one_in(6) ? rng.between(16385, 30'000) : rng.between(0, 2000));
                rig.client.send(*p.call, std::string(b.begin(), b.end()));
            }
        };
        REQUIRE(rig.run([&] { return rig.all_closed(); }));
        rig.check_clean();
        for (const Plan& p : plans) {
            const ClientCall& c = *p.call;
            CAPTURE(c.stream);
            REQUIRE(c.closed.size() == 1);
            CHECK(c.status == grpc::ok);
            REQUIRE(c.received.size() == p.count);
            for (std::size_t k = 0; k < p.count; ++k) CHECK(c.received[k] == transform(c.sent[k]));
            // Interleaved: answers came back while the client still sent.
            CHECK(c.sent_after_first_answer > 0);
            check_journal(c.journal, true);
            check_journal(rig.server.done.at(c.stream).journal, true);
        }
    }
}

TEST_CASE("grpc: errors: trailers-only, a status after messages, messages cut short") {
    const std::uint64_t seed = seed_or(14'005);
    CAPTURE(seed);
    Rig rig(seed, {}, {}, true);

    ClientCall& unknown = rig.client.start("/h2wire.test.Echo/Nope", {"anything"});
    StreamPlan failing;
    failing.count = 10;
    failing.size = 300;
    failing.fail_after = 3;
    failing.fail_status = grpc::resource_exhausted;
    ClientCall& fails = rig.client.start(kStream, {failing.encode()});
    ClientCall& cut = rig.client.start(kTruncate, {""});
    // The request cut short: a prefix claiming 1,000 octets, 10 sent.
    CallOptions open_ended;
    open_ended.close = false;
    ClientCall& cut_request = rig.client.start(kUnary, {}, open_ended);
    cut_request.out.push_raw(grpc::frame(std::string(1000, 'r')).substr(0, 15));
    rig.client.close_send(cut_request);

    REQUIRE(rig.run([&] { return rig.all_closed(); }));
    rig.check_clean();
    const auto server_frames = frames_written(Role::server, rig.pair.server_wire);
    INFO("server wrote:\n" << str(server_frames));

    // Trailers-only: one HEADERS with END_STREAM carrying :status and
    // grpc-status, no DATA, no trailers.
    CHECK(unknown.trailers_only);
    CHECK(!unknown.trailers);
    CHECK(unknown.received.empty());
    CHECK(unknown.status == grpc::unimplemented);
    CHECK(unknown.status_text == "unknown method /h2wire.test.Echo/Nope");
    REQUIRE(unknown.closed.size() == 1);
    CHECK(unknown.closed[0].code == ErrorCode::no_error);
    {
        const auto h = only(server_frames, Type::headers, unknown.stream);
        REQUIRE(h.size() == 1);
        CHECK(h[0].end_stream());
        CHECK(find_field(h[0].headers, ":status") == "200");
        CHECK(find_field(h[0].headers, "grpc-status") == "12");
        CHECK(count(server_frames, Type::data, unknown.stream) == 0);
        CHECK(count(server_frames, Type::rst_stream, unknown.stream) == 0);
    }

    // A status after three messages.
    CHECK(fails.received.size() == 3);
    CHECK(fails.status == grpc::resource_exhausted);
    CHECK(fails.status_text == "quota exhausted");
    REQUIRE(fails.closed.size() == 1);
    CHECK(fails.closed[0].code == ErrorCode::no_error);
    {
        const auto h = only(server_frames, Type::headers, fails.stream);
        REQUIRE(h.size() == 2);
        CHECK(h[1].end_stream());
        CHECK(find_field(h[1].headers, "grpc-status") == "8");
    }

    // A response message cut short: the stream itself ends cleanly (grpc-status
    // 0 in the trailers), and the client finds the 40 of 100 octets at
    // END_STREAM.
    CHECK(cut.received.empty());
    CHECK(cut.in.partial() == 45);
    CHECK(cut.grpc_status == grpc::ok);
    CHECK(cut.status == grpc::internal);
    CHECK(cut.status_text == "truncated message");
    REQUIRE(cut.closed.size() == 1);
    CHECK(cut.closed[0].code == ErrorCode::no_error);
    CHECK(data_of(server_frames, cut.stream).size() == 45);

    // A request message cut short: the server finds it at END_STREAM and
    // answers trailers-only INTERNAL.
    CHECK(cut_request.trailers_only);
    CHECK(cut_request.status == grpc::internal);
    CHECK(cut_request.status_text == "truncated message");
    CHECK(rig.server.done.at(cut_request.stream).messages == 0);
    const auto client_frames = frames_written(Role::client, rig.pair.client_wire);
    CHECK(data_of(client_frames, cut_request.stream).size() == 15);

    for (const ClientCall* c : {&unknown, &fails, &cut, &cut_request}) {
        CAPTURE(c->stream);
        check_journal(c->journal, true);
        check_journal(rig.server.done.at(c->stream).journal, true);
        CHECK(rig.server.done.at(c->stream).closed.code == ErrorCode::no_error);
    }
}

TEST_CASE("grpc: deadlines end calls with RST_STREAM(CANCEL); lent memory is freed at StreamClosed") {
    const std::uint64_t seed = seed_or(14'006);
    CAPTURE(seed);
    Config client_config;
    client_config.settings.initial_window_size = 32 * 1024;  // lends stay in flight
    Rig rig(seed, client_config, {}, true);

    SUBCASE("the client's deadline passes while the server streams") {
        // 1,000 messages, one every 10 ms: the 250 ms deadline comes first.
        // The server lends its messages from a buffer it frees in its
        // StreamClosed handler; a lend the connection still used after that
        // would be a use after free.
        std::vector<ClientCall*> calls;
        for (int i = 0; i < 4; ++i) {
            StreamPlan p;
            p.count = 1000;
            p.size = 4000 + 3000 * static_cast<std::size_t>(i);
            p.period_ms = 10;
            p.lend = i % 2 == 0;
            CallOptions o;
            o.timeout_ms = 250 + 10 * static_cast<std::uint64_t>(i);
            calls.push_back(&rig.client.start(kStream, {p.encode()}, o));
        }
        // The server's own deadline (grpc-timeout) would come at the same
        // time: the client's clock runs first here, as the network delay
        // would make it.
        rig.server.honour_deadlines = false;
        REQUIRE(rig.run([&] { return rig.all_closed(); }));
        rig.check_clean();

        const auto client_frames = frames_written(Role::client, rig.pair.client_wire);
        for (const ClientCall* c : calls) {
            CAPTURE(c->stream);
            CHECK(c->deadline_fired);
            CHECK(c->status == grpc::deadline_exceeded);
            CHECK(c->received.size() > 5);
            CHECK(c->received.size() < 1000);
            REQUIRE(c->closed.size() == 1);
            CHECK(c->closed[0].code == ErrorCode::cancel);
            CHECK(c->closed[0].by == Initiator::local);
            CHECK(!c->reset);  // our own reset_stream() is not reported as StreamReset
            const auto rst = only(client_frames, Type::rst_stream, c->stream);
            REQUIRE(rst.size() == 1);
            CHECK(rst[0].code == ErrorCode::cancel);

            const ServerOutcome& s = rig.server.done.at(c->stream);
            REQUIRE(s.reset.has_value());
            CHECK(s.reset->first == ErrorCode::cancel);
            CHECK(s.reset->second == Initiator::peer);
            CHECK(s.closed.code == ErrorCode::cancel);
            CHECK(s.closed.by == Initiator::peer);
            CHECK(s.lends_out == 0);
            check_journal(s.journal, false);
        }
        // The connection goes on: a unary call after the cancellations.
        ClientCall& after = rig.client.start(kUnary, {"still here"});
        REQUIRE(rig.run([&] { return rig.all_closed(); }));
        CHECK(after.status == grpc::ok);
        CHECK(after.received == std::vector<std::string>{transform("still here")});
        rig.check_clean();
    }
    SUBCASE("the server's deadline passes first") {
        // The client sent grpc-timeout but does not enforce it itself (its
        // clock is late); the server cancels when the timeout passes.
        std::vector<ClientCall*> calls;
        for (int i = 0; i < 3; ++i) {
            StreamPlan p;
            p.count = 500;
            p.size = 6000;
            p.period_ms = 10;
            p.lend = i == 1;
            CallOptions o;
            o.timeout_ms = 200;
            o.enforce_deadline = false;
            calls.push_back(&rig.client.start(kStream, {p.encode()}, o));
        }
        // And one client-streaming call that never finishes its request.
        CallOptions o;
        o.timeout_ms = 150;
        o.enforce_deadline = false;
        o.close = false;
        ClientCall& slow = rig.client.start(kCollect, {"one", "two"}, o);
        calls.push_back(&slow);
        REQUIRE(rig.run([&] { return rig.all_closed(); }));
        rig.check_clean();

        const auto server_frames = frames_written(Role::server, rig.pair.server_wire);
        for (const ClientCall* c : calls) {
            CAPTURE(c->stream);
            REQUIRE(c->reset.has_value());
            CHECK(c->reset->first == ErrorCode::cancel);
            CHECK(c->reset->second == Initiator::peer);
            CHECK(c->status == grpc::cancelled);
            REQUIRE(c->closed.size() == 1);
            CHECK(c->closed[0].code == ErrorCode::cancel);
            CHECK(c->closed[0].by == Initiator::peer);
            const auto rst = only(server_frames, Type::rst_stream, c->stream);
            REQUIRE(rst.size() == 1);
            CHECK(rst[0].code == ErrorCode::cancel);

            const ServerOutcome& s = rig.server.done.at(c->stream);
            CHECK(s.deadline_fired);
            CHECK(!s.reset);
            CHECK(s.closed.code == ErrorCode::cancel);
            CHECK(s.closed.by == Initiator::local);
            CHECK(s.lends_out == 0);
        }
        // The client's request body source heard it too.
        check_journal(slow.journal, false);
        CHECK(slow.received.empty());
        for (std::size_t i = 0; i < 3; ++i) {
            CHECK(calls[i]->received.size() >= 5);
            CHECK(calls[i]->received.size() < 500);
            check_journal(rig.server.done.at(calls[i]->stream).journal, false);
            check_journal(calls[i]->journal, true);  // the request had ended
        }
    }
}

// ---------------------------------------------------------------------------
// A body source's finished() across every way its stream can end

namespace {

constexpr std::size_t kBody = 1024 * 1024;

/// A 1 MiB body copied into frames, journaling its calls.
class JournalReader final : public BodyReader {
public:
    JournalReader(Journal* journal, Hdrs trailers) : journal_(journal), trailers_(std::move(trailers)) {}
    BodyRead read(std::uint32_t, std::span<std::uint8_t> buffer) override {
        journal_->push_back("read");
        const std::size_t n = std::min(buffer.size(), kBody - produced_);
        std::memset(buffer.data(), 'r', n);
        produced_ += n;
        if (produced_ < kBody) return {n, BodyStatus::more, {}};
        return {n, BodyStatus::end, std::span<const Field>(trailers_.data(), trailers_.size())};
    }
    void finished(std::uint32_t, bool complete) override { journal_->push_back(complete ? "finished+" : "finished-"); }

private:
    Journal* journal_;
    FieldList trailers_;
    std::size_t produced_ = 0;
};

/// A 1 MiB body lent in pieces, each its own heap buffer freed on release
/// (a use after release is a use after free), journaling its calls.
class JournalLender final : public BodyLender {
public:
    JournalLender(Journal* journal, Hdrs trailers) : journal_(journal), trailers_(std::move(trailers)) {}
    ~JournalLender() override {
        for (const auto& kv : out_) delete[] kv.first;
    }
    JournalLender(const JournalLender&) = delete;
    JournalLender& operator=(const JournalLender&) = delete;

    BodyLend lend(std::uint32_t, std::size_t max) override {
        journal_->push_back("asked");
        const std::size_t n = std::min(max, kBody - produced_);
        std::span<const std::uint8_t> piece;
        if (n) {
            auto* p = new std::uint8_t[n];
            std::memset(p, 'l', n);
            out_[p] = n;
            piece = {p, n};
            journal_->push_back("lend");
        }
        produced_ += n;
        if (produced_ < kBody) return {piece, BodyStatus::more, {}};
        return {piece, BodyStatus::end, std::span<const Field>(trailers_.data(), trailers_.size())};
    }
    void release(std::uint32_t, std::span<const std::uint8_t> lent) override {
        const auto it = out_.find(const_cast<std::uint8_t*>(lent.data()));
        REQUIRE(it != out_.end());
        CHECK(it->second == lent.size());
        delete[] it->first;
        out_.erase(it);
        journal_->push_back("release");
    }
    void finished(std::uint32_t, bool complete) override { journal_->push_back(complete ? "finished+" : "finished-"); }
    std::size_t outstanding() const { return out_.size(); }

private:
    Journal* journal_;
    FieldList trailers_;
    std::size_t produced_ = 0;
    std::map<std::uint8_t*, std::size_t> out_;
};

enum class Ending {
    complete,
    reset_by_us,
    reset_by_peer,
    refused_by_goaway,  // a request still waiting for a stream slot
    connection_error_ours,
    connection_error_peers,
    destroyed,
};

const char* name_of(Ending e) {
    switch (e) {
        case Ending::complete:
            return "complete";
        case Ending::reset_by_us:
            return "reset by us";
        case Ending::reset_by_peer:
            return "reset by the peer";
        case Ending::refused_by_goaway:
            return "refused by GOAWAY while queued";
        case Ending::connection_error_ours:
            return "a connection error we found";
        case Ending::connection_error_peers:
            return "the peer's GOAWAY with an error";
        case Ending::destroyed:
            return "the connection destroyed";
    }
    return "?";
}

/// One stream whose body comes from a source on `sender_role`'s side (a
/// request body on the client, a response body on the server), ended the
/// way `ending` says, with lends out when the form lends.
void source_ending(Role sender_role, bool lend, Ending ending, std::uint64_t seed) {
    const bool client_sends = sender_role == Role::client;
    Config receiver_config;
    receiver_config.flow_control = FlowControl::manual;  // the body stalls at 64 KiB
    receiver_config.settings.initial_window_size = 64 * 1024;
    Config sender_config;
    if (ending == Ending::refused_by_goaway) {
        REQUIRE(client_sends);
        receiver_config.limits.max_concurrent_streams = 1;
    }
    Pair pair(client_sends ? sender_config : receiver_config, client_sends ? receiver_config : sender_config, seed,
              false);
    Connection& sender = client_sends ? pair.client : pair.server;
    Connection& receiver = client_sends ? pair.server : pair.client;

    Journal journal;
    const Hdrs trailers = client_sends ? Hdrs{} : grpc::status_fields(grpc::ok);
    std::unique_ptr<JournalReader> reader;
    std::unique_ptr<JournalLender> lender;
    if (lend)
        lender = std::make_unique<JournalLender>(&journal, trailers);
    else
        reader = std::make_unique<JournalReader>(&journal, trailers);
    BodySource& source = lend ? static_cast<BodySource&>(*lender) : static_cast<BodySource&>(*reader);

    int call = 0;  // the stream's user data on the sender's side
    std::uint32_t stream = 0;
    std::vector<StreamClosed> closed;  // the sender's, for `stream`
    std::uint64_t owed = 0;            // the receiver's, not consumed yet
    const bool consume_all = ending == Ending::complete;

    auto on_sender = [&](const Event& e) {
        if (const auto* r = std::get_if<RequestReceived>(&e)) {
            stream = r->stream;
            REQUIRE(sender.set_stream_user_data(r->stream, &call) == ApiError::none);
            REQUIRE(sender.submit_response(r->stream, fields(grpc::response_headers()), source) == ApiError::none);
        } else if (const auto* c = std::get_if<StreamClosed>(&e); c && c->stream == stream) {
            CHECK(c->user_data == &call);
            journal.push_back("closed");
            closed.push_back(*c);
        }
    };
    auto on_receiver = [&](const Event& e) {
        if (const auto* d = std::get_if<DataReceived>(&e); d && d->stream == stream) {
            if (consume_all)
                CHECK(receiver.consume(d->stream, d->flow_controlled_length) == ApiError::none);
            else
                owed += d->flow_controlled_length;
        } else if (const auto* x = std::get_if<StreamEnded>(&e); x && x->stream == stream && client_sends) {
            // The server answers once the request body is all in.
            const Hdrs h = grpc::response_headers() + grpc::status_fields(grpc::ok);
            CHECK(receiver.submit_response(x->stream, fields(h), true) == ApiError::none);
        }
    };
    pair.on_client = pair.on_server = [&](Connection& c, const Event& e) {
        if (&c == &sender)
            on_sender(e);
        else
            on_receiver(e);
    };
    REQUIRE(pair.run(100));

    const auto request_fields = fields(grpc::request_headers(kStream, std::nullopt));
    if (ending == Ending::refused_by_goaway) {
        // The one slot is taken; our request waits for it.
        REQUIRE(pair.client.submit_request(request_fields, true));
        pair.run(100);
    }
    if (client_sends) {
        const Submitted sub = pair.client.submit_request(request_fields, source, &call);
        REQUIRE(sub);
        stream = sub.stream;
    } else {
        REQUIRE(pair.client.submit_request(request_fields, true));
    }

    Bytes ignored;
    auto move_to_sender = [&] {
        while (receiver.wants_write()) pair.transfer(receiver, sender, pair.on_client, ignored);
    };
    std::size_t lends_out = 0;
    if (ending == Ending::refused_by_goaway) {
        CHECK(pair.client.queued_requests() == 1);
        REQUIRE(receiver.goaway(ErrorCode::no_error) == ApiError::none);
        move_to_sender();
    } else {
        REQUIRE(pair.run(10000));
        REQUIRE(stream != 0);
        if (ending != Ending::complete) {
            // The body stalled at the window. Give some back so the sender
            // builds more DATA, not written yet (lends out), then end it.
            CHECK(closed.empty());
            REQUIRE(owed > 0);
            REQUIRE(receiver.consume(stream, owed) == ApiError::none);
            owed = 0;
            move_to_sender();
            CHECK(!sender.pending_output_vectors().empty());
            if (lender) {
                lends_out = lender->outstanding();
                CHECK(lends_out > 0);
            }
        }
        switch (ending) {
            case Ending::reset_by_us:
                REQUIRE(sender.reset_stream(stream, ErrorCode::cancel) == ApiError::none);
                if (lender) CHECK(lender->outstanding() == 0);  // given back within the call
                break;
            case Ending::reset_by_peer:
                REQUIRE(receiver.reset_stream(stream, ErrorCode::cancel) == ApiError::none);
                move_to_sender();
                break;
            case Ending::connection_error_ours: {
                const Bytes data_on_stream_0{0, 0, 0, 0, 0, 0, 0, 0, 0};  // RFC 9113 §6.1: PROTOCOL_ERROR
                for (const Event& e : sender.receive(data_on_stream_0)) on_sender(e);
                break;
            }
            case Ending::connection_error_peers:
                REQUIRE(receiver.goaway(ErrorCode::internal_error) == ApiError::none);
                move_to_sender();
                break;
            case Ending::destroyed:
                // The application frees its sources with the connection, the
                // sources first: a connection that touched them on its way
                // out would be a use after free.
                reader.reset();
                lender.reset();
                sender = Connection(Config{.role = sender_role});
                break;
            default:
                break;
        }
    }
    if (ending != Ending::destroyed) {
        pair.run(10000);
        pair.collect();
    }

    INFO("journal: " << join(journal, " "));
    if (ending == Ending::destroyed) {
        // Instead of finished() and StreamClosed: nothing.
        CHECK(std::count(journal.begin(), journal.end(), "finished+") == 0);
        CHECK(std::count(journal.begin(), journal.end(), "finished-") == 0);
        CHECK(closed.empty());
        return;
    }
    check_journal(journal, ending == Ending::complete);
    REQUIRE(closed.size() == 1);
    struct Want {
        ErrorCode code;
        Initiator by;
    };
    Want want{ErrorCode::no_error, client_sends ? Initiator::peer : Initiator::local};
    switch (ending) {
        case Ending::reset_by_us:
            want = {ErrorCode::cancel, Initiator::local};
            break;
        case Ending::reset_by_peer:
            want = {ErrorCode::cancel, Initiator::peer};
            break;
        case Ending::refused_by_goaway:
            want = {ErrorCode::refused_stream, Initiator::peer};
            break;
        case Ending::connection_error_ours:
            want = {ErrorCode::protocol_error, Initiator::local};
            break;
        case Ending::connection_error_peers:
            want = {ErrorCode::internal_error, Initiator::peer};
            break;
        default:
            break;
    }
    CHECK(closed[0].code == want.code);
    CHECK(closed[0].by == want.by);
    if (ending == Ending::refused_by_goaway) {
        // Never sent, never asked.
        CHECK(std::count(journal.begin(), journal.end(), "read") == 0);
        CHECK(std::count(journal.begin(), journal.end(), "lend") == 0);
    }
    if (lender) CHECK(lender->outstanding() == 0);
}

}  // namespace

TEST_CASE("grpc: a body source hears finished() once, after its lends, before StreamClosed, however the stream ends") {
    const std::uint64_t seed = seed_or(14'007);
    CAPTURE(seed);
    for (const Role sender : {Role::client, Role::server}) {
        for (const bool lend : {false, true}) {
            for (const Ending ending :
                 {Ending::complete, Ending::reset_by_us, Ending::reset_by_peer, Ending::refused_by_goaway,
                  Ending::connection_error_ours, Ending::connection_error_peers, Ending::destroyed}) {
                if (ending == Ending::refused_by_goaway && sender == Role::server) continue;  // requests only
                const std::string what = std::string(sender == Role::client ? "request" : "response") + " body, " +
                                         (lend ? "lent" : "copied") + ", " + name_of(ending);
                CAPTURE(what);
                source_ending(sender, lend, ending, seed);
            }
        }
    }
}
