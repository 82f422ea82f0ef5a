// h3 frames (h2wire/h3frame.hpp): varints (RFC 9000 §16), the registries,
// writers read back, every reader rule with its code (RFC 9114 §7, §6.2,
// §4.1), split invariance, and hostile inputs (huge lengths, endless grease).
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "h2wire/h3frame.hpp"
#include "support/counting_resource.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::h3;
using Vec = std::vector<std::uint8_t>;

// --- builders ---------------------------------------------------------------

Vec varint(std::uint64_t v) {
    Vec out(8);
    out.resize(write_varint(out, v));
    return out;
}
Vec varint_n(std::uint64_t v, std::size_t n) {
    Vec out(8);
    out.resize(write_varint(out, v, n));
    REQUIRE(out.size() == n);
    return out;
}
Vec cat(std::initializer_list<Vec> parts) {
    Vec out;
    for (const Vec& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
Vec str(std::string_view s) {
    return Vec(s.begin(), s.end());
}
// A frame with the given type and payload, its length declared correctly.
Vec frame(std::uint64_t type, const Vec& payload) {
    return cat({varint(type), varint(payload.size()), payload});
}
Vec settings(std::initializer_list<Setting> s) {
    Vec p;
    for (const Setting& e : s) p = cat({p, varint(e.id), varint(e.value)});
    return frame(0x4, p);
}
template <class F>
Vec written(const F& f) {
    Vec out;
    const WriteResult r = append(out, f);
    REQUIRE(r);
    REQUIRE(out.size() == encoded_size(f));
    return out;
}

constexpr std::uint64_t DATA = 0x0, HEADERS = 0x1, CANCEL_PUSH = 0x3, SETTINGS = 0x4, PUSH_PROMISE = 0x5, GOAWAY = 0x7,
                        MAX_PUSH_ID = 0xd;

ReaderOptions opts(StreamKind k, PeerRole p = PeerRole::unknown) {
    ReaderOptions o;
    o.stream = k;
    o.peer = p;
    return o;
}

// --- transcripts ------------------------------------------------------------

// A canonical text of everything a reader produced. DATA chunks of one frame
// are joined (their cut points depend on the split); all else is as is.
struct Transcript {
    std::vector<std::string> items;
    std::optional<Error> error;
    bool operator==(const Transcript& o) const {
        return items == o.items && error.has_value() == o.error.has_value() &&
               (!error || (error->code == o.error->code && error->reason == o.error->reason));
    }
};

std::string text(Bytes b) {
    return std::string(b.begin(), b.end());
}

std::string describe(const Frame& f) {
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, Headers>) return "HEADERS " + text(x.field_section);
            if constexpr (std::is_same_v<T, CancelPush>) return "CANCEL_PUSH " + std::to_string(x.push_id);
            if constexpr (std::is_same_v<T, Settings>) {
                std::string s = "SETTINGS";
                for (const Setting& e : x.entries) s += " " + std::to_string(e.id) + "=" + std::to_string(e.value);
                return s;
            }
            if constexpr (std::is_same_v<T, PushPromise>)
                return "PUSH_PROMISE " + std::to_string(x.push_id) + " " + text(x.field_section);
            if constexpr (std::is_same_v<T, Goaway>) return "GOAWAY " + std::to_string(x.id);
            if constexpr (std::is_same_v<T, MaxPushId>) return "MAX_PUSH_ID " + std::to_string(x.push_id);
        },
        f);
}

// Feeds `input` in the pieces `cuts` gives (sizes), then finish() if asked.
Transcript run(const Vec& input, const ReaderOptions& o, const std::vector<std::size_t>& cuts, bool fin = false) {
    Reader reader(o);
    Transcript t;
    std::string data;
    bool in_data = false;
    std::size_t at = 0;
    for (std::size_t k = 0; at < input.size() || k == 0; ++k) {
        const std::size_t n = k < cuts.size() ? std::min(cuts[k], input.size() - at) : input.size() - at;
        Bytes piece(input.data() + at, n);
        at += n;
        for (;;) {
            const ReadResult r = reader.read(piece);
            REQUIRE(r.consumed <= piece.size());
            piece = piece.subspan(r.consumed);
            if (r.status == ReadStatus::need_input) {
                REQUIRE(piece.empty());
                break;
            }
            if (r.status == ReadStatus::error) {
                t.error = r.error;
                CHECK(reader.failed());
                return t;
            }
            if (r.status == ReadStatus::data) {
                CHECK(r.data.first == !in_data);
                in_data = true;
                data += text(r.data.data);
                if (r.data.last) {
                    t.items.push_back("DATA " + data);
                    data.clear();
                    in_data = false;
                }
            } else if (r.status == ReadStatus::unknown_frame) {
                t.items.push_back("UNKNOWN " + std::to_string(r.header.type) + " " + std::to_string(r.header.length));
            } else {
                t.items.push_back(describe(r.frame));
            }
        }
        if (k > input.size()) break;
    }
    if (fin) {
        if (auto e = reader.finish()) {
            t.error = e;
            t.items.push_back(e->scope == ErrorScope::stream ? "stream error" : "connection error");
        }
    }
    return t;
}

// The input whole, byte by byte, and at `seeds` random splits: all the same.
Transcript run_all_splits(const Vec& input, const ReaderOptions& o = {}, int seeds = 8, bool fin = false) {
    const Transcript whole = run(input, o, {input.size()}, fin);
    CHECK(run(input, o, std::vector<std::size_t>(input.size() + 1, 1), fin) == whole);
    for (int seed = 1; seed <= seeds; ++seed) {
        std::mt19937 rng(static_cast<std::uint32_t>(seed));
        std::vector<std::size_t> cuts;
        for (std::size_t sum = 0; sum < input.size();) {
            cuts.push_back(std::uniform_int_distribution<std::size_t>(0, 9)(rng));
            sum += cuts.back();
        }
        CHECK(run(input, o, cuts, fin) == whole);
    }
    return whole;
}

