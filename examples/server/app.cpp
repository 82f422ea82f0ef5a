// The example server's application (see app.hpp for the hook points).
#include "server/app.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <variant>

#include "common/trace.hpp"
#include "server/file_cache.hpp"
#include "server/route.hpp"
#include "websocket/h2_tunnel.hpp"

namespace example {

namespace {

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;  // clang 14 has no aggregate deduction

constexpr std::uint64_t fnv_basis = 0xcbf29ce484222325ULL;

}  // namespace

struct ServerSession::Stream {
    enum class Kind : std::uint8_t { file, echo, simple } kind = Kind::simple;
    bool trailers = false;    // end with trailers instead of END_STREAM on DATA
    bool ended = false;       // our side ended (END_STREAM or trailers queued)
    bool input_done = false;  // the peer ended its side
    std::uint64_t body_length = 0;
    std::uint64_t hash = fnv_basis;
    Progress progress;  // for the stalled-stream timer (cancel_stalled)

    // file: its content (held whole, from the FileCache or small enough to
    // read at once) is lent to the connection slice by slice as the windows
    // open (send_data_borrowed; the shared_ptr keeps it alive). A file not
    // held is read in chunks lent the same way; a chunk is free again once
    // buffered() shows its octets were written. Only what the stream can
    // send now is read, so a stream whose window is closed holds no file
    // data.
    std::shared_ptr<const ServedFile> file;
    std::uint64_t offset = 0, remaining = 0;
    struct Lent {
        std::unique_ptr<std::uint8_t[]> buffer;
        std::size_t size;
    };
    std::vector<Lent> lent;  // oldest first; at most file_chunks_in_flight
    std::uint64_t lent_total = 0;
    // One free chunk of file_chunk octets, kept while the stream is sending
    // full chunks. Smaller reads get a buffer of their own size, so what a
    // stream holds is what it lent.
    std::unique_ptr<std::uint8_t[]> spare;

    // echo: body octets the connection's send buffer could not take yet.
    std::vector<std::uint8_t> pending;
    std::size_t pending_head = 0;
    std::uint64_t echo_queued = 0;  // octets given to send_data
    // Window octets of the request's DATA (DataReceived::flow_controlled_length,
    // padding included): what consume() must hand back in all. A frame split
    // across reads charges its whole length to its first chunk, so this runs
    // ahead of body_length; counting in these units keeps consume() exact.
    std::uint64_t window_owed = 0;
    std::uint64_t echo_consumed = 0;  // window octets handed back with consume()

    std::size_t pending_size() const { return pending.size() - pending_head; }
};

// A response body from a file held in memory: the connection pulls it as the
// windows open (h2wire::BodySource), so nothing is queued ahead and no
// stream state beyond this is kept.
struct ServerSession::HeldBody {
    std::uint32_t id = 0;
    std::uint64_t offset = 0;
    std::shared_ptr<const ServedFile> file;  // keeps the content alive while it is lent
    Progress progress;                       // for the stalled-stream timer
};

// Small files: copied straight into the DATA frame being built (one copy,
// and the output stays one contiguous piece).
class ServerSession::HeldReader final : public h2wire::BodyReader {
public:
    explicit HeldReader(ServerSession& s) : s_(s) {}
    h2wire::BodyRead read(std::uint32_t stream, std::span<std::uint8_t> buffer) override {
        HeldBody* b = s_.find_held(stream);
        if (!b) return {0, h2wire::BodyStatus::abort, {}};
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), b->file->size - b->offset));
        std::copy_n(b->file->content.get() + b->offset, n, buffer.data());
        b->offset += n;
        b->progress.out += n;
        return {n, b->offset == b->file->size ? h2wire::BodyStatus::end : h2wire::BodyStatus::more, {}};
    }
    void finished(std::uint32_t stream, bool) override { s_.finish_held(stream); }

private:
    ServerSession& s_;
};

// Larger files: lent as they are (zero copy up to writev).
class ServerSession::HeldLender final : public h2wire::BodyLender {
public:
    explicit HeldLender(ServerSession& s) : s_(s) {}
    h2wire::BodyLend lend(std::uint32_t stream, std::size_t max) override {
        HeldBody* b = s_.find_held(stream);
        if (!b) return {{}, h2wire::BodyStatus::abort, {}};
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(max, b->file->size - b->offset));
        const std::span<const std::uint8_t> lent(b->file->content.get() + b->offset, n);
        b->offset += n;
        b->progress.out += n;
        return {lent, b->offset == b->file->size ? h2wire::BodyStatus::end : h2wire::BodyStatus::more, {}};
    }
    void release(std::uint32_t, std::span<const std::uint8_t>) override {}  // HeldBody::file keeps it until finished()
    void finished(std::uint32_t stream, bool) override { s_.finish_held(stream); }

