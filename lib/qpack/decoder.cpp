// QPACK decoding (RFC 9204 §2.2, §4.3, §4.4, §4.5): the encoder stream fills
// the dynamic table, field sections are decoded against it (or held while
// blocked), and the decoder stream reports back.
#include <algorithm>
#include <cstring>
#include <memory_resource>

#include "hpack/dynamic_table.hpp"
#include "qpack/common.hpp"

namespace h2wire::qpack {

using hpack::detail::DynamicTable;

namespace {

constexpr std::uint32_t kEntryOverhead = 32;  // RFC 9204 §3.2.1

/// Octets read past an instruction's start before giving up on it: two
/// strings of the largest encoded length and three integers.
constexpr std::size_t instruction_bound(std::uint32_t max_field_size) {
    return 2 * std::size_t{max_field_size} + 3 * 10;
}

/// Encoded octets of a section held while it arrives in pieces: no section
/// within `max_size` (RFC 9114 §4.2.2) encodes longer. Per field, at most
/// 30 bits per octet of name and value, three integers, against 32 + name +
/// value counted; plus the prefix.
constexpr std::size_t held_section_bound(std::uint32_t max_size) { return 4 * std::size_t{max_size} + 20; }

}  // namespace

// ---- Section -------------------------------------------------------------

Section::~Section() { release(); }

void Section::release() noexcept {
    if (owner_ != nullptr) {
        if (blocked_) owner_->unlink(*this);
        if (bytes_ != nullptr) owner_->mr_->deallocate(bytes_, cap_, 1);
    }
    owner_ = nullptr;
    bytes_ = nullptr;
    size_ = cap_ = 0;
    required_ = base_ = 0;
    prefix_size_ = 0;
    blocked_ = ended_ = false;
}

// ---- Decoder -------------------------------------------------------------

struct Decoder::Prefix {
    std::uint64_t required = 0;  // Required Insert Count
    std::uint64_t base = 0;
};

Decoder::Decoder(const DecoderLimits& limits, std::pmr::memory_resource* mr)
    : limits_(limits), mr_(mr), pending_(mr), output_(mr), scratch_(mr), copy_credit_(limits.copy_allowance) {}

Decoder::~Decoder() {
    // Sections still blocked forget us; their octets go back to mr_ now.
    while (blocked_head_ != nullptr) blocked_head_->release();
    if (table_ != nullptr) std::pmr::polymorphic_allocator<DynamicTable>(mr_).delete_object(table_);
}

std::uint64_t Decoder::insert_count() const noexcept { return insert_count_; }
std::uint32_t Decoder::capacity() const noexcept { return capacity_; }
std::uint32_t Decoder::table_size() const noexcept { return table_ != nullptr ? table_->size() : 0; }
std::size_t Decoder::table_entries() const noexcept { return table_ != nullptr ? table_->count() : 0; }

void Decoder::assume_capacity(std::uint32_t capacity) {
    capacity = std::min(capacity, limits_.max_table_capacity);
    if (table_ == nullptr && capacity != 0)
        table_ = std::pmr::polymorphic_allocator<DynamicTable>(mr_).new_object<DynamicTable>(capacity, mr_);
    if (table_ != nullptr) table_->set_max_size(capacity);
    capacity_ = capacity;
}

void Decoder::put_instruction(std::uint64_t value, int prefix_bits, std::uint8_t first) {
    std::uint8_t buf[10];
    const std::uint8_t* const end = detail::put_integer(buf, value, prefix_bits, first);
    output_.insert(output_.end(), static_cast<const std::uint8_t*>(buf), end);
}

std::span<const std::uint8_t> Decoder::decoder_stream_output() {
    // §4.4.3: one Insert Count Increment for every insert not yet known to
    // the encoder through a Section Acknowledgment.
    if (insert_count_ > acked_inserts_) {
        put_instruction(insert_count_ - acked_inserts_, 6, 0x00);
        acked_inserts_ = insert_count_;
    }
    return output_;
}

void Decoder::consume_decoder_stream_output(std::size_t n) noexcept {
    n = std::min(n, output_.size());
    output_.erase(output_.begin(), output_.begin() + static_cast<std::ptrdiff_t>(n));
}

// ---- the encoder stream (§4.3) ---------------------------------------------

Error Decoder::insert(std::string_view name, std::string_view value) {
    const std::uint64_t entry = std::uint64_t{name.size()} + value.size() + kEntryOverhead;
    // §3.2.2: an entry larger than the capacity is an error (not HPACK's
    // "empty the table"); with capacity 0 no table exists.
    if (table_ == nullptr || entry > capacity_) return Error::entry_too_large;
    table_->insert(name, value);
    ++insert_count_;
    return Error::none;
}

std::string_view Decoder::decode_string(const std::uint8_t* p, std::size_t n, bool huffman, bool second,
                                        Error& error) {
    error = Error::none;
    if (!huffman) return {reinterpret_cast<const char*>(p), n};
    // The first string of a pair (a name) goes to the start of scratch_, the
    // second (its value) after the first's room. Growing scratch_ for the
    // second moves the first: the caller then takes the name again from
    // scratch_.data().
    const std::size_t room = hpack::wire::huffman_decoded_capacity(n);
    const std::size_t at = second ? first_room_ : 0;
    if (!second) first_room_ = room;
    if (scratch_.size() < at + room) scratch_.resize(std::max(at + room, 2 * scratch_.size()));
    std::uint8_t* out = scratch_.data() + at;
    hpack::Error e = hpack::Error::none;
    const std::size_t len = hpack::detail::huffman_decode_in(p, n, p, p + n, out, e);
    if (e == hpack::Error::huffman_eos) error = Error::huffman_eos;
    if (e == hpack::Error::huffman_padding) error = Error::huffman_padding;
    return {reinterpret_cast<const char*>(out), len};
}

Error Decoder::read_instruction(const std::uint8_t* p, const std::uint8_t* end, std::size_t& used) {
    used = 0;
    const std::uint8_t* const start = p;
    const std::uint8_t b = *p;
    std::uint64_t v = 0;
    bool name_in_scratch = false;  // the first string was Huffman-coded into scratch_
    const auto integer = [&](int prefix_bits) -> int {
        const int k = detail::get_integer(p, end, prefix_bits, v);
        if (k > 0) p += k;
        return k;
    };
    // A string with an N-bit length prefix: 1 done, 0 incomplete, -1 error.
    const auto string = [&](int prefix_bits, bool second, std::string_view& out, Error& error) -> int {
        const bool huffman = (*p >> prefix_bits & 1) != 0;
        const int k = integer(prefix_bits);
        if (k < 0) {
            error = Error::encoder_integer_overflow;
            return -1;
        }
        if (k == 0) return 0;
        if (v > limits_.max_field_size) {
            error = Error::instruction_too_large;
            return -1;
        }
        if (static_cast<std::uint64_t>(end - p) < v) return 0;
        out = decode_string(p, v, huffman, second, error);
        if (huffman && !second) name_in_scratch = true;
        if (error == Error::huffman_eos) error = Error::encoder_huffman_eos;
        if (error == Error::huffman_padding) error = Error::encoder_huffman_padding;
        if (error != Error::none) return -1;
        p += v;
        return 1;
    };
    // An entry by relative index (§4.3: 0 is the newest).
    const auto dynamic_entry = [&](std::uint64_t relative, std::string_view& name, std::string_view* value) {
        if (relative >= insert_count_) return false;
        const std::uint64_t id = insert_count_ - 1 - relative;
        if (table_ == nullptr || id < table_->first_id()) return false;  // evicted (§2.2.3)
        name = table_->name_of(id);
        if (value != nullptr) *value = table_->value_of(id);
        return true;
    };

    Error error = Error::none;
    if (b & 0x80) {  // §4.3.2 Insert with Name Reference: 1 T index(6+) value
        std::size_t copies = 0;  // octets of a dynamic name, paid once the instruction is whole
        const int k = integer(6);
        if (k <= 0) return k < 0 ? Error::encoder_integer_overflow : Error::none;
        std::string_view name;
        if (b & 0x40) {
            if (v >= wire::kStaticTableSize) return Error::encoder_static_index_invalid;
            name = detail::kStaticTable[v].name;
        } else if (!dynamic_entry(v, name, nullptr)) {
            return Error::encoder_dynamic_index_invalid;
        } else {
            copies = name.size();
        }
        if (p == end) return Error::none;
        std::string_view value;
        const int s = string(7, true, value, error);
        if (s <= 0) return error;
        used = static_cast<std::size_t>(p - start);
        if (!pay_copy(used, copies)) return Error::excessive_copying;
        // The name may lie in an entry this insertion evicts: the table copies
        // it before evicting (RFC 9204 §3.2.2 allows the reference).
        return insert(name, value);
    }
    if (b & 0x40) {  // §4.3.3 Insert with Literal Name: 01 H len(5+) name value
        std::string_view name;
        std::string_view value;
        int s = string(5, false, name, error);
        if (s <= 0) return error;
        if (p == end) return Error::none;
        s = string(7, true, value, error);
        if (s <= 0) return error;
        if (name_in_scratch) name = {reinterpret_cast<const char*>(scratch_.data()), name.size()};
        used = static_cast<std::size_t>(p - start);
        pay_copy(used, 0);
        return insert(name, value);
    }
    if (b & 0x20) {  // §4.3.1 Set Dynamic Table Capacity: 001 capacity(5+)
        const int k = integer(5);
        if (k <= 0) return k < 0 ? Error::encoder_integer_overflow : Error::none;
        if (v > limits_.max_table_capacity) return Error::capacity_over_limit;
        used = static_cast<std::size_t>(p - start);
        assume_capacity(static_cast<std::uint32_t>(v));
        return Error::none;
    }
    // §4.3.4 Duplicate: 000 index(5+)
    const int k = integer(5);
    if (k <= 0) return k < 0 ? Error::encoder_integer_overflow : Error::none;
    std::string_view name;
    std::string_view value;
    if (!dynamic_entry(v, name, &value)) return Error::encoder_dynamic_index_invalid;
    used = static_cast<std::size_t>(p - start);
    if (!pay_copy(used, name.size() + value.size())) return Error::excessive_copying;
    // The table may move or overwrite the entry while inserting its copy:
    // copy the value out first (the name may stay, as for a name reference).
    if (scratch_.size() < value.size()) scratch_.resize(std::max<std::size_t>(value.size(), 64));
    if (!value.empty()) std::memcpy(scratch_.data(), value.data(), value.size());
    return insert(name, {reinterpret_cast<const char*>(scratch_.data()), value.size()});
}

bool Decoder::pay_copy(std::size_t octets, std::size_t copies) noexcept {
    // Settled once per instruction, when it is whole: its own octets are
    // earned (up to the allowance), then its copies paid.
    copy_credit_ = std::min<std::uint64_t>(copy_credit_ + octets, limits_.copy_allowance);
    if (copies > copy_credit_) return false;
    copy_credit_ -= copies;
    return true;
}

Error Decoder::read_encoder_stream(std::span<const std::uint8_t> bytes) {
    if (fatal_ != Error::none) return fatal_;
    const std::uint8_t* p = bytes.data();
    const std::uint8_t* const end = p + bytes.size();
    const std::size_t bound = instruction_bound(limits_.max_field_size);
    // An instruction split across calls: add input to the held part a slice
    // at a time until it completes; the slice past its end is read again
    // below, straight from the input.
    while (!pending_.empty() && p != end) {
        const std::size_t held = pending_.size();
        const std::size_t take = std::min<std::size_t>(static_cast<std::size_t>(end - p), 4096);
        pending_.insert(pending_.end(), p, p + take);
        std::size_t used = 0;
        const Error e = read_instruction(pending_.data(), pending_.data() + pending_.size(), used);
        if (e != Error::none) return fatal_ = e;
        if (used == 0) {
            if (pending_.size() > bound) return fatal_ = Error::instruction_too_large;
            p += take;
            continue;
        }
        p += used - held;
        pending_.clear();
    }
    while (p != end) {
        std::size_t used = 0;
        const Error e = read_instruction(p, end, used);
        if (e != Error::none) return fatal_ = e;
        if (used == 0) {
            if (static_cast<std::size_t>(end - p) > bound) return fatal_ = Error::instruction_too_large;
            pending_.assign(p, end);
            break;
        }
        p += used;
    }
    return Error::none;
}

// ---- field sections (§4.5) -------------------------------------------------

bool Decoder::hold(Section& s, const std::uint8_t* p, std::size_t n) {
    if (n == 0) return true;
    if (std::size_t{s.size_} + n > held_section_bound(limits_.max_field_section_size)) return false;
    const auto need = static_cast<std::uint32_t>(s.size_ + n);
    if (need > s.cap_) {
        const auto cap = static_cast<std::uint32_t>(std::min<std::size_t>(
            std::max<std::size_t>({need, 2 * std::size_t{s.cap_}, 64}),
            std::max<std::size_t>(need, held_section_bound(limits_.max_field_section_size))));
        auto* b = static_cast<std::uint8_t*>(mr_->allocate(cap, 1));
        if (s.size_ != 0) std::memcpy(b, s.bytes_, s.size_);
        if (s.bytes_ != nullptr) mr_->deallocate(s.bytes_, s.cap_, 1);
        s.bytes_ = b;
        s.cap_ = cap;
    }
    std::memcpy(s.bytes_ + s.size_, p, n);
    s.size_ = need;
    s.owner_ = this;
    return true;
}

void Decoder::unlink(Section& s) noexcept {
    if (s.prev_ != nullptr)
        s.prev_->next_ = s.next_;
    else
        blocked_head_ = s.next_;
    if (s.next_ != nullptr) s.next_->prev_ = s.prev_;
    s.prev_ = s.next_ = nullptr;
    s.blocked_ = false;
    --blocked_count_;
    blocked_octets_ -= s.size_;
}

Section* Decoder::next_unblocked() noexcept {
    if (fatal_ != Error::none) return nullptr;
    for (Section* s = blocked_head_; s != nullptr; s = s->next_)
        if (s->required_ <= insert_count_) return s;
    return nullptr;
}

void Decoder::cancel(Section& s) noexcept {
    const std::uint64_t id = s.stream_id_;
    s.release();
    // §4.4.2; a decoder whose table is off MAY omit it. An unused
    // cancellation costs the encoder nothing.
    if (limits_.max_table_capacity != 0) {
        try {
            put_instruction(id, 6, 0x40);
        } catch (...) {  // out of memory: the encoder keeps its references, nothing breaks
        }
    }
}

Decoded Decoder::decode(Section& s, std::span<const std::uint8_t> piece, bool end, FieldSink on_field) {
    if (fatal_ != Error::none) {
        s.release();
        return {Status::done, fatal_};
    }
    if (!s.ended_) {
        if (end && s.size_ == 0) return decode_whole(s, piece.data(), piece.data() + piece.size(), on_field);
        if (!hold(s, piece.data(), piece.size())) {
            s.release();
            return {Status::done, Error::section_too_large};
        }
        if (!end) return {Status::partial, Error::none};
        s.ended_ = true;
    }
    if (s.blocked_) {
        if (s.required_ > insert_count_) return {Status::blocked, Error::none};
        unlink(s);
        // §4.5.1: the prefix was read when the section arrived; read again
        // now, after more inserts, it could mean another Required Insert
        // Count (the encoding wraps).
        Prefix prefix;
        prefix.required = s.required_;
        prefix.base = s.base_;
        return finish(s, prefix, s.bytes_ + s.prefix_size_, s.bytes_ + s.size_, on_field);
    }
    return decode_whole(s, s.bytes_, s.bytes_ + s.size_, on_field);
}

Decoded Decoder::decode_whole(Section& s, const std::uint8_t* p, const std::uint8_t* end, FieldSink& on_field) {
    const auto fail = [&](Error e) {
        s.release();
        fatal_ = e;
        return Decoded{Status::done, e};
    };
    // §4.5.1 prefix: Encoded Required Insert Count (8+), then S and Delta Base (7+).
    Prefix prefix;
    std::uint64_t encoded = 0;
    int k = detail::get_integer(p, end, 8, encoded);
    if (k <= 0) return fail(k < 0 ? Error::integer_overflow : Error::truncated);
    const std::uint8_t* q = p + k;
    if (encoded != 0) {
        // §4.5.1.1, against our maximum (what the encoder was told), not the
        // capacity it set.
        const std::uint64_t max_entries = limits_.max_table_capacity / kEntryOverhead;
        const std::uint64_t full_range = 2 * max_entries;
        if (encoded > full_range) return fail(Error::required_insert_count_invalid);
        const std::uint64_t max_value = insert_count_ + max_entries;
        const std::uint64_t max_wrapped = max_value / full_range * full_range;
        std::uint64_t required = max_wrapped + encoded - 1;
        if (required > max_value) {
            if (required <= full_range) return fail(Error::required_insert_count_invalid);
            required -= full_range;
        }
        if (required == 0) return fail(Error::required_insert_count_invalid);
        prefix.required = required;
    }
    if (q == end) return fail(Error::truncated);
    const bool negative = (*q & 0x80) != 0;
    std::uint64_t delta = 0;
    k = detail::get_integer(q, end, 7, delta);
    if (k <= 0) return fail(k < 0 ? Error::integer_overflow : Error::truncated);
    q += k;
    if (negative) {
        // §4.5.1.2: Base = Required Insert Count - Delta Base - 1, never below 0.
        if (delta >= prefix.required) return fail(Error::base_negative);
        prefix.base = prefix.required - delta - 1;
    } else {
        prefix.base = prefix.required + delta;
    }

    if (prefix.required > insert_count_) {
        // §2.1.2: blocked until the inserts arrive.
        if (blocked_count_ >= limits_.max_blocked_streams) return fail(Error::too_many_blocked);
        if (p != s.bytes_ && !hold(s, p, static_cast<std::size_t>(end - p))) return fail(Error::section_too_large);
        if (blocked_octets_ + s.size_ > limits_.max_blocked_octets) return fail(Error::blocked_octets_over_limit);
        s.required_ = prefix.required;
        s.base_ = prefix.base;
        s.prefix_size_ = static_cast<std::uint32_t>(q - p);
        s.ended_ = true;
        s.blocked_ = true;
        s.owner_ = this;
        s.prev_ = nullptr;
        s.next_ = blocked_head_;
        if (blocked_head_ != nullptr) blocked_head_->prev_ = &s;
        blocked_head_ = &s;
        ++blocked_count_;
        blocked_octets_ += s.size_;
        return {Status::blocked, Error::none};
    }

    return finish(s, prefix, q, end, on_field);
}

Decoded Decoder::finish(Section& s, const Prefix& prefix, const std::uint8_t* q, const std::uint8_t* end,
                        FieldSink& on_field) {
    const Error e = decode_fields(prefix, q, end, on_field);
    if (is_fatal(e)) {
        s.release();
        fatal_ = e;
        return Decoded{Status::done, e};
    }
    // §4.4.1: acknowledge a section that referenced the dynamic table; this
    // also tells the encoder those inserts arrived (§2.1.4). The two limits
    // of one section still count as processing it.
    if (prefix.required != 0) {
        put_instruction(s.stream_id_, 7, 0x80);
        acked_inserts_ = std::max(acked_inserts_, prefix.required);
    }
    s.release();
    return {Status::done, e};
}

Error Decoder::decode_fields(const Prefix& prefix, const std::uint8_t* p, const std::uint8_t* end,
                             FieldSink& on_field) {
    std::uint64_t list_size = 0;
    std::uint64_t highest = 0;  // largest absolute index referenced, plus 1
    std::uint64_t v = 0;
    const auto integer = [&](int prefix_bits) -> Error {
        const int k = detail::get_integer(p, end, prefix_bits, v);
        if (k <= 0) return k < 0 ? Error::integer_overflow : Error::truncated;
        p += k;
        return Error::none;
    };
    const auto string = [&](int prefix_bits, bool second, std::string_view& out) -> Error {
        const bool huffman = (*p >> prefix_bits & 1) != 0;
        if (const Error e = integer(prefix_bits); e != Error::none) return e;
        if (v > limits_.max_field_size) return Error::field_too_large;
        if (static_cast<std::uint64_t>(end - p) < v) return Error::truncated;
        Error e = Error::none;
        out = decode_string(p, v, huffman, second, e);
        p += v;
        return e;
    };
    // The dynamic entry at absolute index `id`: §2.2.3 says it must lie
    // below the Required Insert Count and not be evicted.
    const auto dynamic = [&](std::uint64_t id, std::string_view& name, std::string_view* value) {
        if (id >= prefix.required || table_ == nullptr || id < table_->first_id()) return false;
        name = table_->name_of(id);
        if (value != nullptr) *value = table_->value_of(id);
        highest = std::max(highest, id + 1);
        return true;
    };

    static_assert(std::tuple_size_v<decltype(static_memo_)> == wire::kStaticTableSize);
    while (p != end) {
        const std::uint8_t b = *p;
        Field f;
        std::uint8_t scratch_memo = 0;
        std::uint8_t* memo = &scratch_memo;  // the entry's, for a whole entry
        if (b & 0x80) {  // §4.5.2 Indexed Field Line: 1 T index(6+)
            if (const Error e = integer(6); e != Error::none) return e;
            if (b & 0x40) {
                if (v >= wire::kStaticTableSize) return Error::static_index_invalid;
                f.name = detail::kStaticTable[v].name;
                f.value = detail::kStaticTable[v].value;
                memo = &static_memo_[v];
            } else if (v >= prefix.base || !dynamic(prefix.base - 1 - v, f.name, &f.value)) {
                return Error::dynamic_index_invalid;
            } else {
                memo = &table_->memo_of(prefix.base - 1 - v);
            }
        } else if (b & 0x40) {  // §4.5.4 Literal with Name Reference: 01 N T index(4+) value
            f.sensitive = (b & 0x20) != 0;
            if (const Error e = integer(4); e != Error::none) return e;
            if (b & 0x10) {
                if (v >= wire::kStaticTableSize) return Error::static_index_invalid;
                f.name = detail::kStaticTable[v].name;
            } else if (v >= prefix.base || !dynamic(prefix.base - 1 - v, f.name, nullptr)) {
                return Error::dynamic_index_invalid;
            }
            if (p == end) return Error::truncated;
            if (const Error e = string(7, true, f.value); e != Error::none) return e;
        } else if (b & 0x20) {  // §4.5.6 Literal with Literal Name: 001 N H len(3+) name value
            f.sensitive = (b & 0x10) != 0;
            const bool name_huffman = (b & 0x08) != 0;
            if (const Error e = string(3, false, f.name); e != Error::none) return e;
            if (p == end) return Error::truncated;
            if (const Error e = string(7, true, f.value); e != Error::none) return e;
            if (name_huffman) f.name = {reinterpret_cast<const char*>(scratch_.data()), f.name.size()};
        } else if (b & 0x10) {  // §4.5.3 Indexed Field Line with Post-Base Index: 0001 index(4+)
            if (const Error e = integer(4); e != Error::none) return e;
            if (!dynamic(prefix.base + v, f.name, &f.value)) return Error::dynamic_index_invalid;
            memo = &table_->memo_of(prefix.base + v);
        } else {  // §4.5.5 Literal with Post-Base Name Reference: 0000 N index(3+) value
            f.sensitive = (b & 0x08) != 0;
            if (const Error e = integer(3); e != Error::none) return e;
            if (!dynamic(prefix.base + v, f.name, nullptr)) return Error::dynamic_index_invalid;
            if (p == end) return Error::truncated;
            if (const Error e = string(7, true, f.value); e != Error::none) return e;
        }
        if (f.name.size() + f.value.size() > limits_.max_field_size) return Error::field_too_large;
        // RFC 9114 §4.2.2: name + value + 32 per field.
        list_size += f.name.size() + f.value.size() + kEntryOverhead;
        if (list_size > limits_.max_field_section_size) return Error::section_too_large;
        on_field(f, *memo);
    }
    // §2.2.1: the Required Insert Count must be the least that decodes the
    // section; a larger one MAY be refused, and is (it would make a conformant
    // decoder wait for inserts the section does not use).
    if (prefix.required != highest) return Error::required_insert_count_unused;
    return Error::none;
}

}  // namespace h2wire::qpack
