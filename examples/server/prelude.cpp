// Before HTTP/2 on a cleartext port: preface or h2c upgrade (see prelude.hpp).
#include "server/prelude.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "common/http1.hpp"

namespace example {

namespace {

constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// The HTTP/1.1 request as HTTP/2 fields (RFC 9113 §8.3.1): pseudo-headers
// from the request line and Host, then the fields minus the connection-specific
// ones (RFC 9113 §8.2.2).
std::vector<h2wire::Field> h2_fields(const Http1Head& h) {
    std::vector<h2wire::Field> out;
    const std::string* host = h.one("host");
    out.push_back({":method", h.method});
    out.push_back({":scheme", "http"});
    if (host) out.push_back({":authority", *host});
    out.push_back({":path", h.target});
    for (const auto& [name, value] : h.fields) {
        if (name == "host" || name == "connection" || name == "upgrade" || name == "http2-settings" ||
            name == "expect" || name == "keep-alive" || name == "proxy-connection" || name == "transfer-encoding" ||
            (name == "te" && value != "trailers"))
            continue;
        out.push_back({name, value});
    }
    return out;
}

// Whether `early` is nothing or the start of the client preface.
bool preface_so_far(std::string_view early) {
    const std::size_t k = std::min(early.size(), preface.size());
    return early.substr(0, k) == preface.substr(0, k);
}

}  // namespace

void Prelude::forget_early() {
    std::string().swap(early_);  // clear() would keep the capacity
    held_.set(0);
}

void Prelude::text_written(std::size_t n) {
    text_sent_ += n;
    if (text_sent_ < text_.size()) return;
    std::string().swap(text_);
    text_sent_ = 0;
}

// An HTTP/1.1 answer, then close: input from now on is only drained.
void Prelude::refuse(std::string_view status, std::string_view why, ConnectionGuard& guard, Clock::time_point now) {
    text_ += "HTTP/1.1 " + std::string(status) +
             "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(why.size()) +
             "\r\nConnection: close\r\n\r\n" + std::string(why);
    refused_ = true;
    forget_early();
    guard.start_drain(now);
}

// HTTP/2 from here: `bytes` (a preface, or what should have been one) go to
// the library, which answers an invalid preface with SETTINGS and GOAWAY
// PROTOCOL_ERROR (RFC 9113 §3.4).
void Prelude::start_h2(std::string_view bytes, ServerSession& session, ConnectionGuard& guard, Clock::time_point now) {
    done_ = true;
    // After an upgrade with nothing more yet, no receive(): it would report
    // the upgraded request before the client's preface (see receive()).
    if (bytes.empty()) return;
    session.receive(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    if (session.connection().is_closed()) guard.start_drain(now);
}

// Either the start of the client preface (prior knowledge) or an HTTP/1.1
// request with Upgrade: h2c. Anything else is an invalid preface.
void Prelude::receive(std::span<const std::uint8_t> bytes, ServerSession& session, ConnectionGuard& guard,
                      Clock::time_point now) {
    // Requests waiting for their upgrade are held whole: bounded per
    // connection (head, body) and for the process.
    if (budget_->upgrade + bytes.size() > budget_->upgrade_cap)
        return refuse("503 Service Unavailable", "too many pending upgrade requests\n", guard, now);
    early_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    held_.set(early_.capacity());
    if (preface_so_far(early_) || !may_be_request_line(early_)) {  // h2spec http2/3.5/2
        if (early_.size() < preface.size() && preface_so_far(early_)) return;
        const std::string early = std::move(early_);
        forget_early();
        return start_h2(early, session, guard, now);
    }
    Http1Head head;
    const Http1Parse r = parse_request_head(early_, head);
    if (r == Http1Parse::incomplete) return;
    if (r == Http1Parse::bad) return refuse("400 Bad Request", "bad HTTP/1.1 request\n", guard, now);
    const std::string* settings = head.one("http2-settings");
    // RFC 7540 §3.2, §3.2.1: Upgrade: h2c, exactly one HTTP2-Settings, both
    // named in Connection.
    if (!head.lists("upgrade", "h2c") || !settings || !head.lists("connection", "upgrade") ||
        !head.lists("connection", "http2-settings"))
        return refuse("505 HTTP Version Not Supported", "this server speaks HTTP/2: prior knowledge or h2c upgrade\n",
                      guard, now);
    std::size_t body_size = 0;
    if (head.one("transfer-encoding")) return refuse("411 Length Required", "send content-length\n", guard, now);
    if (const std::string* cl = head.one("content-length")) {
        char* end = nullptr;
        const unsigned long long n = std::strtoull(cl->c_str(), &end, 10);
        if (cl->empty() || *end != '\0') return refuse("400 Bad Request", "bad content-length\n", guard, now);
        // The body comes with the HTTP/1.1 request and is held whole: bounded.
        if (n > h_->upgrade_body)
            return refuse("413 Content Too Large",
                          "upgrade request bodies are limited to " + std::to_string(h_->upgrade_body) +
                              " octets: send it over HTTP/2\n",
                          guard, now);
        body_size = static_cast<std::size_t>(n);
    }
    if (early_.size() < head.size + body_size) {  // the body is still coming
        // RFC 9110 §10.1.1: a client that sent Expect: 100-continue waits
        // for this before the body (curl does, for bodies over 1 MiB).
        if (head.lists("expect", "100-continue") && text_.empty()) text_ = "HTTP/1.1 100 Continue\r\n\r\n";
        return;
    }
    const std::vector<h2wire::Field> fields = h2_fields(head);
    const auto body = std::span(reinterpret_cast<const std::uint8_t*>(early_.data()) + head.size, body_size);
    if (session.upgrade(*settings, fields, body) != h2wire::ApiError::none)
        return refuse("400 Bad Request", "bad h2c upgrade request\n", guard, now);
    text_ += "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    // Whatever followed the request is HTTP/2 already (the client preface).
    // The request itself is reported by the first receive(); until the
    // client's preface arrives only the 101 and our SETTINGS go out. (The
    // response could go at once, but curl 7.88 drops the connection when
    // more than 32 KiB follow the 101 in one read.)
    const std::string rest = early_.substr(head.size + body_size);
    forget_early();
    start_h2(rest, session, guard, now);
}

void Prelude::timeout(ServerSession& session, ConnectionGuard& guard, Clock::time_point now) {
    if (preface_so_far(early_)) {
        // Nothing, or part of the preface: answer as HTTP/2 does (nghttpd
        // too), SETTINGS then GOAWAY SETTINGS_TIMEOUT.
        const std::string early = std::move(early_);
        forget_early();
        start_h2(early, session, guard, now);
        session.goaway(h2wire::ErrorCode::settings_timeout, "preface not received in time");
        guard.start_drain(now);
        return;
    }
    refuse("408 Request Timeout", "the upgrade request took too long\n", guard, now);
}

void Prelude::shed(ConnectionGuard& guard, Clock::time_point now) {
    if (!refused_) refuse("503 Service Unavailable", "server busy\n", guard, now);
}

}  // namespace example
