// QPACK round trips against libnghttp3: every header list of the seven QIF
// files (../shared/testdata/qifs/qifs) encoded by h2wire's qpack::Encoder
// under several peer settings and acknowledgment patterns, and decoded by
// h2wire's qpack::Decoder and by nghttp3's QPACK decoder, both of which must
// give the list back exactly. In one variant nghttp3's decoder stream drives
// our encoder. nghttp3's encoder runs on the same inputs: our decoder must
// decode it, and the sizes of the two encoders' output are compared.
#include <doctest/doctest.h>
#include <nghttp3/nghttp3.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "h2wire/qpack.hpp"
#include "qpack_support.hpp"

using namespace h2wire;
using namespace h2wire::qifs;

namespace {

std::string qif_path(const std::string& name) {
    return std::string(H2WIRE_SHARED_DIR) + "/testdata/qifs/qifs/" + name + ".qif";
}

const char* const kQifs[] = {"netbsd", "netbsd-hq", "fb-req", "fb-req-hq", "fb-resp", "fb-resp-hq", "draft-examples"};

const std::vector<HeaderList>& qif(const std::string& name) {
    static std::map<std::string, std::vector<HeaderList>> cache;
    auto it = cache.find(name);
    if (it == cache.end()) {
        auto lists = read_qif(qif_path(name));
        REQUIRE_MESSAGE(lists.has_value(), "cannot read " << qif_path(name));
        it = cache.emplace(name, std::move(*lists)).first;
    }
    return it->second;
}

std::vector<Field> fields_of(const HeaderList& l) {
    std::vector<Field> out;
    for (const QifField& f : l) out.push_back(Field{f.name, f.value});
    return out;
}

std::vector<nghttp3_nv> nvs_of(const HeaderList& l) {
    std::vector<nghttp3_nv> out;
    for (const QifField& f : l) {
        nghttp3_nv nv{};
        nv.name = reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.name.data()));
        nv.value = reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.value.data()));
        nv.namelen = f.name.size();
        nv.valuelen = f.value.size();
        nv.flags = NGHTTP3_NV_FLAG_NONE;
        out.push_back(nv);
    }
    return out;
}

std::string hex_of(std::span<const std::uint8_t> b) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (const std::uint8_t c : b) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// ---------------------------------------------------------------------------
// nghttp3's decoder, one stream context per section; a blocked section keeps
// its unread bytes until read_encoder() brings the inserts.

class Ng3Decoder {
public:
    Ng3Decoder(std::uint32_t capacity, std::uint32_t blocked) {
        REQUIRE(nghttp3_qpack_decoder_new(&dec_, capacity, blocked, nghttp3_mem_default()) == 0);
    }
    ~Ng3Decoder() {
        for (auto& [id, s] : streams_) nghttp3_qpack_stream_context_del(s.ctx);
        nghttp3_qpack_decoder_del(dec_);
    }
    Ng3Decoder(const Ng3Decoder&) = delete;
    Ng3Decoder& operator=(const Ng3Decoder&) = delete;

    /// False on an nghttp3 error.
    bool read_encoder(std::span<const std::uint8_t> bytes) {
        const auto n = nghttp3_qpack_decoder_read_encoder(dec_, bytes.data(), bytes.size());
        if (n < 0 || static_cast<std::size_t>(n) != bytes.size()) return fail("read_encoder", n);
        for (auto it = streams_.begin(); it != streams_.end();) {
            if (it->second.blocked && !feed(it->first, it->second)) return false;
            if (it->second.done) {
                nghttp3_qpack_stream_context_del(it->second.ctx);
                it = streams_.erase(it);
            } else {
                ++it;
            }
        }
        return true;
    }

    bool section(std::uint64_t stream_id, std::span<const std::uint8_t> bytes) {
        Stream& s = streams_[stream_id];
        REQUIRE(nghttp3_qpack_stream_context_new(&s.ctx, static_cast<std::int64_t>(stream_id), nghttp3_mem_default()) ==
                0);
        s.rest.assign(bytes.begin(), bytes.end());
        if (!feed(stream_id, s)) return false;
        if (s.done) {
            nghttp3_qpack_stream_context_del(s.ctx);
            streams_.erase(stream_id);
        }
        return true;
    }

