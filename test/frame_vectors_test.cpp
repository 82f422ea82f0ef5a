// Every vector of ../shared/testdata/http2-frame-test-case: valid frames are
// read and compared field by field with the JSON, then written again and
// compared byte for byte with the wire; error cases must fail with one of the
// accepted codes, classified as RFC 9113 says (stream or connection error).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>

#include "h2wire/frame.hpp"
#include "support/frame_builder.hpp"
#include "support/json.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::frame_test;
namespace fs = std::filesystem;

const fs::path vector_dir = fs::path(H2WIRE_SHARED_DIR) / "testdata" / "http2-frame-test-case";

struct Vector {
    std::string name;  // folder/file.json
    json::Value doc;
    ByteVec wire;
};

std::vector<Vector> load_vectors() {
    std::vector<Vector> out;
    for (const auto& e : fs::recursive_directory_iterator(vector_dir)) {
        if (!e.is_regular_file() || e.path().extension() != ".json") continue;
        Vector v;
        v.name = fs::relative(e.path(), vector_dir).generic_string();
        v.doc = json::parse_file(e.path().string());
        const auto wire = json::from_hex(v.doc.find("wire")->str());
        REQUIRE_MESSAGE(wire.has_value(), v.name);
        v.wire = *wire;
        out.push_back(std::move(v));
    }
    std::sort(out.begin(), out.end(), [](const Vector& a, const Vector& b) { return a.name < b.name; });
    return out;
}

// The vectors hold lone frames, so the CONTINUATION sequence is not checked.
// PUSH_PROMISE is only ever sent by a server (RFC 9113 §8.4), so those
// vectors are read as coming from one, which enables the odd promised id
// check (RFC 9113 §5.1.1).
frame::ReaderOptions options_for(const ByteVec& wire) {
    frame::ReaderOptions o;
    o.check_continuation = false;
    if (wire.size() > 3 && wire[3] == static_cast<std::uint8_t>(frame::Type::push_promise))
        o.peer = frame::PeerRole::server;
    return o;
}

std::uint32_t u32(const json::Value* v) {
    return static_cast<std::uint32_t>(v->num());
}
std::string text(const json::Value* v) {
    return v->str();
}
std::string text(std::span<const std::uint8_t> b) {
    return {b.begin(), b.end()};
}

// The optional padding and priority fields common to DATA, HEADERS and
// PUSH_PROMISE; null in the JSON when the flag is absent.
void check_padding(const json::Value& p, const std::optional<frame::Padding>& pad) {
    const json::Value* len = p.find("padding_length");
    if (!len || len->is_null()) {
        CHECK(!pad);
        return;
    }
    REQUIRE(pad);
    CHECK(pad->length == u32(len));
    CHECK(text(pad->content) == text(p.find("padding")));
}

void check_priority(const json::Value& p, const std::optional<frame::PriorityFields>& pr) {
    const json::Value* dep = p.find("stream_dependency");
    if (!dep || dep->is_null()) {
        CHECK(!pr);
        return;
    }
    REQUIRE(pr);
    CHECK(pr->dependency == u32(dep));
    CHECK(pr->exclusive == p.find("exclusive")->boolean());
    // The vectors give the RFC 7540 §5.3.2 weight, the wire octet plus one.
    CHECK(pr->weight + 1u == u32(p.find("weight")));
}

// Compares a non-DATA frame with its JSON payload.
void check_fields(const json::Value& p, const frame::Frame& f) {
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, frame::Headers>) {
                CHECK(text(x.fragment) == text(p.find("header_block_fragment")));
                check_padding(p, x.padding);
                check_priority(p, x.priority);
            } else if constexpr (std::is_same_v<T, frame::Priority>) {
                check_priority(p, std::optional<frame::PriorityFields>(x.fields));
                CHECK(p.find("padding_length")->is_null());
            } else if constexpr (std::is_same_v<T, frame::RstStream>) {
                CHECK(static_cast<std::uint32_t>(x.error_code) == u32(p.find("error_code")));
            } else if constexpr (std::is_same_v<T, frame::Settings>) {
                const json::Array& list = p.find("settings")->arr();
                REQUIRE(x.entries.size() == list.size());
                for (std::size_t i = 0; i < list.size(); ++i) {
                    CHECK(static_cast<std::uint32_t>(x.entries[i].id) == u32(&list[i].arr()[0]));
                    CHECK(x.entries[i].value == u32(&list[i].arr()[1]));
                }
            } else if constexpr (std::is_same_v<T, frame::PushPromise>) {
                CHECK(x.promised_stream_id == u32(p.find("promised_stream_id")));
                CHECK(text(x.fragment) == text(p.find("header_block_fragment")));
                check_padding(p, x.padding);
            } else if constexpr (std::is_same_v<T, frame::Ping>) {
                CHECK(text(x.opaque_data) == text(p.find("opaque_data")));
            } else if constexpr (std::is_same_v<T, frame::Goaway>) {
                CHECK(x.last_stream_id == u32(p.find("last_stream_id")));
                CHECK(static_cast<std::uint32_t>(x.error_code) == u32(p.find("error_code")));
                CHECK(text(x.debug_data) == text(p.find("additional_debug_data")));
            } else if constexpr (std::is_same_v<T, frame::WindowUpdate>) {
                CHECK(x.increment == u32(p.find("window_size_increment")));
            } else if constexpr (std::is_same_v<T, frame::Continuation>) {
                CHECK(text(x.fragment) == text(p.find("header_block_fragment")));
            } else {
                FAIL("unexpected frame type " << describe(f));
            }
        },
        f);
}

