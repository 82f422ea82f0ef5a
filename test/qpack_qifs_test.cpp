// QPACK offline interop (../shared/testdata/qifs, see its README): every
// encoded file of six encoders decodes to its QIF's header lists, whole,
// byte by byte and at random splits; the two RFC 9204 Appendix B files; the
// twelve error files; and the decoder-stream instructions of Appendix B.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "h2wire/qpack.hpp"
#include "qpack_support.hpp"

using namespace h2wire;
using namespace h2wire::qifs;

namespace {

namespace fs = std::filesystem;

std::string qifs_dir() {
    return std::string(H2WIRE_SHARED_DIR) + "/testdata/qifs";
}

std::string hex(std::span<const std::uint8_t> b) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (const std::uint8_t c : b) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

Bytes unhex(std::string_view s) {
    Bytes out;
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (std::size_t i = 0; i + 1 < s.size(); i += 2)
        out.push_back(static_cast<std::uint8_t>(nibble(s[i]) << 4 | nibble(s[i + 1])));
    return out;
}

std::string describe(const HeaderList& l) {
    std::ostringstream os;
    os << "[";
    for (std::size_t i = 0; i < l.size(); ++i) os << (i ? ", " : "") << l[i].name << ": " << l[i].value;
    os << "]";
    return os.str();
}

// The QIF files, read once.
const std::vector<HeaderList>& qif(const std::string& name) {
    static std::map<std::string, std::vector<HeaderList>> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        auto lists = read_qif(qifs_dir() + "/qifs/" + name + ".qif");
        REQUIRE_MESSAGE(lists.has_value(), "cannot read qifs/" << name << ".qif");
        it = cache.emplace(name, std::move(*lists)).first;
    }
    return it->second;
}

std::vector<fs::path> files_of(const std::string& encoder) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(qifs_dir() + "/encoded/qpack-05/" + encoder))
        if (e.is_regular_file()) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

qpack::DecoderLimits limits_for(const FileParams& p) {
    qpack::DecoderLimits l;
    l.max_table_capacity = p.capacity;
    l.max_blocked_streams = p.blocked;
    return l;
}

// Lists of `r` (sorted by stream id) that equal `want`, reporting the first
// mismatch through `why`.
std::size_t matching_lists(const FileDecode& r, const std::vector<HeaderList>& want, std::string& why) {
    const auto got = r.sorted();
    std::size_t ok = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (i < got.size() && got[i].second == want[i]) {
            ++ok;
        } else if (why.empty()) {
            why = "list " + std::to_string(i) +
                  (i < got.size() ? " (stream " + std::to_string(got[i].first) + ")" : "") + ": got " +
                  (i < got.size() ? describe(got[i].second) : std::string("nothing")) + ", expected " +
                  describe(want[i]);
        }
    }
    if (got.size() != want.size() && why.empty())
        why = std::to_string(got.size()) + " lists decoded, the QIF has " + std::to_string(want.size());
    return ok;
}

std::string failure_of(const FileDecode& r) {
    std::string s;
    if (r.error != qpack::Error::none)
        s += "error " + std::string(qpack::to_string(r.error)) + " at block " + std::to_string(r.error_block) +
             " (stream " + std::to_string(r.error_stream) + "); ";
    if (r.blocked_at_end) s += std::to_string(r.blocked_at_end) + " sections still blocked at the end; ";
    // README step 3: no encoder-stream bytes left over at the end.
    if (r.error == qpack::Error::none && r.pending_at_end)
        s += std::to_string(r.pending_at_end) + " encoder-stream octets of an unfinished instruction at the end; ";
    if (r.partial_after_end) s += "a section said partial after its last piece; ";
    if (r.blocked_but_reported) s += "a section reported fields and then said blocked; ";
    if (r.unblocked_not_done) s += "a section from next_unblocked() did not finish; ";
    return s;
}

