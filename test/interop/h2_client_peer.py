#!/usr/bin/python3
"""Interop: a Python h2 client against an h2wire server (h2wire-peer server).

The driver given as argv[1] listens on 127.0.0.1 at a port the kernel picks
and prints it. This client then sends, concurrently:
  1  GET  /big           with a 40000-octet field (h2 splits the block into
                         CONTINUATIONs); the answer has a 50000-octet field
                         (h2wire splits it) and a 2 MiB body through h2's
                         65535-octet windows;
  3  POST /echo          1.5 MiB with trailers through h2wire's 100000-octet
                         windows, echoed back with trailers;
  5  POST /upload-reset  60000 octets, then RST_STREAM CANCEL from h2;
  7  GET  /reset         answered by h2wire with RST_STREAM ENHANCE_YOUR_CALM;
and, once those are settled,
  9  GET  /shutdown      answered; then h2wire shuts down gracefully:
                         GOAWAY 2^31-1 and a PING, then (after the PING
                         ACK) the final GOAWAY naming stream 9.
h2 treats every frame after a GOAWAY as an error, so from the first GOAWAY
on this script reads the raw frames itself and answers the PING by hand.
"""

import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

from interop_common import (Checker, FrameLog, deadline_passed, driver_results, make_body, make_value, send_all,
                            wait_readable)

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import socket

UPLOAD = 1536 * 1024