private:
    ServerSession& s_;
};

static h2wire::Config connection_config(const ServerConfig& cfg) {
    h2wire::Config c;
    c.role = h2wire::Role::server;
    c.flow_control = h2wire::FlowControl::manual;  // consume() as the echo leaves
    c.settings.initial_window_size = cfg.stream_window;
    c.connection_window_size = cfg.connection_window;
    c.settings.enable_connect_protocol = true;  // RFC 8441 §3: the /ws WebSocket endpoint
    c.limits.max_connection_memory = cfg.connection_memory;
    return c;
}

ServerSession::ServerSession(const ServerConfig& config)
    : cfg_(config),
      held_reader_(std::make_unique<HeldReader>(*this)),
      held_lender_(std::make_unique<HeldLender>(*this)),
      conn_(connection_config(config)),
      echo_held_(config.budget ? &config.budget->echo : nullptr) {
    if (config.verbose) {
        static std::atomic<unsigned> connections{0};  // loops on several threads (--threads)
        trace_ = std::make_unique<FrameLog>("[c" + std::to_string(++connections) + "]");
        conn_.set_trace(trace_.get());
    }
}

ServerSession::~ServerSession() = default;

h2wire::ApiError ServerSession::upgrade(std::string_view http2_settings, std::span<const h2wire::Field> request,
                                        std::span<const std::uint8_t> body) {
    const h2wire::ApiError e = conn_.upgrade_server(http2_settings, request, body);
    upgrade_unreported_ = e == h2wire::ApiError::none;
    return e;
}

void ServerSession::shutdown() {
    conn_.shutdown();
}

bool ServerSession::finished() const {
    return conn_.is_closed() && !conn_.wants_write();
}

void ServerSession::receive(std::span<const std::uint8_t> bytes) {
    upgrade_unreported_ = false;
    handle(conn_.receive(bytes));
    pump();
}

void ServerSession::handle(std::span<const h2wire::Event> events) {
    for (const h2wire::Event& ev : events) {
        std::visit(overloaded{
                       [&](const h2wire::RequestReceived& r) {
                           if (cfg_.log) logged_[r.stream] = {std::string(r.path.substr(0, 256)), r.priority};
                           if (r.method == "CONNECT") return on_connect(r);  // WebSocket (issue 6)
                           on_request(r.stream, r.headers, r.method, r.path, r.end_stream);
                       },
                       [&](const h2wire::PriorityUpdated& u) {
                           // The scheduler applies the update; the log follows it.
                           const auto it = logged_.find(u.stream);
                           if (it != logged_.end() && u.priority) it->second.priority = *u.priority;
                       },
                       [&](const h2wire::StreamClosed& c) {
                           if (cfg_.log) log_closed(c);
                       },
                       [&](const h2wire::DataReceived& d) {
                           if (const auto it = websockets_.find(d.stream); it != websockets_.end()) {
                               ws_progress_[d.stream].in += d.data.size();
                               return it->second->on_data(d.data, d.flow_controlled_length);
                           }
                           on_data(d.stream, d.data, d.flow_controlled_length);
                       },
                       [&](const h2wire::StreamEnded& e) {
                           if (const auto it = websockets_.find(e.stream); it != websockets_.end())
                               it->second->on_end();
                           if (const auto it = streams_.find(e.stream); it != streams_.end())
                               it->second->input_done = true;
                       },
                       [&](const h2wire::StreamReset& r) {
                           if (const auto it = streams_.find(r.stream); it != streams_.end()) drop(it);
                           websockets_.erase(r.stream);
                           ws_progress_.erase(r.stream);
                       },
                       [&](const h2wire::ConnectionTerminated&) { closed_ = true; },
                       [&](const auto&) {},
                   },
                   ev);
    }
}

