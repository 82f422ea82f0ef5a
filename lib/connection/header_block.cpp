// Queued header blocks and the HEADERS/PUSH_PROMISE + CONTINUATION writer.
#include "connection/header_block.hpp"

#include <algorithm>
#include <cstring>

namespace h2wire::detail {

namespace {

// Record layout in the store (native byte order, memcpy'd):
//   BlockHead, then per field: FieldHead, name octets, value octets.
struct BlockHead {
    std::uint8_t kind;
    std::uint8_t end_stream;
    std::uint16_t unused;
    std::uint32_t nfields;
    std::uint32_t promised;
};
struct FieldHead {
    std::uint32_t name_len;
    std::uint32_t value_len;
    std::uint32_t flags;  // bit 0: sensitive; bits 8-15: the send-side memo
};

}  // namespace

void HeaderStore::push(BufferPool& pool, BlockKind kind, bool end_stream, std::uint32_t promised,
                       std::span<const Field> fields, const std::uint8_t* memos) {
    std::size_t total = sizeof(BlockHead);
    for (const Field& f : fields) total += sizeof(FieldHead) + f.name.size() + f.value.size();
    const std::size_t cap = capacity();
    if (size_ + total > cap) {
        std::size_t got = 0;
        std::uint8_t* q = pool.take(std::max<std::size_t>(size_ + total, cap * 2), got);
        if (p_) {
            std::memcpy(q + first, p_ + first, size_ - first);
            pool.give(p_, cap);
        }
        const std::uint64_t c = got;
        std::memcpy(q, &c, sizeof c);
        p_ = q;
    }
    std::uint8_t* p = p_ + size_;
    size_ += static_cast<std::uint32_t>(total);
    const BlockHead bh{static_cast<std::uint8_t>(kind), static_cast<std::uint8_t>(end_stream), 0,
                       static_cast<std::uint32_t>(fields.size()), promised};
    std::memcpy(p, &bh, sizeof bh);
    p += sizeof bh;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const Field& f = fields[i];
        const std::uint32_t memo = memos && i < SendMemos::capacity ? memos[i] : 0;
        const FieldHead fh{static_cast<std::uint32_t>(f.name.size()), static_cast<std::uint32_t>(f.value.size()),
                           (f.sensitive ? 1u : 0u) | memo << 8};
        std::memcpy(p, &fh, sizeof fh);
        p += sizeof fh;
        if (!f.name.empty()) std::memcpy(p, f.name.data(), f.name.size());
        p += f.name.size();
        if (!f.value.empty()) std::memcpy(p, f.value.data(), f.value.size());
        p += f.value.size();
    }
}

BlockKind HeaderStore::front_kind() const noexcept {
    BlockHead bh;
    std::memcpy(&bh, p_ + read_, sizeof bh);
    return static_cast<BlockKind>(bh.kind);
}

QueuedBlock HeaderStore::pop(std::pmr::vector<Field>& fields, std::uint8_t* memos) {
    const std::uint8_t* p = p_ + read_;
    BlockHead bh;
    std::memcpy(&bh, p, sizeof bh);
    p += sizeof bh;
    for (std::uint32_t i = 0; i < bh.nfields; ++i) {
        FieldHead fh;
        std::memcpy(&fh, p, sizeof fh);
        p += sizeof fh;
        const auto* name = reinterpret_cast<const char*>(p);
        p += fh.name_len;
        const auto* value = reinterpret_cast<const char*>(p);
        p += fh.value_len;
        fields.push_back(Field{std::string_view(name, fh.name_len), std::string_view(value, fh.value_len),
                               (fh.flags & 1) != 0});
        if (memos && i < SendMemos::capacity) memos[i] = static_cast<std::uint8_t>(fh.flags >> 8);
    }
    read_ = static_cast<std::uint32_t>(p - p_);
    if (read_ == size_) {
        // Everything taken: rewind so the buffer is reused from the start.
        // The views handed out stay valid until the next push() or recycle().
        size_ = read_ = first;
    }
    return QueuedBlock{static_cast<BlockKind>(bh.kind), bh.end_stream != 0, bh.promised};
}

std::size_t write_header_block(ByteBuffer& out, ByteBuffer& scratch, hpack::Encoder& encoder,
                               std::span<const Field> fields, std::uint32_t stream, bool end_stream, bool push,
                               std::uint32_t promised, std::uint32_t max_frame_size, const std::uint8_t* memos) {
    const std::size_t bound = hpack::Encoder::max_encoded_size(fields);
    const std::size_t fixed = push ? 4 : 0;
    const std::size_t start = out.size();
    if (fixed + bound <= max_frame_size) {
        // Common case: the block surely fits one frame. Encode in place after
        // room for the frame header, then write the header.
        std::uint8_t* p = out.grow(frame::header_size + fixed + bound);
        const std::size_t n = encoder.encode(fields, p + frame::header_size + fixed, memos);
        const auto length = static_cast<std::uint32_t>(fixed + n);
        std::uint8_t fl = frame::flags::end_headers;
        if (end_stream && !push) fl |= frame::flags::end_stream;
        frame::write_header(p, frame::FrameHeader{length, push ? frame::Type::push_promise : frame::Type::headers,
                                                  fl, stream, false});
        if (push) {
            std::uint8_t* q = p + frame::header_size;
            q[0] = static_cast<std::uint8_t>(promised >> 24);
            q[1] = static_cast<std::uint8_t>(promised >> 16);
            q[2] = static_cast<std::uint8_t>(promised >> 8);
            q[3] = static_cast<std::uint8_t>(promised);
        }
        out.resize_down(start + frame::header_size + length);
        return frame::header_size + length;
    }
    // Large block: encode aside, then split into HEADERS/PUSH_PROMISE and
    // CONTINUATION frames written back to back (RFC 9113 §4.3, §6.10).
    scratch.clear();
    std::uint8_t* s = scratch.grow(bound);
    const std::size_t n = encoder.encode(fields, s, memos);
    const frame::Bytes block(s, n);
    std::size_t size = 0;
    if (push) {
        const frame::PushPromise pp{stream, true, promised, std::nullopt, block};
        size = frame::encoded_size_split(pp, max_frame_size);
        std::uint8_t* p = out.grow(size);
        size = frame::write_split(std::span<std::uint8_t>(p, size), pp, max_frame_size).size;
    } else {
        const frame::Headers h{stream, end_stream, true, std::nullopt, std::nullopt, block};
        size = frame::encoded_size_split(h, max_frame_size);
        std::uint8_t* p = out.grow(size);
        size = frame::write_split(std::span<std::uint8_t>(p, size), h, max_frame_size).size;
    }
    out.resize_down(start + size);
    return size;
}

}  // namespace h2wire::detail