// --- varints ----------------------------------------------------------------

TEST_CASE("h3 varint: sizes and boundaries round trip (RFC 9000 §16)") {
    const std::uint64_t values[] = {0,          63,        64,   16383, 16384, (1u << 30) - 1, 1u << 30, max_varint - 1,
                                    max_varint, 494878333, 15293};
    for (std::uint64_t v : values) {
        CAPTURE(v);
        const Vec w = varint(v);
        CHECK(w.size() == varint_size(v));
        std::uint64_t back = 7;
        CHECK(read_varint(w, back) == w.size());
        CHECK(back == v);
        // Split anywhere.
        for (std::size_t cut = 0; cut <= w.size(); ++cut) {
            VarintReader r;
            std::size_t used = r.read(Bytes(w.data(), cut));
            CHECK(r.done() == (cut == w.size()));
            used += r.read(Bytes(w.data() + used, w.size() - used));
            CHECK(used == w.size());
            CHECK(r.done());
            CHECK(r.value() == v);
            CHECK(r.size() == w.size());
            CHECK(r.read(w) == 0);  // nothing more once done
        }
        // Every encoding at least as long as the shortest is read back.
        for (std::size_t n : {1u, 2u, 4u, 8u}) {
            Vec buf(8);
            const std::size_t k = write_varint(buf, v, n);
            CHECK(k == (n >= varint_size(v) ? n : 0));
            if (k == 0) continue;
            CHECK(read_varint(Bytes(buf.data(), k), back) == n);
            CHECK(back == v);
        }
    }
    CHECK(varint_size(0) == 1);
    CHECK(varint_size(63) == 1);
    CHECK(varint_size(64) == 2);
    CHECK(varint_size(16383) == 2);
    CHECK(varint_size(16384) == 4);
    CHECK(varint_size((1u << 30) - 1) == 4);
    CHECK(varint_size(1u << 30) == 8);
    CHECK(varint_size(max_varint) == 8);
}

TEST_CASE("h3 varint: RFC 9000 §A.1 examples, non-minimal encodings, values over 2^62-1") {
    std::uint64_t v = 0;
    const Vec eight = {0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c};
    CHECK(read_varint(eight, v) == 8);
    CHECK(v == 151288809941952652u);
    CHECK(read_varint(Vec{0x9d, 0x7f, 0x3e, 0x7d}, v) == 4);
    CHECK(v == 494878333);
    CHECK(read_varint(Vec{0x7b, 0xbd}, v) == 2);
    CHECK(v == 15293);
    CHECK(read_varint(Vec{0x25}, v) == 1);
    CHECK(v == 37);
    CHECK(read_varint(Vec{0x40, 0x25}, v) == 2);  // 37 in two octets
    CHECK(v == 37);
    CHECK(varint(151288809941952652u) == eight);
    // Incomplete: 0, value untouched.
    v = 99;
    CHECK(read_varint(Vec{0xc2, 0x19}, v) == 0);
    CHECK(read_varint(Vec{}, v) == 0);
    CHECK(v == 99);
    // Not encodable.
    Vec buf(8);
    CHECK(varint_size(max_varint + 1) == 0);
    CHECK(write_varint(buf, max_varint + 1) == 0);
    CHECK(write_varint(buf, ~std::uint64_t{0}) == 0);
    CHECK(write_varint(buf, 64, 1) == 0);
    CHECK(write_varint(buf, 1, 3) == 0);
    CHECK(write_varint(std::span<std::uint8_t>(buf.data(), 1), 64) == 0);
}

TEST_CASE("h3 registries: grease and names") {
    CHECK(is_grease(0x21));
    CHECK(is_grease(0x40));
    CHECK(is_grease(grease_value(1000)));
    CHECK_FALSE(is_grease(0x20));
    CHECK_FALSE(is_grease(0x22));
    CHECK_FALSE(is_grease(0));
    for (std::uint64_t t : {0x2u, 0x6u, 0x8u, 0x9u}) CHECK(is_http2_frame_type(t));
    for (std::uint64_t t : {0x0u, 0x1u, 0x3u, 0x4u, 0x5u, 0x7u, 0xdu}) {
        CHECK(is_known(static_cast<FrameType>(t)));
        CHECK_FALSE(is_http2_frame_type(t));
    }
    CHECK_FALSE(is_known(static_cast<FrameType>(0x2)));
    CHECK_FALSE(is_known(static_cast<FrameType>(0x21)));
    CHECK(to_string(FrameType::max_push_id) == "MAX_PUSH_ID");
    CHECK(to_string(static_cast<FrameType>(0x6)) == "RESERVED_H2");
    CHECK(to_string(static_cast<FrameType>(0x21)) == "GREASE");
    CHECK(to_string(static_cast<FrameType>(0x22)) == "UNKNOWN");
    CHECK(to_string(SettingId::h3_datagram) == "SETTINGS_H3_DATAGRAM");
    CHECK(to_string(SettingId::enable_connect_protocol) == "SETTINGS_ENABLE_CONNECT_PROTOCOL");
    CHECK(to_string(static_cast<SettingId>(0x3)) == "RESERVED_H2");
    for (std::uint64_t id : {0x0u, 0x2u, 0x3u, 0x4u, 0x5u}) CHECK(is_http2_setting(id));
    CHECK_FALSE(is_http2_setting(0x6));
    CHECK(to_string(ErrorCode::h3_no_error) == "H3_NO_ERROR");
    CHECK(to_string(ErrorCode::h3_version_fallback) == "H3_VERSION_FALLBACK");
    CHECK(to_string(ErrorCode::qpack_decoder_stream_error) == "QPACK_DECODER_STREAM_ERROR");
    CHECK(to_string(static_cast<ErrorCode>(0x21)) == "GREASE");
    CHECK(to_string(static_cast<ErrorCode>(0x111)) == "UNKNOWN");
    for (std::uint64_t c = 0x100; c <= 0x110; ++c) CHECK(to_string(static_cast<ErrorCode>(c)) != "UNKNOWN");
    CHECK(to_string(StreamType::qpack_encoder) == "QPACK_ENCODER");
    CHECK(to_string(static_cast<StreamType>(0x21)) == "GREASE");
    CHECK(to_string(WriteError::known_type).size() > 0);
}

