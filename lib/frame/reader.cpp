// The incremental frame reader: a resumable switch over State (see
// frame.hpp). Each call consumes input until it has one item to return or
// the input is exhausted.
#include <algorithm>
#include <cstring>
#include <utility>

#include "frame/parse.hpp"
#include "h2wire/frame.hpp"

namespace h2wire::frame {

namespace {
std::uint32_t clamp_frame_size(std::uint32_t v) noexcept {
    return std::clamp(v, min_max_frame_size, max_max_frame_size);
}
}  // namespace

Reader::Reader(const ReaderOptions& options, std::pmr::memory_resource* mr) : options_(options), mr_(mr) {
    options_.max_frame_size = clamp_frame_size(options_.max_frame_size);
}

Reader::~Reader() {
    if (buffer_) mr_->deallocate(buffer_, capacity_, 1);
}

Reader::Reader(Reader&& o) noexcept
    : options_(o.options_),
      state_(o.state_),
      header_have_(o.header_have_),
      header_bytes_(o.header_bytes_),
      current_(o.current_),
      remaining_(o.remaining_),
      pad_remaining_(o.pad_remaining_),
      pad_length_(o.pad_length_),
      data_first_(o.data_first_),
      block_stream_(o.block_stream_),
      fatal_(o.fatal_),
      mr_(o.mr_),
      buffer_(std::exchange(o.buffer_, nullptr)),
      capacity_(std::exchange(o.capacity_, 0)) {}

Reader& Reader::operator=(Reader&& o) noexcept {
    if (this == &o) return *this;
    if (buffer_) mr_->deallocate(buffer_, capacity_, 1);
    options_ = o.options_;
    state_ = o.state_;
    header_have_ = o.header_have_;
    header_bytes_ = o.header_bytes_;
    current_ = o.current_;
    remaining_ = o.remaining_;
    pad_remaining_ = o.pad_remaining_;
    pad_length_ = o.pad_length_;
    data_first_ = o.data_first_;
    block_stream_ = o.block_stream_;
    fatal_ = o.fatal_;
    mr_ = o.mr_;
    buffer_ = std::exchange(o.buffer_, nullptr);
    capacity_ = std::exchange(o.capacity_, 0);
    return *this;
}

void Reader::set_max_frame_size(std::uint32_t size) noexcept {
    options_.max_frame_size = clamp_frame_size(size);
}

void Reader::reset() noexcept {
    state_ = State::header;
    header_have_ = 0;
    remaining_ = 0;
    pad_remaining_ = 0;
    block_stream_ = 0;
    fatal_ = {};
}

ReadResult Reader::fail(ReadResult& r, const std::uint8_t* begin, const std::uint8_t* p) {
    state_ = State::failed;
    r.status = ReadStatus::connection_error;
    r.connection_error = fatal_;
    r.consumed = static_cast<std::size_t>(p - begin);
    return r;
}

// Turns the complete payload of the current non-DATA frame into the result.
void Reader::finish_frame(ReadResult& r, Bytes payload) {
    const detail::FrameCheck c = detail::parse_payload(current_, payload, options_, r.frame);
    switch (c.kind) {
        case detail::FrameCheck::Kind::ok:
            r.status = ReadStatus::frame;
            if (options_.check_continuation) {
                // Open or close the header block (RFC 9113 §6.2, §6.6, §6.10).
                const Type t = current_.type;
                if (t == Type::headers || t == Type::push_promise || t == Type::continuation)
                    block_stream_ = current_.has(flags::end_headers) ? 0 : current_.stream_id;
            }
            state_ = State::header;
            break;
        case detail::FrameCheck::Kind::stream_error:
            r.status = ReadStatus::stream_error;
            r.stream_error = StreamError{c.code, current_.stream_id, c.reason};
            state_ = State::header;
            break;
        case detail::FrameCheck::Kind::connection_error:
            r.status = ReadStatus::connection_error;
            fatal_ = ConnectionError{c.code, c.reason, current_.stream_id};
            r.connection_error = fatal_;
            state_ = State::failed;
            break;
    }
}

ReadResult Reader::read(Bytes input) {
    ReadResult r;
    const std::uint8_t* const begin = input.data();
    const std::uint8_t* p = begin;
    const std::uint8_t* const end = begin + input.size();
    auto consumed = [&] { return static_cast<std::size_t>(p - begin); };
    auto need_input = [&] {
        r.status = ReadStatus::need_input;
        r.consumed = consumed();
        return r;
    };

    for (;;) {
        switch (state_) {
            case State::failed:
                // A connection error is final (RFC 9113 §5.4.1).
                r.status = ReadStatus::connection_error;
                r.connection_error = fatal_;
                r.consumed = consumed();
                return r;

            case State::header: {
                // Collect the 9-octet header: straight from the input when it is
                // all there, else through header_bytes_.
                if (header_have_ == 0 && static_cast<std::size_t>(end - p) >= header_size) {
                    current_ = parse_header(p);
                    p += header_size;
                } else {
                    const auto n = std::min<std::size_t>(header_size - header_have_, static_cast<std::size_t>(end - p));
                    if (n) std::memcpy(header_bytes_.data() + header_have_, p, n);
                    p += n;
                    header_have_ = static_cast<std::uint8_t>(header_have_ + n);
                    if (header_have_ < header_size) return need_input();
                    header_have_ = 0;
                    current_ = parse_header(header_bytes_.data());
                }
                r.header = current_;

                const detail::FrameCheck c = detail::check_header(current_, options_, block_stream_);
                if (c.kind == detail::FrameCheck::Kind::connection_error) {
                    fatal_ = ConnectionError{c.code, c.reason, current_.stream_id};
                    return fail(r, begin, p);
                }
                if (c.kind == detail::FrameCheck::Kind::stream_error) {
                    // Report now; the payload is discarded as it arrives.
                    r.status = ReadStatus::stream_error;
                    r.stream_error = StreamError{c.code, current_.stream_id, c.reason};
                    r.consumed = consumed();
                    remaining_ = current_.length;
                    state_ = remaining_ ? State::skip : State::header;
                    return r;
                }

                if (current_.type == Type::data) {
                    data_first_ = true;
                    pad_length_.reset();
                    pad_remaining_ = 0;
                    if (current_.has(flags::padded)) {
                        state_ = State::data_pad_length;
                    } else {
                        remaining_ = current_.length;
                        state_ = State::data_payload;
                    }
                    continue;
                }

                // A non-DATA frame whose payload is all in the input is parsed in
                // place (zero copy); otherwise it is buffered.
                if (static_cast<std::size_t>(end - p) >= current_.length) {
                    const Bytes payload(p, current_.length);
                    p += current_.length;
                    finish_frame(r, payload);
                    r.consumed = consumed();
                    return r;
                }
                if (capacity_ < current_.length) {
                    // Grow geometrically (bounded by the frame size limit) so a
                    // series of growing frames allocates a few times only.
                    const std::size_t want = std::max<std::size_t>(
                        current_.length, std::min<std::size_t>(2 * capacity_, options_.max_frame_size));
                    if (buffer_) mr_->deallocate(buffer_, capacity_, 1);
                    buffer_ = nullptr;
                    capacity_ = 0;
                    buffer_ = static_cast<std::uint8_t*>(mr_->allocate(want, 1));
                    capacity_ = want;
                }
                remaining_ = 0;
                state_ = State::payload;
                [[fallthrough]];
            }

            case State::payload: {
                // Buffer the payload; remaining_ counts the octets held so far.
                const auto n = std::min<std::size_t>(current_.length - remaining_, static_cast<std::size_t>(end - p));
                if (n) std::memcpy(buffer_ + remaining_, p, n);
                p += n;
                remaining_ += static_cast<std::uint32_t>(n);
                if (remaining_ < current_.length) return need_input();
                r.header = current_;
                finish_frame(r, Bytes(buffer_, current_.length));
                r.consumed = consumed();
                return r;
            }

            case State::data_pad_length: {
                if (p == end) return need_input();
                const std::uint8_t pad = *p++;
                // RFC 9113 §6.1: padding as long as the payload or longer is a
                // connection PROTOCOL_ERROR.
                if (pad >= current_.length) {
                    fatal_ = ConnectionError{ErrorCode::protocol_error, "padding exceeds the frame payload",
                                             current_.stream_id};
                    r.header = current_;
                    return fail(r, begin, p);
                }
                pad_length_ = pad;
                pad_remaining_ = pad;
                remaining_ = current_.length - 1 - pad;
                state_ = State::data_payload;
                [[fallthrough]];
            }

            case State::data_payload:
            case State::data_padding: {
                // Hand out the Data octets present, then swallow padding; the
                // chunk that ends the frame carries `last`.
                const auto n = std::min<std::size_t>(remaining_, static_cast<std::size_t>(end - p));
                const Bytes chunk(p, n);
                p += n;
                remaining_ -= static_cast<std::uint32_t>(n);
                if (remaining_ == 0) {
                    const auto m = std::min<std::size_t>(pad_remaining_, static_cast<std::size_t>(end - p));
                    p += m;
                    pad_remaining_ -= static_cast<std::uint32_t>(m);
                }
                const bool last = remaining_ == 0 && pad_remaining_ == 0;
                if (n == 0 && !last) {
                    state_ = remaining_ ? State::data_payload : State::data_padding;
                    return need_input();
                }
                r.status = ReadStatus::data;
                r.header = current_;
                r.data.stream_id = current_.stream_id;
                r.data.data = chunk;
                r.data.first = data_first_;
                r.data.last = last;
                r.data.end_stream = last && current_.has(flags::end_stream);
                // RFC 9113 §6.1: the entire payload, padding included, is flow
                // controlled; charged once, on the first chunk.
                r.data.flow_controlled_length = data_first_ ? current_.length : 0;
                r.data.pad_length = pad_length_;
                data_first_ = false;
                state_ = last ? State::header : (remaining_ ? State::data_payload : State::data_padding);
                r.consumed = consumed();
                return r;
            }

            case State::skip: {
                // Discard the rest of a frame that caused a stream error.
                const auto n = std::min<std::size_t>(remaining_, static_cast<std::size_t>(end - p));
                p += n;
                remaining_ -= static_cast<std::uint32_t>(n);
                if (remaining_) return need_input();
                state_ = State::header;
                continue;
            }
        }
    }
}

}  // namespace h2wire::frame
