// Bodies pulled on demand (BodySource: BodyReader and BodyLender) and
// push-style bodies that take what fits (send_data_partial) with the
// StreamWritable that says when room is back.
//
//  - Large pulled bodies both ways (requests and responses, both forms at
//    once), over small windows that the receivers reopen at random moments
//    (manual flow control, random consume()), with sources that defer at
//    random ("nothing yet", then resume_body()), output written in random
//    pieces through either output form: byte-exact against the generator,
//    never asked past a window.
//  - Trailers after a pulled body, with and without octets in the last
//    answer; invalid trailers reset the stream.
//  - Memory: a 4 GiB body generated lazily (either form) does not raise
//    memory_peak() past what the first megabytes did.
//  - Lends: each released exactly once, after consume_output() passed it (or
//    at once when pending_output() copied it, or a reset copied what the
//    output needs); every lend is its own heap buffer, freed on release, so
//    AddressSanitizer sees any later use.
//  - Resets in the middle (by the peer, by us, by the source's abort, by a
//    GOAWAY, by the end of the connection): the source is not asked again,
//    its lends come back, finished(false) once.
//  - The API's refusals, parking without spinning, sources on queued
//    requests.
//  - send_data_partial(): a 300 KiB body against the 256 KiB cap, the
//    StreamWritable when half of it drained, the memory budget as the
//    limit.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <set>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * 1024;

const Field request_fields[] = {{":method", "POST"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/up"}};
const Field get_fields[] = {{":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/"}};
const Field ok_fields[] = {{":status", "200"}};

/// Octet `i` of the body with `seed`: a cheap generator, different at every
/// position, so misplaced, lost or repeated octets show.
std::uint8_t body_octet(std::uint64_t seed, std::uint64_t i) {
    std::uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ull + seed;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return static_cast<std::uint8_t>(x >> (8 * (i & 7)));
}

void generate_body(std::uint64_t seed, std::uint64_t from, std::span<std::uint8_t> out) {
    for (std::size_t k = 0; k < out.size(); ++k) out[k] = body_octet(seed, from + k);
}

/// What a source was told: finished() calls, and its own checks.
struct SourceLog {
    int finished = 0;
    bool complete = false;
    std::uint64_t asked = 0;        // read()/lend() calls
    std::uint64_t produced = 0;     // octets handed over
    std::uint64_t over_window = 0;  // asked for more than send_window() allowed
    std::uint64_t waits = 0;
};

/// The deferral and trailer behaviour shared by both test sources.
struct Script {
    std::uint64_t size = 0;
    std::uint64_t seed = 0;
    std::size_t wait_one_in = 0;   // 0: never "nothing yet"
    std::vector<Field> trailers;   // sent after the body when not empty
    bool trailers_alone = false;   // the last answer carries no octets
    Rng* rng = nullptr;
};

/// The copy form: generates the body into the frame being built.
class GenReader final : public BodyReader {
public:
    GenReader(Script script, const Connection* conn) : s_(std::move(script)), conn_(conn) {}
    BodyRead read(std::uint32_t stream, std::span<std::uint8_t> buffer) override {
        ++log.asked;
        if (buffer.empty() || buffer.size() > conn_->send_window(stream)) ++log.over_window;
        if (s_.wait_one_in && s_.rng->one_in(s_.wait_one_in)) {
            ++log.waits;
            // "Nothing yet", sometimes with a few octets.
            const std::size_t n = s_.rng->one_in(2) ? 0 : std::min<std::uint64_t>(buffer.size(), left()) / 2;
            give(buffer.first(n));
            return {n, BodyStatus::wait, {}};
        }
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), left()));
        if (s_.trailers_alone && n == left() && n > 0 && !s_.trailers.empty()) {
            give(buffer.first(n));
            return {n, BodyStatus::more, {}};  // the trailers come in an answer of their own
        }
        give(buffer.first(n));
        if (left() > 0) return {n, BodyStatus::more, {}};
        return {n, BodyStatus::end, s_.trailers};
    }
    void finished(std::uint32_t, bool complete) override {
        ++log.finished;
        log.complete = complete;
    }
    SourceLog log;

private:
    std::uint64_t left() const { return s_.size - log.produced; }
    void give(std::span<std::uint8_t> out) {
        generate_body(s_.seed, log.produced, out);
        log.produced += out.size();
    }
    Script s_;
    const Connection* conn_;
};

/// The zero-copy form: every lend is a fresh heap buffer, freed on release,
/// so a use after release is a use after free.
class GenLender final : public BodyLender {
public:
    GenLender(Script script, const Connection* conn) : s_(std::move(script)), conn_(conn) {}
    ~GenLender() override {
        for (auto& kv : out_) delete[] kv.first;
    }
    GenLender(const GenLender&) = delete;
    GenLender& operator=(const GenLender&) = delete;

    BodyLend lend(std::uint32_t stream, std::size_t max) override {
        ++log.asked;
        if (max == 0 || max > conn_->send_window(stream)) ++log.over_window;
        if (s_.wait_one_in && s_.rng->one_in(s_.wait_one_in)) {
            ++log.waits;
            const std::size_t n = s_.rng->one_in(2) ? 0 : std::min<std::uint64_t>(max, left()) / 3;
            return {make(n), BodyStatus::wait, {}};
        }
        // Sometimes less than asked, in pieces of any size.
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(max, left()));
        if (s_.rng && s_.rng->one_in(3)) n = s_.rng->between(std::min<std::size_t>(n, 1), n);
        if (s_.trailers_alone && n == left() && n > 0 && !s_.trailers.empty())
            return {make(n), BodyStatus::more, {}};
        const std::span<const std::uint8_t> lent = make(n);
        if (left() > 0) return {lent, BodyStatus::more, {}};
        return {lent, BodyStatus::end, s_.trailers};
    }
    void release(std::uint32_t, std::span<const std::uint8_t> lent) override {
        const auto it = out_.find(const_cast<std::uint8_t*>(lent.data()));
        if (it == out_.end() || it->second != lent.size()) {
            ++bad_releases;
            return;
        }
        if (log.finished) ++released_after_finished;
        delete[] it->first;
        out_.erase(it);
        ++releases;
    }
    void finished(std::uint32_t, bool complete) override {
        ++log.finished;
        log.complete = complete;
        if (!out_.empty()) ++finished_with_lends_out;
    }
    std::size_t outstanding() const { return out_.size(); }

    SourceLog log;
    std::uint64_t lends = 0;  // non-empty lends
    std::uint64_t releases = 0;
    std::uint64_t bad_releases = 0;
    std::uint64_t released_after_finished = 0;
    std::uint64_t finished_with_lends_out = 0;