// --- writers read back ------------------------------------------------------

TEST_CASE("h3 writers: control stream frames read back, split anywhere") {
    const Setting entries[] = {{0x1, 4096}, {0x6, 1u << 20}, {0x7, 100}, {0x8, 1}, {0x33, 1}};
    Settings s{entries, Setting{grease_value(3), 0x1234}};
    const Vec wire = cat({written(s), written(Unknown{grease_value(7), str("hello")}), written(MaxPushId{10}),
                          written(CancelPush{3}), written(Goaway{16383}), written(Goaway{8}),
                          written(MaxPushId{max_varint}), written(Unknown{0x1000, {}})});
    const Transcript t = run_all_splits(wire, opts(StreamKind::control), 20);
    CHECK_FALSE(t.error);
    const std::vector<std::string> want = {
        "SETTINGS 1=4096 6=1048576 7=100 8=1 51=1 " + std::to_string(grease_value(3)) + "=4660",
        "UNKNOWN " + std::to_string(grease_value(7)) + " 5",
        "MAX_PUSH_ID 10",
        "CANCEL_PUSH 3",
        "GOAWAY 16383",
        "GOAWAY 8",
        "MAX_PUSH_ID " + std::to_string(max_varint),
        "UNKNOWN 4096 0",
    };
    CHECK(t.items == want);
}

TEST_CASE("h3 writers: request stream frames read back, split anywhere") {
    const Vec body(3000, 'b');
    Vec wire =
        cat({written(Headers{str("qpack-block")}), written(PushPromise{7, str("promised")}),
             written(Data{str("hello")}), written(Data{}), written(Data{body}), written(Unknown{0x21, str("x")})});
    // Zero copy DATA: header, then the payload sent separately.
    Vec hdr(data_header_size(4));
    CHECK(write_data_header(hdr, 4).size == hdr.size());
    wire = cat({wire, hdr, str("tail"), written(Headers{str("trailers")}), written(PushPromise{8, {}})});
    const Transcript t = run_all_splits(wire, opts(StreamKind::request, PeerRole::server), 20, true);
    CHECK_FALSE(t.error);
    const std::vector<std::string> want = {
        "HEADERS qpack-block",
        "PUSH_PROMISE 7 promised",
        "DATA hello",
        "DATA ",
        "DATA " + std::string(body.begin(), body.end()),
        "UNKNOWN 33 1",
        "DATA tail",
        "HEADERS trailers",
        "PUSH_PROMISE 8 ",
    };
    CHECK(t.items == want);
}

TEST_CASE("h3 writers: push stream prefix and frames") {
    Vec prefix(16);
    prefix.resize(write_stream_header(prefix, 0x01, 1000).size);
    CHECK(prefix == cat({varint(1), varint(1000)}));
    const Vec wire = cat({prefix, written(Headers{str("h")}), written(Data{str("d")})});
    for (std::size_t cut = 0; cut <= prefix.size(); ++cut) {
        StreamHeaderReader sh(PeerRole::server);
        std::size_t used = sh.read(Bytes(wire.data(), cut));
        CHECK(sh.done() == (cut == prefix.size()));
        used += sh.read(Bytes(wire.data() + used, wire.size() - used));
        CHECK(used == prefix.size());
        REQUIRE(sh.done());
        CHECK(sh.type() == 0x01);
        CHECK(sh.push_id() == std::optional<std::uint64_t>{1000});
    }
    const Transcript t = run_all_splits(Vec(wire.begin() + 3, wire.end()), opts(StreamKind::push), 8, true);
    CHECK(t.items == std::vector<std::string>{"HEADERS h", "DATA d"});
    CHECK_FALSE(t.error);
}

TEST_CASE("h3 stream header reader: control, QPACK, grease; push from a client") {
    for (std::uint64_t type : {0x0u, 0x2u, 0x3u, 0x21u, 0x1fu * 100 + 0x21u}) {
        Vec w(16);
        w.resize(write_stream_header(w, type).size);
        w.push_back(0x04);  // the first frame's octet is not consumed
        StreamHeaderReader sh;
        CHECK(sh.read(w) == w.size() - 1);
        CHECK(sh.done());
        CHECK(sh.type() == type);
        CHECK_FALSE(sh.push_id());
        CHECK(sh.read(w) == 0);
    }
    StreamHeaderReader sh(PeerRole::client);
    const Vec push = {0x01, 0x05};
    CHECK(sh.read(push) == 1);
    CHECK_FALSE(sh.done());
    REQUIRE(sh.error());
    CHECK(sh.error()->code == ErrorCode::h3_stream_creation_error);
    CHECK(sh.read(push) == 0);
    // Nothing yet: not done.
    StreamHeaderReader empty;
    CHECK(empty.read({}) == 0);
    CHECK_FALSE(empty.done());
}

