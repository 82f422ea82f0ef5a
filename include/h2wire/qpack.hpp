/// \file
/// QPACK (RFC 9204): field compression for HTTP/3, usable on its own.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <span>
#include <string_view>
#include <vector>

#include "h2wire/export.hpp"
#include "h2wire/header.hpp"
#include "h2wire/hpack.hpp"

/// QPACK on its own (RFC 9204): a Decoder that reads the peer's encoder
/// stream and field sections and writes the decoder stream, and an Encoder
/// that writes field sections and the encoder stream and reads the peer's
/// decoder stream. Nothing here knows about QUIC or HTTP/3 frames: the caller
/// moves the bytes between the three kinds of streams.
namespace h2wire::qpack {

/// What went wrong, by the stream it came from. Every error is fatal to the
/// connection (RFC 9204 §2.2.3, §6) except `section_too_large` and
/// `field_too_large`, which only refuse one message (see is_fatal).
/// error_code() gives the HTTP/3 error code.
enum class Error : std::uint8_t {
    none = 0,

    // A field section (a HEADERS or PUSH_PROMISE payload):
    // QPACK_DECOMPRESSION_FAILED.
    truncated = 1,                  ///< the section ended inside its prefix or a field line
    integer_overflow,               ///< an integer past 2^62 - 1 or longer than 10 octets (§4.1.1)
    huffman_eos,                    ///< EOS symbol inside a Huffman string (RFC 7541 §5.2)
    huffman_padding,                ///< Huffman padding over 7 bits or not all ones (RFC 7541 §5.2)
    required_insert_count_invalid,  ///< an Encoded Required Insert Count no encoder could send (§4.5.1.1)
    required_insert_count_unused,   ///< Required Insert Count above the largest reference + 1 (§2.2.1)
    base_negative,                  ///< Sign bit 1 with a Delta Base reaching below 0 (§4.5.1.2)
    static_index_invalid,           ///< a static index past the 99 entries (§3.1)
    dynamic_index_invalid,          ///< a reference to an evicted entry or one at or past the Required Insert Count (§2.2.3)
    field_too_large,                ///< one field's name + value over DecoderLimits::max_field_size
    too_many_blocked,               ///< a section would block more streams than DecoderLimits::max_blocked_streams (§2.1.2)
    blocked_octets_over_limit,      ///< blocked sections would hold more than DecoderLimits::max_blocked_octets
    section_too_large,              ///< the section's size (§4.2.2 of RFC 9114) over the limit; not fatal

    // The peer's encoder stream: QPACK_ENCODER_STREAM_ERROR.
    encoder_integer_overflow = 32,  ///< an integer past 2^62 - 1 or longer than 10 octets
    encoder_huffman_eos,            ///< EOS symbol inside a Huffman string
    encoder_huffman_padding,        ///< Huffman padding over 7 bits or not all ones
    capacity_over_limit,            ///< Set Dynamic Table Capacity above our maximum (§4.3.1)
    entry_too_large,                ///< an inserted entry larger than the capacity (§3.2.2)
    encoder_static_index_invalid,   ///< a static name index past the 99 entries (§3.1)
    encoder_dynamic_index_invalid,  ///< a name reference or Duplicate of a missing or evicted entry (§2.2.3)
    instruction_too_large,          ///< one incomplete instruction over max_field_size + 32 octets

    // The peer's decoder stream: QPACK_DECODER_STREAM_ERROR.
    decoder_integer_overflow = 64,  ///< an integer past 2^62 - 1 or longer than 10 octets
    ack_without_section,            ///< Section Acknowledgment for a stream with nothing to acknowledge (§4.4.1)
    increment_invalid,              ///< Insert Count Increment of 0 or past the inserts sent (§4.4.3)

