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

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/grpc_app.hpp"

using namespace h2wire;
using namespace h2wire::conn_test;
using namespace h2wire::grpc_test;

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