struct FileOutcome {
    bool ok = false;
    std::size_t lists_ok = 0;
    std::string why;
};

FileOutcome run_file(const fs::path& path, Split split, std::uint32_t seed = 7) {
    FileOutcome out;
    const auto params = parse_file_name(path.filename().string());
    if (!params) {
        out.why = "file name without parameters";
        return out;
    }
    const auto blocks = read_encoded(path.string());
    if (!blocks) {
        out.why = "unreadable or truncated file";
        return out;
    }
    Cutter cutter(split, seed);
    const FileDecode r = decode_blocks(*blocks, limits_for(*params), params->capacity, cutter);
    out.why = failure_of(r);
    if (r.max_blocked > params->blocked)
        out.why += std::to_string(r.max_blocked) + " sections blocked at once, the limit is " +
                   std::to_string(params->blocked) + "; ";
    out.lists_ok = matching_lists(r, qif(params->qif), out.why);
    out.ok = out.why.empty();
    return out;
}

const char* const kEncoders[] = {"f5", "proxygen", "ls-qpack", "nghttp3", "qthingey", "quinn"};

}  // namespace

TEST_CASE("qifs: file names and formats") {
    const auto p = parse_file_name("fb-req-hq.out.4096.100.1");
    REQUIRE(p.has_value());
    CHECK(p->qif == "fb-req-hq");
    CHECK(p->capacity == 4096);
    CHECK(p->blocked == 100);
    CHECK(p->ack == 1);
    CHECK_FALSE(parse_file_name("draft-examples.out").has_value());
    CHECK_FALSE(parse_file_name("err1").has_value());
    CHECK_FALSE(parse_file_name("x.out.a.0.0").has_value());

    const auto lists = parse_qif("# c\na\tb c\td\nx\t\n\n:path\t/\n\n");
    REQUIRE(lists.size() == 2);
    CHECK(lists[0] == HeaderList{{"a", "b c\td"}, {"x", ""}});
    CHECK(lists[1] == HeaderList{{":path", "/"}});
    CHECK(parse_qif(write_qif(lists)) == lists);

    Bytes file;
    append_block(file, 0, Bytes{1, 2, 3});
    append_block(file, 0x0102030405060708u, Bytes{});
    CHECK(hex(file) ==
          "000000000000000000000003010203"
          "0102030405060708"
          "00000000");
    const auto blocks = parse_encoded(file);
    REQUIRE(blocks.has_value());
    REQUIRE(blocks->size() == 2);
    CHECK((*blocks)[1].stream_id == 0x0102030405060708u);
    file.pop_back();
    CHECK_FALSE(parse_encoded(file).has_value());
}

TEST_CASE("qifs: every encoded file of six encoders decodes to its QIF") {
    const std::map<std::string, std::size_t> expected_files = {
        {"f5", 72}, {"proxygen", 72}, {"ls-qpack", 32}, {"nghttp3", 32}, {"qthingey", 32}, {"quinn", 32},
    };
    std::size_t all_files = 0, all_lists = 0, all_ok_files = 0, all_ok_lists = 0;
    int reported = 0;
    for (const std::string encoder : kEncoders) {
        CAPTURE(encoder);
        const auto files = files_of(encoder);
        CHECK(files.size() == expected_files.at(encoder));
        std::size_t lists = 0, ok_files = 0, ok_lists = 0, blocked_files = 0;
        for (const fs::path& f : files) {
            const auto params = parse_file_name(f.filename().string());
            REQUIRE_MESSAGE(params.has_value(), f.filename().string());
            lists += qif(params->qif).size();
            const auto blocks = read_encoded(f.string());
            REQUIRE(blocks.has_value());
            Cutter whole(Split::whole);
            const FileDecode r = decode_blocks(*blocks, limits_for(*params), params->capacity, whole);
            if (r.sections_blocked > 0) ++blocked_files;
            std::string why = failure_of(r);
            if (r.max_blocked > params->blocked) why += "over the blocked-streams limit; ";
            const std::size_t n = matching_lists(r, qif(params->qif), why);
            ok_lists += n;
            if (why.empty()) {
                ++ok_files;
            } else if (reported < 8) {
                ++reported;
                FAIL_CHECK(encoder << "/" << f.filename().string() << ": " << why);
            }
        }
        MESSAGE(encoder << ": " << ok_files << " / " << files.size() << " files, " << ok_lists << " / " << lists
                        << " header lists decode exactly; " << blocked_files << " files have blocked sections");
        CHECK(ok_files == files.size());
        CHECK(ok_lists == lists);
        all_files += files.size();
        all_lists += lists;
        all_ok_files += ok_files;
        all_ok_lists += ok_lists;
    }
    MESSAGE("all encoders: " << all_ok_files << " / " << all_files << " files, " << all_ok_lists << " / " << all_lists
                             << " header lists");
    CHECK(all_files == 272);
    CHECK(all_lists == 39936);
}