TEST_CASE("h3 writers: refusals") {
    Vec buf(64);
    CHECK(write(buf, Goaway{max_varint + 1}).error == WriteError::value_too_large);
    CHECK(write(buf, CancelPush{max_varint + 1}).error == WriteError::value_too_large);
    CHECK(write(buf, MaxPushId{max_varint + 1}).error == WriteError::value_too_large);
    CHECK(write(buf, PushPromise{max_varint + 1, {}}).error == WriteError::value_too_large);
    CHECK(write_data_header(buf, max_varint + 1).error == WriteError::value_too_large);
    CHECK(data_header_size(max_varint + 1) == 0);
    CHECK(write_stream_header(buf, max_varint + 1).error == WriteError::value_too_large);
    CHECK(write_stream_header(buf, 1, max_varint + 1).error == WriteError::value_too_large);
    CHECK(encoded_size(Goaway{max_varint + 1}) == 0);
    const Setting h2[] = {{0x2, 0}};
    const Setting zero[] = {{0x0, 0}};
    const Setting dup[] = {{0x6, 1}, {0x1, 0}, {0x6, 2}};
    const Setting big[] = {{0x6, max_varint + 1}};
    const Setting ok[] = {{0x6, 1}};
    const Setting datagram2[] = {{0x33, 2}};
    const Setting connect7[] = {{0x8, 7}};
    CHECK(write(buf, Settings{datagram2, std::nullopt}).error == WriteError::invalid_setting);
    CHECK(write(buf, Settings{connect7, std::nullopt}).error == WriteError::invalid_setting);
    CHECK(is_valid_setting_value(0x6, max_varint));
    CHECK(is_valid_setting_value(0x33, 1));
    CHECK_FALSE(is_valid_setting_value(0x33, 2));
    CHECK(write(buf, Settings{h2, std::nullopt}).error == WriteError::invalid_setting);
    CHECK(write(buf, Settings{zero, std::nullopt}).error == WriteError::invalid_setting);
    CHECK(write(buf, Settings{dup, std::nullopt}).error == WriteError::invalid_setting);
    CHECK(write(buf, Settings{big, std::nullopt}).error == WriteError::value_too_large);
    CHECK(write(buf, Settings{ok, Setting{0x22, 0}}).error == WriteError::invalid_setting);
    CHECK(write(buf, Settings{ok, Setting{0x21, 0}}));
    for (std::uint64_t t : {0x0u, 0x1u, 0x2u, 0x3u, 0x4u, 0x5u, 0x6u, 0x7u, 0x8u, 0x9u, 0xdu})
        CHECK(write(buf, Unknown{t, {}}).error == WriteError::known_type);
    CHECK(write(buf, Unknown{0xa, {}}));
    // Too small: nothing written.
    Vec small(3, 0xee);
    CHECK(write(small, Goaway{1u << 20}).error == WriteError::buffer_too_small);
    CHECK(write(small, Headers{str("abc")}).error == WriteError::buffer_too_small);
    CHECK(small == Vec(3, 0xee));
    // append() leaves the container unchanged on error.
    Vec out = {1, 2};
    CHECK_FALSE(append(out, Settings{dup, std::nullopt}));
    CHECK(out == Vec{1, 2});
    // Empty SETTINGS is a valid frame.
    CHECK(written(Settings{}) == Vec{0x04, 0x00});
}

TEST_CASE("h3 write_raw: anything, declared length as given") {
    Vec buf(32);
    const Vec payload = str("abc");
    const std::size_t n = write_raw(buf, 0x7, 100, payload);
    buf.resize(n);
    CHECK(buf == cat({varint(7), varint(100), payload}));
    Vec buf2(32);
    CHECK(write_raw(buf2, max_varint + 1, 0, {}) == 0);
    CHECK(write_raw(buf2, 0, max_varint + 1, {}) == 0);
    CHECK(write_raw(std::span<std::uint8_t>(buf2.data(), 2), 0, 1, payload) == 0);
    CHECK(write_raw(buf2, 0x2, 0, {}) == 2);  // an HTTP/2 type, for probing
}

// --- reader rules -----------------------------------------------------------

struct Rule {
    const char* name;
    ReaderOptions options;
    Vec wire;
    ErrorCode code;
};

constexpr ErrorCode UNEXPECTED = ErrorCode::h3_frame_unexpected;
constexpr ErrorCode FRAME = ErrorCode::h3_frame_error;
constexpr ErrorCode SETTINGS_ERR = ErrorCode::h3_settings_error;
constexpr ErrorCode MISSING = ErrorCode::h3_missing_settings;
constexpr ErrorCode LOAD = ErrorCode::h3_excessive_load;
constexpr ErrorCode ID = ErrorCode::h3_id_error;

