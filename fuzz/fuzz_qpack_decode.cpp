// Fuzz target: the QPACK decoder on arbitrary encoder-stream bytes and field
// sections, interleaved as the input says, on up to 16 streams at once.
//
// Input layout (bytes past the end read as zero):
//   u16 max_table_capacity     DecoderLimits, big-endian
//   u8  max_blocked_streams
//   u16 max_field_size         0 means 64 KiB
//   u8  flags   bit 0: assume_capacity(max_table_capacity) first
//   records until the input ends:
//     u8  kind    kind % 4 == 0  encoder-stream bytes
//                 kind % 4 == 1  the last piece of a section on stream
//                                slot kind / 4 % 16
//                 kind % 4 == 2  a piece (not the last) of a section there
//                 kind % 4 == 3  cancel the section there
//     u16 length, then up to `length` bytes (none for a cancel)
//
// Two decoders get the same records: one as they come, the other byte by
// byte (encoder stream and section pieces alike). After every record both
// must be in the same state (error class, insert count, table, blocked
// sections), and each stream slot must have had the same fields reported.
// Blocked sections are finished through next_unblocked() after every read.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "h2wire/qpack.hpp"

namespace {

namespace qpack = h2wire::qpack;

using Reader = FuzzInput;

constexpr std::size_t kSlots = 16;

// One decoder and its sections, with a log of what each slot reported.
class Side {
    // Logs each field reported for one slot.
    struct Sink {
        Side* side;
        std::size_t slot;
        void operator()(const h2wire::Field& f) const {
            H2W_CHECK(f.name.size() + f.value.size() <= side->decoder_.limits().max_field_size);
            std::string& l = side->log_[slot];
            l += std::to_string(f.name.size()) + ":";
            l.append(f.name);
            l += std::to_string(f.value.size()) + ":";
            l.append(f.value);
            l += f.sensitive ? "!" : ";";
        }
    };
    Sink sink(std::size_t slot) { return Sink{this, slot}; }

public:
    Side(const qpack::DecoderLimits& limits, bool bytewise) : decoder_(limits), bytewise_(bytewise) {}

    void encoder_stream(std::span<const std::uint8_t> bytes) {
        if (!bytewise_) {
            note(decoder_.read_encoder_stream(bytes));
            drain();
            return;
        }
        for (std::size_t i = 0; i < bytes.size(); ++i) {
            note(decoder_.read_encoder_stream(bytes.subspan(i, 1)));
            drain();
        }
        if (bytes.empty()) note(decoder_.read_encoder_stream(bytes));
    }

    void piece(std::size_t slot, std::span<const std::uint8_t> bytes, bool end) {
        auto& s = slots_[slot];
        if (s && (s->blocked() || ended_[slot])) return;  // waiting for inserts: a new section must wait
        if (!s) {
            s = std::make_unique<qpack::Section>(slot);
            ended_[slot] = false;
            log_[slot] += "[";
        }
        std::vector<std::span<const std::uint8_t>> pieces;
        if (!bytewise_ || bytes.size() <= 1) {
            pieces.push_back(bytes);
        } else {
            for (std::size_t i = 0; i < bytes.size(); ++i) pieces.push_back(bytes.subspan(i, 1));
        }
        qpack::Decoded d;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            const bool last = end && i + 1 == pieces.size();
            d = decoder_.decode(*s, pieces[i], last, sink(slot));
            note(d.error);
            if (d.error != qpack::Error::none) break;
            // Pieces before the last never finish the section.
            if (!last) H2W_CHECK(d.status != qpack::Status::done);
        }
        if (end) ended_[slot] = true;
        finish(slot, d);
    }

    void cancel(std::size_t slot) {
        if (!slots_[slot]) return;
        decoder_.cancel(*slots_[slot]);
        H2W_CHECK(!slots_[slot]->blocked());
        log_[slot] += "cancel]";
        slots_[slot].reset();
    }

    void assume_capacity(std::uint32_t capacity) {
        decoder_.assume_capacity(capacity);
        H2W_CHECK(decoder_.capacity() == capacity);
    }
    const qpack::Decoder& decoder() const { return decoder_; }
    const std::array<std::string, kSlots>& log() const { return log_; }
    qpack::Error fatal() const { return fatal_; }
    void take_output() { decoder_.consume_decoder_stream_output(decoder_.decoder_stream_output().size()); }

private:
    void note(qpack::Error e) {
        if (qpack::is_fatal(e)) {
            // The first fatal error is returned again by every later call.
            if (fatal_ == qpack::Error::none) fatal_ = e;
            H2W_CHECK(e == fatal_);
        }
        H2W_CHECK(decoder_.blocked_sections() <= decoder_.limits().max_blocked_streams);
        H2W_CHECK(decoder_.blocked_octets() <= decoder_.limits().max_blocked_octets);
        H2W_CHECK(decoder_.table_size() <= decoder_.capacity());
        H2W_CHECK(decoder_.capacity() <= decoder_.limits().max_table_capacity);
    }

