// h2wire-client --websocket URL: one WebSocket over HTTP/2 (RFC 8441).
//
// Waits for the server's SETTINGS (SETTINGS_ENABLE_CONNECT_PROTOCOL must be
// 1), sends an extended CONNECT (:protocol websocket, :scheme http/https,
// :path and :authority of the URL, Sec-WebSocket-Version 13), and on 200
// sends each line of stdin as a text message and prints every message
// received on stdout, one per line. At the end of stdin it closes (1000),
// waits for the server's close and END_STREAM, and ends the connection.
#pragma once

#include <string>

#include "common/net.hpp"

namespace example::ws {

struct ClientTarget {
    std::string scheme, authority, path;
    bool verbose = false;  ///< say what happens on stderr
};

/// Runs the WebSocket on an established transport (TCP, or TLS after its
/// handshake). Exit status: 0 after a clean close, 1 otherwise.
int run_client(Transport& io, const ClientTarget& target);

}  // namespace example::ws