    /// Decoder-stream octets it wants to send.
    Bytes decoder_stream() {
        const std::size_t len = nghttp3_qpack_decoder_get_decoder_streamlen(dec_);
        Bytes out(len);
        if (len == 0) return out;
        nghttp3_buf buf;
        nghttp3_buf_init(&buf);
        buf.begin = buf.pos = buf.last = out.data();
        buf.end = out.data() + len;
        nghttp3_qpack_decoder_write_decoder(dec_, &buf);
        out.resize(static_cast<std::size_t>(buf.last - buf.pos));
        return out;
    }

    std::size_t blocked() const {
        std::size_t n = 0;
        for (const auto& [id, s] : streams_) n += s.blocked ? 1 : 0;
        return n;
    }
    std::map<std::uint64_t, HeaderList>& done() { return done_; }
    const std::string& error() const { return error_; }

private:
    struct Stream {
        nghttp3_qpack_stream_context* ctx = nullptr;
        Bytes rest;
        std::size_t pos = 0;
        HeaderList fields;
        bool blocked = false;
        bool done = false;
    };

    bool fail(const char* what, nghttp3_ssize rv) {
        if (error_.empty()) error_ = std::string(what) + ": " + nghttp3_strerror(static_cast<int>(rv));
        return false;
    }

    bool feed(std::uint64_t id, Stream& s) {
        s.blocked = false;
        for (;;) {
            nghttp3_qpack_nv nv;
            std::uint8_t flags = 0;
            const auto rv = nghttp3_qpack_decoder_read_request(dec_, s.ctx, &nv, &flags, s.rest.data() + s.pos,
                                                               s.rest.size() - s.pos, 1);
            if (rv < 0) return fail("read_request", rv);
            s.pos += static_cast<std::size_t>(rv);
            if (flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) {
                const nghttp3_vec n = nghttp3_rcbuf_get_buf(nv.name), v = nghttp3_rcbuf_get_buf(nv.value);
                s.fields.push_back({std::string(reinterpret_cast<const char*>(n.base), n.len),
                                    std::string(reinterpret_cast<const char*>(v.base), v.len)});
                nghttp3_rcbuf_decref(nv.name);
                nghttp3_rcbuf_decref(nv.value);
            }
            if (flags & NGHTTP3_QPACK_DECODE_FLAG_FINAL) {
                done_[id] = std::move(s.fields);
                s.done = true;
                return true;
            }
            if (flags & NGHTTP3_QPACK_DECODE_FLAG_BLOCKED) {
                s.blocked = true;
                return true;
            }
            if (!(flags & NGHTTP3_QPACK_DECODE_FLAG_EMIT) && s.pos == s.rest.size()) {
                if (error_.empty()) error_ = "read_request: input ended without FINAL";
                return false;
            }
        }
    }

    nghttp3_qpack_decoder* dec_ = nullptr;
    std::map<std::uint64_t, Stream> streams_;
    std::map<std::uint64_t, HeaderList> done_;
    std::string error_;
};

// h2wire's decoder, keeping blocked sections alive.
class OurDecoder {
    struct Pending {
        std::unique_ptr<qpack::Section> section;
        HeaderList fields;
    };
    // The field sink of one section.
    struct Collect {
        Pending* p;
        void operator()(const Field& f) const { p->fields.push_back({std::string(f.name), std::string(f.value)}); }
    };
    static Collect sink(Pending& p) { return Collect{&p}; }

public:
    OurDecoder(std::uint32_t capacity, std::uint32_t blocked) : decoder_(limits(capacity, blocked)) {}

