// h2wire-qpack: the QPACK offline-interop encoder and decoder (the QUIC WG
// wiki's "QPACK Offline Interop"), like ls-qpack's interop-encode and
// interop-decode.
//
//   h2wire-qpack encode [-t capacity] [-s blocked] [-a 0|1] in.qif out.encoded
//   h2wire-qpack decode [-t capacity] [-s blocked] in.encoded out.qif
//
// See ../shared/testdata/qifs/README.md for both formats.
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "h2wire/qpack.hpp"
#include "h2wire/version.hpp"
#include "qpack_support.hpp"

namespace {

namespace qpack = h2wire::qpack;
namespace qifs = h2wire::qifs;

constexpr std::string_view usage_text =
    "usage: h2wire-qpack encode [-t capacity] [-s blocked] [-a 0|1] IN.qif OUT.encoded\n"
    "       h2wire-qpack decode [-t capacity] [-s blocked] IN.encoded OUT.qif\n"
    "       h2wire-qpack --help | --version\n"
    "\n"
    "encode   encodes each header list of the QIF file as one field section,\n"
    "         on streams 1, 2, 3, ..., and writes the encoder-stream data and\n"
    "         the sections as blocks of the offline-interop format.\n"
    "decode   decodes an offline-interop file and writes the header lists as\n"
    "         QIF, sorted by stream, each after a `# stream N` comment.\n"
    "\n"
    "  -t capacity  the decoder's SETTINGS_QPACK_MAX_TABLE_CAPACITY\n"
    "  -s blocked   the decoder's SETTINGS_QPACK_BLOCKED_STREAMS\n"
    "  -a 0|1       encode: 1 acknowledges every section at once, 0 never\n"
    "\n"
    "Values not given come from the encoded file's name when it ends in\n"
    ".out.CAPACITY.BLOCKED.ACK, else -t 4096 -s 100 -a 1. The decoder starts\n"
    "with its table at the capacity, as the interop encoders assume.\n"
    "\n"
    "A QPACK error or an unreadable file: one message on stderr, exit status 1.\n"
    "Usage errors exit with status 2.\n";

struct Options {
    std::optional<std::uint32_t> capacity, blocked, ack;
    std::vector<std::string> files;
};

int usage_error(const std::string& what) {
    std::cerr << "h2wire-qpack: " << what << "\n" << usage_text;
    return 2;
}

int failure(const std::string& command, const std::string& what) {
    std::cerr << "h2wire-qpack " << command << ": " << what << "\n";
    return 1;
}

bool write_file(const std::string& path, std::string_view data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    return static_cast<bool>(out);
}

// Large limits: the tool is for inspection, not for defence.
qpack::DecoderLimits decoder_limits(std::uint32_t capacity, std::uint32_t blocked) {
    qpack::DecoderLimits l;
    l.max_table_capacity = capacity;
    l.max_blocked_streams = blocked;
    l.max_field_section_size = 1u << 28;
    l.max_field_size = 1u << 28;
    l.max_blocked_octets = 1u << 30;
    return l;
}

int encode(const std::string& in, const std::string& out, std::uint32_t capacity, std::uint32_t blocked, bool ack) {
    const auto lists = qifs::read_qif(in);
    if (!lists) return failure("encode", "cannot read " + in);
    qpack::Encoder encoder;
    encoder.set_peer_settings(capacity, blocked);
    // With -a 1 a decoder beside the encoder acknowledges each section at
    // once, through the decoder stream, as the peer's would.
    qpack::Decoder decoder(decoder_limits(capacity, blocked));

    qifs::Bytes file, section;
    std::vector<h2wire::Field> fields;
    for (std::size_t k = 0; k < lists->size(); ++k) {
        const std::uint64_t stream = k + 1;
        fields.clear();
        for (const qifs::QifField& f : (*lists)[k]) fields.push_back(h2wire::Field{f.name, f.value});
        section.clear();
        encoder.encode(stream, fields, section);
        const qifs::Bytes enc(encoder.encoder_stream_output().begin(), encoder.encoder_stream_output().end());
        encoder.consume_encoder_stream_output(enc.size());
        if (!enc.empty()) qifs::append_block(file, 0, enc);
        if (ack) {
            qpack::Error e = decoder.read_encoder_stream(enc);
            qpack::Section s(stream);
            if (e == qpack::Error::none) e = decoder.decode(s, section, true, [](const h2wire::Field&) {}).error;
            const auto acks = decoder.decoder_stream_output();
            if (e == qpack::Error::none) e = encoder.read_decoder_stream(acks);
            decoder.consume_decoder_stream_output(acks.size());
            if (e != qpack::Error::none)
                return failure("encode", "list " + std::to_string(k + 1) + ": " + std::string(qpack::to_string(e)));
        }
        qifs::append_block(file, stream, section);
    }
    if (!write_file(out, {reinterpret_cast<const char*>(file.data()), file.size()}))
        return failure("encode", "cannot write " + out);
    return 0;
}

std::string hex_code(std::uint64_t code) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, code, 16);
    return "0x" + std::string(buf, r.ptr);
}

