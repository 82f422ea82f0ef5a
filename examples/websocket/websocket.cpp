// RFC 6455 framing; see websocket.hpp.
#include "websocket/websocket.hpp"

#include <algorithm>
#include <cstring>

namespace example::ws {

namespace {

bool is_control(Opcode op) {
    return static_cast<std::uint8_t>(op) >= 0x8;
}

bool known_opcode(std::uint8_t op) {
    return op <= 0x2 || (op >= 0x8 && op <= 0xa);
}

// RFC 6455 §7.4: codes a close frame may carry. 1004-1006 and 1015 are
// reserved and never sent; 1016-2999 are unassigned or for extensions;
// 3000-4999 are for libraries and applications.
bool valid_close_code(std::uint16_t c) {
    if (c >= 1000 && c <= 1003) return true;
    if (c >= 1007 && c <= 1014) return true;
    return c >= 3000 && c <= 4999;
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

void write_frame(std::vector<std::uint8_t>& out, Opcode op, std::span<const std::uint8_t> payload, bool fin,
                 const std::uint8_t* mask) {
    // RFC 6455 §5.2: FIN, RSV1-3 (0), opcode; MASK, payload length in the
    // minimal of the 7-bit, 7+16-bit and 7+64-bit forms.
    out.push_back(static_cast<std::uint8_t>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(op)));
    const std::uint8_t mask_bit = mask ? 0x80 : 0x00;
    const std::uint64_t n = payload.size();
    if (n < 126) {
        out.push_back(static_cast<std::uint8_t>(mask_bit | n));
    } else if (n <= 0xffff) {
        out.push_back(mask_bit | 126);
        out.push_back(static_cast<std::uint8_t>(n >> 8));
        out.push_back(static_cast<std::uint8_t>(n));
    } else {
        out.push_back(mask_bit | 127);
        for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(n >> shift));
    }
    if (!mask) {
        out.insert(out.end(), payload.begin(), payload.end());
        return;
    }
    // RFC 6455 §5.3: octet i is XORed with octet i mod 4 of the key.
    out.insert(out.end(), mask, mask + 4);
    const std::size_t at = out.size();
    out.resize(at + payload.size());
    for (std::size_t i = 0; i < payload.size(); ++i) out[at + i] = payload[i] ^ mask[i & 3];
}

bool valid_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len;
        unsigned lo = 0x80, hi = 0xbf;  // range of the second octet
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0) lo = 0xa0;  // no overlong forms
            if (c == 0xed) hi = 0x9f;  // no surrogates
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0) lo = 0x90;  // no overlong forms
            if (c == 0xf4) hi = 0x8f;  // nothing above U+10FFFF
        } else {
            return false;
        }
        if (i + len > n) return false;
        if (p[i + 1] < lo || p[i + 1] > hi) return false;
        for (std::size_t k = 2; k < len; ++k)
            if (p[i + k] < 0x80 || p[i + k] > 0xbf) return false;
        i += len;
    }
    return true;
}

Endpoint::Endpoint(const Options& options) : opt_(options) {
    rng_.seed(opt_.seed ? opt_.seed
                        : (static_cast<std::uint64_t>(std::random_device{}()) << 32 | std::random_device{}()));
}

void Endpoint::receive(std::span<const std::uint8_t> bytes) {
    // After the peer's close (§5.5.1: nothing follows it) or our failure,
    // input is ignored.
    while (!bytes.empty() && !failed_ && !close_received_) {
        switch (state_) {
            case State::header:
            case State::extended_length:
            case State::mask_key: {
                const std::size_t take = std::min(bytes.size(), head_need_ - head_have_);
                std::memcpy(head_ + head_have_, bytes.data(), take);
                head_have_ += take;
                bytes = bytes.subspan(take);
                if (head_have_ < head_need_) break;
                frame_header_done();
                break;
            }
            case State::payload: {
                const std::size_t take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), length_ - got_));
                std::string& dst = is_control(op_) ? control_ : message_;
                const std::size_t at = dst.size();
                dst.resize(at + take);
                for (std::size_t i = 0; i < take; ++i)
                    dst[at + i] = static_cast<char>(masked_ ? bytes[i] ^ key_[(got_ + i) & 3] : bytes[i]);
                got_ += take;
                bytes = bytes.subspan(take);
                if (got_ == length_) frame_done();
                break;
            }
        }
    }
    if (opt_.auto_close_reply) reply_close();
}