private:
    std::uint64_t left() const { return s_.size - log.produced; }
    std::span<const std::uint8_t> make(std::size_t n) {
        if (n == 0) return {};
        auto* p = new std::uint8_t[n];
        generate_body(s_.seed, log.produced, {p, n});
        log.produced += n;
        out_[p] = n;
        ++lends;
        return {p, n};
    }
    Script s_;
    const Connection* conn_;
    std::map<std::uint8_t*, std::size_t> out_;
};

/// What one side received on one stream.
struct Received {
    std::uint64_t seed = 0;
    std::uint64_t octets = 0;
    std::uint64_t mismatches = 0;
    bool ended = false;
    bool reset = false;
    std::vector<std::pair<std::string, std::string>> trailers;
    bool data_end_stream = false;  // END_STREAM came on a DATA frame
    std::uint64_t writable = 0;    // StreamWritable for the stream (its sender's side)
};

/// Moves output between two connections in random pieces, through either
/// output form, and keeps the receiving side's manual flow-control ledger.
class Wire {
public:
    explicit Wire(std::uint64_t seed) : rng(seed) {}

    /// Writes a random prefix of `from`'s output into `to`. Returns octets.
    template <class OnEvent>
    std::size_t move(Connection& from, Connection& to, OnEvent&& on_event) {
        std::size_t n = 0;
        if (rng.one_in(2)) {
            const auto out = from.pending_output();
            if (out.empty()) return 0;
            n = cut(out.size());
            deliver(to, out.first(n), on_event);
        } else {
            const auto pieces = from.pending_output_vectors();
            std::size_t total = 0;
            for (const OutputChunk& c : pieces) total += c.size;
            if (total == 0) return 0;
            n = cut(total);
            std::size_t left = n;
            for (const OutputChunk& c : pieces) {
                if (left == 0) break;
                const std::size_t k = std::min(left, c.size);
                deliver(to, {c.data, k}, on_event);
                left -= k;
            }
        }
        from.consume_output(n);
        return n;
    }

    Rng rng;

private:
    std::size_t cut(std::size_t available) {
        switch (rng.below(4)) {
            case 0: return std::min(available, rng.between(1, 1500));
            case 1: return rng.between(1, available);
            default: return available;
        }
    }
    template <class OnEvent>
    void deliver(Connection& to, std::span<const std::uint8_t> bytes, OnEvent& on_event) {
        for (const Event& e : to.receive(bytes)) on_event(e);
    }
};

/// A receiver's ledger for manual flow control: what it was handed and has
/// not given back.
struct Ledger {
    std::map<std::uint32_t, std::uint64_t> owed;
    void on_data(const DataReceived& d) { owed[d.stream] += d.flow_controlled_length; }
    /// Gives back a random part of what each stream owes.
    bool give_back(Connection& conn, Rng& rng, bool all) {
        bool any = false;
        for (auto& kv : owed) {
            if (kv.second == 0 || (!all && !rng.one_in(3))) continue;
            const std::uint64_t n = all ? kv.second : rng.between(1, kv.second);
            REQUIRE(conn.consume(kv.first, n) == ApiError::none);
            kv.second -= n;
            any = true;
        }
        return any;
    }
};

Config small_windows(Role role, std::uint32_t stream_window, std::uint32_t conn_window) {
    Config c;
    c.role = role;
    c.settings.initial_window_size = stream_window;
    c.connection_window_size = conn_window;
    c.flow_control = FlowControl::manual;
    return c;
}

void handshake(Connection& client, Connection& server) {
    Wire w(1);
    for (int i = 0; i < 8; ++i) {
        while (client.wants_write()) {
            const auto out = client.pending_output();
            for (const Event& e : server.receive(out)) (void)e;
            client.consume_output(out.size());
        }
        while (server.wants_write()) {
            const auto out = server.pending_output();
            for (const Event& e : client.receive(out)) (void)e;
            server.consume_output(out.size());
        }
    }
    REQUIRE_FALSE(client.settings_ack_pending());
    REQUIRE_FALSE(server.settings_ack_pending());
}

/// Moves everything both ways (whole writes) until both are quiet; events
/// to the handlers.
template <class OnClient, class OnServer>
void settle(Connection& client, Connection& server, OnClient&& on_client, OnServer&& on_server) {
    for (int i = 0; i < 10000; ++i) {
        bool moved = false;
        if (client.wants_write()) {
            const auto out = client.pending_output();
            for (const Event& e : server.receive(out)) on_server(e);
            client.consume_output(out.size());
            moved = moved || !out.empty();
        }
        if (server.wants_write()) {
            const auto out = server.pending_output();
            for (const Event& e : client.receive(out)) on_client(e);
            server.consume_output(out.size());
            moved = moved || !out.empty();
        }
        if (!moved) return;
    }
    FAIL("the exchange does not settle");
}

void ignore_event(const Event&) {}

/// The receiving side's checks of one event.
void check_event(std::map<std::uint32_t, Received>& got, const Event& e, Ledger* ledger) {
    if (const auto* d = std::get_if<DataReceived>(&e)) {
        Received& r = got[d->stream];
        for (std::size_t k = 0; k < d->data.size(); ++k)
            if (d->data[k] != body_octet(r.seed, r.octets + k)) ++r.mismatches;
        r.octets += d->data.size();
        if (d->end_stream) r.data_end_stream = true;
        if (ledger) ledger->on_data(*d);
    } else if (const auto* t = std::get_if<TrailersReceived>(&e)) {
        for (const Field& f : t->headers) got[t->stream].trailers.emplace_back(f.name, f.value);
    } else if (const auto* x = std::get_if<StreamEnded>(&e)) {
        got[x->stream].ended = true;
    } else if (const auto* rs = std::get_if<StreamReset>(&e)) {
        got[rs->stream].reset = true;
    } else if (const auto* w = std::get_if<StreamWritable>(&e)) {
        if (w->stream != 0) ++got[w->stream].writable;
    } else if (const auto* term = std::get_if<ConnectionTerminated>(&e)) {
        FAIL("connection terminated: " << std::string(term->reason));
    }
}

