// A tiny gRPC runtime over h2wire, for the in-memory gRPC tests
// (connection_grpc_test.cpp), written as an application would write it:
// against the public API only (events, stream user data, body sources).
//
//  - grpc: the gRPC HTTP/2 wire format: Length-Prefixed-Messages (a
//    compressed flag and a 32-bit big-endian length), grpc-timeout, the
//    request, response and status header lists.
//  - Outbox (a BodyReader) and LentOutbox (a BodyLender): a call's outgoing
//    messages, produced over time ("wait", then resume_body()), with
//    trailers at the end; each keeps a Journal of what it heard.
//  - Client and Server: the two applications. Each call rides on its
//    stream as user data; the server frees a call, and the memory it lent,
//    in the stream's StreamClosed handler.
//  - Rig: both on a Pair (random chunking) with a simulated clock for the
//    applications' timers (the library has none).
#pragma once

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

namespace h2wire::grpc_test {

using namespace h2wire::conn_test;

inline std::uint64_t seed_or(std::uint64_t fallback) {
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
inline std::string frame(std::string_view message) {
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
inline std::string timeout(std::uint64_t ms) {
    return std::to_string(ms) + "m";
}
inline std::optional<std::uint64_t> parse_timeout_ms(std::string_view v) {
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

inline Hdrs request_headers(const std::string& path, std::optional<std::uint64_t> timeout_ms) {
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
inline Hdrs response_headers() {
    return {{":status", "200"}, {"content-type", std::string(content_type)}};
}
inline Hdrs status_fields(int status, const std::string& message = {}) {
    Hdrs h{{"grpc-status", std::to_string(status)}};
    if (!message.empty()) h.push_back({"grpc-message", message});
    return h;
}

}  // namespace grpc

inline const std::string kUnary = "/h2wire.test.Echo/Unary";
inline const std::string kCollect = "/h2wire.test.Echo/Collect";
inline const std::string kStream = "/h2wire.test.Echo/Stream";
inline const std::string kChat = "/h2wire.test.Echo/Chat";
inline const std::string kFill = "/h2wire.test.Echo/Fill";
inline const std::string kTruncate = "/h2wire.test.Echo/Truncate";

/// What the echo service answers to a message: reversed, every octet
/// flipped, so an answer that is the request itself shows.
inline std::string transform(std::string_view m) {
    std::string r(m.rbegin(), m.rend());
    for (char& c : r) c = static_cast<char>(c ^ 0x5a);
    return r;
}

/// Message `i` of a server stream, `size` octets.
inline std::string stream_message(std::size_t i, std::size_t size) {
    std::string s(size, 'a');
    for (std::size_t k = 0; k < size; ++k) s[k] = static_cast<char>('a' + (i * 7 + k * 3) % 26);
    return s;
}

/// The aggregate Collect answers: count, octets, and a checksum.
inline std::string aggregate(const std::vector<std::string>& messages) {
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
inline void check_journal(const Journal& j, std::optional<bool> complete = std::nullopt) {
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
inline std::vector<WireFrame> frames_written(Role writer, const Bytes& wire) {
    Peer reader(writer);
    reader.read(wire);
    return reader.frames();
}

}  // namespace h2wire::grpc_test