    // Valid input that costs too much: H3_EXCESSIVE_LOAD (RFC 9114 §8.1).
    /// Duplicates and name references copying more table octets than the
    /// encoder stream has brought (see DecoderLimits): a Duplicate of a 4 KB
    /// entry is one octet of input.
    excessive_copying = 96,
};

/// A short English description of `e`, for logs.
H2WIRE_API std::string_view to_string(Error e) noexcept;

/// QPACK_DECOMPRESSION_FAILED (RFC 9204 §6): a field section.
inline constexpr std::uint64_t kDecompressionFailed = 0x200;
/// QPACK_ENCODER_STREAM_ERROR (RFC 9204 §6): the peer's encoder stream.
inline constexpr std::uint64_t kEncoderStreamError = 0x201;
/// QPACK_DECODER_STREAM_ERROR (RFC 9204 §6): the peer's decoder stream.
inline constexpr std::uint64_t kDecoderStreamError = 0x202;
/// H3_EXCESSIVE_LOAD (RFC 9114 §8.1).
inline constexpr std::uint64_t kExcessiveLoad = 0x107;

/// The HTTP/3 error code of `e`: 0x200, 0x201 or 0x202 by the stream the
/// error came from, 0x107 for `excessive_copying`; 0 for `none`.
/// `section_too_large` and `field_too_large` map to 0x200 too, but an HTTP/3
/// endpoint answers them per message (e.g. 431) rather than closing the
/// connection.
constexpr std::uint64_t error_code(Error e) noexcept {
    const auto v = static_cast<std::uint8_t>(e);
    if (v == 0) return 0;
    if (v < 32) return kDecompressionFailed;
    if (v < 64) return kEncoderStreamError;
    if (v < 96) return kDecoderStreamError;
    return kExcessiveLoad;
}

/// True for errors after which the connection must close. The two limits of
/// one section (`section_too_large`, `field_too_large`) refuse that message
/// only (RFC 9204 §7.4: a stream error); the section is still acknowledged.
constexpr bool is_fatal(Error e) noexcept {
    return e != Error::none && e != Error::section_too_large && e != Error::field_too_large;
}

/// Called once per decoded field line, in section order; the views are valid
/// only during the call. The same sink type as HPACK's: a field line that is
/// a whole static or dynamic entry (an Indexed Field Line) comes with that
/// entry's memo byte, kept for its next use; other lines with a scratch byte.
using FieldSink = hpack::FieldSink;

/// Decoder limits: each bounds what a hostile encoder can make us hold or do.
/// Memory held by a Decoder is at most about twice max_table_capacity, plus
/// max_blocked_octets, plus one max_field_size of scratch, plus what the
/// caller's unsent decoder-stream output holds (a few octets per section).
struct DecoderLimits {
    /// Our SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204 §3.2.3, §5): the
    /// largest capacity the peer's encoder may set. 0 turns the dynamic table
    /// off.
    std::uint32_t max_table_capacity = 4096;
    /// Our SETTINGS_QPACK_BLOCKED_STREAMS (§2.1.2): field sections held at
    /// once waiting for inserts.
    std::uint32_t max_blocked_streams = 100;
    /// Our SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2): the sum of
    /// name + value + 32 over a section's fields. A section past it gives
    /// section_too_large (the fields decoded so far were reported). A
    /// section that arrives in pieces is held up to 4 times this plus 20
    /// octets: no section within the limit encodes longer (a Huffman code is
    /// at most 30 bits per octet, and each field counts 32 octets).
    std::uint32_t max_field_section_size = 64 * 1024;
    /// Largest name + value of one field, in a section or an insert.
    std::uint32_t max_field_size = 64 * 1024;
    /// Encoded octets held, over all blocked sections at once.
    std::uint32_t max_blocked_octets = 256 * 1024;
    /// Table octets that Duplicates and dynamic name references may copy
    /// ahead of the encoder stream: each octet of it read earns one octet of
    /// copying, up to this much saved; a Duplicate is one octet that copies a
    /// whole entry. Past it: excessive_copying. A conformant encoder
    /// duplicates an entry only after newer inserts pushed it to the old end
    /// of the table, which brings the octets to pay for it.
    std::uint32_t copy_allowance = 64 * 1024;
};

class Decoder;

/// A field section on its way through a Decoder: the caller keeps one per
/// stream whose HEADERS (or PUSH_PROMISE) is being decoded, and passes it to
/// Decoder::decode() with each piece of the section. It holds the section's
/// octets only when it arrives in pieces or blocks (RFC 9204 §2.1.2), in
/// memory of the decoder's resource, and gives them back when the section is
/// done, cancelled or destroyed. A Section may be reused for the stream's
/// next section (trailers) once the previous one is done. It must not
/// outlive its Decoder, and must not move while blocked.
class Section {
public:
    /// A section on stream `stream_id` (the QUIC stream id; it goes into
    /// Section Acknowledgment and Stream Cancellation). `user` is the
    /// caller's, returned by user().
    explicit Section(std::uint64_t stream_id = 0, void* user = nullptr) noexcept
        : stream_id_(stream_id), user_(user) {}
    /// Unblocks (see Decoder::cancel for a stream that is reset) and frees.
    H2WIRE_API ~Section();
    Section(const Section&) = delete;
    Section& operator=(const Section&) = delete;

