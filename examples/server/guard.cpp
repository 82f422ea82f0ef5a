// Timers and budgets of the example servers' loops (see guard.hpp).
#include "server/guard.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace example {

Millis Hardening::tick() const {
    const Millis shortest =
        std::min({settings_timeout, idle_timeout, stream_timeout, shutdown_timeout, drain_timeout, trim_after});
    return std::clamp<Millis>(shortest / 4, Millis(10), Millis(250));
}

bool ConnectionGuard::check(ServerSession& s, Clock::time_point now) {
    if (draining_) return now < drain_deadline_;
    h2wire::Connection& c = s.connection();
    if (c.is_closed()) {
        start_drain(now);
        return true;
    }
    // RFC 9113 §6.5.3: SETTINGS not acknowledged in time may be treated as
    // a connection error SETTINGS_TIMEOUT. The first SETTINGS is timed from
    // accept, so a client that never completes its preface (which must come
    // before its ACK) meets the same end.
    if (c.settings_ack_pending()) {
        if (!settings_pending_) settings_since_ = now;
        settings_pending_ = true;
        if (now - settings_since_ >= h_->settings_timeout) {
            s.goaway(h2wire::ErrorCode::settings_timeout, "SETTINGS not acknowledged in time");
            start_drain(now);
            return true;
        }
    } else {
        settings_pending_ = false;
    }
    if (c.open_streams() == 0 && now - last_traffic_ >= h_->idle_timeout) {
        s.goaway(h2wire::ErrorCode::no_error, "idle");
        start_drain(now);
        return true;
    }
    if (now >= next_stall_check_) {
        s.cancel_stalled(now, h_->stream_timeout);
        next_stall_check_ = now + std::min<Millis>(std::max<Millis>(h_->stream_timeout / 4, Millis(10)), Millis(1000));
    }
    if (!trimmed_ && now - last_traffic_ >= h_->trim_after) {
        s.trim();
        trimmed_ = true;
    }
    return true;
}

Clock::time_point ConnectionGuard::quiet_until(const ServerSession& s) const {
    const h2wire::Connection& c = s.connection();
    if (draining_ || c.is_closed() || c.settings_ack_pending() || c.open_streams() > 0) return {};
    const Clock::time_point idle = last_traffic_ + h_->idle_timeout;
    return trimmed_ ? idle : std::min(idle, last_traffic_ + h_->trim_after);
}

void ConnectionGuard::start_drain(Clock::time_point now) {
    if (draining_) return;
    draining_ = true;
    drain_deadline_ = now + h_->drain_timeout;
}

bool ConnectionGuard::discard(std::size_t n) {
    drained_ += n;
    return drained_ <= h_->drain_bytes;
}

// --- command line ------------------------------------------------------------

namespace {

// "1.5" seconds, or "250ms".
std::optional<Millis> parse_duration(std::string_view v) {
    bool ms = false;
    if (v.size() > 2 && v.substr(v.size() - 2) == "ms") {
        ms = true;
        v.remove_suffix(2);
    } else if (!v.empty() && v.back() == 's') {
        v.remove_suffix(1);
    }
    double x = 0;
    const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (err != std::errc{} || end != v.data() + v.size() || x < 0) return std::nullopt;
    return Millis(static_cast<std::int64_t>(ms ? x : x * 1000));
}

// Octets, with an optional K, M or G suffix (powers of 1024).
std::optional<std::size_t> parse_size(std::string_view v) {
    std::size_t shift = 0;
    if (!v.empty()) {
        switch (v.back()) {
            case 'k':
            case 'K':
                shift = 10;
                break;
            case 'm':
            case 'M':
                shift = 20;
                break;
            case 'g':
            case 'G':
                shift = 30;
                break;
            default:
                break;
        }
        if (shift) v.remove_suffix(1);
    }
    std::size_t x = 0;
    const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (err != std::errc{} || end != v.data() + v.size() || v.empty()) return std::nullopt;
    return x << shift;
}

int usage(const char* program) {
    std::fprintf(stderr,
                 "usage: %s [--root DIR] [--host ADDR] [--port N] [--log] [-v] [--tls --cert FILE --key FILE]\n"
                 "  --log  a line per request, and per response as it finishes: its priority (RFC 9218)\n"
                 "         and its place in the order its connection's responses finished\n"
                 "  -v  every frame sent and received, nghttp -v style (h2wire::FrameTrace)\n"
                 "  --alt-svc VALUE  an Alt-Svc field on every response (RFC 7838), e.g. 'h3=\":4433\"' for\n"
                 "         the HTTP/3 server (h2wire-h3-server) on that UDP port\n"
                 "  --h3-port N  also serve HTTP/3 on UDP port N (0: any; with --tls --cert --key, when\n"
                 "         built with ngtcp2), advertised with Alt-Svc\n"
                 "  timeouts (seconds, or NNNms):\n"
                 "    --settings-timeout 10   preface + SETTINGS ACK (and TLS handshake, h2c request)\n"
                 "    --idle-timeout 60       no stream, no traffic\n"
                 "    --stream-timeout 60     a stream moving no octet either way: RST_STREAM CANCEL\n"
                 "    --shutdown-timeout 30   after SIGTERM, connections still open are closed\n"
                 "    --drain-timeout 1       after GOAWAY: read and discard this long, then close\n"
                 "  budgets (octets, K/M/G suffix):\n"
                 "    --drain-bytes 64K       read and discarded after GOAWAY, at most\n"
                 "    --read-budget 64K       read from one connection per loop turn\n"
                 "    --max-connections 1024  accepted at once (the listener waits past it)\n"
                 "    --memory-cap 256M       all connections together; past it the largest is shed\n"
                 "    --connection-memory 2M  h2wire Limits::max_connection_memory\n"
                 "    --connection-window 1M  our connection receive window\n"
                 "    --stream-window 256K    our stream receive window\n"
                 "    --echo-buffer 256K      POST /echo slack per stream\n"
                 "    --echo-connection-buffer 512K  echo octets per connection past which no slack\n"
                 "    --echo-memory 64M       echo octets of all connections past which no slack\n"
                 "    --file-buffer 256K      file octets read ahead per connection\n"
                 "    --upgrade-body 512K     h2c upgrade request body\n"
                 "    --upgrade-memory 16M    h2c upgrade requests of all connections\n"
                 "  files:\n"
                 "    --file-cache 64M        small files held in memory, all together (0: no cache)\n"
                 "    --file-cache-file 1M    larger files are read as they are sent, never held\n"
                 "    --file-cache-ttl 1      a cached file is checked (stat) when older than this\n"
                 "  loops:\n"
                 "    --threads 1             event loops, one per thread, sharing the port (SO_REUSEPORT);\n"
                 "                            the caps above are divided among them\n"
                 "    --poll                  poll() instead of epoll (h2wire-server on Linux)\n"
                 "    --write-max 256K        octets per writev at most (0: all pending output)\n",
                 program);
    return 2;
}

}  // namespace

