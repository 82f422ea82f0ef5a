// The loop's side of defending a server: timers and budgets that need a
// clock or a socket, which the sans-IO library leaves to its caller. The
// poll(), Asio and libuv servers use the same pieces:
//
//   Hardening          timeouts and budgets (each a command-line flag)
//   ConnectionGuard    one per accepted connection: the SETTINGS (preface)
//                      timeout, the idle timeout, stalled streams, trim()
//                      when quiet, and the bounded drain after GOAWAY
//   parse_server_args  the flags the servers take
//
// docs/hardening.md explains the pattern for embedders.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/app.hpp"
#include "server/budget.hpp"
#include "server/file_cache.hpp"

namespace example {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

struct Hardening {
    /// From accept to "our SETTINGS acknowledged" (which needs the client
    /// preface first; RFC 9113 §3.4, §6.5.3). Covers the TLS handshake and
    /// the h2c upgrade request too. Past it: GOAWAY SETTINGS_TIMEOUT (or a
    /// plain close before HTTP/2 started). The same timeout applies to any
    /// later SETTINGS of ours.
    Millis settings_timeout{10'000};
    /// No open stream and no octet either way for this long: GOAWAY
    /// NO_ERROR and close.
    Millis idle_timeout{60'000};
    /// A stream that moved no octet in either direction for this long is
    /// reset with RST_STREAM CANCEL.
    Millis stream_timeout{60'000};
    /// After SIGTERM (graceful shutdown: GOAWAY, open streams finish): the
    /// connections still open this much later are closed.
    Millis shutdown_timeout{30'000};
    /// Once the connection is over (GOAWAY sent or received, or a refusal
    /// written), input is no longer processed: at most drain_bytes are read
    /// and discarded for at most drain_timeout so that the peer can read the
    /// GOAWAY before our close, then the socket is closed, flushed or not.
    Millis drain_timeout{1'000};
    std::size_t drain_bytes = 64 * 1024;
    /// Octets read from one connection per loop turn (every server); one
    /// flooding connection cannot hold the loop longer than this costs.
    std::size_t read_budget = 64 * 1024;
    /// A connection quiet this long gives back memory it keeps for reuse
    /// (Connection::trim()).
    Millis trim_after{2'000};
    /// accept() failing for lack of descriptors (EMFILE, ENFILE) or memory:
    /// stop accepting for this long instead of retrying at once.
    Millis accept_backoff{100};
    /// h2c upgrade (poll and libuv servers): the HTTP/1.1 request's body is
    /// held whole until the upgrade, so it is bounded (413 past it).
    std::size_t upgrade_body = 512 * 1024;

    /// How often the loop checks its timers: a quarter of the shortest
    /// timeout, between 10 ms and 250 ms.
    Millis tick() const;
};

/// Timers of one connection. The loop calls traffic() when octets move,
/// check() on every tick, and asks draining() before it feeds input to the
/// session.
class ConnectionGuard {
public:
    ConnectionGuard(const Hardening& h, Clock::time_point now)
        : h_(&h), accepted_(now), last_traffic_(now), settings_since_(now) {}

    /// Octets were read or written.
    void traffic(Clock::time_point now) {
        last_traffic_ = now;
        trimmed_ = false;
    }

    /// Before HTTP/2 runs (TLS handshake, h2c detection): the time to get
    /// there is the SETTINGS timeout, counted from accept.
    bool handshake_expired(Clock::time_point now) const { return now - accepted_ >= h_->settings_timeout; }

    /// The periodic check of an HTTP/2 connection: starts the drain when the
    /// connection is over, answers a SETTINGS timeout or an idle connection
    /// with GOAWAY, resets stalled streams, trims a quiet connection. Returns
    /// false when the connection must be closed now (drain deadline).
    bool check(ServerSession& s, Clock::time_point now);

    /// Until when check() has nothing to do if no octet moves meanwhile
    /// (traffic()): for a connection with no open stream, no SETTINGS
    /// awaiting their ACK and no drain, the idle timeout or the trim,
    /// whichever comes first; otherwise a time already past (check on every
    /// tick). Lets a loop leave idle connections out of its ticks.
    Clock::time_point quiet_until(const ServerSession& s) const;

    /// The connection is over: from now on input is discarded, within the
    /// drain budget and deadline. Idempotent.
    void start_drain(Clock::time_point now);
    bool draining() const { return draining_; }
    /// `n` octets were read while draining. False when the drain budget is
    /// spent: close now.
    bool discard(std::size_t n);
    /// The drain deadline passed.
    bool drain_expired(Clock::time_point now) const { return draining_ && now >= drain_deadline_; }

private:
    const Hardening* h_;
    Clock::time_point accepted_, last_traffic_, settings_since_, drain_deadline_{}, next_stall_check_{};
    std::size_t drained_ = 0;
    bool settings_pending_ = true;
    bool draining_ = false;
    bool trimmed_ = false;
};

/// Everything the example servers are configured with.
struct ServerOptions {
    ServerConfig app;
    Hardening guard;
    ProcessBudget budget;
    /// The cache of small files, one per event loop (--file-cache ...).
    FileCache::Limits file_cache;
    /// Event loops, each on its own thread with its own listening socket
    /// (SO_REUSEPORT: the kernel spreads connections), caps and cache. The
    /// process-wide caps (connections, memory, echo, upgrade) are divided
    /// evenly among them.
    unsigned threads = 1;
    /// The poll server: poll() instead of epoll (Linux).
    bool use_poll = false;
    /// Octets handed to one writev() at most (0: all that is pending).
    std::size_t write_max = 256 * 1024;
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    bool tls = false;
    std::string cert, key;
    /// --h3-port N: also serve HTTP/3 on UDP port N (0: any) with the same
    /// certificate, and advertise it with Alt-Svc (builds with ngtcp2 only).
    int h3_port = -1;
};

/// Parses the command line into `opt`; on an unknown flag or a bad value
/// prints the usage of `program` and returns false.
bool parse_server_args(int argc, char** argv, const char* program, ServerOptions& opt);

}  // namespace example
