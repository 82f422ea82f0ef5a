// Before HTTP/2 on a cleartext port: the client preface (prior knowledge,
// RFC 9113 §3.3) or an HTTP/1.1 request asking for an h2c upgrade
// (RFC 7540 §3.2). Loop-independent: the poll() and libuv servers feed it
// the bytes that arrive until done(), and write text() before the session's
// output. Bounded: the request head (16 KiB, 100 fields), its body
// (Hardening::upgrade_body, 413 past it), and what all pending upgrades hold
// (ProcessBudget::upgrade, 503 past it); the SETTINGS timeout bounds how
// long it may take (timeout(): 408).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "server/app.hpp"
#include "server/budget.hpp"
#include "server/guard.hpp"

namespace example {

class Prelude {
public:
    Prelude(const Hardening& h, ProcessBudget& budget) : h_(&h), budget_(&budget), held_(&budget.upgrade) {}

    /// HTTP/2 runs: every byte from now on goes to the session.
    bool done() const { return done_; }
    /// Bytes that came before HTTP/2. Once they are the client preface (or
    /// cannot start an HTTP/1.1 request line: an invalid preface, which the
    /// library answers with GOAWAY PROTOCOL_ERROR), they go to `session`;
    /// an h2c upgrade request starts it with ServerSession::upgrade() and
    /// queues the 101. Anything else gets an HTTP/1.1 refusal: text(), then
    /// close (the guard drains meanwhile).
    void receive(std::span<const std::uint8_t> bytes, ServerSession& session, ConnectionGuard& guard,
                 Clock::time_point now);
    /// The SETTINGS timeout ran out before HTTP/2 started: SETTINGS and
    /// GOAWAY SETTINGS_TIMEOUT for nothing or part of a preface (as HTTP/2
    /// would), 408 for an HTTP/1.1 request.
    void timeout(ServerSession& session, ConnectionGuard& guard, Clock::time_point now);
    /// Over the process memory cap before HTTP/2: 503.
    void shed(ConnectionGuard& guard, Clock::time_point now);

    /// HTTP/1.1 text to write before the session's output: 100 Continue,
    /// 101 Switching Protocols, or a refusal. It stays where it is until
    /// the next call of receive(), timeout() or shed().
    std::string_view text() const { return std::string_view(text_).substr(text_sent_); }
    /// The first n octets of text() were written.
    void text_written(std::size_t n);
    /// A refusal was queued: once text() is written, close.
    bool refused() const { return refused_; }
    /// Octets held: the request so far and the text to write.
    std::size_t memory() const { return early_.capacity() + text_.capacity(); }

private:
    void refuse(std::string_view status, std::string_view why, ConnectionGuard& guard, Clock::time_point now);
    void start_h2(std::string_view bytes, ServerSession& session, ConnectionGuard& guard, Clock::time_point now);
    void forget_early();

    const Hardening* h_;
    ProcessBudget* budget_;
    Holding held_;       // early_ in ProcessBudget::upgrade
    std::string early_;  // the preface so far, or an HTTP/1.1 request
    std::string text_;   // HTTP/1.1 text to write first
    std::size_t text_sent_ = 0;
    bool done_ = false, refused_ = false;
};

}  // namespace example