// --log: "stream 5 done: /style.css u=1 i=0 (#2 on c1, NO_ERROR)", as the
// stream closes: once the output holds no more of it, so on one connection
// the lines come in the order the responses' last octets were written.
void ServerSession::log_closed(const h2wire::StreamClosed& c) {
    const auto it = logged_.find(c.stream);
    if (it == logged_.end()) return;
    if (log_connection_ == 0) {
        static std::atomic<unsigned> connections{0};  // loops on several threads (--threads)
        log_connection_ = ++connections;
    }
    const Logged& l = it->second;
    std::fprintf(stderr, "stream %u done: %.*s u=%u i=%d (#%u on c%u, %.*s)\n", c.stream,
                 static_cast<int>(l.path.size()), l.path.data(), unsigned{l.priority.urgency},
                 l.priority.incremental ? 1 : 0, ++log_finished_, log_connection_,
                 static_cast<int>(h2wire::to_string(c.code).size()), h2wire::to_string(c.code).data());
    logged_.erase(it);
}

std::span<const h2wire::OutputChunk> ServerSession::output() {
    pump();
    return conn_.pending_output_vectors();
}

void ServerSession::written(std::size_t n) {
    conn_.consume_output(n);
    // Streams that ended as their last octets went out (StreamClosed), at
    // once rather than with the next input. Not while the request of an h2c
    // upgrade waits for the first receive() (see prelude.cpp).
    if (!upgrade_unreported_) handle(conn_.take_events());
    pump();
}

void ServerSession::goaway(h2wire::ErrorCode code, std::string_view debug) {
    conn_.goaway(code, debug);
    receive({});  // collects ConnectionTerminated
}

void ServerSession::drop(std::map<std::uint32_t, std::unique_ptr<Stream>>::iterator it) {
    file_lent_ -= it->second->lent_total;
    streams_.erase(it);
}

std::size_t ServerSession::memory_used() const {
    std::size_t n = conn_.memory_used() + file_lent_ + sizeof(*this) + held_.capacity() * sizeof(HeldBody);
    for (const auto& [id, s] : streams_) {
        n += sizeof(Stream) + s->pending.capacity();
        if (s->spare) n += cfg_.file_chunk;
    }
    for (const auto& [id, t] : websockets_) n += sizeof(ws::Tunnel) + t->memory();
    for (const auto& [id, l] : logged_) n += sizeof(Logged) + l.path.capacity();
    return n;
}

// --- timers the loop drives ----------------------------------------------------------

bool ServerSession::Progress::stalled(std::chrono::steady_clock::time_point now, std::chrono::milliseconds timeout,
                                      std::size_t buffered) {
    if (since == std::chrono::steady_clock::time_point{} || in != seen_in || out != seen_out ||
        buffered != seen_buffered) {
        seen_in = in;
        seen_out = out;
        seen_buffered = buffered;
        since = now;
        return false;
    }
    return now - since >= timeout;
}

std::size_t ServerSession::cancel_stalled(std::chrono::steady_clock::time_point now,
                                          std::chrono::milliseconds timeout) {
    if (closed_) return 0;
    std::size_t n = 0;
    for (auto it = streams_.begin(); it != streams_.end();) {
        const std::uint32_t id = it->first;
        if (!it->second->progress.stalled(now, timeout, conn_.buffered(id))) {
            ++it;
            continue;
        }
        // Nothing moved either way for `timeout`: a slow-read or slow-send
        // client holding a stream (and its buffers) open.
        conn_.reset_stream(id, h2wire::ErrorCode::cancel);
        const auto next = std::next(it);
        drop(it);
        it = next;
        ++n;
    }
    // Held bodies: reset_stream() calls finished(), which edits held_, so
    // the stalled ones are picked first.
    std::uint32_t stalled[64];
    std::size_t picked = 0;
    for (HeldBody& b : held_)
        if (b.progress.stalled(now, timeout, conn_.buffered(b.id)) && picked < std::size(stalled))
            stalled[picked++] = b.id;  // more than 64 wait for the next check
    for (std::size_t i = 0; i < picked; ++i) {
        conn_.reset_stream(stalled[i], h2wire::ErrorCode::cancel);
        finish_held(stalled[i]);  // in case the connection did not
        ++n;
    }
    for (auto it = websockets_.begin(); it != websockets_.end();) {
        const std::uint32_t id = it->first;
        Progress& p = ws_progress_[id];
        p.out = it->second->pending();
        if (!p.stalled(now, timeout, conn_.buffered(id))) {
            ++it;
            continue;
        }
        conn_.reset_stream(id, h2wire::ErrorCode::cancel);
        ws_progress_.erase(id);
        it = websockets_.erase(it);
        ++n;
    }
    if (n > 0) receive({});  // collects the StreamReset events
    return n;
}