// ---------------------------------------------------------------------------

TEST_CASE("pulled bodies: 64 MiB both ways over small windows, random WINDOW_UPDATEs and deferral, byte-exact") {
    for (const std::uint64_t seed : {11u, 12u}) {
        CAPTURE(seed);
        Connection client(small_windows(Role::client, 65535, 200 * KiB));
        Connection server(small_windows(Role::server, 100 * KiB, 300 * KiB));
        handshake(client, server);
        Wire wire(seed);
        Rng script_rng(seed * 7);

        // Two request bodies (one per form) and four response bodies (two
        // per form, two with trailers); about 64 MiB in all.
        struct Spec {
            std::uint64_t size;
            bool lend;
            bool trailers;
        };
        const Spec requests[] = {{3 * MiB + 17, false, false}, {3 * MiB + 5, true, true}};
        const Spec responses[] = {{21 * MiB + 3, false, true}, {19 * MiB, true, false}, {9 * MiB + 1, false, false},
                                  {9 * MiB + 999, true, true}};
        const std::vector<Field> trailer_fields = {{"grpc-status", "0"}, {"x-checksum", "abc"}};

        std::vector<std::unique_ptr<GenReader>> readers;
        std::vector<std::unique_ptr<GenLender>> lenders;
        auto make_source = [&](const Spec& spec, std::uint64_t body_seed, const Connection* conn) -> BodySource& {
            Script sc;
            sc.size = spec.size;
            sc.seed = body_seed;
            sc.wait_one_in = 5;
            sc.rng = &script_rng;
            if (spec.trailers) {
                sc.trailers = trailer_fields;
                sc.trailers_alone = body_seed % 2 == 0;
            }
            if (spec.lend) {
                lenders.push_back(std::make_unique<GenLender>(sc, conn));
                return *lenders.back();
            }
            readers.push_back(std::make_unique<GenReader>(sc, conn));
            return *readers.back();
        };

        std::map<std::uint32_t, Received> at_server, at_client;
        std::map<std::uint32_t, const Spec*> response_of;  // by stream
        Ledger server_ledger, client_ledger;
        std::uint64_t seed_of_next = 1000 * seed;
        for (std::size_t i = 0; i < 2; ++i) {
            const std::uint64_t request_seed = ++seed_of_next;
            const Submitted sub = client.submit_request(request_fields, make_source(requests[i], request_seed, &client));
            REQUIRE(sub);
            at_server[sub.stream].seed = request_seed;
            at_client[sub.stream].seed = 5000 + sub.stream;
            response_of[sub.stream] = &responses[i];
        }
        for (std::size_t i = 2; i < 4; ++i) {  // two GETs
            const Submitted sub = client.submit_request(get_fields, true);
            REQUIRE(sub);
            at_client[sub.stream].seed = 5000 + sub.stream;
            response_of[sub.stream] = &responses[i];
        }

        auto on_server = [&](const Event& e) {
            check_event(at_server, e, &server_ledger);
            if (const auto* r = std::get_if<RequestReceived>(&e)) {
                const Spec& spec = *response_of.at(r->stream);
                REQUIRE(server.submit_response(r->stream, ok_fields, make_source(spec, 5000 + r->stream, &server)) ==
                        ApiError::none);
            }
        };
        auto on_client = [&](const Event& e) { check_event(at_client, e, &client_ledger); };

        std::uint64_t total = 0;
        for (const Spec& s : requests) total += s.size;
        for (const Spec& s : responses) total += s.size;
        auto received = [&] {
            std::uint64_t n = 0;
            for (auto& kv : at_server) n += kv.second.octets;
            for (auto& kv : at_client) n += kv.second.octets;
            return n;
        };
        auto all_ended = [&] {
            std::size_t ended = 0;
            for (auto& kv : at_client) ended += kv.second.ended;
            return ended == 4;
        };
        std::size_t quiet = 0;
        for (std::size_t step = 0; !all_ended(); ++step) {
            REQUIRE(step < 2'000'000);
            std::size_t moved = wire.move(client, server, on_server);
            moved += wire.move(server, client, on_client);
            // The applications: give window back at random moments, resume
            // parked sources at random (resuming one that is not parked is
            // harmless).
            bool acted = server_ledger.give_back(server, wire.rng, quiet > 2);
            acted = client_ledger.give_back(client, wire.rng, quiet > 2) || acted;
            if (wire.rng.one_in(3) || quiet > 2) {
                for (auto& kv : at_server) acted = client.resume_body(kv.first) == ApiError::none || acted;
                for (auto& kv : at_client) acted = server.resume_body(kv.first) == ApiError::none || acted;
            }
            quiet = moved == 0 ? quiet + 1 : 0;
            REQUIRE(quiet < 20);
        }
        CHECK(received() == total);
        for (auto& kv : at_server) {
            CAPTURE(kv.first);
            CHECK(kv.second.mismatches == 0);
            CHECK(kv.second.ended);
            CHECK(kv.second.writable == 0);  // a pulled stream needs no StreamWritable
        }
        for (auto& kv : at_client) {
            CAPTURE(kv.first);
            CHECK(kv.second.mismatches == 0);
            CHECK(kv.second.octets == response_of.at(kv.first)->size);
            CHECK(kv.second.writable == 0);
            if (response_of.at(kv.first)->trailers) {
                CHECK(kv.second.trailers.size() == 2);
                CHECK_FALSE(kv.second.data_end_stream);
            } else {
                CHECK(kv.second.trailers.empty());
            }
        }
        std::uint64_t waits = 0;
        for (auto& r : readers) {
            CHECK(r->log.over_window == 0);
            CHECK(r->log.finished == 1);
            CHECK(r->log.complete);
            waits += r->log.waits;
        }
        for (auto& l : lenders) {
            CHECK(l->log.over_window == 0);
            CHECK(l->log.finished == 1);
            CHECK(l->log.complete);
            CHECK(l->outstanding() == 0);
            CHECK(l->bad_releases == 0);
            CHECK(l->lends == l->releases);
            CHECK(l->released_after_finished == 0);
            CHECK(l->finished_with_lends_out == 0);
            waits += l->log.waits;
        }
        CHECK(waits > 10);  // the deferral was exercised
    }
}