def main():
    driver = sys.argv[1]
    check = Checker()
    proc = subprocess.Popen([driver, "server"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline().split()
    if len(first) != 2 or first[0] != "PORT":
        print("driver did not print its port:", first, proc.stderr.read())
        sys.exit(1)
    port = int(first[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    inbound = FrameLog(skip_preface=False)
    outbound = FrameLog(skip_preface=True)

    def base(method, path):
        return [(":method", method), (":scheme", "http"), (":authority", f"127.0.0.1:{port}"), (":path", path)]

    conn.send_headers(1, base("GET", "/big") + [("x-big-request", make_value(40000, 4))], end_stream=True)
    upload = make_body(UPLOAD, 10)
    conn.send_headers(3, base("POST", "/echo") + [("content-length", str(UPLOAD))])
    conn.send_headers(5, base("POST", "/upload-reset"))
    conn.send_headers(7, base("GET", "/reset"), end_stream=True)
    send_all(sock, conn.data_to_send(), outbound)

    uploads = {3: [upload, 0, [("x-client-trailer", "ct-2")]], 5: [make_body(60000, 11), 0, None]}
    streams = {}
    start = time.monotonic()
    shutdown_sent = False
    after_goaway = False
    pinged_back = False

    def stream(sid):
        return streams.setdefault(sid, {"headers": {}, "body": bytearray(), "trailers": {}, "ended": False,
                                        "reset": None})

    def pump_uploads():
        for sid in list(uploads):
            data, off, trailers = uploads[sid]
            while off < len(data):
                window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                if window <= 0:
                    break
                n = min(window, len(data) - off)
                conn.send_data(sid, data[off:off + n])
                off += n
            uploads[sid][1] = off
            if off == len(data):
                if trailers is None:
                    conn.reset_stream(sid, error_code=h2.errors.ErrorCodes.CANCEL)
                else:
                    conn.send_headers(sid, trailers, end_stream=True)
                del uploads[sid]

    while not deadline_passed(start):
        if not after_goaway:
            pump_uploads()
            settled = (stream(1)["ended"] and stream(3)["ended"] and stream(7)["reset"] is not None)
            if settled and not shutdown_sent:
                conn.send_headers(9, base("GET", "/shutdown"), end_stream=True)
                shutdown_sent = True
            send_all(sock, conn.data_to_send(), outbound)
        if not wait_readable(sock, 0.2):
            if proc.poll() is not None:
                break
            continue
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        seen_before = len(inbound.frames)
        inbound.feed(data)
        if after_goaway or any(f[0] == 7 for f in inbound.frames[seen_before:]):
            # From the first GOAWAY on, h2 is done; feed it only the bytes before it.
            if not after_goaway:
                cut = goaway_offset(data, inbound, seen_before)
                handle(conn.receive_data(data[:cut]) if cut > 0 else [], stream, conn, check)
                after_goaway = True
            for f in inbound.frames[seen_before:]:
                if f[0] == 6 and not (f[1] & 1) and not pinged_back:
                    # PING (not ACK): answer it by hand.
                    send_all(sock, struct.pack(">I", 8)[1:] + bytes([6, 1]) + struct.pack(">I", 0) + f[3], outbound)
                    pinged_back = True
            if len(inbound.goaways()) >= 2:
                break
            continue
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            check.expect(False, f"client: h2 rejected the server's bytes: {e!r}")
            break
        handle(events, stream, conn, check)
        send_all(sock, conn.data_to_send(), outbound)

    time.sleep(0.3)
    sock.close()
    results, err, rc = driver_results(proc)
    sys.stderr.write(err)
    print("driver:", results)
    check.equal(rc, 0, "driver exit status")

    s1 = stream(1)
    check.equal(s1["headers"].get(":status"), "200", "client: /big status")
    check.equal(s1["headers"].get("x-req-len"), "40000", "server: /big request field length")
    check.equal(s1["headers"].get("x-req-ok"), "1", "server: /big request field content")
    check.expect(s1["headers"].get("x-big") == make_value(50000, 5), "client: /big 50000-octet response field")
    check.equal(len(s1["body"]), 2 * 1024 * 1024, "client: /big body length")
    check.expect(bytes(s1["body"]) == make_body(2 * 1024 * 1024, 6), "client: /big body content")

    s3 = stream(3)
    check.equal(s3["headers"].get(":status"), "200", "client: /echo status")
    check.equal(s3["headers"].get("x-body-len"), str(UPLOAD), "server: /echo upload length")
    check.expect(s3["headers"].get("x-big") == make_value(40000, 7), "client: /echo 40000-octet response field")
    check.equal(len(s3["body"]), UPLOAD, "client: /echo body length")
    check.expect(bytes(s3["body"]) == upload, "client: /echo body content")
    check.equal(s3["trailers"].get("x-server-trailer"), "st-1", "client: /echo server trailer")
    check.equal(s3["trailers"].get("x-client-trailer-echo"), "ct-2", "client: /echo trailer echo")

    check.equal(stream(7)["reset"], h2.errors.ErrorCodes.ENHANCE_YOUR_CALM, "client: /reset code")
    s9 = stream(9)
    check.equal(s9["headers"].get(":status"), "200", "client: /shutdown status")
    check.expect(bytes(s9["body"]) == make_body(1000, 8), "client: /shutdown body")
    check.expect(s9["ended"], "client: /shutdown ended")

    goaways = inbound.goaways()
    check.expect(len(goaways) >= 1, f"wire: GOAWAYs from h2wire: {goaways}")
    if goaways:
        check.equal(goaways[0][:2], (0x7FFFFFFF, 0), "wire: first GOAWAY is 2^31-1, NO_ERROR")
    check.expect(pinged_back, "wire: h2wire sent a PING after its first GOAWAY")
    if len(goaways) >= 2:
        check.equal(goaways[1][:2], (9, 0), "wire: final GOAWAY names stream 9, NO_ERROR")
    else:
        check.expect(False, "wire: a final GOAWAY after the PING ACK")

    check.expect(inbound.count(9) >= 1, f"wire: h2wire sent CONTINUATION ({inbound.count(9)})")
    check.expect(outbound.count(9) >= 1, f"wire: h2 sent CONTINUATION ({outbound.count(9)})")
    check.expect(max(inbound.max_length(t) for t in range(10)) <= 16384, "wire: h2wire's frames within 16384 octets")
    check.expect(inbound.count(8) >= 5, f"wire: h2wire sent WINDOW_UPDATEs ({inbound.count(8)})")
    check.expect(inbound.count(8) < outbound.count(0), "wire: WINDOW_UPDATEs coalesced (fewer than DATA frames)")
    check.equal(sorted({f[2] for f in inbound.of_type(3)}), [7], "wire: h2wire reset only stream 7")

    by = {}
    for r in results:
        by.setdefault(r.get("name"), []).append(r)
    paths = sorted(r.get("path") for r in by.get("request", []))
    check.equal(paths, sorted(["/big", "/echo", "/upload-reset", "/reset", "/shutdown"]), "server: requests seen")
    peer_resets = [r for r in by.get("reset", []) if r.get("by") == "peer"]
    check.equal([(r.get("stream"), r.get("code")) for r in peer_resets], [("5", "8")],
                "server: the client's RST_STREAM CANCEL on stream 5")
    term = [r for r in results if "terminated" in r]
    check.expect(bool(term) and term[0].get("terminated") == "1" and term[0].get("code") == "0",
                 f"server: the graceful shutdown completed: {term}")
    check.finish()


def goaway_offset(data, log, seen_before):
    """Octets of `data` that precede the first GOAWAY among the frames parsed
    from it (frames before `seen_before` came from earlier reads)."""
    # Walk the new frames from the end of `data` backwards: their encoded sizes
    # are known, and any partial frame left in the log's buffer follows them.
    new = log.frames[seen_before:]
    tail = len(log.buf)
    sizes = [9 + len(f[3]) for f in new]
    end = len(data) - tail
    starts = []
    pos = end
    for size in reversed(sizes):
        pos -= size
        starts.append(pos)
    starts.reverse()
    for f, st in zip(new, starts):
        if f[0] == 7:
            return max(st, 0)
    return len(data)


def handle(events, stream, conn, check):
    for ev in events:
        if isinstance(ev, h2.events.ResponseReceived):
            stream(ev.stream_id)["headers"] = dict(ev.headers)
        elif isinstance(ev, h2.events.DataReceived):
            stream(ev.stream_id)["body"] += ev.data
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            stream(ev.stream_id)["trailers"] = dict(ev.headers)
        elif isinstance(ev, h2.events.StreamEnded):
            stream(ev.stream_id)["ended"] = True
        elif isinstance(ev, h2.events.StreamReset):
            stream(ev.stream_id)["reset"] = ev.error_code


if __name__ == "__main__":
    main()