int decode(const std::string& in, const std::string& out, std::uint32_t capacity, std::uint32_t blocked) {
    const auto blocks = qifs::read_encoded(in);
    if (!blocks) return failure("decode", "cannot read " + in + ", or it ends inside a block");
    qifs::Cutter whole(qifs::Split::whole);
    const qifs::FileDecode r = qifs::decode_blocks(*blocks, decoder_limits(capacity, blocked), capacity, whole);
    if (r.error != qpack::Error::none)
        return failure("decode", "block " + std::to_string(r.error_block) + " (stream " +
                                     std::to_string(r.error_stream) + "): " + std::string(qpack::to_string(r.error)) +
                                     " (HTTP/3 error " + hex_code(qpack::error_code(r.error)) + ")");
    if (r.blocked_at_end != 0)
        return failure("decode", std::to_string(r.blocked_at_end) + " section(s) still blocked at the end of the file");
    if (r.partial_after_end || r.unblocked_not_done) return failure("decode", "a section did not finish");
    std::vector<qifs::HeaderList> lists;
    std::vector<std::uint64_t> ids;
    for (auto& [id, list] : r.sorted()) {
        ids.push_back(id);
        lists.push_back(list);
    }
    if (!write_file(out, qifs::write_qif(lists, &ids))) return failure("decode", "cannot write " + out);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    for (const std::string_view a : args)
        if (a == "--help" || a == "-h") {
            std::cout << usage_text;
            return 0;
        } else if (a == "--version") {
            std::cout << "h2wire-qpack " << h2wire::version() << '\n';
            return 0;
        }
    if (args.empty()) return usage_error("missing command");
    const std::string command(args[0]);
    if (command != "encode" && command != "decode") return usage_error("unknown command '" + command + "'");

    Options o;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a.size() >= 2 && a[0] == '-' && (a[1] == 't' || a[1] == 's' || a[1] == 'a')) {
            std::string_view value = a.substr(2);
            if (value.empty()) {
                if (i + 1 == args.size()) return usage_error(std::string(a) + " needs a value");
                value = args[++i];
            }
            std::uint32_t v = 0;
            const auto r = std::from_chars(value.data(), value.data() + value.size(), v);
            if (r.ec != std::errc() || r.ptr != value.data() + value.size())
                return usage_error(std::string(a.substr(0, 2)) + " needs an integer in [0, 2^32), not '" +
                                   std::string(value) + "'");
            if (a[1] == 't') o.capacity = v;
            if (a[1] == 's') o.blocked = v;
            if (a[1] == 'a') {
                if (command != "encode") return usage_error("-a is for encode only");
                if (v > 1) return usage_error("-a takes 0 or 1");
                o.ack = v;
            }
        } else if (a.size() > 1 && a[0] == '-') {
            return usage_error("unknown option '" + std::string(a) + "'");
        } else {
            o.files.emplace_back(a);
        }
    }
    if (o.files.size() != 2) return usage_error(command + " takes two files");

    // The encoded file's name may carry the parameters.
    const std::string& encoded = command == "encode" ? o.files[1] : o.files[0];
    const auto named = qifs::parse_file_name(std::filesystem::path(encoded).filename().string());
    const std::uint32_t capacity = o.capacity.value_or(named ? named->capacity : 4096);
    const std::uint32_t blocked = o.blocked.value_or(named ? named->blocked : 100);
    const std::uint32_t ack = o.ack.value_or(named ? static_cast<std::uint32_t>(named->ack != 0) : 1);

    if (command == "encode") return encode(o.files[0], o.files[1], capacity, blocked, ack != 0);
    return decode(o.files[0], o.files[1], capacity, blocked);
}