bool parse_server_args(int argc, char** argv, const char* program, ServerOptions& opt) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--log") {
            opt.app.log = true;
            continue;
        }
        if (a == "-v") {
            opt.app.verbose = true;
            continue;
        }
        if (a == "--tls") {
            opt.tls = true;
            continue;
        }
        if (a == "--poll") {
            opt.use_poll = true;
            continue;
        }
        if (i + 1 >= argc) return usage(program), false;
        const std::string_view v = argv[++i];
        bool ok = true;
        auto duration = [&](Millis& out) {
            const auto d = parse_duration(v);
            if (d) out = *d;
            ok = d.has_value();
        };
        auto size = [&](auto& out) {
            const auto n = parse_size(v);
            if (n) out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
            ok = n.has_value();
        };
        if (a == "--root")
            opt.app.root = v;
        else if (a == "--alt-svc")
            opt.app.alt_svc = v;
        else if (a == "--h3-port") {
            unsigned p = 0;
            const auto r = std::from_chars(v.data(), v.data() + v.size(), p);
            ok = r.ec == std::errc{} && r.ptr == v.data() + v.size() && p <= 65535;
            opt.h3_port = static_cast<int>(p);
        }
        else if (a == "--host")
            opt.host = v;
        else if (a == "--port") {
            unsigned p = 0;
            const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), p);
            ok = err == std::errc{} && end == v.data() + v.size() && p <= 65535;
            opt.port = static_cast<std::uint16_t>(p);
        } else if (a == "--cert")
            opt.cert = v;
        else if (a == "--key")
            opt.key = v;
        else if (a == "--settings-timeout")
            duration(opt.guard.settings_timeout);
        else if (a == "--idle-timeout")
            duration(opt.guard.idle_timeout);
        else if (a == "--stream-timeout")
            duration(opt.guard.stream_timeout);
        else if (a == "--shutdown-timeout")
            duration(opt.guard.shutdown_timeout);
        else if (a == "--drain-timeout")
            duration(opt.guard.drain_timeout);
        else if (a == "--drain-bytes")
            size(opt.guard.drain_bytes);
        else if (a == "--read-budget")
            size(opt.guard.read_budget);
        else if (a == "--max-connections")
            size(opt.budget.max_connections);
        else if (a == "--memory-cap")
            size(opt.budget.memory_cap);
        else if (a == "--connection-memory")
            size(opt.app.connection_memory);
        else if (a == "--connection-window")
            size(opt.app.connection_window);
        else if (a == "--stream-window")
            size(opt.app.stream_window);
        else if (a == "--echo-buffer")
            size(opt.app.echo_buffer);
        else if (a == "--echo-connection-buffer")
            size(opt.app.echo_connection_buffer);
        else if (a == "--echo-memory")
            size(opt.budget.echo_cap);
        else if (a == "--file-buffer")
            size(opt.app.file_connection_buffer);
        else if (a == "--upgrade-body")
            size(opt.guard.upgrade_body);
        else if (a == "--upgrade-memory")
            size(opt.budget.upgrade_cap);
        else if (a == "--write-max")
            size(opt.write_max);
        else if (a == "--file-cache")
            size(opt.file_cache.max_bytes);
        else if (a == "--file-cache-file")
            size(opt.file_cache.max_file);
        else if (a == "--file-cache-ttl")
            duration(opt.file_cache.ttl);
        else if (a == "--threads") {
            const auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), opt.threads);
            ok = err == std::errc{} && end == v.data() + v.size() && opt.threads >= 1 && opt.threads <= 256;
        } else
            ok = false;
        if (!ok) return usage(program), false;
    }
    opt.guard.read_budget = std::max<std::size_t>(opt.guard.read_budget, 1);
    opt.guard.accept_backoff = std::max(opt.guard.accept_backoff, Millis(1));
    while (opt.app.root.size() > 1 && opt.app.root.back() == '/') opt.app.root.pop_back();
    return true;
}

}  // namespace example
