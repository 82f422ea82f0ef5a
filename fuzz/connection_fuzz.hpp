// Shared driver of the connection fuzz targets (fuzz_server_connection.cpp,
// fuzz_client_connection.cpp): one Connection fed arbitrary bytes, with its
// output pulled and API calls made as the input says.
//
// Input layout (bytes past the end read as zero):
//   u8 setup    bit 0: start with a valid preface (client magic for a server
//                      under test) and SETTINGS; bit 1: manual flow control;
//                      bit 2: message validation off; bit 3: small limits and
//                      windows; bit 4: max frame size 2^24-1 announced;
//                      bit 5: client enables push; bit 6: a server answers
//                      every request at once with a 3000-octet body;
//                      bit 7: start from an h2c upgrade (RFC 7540 §3.2): a
//                      server gets an HTTP2-Settings value (u8 length, then
//                      the octets, taken as text) and a body (u8 length); a
//                      client upgrades a GET or HEAD (u8 bit 0)
//   then ops until the input ends; each op is one byte:
//     0-3  feed the next (u8 + 1) input octets to receive()
//     4    pull pending_output() and consume all or part of it (u8)
//     5    pull pending_output_vectors() and consume all or part of it (u8)
//     6    an API call chosen by the next octet (see api())
//     7    feed the next (u16 + 1) input octets to receive()
//
// Checked on every step: no crash (sanitizers), memory held through
// Config::memory within Connection::memory_bound() at every allocation, output that a
// frame::Reader and an hpack::Decoder accept (our frames are always valid),
// nothing leaked once the connection is gone.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory_resource>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "h2wire/connection.hpp"
#include "h2wire/frame.hpp"
#include "h2wire/hpack.hpp"
#include "fuzz_check.hpp"

namespace h2wire_fuzz {

using namespace h2wire;

class Input {
public:
    Input(const std::uint8_t* p, std::size_t n) : p_(p), n_(n) {}
    bool empty() const { return pos_ >= n_; }
    std::uint8_t u8() { return pos_ < n_ ? p_[pos_++] : 0; }
    std::uint16_t u16() {
        const unsigned hi = u8();
        return static_cast<std::uint16_t>(hi << 8 | u8());
    }
    std::span<const std::uint8_t> bytes(std::size_t n) {
        n = std::min(n, n_ - std::min(pos_, n_));
        const auto out = std::span<const std::uint8_t>(p_ + pos_, n);
        pos_ += n;
        return out;
    }

private:
    const std::uint8_t* p_;
    std::size_t n_;
    std::size_t pos_ = 0;
};

/// Parses everything the connection under test writes; aborts on anything
/// invalid.
class OutputChecker {
public:
    explicit OutputChecker(Role writer)
        : reader_(frame::ReaderOptions{frame::max_max_frame_size,
                                       writer == Role::client ? frame::PeerRole::client : frame::PeerRole::server,
                                       true}),
          decoder_(hpack::DecoderLimits{1u << 16, 1u << 30, 1u << 30}) {}

    void feed(std::span<const std::uint8_t> out) {
        if (preface_left_ > 0) {
            const std::size_t n = std::min(preface_left_, out.size());
            const std::string_view magic = frame::client_preface;
            for (std::size_t i = 0; i < n; ++i)
                H2W_CHECK(out[i] == static_cast<std::uint8_t>(magic[magic.size() - preface_left_ + i]));
            preface_left_ -= n;
            out = out.subspan(n);
        }
        for (;;) {
            const frame::ReadResult r = reader_.read(out);
            out = out.subspan(r.consumed);
            if (r.status == frame::ReadStatus::need_input) return;
            H2W_CHECK(r.status != frame::ReadStatus::connection_error);
            H2W_CHECK(r.status != frame::ReadStatus::stream_error);
            if (r.status != frame::ReadStatus::frame) continue;
            if (const auto* h = std::get_if<frame::Headers>(&r.frame)) decode(h->fragment, h->end_headers);
            else if (const auto* c = std::get_if<frame::Continuation>(&r.frame)) decode(c->fragment, c->end_headers);
            else if (const auto* pp = std::get_if<frame::PushPromise>(&r.frame)) decode(pp->fragment, pp->end_headers);
        }
    }
    void expect_client_preface() { preface_left_ = frame::client_preface.size(); }

private:
    void decode(std::span<const std::uint8_t> fragment, bool end) {
        const hpack::Error e = decoder_.decode(fragment, end, [](const Field&) {});
        H2W_CHECK(e == hpack::Error::none);
    }

