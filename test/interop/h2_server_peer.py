#!/usr/bin/python3
"""Interop: an h2wire client (h2wire-peer client) against a Python h2 server.

The server listens on 127.0.0.1 at a port the kernel picks, starts the
driver given as argv[1], and serves:
  /big-headers  checks a 40000-octet request field (h2wire splits its block
                into HEADERS + CONTINUATION), answers with a 50000-octet field
                (h2 splits it), so both directions carry CONTINUATIONs;
  /echo         a 3 MiB upload with trailers, echoed back with trailers; both
                bodies are far larger than the windows;
  /reset        answered with RST_STREAM REFUSED_STREAM;
  /cancel       an upload the h2wire client resets (RST_STREAM CANCEL);
  /goaway       answered, then the server closes with GOAWAY.
Everything is checked on both sides: here from h2's events and from the raw
frames, and in the driver's RESULT lines.
"""

import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

from interop_common import (Checker, FrameLog, deadline_passed, driver_results, listen_localhost,
                            make_body, make_value, send_all, wait_readable)

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions


def main():
    driver = sys.argv[1]
    check = Checker()
    listener = listen_localhost()
    port = listener.getsockname()[1]
    proc = subprocess.Popen([driver, "client", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    sock, _ = listener.accept()
    listener.close()

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    inbound = FrameLog(skip_preface=True)
    outbound = FrameLog(skip_preface=False)
    send_all(sock, conn.data_to_send(), outbound)

    streams = {}  # id -> dict(headers, body, trailers, ended, reset)
    pending = {}  # id -> [data, offset, trailers]
    goaway_sent = False
    state = {"goaway_due": False}
    start = time.monotonic()

    def stream(sid):
        return streams.setdefault(sid, {"headers": {}, "body": bytearray(), "trailers": {}, "ended": False,
                                        "reset": None})

    def respond(sid):
        s = streams[sid]
        path = s["headers"].get(":path")
        if path == "/big-headers":
            got = s["headers"].get("x-big-request", "")
            check.equal(len(got), 40000, "server: /big-headers request field length")
            check.expect(got == make_value(40000, 1), "server: /big-headers request field content")
            conn.send_headers(sid, [(":status", "200"), ("x-req-len", str(len(got))), ("x-big", make_value(50000, 3))])
            conn.send_data(sid, b"ok", end_stream=True)
        elif path == "/echo":
            body = bytes(s["body"])
            check.equal(len(body), 3 * 1024 * 1024, "server: /echo upload length")
            check.expect(body == make_body(3 * 1024 * 1024, 2), "server: /echo upload content")
            check.equal(s["trailers"].get("x-client-trailer"), "ct-1", "server: /echo request trailer")
            conn.send_headers(sid, [(":status", "200"), ("x-body-len", str(len(body)))])
            pending[sid] = [body, 0, [("x-server-trailer", "st-1"),
                                      ("x-client-trailer-echo", s["trailers"].get("x-client-trailer", ""))]]
        elif path == "/goaway":
            conn.send_headers(sid, [(":status", "200")], end_stream=True)
            state["goaway_due"] = True
        else:
            conn.send_headers(sid, [(":status", "404")], end_stream=True)

    def pump_bodies():
        for sid in list(pending):
            data, off, trailers = pending[sid]
            while off < len(data):
                window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                if window <= 0:
                    break
                n = min(window, len(data) - off)
                conn.send_data(sid, data[off:off + n])
                off += n
            pending[sid][1] = off
            if off == len(data):
                conn.send_headers(sid, trailers, end_stream=True)
                del pending[sid]

    done = False
    while not done and not deadline_passed(start):
        pump_bodies()
        if state["goaway_due"] and not goaway_sent and not pending:
            # Everything answered: close with GOAWAY (last stream: the /goaway request).
            conn.close_connection(error_code=0)
            goaway_sent = True
        send_all(sock, conn.data_to_send(), outbound)
        if not wait_readable(sock, 0.2):
            if goaway_sent and proc.poll() is not None:
                break
            continue
        data = sock.recv(65536)
        if not data:
            break
        inbound.feed(data)
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            check.expect(False, f"server: h2 rejected the client's bytes: {e!r}")
            break
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                stream(ev.stream_id)["headers"] = dict(ev.headers)
                if dict(ev.headers).get(":path") == "/reset":
                    conn.reset_stream(ev.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
            elif isinstance(ev, h2.events.DataReceived):
                stream(ev.stream_id)["body"] += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.TrailersReceived):
                stream(ev.stream_id)["trailers"] = dict(ev.headers)
            elif isinstance(ev, h2.events.StreamEnded):
                s = stream(ev.stream_id)
                s["ended"] = True
                if s["headers"].get(":path") != "/reset":
                    respond(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                stream(ev.stream_id)["reset"] = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                done = True
    send_all(sock, conn.data_to_send(), outbound)
    time.sleep(0.2)
    sock.close()

    results, err, rc = driver_results(proc)
    sys.stderr.write(err)
    by_name = {r.get("name"): r for r in results}
    print("driver:", results)
    check.equal(rc, 0, "driver exit status")

    big = by_name.get("big-headers", {})
    check.equal(big.get("status"), "200", "client: /big-headers status")
    check.equal(big.get("x-big-len"), "50000", "client: /big-headers response field length")
    check.equal(big.get("x-big-ok"), "1", "client: /big-headers response field content")
    check.equal(big.get("req-len"), "40000", "client: /big-headers echo of the request field length")

    echo = by_name.get("echo", {})
    check.equal(echo.get("status"), "200", "client: /echo status")
    check.equal(echo.get("body-len"), str(3 * 1024 * 1024), "client: /echo body length")
    check.equal(echo.get("body-ok"), "1", "client: /echo body content")
    check.equal(echo.get("server-trailer"), "st-1", "client: /echo server trailer")
    check.equal(echo.get("client-trailer-echo"), "ct-1", "client: /echo trailer echo")

    reset = by_name.get("reset", {})
    check.equal(reset.get("reset"), "1", "client: /reset was reset")
    check.equal(reset.get("code"), "7", "client: /reset code REFUSED_STREAM")
    check.equal(reset.get("by"), "peer", "client: /reset by the peer")

    cancel = by_name.get("cancel", {})
    check.equal(cancel.get("sent"), "1", "client: /cancel reset sent")
    cancel_sid = int(cancel.get("stream", "0"))
    check.equal(streams.get(cancel_sid, {}).get("reset"), h2.errors.ErrorCodes.CANCEL,
                "server: /cancel reset by the client with CANCEL")

    goaway = by_name.get("goaway", {})
    check.equal(goaway.get("seen"), "1", "client: GOAWAY seen")
    check.equal(goaway.get("code"), "0", "client: GOAWAY code")
    check.equal(goaway.get("status"), "200", "client: /goaway status")
    check.equal(goaway.get("last"), goaway.get("stream"), "client: GOAWAY last stream id is the /goaway stream")

    # The wire: CONTINUATIONs both ways, flow control at work, no error frames from h2wire.
    check.expect(inbound.count(9) >= 1, f"wire: h2wire sent CONTINUATION ({inbound.count(9)})")
    check.expect(outbound.count(9) >= 1, f"wire: h2 sent CONTINUATION ({outbound.count(9)})")
    check.expect(inbound.max_length(1) <= 16384 and inbound.max_length(9) <= 16384,
                 "wire: h2wire's header frames within 16384 octets")
    check.expect(inbound.count(8) >= 10, f"wire: h2wire sent WINDOW_UPDATEs ({inbound.count(8)})")
    check.expect(inbound.count(8) < inbound.count(0, None) + outbound.count(0),
                 "wire: WINDOW_UPDATEs coalesced (fewer than DATA frames)")
    rsts_from_h2wire = [f for f in inbound.of_type(3)]
    check.equal([f[2] for f in rsts_from_h2wire], [cancel_sid], "wire: h2wire's only RST_STREAM is the /cancel one")
    check.equal([g for g in inbound.goaways() if g[1] != 0], [], "wire: h2wire sent no GOAWAY with an error")
    check.finish()


if __name__ == "__main__":
    main()
