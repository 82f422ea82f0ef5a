// The HTTP/3 frame reader: a resumable switch over Reader::State (see
// h3frame.hpp). Each call consumes input until it has one item to return or
// the input is exhausted. Also the unidirectional stream prefix reader.
#include <algorithm>

#include "h2wire/h3frame.hpp"

namespace h2wire::h3 {

namespace {

constexpr auto ft(FrameType t) noexcept {
    return static_cast<std::uint64_t>(t);
}

Error conn(ErrorCode code, std::string_view reason) noexcept {
    return Error{code, reason, ErrorScope::connection};
}

// Known frames other than DATA: buffered whole, then parsed.
bool is_buffered(std::uint64_t t) noexcept {
    return t == ft(FrameType::headers) || t == ft(FrameType::cancel_push) || t == ft(FrameType::settings) ||
           t == ft(FrameType::push_promise) || t == ft(FrameType::goaway) || t == ft(FrameType::max_push_id);
}

// A payload that must be exactly one varint (RFC 9114 §7.1, §7.2.3, §7.2.6,
// §7.2.7).
bool single_varint(Bytes payload, std::uint64_t& v) noexcept {
    const std::size_t n = read_varint(payload, v);
    return n != 0 && n == payload.size();
}

}  // namespace

Reader::Reader(const ReaderOptions& options, std::pmr::memory_resource* mr)
    : options_(options), buffer_(mr), settings_(mr), ids_(mr) {
    options_.max_frame_payload = std::min(options_.max_frame_payload, max_buffer_limit);
    options_.max_field_section = std::min(options_.max_field_section, max_buffer_limit);
}

void Reader::interim_response() noexcept {
    if (phase_ == Phase::headers) phase_ = Phase::start;
}

ReadResult& Reader::fail(ReadResult& r, Error e, std::size_t consumed) {
    state_ = State::failed;
    fatal_ = e;
    r.status = ReadStatus::error;
    r.error = e;
    r.consumed = consumed;
    return r;
}

std::optional<Error> Reader::finish() noexcept {
    if (state_ == State::failed) return fatal_;
    // RFC 9114 §6.2.1: closing the control stream is a connection error.
    if (options_.stream == StreamKind::control) {
        state_ = State::failed;
        fatal_ = conn(ErrorCode::h3_closed_critical_stream, "control stream closed");
        return fatal_;
    }
    // RFC 9114 §7.1: a truncated last frame is H3_FRAME_ERROR.
    if (!at_frame_boundary()) {
        state_ = State::failed;
        fatal_ = conn(ErrorCode::h3_frame_error, "stream ended inside a frame");
        return fatal_;
    }
    // RFC 9114 §4.1: a stream that ends before the message's HEADERS.
    if (options_.check_message && phase_ == Phase::start) {
        if (options_.peer == PeerRole::client)
            return Error{ErrorCode::h3_request_incomplete, "request stream ended before HEADERS", ErrorScope::stream};
        return Error{ErrorCode::h3_message_error, "stream ended before a response HEADERS", ErrorScope::stream};
    }
    return std::nullopt;
}

// Checks the frame whose type and length were just read, before any of its
// payload: where it may appear, the message sequence, and its length.
std::optional<Error> Reader::check_header() {
    const std::uint64_t t = current_.type;
    const std::uint64_t len = current_.length;
    const StreamKind k = options_.stream;

    if (k == StreamKind::control) {
        if (!settings_seen_) {
            // RFC 9114 §6.2.1: SETTINGS is the first frame of the control stream.
            if (t != ft(FrameType::settings))
                return conn(ErrorCode::h3_missing_settings, "first frame of the control stream is not SETTINGS");
            settings_seen_ = true;
        } else if (t == ft(FrameType::settings)) {
            // RFC 9114 §7.2.4: only once.
            return conn(ErrorCode::h3_frame_unexpected, "second SETTINGS on the control stream");
        }
    } else if (t == ft(FrameType::settings)) {
        // RFC 9114 §7.2.4: SETTINGS elsewhere than the control stream.
        return conn(ErrorCode::h3_frame_unexpected, "SETTINGS outside the control stream");
    }
    // RFC 9114 §7.2.8: the HTTP/2 types with no HTTP/3 meaning.
    if (is_http2_frame_type(t)) return conn(ErrorCode::h3_frame_unexpected, "HTTP/2 frame type");

    switch (static_cast<FrameType>(t)) {
        case FrameType::data:
        case FrameType::headers: {
            const bool headers = t == ft(FrameType::headers);
            // RFC 9114 §7.2.1, §7.2.2: never on the control stream.
            if (k == StreamKind::control)
                return conn(ErrorCode::h3_frame_unexpected,
                            headers ? "HEADERS on the control stream" : "DATA on the control stream");
            // RFC 9114 §10.5.1: the field section is buffered whole, within a limit.
            if (headers && len > options_.max_field_section)
                return conn(ErrorCode::h3_excessive_load, "HEADERS over the field section limit");
            if (!options_.check_message) break;
            // RFC 9114 §4.1: HEADERS, DATA*, optional trailing HEADERS, nothing
            // after; DATA before HEADERS and anything after trailers are
            // H3_FRAME_UNEXPECTED.
            switch (phase_) {
                case Phase::start:
                    if (!headers) return conn(ErrorCode::h3_frame_unexpected, "DATA before HEADERS");
                    phase_ = Phase::headers;
                    break;
                case Phase::headers:
                case Phase::body:
                    phase_ = headers ? Phase::trailers : Phase::body;
                    break;
                case Phase::trailers:
                    return conn(ErrorCode::h3_frame_unexpected,
                                headers ? "HEADERS after trailers" : "DATA after trailers");
            }
            break;
        }
        case FrameType::cancel_push:
        case FrameType::goaway:
        case FrameType::max_push_id:
            // RFC 9114 §7.2.3, §7.2.6, §7.2.7: control stream only.
            if (k != StreamKind::control)
                return conn(ErrorCode::h3_frame_unexpected, "control frame outside the control stream");
            // RFC 9114 §7.2.7: a server never sends MAX_PUSH_ID.
            if (t == ft(FrameType::max_push_id) && options_.peer == PeerRole::server)
                return conn(ErrorCode::h3_frame_unexpected, "MAX_PUSH_ID from a server");
            // RFC 9114 §7.1: the payload is exactly one varint, 1 to 8 octets.
            if (len == 0 || len > 8) return conn(ErrorCode::h3_frame_error, "payload is not one varint");
            break;
        case FrameType::settings:
            if (len > options_.max_frame_payload)
                return conn(ErrorCode::h3_excessive_load, "SETTINGS over the frame payload limit");
            break;
        case FrameType::push_promise:
            // RFC 9114 §7.2.5: request streams only, from a server only.
            if (k != StreamKind::request)
                return conn(ErrorCode::h3_frame_unexpected, "PUSH_PROMISE outside a request stream");
            if (options_.peer == PeerRole::client)
                return conn(ErrorCode::h3_frame_unexpected, "PUSH_PROMISE from a client");
            if (len == 0) return conn(ErrorCode::h3_frame_error, "PUSH_PROMISE without Push ID");
            if (len > 8 && len - 8 > options_.max_field_section)
                return conn(ErrorCode::h3_excessive_load, "PUSH_PROMISE over the field section limit");
            break;
    }
    return std::nullopt;
}

// Turns the complete payload of the current buffered frame into the result.
void Reader::finish_frame(ReadResult& r, Bytes payload) {
    const auto failed = [&](ErrorCode code, std::string_view reason) {
        state_ = State::failed;
        fatal_ = conn(code, reason);
        r.status = ReadStatus::error;
        r.error = fatal_;
    };
    r.status = ReadStatus::frame;
    std::uint64_t v = 0;
    switch (static_cast<FrameType>(current_.type)) {
        case FrameType::headers:
            r.frame = Headers{payload};
            return;
        case FrameType::cancel_push:
            if (!single_varint(payload, v)) return failed(ErrorCode::h3_frame_error, "CANCEL_PUSH payload");
            r.frame = CancelPush{v};
            return;
        case FrameType::goaway:
            if (!single_varint(payload, v)) return failed(ErrorCode::h3_frame_error, "GOAWAY payload");
            // RFC 9114 §5.2: from a server, a client-initiated bidirectional
            // stream id; never larger than an earlier GOAWAY's.
            if (options_.peer == PeerRole::server && v % 4 != 0)
                return failed(ErrorCode::h3_id_error, "GOAWAY id is not a request stream");
            if (last_goaway_ && v > *last_goaway_) return failed(ErrorCode::h3_id_error, "GOAWAY id increased");
            last_goaway_ = v;
            r.frame = Goaway{v};
            return;
        case FrameType::max_push_id:
            if (!single_varint(payload, v)) return failed(ErrorCode::h3_frame_error, "MAX_PUSH_ID payload");
            // RFC 9114 §7.2.7: MAX_PUSH_ID never decreases.
            if (last_max_push_id_ && v < *last_max_push_id_)
                return failed(ErrorCode::h3_id_error, "MAX_PUSH_ID decreased");
            last_max_push_id_ = v;
            r.frame = MaxPushId{v};
            return;
        case FrameType::push_promise: {
            const std::size_t n = read_varint(payload, v);
            if (n == 0) return failed(ErrorCode::h3_frame_error, "PUSH_PROMISE Push ID truncated");
            if (payload.size() - n > options_.max_field_section)
                return failed(ErrorCode::h3_excessive_load, "PUSH_PROMISE over the field section limit");
            r.frame = PushPromise{v, payload.subspan(n)};
            return;
        }
        case FrameType::settings: {
            settings_.clear();
            ids_.clear();
            std::size_t pos = 0;
            while (pos < payload.size()) {
                Setting s;
                const std::size_t a = read_varint(payload.subspan(pos), s.id);
                const std::size_t b = a == 0 ? 0 : read_varint(payload.subspan(pos + a), s.value);
                // RFC 9114 §7.1: a truncated identifier or value.
                if (b == 0) return failed(ErrorCode::h3_frame_error, "SETTINGS entry truncated");
                pos += a + b;
                // RFC 9114 §7.2.4.1: the HTTP/2 identifiers are reserved.
                if (is_http2_setting(s.id)) return failed(ErrorCode::h3_settings_error, "HTTP/2 setting identifier");
                // RFC 9297 §2.1.1, RFC 9220 §3 (RFC 8441 §3): 0 or 1.
                if (!is_valid_setting_value(s.id, s.value))
                    return failed(ErrorCode::h3_settings_error, "setting value not 0 or 1");
                if (settings_.size() == options_.max_settings)
                    return failed(ErrorCode::h3_excessive_load, "too many SETTINGS entries");
                settings_.push_back(s);
                ids_.push_back(s.id);
            }
            // RFC 9114 §7.2.4.1: no identifier twice. Sorting keeps the check
            // O(n log n) for n at most max_settings.
            std::sort(ids_.begin(), ids_.end());
            if (std::adjacent_find(ids_.begin(), ids_.end()) != ids_.end())
                return failed(ErrorCode::h3_settings_error, "duplicate setting identifier");
            r.frame = Settings{settings_, std::nullopt};
            return;
        }
        case FrameType::data:
            break;
    }
    failed(ErrorCode::h3_internal_error, "not a buffered frame");  // unreachable: is_buffered()
}

ReadResult Reader::read(Bytes input) {
    ReadResult r;
    std::size_t pos = 0;
    const std::size_t size = input.size();
    const auto done = [&]() -> ReadResult& {
        r.consumed = pos;
        r.header = current_;
        return r;
    };
    const auto need_input = [&] {
        ReadResult n;
        n.consumed = size;
        return n;
    };

    for (;;) {
        switch (state_) {
            case State::failed:
                r.status = ReadStatus::error;
                r.error = fatal_;
                r.consumed = pos;
                return r;

            case State::type:
                // The Type varint, possibly split (RFC 9114 §7.1).
                pos += varint_.read(input.subspan(pos));
                if (!varint_.done()) return need_input();
                current_.type = varint_.value();
                varint_.reset();
                state_ = State::length;
                [[fallthrough]];

            case State::length: {
                // The Length varint; then the frame is checked and dispatched
                // before any payload octet is looked at.
                pos += varint_.read(input.subspan(pos));
                if (!varint_.done()) return need_input();
                current_.length = varint_.value();
                varint_.reset();
                if (auto e = check_header()) {
                    r.header = current_;
                    return fail(r, *e, pos);
                }
                const std::uint64_t len = current_.length;
                if (current_.type == ft(FrameType::data)) {
                    state_ = State::data;
                    remaining_ = len;
                    data_first_ = true;
                    break;
                }
                if (!is_buffered(current_.type)) {
                    // RFC 9114 §9: unknown and grease types are ignored; the
                    // payload is skipped as it arrives, never held.
                    r.status = ReadStatus::unknown_frame;
                    remaining_ = len;
                    state_ = len == 0 ? State::type : State::skip;
                    return done();
                }
                // check_header() bounded `len` by a configured limit.
                if (size - pos >= len) {
                    const Bytes payload = input.subspan(pos, static_cast<std::size_t>(len));
                    pos += static_cast<std::size_t>(len);
                    state_ = State::type;
                    finish_frame(r, payload);
                    return done();
                }
                buffer_.clear();
                // Room grows with what arrives, not with what is declared: a
                // peer that declares a large frame and sends little makes us
                // hold little (at most twice what it sent, past 512 octets).
                buffer_.reserve(std::min<std::size_t>(static_cast<std::size_t>(len), std::max<std::size_t>(size - pos, 512)));
                state_ = State::payload;
                [[fallthrough]];
            }

            case State::payload: {
                // Buffering a split payload, up to its checked length.
                const std::size_t want = static_cast<std::size_t>(current_.length) - buffer_.size();
                const std::size_t take = std::min(want, size - pos);
                buffer_.insert(buffer_.end(), input.begin() + static_cast<std::ptrdiff_t>(pos),
                               input.begin() + static_cast<std::ptrdiff_t>(pos + take));
                pos += take;
                if (take < want) return need_input();
                state_ = State::type;
                finish_frame(r, buffer_);
                return done();
            }

            case State::data: {
                // DATA payload as views of the input; an empty frame still
                // yields one (empty) chunk.
                const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, size - pos));
                if (take == 0 && !(data_first_ && remaining_ == 0)) return need_input();
                r.status = ReadStatus::data;
                r.data = DataChunk{input.subspan(pos, take), data_first_, take == remaining_};
                data_first_ = false;
                remaining_ -= take;
                pos += take;
                if (remaining_ == 0) state_ = State::type;
                return done();
            }

            case State::skip: {
                // The rest of an unknown frame: bounded work, no memory.
                const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, size - pos));
                pos += take;
                remaining_ -= take;
                if (remaining_ != 0) return need_input();
                state_ = State::type;
                break;
            }
        }
    }
}

std::size_t StreamHeaderReader::read(Bytes in) noexcept {
    if (done_ || error_) return 0;
    std::size_t pos = 0;
    if (!have_type_) {
        // RFC 9114 §6.2: the stream type.
        pos += varint_.read(in);
        if (!varint_.done()) return pos;
        type_ = varint_.value();
        varint_.reset();
        have_type_ = true;
        if (type_ != static_cast<std::uint64_t>(StreamType::push)) {
            done_ = true;
            return pos;
        }
        // RFC 9114 §6.2.2: only servers push.
        if (peer_ == PeerRole::client) {
            error_ = conn(ErrorCode::h3_stream_creation_error, "push stream from a client");
            return pos;
        }
    }
    // RFC 9114 §4.6: a push stream's Push ID follows its type.
    pos += varint_.read(in.subspan(pos));
    if (!varint_.done()) return pos;
    push_id_ = varint_.value();
    done_ = true;
    return pos;
}

}  // namespace h2wire::h3