    frame::Reader reader_;
    hpack::Decoder decoder_;
    std::size_t preface_left_ = 0;
};

inline Config make_config(Role role, std::uint8_t setup, std::pmr::memory_resource* mr) {
    Config c;
    c.role = role;
    c.memory = mr;
    c.flow_control = (setup & 2) ? FlowControl::manual : FlowControl::automatic;
    c.validate_messages = (setup & 4) == 0;
    if (role == Role::client) c.settings.enable_push = (setup & 32) != 0;
    if (setup & 8) {
        c.settings.initial_window_size = 1000;
        c.connection_window_size = 70000;
        c.limits.max_header_list_size = 4096;
        c.limits.max_header_block_size = 8192;
        c.limits.max_continuation_frames = 8;
        c.limits.max_concurrent_streams = 4;
        c.limits.max_field_size = 2048;
        c.limits.max_queued_control_frames = 20;
        c.limits.max_reset_streams = 8;
        c.limits.max_rapid_resets = 20;
        c.limits.max_buffered_per_stream = 20000;
        c.limits.max_queued_requests = 10;
        c.limits.max_empty_frames = 50;
    }
    if (setup & 16) c.settings.max_frame_size = frame::max_max_frame_size;
    return c;
}

/// A valid preface and SETTINGS from the peer of `role`.
inline std::vector<std::uint8_t> peer_preface(Role role) {
    std::vector<std::uint8_t> out;
    out.reserve(64);  // also keeps GCC 12 -O3 from a false -Wstringop-overflow
    if (role == Role::server) out.insert(out.end(), frame::client_preface.begin(), frame::client_preface.end());
    const std::array<Setting, 2> s{Setting{SettingId::initial_window_size, 100000},
                                   Setting{SettingId::max_concurrent_streams, 50}};
    frame::append(out, frame::Settings{false, s});
    return out;
}

/// Everything a target does with one input.
class Driver {
public:
    Driver(Role role, const std::uint8_t* data, std::size_t size)
        : role_(role), in_(data, size), memory_(bound()), checker_(role) {}

    void run() {
        const std::uint8_t setup = in_.u8();
        auto_respond_ = (setup & 64) != 0;
        {
            const Config config = make_config(role_, setup, &memory_);
            // The documented bound (Limits::max_connection_memory), checked
            // at every allocation, whatever the input.
            memory_.set_limit(Connection::memory_bound(config));
            Connection conn(config);
            if (role_ == Role::client) checker_.expect_client_preface();
            if (setup & 128) upgrade(conn);
            if (setup & 1) feed(conn, peer_preface(role_));
            if (role_ == Role::client) start_requests(conn);
            while (!in_.empty()) step(conn);
            // Drain what is left, as a caller closing down would.
            for (int i = 0; i < 64 && conn.wants_write(); ++i) pull(conn, i & 1, 255);
        }
        H2W_CHECK(memory_.in_use() == 0);
    }

private:
    // Until the configuration is known (run() sets the documented bound).
    static std::size_t bound() { return std::size_t{96} << 20; }

    void feed(Connection& conn, std::span<const std::uint8_t> bytes) {
        // A private copy that dies at the next feed: the API's contract, and
        // ASan sees any view kept longer.
        std::vector<std::uint8_t> fresh(bytes.begin(), bytes.end());
        keep_.swap(fresh);
        for (const Event& e : conn.receive(keep_)) on_event(conn, e);
    }

