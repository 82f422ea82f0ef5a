/// \file
/// HPACK (RFC 7541): header compression for HTTP/2, usable on its own.
#pragma once

#include <cstddef>
#include <array>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "h2wire/export.hpp"
#include "h2wire/header.hpp"

/// HPACK on its own (RFC 7541), for HTTP/2 and for tools: an incremental
/// Decoder, an Encoder, and the §5 primitives in h2wire::hpack::wire.
namespace h2wire::hpack {

/// Why decoding a header block failed. Every value except `none` and
/// `header_list_too_large` is fatal to the decoder: the compression context is
/// lost, and an HTTP/2 connection must end with COMPRESSION_ERROR
/// (RFC 9113 §4.3).
enum class Error : std::uint8_t {
    /// The fragment or block decoded without error.
    none = 0,
    index_zero,                  ///< indexed representation with index 0 (RFC 7541 §6.1)
    index_out_of_range,          ///< index past the static and dynamic tables (§2.3.3)
    integer_overflow,            ///< integer longer than 32 bits or than 5 continuation bytes (§5.1)
    truncated,                   ///< the block ended inside a representation (a string length past the input)
    huffman_eos,                 ///< EOS symbol inside a Huffman string (§5.2)
    huffman_padding,             ///< padding over 7 bits or not all ones (§5.2)
    table_size_over_limit,       ///< size update above SETTINGS_HEADER_TABLE_SIZE (§6.3)
    table_size_update_misplaced, ///< size update after a field in the block (§4.2)
    table_size_update_missing,   ///< limit lowered, but the block did not start with an update (§4.2)
    field_too_large,             ///< one field's name+value over Limits::max_field_size
    header_list_too_large,       ///< list over Limits::max_header_list_size; not fatal, see Decoder
};

/// A short English description of `e`, for logs.
H2WIRE_API std::string_view to_string(Error e) noexcept;

/// True for errors after which the decoder is unusable.
constexpr bool is_fatal(Error e) noexcept {
    return e != Error::none && e != Error::header_list_too_large;
}

/// Decoder limits. Each bounds what a hostile encoder can make us hold.
struct DecoderLimits {
    /// Our SETTINGS_HEADER_TABLE_SIZE: the largest dynamic table the peer may
    /// ask for with a size update. The table itself starts at the protocol's
    /// initial 4096, or at this limit if it is lower. Memory held: about twice
    /// the table's size.
    std::uint32_t max_table_size = 4096;
    /// SETTINGS_MAX_HEADER_LIST_SIZE accounting (RFC 9113 §6.5.2): the sum of
    /// name + value + 32 over the block's fields. Stops header-list bombs.
    std::uint32_t max_header_list_size = 64 * 1024;
    /// Largest name + value of one field, encoded or decoded. Bounds the
    /// buffer that holds a field split across CONTINUATION frames.
    std::uint32_t max_field_size = 64 * 1024;
};

/// Called once per decoded field, in block order. The views are valid only
/// during the call.
///
/// A sink may also take a second argument, `std::uint8_t& memo`: one byte the
/// decoder keeps with every table entry on the caller's behalf, starting at
/// 0. A field that is a table entry (an indexed field, static or dynamic)
/// gets that entry's byte; a literal gets a fresh 0, which is stored with the
/// new entry when the literal is indexed (§6.2.1). What the sink writes stays
/// with the entry. It lets a caller remember what it already worked out about
/// a field (e.g. "checked, valid") and skip the work when the peer indexes it
/// again.
class FieldSink {
public:
    /// Wraps any callable taking `const Field&` (or `const Field&,
    /// std::uint8_t&`); it must outlive the call that the sink is passed to (a
    /// lambda written in the call does).
    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, FieldSink>)
    FieldSink(F&& f) noexcept  // NOLINT(google-explicit-constructor)
        : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* o, const Field& field, std::uint8_t& memo) {
              auto& fn = *static_cast<std::remove_reference_t<F>*>(o);
              if constexpr (std::is_invocable_v<decltype(fn), const Field&, std::uint8_t&>) {
                  fn(field, memo);
              } else {
                  (void)memo;
                  fn(field);
              }
          }) {}
    /// Calls the wrapped callable; a one-argument callable does not see
    /// `memo`, which is then left as it is.
    void operator()(const Field& field, std::uint8_t& memo) const { call_(obj_, field, memo); }
    /// Calls the wrapped callable with a scratch memo of 0; what it writes
    /// there is dropped.
    void operator()(const Field& field) const {
        std::uint8_t memo = 0;
        call_(obj_, field, memo);
    }