TEST_CASE("pulled bodies: trailers") {
    Connection client({.role = Role::client});
    Connection server({.role = Role::server});
    handshake(client, server);
    const std::vector<Field> trailers = {{"grpc-status", "0"}, {"grpc-message", "ok"}};
    std::map<std::uint32_t, Received> got;
    Rng rng(3);
    std::vector<std::unique_ptr<GenReader>> readers;
    std::vector<std::unique_ptr<GenLender>> lenders;
    std::vector<std::uint32_t> ids;
    // (form, body size, trailers in their own answer)
    const std::tuple<bool, std::uint64_t, bool> cases[] = {
        {false, 1000, false}, {false, 1000, true}, {false, 0, false}, {true, 70000, false}, {true, 70000, true}, {true, 0, false}};
    for (std::size_t i = 0; i < std::size(cases); ++i) {
        const Submitted sub = client.submit_request(get_fields, true);
        REQUIRE(sub);
        ids.push_back(sub.stream);
        got[sub.stream].seed = sub.stream;
    }
    settle(client, server, ignore_event, ignore_event);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        Script sc;
        sc.size = std::get<1>(cases[i]);
        sc.seed = ids[i];
        sc.trailers = trailers;
        sc.trailers_alone = std::get<2>(cases[i]);
        sc.rng = &rng;
        BodySource* src = nullptr;
        if (std::get<0>(cases[i])) {
            lenders.push_back(std::make_unique<GenLender>(sc, &server));
            src = lenders.back().get();
        } else {
            readers.push_back(std::make_unique<GenReader>(sc, &server));
            src = readers.back().get();
        }
        REQUIRE(server.submit_response(ids[i], ok_fields, *src) == ApiError::none);
    }
    settle(client, server, [&](const Event& e) { check_event(got, e, nullptr); }, ignore_event);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const Received& r = got[ids[i]];
        CAPTURE(i);
        CHECK(r.octets == std::get<1>(cases[i]));
        CHECK(r.mismatches == 0);
        CHECK(r.ended);
        CHECK_FALSE(r.data_end_stream);
        REQUIRE(r.trailers.size() == 2);
        CHECK(r.trailers[0].first == "grpc-status");
        CHECK(r.trailers[1].second == "ok");
    }
    for (auto& r : readers) CHECK((r->log.finished == 1 && r->log.complete));
    for (auto& l : lenders) CHECK((l->log.finished == 1 && l->log.complete && l->outstanding() == 0));

    SUBCASE("invalid trailers reset the stream with INTERNAL_ERROR") {
        const Submitted sub = client.submit_request(get_fields, true);
        settle(client, server, ignore_event, ignore_event);
        const std::vector<Field> bad = {{":status", "200"}};  // no pseudo-headers in trailers
        for (const bool lend : {false, true}) {
            CAPTURE(lend);
            Script sc;
            sc.size = 100;
            sc.trailers = bad;
            sc.rng = &rng;
            GenReader reader(sc, &server);
            GenLender lender(sc, &server);
            const Submitted s2 = lend ? client.submit_request(get_fields, true) : sub;
            settle(client, server, ignore_event, ignore_event);
            BodySource& src = lend ? static_cast<BodySource&>(lender) : reader;
            REQUIRE(server.submit_response(s2.stream, ok_fields, src) == ApiError::none);
            std::vector<ErrorCode> codes;
            settle(client, server, [&](const Event& e) {
                if (const auto* rs = std::get_if<StreamReset>(&e)) codes.push_back(rs->code);
            }, ignore_event);
            CHECK(codes == std::vector<ErrorCode>{ErrorCode::internal_error});
            const SourceLog& log = lend ? lender.log : reader.log;
            CHECK(log.finished == 1);
            CHECK_FALSE(log.complete);
            CHECK(lender.outstanding() == 0);
        }
    }
}

/// A body of `size` octets generated lazily, in blocks whose every octet
/// says the block's number: cheap enough for 4 GiB.
class LazyReader final : public BodyReader {
public:
    explicit LazyReader(std::uint64_t size) : size_(size) {}
    BodyRead read(std::uint32_t, std::span<std::uint8_t> buffer) override {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size_ - at_));
        for (std::size_t k0 = 0; k0 < n;) {  // each 16 KiB block of the body says its number
            const std::size_t k = std::min<std::size_t>(n - k0, 16 * KiB - (at_ & (16 * KiB - 1)));
            std::memset(buffer.data() + k0, static_cast<int>((at_ >> 14) & 0xff), k);
            k0 += k;
            at_ += k;
        }
        return {n, at_ == size_ ? BodyStatus::end : BodyStatus::more, {}};
    }
    void finished(std::uint32_t, bool complete) override { done = complete ? 1 : -1; }
    int done = 0;

private:
    std::uint64_t size_;
    std::uint64_t at_ = 0;
};

/// The same as lends of one static buffer (the same memory may be lent many
/// times over), counted.
class LazyLender final : public BodyLender {
public:
    explicit LazyLender(std::uint64_t size) : size_(size), block_(256 * KiB, 0x5a) {}
    BodyLend lend(std::uint32_t, std::size_t max) override {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>({max, size_ - at_, block_.size()}));
        at_ += n;
        if (n) ++out;
        return {std::span<const std::uint8_t>(block_.data(), n), at_ == size_ ? BodyStatus::end : BodyStatus::more, {}};
    }
    void release(std::uint32_t, std::span<const std::uint8_t> lent) override {
        if (lent.data() != block_.data()) ++bad;
        --out;
        ++released;
    }
    void finished(std::uint32_t, bool complete) override { done = complete ? 1 : -1; }
    int done = 0;
    std::int64_t out = 0;
    std::uint64_t released = 0;
    std::uint64_t bad = 0;

