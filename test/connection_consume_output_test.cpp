// consume_output(n) (issue 14): n past what is pending is ApiError::
// invalid_argument and consumes nothing, whichever output form was used.
// Pending is what the last pending_output() / pending_output_vectors()
// returned, less what consume_output() took since.
#include <doctest/doctest.h>

#include "support/connection_harness.hpp"

namespace {

using namespace h2wire;
using namespace h2wire::conn_test;

Bytes joined(std::span<const OutputChunk> pieces) {
    Bytes out;
    for (const OutputChunk& c : pieces) out.insert(out.end(), c.data, c.data + c.size);
    return out;
}

/// A server with a response and a body of `body` octets queued on stream 1.
Session server_with_body(const Bytes& body, bool borrowed) {
    Session s(Role::server);
    s.handshake();
    s.open(1, get(), true);
    REQUIRE(s.conn.submit_response(1, fields(response()), false) == ApiError::none);
    const ApiError e = borrowed ? s.conn.send_data_borrowed(1, body, true) : s.conn.send_data(1, body, true);
    REQUIRE(e == ApiError::none);
    return s;
}

}  // namespace

TEST_CASE("consume_output: SIZE_MAX (write()'s -1) is refused and the output stays whole") {
    Connection client({.role = Role::client});
    const auto out = client.pending_output();
    const Bytes first(out.begin(), out.end());
    REQUIRE(first.size() > 24);
    // ::write() returned -1 (EAGAIN), converted to size_t.
    const std::ptrdiff_t written = -1;
    CHECK(client.consume_output(static_cast<std::size_t>(written)) == ApiError::invalid_argument);
    CHECK(client.consume_output(SIZE_MAX) == ApiError::invalid_argument);
    CHECK(client.wants_write());
    const auto again = client.pending_output();
    CHECK(Bytes(again.begin(), again.end()) == first);
    // One past the end is refused too; exactly the end is fine.
    CHECK(client.consume_output(first.size() + 1) == ApiError::invalid_argument);
    CHECK(client.consume_output(first.size()) == ApiError::none);
    CHECK(!client.wants_write());
    CHECK(client.pending_output().empty());
    CHECK(client.consume_output(1) == ApiError::invalid_argument);
    CHECK(client.consume_output(0) == ApiError::none);
}

TEST_CASE("consume_output: only what pending_output*() handed out is pending") {
    Connection client({.role = Role::client});
    // The preface is queued but not handed out yet: nothing is pending.
    CHECK(client.wants_write());
    CHECK(client.consume_output(1) == ApiError::invalid_argument);
    CHECK(client.consume_output(0) == ApiError::none);
    // A refused count is not "output was written": an h2c upgrade is still
    // possible.
    CHECK(client.upgrade_client() == ApiError::none);
}

TEST_CASE("consume_output: after a short write, the limit is the rest") {
    Connection client({.role = Role::client});
    const auto out = client.pending_output();
    const std::size_t total = out.size();
    const Bytes whole(out.begin(), out.end());
    CHECK(client.consume_output(10) == ApiError::none);
    CHECK(client.consume_output(total - 10 + 1) == ApiError::invalid_argument);
    const auto rest = client.pending_output();
    CHECK(Bytes(rest.begin(), rest.end()) == Bytes(whole.begin() + 10, whole.end()));
    CHECK(client.consume_output(total - 10) == ApiError::none);
    CHECK(!client.wants_write());
}

TEST_CASE("consume_output: with pending_output_vectors(), pending is the sum of the pieces") {
    for (const bool borrowed : {false, true}) {
        INFO((borrowed ? "send_data_borrowed" : "send_data"));
        const Bytes body(40000, 'x');  // within the peer's initial windows
        Session s = server_with_body(body, borrowed);
        const auto pieces = s.conn.pending_output_vectors();
        REQUIRE(pieces.size() >= 2);
        const Bytes all = joined(pieces);
        const std::size_t queued = s.conn.buffered(1);
        CHECK(queued == body.size());
        CHECK(s.conn.consume_output(all.size() + 1) == ApiError::invalid_argument);
        CHECK(s.conn.consume_output(SIZE_MAX) == ApiError::invalid_argument);
        // Nothing was taken: the same pieces, the body still held.
        CHECK(joined(s.conn.pending_output_vectors()) == all);
        CHECK(s.conn.buffered(1) == queued);
        // The contiguous form returns the same octets: the two may be mixed.
        const auto flat = s.conn.pending_output();
        CHECK(Bytes(flat.begin(), flat.end()) == all);
        // The peer gets every frame whole.
        s.peer.read(all);
        CHECK(s.conn.consume_output(all.size()) == ApiError::none);
        s.drain();
        s.check_output();
        CHECK(data_of(s.peer.frames(), 1) == body);
        CHECK(s.conn.buffered(1) == 0);
    }
}

TEST_CASE("consume_output: a refused count in the middle of a DATA frame changes nothing") {
    const Bytes body(30000, 'y');
    Session s = server_with_body(body, true);
    const auto out = s.conn.pending_output();
    const Bytes all(out.begin(), out.end());
    // Write up to the middle of the DATA frame.
    const std::size_t part = all.size() - 1000;
    s.peer.read(std::span<const std::uint8_t>(all).first(part));
    CHECK(s.conn.consume_output(part) == ApiError::none);
    CHECK(s.conn.consume_output(1001) == ApiError::invalid_argument);
    const auto rest = s.conn.pending_output_vectors();
    CHECK(joined(rest) == Bytes(all.begin() + static_cast<std::ptrdiff_t>(part), all.end()));
    s.drain_vectors();
    CHECK(data_of(s.peer.frames(), 1) == body);
}