private:
    void* obj_;
    void (*call_)(void*, const Field&, std::uint8_t&);
};

namespace detail {
class DynamicTable;
}  // namespace detail

/// Incremental HPACK decoder. A header block may be fed in any number of
/// fragments (a HEADERS frame, then CONTINUATIONs); fields are reported as
/// soon as they are complete. Names and values of fields that lie whole in one
/// fragment and are not Huffman-coded are views of that fragment; the rest
/// point into the decoder's own buffers, which are reused (no allocation per
/// field once warm).
class Decoder {
public:
    /// A decoder whose memory all comes from `mr`, which must outlive it;
    /// `limits` is copied. The dynamic table starts at the protocol's 4096
    /// octets, or at limits.max_table_size if that is lower, and is allocated
    /// now (exceptions of `mr` pass through).
    H2WIRE_API explicit Decoder(const DecoderLimits& limits = {},
                                std::pmr::memory_resource* mr = std::pmr::get_default_resource());
    /// Gives the table and buffers back to `mr`.
    H2WIRE_API ~Decoder();
    /// Takes over the table, buffers and the state of a block in progress.
    /// The moved-from decoder may only be destroyed or assigned to.
    H2WIRE_API Decoder(Decoder&&) noexcept;
    /// Frees this decoder's table, then takes over the other's as the move
    /// constructor does.
    H2WIRE_API Decoder& operator=(Decoder&&) noexcept;
    Decoder(const Decoder&) = delete;
    Decoder& operator=(const Decoder&) = delete;

    /// Decodes the next `fragment` of the current header block; `end_of_block`
    /// marks its last fragment. Returns the first error. After a fatal error
    /// (see is_fatal) every later call returns it again. header_list_too_large
    /// is returned only with `end_of_block`: the block was decoded to the end to
    /// keep the table in sync, but fields stopped being reported once the list
    /// passed the limit; the caller refuses the message (RFC 9113 §8.2.2 or
    /// 431) and the connection goes on.
    H2WIRE_API Error decode(std::span<const std::uint8_t> fragment, bool end_of_block, FieldSink on_field);

    /// Decodes a whole block.
    Error decode_block(std::span<const std::uint8_t> block, FieldSink on_field) {
        return decode(block, true, on_field);
    }

    /// Changes our SETTINGS_HEADER_TABLE_SIZE (call when the peer ACKs it).
    /// If it falls below the table's current maximum, the next block must
    /// start with a size update no larger than the smallest value set since the
    /// previous block (RFC 7541 §4.2).
    H2WIRE_API void set_max_table_size(std::uint32_t limit);
    /// Changes DecoderLimits::max_header_list_size (call when the peer ACKs
    /// our SETTINGS_MAX_HEADER_LIST_SIZE). Takes effect at once, for the rest
    /// of a block in progress too.
    void set_max_header_list_size(std::uint32_t limit) { limits_.max_header_list_size = limit; }