private:
    std::uint64_t size_;
    std::uint64_t at_ = 0;
    std::vector<std::uint8_t> block_;
};

TEST_CASE("pulled bodies: 4 GiB generated lazily in constant memory") {
    constexpr std::uint64_t size = std::uint64_t{4} << 30;
    Config cc{.role = Role::client};
    cc.settings.initial_window_size = 16 * MiB;
    cc.connection_window_size = 16 * MiB;
    for (const bool lend : {false, true}) {
        CAPTURE(lend);
        Connection client(cc);
        Connection server({.role = Role::server});
        handshake(client, server);
        const Submitted sub = client.submit_request(get_fields, true);
        settle(client, server, ignore_event, ignore_event);
        LazyReader reader(size);
        LazyLender lender(size);
        BodySource& src = lend ? static_cast<BodySource&>(lender) : reader;
        REQUIRE(server.submit_response(sub.stream, ok_fields, src) == ApiError::none);
        std::uint64_t got = 0, wrong = 0;
        bool ended = false;
        std::size_t peak_early = 0;
        auto on_client = [&](const Event& e) {
            if (const auto* d = std::get_if<DataReceived>(&e)) {
                // Spot checks: first and last octet of each chunk.
                if (!d->data.empty() && !lend) {
                    if (d->data.front() != ((got >> 14) & 0xff)) ++wrong;
                    if (d->data.back() != (((got + d->data.size() - 1) >> 14) & 0xff)) ++wrong;
                }
                if (lend && !d->data.empty() && (d->data.front() != 0x5a || d->data.back() != 0x5a)) ++wrong;
                got += d->data.size();
            }
            if (std::holds_alternative<StreamEnded>(e)) ended = true;
        };
        // Written whole, in either output form (the contiguous one for the
        // copy form, pieces for lends), straight into the client.
        for (std::size_t turn = 0; turn < 10'000'000 && !ended; ++turn) {
            std::size_t n = 0;
            if (!lend) {
                const auto out = server.pending_output();
                for (const Event& e : client.receive(out)) on_client(e);
                n = out.size();
            } else {
                for (const OutputChunk& c : server.pending_output_vectors()) {
                    for (const Event& e : client.receive({c.data, c.size})) on_client(e);
                    n += c.size;
                }
            }
            server.consume_output(n);
            const auto up = client.pending_output();  // WINDOW_UPDATEs
            for (const Event& e : server.receive(up)) (void)e;
            client.consume_output(up.size());
            if (peak_early == 0 && got >= 64 * MiB) peak_early = server.memory_peak();
        }
        CHECK(got == size);
        CHECK(wrong == 0);
        CHECK(peak_early > 0);
        MESSAGE("server memory_peak() after 64 MiB: " << peak_early << ", after 4 GiB: " << server.memory_peak());
        CHECK(server.memory_peak() == peak_early);
        CHECK(server.memory_peak() < 2 * MiB);
        if (lend) {
            CHECK(lender.done == 1);
            CHECK(lender.out == 0);
            CHECK(lender.bad == 0);
            CHECK(lender.released > 4096);
        } else {
            CHECK(reader.done == 1);
        }
    }
}

TEST_CASE("lends: released exactly once, and only once consume_output() passed them") {
    Config cc{.role = Role::client};
    cc.settings.initial_window_size = 64 * KiB;  // lends of at most 64 KiB
    Connection client(cc);
    Connection server({.role = Role::server});
    handshake(client, server);
    Rng rng(21);
    const Submitted sub = client.submit_request(get_fields, true);
    settle(client, server, ignore_event, ignore_event);
    Script sc;
    sc.size = 600 * KiB;
    sc.seed = 77;
    sc.rng = &rng;
    GenLender lender(sc, &server);
    REQUIRE(server.submit_response(sub.stream, ok_fields, lender) == ApiError::none);

    std::map<std::uint32_t, Received> got;
    got[sub.stream].seed = 77;
    // Pieces written one octet short of everything: nothing whose last octet
    // is not yet written may be released.
    for (int turn = 0; turn < 100000 && !got[sub.stream].ended; ++turn) {
        const auto pieces = server.pending_output_vectors();
        std::size_t total = 0;
        for (const OutputChunk& c : pieces) total += c.size;
        const std::size_t releases_before = lender.releases;
        const std::size_t n = total > 1 && rng.one_in(2) ? total - 1 : total;
        std::size_t left = n;
        for (const OutputChunk& c : pieces) {
            const std::size_t k = std::min(left, c.size);
            for (const Event& e : client.receive({c.data, k})) check_event(got, e, nullptr);
            left -= k;
        }
        CHECK(lender.releases == releases_before);  // building and reading the output releases nothing
        server.consume_output(n);
        const auto up = client.pending_output();
        for (const Event& e : server.receive(up)) (void)e;
        client.consume_output(up.size());
    }
    CHECK(got[sub.stream].ended);
    CHECK(got[sub.stream].octets == 600 * KiB);
    CHECK(got[sub.stream].mismatches == 0);
    CHECK(lender.lends > 1);
    CHECK(lender.releases == lender.lends);
    CHECK(lender.bad_releases == 0);
    CHECK(lender.outstanding() == 0);
    CHECK(lender.log.finished == 1);
    CHECK(lender.log.complete);
    CHECK(lender.finished_with_lends_out == 0);

    SUBCASE("pending_output() copies a lend and releases it at once") {
        const Submitted s2 = client.submit_request(get_fields, true);
        settle(client, server, ignore_event, ignore_event);
        Script sc2;
        sc2.size = 40 * KiB;
        sc2.seed = 9;
        GenLender l2(sc2, &server);
        REQUIRE(server.submit_response(s2.stream, ok_fields, l2) == ApiError::none);
        const auto out = server.pending_output();
        CHECK(out.size() > 40 * KiB);
        CHECK(l2.releases == l2.lends);  // copied: the memory is free already
        CHECK(l2.outstanding() == 0);
        CHECK(l2.log.finished == 1);
        std::map<std::uint32_t, Received> g2;
        g2[s2.stream].seed = 9;
        for (const Event& e : client.receive(out)) check_event(g2, e, nullptr);
        server.consume_output(out.size());
        CHECK(g2[s2.stream].octets == 40 * KiB);
        CHECK(g2[s2.stream].mismatches == 0);
    }
}

