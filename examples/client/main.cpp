// h2wire-client: fetches URLs over one HTTP/2 connection, on POSIX poll().
//
//     h2wire-client [options] URL...
//       -n, --concurrent N   streams in flight at once (default 100)
//       --repeat K           fetch each URL K times
//       -X METHOD            request method (default GET, or POST with --data)
//       -H 'name: value'     extra request field (repeatable)
//       --data @FILE|TEXT    request body; a file is streamed under flow control
//       -o FILE              write the body to FILE (one request only)
//       --output-dir DIR     write body i to DIR/<i>-<last path segment>
//       --upgrade            h2c via HTTP/1.1 upgrade (RFC 7540 §3.2) instead of
//                            prior knowledge (http:// only)
//       --insecure           https:// without certificate verification
//       --cacert FILE        verify the server against FILE (PEM) instead of the
//                            system trust store
//       --fail               a status >= 400 counts as a failed stream
//       -v                   print every frame sent and received (h2wire::FrameTrace)
//       -q                   do not print response headers
//       --websocket URL      WebSocket over HTTP/2 (RFC 8441) to URL: stdin lines
//                            out as text messages, messages received printed
//                            (websocket/client.hpp)
//
// Every URL must name the same origin (one connection). Response headers go
// to stderr as "[stream] name: value"; the body of a single request goes to
// stdout unless -o/--output-dir say otherwise (bodies of several requests
// without --output-dir are counted, not written). Exit status: 0 when every
// stream completed, 1 when any was reset, cut by the connection's end, or
// (with --fail) answered with status >= 400; 2 for bad usage.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/http1.hpp"
#include "common/net.hpp"
#include "common/trace.hpp"
#include "h2wire/connection.hpp"
#include "websocket/client.hpp"

namespace {

using example::IoResult;

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;  // clang 14 has no aggregate deduction

struct Url {
    std::string scheme, host, authority, path;
    std::uint16_t port = 0;
};

std::optional<Url> parse_url(std::string_view s) {
    Url u;
    const std::size_t colon = s.find("://");
    if (colon == std::string_view::npos) return std::nullopt;
    u.scheme = s.substr(0, colon);
    if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
    s.remove_prefix(colon + 3);
    const std::size_t slash = std::min(s.find('/'), s.size());
    u.authority = s.substr(0, slash);
    u.path = slash < s.size() ? std::string(s.substr(slash)) : "/";
    std::string_view hostport = u.authority;
    u.port = u.scheme == "https" ? 443 : 80;
    std::size_t pc = hostport.rfind(':');
    if (!hostport.empty() && hostport[0] == '[') {  // [v6]:port
        const std::size_t close = hostport.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        u.host = hostport.substr(1, close - 1);
        pc = close + 1 < hostport.size() && hostport[close + 1] == ':' ? close + 1 : std::string_view::npos;
    } else {
        u.host = hostport.substr(0, pc);
    }
    if (pc != std::string_view::npos)
        u.port = static_cast<std::uint16_t>(std::atoi(std::string(hostport.substr(pc + 1)).c_str()));
    if (u.host.empty() || u.port == 0) return std::nullopt;
    return u;
}

struct Options {
    std::vector<Url> urls;
    std::size_t concurrent = 100;
    std::size_t repeat = 1;
    std::string method;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string data;       // literal body
    std::string data_file;  // body streamed from a file
    bool has_data = false;
    std::string output, output_dir, cacert;
    bool upgrade = false, insecure = false, fail_status = false, verbose = false, quiet = false;
    bool websocket = false;  // --websocket URL (issue 6)
};

// One request and what became of it.
struct Job {
    const Url* url = nullptr;
    std::size_t index = 0;
    std::uint32_t stream = 0;
    int status = 0;
    bool finished = false, failed = false;
    std::uint64_t received = 0;
    std::FILE* sink = nullptr;  // body goes here (null: counted only)
    std::uint64_t upload_sent = 0;
    bool upload_done = true;
};

class Client {
public:
    Client(const Options& opt, std::unique_ptr<example::Transport> io)
        : opt_(opt), io_(std::move(io)), conn_(h2wire::Config{.role = h2wire::Role::client}) {
        if (opt.verbose) conn_.set_trace(&log_);  // frames as the connection reads and builds them
        for (std::size_t r = 0; r < opt.repeat; ++r)
            for (const Url& u : opt.urls) jobs_.push_back(Job{&u, jobs_.size()});
        if (opt.has_data) {
            if (!opt.data_file.empty()) {
                upload_fd_ = ::open(opt.data_file.c_str(), O_RDONLY | O_CLOEXEC);
                struct stat st {};
                if (upload_fd_ < 0 || ::fstat(upload_fd_, &st) != 0) {
                    std::fprintf(stderr, "h2wire-client: %s: %s\n", opt.data_file.c_str(), std::strerror(errno));
                    std::exit(2);
                }
                upload_size_ = static_cast<std::uint64_t>(st.st_size);
            } else {
                upload_size_ = opt.data.size();
            }
        }
    }
    ~Client() {
        if (upload_fd_ >= 0) ::close(upload_fd_);
        for (Job& j : jobs_)
            if (j.sink && j.sink != stdout) std::fclose(j.sink);
    }