TEST_CASE("qifs: the encoders that reorder blocks make sections block, the others do not") {
    // README: f5 and proxygen block in their 36 blocked-100 files; quinn in 12
    // files; ls-qpack, nghttp3 and qthingey never.
    const std::map<std::string, std::size_t> expected = {
        {"f5", 36}, {"proxygen", 36}, {"ls-qpack", 0}, {"nghttp3", 0}, {"qthingey", 0}, {"quinn", 12},
    };
    for (const std::string encoder : kEncoders) {
        CAPTURE(encoder);
        std::size_t blocking = 0;
        for (const fs::path& f : files_of(encoder)) {
            const auto params = parse_file_name(f.filename().string());
            const auto blocks = read_encoded(f.string());
            REQUIRE(blocks.has_value());
            Cutter whole(Split::whole);
            const FileDecode r = decode_blocks(*blocks, limits_for(*params), params->capacity, whole);
            if (r.sections_blocked > 0) {
                ++blocking;
                CHECK(params->blocked > 0);
            }
        }
        CHECK(blocking == expected.at(encoder));
    }
}

TEST_CASE("qifs: split invariance (byte by byte and random splits) on a sample of files") {
    // Every third file at random splits (three seeds over the sample), every
    // eighth byte by byte: both the encoder stream and the sections are cut.
    for (const std::string encoder : kEncoders) {
        CAPTURE(encoder);
        const auto files = files_of(encoder);
        std::size_t tried = 0, passed = 0;
        int reported = 0;
        for (std::size_t i = 0; i < files.size(); ++i) {
            for (const Split split : {Split::random, Split::byte_by_byte}) {
                if (split == Split::random ? i % 3 != 0 : i % 8 != 1) continue;
                ++tried;
                const FileOutcome o = run_file(files[i], split, static_cast<std::uint32_t>(i));
                if (o.ok) {
                    ++passed;
                } else if (reported++ < 4) {
                    FAIL_CHECK(encoder << "/" << files[i].filename().string() << " (" << to_string(split)
                                       << "): " << o.why);
                }
            }
        }
        MESSAGE(encoder << ": " << passed << " / " << tried << " split runs decode exactly");
        CHECK(passed == tried);
    }
}

TEST_CASE("qifs: examples.out.220.100.1 is RFC 9204 Appendix B") {
    const std::string path = qifs_dir() + "/encoded/qpack-05/examples/examples.out.220.100.1";
    const auto params = parse_file_name("examples.out.220.100.1");
    REQUIRE(params.has_value());
    const auto blocks = read_encoded(path);
    REQUIRE(blocks.has_value());
    const std::vector<std::pair<std::uint64_t, HeaderList>> want = {
        {4, {{":path", "/index.html"}}},
        {8, {{":authority", "www.example.com"}, {":path", "/sample/path"}}},
        {12, {{":authority", "www.example.com"}, {":path", "/"}, {"custom-key", "custom-value"}}},
    };
    for (const Split split : {Split::whole, Split::byte_by_byte, Split::random}) {
        CAPTURE(to_string(split));
        Cutter cutter(split, 3);
        const FileDecode r = decode_blocks(*blocks, limits_for(*params), params->capacity, cutter);
        CHECK(failure_of(r) == "");
        CHECK(r.sorted() == want);
        CHECK(r.sections_blocked == 0);
    }
}

