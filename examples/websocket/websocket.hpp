// WebSocket (RFC 6455) framing for the examples, sans-IO like h2wire: bytes
// in, messages out, bytes to send pulled. It knows nothing of HTTP/2; over
// HTTP/2 (RFC 8441) the bytes are the DATA of an extended CONNECT stream,
// which is what examples/websocket/h2_tunnel.hpp glues together.
//
// What it does (RFC 6455 §5):
//   - frames: FIN, RSV (no extension negotiated: must be 0), opcodes 0x0-0x2
//     and 0x8-0xA (others fail), the three length forms with the minimal
//     form required and the 64-bit form's top bit clear, masking (a server
//     requires masked frames and sends unmasked ones; a client the reverse).
//   - messages: text (UTF-8 checked, §8.1) and binary, fragmented into any
//     number of frames with control frames in between; a bound on a
//     message's size (close code 1009).
//   - control: ping answered with a pong carrying the same payload, pong
//     ignored, close answered with a close echoing the code (§5.5.1);
//     control frames at most 125 octets and never fragmented.
//   - failures close the WebSocket (§7.1.7) with 1002 (protocol), 1007
//     (invalid UTF-8) or 1009 (too big), after which input is ignored.
//
// Every byte from the peer is hostile: the parser holds at most one message
// (max_message octets) plus one control frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace example::ws {

enum class Opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xa,
};

/// Close codes used here (RFC 6455 §7.4.1).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t no_status = 1005;  ///< never sent: "the close frame had no code"
inline constexpr std::uint16_t abnormal = 1006;   ///< never sent: "closed without a close frame"
inline constexpr std::uint16_t invalid_data = 1007;
inline constexpr std::uint16_t too_big = 1009;
}  // namespace close_code

enum class Role : std::uint8_t { client, server };

struct Options {
    Role role = Role::server;
    /// Largest message accepted (all fragments together). Larger: close 1009.
    std::size_t max_message = 1 << 20;
    /// Seed for the masking keys of a client (0: std::random_device).
    std::uint64_t seed = 0;
    /// Answer the peer's close at the end of the receive() that read it.
    /// Off: the caller calls reply_close() when it has sent what it wanted
    /// first (an echo sends back the messages that preceded the close;
    /// §5.5.1 lets an endpoint finish its current message first).
    bool auto_close_reply = true;
};

/// A complete message.
struct Message {
    Opcode opcode = Opcode::text;  ///< text or binary
    std::string data;
};

/// Writes one frame. `mask` is the 4-octet masking key, or null for an
/// unmasked frame. The length uses the minimal form (§5.2).
void write_frame(std::vector<std::uint8_t>& out, Opcode op, std::span<const std::uint8_t> payload, bool fin,
                 const std::uint8_t* mask);

/// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;

/// One end of a WebSocket connection.
class Endpoint {
public:
    explicit Endpoint(const Options& options);

    /// Bytes from the peer, split anywhere. Complete messages are appended to
    /// messages(); pongs and close replies to the output.
    void receive(std::span<const std::uint8_t> bytes);
    /// Messages received and not yet taken by the caller.
    std::deque<Message>& messages() { return messages_; }

    /// Queues a message, cut into frames of at most `fragment` payload
    /// octets. False once we sent a close.
    bool send(Opcode op, std::span<const std::uint8_t> payload, std::size_t fragment = SIZE_MAX);
    bool send_text(std::string_view text, std::size_t fragment = SIZE_MAX);
    bool ping(std::span<const std::uint8_t> payload);
    /// Starts the closing handshake (§7.1.2).
    void close(std::uint16_t code = close_code::normal, std::string_view reason = {});
    /// Sends the answer to the peer's close, if one is due (see
    /// Options::auto_close_reply).
    void reply_close();

    /// Bytes to send; the caller takes them (clear() or erase what it wrote).
    std::vector<std::uint8_t>& output() { return out_; }

    /// We sent a close frame.
    bool close_sent() const { return close_sent_; }
    /// The peer's close frame arrived.
    bool close_received() const { return close_received_; }
    /// Both close frames were exchanged, or we failed the connection: once the
    /// output is written, the transport may be closed (over HTTP/2: END_STREAM).
    bool closed() const { return close_sent_ && (close_received_ || failed_); }
    bool failed() const { return failed_; }
    /// The code of the peer's close frame (1005 without one).
    std::uint16_t peer_close_code() const { return peer_code_; }
    std::string_view peer_close_reason() const { return peer_reason_; }
    /// Why we failed the connection (empty when we did not).
    std::string_view failure() const { return failure_; }
    /// Pongs received so far (answers to ping(), or unsolicited).
    std::size_t pongs_received() const { return pongs_; }
    /// Octets held: the message being assembled, messages not taken yet,
    /// output not taken yet (for memory budgets).
    std::size_t memory() const;

private:
    enum class State : std::uint8_t { header, extended_length, mask_key, payload };
    void fail(std::uint16_t code, std::string_view why);
    void frame_header_done();
    void frame_done();
    void on_control(Opcode op, std::string_view payload);
    void put(Opcode op, std::span<const std::uint8_t> payload, bool fin);

    Options opt_;
    std::mt19937_64 rng_;
    std::vector<std::uint8_t> out_;
    std::deque<Message> messages_;

    // The frame being read.
    State state_ = State::header;
    std::uint8_t head_[14]{};
    std::size_t head_have_ = 0;
    std::size_t head_need_ = 2;
    bool fin_ = false;
    Opcode op_ = Opcode::continuation;
    bool masked_ = false;
    std::uint8_t key_[4]{};
    std::uint64_t length_ = 0;
    std::uint64_t got_ = 0;
    std::string control_;  // payload of a control frame (<= 125 octets)

    // The message being assembled from fragments.
    bool in_message_ = false;
    Opcode message_op_ = Opcode::text;
    std::string message_;

    bool close_sent_ = false;
    bool close_received_ = false;
    bool failed_ = false;
    std::uint16_t peer_code_ = close_code::no_status;
    std::string peer_reason_;
    std::string failure_;
    std::size_t pongs_ = 0;
    bool close_reply_due_ = false;
    std::string close_reply_;  // the code to echo (empty: none)
};

}  // namespace example::ws
