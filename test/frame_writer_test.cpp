// Frame writers: exact bytes against hand-built frames, every refusal of the
// checked writers, the unchecked raw writer, split header blocks, and a
// write -> read round trip of every frame type with random field values.
#include <doctest/doctest.h>

#include <memory_resource>
#include <random>
#include <string>
#include <vector>

#include "h2wire/frame.hpp"
#include "support/frame_builder.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::frame_test;
using frame::Type;
using frame::WriteError;
namespace fl = frame::flags;

// Writes `f` with the checked writer and returns the bytes, checking that
// encoded_size() agrees and that a buffer one octet short is refused.
template <class F>
ByteVec written(const F& f, std::uint32_t max = frame::default_max_frame_size) {
    const std::size_t size = frame::encoded_size(f);
    ByteVec out(size);
    const frame::WriteResult r = frame::write(out, f, max);
    REQUIRE_MESSAGE(r, to_string(r.error));
    CHECK(r.size == size);
    ByteVec short_buf(size - 1);
    CHECK(frame::write(short_buf, f, max).error == WriteError::buffer_too_small);
    return out;
}

template <class F>
WriteError refusal(const F& f, std::uint32_t max = frame::default_max_frame_size) {
    ByteVec out(frame::encoded_size(f) + 64, 0xee);
    const frame::WriteResult r = frame::write(out, f, max);
    CHECK(r.size == 0);
    // Nothing written on error.
    for (const std::uint8_t b : out) REQUIRE(b == 0xee);
    return r.error;
}

const std::uint8_t opaque[8] = {1, 2, 3, 4, 5, 6, 7, 8};