// --- requests ------------------------------------------------------------------

// The application state of a stream, made only when the response needs
// some: a body still to send, an upload to echo, or a request that has not
// ended. A small file served whole at once keeps none.
ServerSession::Stream& ServerSession::add_stream(std::uint32_t id, bool input_done) {
    auto& slot = streams_[id];
    slot = std::make_unique<Stream>();
    slot->input_done = input_done;
    return *slot;
}

void ServerSession::on_request(std::uint32_t id, std::span<const h2wire::Field> headers, std::string_view method,
                               std::string_view target, bool end_stream) {
    const Route r = route_request(headers, method, target, cfg_.root, cfg_.file_cache, small_file);
    const bool head = r.head;
    const bool trailers = r.trailers;
    const int status = r.status;
    if (r.kind == Route::Kind::simple) {
        respond_simple(id, end_stream, r.status, r.text, head);
    } else if (r.kind == Route::Kind::echo) {
        Stream& s = add_stream(id, end_stream);
        s.kind = Stream::Kind::echo;
        s.trailers = trailers;
        const h2wire::Field resp[] = {{":status", "200"}, {"content-type", r.content_type}};
        conn_.submit_response(id, resp, false);
    } else {
        std::shared_ptr<const ServedFile> file = r.file;
        const h2wire::Field resp[] = {
            {":status", "200"}, {"content-type", file->type}, {"content-length", file->content_length()}};
        const bool empty = head || (file->size == 0 && !trailers);
        if (!empty && !trailers && file->held()) {
            serve_held(id, resp, std::move(file));
            if (!end_stream) add_stream(id, false).ended = true;
        } else if (conn_.submit_response(id, resp, empty); empty) {
            if (!end_stream) add_stream(id, false).ended = true;
        } else {
            Stream& s = add_stream(id, end_stream);
            s.kind = Stream::Kind::file;
            s.trailers = trailers;
            s.remaining = file->size;
            s.file = std::move(file);
            if (s.remaining == 0) end_response(id, s);  // trailers only
        }
    }
    if (cfg_.log)
        std::fprintf(stderr, "stream %u %.*s %.*s -> %d\n", id, static_cast<int>(method.size()), method.data(),
                     static_cast<int>(target.size()), target.data(), status);
}

// CONNECT (issue 6): extended CONNECT with :protocol websocket at /ws opens
// a WebSocket echo (RFC 8441 §5); anything else is refused. The refusal
// ends our side; the client's side and any DATA it sent are consumed.
void ServerSession::on_connect(const h2wire::RequestReceived& r) {
    std::string_view why;
    int status = r.path == "/ws" ? ws::accept_status(r, &why) : 501;
    if (status == 501) why = "only extended CONNECT for websocket at /ws";
    const std::string st = std::to_string(status);
    const h2wire::Field resp[] = {{":status", st}, {"content-type", "text/plain; charset=utf-8"}};
    if (status == 200) {
        conn_.submit_response(r.stream, std::span(resp, 1), false);
        websockets_[r.stream] =
            std::make_unique<ws::Tunnel>(r.stream, ws::Tunnel::Config{ws::Role::server, 1 << 20, 256 * 1024, true});
        if (r.end_stream) websockets_[r.stream]->on_end();
    } else {
        conn_.submit_response(r.stream, resp, false);
        conn_.send_data(r.stream, std::span(reinterpret_cast<const std::uint8_t*>(why.data()), why.size()), true);
    }
    if (cfg_.log)
        std::fprintf(stderr, "stream %u CONNECT %.*s :protocol %.*s -> %d\n", r.stream, static_cast<int>(r.path.size()),
                     r.path.data(), static_cast<int>(r.protocol.size()), r.protocol.data(), status);
}

// A file held in memory: its body is pulled by the connection (HeldReader,
// HeldLender) as the windows open; the entry goes in finished().
void ServerSession::serve_held(std::uint32_t id, std::span<const h2wire::Field> headers,
                               std::shared_ptr<const ServedFile> file) {
    const bool small = file->size <= small_file;
    held_.push_back(HeldBody{id, 0, std::move(file), {}});  // ids only grow: held_ stays sorted
    h2wire::BodySource& body = small ? static_cast<h2wire::BodySource&>(*held_reader_) : *held_lender_;
    if (conn_.submit_response(id, headers, body) != h2wire::ApiError::none) held_.pop_back();
}