    qpack::Error read_encoder(std::span<const std::uint8_t> bytes) {
        const qpack::Error e = decoder_.read_encoder_stream(bytes);
        if (e != qpack::Error::none) return e;
        while (qpack::Section* s = decoder_.next_unblocked()) {
            Pending& p = *static_cast<Pending*>(s->user());
            const qpack::Decoded d = decoder_.decode(*s, {}, true, sink(p));
            if (d.error != qpack::Error::none) return d.error;
            if (d.status != qpack::Status::done) ++not_done_;
            finish(p);
        }
        return qpack::Error::none;
    }

    /// The section, in one piece; `*blocked` says whether it blocked.
    qpack::Error section(std::uint64_t stream_id, std::span<const std::uint8_t> bytes, bool* blocked = nullptr) {
        Pending& p = pending_.emplace_back();
        p.section = std::make_unique<qpack::Section>(stream_id, &p);
        const qpack::Decoded d = decoder_.decode(*p.section, bytes, true, sink(p));
        if (blocked != nullptr) *blocked = d.status == qpack::Status::blocked;
        if (d.error != qpack::Error::none) return d.error;
        if (d.status == qpack::Status::done) finish(p);
        if (d.status == qpack::Status::partial) ++not_done_;
        return qpack::Error::none;
    }

    Bytes decoder_stream() {
        const auto out = decoder_.decoder_stream_output();
        Bytes b(out.begin(), out.end());
        decoder_.consume_decoder_stream_output(out.size());
        return b;
    }

    qpack::Decoder& decoder() { return decoder_; }
    std::map<std::uint64_t, HeaderList>& done() { return done_; }
    std::size_t not_done() const { return not_done_; }

private:
    static qpack::DecoderLimits limits(std::uint32_t capacity, std::uint32_t blocked) {
        qpack::DecoderLimits l;
        l.max_table_capacity = capacity;
        l.max_blocked_streams = blocked;
        return l;
    }
    void finish(Pending& p) {
        done_[p.section->stream_id()] = std::move(p.fields);
        p.section.reset();
        while (!pending_.empty() && !pending_.front().section) pending_.pop_front();
    }

    qpack::Decoder decoder_;
    std::deque<Pending> pending_;  // after decoder_: destroyed first
    std::map<std::uint64_t, HeaderList> done_;
    std::size_t not_done_ = 0;
};

// ---------------------------------------------------------------------------
// One round trip of a list of header lists through h2wire's encoder.

enum class Ack : std::uint8_t { immediate, every_7, never };
enum class Feedback : std::uint8_t { ours, nghttp3 };
enum class Order : std::uint8_t { encoder_first, section_first };

struct Config {
    std::uint32_t capacity = 0;
    std::uint32_t blocked = 0;
    Ack ack = Ack::immediate;
    Feedback feedback = Feedback::ours;
    Order order = Order::encoder_first;
};

std::string describe(const Config& c) {
    std::ostringstream os;
    os << "capacity " << c.capacity << ", blocked " << c.blocked << ", ack "
       << (c.ack == Ack::immediate ? "immediate"
           : c.ack == Ack::every_7 ? "every 7"
                                   : "never")
       << ", feedback from " << (c.feedback == Feedback::ours ? "h2wire" : "nghttp3") << ", "
       << (c.order == Order::encoder_first ? "encoder stream first" : "section first");
    return os.str();
}

struct Outcome {
    std::size_t lists = 0;
    std::size_t ours_ok = 0;     // lists our decoder gave back exactly
    std::size_t nghttp3_ok = 0;  // lists nghttp3's decoder gave back exactly
    std::size_t bytes = 0;       // sections + encoder stream
    std::string why;             // the first problem
};