TEST_CASE("pulled bodies: a reset in the middle stops the source and gives its lends back") {
    Config cc{.role = Role::client};
    cc.settings.initial_window_size = 100 * KiB;
    Rng rng(5);
    for (int how = 0; how < 5; ++how) {
        for (const bool lend : {false, true}) {
            CAPTURE(how);
            CAPTURE(lend);
            Connection client(cc);
            Connection server({.role = Role::server});
            handshake(client, server);
            const Submitted sub = client.submit_request(get_fields, true);
            settle(client, server, ignore_event, ignore_event);
            Script sc;
            sc.size = 10 * MiB;
            sc.seed = 1;
            GenReader reader(sc, &server);
            GenLender lender(sc, &server);
            BodySource& src = lend ? static_cast<BodySource&>(lender) : reader;
            REQUIRE(server.submit_response(sub.stream, ok_fields, src) == ApiError::none);
            // The window's worth is built (and, for lends, still points at
            // the source's memory), not written.
            CHECK_FALSE(server.pending_output_vectors().empty());
            const SourceLog& log = lend ? lender.log : reader.log;
            const std::uint64_t asked = log.asked;
            CHECK(asked > 0);
            if (lend) CHECK(lender.outstanding() > 0);
            std::vector<ErrorCode> client_resets;
            auto on_client = [&](const Event& e) {
                if (const auto* r = std::get_if<StreamReset>(&e)) client_resets.push_back(r->code);
            };
            switch (how) {
                case 0:  // we reset it
                    REQUIRE(server.reset_stream(sub.stream, ErrorCode::cancel) == ApiError::none);
                    break;
                case 1: {  // the peer resets it
                    REQUIRE(client.reset_stream(sub.stream, ErrorCode::cancel) == ApiError::none);
                    const auto up = client.pending_output();
                    for (const Event& e : server.receive(up)) (void)e;
                    client.consume_output(up.size());
                    break;
                }
                case 2:  // GOAWAY with an error: the connection ends
                    REQUIRE(server.goaway(ErrorCode::internal_error, "bye") == ApiError::none);
                    break;
                case 3: {  // the peer's GOAWAY with an error
                    REQUIRE(client.goaway(ErrorCode::protocol_error, "no") == ApiError::none);
                    const auto up = client.pending_output();
                    for (const Event& e : server.receive(up)) (void)e;
                    client.consume_output(up.size());
                    break;
                }
                default:
                    break;  // the connection is destroyed below: nothing is called
            }
            if (how < 4) {
                CHECK(log.finished == 1);
                CHECK_FALSE(log.complete);
                if (lend) {
                    CHECK(lender.outstanding() == 0);  // copied where the output still needs them: free now
                    CHECK(lender.releases == lender.lends);
                    CHECK(lender.finished_with_lends_out == 0);
                }
                // What was built still goes out (from copies), then the reset;
                // the source is not asked again.
                std::map<std::uint32_t, Received> got;
                got[sub.stream].seed = 1;
                for (int i = 0; i < 4; ++i) {
                    settle(client, server, [&](const Event& e) {
                        on_client(e);
                        if (std::holds_alternative<DataReceived>(e)) check_event(got, e, nullptr);
                    }, ignore_event);
                }
                CHECK(got[sub.stream].mismatches == 0);
                CHECK(log.asked == asked);
                CHECK(log.finished == 1);
                if (how == 0) CHECK(client_resets == std::vector<ErrorCode>{ErrorCode::cancel});
                CHECK(server.resume_body(sub.stream) != ApiError::none);
            } else {
                CHECK(log.finished == 0);
            }
        }
    }
}

TEST_CASE("pulled bodies: a source that aborts or overruns resets the stream with INTERNAL_ERROR") {
    struct Bad final : BodyReader {
        int mode = 0;
        int finished_calls = 0;
        bool complete = true;
        BodyRead read(std::uint32_t, std::span<std::uint8_t> buffer) override {
            if (mode == 0) return {10, BodyStatus::abort, {}};
            return {buffer.size() + 1, BodyStatus::more, {}};  // claims more than it was given
        }
        void finished(std::uint32_t, bool c) override {
            ++finished_calls;
            complete = c;
        }
    };
    struct BadLender final : BodyLender {
        std::vector<std::uint8_t> big = std::vector<std::uint8_t>(4 * MiB);
        int releases = 0;
        int finished_calls = 0;
        BodyLend lend(std::uint32_t, std::size_t max) override { return {std::span(big).first(max + 1), BodyStatus::more, {}}; }
        void release(std::uint32_t, std::span<const std::uint8_t>) override { ++releases; }
        void finished(std::uint32_t, bool) override { ++finished_calls; }
    };
    for (int mode = 0; mode < 3; ++mode) {
        CAPTURE(mode);
        Connection client({.role = Role::client});
        Connection server({.role = Role::server});
        handshake(client, server);
        const Submitted sub = client.submit_request(get_fields, true);
        settle(client, server, ignore_event, ignore_event);
        Bad bad;
        bad.mode = mode;
        BadLender bad_lender;
        BodySource& src = mode < 2 ? static_cast<BodySource&>(bad) : bad_lender;
        REQUIRE(server.submit_response(sub.stream, ok_fields, src) == ApiError::none);
        std::vector<ErrorCode> codes;
        std::uint64_t octets = 0;
        settle(client, server, [&](const Event& e) {
            if (const auto* r = std::get_if<StreamReset>(&e)) codes.push_back(r->code);
            if (const auto* d = std::get_if<DataReceived>(&e)) octets += d->data.size();
        }, ignore_event);
        CHECK(codes == std::vector<ErrorCode>{ErrorCode::internal_error});
        CHECK(octets == 0);
        if (mode < 2) {
            CHECK(bad.finished_calls == 1);
            CHECK_FALSE(bad.complete);
        } else {
            CHECK(bad_lender.releases == 1);  // the refused lend goes straight back
            CHECK(bad_lender.finished_calls == 1);
        }
    }
}