    std::string method() const { return !opt_.method.empty() ? opt_.method : opt_.has_data ? "POST" : "GET"; }

    /// h2c upgrade: the first request goes as HTTP/1.1 with the upgrade
    /// fields; after the 101 it is stream 1. Blocking for simplicity (poll
    /// on the one socket).
    bool upgrade() {
        Job& j = jobs_[0];
        std::string body;
        if (opt_.has_data) {
            if (upload_size_ > 8 * 1024 * 1024) return error("--upgrade sends the body in HTTP/1.1: at most 8 MiB");
            body.resize(upload_size_);
            if (!read_upload(0, reinterpret_cast<std::uint8_t*>(body.data()), body.size())) return false;
        }
        std::string req = method() + " " + j.url->path + " HTTP/1.1\r\nHost: " + j.url->authority +
                          "\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " +
                          std::string(conn_.upgrade_settings_header()) + "\r\nUser-Agent: h2wire-client\r\n";
        for (const auto& [n, v] : opt_.fields) req += n + ": " + v + "\r\n";
        if (opt_.has_data) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        req += "\r\n" + body;
        if (opt_.verbose) std::fprintf(stderr, "send HTTP/1.1 upgrade request (%zu octets)\n", req.size());
        for (std::size_t at = 0; at < req.size();) {
            const IoResult r = example::write_bytes(*io_, std::string_view(req).substr(at));
            if (r.status == IoResult::again)
                wait(POLLOUT);
            else if (r.status != IoResult::ok)
                return error("write failed");
            else
                at += r.n;
        }
        std::string in;
        example::Http1Head head;
        for (;;) {
            std::uint8_t buf[16384];
            const IoResult r = io_->read(buf);
            if (r.status == IoResult::again) {
                wait(POLLIN);
                continue;
            }
            if (r.status != IoResult::ok) return error("connection closed before the upgrade response");
            in.append(reinterpret_cast<const char*>(buf), r.n);
            const example::Http1Parse p = example::parse_response_head(in, head);
            if (p == example::Http1Parse::bad) return error("bad HTTP/1.1 response");
            if (p == example::Http1Parse::done) break;
        }
        if (head.status != 101 || !head.lists("upgrade", "h2c")) {
            return error("server did not upgrade: HTTP/1.1 " + std::to_string(head.status) + " " +
                         in.substr(head.size, 200));
        }
        if (opt_.verbose) std::fprintf(stderr, "recv HTTP/1.1 101 Switching Protocols\n");
        if (conn_.upgrade_client(method()) != h2wire::ApiError::none) return error("upgrade_client failed");
        start(j, 1);
        j.upload_done = true;  // the body went in HTTP/1.1
        ++in_flight_;
        ++next_job_;
        // Bytes after the 101 are HTTP/2 already.
        const std::string rest = in.substr(head.size);
        feed(std::span(reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size()));
        return true;
    }

    /// The loop: read -> receive(), pending output -> writev(), until every
    /// request finished and our GOAWAY is out.
    int run() {
        std::vector<std::uint8_t> buf(256 * 1024);
        bool write_blocked = false;
        for (;;) {
            pump();
            // Write until the output is empty or the socket is full.
            write_blocked = false;
            for (;;) {
                const std::span<const h2wire::OutputChunk> out = conn_.pending_output_vectors();
                if (out.empty()) break;
                const IoResult r = io_->write(out);
                if (r.status == IoResult::again) {
                    write_blocked = true;
                    break;
                }
                if (r.status != IoResult::ok) return finish("write failed");
                conn_.consume_output(r.n);
                pump();
            }
            if (conn_.is_closed() && !conn_.wants_write()) return finish(nullptr);
            if (all_done() && !shutdown_) {
                shutdown_ = true;
                conn_.shutdown();  // GOAWAY; the connection ends at once (nothing in flight)
                continue;
            }
            pollfd p{io_->fd(), static_cast<short>(POLLIN | (write_blocked || io_->wants_write() ? POLLOUT : 0)), 0};
            if (::poll(&p, 1, -1) < 0 && errno != EINTR) return finish("poll failed");
            if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                for (;;) {
                    const IoResult r = io_->read(buf);
                    if (r.status == IoResult::again) break;
                    if (r.status != IoResult::ok) return finish(shutdown_ ? nullptr : "connection closed by the peer");
                    feed(std::span(buf.data(), r.n));
                }
            }
        }
    }

private:
    bool error(const std::string& what) {
        std::fprintf(stderr, "h2wire-client: %s\n", what.c_str());
        return false;
    }