ServerSession::HeldBody* ServerSession::find_held(std::uint32_t id) {
    const auto it = std::lower_bound(held_.begin(), held_.end(), id,
                                     [](const HeldBody& b, std::uint32_t want) { return b.id < want; });
    return it != held_.end() && it->id == id ? &*it : nullptr;
}

void ServerSession::finish_held(std::uint32_t id) {
    if (HeldBody* b = find_held(id)) held_.erase(held_.begin() + (b - held_.data()));
}

void ServerSession::trim() {
    conn_.trim();
    if (held_.empty()) std::vector<HeldBody>().swap(held_);
}

void ServerSession::respond_simple(std::uint32_t id, bool end_stream, int status, std::string_view body, bool head) {
    const std::string st = std::to_string(status);
    const std::string length = std::to_string(body.size());
    const h2wire::Field resp[] = {
        {":status", st}, {"content-type", "text/plain; charset=utf-8"}, {"content-length", length}};
    conn_.submit_response(id, resp, head);
    // The bodies are string literals: lent, never copied.
    if (!head)
        conn_.send_data_borrowed(id, std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size()), true);
    if (!end_stream) add_stream(id, false).ended = true;  // kept for the stalled-stream timer until the request ends
}

void ServerSession::on_data(std::uint32_t id, std::span<const std::uint8_t> data, std::uint32_t flow_controlled) {
    const auto it = streams_.find(id);
    if (it != streams_.end()) it->second->progress.in += data.size();
    if (it == streams_.end() || it->second->kind != Stream::Kind::echo) {
        // Nobody wants these octets: hand their window back at once.
        conn_.consume(id, flow_controlled);
        return;
    }
    Stream& s = *it->second;
    s.window_owed += flow_controlled;  // handed back in pump_echo() as the echo leaves
    s.body_length += data.size();
    s.hash = fnv1a(s.hash, data);
    // Straight into the connection's send buffer while it has room; the rest
    // waits here (bounded by our windows, since we consume() only what has
    // been written back, plus the slack pump_echo() allows).
    std::size_t direct = 0;
    if (s.pending_size() == 0) {
        direct = std::min({data.size(), conn_.send_capacity(id), send_room()});
        if (direct > 0 && conn_.send_data(id, data.first(direct), false) == h2wire::ApiError::none) {
            s.echo_queued += direct;
            s.progress.out += direct;
        } else {
            direct = 0;
        }
    }
    s.pending.insert(s.pending.end(), data.begin() + static_cast<std::ptrdiff_t>(direct), data.end());
}

// --- output side: refill streams as the peer's windows and our socket allow --------

void ServerSession::end_response(std::uint32_t id, Stream& s) {
    s.ended = true;
    if (!s.trailers) {
        conn_.send_data(id, {}, true);
        return;
    }
    const std::string length = std::to_string(s.body_length);
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(s.hash));
    const h2wire::Field trailers[] = {{"x-body-length", length}, {"x-body-fnv1a", hash}};
    conn_.send_trailers(id, trailers);
}

// Octets the application may still put into the connection's own send
// buffers (copies): up to half of Limits::max_connection_memory, so that
// input (header blocks, control frames) always finds room in the rest.
std::size_t ServerSession::send_room() const {
    const std::size_t limit = cfg_.connection_memory / 2;
    const std::size_t used = conn_.memory_used();
    return used < limit ? limit - used : 0;
}