TEST_CASE("qifs: draft-examples.out decodes to draft-examples.qif") {
    const auto blocks = read_encoded(qifs_dir() + "/encoded/qpack-05/draft-examples.out");
    REQUIRE(blocks.has_value());
    const auto& want = qif("draft-examples");
    REQUIRE(want.size() == 3);
    for (const Split split : {Split::whole, Split::byte_by_byte, Split::random}) {
        CAPTURE(to_string(split));
        Cutter cutter(split, 5);
        // It sets the capacity (170) itself: no assumed capacity.
        const FileDecode r = decode_blocks(*blocks, qpack::DecoderLimits{}, 0, cutter);
        CHECK(failure_of(r) == "");
        std::string why;
        CHECK(matching_lists(r, want, why) == 3);
        CHECK(why == "");
    }
}

TEST_CASE("qifs: the error files") {
    const std::string dir = qifs_dir() + "/encoded/errors/";
    for (const Split split : {Split::whole, Split::byte_by_byte}) {
        CAPTURE(to_string(split));
        // err1-err8: a section that ends inside its prefix or a field line.
        for (int i = 1; i <= 8; ++i) {
            const std::string name = "err" + std::to_string(i);
            CAPTURE(name);
            const auto blocks = read_encoded(dir + name);
            REQUIRE(blocks.has_value());
            Cutter cutter(split);
            const FileDecode r = decode_blocks(*blocks, qpack::DecoderLimits{}, 0, cutter);
            CHECK(r.error != qpack::Error::none);
            CHECK(qpack::error_code(r.error) == qpack::kDecompressionFailed);
            CHECK(qpack::error_code(r.error) == 0x200);
            CHECK(qpack::is_fatal(r.error));
            CHECK(r.lists.empty());
        }
        // err9, err10: valid since the 0-based, 99-entry static table.
        const std::pair<const char*, QifField> valid[] = {
            {"err9", {":authority", ""}},
            {"err10", {"x-xss-protection", "1; mode=block"}},
        };
        for (const auto& one : valid) {
            const std::string name = one.first;
            const QifField field = one.second;
            CAPTURE(name);
            const auto blocks = read_encoded(dir + name);
            REQUIRE(blocks.has_value());
            Cutter cutter(split);
            const FileDecode r = decode_blocks(*blocks, qpack::DecoderLimits{}, 0, cutter);
            CHECK(failure_of(r) == "");
            REQUIRE(r.lists.size() == 1);
            CHECK(r.lists[0].first == 1);
            CHECK(r.lists[0].second == HeaderList{field});
        }
        // err11: Duplicate of an entry of an empty table.
        {
            const auto blocks = read_encoded(dir + "err11");
            REQUIRE(blocks.has_value());
            Cutter cutter(split);
            const FileDecode r = decode_blocks(*blocks, qpack::DecoderLimits{}, 0, cutter);
            CHECK(qpack::error_code(r.error) == qpack::kEncoderStreamError);
            CHECK(qpack::error_code(r.error) == 0x201);
        }
    }
}