TEST_CASE("frame writer: exact bytes of every frame type") {
    const ByteVec block = unhex("828684");
    CHECK(written(frame::Data{1, true, std::nullopt, as_bytes("hi")}) ==
          ByteVec(FrameBuilder(Type::data, fl::end_stream, 1).str("hi")));
    CHECK(written(frame::Data{3, false, frame::Padding{2, {}}, as_bytes("x")}) ==
          ByteVec(FrameBuilder(Type::data, fl::padded, 3).u8(2).str("x").zeros(2)));
    CHECK(written(frame::Headers{5, true, true, std::nullopt, std::nullopt, block}) ==
          ByteVec(FrameBuilder(Type::headers, fl::end_stream | fl::end_headers, 5).bytes(block)));
    CHECK(written(frame::Headers{5, false, false, frame::PriorityFields{true, 3, 200}, frame::Padding{1, as_bytes("P")},
                                 block}) == ByteVec(FrameBuilder(Type::headers, fl::priority | fl::padded, 5)
                                                        .u8(1)
                                                        .u32(0x80000003)
                                                        .u8(200)
                                                        .bytes(block)
                                                        .str("P")));
    CHECK(written(frame::Priority{7, {false, 0x7fffffff, 0}}) ==
          ByteVec(FrameBuilder(Type::priority, 0, 7).u32(0x7fffffff).u8(0)));
    CHECK(written(frame::RstStream{9, ErrorCode::cancel}) == ByteVec(FrameBuilder(Type::rst_stream, 0, 9).u32(8)));
    CHECK(written(frame::RstStream{9, static_cast<ErrorCode>(0xabcdef)}) ==
          ByteVec(FrameBuilder(Type::rst_stream, 0, 9).u32(0xabcdef)));
    const Setting list[] = {{SettingId::header_table_size, 0},
                            {SettingId::max_frame_size, 1 << 20},
                            {static_cast<SettingId>(0x1234), 0xffffffff}};
    CHECK(written(frame::Settings{false, list}) ==
          ByteVec(FrameBuilder(Type::settings, 0, 0).setting(1, 0).setting(5, 1 << 20).setting(0x1234, 0xffffffff)));
    CHECK(written(frame::Settings{true, {}}) == ByteVec(FrameBuilder(Type::settings, fl::ack, 0)));
    CHECK(written(frame::PushPromise{1, true, 2, std::nullopt, block}) ==
          ByteVec(FrameBuilder(Type::push_promise, fl::end_headers, 1).u32(2).bytes(block)));
    CHECK(written(frame::PushPromise{1, false, 4, frame::Padding{3, {}}, {}}) ==
          ByteVec(FrameBuilder(Type::push_promise, fl::padded, 1).u8(3).u32(4).zeros(3)));
    frame::Ping ping{true, {}};
    std::copy(std::begin(opaque), std::end(opaque), ping.opaque_data.begin());
    CHECK(written(ping) == ByteVec(FrameBuilder(Type::ping, fl::ack, 0).bytes(opaque)));
    CHECK(written(frame::Goaway{0x7fffffff, ErrorCode::enhance_your_calm, as_bytes("calm")}) ==
          ByteVec(FrameBuilder(Type::goaway, 0, 0).u32(0x7fffffff).u32(0xb).str("calm")));
    CHECK(written(frame::WindowUpdate{0, 0x7fffffff}) ==
          ByteVec(FrameBuilder(Type::window_update, 0, 0).u32(0x7fffffff)));
    CHECK(written(frame::Continuation{11, true, block}) ==
          ByteVec(FrameBuilder(Type::continuation, fl::end_headers, 11).bytes(block)));
    CHECK(written(frame::Altsvc{0, "https://a.example", "h2=\":443\""}) ==
          ByteVec(FrameBuilder(Type::altsvc, 0, 0).u16(17).str("https://a.example").str("h2=\":443\"")));
    CHECK(written(frame::Altsvc{3, "", "clear"}) == ByteVec(FrameBuilder(Type::altsvc, 0, 3).u16(0).str("clear")));
    const std::string_view origins[] = {"https://a.example", "https://b.example:8443"};
    CHECK(written(frame::Origin{origins}) ==
          ByteVec(FrameBuilder(Type::origin, 0, 0).u16(17).str(origins[0]).u16(22).str(origins[1])));
    CHECK(written(frame::Origin{}) == ByteVec(FrameBuilder(Type::origin, 0, 0)));
    CHECK(written(frame::PriorityUpdate{5, "u=0, i"}) ==
          ByteVec(FrameBuilder(Type::priority_update, 0, 0).u32(5).str("u=0, i")));
    CHECK(written(frame::Unknown{0xee, 0xff, 0x7fffffff, as_bytes("zz")}) ==
          ByteVec(FrameBuilder(0xee, 0xff, 0x7fffffff).str("zz")));
}