    void wait(short events) {
        pollfd p{io_->fd(), events, 0};
        ::poll(&p, 1, -1);
    }

    bool all_done() const {
        return next_job_ == jobs_.size() &&
               std::all_of(jobs_.begin(), jobs_.end(), [](const Job& j) { return j.finished; });
    }

    int finish(const char* why) {
        if (why) std::fprintf(stderr, "h2wire-client: %s\n", why);
        int failed = 0;
        for (Job& j : jobs_) {
            if (!j.finished) j.failed = true;
            if (j.failed || (opt_.fail_status && j.status >= 400)) ++failed;
        }
        if (!opt_.quiet)
            std::fprintf(stderr, "%zu requests, %zu failed\n", jobs_.size(), static_cast<std::size_t>(failed));
        return failed ? 1 : 0;
    }

    bool read_upload(std::uint64_t offset, std::uint8_t* p, std::size_t n) {
        if (upload_fd_ < 0) {
            std::memcpy(p, opt_.data.data() + offset, n);
            return true;
        }
        while (n > 0) {
            const ssize_t k = ::pread(upload_fd_, p, n, static_cast<off_t>(offset));
            if (k <= 0) return error("reading the upload file failed");
            p += k;
            n -= static_cast<std::size_t>(k);
            offset += static_cast<std::uint64_t>(k);
        }
        return true;
    }

    void start(Job& j, std::uint32_t stream) {
        j.stream = stream;
        by_stream_[stream] = j.index;
        if (!opt_.output.empty()) {
            j.sink = std::fopen(opt_.output.c_str(), "wb");
        } else if (!opt_.output_dir.empty()) {
            std::string name = j.url->path.substr(0, j.url->path.find('?'));
            name = name.substr(name.rfind('/') + 1);
            if (name.empty()) name = "index";
            j.sink = std::fopen((opt_.output_dir + "/" + std::to_string(j.index) + "-" + name).c_str(), "wb");
        } else if (jobs_.size() == 1) {
            j.sink = stdout;
        }
    }

    // New requests while fewer than N are in flight; upload bodies as the
    // send buffer (and so the peer's windows) take them.
    void pump() {
        while (!shutdown_ && in_flight_ < opt_.concurrent && next_job_ < jobs_.size() && !conn_.is_closed()) {
            Job& j = jobs_[next_job_];
            const std::string len = std::to_string(upload_size_);
            std::vector<h2wire::Field> fields = {{":method", method()},
                                                 {":scheme", j.url->scheme},
                                                 {":authority", j.url->authority},
                                                 {":path", j.url->path},
                                                 {"user-agent", "h2wire-client"}};
            if (opt_.has_data) fields.push_back({"content-length", len});
            for (const auto& [n, v] : opt_.fields) fields.push_back({n, v});
            const h2wire::Submitted s = conn_.submit_request(fields, !opt_.has_data);
            if (!s) {
                const std::string_view e = h2wire::to_string(s.error);
                std::fprintf(stderr, "h2wire-client: request %zu: %.*s\n", j.index, static_cast<int>(e.size()),
                             e.data());
                j.failed = j.finished = true;
                ++next_job_;
                continue;
            }
            start(j, s.stream);
            j.upload_done = !opt_.has_data;
            ++in_flight_;
            ++next_job_;
        }
        std::uint8_t chunk[64 * 1024];
        for (Job& j : jobs_) {
            if (j.upload_done || j.stream == 0 || j.finished) continue;
            while (!j.upload_done) {
                const std::size_t cap = conn_.send_capacity(j.stream);
                const std::size_t n = static_cast<std::size_t>(
                    std::min<std::uint64_t>({cap, sizeof chunk, upload_size_ - j.upload_sent}));
                const bool last = j.upload_sent + n == upload_size_;
                if (n == 0 && !last) break;
                if (!read_upload(j.upload_sent, chunk, n)) std::exit(1);
                if (conn_.send_data(j.stream, std::span(chunk, n), last) != h2wire::ApiError::none) break;
                j.upload_sent += n;
                j.upload_done = last;
            }
        }
    }

