// HPACK decoding (RFC 7541 §3, §6), incremental across block fragments.
#include <algorithm>
#include <climits>
#include <new>
#include <utility>

#include "h2wire/hpack.hpp"
#include "hpack/dynamic_table.hpp"
#include "hpack/huffman.hpp"
#include "hpack/static_table.hpp"

namespace h2wire::hpack {

std::string_view to_string(Error e) noexcept {
    switch (e) {
    case Error::none: return "no error";
    case Error::index_zero: return "indexed field with index 0";
    case Error::index_out_of_range: return "index past the static and dynamic tables";
    case Error::integer_overflow: return "integer overflow";
    case Error::truncated: return "header block ends inside a representation";
    case Error::huffman_eos: return "EOS symbol in a Huffman-coded string";
    case Error::huffman_padding: return "invalid Huffman padding";
    case Error::table_size_over_limit: return "dynamic table size update above the limit";
    case Error::table_size_update_misplaced: return "dynamic table size update after a field";
    case Error::table_size_update_missing: return "required dynamic table size update missing";
    case Error::field_too_large: return "header field too large";
    case Error::header_list_too_large: return "header list too large";
    }
    return "unknown HPACK error";
}

/// Outcome of decoding one representation from a contiguous buffer.
struct Decoder::Status {
    enum Kind : std::uint8_t { done, need_more, failed };
    Kind kind;
    Error error;
    /// done: bytes consumed; need_more: a lower bound of the representation's
    /// total length, so that the caller gathers no more than it needs.
    std::size_t n;
};

namespace {

enum class IntResult : std::uint8_t { ok, need_more, overflow };

// RFC 7541 §5.1. Values are limited to 32 bits and to five continuation
// bytes, so a stream of 0x80 bytes cannot keep the decoder busy.
inline IntResult read_integer(const std::uint8_t*& q, const std::uint8_t* end, int prefix_bits,
                              std::uint32_t& value) noexcept {
    const std::uint32_t max_prefix = (1u << prefix_bits) - 1;
    const std::uint32_t v = *q++ & max_prefix;
    if (v < max_prefix) {
        value = v;
        return IntResult::ok;
    }
    std::uint64_t acc = v;
    for (int shift = 0; shift <= 28; shift += 7) {
        if (q == end) return IntResult::need_more;
        const std::uint8_t b = *q++;
        acc += std::uint64_t{b & 0x7fu} << shift;
        if ((b & 0x80) == 0) {
            if (acc > UINT32_MAX) return IntResult::overflow;
            value = static_cast<std::uint32_t>(acc);
            return IntResult::ok;
        }
    }
    return IntResult::overflow;
}

struct StringRef {
    const std::uint8_t* data = nullptr;
    std::uint32_t len = 0;
    bool huffman = false;
};

constexpr std::size_t huffman_capacity(std::uint32_t encoded) { return wire::huffman_decoded_capacity(encoded); }

}  // namespace

// The dynamic table is made when it is first needed (an insertion, or a
// limit below its maximum, RFC 7541 §4.2): a decoder that has decoded no
// indexed field (an idle connection's) holds none. Until then table_ points
// at an empty table shared by all (so a lookup needs no test), and the
// maximum is kept in required_update_max_, which means nothing else while no
// update is required, and none can be without a table (set_max_table_size
// makes it).
namespace {
detail::DynamicTable* no_table() {
    // Never inserted into, and never destroyed (a decoder destroyed at exit
    // still compares with it).
    alignas(detail::DynamicTable) static unsigned char storage[sizeof(detail::DynamicTable)];
    static detail::DynamicTable* const empty =
        ::new (storage) detail::DynamicTable(0, std::pmr::null_memory_resource());
    return empty;
}

detail::DynamicTable* make_table(std::uint32_t max_size, std::pmr::memory_resource* mr) {
    return std::pmr::polymorphic_allocator<>(mr).new_object<detail::DynamicTable>(max_size, mr);
}
}  // namespace

Decoder::Decoder(const DecoderLimits& limits, std::pmr::memory_resource* mr)
    : limits_(limits),
      table_(no_table()),
      pending_(mr),
      scratch_(mr),
      // RFC 9113 §6.5.2: the table starts at SETTINGS_HEADER_TABLE_SIZE's
      // initial 4096 (or our limit, if lower); only size updates change it.
      required_update_max_(std::min<std::uint32_t>(limits.max_table_size, 4096)) {}

Decoder::~Decoder() {
    if (table_ != nullptr && table_ != no_table())
        std::pmr::polymorphic_allocator<>(pending_.get_allocator()).delete_object(table_);
}

Decoder::Decoder(Decoder&& o) noexcept
    : limits_(o.limits_),
      table_(std::exchange(o.table_, nullptr)),
      pending_(std::move(o.pending_)),
      scratch_(std::move(o.scratch_)),
      static_memo_(o.static_memo_),
      required_update_max_(o.required_update_max_),
      list_size_(o.list_size_),
      fatal_(o.fatal_),
      update_required_(o.update_required_),
      in_block_(o.in_block_),
      saw_field_(o.saw_field_),
      list_too_large_(o.list_too_large_) {}

Decoder& Decoder::operator=(Decoder&& o) noexcept {
    if (this != &o) {
        this->~Decoder();
        new (this) Decoder(std::move(o));
    }
    return *this;
}

std::uint32_t Decoder::table_size() const noexcept { return table_->size(); }
std::uint32_t Decoder::table_max_size() const noexcept {
    return table_ == no_table() ? required_update_max_ : table_->max_size();
}
std::size_t Decoder::table_entries() const noexcept { return table_->count(); }

void Decoder::set_max_table_size(std::uint32_t limit) {
    limits_.max_table_size = limit;
    // RFC 7541 §4.2: after the limit drops below the table's maximum, the next
    // block must start with an update to at most the smallest limit set.
    if (limit < table_max_size()) {
        if (table_ == no_table()) table_ = make_table(required_update_max_, pending_.get_allocator().resource());
        required_update_max_ = update_required_ ? std::min(required_update_max_, limit) : limit;
        update_required_ = true;
    }
}

Error Decoder::fail(Error e) {
    fatal_ = e;
    in_block_ = false;
    pending_.clear();
    return e;
}

Error Decoder::begin_field() const noexcept {
    // RFC 7541 §4.2: the required size update comes before the first field.
    return update_required_ ? Error::table_size_update_missing : Error::none;
}

inline bool Decoder::lookup(std::uint32_t index, std::string_view& name, std::string_view& value,
                            std::uint8_t*& memo) noexcept {
    // RFC 7541 §2.3.3: 1..61 static, then the dynamic table, newest first.
    if (index <= detail::kStaticTableSize) {
        name = detail::kStaticTable[index - 1].name;
        value = detail::kStaticTable[index - 1].value;
        memo = &static_memo_[index - 1];
        return true;
    }
    const std::size_t d = index - detail::kStaticTableSize - 1;
    if (d >= table_->count()) return false;
    name = table_->name(d);
    value = table_->value(d);
    memo = &table_->memo(d);
    return true;
}

inline Error Decoder::emit(std::string_view name, std::string_view value, bool never_indexed, std::uint8_t& memo,
                           FieldSink& on_field) {
    if (name.size() + value.size() > limits_.max_field_size) return Error::field_too_large;
    // RFC 9113 §6.5.2: the list size counts name + value + 32 per field.
    list_size_ += name.size() + value.size() + 32;
    if (list_size_ > limits_.max_header_list_size) list_too_large_ = true;
    if (!list_too_large_) on_field(Field{name, value, never_indexed}, memo);
    return Error::none;
}

Decoder::Status Decoder::decode_one(const std::uint8_t* const p, const std::uint8_t* const end, FieldSink& on_field) {
    const std::uint8_t* q = p;
    const auto failed = [](Error e) { return Status{Status::failed, e, 0}; };
    const auto int_status = [&](IntResult r) {
        return r == IntResult::need_more ? Status{Status::need_more, Error::none, std::size_t(q - p) + 1}
                                         : failed(Error::integer_overflow);
    };
    const std::uint8_t first = *p;
    std::uint32_t index = 0;

    if (first & 0x80) {
        // §6.1 Indexed Header Field.
        if (const IntResult r = read_integer(q, end, 7, index); r != IntResult::ok) return int_status(r);
        if (const Error e = begin_field(); e != Error::none) return failed(e);
        if (index == 0) return failed(Error::index_zero);
        std::string_view name, value;
        std::uint8_t* memo = nullptr;
        if (!lookup(index, name, value, memo)) return failed(Error::index_out_of_range);
        saw_field_ = true;
        if (const Error e = emit(name, value, false, *memo, on_field); e != Error::none) return failed(e);
        return {Status::done, Error::none, std::size_t(q - p)};
    }

    if ((first & 0xe0) == 0x20) {
        // §6.3 Dynamic Table Size Update.
        if (const IntResult r = read_integer(q, end, 5, index); r != IntResult::ok) return int_status(r);
        // §4.2: updates only at the beginning of a block.
        if (saw_field_) return failed(Error::table_size_update_misplaced);
        // §6.3: above the limit set by SETTINGS_HEADER_TABLE_SIZE is an error.
        if (index > limits_.max_table_size) return failed(Error::table_size_over_limit);
        if (update_required_ && index <= required_update_max_) update_required_ = false;
        if (table_ != no_table())
            table_->set_max_size(index);
        else
            required_update_max_ = index;  // (no update can be required without a table)
        return {Status::done, Error::none, std::size_t(q - p)};
    }

    // §6.2 Literal Header Field: with incremental indexing (01), without
    // indexing (0000) or never indexed (0001).
    const bool indexing = (first & 0x40) != 0;
    const bool never_indexed = !indexing && (first & 0x10) != 0;
    if (const IntResult r = read_integer(q, end, indexing ? 6 : 4, index); r != IntResult::ok) return int_status(r);

    // §5.2 String Literal: H bit, 7-bit-prefix length, data. Both strings
    // (the name when literal, then the value) must be complete before
    // anything is decoded.
    const auto read_string = [&](StringRef& s) -> Status {
        if (q == end) return {Status::need_more, Error::none, std::size_t(q - p) + 1};
        s.huffman = (*q & 0x80) != 0;
        if (const IntResult r = read_integer(q, end, 7, s.len); r != IntResult::ok) return int_status(r);
        if (s.len > limits_.max_field_size) return failed(Error::field_too_large);
        if (static_cast<std::size_t>(end - q) < s.len)
            return {Status::need_more, Error::none, std::size_t(q - p) + s.len};
        s.data = q;
        q += s.len;
        return {Status::done, Error::none, 0};
    };
    StringRef name_s, value_s;
    if (index == 0)
        if (const Status st = read_string(name_s); st.kind != Status::done) return st;
    if (const Status st = read_string(value_s); st.kind != Status::done) return st;
    // The representation is complete.
    if (const Error e = begin_field(); e != Error::none) return failed(e);

    std::string_view name, value;
    if (index != 0) {
        std::uint8_t* name_memo = nullptr;  // the name's entry: not this field's memo
        if (!lookup(index, name, value, name_memo)) return failed(Error::index_out_of_range);
    }
    // Huffman-coded strings go to scratch_, the value right after the name
    // (each may write slack past its end, which the next overwrites).
    const std::size_t room =
        (name_s.huffman ? huffman_capacity(name_s.len) : 0) + (value_s.huffman ? huffman_capacity(value_s.len) : 0);
    if (scratch_.size() < room) scratch_.resize(std::max(room, scratch_.size() * 2));
    std::uint8_t* out = scratch_.data();
    const auto take = [&](const StringRef& s, std::string_view& view) {
        if (!s.huffman) {
            view = {reinterpret_cast<const char*>(s.data), s.len};
            return Error::none;
        }
        Error e = Error::none;
        const std::size_t n = detail::huffman_decode_in(s.data, s.len, p, end, out, e);
        view = {reinterpret_cast<const char*>(out), n};
        out += n;
        return e;
    };
    if (index == 0)
        if (const Error e = take(name_s, name); e != Error::none) return failed(e);
    if (const Error e = take(value_s, value); e != Error::none) return failed(e);
    saw_field_ = true;
    std::uint8_t memo = 0;  // a new field: nothing known of it yet
    if (const Error e = emit(name, value, never_indexed, memo, on_field); e != Error::none) return failed(e);
    if (indexing) {  // §6.2.1
        if (table_ == no_table()) [[unlikely]]
            table_ = make_table(required_update_max_, pending_.get_allocator().resource());
        table_->insert(name, value, memo);
    }
    return {Status::done, Error::none, std::size_t(q - p)};
}

Error Decoder::decode(std::span<const std::uint8_t> fragment, bool end_of_block, FieldSink on_field) {
    if (fatal_ != Error::none) return fatal_;
    in_block_ = true;
    const std::uint8_t* p = fragment.data();
    const std::uint8_t* const end = p + fragment.size();

    // A representation left incomplete by the previous fragment: gather just
    // the bytes it needs, then go on from the fragment itself.
    while (!pending_.empty()) {
        const Status st = decode_one(pending_.data(), pending_.data() + pending_.size(), on_field);
        if (st.kind == Status::done) {
            pending_.clear();
            break;
        }
        if (st.kind == Status::failed) return fail(st.error);
        if (p == end) return end_of_block ? fail(Error::truncated) : Error::none;
        const std::size_t take = std::min(st.n - pending_.size(), static_cast<std::size_t>(end - p));
        pending_.insert(pending_.end(), p, p + take);
        p += take;
    }

    while (p < end) {
        // Fast path for the commonest representation: an indexed field whose
        // index fits the 7-bit prefix (§6.1).
        if (const std::uint8_t b = *p; b > 0x80 && b != 0xff && !update_required_) {
            std::string_view name, value;
            std::uint8_t* memo = nullptr;
            if (lookup(b & 0x7fu, name, value, memo)) {
                saw_field_ = true;
                if (const Error e = emit(name, value, false, *memo, on_field); e != Error::none) return fail(e);
                ++p;
                continue;
            }
        }
        const Status st = decode_one(p, end, on_field);
        if (st.kind == Status::done) {
            p += st.n;
            continue;
        }
        if (st.kind == Status::failed) return fail(st.error);
        pending_.assign(p, end);
        break;
    }

    if (!end_of_block) return Error::none;
    if (!pending_.empty()) return fail(Error::truncated);
    return finish_block();
}

Error Decoder::finish_block() {
    // §4.2: a block with neither fields nor the required update still misses it.
    if (update_required_) return fail(Error::table_size_update_missing);
    const bool too_large = list_too_large_;
    in_block_ = false;
    saw_field_ = false;
    list_too_large_ = false;
    list_size_ = 0;
    return too_large ? Error::header_list_too_large : Error::none;
}

}  // namespace h2wire::hpack