    /// The limits in force, with the changes of the two setters above.
    const DecoderLimits& limits() const noexcept { return limits_; }
    /// Dynamic table: current size in RFC 7541 §4.1 units (name + value + 32
    /// octets per entry).
    H2WIRE_API std::uint32_t table_size() const noexcept;
    /// The dynamic table's maximum size: the initial one until the peer's
    /// first size update (RFC 7541 §6.3), then the last one it sent.
    H2WIRE_API std::uint32_t table_max_size() const noexcept;
    /// Entries in the dynamic table.
    H2WIRE_API std::size_t table_entries() const noexcept;
    /// True between the first and the last fragment of a block.
    bool in_block() const noexcept { return in_block_; }

private:
    struct Status;
    Status decode_one(const std::uint8_t* p, const std::uint8_t* end, FieldSink& on_field);
    Error emit(std::string_view name, std::string_view value, bool never_indexed, std::uint8_t& memo,
               FieldSink& on_field);
    Error finish_block();
    Error begin_field() const noexcept;
    bool lookup(std::uint32_t index, std::string_view& name, std::string_view& value, std::uint8_t*& memo) noexcept;
    Error fail(Error e);

    DecoderLimits limits_;
    detail::DynamicTable* table_;
    std::pmr::vector<std::uint8_t> pending_;  // a representation split across fragments
    std::pmr::vector<std::uint8_t> scratch_;  // Huffman-decoded name and value
    std::array<std::uint8_t, 61> static_memo_{};  // FieldSink memos of the static table's entries
    std::uint32_t required_update_max_ = 0;  // the §4.2 bound the next block must meet
    std::uint64_t list_size_ = 0;
    Error fatal_ = Error::none;
    bool update_required_ = false;
    bool in_block_ = false;
    bool saw_field_ = false;  // a field representation (not a size update) in this block
    bool list_too_large_ = false;
};

/// Encoder options.
struct EncoderOptions {
    /// The most dynamic table the encoder will use, whatever the peer allows.
    /// 0 disables indexing into the dynamic table.
    std::uint32_t max_table_size = 4096;
    /// Huffman-code strings when that makes them shorter.
    bool huffman = true;
};

/// HPACK encoder. Fields go out as, in order of preference: an index (static
/// or dynamic table), a literal with incremental indexing, or a literal
/// without indexing for values unlikely to repeat and fields too big for the
/// table. Sensitive fields (Field::sensitive, authorization,
/// proxy-authorization, cookie values under 20 bytes) are never indexed
/// (RFC 7541 §7.1.3).
class Encoder {
public:
    /// An encoder whose memory all comes from `mr`, which must outlive it;
    /// `options` is copied. The dynamic table starts at the protocol's 4096
    /// octets, or at options.max_table_size if that is lower (the first block
    /// then starts with a size update saying so, RFC 7541 §4.2). The table's
    /// storage and its lookup index are allocated with the first inserted
    /// field and grow with the entries (exceptions of `mr` pass through).
    H2WIRE_API explicit Encoder(const EncoderOptions& options = {},
                                std::pmr::memory_resource* mr = std::pmr::get_default_resource());
    /// Gives the table and its index back to `mr`.
    H2WIRE_API ~Encoder();
    /// Takes over the table and the pending size updates. The moved-from
    /// encoder may only be destroyed or assigned to.
    H2WIRE_API Encoder(Encoder&&) noexcept;
    /// Frees this encoder's table, then takes over the other's as the move
    /// constructor does.
    H2WIRE_API Encoder& operator=(Encoder&&) noexcept;
    Encoder(const Encoder&) = delete;
    Encoder& operator=(const Encoder&) = delete;

    /// The peer's SETTINGS_HEADER_TABLE_SIZE changed. The next block starts
    /// with the size update(s) RFC 7541 §4.2 requires: the smallest value since
    /// the last block, then the final one, when they differ.
    H2WIRE_API void set_peer_max_table_size(std::uint32_t size);

    /// Upper bound of the bytes encode() writes for `fields`.
    H2WIRE_API static std::size_t max_encoded_size(std::span<const Field> fields) noexcept;

    /// Encodes one header block into `out`, which must have room for
    /// max_encoded_size(fields) bytes. Returns the number of bytes written.
    std::size_t encode(std::span<const Field> fields, std::uint8_t* out) { return encode(fields, out, nullptr); }