TEST_CASE("qifs: err12, an insert naming static entry 68,719,476,671, fails on the encoder stream") {
    // Rejected as soon as the index is read, or left pending at the end of
    // the file (README: either is the failure).
    const auto blocks = read_encoded(qifs_dir() + "/encoded/errors/err12");
    REQUIRE(blocks.has_value());
    REQUIRE(blocks->size() == 1);
    CHECK(hex((*blocks)[0].data) == "ff80ffffffff01");
    for (const Split split : {Split::whole, Split::byte_by_byte}) {
        CAPTURE(to_string(split));
        qpack::Decoder d;
        Cutter cutter(split);
        qpack::Error e = qpack::Error::none;
        for (const auto piece : cutter.cut((*blocks)[0].data))
            if (e == qpack::Error::none) e = d.read_encoder_stream(piece);
        if (e == qpack::Error::none) {
            // The decoder waits for the whole instruction: the file ends
            // inside it, which the README counts as the failure. Completing
            // it (an empty value) must then be rejected.
            MESSAGE("err12 (" << to_string(split) << "): no error until the instruction is complete");
            CHECK(d.encoder_stream_pending() > 0);
            e = d.read_encoder_stream(Bytes{0x00});
        }
        CHECK(qpack::error_code(e) == qpack::kEncoderStreamError);
        CHECK(e == qpack::Error::encoder_static_index_invalid);
        CHECK(d.insert_count() == 0);
    }
}

// RFC 9204 Appendix B, with the appendix's stream numbers (0, 4, 8): the
// decoder-stream instructions our decoder writes where the appendix gives
// them.
TEST_CASE("qpack decoder: RFC 9204 Appendix B decoder-stream instructions") {
    qpack::DecoderLimits limits;
    limits.max_table_capacity = 220;
    qpack::Decoder d(limits);
    auto output = [&d] {
        const auto out = d.decoder_stream_output();
        const std::string h = hex(out);
        d.consume_decoder_stream_output(out.size());
        return h;
    };
    auto decode = [&d](qpack::Section& s, std::string_view bytes, HeaderList& got) {
        return d.decode(s, unhex(bytes), true, [&](const Field& f) {
            got.push_back({std::string(f.name), std::string(f.value)});
        });
    };

    // B.1: a static name reference; no table, no instruction.
    {
        qpack::Section s(0);
        HeaderList got;
        const qpack::Decoded r = decode(s, "0000510b2f696e6465782e68746d6c", got);
        CHECK(r.status == qpack::Status::done);
        CHECK(r.error == qpack::Error::none);
        CHECK(got == HeaderList{{":path", "/index.html"}});
        CHECK(output() == "");
    }
    // B.2: capacity 220, two inserts, a section on stream 4 referencing both
    // post-Base: Section Acknowledgment (stream=4), and no Insert Count
    // Increment (the acknowledgment covers both inserts).
    CHECK(d.read_encoder_stream(unhex("3fbd01c00f7777772e6578616d706c652e636f6dc10c2f73616d706c652f70617468")) ==
          qpack::Error::none);
    CHECK(d.capacity() == 220);
    CHECK(d.insert_count() == 2);
    CHECK(d.table_size() == 106);
    {
        qpack::Section s(4);
        HeaderList got;
        const qpack::Decoded r = decode(s, "03811011", got);
        CHECK(r.status == qpack::Status::done);
        CHECK(got == HeaderList{{":authority", "www.example.com"}, {":path", "/sample/path"}});
        CHECK(output() == "84");
    }
    // B.3: a speculative insert: Insert Count Increment (1).
    CHECK(d.read_encoder_stream(unhex("4a637573746f6d2d6b65790c637573746f6d2d76616c7565")) == qpack::Error::none);
    CHECK(d.table_size() == 160);
    CHECK(output() == "01");
    CHECK(output() == "");

    SUBCASE("B.4: the section on stream 8 arrives before the Duplicate and is cancelled") {
        qpack::Section s(8);
        HeaderList got;
        const qpack::Decoded r = decode(s, "050080c181", got);
        CHECK(r.status == qpack::Status::blocked);
        CHECK(r.error == qpack::Error::none);
        CHECK(got.empty());
        CHECK(s.blocked());
        CHECK(d.blocked_sections() == 1);
        d.cancel(s);
        CHECK_FALSE(s.blocked());
        CHECK(d.blocked_sections() == 0);
        CHECK(output() == "48");  // Stream Cancellation (Stream=8)
        // The Duplicate arrives: nothing unblocks; one insert to acknowledge.
        CHECK(d.read_encoder_stream(unhex("02")) == qpack::Error::none);
        CHECK(d.next_unblocked() == nullptr);
        CHECK(d.table_size() == 217);
        CHECK(output() == "01");
        // B.5: an insert evicting the oldest entry.
        CHECK(d.read_encoder_stream(unhex("810d637573746f6d2d76616c756532")) == qpack::Error::none);
        CHECK(d.insert_count() == 5);
        CHECK(d.table_entries() == 4);
        CHECK(d.table_size() == 215);
        CHECK(output() == "01");
    }
    SUBCASE("B.4 variant: the Duplicate arrives and unblocks stream 8") {
        qpack::Section s(8);
        HeaderList got;
        CHECK(decode(s, "050080c181", got).status == qpack::Status::blocked);
        CHECK(s.required_insert_count() == 4);
        CHECK(output() == "");
        CHECK(d.read_encoder_stream(unhex("02")) == qpack::Error::none);
        qpack::Section* u = d.next_unblocked();
        REQUIRE(u == &s);
        // It stays the next one until decoded.
        CHECK(d.next_unblocked() == &s);
        const qpack::Decoded r = d.decode(*u, {}, true, [&](const Field& f) {
            got.push_back({std::string(f.name), std::string(f.value)});
        });
        CHECK(r.status == qpack::Status::done);
        CHECK(r.error == qpack::Error::none);
        CHECK(got == HeaderList{{":authority", "www.example.com"}, {":path", "/"}, {"custom-key", "custom-value"}});
        CHECK(d.next_unblocked() == nullptr);
        CHECK_FALSE(s.blocked());
        CHECK(d.blocked_sections() == 0);
        // Section Acknowledgment (stream=8); it covers the Duplicate too.
        CHECK(output() == "88");
    }
}

