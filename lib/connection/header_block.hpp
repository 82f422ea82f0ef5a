// Header blocks on the send side: the fields an application submitted, kept
// until the scheduler sends the block (HPACK encoding happens then, so the
// encoder's table follows the order blocks go out on the wire), and the
// writer that turns fields into HEADERS or PUSH_PROMISE plus CONTINUATIONs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <span>

#include "connection/buffers.hpp"
#include "h2wire/frame.hpp"
#include "h2wire/header.hpp"
#include "h2wire/hpack.hpp"

// Library internals: not exported from the shared library.
#pragma GCC visibility push(hidden)

namespace h2wire::detail {

enum class BlockKind : std::uint8_t {
    headers,       ///< request, response (1xx or final): sent from the header FIFO
    push_promise,  ///< PUSH_PROMISE on this stream for `promised`
    trailers,      ///< trailing HEADERS, sent after the queued DATA
};

/// One queued block, as handed back by HeaderStore::pop().
struct QueuedBlock {
    BlockKind kind = BlockKind::headers;
    bool end_stream = false;
    std::uint32_t promised = 0;
};

/// A FIFO of header blocks with copies of their fields, in one buffer
/// borrowed from the connection's BufferPool while it holds anything.
/// Compact (16 octets) because every stream has one: the buffer's capacity
/// is kept in its first 8 octets, records follow. The pool is passed to the
/// calls that need it.
class HeaderStore {
public:
    HeaderStore() = default;
    HeaderStore(const HeaderStore&) = delete;
    HeaderStore& operator=(const HeaderStore&) = delete;

    /// Appends a block. `memos` (or null): the send-side memo byte of each
    /// field (SendMemos), kept with it for the encoder when the block goes
    /// out (only the first SendMemos::capacity fields have one).
    void push(BufferPool& pool, BlockKind kind, bool end_stream, std::uint32_t promised,
              std::span<const Field> fields, const std::uint8_t* memos = nullptr);
    bool empty() const noexcept { return read_ == size_; }
    /// Kind of the first block (the store must not be empty).
    BlockKind front_kind() const noexcept;
    /// Removes the first block; its fields are appended to `fields` as views
    /// into the store, valid until the next push() or recycle(). `memos` (or
    /// null, room for SendMemos::capacity): the memo bytes pushed with them
    /// (0 where none was).
    QueuedBlock pop(std::pmr::vector<Field>& fields, std::uint8_t* memos = nullptr);
    /// Drops every block.
    void clear() noexcept { size_ = read_ = first; }
    /// Once empty, returns the buffer to the pool (call after the views of
    /// the last pop() are done with).
    void recycle(BufferPool& pool) noexcept {
        if (!empty()) return;
        if (p_) pool.give(p_, capacity());
        p_ = nullptr;
        size_ = read_ = first;
    }

private:
    static constexpr std::uint32_t first = 8;  // where records start (after the capacity)
    std::size_t capacity() const noexcept {
        std::uint64_t cap = 0;
        if (p_) std::memcpy(&cap, p_, sizeof cap);
        return static_cast<std::size_t>(cap);
    }

    std::uint8_t* p_ = nullptr;
    std::uint32_t size_ = first;  // end of the records
    std::uint32_t read_ = first;  // start of the first record not popped
};

/// Memo bytes of a header block's fields on the way to the HPACK encoder
/// (hpack::Encoder::lookup and encode): the bits of message_validation.hpp
/// (memo_valid_field, memo_plain_field) that MessageScan adds. Blocks of
/// more fields than fit here go without (checked in full every time).
struct SendMemos {
    static constexpr std::size_t capacity = 64;
    std::array<std::uint8_t, capacity> bytes;
};

/// Encodes `fields` with `encoder` and appends the frames that carry the
/// block to `out`: one HEADERS (or PUSH_PROMISE promising `promised` when
/// `push`) when it fits the peer's `max_frame_size`, else that frame and
/// CONTINUATIONs, back to back (RFC 9113 §4.3). Returns the octets appended.
std::size_t write_header_block(ByteBuffer& out, ByteBuffer& scratch, hpack::Encoder& encoder,
                               std::span<const Field> fields, std::uint32_t stream, bool end_stream, bool push,
                               std::uint32_t promised, std::uint32_t max_frame_size,
                               const std::uint8_t* memos = nullptr);

}  // namespace h2wire::detail

#pragma GCC visibility pop