bool ServerSession::pump_file(std::uint32_t id, Stream& s) {
    // Chunks whose octets were all written come back (the connection sends
    // a stream's DATA in order, so they finish oldest first).
    std::size_t still = conn_.buffered(id);
    std::size_t done = 0;
    while (done < s.lent.size() && s.lent_total - s.lent[done].size >= still) {
        Stream::Lent& l = s.lent[done++];
        s.lent_total -= l.size;
        file_lent_ -= l.size;
        if (!s.spare && l.size == cfg_.file_chunk) s.spare = std::move(l.buffer);
    }
    if (done) s.lent.erase(s.lent.begin(), s.lent.begin() + static_cast<std::ptrdiff_t>(done));
    while (!s.ended) {
        // Send only what the stream can send now: its send window (stream
        // and connection) less what is queued already. A client that keeps
        // its window at 0 makes us read nothing; WINDOW_UPDATE brings us
        // back here (receive() pumps).
        const std::size_t window = conn_.send_window(id);
        const std::size_t queued = conn_.buffered(id);
        const std::uint64_t open = window > queued ? window - queued : 0;
        std::span<const std::uint8_t> chunk;
        if (s.file->held()) {
            // In memory: lent as it is, up to held_ahead octets queued per
            // stream (enough to keep the socket busy; more would only make
            // the output longer to walk).
            const std::uint64_t ahead = queued < held_ahead ? held_ahead - queued : 0;
            const std::size_t n = static_cast<std::size_t>(std::min({open, ahead, s.remaining}));
            if (n == 0) break;
            chunk = std::span<const std::uint8_t>(s.file->content.get() + s.offset, n);
            if (n <= small_file && n <= conn_.send_capacity(id) && n <= send_room()) {
                if (conn_.send_data(id, chunk, n == s.remaining && !s.trailers) != h2wire::ApiError::none) break;
            } else if (conn_.send_data_borrowed(id, chunk, n == s.remaining && !s.trailers) != h2wire::ApiError::none) {
                break;  // the stream's buffer is full: written() brings us back
            }
        } else {
            const std::size_t n =
                static_cast<std::size_t>(std::min<std::uint64_t>({open, cfg_.file_chunk, s.remaining}));
            if (n == 0) {
                s.spare.reset();  // waiting for the peer: hold nothing
                break;
            }
            // A small piece (the tail of a file) is copied into the
            // connection's send buffer: no chunk of our own to allocate and lend.
            const bool copy = n <= small_file && s.lent.empty() && n <= conn_.send_capacity(id) && n <= send_room();
            if (!copy && (s.lent.size() >= cfg_.file_chunks_in_flight || file_lent_ + n > cfg_.file_connection_buffer))
                break;  // written() brings us back as chunks come back
            std::uint8_t small[small_file];
            std::unique_ptr<std::uint8_t[]> chunk_buffer;
            if (!copy)
                chunk_buffer = s.spare && n == cfg_.file_chunk ? std::move(s.spare)
                                                               : std::make_unique_for_overwrite<std::uint8_t[]>(n);
            std::uint8_t* const into = copy ? small : chunk_buffer.get();
            const ssize_t got = ::pread(s.file->fd, into, n, static_cast<off_t>(s.offset));
            if (got != static_cast<ssize_t>(n)) {  // the file shrank or failed under us
                conn_.reset_stream(id, h2wire::ErrorCode::internal_error);
                return true;
            }
            chunk = std::span<const std::uint8_t>(into, n);
            const bool last = n == s.remaining && !s.trailers;
            if (copy) {
                conn_.send_data(id, chunk, last);
            } else {
                conn_.send_data_borrowed(id, chunk, last);
                s.lent.push_back({std::move(chunk_buffer), n});
                s.lent_total += n;
                file_lent_ += n;
            }
        }
        s.offset += chunk.size();
        s.remaining -= chunk.size();
        s.body_length += chunk.size();
        s.progress.out += chunk.size();
        if (s.trailers) s.hash = fnv1a(s.hash, chunk);
        if (s.remaining == 0) {
            if (!s.file->held()) s.file.reset();  // closes an uncached file's descriptor
            s.spare.reset();
            if (s.trailers) end_response(id, s);
            s.ended = true;
        }
    }
    still = conn_.buffered(id);
    return s.ended && s.input_done && still == 0 && s.lent.empty();
}

// Echo octets the stream holds beyond the window octets it has not handed
// back: what consume() allowed the client to send on top of what is held.
std::uint64_t ServerSession::echo_slack(std::uint32_t id, const Stream& s) const {
    const std::uint64_t held = conn_.buffered(id) + s.pending_size();
    const std::uint64_t unconsumed = s.window_owed - s.echo_consumed;
    return held > unconsumed ? held - unconsumed : 0;
}