void Endpoint::reply_close() {
    if (!close_reply_due_) return;
    close_reply_due_ = false;
    if (close_sent_) return;
    put(Opcode::close, bytes_of(close_reply_), true);
    close_sent_ = true;
}

// Called each time the octets asked for by head_need_ are in head_.
void Endpoint::frame_header_done() {
    if (state_ == State::header) {
        const std::uint8_t b0 = head_[0], b1 = head_[1];
        fin_ = (b0 & 0x80) != 0;
        // §5.2: RSV1-3 must be 0 unless an extension defines them (none here).
        if (b0 & 0x70) return fail(close_code::protocol_error, "RSV bit set without an extension");
        if (!known_opcode(b0 & 0x0f)) return fail(close_code::protocol_error, "reserved opcode");
        op_ = static_cast<Opcode>(b0 & 0x0f);
        masked_ = (b1 & 0x80) != 0;
        // §5.1: a client masks every frame, a server none.
        if (opt_.role == Role::server && !masked_) return fail(close_code::protocol_error, "unmasked client frame");
        if (opt_.role == Role::client && masked_) return fail(close_code::protocol_error, "masked server frame");
        const std::uint8_t len7 = b1 & 0x7f;
        // §5.5: control frames carry at most 125 octets and are not fragmented.
        if (is_control(op_) && (len7 > 125 || !fin_))
            return fail(close_code::protocol_error, "control frame too long or fragmented");
        if (len7 == 126 || len7 == 127) {
            state_ = State::extended_length;
            head_need_ = len7 == 126 ? 4 : 10;
            return;
        }
        length_ = len7;
    } else if (state_ == State::extended_length) {
        length_ = 0;
        for (std::size_t i = 2; i < head_need_; ++i) length_ = length_ << 8 | head_[i];
        // §5.2: the most significant bit of the 64-bit form is 0, and "the
        // minimal number of bytes MUST be used to encode the length".
        if (head_need_ == 10 && (length_ >> 63) != 0) return fail(close_code::protocol_error, "length above 2^63");
        if ((head_need_ == 4 && length_ < 126) || (head_need_ == 10 && length_ <= 0xffff))
            return fail(close_code::protocol_error, "length not in its minimal form");
    } else {  // mask_key
        std::memcpy(key_, head_ + head_need_ - 4, 4);
        state_ = State::payload;
        got_ = 0;
        if (length_ == 0) frame_done();
        return;
    }
    // The frame's place in the message sequence (§5.4).
    if (!is_control(op_)) {
        if (op_ == Opcode::continuation && !in_message_)
            return fail(close_code::protocol_error, "continuation frame without a message");
        if (op_ != Opcode::continuation && in_message_)
            return fail(close_code::protocol_error, "new message inside a fragmented one");
        if (length_ > opt_.max_message || message_.size() + length_ > opt_.max_message)
            return fail(close_code::too_big, "message larger than the limit");
        if (op_ != Opcode::continuation) {
            in_message_ = true;
            message_op_ = op_;
            message_.clear();
        }
    } else {
        control_.clear();
    }
    got_ = 0;
    if (masked_) {
        state_ = State::mask_key;
        head_need_ += 4;
        return;
    }
    state_ = State::payload;
    if (length_ == 0) frame_done();
}

void Endpoint::frame_done() {
    state_ = State::header;
    head_have_ = 0;
    head_need_ = 2;
    if (is_control(op_)) {
        on_control(op_, control_);
        return;
    }
    if (!fin_) return;
    in_message_ = false;
    // §8.1: a text message is UTF-8; otherwise close with 1007.
    if (message_op_ == Opcode::text && !valid_utf8(message_))
        return fail(close_code::invalid_data, "text message not UTF-8");
    messages_.push_back(Message{message_op_, std::move(message_)});
    message_.clear();
}