// Expected classification of each error vector, from the RFC sections cited.
const std::map<std::string, bool> stream_level = {
    {"error/priority-frame-size.json", true},            // RFC 9113 §6.3
    {"error/window_update-frame-increment.json", true},  // RFC 9113 §6.9 (on stream 1)
};

void run_valid(const Vector& v) {
    const json::Value& fj = *v.doc.find("frame");
    const json::Value& payload = *fj.find("frame_payload");
    const frame::ReaderOptions opts = options_for(v.wire);
    frame::Reader reader(opts);
    std::span<const std::uint8_t> in(v.wire);
    const frame::ReadResult r = reader.read(in);

    CHECK(r.header.length == u32(fj.find("length")));
    CHECK(static_cast<std::uint32_t>(r.header.type) == u32(fj.find("type")));
    CHECK(r.header.flags == u32(fj.find("flags")));
    CHECK(r.header.stream_id == u32(fj.find("stream_identifier")));
    CHECK(r.consumed == v.wire.size());
    CHECK(reader.at_frame_boundary());

    ByteVec out(v.wire.size() + 16);
    frame::WriteResult w;
    if (r.header.type == frame::Type::data) {
        // DATA arrives as chunks (padding removed); the whole frame is in the
        // input, so there is exactly one.
        REQUIRE(r.status == frame::ReadStatus::data);
        CHECK(r.data.first);
        CHECK(r.data.last);
        CHECK(r.data.flow_controlled_length == r.header.length);
        CHECK(text(r.data.data) == text(payload.find("data")));
        const json::Value* pl = payload.find("padding_length");
        std::optional<frame::Padding> pad;
        if (!pl->is_null()) {
            REQUIRE(r.data.pad_length);
            CHECK(*r.data.pad_length == u32(pl));
            // The padding content is not handed out by the reader; re-encode
            // it from the vector so the bytes can be compared.
            pad = frame::Padding{*r.data.pad_length, as_bytes(payload.find("padding")->str())};
        } else {
            CHECK(!r.data.pad_length);
        }
        w = frame::write(out, frame::Data{r.data.stream_id, r.data.end_stream, pad, r.data.data});
    } else {
        REQUIRE_MESSAGE(r.status == frame::ReadStatus::frame, describe(r.frame));
        check_fields(payload, r.frame);
        w = frame::write(out, r.frame);
    }
    REQUIRE_MESSAGE(w, to_string(w.error));
    out.resize(w.size);
    CHECK(hex(out) == hex(v.wire));
}

void run_error(const Vector& v) {
    const json::Array& accepted = v.doc.find("error")->arr();
    const frame::ReaderOptions opts = options_for(v.wire);
    frame::Reader reader(opts);
    const frame::ReadResult r = reader.read(v.wire);
    REQUIRE_MESSAGE((r.status == frame::ReadStatus::stream_error || r.status == frame::ReadStatus::connection_error),
                    describe(r.frame));
    const bool want_stream = stream_level.count(v.name) != 0;
    const ErrorCode code = r.status == frame::ReadStatus::stream_error ? r.stream_error.code : r.connection_error.code;
    CHECK((r.status == frame::ReadStatus::stream_error) == want_stream);
    bool ok = false;
    for (const json::Value& a : accepted) ok = ok || static_cast<std::uint32_t>(code) == u32(&a);
    CHECK_MESSAGE(ok, "got " << to_string(code));
    if (r.status == frame::ReadStatus::stream_error) {
        CHECK(r.stream_error.stream_id == r.header.stream_id);
        CHECK(!reader.failed());
    } else {
        CHECK(reader.failed());
    }
}

TEST_CASE("frame vectors: http2-frame-test-case, every file") {
    const std::vector<Vector> vectors = load_vectors();
    // 12 valid frames and 22 error cases (see the folder's README).
    REQUIRE(vectors.size() == 34);
    int valid = 0, errors = 0;
    for (const Vector& v : vectors) {
        CAPTURE(v.name);
        if (v.doc.find("error")->is_null()) {
            run_valid(v);
            ++valid;
        } else {
            CHECK(v.doc.find("frame")->is_null());
            run_error(v);
            ++errors;
        }
    }
    CHECK(valid == 12);
    CHECK(errors == 22);
}

TEST_CASE("frame vectors: same result whole, byte by byte and at random splits") {
    for (const Vector& v : load_vectors()) {
        CAPTURE(v.name);
        const Transcript t = run_all_splits(v.wire, options_for(v.wire));
        CHECK(t.lines.size() == 1);
    }
}

TEST_CASE("frame vectors: all of them back to back in one stream") {
    // The valid frames concatenated read as the same frames, one after the
    // other, in any split; an error vector appended ends the stream there.
    ByteVec stream;
    std::vector<std::string> expected;
    frame::ReaderOptions opts;
    opts.check_continuation = false;
    for (const Vector& v : load_vectors()) {
        if (!v.doc.find("error")->is_null()) continue;
        if (v.wire[3] == static_cast<std::uint8_t>(frame::Type::push_promise)) continue;  // needs peer=server
        stream.insert(stream.end(), v.wire.begin(), v.wire.end());
        expected.push_back(run_reader(v.wire, Split::whole(), opts).lines.at(0));
    }
    const Transcript t = run_all_splits(stream, opts);
    CHECK(t.lines == expected);
    CHECK(!t.failed);
    CHECK(t.at_boundary);
}

}  // namespace