std::vector<Rule> rules() {
    const ReaderOptions ctl = opts(StreamKind::control);
    const ReaderOptions req = opts(StreamKind::request);
    const ReaderOptions push = opts(StreamKind::push);
    const Vec s0 = settings({});
    const Vec h = frame(HEADERS, str("h"));
    std::vector<Rule> out = {
        // RFC 9114 §6.2.1: SETTINGS first on the control stream.
        {"DATA first on control", ctl, frame(DATA, str("x")), MISSING},
        {"GOAWAY first on control", ctl, frame(GOAWAY, varint(0)), MISSING},
        {"grease first on control", ctl, frame(0x21, {}), MISSING},
        {"HTTP/2 type first on control", ctl, frame(0x6, {}), MISSING},
        // RFC 9114 §7.2.4: once, control only.
        {"second SETTINGS", ctl, cat({s0, s0}), UNEXPECTED},
        {"SETTINGS on request", req, s0, UNEXPECTED},
        {"SETTINGS on push", push, s0, UNEXPECTED},
        {"SETTINGS after HEADERS on request", req, cat({h, s0}), UNEXPECTED},
        // RFC 9114 §7.2.1, §7.2.2: not on the control stream.
        {"DATA on control", ctl, cat({s0, frame(DATA, str("x"))}), UNEXPECTED},
        {"HEADERS on control", ctl, cat({s0, h}), UNEXPECTED},
        // RFC 9114 §7.2.3, §7.2.6, §7.2.7: control only.
        {"CANCEL_PUSH on request", req, frame(CANCEL_PUSH, varint(1)), UNEXPECTED},
        {"GOAWAY on request", req, frame(GOAWAY, varint(0)), UNEXPECTED},
        {"MAX_PUSH_ID on request", req, frame(MAX_PUSH_ID, varint(0)), UNEXPECTED},
        {"GOAWAY on push", push, frame(GOAWAY, varint(0)), UNEXPECTED},
        {"MAX_PUSH_ID from a server", opts(StreamKind::control, PeerRole::server),
         cat({s0, frame(MAX_PUSH_ID, varint(3))}), UNEXPECTED},
        // RFC 9114 §7.2.5: request streams, from servers.
        {"PUSH_PROMISE on control", ctl, cat({s0, frame(PUSH_PROMISE, varint(1))}), UNEXPECTED},
        {"PUSH_PROMISE on push", push, frame(PUSH_PROMISE, varint(1)), UNEXPECTED},
        {"PUSH_PROMISE from a client", opts(StreamKind::request, PeerRole::client), frame(PUSH_PROMISE, varint(1)),
         UNEXPECTED},
        // RFC 9114 §7.2.8: HTTP/2 types, on every stream.
        {"type 0x2 on request", req, frame(0x2, {}), UNEXPECTED},
        {"type 0x6 on request", req, cat({h, frame(0x6, Vec(8))}), UNEXPECTED},
        {"type 0x8 on control", ctl, cat({s0, frame(0x8, Vec(4))}), UNEXPECTED},
        {"type 0x9 on push", push, frame(0x9, {}), UNEXPECTED},
        // RFC 9114 §4.1: message sequence.
        {"DATA before HEADERS", req, frame(DATA, str("x")), UNEXPECTED},
        {"empty DATA before HEADERS", req, frame(DATA, {}), UNEXPECTED},
        {"DATA before HEADERS on push", push, frame(DATA, str("x")), UNEXPECTED},
        {"HEADERS after trailers", req, cat({h, frame(DATA, str("x")), h, h}), UNEXPECTED},
        {"DATA after trailers", req, cat({h, h, frame(DATA, str("x"))}), UNEXPECTED},
        // RFC 9114 §7.1: exactly the fields, no more, no less.
        {"GOAWAY empty", ctl, cat({s0, frame(GOAWAY, {})}), FRAME},
        {"GOAWAY with an extra octet", ctl, cat({s0, frame(GOAWAY, cat({varint(4), Vec{0}}))}), FRAME},
        {"GOAWAY varint longer than payload", ctl, cat({s0, varint(GOAWAY), varint(1), Vec{0x40, 0x01}}), FRAME},
        {"GOAWAY declared 9 octets", ctl, cat({s0, varint(GOAWAY), varint(9)}), FRAME},
        {"CANCEL_PUSH empty", ctl, cat({s0, frame(CANCEL_PUSH, {})}), FRAME},
        {"CANCEL_PUSH two varints", ctl, cat({s0, frame(CANCEL_PUSH, cat({varint(1), varint(2)}))}), FRAME},
        {"MAX_PUSH_ID truncated varint", ctl, cat({s0, frame(MAX_PUSH_ID, Vec{0x80, 0, 0})}), FRAME},
        {"MAX_PUSH_ID huge length", ctl, cat({s0, varint(MAX_PUSH_ID), varint(max_varint)}), FRAME},
        {"PUSH_PROMISE empty", req, frame(PUSH_PROMISE, {}), FRAME},
        {"PUSH_PROMISE truncated Push ID", req, frame(PUSH_PROMISE, Vec{0xc0, 1, 2}), FRAME},
        {"SETTINGS id without value", ctl, frame(SETTINGS, varint(6)), FRAME},
        {"SETTINGS truncated value", ctl, frame(SETTINGS, cat({varint(6), Vec{0x80, 0}})), FRAME},
        // RFC 9114 §7.2.4.1: HTTP/2 identifiers and duplicates.
        {"SETTINGS id 0x0", ctl, settings({{0x0, 0}}), SETTINGS_ERR},
        {"SETTINGS id 0x2", ctl, settings({{0x2, 0}}), SETTINGS_ERR},
        {"SETTINGS id 0x3", ctl, settings({{0x3, 100}}), SETTINGS_ERR},
        {"SETTINGS id 0x4", ctl, settings({{0x4, 65535}}), SETTINGS_ERR},
        {"SETTINGS id 0x5", ctl, settings({{0x5, 16384}}), SETTINGS_ERR},
        // RFC 9297 §2.1.1, RFC 9220 §3: 0 or 1.
        {"SETTINGS_H3_DATAGRAM 2", ctl, settings({{0x33, 2}}), SETTINGS_ERR},
        {"SETTINGS_ENABLE_CONNECT_PROTOCOL 2", ctl, settings({{0x8, 2}}), SETTINGS_ERR},
        {"SETTINGS duplicate", ctl, settings({{0x6, 1}, {0x1, 0}, {0x6, 1}}), SETTINGS_ERR},
        {"SETTINGS duplicate grease", ctl, settings({{0x21, 1}, {0x21, 2}}), SETTINGS_ERR},
        {"SETTINGS duplicate, non-minimal encoding", ctl,
         frame(SETTINGS, cat({varint(6), varint(0), varint_n(6, 8), varint(0)})), SETTINGS_ERR},
        // RFC 9114 §5.2, §7.2.7: identifiers.
        {"GOAWAY id not a request stream, from a server", opts(StreamKind::control, PeerRole::server),
         cat({s0, frame(GOAWAY, varint(2))}), ID},
        {"GOAWAY id increases", ctl, cat({s0, frame(GOAWAY, varint(8)), frame(GOAWAY, varint(12))}), ID},
        {"MAX_PUSH_ID decreases", ctl, cat({s0, frame(MAX_PUSH_ID, varint(8)), frame(MAX_PUSH_ID, varint(7))}), ID},
        // RFC 9114 §10.5: limits.
        {"SETTINGS over max_frame_payload", ctl, cat({varint(SETTINGS), varint(16385)}), LOAD},
        {"HEADERS over max_field_section", req, cat({varint(HEADERS), varint(65537)}), LOAD},
        {"HEADERS declared 2^62-1", req, cat({varint(HEADERS), varint(max_varint)}), LOAD},
        {"PUSH_PROMISE declared 2^62-1", req, cat({varint(PUSH_PROMISE), varint(max_varint)}), LOAD},
        {"PUSH_PROMISE field section over the limit", req,
         frame(PUSH_PROMISE, cat({Vec{0xc0, 0, 0, 0, 0, 0, 0, 1}, Vec(65537)})), LOAD},
    };
    // Too many settings.
    Vec many;
    for (std::uint64_t i = 0; i < 257; ++i) many = cat({many, varint(0x100 + i), varint(0)});
    out.push_back({"SETTINGS with 257 entries", ctl, frame(SETTINGS, many), LOAD});
    return out;
}