void Endpoint::on_control(Opcode op, std::string_view payload) {
    switch (op) {
        case Opcode::ping:
            // §5.5.2: answered with a pong carrying the same data.
            if (!close_sent_) put(Opcode::pong, bytes_of(payload), true);
            break;
        case Opcode::pong:  // §5.5.3: unsolicited pongs are fine
            ++pongs_;
            break;
        case Opcode::close: {
            // §5.5.1: empty, or a 2-octet code and a UTF-8 reason.
            if (payload.size() == 1) return fail(close_code::protocol_error, "close frame of 1 octet");
            if (payload.size() >= 2) {
                const auto code = static_cast<std::uint16_t>(static_cast<std::uint8_t>(payload[0]) << 8 |
                                                             static_cast<std::uint8_t>(payload[1]));
                if (!valid_close_code(code)) return fail(close_code::protocol_error, "invalid close code");
                if (!valid_utf8(payload.substr(2))) return fail(close_code::invalid_data, "close reason not UTF-8");
                peer_code_ = code;
                peer_reason_.assign(payload.substr(2));
            }
            close_received_ = true;
            // §5.5.1: answered with a close echoing the code (none when the
            // peer sent none), at the end of receive() or by reply_close().
            if (!close_sent_) {
                close_reply_due_ = true;
                // The code alone, copied octet by octet: GCC 12 at -O3 reports a
                // false -Wrestrict on assign(substr(0, 2)).
                close_reply_.clear();
                if (payload.size() >= 2) {
                    close_reply_.push_back(payload[0]);
                    close_reply_.push_back(payload[1]);
                }
            }
            break;
        }
        default:
            break;
    }
}

void Endpoint::fail(std::uint16_t code, std::string_view why) {
    if (failed_) return;
    failed_ = true;
    failure_ = why;
    // §7.1.7: send a close frame with the code, then close the transport.
    if (!close_sent_) {
        const std::uint8_t body[2] = {static_cast<std::uint8_t>(code >> 8), static_cast<std::uint8_t>(code)};
        put(Opcode::close, body, true);
        close_sent_ = true;
    }
}

void Endpoint::put(Opcode op, std::span<const std::uint8_t> payload, bool fin) {
    if (opt_.role == Role::client) {
        // §5.3: a fresh, unpredictable key per frame.
        const std::uint64_t r = rng_();
        std::uint8_t key[4];
        std::memcpy(key, &r, 4);
        write_frame(out_, op, payload, fin, key);
    } else {
        write_frame(out_, op, payload, fin, nullptr);
    }
}

bool Endpoint::send(Opcode op, std::span<const std::uint8_t> payload, std::size_t fragment) {
    if (close_sent_ || (op != Opcode::text && op != Opcode::binary)) return false;
    fragment = std::max<std::size_t>(fragment, 1);
    Opcode frame_op = op;
    do {
        const std::size_t n = std::min(payload.size(), fragment);
        put(frame_op, payload.first(n), n == payload.size());
        payload = payload.subspan(n);
        frame_op = Opcode::continuation;
    } while (!payload.empty());
    return true;
}

bool Endpoint::send_text(std::string_view text, std::size_t fragment) {
    return send(Opcode::text, bytes_of(text), fragment);
}

bool Endpoint::ping(std::span<const std::uint8_t> payload) {
    if (close_sent_ || payload.size() > 125) return false;
    put(Opcode::ping, payload, true);
    return true;
}

void Endpoint::close(std::uint16_t code, std::string_view reason) {
    if (close_sent_) return;
    std::vector<std::uint8_t> body{static_cast<std::uint8_t>(code >> 8), static_cast<std::uint8_t>(code)};
    reason = reason.substr(0, 123);
    body.insert(body.end(), reason.begin(), reason.end());
    put(Opcode::close, body, true);
    close_sent_ = true;
}

std::size_t Endpoint::memory() const {
    std::size_t n = message_.capacity() + out_.capacity() + control_.capacity();
    for (const Message& m : messages_) n += m.data.capacity();
    return n;
}

}  // namespace example::ws