    Job* job(std::uint32_t stream) {
        const auto it = by_stream_.find(stream);
        return it == by_stream_.end() ? nullptr : &jobs_[it->second];
    }

    void print_fields(std::uint32_t stream, std::span<const h2wire::Field> fields) {
        if (opt_.quiet) return;
        for (const h2wire::Field& f : fields)
            std::fprintf(stderr, "[%u] %.*s: %.*s\n", stream, static_cast<int>(f.name.size()), f.name.data(),
                         static_cast<int>(f.value.size()), f.value.data());
    }

    void end_job(Job& j, bool failed) {
        if (j.finished) return;
        j.finished = true;
        j.failed = failed;
        --in_flight_;
        if (j.sink && j.sink != stdout) std::fclose(j.sink);
        if (j.sink == stdout) std::fflush(stdout);
        j.sink = nullptr;
    }

    void feed(std::span<const std::uint8_t> bytes) {
        for (const h2wire::Event& ev : conn_.receive(bytes)) {
            std::visit(
                overloaded{
                    [&](const h2wire::ResponseReceived& r) {
                        if (Job* j = job(r.stream)) j->status = r.status;
                        print_fields(r.stream, r.headers);
                    },
                    [&](const h2wire::InformationalResponseReceived& r) { print_fields(r.stream, r.headers); },
                    [&](const h2wire::TrailersReceived& t) { print_fields(t.stream, t.headers); },
                    [&](const h2wire::DataReceived& d) {
                        Job* j = job(d.stream);
                        if (!j) return;
                        j->received += d.data.size();
                        if (j->sink && !d.data.empty()) std::fwrite(d.data.data(), 1, d.data.size(), j->sink);
                    },
                    [&](const h2wire::StreamEnded& e) {
                        if (Job* j = job(e.stream)) {
                            if (!opt_.quiet)
                                std::fprintf(stderr, "[%u] done: status %d, %llu octets\n", e.stream, j->status,
                                             static_cast<unsigned long long>(j->received));
                            end_job(*j, j->status == 0);
                        }
                    },
                    [&](const h2wire::StreamReset& r) {
                        const std::string_view code = h2wire::to_string(r.code);
                        std::fprintf(stderr, "[%u] reset by %s: %.*s %.*s\n", r.stream,
                                     r.by == h2wire::Initiator::peer ? "peer" : "us", static_cast<int>(code.size()),
                                     code.data(), static_cast<int>(r.reason.size()), r.reason.data());
                        if (Job* j = job(r.stream)) end_job(*j, true);
                    },
                    [&](const h2wire::ConnectionTerminated& t) {
                        if (t.code != h2wire::ErrorCode::no_error) {
                            const std::string_view code = h2wire::to_string(t.code);
                            std::fprintf(stderr, "connection error (%s): %.*s %.*s\n",
                                         t.by == h2wire::Initiator::peer ? "peer" : "us", static_cast<int>(code.size()),
                                         code.data(), static_cast<int>(t.reason.size()), t.reason.data());
                        }
                        for (Job& j : jobs_)
                            if (j.stream && !j.finished) end_job(j, true);
                    },
                    [&](const auto&) {},
                },
                ev);
        }
    }

    const Options& opt_;
    std::unique_ptr<example::Transport> io_;
    example::FrameLog log_;  // before conn_: it outlives the connection
    h2wire::Connection conn_;
    std::vector<Job> jobs_;
    std::map<std::uint32_t, std::size_t> by_stream_;
    std::size_t next_job_ = 0, in_flight_ = 0;
    bool shutdown_ = false;
    int upload_fd_ = -1;
    std::uint64_t upload_size_ = 0;
};