TEST_CASE("pulled bodies: what the API refuses, parking without spinning, sources on queued requests") {
    Connection client({.role = Role::client});
    Connection server({.role = Role::server});
    handshake(client, server);
    Rng rng(1);
    Script sc;
    sc.size = 1000;
    sc.rng = &rng;
    GenReader reader(sc, &server);

    const Submitted a = client.submit_request(get_fields, true);
    const Submitted b = client.submit_request(get_fields, true);
    settle(client, server, ignore_event, ignore_event);
    // No final response yet.
    CHECK(server.set_body_source(a.stream, reader) == ApiError::invalid_stream);
    CHECK(server.resume_body(a.stream) == ApiError::invalid_stream);
    CHECK(server.set_body_source(999, reader) == ApiError::invalid_stream);
    // A 1xx cannot carry a body: refused, nothing sent.
    const Field continue_fields[] = {{":status", "100"}};
    CHECK(server.submit_response(a.stream, continue_fields, reader) == ApiError::invalid_stream);
    CHECK_FALSE(server.wants_write());
    // Attached once; then the body is the source's.
    REQUIRE(server.submit_response(a.stream, ok_fields, reader) == ApiError::none);
    CHECK(server.set_body_source(a.stream, reader) == ApiError::stream_closed);
    const std::uint8_t x[3] = {1, 2, 3};
    CHECK(server.send_data(a.stream, x, false) == ApiError::stream_closed);
    CHECK(server.send_trailers(a.stream, ok_fields) == ApiError::stream_closed);
    CHECK(server.send_capacity(a.stream) == 0);
    CHECK(client.submit_response(b.stream, ok_fields, reader) == ApiError::wrong_role);

    SUBCASE("more with no octets parks the stream; resume_body() asks again") {
        struct Slow final : BodyReader {
            int asked = 0;
            bool ready = false;
            BodyRead read(std::uint32_t, std::span<std::uint8_t> buffer) override {
                ++asked;
                if (!ready) return {0, BodyStatus::more, {}};
                buffer[0] = 'z';
                return {1, BodyStatus::end, {}};
            }
        } slow;
        REQUIRE(server.submit_response(b.stream, ok_fields, slow) == ApiError::none);
        std::vector<std::string> body;
        auto on_client = [&](const Event& e) {
            if (const auto* d = std::get_if<DataReceived>(&e)) body.push_back(string_of(d->data));
        };
        settle(client, server, on_client, ignore_event);
        CHECK(slow.asked == 1);  // asked once, then parked
        CHECK(server.resume_body(b.stream) == ApiError::none);
        CHECK(server.resume_body(b.stream) == ApiError::none);  // twice is once
        settle(client, server, on_client, ignore_event);
        CHECK(slow.asked == 2);  // asked again, parked again
        slow.ready = true;
        CHECK(server.resume_body(b.stream) == ApiError::none);
        settle(client, server, on_client, ignore_event);
        CHECK(slow.asked == 3);
        CHECK(body.back() == "z");
        CHECK(server.resume_body(b.stream) == ApiError::invalid_stream);  // over
    }
    SUBCASE("a request body waits for its request's stream slot") {
        Config sc1{.role = Role::server};
        sc1.limits.max_concurrent_streams = 1;
        Connection c2({.role = Role::client});
        Connection s2(sc1);
        handshake(c2, s2);
        Script body_script;
        body_script.size = 50 * KiB;
        body_script.seed = 3;
        GenReader first(body_script, &c2), second(body_script, &c2);
        const Submitted r1 = c2.submit_request(request_fields, first);
        const Submitted r2 = c2.submit_request(request_fields, second);  // queued: one slot
        REQUIRE(r1);
        REQUIRE(r2);
        std::map<std::uint32_t, Received> got;
        got[r1.stream].seed = 3;
        got[r2.stream].seed = 3;
        std::vector<std::uint32_t> order;
        auto on_server = [&](const Event& e) {
            check_event(got, e, nullptr);
            if (const auto* r = std::get_if<RequestReceived>(&e)) order.push_back(r->stream);
            if (const auto* end = std::get_if<StreamEnded>(&e))
                REQUIRE(s2.submit_response(end->stream, ok_fields, true) == ApiError::none);
        };
        settle(c2, s2, ignore_event, on_server);
        CHECK(order == std::vector<std::uint32_t>{r1.stream, r2.stream});
        CHECK(got[r1.stream].octets == 50 * KiB);
        CHECK(got[r2.stream].octets == 50 * KiB);
        CHECK(got[r2.stream].mismatches == 0);
        CHECK(first.log.finished == 1);
        CHECK(second.log.finished == 1);
    }
    SUBCASE("a queued request refused by GOAWAY finishes its source") {
        Config sc1{.role = Role::server};
        sc1.limits.max_concurrent_streams = 1;
        Connection c2({.role = Role::client});
        Connection s2(sc1);
        handshake(c2, s2);
        Script body_script;
        body_script.size = 10;
        GenReader second(body_script, &c2);
        REQUIRE(c2.submit_request(get_fields, true));
        const Submitted r2 = c2.submit_request(request_fields, second);  // never goes out
        REQUIRE(r2);
        settle(c2, s2, ignore_event, ignore_event);
        REQUIRE(s2.goaway(ErrorCode::no_error) == ApiError::none);
        settle(c2, s2, ignore_event, ignore_event);
        CHECK(second.log.finished == 1);
        CHECK_FALSE(second.log.complete);
        CHECK(second.log.asked == 0);
    }
}

// ---------------------------------------------------------------------------