    /// Looks each field up without changing the table or any state the peer
    /// sees. `memos[i]` receives the memo byte stored with field i's full
    /// match (name and value) in the static or dynamic table, or 0 when it
    /// has none or is sensitive; `memos` may be null. The results are kept:
    /// an encode() that directly follows, of the same span (same data pointer
    /// and size, the fields unchanged), reuses them instead of hashing and
    /// probing again. Any other encode() or set_peer_max_table_size() in
    /// between discards them. No allocation once the encoder has seen a
    /// block this long.
    H2WIRE_API void lookup(std::span<const Field> fields, std::uint8_t* memos);

    /// As encode(fields, out); when `memos` is not null, `memos[i]` is OR-ed
    /// into the memo byte of the table entry that field i fully matches or is
    /// inserted as (nothing for a field sent as a literal without indexing).
    /// The static table's 61 memo bytes are this encoder's own.
    H2WIRE_API std::size_t encode(std::span<const Field> fields, std::uint8_t* out, const std::uint8_t* memos);

    /// Encodes one header block and appends it to `out`.
    template <class ByteContainer>
    std::size_t encode(std::span<const Field> fields, ByteContainer& out) {
        const std::size_t old = out.size();
        out.resize(old + max_encoded_size(fields));
        const std::size_t n = encode(fields, reinterpret_cast<std::uint8_t*>(out.data()) + old, nullptr);
        out.resize(old + n);
        return n;
    }

    /// The dynamic table's current size in RFC 7541 §4.1 units (name + value
    /// + 32 octets per entry).
    H2WIRE_API std::uint32_t table_size() const noexcept;
    /// The dynamic table's maximum size: min(4096, EncoderOptions::max_table_size)
    /// at first; after set_peer_max_table_size(), min(that, the option) once
    /// the next encode() has announced it.
    H2WIRE_API std::uint32_t table_max_size() const noexcept;
    /// Entries in the dynamic table.
    H2WIRE_API std::size_t table_entries() const noexcept;

private:
    struct Index;  // lookups into both tables, and what lookup() found
    std::uint8_t* encode_pending_updates(std::uint8_t* out);

    EncoderOptions options_;
    detail::DynamicTable* table_;
    Index* index_;
    std::uint32_t peer_max_ = 4096;       // the peer's SETTINGS_HEADER_TABLE_SIZE
    std::uint32_t announced_ = 4096;      // the table maximum the peer's decoder knows of
    std::uint32_t min_since_block_ = 0;   // smallest effective maximum since the last block
    bool update_pending_ = false;
};

/// Low-level primitives of RFC 7541 §5, public for tools and tests.
namespace wire {
/// Appends `value` with an N-bit prefix; `first` holds the representation's
/// flag bits in its top 8-N bits. Returns the end of what was written (at most
/// 6 bytes for 32-bit values).
H2WIRE_API std::uint8_t* encode_integer(std::uint8_t* out, std::uint32_t value, int prefix_bits, std::uint8_t first) noexcept;
/// Length in bytes of `s` Huffman-coded (RFC 7541 Appendix B), padding included.
H2WIRE_API std::size_t huffman_encoded_size(std::string_view s) noexcept;
/// Huffman-codes `s` into `out` (room for huffman_encoded_size(s)); returns the end.
H2WIRE_API std::uint8_t* huffman_encode(std::uint8_t* out, std::string_view s) noexcept;
/// Room huffman_decode() needs for `encoded` octets of input: the longest
/// possible result (a 5-bit code per symbol) plus the few octets of slack the
/// decoder writes past it.
constexpr std::size_t huffman_decoded_capacity(std::size_t encoded) noexcept { return encoded * 8 / 5 + 4; }
/// Decodes the Huffman string `in` (RFC 7541 §5.2) into `out`, which needs
/// huffman_decoded_capacity(in.size()) octets of room: the decoder writes a
/// few octets of slack past the result. Returns the decoded length and sets
/// `error` to Error::none; or returns 0 and sets it to huffman_eos or
/// huffman_padding.
H2WIRE_API std::size_t huffman_decode(std::span<const std::uint8_t> in, std::uint8_t* out, Error& error) noexcept;
}  // namespace wire

}  // namespace h2wire::hpack