    void on_event(Connection& conn, const Event& e) {
        if (const auto* r = std::get_if<RequestReceived>(&e)) {
            remember(r->stream);
            if (auto_respond_) {
                static constexpr std::array<Field, 2> ok{Field{":status", "200"}, Field{"server", "fuzz"}};
                if (conn.submit_response(r->stream, ok, false) == ApiError::none)
                    conn.send_data(r->stream, std::span<const std::uint8_t>(body_.data(), 3000), true);
            }
        } else if (const auto* d = std::get_if<DataReceived>(&e)) {
            unconsumed_ += d->flow_controlled_length;
            last_data_stream_ = d->stream;
            H2W_CHECK(d->data.size() <= d->flow_controlled_length || d->flow_controlled_length == 0);
        } else if (const auto* p = std::get_if<PushPromiseReceived>(&e)) {
            remember(p->promised_stream);
        } else if (const auto* resp = std::get_if<ResponseReceived>(&e)) {
            remember(resp->stream);
        }
    }

    void remember(std::uint32_t id) {
        streams_[next_slot_++ % streams_.size()] = id;
        last_stream_ = id;
    }

    std::uint32_t pick_stream(std::uint8_t b) {
        if (b < 16) return b;  // arbitrary ids too: API misuse must be harmless
        if (b < 128) return last_stream_;
        return streams_[b % streams_.size()];
    }

    void pull(Connection& conn, bool vectors, std::uint8_t how) {
        std::size_t total = 0;
        if (vectors) {
            for (const OutputChunk& c : conn.pending_output_vectors()) {
                H2W_CHECK(c.data != nullptr || c.size == 0);
                const std::size_t take = how == 255 ? c.size : std::min<std::size_t>(c.size, how * 97u);
                checker_.feed(std::span<const std::uint8_t>(c.data, take));
                total += take;
                if (take < c.size) break;
            }
        } else {
            const auto out = conn.pending_output();
            total = how == 255 ? out.size() : std::min<std::size_t>(out.size(), how * 131u);
            checker_.feed(out.first(total));
        }
        conn.consume_output(total);
    }

    void upgrade(Connection& conn) {
        if (role_ == Role::server) {
            const std::span<const std::uint8_t> value = in_.bytes(in_.u8());
            const std::string text(value.begin(), value.end());
            const std::span<const std::uint8_t> body = in_.bytes(in_.u8());
            const std::array<Field, 4> get{Field{":method", "POST"}, Field{":scheme", "http"},
                                           Field{":authority", "example.com"}, Field{":path", "/"}};
            (void)conn.upgrade_server(text, get, body);
        } else {
            (void)conn.upgrade_settings_header();
            (void)conn.upgrade_client((in_.u8() & 1) ? "HEAD" : "GET");
        }
    }

    void start_requests(Connection& conn) {
        const std::array<Field, 4> get{Field{":method", "GET"}, Field{":scheme", "https"},
                                       Field{":authority", "example.com"}, Field{":path", "/"}};
        const std::array<Field, 4> post{Field{":method", "POST"}, Field{":scheme", "https"},
                                        Field{":authority", "example.com"}, Field{":path", "/upload"}};
        if (const Submitted s = conn.submit_request(get, true)) remember(s.stream);
        if (const Submitted s = conn.submit_request(post, false)) {
            remember(s.stream);
            conn.send_data(s.stream, std::span<const std::uint8_t>(body_.data(), 100), false);
        }
    }