bool ServerSession::pump_echo(std::uint32_t id, Stream& s, std::uint64_t& connection_slack) {
    while (s.pending_size() > 0) {
        const std::size_t n = std::min({s.pending_size(), conn_.send_capacity(id), send_room()});
        if (n == 0 ||
            conn_.send_data(id, std::span(s.pending).subspan(s.pending_head, n), false) != h2wire::ApiError::none)
            break;
        s.pending_head += n;
        s.echo_queued += n;
        s.progress.out += n;
    }
    if (s.pending_size() == 0) {
        if (s.pending.capacity() > 64 * 1024)
            std::vector<std::uint8_t>().swap(s.pending);  // give a burst's memory back
        else
            s.pending.clear();
        s.pending_head = 0;
    } else if (s.pending_head > 64 * 1024 && s.pending_head * 2 > s.pending.size()) {
        s.pending.erase(s.pending.begin(), s.pending.begin() + static_cast<std::ptrdiff_t>(s.pending_head));
        s.pending_head = 0;
    }
    // Manual flow control: the window goes back as the echo leaves, plus
    // some slack (octets held beyond the window) for clients that read the
    // response late: at most echo_buffer per stream, echo_connection_buffer
    // for the connection and ProcessBudget::echo_cap for the process. So the
    // echo streams of a connection hold at most connection_window +
    // echo_connection_buffer, whatever the uploads' sizes.
    const std::uint64_t mine = echo_slack(id, s);
    connection_slack -= std::min(mine, connection_slack);
    std::uint64_t allowed = std::min<std::uint64_t>(
        cfg_.echo_buffer,
        connection_slack < cfg_.echo_connection_buffer ? cfg_.echo_connection_buffer - connection_slack : 0);
    if (cfg_.budget) {
        const std::uint64_t others = cfg_.budget->echo - echo_held_.held() + connection_slack;
        allowed = std::min<std::uint64_t>(allowed, others < cfg_.budget->echo_cap ? cfg_.budget->echo_cap - others : 0);
    }
    const std::size_t still = conn_.buffered(id);
    const std::uint64_t held = still + s.pending_size();
    const std::uint64_t over = held > allowed ? held - allowed : 0;
    const std::uint64_t target = s.window_owed - std::min(over, s.window_owed);
    if (target > s.echo_consumed) {
        conn_.consume(id, static_cast<std::size_t>(target - s.echo_consumed));
        s.echo_consumed = target;
    }
    connection_slack += echo_slack(id, s);
    if (s.input_done && s.pending_size() == 0 && !s.ended) end_response(id, s);
    return s.ended && still == 0 && s.echo_consumed == s.window_owed;
}

void ServerSession::pump() {
    if (closed_) return;
    // WebSockets: echo output into their streams; window back as it leaves,
    // while the connection's WebSockets hold less than connection_memory (a
    // message is assembled whole, up to 1 MiB, so half-sent messages on many
    // streams would otherwise add up).
    std::size_t ws_memory = 0;
    for (const auto& [id, t] : websockets_) ws_memory += t->memory();
    for (auto it = websockets_.begin(); it != websockets_.end();) {
        it->second->pump(conn_, true, ws_memory < cfg_.connection_memory);
        if (it->second->done() && conn_.buffered(it->first) == 0) {
            ws_progress_.erase(it->first);
            it = websockets_.erase(it);
        } else {
            ++it;
        }
    }
    std::uint64_t echo_slack_total = 0;
    for (const auto& [id, s] : streams_)
        if (s->kind == Stream::Kind::echo) echo_slack_total += echo_slack(id, *s);
    echo_held_.set(echo_slack_total);
    // Files first, the most urgent first (RFC 9218): they share one read
    // budget, and read in id order the less urgent ones could fill it and be
    // all the connection has to send.
    file_order_.clear();
    for (const auto& [id, s] : streams_)
        if (s->kind == Stream::Kind::file)
            file_order_.emplace_back(conn_.priority(id).value_or(h2wire::Priority{}).urgency, id);
    std::sort(file_order_.begin(), file_order_.end());
    for (const auto& [urgency, id] : file_order_) {
        const auto it = streams_.find(id);
        if (pump_file(id, *it->second)) drop(it);
    }
    for (auto it = streams_.begin(); it != streams_.end();) {
        Stream& s = *it->second;
        bool done = false;
        switch (s.kind) {
            case Stream::Kind::file:
                break;  // (pumped above)
            case Stream::Kind::echo:
                done = pump_echo(it->first, s, echo_slack_total);
                echo_held_.set(echo_slack_total);
                break;
            case Stream::Kind::simple:
                done = s.ended && s.input_done;
                break;
        }
        if (done) {
            if (s.kind == Stream::Kind::echo) echo_slack_total -= std::min(echo_slack_total, echo_slack(it->first, s));
            const auto next = std::next(it);
            drop(it);
            it = next;
        } else {
            ++it;
        }
    }
    echo_held_.set(echo_slack_total);
}

}  // namespace example