int usage() {
    std::fprintf(stderr,
                 "usage: h2wire-client [-n N] [--repeat K] [-X METHOD] [-H 'name: value'] [--data @FILE|TEXT]\n"
                 "                     [-o FILE | --output-dir DIR] [--upgrade] [--insecure] [--cacert FILE] [--fail] "
                 "[-v] [-q] URL...\n"
                 "       h2wire-client [--insecure] [--cacert FILE] [-v] --websocket URL\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) std::exit(usage());
            return argv[++i];
        };
        if (a == "-n" || a == "--concurrent")
            opt.concurrent = std::max<std::size_t>(1, std::stoul(value()));
        else if (a == "--repeat")
            opt.repeat = std::stoul(value());
        else if (a == "-X")
            opt.method = value();
        else if (a == "-H") {
            const std::string h = value();
            const std::size_t colon = h.find(':');
            if (colon == std::string::npos) return usage();
            std::string name = h.substr(0, colon);
            std::transform(name.begin(), name.end(), name.begin(),
                           [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
            std::string v = h.substr(colon + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            opt.fields.emplace_back(name, v);
        } else if (a == "--data") {
            const std::string d = value();
            opt.has_data = true;
            if (!d.empty() && d[0] == '@')
                opt.data_file = d.substr(1);
            else
                opt.data = d;
        } else if (a == "-o")
            opt.output = value();
        else if (a == "--output-dir")
            opt.output_dir = value();
        else if (a == "--upgrade")
            opt.upgrade = true;
        else if (a == "--insecure" || a == "-k")
            opt.insecure = true;
        else if (a == "--fail")
            opt.fail_status = true;
        else if (a == "--cacert")
            opt.cacert = value();
        else if (a == "-v")
            opt.verbose = true;
        else if (a == "-q")
            opt.quiet = true;
        else if (a == "--websocket") {  // WebSocket over HTTP/2 (issue 6)
            const std::string v = value();
            const auto u = parse_url(v);
            if (!u) return usage();
            opt.websocket = true;
            opt.urls.push_back(*u);
        } else if (!a.empty() && a[0] == '-')
            return usage();
        else if (auto u = parse_url(a))
            opt.urls.push_back(*u);
        else {
            std::fprintf(stderr, "h2wire-client: bad URL %s\n", a.c_str());
            return 2;
        }
    }
    if (opt.urls.empty() || opt.repeat == 0) return usage();
    const Url& first = opt.urls[0];
    for (const Url& u : opt.urls) {
        if (u.scheme != first.scheme || u.host != first.host || u.port != first.port) {
            std::fprintf(stderr, "h2wire-client: all URLs must share one origin (one connection)\n");
            return 2;
        }
    }
    if (!opt.output.empty() && opt.urls.size() * opt.repeat > 1) {
        std::fprintf(stderr, "h2wire-client: -o takes one request; use --output-dir for several\n");
        return 2;
    }
    const bool tls = first.scheme == "https";
    if (tls && opt.upgrade) {
        std::fprintf(stderr, "h2wire-client: --upgrade is for http:// (h2c)\n");
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);

    std::string err;
    const int fd = example::connect_tcp(first.host, first.port, err);
    if (fd < 0) {
        std::fprintf(stderr, "h2wire-client: %s\n", err.c_str());
        return 1;
    }
    std::unique_ptr<example::Transport> io;
    if (tls) {
#ifdef H2WIRE_EXAMPLES_TLS
        auto ctx = example::tls_client_context(!opt.insecure, opt.cacert, err);
        if (!ctx) {
            std::fprintf(stderr, "h2wire-client: %s\n", err.c_str());
            return 1;
        }
        io = example::tls_transport(fd, ctx, false, first.host);
        for (;;) {
            const IoResult r = io->handshake();
            if (r.status == IoResult::ok) break;
            if (r.status != IoResult::again) {
                std::fprintf(stderr, "h2wire-client: TLS handshake failed\n");
                return 1;
            }
            pollfd p{fd, static_cast<short>(io->wants_write() ? POLLOUT : POLLIN), 0};
            ::poll(&p, 1, -1);
        }
        // RFC 9113 §3.2: HTTP/2 over TLS is negotiated with ALPN "h2".
        if (io->alpn() != "h2") {
            std::fprintf(stderr, "h2wire-client: the server did not agree to ALPN h2\n");
            return 1;
        }
#else
        std::fprintf(stderr, "h2wire-client: built without TLS (meson -Dtls=enabled needs libssl-dev)\n");
        return 1;
#endif
    } else {
        io = std::make_unique<example::Transport>(fd);
    }
    if (opt.websocket)  // issue 6: one WebSocket, stdin to stdout
        return example::ws::run_client(*io, {first.scheme, first.authority, first.path, opt.verbose});
    Client client(opt, std::move(io));
    if (opt.upgrade && !client.upgrade()) return 1;
    return client.run();
}