    /// The stream given at construction.
    std::uint64_t stream_id() const noexcept { return stream_id_; }
    /// The caller's pointer given at construction.
    void* user() const noexcept { return user_; }
    /// Waiting for inserts: Decoder::next_unblocked() hands it back when they
    /// have arrived.
    bool blocked() const noexcept { return blocked_; }
    /// The Required Insert Count of a blocked section (0 otherwise: a
    /// section is read in one go once it is whole and unblocked).
    std::uint64_t required_insert_count() const noexcept { return required_; }

private:
    friend class Decoder;
    void release() noexcept;

    std::uint64_t stream_id_;
    void* user_;
    Decoder* owner_ = nullptr;  // set while it holds octets or is blocked
    std::uint8_t* bytes_ = nullptr;
    std::uint32_t size_ = 0;
    std::uint32_t cap_ = 0;
    std::uint64_t required_ = 0;
    std::uint64_t base_ = 0;         // of a blocked section: its prefix is read once (§4.5.1)
    std::uint32_t prefix_size_ = 0;  // octets of that prefix
    Section* prev_ = nullptr;  // the decoder's list of blocked sections
    Section* next_ = nullptr;
    bool blocked_ = false;
    bool ended_ = false;  // the last piece has arrived
};

/// What Decoder::decode() did with a section.
enum class Status : std::uint8_t {
    done,      ///< every field was reported (or an error said why not)
    partial,   ///< the piece was kept; the section's end has not arrived
    blocked,   ///< waiting for inserts on the encoder stream; nothing reported yet
};

/// Result of Decoder::decode().
struct Decoded {
    Status status = Status::done;  ///< what became of the section
    Error error = Error::none;     ///< why it failed, if it did (with Status::done)
};

/// The QPACK decoder (RFC 9204 §2.2): the dynamic table the peer's encoder
/// fills through the encoder stream, field sections decoded against it, and
/// the instructions for the decoder stream.
class Decoder {
public:
    /// A decoder whose memory all comes from `mr`, which must outlive it.
    /// The table's capacity starts at 0 (§3.2.3) and its storage is
    /// allocated with the first insert, growing with use.
    H2WIRE_API explicit Decoder(const DecoderLimits& limits = {},
                                std::pmr::memory_resource* mr = std::pmr::get_default_resource());
    H2WIRE_API ~Decoder();
    Decoder(const Decoder&) = delete;
    Decoder& operator=(const Decoder&) = delete;

    /// Reads the peer's encoder stream (§4.3), split anywhere. An incomplete
    /// instruction at the end is kept for the next call. Inserts may unblock
    /// sections: see next_unblocked(). Errors are fatal
    /// (QPACK_ENCODER_STREAM_ERROR) and returned again by later calls.
    H2WIRE_API Error read_encoder_stream(std::span<const std::uint8_t> bytes);

    /// Decodes the next `piece` of `section` (all of a HEADERS frame's
    /// payload, or part of it); `end` marks the last piece. A whole section in
    /// one call is decoded in place, without a copy. Fields are reported to
    /// `on_field` once the whole section is here and every entry it references
    /// has arrived; until then the section says `partial` or `blocked`. After
    /// `done`, a Section Acknowledgment is queued when the section referenced
    /// the dynamic table (§4.4.1). Fatal errors are returned by every later
    /// call.
    H2WIRE_API Decoded decode(Section& section, std::span<const std::uint8_t> piece, bool end, FieldSink on_field);

    /// A blocked section that the inserts read since can now decode, or
    /// nullptr (always nullptr after a fatal error). The caller decodes it
    /// with decode(*s, {}, true, sink) or drops it with cancel(); until then
    /// it is returned again.
    H2WIRE_API Section* next_unblocked() noexcept;

    /// The stream of `section` was reset or its reading abandoned: drops the
    /// section (blocked or not) and queues a Stream Cancellation (§4.4.2)
    /// when the encoder may hold references for it.
    H2WIRE_API void cancel(Section& section) noexcept;

    /// Decoder-stream instructions to send (§4.4): Section Acknowledgments,
    /// Stream Cancellations, and an Insert Count Increment bringing the
    /// encoder's Known Received Count up to every insert read (added here,
    /// when asked, so that one instruction covers all the inserts since).
    H2WIRE_API std::span<const std::uint8_t> decoder_stream_output();
    /// Drops the first `n` octets of decoder_stream_output().
    H2WIRE_API void consume_decoder_stream_output(std::size_t n) noexcept;