TEST_CASE("frame writer: checked writers refuse invalid frames") {
    const ByteVec big(16385);
    const Setting bad_push[] = {{SettingId::enable_push, 2}};
    const Setting bad_window[] = {{SettingId::initial_window_size, 0x80000000u}};
    const Setting bad_size[] = {{SettingId::max_frame_size, 100}};
    const Setting bad_connect[] = {{SettingId::enable_connect_protocol, 5}};
    const Setting one[] = {{SettingId::header_table_size, 0}};
    const std::string long_origin(70000, 'a');
    const std::string_view long_list[] = {long_origin};

    CHECK(refusal(frame::Data{0, false, std::nullopt, {}}) == WriteError::stream_id_required);
    CHECK(refusal(frame::Data{0x80000000u, false, std::nullopt, {}}) == WriteError::invalid_stream_id);
    CHECK(refusal(frame::Data{1, false, std::nullopt, big}) == WriteError::frame_too_large);
    CHECK(refusal(frame::Data{1, false, frame::Padding{0, {}}, std::span<const std::uint8_t>(big).first(16384)}) ==
          WriteError::frame_too_large);
    CHECK(refusal(frame::Data{1, false, frame::Padding{4, as_bytes("abc")}, {}}) == WriteError::invalid_padding);
    CHECK(refusal(frame::Headers{0, false, true, std::nullopt, std::nullopt, {}}) == WriteError::stream_id_required);
    CHECK(refusal(frame::Headers{3, false, true, frame::PriorityFields{false, 3, 0}, std::nullopt, {}}) ==
          WriteError::invalid_priority);
    CHECK(refusal(frame::Headers{3, false, true, frame::PriorityFields{false, 0x80000000u, 0}, std::nullopt, {}}) ==
          WriteError::invalid_priority);
    CHECK(refusal(frame::Headers{3, false, true, std::nullopt, frame::Padding{2, as_bytes("x")}, {}}) ==
          WriteError::invalid_padding);
    CHECK(refusal(frame::Headers{3, false, true, std::nullopt, std::nullopt, big}) == WriteError::frame_too_large);
    CHECK(refusal(frame::Priority{0, {}}) == WriteError::stream_id_required);
    CHECK(refusal(frame::Priority{4, {false, 4, 0}}) == WriteError::invalid_priority);
    CHECK(refusal(frame::RstStream{0, ErrorCode::cancel}) == WriteError::stream_id_required);
    CHECK(refusal(frame::Settings{true, one}) == WriteError::settings_ack_not_empty);
    CHECK(refusal(frame::Settings{false, bad_push}) == WriteError::invalid_setting);
    CHECK(refusal(frame::Settings{false, bad_window}) == WriteError::invalid_setting);
    CHECK(refusal(frame::Settings{false, bad_size}) == WriteError::invalid_setting);
    CHECK(refusal(frame::Settings{false, bad_connect}) == WriteError::invalid_setting);
    CHECK(refusal(frame::PushPromise{0, true, 2, std::nullopt, {}}) == WriteError::stream_id_required);
    CHECK(refusal(frame::PushPromise{1, true, 0, std::nullopt, {}}) == WriteError::invalid_promised_stream);
    CHECK(refusal(frame::PushPromise{1, true, 0x80000000u, std::nullopt, {}}) == WriteError::invalid_promised_stream);
    CHECK(refusal(frame::PushPromise{1, true, 2, frame::Padding{1, as_bytes("ab")}, {}}) ==
          WriteError::invalid_padding);
    CHECK(refusal(frame::Goaway{0x80000000u, ErrorCode::no_error, {}}) == WriteError::invalid_last_stream);
    CHECK(refusal(frame::Goaway{0, ErrorCode::no_error, big}) == WriteError::frame_too_large);
    CHECK(refusal(frame::WindowUpdate{1, 0}) == WriteError::invalid_increment);
    CHECK(refusal(frame::WindowUpdate{0, 0x80000000u}) == WriteError::invalid_increment);
    CHECK(refusal(frame::WindowUpdate{0x80000001u, 1}) == WriteError::invalid_stream_id);
    CHECK(refusal(frame::Continuation{0, true, {}}) == WriteError::stream_id_required);
    CHECK(refusal(frame::Altsvc{0, "", "x"}) == WriteError::invalid_origin);
    CHECK(refusal(frame::Altsvc{1, "o", "x"}) == WriteError::invalid_origin);
    CHECK(refusal(frame::Altsvc{0, long_origin, ""}, 100000) == WriteError::invalid_origin);
    CHECK(refusal(frame::Origin{long_list}, 100000) == WriteError::invalid_origin);
    CHECK(refusal(frame::PriorityUpdate{0, "u=1"}) == WriteError::invalid_stream_id);
    CHECK(refusal(frame::Unknown{0x0, 0, 1, {}}) == WriteError::known_type);
    CHECK(refusal(frame::Unknown{0x10, 0, 0, {}}) == WriteError::known_type);
    CHECK(refusal(frame::Unknown{0x20, 0, 0, big}) == WriteError::frame_too_large);
    CHECK(refusal(frame::Ignored{Type::origin, 1, {}, "x"}) == WriteError::not_writable);
    CHECK(refusal(frame::Frame{frame::Ignored{Type::altsvc, 0, {}, "x"}}) == WriteError::not_writable);

    // A larger peer SETTINGS_MAX_FRAME_SIZE allows larger frames; never over 2^24-1.
    CHECK(written(frame::Data{1, false, std::nullopt, big}, 16385).size() == 9 + 16385);
    CHECK(refusal(frame::Data{1, false, std::nullopt, big}, 16384) == WriteError::frame_too_large);
    for (const WriteError e : {WriteError::none, WriteError::frame_too_large, WriteError::not_writable})
        CHECK(!to_string(e).empty());
}