    void finish(std::size_t slot, const qpack::Decoded& d) {
        auto& s = slots_[slot];
        if (d.error != qpack::Error::none || d.status == qpack::Status::done) {
            H2W_CHECK(!s->blocked());
            log_[slot] +=
                d.error == qpack::Error::none ? "done]" : "error " + std::to_string(qpack::error_code(d.error)) + "]";
            s.reset();
        } else if (d.status == qpack::Status::blocked) {
            H2W_CHECK(s->blocked());
            H2W_CHECK(s->required_insert_count() > decoder_.insert_count());
        }
    }

    void drain() {
        if (fatal_ != qpack::Error::none) return;  // the connection is closing
        while (qpack::Section* s = decoder_.next_unblocked()) {
            const std::size_t slot = s->stream_id();
            H2W_CHECK(slot < kSlots && slots_[slot].get() == s);
            H2W_CHECK(s->required_insert_count() <= decoder_.insert_count());
            const qpack::Decoded d = decoder_.decode(*s, {}, true, sink(slot));
            note(d.error);
            H2W_CHECK(d.status == qpack::Status::done);
            finish(slot, d);
            if (fatal_ != qpack::Error::none) return;
        }
    }

    qpack::Decoder decoder_;
    bool bytewise_;
    std::array<std::unique_ptr<qpack::Section>, kSlots> slots_;  // after decoder_: destroyed first
    std::array<bool, kSlots> ended_{};
    std::array<std::string, kSlots> log_;
    qpack::Error fatal_ = qpack::Error::none;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in({data, std::min<std::size_t>(size, 1u << 18)});
    qpack::DecoderLimits limits;
    limits.max_table_capacity = in.u16();
    limits.max_blocked_streams = in.u8();
    const std::uint16_t field = in.u16();
    limits.max_field_size = field == 0 ? 64 * 1024 : field;
    // Large enough that holding a section in pieces never trips them.
    limits.max_field_section_size = 1u << 20;
    limits.max_blocked_octets = 1u << 20;
    const unsigned flags = in.u8();

    Side whole(limits, false), bytes(limits, true);
    if (flags & 1) {
        whole.assume_capacity(limits.max_table_capacity);
        bytes.assume_capacity(limits.max_table_capacity);
    }

    int records = 0;
    while (!in.empty() && records++ < 4096) {
        const unsigned kind = in.u8();
        const std::size_t slot = kind / 4 % kSlots;
        std::span<const std::uint8_t> payload;
        if (kind % 4 != 3) payload = in.bytes(in.u16());
        for (Side* side : {&whole, &bytes}) {
            switch (kind % 4) {
                case 0:
                    side->encoder_stream(payload);
                    break;
                case 1:
                    side->piece(slot, payload, true);
                    break;
                case 2:
                    side->piece(slot, payload, false);
                    break;
                default:
                    side->cancel(slot);
                    break;
            }
            side->take_output();
        }
        // The same state, whatever the cuts. One exception: a blocked
        // section is decoded as soon as its inserts are in when the encoder
        // stream comes byte by byte, but after the whole record otherwise,
        // so a hostile encoder that evicts what it references, or that
        // errs later in the same record, can make the two sides differ on
        // a section error (0x200).
        if (whole.fatal() != qpack::Error::none || bytes.fatal() != qpack::Error::none) {
            if (qpack::error_code(whole.fatal()) != qpack::error_code(bytes.fatal()))
                H2W_CHECK(qpack::error_code(whole.fatal()) == qpack::kDecompressionFailed ||
                          qpack::error_code(bytes.fatal()) == qpack::kDecompressionFailed);
            break;
        }
        H2W_CHECK(whole.decoder().insert_count() == bytes.decoder().insert_count());
        H2W_CHECK(whole.decoder().capacity() == bytes.decoder().capacity());
        H2W_CHECK(whole.decoder().table_size() == bytes.decoder().table_size());
        H2W_CHECK(whole.decoder().table_entries() == bytes.decoder().table_entries());
        H2W_CHECK(whole.decoder().blocked_sections() == bytes.decoder().blocked_sections());
        H2W_CHECK(whole.log() == bytes.log());
    }
    return 0;
}