TEST_CASE("h3 reader: each rule gives its code, in every split") {
    for (const Rule& rule : rules()) {
        CAPTURE(rule.name);
        const Transcript t = run_all_splits(rule.wire, rule.options, 3);
        REQUIRE(t.error);
        CHECK(t.error->code == rule.code);
        CHECK(t.error->scope == ErrorScope::connection);
        CHECK_FALSE(t.error->reason.empty());
    }
}

TEST_CASE("h3 reader: after an error it stays failed and consumes nothing") {
    Reader r(opts(StreamKind::control));
    const Vec bad = frame(DATA, str("x"));
    ReadResult a = r.read(bad);
    CHECK(a.status == ReadStatus::error);
    CHECK(a.error.code == MISSING);
    CHECK(a.consumed == 2);  // type and length, no payload
    const Vec more = settings({});
    ReadResult b = r.read(more);
    CHECK(b.status == ReadStatus::error);
    CHECK(b.consumed == 0);
    CHECK(b.error.code == MISSING);
    CHECK(r.finish()->code == MISSING);
}

TEST_CASE("h3 reader: accepted on the edge") {
    // Unknown settings kept, grease ones too; unknown and grease frames skipped
    // on every stream kind, even between HEADERS and trailers; non-minimal varints.
    const Vec ctl = cat({settings({{0x33, 1}, {0x21, 5}, {0x1234, 9}}), frame(0x21, Vec(100)), frame(0xff, {}),
                         frame(CANCEL_PUSH, varint_n(5, 8)), varint_n(GOAWAY, 8), varint_n(8, 8), varint_n(0, 8)});
    const Transcript t = run_all_splits(ctl, opts(StreamKind::control, PeerRole::server), 8);
    CHECK_FALSE(t.error);
    CHECK(t.items == std::vector<std::string>{"SETTINGS 51=1 33=5 4660=9", "UNKNOWN 33 100", "UNKNOWN 255 0",
                                              "CANCEL_PUSH 5", "GOAWAY 0"});
    // GOAWAY may repeat with the same or a smaller id; MAX_PUSH_ID the same or larger.
    const Vec ids = cat({settings({}), frame(GOAWAY, varint(8)), frame(GOAWAY, varint(8)), frame(GOAWAY, varint(4)),
                         frame(MAX_PUSH_ID, varint(3)), frame(MAX_PUSH_ID, varint(3)), frame(MAX_PUSH_ID, varint(9))});
    CHECK_FALSE(run_all_splits(ids, opts(StreamKind::control, PeerRole::client), 3).error);
    // HEADERS of exactly the limit.
    ReaderOptions small = opts(StreamKind::request);
    small.max_field_section = 10;
    CHECK_FALSE(run_all_splits(frame(HEADERS, Vec(10)), small, 3).error);
    CHECK(run_all_splits(frame(HEADERS, Vec(11)), small, 3).error->code == LOAD);
    // Without the message check, DATA may come first and HEADERS repeat.
    ReaderOptions loose = opts(StreamKind::request);
    loose.check_message = false;
    const Vec any =
        cat({frame(DATA, str("x")), frame(HEADERS, {}), frame(HEADERS, {}), frame(HEADERS, {}), frame(DATA, {})});
    CHECK_FALSE(run_all_splits(any, loose, 3, true).error);
}

TEST_CASE("h3 reader: interim responses (RFC 9114 §4.1)") {
    const Vec h = frame(HEADERS, str("1xx"));
    const Vec d = frame(DATA, str("body"));
    const Vec wire = cat({h, h, h, d, h});
    // Without being told, the third HEADERS is after trailers.
    CHECK(run(wire, opts(StreamKind::request), {wire.size()}).error->code == UNEXPECTED);
    // Told after each interim one, the sequence is fine.
    Reader r(opts(StreamKind::request, PeerRole::server));
    Bytes in = wire;
    int headers = 0;
    for (;;) {
        const ReadResult x = r.read(in);
        in = in.subspan(x.consumed);
        if (x.status == ReadStatus::need_input) break;
        REQUIRE(x.status != ReadStatus::error);
        if (x.status == ReadStatus::frame && ++headers <= 2) r.interim_response();
    }
    CHECK(headers == 4);
    CHECK_FALSE(r.finish());
    // Only right after the first HEADERS does it do anything.
    Reader late(opts(StreamKind::request));
    const Vec hd = cat({h, d});
    CHECK(late.read(hd).status == ReadStatus::frame);
    late.interim_response();                                                    // ok: back to before HEADERS
    CHECK(late.read(Bytes(hd).subspan(h.size())).status == ReadStatus::error);  // DATA before HEADERS
}