    void api(Connection& conn) {
        const std::uint8_t which = in_.u8();
        const std::uint32_t id = pick_stream(in_.u8());
        const std::uint8_t arg = in_.u8();
        static constexpr std::array<Field, 3> response{Field{":status", "200"}, Field{"content-type", "text/plain"},
                                                       Field{"x-a", "b"}};
        static constexpr std::array<Field, 2> informational{Field{":status", "103"}, Field{"link", "</a>"}};
        static constexpr std::array<Field, 1> trailers{Field{"x-checksum", "abc"}};
        static constexpr std::array<Field, 2> bad{Field{":status", "200"}, Field{"Connection", "close"}};
        static constexpr std::array<Field, 4> get{Field{":method", "GET"}, Field{":scheme", "https"},
                                                  Field{":authority", "example.com"}, Field{":path", "/p"}};
        std::array<Field, 5> big{Field{":status", "200"}, Field{"x-big", big_value()}, Field{"x-big2", big_value()},
                                 Field{"x-big3", big_value()}, Field{"x-big4", big_value()}};
        const auto body = std::span<const std::uint8_t>(body_.data(), std::size_t{arg} * 257 % body_.size());
        switch (which % 20) {
        case 0: conn.submit_response(id, response, arg & 1); break;
        case 1: conn.submit_response(id, informational, false); break;
        case 2: conn.send_data(id, body, arg & 1); break;
        case 3: conn.send_data_borrowed(id, body, arg & 1); break;
        case 4: conn.send_trailers(id, trailers); break;
        case 5: conn.reset_stream(id, static_cast<ErrorCode>(arg % 16)); break;
        case 6: {
            const std::array<std::uint8_t, 8> data{arg, 1, 2, 3, 4, 5, 6, 7};
            conn.ping(data);
            break;
        }
        case 7: conn.shutdown(); break;
        case 8:
            if (arg < 16) conn.goaway(static_cast<ErrorCode>(arg), "fuzz");
            break;
        case 9: {
            Settings s = conn.local_settings();
            s.initial_window_size = std::uint32_t{arg} * 1000;
            s.header_table_size = std::uint32_t{arg} * 64;
            s.max_frame_size = (arg & 1) ? 16384 : 65536;
            conn.update_settings(s);
            break;
        }
        case 10: conn.consume(last_data_stream_, std::min<std::size_t>(unconsumed_, std::size_t{arg} * 500)); break;
        case 11: conn.consume(id, std::size_t{arg} * 100); break;
        case 12: conn.push_promise(id, get); break;
        case 13: conn.submit_response(id, big, arg & 1); break;
        case 14: conn.submit_request(get, arg & 1); break;
        case 15: conn.submit_response(id, bad, false); break;
        case 16:
            (void)conn.send_window(id);
            (void)conn.send_capacity(id);
            (void)conn.buffered(id);
            (void)conn.open_streams();
            (void)conn.settings_ack_pending();
            (void)conn.wants_write();
            break;
        case 17: conn.trim(); break;  // between any two calls, whatever is in progress
        case 18: {
            // RFC 9218: any urgency (past 7 refused), either kind, either role.
            const Priority p{static_cast<std::uint8_t>(arg % 9), (arg & 0x10) != 0};
            if (arg & 0x20) conn.reprioritize(id, p);
            else if (arg & 0x40) conn.submit_request(get, arg & 1, p);
            else conn.set_priority(id, p);
            (void)conn.priority(id);
            break;
        }
        default: feed(conn, {}); break;
        }
    }

    void step(Connection& conn) {
        const std::uint8_t op = in_.u8();
        switch (op % 8) {
        case 4: pull(conn, false, in_.u8()); break;
        case 5: pull(conn, true, in_.u8()); break;
        case 6: api(conn); break;
        case 7: feed(conn, in_.bytes(std::size_t{in_.u16()} + 1)); break;
        default: feed(conn, in_.bytes(std::size_t{in_.u8()} + 1)); break;
        }
    }

    static std::string_view big_value() {
        static const std::vector<char> v(6000, 'v');
        return {v.data(), v.size()};
    }

    Role role_;
    Input in_;
    CountingResource memory_;
    OutputChecker checker_;
    std::vector<std::uint8_t> keep_;
    std::array<std::uint32_t, 8> streams_{};
    std::size_t next_slot_ = 0;
    std::uint32_t last_stream_ = 1;
    std::uint32_t last_data_stream_ = 0;
    std::size_t unconsumed_ = 0;
    bool auto_respond_ = false;
    // Body bytes for send_data / send_data_borrowed (outlives the connection).
    std::array<std::uint8_t, 70000> body_{};
};

}  // namespace h2wire_fuzz