TEST_CASE("frame writer: the raw writer writes anything, unchecked") {
    // Everything the checked writers refuse, and things no writer would
    // produce: wrong declared length, reserved bit, stream 0 DATA.
    const ByteVec payload = unhex("0102030405");
    frame::RawFrame raw{{999, Type::data, 0xff, 0, true}, payload};
    ByteVec out(frame::encoded_size(raw));
    CHECK(frame::write_raw(out, raw) == 14);
    CHECK(hex(out) == "0003e700ff800000000102030405");
    ByteVec small(13);
    CHECK(frame::write_raw(small, raw) == 0);

    // Read back, invalid frames give the reader's errors.
    auto read_back = [](const frame::RawFrame& f, const frame::ReaderOptions& o = {}) {
        ByteVec b(frame::encoded_size(f));
        REQUIRE(frame::write_raw(b, f) == b.size());
        return run_reader(b, Split::whole(), o).lines.back();
    };
    CHECK(read_back({{0, Type::data, 0, 0, false}, {}}) == "CONNECTION_ERROR s=0 PROTOCOL_ERROR (DATA on stream 0)");
    CHECK(read_back({{4, Type::ping, 0, 0, false}, std::span<const std::uint8_t>(payload).first(4)}) ==
          "CONNECTION_ERROR s=0 FRAME_SIZE_ERROR (PING length is not 8)");
    CHECK(read_back({{4, Type::window_update, 0, 3, true}, unhex("00000000")}) ==
          "STREAM_ERROR s=3 PROTOCOL_ERROR (WINDOW_UPDATE increment 0)");
    CHECK(read_back({{0x1000000 + 5, Type::priority, 0, 0xffffffff, false}, unhex("0000000100")}) ==
          "PRIORITY s=2147483647 dep=1 w=0");  // length and stream id truncated to their widths

    frame::FrameHeader h{0x123456, static_cast<Type>(0x99), 0x5a, 0x7654321, true};
    std::uint8_t hb[9];
    frame::write_header(hb, h);
    CHECK(frame::parse_header(hb) == h);
}

TEST_CASE("frame writer: field blocks split over CONTINUATION") {
    ByteVec block(40000);
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<std::uint8_t>(i);
    const frame::Headers h{1, true, false, frame::PriorityFields{false, 0, 15}, frame::Padding{10, {}}, block};
    const std::size_t size = frame::encoded_size_split(h, 16384);
    // First frame: 1 + 5 + 10 octets of overhead, 16368 octets of block; then 16384 + 7248.
    CHECK(size == 9 + 16384 + 9 + 16384 + 9 + 7248);
    ByteVec out(size);
    const frame::WriteResult r = frame::write_split(out, h, 16384);
    REQUIRE(r);
    CHECK(r.size == size);
    CHECK(frame::write_split(std::span<std::uint8_t>(out).first(size - 1), h, 16384).error ==
          WriteError::buffer_too_small);

    const Transcript t = run_all_splits(out, {}, 5);
    REQUIRE(t.lines.size() == 3);
    CHECK(t.lines[0].rfind("HEADERS s=1 ES dep=0 w=15 pad=10:", 0) == 0);
    CHECK(t.lines[1].rfind("CONTINUATION s=1 block=", 0) == 0);
    CHECK(t.lines[2].rfind("CONTINUATION s=1 EH block=", 0) == 0);
    // The pieces join to the block.
    std::string joined;
    for (const std::string& line : t.lines) joined += line.substr(line.find("block=") + 6);
    CHECK(joined == hex(block));

    // A block that fits stays one frame with END_HEADERS.
    const frame::PushPromise small{3, false, 4, std::nullopt, std::span<const std::uint8_t>(block).first(100)};
    ByteVec one(frame::encoded_size_split(small));
    REQUIRE(frame::write_split(one, small));
    CHECK(one.size() == 9 + 4 + 100);
    CHECK(run_reader(one, Split::whole()).lines.at(0).rfind("PUSH_PROMISE s=3 promised=4 EH block=", 0) == 0);
    // An empty block too.
    const frame::Headers empty{5, false, false, std::nullopt, std::nullopt, {}};
    ByteVec e(frame::encoded_size_split(empty));
    REQUIRE(frame::write_split(e, empty));
    CHECK(hex(e) == "000000010400000005");
    // Errors are the checked writers'.
    ByteVec tiny(4);
    CHECK(frame::write_split(tiny, frame::Headers{0, false, true, std::nullopt, std::nullopt, block}).error ==
          WriteError::stream_id_required);
    ByteVec room(frame::encoded_size_split(frame::PushPromise{1, true, 0, std::nullopt, block}));
    CHECK(frame::write_split(room, frame::PushPromise{1, true, 0, std::nullopt, block}).error ==
          WriteError::invalid_promised_stream);
}