    /// Octets of an incomplete encoder-stream instruction held for the next
    /// read_encoder_stream(); 0 when the stream so far ends on an
    /// instruction boundary (as it must when the stream ends).
    std::size_t encoder_stream_pending() const noexcept { return pending_.size(); }

    /// Starts the table at `capacity` (at most max_table_capacity) as if the
    /// peer had sent Set Dynamic Table Capacity. Only for offline interop
    /// files, whose encoders assume it; HTTP/3 starts at 0.
    H2WIRE_API void assume_capacity(std::uint32_t capacity);

    /// The limits in force.
    const DecoderLimits& limits() const noexcept { return limits_; }
    /// Inserts (and Duplicates) read from the encoder stream so far.
    H2WIRE_API std::uint64_t insert_count() const noexcept;
    /// The table's capacity, as the peer set it.
    H2WIRE_API std::uint32_t capacity() const noexcept;
    /// The table's size: name + value + 32 per entry (§3.2.1).
    H2WIRE_API std::uint32_t table_size() const noexcept;
    /// Entries in the table.
    H2WIRE_API std::size_t table_entries() const noexcept;
    /// Sections blocked now.
    std::size_t blocked_sections() const noexcept { return blocked_count_; }
    /// Encoded octets the blocked sections hold.
    std::size_t blocked_octets() const noexcept { return blocked_octets_; }

private:
    friend class Section;
    struct Prefix;
    Decoded decode_whole(Section& section, const std::uint8_t* p, const std::uint8_t* end, FieldSink& on_field);
    Decoded finish(Section& section, const Prefix& prefix, const std::uint8_t* p, const std::uint8_t* end,
                   FieldSink& on_field);
    Error decode_fields(const Prefix& prefix, const std::uint8_t* p, const std::uint8_t* end, FieldSink& on_field);
    Error read_instruction(const std::uint8_t* p, const std::uint8_t* end, std::size_t& used);
    Error insert(std::string_view name, std::string_view value);
    bool hold(Section& section, const std::uint8_t* p, std::size_t n);
    bool pay_copy(std::size_t octets, std::size_t copies) noexcept;
    void unlink(Section& section) noexcept;
    void put_instruction(std::uint64_t value, int prefix_bits, std::uint8_t first);
    std::string_view decode_string(const std::uint8_t* p, std::size_t n, bool huffman, bool second, Error& error);