TEST_CASE("h3 reader: finish() at the end of the stream") {
    const Vec h = frame(HEADERS, str("h"));
    struct Case {
        const char* name;
        ReaderOptions o;
        Vec wire;
        std::optional<ErrorCode> code;
        ErrorScope scope;
    };
    const ErrorScope C = ErrorScope::connection, S = ErrorScope::stream;
    const Case cases[] = {
        {"complete request", opts(StreamKind::request), cat({h, frame(DATA, str("x"))}), std::nullopt, C},
        {"complete push", opts(StreamKind::push), h, std::nullopt, C},
        {"request cut in the type", opts(StreamKind::request), cat({h, Vec{0x40}}), FRAME, C},
        {"request cut in the length", opts(StreamKind::request), cat({h, Vec{0x00, 0x40}}), FRAME, C},
        {"request cut in DATA", opts(StreamKind::request), cat({h, Vec{0x00, 0x05, 'a'}}), FRAME, C},
        {"request cut in HEADERS", opts(StreamKind::request), Vec{0x01, 0x05, 'a'}, FRAME, C},
        {"request cut in an unknown frame", opts(StreamKind::request), cat({h, Vec{0x21, 0x05, 'a'}}), FRAME, C},
        {"empty request from a client",
         opts(StreamKind::request, PeerRole::client),
         {},
         ErrorCode::h3_request_incomplete,
         S},
        {"request of grease only", opts(StreamKind::request, PeerRole::client), frame(0x21, {}),
         ErrorCode::h3_request_incomplete, S},
        {"empty response", opts(StreamKind::request, PeerRole::server), {}, ErrorCode::h3_message_error, S},
        {"push promise only", opts(StreamKind::request, PeerRole::server), frame(PUSH_PROMISE, varint(1)),
         ErrorCode::h3_message_error, S},
        {"control stream closed", opts(StreamKind::control), settings({}), ErrorCode::h3_closed_critical_stream, C},
        {"control stream closed at once", opts(StreamKind::control), {}, ErrorCode::h3_closed_critical_stream, C},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        const Transcript t = run_all_splits(c.wire, c.o, 3, true);
        CHECK(t.error.has_value() == c.code.has_value());
        if (t.error && c.code) {
            CHECK(t.error->code == *c.code);
            CHECK(t.error->scope == c.scope);
        }
    }
}

// --- hostile inputs ---------------------------------------------------------

TEST_CASE("h3 reader: a DATA frame declaring 2^62-1 octets streams without buffering") {
    test_support::CountingResource mr;
    Reader r(opts(StreamKind::request), &mr);
    const Vec start = cat({frame(HEADERS, {}), varint(DATA), varint(max_varint)});
    Bytes in = start;
    ReadResult x = r.read(in);
    CHECK(x.status == ReadStatus::frame);
    x = r.read(in.subspan(x.consumed));
    CHECK(x.status == ReadStatus::need_input);
    const Vec chunk(4096, 'z');
    std::uint64_t seen = 0;
    for (int i = 0; i < 256; ++i) {
        x = r.read(chunk);
        REQUIRE(x.status == ReadStatus::data);
        CHECK(x.consumed == chunk.size());
        CHECK(x.data.data.data() == chunk.data());  // a view of the input
        CHECK(x.data.first == (i == 0));
        CHECK_FALSE(x.data.last);
        seen += x.data.data.size();
    }
    CHECK(seen == 256 * 4096);
    CHECK(mr.allocations == 0);
    CHECK(r.finish()->code == FRAME);
}

TEST_CASE("h3 reader: huge declared lengths allocate nothing") {
    for (StreamKind k : {StreamKind::request, StreamKind::control}) {
        test_support::CountingResource mr;
        Reader r(opts(k), &mr);
        const Vec head = k == StreamKind::control ? cat({varint(SETTINGS), varint(max_varint)})
                                                  : cat({varint(HEADERS), varint(1u << 30)});
        const ReadResult x = r.read(head);
        CHECK(x.status == ReadStatus::error);
        CHECK(x.error.code == LOAD);
        CHECK(mr.allocations == 0);
    }
    // An unknown frame of 2^62-1 octets is skipped as it arrives.
    test_support::CountingResource mr;
    Reader r(opts(StreamKind::request), &mr);
    const Vec head = cat({varint(grease_value(5)), varint(max_varint)});
    ReadResult x = r.read(head);
    CHECK(x.status == ReadStatus::unknown_frame);
    CHECK(x.header.length == max_varint);
    const Vec junk(65536, 0xff);
    for (int i = 0; i < 64; ++i) CHECK(r.read(junk).status == ReadStatus::need_input);
    CHECK(mr.allocations == 0);
    CHECK_FALSE(r.at_frame_boundary());
}

TEST_CASE("h3 reader: endless grease frames are skipped with bounded work and no memory") {
    test_support::CountingResource mr;
    Reader r(opts(StreamKind::control), &mr);
    const Vec s = settings({});
    Vec wire = s;
    const Vec g = frame(0x21, {});
    const Vec g2 = frame(grease_value(12345), Vec(3, 1));
    for (int i = 0; i < 20000; ++i) wire.insert(wire.end(), (i % 2 ? g : g2).begin(), (i % 2 ? g : g2).end());
    Bytes in = wire;
    std::size_t items = 0, calls = 0;
    for (;;) {
        const ReadResult x = r.read(in);
        ++calls;
        // Each call returns after at most one frame: work per call is bounded
        // by the octets it consumed.
        CHECK(x.consumed <= g2.size() + s.size());
        in = in.subspan(x.consumed);
        if (x.status == ReadStatus::need_input) break;
        REQUIRE(x.status != ReadStatus::error);
        ++items;
    }
    CHECK(items == 20001);
    CHECK(mr.allocations == 0);
    CHECK(r.at_frame_boundary());
}

TEST_CASE("h3 reader: buffers stay within the limits and are reused once warm") {
    test_support::CountingResource mr;
    ReaderOptions o = opts(StreamKind::request);
    o.check_message = false;
    Reader r(o, &mr);
    const Vec big = frame(HEADERS, Vec(65536, 'h'));
    auto feed_split = [&](const Vec& w) {
        std::uint64_t len = 0;
        const std::size_t header = 1 + read_varint(Bytes(w).subspan(1), len);
        // Two halves, so the payload must be buffered.
        Bytes in = w;
        for (Bytes part : {in.first(w.size() / 2), in.subspan(w.size() / 2)}) {
            for (;;) {
                const ReadResult x = r.read(part);
                part = part.subspan(x.consumed);
                if (x.status == ReadStatus::need_input) break;
                REQUIRE(x.status == ReadStatus::frame);
                const auto& h = std::get<Headers>(x.frame);
                CHECK(h.field_section.size() == w.size() - header);
                CHECK(h.field_section.size() == len);
            }
        }
    };
    feed_split(big);
    CHECK(r.buffer_capacity() <= 65536 + 16);
    const std::size_t warm = mr.allocations;
    for (int i = 0; i < 10; ++i) feed_split(big);
    feed_split(frame(HEADERS, Vec(100, 'h')));
    CHECK(mr.allocations == warm);
    CHECK(r.buffer_capacity() <= 65536 + 16);
}