TEST_CASE("frame writer: append to containers and scatter-gather DATA") {
    std::vector<std::uint8_t> v{0xaa};
    CHECK(frame::append(v, frame::Ping{false, {}}));
    CHECK(frame::append(v, frame::WindowUpdate{1, 5}));
    CHECK(v.size() == 1 + 17 + 13);
    CHECK(frame::append(v, frame::WindowUpdate{1, 0}).error == WriteError::invalid_increment);
    CHECK(v.size() == 31);

    std::pmr::monotonic_buffer_resource arena;
    std::pmr::vector<std::uint8_t> pv(&arena);
    const frame::Frame f = frame::Goaway{1, ErrorCode::no_error, as_bytes("x")};
    CHECK(frame::append(pv, f));
    CHECK(pv.size() == 18);

    const ByteVec body(1000, 0x42);
    const frame::Data d{7, true, frame::Padding{20, {}}, body};
    ByteVec whole(frame::encoded_size(d));
    REQUIRE(frame::write(whole, d));
    ByteVec head(frame::data_header_size(d));
    const frame::WriteResult r = frame::write_data_header(head, d);
    REQUIRE(r);
    CHECK(r.size == 10);
    ByteVec gathered = head;
    gathered.insert(gathered.end(), body.begin(), body.end());
    gathered.insert(gathered.end(), 20, 0);
    CHECK(gathered == whole);
}

TEST_CASE("frame writer: names of codes, types, settings and flags") {
    CHECK(to_string(ErrorCode::protocol_error) == "PROTOCOL_ERROR");
    CHECK(to_string(ErrorCode::http_1_1_required) == "HTTP_1_1_REQUIRED");
    CHECK(to_string(static_cast<ErrorCode>(0xe)) == "UNKNOWN");
    CHECK(is_known(ErrorCode::http_1_1_required));
    CHECK(!is_known(static_cast<ErrorCode>(0xe)));
    CHECK(to_string(Type::priority_update) == "PRIORITY_UPDATE");
    CHECK(to_string(static_cast<Type>(0xb)) == "UNKNOWN");
    CHECK(frame::is_known(Type::origin));
    CHECK(!frame::is_known(static_cast<Type>(0xb)));
    CHECK(to_string(SettingId::no_rfc7540_priorities) == "SETTINGS_NO_RFC7540_PRIORITIES");
    CHECK(to_string(static_cast<SettingId>(7)) == "UNKNOWN");
    char buf[64];
    CHECK(frame::flag_names(Type::headers, 0xff, buf) == "END_STREAM|END_HEADERS|PADDED|PRIORITY|0x02|0x10|0x40|0x80");
    CHECK(frame::flag_names(Type::data, 0x09, buf) == "END_STREAM|PADDED");
    CHECK(frame::flag_names(Type::settings, 0x01, buf) == "ACK");
    CHECK(frame::flag_names(Type::push_promise, 0x0c, buf) == "END_HEADERS|PADDED");
    CHECK(frame::flag_names(Type::goaway, 0, buf).empty());
    CHECK(frame::flag_names(static_cast<Type>(0x42), 0xff, buf) == "0x01|0x02|0x04|0x08|0x10|0x20|0x40|0x80");

    std::string_view why;
    CHECK(check_setting({SettingId::initial_window_size, 0x7fffffff}) == ErrorCode::no_error);
    CHECK(check_setting({SettingId::initial_window_size, 0x80000000u}, &why) == ErrorCode::flow_control_error);
    CHECK(!why.empty());
    CHECK(check_setting({static_cast<SettingId>(0xff), 0xffffffff}) == ErrorCode::no_error);
    h2wire::Settings s;
    CHECK(s.initial_window_size == 65535);
    CHECK(s.max_frame_size == 16384);
    CHECK(s.header_table_size == 4096);
    CHECK(s.enable_push);
    s.apply({SettingId::enable_connect_protocol, 1});
    s.apply({static_cast<SettingId>(0x77), 1});
    CHECK(s.enable_connect_protocol);
}