    DecoderLimits limits_;
    std::pmr::memory_resource* mr_;
    hpack::detail::DynamicTable* table_ = nullptr;  // made with the first capacity
    std::uint64_t acked_inserts_ = 0;  // what the encoder knows we received (§2.1.4)
    std::uint64_t insert_count_ = 0;
    std::uint32_t capacity_ = 0;
    Section* blocked_head_ = nullptr;
    std::size_t blocked_count_ = 0;
    std::size_t blocked_octets_ = 0;
    std::pmr::vector<std::uint8_t> pending_;  // an incomplete encoder-stream instruction
    std::pmr::vector<std::uint8_t> output_;   // decoder-stream instructions not yet taken
    std::pmr::vector<std::uint8_t> scratch_;  // Huffman-decoded names and values
    std::size_t first_room_ = 0;  // scratch_ octets the first string of a pair may use
    std::uint64_t copy_credit_ = 0;  // octets of table Duplicates and name references may still copy
    /// The sink's memo bytes of the 99 static entries (dynamic entries keep
    /// theirs in the table): what a caller worked out about a field, kept
    /// for its next use, as in HPACK.
    std::array<std::uint8_t, 99> static_memo_{};
    Error fatal_ = Error::none;
};

/// Encoder options.
struct EncoderOptions {
    /// The most dynamic-table capacity the encoder will use, whatever the
    /// peer allows. 0 keeps every field out of the dynamic table (no
    /// encoder-stream output at all).
    std::uint32_t max_table_capacity = 4096;
    /// The most streams the encoder lets block at once, whatever the peer
    /// allows (its SETTINGS_QPACK_BLOCKED_STREAMS).
    std::uint32_t max_blocked_streams = 100;
    /// Huffman-code strings when that makes them shorter.
    bool huffman = true;
    /// Sections referencing the dynamic table that may wait for the peer's
    /// acknowledgment at once; past it, sections do without the table.
    std::uint32_t max_unacknowledged_sections = 1024;
};

/// The QPACK encoder (RFC 9204 §2.1).
///
/// Policy, field by field:
/// - sensitive fields (Field::sensitive, authorization,
///   proxy-authorization, cookie values under 20 octets) go out as literals
///   with the never-indexed bit (§7.1.3), naming a static entry when one has
///   the name, and are never inserted;
/// - an exact match in the static table is referenced;
/// - an exact match in the dynamic table is referenced if the decoder has
///   acknowledged it, or if this section may block: it may when the stream is
///   already blocking or fewer than the allowed streams block. A match in
///   the oldest fifth of the table (the next to be evicted, as the table
///   stands after the section's earlier inserts) is first copied to the
///   newest end with Duplicate (§4.3.4) when that fits, evicting the old copy
///   if need be but no newer entry: a reference would keep it, and so every
///   newer entry, from being evicted until the section is acknowledged;
/// - otherwise the field is inserted when it fits without evicting an entry
///   that is unacknowledged or still referenced, is at most 3/4 of the
///   capacity, its name's values are not unique by nature (`:path`, `age`,
///   `etag`, `content-length`, `if-modified-since`, `if-none-match`,
///   `location`, `set-cookie`), and it is likely to be used again: it was
///   seen recently, or the table has room to spare, or (when the section
///   may block) its name's values repeat within a connection by nature
///   (`:authority`, `referer`, `user-agent`, `origin`, `accept-language`;
///   entries up to 1/8 of the capacity) or entries of its name keep being
///   used again. It is referenced at once if the section may block, else
///   sent as a literal (the insert serves later sections);
/// - otherwise a literal, naming a static entry, or a dynamic one under the
///   same rule as exact matches, or with a literal name.
/// A name is referenced in the static table unless its index there takes an
/// octet more than an (acknowledged) dynamic entry's with the same name.
/// Sections are written with Base equal to the insert count when the
/// section starts, so the section's own inserts are post-Base references.
/// Once `max_unacknowledged_sections` sections wait for acknowledgment (a
/// peer that never acknowledges), new sections use the static table and
/// literals only, which keeps the bookkeeping bounded.
class Encoder {
public:
    /// An encoder whose memory all comes from `mr`, which must outlive it.
    /// Until set_peer_settings(), the dynamic table is not used.
    H2WIRE_API explicit Encoder(const EncoderOptions& options = {},
                                std::pmr::memory_resource* mr = std::pmr::get_default_resource());
    H2WIRE_API ~Encoder();
    Encoder(const Encoder&) = delete;
    Encoder& operator=(const Encoder&) = delete;

    /// The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and
    /// SETTINGS_QPACK_BLOCKED_STREAMS (both 0 if absent, RFC 9204 §5). Call
    /// once, when the peer's SETTINGS arrive. The capacity used is the
    /// smaller of the peer's and EncoderOptions::max_table_capacity; a Set
    /// Dynamic Table Capacity goes on the encoder stream when it is not 0.
    /// `assume_set`: the peer's decoder already has that capacity (offline
    /// interop files only); no instruction is written.
    H2WIRE_API void set_peer_settings(std::uint32_t max_table_capacity, std::uint32_t blocked_streams,
                                      bool assume_set = false);

    /// Upper bound of the octets encode() writes into `section` for `fields`.
    H2WIRE_API static std::size_t max_encoded_size(std::span<const Field> fields) noexcept;

    /// Encodes `fields` as one field section for stream `stream_id` into
    /// `out` (room for max_encoded_size(fields)); returns the octets written.
    /// Inserts go to encoder_stream_output(), which the caller must send
    /// before, or with, the section's frame (a section sent ahead of them
    /// blocks, within the limit).
    H2WIRE_API std::size_t encode(std::uint64_t stream_id, std::span<const Field> fields, std::uint8_t* out);

    /// Encodes one field section and appends it to `out`.
    template <class ByteContainer>
    std::size_t encode(std::uint64_t stream_id, std::span<const Field> fields, ByteContainer& out) {
        const std::size_t old = out.size();
        out.resize(old + max_encoded_size(fields));
        const std::size_t n = encode(stream_id, fields, reinterpret_cast<std::uint8_t*>(out.data()) + old);
        out.resize(old + n);
        return n;
    }

    /// Reads the peer's decoder stream (§4.4), split anywhere. Errors are
    /// fatal (QPACK_DECODER_STREAM_ERROR) and returned again by later calls.
    H2WIRE_API Error read_decoder_stream(std::span<const std::uint8_t> bytes);