TEST_CASE("h3 reader: frames wholly in the input are views of it (no copy)") {
    Reader r(opts(StreamKind::request));
    const Vec w = frame(HEADERS, str("abc"));
    const ReadResult x = r.read(w);
    REQUIRE(x.status == ReadStatus::frame);
    CHECK(std::get<Headers>(x.frame).field_section.data() == w.data() + 2);
    CHECK(r.buffer_capacity() == 0);
}

TEST_CASE("h3 reader: split invariance on long mixed streams") {
    std::mt19937 rng(42);
    for (int round = 0; round < 20; ++round) {
        Vec req = frame(HEADERS, str("head"));
        Vec ctl = settings({{0x6, 100}, {0x21, 1}});
        for (int i = 0; i < 30; ++i) {
            const auto pick = std::uniform_int_distribution<int>(0, 3)(rng);
            const Vec payload(std::uniform_int_distribution<std::size_t>(0, 300)(rng), static_cast<std::uint8_t>(i));
            if (pick == 0) req = cat({req, frame(DATA, payload)});
            if (pick == 1) req = cat({req, frame(PUSH_PROMISE, cat({varint(static_cast<std::uint64_t>(i)), payload}))});
            if (pick == 2)
                req = cat({req, frame(grease_value(static_cast<std::uint64_t>(i)), payload)}),
                ctl = cat({ctl, frame(0x21, payload)});
            if (pick == 3) ctl = cat({ctl, frame(CANCEL_PUSH, varint(static_cast<std::uint64_t>(i) << 20))});
        }
        req = cat({req, frame(HEADERS, str("trailers"))});
        const Transcript a = run_all_splits(req, opts(StreamKind::request, PeerRole::server), 4, true);
        CHECK_FALSE(a.error);
        const Transcript b = run_all_splits(ctl, opts(StreamKind::control, PeerRole::server), 4);
        CHECK_FALSE(b.error);
    }
}

}  // namespace

namespace {

TEST_CASE("h3 reader: a reader moved mid-frame goes on where it was") {
    const Vec w = cat({frame(HEADERS, str("abcdef")), frame(DATA, str("xyz"))});
    Reader a(opts(StreamKind::request));
    CHECK(a.read(Bytes(w).first(4)).status == ReadStatus::need_input);
    Reader b(std::move(a));
    const ReadResult x = b.read(Bytes(w).subspan(4));
    REQUIRE(x.status == ReadStatus::frame);
    CHECK(std::get<Headers>(x.frame).field_section.size() == 6);
    Reader c;
    c = std::move(b);
    const ReadResult y = c.read(Bytes(w).subspan(4 + x.consumed));
    REQUIRE(y.status == ReadStatus::data);
    CHECK(text(y.data.data) == "xyz");
    CHECK(c.at_frame_boundary());
}

}  // namespace

namespace {

TEST_CASE("h3 reader: limits are clamped to max_buffer_limit") {
    ReaderOptions o = opts(StreamKind::request);
    o.max_field_section = ~std::uint64_t{0};
    o.max_frame_payload = max_varint;
    test_support::CountingResource mr;
    Reader r(o, &mr);
    CHECK(r.options().max_field_section == max_buffer_limit);
    CHECK(r.options().max_frame_payload == max_buffer_limit);
    const Vec huge = cat({varint(HEADERS), varint(max_buffer_limit + 1)});
    CHECK(r.read(huge).error.code == LOAD);
    Reader pp(o, &mr);
    const Vec promise = cat({varint(PUSH_PROMISE), varint(max_varint)});
    CHECK(pp.read(promise).error.code == LOAD);
    CHECK(mr.allocations == 0);
}

}  // namespace

TEST_CASE("h3 reader: read_data() gives the same DATA pieces as read(), whatever the splits") {
    // HEADERS, DATA of several sizes (one empty), a reserved frame, DATA.
    Vec in;
    const auto add = [&](std::uint64_t type, std::size_t n, char fill) {
        Vec payload(n, static_cast<std::uint8_t>(fill));
        Vec frame(n + 20);
        frame.resize(write_raw(frame, type, n, payload));
        in.insert(in.end(), frame.begin(), frame.end());
    };
    add(0x1, 5, 'h');
    add(0x0, 3000, 'a');
    add(0x0, 0, 'e');
    add(grease_value(4), 17, 'g');
    add(0x0, 70000, 'b');
    add(0x1, 4, 't');
    const auto pieces = [&](bool fast, std::uint64_t seed) {
        Reader r;
        std::mt19937_64 rng(seed);
        std::vector<std::string> out;
        std::size_t at = 0;
        while (at < in.size()) {
            const std::size_t n = std::min<std::size_t>(in.size() - at, 1 + rng() % 5000);
            Bytes input(in.data() + at, n);
            at += n;
            for (;;) {
                DataChunk chunk;
                if (fast && r.read_data(input, chunk)) {
                    out.push_back("data " + std::to_string(chunk.data.size()) + (chunk.first ? " first" : "") +
                                  (chunk.last ? " last" : ""));
                    continue;
                }
                const ReadResult res = r.read(input);
                input = input.subspan(res.consumed);
                if (res.status == ReadStatus::need_input) break;
                REQUIRE(res.status != ReadStatus::error);
                if (res.status == ReadStatus::data)
                    out.push_back("data " + std::to_string(res.data.data.size()) + (res.data.first ? " first" : "") +
                                  (res.data.last ? " last" : ""));
                else
                    out.push_back("frame " + std::to_string(res.header.type));
            }
        }
        CHECK(r.at_frame_boundary());
        return out;
    };
    for (std::uint64_t seed = 1; seed <= 100; ++seed) {
        CAPTURE(seed);
        CHECK(pieces(true, seed) == pieces(false, seed));
    }
}