namespace {

// `n` octets 0x00 Huffman-coded (13 bits each, RFC 7541 Appendix B), padded
// with ones: a valid string 13/8 times longer than its text.
Bytes huffman_zeros(std::size_t n) {
    Bytes out;
    std::uint64_t bits = 0;
    int count = 0;
    for (std::size_t i = 0; i < n; ++i) {
        bits = bits << 13 | 0x1ff8;
        count += 13;
        while (count >= 8) {
            count -= 8;
            out.push_back(static_cast<std::uint8_t>(bits >> count));
        }
    }
    if (count > 0) out.push_back(static_cast<std::uint8_t>(bits << (8 - count) | ((1u << (8 - count)) - 1)));
    return out;
}

}  // namespace

TEST_CASE("qpack decoder: an insert whose Huffman strings outgrow their text reads the same whatever the cuts") {
    // Insert With Literal Name (§4.3.3), both strings Huffman-coded: 490 + 490
    // octets of text, within max_field_size 1000, but 797 + 797 octets on the
    // wire. Read whole it is a valid insert; the same bytes split must be too.
    const Bytes name = huffman_zeros(490), value = huffman_zeros(490);
    Bytes insert(20);
    insert.resize(
        static_cast<std::size_t>(qpack::wire::encode_integer(insert.data(), name.size(), 5, 0x60) - insert.data()));
    insert.insert(insert.end(), name.begin(), name.end());
    Bytes length(10);
    length.resize(
        static_cast<std::size_t>(qpack::wire::encode_integer(length.data(), value.size(), 7, 0x80) - length.data()));
    insert.insert(insert.end(), length.begin(), length.end());
    insert.insert(insert.end(), value.begin(), value.end());
    REQUIRE(name.size() == 797);

    qpack::DecoderLimits limits;
    limits.max_field_size = 1000;
    struct Outcome {
        qpack::Error error;
        std::uint64_t inserts;
        std::uint32_t size;
        bool operator==(const Outcome&) const = default;
    };
    auto read = [&](Split split) {
        qpack::Decoder d(limits);
        d.assume_capacity(4096);
        Cutter cutter(split, 9);
        qpack::Error e = qpack::Error::none;
        for (const auto piece : cutter.cut(insert))
            if (e == qpack::Error::none) e = d.read_encoder_stream(piece);
        return Outcome{e, d.insert_count(), d.table_size()};
    };
    const Outcome whole = read(Split::whole);
    CHECK(whole.error == qpack::Error::none);
    CHECK(whole.inserts == 1);
    CHECK(whole.size == 490 + 490 + 32);
    for (const Split split : {Split::byte_by_byte, Split::random}) {
        CAPTURE(to_string(split));
        const Outcome cut = read(split);
        CHECK(cut.error == whole.error);
        CHECK(cut.inserts == whole.inserts);
        CHECK(cut.size == whole.size);
    }
}