Outcome round_trip(const std::vector<HeaderList>& lists, const Config& c) {
    Outcome o;
    o.lists = lists.size();
    auto problem = [&o](const std::string& s) {
        if (o.why.empty()) o.why = s;
    };
    qpack::Encoder encoder;
    encoder.set_peer_settings(c.capacity, c.blocked);
    OurDecoder ours(c.capacity, c.blocked);
    Ng3Decoder theirs(c.capacity, c.blocked);

    Bytes section, held;
    for (std::size_t k = 0; k < lists.size() && o.why.empty(); ++k) {
        const std::uint64_t stream = 4 * k;
        const std::vector<Field> fields = fields_of(lists[k]);
        section.clear();
        encoder.encode(stream, fields, section);
        const Bytes enc(encoder.encoder_stream_output().begin(), encoder.encoder_stream_output().end());
        encoder.consume_encoder_stream_output(enc.size());
        o.bytes += section.size() + enc.size();
        if (c.capacity == 0 && !enc.empty()) problem("encoder-stream output with capacity 0");
        if (encoder.blocked_streams() > c.blocked)
            problem("list " + std::to_string(k) + ": the encoder counts " + std::to_string(encoder.blocked_streams()) +
                    " blocked streams");

        auto deliver_encoder = [&] {
            if (const qpack::Error e = ours.read_encoder(enc); e != qpack::Error::none)
                problem("list " + std::to_string(k) +
                        ": h2wire decoder, encoder stream: " + std::string(qpack::to_string(e)));
            if (!theirs.read_encoder(enc))
                problem("list " + std::to_string(k) + ": nghttp3 decoder: " + theirs.error());
        };
        auto deliver_section = [&] {
            bool blocked = false;
            if (const qpack::Error e = ours.section(stream, section, &blocked); e != qpack::Error::none)
                problem("list " + std::to_string(k) + ": h2wire decoder: " + std::string(qpack::to_string(e)));
            if (blocked && c.blocked == 0) problem("list " + std::to_string(k) + ": blocked with blocked streams 0");
            if (!theirs.section(stream, section))
                problem("list " + std::to_string(k) + ": nghttp3 decoder: " + theirs.error());
        };
        if (c.order == Order::encoder_first) {
            deliver_encoder();
            deliver_section();
        } else {
            deliver_section();
            deliver_encoder();
        }

        // Only the acknowledgments of the chosen decoder reach the encoder;
        // the other's are dropped.
        const Bytes our_acks = ours.decoder_stream();
        const Bytes their_acks = theirs.decoder_stream();
        const Bytes& acks = c.feedback == Feedback::ours ? our_acks : their_acks;
        held.insert(held.end(), acks.begin(), acks.end());
        if (c.ack == Ack::immediate || (c.ack == Ack::every_7 && k % 7 == 6)) {
            // Delayed acknowledgments arrive byte by byte.
            qpack::Error e = qpack::Error::none;
            if (c.ack == Ack::immediate) {
                e = encoder.read_decoder_stream(held);
            } else {
                for (std::size_t i = 0; i < held.size() && e == qpack::Error::none; ++i)
                    e = encoder.read_decoder_stream({&held[i], 1});
            }
            if (e != qpack::Error::none)
                problem("list " + std::to_string(k) + ": encoder reading the decoder stream " + hex_of(held) + ": " +
                        std::string(qpack::to_string(e)));
            held.clear();
        }
    }
    if (ours.decoder().blocked_sections() != 0) problem("h2wire decoder: sections blocked at the end");
    if (theirs.blocked() != 0) problem("nghttp3 decoder: sections blocked at the end");
    if (ours.not_done() != 0) problem("h2wire decoder: a section did not finish");
    for (std::size_t k = 0; k < lists.size(); ++k) {
        const auto a = ours.done().find(4 * k);
        if (a != ours.done().end() && a->second == lists[k])
            ++o.ours_ok;
        else
            problem("list " + std::to_string(k) + ": h2wire decoder got another list");
        const auto b = theirs.done().find(4 * k);
        if (b != theirs.done().end() && b->second == lists[k])
            ++o.nghttp3_ok;
        else
            problem("list " + std::to_string(k) + ": nghttp3 decoder got another list");
    }
    return o;
}

}  // namespace

