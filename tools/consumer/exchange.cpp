// A program of a user's, built against an INSTALLED h2wire (pkg-config,
// CMake or a meson subproject; see tools/consumer_test.sh): a client and a
// server exchange one request and its response in memory. Exits 0 when the
// response arrives whole and the headers' version matches the library's.
#include <h2wire/h2wire.hpp>

#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace {

// Moves everything `from` has to send into `to`; returns the octets moved.
std::size_t pump(h2wire::Connection& from, h2wire::Connection& to, bool to_is_server, std::string& body,
                 bool& done) {
    const auto out = from.pending_output();
    if (out.empty()) return 0;
    const std::size_t n = out.size();
    for (const h2wire::Event& ev : to.receive(out)) {
        if (to_is_server) {
            if (const auto* req = std::get_if<h2wire::RequestReceived>(&ev)) {
                const h2wire::Field head[] = {{":status", "200"}, {"content-type", "text/plain"}};
                to.submit_response(req->stream, head, false);
                static constexpr std::string_view text = "hello from h2wire\n";
                to.send_data(req->stream, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, true);
            }
        } else if (const auto* d = std::get_if<h2wire::DataReceived>(&ev)) {
            body.append(reinterpret_cast<const char*>(d->data.data()), d->data.size());
        } else if (std::holds_alternative<h2wire::StreamEnded>(ev)) {
            done = true;
        }
    }
    from.consume_output(n);
    return n;
}

}  // namespace

int main() {
    if (h2wire::version() != H2WIRE_VERSION_STRING) {
        std::fprintf(stderr, "headers are %s, library is %.*s\n", H2WIRE_VERSION_STRING,
                     static_cast<int>(h2wire::version().size()), h2wire::version().data());
        return 1;
    }
    h2wire::Connection client{{.role = h2wire::Role::client}};
    h2wire::Connection server{{.role = h2wire::Role::server}};
    const h2wire::Field request[] = {
        {":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/"}};
    if (!client.submit_request(request, true)) return 1;

    std::string body;
    bool done = false;
    for (int round = 0; round < 16 && !done; ++round) {
        std::string unused;
        bool unused_done = false;
        const std::size_t moved = pump(client, server, true, unused, unused_done) + pump(server, client, false, body, done);
        if (moved == 0) break;
    }
    if (!done || body != "hello from h2wire\n") {
        std::fprintf(stderr, "exchange failed: done=%d body=%s\n", done ? 1 : 0, body.c_str());
        return 1;
    }
    std::printf("h2wire %s: request exchanged in memory, body \"%s\" (%zu octets)\n", H2WIRE_VERSION_STRING,
                "hello from h2wire", body.size());
    return 0;
}