// --- random round trip ------------------------------------------------------

// Random field values for every frame type; the bytes they point to live in
// `pool`, which outlives the frames.
class RandomFrames {
public:
    explicit RandomFrames(std::uint32_t seed) : rng_(seed) {}

    std::uint32_t u32(std::uint32_t max) { return std::uniform_int_distribution<std::uint32_t>(0, max)(rng_); }
    bool coin() { return u32(1) == 1; }
    std::uint32_t stream() { return 1 + u32(frame::max_stream_id - 1); }
    std::span<const std::uint8_t> bytes(std::size_t max) {
        const std::size_t n = u32(static_cast<std::uint32_t>(max));
        auto& b = pool_.emplace_back(n);
        for (auto& c : b) c = static_cast<std::uint8_t>(u32(255));
        return b;
    }
    std::string_view text(std::size_t max) {
        const auto b = bytes(max);
        return {reinterpret_cast<const char*>(b.data()), b.size()};
    }
    std::optional<frame::Padding> padding() {
        if (!coin()) return std::nullopt;
        const auto len = static_cast<std::uint8_t>(u32(255));
        // Zero padding as the RFC says, or explicit content.
        return frame::Padding{len, coin() ? std::span<const std::uint8_t>{} : exact(len)};
    }
    std::span<const std::uint8_t> exact(std::size_t n) {
        auto& b = pool_.emplace_back(n);
        for (auto& c : b) c = static_cast<std::uint8_t>(u32(255));
        return b;
    }
    frame::PriorityFields priority(std::uint32_t stream) {
        frame::PriorityFields p{coin(), u32(frame::max_stream_id), static_cast<std::uint8_t>(u32(255))};
        if (p.dependency == stream) p.dependency = 0;
        return p;
    }