namespace {

// ---------------------------------------------------------------------------
// nghttp3's encoder on the same input, acknowledged at once by nghttp3's
// decoder; h2wire's decoder decodes its output too.

Outcome nghttp3_round_trip(const std::vector<HeaderList>& lists, std::uint32_t capacity, std::uint32_t blocked) {
    Outcome o;
    o.lists = lists.size();
    auto problem = [&o](const std::string& s) {
        if (o.why.empty()) o.why = s;
    };
    const nghttp3_mem* mem = nghttp3_mem_default();
    nghttp3_qpack_encoder* enc = nullptr;
    REQUIRE(nghttp3_qpack_encoder_new(&enc, capacity, mem) == 0);
    nghttp3_qpack_encoder_set_max_dtable_capacity(enc, capacity);
    nghttp3_qpack_encoder_set_max_blocked_streams(enc, blocked);
    OurDecoder ours(capacity, blocked);
    Ng3Decoder theirs(capacity, blocked);
    nghttp3_buf pbuf, rbuf, ebuf;
    nghttp3_buf_init(&pbuf);
    nghttp3_buf_init(&rbuf);
    nghttp3_buf_init(&ebuf);
    auto take = [](nghttp3_buf& b, Bytes& out) {
        out.insert(out.end(), b.pos, b.last);
        nghttp3_buf_reset(&b);
    };
    for (std::size_t k = 0; k < lists.size() && o.why.empty(); ++k) {
        const std::uint64_t stream = 4 * k;
        std::vector<nghttp3_nv> nva = nvs_of(lists[k]);
        if (nghttp3_qpack_encoder_encode(enc, &pbuf, &rbuf, &ebuf, static_cast<std::int64_t>(stream), nva.data(),
                                         nva.size()) != 0) {
            problem("nghttp3_qpack_encoder_encode failed");
            break;
        }
        Bytes section, stream_bytes;
        take(pbuf, section);
        take(rbuf, section);
        take(ebuf, stream_bytes);
        o.bytes += section.size() + stream_bytes.size();
        if (const qpack::Error e = ours.read_encoder(stream_bytes); e != qpack::Error::none)
            problem("list " + std::to_string(k) + ": h2wire decoder, nghttp3's encoder stream " + hex_of(stream_bytes) +
                    ": " + std::string(qpack::to_string(e)));
        if (!theirs.read_encoder(stream_bytes)) problem("nghttp3 decoder: " + theirs.error());
        if (const qpack::Error e = ours.section(stream, section); e != qpack::Error::none)
            problem("list " + std::to_string(k) + ": h2wire decoder, nghttp3's section " + hex_of(section) + ": " +
                    std::string(qpack::to_string(e)));
        if (!theirs.section(stream, section)) problem("nghttp3 decoder: " + theirs.error());
        const Bytes acks = theirs.decoder_stream();
        (void)ours.decoder_stream();
        if (!acks.empty() && nghttp3_qpack_encoder_read_decoder(enc, acks.data(), acks.size()) !=
                                 static_cast<nghttp3_ssize>(acks.size()))
            problem("nghttp3 encoder cannot read its decoder's acknowledgments");
    }
    nghttp3_buf_free(&pbuf, mem);
    nghttp3_buf_free(&rbuf, mem);
    nghttp3_buf_free(&ebuf, mem);
    nghttp3_qpack_encoder_del(enc);
    for (std::size_t k = 0; k < lists.size(); ++k) {
        const auto a = ours.done().find(4 * k);
        if (a != ours.done().end() && a->second == lists[k])
            ++o.ours_ok;
        else
            problem("list " + std::to_string(k) + ": h2wire decoder got another list from nghttp3's encoder");
        const auto b = theirs.done().find(4 * k);
        if (b != theirs.done().end() && b->second == lists[k]) ++o.nghttp3_ok;
    }
    return o;
}

constexpr std::uint32_t kCapacities[] = {0, 256, 4096};
constexpr std::uint32_t kBlocked[] = {0, 100};

}  // namespace