    /// The stream was reset or its sections abandoned locally before the
    /// peer acknowledged them: forget their references. (The peer's Stream
    /// Cancellation does the same through read_decoder_stream().)
    H2WIRE_API void forget_stream(std::uint64_t stream_id) noexcept;

    /// Encoder-stream instructions to send, in order.
    std::span<const std::uint8_t> encoder_stream_output() const noexcept { return output_; }
    /// Drops the first `n` octets of encoder_stream_output().
    H2WIRE_API void consume_encoder_stream_output(std::size_t n) noexcept;

    /// The capacity in use.
    H2WIRE_API std::uint32_t capacity() const noexcept;
    /// The table's size: name + value + 32 per entry (§3.2.1).
    H2WIRE_API std::uint32_t table_size() const noexcept;
    /// Entries in the table.
    H2WIRE_API std::size_t table_entries() const noexcept;
    /// Inserts (and Duplicates) written so far.
    H2WIRE_API std::uint64_t insert_count() const noexcept;
    /// How many of them the decoder has acknowledged: the Known Received
    /// Count (§2.1.4).
    std::uint64_t known_received_count() const noexcept { return known_received_; }
    /// Streams whose unacknowledged sections reference entries the decoder
    /// may not have yet (§2.1.2).
    H2WIRE_API std::size_t blocked_streams() const noexcept;
    /// Sections sent and not yet acknowledged or cancelled that reference the
    /// dynamic table.
    std::size_t unacknowledged_sections() const noexcept { return unacked_.size(); }

private:
    struct Index;
    struct Unacked {
        std::uint64_t stream_id;
        std::uint64_t required;  // Required Insert Count
        std::uint64_t lowest;    // the oldest entry it references
    };
    struct Lookup;
    bool may_block(std::uint64_t stream_id) const noexcept;
    void refresh_blocking() const noexcept;
    bool can_insert(std::uint64_t entry_size, std::uint64_t protect) const noexcept;
    std::uint64_t insert(const Field& f, const Lookup& l);
    std::uint64_t duplicate(const Field& f, const Lookup& l, std::uint64_t id);
    std::uint64_t evicted_below(std::uint64_t room) const noexcept;

    EncoderOptions options_;
    std::pmr::memory_resource* mr_;
    hpack::detail::DynamicTable* table_ = nullptr;
    Index* index_ = nullptr;
    std::uint64_t known_received_ = 0;
    /// At least the largest Required Insert Count of any unacknowledged
    /// section (never lowered): while Known Received Count reaches it, no
    /// section can block and the per-section walks are skipped.
    std::uint64_t max_required_ = 0;
    std::uint32_t capacity_ = 0;
    std::uint32_t peer_max_capacity_ = 0;  // MaxTableCapacity of §4.5.1.1
    std::uint32_t peer_blocked_ = 0;
    std::pmr::vector<Unacked> unacked_;
    /// The streams with a section that may block (Required Insert Count
    /// above Known Received Count), sorted, as of `blocking_known_`; rebuilt
    /// from unacked_ when that count moved or a section left, kept up to
    /// date as sections are added. Makes may_block() O(log n).
    mutable std::pmr::vector<std::uint64_t> blocking_;
    mutable std::uint64_t blocking_known_ = 0;
    mutable bool blocking_valid_ = true;
    std::pmr::vector<std::uint8_t> output_;  // encoder-stream instructions not yet taken
    std::pmr::vector<std::uint8_t> pending_;  // an incomplete decoder-stream instruction
    Error fatal_ = Error::none;
};

/// Low-level primitives of RFC 9204 §4.1, public for tools and tests.
namespace wire {
/// Appends `value` (below 2^62) with an N-bit prefix (1..8); `first` holds
/// the flag bits above the prefix. Returns the end (at most 10 octets).
H2WIRE_API std::uint8_t* encode_integer(std::uint8_t* out, std::uint64_t value, int prefix_bits,
                                        std::uint8_t first) noexcept;
/// Reads an N-bit-prefix integer from [p, end): returns the octets used, 0 if
/// the input ends first, or -1 past 2^62 - 1 or 10 octets.
H2WIRE_API int decode_integer(const std::uint8_t* p, const std::uint8_t* end, int prefix_bits,
                              std::uint64_t& value) noexcept;
/// The static table (RFC 9204 Appendix A): 99 entries, index 0 to 98.
inline constexpr std::size_t kStaticTableSize = 99;
/// Static entry `i` (< 99).
H2WIRE_API Field static_entry(std::size_t i) noexcept;
}  // namespace wire

}  // namespace h2wire::qpack