    frame::Frame any(int kind) {
        switch (kind) {
            case 0: {
                const std::uint32_t s = stream();
                return frame::Headers{s,         coin(),     coin(), coin() ? std::optional(priority(s)) : std::nullopt,
                                      padding(), bytes(3000)};
            }
            case 1: {
                const std::uint32_t s = stream();
                return frame::Priority{s, priority(s)};
            }
            case 2:
                return frame::RstStream{stream(), static_cast<ErrorCode>(u32(0xffffffff))};
            case 3: {
                auto& list = settings_.emplace_back();
                if (!coin()) {
                    for (std::uint32_t i = u32(10); i > 0; --i) {
                        Setting s{static_cast<SettingId>(u32(12)), u32(0xffffffff)};
                        if (check_setting(s) != ErrorCode::no_error)
                            s.value = s.id == SettingId::max_frame_size ? 16384 : 0;
                        list.push_back(s);
                    }
                    return frame::Settings{false, list};
                }
                return frame::Settings{true, {}};
            }
            case 4:
                return frame::PushPromise{stream(), coin(), stream(), padding(), bytes(3000)};
            case 5: {
                frame::Ping p{coin(), {}};
                for (auto& b : p.opaque_data) b = static_cast<std::uint8_t>(u32(255));
                return p;
            }
            case 6:
                return frame::Goaway{u32(frame::max_stream_id), static_cast<ErrorCode>(u32(0xffffffff)), bytes(500)};
            case 7:
                return frame::WindowUpdate{coin() ? 0 : stream(), 1 + u32(max_window_size - 1)};
            case 8:
                return frame::Continuation{stream(), coin(), bytes(3000)};
            case 9: {
                const bool on0 = coin();
                return frame::Altsvc{on0 ? 0 : stream(), on0 ? nonempty_text(100) : std::string_view{}, text(200)};
            }
            case 10: {
                auto& list = origins_.emplace_back();
                for (std::uint32_t i = u32(5); i > 0; --i) list.push_back(text(60));
                return frame::Origin{list};
            }
            case 11:
                return frame::PriorityUpdate{stream(), text(100)};
            default: {
                std::uint8_t t;
                do t = static_cast<std::uint8_t>(u32(255));
                while (frame::is_known(static_cast<Type>(t)));
                return frame::Unknown{t, static_cast<std::uint8_t>(u32(255)), u32(frame::max_stream_id), bytes(1000)};
            }
        }
    }
    std::string_view nonempty_text(std::size_t max) {
        std::string_view t = text(max);
        return t.empty() ? std::string_view("o") : t;
    }
    frame::Data data() { return frame::Data{stream(), coin(), padding(), bytes(coin() ? 16000 : 100)}; }

private:
    std::mt19937 rng_;
    std::vector<ByteVec> pool_;
    std::vector<std::vector<Setting>> settings_;
    std::vector<std::vector<std::string_view>> origins_;
};

TEST_CASE("frame writer: write -> read round trip of every frame type with random values") {
    RandomFrames gen(20240607);
    frame::ReaderOptions opts;
    opts.check_continuation = false;  // frames of random streams, not header blocks
    ByteVec stream;
    std::vector<std::string> expected;
    for (int i = 0; i < 1300; ++i) {
        const int kind = i % 14;
        CAPTURE(i);
        ByteVec one;
        std::string want;
        if (kind == 13) {
            const frame::Data d = gen.data();
            REQUIRE(frame::append(one, d));
            // The reader strips padding; it reports Pad Length only.
            want = "DATA s=" + num(d.stream_id) + (d.end_stream ? " ES" : "") +
                   (d.padding ? " padlen=" + num(d.padding->length) : "") + " data=" + hex(d.data);
        } else {
            const frame::Frame f = gen.any(kind);
            const frame::WriteResult r = frame::append(one, f);
            REQUIRE_MESSAGE(r, to_string(r.error) << " " << describe(f));
            CHECK(one.size() == frame::encoded_size(f));
            want = describe(f);
        }
        // Alone, in any split.
        const Transcript t = run_reader(one, Split::random(static_cast<std::uint32_t>(i)), opts);
        REQUIRE(t.lines.size() == 1);
        CHECK(t.lines[0] == want);
        stream.insert(stream.end(), one.begin(), one.end());
        expected.push_back(want);
    }
    // All of them back to back, whole and split.
    const Transcript all = run_all_splits(stream, opts, 4);
    CHECK(all.lines == expected);

    // Frames read back write the same bytes again (read -> write).
    frame::Reader reader(opts);
    std::span<const std::uint8_t> in(stream);
    std::size_t rewritten = 0;
    while (!in.empty()) {
        const frame::ReadResult r = reader.read(in);
        if (r.status == frame::ReadStatus::frame) {
            ByteVec again;
            REQUIRE(frame::append(again, r.frame));
            const auto original = in.first(r.consumed);
            CHECK(hex(again) == hex(original));
            ++rewritten;
        }
        in = in.subspan(r.consumed);
    }
    CHECK(rewritten > 1000);
}

}  // namespace
