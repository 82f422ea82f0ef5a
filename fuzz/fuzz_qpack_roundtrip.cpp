// Fuzz target: header lists built from the input go through the QPACK
// Encoder, under peer settings and an acknowledgment pattern the input picks,
// then through a Decoder with those settings; every list must come back
// exactly, and both ends must agree on the table.
//
// Input layout (bytes past the end read as zero):
//   u16 the peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY, big-endian
//   u8  the peer's SETTINGS_QPACK_BLOCKED_STREAMS
//   u16 EncoderOptions::max_table_capacity
//   u8  flags   bit 0: no Huffman
//               bit 1: each section reaches the decoder before the
//                      encoder-stream bytes written for it (it may block)
//               bit 2: the encoder stream and sections arrive byte by byte
//               bits 3-4: acknowledgments: 0 after every section, 1 only on
//                      an "ack" operation, 2 never, 3 after every section,
//                      byte by byte
//   then operations until the input ends, one byte each plus operands:
//     op % 8 == 0   end the list: encode it on the next stream, deliver,
//                   compare
//     op % 8 == 1   ack: the decoder stream so far reaches the encoder
//     op % 8 == 2   the next section is encoded but its stream is reset
//                   before it is decoded (Decoder::cancel on a blocked one)
//     otherwise     add a field:
//                   bits 3-4  name: 0 a common name (u8 picks), 1 literal
//                             (u8 length, then bytes), 2 the previous name,
//                             3 empty
//                   bit 5     value: literal with u16 length (up to 5000
//                             bytes, past small tables) instead of u8
//                   bit 6     Field::sensitive
//                   bit 7     value: a common value (u8 picks) instead of bytes
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "h2wire/qpack.hpp"

namespace {

namespace qpack = h2wire::qpack;

using Reader = FuzzInput;


struct Got {
    std::string name, value;
    bool sensitive;
};

class Pipe {
    // Collects the fields of the section being decoded.
    struct Collector {
        std::vector<Got>* got;
        void operator()(const h2wire::Field& f) const {
            got->push_back({std::string(f.name), std::string(f.value), f.sensitive});
        }
    };
    Collector collector() { return Collector{&got_}; }

public:
    Pipe(const qpack::EncoderOptions& options, std::uint32_t capacity, std::uint32_t blocked, unsigned flags)
        : encoder_(options), decoder_(limits(capacity, blocked)), flags_(flags) {
        encoder_.set_peer_settings(capacity, blocked);
        H2W_CHECK(encoder_.capacity() <= std::min(capacity, options.max_table_capacity));
    }

    void send(std::span<const h2wire::Field> fields, bool reset) {
        const std::uint64_t stream = 4 * streams_++;
        std::vector<std::uint8_t> section(qpack::Encoder::max_encoded_size(fields));
        const std::size_t n = encoder_.encode(stream, fields, section.data());
        H2W_CHECK(n <= section.size());
        section.resize(n);
        const std::vector<std::uint8_t> enc(encoder_.encoder_stream_output().begin(),
                                            encoder_.encoder_stream_output().end());
        encoder_.consume_encoder_stream_output(enc.size());
        H2W_CHECK(encoder_.blocked_streams() <= peer_blocked());
        if (decoder_.limits().max_table_capacity == 0) H2W_CHECK(enc.empty());

        auto& p = pending_.emplace_back();
        p.section = std::make_unique<qpack::Section>(stream);
        p.want.assign(fields.begin(), fields.end());
        if (flags_ & 2) {
            deliver_section(p, section, reset);
            deliver_encoder(enc);
        } else {
            deliver_encoder(enc);
            deliver_section(p, section, reset);
        }
        const unsigned ack = flags_ >> 3 & 3;
        if (ack == 0 || ack == 3) acknowledge(ack == 3);
        while (!pending_.empty() && !pending_.front().section) pending_.pop_front();
        // Nothing stays blocked once the encoder stream is in.
        H2W_CHECK(decoder_.blocked_sections() == 0);
        H2W_CHECK(decoder_.insert_count() == encoder_.insert_count());
        H2W_CHECK(decoder_.table_size() == encoder_.table_size());
        H2W_CHECK(decoder_.table_entries() == encoder_.table_entries());
        H2W_CHECK(decoder_.capacity() == encoder_.capacity());
        H2W_CHECK(encoder_.known_received_count() <= encoder_.insert_count());
    }

    void acknowledge(bool bytewise) {
        const std::vector<std::uint8_t> out(decoder_.decoder_stream_output().begin(),
                                            decoder_.decoder_stream_output().end());
        decoder_.consume_decoder_stream_output(out.size());
        if (bytewise) {
            for (std::size_t i = 0; i < out.size(); ++i)
                H2W_CHECK(encoder_.read_decoder_stream({&out[i], 1}) == qpack::Error::none);
        } else {
            H2W_CHECK(encoder_.read_decoder_stream(out) == qpack::Error::none);
        }
    }

private:
    struct Pending {
        std::unique_ptr<qpack::Section> section;
        std::vector<h2wire::Field> want;  // views of the caller's strings, alive until delivered
    };