TEST_CASE("qpack decoder: a section whose Huffman strings outgrow their text decodes the same whatever the cuts") {
    // Literal Field Line with Literal Name (§4.5.6), both strings
    // Huffman-coded: 950 + 950 octets of text, so 1,932 under
    // max_field_section_size 2000; 3,096 octets on the wire. Whole, it
    // decodes; the same section in pieces must too.
    const Bytes name = huffman_zeros(950), value = huffman_zeros(950);
    Bytes section = {0x00, 0x00};
    Bytes prefix(10);
    prefix.resize(
        static_cast<std::size_t>(qpack::wire::encode_integer(prefix.data(), name.size(), 3, 0x28) - prefix.data()));
    section.insert(section.end(), prefix.begin(), prefix.end());
    section.insert(section.end(), name.begin(), name.end());
    prefix.assign(10, 0);
    prefix.resize(
        static_cast<std::size_t>(qpack::wire::encode_integer(prefix.data(), value.size(), 7, 0x80) - prefix.data()));
    section.insert(section.end(), prefix.begin(), prefix.end());
    section.insert(section.end(), value.begin(), value.end());

    qpack::DecoderLimits limits;
    limits.max_field_section_size = 2000;
    struct Outcome {
        qpack::Error error;
        qpack::Status status;
        std::size_t fields, octets;
        bool operator==(const Outcome&) const = default;
    };
    auto decode = [&](Split split) {
        qpack::Decoder d(limits);
        qpack::Section s(4);
        Cutter cutter(split, 11);
        const auto pieces = cutter.cut(section);
        Outcome o{qpack::Error::none, qpack::Status::partial, 0, 0};
        for (std::size_t i = 0; i < pieces.size() && o.error == qpack::Error::none; ++i) {
            const qpack::Decoded r = d.decode(s, pieces[i], i + 1 == pieces.size(), [&](const Field& f) {
                ++o.fields;
                o.octets += f.name.size() + f.value.size();
            });
            o.error = r.error;
            o.status = r.status;
        }
        return o;
    };
    const Outcome whole = decode(Split::whole);
    MESSAGE("whole: " << qpack::to_string(whole.error) << ", " << whole.fields << " field(s)");
    for (const Split split : {Split::byte_by_byte, Split::random}) {
        CAPTURE(to_string(split));
        const Outcome cut = decode(split);
        CHECK(cut.error == whole.error);
        CHECK(cut.status == whole.status);
        CHECK(cut.fields == whole.fields);
        CHECK(cut.octets == whole.octets);
    }
}