TEST_CASE("send_data_partial: takes what fits, says how much, StreamWritable when room is back") {
    Config cc{.role = Role::client};
    cc.settings.initial_window_size = 64 * KiB;
    Config manual = cc;
    manual.flow_control = FlowControl::manual;
    Connection client(manual);
    Ledger ledger;
    Rng rng(8);
    Connection server({.role = Role::server});
    handshake(client, server);
    const Submitted sub = client.submit_request(get_fields, true);
    settle(client, server, ignore_event, ignore_event);
    REQUIRE(server.submit_response(sub.stream, ok_fields, false) == ApiError::none);

    std::vector<std::uint8_t> body(300 * KiB);
    generate_body(42, 0, body);
    // send_data() takes all or nothing: 300 KiB against the 256 KiB cap.
    CHECK(server.send_data(sub.stream, body, true) == ApiError::buffer_full);
    // send_data_partial() takes the 256 KiB that fit.
    const DataAccepted a = server.send_data_partial(sub.stream, body, true);
    CHECK(a);
    CHECK(a.accepted == 256 * KiB);
    CHECK(server.send_capacity(sub.stream) == 0);
    const DataAccepted none = server.send_data_partial(sub.stream, std::span(body).subspan(a.accepted), true);
    CHECK(none);
    CHECK(none.accepted == 0);

    std::map<std::uint32_t, Received> got;
    got[sub.stream].seed = 42;
    std::size_t offset = a.accepted;
    std::vector<StreamWritable> writable;
    auto on_server = [&](const Event& e) {
        if (const auto* w = std::get_if<StreamWritable>(&e)) writable.push_back(*w);
    };
    // The client's 64 KiB window lets a quarter out: 192 KiB stay queued,
    // more than half the cap, so no StreamWritable yet (it would be
    // reported with the next receive(), collected here with no bytes).
    auto on_client = [&](const Event& e) { check_event(got, e, &ledger); };
    settle(client, server, on_client, on_server);
    for (const Event& e : server.receive({})) on_server(e);
    CHECK(got[sub.stream].octets == 64 * KiB);
    CHECK(writable.empty());
    // The client gives its window back (manual flow control), 64 KiB at a
    // time; at 128 KiB queued the StreamWritable comes, and the rest fits.
    for (int round = 0; round < 100 && offset < body.size(); ++round) {
        ledger.give_back(client, rng, true);
        settle(client, server, on_client, on_server);
        for (const Event& e : server.receive({})) on_server(e);
        if (!writable.empty()) {
            CHECK(writable.back().stream == sub.stream);
            CHECK(server.buffered(sub.stream) <= 128 * KiB);  // drained to half
            writable.clear();
            const DataAccepted more = server.send_data_partial(sub.stream, std::span(body).subspan(offset), true);
            CHECK(more);
            offset += more.accepted;
        }
    }
    CHECK(offset == body.size());
    for (int round = 0; round < 10; ++round) {
        ledger.give_back(client, rng, true);
        settle(client, server, on_client, on_server);
    }
    CHECK(got[sub.stream].octets == body.size());
    CHECK(got[sub.stream].mismatches == 0);
    CHECK(got[sub.stream].ended);

    SUBCASE("a refused stream that goes away owes nothing, also across trim()") {
        const Submitted s2 = client.submit_request(get_fields, true);
        settle(client, server, ignore_event, ignore_event);
        REQUIRE(server.submit_response(s2.stream, ok_fields, false) == ApiError::none);
        CHECK(server.send_data_partial(s2.stream, body, false).accepted < body.size());
        REQUIRE(server.reset_stream(s2.stream, ErrorCode::cancel) == ApiError::none);
        server.trim();
        std::vector<StreamWritable> late;
        settle(client, server, ignore_event, [&](const Event& e) {
            if (const auto* w = std::get_if<StreamWritable>(&e)) late.push_back(*w);
        });
        for (const Event& e : server.receive({}))
            if (const auto* w = std::get_if<StreamWritable>(&e)) late.push_back(*w);
        for (const StreamWritable& w : late) CHECK(w.stream != s2.stream);
    }
    SUBCASE("the memory budget as the limit: StreamWritable once blocks are free again") {
        Config small{.role = Role::server};
        small.limits.max_connection_memory = 256 * KiB;
        Connection c2(cc);
        Connection s2(small);
        handshake(c2, s2);
        std::vector<std::uint32_t> ids;
        for (int i = 0; i < 3; ++i) ids.push_back(c2.submit_request(get_fields, true).stream);
        settle(c2, s2, ignore_event, ignore_event);
        for (const std::uint32_t id : ids) REQUIRE(s2.submit_response(id, ok_fields, false) == ApiError::none);
        std::map<std::uint32_t, std::size_t> sent;
        for (const std::uint32_t id : ids) sent[id] = s2.send_data_partial(id, body, true).accepted;
        // A quarter of the budget is kept for input: the three streams'
        // buffers do not fit in the rest.
        std::size_t total = 0;
        for (auto& kv : sent) total += kv.second;
        CHECK(total < 3 * 256 * KiB);
        std::set<std::uint32_t> woken;
        std::map<std::uint32_t, Received> g2;
        for (const std::uint32_t id : ids) g2[id].seed = 42;
        auto on_s2 = [&](const Event& e) {
            if (const auto* w = std::get_if<StreamWritable>(&e)) woken.insert(w->stream);
        };
        for (int round = 0; round < 1000; ++round) {
            settle(c2, s2, [&](const Event& e) { check_event(g2, e, nullptr); }, on_s2);
            for (const Event& e : s2.receive({})) on_s2(e);
            bool all = true;
            for (const std::uint32_t id : ids) {
                if (sent[id] == body.size()) continue;
                all = false;
                if (woken.erase(id)) sent[id] += s2.send_data_partial(id, std::span(body).subspan(sent[id]), true).accepted;
            }
            if (all) break;
        }
        settle(c2, s2, [&](const Event& e) { check_event(g2, e, nullptr); }, on_s2);
        for (const std::uint32_t id : ids) {
            CAPTURE(id);
            CHECK(sent[id] == body.size());
            CHECK(g2[id].octets == body.size());
            CHECK(g2[id].mismatches == 0);
            CHECK(g2[id].ended);
        }
    }
}

}  // namespace