    static qpack::DecoderLimits limits(std::uint32_t capacity, std::uint32_t blocked) {
        qpack::DecoderLimits l;
        l.max_table_capacity = capacity;
        l.max_blocked_streams = blocked;
        l.max_field_section_size = 1u << 30;
        l.max_field_size = 1u << 30;
        l.max_blocked_octets = 1u << 30;
        return l;
    }
    std::uint32_t peer_blocked() const { return decoder_.limits().max_blocked_streams; }

    void feed(std::span<const std::uint8_t> bytes, bool whole, auto&& call) {
        if (whole || !(flags_ & 4) || bytes.size() <= 1) {
            call(bytes, true);
            return;
        }
        for (std::size_t i = 0; i < bytes.size(); ++i) call(bytes.subspan(i, 1), i + 1 == bytes.size());
    }

    void deliver_encoder(std::span<const std::uint8_t> enc) {
        feed(enc, false, [&](std::span<const std::uint8_t> piece, bool) {
            H2W_CHECK(decoder_.read_encoder_stream(piece) == qpack::Error::none);
            while (qpack::Section* s = decoder_.next_unblocked()) {
                Pending* p = find(s);
                H2W_CHECK(p != nullptr);
                finish(*p, decoder_.decode(*s, {}, true, collector()));
            }
        });
    }

    void deliver_section(Pending& p, std::span<const std::uint8_t> section, bool reset) {
        got_.clear();
        if (reset) {
            // Half the section arrives, then the stream is reset.
            feed(section.first(section.size() / 2), false, [&](std::span<const std::uint8_t> piece, bool) {
                const qpack::Decoded d = decoder_.decode(*p.section, piece, false, collector());
                H2W_CHECK(d.error == qpack::Error::none);
                H2W_CHECK(d.status != qpack::Status::done);
            });
            decoder_.cancel(*p.section);
            H2W_CHECK(!p.section->blocked());
            p.section.reset();
            // The encoder hears of it through the Stream Cancellation; with
            // no acknowledgments at all, it forgets the stream itself.
            if ((flags_ >> 3 & 3) == 2) encoder_.forget_stream(4 * (streams_ - 1));
            return;
        }
        qpack::Decoded d;
        feed(section, false, [&](std::span<const std::uint8_t> piece, bool last) {
            d = decoder_.decode(*p.section, piece, last, collector());
            H2W_CHECK(d.error == qpack::Error::none);
            if (!last) H2W_CHECK(d.status != qpack::Status::done);
        });
        if (d.status == qpack::Status::blocked) {
            H2W_CHECK(peer_blocked() > 0);
            H2W_CHECK(got_.empty());
            H2W_CHECK(decoder_.blocked_sections() <= peer_blocked());
            return;
        }
        finish(p, d);
    }

    void finish(Pending& p, const qpack::Decoded& d) {
        H2W_CHECK(d.error == qpack::Error::none);
        H2W_CHECK(d.status == qpack::Status::done);
        H2W_CHECK(got_.size() == p.want.size());
        for (std::size_t i = 0; i < got_.size(); ++i) {
            H2W_CHECK(got_[i].name == p.want[i].name);
            H2W_CHECK(got_[i].value == p.want[i].value);
            if (p.want[i].sensitive) H2W_CHECK(got_[i].sensitive);
        }
        got_.clear();
        p.section.reset();
    }

    Pending* find(const qpack::Section* s) {
        for (Pending& p : pending_)
            if (p.section.get() == s) return &p;
        return nullptr;
    }

    qpack::Encoder encoder_;
    qpack::Decoder decoder_;
    std::deque<Pending> pending_;  // after decoder_: destroyed first
    std::vector<Got> got_;
    std::uint64_t streams_ = 0;
    unsigned flags_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in({data, size});
    const std::uint32_t peer_capacity = in.u16();
    const std::uint32_t peer_blocked = in.u8();
    qpack::EncoderOptions options;
    options.max_table_capacity = in.u16();
    const unsigned flags = in.u8();
    options.huffman = !(flags & 1);
    Pipe pipe(options, peer_capacity, peer_blocked, flags);

    std::deque<std::string> strings;  // stable storage for the fields' views
    std::vector<h2wire::Field> fields;
    bool reset_next = false;
    int lists = 0;
    while (!in.empty() && lists < 512) {
        const unsigned op = in.u8();
        if (op % 8 == 0) {
            pipe.send(fields, reset_next);
            reset_next = false;
            fields.clear();
            strings.clear();
            ++lists;
        } else if (op % 8 == 1) {
            if ((flags >> 3 & 3) != 2) pipe.acknowledge(false);
        } else if (op % 8 == 2) {
            reset_next = true;
        } else if (fields.size() < 256) {
            std::string_view name;
            switch ((op >> 3) & 3) {
                case 0:
                    name = kFuzzNames[in.u8() % kFuzzNames.size()];
                    break;
                case 1:
                    name = strings.emplace_back(in.text(in.u8()));
                    break;
                case 2:
                    name = fields.empty() ? std::string_view() : fields.back().name;
                    break;
                default:
                    break;
            }
            std::string_view value;
            if (op & 0x80)
                value = kFuzzValues[in.u8() % kFuzzValues.size()];
            else
                value = strings.emplace_back(in.text(op & 0x20 ? in.u16() % 5001u : in.u8()));
            fields.push_back(h2wire::Field{name, value, (op & 0x40) != 0});
        }
    }
    pipe.send(fields, false);
    return 0;
}