TEST_CASE("qpack decoder: a section unblocked by a read that then fails is handed back once") {
    // A section waiting for insert 1; the encoder stream brings the insert,
    // then an invalid Duplicate (fatal). The loop of Decoder::next_unblocked's
    // doc, `while ((s = next_unblocked())) decode(*s, {}, true, sink)`, must
    // end: decode() says what happened, and the section is not handed back
    // again.
    qpack::Decoder d;
    d.assume_capacity(4096);
    qpack::Section s(4);
    const qpack::Decoded blocked = d.decode(s, unhex("020080"), true, [](const Field&) {});
    REQUIRE(blocked.status == qpack::Status::blocked);
    // Insert With Literal Name a: b, then Duplicate of relative index 5.
    const qpack::Error e = d.read_encoder_stream(unhex("4161016205"));
    CHECK(e == qpack::Error::encoder_dynamic_index_invalid);
    CHECK(d.insert_count() == 1);
    int handed = 0;
    while (qpack::Section* u = d.next_unblocked()) {
        if (++handed > 3) break;
        CHECK(u == &s);
        const qpack::Decoded r = d.decode(*u, {}, true, [](const Field&) {});
        CHECK(r.error == e);
    }
    CHECK(handed <= 1);
}

TEST_CASE("qpack decoder: a blocked section keeps the Required Insert Count it was read with") {
    // RFC 9204 §4.5.1.1 decodes the Required Insert Count when the prefix is
    // read. Capacity 220: MaxEntries 6, FullRange 12. `03 81 10 11` at insert
    // count 0 is Required Insert Count 2, Base 0, then post-Base indices 0
    // and 1; it blocks. 13 or 14 inserts then arrive at once (evicting
    // entries 0 and 1, which no compliant encoder would do while the section
    // is unacknowledged; a hostile one may). next_unblocked() hands the
    // section back, so it "can now decode": decode() must finish it, and
    // since entries 0 and 1 are gone, with QPACK_DECOMPRESSION_FAILED. Read
    // again at insert count 13 or 14, the same prefix would mean Required
    // Insert Count 14 and Base 12: blocked again at 13, and at 14 two fields
    // from entries 12 and 13 that the encoder never referenced.
    for (const int inserts : {13, 14}) {
        CAPTURE(inserts);
        qpack::DecoderLimits limits;
        limits.max_table_capacity = 220;
        qpack::Decoder d(limits);
        d.assume_capacity(220);
        qpack::Section s(4);
        REQUIRE(d.decode(s, unhex("03811011"), true, [](const Field&) {}).status == qpack::Status::blocked);
        CHECK(s.required_insert_count() == 2);
        std::string bytes;
        for (int i = 0; i < inserts; ++i) bytes += "41610162";  // Insert With Literal Name a: b
        REQUIRE(d.read_encoder_stream(unhex(bytes)) == qpack::Error::none);
        REQUIRE(d.insert_count() == static_cast<std::uint64_t>(inserts));
        qpack::Section* u = d.next_unblocked();
        REQUIRE(u == &s);
        std::size_t fields = 0;
        const qpack::Decoded r = d.decode(*u, {}, true, [&](const Field&) { ++fields; });
        CHECK(r.status == qpack::Status::done);
        CHECK(r.error == qpack::Error::dynamic_index_invalid);
        CHECK(fields == 0);
    }
}

TEST_CASE("qpack decoder: encoder_stream_pending() counts the octets of an unfinished instruction") {
    // RFC 9204 Appendix B.2's encoder stream, cut after every octet: pending
    // only inside an instruction, 0 on each boundary (after 3, 20 and 34).
    const Bytes stream = unhex("3fbd01c00f7777772e6578616d706c652e636f6dc10c2f73616d706c652f70617468");
    qpack::DecoderLimits limits;
    limits.max_table_capacity = 220;
    qpack::Decoder d(limits);
    std::vector<std::size_t> boundaries;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        REQUIRE(d.read_encoder_stream({&stream[i], 1}) == qpack::Error::none);
        if (d.encoder_stream_pending() == 0) boundaries.push_back(i + 1);
    }
    CHECK(boundaries == std::vector<std::size_t>{3, 20, 34});
    CHECK(d.insert_count() == 2);
}