TEST_CASE("qpack round trips: h2wire's encoder, decoded by h2wire and by nghttp3") {
    std::size_t runs = 0, lists = 0, ours_ok = 0, nghttp3_ok = 0;
    int reported = 0;
    auto run = [&](const std::string& name, const Config& c) {
        const Outcome o = round_trip(qif(name), c);
        ++runs;
        lists += o.lists;
        ours_ok += o.ours_ok;
        nghttp3_ok += o.nghttp3_ok;
        if (!o.why.empty() && reported++ < 8) FAIL_CHECK(name << ".qif, " << describe(c) << ": " << o.why);
        CHECK(o.ours_ok == o.lists);
        CHECK(o.nghttp3_ok == o.lists);
    };
    for (const std::string name : kQifs) {
        for (const std::uint32_t capacity : kCapacities)
            for (const std::uint32_t blocked : kBlocked) {
                for (const Ack ack : {Ack::immediate, Ack::every_7, Ack::never})
                    for (const Order order : {Order::encoder_first, Order::section_first})
                        run(name, Config{capacity, blocked, ack, Feedback::ours, order});
                // nghttp3's decoder stream drives our encoder.
                for (const Ack ack : {Ack::immediate, Ack::every_7})
                    run(name, Config{capacity, blocked, ack, Feedback::nghttp3, Order::section_first});
            }
    }
    MESSAGE(runs << " runs, " << lists << " header lists: h2wire's decoder gave back " << ours_ok << ", nghttp3's "
                 << nghttp3_ok);
    CHECK(runs == 7 * 3 * 2 * 8);
}

TEST_CASE("qpack sizes: h2wire's encoder against nghttp3's on the same lists") {
    // Immediate acknowledgment, encoder stream delivered first. Each side is
    // also decoded by the other's decoder.
    std::ostringstream table;
    table << "encoded octets (sections + encoder stream), h2wire / nghttp3:";
    for (const std::uint32_t capacity : kCapacities)
        for (const std::uint32_t blocked : kBlocked) {
            std::size_t ours_total = 0, theirs_total = 0;
            for (const std::string name : kQifs) {
                CAPTURE(name);
                CAPTURE(capacity);
                CAPTURE(blocked);
                const Outcome a = round_trip(
                    qif(name), Config{capacity, blocked, Ack::immediate, Feedback::ours, Order::encoder_first});
                const Outcome b = nghttp3_round_trip(qif(name), capacity, blocked);
                CHECK(a.why == "");
                CHECK(b.why == "");
                CHECK(b.ours_ok == b.lists);
                CHECK(b.nghttp3_ok == b.lists);
                // With 100 blocked streams (the benchmark's settings are
                // 4096 and 100) no QIF's encoding is larger than nghttp3's.
                // With none, inserting a value only the second time it is
                // seen costs up to 5.8% at 4096 (fb-resp-hq; 2.9% over all
                // QIFs) and saves 27% at 256.
                if (blocked == 100) CHECK(a.bytes <= b.bytes);
                ours_total += a.bytes;
                theirs_total += b.bytes;
                if (name.starts_with("fb-") || name == "netbsd-hq")
                    table << "\n  " << name << " cap " << capacity << " blocked " << blocked << ": " << a.bytes << " / "
                          << b.bytes;
            }
            table << "\n  all 7 QIFs, capacity " << capacity << ", blocked " << blocked << ": " << ours_total << " / "
                  << theirs_total << " ("
                  << (theirs_total ? 100.0 * static_cast<double>(ours_total) / static_cast<double>(theirs_total) : 0.0)
                  << "%)";
        }
    MESSAGE(table.str());
}

TEST_CASE("qpack round trips: RFC 9204 Appendix B lists through h2wire's encoder") {
    const std::vector<HeaderList> lists = {
        {{":path", "/index.html"}},
        {{":authority", "www.example.com"}, {":path", "/sample/path"}},
        {{":authority", "www.example.com"}, {":path", "/"}, {"custom-key", "custom-value"}},
        {{"custom-key", "custom-value2"}},
    };
    for (const std::uint32_t capacity : {0u, 220u})
        for (const Order order : {Order::encoder_first, Order::section_first}) {
            const Config c{capacity, 100, Ack::immediate, Feedback::ours, order};
            CAPTURE(describe(c));
            const Outcome o = round_trip(lists, c);
            CHECK(o.why == "");
            CHECK(o.ours_ok == 4);
            CHECK(o.nghttp3_ok == 4);
        }
}
